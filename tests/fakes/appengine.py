#!/usr/bin/python3
"""Loopback fake of the App Engine Admin API v1 (appengine.googleapis.com) for the
flexible environment, and of the apps it serves (*.REGIONCODE.r.appspot.com), for
the end-to-end tests (tests/e2e/lib-gcp.sh: start_app_engine, gae_count,
gae_mutations, gae_rules, gae_show). Debian's python3, standard library only; runs
what it is given with the podman CLI (podrun.py).

One HTTPS server (the rig CA; SAN appengine.googleapis.com and
*.REGIONCODE.r.appspot.com) answers by Host header:

The API (any Host not under .appspot.com). Every request is read as Google's
front end reads it, through the discovery document (--discovery, gdiscovery.py):
method by path template, path and query parameters, the body against the schema
(unknown member, wrong type, bad enum: 400 INVALID_ARGUMENT with Google's wording
and fieldViolations). Order of checks: fault rules, bearer token (a line of
--tokens, re-read on every request; else 401 UNAUTHENTICATED), the discovery
document, the project (--denied-project: 403 PERMISSION_DENIED; not one of
--project: 404 NOT_FOUND "App does not exist."), the method. Implemented:
  apps.get                   {"name","id","locationId","servingStatus","defaultHostname"}
                             (defaultHostname PROJECT.REGIONCODE.r.appspot.com)
  apps.services.get/list     {"name","id","split":{"allocations":{V: fraction}}}
  apps.services.patch        updateMask must be "split" (else 400); allocations must
                             name existing versions, be in (0, 1] and sum to 1
                             (else 400 INVALID_ARGUMENT); applied at once; an Operation
  apps.services.delete       the service and its versions (containers removed); not
                             "default" (400 FAILED_PRECONDITION); an Operation
  apps.services.versions.create
                             env "flex" and runtime "custom" with
                             deployment.container.image (by digest or tag) required,
                             id ([a-z0-9-], <= 63, not "ah-", not "default"/"latest")
                             required, an existing id is 409 ALREADY_EXISTS. A new
                             service is created with the version at 100%; otherwise
                             the version gets no traffic. Answers an Operation that is
                             done once the image is pulled, its container runs (PORT=8080,
                             envVariables) and readinessCheck.path answers 2xx (within
                             --ready-timeout s; else the operation fails with code 4 and
                             "Your deployment has failed to become healthy in the
                             allotted time..." and the version is removed); a failed
                             pull or a container that exits fails it too.
  apps.services.versions.get/list
                             view BASIC (default) leaves out deployment and
                             envVariables, view=FULL has them; versionUrl
                             https://VERSION-dot-SERVICE-dot-PROJECT.RC.r.appspot.com
                             (VERSION-dot-PROJECT... for the default service);
                             servingStatus SERVING|STOPPED; createTime
  apps.services.versions.patch
                             updateMask "servingStatus" only (else 400): STOPPED
                             removes the container, SERVING starts one again; an Operation
  apps.services.versions.delete
                             a version with traffic: 400 FAILED_PRECONDITION; an Operation
  apps.operations.get        {"name","done","metadata",("error"|"response")}; an
                             operation is not done for at least --min-polls looks
  others of the document: 501 UNIMPLEMENTED.
Lists come in pages of --page-size with nextPageToken.

Images are pulled as App Engine's service agent pulls them: from Artifact Registry
(LOCATION-docker.pkg.dev) and gcr.io hosts as user oauth2accesstoken with a Google
token of its own (here the newest line of --tokens), through podrun's CONNECT proxy
as --registry-routes says; with a --registry-creds line HOST=USER:PASSWORD instead;
127.0.0.1:PORT registries directly (TLS checked with --registry-cert-dir).

The apps (Host under .appspot.com): VERSION-dot-SERVICE-dot-PROJECT.RC.r.appspot.com
reaches that version, SERVICE-dot-PROJECT... and PROJECT... (the default service)
reach the service's split (a random pick by allocation); VERSION-dot-PROJECT... is a
version of the default service when one has that id, else a service. The request is
relayed to the version's container over HTTP; a stopped or unknown one is 503/404.

Fault rules (--rules, re-read on every request; faultrules.py): {"method",
"path_regex", "nth", "action", ...} with action
  "status"          answer "code" with Google's error body: "error_status" (default
                    by code: 429 RESOURCE_EXHAUSTED, 403 PERMISSION_DENIED, 404
                    NOT_FOUND, 409 ABORTED, 500 INTERNAL, 503 UNAVAILABLE, else
                    UNKNOWN), "message", "retry_after" (seconds), "headers"
  "fail_operation"  the request is served, its operation ends with error "code"
                    (default 13) and "message"
  "reset"           close the connection with an RST, nothing done
  "delay_ms"        sleep "ms" first
Requests to the apps match rules too, on "//HOST/PATH" (a status rule answers a
plain-text error instead of the version: a version whose own URL fails mldeploy's
check while App Engine's readiness check, made straight to the container, passes).
(--check-rules FILE validates a file and exits 0 or 2.)

--log FILE: one JSON line per API request, written before the answer:
  {"method","path","query","status","mutating","id" (the discovery method id or
   null),"code" (Google's status name or null),"fault","auth" (none|bearer|other),"t"}
--app-log FILE: one JSON line per app request {"host","path","status","version","t"}.
--state FILE: {"apps": [PROJECT...], "services": {"PROJECT/SERVICE": {"split":
  {...}, "versions": {ID: {"servingStatus","image","port","container","url"}}}}}
Tokens, bodies and environment values are never logged.

usage: appengine.py --discovery DOC --tls-cert CRT --tls-key KEY --tokens FILE
                    --log FILE [--app-log FILE] [--rules FILE] [--state FILE]
                    [--project P]... [--denied-project P]... [--location L]
                    [--region-code RC] [--page-size N] [--min-polls N]
                    [--ready-timeout S] [--work-dir DIR] [--registry-routes FILE]
                    [--registry-cert-dir DIR] [--registry-creds FILE] [--port N]
       appengine.py --check-rules FILE
"""
import argparse
import datetime
import http.client
import json
import os
import random
import re
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

