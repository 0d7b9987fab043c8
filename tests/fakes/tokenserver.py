#!/usr/bin/python3
"""Registry token server for the end-to-end tests (tests/e2e/lib.sh: start_registry
NAME token USER PASS). Debian's python3 with python3-jwt and python3-cryptography.

Implements distribution's "token authentication specification":
  GET /token?service=S&scope=TYPE:NAME:ACTIONS[&scope=...][&account=A]
      optional HTTP Basic credentials; answers 200
      {"token": JWT, "access_token": JWT, "expires_in": 300, "issued_at": RFC3339}
      where JWT is RS256-signed with claims iss, sub, aud (= service), exp, nbf, iat,
      jti and access (the granted subset of what was asked; may be empty, as the
      registry then answers insufficient_scope). Wrong user or password: 401 with
      WWW-Authenticate: Basic realm="..." (never a token for bad credentials).
  POST /token  (the OAuth2 variant, grant_type=password only; form fields
      username, password, service, scope, client_id) answers
      {"access_token", "expires_in", "issued_at", "scope"}; anything else 400.
The JWT header carries x5c (the signing certificate, base64 DER), which registry
2.8 verifies against its auth.token.rootcertbundle; --header kid uses the libtrust
key ID of the public key instead (2.8 derives its trusted keys from the same bundle).

Users come from a JSON file, re-read on every request so a test may change it:
  {"users": {"alice": {"password": "...", "access": {"team/*": ["pull", "push"]}}},
   "anonymous": {"public/*": ["pull"]}}
Keys of "access" are fnmatch globs on the repository name ("*" matches "/" too);
actions are "pull", "push", "delete" or "*" (all asked actions). Only scopes of
type "repository" (with or without a class, "repository(plugin)") are granted.

Every request is appended to the log file (--log) as one line of space-separated
key=value fields, spaces and controls in values percent-escaped (path is the raw
request target, so its own %XX stay as they came):
  method=GET path=/token?service=...&scope=repository%3Ax%3Apull auth=none|basic|
  bearer|other status=200 sub=alice|-  scope=repository:x:pull (one per asked scope,
  decoded) granted=repository:x:pull (one per granted scope)
The credential itself, its user name when it is refused and the token are never
logged.

Binds 127.0.0.1 on a free port (or --port), prints the port on stdout, exits when
its parent does. --tls-cert/--tls-key serve HTTPS.

usage: tokenserver.py --key KEY.pem --cert CERT.pem --issuer ISS --users USERS.json
                      --log LOG [--header x5c|kid] [--ttl SECS] [--port N]
                      [--tls-cert CRT --tls-key KEY]
"""
import argparse
import base64
import datetime
import fnmatch
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import loopback

KNOWN_ACTIONS = ("pull", "push", "delete")
log_lock = threading.Lock()


