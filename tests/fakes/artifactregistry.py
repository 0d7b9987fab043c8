#!/usr/bin/python3
"""A loopback stand-in for Google Artifact Registry, for the end-to-end tests
(tests/e2e/lib-gcp.sh: start_artifact_registry, ar_count): the Artifact Registry
API v1 and the Docker registry front of LOCATION-docker.pkg.dev, in one HTTPS
server answering by Host. Standard library only.

  artifactregistry.googleapis.com  every request is matched and checked against
      the discovery document (--discovery, gdiscovery.py: unknown method 404,
      unknown field, wrong type, bad enum, missing required member or query
      parameter 400 INVALID_ARGUMENT in Google's shape); Authorization: Bearer with
      a token of --tokens (re-read on every request), else 401 UNAUTHENTICATED; a
      project not in --project (or in --denied-project) 403 PERMISSION_DENIED
      "Permission 'artifactregistry.repositories.get' denied on resource
      '//artifactregistry.googleapis.com/projects/P/...' (or it may not exist).".
    GET  /v1/projects/P/locations/L/repositories/R   the repository, or 404
         NOT_FOUND "Requested entity was not found."
    GET  /v1/projects/P/locations/L/repositories     {"repositories": [...]}
    POST /v1/projects/P/locations/L/repositories?repositoryId=R  a Repository; R
         must match ^[a-z]([a-z0-9-]*[a-z0-9])?$, an existing one is 409
         ALREADY_EXISTS; answers a long-running operation
         {"name": "projects/P/locations/L/operations/ID", "metadata": {...},
         "done": false}: the repository exists once the operation is done.
    GET  /v1/projects/P/locations/L/operations/ID    not done for --min-polls
         requests (default 1), then done with "response" (the Repository).
    Other methods of the document: 501 UNIMPLEMENTED.
    --rules: a faultrules.py list fired on the API's requests before anything
    else: action "status" (code, retry_after, headers, error_status, message)
    answers with that error; "fail_operation" (message) on a create makes its
    operation end with {"error": {"code": 13, "message"}} and no repository.
  LOCATION-docker.pkg.dev  the registry front:
    /v2/ without credentials: 401 with WWW-Authenticate: Bearer
         realm="https://HOST/v2/token",service="HOST".
    GET /v2/token?service=HOST&scope=repository:P/R/IMAGE:push,pull  with HTTP Basic
         oauth2accesstoken:<a token of --tokens>: 200 {"token", "access_token",
         "expires_in"} (an opaque registry token for those scopes); another user
         name or token: 401 {"errors": [{"code": "UNAUTHORIZED", ...}]}.
    /v2/P/R/IMAGE/...  with Bearer <registry token> granting the action (pull for
         GET/HEAD, push otherwise) or HTTP Basic oauth2accesstoken:<token>: the
         repository P/R must exist in LOCATION (else 404 NAME_UNKNOWN
         "Repository \\"R\\" not found"), then the request is proxied to --upstream
         (a plain HTTP rig registry; Host kept, X-Forwarded-Proto: https so that its
         Location URLs name HOST).

State (--state, JSON, written on every change): {"repositories": {NAME: Repository},
"operations": {NAME: {"polls", "repository"}}}; --repository NAME (repeatable):
repositories there from the start (projects/P/locations/L/repositories/R, format
DOCKER).

Every request is appended to the log (--log) as one JSON object per line, written
before the answer goes out: {"method", "host", "path", "query", "status", "route"
(api, token, v2, unknown), "id" (the API method id), "mutating", "code", "auth",
"fault"}. Tokens are never logged.

usage: artifactregistry.py --discovery DOC --tokens FILE --log LOG --state FILE
         --upstream http://127.0.0.1:PORT --tls-cert CRT --tls-key KEY
         [--project P]... [--denied-project P]... [--repository NAME]...
         [--min-polls N] [--rules FILE] [--port N]
       artifactregistry.py --check-rules FILE
"""
import argparse
import base64
import datetime
import http.client
import json
import os
import re
import secrets
import sys
import threading
import urllib.parse

