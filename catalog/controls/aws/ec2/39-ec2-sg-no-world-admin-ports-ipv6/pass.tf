# PASS: SSH over IPv6 only from the organisation's /56; HTTPS open to ::/0.
resource "aws_security_group" "web6" {
  name   = "web6"
  vpc_id = "vpc-0a1b2c3d"

  ingress {
    from_port        = 443
    to_port          = 443
    protocol         = "tcp"
    ipv6_cidr_blocks = ["::/0"]
  }

  ingress {
    from_port        = 22
    to_port          = 22
    protocol         = "tcp"
    ipv6_cidr_blocks = ["2001:db8:1200::/56"]
  }
}