def libtrust_key_id(public_key):
    """libtrust's key ID: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits,
    base32 without padding, in 12 colon-separated groups of 4."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, 48, 4))


def escape(value):
    out = []
    for ch in value:
        if ord(ch) < 0x21 or ord(ch) == 0x7F:
            out.append("%%%02X" % ord(ch))
        else:
            out.append(ch)
    return "".join(out) or "-"


def parse_scope(scope):
    """"repository:host:5000/a/b:pull,push" -> ("repository", "host:5000/a/b",
    ["pull", "push"]); None when malformed. The type ends at the first colon, the
    actions start after the last one."""
    first = scope.find(":")
    last = scope.rfind(":")
    if first <= 0 or last == first:
        return None
    rtype, name, actions = scope[:first], scope[first + 1:last], scope[last + 1:]
    if not name:
        return None
    return rtype, name, [a for a in actions.split(",") if a]


def grant(rules, rtype, name, asked):
    """The subset of the asked actions the rules allow on name."""
    base_type = rtype.split("(", 1)[0]
    if base_type != "repository" or not isinstance(rules, dict):
        return []
    allowed = set()
    for pattern, actions in rules.items():
        if fnmatch.fnmatchcase(name, pattern):
            allowed.update(actions if isinstance(actions, list) else [actions])
    if "*" in allowed:
        return list(dict.fromkeys(asked))
    return [a for a in dict.fromkeys(asked) if a in allowed]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mldeploy-test-tokenserver"
    opts = None          # set in main()
    private_key = None
    header = None

    def log_message(self, fmt, *args):
        pass

    # ------------------------------------------------------------ helpers

    def basic_credentials(self):
        value = self.headers.get("Authorization", "")
        scheme, _, rest = value.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            plain = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return ("", None)
        user, sep, password = plain.partition(":")
        return (user, password if sep else None)

    def load_users(self):
        with open(self.opts.users, encoding="utf-8") as f:
            return json.load(f)

    def check_user(self, users, user, password):
        """The user's access rules, or None when user/password do not match."""
        entry = (users.get("users") or {}).get(user)
        if not isinstance(entry, dict) or password is None:
            return None
        want = entry.get("password")
        if not isinstance(want, str) or not _consteq(want, password):
            return None
        return entry.get("access") or {}

    def write_log(self, status, sub, scopes, granted):
        fields = ["method=" + self.command, "path=" + escape(self.path),
                  "auth=" + loopback.auth_kind(self.headers), "status=%d" % status,
                  "sub=" + escape(sub or "")]
        fields += ["scope=" + escape(s) for s in scopes]
        fields += ["granted=" + escape(g) for g in granted]
        with log_lock, open(self.opts.log, "a", encoding="utf-8") as f:
            f.write(" ".join(fields) + "\n")

    def send(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def error(self, status, code, message, scopes=(), headers=()):
        self.write_log(status, None, scopes, [])
        self.send(status, {"errors": [{"code": code, "message": message}],
                           "error": code.lower(), "details": message}, headers)

    def issue(self, sub, service, scopes, rules):
        access, granted = [], []
        for s in scopes:
            parsed = parse_scope(s)
            if not parsed:
                continue
            rtype, name, asked = parsed
            actions = grant(rules, rtype, name, asked)
            access.append({"type": rtype.split("(", 1)[0], "name": name, "actions": actions})
            if actions:
                granted.append("%s:%s:%s" % (rtype, name, ",".join(actions)))
        now = int(time.time())
        claims = {
            "iss": self.opts.issuer,
            "sub": sub or "",
            "aud": service,
            "exp": now + self.opts.ttl,
            "nbf": now - 1,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = jwt.encode(claims, self.private_key, algorithm="RS256", headers=self.header)
        issued = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        return token, granted, issued.strftime("%Y-%m-%dT%H:%M:%SZ")

    # ------------------------------------------------------------ routes

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self.error(404, "NOT_FOUND", "no such endpoint")
            return
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        scopes = [s for value in q.get("scope", []) for s in value.split(" ") if s]
        service = (q.get("service") or [""])[0]
        self.answer(service, scopes, self.basic_credentials(), oauth=False)

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        if url.path != "/token":
            self.error(404, "NOT_FOUND", "no such endpoint")
            return
        form = urllib.parse.parse_qs(body, keep_blank_values=True)
        scopes = [s for value in form.get("scope", []) for s in value.split(" ") if s]
        if (form.get("grant_type") or [""])[0] != "password":
            self.error(400, "UNSUPPORTED_GRANT_TYPE", "only grant_type=password is supported",
                       scopes)
            return
        creds = ((form.get("username") or [""])[0], (form.get("password") or [None])[0])
        self.answer((form.get("service") or [""])[0], scopes, creds, oauth=True)

    def answer(self, service, scopes, creds, oauth):
        try:
            users = self.load_users()
        except (OSError, ValueError) as e:
            self.error(500, "UNAVAILABLE", "cannot read the users file: %s" % e, scopes)
            return
        if creds is None:
            sub, rules = None, users.get("anonymous") or {}
        else:
            rules = self.check_user(users, creds[0], creds[1])
            if rules is None:
                self.error(401, "UNAUTHORIZED", "authentication required", scopes,
                           [("WWW-Authenticate", 'Basic realm="%s"' % self.opts.realm)])
                return
            sub = creds[0]
        if not service:
            self.error(400, "INVALID_REQUEST", "no service", scopes)
            return
        token, granted, issued = self.issue(sub, service, scopes, rules)
        self.write_log(200, sub or "-", scopes, granted)
        if oauth:
            body = {"access_token": token, "expires_in": self.opts.ttl, "issued_at": issued,
                    "scope": " ".join(granted)}
        else:
            body = {"token": token, "access_token": token, "expires_in": self.opts.ttl,
                    "issued_at": issued}
        self.send(200, body)


def _consteq(a, b):
    return hmac.compare_digest(a.encode(), b.encode())


def main():
    ap = argparse.ArgumentParser(description="registry token server for tests")
    ap.add_argument("--key", required=True, help="RSA private key (PEM) signing the tokens")
    ap.add_argument("--cert", required=True, help="its certificate (PEM), sent as x5c")
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--users", required=True, help="users JSON file")
    ap.add_argument("--log", required=True, help="request log file")
    ap.add_argument("--header", choices=("x5c", "kid"), default="x5c")
    ap.add_argument("--ttl", type=int, default=300)
    ap.add_argument("--realm", default="mldeploy-test-token")
    opts = loopback.parse_args(ap)

    with open(opts.key, "rb") as f:
        private_key = serialization.load_pem_private_key(f.read(), password=None)
    with open(opts.cert, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    header = {"typ": "JWT"}
    if opts.header == "x5c":
        header["x5c"] = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
    else:
        header["kid"] = libtrust_key_id(cert.public_key())
    Handler.opts = opts
    Handler.private_key = private_key
    Handler.header = header
    open(opts.log, "a").close()

    loopback.serve(Handler, opts.port, opts.tls_cert, opts.tls_key)


if __name__ == "__main__":
    main()
