# PASS: the API endpoint is private only (endpoint_public_access = false).
resource "aws_eks_cluster" "payments" {
  name     = "payments"
  role_arn = aws_iam_role.cluster.arn

  vpc_config {
    subnet_ids              = [aws_subnet.a.id, aws_subnet.b.id]
    endpoint_private_access = true
    endpoint_public_access  = false
  }
}
