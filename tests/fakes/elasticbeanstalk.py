#!/usr/bin/env python3
"""Loopback fake of AWS Elastic Beanstalk (Query API 2010-12-01) for the end-to-end
tests (tests/e2e/lib-aws.sh: start_beanstalk, beanstalk_count, beanstalk_mutations,
beanstalk_rules, beanstalk_show). Runs under the python3 that has botocore and boto3
(pyenv), since it reads botocore's service model and talks to moto; it runs what it
is given with the podman CLI (podrun.py).

Every request is checked against botocore's elasticbeanstalk service model
(botocore/data/elasticbeanstalk/2010-12-01/service-2.json.gz): a GET query or a
form POST (application/x-www-form-urlencoded) with Action (an operation of the
model) and Version=2010-12-01; the parameters are walked through the input shape:
structures as Name.Member, lists as Name.member.N (N from 1, no gaps), required
members, string lengths, enums, integers (min/max), booleans (true|false) and
timestamps (ISO 8601); a parameter the shape does not have is refused. Failures
are AWS's XML errors, HTTP 400:
  <ErrorResponse xmlns="http://elasticbeanstalk.amazonaws.com/docs/2010-12-01/">
    <Error><Type>Sender</Type><Code>InvalidParameterValue</Code><Message>..
    </Message></Error><RequestId>..</RequestId></ErrorResponse>
(MissingParameter, InvalidParameterValue, InvalidParameterCombination,
InvalidAction, MissingAction). Answers are serialised through the output shape
(<ActionResponse><ActionResult>..</ActionResult><ResponseMetadata>), so a field or
enum value the model does not have is a bug of the fake.

Authentication: every request needs a SigV4 Authorization header
  AWS4-HMAC-SHA256 Credential=KEY/YYYYMMDD/REGION/elasticbeanstalk/aws4_request,
  SignedHeaders=...;host;...;x-amz-date..., Signature=<64 hex>
with X-Amz-Date of the same day, KEY the first word of a line of --keys (re-read
on every request; an empty file takes any key), REGION the fake's --region, and
host and x-amz-date signed; a session token header, when sent, must be signed too.
When KEY's line also holds its secret ("KEY SECRET [SESSION_TOKEN]"), the signature
is computed again (botocore's SigV4 over the signed headers and the body) and must
match, and so must the session token. Else 403 MissingAuthenticationToken,
IncompleteSignature, InvalidClientTokenId or SignatureDoesNotMatch.

Behaviour, as Elastic Beanstalk's:
  CreateStorageLocation  creates the bucket elasticbeanstalk-REGION-ACCOUNT in S3
      (moto, --s3-endpoint, with the keys of the fake's environment) once.
  CreateApplication / DescribeApplications / DeleteApplication (TerminateEnvByForce
      needed while environments run) with Tags, ApplicationArn.
  CreateApplicationVersion  needs the application; the label must be new; with
      Process=true the version is Processing, then (after --process-ms) the bundle
      is read from S3: a zip holding Dockerrun.aws.json v1 (AWSEBDockerrunVersion
      "1", Image.Name, Ports[].ContainerPort) -> Processed, else Failed with an
      ERROR event. DescribeApplicationVersions.
  ListAvailableSolutionStacks  --stacks (a JSON list; default: Amazon Linux 2023
      Docker v4.3.0 and v4.4.1, Amazon Linux 2 Docker, AL2023 Python).
  CreateEnvironment  needs the application, a Processed version and a listed
      stack; the name must be free. Launching/Grey, then the environment runs the
      version: the IamInstanceProfile option must name an instance profile in IAM
      (moto; else an ERROR event), the image of Dockerrun.aws.json is pulled by
      podman (registry routes and TLS as azurearm.py; an ECR image with "AWS" and
      the password of moto's GetAuthorizationToken for its account, as the
      instance profile would), run with the
      aws:elasticbeanstalk:application:environment options as its environment and
      its ContainerPort published on a free port, and its health path (Application
      Healthcheck URL, or HealthCheckPath) must answer 2xx within --health-s:
      Ready/Green and "Successfully launched environment: NAME"; otherwise Ready/Red
      and an ERROR event saying why (pull, start, exit code and the container's
      last log line, or no answer). The CNAME (CNAMEPrefix or the name
      .REGION.elasticbeanstalk.com) is served on 127.0.0.1:--app-port (the first
      environment; others get a free port, see --state) by a TCP relay to the
      container that serves.
  UpdateEnvironment  only when Ready (else InvalidParameterValue "... Must be
      Ready."); Updating, then the new version (or the same with the new options)
      runs beside the old container, which keeps serving until the new one passes
      its health check and takes over; a failure leaves the old one serving, the
      environment Ready/Red with its previous version and an ERROR event.
  DescribeEnvironments, DescribeEvents (newest first; StartTime, EndTime,
      MaxRecords, Severity), DescribeConfigurationSettings, ListTagsForResource,
  TerminateEnvironment  Terminating, the container removed, then Terminated
      (listed while IncludeDeleted is not false).
  Other operations of the model: 400 InvalidAction "not implemented by the fake".

Faults (--rules, re-read on every request, tests/fakes/faultrules.py): path_regex
is matched against the Action, method GET|POST|*; actions:
  "status"   answer "code" with "error_code" (default by code: 400
             InvalidParameterValue, 403 AccessDenied, 500 InternalFailure, 503
             ServiceUnavailable) and "message"; Throttling is code 400,
             error_code Throttling
  "no_docker_stack"  ListAvailableSolutionStacks leaves the Docker stacks out
  "delay_ms" sleep "ms" first
--check-rules FILE validates a rules file (exit 0 or 2).

--log FILE: one JSON line per request, before the answer goes out:
  {"action","method","status","code","mutating","fault","auth","t"}; mutating: the
  action is not a read (Describe*, List*, Check*, Validate*). No credential or
  body is logged.
--state FILE, rewritten on every change: {"environments": [{"name",
  "application", "status", "health", "version", "cname", "app_port",
  "container"}]}.

usage: elasticbeanstalk.py --tls-cert CRT --tls-key KEY --log FILE --state FILE
           --s3-endpoint URL [--iam-endpoint URL] [--region R] [--account A]
           [--keys FILE] [--rules FILE] [--app-port N] [--registry-routes FILE]
           [--registry-cert-dir DIR] [--work-dir DIR] [--stacks JSON]
           [--health-s N] [--process-ms N] [--port N]
       elasticbeanstalk.py --check-rules FILE
"""
import argparse
import base64
import datetime
import gzip
import hmac
import io
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
import zipfile
from xml.sax.saxutils import escape

