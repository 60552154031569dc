# FAIL: no encryption_config block, so secrets are not encrypted with a KMS key.
resource "aws_eks_cluster" "dev" {
  name     = "dev"
  role_arn = aws_iam_role.cluster.arn

  vpc_config {
    subnet_ids = [aws_subnet.a.id, aws_subnet.b.id]
  }
}
