# FAIL: an aws_security_group_rule opens RDP (3389) on the group to ::/0.
resource "aws_security_group" "jump" {
  name   = "jump"
  vpc_id = "vpc-0a1b2c3d"
}

resource "aws_security_group_rule" "rdp6" {
  type              = "ingress"
  security_group_id = aws_security_group.jump.id
  protocol          = "tcp"
  from_port         = 3389
  to_port           = 3389
  ipv6_cidr_blocks  = ["::/0"]
}