import botocore
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.exceptions
import faultrules
import loopback
import podrun

API = "2010-12-01"
XMLNS = "http://elasticbeanstalk.amazonaws.com/docs/2010-12-01/"
READ_PREFIXES = ("Describe", "List", "Check", "Validate")
NS_ENV = "aws:elasticbeanstalk:application:environment"
DEFAULT_STACKS = [
    "64bit Amazon Linux 2023 v4.4.1 running Docker",
    "64bit Amazon Linux 2023 v4.3.0 running Docker",
    "64bit Amazon Linux 2 v3.8.0 running Docker",
    "64bit Amazon Linux 2023 v4.1.0 running Python 3.11",
]
DEFAULT_ERROR_CODES = {400: "InvalidParameterValue", 403: "AccessDenied",
                       404: "ResourceNotFoundException", 500: "InternalFailure",
                       503: "ServiceUnavailable"}
AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/"
                     r"aws4_request, ?SignedHeaders=([a-z0-9;_.-]+), ?Signature=([0-9a-f]{64})$")


class AwsError(Exception):
    def __init__(self, status, code, message, sender=True):
        super().__init__(message)
        self.status, self.code, self.message, self.sender = status, code, message, sender


def invalid(message):
    return AwsError(400, "InvalidParameterValue", message)


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


# ------------------------------------------------------------------ the model

class Model:
    def __init__(self):
        path = os.path.join(os.path.dirname(botocore.__file__), "data", "elasticbeanstalk",
                            API, "service-2.json.gz")
        with gzip.open(path, "rt", encoding="utf-8") as f:
            doc = json.load(f)
        self.ops = doc["operations"]
        self.shapes = doc["shapes"]

    def parse(self, action, params):
        """The input of action from the flat parameters, checked; AwsError if not."""
        op = self.ops[action]
        used = set()
        shape = op.get("input", {}).get("shape")
        value = self.walk(shape, "", params, used) if shape else {}
        unknown = sorted(set(params) - used)
        if unknown:
            raise AwsError(400, "InvalidParameterValue",
                           "Unknown parameter in input: \"%s\", must be one of the members of %s"
                           % (unknown[0], shape or action))
        return value or {}

    def walk(self, shape_name, prefix, params, used):
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            out = {}
            dot = prefix + "." if prefix else ""
            for name, m in shape.get("members", {}).items():
                key = dot + name
                v = self.walk(m["shape"], key, params, used) if self.present(key, params) else None
                if v is not None:
                    out[name] = v
            for name in shape.get("required", []):
                if name not in out:
                    raise AwsError(400, "MissingParameter",
                                   "The request must contain the parameter %s" % (dot + name))
            return out
        if kind == "list":
            out = []
            n = 1
            while self.present("%s.member.%d" % (prefix, n), params):
                out.append(self.walk(shape["member"]["shape"], "%s.member.%d" % (prefix, n),
                                     params, used))
                n += 1
            stray = [k for k in params if k.startswith(prefix + ".member.")
                     and not re.match(r"^%s\.member\.([1-9][0-9]*)(\.|$)" % re.escape(prefix), k)]
            gaps = [k for k in params if re.match(r"^%s\.member\.(\d+)(\.|$)" % re.escape(prefix), k)
                    and int(re.match(r"^%s\.member\.(\d+)" % re.escape(prefix), k).group(1)) >= n]
            if stray or gaps:
                raise invalid("list %s: members must be numbered from 1 without gaps: %s"
                              % (prefix, (stray + gaps)[0]))
            if prefix in params and params[prefix] == "":
                used.add(prefix)  # an empty list
            if "min" in shape and len(out) < shape["min"]:
                raise invalid("list %s needs at least %d members" % (prefix, shape["min"]))
            if "max" in shape and len(out) > shape["max"]:
                raise invalid("list %s takes at most %d members" % (prefix, shape["max"]))
            return out
        if kind == "map":
            raise invalid("maps are not used by Elastic Beanstalk: %s" % prefix)
        used.add(prefix)
        raw = params[prefix]
        if kind == "string":
            if "enum" in shape and raw not in shape["enum"]:
                raise invalid("Value '%s' at '%s' failed to satisfy constraint: Member must "
                              "satisfy enum value set: [%s]" % (raw, prefix, ", ".join(shape["enum"])))
            if "min" in shape and len(raw) < shape["min"]:
                raise invalid("Value '%s' at '%s' failed to satisfy constraint: Member must have "
                              "length greater than or equal to %d" % (raw, prefix, shape["min"]))
            if "max" in shape and len(raw) > shape["max"]:
                raise invalid("Value at '%s' failed to satisfy constraint: Member must have "
                              "length less than or equal to %d" % (prefix, shape["max"]))
            return raw
        if kind in ("integer", "long"):
            if not re.fullmatch(r"-?\d+", raw):
                raise invalid("Value '%s' at '%s' is not an integer" % (raw, prefix))
            v = int(raw)
            if ("min" in shape and v < shape["min"]) or ("max" in shape and v > shape["max"]):
                raise invalid("Value '%d' at '%s' is out of range" % (v, prefix))
            return v
        if kind == "boolean":
            if raw not in ("true", "false"):
                raise invalid("Value '%s' at '%s' is not a boolean" % (raw, prefix))
            return raw == "true"
        if kind == "timestamp":
            try:
                t = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                raise invalid("Value '%s' at '%s' is not an ISO 8601 timestamp" % (raw, prefix)) from None
            return t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc)
        raise invalid("unexpected shape type %s at %s" % (kind, prefix))

    @staticmethod
    def present(key, params):
        return key in params or any(k.startswith(key + ".") for k in params)

    def serialize(self, shape_name, value, out, where):
        """Appends value as XML through shape_name; ValueError on a mismatch."""
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            members = shape.get("members", {})
            for k in value:
                if k not in members:
                    raise ValueError("%s: %s is not a member of %s" % (where, k, shape_name))
            for name, m in members.items():
                if name in value and value[name] is not None:
                    out.append("<%s>" % name)
                    self.serialize(m["shape"], value[name], out, where + "." + name)
                    out.append("</%s>" % name)
        elif kind == "list":
            for v in value:
                out.append("<member>")
                self.serialize(shape["member"]["shape"], v, out, where + ".member")
                out.append("</member>")
        elif kind == "boolean":
            out.append("true" if value else "false")
        elif kind == "timestamp":
            out.append(iso(value))
        elif kind in ("integer", "long"):
            out.append(str(int(value)))
        else:
            if "enum" in shape and value not in shape["enum"]:
                raise ValueError("%s: %r is not in the enum of %s" % (where, value, shape_name))
            out.append(escape(str(value)))

    def answer(self, action, result, request_id):
        op = self.ops[action]
        out = ['<?xml version="1.0" encoding="UTF-8"?>\n<%sResponse xmlns="%s">' % (action, XMLNS)]
        output = op.get("output")
        if output:
            out.append("<%s>" % output["resultWrapper"])
            self.serialize(output["shape"], result or {}, out, action)
            out.append("</%s>" % output["resultWrapper"])
        out.append("<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>"
                   "</%sResponse>\n" % (request_id, action))
        return "".join(out).encode()


