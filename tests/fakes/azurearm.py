#!/usr/bin/python3
"""Loopback fake of Azure Resource Manager for Container Instances (api-version
2023-05-01) and resource groups (2021-04-01), for the end-to-end tests
(tests/e2e/lib.sh: start_azure_arm, arm_count, arm_mutations). Debian's python3,
standard library only; runs what it is given with the podman CLI.

Requests are checked against the official swagger (--swagger: the ACI 2023-05-01
containerInstance.json) by a generic walker over its definitions (armswagger.py;
podman is driven through podrun.py): the request path
picks the swagger operation (path templates matched case-insensitively, as ARM
does), its declared query parameters are checked (api-version required and equal to
the spec's version) and the body is walked through $ref, allOf, properties,
required, additionalProperties, type, format int32, enum (matched case-insensitively
and stored in the spec's spelling, as ARM does), unknown members rejected, readOnly
members ignored. x-ms-client-flatten changes nothing on the wire: the "properties"
wrapper stays. Answers leave out x-ms-secret members (password, secureValue, ...).
A failing body is answered
  400 {"error":{"code":"InvalidRequestContent","target":"properties.osType",
       "message":"The request content was invalid and could not be deserialized:
       'Required property 'osType' not found in JSON. Path 'properties'.'"}}
(unknown member: "Could not find member 'x' on object of type 'T'. Path 'p'.";
wrong type or enum value: "Error converting value ... to type 'T'. Path 'p'.").
Beyond the schema, as ACI: LocationRequired, MissingIpAddressPorts,
InvalidContainerEnvironmentVariable (400). Resource groups use a small schema of
the same form (location required, tags string map).

Order of checks on every request: fault rules, bearer token, api-version,
subscription, resource group (404 ResourceGroupNotFound), body.

Behaviour (ARM's, as recorded from the real service):
  PUT  /subscriptions/S/resourcegroups/RG?api-version=2021-04-01 {"location","tags"}
       201 created / 200 updated {"id","name","type","location","tags",
       "properties":{"provisioningState":"Succeeded"}}; another location: 409
       InvalidResourceGroupLocation. GET 200|404, HEAD 204|404, DELETE 202 + Location
       (.../operationresults/ID: 202 then 200), removing its container groups.
  PUT  .../resourceGroups/RG/providers/Microsoft.ContainerInstance/containerGroups/N
       ?api-version=2023-05-01  201 (create) or 200 (update) with the resource
       (provisioningState "Pending", instanceView {"events":[],"state":"Pending"}),
       headers Azure-AsyncOperation: https://HOST/subscriptions/S/providers/
       Microsoft.ContainerInstance/locations/LOC/operations/ID?api-version=2018-06-01
       (HOST: the request's Host; the api-version is the one real ACI puts there)
       and Retry-After (--retry-after). The operation answers 200
       {"id": <resource id>, "status": "Pending" (while the image is pulled) |
       "InProgress" (while the container starts) | "Succeeded" | "Failed",
       "startTime", "endTime", "properties": {"events": []}, "error": {"code",
       "message"} when Failed}, non-terminal at least --min-polls times.
       An update whose osType, restartPolicy (default Always), a container's
       resources, sku, zones, subnetIds or location differ from the group's is 409
       InvalidContainerGroupUpdate "The updates on container group 'N' are invalid.
       If you are going to update the os type, restart policy, network profile, CPU,
       memory or GPU resources for a container group, you must delete it first and
       then create a new one." (location: 409 InvalidResourceLocation). Ports, image,
       env, command, dnsNameLabel and tags update in place: the running container is
       removed first (downtime), like ACI. Even an identical PUT restarts it, as ACI
       does. A PUT while an operation runs is 409 ContainerGroupTransitioning.
  GET  .../containerGroups/N  the resource: properties.provisioningState (Pending,
       Creating, Succeeded, Failed, Deleting), instanceView.state (Pending, Running,
       Succeeded, Failed), containers[].properties.instanceView {"restartCount",
       "currentState": {"state": "Waiting"|"Running"|"Terminated", "startTime",
       "exitCode", "finishTime", "detailStatus"}, "previousState", "events": [{"count",
       "firstTimestamp", "lastTimestamp", "name" (Pulling, Pulled, Failed, Created,
       Started, Killing, BackOff), "message", "type" (Normal|Warning)}]},
       ipAddress.ip 192.0.2.10 (TEST-NET: use the FQDN) and ipAddress.fqdn
       "{dnsNameLabel}.{location}.azurecontainer.io" (location lower-case, no spaces).
       Missing: 404 ResourceNotFound.
  DELETE .../containerGroups/N  202, Location (.../operationResults/ID: 202 then 204)
       and Azure-AsyncOperation (.../operations/ID); GET answers provisioningState
       "Deleting" until the container is gone, then 404. Absent group: 204.
  PATCH .../containerGroups/N {"tags"}  200 with the resource (tags replaced).
  GET  .../resourceGroups/RG/providers/Microsoft.ContainerInstance/containerGroups and
       /subscriptions/S/providers/Microsoft.ContainerInstance/containerGroups
       {"value": [...], "nextLink": ...&$skiptoken=K} in pages of --page-size.
  GET  .../containerGroups/N/containers/C/logs?tail=K  {"content": "..."}.
  Other operations of the swagger: 501 NotImplementedInFake.

Running what it is given: after a PUT is accepted, a worker pulls each container's
image with `podman pull` under its own name (credentials: the
imageRegistryCredentials entry whose server is the image's registry host, through a
private auth file; TLS verified with --registry-cert-dir, plain HTTP refused as ACI
refuses it). A registry name such as myacr.azurecr.io is reached through podrun's
CONNECT proxy as the --registry-routes file says (lines HOST=127.0.0.1:PORT,
re-read on every pull; TLS still checks HOST); 127.0.0.1:PORT registries are
reached directly. A failed pull ends the
operation Failed with InaccessibleImage and a Failed event. Each container is then
created (`podman create`, env from value/secureValue through a private env file,
command as the entrypoint, the ipAddress ports that a container exposes published on
127.0.0.1: the group's first public port on --app-port when it is free, else on a
free port) and started; the operation succeeds once every container has started.
The fake applies restartPolicy itself: a container that exits is Terminated
(exitCode, detailStatus Completed|Error); with Always, or OnFailure and a non-zero
exit, it shows Waiting "CrashLoopBackOff: Back-off restarting failed container"
(previousState Terminated, BackOff event) and restarts after a back-off
(--restart-backoff-ms, doubling, at most 5 s), restartCount counting.
Containers carry the label io.mldeploy.fake=azurearm; DELETE, an update and the
fake's end (SIGTERM, or its parent's exit) remove them.

--state FILE is rewritten after every change: {"groups": [{"id", "resourceGroup",
"name", "fqdn", "ports": {"CONTAINER_PORT": HOST_PORT}, "containers": {"NAME":
"PODMAN_NAME"}, "provisioningState", "state"}]}.

Authentication: every request needs "Authorization: Bearer TOKEN" with TOKEN one of
the lines of --tokens (re-read on every request); else 401 AuthenticationFailed
(no header) or InvalidAuthenticationToken, with WWW-Authenticate. A token that is a
JWT is also checked like ARM does: exp in the past is 401
ExpiredAuthenticationToken, an aud other than management.azure.com's or
management.core.windows.net's is 401 InvalidAuthenticationTokenAudience.
--subscription S (repeatable) limits the subscriptions (others: 404
SubscriptionNotFound).

Faults come from a JSON rules file (--rules) re-read on every request, like the
rig's fault proxy: a list of objects
  {"method": "PUT", "path_regex": "/containerGroups/", "nth": 1, "action": "status",
   "code": 429, "retry_after": 2}
  method, path_regex (re.search on path?query), nth (N, [N...] or "every"; default
  1; counts start again when the file changes), comment: as the fault proxy's;
  action:
    "status"  answer "code" with ARM's error body; "error_code" (default by code:
              429 TooManyRequests, 500 InternalServerError, 503 ServiceUnavailable,
              409 Conflict, 400 BadRequest, 404 NotFound, 401 AuthenticationFailed,
              403 AuthorizationFailed, else Error), "message", "retry_after"
              (seconds), "headers" (object of strings)
    "quota"   ContainerGroupQuotaReached, "Resource type 'Microsoft.ContainerInstance/
              containerGroups' container group quota 'StandardCores' exceeded in
              region 'LOC'. Limit: '10', Usage: '10' Requested: '1'." with "code"
              400 (default, as observed) or 409
    "fail_operation"  the request is served, but the operation it starts ends
              Failed with "error_code" (default InternalServerError) and "message"
    "reset"   close the connection with an RST without answering (nothing done)
    "delay_ms"  sleep "ms" first (other rules still apply)
  Unknown keys or values are errors (--check-rules FILE validates and exits 0 or 2).

--log FILE: one compact JSON line per request, written before the answer goes out:
  {"method":"PUT","path":"/subscriptions/...","query":"api-version=2023-05-01",
   "status":201,"mutating":true,"changed":true,"code":null|"ErrorCode",
   "fault":null|"status:N"|"quota:N"|"fail_operation"|"reset"|"bad_rules",
   "auth":"none"|"bearer"|"other","t":..}  (status "reset" when reset)
mutating: the method writes (PUT, PATCH, POST, DELETE); changed: the fake's state
changed. The token, bodies and secrets are never logged.

Prints the bound port on stdout; exits (removing its containers) when its parent
does or on SIGTERM.

usage: azurearm.py --tls-cert CRT --tls-key KEY --tokens FILE --log FILE
                   [--rules FILE] [--state FILE] [--swagger FILE] [--port N]
                   [--app-port N] [--registry-routes FILE]
                   [--registry-cert-dir DIR] [--subscription S]... [--page-size N]
                   [--retry-after S] [--min-polls N] [--restart-backoff-ms MS]
                   [--work-dir DIR]
       azurearm.py --swagger FILE --validate BODY.json   (prints ok or the error)
       azurearm.py --swagger FILE --check-example EXAMPLE.json
       azurearm.py --check-rules FILE
"""
import argparse
import base64
import datetime
import json
import os
import re
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

