#!/usr/bin/python3
"""Loopback stand-ins for Microsoft Entra ID, Azure managed identity and the front
of an Azure Container Registry, for the end-to-end tests (tests/e2e/lib.sh:
start_entra, entra_count). Debian's python3 with python3-jwt and
python3-cryptography.

mldeploy reaches them by the real host names (MLDEPLOY_CONNECT_TO, over TLS with
the rig's CA); requests are routed by path, then by the Host header:

  GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R[&client_id=C]
      IMDS. Without "Metadata: true" 400 "Required metadata header not specified"
      (the probe clients send); no identity assigned (config managed_identity.imds
      false) or another client_id: 400 "Identity not found". 200 {"access_token",
      "client_id", "expires_in", "expires_on", "ext_expires_in", "not_before",
      "resource", "token_type"} (numbers as strings, as IMDS sends them).
  GET /msi/token?api-version=2019-08-01&resource=R[&client_id=C]
      the App Service endpoint (IDENTITY_ENDPOINT): X-IDENTITY-HEADER must be the
      configured identity_header. 200 {"access_token", "expires_on", "resource",
      "token_type", "client_id"}.
  Host NAME.azurecr.io (a key of the config's "acr"):
    POST /oauth2/exchange  form grant_type=access_token, service=NAME.azurecr.io,
      [tenant], access_token: an access token this fake issued (RS256 under its
      key), for Resource Manager (aud https://management.azure.com[/] or
      https://management.core.windows.net/), unexpired, of the given tenant.
      200 {"refresh_token": JWT} with the claims ACR's own have (aud = the login
      server, grant_type refresh_token, tenant, exp 3 h).
    GET /oauth2/token?service=NAME.azurecr.io&scope=...   HTTP Basic
      00000000-0000-0000-0000-000000000000:<refresh token>, or the admin user;
    POST /oauth2/token  form grant_type=refresh_token (refresh_token) or password
      (username, password), service, scope...
      200 {"access_token": JWT} signed with the upstream registry's token key (its
      x5c header), aud = the registry's token service, every asked action granted:
      the real docker-registry behind takes it. No credentials: 401 "authentication
      required, visit https://aka.ms/acr/authorization for more information."
    /v2/...  proxied to the registry (Host kept, X-Forwarded-Proto: https, so the
      registry's Location URLs name the login server); the bearer challenge's realm
      and service are rewritten to https://NAME.azurecr.io/oauth2/token and
      NAME.azurecr.io.
  POST /{tenant}/oauth2/v2.0/token  (any other Host: login.microsoftonline.com)
      form grant_type=client_credentials, client_id, scope (a resource +
      "/.default"), and the client's proof:
        client_secret                     compared with the client's secret;
        client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
        + client_assertion, a JWT whose iss is the client id: verified as Entra
          does a certificate credential: RS256, header x5t = the SHA-1 thumbprint
          of the client's certificate, signature with its public key, aud = this
          endpoint's URL, iss = sub = client_id, nbf <= now < exp, exp - nbf <= 1 h,
          jti present;
        + client_assertion of another issuer: a federated token, compared with
          the client's federated_token.
      200 {"token_type": "Bearer", "expires_in", "ext_expires_in", "access_token"}
      (a JWT: aud = the resource, iss https://sts.windows.net/TENANT/, tid, appid,
      oid). Errors as Entra ID answers them, e.g. 401 {"error": "invalid_client",
      "error_description": "AADSTS7000215: Invalid client secret provided. ...\\r\\n
      Trace ID: ...", "error_codes": [7000215], "timestamp", "trace_id",
      "correlation_id", "error_uri"}.

The config (--config, JSON, re-read on every request so a test may change it):
  {"tenant": "GUID",
   "clients": {"CLIENT_ID": {"secret": "...", "certificate": "cert.pem",
                             "federated_token": "..."}},
   "managed_identity": {"identity_header": "...", "client_id": "...", "imds": true},
   "acr": {"NAME.azurecr.io": {"upstream": "http://127.0.0.1:PORT",
           "service": "<registry token service>", "issuer": "...",
           "key": "signing.key", "cert": "signing.crt",
           "admin": {"username": "...", "password": "..."},
           "upstream_ca": "ca.crt" (for an https upstream)}},
   "arm_tokens_file": "tokens" (optional: every access token issued is appended
                      there, one a line, for the ARM fake's list of accepted tokens),
   "secrets_file": "secrets" (optional: every client assertion received and every
                   token issued is appended there, one a line, so that a test can
                   look for them in what mldeploy printed)}

Every request is appended to the log (--log) as one JSON object per line, written
before the answer goes out: {"method", "host", "path" (no query), "route" (token,
imds, msi, exchange, acr_token, v2, unknown), "status", and per route "grant",
"proof" (secret, certificate, federated, none), "client_id", "aadsts" (the error
code), "resource", "auth" (none, basic, bearer, refresh_token, admin, password),
"scopes", "error"}. Secrets, assertions and tokens are never logged.

Binds 127.0.0.1 on a free port (or --port), prints the port on stdout, exits when
its parent does. --tls-cert/--tls-key serve HTTPS. Two instances (TLS and plain
HTTP) may share --config and --key: each verifies what the other issued.

usage: entra.py --config CONFIG.json --key ISSUER_KEY.pem --log LOG [--port N]
                [--tls-cert CRT --tls-key KEY]
"""
import argparse
import base64
import datetime
import hmac
import http.client
import json
import re
import ssl
import threading
import time
import urllib.parse
import uuid

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

