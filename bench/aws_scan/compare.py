"""Compares Vigil's and Prowler's verdicts on the checks both tools make.

Usage: compare.py VIGIL_OCSF.json PROWLER_OCSF.json
Both files are OCSF Detection Findings; a finding is matched by its check and
its resource (bucket, security group, user, DB instance).
"""
import json
import sys

# Vigil CID -> Prowler check id, for the checks both tools make. Left out on
# purpose: CID 45 (ACL grants to Everyone/Authenticated Users) has no Prowler
# twin: s3_bucket_acl_prohibited fails every bucket whose ACLs are enabled.
PAIRS = {
    1: "iam_user_mfa_enabled_console_access",
    17: "iam_policy_attached_only_to_group_or_roles",
    11: "iam_password_policy_minimum_length_14",
    12: "iam_password_policy_reuse_24",
    41: "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22",
    42: "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389",
    48: "s3_bucket_object_versioning",
    60: "s3_bucket_level_public_access_block",
    51: "rds_instance_no_public_access",
    53: "rds_instance_storage_encrypted",
    55: "rds_instance_minor_version_upgrade_enabled",
    56: "rds_instance_default_port",
}


def key(uid):
    """The resource part of an ARN or id that both tools name alike."""
    return uid.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def load(path):
    with open(path) as f:
        text = f.read().strip()
    if not text:
        return []
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


vigil = {}
for f in load(sys.argv[1]):
    cid = f["unmapped"]["cid"]
    if cid in PAIRS:
        vigil[(PAIRS[cid], key(f["resources"][0]["uid"]))] = f["status_code"]
prowler = {}
for f in load(sys.argv[2]):
    check = f.get("metadata", {}).get("event_code") or f.get("finding_info", {}).get("uid", "")
    if check in PAIRS.values():
        for r in f.get("resources", []):
            prowler[(check, key(r.get("uid", "")))] = f.get("status_code")
both = set(vigil) & set(prowler)
agree = sum(1 for k in both if vigil[k] == prowler[k])
print(f"findings on shared checks: vigil {len(vigil)}, prowler {len(prowler)}, judged by both {len(both)}, "
      f"agree {agree}, disagree {len(both) - agree}")
# Where the two checks differ by definition, not by error.
WHY = {
    "rds_instance_no_public_access": "Prowler fails a public instance only when a security group also admits 0.0.0.0/0; CloudView's CID 51 judges the PubliclyAccessible flag",
}
for k in sorted(both):
    if vigil[k] != prowler[k]:
        note = WHY.get(k[0])
        print(f"  disagree {k[0]} {k[1]}: vigil {vigil[k]}, prowler {prowler[k]}" + (f" ({note})" if note else ""))
