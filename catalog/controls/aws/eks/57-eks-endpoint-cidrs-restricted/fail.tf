# FAIL: the endpoint is public and public_access_cidrs is omitted (AWS default 0.0.0.0/0).
resource "aws_eks_cluster" "dev" {
  name     = "dev"
  role_arn = aws_iam_role.cluster.arn

  vpc_config {
    subnet_ids             = [aws_subnet.a.id, aws_subnet.b.id]
    endpoint_public_access = true
  }
}
