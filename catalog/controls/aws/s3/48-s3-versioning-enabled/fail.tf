# Fails: versioning is Suspended; the second bucket never has it configured.
resource "aws_s3_bucket" "scratch" {
  bucket = "scratch-example"
}

resource "aws_s3_bucket_versioning" "scratch" {
  bucket = aws_s3_bucket.scratch.id
  versioning_configuration {
    status = "Suspended"
  }
}

resource "aws_s3_bucket" "tmp_exports" {
  bucket = "tmp-exports-example"
}
