# FAIL: an access key pair exported in plain user data, and a private key in
# base64 user data.
resource "aws_instance" "web" {
  ami           = "ami-0abcdef1234567890"
  instance_type = "t3.micro"
  user_data     = <<-EOT
    #!/bin/bash
    export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
    export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
    aws s3 cp s3://deploy-artifacts/app.tar.gz /opt/app.tar.gz
  EOT
}

resource "aws_instance" "bastion" {
  ami              = "ami-0abcdef1234567890"
  instance_type    = "t3.micro"
  user_data_base64 = base64encode(<<-EOT
    #!/bin/bash
    cat > /home/ec2-user/.ssh/id_rsa <<'KEY'
    -----BEGIN RSA PRIVATE KEY-----
    MIIEowIBAAKCAQEAexamplexamplexamplexample
    -----END RSA PRIVATE KEY-----
    KEY
  EOT
  )
}
