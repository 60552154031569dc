# PASS: the public endpoint only accepts the office range 203.0.113.0/24.
resource "aws_eks_cluster" "office" {
  name     = "office"
  role_arn = aws_iam_role.cluster.arn

  vpc_config {
    subnet_ids              = [aws_subnet.a.id, aws_subnet.b.id]
    endpoint_private_access = true
    endpoint_public_access  = true
    public_access_cidrs     = ["203.0.113.0/24"]
  }
}
