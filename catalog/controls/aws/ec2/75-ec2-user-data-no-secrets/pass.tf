# PASS: user data without keys (the instance role gives AWS access), and a
# launch template whose base64 user data reads its secret from SSM at boot.
resource "aws_instance" "web" {
  ami                  = "ami-0abcdef1234567890"
  instance_type        = "t3.micro"
  iam_instance_profile = "web"
  user_data            = <<-EOT
    #!/bin/bash
    yum -y install httpd
    systemctl enable --now httpd
  EOT
}

resource "aws_launch_template" "batch" {
  name_prefix   = "batch-"
  image_id      = "ami-0abcdef1234567890"
  instance_type = "t3.micro"
  user_data     = base64encode("#!/bin/bash\nDB_PASSWORD=$(aws ssm get-parameter --name /batch/db --with-decryption --query Parameter.Value --output text)\n")
}

resource "aws_instance" "batch" {
  launch_template {
    id = aws_launch_template.batch.id
  }
}