def error_body(e, request_id):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="%s"><Error>'
            "<Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s"
            "</RequestId></ErrorResponse>\n" % (XMLNS, "Sender" if e.sender else "Receiver",
                                               escape(e.code), escape(e.message),
                                               request_id)).encode()


# ------------------------------------------------------------------ fault rules

ACTIONS = {"status": ({"code"}, {"error_code", "message", "retry_after", "headers"}),
           "no_docker_stack": (set(), set()),
           "delay_ms": ({"ms"}, set())}


def check_action(r, where):
    if r["action"] == "status":
        faultrules.check_status(r, where)
        for k in ("error_code", "message"):
            if k in r and not isinstance(r[k], str):
                raise ValueError("%s: %s must be a string" % (where, k))
    elif r["action"] == "delay_ms":
        if not faultrules.is_int(r["ms"]) or r["ms"] < 0:
            raise ValueError("%s: ms must be a number >= 0" % where)


def check_rules(data):
    return faultrules.check_rules(data, ACTIONS, check_action)


# ------------------------------------------------------------------ AWS around it

class Aws:
    """S3 and IAM of moto, through boto3 with the keys of the environment."""

    def __init__(self, opts):
        import boto3  # imported here: --check-rules needs no boto3
        kw = {"region_name": opts.region}
        self.s3 = boto3.client("s3", endpoint_url=opts.s3_endpoint, **kw,
                               config=botocore.config.Config(s3={"addressing_style": "path"}))
        self.iam = boto3.client("iam", endpoint_url=opts.iam_endpoint or opts.s3_endpoint, **kw)
        self.ecr = boto3.client("ecr", endpoint_url=opts.iam_endpoint or opts.s3_endpoint, **kw)
        self.region = opts.region

    def pull_credentials(self, image):
        """(host, "AWS", password) for an ECR image, as the instance profile's
        AmazonEC2ContainerRegistryReadOnly gets them; None for other registries."""
        host = image.split("/", 1)[0]
        m = re.fullmatch(r"(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?", host)
        if not m:
            return None
        data = self.ecr.get_authorization_token(registryIds=[m.group(1)])["authorizationData"][0]
        user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        return host, user, password

    def ensure_bucket(self, name):
        try:
            self.s3.head_bucket(Bucket=name)
        except botocore.exceptions.ClientError:
            args = {"Bucket": name}
            if self.region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            self.s3.create_bucket(**args)

    def get(self, bucket, key):
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def profile_exists(self, name):
        try:
            self.iam.get_instance_profile(InstanceProfileName=name)
            return True
        except botocore.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return False
            raise


class Relay:
    """127.0.0.1:port relayed to the environment's serving container."""

    def __init__(self, port):
        self.target = None
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(64)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        target = self.target
        try:
            if target is None:
                return
            up = socket.create_connection(("127.0.0.1", target), timeout=10)
            up.settimeout(None)
            try:
                podrun.pipe(c, up)
            finally:
                up.close()
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        try:  # wakes the accept(), which otherwise keeps the port listening
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# ------------------------------------------------------------------ state

class Env:
    def __init__(self, app, name, cname, arn, stack, tags):
        self.app, self.name, self.cname, self.arn = app, name, cname, arn
        self.id = "e-" + uuid.uuid4().hex[:10]
        self.stack, self.tags = stack, tags
        self.status, self.health = "Launching", "Grey"
        self.label = None
        self.options = {}  # (namespace, name) -> value
        self.created = self.updated = now()
        self.container = None
        self.backend = None
        self.relay = None
        self.gen = 0

    def view(self, region):
        v = {"EnvironmentName": self.name, "EnvironmentId": self.id,
             "ApplicationName": self.app, "SolutionStackName": self.stack,
             "EnvironmentArn": self.arn, "DateCreated": self.created,
             "DateUpdated": self.updated, "Status": self.status, "Health": self.health,
             "AbortableOperationInProgress": False,
             "Tier": {"Name": "WebServer", "Type": "Standard", "Version": "1.0"}}
        if self.label:
            v["VersionLabel"] = self.label
        if self.status != "Terminated":
            v["CNAME"] = self.cname
            v["EndpointURL"] = self.cname
        return v


