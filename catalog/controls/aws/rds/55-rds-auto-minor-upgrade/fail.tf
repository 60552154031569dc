# Fails: auto_minor_version_upgrade is false.
resource "aws_db_instance" "legacy" {
  identifier                  = "legacy"
  engine                      = "postgres"
  instance_class              = "db.t3.micro"
  allocated_storage           = 20
  username                    = "app"
  manage_master_user_password = true
  skip_final_snapshot         = true
  auto_minor_version_upgrade  = false
}
