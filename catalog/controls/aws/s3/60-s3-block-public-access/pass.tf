# Passes: all four Block Public Access settings are on (the second bucket keeps S3's default: all on).
resource "aws_s3_bucket" "payroll" {
  bucket = "payroll-example"
}

resource "aws_s3_bucket_public_access_block" "payroll" {
  bucket = aws_s3_bucket.payroll.id

  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket" "invoices" {
  bucket = "invoices-example"
}