class Store:
    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.RLock()
        self.apps = {}      # name -> {"arn","description","tags","created","versions": {}}
        self.envs = []      # Env, terminated ones too
        self.events = []    # dicts of EventDescription, oldest first
        self.bucket = "elasticbeanstalk-%s-%s" % (opts.region, opts.account)
        self.app_port_taken = False

    def event(self, app, env, message, severity="INFO", label=None):
        with self.lock:
            e = {"EventDate": now(), "Message": message, "ApplicationName": app,
                 "Severity": severity, "RequestId": str(uuid.uuid4())}
            if env:
                e["EnvironmentName"] = env
            if label:
                e["VersionLabel"] = label
            self.events.append(e)

    def live_env(self, name):
        for e in self.envs:
            if e.name == name and e.status != "Terminated":
                return e
        return None

    def write_state(self):
        with self.lock:
            doc = {"environments": [
                {"name": e.name, "application": e.app, "status": e.status, "health": e.health,
                 "version": e.label, "cname": e.cname,
                 "app_port": e.relay.port if e.relay else None, "container": e.container}
                for e in self.envs]}
        tmp = self.opts.state + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, default=str)
        os.replace(tmp, self.opts.state)


# ------------------------------------------------------------------ running

class Runner:
    def __init__(self, store, aws, podman):
        self.store, self.aws, self.podman = store, aws, podman

    def dockerrun(self, app, label):
        """The version's Dockerrun.aws.json (a dict), read from its bundle in S3."""
        v = self.store.apps[app]["versions"][label]
        data = self.aws.get(v["SourceBundle"]["S3Bucket"], v["SourceBundle"]["S3Key"])
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            if "Dockerrun.aws.json" not in names:
                raise ValueError("the source bundle holds no Dockerrun.aws.json (it has %s)"
                                 % ", ".join(names[:5]))
            doc = json.loads(z.read("Dockerrun.aws.json").decode("utf-8"))
        if str(doc.get("AWSEBDockerrunVersion")) != "1":
            raise ValueError("Dockerrun.aws.json: AWSEBDockerrunVersion must be \"1\"")
        unknown = set(doc) - {"AWSEBDockerrunVersion", "Image", "Ports", "Volumes", "Logging",
                              "Authentication", "Entrypoint", "Command"}
        if unknown:
            raise ValueError("Dockerrun.aws.json: unknown key %s" % sorted(unknown)[0])
        img = doc.get("Image")
        if not isinstance(img, dict) or not isinstance(img.get("Name"), str):
            raise ValueError("Dockerrun.aws.json: Image.Name is required")
        if "Update" in img and img["Update"] not in ("true", "false"):
            raise ValueError("Dockerrun.aws.json: Image.Update must be \"true\" or \"false\"")
        ports = doc.get("Ports")
        if not isinstance(ports, list) or not ports or not all(
                isinstance(p, dict) and re.fullmatch(r"\d+", str(p.get("ContainerPort", "")))
                for p in ports):
            raise ValueError("Dockerrun.aws.json: Ports[].ContainerPort is required")
        return doc

    def process(self, app, label):
        time.sleep(self.store.opts.process_ms / 1000.0)
        store = self.store
        try:
            self.dockerrun(app, label)
            status = "Processed"
        except Exception as e:  # noqa: BLE001 (S3, zip, JSON: all make the version Failed)
            status = "Failed"
            store.event(app, None, "Failed to process application version %s: %s" % (label, e),
                        "ERROR", label)
        with store.lock:
            store.apps[app]["versions"][label]["Status"] = status

    def health_path(self, env):
        o = env.options
        return (o.get(("aws:elasticbeanstalk:environment:process:default", "HealthCheckPath"))
                or o.get(("aws:elasticbeanstalk:application", "Application Healthcheck URL"))
                or "/")

    def start(self, env, label, gen):
        """(container name, backend port) or raises RuntimeError(why)."""
        store = self.store
        profile = env.options.get(("aws:autoscaling:launchconfiguration", "IamInstanceProfile"))
        if not profile:
            raise RuntimeError("Environment must have instance profile associated with it.")
        if not self.aws.profile_exists(profile):
            raise RuntimeError("The instance profile %s associated with the environment does "
                               "not exist." % profile)
        try:
            doc = self.dockerrun(env.app, label)
        except Exception as e:  # noqa: BLE001
            raise RuntimeError("Failed to read the source bundle: %s" % e) from None
        image = doc["Image"]["Name"]
        port = int(doc["Ports"][0]["ContainerPort"])
        store.event(env.app, env.name, "Pulling image %s" % image)
        try:
            creds = self.aws.pull_credentials(image)
        except botocore.exceptions.ClientError as e:
            raise RuntimeError("Instance deployment failed to log in to ECR: %s" % e) from None
        why = self.podman.pull(image, creds)
        if why:
            raise RuntimeError("Instance deployment failed to download the Docker image %s: %s"
                               % (image, why))
        name = re.sub(r"[^a-zA-Z0-9_.-]", "-", "eb-%s-g%d" % (env.name, gen))
        backend = podrun.free_port()
        envvars = [(k[1], v) for k, v in sorted(env.options.items()) if k[0] == NS_ENV]
        why = self.podman.create(name, image, envvars, None, [(port, backend)],
                                 {"io.mldeploy.fake": "elasticbeanstalk"})
        if not why:
            rc, _, err = self.podman.run(["start", name], timeout=120)
            why = None if rc == 0 else (err.strip().splitlines() or ["podman start failed"])[-1]
        if why:
            self.podman.remove([name])
            raise RuntimeError("Instance deployment failed: the container did not start: %s" % why)
        url = "http://127.0.0.1:%d%s" % (backend, self.health_path(env))
        deadline = time.time() + store.opts.health_s
        last = "no answer"
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if 200 <= r.status < 300:
                        return name, backend
                    last = "HTTP %d" % r.status
            except urllib.error.HTTPError as e:
                last = "HTTP %d" % e.code
            except OSError as e:
                last = str(getattr(e, "reason", e))
            rc, out, _ = self.podman.run(["inspect", "--format", "{{.State.Running}} "
                                          "{{.State.ExitCode}}", name], timeout=30)
            running, _, code = out.strip().partition(" ")
            if rc == 0 and running == "false":
                _, logs, errs = self.podman.run(["logs", "--tail", "5", name], timeout=30)
                lines = [l for l in (logs + errs).strip().splitlines() if l.strip()]
                self.podman.remove([name])
                raise RuntimeError("Instance deployment failed: the container exited with code %s "
                                   "(last log line: %s). For details, see 'eb-engine.log'."
                                   % (code, lines[-1][:200] if lines else "none"))
            time.sleep(0.5)
        self.podman.remove([name])
        raise RuntimeError("Instance deployment failed: the application did not answer %s on "
                           "port %d within %d s (%s). For details, see 'eb-engine.log'."
                           % (self.health_path(env), port, store.opts.health_s, last))

    def launch(self, env, gen):
        store = self.store
        store.event(env.app, env.name, "createEnvironment is starting.")
        try:
            name, backend = self.start(env, env.label, gen)
        except RuntimeError as e:
            with store.lock:
                if env.gen != gen:
                    return
                store.event(env.app, env.name, str(e), "ERROR")
                store.event(env.app, env.name, "Create environment operation is complete, but "
                            "with errors. For more information, see troubleshooting "
                            "documentation.", "WARN")
                env.status, env.health, env.updated = "Ready", "Red", now()
            store.write_state()
            return
        with store.lock:
            if env.gen != gen:
                self.podman.remove([name])
                return
            env.container, env.backend = name, backend
            env.relay.target = backend
            store.event(env.app, env.name, "Successfully launched environment: %s" % env.name)
            env.status, env.health, env.updated = "Ready", "Green", now()
        store.write_state()

    def update(self, env, gen, label, old_label, old_options):
        store = self.store
        store.event(env.app, env.name, "Environment update is starting.")
        try:
            name, backend = self.start(env, label, gen)
        except RuntimeError as e:
            with store.lock:
                if env.gen != gen:
                    return
                store.event(env.app, env.name, str(e), "ERROR")
                store.event(env.app, env.name, "Failed to deploy application.", "ERROR")
                env.label, env.options = old_label, old_options
                env.status, env.health, env.updated = "Ready", "Red", now()
            store.write_state()
            return
        with store.lock:
            if env.gen != gen:
                self.podman.remove([name])
                return
            old = env.container
            env.container, env.backend = name, backend
            env.relay.target = backend
            if label != old_label:
                store.event(env.app, env.name, "New application version was deployed to "
                            "running EC2 instances.")
            store.event(env.app, env.name, "Environment update completed successfully.")
            env.status, env.health, env.updated = "Ready", "Green", now()
        if old:
            self.podman.remove([old])
        store.write_state()

    def terminate(self, env, gen):
        store = self.store
        store.event(env.app, env.name, "terminateEnvironment is starting.")
        time.sleep(0.3)
        with store.lock:
            if env.gen != gen:
                return
            name = env.container
            env.container = None
            if env.relay:
                env.relay.target = None
        if name:
            self.podman.remove([name])
        with store.lock:
            if env.relay:
                env.relay.close()
                if env.relay.port == store.opts.app_port:
                    store.app_port_taken = False
                env.relay = None
            store.event(env.app, env.name, "terminateEnvironment completed successfully.")
            env.status, env.health, env.updated = "Terminated", "Grey", now()
        store.write_state()


