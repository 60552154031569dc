# PASS: one instance requires IMDSv2 tokens; the other gets them from its launch template.
resource "aws_instance" "web" {
  ami           = "ami-0abcdef1234567890"
  instance_type = "t3.micro"

  metadata_options {
    http_tokens   = "required"
    http_endpoint = "enabled"
  }
}

resource "aws_launch_template" "worker" {
  name = "worker"

  metadata_options {
    http_tokens = "required"
  }
}

resource "aws_instance" "worker" {
  instance_type = "t3.micro"

  launch_template {
    id      = aws_launch_template.worker.id
    version = "$Latest"
  }
}
