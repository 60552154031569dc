# FAIL: a separate ingress rule resource opens SSH (22) on the group to 0.0.0.0/0.
resource "aws_security_group" "admin" {
  name        = "admin"
  description = "Administration access"
  vpc_id      = "vpc-0a1b2c3d"
}

resource "aws_vpc_security_group_ingress_rule" "ssh_world" {
  security_group_id = aws_security_group.admin.id
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "0.0.0.0/0"
}