import armswagger
import faultrules
import loopback
import podrun

ACI_VERSION = "2023-05-01"
ACI_OP_VERSION = "2018-06-01"   # what real ACI writes into Azure-AsyncOperation
RG_VERSION = "2021-04-01"
PROVIDER = "Microsoft.ContainerInstance"
CG_TYPE = PROVIDER + "/containerGroups"
ARM_AUDIENCES = {"https://management.azure.com/", "https://management.azure.com",
                 "https://management.core.windows.net/", "https://management.core.windows.net"}
PUBLIC_IP = "192.0.2.10"
WRITE_METHODS = {"PUT", "PATCH", "POST", "DELETE"}
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_ERROR_CODES = {400: "BadRequest", 401: "AuthenticationFailed",
                       403: "AuthorizationFailed", 404: "NotFound", 409: "Conflict",
                       429: "TooManyRequests", 500: "InternalServerError",
                       503: "ServiceUnavailable"}
UPDATE_MESSAGE = ("The updates on container group '%s' are invalid. If you are going to "
                  "update the os type, restart policy, network profile, CPU, memory or GPU "
                  "resources for a container group, you must delete it first and then "
                  "create a new one.")

# Resource groups are not in the ACI swagger: their body in the same form.
RG_DEFINITIONS = {
    "ResourceGroup": {
        "type": "object",
        "required": ["location"],
        "properties": {
            "id": {"type": "string", "readOnly": True},
            "name": {"type": "string", "readOnly": True},
            "type": {"type": "string", "readOnly": True},
            "properties": {"type": "object", "properties": {
                "provisioningState": {"type": "string", "readOnly": True}}},
            "location": {"type": "string"},
            "managedBy": {"type": "string"},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
}


class ArmError(Exception):
    """An answer other than success: status, ARM error code and message."""

    def __init__(self, status, code, message, target=None, headers=()):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.target, self.headers = target, list(headers)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def norm_location(loc):
    return re.sub(r"\s+", "", loc).lower()


def aci_semantics(body, name):
    """What ACI checks beyond the schema (codes and messages as the service words them)."""
    if not body.get("location"):
        raise ArmError(400, "LocationRequired",
                       "The location property is required for this definition.")
    props = body["properties"]
    for c in props.get("containers", []):
        for env in c["properties"].get("environmentVariables", []):
            if not ENV_NAME.match(env["name"]):
                raise ArmError(400, "InvalidContainerEnvironmentVariable",
                               "The environment variable name in container '%s' of container "
                               "group '%s' is invalid. A valid environment variable name must "
                               "start with alphabetic character or '_', followed by a string of "
                               "alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  "
                               "or 'MyName')." % (c["name"], name))
    ip = props.get("ipAddress")
    if ip is not None and not ip.get("ports"):
        raise ArmError(400, "MissingIpAddressPorts",
                       "The ports in the 'ipAddress' of container group '%s' cannot be empty."
                       % name)


def rg_not_found(name):
    return ArmError(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % name)


def immutable_view(body):
    """What ACI cannot update in place."""
    props = body["properties"]
    return {
        "osType": props.get("osType"),
        "restartPolicy": props.get("restartPolicy", "Always"),
        "sku": props.get("sku", "Standard"),
        "subnetIds": props.get("subnetIds"),
        "zones": body.get("zones"),
        "resources": {c["name"]: c["properties"].get("resources")
                      for c in props.get("containers", [])},
    }


# ------------------------------------------------------------------ fault rules

RULE_ACTIONS = {
    "status": ({"code"}, {"retry_after", "headers", "error_code", "message"}),
    "quota": (set(), {"code"}),
    "fail_operation": (set(), {"error_code", "message"}),
    "reset": (set(), set()),
    "delay_ms": ({"ms"}, set()),
}


def check_action(r, where):
    action = r["action"]
    if action == "status":
        faultrules.check_status(r, where)
    if action == "quota" and r.get("code", 400) not in (400, 409):
        raise ValueError("%s: a quota answer's code is 400 or 409" % where)
    for key in ("error_code", "message"):
        if key in r and not isinstance(r[key], str):
            raise ValueError("%s: %s must be a string" % (where, key))
    if action == "delay_ms" and (not faultrules.is_int(r["ms"]) or r["ms"] < 0):
        raise ValueError("%s: ms must be a number >= 0" % where)


def check_rules(data):
    return faultrules.check_rules(data, RULE_ACTIONS, check_action)


# ------------------------------------------------------------------ state

class Operation:
    def __init__(self, resource_id, kind, min_polls):
        self.id = str(uuid.uuid4())
        self.resource_id = resource_id
        self.kind = kind  # create, update, delete, rgdelete
        self.status = "Pending"
        self.start = now_iso()
        self.end = None
        self.error = None
        self.polls_left = min_polls
        self.location = "westus"
        self.fail_with = None  # (code, message) from a fail_operation rule

    def finish(self, status, error=None):
        if self.fail_with and status == "Succeeded":
            status, error = "Failed", {"code": self.fail_with[0], "message": self.fail_with[1]}
        self.status, self.error, self.end = status, error, now_iso()

    def view(self):
        status = self.status
        if status in ("Succeeded", "Failed", "Canceled") and self.polls_left > 0:
            self.polls_left -= 1
            status = "InProgress"
        elif status not in ("Succeeded", "Failed", "Canceled"):
            self.polls_left -= 1
        doc = {"id": self.resource_id, "status": status, "startTime": self.start,
               "properties": {"events": []}}
        if status in ("Succeeded", "Failed", "Canceled"):
            doc["endTime"] = self.end
        if status == "Failed" and self.error:
            doc["error"] = self.error
        return doc

    def done(self):
        return self.status in ("Succeeded", "Failed", "Canceled") and self.polls_left <= 0


class ContainerRun:
    """One container of a group as the fake runs it."""

    def __init__(self, name, podman_name):
        self.name = name
        self.podman_name = podman_name
        self.restart_count = 0
        self.current = None
        self.previous = None
        self.events = []
        self.ports = {}

    def event(self, name, message, kind="Normal"):
        t = now_iso()
        last = self.events[-1] if self.events else None
        if last and last["name"] == name and last["message"] == message:
            self.events[-1]["count"] += 1
            self.events[-1]["lastTimestamp"] = t
            return
        self.events.append({"count": 1, "firstTimestamp": t, "lastTimestamp": t, "name": name,
                            "message": message, "type": kind})

    def view(self):
        doc = {"restartCount": self.restart_count, "events": list(self.events)}
        if self.current:
            doc["currentState"] = dict(self.current)
        if self.previous:
            doc["previousState"] = dict(self.previous)
        return doc


class Group:
    def __init__(self, sub, rg, name, body):
        self.sub, self.rg, self.name = sub, rg, name
        self.body = body
        self.location = norm_location(body["location"])
        self.id = "/subscriptions/%s/resourceGroups/%s/providers/%s/%s" % (sub, rg, CG_TYPE, name)
        self.provisioning = "Pending"
        self.state = "Pending"
        self.gen = 0
        self.runs = {}
        self.op = None
        self.deleting = False


class Store:
    def __init__(self, opts, swagger, podman):
        self.opts = opts
        self.swagger = swagger
        self.podman = podman
        self.lock = threading.RLock()
        self.rgs = {}
        self.groups = {}
        self.ops = {}
        self.rg_ops = {}
        self.claimed_ports = {}  # host port -> group key

    # ---- bookkeeping
    def write_state(self):
        if not self.opts.state:
            return
        with self.lock:
            groups = []
            for g in self.groups.values():
                ports, names = {}, {}
                for run in g.runs.values():
                    names[run.name] = run.podman_name
                    for c, h in run.ports.items():
                        ports[str(c)] = h
                groups.append({"id": g.id, "resourceGroup": g.rg, "name": g.name,
                               "fqdn": fqdn_of(g), "ports": ports, "containers": names,
                               "provisioningState": g.provisioning, "state": g.state})
            doc = {"groups": groups}
        tmp = self.opts.state + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, self.opts.state)

    def host_port(self, key, first):
        """A host port for a published container port of group key: --app-port for
        the group's first public port when it is free, else a free one."""
        with self.lock:
            if first and self.opts.app_port and self.opts.app_port not in self.claimed_ports \
                    and podrun.port_free(self.opts.app_port):
                self.claimed_ports[self.opts.app_port] = key
                return self.opts.app_port
            while True:
                p = podrun.free_port()
                if p not in self.claimed_ports:
                    self.claimed_ports[p] = key
                    return p

    def release_ports(self, key):
        with self.lock:
            for p in [p for p, k in self.claimed_ports.items() if k == key]:
                del self.claimed_ports[p]


def fqdn_of(g):
    label = (g.body["properties"].get("ipAddress") or {}).get("dnsNameLabel")
    return "%s.%s.azurecontainer.io" % (label, g.location) if label else None


# ------------------------------------------------------------------ the runtime

class Countdown:
    """Set once every container has had its first start (failed ones listed)."""

    def __init__(self, n):
        self.left = n
        self.failed = []
        self.cond = threading.Condition()

    def arrive(self, name, ok):
        with self.cond:
            self.left -= 1
            if not ok:
                self.failed.append(name)
            self.cond.notify_all()

    def wait(self, timeout):
        with self.cond:
            self.cond.wait_for(lambda: self.left <= 0, timeout)


class Runtime:
    """Pulls, creates, starts and watches the containers of one group generation."""

    def __init__(self, store):
        self.store = store
        self.podman = store.podman

    def stale(self, g, gen):
        return g.gen != gen or g.deleting

    def teardown(self, g):
        names = [r.podman_name for r in g.runs.values()]
        for r in g.runs.values():
            if r.current and r.current.get("state") == "Running":
                r.event("Killing", "Killing container %s" % r.name)
        self.podman.remove(names)

    def provision(self, g, gen, op):
        store = self.store
        key = (g.sub.lower(), g.rg.lower(), g.name.lower())
        body = g.body
        props = body["properties"]
        with store.lock:
            old = dict(g.runs)
        if old:
            self.podman.remove([r.podman_name for r in old.values()])
        store.release_ports(key)
        runs = {}
        public = [p["port"] for p in (props.get("ipAddress") or {}).get("ports", [])]
        first_public = public[0] if public else None
        creds = props.get("imageRegistryCredentials", [])
        base = re.sub(r"[^a-zA-Z0-9_.-]", "-", "aci-%s-%s" % (g.rg, g.name))[:60]
        for i, c in enumerate(props["containers"]):
            pname = "%s-%s-g%d" % (base, re.sub(r"[^a-zA-Z0-9_.-]", "-", c["name"]), gen)
            run = ContainerRun(c["name"], pname)
            prev = old.get(c["name"])
            if prev:
                run.events = prev.events
            runs[c["name"]] = run
        with store.lock:
            if self.stale(g, gen):
                return
            g.runs = runs
            g.provisioning = "Pending"
            g.state = "Pending"
        store.write_state()
        # pull every image first, as ACI does before it starts anything
        for c in props["containers"]:
            run = runs[c["name"]]
            image = c["properties"]["image"]
            ref, host = self.registry_of(image)
            cred = None
            for rc in creds:
                if rc["server"].lower() == host.lower() and rc.get("username") is not None:
                    cred = (host, rc["username"], rc.get("password", ""))
                    break
            with store.lock:
                run.event("Pulling", 'pulling image "%s"' % image)
            why = self.podman.pull(ref, cred)
            with store.lock:
                if self.stale(g, gen):
                    return
                if why:
                    run.event("Failed", 'Failed to pull image "%s": %s' % (image, why), "Warning")
                    run.current = {"state": "Waiting", "detailStatus": "ErrImagePull"}
                    g.provisioning = "Failed"
                    g.state = "Failed"
                    op.finish("Failed", {
                        "code": "InaccessibleImage",
                        "message": "The image '%s' in container group '%s' is not accessible. "
                                   "Please check the image and registry credential."
                                   % (image, g.name)})
                    store.write_state()
                    return
                run.event("Pulled", 'Successfully pulled image "%s"' % image)
        with store.lock:
            if self.stale(g, gen):
                return
            g.provisioning = "Creating"
            op.status = "InProgress"
        for c in props["containers"]:
            run = runs[c["name"]]
            cp = c["properties"]
            exposed = [p["port"] for p in cp.get("ports", [])]
            publish = []
            for port in public:
                if port in exposed:
                    hp = store.host_port(key, port == first_public)
                    publish.append((port, hp))
                    run.ports[port] = hp
            env = []
            for e in cp.get("environmentVariables", []):
                env.append((e["name"], e.get("value", e.get("secureValue", ""))))
            ref, _ = self.registry_of(cp["image"])
            why = self.podman.create(run.podman_name, ref, env, cp.get("command") or None, publish,
                                     {"io.mldeploy.fake": "azurearm",
                                      "io.mldeploy.arm.group": g.id[:200]})
            with store.lock:
                stale = self.stale(g, gen)
            if stale:
                self.podman.remove([run.podman_name])
                return
            with store.lock:
                if why:
                    run.event("Failed", "Error: failed to create container: %s" % why, "Warning")
                    g.provisioning = "Failed"
                    g.state = "Failed"
                    op.finish("Failed", {"code": "ContainerGroupDeploymentFailed",
                                         "message": "container '%s': %s" % (c["name"], why)})
                    store.write_state()
                    return
                run.event("Created", "Created container %s" % c["name"])
        store.write_state()
        started = Countdown(len(runs))
        for run in runs.values():
            threading.Thread(target=self.supervise, args=(g, gen, run, started),
                             daemon=True).start()
        started.wait(120)
        with store.lock:
            if self.stale(g, gen):
                return
            if started.failed:
                g.provisioning = "Failed"
                op.finish("Failed", {"code": "ContainerGroupDeploymentFailed",
                                     "message": "container '%s' of container group '%s' could "
                                                "not be started." % (started.failed[0], g.name)})
            else:
                g.provisioning = "Succeeded"
                op.finish("Succeeded")
        store.write_state()

    @staticmethod
    def registry_of(image):
        """(the reference podman pulls, its registry host)"""
        first, sep, _ = image.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            return image, first
        return "docker.io/" + image, "docker.io"

    def supervise(self, g, gen, run, started):
        store = self.store
        policy = g.body["properties"].get("restartPolicy", "Always")
        backoff = store.opts.restart_backoff_ms / 1000.0
        first = True
        while True:
            rc, _, err = self.podman.run(["start", run.podman_name], timeout=120)
            t0 = now_iso()
            with store.lock:
                if self.stale(g, gen):
                    break
                if rc != 0:
                    reason = (err.strip().splitlines() or ["podman start failed"])[-1]
                    run.event("Failed", "Error: failed to start container: %s" % reason, "Warning")
                    run.current = {"state": "Terminated", "exitCode": 128, "startTime": t0,
                                   "finishTime": t0, "detailStatus": "StartError"}
                    exit_code = 128
                else:
                    run.event("Started", "Started container")
                    run.current = {"state": "Running", "startTime": t0, "detailStatus": ""}
                    g.state = "Running"
            store.write_state()
            if first:
                first = False
                started.arrive(run.name, rc == 0)
            if rc == 0:
                wrc, out, _ = self.podman.run(["wait", run.podman_name], timeout=None)
                try:
                    exit_code = int(out.strip().splitlines()[-1]) if wrc == 0 else None
                except (ValueError, IndexError):
                    exit_code = None
                if exit_code is None:  # removed under us
                    break
            t1 = now_iso()
            with store.lock:
                if self.stale(g, gen):
                    break
                start_time = (run.current or {}).get("startTime", t0)
                term = {"state": "Terminated", "exitCode": exit_code, "startTime": start_time,
                        "finishTime": t1,
                        "detailStatus": "Completed" if exit_code == 0 else "Error"}
                again = policy == "Always" or (policy == "OnFailure" and exit_code != 0)
                if again:
                    run.previous = term
                    run.current = {"state": "Waiting", "detailStatus":
                                   "CrashLoopBackOff: Back-off restarting failed container"}
                    run.event("BackOff", "Back-off restarting failed container", "Warning")
                else:
                    run.current = term
                    others = [r for r in g.runs.values() if r is not run]
                    if all((r.current or {}).get("state") == "Terminated" for r in others):
                        failed = any((r.current or {}).get("exitCode") for r in g.runs.values())
                        g.state = "Failed" if failed else "Succeeded"
            store.write_state()
            if not again:
                break
            time.sleep(min(backoff, 5.0))
            backoff = min(backoff * 2, 5.0)
            with store.lock:
                if self.stale(g, gen):
                    break
                run.restart_count += 1

    def delete(self, g, op):
        store = self.store
        with store.lock:
            if op.fail_with:  # a fail_operation rule: the group stays
                g.deleting = False
                g.provisioning = "Succeeded"
                op.finish("Failed", {"code": op.fail_with[0], "message": op.fail_with[1]})
                return
            names = [r.podman_name for r in g.runs.values()]
        self.podman.remove(names)
        key = (g.sub.lower(), g.rg.lower(), g.name.lower())
        store.release_ports(key)
        with store.lock:
            if store.groups.get(key) is g:
                del store.groups[key]
            op.finish("Succeeded")
        store.write_state()


# ------------------------------------------------------------------ HTTP

log_lock = threading.Lock()


class Handler(loopback.Handler):
    server_version = "azurearm-fake"

    # ---- plumbing
    def setup_request(self):
        url = urllib.parse.urlsplit(self.path)
        self.raw_path, self.raw_query = url.path, url.query
        parsed = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        self.query = {k: v[-1] for k, v in parsed.items()}
        self.changed = False
        self.fault = None
        self.status_sent = None
        self.code_sent = None
        auth = self.headers.get("Authorization")
        if auth is None:
            self.auth_kind = "none"
        elif auth.lower().startswith("bearer "):
            self.auth_kind = "bearer"
        else:
            self.auth_kind = "other"
        self.body = self.read_body()

    def log_line(self, status):
        doc = {"method": self.command, "path": self.raw_path, "query": self.raw_query,
               "status": status, "mutating": self.command in WRITE_METHODS,
               "changed": self.changed, "code": self.code_sent, "fault": self.fault,
               "auth": self.auth_kind, "t": round(time.time(), 6)}
        line = json.dumps(doc, separators=(",", ":"))
        with log_lock:
            with open(self.server.opts.log, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def answer(self, status, doc=None, headers=()):
        body = b"" if doc is None else json.dumps(doc).encode()
        self.log_line(status)
        self.send_response(status)
        rid = str(uuid.uuid4())
        self.send_header("Cache-Control", "no-cache")
        self.send_header("x-ms-request-id", rid)
        self.send_header("x-ms-correlation-request-id",
                         self.headers.get("x-ms-correlation-request-id") or rid)
        if self.command in WRITE_METHODS:
            self.send_header("x-ms-ratelimit-remaining-subscription-writes", "1199")
        else:
            self.send_header("x-ms-ratelimit-remaining-subscription-reads", "11999")
        for k, v in headers:
            self.send_header(k, v)
        if doc is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def error(self, e):
        self.code_sent = e.code
        err = {"code": e.code, "message": e.message}
        if e.target:
            err["target"] = e.target
        self.answer(e.status, {"error": err}, e.headers)

    def base(self):
        host = self.headers.get("Host") or "management.azure.com"
        return "https://" + host

    # ---- entry
    def handle_any(self):
        self.setup_request()
        target = self.raw_path + ("?" + self.raw_query if self.raw_query else "")
        self.fail_with = None
        try:
            try:
                fired = self.server.rules.fire(self.command, target)
            except ValueError as e:
                self.fault = "bad_rules"
                raise ArmError(500, "InternalServerError", "fake: %s" % e)
            for rule in fired:
                if rule["action"] == "delay_ms":
                    time.sleep(rule["ms"] / 1000.0)
            for rule in fired:
                act = rule["action"]
                if act == "delay_ms":
                    continue
                if act == "reset":
                    self.fault = "reset"
                    self.log_line("reset")
                    self.reset_connection()
                    return
                if act == "status":
                    code = rule["code"]
                    self.fault = "status:%d" % code
                    hdrs = list(rule.get("headers", {}).items())
                    if "retry_after" in rule:
                        hdrs.append(("Retry-After", str(rule["retry_after"])))
                    default = DEFAULT_ERROR_CODES.get(code, "Error")
                    raise ArmError(code, rule.get("error_code", default),
                                   rule.get("message", "fake: injected status %d" % code),
                                   headers=hdrs)
                if act == "quota":
                    code = rule.get("code", 400)
                    self.fault = "quota:%d" % code
                    loc = "westus"
                    try:
                        loc = norm_location(json.loads(self.body or b"{}").get("location") or loc)
                    except (ValueError, AttributeError):
                        pass
                    raise ArmError(code, "ContainerGroupQuotaReached",
                                   "Resource type 'Microsoft.ContainerInstance/containerGroups' "
                                   "container group quota 'StandardCores' exceeded in region '%s'. "
                                   "Limit: '10', Usage: '10' Requested: '1'." % loc)
                if act == "fail_operation":
                    self.fault = "fail_operation"
                    self.fail_with = (rule.get("error_code", "InternalServerError"),
                                      rule.get("message", "fake: the operation failed"))
            self.authenticate()
            self.resolve()
        except ArmError as e:
            self.error(e)
        except armswagger.Invalid as e:
            self.error(ArmError(400, "InvalidRequestContent", e.message, e.target))
        except Exception as e:  # a bug in the fake: say so, keep serving
            traceback.print_exc()
            self.error(ArmError(500, "InternalServerError", "fake: %s: %s" % (type(e).__name__, e)))

    route = handle_any  # loopback.Handler sends every method here

    @staticmethod
    def unauthorized(code, message, why):
        www = ('Bearer authorization_uri="https://login.microsoftonline.com/common", '
               'error="invalid_token", error_description="%s"' % why)
        return ArmError(401, code, message, headers=[("WWW-Authenticate", www)])

    def authenticate(self):
        auth = self.headers.get("Authorization")
        if not auth:
            raise self.unauthorized(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                "The authentication failed because of missing 'Authorization' header.")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise self.unauthorized(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is provided in an invalid "
                "format.",
                "The authentication failed because of invalid 'Authorization' header.")
        try:
            with open(self.server.opts.tokens, encoding="utf-8") as f:
                accepted = {line.strip() for line in f if line.strip()}
        except OSError:
            accepted = set()
        if token not in accepted:
            raise self.unauthorized("InvalidAuthenticationToken", "The access token is invalid.",
                                    "The access token is invalid.")
        parts = token.split(".")
        claims = None
        if len(parts) == 3:
            try:
                claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            except ValueError:
                pass
        if not isinstance(claims, dict):
            return
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp < time.time():
            shown = "%m/%d/%Y %I:%M:%S %p"
            t_exp = datetime.datetime.fromtimestamp(exp, datetime.timezone.utc).strftime(shown)
            t_now = datetime.datetime.now(datetime.timezone.utc).strftime(shown)
            raise self.unauthorized(
                "ExpiredAuthenticationToken",
                "The access token expiry UTC time '%s' is earlier than current UTC time '%s'."
                % (t_exp, t_now), "The access token has expired.")
        aud = claims.get("aud")
        if aud is not None and aud not in ARM_AUDIENCES:
            raise self.unauthorized(
                "InvalidAuthenticationTokenAudience",
                "The access token has been obtained for wrong audience or resource '%s'. It "
                "should exactly match with one of the allowed audiences "
                "'https://management.core.windows.net/','https://management.core.windows.net',"
                "'https://management.azure.com/','https://management.azure.com'." % aud,
                "The access token has been obtained for wrong audience.")

    # ---- routing
    def resolve(self):
        path = re.sub(r"/+$", "", self.raw_path) or "/"
        p = path.split("/")
        low = [x.lower() for x in p]
        # /subscriptions/S/resourcegroups/RG
        if len(p) == 5 and low[1] == "subscriptions" and low[3] == "resourcegroups":
            return self.resource_group(urllib.parse.unquote(p[2]), urllib.parse.unquote(p[4]))
        # /subscriptions/S/operationresults/ID (resource group deletion)
        if len(p) == 5 and low[1] == "subscriptions" and low[3] == "operationresults":
            self.need_version([RG_VERSION])
            return self.rg_operation(p[4])
        # /subscriptions/S/providers/Microsoft.ContainerInstance/locations/L/operations[Results]/ID
        if len(p) == 9 and low[1] == "subscriptions" and low[3] == "providers" and \
                low[4] == PROVIDER.lower() and low[5] == "locations" and \
                low[7] in ("operations", "operationresults"):
            self.need_version([ACI_OP_VERSION, ACI_VERSION])
            return self.operation(p[8], low[7] == "operationresults")
        sw = self.server.swagger
        op, params = sw.match(self.command, path)
        if op is False:
            raise ArmError(405, "HttpMethodNotSupported",
                           "The requested method '%s' is not supported for the resource."
                           % self.command)
        if op is None:
            code = "InvalidResourceType" if PROVIDER.lower() in path.lower() else "NotFound"
            raise ArmError(404, code,
                           "The resource type could not be found for '%s'." % path[:200])
        self.need_version([sw.version])
        sub = params.get("subscriptionId")
        self.check_subscription(sub)
        rg = params.get("resourceGroupName")
        if rg is not None and "/virtualnetworks/" not in path.lower():
            self.need_rg(sub, rg)
        sw.check_query(op, self.query)
        body = None
        bp = sw.body_schema(op)
        if bp is not None:
            body = self.parse_body(bp.get("required", False))
            if body is not None:
                body = sw.schema.check(body, bp["schema"])
        handler = getattr(self, "op_" + op["operationId"], None)
        if handler is None:
            raise ArmError(501, "NotImplementedInFake",
                           "The fake ARM does not implement %s." % op["operationId"])
        return handler(params, body)

    def need_version(self, accepted):
        v = self.query.get("api-version")
        if v is None:
            raise ArmError(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for "
                           "all requests.")
        if v not in accepted:
            raise ArmError(400, "InvalidApiVersionParameter",
                           "The api-version '%s' is invalid. The supported versions are '%s'."
                           % (v[:50], ",".join(accepted)))

    def check_subscription(self, sub):
        subs = self.server.opts.subscription
        if subs and sub.lower() not in {s.lower() for s in subs}:
            raise ArmError(404, "SubscriptionNotFound",
                           "The subscription '%s' could not be found." % sub)

    def need_rg(self, sub, rg):
        store = self.server.store
        with store.lock:
            if (sub.lower(), rg.lower()) not in store.rgs:
                raise rg_not_found(rg)

    def parse_body(self, required):
        if not self.body:
            if required:
                raise ArmError(400, "InvalidRequestContent",
                               "The request content was invalid and could not be deserialized: "
                               "'the request body is empty.'")
            return None
        ctype = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            raise ArmError(415, "UnsupportedMediaType",
                           "The content media type '%s' is not supported. Only 'application/json' "
                           "is supported." % ctype[:100])
        try:
            doc = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ArmError(400, "InvalidRequestContent",
                           "The request content was invalid and could not be deserialized: '%s'."
                           % e)
        return doc

    # ---- resource groups
    def rg_view(self, rg):
        doc = {"id": "/subscriptions/%s/resourceGroups/%s" % (rg["sub"], rg["name"]),
               "name": rg["name"], "type": "Microsoft.Resources/resourceGroups",
               "location": rg["location"], "properties": {"provisioningState": rg["state"]}}
        if rg.get("tags") is not None:
            doc["tags"] = rg["tags"]
        if rg.get("managedBy"):
            doc["managedBy"] = rg["managedBy"]
        return doc

    def resource_group(self, sub, name):
        store = self.server.store
        self.need_version([RG_VERSION])
        self.check_subscription(sub)
        key = (sub.lower(), name.lower())
        if self.command in ("GET", "HEAD"):
            with store.lock:
                rg = store.rgs.get(key)
                if rg is None:
                    if self.command == "HEAD":
                        return self.answer(404)
                    raise rg_not_found(name)
                view = self.rg_view(rg)
            if self.command == "HEAD":
                return self.answer(204)
            return self.answer(200, view)
        if self.command == "PUT":
            body = self.parse_body(True)
            body = self.server.swagger.schema.check(body, {"$ref": "#/definitions/ResourceGroup"})
            loc = norm_location(body["location"])
            with store.lock:
                rg = store.rgs.get(key)
                if rg is not None and rg["state"] == "Deleting":
                    raise ArmError(409, "ResourceGroupBeingDeleted",
                                   "The resource group '%s' is in deprovisioning state and cannot "
                                   "perform this operation." % rg["name"])
                if rg is not None and rg["location"] != loc:
                    raise ArmError(409, "InvalidResourceGroupLocation",
                                   "Invalid resource group location '%s'. The Resource group "
                                   "already exists in location '%s'." % (loc, rg["location"]))
                created = rg is None
                if created:
                    rg = {"sub": sub, "name": name, "location": loc, "state": "Succeeded"}
                    store.rgs[key] = rg
                rg["tags"] = body.get("tags", {})
                if "managedBy" in body:
                    rg["managedBy"] = body["managedBy"]
                self.changed = True
                view = self.rg_view(rg)
            return self.answer(201 if created else 200, view)
        if self.command == "DELETE":
            with store.lock:
                rg = store.rgs.get(key)
                if rg is None:
                    raise rg_not_found(name)
                rg["state"] = "Deleting"
                op = Operation(self.rg_view(rg)["id"], "rgdelete", self.server.opts.min_polls)
                store.rg_ops[op.id] = op
                groups = [g for k, g in store.groups.items() if k[:2] == key]
                for g in groups:
                    g.deleting = True
                    g.provisioning = "Deleting"
                self.changed = True
            threading.Thread(target=self.delete_rg, args=(key, groups, op), daemon=True).start()
            url = "%s/subscriptions/%s/operationresults/%s?api-version=%s" % (
                self.base(), sub, op.id, RG_VERSION)
            return self.answer(202, None, [("Location", url),
                                           ("Retry-After", str(self.server.opts.retry_after))])
        raise ArmError(405, "HttpMethodNotSupported",
                       "The requested method '%s' is not supported for resource groups."
                       % self.command)

    def delete_rg(self, key, groups, op):
        store = self.server.store
        rt = self.server.runtime
        for g in groups:
            rt.delete(g, Operation(g.id, "delete", 0))
        with store.lock:
            store.rgs.pop(key, None)
            op.finish("Succeeded")

    def rg_operation(self, op_id):
        store = self.server.store
        with store.lock:
            op = store.rg_ops.get(op_id)
            if op is None:
                raise ArmError(404, "NotFound", "The operation '%s' was not found." % op_id[:100])
            view = op.view()
        if view["status"] in ("Succeeded", "Failed"):
            return self.answer(200)
        return self.answer(202, None, [("Retry-After", str(self.server.opts.retry_after)),
                                      ("Location", self.base() + self.path)])

    # ---- operations
    def operation(self, op_id, results):
        store = self.server.store
        with store.lock:
            op = store.ops.get(op_id)
            if op is None:
                raise ArmError(404, "NotFound", "The operation '%s' was not found." % op_id[:100])
            view = op.view()
        hdrs = []
        if view["status"] not in ("Succeeded", "Failed", "Canceled"):
            hdrs.append(("Retry-After", str(self.server.opts.retry_after)))
        if results:
            if view["status"] not in ("Succeeded", "Failed", "Canceled"):
                return self.answer(202, None, hdrs + [("Location", self.base() + self.path)])
            if view["status"] == "Failed":
                raise ArmError(400 if op.error["code"] != "InternalServerError" else 500,
                               op.error["code"], op.error["message"])
            return self.answer(204)
        return self.answer(200, view, hdrs)

    def op_headers(self, g, op, delete=False):
        base = "%s/subscriptions/%s/providers/%s/locations/%s" % (
            self.base(), g.sub, PROVIDER, g.location)
        hdrs = [("Azure-AsyncOperation",
                 "%s/operations/%s?api-version=%s" % (base, op.id, ACI_OP_VERSION)),
                ("Retry-After", str(self.server.opts.retry_after))]
        if delete:
            hdrs.append(("Location",
                         "%s/operationResults/%s?api-version=%s" % (base, op.id, ACI_OP_VERSION)))
        return hdrs

    # ---- container groups
    def group_view(self, g, listing=False):
        sw = self.server.swagger
        body = json.loads(json.dumps(g.body))
        props = body["properties"]
        out_props = dict(props)
        out_props["sku"] = props.get("sku", "Standard")
        out_props["provisioningState"] = g.provisioning
        out_props.setdefault("restartPolicy", "Always")
        out_props.setdefault("initContainers", [])
        for c in out_props["containers"]:
            c["properties"].setdefault("environmentVariables", [])
            run = g.runs.get(c["name"])
            if not listing:
                c["properties"]["instanceView"] = (run.view() if run else
                                                   {"restartCount": 0, "events": []})
        ip = out_props.get("ipAddress")
        if ip is not None:
            ip["ip"] = PUBLIC_IP
            if fqdn_of(g):
                ip["fqdn"] = fqdn_of(g)
        if not listing:
            out_props["instanceView"] = {"events": [], "state": g.state}
        doc = {"id": g.id, "name": g.name, "type": CG_TYPE, "location": g.location}
        for k in ("tags", "zones", "identity"):
            if k in body:
                doc[k] = body[k]
        doc["properties"] = out_props
        return sw.schema.render(doc, {"$ref": "#/definitions/ContainerGroup"})

    def group_key(self, params):
        return (params["subscriptionId"].lower(), params["resourceGroupName"].lower(),
                params["containerGroupName"].lower())

    def get_group(self, params):
        store = self.server.store
        g = store.groups.get(self.group_key(params))
        if g is None:
            raise ArmError(404, "ResourceNotFound",
                           "The Resource '%s/%s' under resource group '%s' was not found. For more "
                           "details please go to https://aka.ms/ARMResourceNotFoundFix"
                           % (CG_TYPE, params["containerGroupName"], params["resourceGroupName"]))
        return g

    def op_ContainerGroups_Get(self, params, body):
        store = self.server.store
        with store.lock:
            view = self.group_view(self.get_group(params))
        return self.answer(200, view)

    def op_ContainerGroups_CreateOrUpdate(self, params, body):
        store = self.server.store
        name = params["containerGroupName"]
        aci_semantics(body, name)
        key = self.group_key(params)
        with store.lock:
            g = store.groups.get(key)
            busy = g is not None and g.op is not None and g.op.status not in ("Succeeded", "Failed")
            if g is not None and (g.deleting or busy):
                raise ArmError(409, "ContainerGroupTransitioning",
                               "The container group '%s' is still transitioning, please retry "
                               "later." % g.name)
            if g is not None:
                if norm_location(body["location"]) != g.location:
                    raise ArmError(409, "InvalidResourceLocation",
                                   "The resource '%s' already exists in location '%s' in resource "
                                   "group '%s'. A resource with the same name cannot be created in "
                                   "location '%s'. Please select a new resource name."
                                   % (g.name, g.location, g.rg, norm_location(body["location"])))
                if immutable_view(body) != immutable_view(g.body):
                    raise ArmError(409, "InvalidContainerGroupUpdate", UPDATE_MESSAGE % g.name)
                created = False
                g.body = body
            else:
                g = Group(params["subscriptionId"], params["resourceGroupName"], name, body)
                store.groups[key] = g
                created = True
            g.gen += 1
            g.provisioning = "Pending"
            g.state = "Pending"
            op = Operation(g.id, "create" if created else "update", self.server.opts.min_polls)
            op.location = g.location
            op.fail_with = self.fail_with
            g.op = op
            store.ops[op.id] = op
            self.changed = True
            view = self.group_view(g)
            view["properties"]["instanceView"] = {"events": [], "state": "Pending"}
            gen = g.gen
        threading.Thread(target=self.server.runtime.provision, args=(g, gen, op),
                         daemon=True).start()
        return self.answer(201 if created else 200, view, self.op_headers(g, op))

    def op_ContainerGroups_Update(self, params, body):
        store = self.server.store
        with store.lock:
            g = self.get_group(params)
            if "tags" in body:
                g.body["tags"] = body["tags"]
                self.changed = True
            view = self.group_view(g)
        return self.answer(200, view)

    def op_ContainerGroups_Delete(self, params, body):
        store = self.server.store
        with store.lock:
            g = store.groups.get(self.group_key(params))
            if g is None:
                return self.answer(204)
            if g.deleting:
                op = g.op
            else:
                g.deleting = True
                g.provisioning = "Deleting"
                op = Operation(g.id, "delete", self.server.opts.min_polls)
                op.status = "InProgress"
                op.fail_with = self.fail_with
                g.op = op
                store.ops[op.id] = op
                self.changed = True
                threading.Thread(target=self.server.runtime.delete, args=(g, op),
                                 daemon=True).start()
        return self.answer(202, None, self.op_headers(g, op, delete=True))

    def list_groups(self, groups, route):
        size = self.server.opts.page_size
        try:
            skip = int(self.query.get("$skiptoken", "0"))
        except ValueError:
            raise ArmError(400, "InvalidRequestContent", "The $skiptoken is invalid.")
        groups = sorted(groups, key=lambda g: (g.rg.lower(), g.name.lower()))
        page = groups[skip:skip + size]
        doc = {"value": [self.group_view(g, listing=True) for g in page]}
        if skip + size < len(groups):
            doc["nextLink"] = "%s%s?api-version=%s&$skiptoken=%d" % (
                self.base(), route, ACI_VERSION, skip + size)
        return doc

    def op_ContainerGroups_List(self, params, body):
        store = self.server.store
        sub = params["subscriptionId"].lower()
        with store.lock:
            groups = [g for k, g in store.groups.items() if k[0] == sub]
            doc = self.list_groups(groups, self.raw_path)
        return self.answer(200, doc)

    def op_ContainerGroups_ListByResourceGroup(self, params, body):
        store = self.server.store
        sub, rg = params["subscriptionId"].lower(), params["resourceGroupName"].lower()
        with store.lock:
            groups = [g for k, g in store.groups.items() if k[:2] == (sub, rg)]
            doc = self.list_groups(groups, self.raw_path)
        return self.answer(200, doc)

    def op_Containers_ListLogs(self, params, body):
        store = self.server.store
        with store.lock:
            g = self.get_group(params)
            run = g.runs.get(params["containerName"])
            if run is None:
                raise ArmError(404, "ContainerNotFound",
                               "The container '%s' could not be found in container group '%s'."
                               % (params["containerName"], g.name))
            pname = run.podman_name
        args = ["logs"]
        if "tail" in self.query:
            args += ["--tail", str(int(self.query["tail"]))]
        if self.query.get("timestamps", "").lower() == "true":
            args.append("--timestamps")
        rc, out, err = self.server.podman.run(args + [pname], timeout=60)
        return self.answer(200, {"content": out + err if rc == 0 else ""})


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description="fake Azure Resource Manager for Container Instances")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--swagger", default=os.path.join(
        here, "..", "..", "..", "shared", "api-models", "azure-containerinstance-2023-05-01.json"))
    ap.add_argument("--validate", metavar="BODY", help="validate a container group body and exit")
    ap.add_argument("--check-example", metavar="EXAMPLE",
                    help="validate the swagger example's request")
    ap.add_argument("--check-rules", metavar="FILE", help="validate a rules file and exit")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tokens")
    ap.add_argument("--log")
    ap.add_argument("--rules")
    ap.add_argument("--state")
    ap.add_argument("--work-dir")
    ap.add_argument("--app-port", type=int, default=0)
    ap.add_argument("--registry-routes", metavar="FILE")
    ap.add_argument("--registry-cert-dir")
    ap.add_argument("--subscription", action="append", default=[])
    ap.add_argument("--page-size", type=int, default=2)
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--min-polls", type=int, default=1)
    ap.add_argument("--restart-backoff-ms", type=int, default=500)
    opts = ap.parse_args()

    if opts.check_rules:
        try:
            with open(opts.check_rules, encoding="utf-8") as f:
                check_rules(json.load(f))
        except (OSError, ValueError) as e:
            print("azurearm: %s" % e, file=sys.stderr)
            sys.exit(2)
        sys.exit(0)
    swagger = armswagger.Swagger(opts.swagger, RG_DEFINITIONS)
    if opts.validate or opts.check_example:
        if opts.validate:
            with open(opts.validate, encoding="utf-8") as f:
                body = json.load(f)
        else:
            with open(opts.check_example, encoding="utf-8") as f:
                body = json.load(f)["parameters"]["containerGroup"]
        op, _ = swagger.match(
            "PUT", "/subscriptions/s/resourceGroups/rg/providers/%s/containerGroups/cg" % PROVIDER)
        try:
            checked = swagger.schema.check(body, swagger.body_schema(op)["schema"])
            aci_semantics(checked, "cg")
        except (armswagger.Invalid, ArmError) as e:
            if isinstance(e, armswagger.Invalid):
                e = ArmError(400, "InvalidRequestContent", e.message, e.target)
            print(json.dumps({"status": e.status, "error": {"code": e.code, "message": e.message,
                                                           "target": e.target}}))
            sys.exit(1)
        print("ok")
        sys.exit(0)
    for need in ("tls_cert", "tls_key", "tokens", "log"):
        if not getattr(opts, need):
            ap.error("--%s is required" % need.replace("_", "-"))
    if opts.page_size < 1:
        ap.error("--page-size must be >= 1")

    router = podrun.RegistryRouter(opts.registry_routes) if opts.registry_routes else None
    podman = podrun.Podman(opts.work_dir, opts.registry_cert_dir, router)
    store = Store(opts, swagger, podman)
    store.write_state()
    server = loopback.Server(("127.0.0.1", opts.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts.tls_cert, opts.tls_key)
    server.tls = ctx
    server.opts = opts
    server.swagger = swagger
    server.store = store
    server.podman = podman
    server.runtime = Runtime(store)
    server.rules = faultrules.Rules(opts.rules, check_rules, empty_ok=True)

    podrun.serve_platform(server, podman, keep_work=bool(opts.work_dir))


if __name__ == "__main__":
    main()
