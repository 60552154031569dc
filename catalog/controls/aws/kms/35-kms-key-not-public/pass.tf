# PASS: the key policy grants the account root, not everyone.
resource "aws_kms_key" "app" {
  description         = "application data"
  enable_key_rotation = true
  policy              = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"AccountAdmin\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}"
}
