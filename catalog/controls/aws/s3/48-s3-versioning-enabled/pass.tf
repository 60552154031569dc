# Passes: versioning is Enabled through aws_s3_bucket_versioning.
resource "aws_s3_bucket" "audit_logs" {
  bucket = "audit-logs-example"
}

resource "aws_s3_bucket_versioning" "audit_logs" {
  bucket = aws_s3_bucket.audit_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}