import faultrules
import gdiscovery
import loopback
import podrun

WRITE_METHODS = {"PUT", "PATCH", "POST", "DELETE"}
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                501: "UNIMPLEMENTED", 503: "UNAVAILABLE"}
VERSION_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
FULL_ONLY = ("deployment", "envVariables", "handlers", "libraries", "errorHandlers",
             "buildEnvVariables", "apiConfig", "nobuildFilesRegex")
HEALTH_FAIL = ("Your deployment has failed to become healthy in the allotted time and therefore "
               "was rolled back. If you believe this was an error, try adjusting the "
               "'app_start_timeout_sec' setting in the 'readiness_check' section.")


class GError(Exception):
    def __init__(self, code, message, status=None, headers=()):
        super().__init__(message)
        self.code, self.message = code, message
        self.status = status or STATUS_NAMES.get(code, "UNKNOWN")
        self.headers = list(headers)
        self.details = None


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ------------------------------------------------------------------ fault rules

RULE_ACTIONS = {
    "status": ({"code"}, {"retry_after", "headers", "error_status", "message"}),
    "fail_operation": (set(), {"code", "message"}),
    "reset": (set(), set()),
    "delay_ms": ({"ms"}, set()),
}


def check_action(r, where):
    if r["action"] == "status":
        faultrules.check_status(r, where)
    if r["action"] == "fail_operation" and "code" in r and \
            not (faultrules.is_int(r["code"]) and 1 <= r["code"] <= 16):
        raise ValueError("%s: an operation's code is a google.rpc.Code, 1..16" % where)
    for key in ("error_status", "message"):
        if key in r and not isinstance(r[key], str):
            raise ValueError("%s: %s must be a string" % (where, key))
    if r["action"] == "delay_ms" and (not faultrules.is_int(r["ms"]) or r["ms"] < 0):
        raise ValueError("%s: ms must be a number >= 0" % where)


def check_rules(data):
    return faultrules.check_rules(data, RULE_ACTIONS, check_action)


# ------------------------------------------------------------------ state

