"""A swagger 2.0 document as Azure Resource Manager reads request bodies, for the
fakes in tests/fakes (azurearm.py). Standard library only.

    sw = Swagger(PATH [, extra_definitions])
    op, params = sw.match("PUT", path)       # path templates, case-insensitive
    sw.check_query(op, query)                # declared query parameters
    kept = sw.schema.check(body, sw.body_schema(op)["schema"])
    shown = sw.schema.render(doc, schema)    # x-ms-secret members left out

check() walks $ref, allOf, properties, required, additionalProperties, type, format
int32 and enum (matched case-insensitively, kept in the spec's spelling); an unknown
member is refused unless additionalProperties allows it (an object schema without
properties is free-form); readOnly members are dropped, as ARM ignores them on
input; x-ms-client-flatten changes nothing on the wire. The first violation raises
Invalid with ARM's (Newtonsoft's) wording and the JSON path of the field.
"""
import json
import re
import urllib.parse


class Invalid(Exception):
    """A body or query that breaks the document: ARM's message and the field."""

    def __init__(self, message, target):
        super().__init__(message)
        self.message, self.target = message, target


class Schema:
    """The swagger's definitions and a validating walker over them."""

    def __init__(self, definitions):
        self.defs = definitions

    def deref(self, schema):
        """(the schema behind any $ref, the name of the last definition followed)"""
        name = None
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/definitions/"):
                raise ValueError("unsupported $ref %r" % ref)
            name = ref[len("#/definitions/"):]
            schema = self.defs[name]
            seen += 1
            if seen > 50:
                raise ValueError("$ref loop at %r" % ref)
        return schema, name

    def members(self, schema):
        """(properties, required, additionalProperties or None, closed) of an object
        schema, allOf merged in."""
        schema, _ = self.deref(schema)
        props, required, extra, closed = {}, set(), None, False
        for part in schema.get("allOf", []):
            p, r, e, c = self.members(part)
            props.update(p)
            required |= r
            extra = e if e is not None else extra
            closed = closed or c
        if "properties" in schema:
            props.update(schema["properties"])
            closed = True
        required |= set(schema.get("required", []))
        if "additionalProperties" in schema:
            extra = schema["additionalProperties"]
        return props, required, extra, closed

    @staticmethod
    def read_only(schema):
        return isinstance(schema, dict) and schema.get("readOnly") is True

    def is_secret(self, schema):
        if isinstance(schema, dict) and schema.get("x-ms-secret"):
            return True
        target, _ = self.deref(schema)
        return bool(target.get("x-ms-secret"))

    @staticmethod
    def _fail(inner, path, target=None):
        raise Invalid("The request content was invalid and could not be deserialized: "
                      "'%s Path '%s'.'" % (inner, path), target or path)

    @staticmethod
    def _show(value):
        if isinstance(value, str):
            return '"%s"' % value[:100]
        if isinstance(value, (dict, list)):
            return "%s" % ("an object" if isinstance(value, dict) else "an array")
        return json.dumps(value)

    def _kind(self, schema):
        if schema.get("type"):
            return schema["type"]
        if any(k in schema for k in ("properties", "allOf", "additionalProperties")):
            return "object"
        return None

    def check(self, value, schema, path="", tname="Object"):
        """The value as the service keeps it (readOnly members dropped, enums in the
        spec's spelling); Invalid on the first violation."""
        target, refname = self.deref(schema)
        tname = refname or tname
        kind = self._kind(target)
        if "enum" in target:
            enum_name = target.get("x-ms-enum", {}).get("name", tname)
            if not isinstance(value, str):
                self._fail("Error converting value %s to type '%s'."
                           % (self._show(value), enum_name), path)
            for choice in target["enum"]:
                if isinstance(choice, str) and choice.lower() == value.lower():
                    return choice
            self._fail("Error converting value %s to type '%s'. Allowed values: %s."
                       % (self._show(value), enum_name, ", ".join(target["enum"])), path)
        if kind == "object":
            if not isinstance(value, dict):
                self._fail("Error converting value %s to type '%s'."
                           % (self._show(value), tname), path)
            props, required, extra, closed = self.members(target)
            out = {}
            for key, item in value.items():
                where = "%s.%s" % (path, key) if path else key
                if key in props:
                    sub = props[key]
                    if self.read_only(sub) or self.read_only(self.deref(sub)[0]):
                        continue  # ignored on input, as ARM does
                    if item is None:
                        continue
                    out[key] = self.check(item, sub, where, tname + key[:1].upper() + key[1:])
                elif extra is not None and extra is not False:
                    if item is None:
                        continue
                    sub = extra if isinstance(extra, dict) else {}
                    out[key] = self.check(item, sub, "%s['%s']" % (path, key), tname + "Value")
                elif closed:
                    self._fail("Could not find member '%s' on object of type '%s'." % (key, tname),
                               where)
                else:
                    out[key] = item  # a free-form object ({"type": "object"} alone)
            for key in sorted(required):
                if value.get(key) is None:
                    self._fail("Required property '%s' not found in JSON." % key, path,
                               "%s.%s" % (path, key) if path else key)
            return out
        if kind == "array":
            if not isinstance(value, list):
                self._fail("Error converting value %s to type '%s[]'."
                           % (self._show(value), tname), path)
            items = target.get("items", {})
            return [self.check(v, items, "%s[%d]" % (path, i), tname) for i, v in enumerate(value)]
        if kind == "string":
            if not isinstance(value, str):
                self._fail("Error converting value %s to type 'String'." % self._show(value), path)
            return value
        if kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                self._fail("Error converting value %s to type 'Int32'." % self._show(value), path)
            if target.get("format", "int32") == "int32" and not -2**31 <= value < 2**31:
                self._fail("Value %d is too large or too small for an Int32." % value, path)
            return value
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self._fail("Error converting value %s to type 'Double'." % self._show(value), path)
            return value
        if kind == "boolean":
            if not isinstance(value, bool):
                self._fail("Error converting value %s to type 'Boolean'." % self._show(value), path)
            return value
        return value  # no type: anything

    def render(self, value, schema):
        """value for an answer: x-ms-secret members left out."""
        target, _ = self.deref(schema)
        kind = self._kind(target)
        if kind == "object" and isinstance(value, dict):
            props, _, extra, _ = self.members(target)
            out = {}
            for key, item in value.items():
                sub = props.get(key)
                if sub is None and isinstance(extra, dict):
                    sub = extra
                if sub is not None and self.is_secret(sub):
                    continue
                out[key] = self.render(item, sub) if sub is not None else item
            return out
        if kind == "array" and isinstance(value, list):
            return [self.render(v, target.get("items", {})) for v in value]
        return value


