# PASS: SSH only from the corporate range.
resource "aws_security_group" "ssh" {
  name   = "ssh"
  vpc_id = "vpc-0a1b2c3d"

  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["192.168.0.0/16"]
  }
}
