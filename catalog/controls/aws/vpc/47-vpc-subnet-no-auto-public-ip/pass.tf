# PASS: map_public_ip_on_launch is omitted (provider default false) on one subnet and false on the other.
resource "aws_subnet" "private_a" {
  vpc_id     = "vpc-0a1b2c3d"
  cidr_block = "10.0.1.0/24"
}

resource "aws_subnet" "private_b" {
  vpc_id                  = "vpc-0a1b2c3d"
  cidr_block              = "10.0.2.0/24"
  map_public_ip_on_launch = false
}
