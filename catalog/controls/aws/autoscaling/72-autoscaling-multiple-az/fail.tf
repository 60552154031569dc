# FAIL: the group launches in a single Availability Zone.
resource "aws_autoscaling_group" "single" {
  name               = "single"
  min_size           = 2
  max_size           = 6
  availability_zones = ["us-east-1a"]

  launch_template {
    id      = aws_launch_template.web.id
    version = "$Latest"
  }
}
