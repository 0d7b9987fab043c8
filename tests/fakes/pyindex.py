#!/usr/bin/python3
"""Loopback Python package index for the end-to-end tests (tests/e2e/lib.sh:
start_pyindex, pyindex_count). Debian's python3, standard library only.

Serves the wheels (*.whl) and sdists (*.tar.gz, *.zip) of a directory (--dir) as a
PEP 503 / PEP 691 "simple" repository, like PyPI. The directory is read on every
request (a test may add or remove files while the index runs); sha256 digests are
cached by (name, size, mtime). Prints its port on stdout (loopback.serve).

Routes (GET and HEAD):
  /simple/               project list
  /simple/<project>/     the project's files; <project> must be PEP 503 normalized
                         (re.sub(r"[-_.]+", "-", name).lower()), else 301 to the
                         normalized URL; without the final slash, 301 to it; an
                         unknown project is 404
  /files/<filename>      the file itself (application/octet-stream)
  /simple                301 to /simple/
Anything else is 404; other methods are 405.

Content negotiation (PEP 691) on the /simple/ pages: the Accept header's q-values
choose among application/vnd.pypi.simple.v1+json (also latest+json),
application/vnd.pypi.simple.v1+html (also latest+html) and text/html; a more specific
match beats a wildcard at equal q, then text/html beats v1+html beats JSON (so
"*/*" and no Accept at all get text/html). Nothing acceptable: 406. JSON pages are
  {"meta": {"api-version": "1.1"}, "name": "<normalized>", "files": [{"filename",
   "url": "../../files/<f>", "hashes": {"sha256": hex}, "yanked": false,
   "core-metadata": false, "size": N, "requires-python"?: from the wheel's METADATA
   when it has one}], "versions": [...]}
and {"meta": ..., "projects": [{"name": ...}]}; HTML pages have one
<a href="../../files/<f>#sha256=<hex>">f</a> per file (data-requires-python when
known) and <a href="<project>/">project</a> in the list. Every answer has
Vary: Accept.

Options:
  --dir DIR            the files (required)
  --html-only          a PEP 503-only index: ignore Accept, always text/html
  --auth USER:PASS     every request needs HTTP Basic auth with these credentials,
                       else 401 with WWW-Authenticate: Basic realm="pyindex"
  --bad-hash NAME      advertise a wrong sha256 (the sha256 of the right hex digest)
                       for the files of project NAME (normalized); repeatable
  --files-base URL     file URLs become URL/<filename> (absolute, e.g. another
                       origin: http://localhost:PORT/files) instead of ../../files/<f>
  --log FILE           append one JSON line per request, compact, keys in this order:
                       {"method":"GET","path":"/simple/x/","accept":"..." or null,
                        "auth":true|false,"status":200}
                       ("auth": whether an Authorization header was present; its value
                       is never logged; "path" is the raw request target)
  --port N, --tls-cert FILE --tls-key FILE   as loopback.serve
"""
import argparse
import base64
import hashlib
import html
import json
import os
import re
import sys
import threading
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler

import loopback

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
# (media type asked for, what is served); earlier wins a tie
CANDIDATES = [
    ("text/html", "text/html"),
    (HTML_V1, HTML_V1),
    ("application/vnd.pypi.simple.latest+html", HTML_V1),
    (JSON_V1, JSON_V1),
    ("application/vnd.pypi.simple.latest+json", JSON_V1),
]

args = None
log_lock = threading.Lock()
cache_lock = threading.Lock()
file_cache = {}  # filename -> ((size, mtime_ns), sha256 hex, requires-python or None)


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_filename(fn):
    """(normalized project, version) of a distribution file name, or None."""
    if fn.endswith(".whl"):
        parts = fn[:-4].split("-")
        if len(parts) not in (5, 6):
            return None
        return normalize(parts[0]), parts[1]
    for ext in (".tar.gz", ".zip"):
        if fn.endswith(ext):
            stem = fn[: -len(ext)]
            if "-" not in stem:
                return None
            name, version = stem.rsplit("-", 1)
            return normalize(name), version
    return None


