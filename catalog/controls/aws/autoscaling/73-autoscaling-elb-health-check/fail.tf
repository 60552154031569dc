# FAIL: the group is attached to a target group but health_check_type is omitted (default "EC2").
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
}

resource "aws_autoscaling_attachment" "legacy" {
  autoscaling_group_name = aws_autoscaling_group.legacy.id
  lb_target_group_arn    = aws_lb_target_group.web.arn
}
