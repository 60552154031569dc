# PASS: credentials come from the environment (a profile, CI variables, a role), or from variables without a value.
provider "aws" {
  region = "us-east-1"
}

variable "ci_access_key" {
  type      = string
  sensitive = true
}

variable "ci_secret_key" {
  type      = string
  sensitive = true
}

provider "aws" {
  alias      = "ci"
  region     = "eu-west-1"
  access_key = var.ci_access_key
  secret_key = var.ci_secret_key
}
