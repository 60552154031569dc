# FAIL: enable_key_rotation omitted (the provider's default is false).
resource "aws_kms_key" "app" {
  description             = "application data"
  deletion_window_in_days = 30
}
