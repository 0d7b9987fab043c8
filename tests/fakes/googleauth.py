#!/usr/bin/python3
"""Loopback stand-ins for Google's token services, for the end-to-end tests
(tests/e2e/lib-gcp.sh: start_google_auth, gauth_count). Debian's python3 with
python3-jwt and python3-cryptography.

mldeploy reaches them by the real host names (MLDEPLOY_CONNECT_TO, over TLS with
the rig's CA); requests are routed by the Host header, then by path:

  oauth2.googleapis.com  POST /token (also any path ending in /token, so that a key
      whose token_uri names another path fails its audience check), a form:
    grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, assertion=JWT
      verified as Google does a service account's: RS256, header kid one of the
      account's key ids (a key taken out of the config is a revoked key), the
      signature with that key's public half, iss = a configured account, aud one of
      Google's token URIs, iat <= now + 5 min, exp > now, exp - iat <= 1 h, scope
      present and every scope known. Errors as Google answers them, 400
      {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
      "Invalid grant: account not found", "Invalid JWT: Failed audience check. The
      right audience is https://oauth2.googleapis.com/token", "Invalid JWT: Token
      must be a short-lived token (60 minutes) and in a reasonable timeframe. Check
      your iat and exp values in the JWT claim.", {"error": "invalid_scope", ...}.
    grant_type=refresh_token, client_id, client_secret, refresh_token: a
      configured user; unknown or revoked: 400 invalid_grant "Token has been
      expired or revoked."; a wrong client: 401 invalid_client "Unauthorized".
    200 {"access_token": "ya29.…", "expires_in": 3599, "token_type": "Bearer"}
    (and "scope" for a refresh).
    An assertion with target_audience (and no scope) asks for an ID token: 200
    {"id_token": JWT} with aud = target_audience (logged as route "id_token").
    The refresh grant's answer also has an "id_token" (aud = the client_id).
    ID tokens: RS256 JWTs signed with a key this fake makes at start, claims iss
    https://accounts.google.com, aud, azp, sub, email, email_verified, iat, exp (1 h);
    each is appended to every file of the config's id_tokens_files (one a line: the
    fake Cloud Run's accepted ID tokens) and to secrets_file.
  sts.googleapis.com  POST /v1/token, a form: grant_type=urn:ietf:params:oauth:
      grant-type:token-exchange, audience (a configured workload identity
      provider), scope, requested_token_type=urn:ietf:params:oauth:token-type:
      access_token, subject_token (one the provider trusts), subject_token_type
      (urn:ietf:params:oauth:token-type:jwt or id_token), optional options; a
      provider may require HTTP Basic client credentials. 200 {"access_token",
      "issued_token_type", "token_type": "Bearer", "expires_in"}; errors 400
      {"error": "invalid_request" | "invalid_grant" | "invalid_target", ...}.
  iamcredentials.googleapis.com  POST /v1/projects/-/serviceAccounts/EMAIL:
      generateAccessToken, Authorization: Bearer <a token this fake issued>, JSON
      {"scope": [...], "lifetime": "Ns" (<= 3600s), "delegates": [...]} (other
      members refused): the holder's principal must be one of the account's
      token_creators ("*": anyone). 200 {"accessToken", "expireTime"}; 401
      UNAUTHENTICATED, 403 PERMISSION_DENIED "Permission 'iam.serviceAccounts.
      getAccessToken' denied on resource (or it may not exist).", 400
      INVALID_ARGUMENT, in Google's {"error": {"code", "message", "status"}} shape.
    POST /v1/projects/-/serviceAccounts/EMAIL:generateIdToken, the same bearer and
      creators, JSON {"audience", "includeEmail", "delegates"}: 200 {"token": ID
      token for audience} (route "id_token"); 403 "Permission 'iam.serviceAccounts.
      getOpenIdToken' denied ...".
  any other Host (the plain HTTP instance: the metadata server and a subject token
      URL):
    GET /computeMetadata/v1/...  needs "Metadata-Flavor: Google" (403 otherwise);
      every answer carries "Metadata-Flavor: Google". / and /computeMetadata/v1/
      list; instance/service-accounts/default/token: {"access_token",
      "expires_in", "token_type"} for metadata.service_account (404 without one);
      project/project-id: metadata.project. instance/service-accounts/default/
      identity?audience=AUD[&format=full]: an ID token for AUD as text (route
      "id_token"; 400 without audience).
    GET /subject-token  the subject token of the config's subject_url entry, as
      JSON {"value": TOKEN}, when the request has its header (401 otherwise).

The config (--config, JSON, re-read on every request so a test may change it):
  {"service_accounts": {"EMAIL": {"keys": {"KEY_ID": "public.pem"},
                                  "token_creators": ["PRINCIPAL" | "*"]}},
   "users": {"REFRESH_TOKEN": {"client_id": "...", "client_secret": "...",
                               "principal": "user:someone@example.com"}},
   "workload_providers": {"AUDIENCE": {"subject_tokens": ["..."],
                                       "client": {"id": "...", "secret": "..."}}},
   "metadata": {"service_account": "EMAIL", "project": "P"},
   "subject_url": {"header": "Name", "value": "...", "token": "..."},
   "tokens_files": ["FILE", ...] (every access token issued is appended to each,
                   one a line: the other Google fakes' accepted tokens),
   "secrets_file": "FILE" (every assertion, subject token, refresh token and access
                   token seen or issued, one a line: tests grep mldeploy's output
                   for them)}
The principal of a token: the service account's EMAIL, a user's "principal", or
"principal://iam.googleapis.com/" + the provider's audience path for STS.

Every request is appended to the log (--log) as one JSON object per line, written
before the answer goes out: {"method", "host", "path", "route" (token, sts,
generate, metadata, subject, unknown), "status", "grant", "principal", "error",
"auth" (none, basic, bearer, other), "flavor" (the Metadata-Flavor header)}.
Secrets, assertions and tokens are never logged.

Binds 127.0.0.1 on a free port (or --port), prints the port on stdout, exits when
its parent does. --tls-cert/--tls-key serve HTTPS.

usage: googleauth.py --config CONFIG.json --log LOG [--port N]
                     [--tls-cert CRT --tls-key KEY]
"""
import argparse
import base64
import datetime
import hmac
import json
import re
import secrets
import threading
import time
import urllib.parse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import loopback

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SUBJECT_TYPES = ("urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token",
                 "urn:ietf:params:aws:token-type:aws4_request",
                 "urn:ietf:params:oauth:token-type:saml2")
