# FAIL: nodejs16.x is a deprecated runtime.
resource "aws_lambda_function" "legacy" {
  function_name = "legacy"
  role          = aws_iam_role.lambda.arn
  handler       = "index.handler"
  runtime       = "nodejs16.x"
  filename      = "build/legacy.zip"
}
