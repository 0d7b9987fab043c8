#!/usr/bin/env python3
"""The front of Amazon ECR for the end-to-end tests (tests/e2e/lib-aws.sh:
start_ecr_front, ecr_count): moto is ECR's control plane and a rig registry its
data plane, reached by their real host names over TLS (MLDEPLOY_CONNECT_TO and the
rig's CA). Needs boto3 (the python3 with moto).

Requests are routed by the Host header:

  api.ecr.REGION.amazonaws.com   (the ECR API, JSON 1.1)
      relayed to moto as they are (Host kept, so moto checks the SigV4 signature
      it was given). The answer to GetAuthorizationToken is changed the way ECR
      differs from moto: moto sends expiresAt 2015-01-01, ECR now + 12 hours
      (config token_life, seconds). Every password issued is remembered: those are
      the passwords the registry host takes.
  ACCOUNT.dkr.ecr.REGION.amazonaws.com   (the registry, config "accounts")
      /v2/...: HTTP Basic "AWS:<password>" with a password issued above (or the
      one moto's GetAuthorizationToken gives for ACCOUNT now), else 401
      with ECR's challenge, WWW-Authenticate: Basic realm="https://HOST/",
      service="ecr.amazonaws.com". The repository of /v2/NAME/(blobs|manifests|
      tags)/... must exist in moto's ECR (DescribeRepositories with the config's
      keys), else 404 {"errors": [{"code": "NAME_UNKNOWN", ...}]} as ECR answers.
      Then relayed to the rig registry (config "registry"; Host kept,
      X-Forwarded-Proto: https, so its Location URLs name the ECR host).

The config (--config, JSON, re-read on every request so a test may change it):
  {"moto": "http://127.0.0.1:PORT", "registry": "http://127.0.0.1:PORT",
   "region": "us-east-1", "accounts": ["123456789012"], "token_life": 43200,
   "access_key_id": "...", "secret_access_key": "..." (moto's keys for the front's
   own DescribeRepositories and GetAuthorizationToken),
   "secrets_file": "secrets" (every authorization token and password issued is
   appended, one a line, so that a test can look for them in mldeploy's output)}

Every request is appended to the log (--log) as one JSON object per line, written
before the answer goes out: {"method", "host", "path" (no query), "route" (api,
v2, unknown), "status", and "target" (the X-Amz-Target operation, api), "auth"
(none, basic, bearer, other), "login" (ok, bad_user, unknown_password: v2),
"repo" (v2)}. Passwords and tokens are never logged.
"""
import argparse
import base64
import http.client
import json
import re
import ssl
import threading
import time
import urllib.parse

import boto3
import botocore.exceptions

import loopback

HOP_BY_HOP = loopback.HOP_BY_HOP | {"host", "content-length"}
RELAYED_NOT = HOP_BY_HOP | {"date", "server"}
REPO_PATH = re.compile(r"^/v2/(.+?)/(blobs|manifests|tags)/")

log_lock = threading.Lock()
issued_lock = threading.Lock()
issued = set()