AUDIENCES = ("https://oauth2.googleapis.com/token", "https://accounts.google.com/o/oauth2/token",
             "https://www.googleapis.com/oauth2/v4/token")
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",
          "https://www.googleapis.com/auth/cloud-platform.read-only",
          "https://www.googleapis.com/auth/userinfo.email", "openid")
GENERATE = re.compile(r"^/v1/projects/-/serviceAccounts/([^/:]+):generateAccessToken$")
GENERATE_ID = re.compile(r"^/v1/projects/-/serviceAccounts/([^/:]+):generateIdToken$")
IDENTITY = "/computeMetadata/v1/instance/service-accounts/default/identity"
ID_KEY = None  # made at start: signs the ID tokens
TTL = 3599
CLOCK_SKEW = 300
MAX_LIFE = 3600

log_lock = threading.Lock()
principals = {}  # access token -> principal, for generateAccessToken
principals_lock = threading.Lock()


class Refused(Exception):
    """An answer other than 200: status, body, extra log fields."""

    def __init__(self, status, body, **fields):
        super().__init__(status)
        self.status, self.body, self.fields = status, body, fields


def oauth_error(status, error, description):
    return Refused(status, {"error": error, "error_description": description}, error=error)


def google_error(status, code, message):
    return Refused(status, {"error": {"code": status, "message": message, "status": code}},
                   error=code)