import faultrules
import gdiscovery
import loopback

USER = "oauth2accesstoken"
HOST_RE = re.compile(r"^([a-z0-9][a-z0-9-]*[a-z0-9])-docker\.pkg\.dev$")
REPO_ID = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
V2_PATH = re.compile(r"^/v2/([^/]+)/([^/]+)/(.+?)/(blobs|manifests|tags)(/.*)?$")
HOP_BY_HOP = loopback.HOP_BY_HOP | {"host", "content-length", "authorization"}
RELAYED_NOT = HOP_BY_HOP | {"date", "server"}
REGISTRY_TTL = 3600
RULE_ACTIONS = {"status": ({"code"}, {"retry_after", "headers", "error_status", "message"}),
                "fail_operation": (set(), {"message"})}

state_lock = threading.Lock()
log_lock = threading.Lock()
registry_tokens = {}  # registry token -> set of (repository, action)


def check_action(r, where):
    if r["action"] == "status":
        faultrules.check_status(r, where)
    elif not isinstance(r.get("message", ""), str):
        raise ValueError("%s: message must be a string" % where)


def check_rules(data):
    return faultrules.check_rules(data, RULE_ACTIONS, check_action)


def write_state(path, st):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(st, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Handler(loopback.Handler):
    server_version = "mldeploy-test-artifactregistry"
    opts = None
    disc = None
    rules = None

    # ------------------------------------------------------------ plumbing

    def host(self):
        h = (self.headers.get("Host") or "").lower()
        return h[:-4] if h.endswith(":443") else h

    def write_log(self, route, status, **fields):
        url = urllib.parse.urlsplit(self.path)
        entry = {"method": self.command, "host": self.host(), "path": url.path,
                 "query": url.query, "status": status, "route": route,
                 "mutating": self.command not in ("GET", "HEAD"),
                 "auth": loopback.auth_kind(self.headers)}
        entry.update(fields)
        with log_lock, open(self.opts.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")

    def send_json(self, status, body, headers=()):
        self.reply(status, json.dumps(body, indent=2).encode(),
                   [("Content-Type", "application/json; charset=UTF-8")] + list(headers))

    def google_error(self, route, status, code, message, mid=None, fault=None, details=None,
                     headers=()):
        err = {"code": status, "message": message, "status": code}
        if details:
            err["details"] = details
        self.write_log(route, status, id=mid, code=code, fault=fault)
        self.send_json(status, {"error": err}, headers)

    def tokens(self):
        try:
            with open(self.opts.tokens, encoding="utf-8") as f:
                return {line.strip() for line in f if line.strip()}
        except OSError:
            return set()

    def load_state(self):
        try:
            with open(self.opts.state, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return {"repositories": {}, "operations": {}}

    def save_state(self, st):
        write_state(self.opts.state, st)

    # ------------------------------------------------------------ routing

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        host = self.host()
        body = self.read_body()
        if host == "artifactregistry.googleapis.com":
            self.api(url, body)
        elif HOST_RE.match(host) and url.path == "/v2/token" and self.command == "GET":
            self.token(host, urllib.parse.parse_qs(url.query))
        elif HOST_RE.match(host) and (url.path == "/v2" or url.path.startswith("/v2/")):
            self.v2(host, url, body)
        else:
            self.write_log("unknown", 404)
            self.reply(404, b"<!DOCTYPE html>\n<title>Error 404 (Not Found)!!1</title>\n",
                       [("Content-Type", "text/html")])

    # ------------------------------------------------------------ the API

    def api(self, url, body):
        target = url.path + ("?" + url.query if url.query else "")
        try:
            fired = self.rules.fire(self.command, target)
        except faultrules.RulesError as e:
            self.google_error("api", 500, "INTERNAL", str(e), fault="bad_rules")
            return
        fail_op = None
        for r in fired:
            if r["action"] == "fail_operation":
                fail_op = r.get("message") or "Internal error encountered."
                continue
            headers = list(r.get("headers", {}).items())
            if r.get("retry_after") is not None:
                headers.append(("Retry-After", str(r["retry_after"])))
            status = r["code"]
            code = r.get("error_status") or {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE",
                                             500: "INTERNAL", 403: "PERMISSION_DENIED"}.get(
                                                 status, "FAILED_PRECONDITION")
            self.google_error("api", status, code, r.get("message") or "Quota exceeded for "
                              "quota metric 'Requests' and limit 'Requests per minute'.",
                              fault="status:%d" % status, headers=headers)
            return
        auth = self.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in self.tokens():
            self.google_error("api", 401, "UNAUTHENTICATED", "Request had invalid "
                              "authentication credentials. Expected OAuth 2 access token, "
                              "login cookie or other valid authentication credential. See "
                              "https://developers.google.com/identity/sign-in/web/"
                              "devconsole-project.", headers=[("WWW-Authenticate", "Bearer "
                                                               "realm=\"https://accounts."
                                                               "google.com/\"")])
            return
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            self.google_error("api", 400, "INVALID_ARGUMENT", "Invalid JSON payload received. "
                              "Unexpected token.")
            return
        req = self.disc.request(self.command, url.path, url.query, doc)
        if req.status in (404, 405):
            self.write_log("api", 404, code="NOT_FOUND")
            self.reply(404, b"<!DOCTYPE html>\n<title>Error 404 (Not Found)!!1</title>\n",
                       [("Content-Type", "text/html")])
            return
        if req.errors:
            body = self.disc.error_body(req.errors)
            self.write_log("api", 400, id=req.id, code="INVALID_ARGUMENT")
            self.send_json(400, body)
            return
        name = req.params.get("name") or req.params.get("parent") or ""
        project = name.split("/")[1] if name.startswith("projects/") else ""
        if project not in self.opts.project or project in self.opts.denied_project:
            perm = "artifactregistry." + ".".join(req.id.split(".")[-2:])
            self.google_error("api", 403, "PERMISSION_DENIED", "Permission '%s' denied on "
                              "resource '//artifactregistry.googleapis.com/%s' (or it may not "
                              "exist)." % (perm, name), mid=req.id)
            return
        fn = {"artifactregistry.projects.locations.repositories.get": self.repo_get,
              "artifactregistry.projects.locations.repositories.list": self.repo_list,
              "artifactregistry.projects.locations.repositories.create": self.repo_create,
              "artifactregistry.projects.locations.operations.get": self.op_get}.get(req.id)
        if not fn:
            self.google_error("api", 501, "UNIMPLEMENTED", "%s is not implemented by this "
                              "fake" % req.id, mid=req.id)
            return
        with state_lock:
            if fn == self.repo_create:
                fn(req, fail_op)
            else:
                fn(req)

    def repo_get(self, req):
        st = self.load_state()
        repo = st["repositories"].get(req.params["name"])
        if not repo:
            self.google_error("api", 404, "NOT_FOUND", "Requested entity was not found.",
                              mid=req.id)
            return
        self.write_log("api", 200, id=req.id)
        self.send_json(200, repo)

    def repo_list(self, req):
        st = self.load_state()
        prefix = req.params["parent"] + "/repositories/"
        repos = [r for n, r in sorted(st["repositories"].items()) if n.startswith(prefix)]
        self.write_log("api", 200, id=req.id)
        self.send_json(200, {"repositories": repos} if repos else {})

    def repo_create(self, req, fail_op=None):
        st = self.load_state()
        rid = req.query.get("repositoryId", [""])[0]
        if not REPO_ID.match(rid) or len(rid) > 63:
            self.google_error("api", 400, "INVALID_ARGUMENT", "Invalid repository id \"%s\": "
                              "it must start with a lowercase letter and contain only "
                              "lowercase letters, numbers and hyphens." % rid, mid=req.id)
            return
        name = "%s/repositories/%s" % (req.params["parent"], rid)
        pending = any(o["repository"]["name"] == name for o in st["operations"].values()
                      if not o.get("done"))
        if name in st["repositories"] or pending:
            self.google_error("api", 409, "ALREADY_EXISTS", "the repository already exists",
                              mid=req.id)
            return
        repo = dict(req.body or {})
        repo.setdefault("format", "FORMAT_UNSPECIFIED")
        repo.update({"name": name, "createTime": now_rfc3339(), "updateTime": now_rfc3339(),
                     "mode": repo.get("mode", "STANDARD_REPOSITORY"), "sizeBytes": "0",
                     "satisfiesPzi": False})
        op = "%s/operations/%s" % (req.params["parent"], secrets.token_hex(8))
        st["operations"][op] = {"polls": 0, "done": False, "repository": repo, "fail": fail_op}
        self.save_state(st)
        self.write_log("api", 200, id=req.id)
        self.send_json(200, {"name": op, "metadata": {
            "@type": "type.googleapis.com/google.devtools.artifactregistry.v1.OperationMetadata"}})

    def op_get(self, req):
        st = self.load_state()
        op = st["operations"].get(req.params["name"])
        if not op:
            self.google_error("api", 404, "NOT_FOUND", "Requested entity was not found.",
                              mid=req.id)
            return
        out = {"name": req.params["name"], "metadata": {
            "@type": "type.googleapis.com/google.devtools.artifactregistry.v1.OperationMetadata"}}
        op["polls"] += 1
        if op["polls"] > self.opts.min_polls and op.get("fail"):
            op["done"] = True
            out["done"] = True
            out["error"] = {"code": 13, "message": op["fail"]}
        elif op["polls"] > self.opts.min_polls:
            repo = op["repository"]
            if not op["done"]:
                st["repositories"][repo["name"]] = repo
                op["done"] = True
            out["done"] = True
            out["response"] = dict(repo, **{
                "@type": "type.googleapis.com/google.devtools.artifactregistry.v1.Repository"})
        self.save_state(st)
        self.write_log("api", 200, id=req.id)
        self.send_json(200, out)

    # ------------------------------------------------------------ the registry

    def challenge(self, host, error=None):
        value = 'Bearer realm="https://%s/v2/token",service="%s"' % (host, host)
        if error:
            value += ',error="%s"' % error
        return [("WWW-Authenticate", value), ("Docker-Distribution-API-Version", "registry/2.0")]

    def registry_error(self, route, status, code, message, headers=()):
        self.write_log(route, status, code=code)
        self.send_json(status, {"errors": [{"code": code, "message": message}]}, headers)

    def basic_ok(self):
        """True for HTTP Basic oauth2accesstoken:<accepted token>; None without Basic."""
        scheme, _, rest = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(rest.strip()).decode().partition(":")
        except ValueError:
            return False
        return user == USER and password in self.tokens()

    def token(self, host, query):
        ok = self.basic_ok()
        if not ok:
            self.registry_error("token", 401, "UNAUTHORIZED", "Not Authorized.",
                                self.challenge(host))
            return
        granted = set()
        for scope in " ".join(query.get("scope", [])).split():
            parts = scope.split(":")
            if len(parts) == 3 and parts[0] == "repository":
                for action in parts[2].split(","):
                    granted.add((parts[1], action))
        token = "fake-registry-" + secrets.token_urlsafe(24)
        with state_lock:
            registry_tokens[token] = granted
        self.write_log("token", 200)
        self.send_json(200, {"token": token, "access_token": token, "expires_in": REGISTRY_TTL,
                             "issued_at": now_rfc3339()})

    def authenticated(self):
        scheme, _, rest = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer":
            with state_lock:
                return rest.strip() in registry_tokens
        return bool(self.basic_ok())

    def allowed(self, repository, action):
        scheme, _, rest = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer":
            with state_lock:
                grants = registry_tokens.get(rest.strip())
            if grants is None:
                return False
            return (repository, action) in grants or (repository, "*") in grants or \
                (action == "pull" and (repository, "push") in grants)
        return bool(self.basic_ok())

    def v2(self, host, url, body):
        location = HOST_RE.match(host).group(1)
        m = V2_PATH.match(url.path)
        if not m:
            if url.path.rstrip("/") == "/v2" and self.authenticated():
                self.write_log("v2", 200)
                self.send_json(200, {}, [("Docker-Distribution-API-Version", "registry/2.0")])
                return
            self.registry_error("v2", 401, "UNAUTHORIZED", "Not Authorized.",
                                self.challenge(host))
            return
        project, repo_id, image = m.group(1), m.group(2), m.group(3)
        repository = "%s/%s/%s" % (project, repo_id, image)
        action = "pull" if self.command in ("GET", "HEAD") else "push"
        if not self.headers.get("Authorization") or not self.allowed(repository, action):
            self.registry_error("v2", 401, "UNAUTHORIZED", "Not Authorized.",
                                self.challenge(host, "insufficient_scope" if
                                               self.headers.get("Authorization") else None))
            return
        name = "projects/%s/locations/%s/repositories/%s" % (project, location, repo_id)
        with state_lock:
            exists = name in self.load_state()["repositories"]
        if not exists:
            self.registry_error("v2", 404, "NAME_UNKNOWN", "Repository \"%s\" not found"
                                % repo_id)
            return
        self.proxy(host, body)

    def proxy(self, host, body):
        up = urllib.parse.urlsplit(self.opts.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
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
            self.registry_error("v2", 502, "UNAVAILABLE", str(e))
            return
        finally:
            conn.close()
        self.write_log("v2", resp.status)
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() in RELAYED_NOT:
                continue
            self.send_header(k, v)
        length = resp.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def main():
    ap = argparse.ArgumentParser(description="Artifact Registry for tests")
    ap.add_argument("--check-rules")
    ap.add_argument("--discovery")
    ap.add_argument("--tokens")
    ap.add_argument("--log")
    ap.add_argument("--state")
    ap.add_argument("--upstream")
    ap.add_argument("--rules")
    ap.add_argument("--project", action="append", default=[])
    ap.add_argument("--denied-project", action="append", default=[])
    ap.add_argument("--repository", action="append", default=[])
    ap.add_argument("--min-polls", type=int, default=1)
    opts = loopback.parse_args(ap)
    if opts.check_rules:
        try:
            with open(opts.check_rules, encoding="utf-8") as f:
                check_rules(json.load(f))
        except (OSError, ValueError) as e:
            sys.stderr.write("%s\n" % e)
            sys.exit(1)
        return
    for need in ("discovery", "tokens", "log", "state", "upstream"):
        if not getattr(opts, need):
            ap.error("--%s is required" % need)
    Handler.opts = opts
    Handler.disc = gdiscovery.Discovery(opts.discovery)
    Handler.rules = faultrules.Rules(opts.rules, check_rules, empty_ok=True)
    st = {"repositories": {}, "operations": {}}
    for name in opts.repository:
        if not re.fullmatch(r"projects/[^/]+/locations/[^/]+/repositories/[^/]+", name):
            ap.error("--repository %s is not projects/P/locations/L/repositories/R" % name)
        st["repositories"][name] = {"name": name, "format": "DOCKER", "mode":
                                    "STANDARD_REPOSITORY", "createTime": now_rfc3339(),
                                    "updateTime": now_rfc3339(), "sizeBytes": "0"}
    write_state(opts.state, st)
    open(opts.log, "a").close()
    loopback.serve(Handler, opts.port, opts.tls_cert, opts.tls_key)


if __name__ == "__main__":
    main()
