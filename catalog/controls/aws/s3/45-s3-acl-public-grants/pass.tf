# Passes: the ACL is private (the second bucket has none: the owner's full control only).
resource "aws_s3_bucket" "reports" {
  bucket = "reports-example"
}

resource "aws_s3_bucket_ownership_controls" "reports" {
  bucket = aws_s3_bucket.reports.id
  rule {
    object_ownership = "BucketOwnerPreferred"
  }
}

resource "aws_s3_bucket_acl" "reports" {
  bucket = aws_s3_bucket.reports.id
  acl    = "private"
}

resource "aws_s3_bucket" "artifacts" {
  bucket = "artifacts-example"
}
