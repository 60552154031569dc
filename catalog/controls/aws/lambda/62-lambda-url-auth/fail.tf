# FAIL: the function URL has authorization_type = "NONE": anyone with the URL can call it.
resource "aws_lambda_function" "webhook" {
  function_name = "webhook"
  role          = aws_iam_role.lambda.arn
  handler       = "index.handler"
  runtime       = "python3.12"
  filename      = "build/webhook.zip"
}

resource "aws_lambda_function_url" "webhook" {
  function_name      = aws_lambda_function.webhook.function_name
  authorization_type = "NONE"
}
