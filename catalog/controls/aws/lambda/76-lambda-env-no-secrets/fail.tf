# FAIL: a database password and an AWS secret access key written into the environment.
resource "aws_lambda_function" "api" {
  function_name = "api"
  role          = aws_iam_role.lambda.arn
  handler       = "app.handler"
  runtime       = "python3.12"
  filename      = "build/api.zip"

  environment {
    variables = {
      LOG_LEVEL         = "info"
      DB_PASSWORD       = "Sup3rS3cret!"
      UPLOAD_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    }
  }
}
