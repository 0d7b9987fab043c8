"""A Google API discovery document as Google's front end reads requests, for the
fakes in tests/fakes (Cloud Run, App Engine, Artifact Registry). Standard library only.

    d = Discovery(PATH)                       # ../shared/api-models/google-*.json
    mid, params = d.match("POST", "/v2/projects/p/locations/l/services")
    #   mid: "run.projects.locations.services.create", params: {"parent": "projects/p/..."}
    #   (None, None) no such path; (False, None) the path exists with other methods
    r = d.request("POST", url_path, query, body)   # one call: match + query + body
    #   r.id, r.params, r.query ({name: [values]}), r.body (output-only members
    #   dropped), r.errors ([(field, description)]), r.status (200, 400, 404 or 405)
    errors = d.validate("POST", url_path, query, body)    # r.errors, or the 404/405
    answer = d.error_body(r.errors)          # Google's 400 INVALID_ARGUMENT body

query is a dict (name -> str or list of str, as urllib.parse.parse_qs gives) or the
raw query string; body is the decoded JSON (None when the request had none).

Query parameters: the document's global ones (alt, fields, $.xgafv...) and the
method's; unknown names, a boolean that is not true/false, an integer that is not
one, a value outside the enum, a field mask that is not one, and a missing required
one ("required": true or a description that starts "Required.") are errors. The
path parameters must match their pattern.

Body: walks $ref, type (object, array, string, integer, number, boolean, any),
format (int32/uint32 range; int64/uint64 as a decimal STRING, as proto3 JSON
writes them; google-duration "3.5s"; google-datetime RFC 3339; google-fieldmask;
byte base64), enum, additionalProperties (a map) and properties; an unknown member
is refused ("Cannot find field"); a member whose description starts "Required." is
required, except under an update mask (a partial update); members that are
readOnly / "Output only." are ignored and dropped, as Google does, or refused with a
non-default value when Discovery(..., output_only="reject"). The messages use
Google's wording ("Invalid JSON payload received. Unknown name ...", "Invalid value
at 'service.template.max_instance_request_concurrency' (TYPE_INT32), ...").

Self-check: python3 tests/fakes/gdiscovery.py [--self-check] [DOC...]
"""
import base64
import json
import re
import sys
import urllib.parse

DURATION = re.compile(r"^-?\d+(\.\d{1,9})?s$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
FIELDMASK = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
                       r"(,[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)*)?$")
PREFIXES = ("GoogleCloudRunV2", "GoogleIamV1", "GoogleLongrunning", "GoogleRpc",
            "GoogleType", "GoogleApi", "GoogleDevtoolsCloudbuildV1")
TYPE_NAMES = {("integer", "int32"): "TYPE_INT32", ("integer", "uint32"): "TYPE_UINT32",
              ("string", "int64"): "TYPE_INT64", ("string", "uint64"): "TYPE_UINT64",
              ("number", "double"): "TYPE_DOUBLE", ("number", "float"): "TYPE_FLOAT",
              ("boolean", None): "TYPE_BOOL", ("string", "byte"): "TYPE_BYTES",
              ("string", None): "TYPE_STRING"}
WELL_KNOWN = {"google-duration": "type.googleapis.com/google.protobuf.Duration",
              "google-datetime": "type.googleapis.com/google.protobuf.Timestamp",
              "google-fieldmask": "type.googleapis.com/google.protobuf.FieldMask"}


def snake(name):
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def is_output_only(schema):
    return schema.get("readOnly") is True or \
        schema.get("description", "").lstrip().startswith("Output only.")


def is_required(schema):
    return schema.get("description", "").lstrip().startswith("Required.")


class Request:
    """One request as the document reads it."""

    def __init__(self):
        self.id, self.method, self.params = None, None, {}
        self.query, self.body, self.errors, self.status = {}, None, [], 200

    def fail(self, field, description):
        self.errors.append((field, description))
        if self.status == 200:
            self.status = 400


