# PASS: a flow log records the VPC's rejected traffic to CloudWatch Logs.
resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
}

resource "aws_flow_log" "main" {
  vpc_id          = aws_vpc.main.id
  traffic_type    = "REJECT"
  iam_role_arn    = "arn:aws:iam::111122223333:role/flow-logs"
  log_destination = "arn:aws:logs:eu-west-1:111122223333:log-group:vpc-flow-logs"
}
