#!/usr/bin/python3
"""Loopback fake of the Cloud Run Admin API v2 (run.googleapis.com) and of the
URLs of the services it runs (*.a.run.app), for the end-to-end tests
(tests/e2e/lib-gcp.sh: start_cloud_run, cloudrun_count, cloudrun_mutations,
cloudrun_rules, cloudrun_show). Debian's python3, standard library only; runs what
it is given with the podman CLI (podrun.py).

One HTTPS server (the rig's certificate for run.googleapis.com and *.a.run.app)
answers by the Host header: run.googleapis.com is the API, a *.a.run.app name is
the router in front of the revisions, anything else 404.

The API. Every request is checked, in this order: fault rules; "Authorization:
Bearer TOKEN" with TOKEN a line of --tokens (re-read every time; else 401
UNAUTHENTICATED with WWW-Authenticate); the discovery document (--discovery:
method by HTTP method and path, path and query parameters, the body walked
through the schemas: unknown member, wrong type, bad enum, missing Required. ->
400 INVALID_ARGUMENT as Google words it, gdiscovery.py); the project (--project,
repeatable: another one is 403 PERMISSION_DENIED "Permission 'run.services.get'
denied on resource ... (or it may not exist)."); the region (lower-case
name-digits, else 400).
  services.get       the service; missing: 404 NOT_FOUND "Resource 'S' of kind
                     'SERVICE' in region 'R' in project 'P' does not exist."
  services.create    POST .../services?serviceId=S: 409 ALREADY_EXISTS when there;
                     a long-running operation (done: false) that finishes once
                     the first revision is ready (or fails).
  services.patch     the whole service (no updateMask: what is absent is reset).
                     A template that differs from the stored one makes a new
                     revision (template.revision, which must start with "S-",
                     or S-NNNNN-xyz); a revision name already used with another
                     template: 409 ALREADY_EXISTS. Otherwise only the traffic and
                     the metadata change, and no revision is made.
  services.delete    the operation; the service and its revisions' containers go.
  services.getIamPolicy / setIamPolicy   the policy with its etag; a set with a
                     stale etag: 409 ABORTED "There were concurrent policy changes.
                     Please retry the whole read-modify-write with exponential
                     backoff."; a member that is not user:, serviceAccount:,
                     group:, domain:, allUsers or allAuthenticatedUsers: 400.
  services.revisions.list / get   newest first, pages of --page-size.
  operations.get     {"name", "metadata", "done", "error" | "response"}: done only
                     once the work is done and after --min-polls looks.
  other methods      501 UNIMPLEMENTED.
Beyond the schema, as Cloud Run: exactly one container; reserved env names
(PORT, K_SERVICE, K_REVISION, K_CONFIGURATION) refused; an env entry has a value
or a valueSource, never both; a startup probe's port is the container port; the
traffic adds up to 100 and names revisions that exist (or the one being made),
tags are unique DNS labels.

Running what it is given: a new revision pulls its image with podman (TLS
checked with --registry-cert-dir; names routed by --registry-routes as in
podrun.py; 127.0.0.1:PORT registries directly; Artifact Registry and gcr.io
hosts as user oauth2accesstoken with the newest token of --tokens, as Cloud Run's
service agent pulls with a Google token of its own), creates a container with PORT,
K_SERVICE, K_REVISION, K_CONFIGURATION and the env (a secretKeyRef gets the value
--secrets holds for "SECRET" or "SECRET:VERSION"; one it does not hold fails the
revision as Secret Manager would), publishes the container port on 127.0.0.1 and
starts it; the startup probe (httpGet on its path, else a TCP connect) runs every
0.5 s until it passes, the container exits, or failureThreshold x periodSeconds
pass (at most --startup-timeout). Then the revision is Ready, or it failed
("The user-provided container failed the configured startup probe checks" /
"failed to start and listen on the port defined provided by the PORT=N
environment variable") and its container is removed. The service's traffic then
takes effect (trafficStatuses: one per target, as written, with the uri of each
tag; a LATEST target names no revision), or, when the revision failed,
stays as it was, the operation failing with code 9 FAILED_PRECONDITION
"Revision 'R' is not ready and cannot serve traffic. ...".
A revision that no longer has traffic or a tag is scaled to zero (its
container stopped) and started again when a request reaches it.

URLs: the service https://S-HASH-RC.a.run.app (HASH ten letters and digits from
the project, RC the region's code: us-east1 ue, us-central1 uc, europe-west1 ew,
...), a tag https://TAG---S-HASH-RC.a.run.app. The router forwards a request to
the container of the revision the traffic split picks (weighted at random), or
the tagged one; an unknown name is 404, a revision that is not ready 503.
With --id-tokens FILE the router enforces IAM as Cloud Run does: unless the
service's policy binds allUsers to roles/run.invoker, a request needs
"Authorization: Bearer ID_TOKEN" with ID_TOKEN a line of FILE (re-read every time:
the Google auth fake appends every ID token it issues), not expired, and its aud
the service's URL https://S-HASH-RC.a.run.app (also on a tag's URL) or a user's
OAuth client (*.apps.googleusercontent.com, as `gcloud auth print-identity-token`
gives); otherwise 403 with Cloud Run's HTML "Error: Forbidden" page (the log line
has "denied": why).

Faults come from a JSON rules file (--rules), re-read on every request (see
faultrules.py): method, path_regex (re.search on path?query for the API, on
//HOST/path for the router), nth, and an action:
  "status"     answer "code" with Google's error body ("error_status": its
               status, default by code: 429 RESOURCE_EXHAUSTED, 403
               PERMISSION_DENIED, 500 INTERNAL, 503 UNAVAILABLE, 409 ABORTED,
               404 NOT_FOUND, 400 FAILED_PRECONDITION), "message", "retry_after"
  "op_fail"    the operation this request starts fails ("message")
  "op_stuck"   the operation this request starts never finishes
  "bump_etag"  after answering (a getIamPolicy), another writer changes the policy

--log gets one JSON line per request: {"kind": "api"|"app", "method", "path",
"query", "host", "status", "mutating", "code", "fault", "auth" (none, bearer or
other; never the token), "revision" (app: the one that answered), "t"}, and one
line {"kind": "traffic", "service", "routing": {REV: PERCENT}, "tags": {TAG: REV},
"t"} whenever the routing changes. --state FILE is rewritten after every change:
{"services": {NAME: {"spec": the service as last written, "routing", "tags",
"policy", "revisions": {REV: {"state", "host_port", "container", "image",
"running"}}}}}.
"""
import argparse
import base64
import copy
import hashlib
import http.client
import json
import os
import random
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultrules  # noqa: E402
import gdiscovery  # noqa: E402
import loopback  # noqa: E402
import podrun  # noqa: E402