import loopback

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ACR_USER = "00000000-0000-0000-0000-000000000000"
ARM_AUDIENCES = ("https://management.azure.com", "https://management.azure.com/",
                 "https://management.core.windows.net/", "https://management.core.windows.net")
TOKEN_PATH = re.compile(r"^/([^/]+)/oauth2/v2\.0/token$")
ACCESS_TTL = 3599
MI_TTL = 86399
REFRESH_TTL = 3 * 3600
REGISTRY_TTL = 300
ASSERTION_MAX_LIFE = 3600
CLOCK_SKEW = 300
HOP_BY_HOP = loopback.HOP_BY_HOP | {"host", "content-length"}
RELAYED_NOT = HOP_BY_HOP | {"date", "server"}  # send_response writes its own
ACR_UNAUTHORIZED = ("authentication required, visit https://aka.ms/acr/authorization "
                    "for more information.")

log_lock = threading.Lock()


def record_secret(cfg, value):
    if cfg.get("secrets_file") and value:
        with log_lock, open(cfg["secrets_file"], "a", encoding="utf-8") as f:
            f.write(value + "\n")


class Refused(Exception):
    """An answer other than 200: status, body, extra log fields."""

    def __init__(self, status, body, **fields):
        super().__init__(status)
        self.status, self.body, self.fields = status, body, fields


def aad_error(status, error, code, message):
    now = datetime.datetime.now(datetime.timezone.utc)
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    return Refused(status, {
        "error": error,
        "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\n"
                             "Timestamp: %s" % (code, message, trace, corr, stamp),
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": "https://login.microsoftonline.com/error?code=%d" % code,
    }, aadsts=code)


def oauth_error(status, error, description):
    return Refused(status, {"error": error, "error_description": description}, error=error)


def acr_error(status, code, message):
    return Refused(status, {"errors": [{"code": code, "message": message, "detail": None}]},
                   error=code)


def thumbprint(cert):
    """JOSE's x5t: the certificate's SHA-1 thumbprint, URL-safe base64 unpadded."""
    return base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).decode().rstrip("=")