# ------------------------------------------------------------------ operations

class Ops:
    def __init__(self, store, runner, model):
        self.store, self.runner, self.model = store, runner, model
        opts = store.opts
        self.region, self.account = opts.region, opts.account

    def arn(self, kind, name):
        return "arn:aws:elasticbeanstalk:%s:%s:%s/%s" % (self.region, self.account, kind, name)

    def app(self, name):
        a = self.store.apps.get(name)
        if not a:
            raise invalid("No Application named '%s' found." % name)
        return a

    def app_view(self, name, a):
        return {"ApplicationName": name, "ApplicationArn": a["arn"], "Description": a["description"],
                "DateCreated": a["created"], "DateUpdated": a["created"],
                "Versions": sorted(a["versions"]), "ConfigurationTemplates": []}

    def version_view(self, app, v):
        return {k: v[k] for k in ("ApplicationVersionArn", "ApplicationName", "Description",
                                  "VersionLabel", "SourceBundle", "DateCreated", "DateUpdated",
                                  "Status") if k in v and v[k] is not None} | {"ApplicationName": app}

    def CreateStorageLocation(self, p):
        self.runner.aws.ensure_bucket(self.store.bucket)
        return {"S3Bucket": self.store.bucket}

    def DescribeApplications(self, p):
        names = p.get("ApplicationNames")
        with self.store.lock:
            return {"Applications": [self.app_view(n, a) for n, a in sorted(self.store.apps.items())
                                     if not names or n in names]}

    def CreateApplication(self, p):
        name = p["ApplicationName"]
        with self.store.lock:
            if name in self.store.apps:
                raise invalid("Application %s already exists." % name)
            a = {"arn": self.arn("application", name), "description": p.get("Description", ""),
                 "tags": {t["Key"]: t.get("Value", "") for t in p.get("Tags", [])},
                 "created": now(), "versions": {}}
            self.store.apps[name] = a
            return {"Application": self.app_view(name, a)}

    def DeleteApplication(self, p):
        name = p["ApplicationName"]
        with self.store.lock:
            self.app(name)
            running = [e for e in self.store.envs if e.app == name and e.status != "Terminated"]
            if running and not p.get("TerminateEnvByForce"):
                raise AwsError(400, "OperationInProgressFailure", "Unable to delete application "
                               "%s because it has running environments." % name)
            for e in running:
                e.gen += 1
                e.status = "Terminating"
                threading.Thread(target=self.runner.terminate, args=(e, e.gen), daemon=True).start()
            del self.store.apps[name]
        return {}

    def CreateApplicationVersion(self, p):
        name, label = p["ApplicationName"], p["VersionLabel"]
        with self.store.lock:
            a = self.app(name)
            if label in a["versions"]:
                raise invalid("Application Version %s already exists." % label)
            sb = p.get("SourceBundle")
            if not sb or not sb.get("S3Bucket") or not sb.get("S3Key"):
                raise invalid("SourceBundle with S3Bucket and S3Key is needed by the fake")
            v = {"ApplicationVersionArn": self.arn("applicationversion", "%s/%s" % (name, label)),
                 "Description": p.get("Description"), "VersionLabel": label, "SourceBundle": sb,
                 "DateCreated": now(), "DateUpdated": now(),
                 "Status": "Processing" if p.get("Process") else "Unprocessed"}
            a["versions"][label] = v
        if p.get("Process"):
            threading.Thread(target=self.runner.process, args=(name, label), daemon=True).start()
        return {"ApplicationVersion": self.version_view(name, v)}

    def DescribeApplicationVersions(self, p):
        labels = p.get("VersionLabels")
        out = []
        with self.store.lock:
            for name, a in sorted(self.store.apps.items()):
                if p.get("ApplicationName") and name != p["ApplicationName"]:
                    continue
                for label, v in sorted(a["versions"].items(), key=lambda kv: kv[1]["DateCreated"],
                                       reverse=True):
                    if not labels or label in labels:
                        out.append(self.version_view(name, v))
        return {"ApplicationVersions": out[:p.get("MaxRecords", 1000)]}

    def ListAvailableSolutionStacks(self, p, no_docker=False):
        stacks = [s for s in self.store.opts.stack_list if not (no_docker and s.endswith("Docker"))]
        return {"SolutionStacks": stacks, "SolutionStackDetails": [
            {"SolutionStackName": s, "PermittedFileTypes": ["zip"]} for s in stacks]}

    def env_named(self, p, need=True):
        name = p.get("EnvironmentName")
        eid = p.get("EnvironmentId")
        if not name and not eid:
            raise AwsError(400, "MissingParameter", "Either EnvironmentName or EnvironmentId "
                           "must be specified")
        for e in self.store.envs:
            if e.status != "Terminated" and (e.name == name or e.id == eid):
                return e
        if need:
            raise invalid("No Environment found for EnvironmentName = '%s'." % (name or eid))
        return None

    def apply_options(self, env, p):
        opts = dict(env.options)
        for o in p.get("OptionSettings", []):
            if not o.get("Namespace") or not o.get("OptionName"):
                raise invalid("OptionSettings need Namespace and OptionName")
            if o["Namespace"] == "aws:elasticbeanstalk:environment" and \
                    o["OptionName"] == "EnvironmentType" and \
                    o.get("Value") not in ("SingleInstance", "LoadBalanced"):
                raise invalid("Invalid option value: '%s' (Namespace: "
                              "'aws:elasticbeanstalk:environment', OptionName: 'EnvironmentType'): "
                              "Value is not one of the allowed values: [LoadBalanced, SingleInstance]"
                              % o.get("Value"))
            if o["Namespace"] == NS_ENV and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*",
                                                             o["OptionName"]):
                raise invalid("Environment variable names can contain any letter, number, and the "
                              "following characters: _.:/+\\-@")
            opts[(o["Namespace"], o["OptionName"])] = o.get("Value", "")
        for o in p.get("OptionsToRemove", []):
            opts.pop((o.get("Namespace"), o.get("OptionName")), None)
        return opts

    def CreateEnvironment(self, p):
        store = self.store
        app, name = p["ApplicationName"], p.get("EnvironmentName")
        if not name:
            raise AwsError(400, "MissingParameter", "The fake needs EnvironmentName")
        with store.lock:
            a = self.app(app)
            if store.live_env(name):
                raise invalid("Environment %s already exists." % name)
            label = p.get("VersionLabel")
            if not label or label not in a["versions"]:
                raise invalid("No Application Version named '%s' found." % label)
            if a["versions"][label]["Status"] != "Processed":
                raise invalid("Application version %s is %s: it must be Processed."
                              % (label, a["versions"][label]["Status"]))
            stack = p.get("SolutionStackName")
            if not stack or stack not in store.opts.stack_list:
                raise invalid("No Solution Stack named '%s' found." % stack)
            cname = "%s.%s.elasticbeanstalk.com" % ((p.get("CNAMEPrefix") or name).lower(),
                                                   self.region)
            env = Env(app, name, cname, self.arn("environment", "%s/%s" % (app, name)), stack,
                      {t["Key"]: t.get("Value", "") for t in p.get("Tags", [])})
            env.options = self.apply_options(env, p)
            env.label = label
            env.relay = None
            if not store.app_port_taken:
                try:  # SO_REUSEADDR: a port just closed may still be in TIME_WAIT
                    env.relay = Relay(store.opts.app_port)
                    store.app_port_taken = True
                except OSError:
                    pass
            env.relay = env.relay or Relay(0)
            store.envs.append(env)
            env.gen += 1
            threading.Thread(target=self.runner.launch, args=(env, env.gen), daemon=True).start()
            view = env.view(self.region)
        store.write_state()
        return view

    def UpdateEnvironment(self, p):
        store = self.store
        with store.lock:
            env = self.env_named(p)
            if p.get("ApplicationName") and p["ApplicationName"] != env.app:
                raise invalid("Environment %s is not in application %s" % (env.name, p["ApplicationName"]))
            if env.status != "Ready":
                raise invalid("Environment named %s is in an invalid state for this operation. "
                              "Must be Ready." % env.name)
            label = p.get("VersionLabel") or env.label
            v = store.apps[env.app]["versions"].get(label)
            if not v:
                raise invalid("No Application Version named '%s' found." % label)
            if v["Status"] != "Processed":
                raise invalid("Application version %s is %s: it must be Processed." % (label, v["Status"]))
            old_label, old_options = env.label, env.options
            env.options = self.apply_options(env, p)
            env.label = label
            env.status, env.updated = "Updating", now()
            env.gen += 1
            threading.Thread(target=self.runner.update,
                             args=(env, env.gen, label, old_label, old_options), daemon=True).start()
            view = env.view(self.region)
        store.write_state()
        return view

    def TerminateEnvironment(self, p):
        with self.store.lock:
            env = self.env_named(p)
            if env.status in ("Terminating", "Terminated"):
                raise invalid("Environment named %s is in an invalid state for this operation."
                              % env.name)
            env.status, env.updated = "Terminating", now()
            env.gen += 1
            threading.Thread(target=self.runner.terminate, args=(env, env.gen), daemon=True).start()
            view = env.view(self.region)
        self.store.write_state()
        return view

    def DescribeEnvironments(self, p):
        out = []
        with self.store.lock:
            for e in self.store.envs:
                if p.get("ApplicationName") and e.app != p["ApplicationName"]:
                    continue
                if p.get("EnvironmentNames") and e.name not in p["EnvironmentNames"]:
                    continue
                if p.get("EnvironmentIds") and e.id not in p["EnvironmentIds"]:
                    continue
                if e.status == "Terminated" and p.get("IncludeDeleted") is False:
                    continue
                out.append(e.view(self.region))
        return {"Environments": out}

    def DescribeEvents(self, p):
        out = []
        with self.store.lock:
            for e in reversed(self.store.events):
                if p.get("ApplicationName") and e["ApplicationName"] != p["ApplicationName"]:
                    continue
                if p.get("EnvironmentName") and e.get("EnvironmentName") != p["EnvironmentName"]:
                    continue
                if p.get("VersionLabel") and e.get("VersionLabel") != p["VersionLabel"]:
                    continue
                if p.get("StartTime") and e["EventDate"] < p["StartTime"]:
                    continue
                if p.get("EndTime") and e["EventDate"] >= p["EndTime"]:
                    continue
                if p.get("Severity"):
                    order = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
                    if order.index(e["Severity"]) < order.index(p["Severity"]):
                        continue
                out.append(e)
        return {"Events": out[:p.get("MaxRecords", 100)]}

    def DescribeConfigurationSettings(self, p):
        with self.store.lock:
            self.app(p["ApplicationName"])
            env = self.env_named(p)
            return {"ConfigurationSettings": [{
                "SolutionStackName": env.stack, "ApplicationName": env.app,
                "EnvironmentName": env.name, "DeploymentStatus": "deployed",
                "DateCreated": env.created, "DateUpdated": env.updated,
                "OptionSettings": [{"Namespace": k[0], "OptionName": k[1], "Value": v}
                                   for k, v in sorted(env.options.items())]}]}

    def ListTagsForResource(self, p):
        arn = p["ResourceArn"]
        with self.store.lock:
            for name, a in self.store.apps.items():
                if a["arn"] == arn:
                    tags = a["tags"]
                    break
            else:
                for e in self.store.envs:
                    if e.arn == arn and e.status != "Terminated":
                        tags = e.tags
                        break
                else:
                    raise AwsError(400, "ResourceNotFoundException",
                                   "Resource %s not found." % arn)
        return {"ResourceArn": arn, "ResourceTags": [{"Key": k, "Value": v}
                                                     for k, v in sorted(tags.items())]}


