# PASS: Kubernetes secrets are envelope-encrypted with a customer KMS key.
resource "aws_eks_cluster" "payments" {
  name     = "payments"
  role_arn = aws_iam_role.cluster.arn

  vpc_config {
    subnet_ids = [aws_subnet.a.id, aws_subnet.b.id]
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = aws_kms_key.eks.arn
    }
  }
}
