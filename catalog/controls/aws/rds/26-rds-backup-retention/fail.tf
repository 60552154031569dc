# Fails: backup_retention_period is omitted, so RDS keeps one day.
resource "aws_db_instance" "legacy" {
  identifier                  = "legacy"
  engine                      = "postgres"
  instance_class              = "db.t3.micro"
  allocated_storage           = 20
  username                    = "app"
  manage_master_user_password = true
  skip_final_snapshot         = true
}
