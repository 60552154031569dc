# FAIL: an aws_security_group_rule opens RDP (3389) on the group to 0.0.0.0/0.
resource "aws_security_group" "windows" {
  name   = "windows"
  vpc_id = "vpc-0a1b2c3d"
}

resource "aws_security_group_rule" "rdp_world" {
  type              = "ingress"
  security_group_id = aws_security_group.windows.id
  protocol          = "tcp"
  from_port         = 3389
  to_port           = 3389
  cidr_blocks       = ["0.0.0.0/0"]
}
