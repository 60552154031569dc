# FAIL: access_logs names a bucket but omits enabled, which defaults to false.
resource "aws_lb" "legacy" {
  name               = "legacy"
  load_balancer_type = "application"
  subnets            = [aws_subnet.a.id, aws_subnet.b.id]
  security_groups    = [aws_security_group.lb.id]

  access_logs {
    bucket = aws_s3_bucket.lb_logs.id
  }
}