# ------------------------------------------------------------------ HTTP

log_lock = threading.Lock()


class Handler(loopback.Handler):
    server_version = "elasticbeanstalk-fake"

    def route(self):
        self.request_id = str(uuid.uuid4())
        self.action, self.fault, self.auth = None, None, "none"
        body = self.read_body()
        try:
            status, payload = self.serve_action(body)
        except AwsError as e:
            status, payload = e.status, e
        except Exception as e:  # noqa: BLE001: a fake's bug is a 500, and on stderr
            import traceback
            traceback.print_exc()
            status, payload = 500, AwsError(500, "InternalFailure", "fake: %s" % e, sender=False)
        code = payload.code if isinstance(payload, AwsError) else None
        self.log_line(status, code)
        if isinstance(payload, AwsError):
            self.reply(status, error_body(payload, self.request_id),
                       [("Content-Type", "text/xml"), ("x-amzn-RequestId", self.request_id)]
                       + list(getattr(payload, "headers", [])))
        else:
            self.reply(status, payload, [("Content-Type", "text/xml"),
                                         ("x-amzn-RequestId", self.request_id)])

    def log_line(self, status, code):
        a = self.action or ""
        line = {"action": self.action, "method": self.command, "status": status, "code": code,
                "mutating": bool(a) and not a.startswith(READ_PREFIXES), "fault": self.fault,
                "auth": self.auth, "t": round(time.time(), 3)}
        with log_lock, open(self.server.opts.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")

    def params(self, body):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/":
            raise AwsError(404, "InvalidAction", "no such path %s" % url.path)
        if self.command == "POST":
            ctype = self.headers.get("Content-Type", "")
            if not ctype.startswith("application/x-www-form-urlencoded"):
                raise AwsError(400, "InvalidParameterValue", "Content-Type must be "
                               "application/x-www-form-urlencoded, not %r" % ctype)
            raw = body.decode("utf-8")
        elif self.command == "GET":
            raw = url.query
        else:
            raise AwsError(405, "InvalidAction", "method %s is not allowed" % self.command)
        pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True, strict_parsing=bool(raw))
        out = {}
        for k, v in pairs:
            if k in out:
                raise invalid("parameter %s given twice" % k)
            out[k] = v
        return out

    def authenticate(self, body):
        h = self.headers.get("Authorization")
        opts = self.server.opts
        if not h:
            raise AwsError(403, "MissingAuthenticationToken", "Request is missing Authentication "
                           "Token")
        m = AUTH_RE.match(h)
        if not m:
            self.auth = "bad"
            raise AwsError(403, "IncompleteSignature", "Authorization header requires "
                           "'Credential', 'SignedHeaders' and 'Signature' in AWS4-HMAC-SHA256 form")
        key, day, region, service, signed, _ = m.groups()
        self.auth = "sigv4"
        date = self.headers.get("X-Amz-Date", "")
        if not re.fullmatch(r"\d{8}T\d{6}Z", date) or date[:8] != day:
            raise AwsError(403, "IncompleteSignature", "X-Amz-Date must be given and match the "
                           "credential scope's date")
        names = signed.split(";")
        if names != sorted(names) or "host" not in names or "x-amz-date" not in names:
            raise AwsError(403, "IncompleteSignature", "SignedHeaders must be sorted and include "
                           "host and x-amz-date")
        if self.headers.get("X-Amz-Security-Token") is not None and \
                "x-amz-security-token" not in names:
            raise AwsError(403, "IncompleteSignature", "x-amz-security-token must be signed")
        keys = {}
        if opts.keys and os.path.exists(opts.keys):
            with open(opts.keys, encoding="utf-8") as f:
                for line in f:
                    words = line.split()
                    if words:
                        keys[words[0]] = words[1:]
        if keys and key not in keys:
            raise AwsError(403, "InvalidClientTokenId", "The security token included in the "
                           "request is invalid.")
        if service != "elasticbeanstalk" or region != opts.region:
            raise AwsError(403, "SignatureDoesNotMatch", "Credential should be scoped to a valid "
                           "region and service: %s/%s is not %s/elasticbeanstalk"
                           % (region, service, opts.region))
        known = keys.get(key, [])
        token = self.headers.get("X-Amz-Security-Token")
        if len(known) > 1 and token != known[1]:
            raise AwsError(403, "InvalidClientTokenId", "The security token included in the "
                           "request is invalid.")
        if known and not hmac.compare_digest(self.signature(key, known[0], token, region, names,
                                                            body), m.group(6)):
            raise AwsError(403, "SignatureDoesNotMatch", "The request signature we calculated "
                           "does not match the signature you provided. Check your AWS Secret "
                           "Access Key and signing method. Consult the service documentation "
                           "for details.")

    def signature(self, key, secret, token, region, names, body):
        """The SigV4 signature of this request, as botocore computes it from the
        signed headers."""
        headers = {n: ",".join(self.headers.get_all(n) or []) for n in names}
        req = botocore.awsrequest.AWSRequest(method=self.command,
                                             url="https://%s%s" % (headers["host"], self.path),
                                             data=body, headers=headers)
        req.context["timestamp"] = self.headers["X-Amz-Date"]
        signer = botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret, token),
                                         "elasticbeanstalk", region)
        canonical = signer.canonical_request(req)
        return signer.signature(signer.string_to_sign(req, canonical), req)

    def serve_action(self, body):
        srv = self.server
        params = self.params(body)
        self.action = params.pop("Action", None)
        if self.action is None:
            raise AwsError(400, "MissingAction", "Missing Action")
        version = params.pop("Version", None)
        no_docker = False
        for r in srv.rules.fire(self.command, self.action):
            if r["action"] == "delay_ms":
                time.sleep(r["ms"] / 1000.0)
            elif r["action"] == "no_docker_stack":
                no_docker = True
                self.fault = "no_docker_stack"
            elif r["action"] == "status":
                self.fault = "status:%d" % r["code"]
                e = AwsError(r["code"], r.get("error_code") or DEFAULT_ERROR_CODES.get(r["code"], "Error"),
                             r.get("message") or ("Rate exceeded" if r.get("error_code") == "Throttling"
                                                  else "injected by the fake's rules"),
                             sender=r["code"] < 500)
                e.headers = list(r.get("headers", {}).items())
                if r.get("retry_after") is not None:
                    e.headers.append(("Retry-After", str(r["retry_after"])))
                raise e
        self.authenticate(body)
        if self.action not in srv.model.ops:
            raise AwsError(400, "InvalidAction", "The action %s is not valid for this web "
                           "service." % self.action)
        if version != API:
            raise AwsError(400, "InvalidParameterValue" if version else "MissingParameter",
                           "Version must be %s, not %r" % (API, version))
        p = srv.model.parse(self.action, params)
        fn = getattr(srv.ops, self.action, None)
        if fn is None:
            raise AwsError(400, "InvalidAction", "%s is not implemented by the fake" % self.action)
        result = fn(p, no_docker) if self.action == "ListAvailableSolutionStacks" else fn(p)
        return 200, srv.model.answer(self.action, result, self.request_id)


