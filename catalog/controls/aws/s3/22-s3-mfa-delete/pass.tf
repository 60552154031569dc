# Passes: versioning with MFA delete Enabled (applied by the root user with its MFA device).
resource "aws_s3_bucket" "records" {
  bucket = "records-example"
}

resource "aws_s3_bucket_versioning" "records" {
  bucket = aws_s3_bucket.records.id
  mfa    = "arn:aws:iam::123456789012:mfa/root-account-mfa-device 123456"
  versioning_configuration {
    status     = "Enabled"
    mfa_delete = "Enabled"
  }
}
