# PASS: the launch configuration requires IMDSv2 session tokens (http_tokens = "required").
resource "aws_autoscaling_group" "web" {
  name                 = "web"
  min_size             = 2
  max_size             = 6
  vpc_zone_identifier  = [aws_subnet.a.id, aws_subnet.b.id]
  launch_configuration = aws_launch_configuration.web.name
}

resource "aws_launch_configuration" "web" {
  name_prefix   = "web-"
  image_id      = "ami-0c02fb55956c7d316"
  instance_type = "t3.small"
  associate_public_ip_address = false

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
  }
}
