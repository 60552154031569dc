# PASS: the group registers with a target group and uses ELB health checks.
resource "aws_autoscaling_group" "web" {
  name                 = "web"
  min_size             = 2
  max_size             = 6
  vpc_zone_identifier  = [aws_subnet.a.id, aws_subnet.b.id]
  launch_configuration = aws_launch_configuration.web.name
  target_group_arns    = [aws_lb_target_group.web.arn]
  health_check_type    = "ELB"
}

resource "aws_launch_configuration" "web" {
  name_prefix   = "web-"
  image_id      = "ami-0c02fb55956c7d316"
  instance_type = "t3.small"
}
