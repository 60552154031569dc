# Fails: multi_az is omitted, so the instance is single-AZ.
resource "aws_db_instance" "legacy" {
  identifier                  = "legacy"
  engine                      = "postgres"
  instance_class              = "db.t3.micro"
  allocated_storage           = 20
  username                    = "app"
  manage_master_user_password = true
  skip_final_snapshot         = true
}
