# PASS: the VPC's default security group is adopted with no rules (Terraform removes AWS's defaults).
resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
}

resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.main.id
}
