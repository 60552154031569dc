# PASS: all five control plane log types are sent to CloudWatch Logs.
resource "aws_eks_cluster" "payments" {
  name                      = "payments"
  role_arn                  = aws_iam_role.cluster.arn
  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  vpc_config {
    subnet_ids = [aws_subnet.a.id, aws_subnet.b.id]
  }
}
