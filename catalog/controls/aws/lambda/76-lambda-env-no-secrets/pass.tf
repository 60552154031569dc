# PASS: the environment names where the secret is kept (its ARN), never the secret.
resource "aws_secretsmanager_secret" "db" {
  name = "api/db"
}

resource "aws_lambda_function" "api" {
  function_name = "api"
  role          = aws_iam_role.lambda.arn
  handler       = "app.handler"
  runtime       = "python3.12"
  filename      = "build/api.zip"

  environment {
    variables = {
      LOG_LEVEL     = "info"
      DB_SECRET_ARN = aws_secretsmanager_secret.db.arn
      TOKEN_TTL     = ""
    }
  }
}