class Discovery:
    """A discovery document: its methods by HTTP method and path, their parameters
    and a validating walker over its schemas."""

    def __init__(self, path, output_only="ignore"):
        if output_only not in ("ignore", "reject"):
            raise ValueError("output_only must be 'ignore' or 'reject'")
        with open(path, encoding="utf-8") as f:
            self.doc = json.load(f)
        self.output_only = output_only
        self.name = self.doc.get("name", "")
        self.schemas = self.doc.get("schemas", {})
        self.global_params = self.doc.get("parameters", {})
        self.service_path = self.doc.get("servicePath", "")
        self.methods = {}
        self.routes = []  # (literal length, flat regex, path regex, names, method)
        self._collect(self.doc)
        self.routes.sort(key=lambda r: -r[0])

    def _collect(self, node):
        for m in node.get("methods", {}).values():
            self.methods[m["id"]] = m
            flat = self.service_path + m.get("flatPath", m["path"])
            full = self.service_path + m["path"]
            literal = len(re.sub(r"\{[^}]+\}", "", flat))
            frx = "^/?" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(flat)) + "$"
            names = re.findall(r"\{\+?([^}]+)\}", full)
            prx = re.escape(full)
            prx = re.sub(r"\\\{\\\+[^}]+\\\}", "(.+?)", prx)
            prx = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", prx)
            self.routes.append((literal, re.compile(frx), re.compile("^/?" + prx + "$"),
                                names, m))
        for sub in node.get("resources", {}).values():
            self._collect(sub)

    # -- paths ---------------------------------------------------------------
    def match(self, method, path):
        """(method id, {path parameter: value}) or (None, None); (False, None)
        when the path exists with other methods."""
        path = path.split("?", 1)[0]
        other = False
        for _, frx, prx, names, m in self.routes:
            if not frx.match(path):
                continue
            if m["httpMethod"] != method.upper():
                other = True
                continue
            mo = prx.match(path)
            if not mo:
                continue
            return m["id"], {n: urllib.parse.unquote(v) for n, v in zip(names, mo.groups())}
        return (False if other else None), None

    def method(self, method_id):
        return self.methods[method_id]

    # -- query ---------------------------------------------------------------
    @staticmethod
    def parse_query(query):
        if query is None:
            return {}
        if isinstance(query, str):
            return urllib.parse.parse_qs(query, keep_blank_values=True)
        return {k: (list(v) if isinstance(v, (list, tuple)) else [v]) for k, v in query.items()}

    def check_query(self, method_id, query, req=None):
        """[(field, description)] for the query of method_id."""
        req = req or Request()
        m = self.methods[method_id]
        declared = dict(self.global_params)
        declared.update({k: v for k, v in m.get("parameters", {}).items()
                         if v.get("location") == "query"})
        query = self.parse_query(query)
        for name, values in query.items():
            p = declared.get(name)
            if p is None:
                req.fail(name, "Invalid JSON payload received. Unknown name \"%s\": Cannot bind "
                         "query parameter. Field '%s' could not be found in request message."
                         % (name, name))
                continue
            if len(values) > 1 and not p.get("repeated"):
                req.fail(name, "Invalid value at '%s', repeated values for a singular field"
                         % snake(name))
            for v in values:
                problem = self._query_value(p, v)
                if problem:
                    req.fail(name, "Invalid value at '%s' (%s), \"%s\"" % (snake(name), problem, v[:100]))
        for name, p in m.get("parameters", {}).items():
            if p.get("location") != "query":
                continue
            if (p.get("required") or is_required(p)) and not any(query.get(name, [])):
                req.fail(name, "Required parameter '%s' is missing" % name)
        return req.errors

    @staticmethod
    def _query_value(p, v):
        t, fmt = p.get("type", "string"), p.get("format")
        if "enum" in p and v not in p["enum"]:
            return "TYPE_ENUM"
        if t == "boolean" and v not in ("true", "false"):
            return "TYPE_BOOL"
        if t == "integer" and not re.fullmatch(r"-?\d+", v):
            return TYPE_NAMES.get((t, fmt), "TYPE_INT32")
        if t == "string" and fmt in ("int64", "uint64") and not re.fullmatch(r"-?\d+", v):
            return TYPE_NAMES[(t, fmt)]
        if fmt == "google-fieldmask" and not FIELDMASK.match(v):
            return WELL_KNOWN[fmt]
        if fmt == "google-duration" and not DURATION.match(v):
            return WELL_KNOWN[fmt]
        if fmt == "google-datetime" and not DATETIME.match(v):
            return WELL_KNOWN[fmt]
        return None

    def check_path(self, method_id, params, req=None):
        req = req or Request()
        for name, p in self.methods[method_id].get("parameters", {}).items():
            if p.get("location") != "path":
                continue
            value = params.get(name)
            if value is None:
                req.fail(name, "Required parameter '%s' is missing" % name)
            elif "pattern" in p and not re.match(p["pattern"], value):
                req.fail(name, "Invalid resource field value in the request: %s does not "
                         "match %s" % (value, p["pattern"]))
        return req.errors

    # -- body ----------------------------------------------------------------
    def deref(self, schema):
        seen = 0
        name = None
        while "$ref" in schema:
            name = schema["$ref"]
            if name not in self.schemas:
                raise ValueError("unknown $ref %r" % name)
            schema = self.schemas[name]
            seen += 1
            if seen > 50:
                raise ValueError("$ref loop at %r" % name)
        return schema, name

    def root_name(self, method_id):
        ref = self.methods[method_id].get("request", {}).get("$ref", "")
        for prefix in PREFIXES:
            if ref.startswith(prefix) and len(ref) > len(prefix):
                ref = ref[len(prefix):]
                break
        return snake(ref)

    def check_body(self, method_id, body, req=None, partial=False):
        """(body as kept, [(field, description)]) for the body of method_id."""
        req = req or Request()
        m = self.methods[method_id]
        if "request" not in m:
            if body not in (None, {}, ""):
                req.fail("", "Invalid JSON payload received. Unknown name: the method takes "
                         "no request body")
            return None, req.errors
        if body is None:
            body = {}
        kept = self._walk(body, m["request"], self.root_name(method_id), req, partial,
                          m["request"]["$ref"])
        return kept, req.errors

    def _bad(self, req, path, tname, value):
        shown = json.dumps(value) if not isinstance(value, str) else '"%s"' % value[:100]
        if isinstance(value, dict):
            shown = "{...}"
        elif isinstance(value, list):
            shown = "[...]"
        req.fail(path, "Invalid value at '%s' (%s), %s" % (path, tname, shown))

    def _walk(self, value, schema, path, req, partial, tname):
        target, ref = self.deref(schema)
        tname = ref or tname
        t, fmt = target.get("type"), target.get("format")
        if "properties" in target or (t == "object" and "additionalProperties" not in target):
            if not isinstance(value, dict):
                req.fail(path, "Invalid JSON payload received. Expected an object at '%s', "
                         "not %s" % (path, json.dumps(value)[:100]))
                return None
            return self._object(value, target, path, req, partial, tname)
        if t == "object":  # a map
            if not isinstance(value, dict):
                req.fail(path, "Invalid JSON payload received. Expected a map at '%s'" % path)
                return None
            sub = target["additionalProperties"]
            return {k: self._walk(v, sub, "%s[%s]" % (path, k), req, partial, tname + "Value")
                    for k, v in value.items() if v is not None}
        if t == "array":
            if not isinstance(value, list):
                req.fail(path, "Invalid JSON payload received. Expected an array at '%s'" % path)
                return None
            return [self._walk(v, target.get("items", {}), "%s[%d]" % (path, i), req, partial, tname)
                    for i, v in enumerate(value)]
        if "enum" in target:
            if not isinstance(value, str) or value not in target["enum"]:
                self._bad(req, path, "type.googleapis.com/%s" % tname, value)
            return value
        if t == "string":
            return self._string(value, fmt, path, req)
        if t == "integer":
            lo, hi = (0, 2**32) if fmt == "uint32" else (-2**31, 2**31)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value < hi:
                self._bad(req, path, TYPE_NAMES.get((t, fmt), "TYPE_INT32"), value)
            return value
        if t == "number":
            if isinstance(value, bool) or not (isinstance(value, (int, float)) or
                                               value in ("NaN", "Infinity", "-Infinity")):
                self._bad(req, path, TYPE_NAMES.get((t, fmt), "TYPE_DOUBLE"), value)
            return value
        if t == "boolean":
            if not isinstance(value, bool):
                self._bad(req, path, "TYPE_BOOL", value)
            return value
        return value  # "any" or no type

    def _string(self, value, fmt, path, req):
        if fmt in ("int64", "uint64"):
            ok = isinstance(value, str) and re.fullmatch(r"-?\d+" if fmt == "int64" else r"\d+", value)
            if ok:
                n = int(value)
                ok = -2**63 <= n < 2**63 if fmt == "int64" else n < 2**64
            if not ok:
                self._bad(req, path, TYPE_NAMES[("string", fmt)], value)
            return value
        if not isinstance(value, str):
            self._bad(req, path, WELL_KNOWN.get(fmt) or TYPE_NAMES.get(("string", fmt), "TYPE_STRING"),
                      value)
            return value
        rx = {"google-duration": DURATION, "google-datetime": DATETIME,
              "google-fieldmask": FIELDMASK}.get(fmt)
        if rx and not rx.match(value):
            req.fail(path, "Invalid value at '%s' (%s), Field '%s', Illegal %s format: \"%s\""
                     % (path, WELL_KNOWN[fmt], path,
                        {"google-duration": "duration", "google-datetime": "timestamp",
                         "google-fieldmask": "field mask"}[fmt], value[:100]))
        if fmt == "byte":
            try:
                base64.b64decode(value.replace("-", "+").replace("_", "/") + "==", validate=False)
            except ValueError:
                self._bad(req, path, "TYPE_BYTES", value)
        return value

    @staticmethod
    def _default(value):
        return value in (None, "", 0, False, [], {}) or \
            (isinstance(value, str) and value.endswith("_UNSPECIFIED"))

    def _object(self, value, target, path, req, partial, tname):
        props = target.get("properties", {})
        out = {}
        for key, item in value.items():
            where = "%s.%s" % (path, snake(key)) if path else snake(key)
            sub = props.get(key)
            if sub is None:
                # proto3 JSON accepts the original (snake_case) field name too
                camel = re.sub(r"_([a-z0-9])", lambda mo: mo.group(1).upper(), key)
                sub = props.get(camel) if camel != key else None
                if sub is not None:
                    key = camel
            if sub is None:
                req.fail(path, "Invalid JSON payload received. Unknown name \"%s\"%s: "
                         "Cannot find field." % (key, " at '%s'" % path if path else ""))
                continue
            if item is None:
                continue
            if is_output_only(sub):
                if self.output_only == "reject" and not self._default(item):
                    req.fail(where, "Invalid value at '%s': the field is output only and "
                             "cannot be set" % where)
                continue
            out[key] = self._walk(item, sub, where, req, partial,
                                  "%s.%s%s" % (tname, key[:1].upper(), key[1:]))
        if not partial:
            for key, sub in props.items():
                if is_required(sub) and not is_output_only(sub) and self._default(value.get(key)):
                    where = "%s.%s" % (path, snake(key)) if path else snake(key)
                    req.fail(where, "Field '%s' is required" % where)
        return out

    # -- everything ------------------------------------------------------------
    def request(self, method, url_path, query=None, body=None):
        """A Request: the method matched, its query and body checked."""
        req = Request()
        url_path = url_path.split("?", 1)[0]
        mid, params = self.match(method, url_path)
        if not mid:
            req.status = 405 if mid is False else 404
            req.errors.append(("", "The requested URL %s was not found on this server."
                               % url_path if req.status == 404 else
                               "Method %s is not allowed on %s" % (method, url_path)))
            return req
        req.id, req.method, req.params = mid, self.methods[mid], params
        req.query = self.parse_query(query)
        self.check_path(mid, params, req)
        self.check_query(mid, req.query, req)
        partial = bool(req.query.get("updateMask"))
        req.body, _ = self.check_body(mid, body, req, partial)
        return req

    def validate(self, method, url_path, query=None, body=None):
        """[(field, description)]: empty when the request matches the document."""
        return self.request(method, url_path, query, body).errors

    @staticmethod
    def error_body(errors, code=400, status="INVALID_ARGUMENT"):
        """Google's JSON error for a list of (field, description)."""
        if not errors:
            return {"error": {"code": code, "message": "Request contains an invalid argument.",
                              "status": status}}
        message = errors[0][1] if len(errors) == 1 else \
            "Invalid JSON payload received. " + " ".join(
                d.replace("Invalid JSON payload received. ", "") for _, d in errors[:5])
        return {"error": {"code": code, "message": message, "status": status, "details": [{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": f, "description": d} for f, d in errors]}]}}


def _self_check(paths):
    """Checks the module against the three documents; exit status 1 on a failure."""
    failures = []

    def expect(what, errors, want_errors, fragment=None):
        got = bool(errors)
        if got != want_errors or (fragment and not any(fragment in d for _, d in errors)):
            failures.append("%s: %r" % (what, errors))

    docs = {}
    for p in paths:
        d = Discovery(p)
        docs[d.name] = d
        for mid, m in d.methods.items():  # every method's own path template matches itself
            flat = m.get("flatPath", m["path"])
            sample = re.sub(r"\{[^}]+\}", "x1", flat)
            if m["id"].startswith("run.") and "exportStatus" in mid:
                continue
            got, _ = d.match(m["httpMethod"], "/" + sample)
            if got != mid:
                failures.append("match %s %s -> %s" % (m["httpMethod"], sample, got))
    run = docs.get("run")
    if run:
        base = "/v2/projects/p/locations/us-east1/services"
        ok = {"template": {"containers": [{"image": "us-east1-docker.pkg.dev/p/r/i@sha256:" + "a" * 64,
                                           "ports": [{"containerPort": 8080}],
                                           "resources": {"limits": {"cpu": "1", "memory": "512Mi"}},
                                           "env": [{"name": "A", "value": "b"}]}],
                           "timeout": "300s", "maxInstanceRequestConcurrency": 80,
                           "scaling": {"minInstanceCount": 0, "maxInstanceCount": 3}},
              "labels": {"managed-by": "mldeploy"}, "uid": "ignored", "ingress": "INGRESS_TRAFFIC_ALL"}
        r = run.request("POST", base, "serviceId=svc", ok)
        expect("run create ok", r.errors, False)
        if r.id != "run.projects.locations.services.create" or "uid" in r.body:
            failures.append("run create id/body %r %r" % (r.id, r.body))
        expect("run create no serviceId", run.validate("POST", base, {}, ok), True, "serviceId")
        expect("run unknown query", run.validate("POST", base, {"serviceId": "s", "x": "1"}, ok),
               True, "Cannot bind query parameter")
        bad = json.loads(json.dumps(ok))
        bad["template"]["containers"][0]["bogus"] = 1
        expect("run unknown field", run.validate("POST", base, "serviceId=s", bad), True,
               "Unknown name \"bogus\" at 'service.template.containers[0]'")
        bad = json.loads(json.dumps(ok))
        bad["template"]["timeout"] = "300"
        expect("run duration", run.validate("POST", base, "serviceId=s", bad), True, "Duration")
        bad = json.loads(json.dumps(ok))
        bad["template"]["maxInstanceRequestConcurrency"] = "80"
        expect("run int32", run.validate("POST", base, "serviceId=s", bad), True, "TYPE_INT32")
        bad = json.loads(json.dumps(ok))
        bad["ingress"] = "EVERYWHERE"
        expect("run enum", run.validate("POST", base, "serviceId=s", bad), True, "EVERYWHERE")
        bad = json.loads(json.dumps(ok))
        del bad["template"]
        expect("run required", run.validate("POST", base, "serviceId=s", bad), True, "service.template")
        bad = json.loads(json.dumps(ok))
        del bad["template"]["containers"][0]["image"]
        expect("run required nested", run.validate("POST", base, "serviceId=s", bad), True, "image")
        bad = json.loads(json.dumps(ok))
        bad["labels"] = {"a": 1}
        expect("run map value", run.validate("POST", base, "serviceId=s", bad), True, "TYPE_STRING")
        expect("run patch mask", run.validate("PATCH", base + "/svc", "updateMask=template.containers",
                                              {"labels": {}}), False)
        expect("run patch bad mask", run.validate("PATCH", base + "/svc", "updateMask=a b", ok),
               True, "FieldMask")
        expect("run get ok", run.validate("GET", base + "/svc", "", None), False)
        expect("run get body", run.validate("GET", base + "/svc", "", {"a": 1}), True)
        mid, params = run.match("POST", base + "/svc:setIamPolicy")
        if mid != "run.projects.locations.services.setIamPolicy" or \
                params != {"resource": "projects/p/locations/us-east1/services/svc"}:
            failures.append("run setIamPolicy match %r %r" % (mid, params))
        if run.match("PUT", base + "/svc") != (False, None):
            failures.append("run PUT not 405")
        if run.match("GET", "/v1/nothing") != (None, None):
            failures.append("run unknown path not 404")
        strict = Discovery(paths[[Discovery(p).name for p in paths].index("run")], output_only="reject")
        expect("run output only rejected", strict.validate("POST", base, "serviceId=s", ok), True,
               "output only")
        expect("run output only default ok", strict.validate(
            "POST", base, "serviceId=s", dict(ok, uid="")), False)
    ar = docs.get("artifactregistry")
    if ar:
        base = "/v1/projects/p/locations/us-east1/repositories"
        expect("ar create ok", ar.validate("POST", base, {"repositoryId": ["r"]}, {"format": "DOCKER"}), False)
        expect("ar create bad format", ar.validate("POST", base, "repositoryId=r", {"format": "OCI"}),
               True, "Repository.Format")
        expect("ar create no id", ar.validate("POST", base, "", {"format": "DOCKER"}), True, "repositoryId")
        expect("ar int64", ar.validate("POST", base, "repositoryId=r",
                                       {"format": "DOCKER", "cleanupPolicies": {"x": {
                                           "id": "x", "action": "DELETE",
                                           "mostRecentVersions": {"keepCount": 3}}}}), False)
        expect("ar bool query", ar.validate("GET", base + "/r", "prettyPrint=yes", None), True, "TYPE_BOOL")
        expect("ar xgafv", ar.validate("GET", base + "/r", "$.xgafv=2&alt=json", None), False)
    ae = docs.get("appengine")
    if ae:
        base = "/v1/apps/p/services/default"
        ok = {"id": "v1", "env": "flex", "runtime": "custom",
              "deployment": {"container": {"image": "us-east1-docker.pkg.dev/p/r/i@sha256:" + "b" * 64}},
              "resources": {"cpu": 1, "memoryGb": 0.5},
              "automaticScaling": {"minTotalInstances": 1, "coolDownPeriod": "120s"},
              "livenessCheck": {"path": "/healthz"}, "envVariables": {"A": "b"}}
        expect("ae version create ok", ae.validate("POST", base + "/versions", "", ok), False)
        expect("ae split mask", ae.validate("PATCH", base, "updateMask=split",
                                            {"split": {"allocations": {"v1": 1}, "shardBy": "IP"}}), False)
        expect("ae split bad", ae.validate("PATCH", base, "updateMask=split",
                                           {"split": {"allocations": {"v1": "all"}}}), True, "TYPE_DOUBLE")
        expect("ae error body", [] if Discovery.error_body([("a", "b")])["error"]["status"] ==
               "INVALID_ARGUMENT" else [("x", "y")], False)
    for f in failures:
        print("FAIL", f)
    print("gdiscovery: %d documents, %d failure(s)" % (len(docs), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--self-check"]
    if not args:
        import os
        models = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "..", "..", "..", "shared", "api-models")
        args = [os.path.join(models, n) for n in ("google-run-v2.json", "google-appengine-v1.json",
                                                  "google-artifactregistry-v1.json")]
    sys.exit(_self_check(args))
