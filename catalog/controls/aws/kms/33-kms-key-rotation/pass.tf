# PASS: automatic rotation is enabled on the symmetric key.
resource "aws_kms_key" "app" {
  description         = "application data"
  enable_key_rotation = true
}

resource "aws_kms_alias" "app" {
  name          = "alias/app-data"
  target_key_id = aws_kms_key.app.key_id
}
