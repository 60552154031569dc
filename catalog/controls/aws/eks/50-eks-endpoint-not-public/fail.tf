# FAIL: endpoint_public_access is omitted, and AWS makes the endpoint public by default.
resource "aws_eks_cluster" "dev" {
  name     = "dev"
  role_arn = aws_iam_role.cluster.arn

  vpc_config {
    subnet_ids = [aws_subnet.a.id, aws_subnet.b.id]
  }
}