def file_info(fn):
    path = os.path.join(args.dir, fn)
    st = os.stat(path)
    key = (st.st_size, st.st_mtime_ns)
    with cache_lock:
        hit = file_cache.get(fn)
    if hit and hit[0] == key:
        return hit[1], hit[2], st.st_size
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    requires_python = None
    if fn.endswith(".whl"):
        try:
            with zipfile.ZipFile(path) as z:
                for name in z.namelist():
                    if name.count("/") == 1 and name.endswith(".dist-info/METADATA"):
                        for line in z.read(name).decode("utf-8", "replace").splitlines():
                            if not line:
                                break
                            if line.lower().startswith("requires-python:"):
                                requires_python = line.split(":", 1)[1].strip()
                        break
        except (zipfile.BadZipFile, OSError):
            pass
    with cache_lock:
        file_cache[fn] = (key, h.hexdigest(), requires_python)
    return h.hexdigest(), requires_python, st.st_size


def projects():
    """{normalized project: [filename, ...]} of the directory right now."""
    out = {}
    for fn in sorted(os.listdir(args.dir)):
        parsed = parse_filename(fn)
        if parsed and os.path.isfile(os.path.join(args.dir, fn)):
            out.setdefault(parsed[0], []).append(fn)
    return out


def version_key(v):
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.+!-]", v)]


def parse_accept(header):
    """[(type, subtype, q)] of an Accept header."""
    out = []
    for item in header.split(","):
        fields = [f.strip() for f in item.split(";")]
        if not fields[0] or "/" not in fields[0]:
            continue
        q = 1.0
        for param in fields[1:]:
            k, _, v = param.partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v.strip())
                except ValueError:
                    q = 0.0
        t, _, s = fields[0].lower().partition("/")
        out.append((t, s, q))
    return out


