# FAIL: a managed policy is attached directly to the user (and an inline policy names it by its literal name).
resource "aws_iam_user" "deployer" {
  name = "deployer"
}

resource "aws_iam_user_policy_attachment" "deployer_admin" {
  user       = aws_iam_user.deployer.name
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}

resource "aws_iam_user_policy" "deployer_s3" {
  name   = "deployer-s3"
  user   = "deployer"
  policy = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}"
}
