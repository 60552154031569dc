# FAIL: the key policy (set by aws_kms_key_policy) allows principal * with no condition.
resource "aws_kms_key" "app" {
  description         = "application data"
  enable_key_rotation = true
}

resource "aws_kms_key_policy" "app" {
  key_id = aws_kms_key.app.id
  policy = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"Everyone\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"}]}"
}