def negotiate(header):
    """The media type to serve, or None (406)."""
    if args.html_only or header is None or not header.strip():
        return "text/html"
    ranges = parse_accept(header)
    best, best_score = None, None
    for order, (asked, served) in enumerate(CANDIDATES):
        t, _, s = asked.partition("/")
        q, spec = None, -1
        for rt, rs, rq in ranges:
            if rt == t and rs == s:
                m = 2
            elif rt == t and rs == "*":
                m = 1
            elif rt == "*" and rs == "*":
                m = 0
            else:
                continue
            if m > spec:
                q, spec = rq, m
        if q is None or q <= 0:
            continue
        score = (q, spec, -order)
        if best_score is None or score > best_score:
            best, best_score = served, score
    return best


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mldeploy-pyindex/1"

    def log_message(self, fmt, *a):
        pass

    def reply(self, code, body=b"", ctype="text/plain; charset=utf-8", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.log(code)

    def log(self, code):
        if not args.log:
            return
        line = json.dumps({
            "method": self.command,
            "path": self.path,
            "accept": self.headers.get("Accept"),
            "auth": self.headers.get("Authorization") is not None,
            "status": code,
        }, separators=(",", ":"))
        with log_lock:
            with open(args.log, "a") as f:
                f.write(line + "\n")

    def authorized(self):
        if not args.auth:
            return True
        got = self.headers.get("Authorization", "")
        scheme, _, value = got.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            return base64.b64decode(value.strip(), validate=True).decode() == args.auth
        except (ValueError, UnicodeDecodeError):
            return False

    def do_GET(self):
        try:
            self.route()
        except (ConnectionError, TimeoutError):
            raise
        except Exception as e:  # a fake must say why, not hang up
            self.reply(500, "pyindex: %r\n" % (e,))

    do_HEAD = do_GET

    def do_other(self):
        self.reply(405, "method not allowed\n", headers=[("Allow", "GET, HEAD")])
        self.close_connection = True

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_other

    def route(self):
        if not self.authorized():
            self.reply(401, "authentication required\n",
                       headers=[("WWW-Authenticate", 'Basic realm="pyindex"')])
            return
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if path == "/simple":
            self.reply(301, "moved\n", headers=[("Location", "/simple/")])
        elif path == "/simple/":
            self.index()
        elif path.startswith("/simple/"):
            name = path[len("/simple/"):]
            bare = name.rstrip("/")
            if not bare or "/" in bare:
                self.reply(404, "not found\n")
            elif bare != normalize(bare) or not name.endswith("/"):
                loc = "/simple/%s/" % urllib.parse.quote(normalize(bare))
                self.reply(301, "moved\n", headers=[("Location", loc)])
            else:
                self.project(bare)
        elif path.startswith("/files/"):
            self.file(path[len("/files/"):])
        else:
            self.reply(404, "not found\n")

    def index(self):
        ctype = negotiate(self.headers.get("Accept"))
        if ctype is None:
            self.reply(406, "not acceptable\n")
            return
        names = sorted(projects())
        if ctype == JSON_V1:
            body = json.dumps({"meta": {"api-version": "1.1"},
                               "projects": [{"name": n} for n in names]}, indent=1) + "\n"
        else:
            links = "".join('<a href="%s/">%s</a><br/>\n' % (urllib.parse.quote(n), html.escape(n))
                            for n in names)
            body = ('<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" '
                    'content="1.0"><title>Simple index</title></head><body>\n%s</body></html>\n'
                    % links)
        self.reply(200, body, ctype)

    def file_url(self, fn):
        if args.files_base:
            return args.files_base.rstrip("/") + "/" + urllib.parse.quote(fn)
        return "../../files/" + urllib.parse.quote(fn)

    def project(self, name):
        files = projects().get(name)
        if not files:
            self.reply(404, "no such project\n")
            return
        ctype = negotiate(self.headers.get("Accept"))
        if ctype is None:
            self.reply(406, "not acceptable\n")
            return
        entries, versions = [], set()
        for fn in files:
            digest, requires_python, size = file_info(fn)
            if name in args.bad_hash:
                digest = hashlib.sha256(digest.encode()).hexdigest()
            entry = {"filename": fn, "url": self.file_url(fn), "hashes": {"sha256": digest}}
            if requires_python:
                entry["requires-python"] = requires_python
            entry.update({"yanked": False, "core-metadata": False, "size": size})
            entries.append(entry)
            versions.add(parse_filename(fn)[1])
        if ctype == JSON_V1:
            body = json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": entries,
                               "versions": sorted(versions, key=version_key)}, indent=1) + "\n"
        else:
            links = []
            for e in entries:
                rp = ""
                if "requires-python" in e:
                    rp = ' data-requires-python="%s"' % html.escape(e["requires-python"])
                links.append('<a href="%s#sha256=%s"%s>%s</a><br/>\n' % (
                    html.escape(e["url"]), e["hashes"]["sha256"], rp, html.escape(e["filename"])))
            body = ('<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" '
                    'content="1.0"><title>Links for %s</title></head><body>\n<h1>Links for %s</h1>\n'
                    '%s</body></html>\n' % (html.escape(name), html.escape(name), "".join(links)))
        self.reply(200, body, ctype)

    def file(self, fn):
        path = os.path.join(args.dir, fn)
        if not fn or "/" in fn or fn.startswith(".") or not os.path.isfile(path):
            self.reply(404, "no such file\n")
            return
        with open(path, "rb") as f:
            data = f.read()
        self.reply(200, data, "application/octet-stream")


def main():
    global args
    p = argparse.ArgumentParser(description="loopback PEP 503/691 package index")
    p.add_argument("--dir", required=True)
    p.add_argument("--html-only", action="store_true")
    p.add_argument("--auth", metavar="USER:PASS")
    p.add_argument("--bad-hash", metavar="NAME", action="append", default=[])
    p.add_argument("--files-base", metavar="URL")
    p.add_argument("--log", metavar="FILE")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    args = p.parse_args()
    if args.auth is not None and ":" not in args.auth:
        p.error("--auth needs USER:PASS")
    if not os.path.isdir(args.dir):
        p.error("--dir %s is not a directory" % args.dir)
    args.dir = os.path.abspath(args.dir)
    args.bad_hash = {normalize(n) for n in args.bad_hash}
    loopback.serve(Handler, args.port, args.tls_cert, args.tls_key)


if __name__ == "__main__":
    main()
