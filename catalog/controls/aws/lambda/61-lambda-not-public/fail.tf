# FAIL: a permission lets principal "*" (anyone) invoke the function, with no condition.
resource "aws_lambda_function" "webhook" {
  function_name = "webhook"
  role          = aws_iam_role.lambda.arn
  handler       = "index.handler"
  runtime       = "python3.12"
  filename      = "build/webhook.zip"
}

resource "aws_lambda_permission" "anyone" {
  statement_id  = "AllowAnyone"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.webhook.arn
  principal     = "*"
}
