# FAIL: all protocols and ports ("-1") are open to 0.0.0.0/0.
resource "aws_security_group" "wide_open" {
  name   = "wide-open"
  vpc_id = "vpc-0a1b2c3d"

  ingress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