class Handler(loopback.Handler):
    server_version = "mldeploy-test-googleauth"
    opts = None

    # ------------------------------------------------------------ plumbing

    def config(self):
        with open(self.opts.config, encoding="utf-8") as f:
            return json.load(f)

    def host(self):
        h = (self.headers.get("Host") or "").lower()
        return h[:-4] if h.endswith(":443") else h

    def form(self, body):
        return urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)

    def write_log(self, route, status, fields):
        entry = {"method": self.command, "host": self.host(),
                 "path": urllib.parse.urlsplit(self.path).path, "route": route,
                 "status": status, "auth": loopback.auth_kind(self.headers)}
        if self.headers.get("Metadata-Flavor") is not None:
            entry["flavor"] = self.headers.get("Metadata-Flavor")
        entry.update(fields)
        with log_lock, open(self.opts.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")

    def send(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        ctype = "application/json; charset=utf-8" if not isinstance(body, bytes) else \
            "application/text"
        self.reply(status, data, [("Content-Type", ctype), ("Cache-Control", "no-store")] +
                   list(headers))

    def answer(self, route, fn, *args, headers=()):
        fields = {}
        try:
            body = fn(fields, *args)
            self.write_log(route, 200, fields)
            self.send(200, body, headers)
        except Refused as r:
            fields.update(r.fields)
            self.write_log(route, r.status, fields)
            self.send(r.status, r.body, headers)

    @staticmethod
    def record(cfg, value):
        if cfg.get("secrets_file") and value:
            with log_lock, open(cfg["secrets_file"], "a", encoding="utf-8") as f:
                f.write(value + "\n")

    def issue(self, cfg, principal):
        token = "ya29.fake-" + secrets.token_urlsafe(32)
        with principals_lock:
            principals[token] = principal
        self.record(cfg, token)
        for path in cfg.get("tokens_files") or []:
            with log_lock, open(path, "a", encoding="utf-8") as f:
                f.write(token + "\n")
        return token

    def issue_id(self, cfg, email, audience):
        now = int(time.time())
        token = jwt.encode({"iss": "https://accounts.google.com", "aud": audience,
                            "azp": email, "sub": email, "email": email, "email_verified": True,
                            "iat": now, "exp": now + TTL}, ID_KEY, algorithm="RS256",
                           headers={"kid": "fake-id"})
        self.record(cfg, token)
        for path in cfg.get("id_tokens_files") or []:
            with log_lock, open(path, "a", encoding="utf-8") as f:
                f.write(token + "\n")
        return token

    # ------------------------------------------------------------ routing

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        host = self.host()
        body = self.read_body()
        try:
            cfg = self.config()
        except (OSError, ValueError) as e:
            self.send(500, {"error": "server_error", "error_description": str(e)})
            return
        post = self.command == "POST"
        if host == "oauth2.googleapis.com" and post and url.path.endswith("/token"):
            form = self.form(body)
            self.answer("id_token" if self.asks_id(form) else "token", self.token, cfg, form)
        elif host == "sts.googleapis.com" and post and url.path == "/v1/token":
            self.answer("sts", self.sts, cfg, self.form(body))
        elif host == "iamcredentials.googleapis.com" and post and GENERATE_ID.match(url.path):
            self.answer("id_token", self.generate_id, cfg, GENERATE_ID.match(url.path).group(1),
                        body)
        elif host == "iamcredentials.googleapis.com" and post and GENERATE.match(url.path):
            self.answer("generate", self.generate, cfg, GENERATE.match(url.path).group(1), body)
        elif host.endswith(".googleapis.com"):
            self.write_log("unknown", 404, {})
            self.send(404, b"<!DOCTYPE html>\n<title>Error 404 (Not Found)!!1</title>\n")
        elif url.path == IDENTITY and self.command == "GET":
            self.answer("id_token", self.identity, cfg, urllib.parse.parse_qs(url.query),
                        headers=[("Metadata-Flavor", "Google")])
        elif url.path == "/subject-token" and self.command == "GET":
            self.answer("subject", self.subject, cfg)
        else:
            self.answer("metadata", self.metadata, cfg, url.path,
                        headers=[("Metadata-Flavor", "Google")])

    # ------------------------------------------------------------ oauth2

    @staticmethod
    def asks_id(form):
        """A jwt-bearer grant whose assertion has a target_audience."""
        if (form.get("grant_type") or [None])[0] != JWT_BEARER:
            return False
        try:
            claims = jwt.decode((form.get("assertion") or [""])[0],
                                options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return False
        return bool(claims.get("target_audience"))

    def token(self, fields, cfg, form):
        get = lambda k: (form.get(k) or [None])[0]  # noqa: E731
        grant = get("grant_type")
        fields["grant"] = grant
        if grant == JWT_BEARER:
            self.record(cfg, get("assertion"))
            email, target = self.check_assertion(cfg, get("assertion") or "")
            fields["principal"] = email
            if target:
                fields["audience"] = target
                return {"id_token": self.issue_id(cfg, email, target)}
            return {"access_token": self.issue(cfg, email), "expires_in": TTL,
                    "token_type": "Bearer"}
        if grant == "refresh_token":
            self.record(cfg, get("refresh_token"))
            user = (cfg.get("users") or {}).get(get("refresh_token") or "")
            if not user:
                raise oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            if get("client_id") != user.get("client_id") or not hmac.compare_digest(
                    (get("client_secret") or "").encode(), user.get("client_secret", "").encode()):
                raise oauth_error(401, "invalid_client", "Unauthorized")
            fields["principal"] = user.get("principal", "user")
            return {"access_token": self.issue(cfg, fields["principal"]), "expires_in": TTL,
                    "token_type": "Bearer", "scope": SCOPES[0],
                    "id_token": self.issue_id(cfg, fields["principal"].split(":", 1)[-1],
                                              user.get("client_id"))}
        if not grant:
            raise oauth_error(400, "invalid_request", "Missing required parameter: grant_type")
        raise oauth_error(400, "unsupported_grant_type", "Invalid grant_type: %s" % grant)

    def check_assertion(self, cfg, assertion):
        """The service account's email, or raises Google's error."""
        try:
            head = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise oauth_error(400, "invalid_request", "Invalid JWT: could not be decoded")
        account = (cfg.get("service_accounts") or {}).get(claims.get("iss") or "")
        if not account:
            raise oauth_error(400, "invalid_grant", "Invalid grant: account not found")
        if head.get("alg") != "RS256":
            raise oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        keys = account.get("keys") or {}
        kid = head.get("kid")
        candidates = [keys[kid]] if kid in keys else ([] if kid else list(keys.values()))
        verified = False
        for pem in candidates:
            with open(pem, "rb") as f:
                public = serialization.load_pem_public_key(f.read())
            try:
                jwt.decode(assertion, public, algorithms=["RS256"],
                           options={"verify_aud": False, "verify_exp": False,
                                    "verify_iat": False, "verify_nbf": False})
                verified = True
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidTokenError:
                break
        if not verified:
            raise oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        if claims.get("aud") not in AUDIENCES:
            raise oauth_error(400, "invalid_grant", "Invalid JWT: Failed audience check. The "
                              "right audience is https://oauth2.googleapis.com/token")
        now = int(time.time())
        iat, exp = claims.get("iat"), claims.get("exp")
        if (not isinstance(iat, int) or not isinstance(exp, int) or iat > now + CLOCK_SKEW or
                exp <= now or exp - iat > MAX_LIFE):
            raise oauth_error(400, "invalid_grant", "Invalid JWT: Token must be a short-lived "
                              "token (60 minutes) and in a reasonable timeframe. Check your "
                              "iat and exp values in the JWT claim.")
        target = claims.get("target_audience")
        scopes = (claims.get("scope") or "").split()
        if target is not None and (not isinstance(target, str) or not target or scopes):
            raise oauth_error(400, "invalid_scope", "Invalid OAuth scope or ID token audience "
                              "provided.")
        if target is None and (not scopes or any(s not in SCOPES for s in scopes)):
            raise oauth_error(400, "invalid_scope", "Invalid OAuth scope or ID token audience "
                              "provided.")
        return claims["iss"], target

    # ------------------------------------------------------------ STS

    def sts(self, fields, cfg, form):
        get = lambda k: (form.get(k) or [None])[0]  # noqa: E731
        fields["grant"] = get("grant_type")
        self.record(cfg, get("subject_token"))
        if get("grant_type") != TOKEN_EXCHANGE:
            raise oauth_error(400, "unsupported_grant_type",
                              "The value \"%s\" for \"grant_type\" is not supported."
                              % get("grant_type"))
        if get("requested_token_type") != ACCESS_TOKEN_TYPE:
            raise oauth_error(400, "invalid_request", "Invalid value for "
                              "\"requested_token_type\": %s" % get("requested_token_type"))
        if get("subject_token_type") not in SUBJECT_TYPES:
            raise oauth_error(400, "invalid_request", "Invalid value for "
                              "\"subject_token_type\": %s" % get("subject_token_type"))
        if not get("scope") or any(s not in SCOPES for s in get("scope").split()):
            raise oauth_error(400, "invalid_scope", "Invalid value for \"scope\".")
        if get("options") is not None:
            try:
                opts = json.loads(get("options"))
                assert isinstance(opts, dict) and set(opts) <= {"userProject"}
            except (ValueError, AssertionError):
                raise oauth_error(400, "invalid_request", "Invalid value for \"options\".")
        audience = get("audience") or ""
        provider = (cfg.get("workload_providers") or {}).get(audience)
        if not provider:
            raise oauth_error(400, "invalid_target", "The target service indicated by the "
                              "\"audience\" parameters is invalid. This might either be "
                              "because the pool or provider is disabled or deleted or because "
                              "it doesn't exist.")
        client = provider.get("client")
        if client:
            value = self.headers.get("Authorization") or ""
            scheme, _, rest = value.partition(" ")
            try:
                got = base64.b64decode(rest.strip()).decode() if scheme.lower() == "basic" else ""
            except ValueError:
                got = ""
            if got != "%s:%s" % (client.get("id"), client.get("secret")):
                raise oauth_error(401, "invalid_client", "The client credentials are invalid.")
        token = get("subject_token") or ""
        if not any(hmac.compare_digest(token.encode(), t.encode())
                   for t in provider.get("subject_tokens") or []):
            raise oauth_error(400, "invalid_grant", "The audience in ID Token [%s] does not "
                              "match the expected audience." % audience)
        principal = "principal://iam.googleapis.com/" + audience.lstrip("/").split("/", 1)[-1]
        fields["principal"] = principal
        return {"access_token": self.issue(cfg, principal), "issued_token_type":
                ACCESS_TOKEN_TYPE, "token_type": "Bearer", "expires_in": TTL}

    # ------------------------------------------------------------ IAM Credentials

    def generate(self, fields, cfg, email, body):
        value = self.headers.get("Authorization") or ""
        scheme, _, bearer = value.partition(" ")
        with principals_lock:
            holder = principals.get(bearer.strip()) if scheme.lower() == "bearer" else None
        if not holder:
            raise google_error(401, "UNAUTHENTICATED", "Request had invalid authentication "
                               "credentials. Expected OAuth 2 access token, login cookie or "
                               "other valid authentication credential. See https://developers"
                               ".google.com/identity/sign-in/web/devconsole-project.")
        fields["principal"] = holder
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            raise google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if not isinstance(req, dict):
            raise google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        unknown = set(req) - {"scope", "lifetime", "delegates"}
        if unknown:
            raise google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received. "
                               "Unknown name \"%s\": Cannot find field." % sorted(unknown)[0])
        scope = req.get("scope")
        if (not isinstance(scope, list) or not scope or
                any(not isinstance(s, str) or s not in SCOPES for s in scope)):
            raise google_error(400, "INVALID_ARGUMENT", "Scope required.")
        lifetime = req.get("lifetime", "3600s")
        m = re.fullmatch(r"(\d+)(\.\d+)?s", lifetime) if isinstance(lifetime, str) else None
        if not m or not 1 <= int(m.group(1)) <= MAX_LIFE:
            raise google_error(400, "INVALID_ARGUMENT", "The lifetime must be between 1s "
                               "and 3600s.")
        if not isinstance(req.get("delegates", []), list):
            raise google_error(400, "INVALID_ARGUMENT", "Invalid value at 'delegates'.")
        account = (cfg.get("service_accounts") or {}).get(email)
        creators = (account or {}).get("token_creators") or []
        if not account or ("*" not in creators and holder not in creators):
            raise google_error(403, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts."
                               "getAccessToken' denied on resource (or it may not exist).")
        expire = datetime.datetime.now(datetime.timezone.utc) + \
            datetime.timedelta(seconds=int(m.group(1)))
        return {"accessToken": self.issue(cfg, email),
                "expireTime": expire.strftime("%Y-%m-%dT%H:%M:%SZ")}

    def generate_id(self, fields, cfg, email, body):
        value = self.headers.get("Authorization") or ""
        scheme, _, bearer = value.partition(" ")
        with principals_lock:
            holder = principals.get(bearer.strip()) if scheme.lower() == "bearer" else None
        if not holder:
            raise google_error(401, "UNAUTHENTICATED", "Request had invalid authentication "
                               "credentials.")
        fields["principal"] = holder
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            raise google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if not isinstance(req, dict):
            raise google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        unknown = set(req) - {"audience", "includeEmail", "delegates"}
        if unknown:
            raise google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received. "
                               "Unknown name \"%s\": Cannot find field." % sorted(unknown)[0])
        audience = req.get("audience")
        if not isinstance(audience, str) or not audience:
            raise google_error(400, "INVALID_ARGUMENT", "Audience required.")
        if not isinstance(req.get("includeEmail", False), bool):
            raise google_error(400, "INVALID_ARGUMENT", "Invalid value at 'include_email'.")
        account = (cfg.get("service_accounts") or {}).get(email)
        creators = (account or {}).get("token_creators") or []
        if not account or ("*" not in creators and holder not in creators):
            raise google_error(403, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts."
                               "getOpenIdToken' denied on resource (or it may not exist).")
        fields["audience"] = audience
        return {"token": self.issue_id(cfg, email, audience)}

    def identity(self, fields, cfg, query):
        if self.headers.get("Metadata-Flavor") != "Google":
            raise Refused(403, b"Missing required header: Metadata-Flavor\n", error="flavor")
        md = cfg.get("metadata") or {}
        audience = (query.get("audience") or [""])[0]
        if not md.get("service_account"):
            raise Refused(404, b"Not Found\n", error="not_found")
        if not audience:
            raise Refused(400, b"non-empty audience parameter required\n", error="audience")
        fields["principal"] = md["service_account"]
        fields["audience"] = audience
        return self.issue_id(cfg, md["service_account"], audience).encode()

    # ------------------------------------------------------------ metadata server

    def metadata(self, fields, cfg, path):
        if self.headers.get("Metadata-Flavor") != "Google":
            raise Refused(403, b"Missing required header: Metadata-Flavor\n", error="flavor")
        md = cfg.get("metadata") or {}
        if path in ("/", ""):
            return b"computeMetadata/\n"
        if path.rstrip("/") == "/computeMetadata/v1":
            return b"instance/\nproject/\n"
        if path == "/computeMetadata/v1/project/project-id" and md.get("project"):
            return md["project"].encode()
        if path == "/computeMetadata/v1/instance/service-accounts/default/token" and \
                md.get("service_account"):
            fields["principal"] = md["service_account"]
            return {"access_token": self.issue(cfg, md["service_account"]), "expires_in": TTL,
                    "token_type": "Bearer"}
        raise Refused(404, b"Not Found\n", error="not_found")

    def subject(self, fields, cfg):
        src = cfg.get("subject_url") or {}
        got = self.headers.get(src.get("header") or "X-None")
        if not src.get("token") or not got or not hmac.compare_digest(
                got.encode(), (src.get("value") or "").encode()):
            raise Refused(401, {"message": "no or wrong header"}, error="header")
        return {"value": src["token"], "count": 1}


def main():
    ap = argparse.ArgumentParser(description="Google's token services for tests")
    ap.add_argument("--config", required=True)
    ap.add_argument("--log", required=True)
    opts = loopback.parse_args(ap)
    Handler.opts = opts
    global ID_KEY
    ID_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    open(opts.log, "a").close()
    loopback.serve(Handler, opts.port, opts.tls_cert, opts.tls_key)


if __name__ == "__main__":
    main()