class Swagger:
    """A swagger 2.0 document: its operations by path and method, its parameters and
    a Schema over its definitions (and extra ones in the same form)."""

    def __init__(self, path, extra_definitions=None):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        self.version = doc["info"]["version"]
        defs = dict(doc["definitions"])
        defs.update(extra_definitions or {})
        self.schema = Schema(defs)
        self.params = doc.get("parameters", {})
        self.ops = []  # (regex, names, method, operation)
        for template, item in doc["paths"].items():
            names = re.findall(r"\{([^}]+)\}", template)
            rx = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "/?$"
            for method, op in item.items():
                if method in ("get", "put", "post", "patch", "delete", "head"):
                    self.ops.append((re.compile(rx, re.I), names, method.upper(), op))

    def match(self, method, path):
        """(operation, {path parameter: value}) or (None, None); (False, None) when
        the path exists with other methods."""
        other = False
        for rx, names, m, op in self.ops:
            mo = rx.match(path)
            if not mo:
                continue
            if m != method and not (method == "HEAD" and m == "GET"):
                other = True
                continue
            return op, {n: urllib.parse.unquote(v) for n, v in zip(names, mo.groups())}
        return (False if other else None), None

    def parameters(self, op):
        out = []
        for p in op.get("parameters", []):
            if "$ref" in p:
                p = self.params[p["$ref"].rsplit("/", 1)[-1]]
            out.append(p)
        return out

    def body_schema(self, op):
        for p in self.parameters(op):
            if p.get("in") == "body":
                return p
        return None

    def check_query(self, op, query):
        for p in self.parameters(op):
            if p.get("in") != "query":
                continue
            name = p["name"]
            if name == "api-version":
                continue  # checked before the resource group, as ARM does
            if name not in query:
                if p.get("required"):
                    raise Invalid("The query parameter '%s' is required." % name, name)
                continue
            if p.get("type") == "integer" and not re.fullmatch(r"-?\d+", query[name]):
                raise Invalid("The query parameter '%s' must be an integer, not '%s'."
                              % (name, query[name][:50]), name)
            if p.get("type") == "boolean" and query[name].lower() not in ("true", "false"):
                raise Invalid("The query parameter '%s' must be true or false." % name, name)