class Handler(loopback.Handler):
    server_version = "mldeploy-test-ecr"
    opts = None

    def config(self):
        with open(self.opts.config, encoding="utf-8") as f:
            return json.load(f)

    def host(self):
        h = (self.headers.get("Host") or "").lower()
        return h[:-4] if h.endswith(":443") else h

    def write_log(self, route, status, fields):
        entry = {"method": self.command, "host": self.host(),
                 "path": urllib.parse.urlsplit(self.path).path, "route": route,
                 "status": status}
        entry.update(fields)
        with log_lock, open(self.opts.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")

    def send(self, status, body, headers=(), ctype="application/json; charset=utf-8"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.reply(status, data, [("Content-Type", ctype)] + list(headers))

    def route(self):
        host = self.host()
        try:
            cfg = self.config()
        except (OSError, ValueError) as e:
            self.read_body()
            self.send(500, {"message": str(e)})
            return
        region = cfg.get("region", "us-east-1")
        path = urllib.parse.urlsplit(self.path).path
        if host == "api.ecr.%s.amazonaws.com" % region:
            self.api(cfg)
        elif host in ("%s.dkr.ecr.%s.amazonaws.com" % (a, region) for a in cfg["accounts"]) \
                and (path == "/v2" or path.startswith("/v2/")):
            self.registry(cfg, host, path)
        else:
            self.read_body()
            self.write_log("unknown", 404, {})
            self.send(404, {"message": "no such route"})

    # ------------------------------------------------------------ relaying

    def relay(self, upstream, host, body, extra=()):
        """(status, headers, data) of the request sent to upstream, or None."""
        up = urllib.parse.urlsplit(upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
        headers = {}
        for k, v in self.headers.items():
            if k.lower() in HOP_BY_HOP:
                continue
            headers[k] = headers[k] + ", " + v if k in headers else v
        headers["Host"] = self.headers.get("Host") or host
        for k, v in extra:
            headers[k] = v
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def answer_relayed(self, status, headers, data, length=None):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in RELAYED_NOT:
                self.send_header(k, v)
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    # ------------------------------------------------------------ ECR API

    def api(self, cfg):
        body = self.read_body()
        target = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
        try:
            status, headers, data = self.relay(cfg["moto"], self.host(), body)
        except OSError as e:
            self.write_log("api", 502, {"target": target, "error": str(e)})
            self.send(502, {"__type": "ServerException", "message": str(e)})
            return
        if target == "GetAuthorizationToken" and status == 200:
            data = self.fix_token_answer(cfg, data)
        self.write_log("api", status, {"target": target})
        self.answer_relayed(status, headers, data)

    def fix_token_answer(self, cfg, data):
        doc = json.loads(data)
        expires = time.time() + float(cfg.get("token_life", 43200))
        for entry in doc.get("authorizationData", []):
            entry["expiresAt"] = round(expires, 3)
            token = entry["authorizationToken"]
            password = base64.b64decode(token).decode().split(":", 1)[1]
            with issued_lock:
                issued.add(password)
            if cfg.get("secrets_file"):
                with log_lock, open(cfg["secrets_file"], "a", encoding="utf-8") as f:
                    f.write(token + "\n" + password + "\n")
        return json.dumps(doc).encode()

    # ------------------------------------------------------------ registry

    def login(self, account):
        """ok, none, bad_user or unknown_password: a password GetAuthorizationToken
        gave, through this front or straight from moto."""
        value = self.headers.get("Authorization") or ""
        if not value.lower().startswith("basic "):
            return "none"
        try:
            user, password = base64.b64decode(value[6:].strip()).decode().split(":", 1)
        except (ValueError, UnicodeDecodeError):
            return "bad_user"
        if user != "AWS":
            return "bad_user"
        with issued_lock:
            if password in issued:
                return "ok"
        # issued by moto without passing here (an endpoint straight to moto)
        return "ok" if password == self.moto_password(account) else "unknown_password"

    def moto_password(self, account):
        cfg = self.config()
        token = self.ecr(cfg).get_authorization_token(registryIds=[account])
        token = token["authorizationData"][0]["authorizationToken"]
        return base64.b64decode(token).decode().split(":", 1)[1]

    @staticmethod
    def ecr(cfg):
        return boto3.client("ecr", endpoint_url=cfg["moto"], region_name=cfg["region"],
                            aws_access_key_id=cfg["access_key_id"],
                            aws_secret_access_key=cfg["secret_access_key"])

    def repository_exists(self, cfg, account, name):
        try:
            self.ecr(cfg).describe_repositories(registryId=account, repositoryNames=[name])
            return True
        except botocore.exceptions.ClientError as e:
            if e.response["Error"]["Code"] == "RepositoryNotFoundException":
                return False
            raise

    def registry(self, cfg, host, path):
        body = self.read_body()
        account = host.split(".", 1)[0]
        fields = {"auth": loopback.auth_kind(self.headers), "login": self.login(account)}
        if fields["login"] != "ok":
            self.write_log("v2", 401, fields)
            self.send(401, {"errors": [{"code": "DENIED", "message": "Not Authorized"}]},
                      [("WWW-Authenticate",
                        'Basic realm="https://%s/",service="ecr.amazonaws.com"' % host)])
            return
        m = REPO_PATH.match(path)
        if m:
            fields["repo"] = m.group(1)
            if not self.repository_exists(cfg, account, m.group(1)):
                self.write_log("v2", 404, fields)
                self.send(404, {"errors": [{
                    "code": "NAME_UNKNOWN",
                    "message": "The repository with name '%s' does not exist in the registry "
                               "with id '%s'" % (m.group(1), account)}]})
                return
        try:
            status, headers, data = self.relay(cfg["registry"], host, body,
                                               [("X-Forwarded-Proto", "https")])
        except OSError as e:
            self.write_log("v2", 502, dict(fields, error=str(e)))
            self.send(502, {"errors": [{"code": "UNAVAILABLE", "message": str(e)}]})
            return
        self.write_log("v2", status, fields)
        length = dict((k.lower(), v) for k, v in headers).get("content-length") \
            if self.command == "HEAD" else None
        self.answer_relayed(status, headers, data, length)


def main():
    ap = argparse.ArgumentParser(description="the ECR front (moto + a rig registry) for tests")
    ap.add_argument("--config", required=True)
    ap.add_argument("--log", required=True)
    opts = loopback.parse_args(ap)
    Handler.opts = opts
    open(opts.log, "a").close()
    loopback.serve(Handler, opts.port, opts.tls_cert, opts.tls_key)


if __name__ == "__main__":
    main()