API_HOST = "run.googleapis.com"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
RESERVED_ENV = ("PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION")
REGION_CODES = {"us-east1": "ue", "us-east4": "uk", "us-central1": "uc", "us-west1": "uw",
                "europe-west1": "ew", "europe-west4": "ez", "asia-northeast1": "an"}
STATUS_OF = {400: "FAILED_PRECONDITION", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
             404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
             501: "UNIMPLEMENTED", 503: "UNAVAILABLE"}
TAG_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MEMBER_RE = re.compile(r"^(allUsers|allAuthenticatedUsers|(user|serviceAccount|group|domain):\S+)$")
log_lock = threading.Lock()


class ApiError(Exception):
    def __init__(self, code, message, status=None, headers=()):
        super().__init__(message)
        self.code, self.message = code, message
        self.status = status or STATUS_OF.get(code, "UNKNOWN")
        self.headers = headers


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


def check_action(r, where):
    if r["action"] == "status":
        faultrules.check_status(r, where)


ACTIONS = {"status": ({"code"}, {"retry_after", "headers", "error_status", "message"}),
           "op_fail": (set(), {"message"}), "op_stuck": (set(), set()),
           "bump_etag": (set(), set())}


def check_rules(data):
    return faultrules.check_rules(data, ACTIONS, check_action)


def region_code(region):
    if region in REGION_CODES:
        return REGION_CODES[region]
    return "".join(p[0] for p in region.split("-") if p and not p[0].isdigit())[:2]


def project_hash(project):
    h = hashlib.sha256(project.encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % 36] for b in h[:10])


class Revision:
    def __init__(self, svc, name, template, generation):
        self.svc, self.name, self.template = svc, name, template
        self.generation = generation
        self.create_time = now_iso()
        self.uid = str(uuid.uuid4())
        self.state = "pending"  # pending, ready, failed
        self.message = None
        self.container = None
        self.host_port = None
        self.running = False
        self.start_lock = threading.Lock()

    def image(self):
        return self.template["containers"][0]["image"]

    def view(self):
        cond = {"type": "Ready", "lastTransitionTime": self.create_time,
                "state": {"pending": "CONDITION_RECONCILING", "ready": "CONDITION_SUCCEEDED",
                          "failed": "CONDITION_FAILED"}[self.state]}
        if self.message:
            cond["message"] = self.message
            cond["reason"] = "HEALTH_CHECK_CONTAINER_ERROR"
        t = self.template
        v = {"name": "%s/revisions/%s" % (self.svc.name, self.name), "uid": self.uid,
             "generation": str(self.generation), "createTime": self.create_time,
             "updateTime": self.create_time, "service": self.svc.name,
             "containers": copy.deepcopy(t["containers"]),
             "scaling": t.get("scaling", {"maxInstanceCount": 100}),
             "maxInstanceRequestConcurrency": t.get("maxInstanceRequestConcurrency", 80),
             "timeout": t.get("timeout", "300s"),
             "serviceAccount": t.get("serviceAccount", "%s-compute@developer.gserviceaccount.com"
                                     % self.svc.project_number),
             "executionEnvironment": t.get("executionEnvironment", "EXECUTION_ENVIRONMENT_GEN2"),
             "labels": t.get("labels", {}), "annotations": t.get("annotations", {}),
             "conditions": [cond], "observedGeneration": str(self.generation),
             "reconciling": self.state == "pending", "etag": '"%s"' % self.uid[:12],
             "logUri": "https://console.cloud.google.com/logs/viewer?project=%s" % self.svc.project}
        return v


