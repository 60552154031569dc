# FAIL: a port range 20-25 that covers SSH is open to 0.0.0.0/0.
resource "aws_security_group" "ssh" {
  name   = "ssh"
  vpc_id = "vpc-0a1b2c3d"

  ingress {
    from_port   = 20
    to_port     = 25
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
