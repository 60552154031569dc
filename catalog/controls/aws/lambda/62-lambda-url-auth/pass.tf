# PASS: the function URL requires IAM authentication (authorization_type = "AWS_IAM").
resource "aws_lambda_function" "reports" {
  function_name = "reports"
  role          = aws_iam_role.lambda.arn
  handler       = "index.handler"
  runtime       = "python3.12"
  filename      = "build/reports.zip"
}

resource "aws_lambda_function_url" "reports" {
  function_name      = aws_lambda_function.reports.function_name
  authorization_type = "AWS_IAM"
}