class Service:
    def __init__(self, name, project, region, sid, project_number):
        self.name, self.project, self.region, self.sid = name, project, region, sid
        self.project_number = project_number
        self.uid = str(uuid.uuid4())
        self.create_time = now_iso()
        self.update_time = self.create_time
        self.spec = {}
        self.generation = 0
        self.revisions = []  # oldest first
        self.latest_created = None
        self.latest_ready = None
        self.routing = {}  # revision -> percent
        self.tags = {}  # tag -> revision
        self.applied = []  # the traffic targets in effect
        self.condition = ("CONDITION_RECONCILING", None)
        self.policy = {"etag": "ACAB", "version": 1, "bindings": []}
        self.deleted = False
        self.host = "%s-%s-%s.a.run.app" % (sid, project_hash(project), region_code(region))

    def revision(self, name):
        for r in self.revisions:
            if r.name == name:
                return r
        return None

    def view(self):
        v = copy.deepcopy(self.spec)
        v.update({"name": self.name, "uid": self.uid, "generation": str(self.generation),
                  "createTime": self.create_time, "updateTime": self.update_time,
                  "creator": "deployer@example.com", "lastModifier": "deployer@example.com",
                  "observedGeneration": str(self.generation), "uri": "https://" + self.host,
                  "etag": '"%s"' % hashlib.sha256(json.dumps(self.spec, sort_keys=True).encode())
                  .hexdigest()[:16], "reconciling": self.condition[0] == "CONDITION_RECONCILING"})
        v.setdefault("ingress", "INGRESS_TRAFFIC_ALL")
        v.setdefault("launchStage", "GA")
        v["template"] = copy.deepcopy(self.spec.get("template", {}))
        if self.latest_created:
            v["latestCreatedRevision"] = "%s/revisions/%s" % (self.name, self.latest_created)
        if self.latest_ready:
            v["latestReadyRevision"] = "%s/revisions/%s" % (self.name, self.latest_ready)
        cond = {"type": "Ready", "state": self.condition[0], "lastTransitionTime": self.update_time}
        if self.condition[1]:
            cond["message"] = self.condition[1]
        v["terminalCondition"] = cond
        v["conditions"] = [{"type": "RoutesReady", "state": self.condition[0]},
                           {"type": "ConfigurationsReady", "state": self.condition[0]}]
        # one status per target of the traffic in effect, as written (a LATEST
        # target names no revision)
        st = []
        for t in self.applied:
            e = {"type": t.get("type", "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST")}
            for k in ("revision", "percent", "tag"):
                if t.get(k):
                    e[k] = t[k]
            if t.get("tag"):
                e["uri"] = "https://%s---%s" % (t["tag"], self.host)
            st.append(e)
        v["trafficStatuses"] = st
        return v


class Operation:
    def __init__(self, name, svc, min_polls):
        self.name, self.svc = name, svc
        self.work_done = False
        self.error = None
        self.polls_left = min_polls
        self.stuck = False
        self.fail_message = None

    def finish(self, error=None):
        self.error = error
        self.work_done = True

    def view(self, look=True):
        """The operation as an answer; look: a client's GET (counts toward --min-polls)."""
        done = look and self.work_done and self.polls_left <= 0 and not self.stuck
        if look:
            self.polls_left -= 1
        v = {"name": self.name, "done": done,
             "metadata": dict(self.svc.view(), **{"@type":
                                                  "type.googleapis.com/google.cloud.run.v2.Service"})}
        if done and self.error:
            v["error"] = self.error
        elif done:
            v["response"] = dict(self.svc.view(), **{"@type":
                                                     "type.googleapis.com/google.cloud.run.v2.Service"})
        return v


class Store:
    def __init__(self, opts, podman):
        self.opts, self.podman = opts, podman
        self.lock = threading.RLock()
        self.services = {}
        self.operations = {}

    def by_host(self, host):
        host = host.split(":")[0].lower()
        with self.lock:
            for svc in self.services.values():
                if svc.deleted:
                    continue
                if host == svc.host:
                    return svc, None
                if host.endswith("---" + svc.host):
                    tag = host[:-len("---" + svc.host)]
                    if tag in svc.tags:
                        return svc, svc.tags[tag]
        return None, None

    def write_state(self):
        if not self.opts.state:
            return
        with self.lock:
            doc = {"services": {}}
            for name, svc in self.services.items():
                doc["services"][name] = {
                    "spec": svc.spec, "routing": svc.routing, "tags": svc.tags,
                    "policy": svc.policy,
                    "deleted": svc.deleted, "host": svc.host,
                    "revisions": {r.name: {"state": r.state, "host_port": r.host_port,
                                           "container": r.container, "image": r.image(),
                                           "running": r.running} for r in svc.revisions}}
        tmp = self.opts.state + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
        os.replace(tmp, self.opts.state)

    def log(self, doc):
        if not self.opts.log:
            return
        doc["t"] = round(time.time(), 6)
        with log_lock:
            with open(self.opts.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(doc, separators=(",", ":")) + "\n")

    def secrets(self):
        if not self.opts.secrets:
            return {}
        try:
            with open(self.opts.secrets, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}


def registry_of(image):
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return image
    return "docker.io/" + image


