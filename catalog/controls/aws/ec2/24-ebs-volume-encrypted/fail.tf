# FAIL: encrypted is omitted, so the volume is created unencrypted (provider default false).
resource "aws_ebs_volume" "scratch" {
  availability_zone = "eu-west-1a"
  size              = 20
}
