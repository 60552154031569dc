# FAIL: minimum_password_length omitted, so the provider's default of 6 applies.
resource "aws_iam_account_password_policy" "weak" {
  password_reuse_prevention      = 24
  require_uppercase_characters   = true
  require_lowercase_characters   = true
  require_symbols                = true
  require_numbers                = true
  max_password_age               = 90
}
