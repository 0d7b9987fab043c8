#!/usr/bin/python3
"""Fault-injecting reverse proxy for the end-to-end tests (tests/e2e/lib.sh:
start_faultproxy, proxy_rules, proxy_count). Debian's python3, standard library only.

Sits on 127.0.0.1 in front of a real registry (--upstream http[s]://HOST:PORT) and
forwards every request: method, raw path+query, headers (Authorization included) and
the body, streamed in 64 KiB pieces (a chunked request body is decoded and re-chunked
upstream). Differences from the client's request, all of them deliberate:
  - Host is the upstream's host:port (as nginx does); Location headers of the answers
    that point at the upstream are rewritten to the origin the client used (its Host,
    the proxy's scheme), so upload sessions continue through the proxy;
  - hop-by-hop headers (Connection and the ones it names, Keep-Alive, TE, Trailer,
    Transfer-Encoding, Upgrade, Proxy-*) are not forwarded, nor is Expect: the proxy
    answers "100 Continue" itself, only when it starts reading the body.
The client side is HTTP/1.1 with keep-alive; every forwarded request uses a new
upstream connection. Answers are relayed as they come (Server/Date of the upstream
kept); a body of unknown length goes out chunked.

Faults come from a JSON rules file (--rules) re-read on every request, so a test may
change it while the proxy runs: a list of objects
  {"method": "PATCH", "path_regex": "/blobs/uploads/", "nth": 1,
   "action": "reset_after_bytes", "bytes": 1048576}
  method      optional; an HTTP method (case-insensitive) or "*" (default: any)
  path_regex  optional; Python regex searched (re.search) in the raw path?query
  nth         optional; 1-based number of the matching request the rule fires on, a
              list of such numbers, or "every" (default 1). Each rule counts the
              requests matching its method and path_regex on its own, whether or
              not it fires; the counts start again whenever the file changes
              (content, inode or times: lib.sh's proxy_rules writes a new file).
  action      one of
    "status"  answer "code" (100..599) without forwarding: JSON body
              {"errors":[{"code":..., "message":..., "detail":null}]} (the error code
              from "code": 429 TOOMANYREQUESTS, 503 UNAVAILABLE, 401 UNAUTHORIZED,
              403 DENIED, 404 NOT_FOUND, else UNKNOWN; "error_code" overrides),
              optional "retry_after" (seconds or an HTTP date, sent as Retry-After)
              and "headers" (object of extra response headers). A request body is
              read and dropped first; when the client waits for "100 Continue" the
              proxy answers at once instead and closes the connection.
    "reset_after_bytes"
              read "bytes" (N >= 0) bytes of the request body (all of it when it is
              shorter; a request without a body is reset at once), then reset the
              client connection (SO_LINGER 0: RST) without an answer. Nothing
              reaches the upstream, unless "forward": true: then
              the request head and exactly those N bytes go upstream, followed by
              the end of that connection (FIN); the proxy waits for the upstream to
              give up on the request before it resets the client. (Registry 2.8
              keeps the partial data, so the client's last upload Location stops
              working: GET on it answers 404 BLOB_UPLOAD_INVALID.)
    "reset_before_response"
              forward the whole request, read the upstream's whole answer, then reset
              the client connection instead of relaying it: the registry has done
              the work, the client never hears about it.
    "delay_ms"
              sleep "ms" milliseconds before going on (other rules still apply).
  comment     optional, ignored.
Unknown keys or values are errors (--check-rules FILE|- validates a file and exits 0,
or 2 with the reason). When several rules fire on one request, every delay_ms sleeps
(in file order) and then the first other action wins. An unreadable or invalid rules
file (after retrying for a second, in case a writer is half-way) answers 500 and
logs fault=bad_rules.

--redirect-blobs-to URL_BASE (e.g. http://localhost:PORT2): GET /v2/<name>/blobs/
<digest> and PUT/PATCH /v2/<name>/blobs/uploads/<id> are answered "307 Temporary
Redirect" to URL_BASE + the same path?query (after the rules, which take precedence),
like a registry that sends blobs to storage on another origin. HEAD, POST and
everything else is forwarded.

Every request is appended to the log file (--log) as one line of space-separated
key=value fields, spaces and controls in values percent-escaped (path is the raw
request target):
  method=PATCH path=/v2/x/blobs/uploads/ID?_state=... status=202|reset|client_gone|
  upstream_broke (what the client got) bytes=N (request body bytes received from the
  client) auth=none|basic|bearer|other (never the credential) up=202|-|aborted|error
  (the upstream's status; - when not forwarded, aborted by reset_after_bytes forward)
  fault=- | fault=status:503 | fault=reset_after_bytes:N | fault=reset_before_response
  | fault=delay_ms:N | fault=redirect | fault=bad_rules (one field per fault)
  content_range=... (the request's Content-Range or -) range=... (the answer's Range
  or -) conn=N (client connection number, from 1) ms=N (time to answer)
A line is written before the last byte of its answer (or the reset) goes out, so it is
in the log when the client sees the answer.

Binds 127.0.0.1 on a free port (or --port), prints the port on stdout, exits when its
parent does. --tls-cert/--tls-key serve HTTPS; --upstream-ca verifies an https
upstream.

usage: faultproxy.py --upstream URL --rules RULES.json --log LOG [--port N]
                     [--redirect-blobs-to URL_BASE] [--upstream-ca CA.pem]
                     [--tls-cert CRT --tls-key KEY]
       faultproxy.py --check-rules FILE|-
"""
import argparse
import http.client
import itertools
import json
import re
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