class Operation:
    def __init__(self, project, method, target, min_polls):
        self.name = "apps/%s/operations/%s" % (project, uuid.uuid4())
        self.method, self.target = method, target
        self.insert = now_iso()
        self.end = None
        self.done = False
        self.error = None
        self.response = None
        self.polls_left = min_polls
        self.fail_with = None
        self.message = "Starting"

    def finish(self, error=None, response=None):
        if self.fail_with and not error:
            error = {"code": self.fail_with[0], "message": self.fail_with[1]}
        self.error, self.response, self.end, self.done = error, response, now_iso(), True

    def view(self):
        done = self.done and self.polls_left <= 0
        self.polls_left -= 1
        meta = {"@type": "type.googleapis.com/google.appengine.v1.OperationMetadataV1",
                "method": self.method, "insertTime": self.insert, "target": self.target,
                "user": "deployer@example.iam.gserviceaccount.com"}
        doc = {"name": self.name, "metadata": meta, "done": done}
        if not done:
            meta["ephemeralMessage"] = self.message
            return doc
        meta["endTime"] = self.end
        if self.error:
            doc["error"] = self.error
        else:
            doc["response"] = self.response or {"@type": "type.googleapis.com/google.protobuf.Empty"}
        return doc


class Version:
    def __init__(self, project, service, body, url):
        self.project, self.service = project, service
        self.id = body["id"]
        self.body = body
        self.url = url
        self.serving = "SERVING"
        self.create_time = now_iso()
        self.container = None
        self.port = None
        self.gen = 0

    def view(self, full):
        doc = {k: v for k, v in self.body.items() if full or k not in FULL_ONLY}
        doc.update({"name": "apps/%s/services/%s/versions/%s" % (self.project, self.service, self.id),
                    "id": self.id, "servingStatus": self.serving, "createTime": self.create_time,
                    "createdBy": "deployer@example.iam.gserviceaccount.com",
                    "versionUrl": self.url})
        return doc


class Store:
    def __init__(self, opts, podman):
        self.opts, self.podman = opts, podman
        self.lock = threading.RLock()
        self.services = {}  # (project, service) -> {"split": {}, "versions": {id: Version}}
        self.ops = {}

    def host(self, project):
        return "%s.%s.r.appspot.com" % (project, self.opts.region_code)

    def version_url(self, project, service, vid):
        if service == "default":
            return "https://%s-dot-%s" % (vid, self.host(project))
        return "https://%s-dot-%s-dot-%s" % (vid, service, self.host(project))

    def write_state(self):
        if not self.opts.state:
            return
        with self.lock:
            doc = {"apps": self.opts.project, "services": {}}
            for (p, s), svc in self.services.items():
                doc["services"]["%s/%s" % (p, s)] = {
                    "split": dict(svc["split"]),
                    "versions": {v.id: {"servingStatus": v.serving, "port": v.port,
                                        "container": v.container, "url": v.url,
                                        "image": v.body["deployment"]["container"]["image"]}
                                 for v in svc["versions"].values()}}
        tmp = self.opts.state + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, self.opts.state)


# ------------------------------------------------------------------ the runtime

