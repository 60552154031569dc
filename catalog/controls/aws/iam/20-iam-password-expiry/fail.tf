# FAIL: max_password_age omitted, so passwords never expire.
resource "aws_iam_account_password_policy" "weak" {
  minimum_password_length        = 14
  password_reuse_prevention      = 24
  require_uppercase_characters   = true
  require_lowercase_characters   = true
  require_symbols                = true
  require_numbers                = true
}
