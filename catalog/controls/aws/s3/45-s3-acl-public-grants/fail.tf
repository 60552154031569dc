# Fails: the public-read canned ACL grants READ to Everyone (AllUsers).
resource "aws_s3_bucket" "website" {
  bucket = "website-example"
}

resource "aws_s3_bucket_ownership_controls" "website" {
  bucket = aws_s3_bucket.website.id
  rule {
    object_ownership = "BucketOwnerPreferred"
  }
}

resource "aws_s3_bucket_acl" "website" {
  bucket = aws_s3_bucket.website.id
  acl    = "public-read"
}