class Runtime:
    """Runs revisions with podman."""

    def __init__(self, store):
        self.store = store
        self.podman = store.podman

    def provision(self, svc, rev, op, traffic_after):
        """Pull, create, start and probe rev; then apply the routing (traffic_after
        is a callable run under the lock once the revision is ready)."""
        store = self.store
        t = rev.template
        c = t["containers"][0]
        port = (c.get("ports") or [{}])[0].get("containerPort", 8080)
        env = [("PORT", str(port)), ("K_SERVICE", svc.sid), ("K_REVISION", rev.name),
               ("K_CONFIGURATION", svc.sid)]
        secrets = store.secrets()
        why = None
        for e in c.get("env", []):
            if "value" in e or "valueSource" not in e:
                env.append((e["name"], e.get("value", "")))
                continue
            ref = e["valueSource"].get("secretKeyRef", {})
            sid, ver = ref.get("secret", ""), ref.get("version", "latest")
            value = secrets.get("%s:%s" % (sid, ver), secrets.get(sid))
            if value is None:
                why = ("spec.template.spec.containers[0].env[%s].value_from.secret_key_ref.name: "
                       "Secret projects/%s/secrets/%s/versions/%s was not found"
                       % (e["name"], svc.project_number, sid, ver))
                break
            env.append((e["name"], value))
        if not why:
            why = self.podman.pull(registry_of(c["image"]), self.pull_credential(c["image"]))
            if why:
                why = "Image '%s' not found or not accessible: %s" % (c["image"], why)
        name = re.sub(r"[^a-zA-Z0-9_.-]", "-", "cr-%s-%s" % (svc.project, rev.name))[:100]
        hp = podrun.free_port()
        if not why:
            why = self.podman.create(name, registry_of(c["image"]), env, c.get("command") or None,
                                     [(port, hp)], {"io.mldeploy.fake": "cloudrun",
                                                    "io.mldeploy.cloudrun.revision": rev.name})
            if why:
                why = "The user-provided container could not be created: %s" % why
        if not why:
            with store.lock:
                rev.container, rev.host_port = name, hp
            why = self.start_and_probe(rev)
        if why and rev.container:
            self.podman.remove([rev.container])
        with store.lock:
            if why:
                rev.state, rev.message = "failed", why
                rev.running = False
                svc.condition = ("CONDITION_FAILED", "Revision '%s' is not ready and cannot "
                                 "serve traffic. %s" % (rev.name, why))
                op.finish({"code": 9, "message": svc.condition[1]})
            else:
                rev.state = "ready"
                svc.latest_ready = rev.name
                traffic_after()
                svc.condition = ("CONDITION_SUCCEEDED", None)
                if op.fail_message:
                    op.finish({"code": 9, "message": op.fail_message})
                else:
                    op.finish()
        store.write_state()
        self.scale_to_zero(svc)

    def pull_credential(self, image):
        """Cloud Run's service agent pulls from Artifact Registry and gcr.io with a
        Google token of its own: here the newest of --tokens."""
        host = registry_of(image).split("/", 1)[0].lower()
        if not re.search(r"(^|\.)(gcr\.io|[a-z0-9-]+-docker\.pkg\.dev)$", host):
            return None
        try:
            with open(self.store.opts.tokens, encoding="utf-8") as f:
                tokens = [line.strip() for line in f if line.strip()]
        except OSError:
            tokens = []
        return (host, "oauth2accesstoken", tokens[-1]) if tokens else None

    def probe_ok(self, rev):
        c = rev.template["containers"][0]
        probe = c.get("startupProbe") or {}
        get = probe.get("httpGet")
        try:
            if get is None:
                socket.create_connection(("127.0.0.1", rev.host_port), timeout=1).close()
                return True
            conn = http.client.HTTPConnection("127.0.0.1", rev.host_port, timeout=2)
            conn.request("GET", get.get("path") or "/")
            status = conn.getresponse().status
            conn.close()
            return 200 <= status < 400
        except (OSError, http.client.HTTPException):
            return False

    def start_and_probe(self, rev):
        """None once the startup probe passes, else why not."""
        c = rev.template["containers"][0]
        probe = c.get("startupProbe") or {}
        budget = (probe.get("failureThreshold", 3) * probe.get("periodSeconds", 10)
                  + probe.get("initialDelaySeconds", 0))
        budget = min(budget, self.store.opts.startup_timeout)
        port = (c.get("ports") or [{}])[0].get("containerPort", 8080)
        rc, _, err = self.podman.run(["start", rev.container], timeout=120)
        if rc != 0:
            return "The user-provided container failed to start: %s" % err.strip()[-300:]
        rev.running = True
        deadline = time.time() + budget
        while time.time() < deadline:
            if self.probe_ok(rev):
                return None
            rc, out, _ = self.podman.run(["inspect", "--format", "{{.State.Running}}",
                                          rev.container], timeout=30)
            if rc == 0 and out.strip() == "false":
                rev.running = False
                return ("The user-provided container failed to start and listen on the port "
                        "defined provided by the PORT=%d environment variable" % port)
            time.sleep(0.5)
        return "The user-provided container failed the configured startup probe checks"

    def wake(self, rev):
        """Starts a revision scaled to zero (a cold start); True when it serves."""
        with rev.start_lock:
            if rev.running:
                return True
            if rev.state != "ready" or not rev.container:
                return False
            return self.start_and_probe(rev) is None

    def scale_to_zero(self, svc):
        with self.store.lock:
            idle = [r for r in svc.revisions if r.running and r.state == "ready"
                    and not svc.routing.get(r.name) and r.name not in svc.tags.values()]
            for r in idle:
                r.running = False
        for r in idle:
            self.podman.run(["stop", "--time", "0", r.container], timeout=60)
        if idle:
            self.store.write_state()

    def delete(self, svc, op):
        with self.store.lock:
            names = [r.container for r in svc.revisions if r.container]
        self.podman.remove(names)
        with self.store.lock:
            svc.deleted = True
            self.store.services.pop(svc.name, None)
            op.finish()
        self.store.write_state()


def resolve_traffic(svc, traffic, new_rev):
    """(routing {rev: pct}, tags {tag: rev}) from a traffic list; new_rev is the
    revision that LATEST means once it is ready."""
    routing, tags = {}, {}
    for t in traffic or [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]:
        if t.get("type") == "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST":
            rev = new_rev
        else:
            rev = t.get("revision")
        pct = t.get("percent", 0)
        if pct:
            routing[rev] = routing.get(rev, 0) + pct
        if t.get("tag"):
            tags[t["tag"]] = rev
    return routing, tags