class Runtime:
    """Pulls and runs a version's image, stops and removes it."""

    def __init__(self, store):
        self.store, self.podman = store, store.podman

    def creds_for(self, host):
        """A --registry-creds entry for host; else, on Artifact Registry and gcr.io,
        App Engine's service agent's own Google token (the newest of --tokens)."""
        path = self.store.opts.registry_creds
        try:
            with open(path or "", encoding="utf-8") as f:
                for line in f:
                    h, sep, up = line.strip().partition("=")
                    if sep and h == host and ":" in up:
                        user, _, pw = up.partition(":")
                        return (host, user, pw)
        except OSError:
            pass
        if not re.search(r"(^|\.)(gcr\.io|[a-z0-9-]+-docker\.pkg\.dev)$", host.lower()):
            return None
        try:
            with open(self.store.opts.tokens, encoding="utf-8") as f:
                tokens = [line.strip() for line in f if line.strip()]
        except OSError:
            tokens = []
        return (host, "oauth2accesstoken", tokens[-1]) if tokens else None

    def start(self, v, op, remove_on_failure):
        """Runs v; finishes op (None: nobody waits) once it is ready or has failed."""
        store = self.store
        with store.lock:
            v.gen += 1
            gen = v.gen
        image = v.body["deployment"]["container"]["image"]
        host = image.split("/", 1)[0]
        if op:
            op.message = "Pulling image %s" % image
        why = self.podman.pull(image, self.creds_for(host))
        if why:
            return self.failed(v, op, 9, "Failed to pull image %s: %s" % (image, why),
                               remove_on_failure)
        port = podrun.free_port()
        name = re.sub(r"[^a-zA-Z0-9_.-]", "-", "gae-%s-%s-%s-g%d" % (v.project, v.service, v.id, gen))
        env = [("PORT", "8080"), ("GAE_SERVICE", v.service), ("GAE_VERSION", v.id)]
        env += sorted((v.body.get("envVariables") or {}).items())
        why = self.podman.create(name, image, env, None, [(8080, port)],
                                 {"io.mldeploy.fake": "appengine"})
        if not why:
            rc, _, err = self.podman.run(["start", name], timeout=120)
            if rc != 0:
                why = (err.strip().splitlines() or ["podman start failed"])[-1]
        if why:
            self.podman.remove([name])
            return self.failed(v, op, 13, "Failed to start the container: %s" % why,
                               remove_on_failure)
        with store.lock:
            if v.gen != gen:
                self.podman.remove([name])
                return
            v.container, v.port = name, port
        store.write_state()
        if op:
            op.message = "Waiting for the readiness check"
        path = (v.body.get("readinessCheck") or {}).get("path") or "/"
        deadline = time.time() + store.opts.ready_timeout
        last_look = 0
        while time.time() < deadline:
            if self.ready(port, path):
                with store.lock:
                    if op:
                        op.finish(response=dict(v.view(False),
                                                **{"@type": "type.googleapis.com/google.appengine.v1.Version"}))
                return
            if time.time() - last_look > 2:
                last_look = time.time()
                rc, out, _ = self.podman.run(["container", "inspect", "--format",
                                              "{{.State.Status}}", name], timeout=30)
                if rc != 0 or out.strip() not in ("running", "created", "configured"):
                    return self.failed(v, op, 4, HEALTH_FAIL + " (the container %s)"
                                       % (out.strip() or "is gone"), remove_on_failure)
            time.sleep(0.2)
        self.failed(v, op, 4, HEALTH_FAIL, remove_on_failure)

    @staticmethod
    def ready(port, path):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path, headers={"Host": "localhost", "User-Agent": "GoogleHC/1.0"})
            status = c.getresponse().status
            c.close()
            return 200 <= status < 300
        except (OSError, http.client.HTTPException):
            return False

    def failed(self, v, op, code, message, remove):
        self.stop(v)
        store = self.store
        with store.lock:
            if remove:  # a version that never became healthy is rolled back
                svc = store.services.get((v.project, v.service))
                if svc and svc["versions"].get(v.id) is v:
                    del svc["versions"][v.id]
                    svc["split"].pop(v.id, None)
                    if not svc["versions"]:
                        del store.services[(v.project, v.service)]
            if op:
                op.finish(error={"code": code, "message": message})
        store.write_state()

    def stop(self, v):
        with self.store.lock:
            v.gen += 1
            name, v.container, v.port = v.container, None, None
        if name:
            self.podman.remove([name])
        self.store.write_state()


# ------------------------------------------------------------------ HTTP

log_lock = threading.Lock()


def append_line(path, doc):
    if not path:
        return
    with log_lock:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(doc, separators=(",", ":")) + "\n")


