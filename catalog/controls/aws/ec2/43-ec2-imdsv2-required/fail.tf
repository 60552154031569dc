# FAIL: http_tokens "optional" still answers IMDSv1 requests.
resource "aws_instance" "legacy" {
  ami           = "ami-0abcdef1234567890"
  instance_type = "t3.micro"

  metadata_options {
    http_tokens = "optional"
  }
}
