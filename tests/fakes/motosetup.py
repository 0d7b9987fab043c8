#!/usr/bin/env python3
"""moto's IAM as the rig sets it up (tests/e2e/lib-aws.sh: start_moto, moto_user).

  motosetup.py MOTO_URL
      before reset-auth (moto then takes any key): the user "admin" allowed
      everything, its access key, and the role "mldeploy-test" allowed everything,
      trusting any AWS principal (sts:AssumeRole) and any web identity
      (sts:AssumeRoleWithWebIdentity); prints "KEY_ID SECRET ROLE_ARN".
  motosetup.py --user NAME [--policy JSON] MOTO_URL
      as admin (MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY): the user NAME with the
      inline policy JSON (none when empty) and an access key; prints "KEY_ID SECRET".
"""
import argparse
import json
import os

import boto3

EVERYTHING = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"}]})
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "Principal": {"Federated": "*"},
     "Action": "sts:AssumeRoleWithWebIdentity"}]})


def iam_client(url, key, secret):
    return boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--user")
    ap.add_argument("--policy", default="")
    ap.add_argument("url")
    opts = ap.parse_args()
    if opts.user:
        iam = iam_client(opts.url, os.environ["MOTO_ACCESS_KEY_ID"],
                         os.environ["MOTO_SECRET_ACCESS_KEY"])
        iam.create_user(UserName=opts.user)
        if opts.policy:
            iam.put_user_policy(UserName=opts.user, PolicyName="given",
                                PolicyDocument=opts.policy)
        key = iam.create_access_key(UserName=opts.user)["AccessKey"]
        print(key["AccessKeyId"], key["SecretAccessKey"])
        return
    iam = iam_client(opts.url, "AKIAIOSFODNN7EXAMPLE", "not-checked-yet")
    iam.create_user(UserName="admin")
    iam.put_user_policy(UserName="admin", PolicyName="everything", PolicyDocument=EVERYTHING)
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    role = iam.create_role(RoleName="mldeploy-test", AssumeRolePolicyDocument=TRUST)["Role"]
    iam.put_role_policy(RoleName="mldeploy-test", PolicyName="everything",
                        PolicyDocument=EVERYTHING)
    print(key["AccessKeyId"], key["SecretAccessKey"], role["Arn"])


if __name__ == "__main__":
    main()
