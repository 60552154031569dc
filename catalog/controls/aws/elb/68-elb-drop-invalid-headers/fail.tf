# FAIL: drop_invalid_header_fields is omitted (default false: invalid headers reach the targets).
resource "aws_lb" "legacy" {
  name               = "legacy"
  load_balancer_type = "application"
  subnets            = [aws_subnet.a.id, aws_subnet.b.id]
  security_groups    = [aws_security_group.lb.id]
}