import faultrules
import loopback

PIECE = 65536
UPSTREAM_TIMEOUT = 300
ERROR_CODES = {401: "UNAUTHORIZED", 403: "DENIED", 404: "NOT_FOUND", 405: "UNSUPPORTED",
               429: "TOOMANYREQUESTS", 503: "UNAVAILABLE"}
ACTION_KEYS = {
    "status": ({"code"}, {"retry_after", "headers", "error_code"}),
    "reset_after_bytes": ({"bytes"}, {"forward"}),
    "reset_before_response": (set(), set()),
    "delay_ms": ({"ms"}, set()),
}
# /v2/<name>/blobs/<digest> (not uploads) and /v2/<name>/blobs/uploads/<id>
BLOB_PATH = re.compile(r"^/v2/.+/blobs/[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Za-z0-9=_-]+$")
UPLOAD_PATH = re.compile(r"^/v2/.+/blobs/uploads/[^/]+$")

log_lock = threading.Lock()
conn_ids = itertools.count(1)


class ClientGone(Exception):
    """The client closed or broke its connection, or sent a malformed body."""


def escape(value):
    out = []
    for ch in value:
        if ord(ch) < 0x21 or ord(ch) == 0x7F:
            out.append("%%%02X" % ord(ch))
        else:
            out.append(ch)
    return "".join(out) or "-"


def check_action(r, where):
    action = r["action"]
    if action == "status":
        faultrules.check_status(r, where, http_date=True)
        if not isinstance(r.get("error_code", ""), str):
            raise ValueError("%s: error_code must be a string" % where)
    elif action == "reset_after_bytes":
        if not faultrules.is_int(r["bytes"]) or r["bytes"] < 0:
            raise ValueError("%s: bytes must be a number >= 0" % where)
        if not isinstance(r.get("forward", False), bool):
            raise ValueError("%s: forward must be true or false" % where)
    elif action == "delay_ms":
        if not faultrules.is_int(r["ms"]) or r["ms"] < 0:
            raise ValueError("%s: ms must be a number >= 0" % where)


def check_rules(data):
    """The validated rules (dicts with a compiled "re"); ValueError with the reason."""
    return faultrules.check_rules(data, ACTION_KEYS, check_action)


