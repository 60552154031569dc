# FAIL: instances launched in the subnet get a public IPv4 address automatically.
resource "aws_subnet" "public" {
  vpc_id                  = "vpc-0a1b2c3d"
  cidr_block              = "10.0.0.0/24"
  map_public_ip_on_launch = true
}
