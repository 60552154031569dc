# Fails: public bucket policies are neither blocked nor restricted.
resource "aws_s3_bucket" "website" {
  bucket = "website-example"
}

resource "aws_s3_bucket_public_access_block" "website" {
  bucket = aws_s3_bucket.website.id

  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = false
  restrict_public_buckets = false
}
