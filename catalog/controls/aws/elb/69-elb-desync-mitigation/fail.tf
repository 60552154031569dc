# FAIL: desync_mitigation_mode = "monitor" lets HTTP desync requests through.
resource "aws_lb" "legacy" {
  name               = "legacy"
  load_balancer_type = "application"
  subnets            = [aws_subnet.a.id, aws_subnet.b.id]
  security_groups    = [aws_security_group.lb.id]
  desync_mitigation_mode = "monitor"
}