class Body:
    """The request body as the client sends it (Content-Length or chunked)."""

    def __init__(self, handler):
        self.h = handler
        self.received = 0
        te = handler.headers.get("Transfer-Encoding", "")
        self.chunked = te.strip().lower().endswith("chunked")
        if te and not self.chunked:
            raise ClientGone("unsupported Transfer-Encoding %r" % te)
        if self.chunked:
            self.left = 0        # bytes left in the current chunk
            self.done = False
        else:
            cl = handler.headers.get("Content-Length")
            try:
                self.left = int(cl) if cl is not None else 0
            except ValueError:
                raise ClientGone("bad Content-Length %r" % cl) from None
            if self.left < 0:
                raise ClientGone("bad Content-Length %r" % cl)
            self.done = self.left == 0

    def present(self):
        return self.chunked or self.left > 0

    def _raw(self, n):
        self.h.continue_100()
        try:
            data = self.h.rfile.read(n)
        except (OSError, ValueError) as e:
            raise ClientGone(str(e)) from None
        if len(data) < n:
            raise ClientGone("the client closed the connection mid-body")
        return data

    def _line(self):
        self.h.continue_100()
        try:
            line = self.h.rfile.readline(4096)
        except (OSError, ValueError) as e:
            raise ClientGone(str(e)) from None
        if not line.endswith(b"\n"):
            raise ClientGone("the client closed the connection mid-body")
        return line

    def read(self, n=PIECE):
        """Up to n bytes (b"" at the end)."""
        if self.done or n <= 0:
            return b""
        if self.chunked and self.left == 0:
            try:
                size = int(self._line().split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ClientGone("bad chunk size") from None
            if size == 0:
                while self._line() not in (b"\r\n", b"\n"):
                    pass  # trailers
                self.done = True
                return b""
            self.left = size
        data = self._raw(min(n, self.left))
        self.left -= len(data)
        self.received += len(data)
        if self.chunked and self.left == 0:
            if self._line() not in (b"\r\n", b"\n"):
                raise ClientGone("bad chunk end")
        elif not self.chunked and self.left == 0:
            self.done = True
        return data

    def drain(self):
        while self.read():
            pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mldeploy-test-faultproxy"
    timeout = 300
    opts = None      # set in main()
    rules = None
    upstream = None  # urllib.parse.SplitResult
    upstream_base = None
    upstream_ctx = None

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        self.conn_id = next(conn_ids)

    # BaseHTTPRequestHandler answers "Expect: 100-continue" in parse_request; the
    # proxy sends it only when it starts reading the body (continue_100), so an
    # early answer (status fault, redirect) goes out instead of it.
    def parse_request(self):
        self.expect_pending = False
        return super().parse_request()

    def handle_expect_100(self):
        self.expect_pending = True
        return True

    def continue_100(self):
        if self.expect_pending:
            self.expect_pending = False
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    # ------------------------------------------------------------ log

    def write_log(self, status, range_header=None):
        if self.logged:
            return
        self.logged = True
        body = self.body.received if self.body else 0
        fields = ["method=" + escape(self.command), "path=" + escape(self.path),
                  "status=%s" % status, "bytes=%d" % body,
                  "auth=" + loopback.auth_kind(self.headers),
                  "up=%s" % (self.up_status if self.up_status is not None else "-")]
        fields += ["fault=" + escape(f) for f in self.faults] or ["fault=-"]
        fields += ["content_range=" + escape(self.headers.get("Content-Range", "")),
                   "range=" + escape(range_header or ""),
                   "conn=%d" % self.conn_id,
                   "ms=%d" % ((time.monotonic() - self.t0) * 1000)]
        with log_lock, open(self.opts.log, "a", encoding="utf-8") as f:
            f.write(" ".join(fields) + "\n")

    # ------------------------------------------------------------ answers

    def reset(self, status="reset"):
        """Log, then close the client connection with an RST, without an answer."""
        self.write_log(status)
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.server.reset(self.connection)
        self.close_connection = True

    def front_base(self):
        scheme = "https" if self.server.tls else "http"
        host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
        return "%s://%s" % (scheme, host)

    def answer(self, status, body, headers=(), content_type="application/json"):
        """Answer without forwarding: the request body is dropped first, or, when the
        client still waits for 100 Continue, not read and the connection closed."""
        if self.body and self.body.present():
            if self.expect_pending:
                self.close_connection = True
            else:
                try:
                    self.body.drain()
                except ClientGone:
                    self.write_log("client_gone")
                    self.close_connection = True
                    return
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.write_log(status)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def answer_error(self, status, code, message, headers=()):
        body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]})
        self.answer(status, body.encode(), headers)

    # ------------------------------------------------------------ upstream

    def upstream_connection(self):
        host, port = self.upstream.hostname, self.upstream.port
        if self.upstream.scheme == "https":
            return http.client.HTTPSConnection(host, port or 443, timeout=UPSTREAM_TIMEOUT,
                                               context=self.upstream_ctx)
        return http.client.HTTPConnection(host, port or 80, timeout=UPSTREAM_TIMEOUT)

    def send_upstream_head(self, conn):
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        named = {t.strip().lower() for v in self.headers.get_all("Connection", [])
                 for t in v.split(",")}
        for k, v in self.headers.items():
            lk = k.lower()
            if lk in loopback.HOP_BY_HOP or lk in named or lk == "host":
                continue
            conn.putheader(k, v)
        conn.putheader("Host", self.upstream.netloc)
        if self.body.chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()

    def send_upstream_body(self, conn, limit=None):
        """Stream the body upstream (at most limit bytes; then no chunked end)."""
        left = limit
        while left is None or left > 0:
            piece = self.body.read(PIECE if left is None else min(PIECE, left))
            if not piece:
                break
            if left is not None:
                left -= len(piece)
            if self.body.chunked:
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                conn.send(piece)
        if self.body.chunked and limit is None:
            conn.send(b"0\r\n\r\n")

    def rewrite_location(self, value):
        base = self.upstream_base
        if value.lower().startswith(base.lower()) and value[len(base):len(base) + 1] in ("", "/", "?", "#"):
            return self.front_base() + value[len(base):]
        return value

    def forward(self, reset_before_response=False):
        conn = self.upstream_connection()
        try:
            try:
                self.send_upstream_head(conn)
                try:
                    self.send_upstream_body(conn)
                except OSError:
                    # The upstream may have answered early and closed: relay that
                    # answer; the rest of the client's body is never read.
                    self.close_connection = True
                resp = conn.getresponse()
            except ClientGone:
                self.write_log("client_gone")
                self.close_connection = True
                return
            except (OSError, http.client.HTTPException) as e:
                self.up_status = "error"
                self.answer_error(502, "UNAVAILABLE", "faultproxy: upstream: %s" % e)
                return
            self.up_status = resp.status
            if reset_before_response:
                try:
                    while resp.read(PIECE):
                        pass
                except (OSError, http.client.HTTPException):
                    pass
                self.reset()
                return
            self.relay(resp)
        finally:
            conn.close()

    def relay(self, resp):
        status = resp.status
        no_body = (self.command == "HEAD" or status in (204, 304) or 100 <= status < 200)
        named = {t.strip().lower() for v in resp.msg.get_all("Connection", [])
                 for t in v.split(",")}
        self.send_response_only(status, resp.reason)
        for k, v in resp.msg.items():
            lk = k.lower()
            if lk in loopback.HOP_BY_HOP or lk in named:
                continue
            if lk == "location":
                v = self.rewrite_location(v)
            self.send_header(k, v)
        length = resp.getheader("Content-Length") if not resp.chunked else None
        chunked = False
        if not no_body and length is None:
            if self.request_version == "HTTP/1.1":
                chunked = True
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.close_connection = True
        if self.close_connection:
            self.send_header("Connection", "close")
        range_header = resp.getheader("Range")
        if no_body:
            self.write_log(status, range_header)
            self.end_headers()
            return
        self.end_headers()
        # One piece of look-ahead: the log line is written before the last piece.
        try:
            piece = resp.read(PIECE)
            while True:
                nxt = resp.read(PIECE) if piece else b""
                out = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked and piece else piece
                if not nxt:
                    self.write_log(status, range_header)
                    self.wfile.write(out + (b"0\r\n\r\n" if chunked else b""))
                    return
                self.wfile.write(out)
                piece = nxt
        except (OSError, http.client.HTTPException):
            # Upstream broke mid-body: pass the breakage on.
            self.reset("upstream_broke")

    # ------------------------------------------------------------ dispatch

    def handle_any(self):
        self.t0 = time.monotonic()
        self.logged = False
        self.faults = []
        self.up_status = None
        self.body = None
        try:
            self.body = Body(self)
        except ClientGone as e:
            self.close_connection = True
            self.answer_error(400, "UNKNOWN", "faultproxy: %s" % e)
            return
        try:
            fired = self.rules.fire(self.command, self.path)
        except faultrules.RulesError as e:
            sys.stderr.write("faultproxy: %s\n" % e)
            sys.stderr.flush()
            self.faults.append("bad_rules")
            self.answer_error(500, "UNKNOWN", "faultproxy: %s" % e)
            return
        action = None
        for rule in fired:
            if rule["action"] == "delay_ms":
                self.faults.append("delay_ms:%d" % rule["ms"])
                time.sleep(rule["ms"] / 1000)
            elif action is None:
                action = rule
        if action is None:
            target = self.redirect_target()
            if target:
                self.faults.append("redirect")
                self.answer(307, b"", [("Location", target)], content_type="text/plain")
            else:
                self.forward()
            return
        kind = action["action"]
        if kind == "status":
            code = action["code"]
            self.faults.append("status:%d" % code)
            headers = list(action.get("headers", {}).items())
            if "retry_after" in action:
                headers.append(("Retry-After", str(action["retry_after"])))
            self.answer_error(code, action.get("error_code") or ERROR_CODES.get(code, "UNKNOWN"),
                              "faultproxy: injected status %d" % code, headers)
        elif kind == "reset_before_response":
            self.faults.append("reset_before_response")
            self.forward(reset_before_response=True)
        elif kind == "reset_after_bytes":
            self.faults.append("reset_after_bytes:%d" % action["bytes"])
            self.reset_after(action["bytes"], action.get("forward", False))

    def reset_after(self, n, forward):
        conn = None
        try:
            if forward:
                conn = self.upstream_connection()
                try:
                    self.send_upstream_head(conn)
                    self.send_upstream_body(conn, limit=n)
                    self.up_status = "aborted"
                except (OSError, http.client.HTTPException):
                    self.up_status = "error"
            # Without forward, or when the upstream failed: read up to n all the same.
            while self.body.received < n and self.body.read(min(PIECE, n - self.body.received)):
                pass
        except ClientGone:
            self.write_log("client_gone")
            self.close_connection = True
            return
        finally:
            if conn is not None:
                self.abandon_upstream(conn)
        self.reset()

    @staticmethod
    def abandon_upstream(conn):
        """End an upstream request mid-body: a FIN after exactly the bytes sent, then
        wait (5 s at most) until the upstream has dealt with it and closes, so its
        state is settled before the client hears anything."""
        sock = conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_WR)
                sock.settimeout(5)
                while sock.recv(PIECE):
                    pass
            except OSError:
                pass
        conn.close()

    def redirect_target(self):
        base = self.opts.redirect_blobs_to
        if not base:
            return None
        path = self.path.split("?", 1)[0]
        if (self.command == "GET" and BLOB_PATH.match(path)) or (
                self.command in ("PUT", "PATCH") and UPLOAD_PATH.match(path)):
            return base.rstrip("/") + self.path
        return None

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any


