# FAIL: only api and audit logs are enabled (authenticator, controllerManager, scheduler missing).
resource "aws_eks_cluster" "staging" {
  name                      = "staging"
  role_arn                  = aws_iam_role.cluster.arn
  enabled_cluster_log_types = ["api", "audit"]

  vpc_config {
    subnet_ids = [aws_subnet.a.id, aws_subnet.b.id]
  }
}