class Handler(loopback.Handler):
    server_version = "mldeploy-test-entra"
    opts = None
    key = None          # the issuer's private key
    public = None

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
                 "status": status}
        entry.update(fields)
        with log_lock, open(self.opts.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")

    def send(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.reply(status, data, [("Content-Type", "application/json"),
                                  ("Cache-Control", "no-store")] + list(headers))

    def answer(self, route, fn, *args):
        fields = {}
        try:
            body, headers = fn(fields, *args)
            self.write_log(route, 200, fields)
            self.send(200, body, headers)
        except Refused as r:
            fields.update(r.fields)
            self.write_log(route, r.status, fields)
            headers = []
            if r.status == 401 and route == "acr_token":
                headers.append(("WWW-Authenticate",
                                'Basic realm="https://%s/oauth2/token"' % self.host()))
            self.send(r.status, r.body, headers)

    # ------------------------------------------------------------ routing

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        host = self.host()
        try:
            cfg = self.config()
        except (OSError, ValueError) as e:
            self.send(500, {"error": "server_error", "error_description": str(e)})
            return
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if url.path == "/metadata/identity/oauth2/token" and self.command == "GET":
            self.answer("imds", self.imds, cfg, query)
        elif url.path == "/msi/token" and self.command == "GET":
            self.answer("msi", self.msi, cfg, query)
        elif host in (cfg.get("acr") or {}):
            acr = cfg["acr"][host]
            if url.path == "/oauth2/exchange" and self.command == "POST":
                self.answer("exchange", self.exchange, cfg, host, self.form(self.read_body()))
            elif url.path == "/oauth2/token" and self.command in ("GET", "POST"):
                body = self.read_body() if self.command == "POST" else b""
                self.answer("acr_token", self.acr_token, cfg, host, query, body)
            elif url.path == "/v2" or url.path.startswith("/v2/"):
                self.proxy(acr, host)
            else:
                self.read_body()
                self.write_log("unknown", 404, {})
                self.send(404, {"errors": [{"code": "NOT_FOUND", "message": "no such route"}]})
        elif TOKEN_PATH.match(url.path) and self.command == "POST":
            tenant = TOKEN_PATH.match(url.path).group(1)
            self.answer("token", self.token, cfg, tenant, self.form(self.read_body()))
        else:
            self.read_body()
            self.write_log("unknown", 404, {})
            self.send(404, {"error": "not_found", "error_description": "no such route"})

    # ------------------------------------------------------------ tokens we issue

    def issue_access(self, cfg, resource, appid, ttl):
        now = int(time.time())
        tenant = cfg.get("tenant")
        claims = {"aud": resource, "iss": "https://sts.windows.net/%s/" % tenant,
                  "iat": now, "nbf": now, "exp": now + ttl, "tid": tenant, "appid": appid,
                  "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, appid)), "idtyp": "app",
                  "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, appid)), "ver": "1.0"}
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "entra-fake"})
        record_secret(cfg, token)
        if cfg.get("arm_tokens_file"):
            with log_lock, open(cfg["arm_tokens_file"], "a", encoding="utf-8") as f:
                f.write(token + "\n")
        return token

    @staticmethod
    def resource_of(value):
        if value not in ARM_AUDIENCES:
            raise oauth_error(400, "invalid_resource",
                              "AADSTS500011: The resource principal named %s was not "
                              "found in the tenant." % value)
        return value

    # ------------------------------------------------------------ Entra ID

    def token(self, fields, cfg, tenant, form):
        get = lambda k: (form.get(k) or [None])[0]  # noqa: E731
        fields["grant"] = get("grant_type")
        fields["client_id"] = get("client_id")
        fields["proof"] = ("secret" if get("client_secret") is not None else
                           "assertion" if get("client_assertion") is not None else "none")
        if tenant != cfg.get("tenant"):
            raise aad_error(400, "invalid_request", 90002,
                            "Tenant '%s' not found. Check to make sure you have the correct "
                            "tenant ID and are signing into the correct cloud." % tenant)
        if not get("grant_type"):
            raise aad_error(400, "invalid_request", 900144, "The request body must contain "
                            "the following parameter: 'grant_type'.")
        if get("grant_type") != "client_credentials":
            raise aad_error(400, "unsupported_grant_type", 70003,
                            "The app requested an unsupported grant type '%s'."
                            % get("grant_type"))
        client_id = get("client_id")
        client = (cfg.get("clients") or {}).get(client_id or "")
        if not client:
            raise aad_error(400, "unauthorized_client", 700016,
                            "Application with identifier '%s' was not found in the "
                            "directory '%s'. This can happen if the application has not "
                            "been installed by the administrator of the tenant or "
                            "consented to by any user in the tenant. You may have sent "
                            "your authentication request to the wrong tenant."
                            % (client_id, tenant))
        scope = get("scope") or ""
        if not scope.endswith("/.default"):
            raise aad_error(400, "invalid_scope", 1002012,
                            "The provided value for scope %s is not valid. Client "
                            "credential flows must have a scope value with /.default "
                            "suffixed to the resource identifier (application ID URI)."
                            % scope)
        resource = self.resource_of(scope[:-len("/.default")])
        fields["resource"] = resource
        if get("client_secret") is not None:
            want = client.get("secret")
            if not want or not hmac.compare_digest(want.encode(), get("client_secret").encode()):
                raise aad_error(401, "invalid_client", 7000215,
                                "Invalid client secret provided. Ensure the secret being "
                                "sent in the request is the client secret value, not the "
                                "client secret ID, for a secret added to app '%s'."
                                % client_id)
        elif get("client_assertion") is not None:
            if get("client_assertion_type") != ASSERTION_TYPE:
                raise aad_error(400, "invalid_request", 50027,
                                "JWT token is invalid or malformed "
                                "(client_assertion_type '%s')." % get("client_assertion_type"))
            record_secret(cfg, get("client_assertion"))
            fields["proof"] = self.check_assertion(client, client_id, get("client_assertion"))
        else:
            raise aad_error(401, "invalid_client", 7000218,
                            "The request body must contain the following parameter: "
                            "'client_assertion' or 'client_secret'.")
        token = self.issue_access(cfg, resource, client_id, ACCESS_TTL)
        return {"token_type": "Bearer", "expires_in": ACCESS_TTL,
                "ext_expires_in": ACCESS_TTL, "access_token": token}, ()

    def check_assertion(self, client, client_id, assertion):
        """"certificate" or "federated", or raises the error Entra ID would."""
        try:
            head, claims = jwt.get_unverified_header(assertion), \
                jwt.decode(assertion, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise aad_error(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        if claims.get("iss") != client_id:
            want = client.get("federated_token")
            if not want or not hmac.compare_digest(want.encode(), assertion.encode()):
                raise aad_error(400, "invalid_request", 70021,
                                "No matching federated identity record found for presented "
                                "assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. "
                                "Assertion Audience: '%s'." % (claims.get("iss"),
                                                               claims.get("sub"),
                                                               claims.get("aud")))
            return "federated"
        self.check_certificate_assertion(client, client_id, head, claims, assertion)
        return "certificate"

    def check_certificate_assertion(self, client, client_id, head, claims, assertion):
        if not client.get("certificate"):
            raise aad_error(401, "invalid_client", 700027,
                            "Client assertion contains an invalid signature. [Reason - The "
                            "key was not found.]")
        with open(client["certificate"], "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        if head.get("alg") != "RS256":
            raise aad_error(401, "invalid_client", 5002738,
                            "Invalid JWT token. '%s' is not a supported signature algorithm."
                            % head.get("alg"))
        if head.get("x5t") != thumbprint(cert):
            raise aad_error(401, "invalid_client", 700027,
                            "Client assertion contains an invalid signature. [Reason - The "
                            "key was not found., Thumbprint of key used by client: '%s']"
                            % head.get("x5t"))
        audience = "https://%s%s" % (self.host(), urllib.parse.urlsplit(self.path).path)
        try:
            jwt.decode(assertion, cert.public_key(), algorithms=["RS256"],
                       options={"verify_aud": False, "verify_exp": False,
                                "verify_nbf": False, "verify_iat": False})
        except jwt.InvalidSignatureError:
            raise aad_error(401, "invalid_client", 700027,
                            "Client assertion failed signature validation.")
        except jwt.InvalidTokenError:
            raise aad_error(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        if claims.get("aud") != audience:
            raise aad_error(401, "invalid_client", 700023,
                            "Client assertion audience claim does not match Realm issuer. "
                            "Review the documentation at https://aka.ms/certCredentials.")
        if claims.get("sub") != client_id:
            raise aad_error(401, "invalid_client", 700021,
                            "Client assertion application identifier doesn't match "
                            "'client_id' parameter.")
        now = int(time.time())
        nbf, exp = claims.get("nbf"), claims.get("exp")
        if (not isinstance(nbf, int) or not isinstance(exp, int) or nbf > now + CLOCK_SKEW
                or exp <= now - CLOCK_SKEW or exp - nbf > ASSERTION_MAX_LIFE):
            raise aad_error(401, "invalid_client", 700024,
                            "Client assertion is not within its valid time range. Current "
                            "time: %d, assertion valid from %s, expiry time of assertion %s."
                            % (now, nbf, exp))
        if not claims.get("jti"):
            raise aad_error(400, "invalid_request", 50027,
                            "JWT token is invalid or malformed (no jti).")

    # ------------------------------------------------------------ managed identity

    def managed(self, fields, cfg, query, api, ttl_fields):
        get = lambda k: (query.get(k) or [None])[0]  # noqa: E731
        mi = cfg.get("managed_identity") or {}
        if get("api-version") != api:
            raise oauth_error(400, "invalid_request", "Invalid or missing api-version '%s'"
                              % get("api-version"))
        if not get("resource"):
            raise oauth_error(400, "invalid_request",
                              "Required query variable 'resource' is missing")
        fields["resource"] = get("resource")
        fields["client_id"] = get("client_id")
        if get("client_id") and get("client_id") != mi.get("client_id"):
            raise oauth_error(400, "invalid_request", "Identity not found")
        resource = self.resource_of(get("resource"))
        appid = mi.get("client_id") or "managed-identity"
        token = self.issue_access(cfg, resource, appid, MI_TTL)
        now = int(time.time())
        body = {"access_token": token, "client_id": appid, "resource": resource,
                "token_type": "Bearer", "expires_on": str(now + MI_TTL)}
        if ttl_fields:
            body.update({"expires_in": str(MI_TTL), "ext_expires_in": str(MI_TTL),
                         "not_before": str(now)})
        return body, ()

    def imds(self, fields, cfg, query):
        if self.headers.get("Metadata") != "true":
            raise oauth_error(400, "invalid_request", "Required metadata header not specified")
        if not (cfg.get("managed_identity") or {}).get("imds"):
            raise oauth_error(400, "invalid_request", "Identity not found")
        return self.managed(fields, cfg, query, "2018-02-01", True)

    def msi(self, fields, cfg, query):
        want = (cfg.get("managed_identity") or {}).get("identity_header")
        got = self.headers.get("X-IDENTITY-HEADER")
        if not want or not got or not hmac.compare_digest(want.encode(), got.encode()):
            raise Refused(401, {"statusCode": 401, "message": "Unauthorized: the "
                                "X-IDENTITY-HEADER is missing or wrong"}, error="header")
        return self.managed(fields, cfg, query, "2019-08-01", False)

    # ------------------------------------------------------------ ACR

    def exchange(self, fields, cfg, host, form):
        get = lambda k: (form.get(k) or [None])[0]  # noqa: E731
        fields["grant"] = get("grant_type")
        if get("grant_type") != "access_token":
            raise acr_error(400, "UNSUPPORTED", "grant_type '%s' is not supported here"
                            % get("grant_type"))
        if get("service") != host:
            raise acr_error(400, "BAD_REQUEST", "service '%s' is not this registry"
                            % get("service"))
        try:
            claims = jwt.decode(get("access_token") or "", self.public, algorithms=["RS256"],
                                audience=list(ARM_AUDIENCES))
        except jwt.InvalidTokenError as e:
            raise acr_error(401, "UNAUTHORIZED", "the access token is not valid: %s"
                            % type(e).__name__)
        if get("tenant") is not None and get("tenant") != claims.get("tid"):
            raise acr_error(401, "UNAUTHORIZED", "the access token is not of tenant '%s'"
                            % get("tenant"))
        fields["tenant"] = get("tenant")
        now = int(time.time())
        refresh = jwt.encode({
            "jti": str(uuid.uuid4()), "sub": claims.get("oid"), "nbf": now, "exp": now + REFRESH_TTL,
            "iat": now, "iss": "Azure Container Registry", "aud": host, "version": "1.0",
            "grant_type": "refresh_token", "tenant": claims.get("tid"),
            "permissions": {"actions": ["*"], "notActions": []}, "roles": []},
            self.key, algorithm="RS256", headers={"kid": "acr-fake"})
        record_secret(cfg, refresh)
        return {"refresh_token": refresh}, ()

    def refresh_subject(self, host, token):
        try:
            claims = jwt.decode(token, self.public, algorithms=["RS256"], audience=host)
        except jwt.InvalidTokenError:
            return None
        return claims.get("sub") if claims.get("grant_type") == "refresh_token" else None

    def acr_token(self, fields, cfg, host, query, body):
        acr = cfg["acr"][host]
        form = self.form(body) if body else {}
        params = form if self.command == "POST" else query
        get = lambda k: (params.get(k) or [None])[0]  # noqa: E731
        scopes = [s for v in params.get("scope", []) for s in v.split(" ") if s]
        fields["scopes"] = scopes
        admin = acr.get("admin") or {}
        sub = None
        if self.command == "POST":
            fields["grant"] = get("grant_type")
            if get("grant_type") == "refresh_token":
                fields["auth"] = "refresh_token"
                sub = self.refresh_subject(host, get("refresh_token") or "")
            elif get("grant_type") == "password":
                fields["auth"] = "password"
                sub = self.admin_subject(admin, get("username"), get("password"))
            else:
                raise acr_error(400, "UNSUPPORTED", "grant_type '%s' is not supported"
                                % get("grant_type"))
        else:
            value = self.headers.get("Authorization") or ""
            scheme, _, rest = value.partition(" ")
            if scheme.lower() == "basic":
                try:
                    user, _, password = base64.b64decode(rest.strip()).decode().partition(":")
                except ValueError:
                    user, password = "", ""
                if user == ACR_USER:
                    fields["auth"] = "refresh_token"
                    sub = self.refresh_subject(host, password)
                else:
                    fields["auth"] = "admin"
                    sub = self.admin_subject(admin, user, password)
            else:
                fields["auth"] = scheme.lower() or "none"
        if get("service") != host:
            raise acr_error(400, "BAD_REQUEST", "service '%s' is not this registry"
                            % get("service"))
        if not sub:
            raise acr_error(401, "UNAUTHORIZED", ACR_UNAUTHORIZED)
        token = self.registry_token(acr, sub, scopes)
        record_secret(cfg, token)
        return {"access_token": token}, ()

    @staticmethod
    def admin_subject(admin, user, password):
        if (admin.get("username") and user == admin["username"] and password is not None and
                hmac.compare_digest(admin.get("password", "").encode(), password.encode())):
            return user
        return None

    @staticmethod
    def registry_token(acr, sub, scopes):
        with open(acr["key"], "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        with open(acr["cert"], "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        access = []
        for s in scopes:
            first, last = s.find(":"), s.rfind(":")
            if first <= 0 or last == first:
                continue
            access.append({"type": s[:first].split("(", 1)[0], "name": s[first + 1:last],
                           "actions": [a for a in s[last + 1:].split(",") if a]})
        now = int(time.time())
        claims = {"iss": acr["issuer"], "sub": sub, "aud": acr["service"], "exp": now + REGISTRY_TTL,
                  "nbf": now - 1, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        return jwt.encode(claims, key, algorithm="RS256", headers={"typ": "JWT", "x5c": x5c})

    def proxy(self, acr, host):
        body = self.read_body()
        up = urllib.parse.urlsplit(acr["upstream"])
        if up.scheme == "https":
            ctx = ssl.create_default_context(cafile=acr.get("upstream_ca"))
            conn = http.client.HTTPSConnection(up.hostname, up.port, timeout=120, context=ctx)
        else:
            conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
        # repeated fields (podman sends one Accept per media type) are joined, as
        # RFC 9110 section 5.3 allows; a dict would keep only the last one
        headers = {}
        for k, v in self.headers.items():
            if k.lower() in HOP_BY_HOP:
                continue
            headers[k] = headers[k] + ", " + v if k in headers else v
        headers["Host"] = host
        headers["X-Forwarded-Proto"] = "https"
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:
            self.write_log("v2", 502, {"error": str(e)})
            self.send(502, {"errors": [{"code": "UNAVAILABLE", "message": str(e)}]})
            return
        finally:
            conn.close()
        self.write_log("v2", resp.status, {"auth": loopback.auth_kind(self.headers)})
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() in RELAYED_NOT:
                continue
            if k.lower() == "www-authenticate":
                v = re.sub(r'realm="[^"]*"', 'realm="https://%s/oauth2/token"' % host, v)
                v = re.sub(r'service="[^"]*"', 'service="%s"' % host, v)
            self.send_header(k, v)
        length = resp.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def main():
    ap = argparse.ArgumentParser(description="Entra ID, managed identity and ACR for tests")
    ap.add_argument("--config", required=True)
    ap.add_argument("--key", required=True, help="RSA key (PEM) signing the tokens issued")
    ap.add_argument("--log", required=True)
    opts = loopback.parse_args(ap)
    with open(opts.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    Handler.opts = opts
    Handler.key = key
    Handler.public = key.public_key()
    open(opts.log, "a").close()
    loopback.serve(Handler, opts.port, opts.tls_cert, opts.tls_key)


if __name__ == "__main__":
    main()
