#!/usr/bin/env python3
"""The TLS front of moto for the end-to-end tests (tests/e2e/lib-aws.sh:
start_moto, moto_count): moto serves plain HTTP, mldeploy reaches AWS's real host
names (sts.amazonaws.com, iam.amazonaws.com, s3...) over TLS with the rig's CA
through MLDEPLOY_CONNECT_TO, and this front relays every request to moto as it
came, Host included, so that moto routes it by host name and checks the SigV4
signature it was given. One exception: STS takes AssumeRoleWithWebIdentity
unsigned, moto with its checks on does not (it fails without an Authorization
header), so an unsigned AssumeRoleWithWebIdentity that names RoleArn,
RoleSessionName and WebIdentityToken is signed here with the keys of --keys
("KEY_ID SECRET", moto's admin) before it is relayed; any other is refused
400 MissingParameter without reaching moto.

Every request is appended to the log (--log) as one JSON object per line, written
before the answer goes out: {"method", "host", "path" (no query), "action" (the
Query API's Action from the query or the form body, else the X-Amz-Target
operation, else "-"), "auth" ("sigv4", "none" or "other"), "key_id" (the access
key id of the SigV4 Credential, or "-"), "token" (whether X-Amz-Security-Token
was sent), "status", "code" (the error code of a failed answer, XML or JSON,
or "-")}. Secrets, signatures and session tokens are never logged.
"""
import argparse
import http.client
import json
import re
import threading
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import loopback

HOP_BY_HOP = loopback.HOP_BY_HOP | {"host", "content-length"}
RELAYED_NOT = HOP_BY_HOP | {"date", "server"}
CREDENTIAL = re.compile(r"Credential=([A-Za-z0-9]+)/")
XML_CODE = re.compile(rb"<Code>([^<]{1,128})</Code>")

log_lock = threading.Lock()


def action_of(path, headers, body):
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    if "Action" in q:
        return q["Action"][0]
    ctype = headers.get("Content-Type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return form["Action"][0]
    target = headers.get("X-Amz-Target")
    return target.split(".")[-1] if target else "-"


def code_of(status, data):
    if status < 400:
        return "-"
    m = XML_CODE.search(data)
    if m:
        return m.group(1).decode("utf-8", "replace")
    try:
        doc = json.loads(data)
        return str(doc.get("__type", "-")).split("#")[-1]
    except (ValueError, AttributeError):
        return "-"


class Handler(loopback.Handler):
    server_version = "mldeploy-test-moto-front"
    opts = None

    def sign_web_identity(self, headers, body):
        """Headers that sign this request as --keys' user, as moto needs it."""
        with open(self.opts.keys, encoding="utf-8") as f:
            key_id, secret = f.read().split()[:2]
        host = headers["Host"]
        m = re.match(r"sts\.([a-z0-9-]+)\.amazonaws\.com$", host.split(":")[0])
        req = AWSRequest(method=self.command, url="https://%s%s" % (host, self.path),
                         data=body, headers={"Host": host,
                                             "Content-Type": headers.get("Content-Type", "")})
        SigV4Auth(Credentials(key_id, secret), "sts",
                  m.group(1) if m else "us-east-1").add_auth(req)
        headers["Authorization"] = req.headers["Authorization"]
        headers["X-Amz-Date"] = req.headers["X-Amz-Date"]

    def relay(self, body, web_identity):
        up = urllib.parse.urlsplit(self.opts.moto)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
        headers = {}
        for k, v in self.headers.items():
            if k.lower() in HOP_BY_HOP:
                continue
            headers[k] = headers[k] + ", " + v if k in headers else v
        headers["Host"] = self.headers.get("Host", "")
        if web_identity:
            self.sign_web_identity(headers, body)
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def route(self):
        body = self.read_body()
        auth = self.headers.get("Authorization")
        key = CREDENTIAL.search(auth or "")
        action = action_of(self.path, self.headers, body)
        web_identity = auth is None and action == "AssumeRoleWithWebIdentity"
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if web_identity and not all(form.get(k, [""])[0] for k in
                                    ("RoleArn", "RoleSessionName", "WebIdentityToken")):
            status, headers = 400, [("Content-Type", "text/xml")]
            data = (b"<ErrorResponse><Error><Type>Sender</Type><Code>MissingParameter</Code>"
                    b"<Message>RoleArn, RoleSessionName and WebIdentityToken are required"
                    b"</Message></Error></ErrorResponse>")
        else:
            status, headers, data = self.relay(body, web_identity)
        entry = {
            "method": self.command,
            "host": self.headers.get("Host", "").split(":")[0],
            "path": urllib.parse.urlsplit(self.path).path,
            "action": action,
            "auth": "none" if auth is None else
                    "sigv4" if auth.startswith("AWS4-HMAC-SHA256 ") else "other",
            "key_id": key.group(1) if key else "-",
            "token": "X-Amz-Security-Token" in self.headers,
            "status": status,
            "code": code_of(status, data),
        }
        with log_lock, open(self.opts.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in RELAYED_NOT:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moto", required=True, help="moto's URL, http://127.0.0.1:PORT")
    ap.add_argument("--log", required=True)
    ap.add_argument("--keys", required=True, help='a file of "KEY_ID SECRET" (moto\'s admin)')
    opts = loopback.parse_args(ap)
    Handler.opts = opts
    loopback.serve(Handler, opts.port, opts.tls_cert, opts.tls_key)


if __name__ == "__main__":
    main()
