#!/usr/bin/env python3
"""EC2's instance metadata service (IMDSv2) and the ECS/EKS container credentials
endpoint, for the end-to-end tests (tests/e2e/lib-aws.sh: start_awsmeta,
awsmeta_count), on plain HTTP on 127.0.0.1 as both are. The credentials they hand
out are real moto credentials: the config's role assumed in moto (STS AssumeRole
with the config's keys), so that the calls signed with them pass moto's checks.

IMDSv2 (as EC2 answers it):
  PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1-21600) ->
      a session token (text); without the header 400; a GET or a request with
      X-Forwarded-For 403.
  GET /latest/meta-data/iam/security-credentials/ -> the role name (text), and
  GET /latest/meta-data/iam/security-credentials/NAME -> {"Code": "Success",
      "LastUpdated", "Type": "AWS-HMAC", "AccessKeyId", "SecretAccessKey", "Token",
      "Expiration"}: both need X-aws-ec2-metadata-token with a token issued here,
      else 401. With config "role_name": null, 404 (no instance profile).
The container endpoint:
  GET /v2/credentials/ANYTHING (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI's path, or a
      FULL_URI to it) -> {"RoleArn", "AccessKeyId", "SecretAccessKey", "Token",
      "Expiration"}; when the config has "container_token", the Authorization
      header must be exactly it, else 401 (missing) or 403 (another).

The config (--config, JSON, re-read on every request):
  {"moto": "http://127.0.0.1:PORT", "access_key_id", "secret_access_key",
   "role_arn", "role_name" (IMDS's name of it), "container_token" (or null),
   "secrets_file" (every token and secret handed out is appended, one a line)}
The log (--log): one JSON object per request, {"method", "path", "route"
(imds_token, imds_role, imds_credentials, container, unknown), "status", "ttl" (the
TTL header, or null), "token" (imds: ok, missing, unknown; else "-"), "auth"
(container: ok, missing, wrong; else "-")}. Secrets are never logged.
"""
import argparse
import json
import secrets
import threading
import urllib.parse

import boto3

import loopback

lock = threading.Lock()
imds_tokens = set()
CREDS_PREFIX = "/latest/meta-data/iam/security-credentials/"


class Handler(loopback.Handler):
    server_version = "mldeploy-test-awsmeta"
    opts = None

    def config(self):
        with open(self.opts.config, encoding="utf-8") as f:
            return json.load(f)

    def remember(self, cfg, *values):
        with lock, open(cfg["secrets_file"], "a", encoding="utf-8") as f:
            for v in values:
                f.write(v + "\n")

    def assume(self, cfg):
        sts = boto3.client("sts", endpoint_url=cfg["moto"], region_name="us-east-1",
                           aws_access_key_id=cfg["access_key_id"],
                           aws_secret_access_key=cfg["secret_access_key"])
        c = sts.assume_role(RoleArn=cfg["role_arn"], RoleSessionName="awsmeta")["Credentials"]
        self.remember(cfg, c["SecretAccessKey"], c["SessionToken"])
        return {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
                "Token": c["SessionToken"],
                "Expiration": c["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ")}

    def log(self, route, status, ttl=None, token="-", auth="-"):
        entry = {"method": self.command, "path": urllib.parse.urlsplit(self.path).path,
                 "route": route, "status": status, "ttl": ttl, "token": token, "auth": auth}
        with lock, open(self.opts.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def answer(self, route, status, body, ctype="text/plain", **log):
        self.log(route, status, **log)
        if isinstance(body, (dict, list)):
            body, ctype = json.dumps(body).encode(), "application/json"
        elif isinstance(body, str):
            body = body.encode()
        self.reply(status, body, [("Content-Type", ctype)])

    def imds_token(self, cfg):
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if self.command != "PUT" or self.headers.get("X-Forwarded-For"):
            return self.answer("imds_token", 403, "forbidden\n", ttl=ttl)
        try:
            ok = 1 <= int(ttl) <= 21600
        except (TypeError, ValueError):
            ok = False
        if not ok:
            return self.answer("imds_token", 400, "missing or invalid ttl\n", ttl=ttl)
        token = secrets.token_urlsafe(32)
        with lock:
            imds_tokens.add(token)
        self.remember(cfg, token)
        return self.answer("imds_token", 200, token, ttl=ttl)

    def imds_credentials(self, cfg, path):
        route = "imds_role" if path == CREDS_PREFIX else "imds_credentials"
        given = self.headers.get("X-aws-ec2-metadata-token")
        with lock:
            token = "missing" if given is None else "ok" if given in imds_tokens else "unknown"
        if token != "ok":
            return self.answer(route, 401, "unauthorized\n", token=token)
        name = cfg.get("role_name")
        if not name:
            return self.answer(route, 404, "not found\n", token=token)
        if route == "imds_role":
            return self.answer(route, 200, name + "\n", token=token)
        if path[len(CREDS_PREFIX):] != name:
            return self.answer(route, 404, "not found\n", token=token)
        c = self.assume(cfg)
        c.update({"Code": "Success", "LastUpdated": "2025-01-01T00:00:00Z",
                  "Type": "AWS-HMAC"})
        return self.answer(route, 200, c, token=token)

    def container(self, cfg):
        want = cfg.get("container_token")
        given = self.headers.get("Authorization")
        auth = "ok" if not want or given == want else "missing" if given is None else "wrong"
        if auth != "ok":
            return self.answer("container", 401 if auth == "missing" else 403,
                               {"message": "unauthorized"}, auth=auth)
        c = self.assume(cfg)
        c["RoleArn"] = cfg["role_arn"]
        return self.answer("container", 200, c, auth=auth)

    def route(self):
        self.read_body()
        cfg = self.config()
        path = urllib.parse.urlsplit(self.path).path
        if path == "/latest/api/token":
            return self.imds_token(cfg)
        if path.startswith(CREDS_PREFIX) and self.command == "GET":
            return self.imds_credentials(cfg, path)
        if path.startswith("/v2/credentials/") and self.command == "GET":
            return self.container(cfg)
        return self.answer("unknown", 404, "not found\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--log", required=True)
    opts = loopback.parse_args(ap)
    Handler.opts = opts
    loopback.serve(Handler, opts.port, opts.tls_cert, opts.tls_key)


if __name__ == "__main__":
    main()