class Handler(loopback.Handler):
    server_version = "ESF"

    def setup_request(self):
        url = urllib.parse.urlsplit(self.path)
        self.raw_path, self.raw_query = url.path, url.query
        self.host = (self.headers.get("Host") or "").split(":")[0].lower()
        self.fault = None
        self.denied = None
        self.code_sent = None
        self.auth_kind = loopback.auth_kind(self.headers)
        self.body = self.read_body()

    def log_line(self, status, kind="api", revision=None):
        doc = {"kind": kind, "method": self.command, "path": self.raw_path,
               "query": self.raw_query, "host": self.host, "status": status,
               "mutating": kind == "api" and self.command in WRITE_METHODS,
               "code": self.code_sent, "fault": self.fault, "auth": self.auth_kind}
        if revision:
            doc["revision"] = revision
        if self.denied:
            doc["denied"] = self.denied
        self.server.store.log(doc)

    def answer(self, status, doc=None, headers=()):
        body = b"" if doc is None else json.dumps(doc, indent=2).encode()
        self.log_line(status)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Vary", "Origin, X-Origin, Referer")
        if doc is not None:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def error(self, e):
        self.code_sent = e.status
        self.answer(e.code, {"error": {"code": e.code, "message": e.message, "status": e.status}},
                    e.headers)

    def handle_any(self):
        self.setup_request()
        if self.host == API_HOST:
            self.api()
        elif self.host.endswith(".a.run.app"):
            self.app()
        else:
            self.code_sent = "NO_SUCH_HOST"
            self.answer(404, {"error": {"code": 404, "message": "unknown host %s" % self.host,
                                        "status": "NOT_FOUND"}})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

    # ---- faults
    def faults(self, target):
        try:
            fired = self.server.rules.fire(self.command, target)
        except ValueError as e:
            self.fault = "bad_rules"
            raise ApiError(500, "fake: %s" % e)
        self.op_actions = []
        for r in fired:
            if r["action"] == "status":
                self.fault = "status:%d" % r["code"]
                headers = list(r.get("headers", {}).items())
                if r.get("retry_after") is not None:
                    headers.append(("Retry-After", str(r["retry_after"])))
                raise ApiError(r["code"], r.get("message", "fault injected by the test"),
                               r.get("error_status"), headers)
            self.op_actions.append(r)
            self.fault = r["action"]

    # ---- the router
    def invoker_denied(self, svc):
        """Why the request may not invoke svc (None: it may)."""
        path = self.server.opts.id_tokens
        if not path:
            return None
        with self.server.store.lock:
            for b in svc.policy.get("bindings") or []:
                if b.get("role") == "roles/run.invoker" and "allUsers" in (b.get("members") or []):
                    return None
        auth = self.headers.get("Authorization", "")
        if not auth.lower().startswith("bearer "):
            return "no identity token"
        token = auth[7:].strip()
        try:
            with open(path, encoding="utf-8") as f:
                valid = {line.strip() for line in f if line.strip()}
        except OSError:
            valid = set()
        if token not in valid:
            return "not an identity token the auth fake issued"
        try:
            payload = token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (IndexError, ValueError):
            return "undecodable token"
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= time.time():
            return "expired"
        aud = claims.get("aud") or ""
        if aud.rstrip("/") != "https://" + svc.host and \
                not aud.endswith(".apps.googleusercontent.com"):
            return "audience %s" % aud
        return None

    def app(self):
        target = "//" + self.host + self.raw_path
        try:
            self.faults(target)
        except ApiError as e:
            self.code_sent = e.status
            self.app_reply(e.code, ("fault %d\n" % e.code).encode(), None)
            return
        store = self.server.store
        svc, rev_name = store.by_host(self.host)
        if not svc:
            self.app_reply(404, b"<html><body>Error: Page not found</body></html>\n", None)
            return
        with store.lock:
            if rev_name is None:
                choices = [(r, p) for r, p in svc.routing.items() if p > 0]
                if choices:
                    x = random.uniform(0, sum(p for _, p in choices))
                    for r, p in choices:
                        rev_name = r
                        x -= p
                        if x <= 0:
                            break
            rev = svc.revision(rev_name) if rev_name else None
        why = self.invoker_denied(svc)
        if why:
            self.denied = why
            self.app_reply(403, b"<html><head>\n<title>403 Forbidden</title>\n</head>\n"
                           b"<body><h1>Error: Forbidden</h1>\n<h2>Your client does not have "
                           b"permission to get URL <code>" + self.path.encode() +
                           b"</code> from this server.</h2>\n</body></html>\n", None)
            return
        if not rev or not self.server.runtime.wake(rev):
            self.app_reply(503, b"Service Unavailable\n", rev_name)
            return
        try:
            conn = http.client.HTTPConnection("127.0.0.1", rev.host_port, timeout=60)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in loopback.HOP_BY_HOP}
            conn.request(self.command, self.path, body=self.body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            out_headers = [(k, v) for k, v in resp.getheaders()
                           if k.lower() not in loopback.HOP_BY_HOP and k.lower() != "content-length"]
            conn.close()
        except (OSError, http.client.HTTPException):
            self.app_reply(503, b"Service Unavailable\n", rev.name)
            return
        self.app_reply(resp.status, data, rev.name, out_headers)

    def app_reply(self, status, data, revision, headers=()):
        self.log_line(status, "app", revision)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    # ---- the API
    def api(self):
        target = self.raw_path + ("?" + self.raw_query if self.raw_query else "")
        try:
            self.faults(target)
            self.authenticate()
            body = None
            if self.body:
                try:
                    body = json.loads(self.body)
                except ValueError:
                    raise ApiError(400, "Invalid JSON payload received. Unexpected token.",
                                   "INVALID_ARGUMENT")
            req = self.server.discovery.request(self.command, self.raw_path, self.raw_query, body)
            if req.status == 404:
                raise ApiError(404, req.errors[0][1])
            if req.status == 405:
                raise ApiError(405, req.errors[0][1], "METHOD_NOT_ALLOWED")
            if req.errors:
                err = self.server.discovery.error_body(req.errors)["error"]
                self.code_sent = err["status"]
                self.answer(400, {"error": err})
                return
            handler = getattr(self, "op_" + req.id.split(".", 2)[2].replace(".", "_"), None)
            if handler is None:
                raise ApiError(501, "Method %s is not implemented by this fake." % req.id)
            handler(req)
        except ApiError as e:
            self.error(e)

    def authenticate(self):
        auth = self.headers.get("Authorization", "")
        www = [("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')]
        if not auth.lower().startswith("bearer "):
            raise ApiError(401, "Request is missing required authentication credential. "
                           "Expected OAuth 2 access token, login cookie or other valid "
                           "authentication credential. See https://developers.google.com/"
                           "identity/sign-in/web/devconsole-project.", headers=www)
        token = auth[7:].strip()
        try:
            with open(self.server.opts.tokens, encoding="utf-8") as f:
                valid = {line.strip() for line in f if line.strip()}
        except OSError:
            valid = set()
        if token not in valid:
            raise ApiError(401, "Request had invalid authentication credentials. Expected OAuth "
                           "2 access token, login cookie or other valid authentication "
                           "credential. See https://developers.google.com/identity/sign-in/web/"
                           "devconsole-project.", headers=www)

    def location(self, path, permission):
        m = re.match(r"^projects/([^/]+)/locations/([^/]+)", path)
        project, region = m.group(1), m.group(2)
        if self.server.opts.project and project not in self.server.opts.project and \
                project != str(self.server.opts.project_number):
            raise ApiError(403, "Permission '%s' denied on resource '%s' (or it may not exist)."
                           % (permission, path))
        if not re.match(r"^[a-z]+-[a-z]+[0-9]+$", region):
            raise ApiError(400, "Location '%s' is not a valid Cloud Run region." % region,
                           "INVALID_ARGUMENT")
        return project, region

    def service(self, name, permission="run.services.get"):
        project, region = self.location(name, permission)
        store = self.server.store
        with store.lock:
            svc = store.services.get(name)
        if not svc or svc.deleted:
            raise ApiError(404, "Resource '%s' of kind 'SERVICE' in region '%s' in project '%s' "
                           "does not exist." % (name.rsplit("/", 1)[1], region, project))
        return svc

    def new_operation(self, svc):
        store = self.server.store
        opname = "projects/%s/locations/%s/operations/%s" % (svc.project, svc.region,
                                                             uuid.uuid4())
        op = Operation(opname, svc, self.server.opts.min_polls)
        for r in self.op_actions:
            if r["action"] == "op_stuck":
                op.stuck = True
            elif r["action"] == "op_fail":
                op.fail_message = r.get("message", "fault injected by the test")
        with store.lock:
            store.operations[opname] = op
        return op

    def semantics(self, svc_id, spec, svc=None):
        t = spec.get("template")
        if not t:
            raise ApiError(400, "service.template: required", "INVALID_ARGUMENT")
        cs = t.get("containers") or []
        if len(cs) != 1:
            raise ApiError(400, "template.containers: Revision template should contain exactly "
                           "one container with an exposed port.", "INVALID_ARGUMENT")
        c = cs[0]
        port = (c.get("ports") or [{}])[0].get("containerPort", 8080)
        names = set()
        for e in c.get("env", []):
            if e["name"] in RESERVED_ENV:
                raise ApiError(400, "template.containers[0].env: The following reserved env "
                               "names were provided: %s. These values are automatically set "
                               "by the system." % e["name"], "INVALID_ARGUMENT")
            if e["name"] in names:
                raise ApiError(400, "template.containers[0].env: duplicate name %s" % e["name"],
                               "INVALID_ARGUMENT")
            names.add(e["name"])
            if ("value" in e) == ("valueSource" in e) and "valueSource" in e:
                raise ApiError(400, "template.containers[0].env[%s]: value and valueSource are "
                               "exclusive" % e["name"], "INVALID_ARGUMENT")
        for probe in ("startupProbe", "livenessProbe"):
            p = c.get(probe) or {}
            pp = (p.get("httpGet") or p.get("tcpSocket") or {}).get("port")
            if pp is not None and pp != port:
                raise ApiError(400, "template.containers[0].%s: the probe port %d must be the "
                               "container port %d" % (probe, pp, port), "INVALID_ARGUMENT")
        rev = t.get("revision")
        if rev and not rev.startswith(svc_id + "-"):
            raise ApiError(400, "template.revision: Revision name must be prefixed by the name "
                           "of the enclosing Service.", "INVALID_ARGUMENT")
        traffic = spec.get("traffic") or []
        total, tags = 0, set()
        known = {r.name for r in svc.revisions} if svc else set()
        if rev:
            known.add(rev)
        for i, tt in enumerate(traffic):
            total += tt.get("percent", 0)
            typ = tt.get("type", "TRAFFIC_TARGET_ALLOCATION_TYPE_UNSPECIFIED")
            if typ == "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION":
                if not tt.get("revision"):
                    raise ApiError(400, "traffic[%d].revision: required for type REVISION" % i,
                                   "INVALID_ARGUMENT")
                if tt["revision"] not in known and not (svc is None or tt["revision"] == rev):
                    raise ApiError(400, "traffic[%d]: Revision '%s' does not exist."
                                   % (i, tt["revision"]), "INVALID_ARGUMENT")
            elif typ == "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST":
                if tt.get("revision"):
                    raise ApiError(400, "traffic[%d]: a LATEST target names no revision" % i,
                                   "INVALID_ARGUMENT")
            elif tt.get("percent") or tt.get("tag"):
                raise ApiError(400, "traffic[%d].type: required" % i, "INVALID_ARGUMENT")
            tag = tt.get("tag")
            if tag is not None:
                if not TAG_RE.match(tag) or tag in tags:
                    raise ApiError(400, "traffic[%d].tag: '%s' is not a valid or unique tag"
                                   % (i, tag), "INVALID_ARGUMENT")
                tags.add(tag)
        if traffic and total != 100:
            raise ApiError(400, "traffic: Traffic percentages must add up to 100 (got %d)." % total,
                           "INVALID_ARGUMENT")

    def start_revision(self, svc, op, template, traffic):
        """A new revision from template (under the store lock); provisioned in the
        background, the traffic applied once it is ready."""
        svc.generation += 1
        name = template.get("revision") or "%s-%05d-%s" % (
            svc.sid, svc.generation, "".join(random.choice("abcdefghijklmnopqrstuvwxyz")
                                             for _ in range(3)))
        rev = Revision(svc, name, copy.deepcopy(template), svc.generation)
        svc.revisions.append(rev)
        svc.latest_created = name
        svc.condition = ("CONDITION_RECONCILING", None)

        spec_gen = svc.generation

        def apply():
            # a later PATCH has said where the traffic goes since
            if svc.generation == spec_gen:
                self.apply_traffic(svc, traffic, name)

        threading.Thread(target=self.server.runtime.provision, args=(svc, rev, op, apply),
                         daemon=True).start()

    def apply_traffic(self, svc, traffic, latest):
        svc.routing, svc.tags = resolve_traffic(svc, traffic, latest)
        svc.applied = copy.deepcopy(traffic or [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST",
                                                 "percent": 100}])
        self.server.store.log({"kind": "traffic", "service": svc.name, "routing": svc.routing,
                               "tags": svc.tags})

    @staticmethod
    def normal(template):
        t = copy.deepcopy(template or {})
        t.pop("revision", None)
        return json.dumps(t, sort_keys=True)

    def op_locations_services_create(self, req):
        parent = req.params["parent"]
        self.location(parent, "run.services.create")
        sid = req.query.get("serviceId", [""])[0]
        if not re.match(r"^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$", sid):
            raise ApiError(400, "serviceId: must begin with a letter, contain only lower-case "
                           "letters, digits and hyphens, not end with a hyphen and have fewer "
                           "than 50 characters", "INVALID_ARGUMENT")
        spec = req.body or {}
        self.semantics(sid, spec)
        store = self.server.store
        name = "%s/services/%s" % (parent, sid)
        project, region = self.location(parent, "run.services.create")
        with store.lock:
            old = store.services.get(name)
            if old and not old.deleted:
                raise ApiError(409, "Resource '%s' already exists." % sid, "ALREADY_EXISTS")
            svc = Service(name, project, region, sid, self.server.opts.project_number)
            spec.pop("name", None)
            svc.spec = spec
            store.services[name] = svc
            op = self.new_operation(svc)
            self.start_revision(svc, op, spec["template"], spec.get("traffic"))
            view = op.view(False)
        store.write_state()
        self.answer(200, view)

    def op_locations_services_patch(self, req):
        name = req.params["name"]
        svc = self.service(name, "run.services.update")
        spec = req.body or {}
        spec.pop("name", None)
        self.semantics(svc.sid, spec, svc)
        store = self.server.store
        with store.lock:
            rev_name = spec["template"].get("revision")
            changed = self.normal(spec["template"]) != self.normal(svc.spec.get("template"))
            existing = svc.revision(rev_name) if rev_name else None
            if changed and existing:
                raise ApiError(409, "Revision named '%s' with different configuration already "
                               "exists." % rev_name, "ALREADY_EXISTS")
            for tt in spec.get("traffic") or []:
                r = svc.revision(tt.get("revision")) if tt.get("revision") else None
                if tt.get("revision") and not r and tt["revision"] != rev_name:
                    raise ApiError(400, "Revision '%s' does not exist." % tt["revision"],
                                   "INVALID_ARGUMENT")
                if r and r.state == "failed" and (tt.get("percent") or tt.get("tag")):
                    raise ApiError(400, "Revision '%s' is not ready and cannot serve traffic."
                                   % r.name, "FAILED_PRECONDITION")
            svc.spec = spec
            svc.update_time = now_iso()
            op = self.new_operation(svc)
            if changed:
                self.start_revision(svc, op, spec["template"], spec.get("traffic"))
            else:
                svc.generation += 1
                self.apply_traffic(svc, spec.get("traffic"), svc.latest_ready)
                if op.fail_message:
                    op.finish({"code": 9, "message": op.fail_message})
                else:
                    op.finish()
            view = op.view(False)
        store.write_state()
        if not changed:
            threading.Thread(target=self.server.runtime.scale_to_zero, args=(svc,),
                             daemon=True).start()
        self.answer(200, view)

    def op_locations_services_get(self, req):
        svc = self.service(req.params["name"])
        with self.server.store.lock:
            view = svc.view()
        self.answer(200, view)

    def op_locations_services_delete(self, req):
        svc = self.service(req.params["name"], "run.services.delete")
        store = self.server.store
        with store.lock:
            op = self.new_operation(svc)
            view = op.view(False)
        threading.Thread(target=self.server.runtime.delete, args=(svc, op), daemon=True).start()
        self.answer(200, view)

    def op_locations_services_getIamPolicy(self, req):
        svc = self.service(req.params["resource"], "run.services.getIamPolicy")
        with self.server.store.lock:
            policy = copy.deepcopy(svc.policy)
            if any(r["action"] == "bump_etag" for r in self.op_actions):
                svc.policy["etag"] = "B" + uuid.uuid4().hex[:11]
        if not policy["bindings"]:
            policy.pop("bindings")
        self.answer(200, policy)

    def op_locations_services_setIamPolicy(self, req):
        svc = self.service(req.params["resource"], "run.services.setIamPolicy")
        policy = (req.body or {}).get("policy") or {}
        for b in policy.get("bindings", []):
            for m in b.get("members", []):
                if not MEMBER_RE.match(m):
                    raise ApiError(400, "Invalid member '%s'." % m, "INVALID_ARGUMENT")
            if not b.get("role", "").startswith("roles/"):
                raise ApiError(400, "Role %s is not supported for this resource."
                               % b.get("role"), "INVALID_ARGUMENT")
        with self.server.store.lock:
            if policy.get("etag") and policy["etag"] != svc.policy["etag"]:
                raise ApiError(409, "There were concurrent policy changes. Please retry the "
                               "whole read-modify-write with exponential backoff.", "ABORTED")
            svc.policy = {"version": 1, "etag": "B" + uuid.uuid4().hex[:11],
                          "bindings": policy.get("bindings", [])}
            answer = copy.deepcopy(svc.policy)
        self.server.store.write_state()
        self.answer(200, answer)

    def op_locations_services_revisions_list(self, req):
        svc = self.service(req.params["parent"])
        size = int(req.query.get("pageSize", [str(self.server.opts.page_size)])[0] or 0) or \
            self.server.opts.page_size
        start = int(req.query.get("pageToken", ["0"])[0] or 0)
        with self.server.store.lock:
            revs = [r.view() for r in reversed(svc.revisions)]
        page = {"revisions": revs[start:start + size]}
        if start + size < len(revs):
            page["nextPageToken"] = str(start + size)
        self.answer(200, page)

    def op_locations_services_revisions_get(self, req):
        name = req.params["name"]
        svc = self.service(name.split("/revisions/")[0])
        rev = svc.revision(name.rsplit("/", 1)[1])
        if not rev:
            raise ApiError(404, "Resource '%s' of kind 'REVISION' does not exist."
                           % name.rsplit("/", 1)[1])
        with self.server.store.lock:
            view = rev.view()
        self.answer(200, view)

    def op_locations_operations_get(self, req):
        name = req.params["name"]
        self.location(name, "run.operations.get")
        store = self.server.store
        with store.lock:
            op = store.operations.get(name)
            if not op:
                raise ApiError(404, "Operation '%s' not found." % name)
            view = op.view()
        self.answer(200, view)


def main():
    ap = argparse.ArgumentParser(description="fake Cloud Run Admin API v2")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--discovery", default=os.path.join(
        here, "..", "..", "..", "shared", "api-models", "google-run-v2.json"))
    ap.add_argument("--check-rules", metavar="FILE", help="validate a rules file and exit")
    ap.add_argument("--tokens")
    ap.add_argument("--id-tokens", metavar="FILE", help="enforce run.invoker: accepted ID tokens")
    ap.add_argument("--log")
    ap.add_argument("--rules")
    ap.add_argument("--state")
    ap.add_argument("--secrets", help="JSON {\"SECRET[:VERSION]\": value}")
    ap.add_argument("--work-dir")
    ap.add_argument("--registry-routes", metavar="FILE")
    ap.add_argument("--registry-cert-dir")
    ap.add_argument("--project", action="append", default=[])
    ap.add_argument("--project-number", type=int, default=123456789012)
    ap.add_argument("--page-size", type=int, default=20)
    ap.add_argument("--min-polls", type=int, default=1)
    ap.add_argument("--startup-timeout", type=float, default=120)
    opts = loopback.parse_args(ap)
    if opts.check_rules:
        try:
            with open(opts.check_rules, encoding="utf-8") as f:
                check_rules(json.load(f))
        except (OSError, ValueError) as e:
            print("cloudrun: %s" % e, file=sys.stderr)
            sys.exit(2)
        sys.exit(0)
    for need in ("tls_cert", "tls_key", "tokens"):
        if not getattr(opts, need):
            ap.error("--%s is required" % need.replace("_", "-"))
    router = podrun.RegistryRouter(opts.registry_routes) if opts.registry_routes else None
    podman = podrun.Podman(opts.work_dir, opts.registry_cert_dir, router)
    store = Store(opts, podman)
    store.write_state()
    server = loopback.Server(("127.0.0.1", opts.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts.tls_cert, opts.tls_key)
    server.tls = ctx
    server.opts = opts
    server.discovery = gdiscovery.Discovery(opts.discovery)
    server.store = store
    server.runtime = Runtime(store)
    server.rules = faultrules.Rules(opts.rules, check_rules, empty_ok=True)
    podrun.serve_platform(server, podman, keep_work=bool(opts.work_dir))


if __name__ == "__main__":
    main()
