"""Seeds a moto server with a realistic account for the scan benchmark.

Usage: seed.py ENDPOINT [SCALE]. Half of each kind of resource is set up well,
half badly, so both tools have PASS and FAIL findings to agree on.
"""
import sys

import boto3

endpoint = sys.argv[1]
scale = int(sys.argv[2]) if len(sys.argv) > 2 else 100
kw = dict(endpoint_url=endpoint, region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
s3, iam, ec2, rds = (boto3.client(n, **kw) for n in ("s3", "iam", "ec2", "rds"))

iam.update_account_password_policy(MinimumPasswordLength=8)
for i in range(scale):
    name = f"user-{i:04d}"
    iam.create_user(UserName=name)
    if i % 2:
        iam.create_login_profile(UserName=name, Password="Correct-Horse-9!")
    if i % 3 == 0:
        iam.create_access_key(UserName=name)
    if i % 5 == 0:
        iam.put_user_policy(UserName=name, PolicyName="inline",
                            PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}')

for i in range(scale):
    b = f"bench-bucket-{i:04d}"
    if i % 4 == 0:
        s3.create_bucket(Bucket=b, ACL="public-read")
    else:
        s3.create_bucket(Bucket=b)
    if i % 2 == 0:
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": True, "RestrictPublicBuckets": True})

vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
groups = []
for i in range(scale):
    g = ec2.create_security_group(GroupName=f"bench-sg-{i:04d}", Description="bench", VpcId=vpc)["GroupId"]
    groups.append(g)
    port = [22, 3389, 443, 80][i % 4]
    cidr = "0.0.0.0/0" if i % 2 == 0 else "10.0.0.0/8"
    ec2.authorize_security_group_ingress(GroupId=g, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}])

image = ec2.register_image(Name="bench-ami", RootDeviceName="/dev/sda1")["ImageId"]
for i in range(0, scale, 10):
    ec2.run_instances(ImageId=image, MinCount=10, MaxCount=10, InstanceType="t3.micro",
                      SubnetId=subnet, SecurityGroupIds=[groups[i]])
for i in range(scale):
    ec2.create_volume(AvailabilityZone="us-east-1a", Size=8, Encrypted=bool(i % 2))

for i in range(max(1, scale // 10)):
    rds.create_db_instance(DBInstanceIdentifier=f"bench-db-{i:03d}", DBInstanceClass="db.t3.micro",
                           Engine="postgres", MasterUsername="bench", MasterUserPassword="not-a-password",
                           AllocatedStorage=20, PubliclyAccessible=bool(i % 2), StorageEncrypted=not (i % 2),
                           Port=5432 if i % 2 else 6432)
print(f"seeded scale {scale}")
