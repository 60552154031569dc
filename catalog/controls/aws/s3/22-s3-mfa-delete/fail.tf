# Fails: versioning is Enabled but MFA delete is not.
resource "aws_s3_bucket" "records" {
  bucket = "records-example"
}

resource "aws_s3_bucket_versioning" "records" {
  bucket = aws_s3_bucket.records.id
  versioning_configuration {
    status = "Enabled"
  }
}
