# FAIL: the launch configuration gives every instance a public IP address.
resource "aws_autoscaling_group" "legacy" {
  name                 = "legacy"
  min_size             = 2
  max_size             = 6
  vpc_zone_identifier  = [aws_subnet.a.id, aws_subnet.b.id]
  launch_configuration = aws_launch_configuration.legacy.name
}

resource "aws_launch_configuration" "legacy" {
  name_prefix   = "legacy-"
  image_id      = "ami-0c02fb55956c7d316"
  instance_type = "t3.small"
  associate_public_ip_address = true
}
