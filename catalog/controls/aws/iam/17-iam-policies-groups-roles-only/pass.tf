# PASS: the user gets its permissions from a group; no policy is attached to the user itself.
resource "aws_iam_user" "deployer" {
  name = "deployer"
}

resource "aws_iam_group" "deployers" {
  name = "deployers"
}

resource "aws_iam_group_policy_attachment" "deployers_read_only" {
  group      = aws_iam_group.deployers.name
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}

resource "aws_iam_user_group_membership" "deployer" {
  user   = aws_iam_user.deployer.name
  groups = [aws_iam_group.deployers.name]
}