def main():
    ap = argparse.ArgumentParser(description="fake AWS Elastic Beanstalk")
    ap.add_argument("--check-rules", metavar="FILE")
    ap.add_argument("--log")
    ap.add_argument("--state")
    ap.add_argument("--rules")
    ap.add_argument("--keys")
    ap.add_argument("--s3-endpoint")
    ap.add_argument("--iam-endpoint")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--account", default="123456789012")
    ap.add_argument("--app-port", type=int, default=0)
    ap.add_argument("--registry-routes")
    ap.add_argument("--registry-cert-dir")
    ap.add_argument("--work-dir")
    ap.add_argument("--stacks", help="JSON list of solution stack names")
    ap.add_argument("--health-s", type=int, default=60)
    ap.add_argument("--process-ms", type=int, default=300)
    opts = loopback.parse_args(ap)
    if opts.check_rules:
        try:
            with open(opts.check_rules, encoding="utf-8") as f:
                check_rules(json.load(f))
        except (OSError, ValueError) as e:
            print("elasticbeanstalk: %s" % e, file=sys.stderr)
            sys.exit(2)
        sys.exit(0)
    for need in ("tls_cert", "log", "state", "s3_endpoint"):
        if not getattr(opts, need):
            ap.error("--%s is required" % need.replace("_", "-"))
    opts.stack_list = json.loads(opts.stacks) if opts.stacks else DEFAULT_STACKS

    router = podrun.RegistryRouter(opts.registry_routes) if opts.registry_routes else None
    podman = podrun.Podman(opts.work_dir, opts.registry_cert_dir, router)
    store = Store(opts)
    store.write_state()
    runner = Runner(store, Aws(opts), podman)
    server = loopback.Server(("127.0.0.1", opts.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts.tls_cert, opts.tls_key)
    server.tls = ctx
    server.opts = opts
    server.model = Model()
    server.ops = Ops(store, runner, server.model)
    server.rules = faultrules.Rules(opts.rules, check_rules, empty_ok=True)
    podrun.serve_platform(server, podman, keep_work=bool(opts.work_dir))


if __name__ == "__main__":
    main()