def main():
    ap = argparse.ArgumentParser(description="fault-injecting registry proxy for tests")
    ap.add_argument("--upstream", help="http[s]://HOST:PORT of the registry")
    ap.add_argument("--rules", help="rules JSON file (a list), re-read on every request")
    ap.add_argument("--log", help="request log file")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--redirect-blobs-to", metavar="URL_BASE")
    ap.add_argument("--upstream-ca", help="CA bundle verifying an https upstream")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--check-rules", metavar="FILE", help="validate a rules file ('-': stdin)")
    opts = ap.parse_args()

    if opts.check_rules:
        try:
            if opts.check_rules == "-":
                text = sys.stdin.read()
            else:
                with open(opts.check_rules, encoding="utf-8") as f:
                    text = f.read()
            check_rules(json.loads(text))
        except (OSError, ValueError) as e:
            sys.stderr.write("faultproxy: invalid rules: %s\n" % e)
            sys.exit(2)
        sys.exit(0)

    for need in ("upstream", "rules", "log"):
        if not getattr(opts, need):
            ap.error("--%s is required" % need)
    if bool(opts.tls_cert) != bool(opts.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    up = urllib.parse.urlsplit(opts.upstream)
    if up.scheme not in ("http", "https") or not up.hostname or up.path not in ("", "/"):
        ap.error("--upstream must be http[s]://HOST[:PORT]")
    if opts.redirect_blobs_to:
        r = urllib.parse.urlsplit(opts.redirect_blobs_to)
        if r.scheme not in ("http", "https") or not r.netloc:
            ap.error("--redirect-blobs-to must be an http[s]:// URL")
    Handler.opts = opts
    Handler.rules = faultrules.Rules(opts.rules, check_rules)
    Handler.upstream = up
    Handler.upstream_base = "%s://%s" % (up.scheme, up.netloc)
    if up.scheme == "https":
        Handler.upstream_ctx = ssl.create_default_context(cafile=opts.upstream_ca)
    open(opts.log, "a").close()

    loopback.serve(Handler, opts.port, opts.tls_cert, opts.tls_key)


if __name__ == "__main__":
    main()