class Handler(loopback.Handler):
    server_version = "ESF"

    def route(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        if host.endswith(".appspot.com"):
            return self.serve_app(host)
        return self.serve_api()

    # ---- the API: plumbing
    def answer(self, status, doc=None, headers=()):
        body = b"" if doc is None else json.dumps(doc).encode()
        append_line(self.server.opts.log, {
            "method": self.command, "path": self.url_path, "query": self.url_query,
            "status": status, "mutating": self.command in WRITE_METHODS, "id": self.method_id,
            "code": self.code_sent, "fault": self.fault, "auth": loopback.auth_kind(self.headers),
            "t": round(time.time(), 6)})
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, e):
        self.code_sent = e.status
        doc = {"error": {"code": e.code, "message": e.message, "status": e.status}}
        if e.details:
            doc["error"]["details"] = e.details
        self.answer(e.code, doc, e.headers)

    def serve_api(self):
        url = urllib.parse.urlsplit(self.path)
        self.url_path, self.url_query = url.path, url.query
        self.method_id, self.code_sent, self.fault, self.fail_with = None, None, None, None
        raw = self.read_body()
        target = url.path + ("?" + url.query if url.query else "")
        try:
            try:
                fired = self.server.rules.fire(self.command, target)
            except ValueError as e:
                self.fault = "bad_rules"
                raise GError(500, "fake: %s" % e)
            for rule in fired:
                if rule["action"] == "delay_ms":
                    time.sleep(rule["ms"] / 1000.0)
            for rule in fired:
                act = rule["action"]
                if act == "reset":
                    self.fault = "reset"
                    append_line(self.server.opts.log, {
                        "method": self.command, "path": self.url_path, "query": self.url_query,
                        "status": "reset", "mutating": self.command in WRITE_METHODS, "id": None,
                        "code": None, "fault": "reset", "auth": loopback.auth_kind(self.headers),
                        "t": round(time.time(), 6)})
                    self.reset_connection()
                    return
                if act == "status":
                    self.fault = "status:%d" % rule["code"]
                    hdrs = list(rule.get("headers", {}).items())
                    if "retry_after" in rule:
                        hdrs.append(("Retry-After", str(rule["retry_after"])))
                    message = rule.get("message") or (
                        "Quota exceeded for quota metric 'Write requests' and limit 'Write "
                        "requests per minute' of service 'appengine.googleapis.com'."
                        if rule["code"] == 429 else "fake: injected status %d" % rule["code"])
                    raise GError(rule["code"], message, rule.get("error_status"), hdrs)
                if act == "fail_operation":
                    self.fault = "fail_operation"
                    self.fail_with = (rule.get("code", 13),
                                      rule.get("message", "fake: the operation failed"))
            self.authenticate()
            body = None
            if raw:
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                if ctype != "application/json":
                    raise GError(400, "Invalid JSON payload received. Content-Type %r is not "
                                 "application/json." % ctype[:60])
                try:
                    body = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as e:
                    raise GError(400, "Invalid JSON payload received. %s" % e)
            req = self.server.discovery.request(self.command, url.path, url.query, body)
            self.method_id = req.id
            if req.status in (404, 405):
                raise GError(404, req.errors[0][1])
            if req.errors:
                e = GError(400, gdiscovery.Discovery.error_body(req.errors)["error"]["message"])
                e.details = gdiscovery.Discovery.error_body(req.errors)["error"]["details"]
                raise e
            self.check_project(req.params.get("appsId"))
            q = {k: v[-1] for k, v in req.query.items()}
            handler = getattr(self, "m_" + req.id.replace("appengine.", "").replace(".", "_"), None)
            if handler is None:
                raise GError(501, "The fake App Engine does not implement %s." % req.id)
            handler(req.params, q, req.body)
        except GError as e:
            self.error(e)
        except Exception as e:  # a bug in the fake: say so, keep serving
            traceback.print_exc()
            self.error(GError(500, "fake: %s: %s" % (type(e).__name__, e)))

    def authenticate(self):
        auth = self.headers.get("Authorization")
        scheme, _, token = (auth or "").partition(" ")
        if not auth or scheme.lower() != "bearer" or not token.strip():
            raise GError(401, "Request is missing required authentication credential. Expected "
                         "OAuth 2 access token, login cookie or other valid authentication "
                         "credential. See https://developers.google.com/identity/sign-in/web/"
                         "devconsole-project.", headers=[("WWW-Authenticate", 'Bearer realm='
                                                          '"https://accounts.google.com/"')])
        try:
            with open(self.server.opts.tokens, encoding="utf-8") as f:
                accepted = {line.strip() for line in f if line.strip()}
        except OSError:
            accepted = set()
        if token.strip() not in accepted:
            raise GError(401, "Request had invalid authentication credentials. Expected OAuth 2 "
                         "access token, login cookie or other valid authentication credential. "
                         "See https://developers.google.com/identity/sign-in/web/"
                         "devconsole-project.", headers=[("WWW-Authenticate", 'Bearer realm='
                                                          '"https://accounts.google.com/", '
                                                          'error="invalid_token"')])

    def check_project(self, project):
        opts = self.server.opts
        if project in opts.denied_project:
            raise GError(403, "The caller does not have permission")
        if project not in opts.project:
            raise GError(404, "App does not exist.")

    # ---- the API: methods
    def operation(self, project, method, target):
        op = Operation(project, method, target, self.server.opts.min_polls)
        op.fail_with = self.fail_with
        with self.server.store.lock:
            self.server.store.ops[op.name] = op
        return op

    def service(self, project, sid):
        svc = self.server.store.services.get((project, sid))
        if svc is None:
            raise GError(404, "Service not found: apps/%s/services/%s." % (project, sid))
        return svc

    def service_view(self, project, sid, svc):
        return {"name": "apps/%s/services/%s" % (project, sid), "id": sid,
                "split": {"allocations": dict(svc["split"])}}

    def page(self, items, q):
        size = self.server.opts.page_size
        start = int(q.get("pageToken") or 0)
        out = items[start:start + size]
        token = str(start + size) if start + size < len(items) else None
        return out, token

    def m_apps_get(self, params, q, body):
        p = params["appsId"]
        self.answer(200, {"name": "apps/" + p, "id": p, "locationId": self.server.opts.location,
                          "servingStatus": "SERVING",
                          "defaultHostname": self.server.store.host(p),
                          "gcrDomain": "us.gcr.io", "databaseType": "CLOUD_FIRESTORE"})

    def m_apps_operations_get(self, params, q, body):
        name = "apps/%s/operations/%s" % (params["appsId"], params["operationsId"])
        with self.server.store.lock:
            op = self.server.store.ops.get(name)
            if op is None:
                raise GError(404, "Operation not found: %s." % name)
            view = op.view()
        self.answer(200, view)

    def m_apps_services_get(self, params, q, body):
        with self.server.store.lock:
            svc = self.service(params["appsId"], params["servicesId"])
            view = self.service_view(params["appsId"], params["servicesId"], svc)
        self.answer(200, view)

    def m_apps_services_list(self, params, q, body):
        p = params["appsId"]
        with self.server.store.lock:
            items = [self.service_view(p, s, svc) for (pp, s), svc in
                     sorted(self.server.store.services.items()) if pp == p]
        out, token = self.page(items, q)
        doc = {"services": out}
        if token:
            doc["nextPageToken"] = token
        self.answer(200, doc)

    def m_apps_services_patch(self, params, q, body):
        p, s = params["appsId"], params["servicesId"]
        if q.get("updateMask") != "split":
            raise GError(400, "This operation is only supported on the following field(s): "
                         "[split, network_settings]; the fake supports split.")
        alloc = ((body or {}).get("split") or {}).get("allocations") or {}
        with self.server.store.lock:
            svc = self.service(p, s)
            if not alloc:
                raise GError(400, "Traffic split allocations must not be empty.")
            for vid, share in alloc.items():
                if vid not in svc["versions"]:
                    raise GError(400, "Version '%s' could not be found." % vid)
                if not isinstance(share, (int, float)) or not 0 < share <= 1:
                    raise GError(400, "Allocations must be in the range (0, 1]: '%s' has %r."
                                 % (vid, share))
            if abs(sum(alloc.values()) - 1) > 1e-6:
                raise GError(400, "Allocations must sum to 1, not %g." % sum(alloc.values()))
            svc["split"] = {k: float(v) for k, v in alloc.items()}
            op = self.operation(p, "google.appengine.v1.Services.UpdateService",
                                "apps/%s/services/%s" % (p, s))
            op.finish(response=dict(self.service_view(p, s, svc),
                                    **{"@type": "type.googleapis.com/google.appengine.v1.Service"}))
            view = op.view()
        self.server.store.write_state()
        self.answer(200, view)

    def m_apps_services_delete(self, params, q, body):
        p, s = params["appsId"], params["servicesId"]
        store = self.server.store
        if s == "default":
            raise GError(400, "The default service cannot be deleted.", "FAILED_PRECONDITION")
        with store.lock:
            svc = self.service(p, s)
            op = self.operation(p, "google.appengine.v1.Services.DeleteService",
                                "apps/%s/services/%s" % (p, s))
            view = op.view()
            doomed = list(svc["versions"].values())
            if not op.fail_with:
                del store.services[(p, s)]

        def work():
            if not op.fail_with:
                for v in doomed:
                    self.server.runtime.stop(v)
            op.finish()
        threading.Thread(target=work, daemon=True).start()
        self.answer(200, view)

    def m_apps_services_versions_create(self, params, q, body):
        p, s = params["appsId"], params["servicesId"]
        store = self.server.store
        vid = body.get("id")
        if not vid:
            raise GError(400, "Version id must be specified.")
        if not VERSION_ID.match(vid) or vid.startswith("ah-") or vid in ("default", "latest"):
            raise GError(400, "Invalid version id '%s': use lower-case letters, digits and "
                         "hyphens, at most 63, not starting with 'ah-'." % vid[:80])
        if body.get("env") != "flex":
            raise GError(400, "The fake App Engine runs the flexible environment only "
                         "(env: flex), not %r." % body.get("env"))
        image = ((body.get("deployment") or {}).get("container") or {}).get("image")
        if body.get("runtime") != "custom" or not image:
            raise GError(400, "A flexible version runs a container: runtime 'custom' with "
                         "deployment.container.image.")
        last = image.rsplit("/", 1)[-1]
        if "/" not in image or ("@sha256:" not in image and ":" not in last):
            raise GError(400, "The container image '%s' must be fully qualified and include a "
                         "tag or digest." % image[:200])
        with store.lock:
            svc = store.services.get((p, s))
            if svc and vid in svc["versions"]:
                raise GError(409, "Version '%s' already exists." % vid, "ALREADY_EXISTS")
            new = svc is None
            if new:
                svc = {"split": {}, "versions": {}}
                store.services[(p, s)] = svc
            v = Version(p, s, body, store.version_url(p, s, vid))
            svc["versions"][vid] = v
            if new:
                svc["split"] = {vid: 1.0}
            op = self.operation(p, "google.appengine.v1.Versions.CreateVersion",
                                "apps/%s/services/%s/versions/%s" % (p, s, vid))
            view = op.view()
        store.write_state()
        threading.Thread(target=self.server.runtime.start, args=(v, op, True), daemon=True).start()
        self.answer(200, view)

    def version(self, params):
        svc = self.service(params["appsId"], params["servicesId"])
        v = svc["versions"].get(params["versionsId"])
        if v is None:
            raise GError(404, "Version not found: apps/%s/services/%s/versions/%s."
                         % (params["appsId"], params["servicesId"], params["versionsId"]))
        return svc, v

    def m_apps_services_versions_get(self, params, q, body):
        with self.server.store.lock:
            _, v = self.version(params)
            view = v.view(q.get("view") == "FULL")
        self.answer(200, view)

    def m_apps_services_versions_list(self, params, q, body):
        with self.server.store.lock:
            svc = self.service(params["appsId"], params["servicesId"])
            items = [v.view(q.get("view") == "FULL") for v in
                     sorted(svc["versions"].values(), key=lambda v: v.create_time)]
        out, token = self.page(items, q)
        doc = {"versions": out}
        if token:
            doc["nextPageToken"] = token
        self.answer(200, doc)

    def m_apps_services_versions_patch(self, params, q, body):
        store = self.server.store
        if q.get("updateMask") != "servingStatus":
            raise GError(400, "The fake App Engine updates servingStatus only, not %r."
                         % q.get("updateMask"))
        want = (body or {}).get("servingStatus")
        if want not in ("SERVING", "STOPPED"):
            raise GError(400, "servingStatus must be SERVING or STOPPED.")
        p, s = params["appsId"], params["servicesId"]
        with store.lock:
            _, v = self.version(params)
            op = self.operation(p, "google.appengine.v1.Versions.UpdateVersion",
                                "apps/%s/services/%s/versions/%s" % (p, s, v.id))
            view = op.view()
            change = v.serving != want and not op.fail_with
            if change:
                v.serving = want

        def work():
            if change and want == "STOPPED":
                self.server.runtime.stop(v)
            if change and want == "SERVING":
                self.server.runtime.start(v, op, False)
                return
            op.finish()
        threading.Thread(target=work, daemon=True).start()
        self.answer(200, view)

    def m_apps_services_versions_delete(self, params, q, body):
        store = self.server.store
        p, s = params["appsId"], params["servicesId"]
        with store.lock:
            svc, v = self.version(params)
            if svc["split"].get(v.id, 0) > 0:
                raise GError(400, "Cannot delete version %s: it is receiving traffic. Move the "
                             "traffic to other versions first." % v.id, "FAILED_PRECONDITION")
            op = self.operation(p, "google.appengine.v1.Versions.DeleteVersion",
                                "apps/%s/services/%s/versions/%s" % (p, s, v.id))
            view = op.view()
            if not op.fail_with:
                del svc["versions"][v.id]

        def work():
            if not op.fail_with:
                self.server.runtime.stop(v)
            op.finish()
        threading.Thread(target=work, daemon=True).start()
        self.answer(200, view)

    # ---- the apps
    def pick(self, host):
        """(Version or None, why) for an appspot host name."""
        store = self.server.store
        rc = "." + store.opts.region_code + ".r.appspot.com"
        if not host.endswith(rc):
            return None, "no such application"
        parts = host[:-len(rc)].split("-dot-")
        project = parts[-1]
        with store.lock:
            if len(parts) == 3:
                svc = store.services.get((project, parts[1]))
                return (svc["versions"].get(parts[0]) if svc else None), "no such version"
            if len(parts) == 2:
                default = store.services.get((project, "default"))
                if default and parts[0] in default["versions"]:
                    return default["versions"][parts[0]], ""
                svc = store.services.get((project, parts[0]))
            else:
                svc = store.services.get((project, "default"))
            if not svc or not svc["split"]:
                return None, "no such service"
            r, acc = random.random(), 0.0
            for vid, share in sorted(svc["split"].items()):
                acc += share
                if r < acc:
                    return svc["versions"].get(vid), ""
            return svc["versions"].get(sorted(svc["split"])[-1]), ""

    def serve_app(self, host):
        body = self.read_body()
        v, why = self.pick(host)
        port = v.port if v is not None and v.serving == "SERVING" else None
        status = None
        try:
            for rule in self.server.rules.fire(self.command, "//%s%s" % (host, self.path)):
                if rule["action"] == "status":
                    status = rule["code"]
                    return self.reply(status, b"Error: injected by the fake\n",
                                      [("Content-Type", "text/plain")])
            if v is None:
                status = 404
                return self.reply(404, ("Error: Not Found (%s)\n" % why).encode(),
                                  [("Content-Type", "text/plain")])
            if port is None:
                status = 503
                return self.reply(503, b"Error: Service Unavailable (the version is stopped)\n",
                                  [("Content-Type", "text/plain")])
            headers = {k: val for k, val in self.headers.items()
                       if k.lower() not in loopback.HOP_BY_HOP and k.lower() != "host"}
            headers["Host"] = host
            headers["X-Appengine-Version"] = v.id
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                c.request(self.command, self.path, body=body or None, headers=headers)
                r = c.getresponse()
                data = r.read()
                c.close()
            except (OSError, http.client.HTTPException) as e:
                status = 502
                return self.reply(502, ("Error: Bad Gateway (%s)\n" % e).encode())
            status = r.status
            hdrs = [(k, val) for k, val in r.getheaders()
                    if k.lower() not in loopback.HOP_BY_HOP and k.lower() != "content-length"]
            self.reply(r.status, data, hdrs)
        finally:
            append_line(self.server.opts.app_log, {"host": host, "path": self.path,
                                                   "status": status,
                                                   "version": v.id if v else None,
                                                   "t": round(time.time(), 6)})


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description="fake App Engine Admin API v1 (flexible)")
    ap.add_argument("--check-rules", metavar="FILE")
    ap.add_argument("--discovery")
    ap.add_argument("--tokens")
    ap.add_argument("--log")
    ap.add_argument("--app-log")
    ap.add_argument("--rules")
    ap.add_argument("--state")
    ap.add_argument("--work-dir")
    ap.add_argument("--project", action="append", default=[])
    ap.add_argument("--denied-project", action="append", default=[])
    ap.add_argument("--location", default="us-east1")
    ap.add_argument("--region-code", default="ue")
    ap.add_argument("--page-size", type=int, default=2)
    ap.add_argument("--min-polls", type=int, default=1)
    ap.add_argument("--ready-timeout", type=int, default=90)
    ap.add_argument("--registry-routes")
    ap.add_argument("--registry-cert-dir")
    ap.add_argument("--registry-creds")
    opts = loopback.parse_args(ap)
    if opts.check_rules:
        try:
            with open(opts.check_rules, encoding="utf-8") as f:
                check_rules(json.load(f))
        except (OSError, ValueError) as e:
            print("appengine: %s" % e, file=sys.stderr)
            sys.exit(2)
        sys.exit(0)
    for need in ("discovery", "tls_cert", "tokens", "log"):
        if not getattr(opts, need):
            ap.error("--%s is required" % need.replace("_", "-"))
    if opts.page_size < 1:
        ap.error("--page-size must be >= 1")

    router = podrun.RegistryRouter(opts.registry_routes) if opts.registry_routes else None
    podman = podrun.Podman(opts.work_dir, opts.registry_cert_dir, router)
    store = Store(opts, podman)
    store.write_state()
    server = loopback.Server(("127.0.0.1", opts.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts.tls_cert, opts.tls_key)
    server.tls = ctx
    server.opts = opts
    server.store = store
    server.runtime = Runtime(store)
    server.discovery = gdiscovery.Discovery(opts.discovery)
    server.rules = faultrules.Rules(opts.rules, check_rules, empty_ok=True)
    podrun.serve_platform(server, podman, keep_work=bool(opts.work_dir))


if __name__ == "__main__":
    main()
