# FAIL: password_reuse_prevention = 0 means no reuse prevention.
resource "aws_iam_account_password_policy" "weak" {
  minimum_password_length        = 14
  password_reuse_prevention      = 0
  require_uppercase_characters   = true
  require_lowercase_characters   = true
  require_symbols                = true
  require_numbers                = true
  max_password_age               = 90
}
