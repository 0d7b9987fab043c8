#!/usr/bin/env python3
"""moto's server on 127.0.0.1 for the unit tests (tests/unit/test-s3iam.c). Needs the
python3 that has moto and boto3 (not /usr/bin/python3).

    motoserver.py --keys FILE [--bucket NAME]...

Loads the two AWS managed IAM policies an instance profile gets, makes an IAM user with every right, writes "ACCESS_KEY_ID SECRET_ACCESS_KEY" to
FILE, creates each bucket (us-east-1), then turns moto's signature and IAM policy
checks on (POST /moto-api/reset-auth) and prints its port on stdout; it serves
until its parent exits.
"""
import argparse
import json
import logging
import os
import socket
import sys
import threading
import time
import urllib.request

import boto3
import moto.iam.models
from moto.server import ThreadedMotoServer

# The AWS managed policies an instance profile gets; moto loads none by default, and
# all of them (over a thousand) take seconds
MANAGED = ("AWSElasticBeanstalkWebTier", "AmazonEC2ContainerRegistryReadOnly")
moto.iam.models.aws_managed_policies_data = json.dumps(
    {k: v for k, v in json.loads(moto.iam.models.aws_managed_policies_data).items()
     if k in MANAGED})
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
logging.getLogger("werkzeug").setLevel(logging.ERROR)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def watch_parent():
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


def main():
    ap = argparse.ArgumentParser(description="moto for unit tests")
    ap.add_argument("--keys", required=True)
    ap.add_argument("--bucket", action="append", default=[])
    opts = ap.parse_args()
    threading.Thread(target=watch_parent, daemon=True).start()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = "http://127.0.0.1:%d" % port
    kw = {"endpoint_url": url, "region_name": "us-east-1",
          "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "unchecked"}
    iam = boto3.client("iam", **kw)
    iam.create_user(UserName="admin")
    iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    s3 = boto3.client("s3", **kw)
    for bucket in opts.bucket:
        s3.create_bucket(Bucket=bucket)
    with open(opts.keys, "w", encoding="utf-8") as f:
        f.write("%s %s\n" % (key["AccessKeyId"], key["SecretAccessKey"]))
    req = urllib.request.Request(url + "/moto-api/reset-auth", data=b"0", method="POST",
                                 headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req).read()
    sys.stdout.write("%d\n" % port)
    sys.stdout.flush()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
