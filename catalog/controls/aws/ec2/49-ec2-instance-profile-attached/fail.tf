# FAIL: the instance has no IAM instance profile (credentials would have to live on the instance).
resource "aws_instance" "app" {
  ami           = "ami-0abcdef1234567890"
  instance_type = "t3.micro"
}
