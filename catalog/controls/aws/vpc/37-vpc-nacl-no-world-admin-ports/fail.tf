# FAIL: an aws_network_acl_rule allows all protocols (so SSH and RDP) from 0.0.0.0/0.
resource "aws_network_acl" "public" {
  vpc_id = "vpc-0a1b2c3d"
}

resource "aws_network_acl_rule" "all_in" {
  network_acl_id = aws_network_acl.public.id
  rule_number    = 100
  egress         = false
  protocol       = "-1"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
}
