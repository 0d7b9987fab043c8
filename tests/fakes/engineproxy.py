#!/usr/bin/python3
"""Counting proxy in front of a container engine's API socket, for the end-to-end
tests (tests/e2e/lib.sh: start_engine --proxy, engine_count, engine_mutations).
Debian's python3, standard library only.

Listens on a unix socket (--listen PATH) and relays every client connection to a
new connection to the engine's unix socket (--upstream PATH), one for one, bytes
unchanged: request and answer heads, Content-Length and chunked bodies both ways,
interim answers (100 Continue), keep-alive, pipelining. Bodies are relayed as they
come (streams such as logs?follow=1, events, image load progress are never held
back). The proxy follows the HTTP/1.1 framing only to know where each message ends:
  - an answer "101" (Docker's attach/exec with "Upgrade: tcp") and an answer with
    neither Content-Length nor chunked coding (podman's attach without Upgrade: the
    connection is hijacked) turn the connection into a raw byte pipe both ways,
    until either side closes;
  - after a request that may hijack its connection (an Upgrade header, or a POST
    to .../attach or /exec/ID/start) the proxy reads nothing more from the client
    until the engine has answered it, so the bytes that follow go to the right
    place.

Each request's line is appended to the log (--log) when the engine's final answer
head arrives, before the client sees it, as one compact JSON object:
  {"method":"POST","path":"/v1.41/containers/create","query":"name=app","status":201,
   "t":1733497200.123456,"ms":41.2,"bytes":512}
path and query are the raw request target split at the first "?" (query "" when
there is none, still percent-encoded); status is null when the engine closed the
connection without answering (the proxy answers 502 itself when it cannot reach the
engine at all, and logs that 502). t is when the request head arrived (seconds since
the epoch), ms the time from then to the engine's final answer head (what the
engine took, the request body's relay included; the answer body's relay is not),
bytes the request body bytes relayed to the engine by then (an image load's archive;
chunk framing not counted). The benchmark (bench/deploy.sh) reads t, ms and bytes.

Prints "ready" on stdout once it listens; exits when its parent does.

usage: engineproxy.py --listen SOCKET --upstream ENGINE_SOCKET --log FILE
"""
import argparse
import json
import os
import re
import socket
import socketserver
import sys
import threading
import time

import loopback

PIECE = 65536
MAX_HEAD = 1 << 20
HIJACK_PATH = re.compile(r"/(containers/[^/]+/attach|exec/[^/]+/start)$")

log_lock = threading.Lock()
log_file = None


class Broken(Exception):
    """A peer closed in the middle of a message, or sent something unparsable."""


class Reader:
    """Buffered reads from a socket; every read returns what is there, never waits
    for more than one recv()."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(PIECE)
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def head(self):
        """The next message head (up to and including the blank line), or None at
        a clean end of stream."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head, self.buf = self.buf[:end + 4], self.buf[end + 4:]
                return head
            if len(self.buf) > MAX_HEAD:
                raise Broken("head too long")
            if not self._fill():
                if self.buf:
                    raise Broken("stream ended inside a head")
                return None

    def line(self):
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line, self.buf = self.buf[:end + 2], self.buf[end + 2:]
                return line
            if len(self.buf) > MAX_HEAD:
                raise Broken("line too long")
            if not self._fill():
                raise Broken("stream ended inside a chunk line")

    def some(self, limit):
        """Up to limit bytes (b"" at the end of the stream)."""
        if not self.buf and not self._fill():
            return b""
        piece, self.buf = self.buf[:limit], self.buf[limit:]
        return piece


def parse_head(head):
    """(start line fields, {lower-case name: [values]}) of a message head."""
    lines = head[:-4].split(b"\r\n")
    start = lines[0].decode("latin-1").split(" ", 2)
    fields = {}
    for raw in lines[1:]:
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep:
            raise Broken("bad header line")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    return start, fields


def tokens(fields, name):
    out = []
    for value in fields.get(name, []):
        out += [t.strip().lower() for t in value.split(",") if t.strip()]
    return out


def body_kind(fields):
    """("chunked", None), ("length", N) or (None, None) from the framing headers."""
    codings = tokens(fields, "transfer-encoding")
    if codings:
        if codings[-1] != "chunked":
            return "close", None
        return "chunked", None
    if "content-length" in fields:
        try:
            n = int(fields["content-length"][0])
        except ValueError:
            raise Broken("bad Content-Length")
        if n < 0:
            raise Broken("bad Content-Length")
        return "length", n
    return None, None


def send(sock, data):
    try:
        sock.sendall(data)
    except OSError:
        raise Broken("peer gone")


def relay_length(src, dst, n, req=None):
    """Relays n body bytes; a request's (req) relayed bytes are counted in req[4]."""
    while n > 0:
        piece = src.some(min(n, PIECE))
        if not piece:
            raise Broken("stream ended inside a body")
        send(dst, piece)
        n -= len(piece)
        if req is not None:
            req[4] += len(piece)


def relay_chunked(src, dst, req=None):
    while True:
        line = src.line()
        send(dst, line)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise Broken("bad chunk size")
        if size == 0:
            while True:  # trailers, up to the blank line
                line = src.line()
                send(dst, line)
                if line == b"\r\n":
                    return
        relay_length(src, dst, size, req)
        relay_length(src, dst, 2)


def relay_raw(src, dst):
    while True:
        piece = src.some(PIECE)
        if not piece:
            return
        send(dst, piece)


def shut_write(sock):
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def log(req, status):
    """req: [method, target, settled, arrival time, request body bytes]."""
    method, target, _, t0, nbytes = req
    path, _, query = target.partition("?")
    line = json.dumps({"method": method, "path": path, "query": query, "status": status,
                       "t": round(t0, 6), "ms": round((time.time() - t0) * 1000, 3),
                       "bytes": nbytes}, separators=(",", ":"))
    with log_lock:
        log_file.write(line + "\n")
        log_file.flush()


class Connection:
    """One client connection and its engine connection."""

    def __init__(self, client, upstream):
        self.client = client
        self.upstream = upstream
        self.cond = threading.Condition()
        self.pending = []  # [method, target, settled, t, bytes] in request order
        self.raw = False

    def settle(self, req, raw=False):
        with self.cond:
            req[2] = True
            if raw:
                self.raw = True
            self.cond.notify_all()

    def requests(self):
        """Client -> engine."""
        src = Reader(self.client)
        try:
            while True:
                with self.cond:
                    raw = self.raw
                if raw:
                    relay_raw(src, self.upstream)
                    return
                head = src.head()
                if head is None:
                    return
                t0 = time.time()
                start, fields = parse_head(head)
                if len(start) != 3:
                    raise Broken("bad request line")
                method, target = start[0], start[1]
                req = [method, target, False, t0, 0]
                with self.cond:
                    self.pending.append(req)
                send(self.upstream, head)
                kind, n = body_kind(fields)
                if kind == "chunked":
                    relay_chunked(src, self.upstream, req)
                elif kind == "length":
                    relay_length(src, self.upstream, n, req)
                elif kind == "close":
                    relay_raw(src, self.upstream)
                    return
                path = target.partition("?")[0]
                if "upgrade" in fields or (method == "POST" and HIJACK_PATH.search(path)):
                    # the bytes after this request are raw when the engine
                    # takes the connection over: wait for its answer
                    with self.cond:
                        while not req[2]:
                            self.cond.wait()
        except Broken:
            pass
        finally:
            shut_write(self.upstream)

    def answers(self):
        """Engine -> client."""
        src = Reader(self.upstream)
        req = None
        try:
            while True:
                head = src.head()
                if head is None:
                    return
                start, fields = parse_head(head)
                try:
                    status = int(start[1])
                except (IndexError, ValueError):
                    raise Broken("bad status line")
                with self.cond:
                    req = self.pending[0] if self.pending else None
                if req is None:  # nothing asked: pass it on as it is
                    send(self.client, head)
                    relay_raw(src, self.client)
                    return
                if 100 <= status < 200 and status != 101:
                    send(self.client, head)
                    continue
                with self.cond:
                    self.pending.pop(0)
                log(req, status)
                send(self.client, head)
                if status == 101:
                    self.settle(req, raw=True)
                    relay_raw(src, self.client)
                    return
                kind, n = body_kind(fields)
                if req[0] == "HEAD" or status in (204, 304):
                    pass
                elif kind == "chunked":
                    relay_chunked(src, self.client)
                elif kind == "length":
                    relay_length(src, self.client, n)
                else:  # the body runs until the engine closes: a hijacked stream
                    self.settle(req, raw=True)
                    relay_raw(src, self.client)
                    return
                self.settle(req)
                req = None
        except Broken:
            pass
        finally:
            # whatever is still waiting for an answer will not get one
            with self.cond:
                unanswered, self.pending = self.pending, []
                self.raw = True
                for r in unanswered + ([req] if req else []):
                    r[2] = True
                self.cond.notify_all()
            for r in unanswered:
                log(r, None)
            shut_write(self.client)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        client = self.request
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(self.server.upstream_path)
        except OSError as e:
            self.refuse(client, str(e))
            upstream.close()
            return
        conn = Connection(client, upstream)
        t = threading.Thread(target=conn.answers, daemon=True)
        t.start()
        conn.requests()
        t.join()
        upstream.close()

    def refuse(self, client, why):
        """Answer the first request 502 when the engine cannot be reached."""
        try:
            head = Reader(client).head()
        except Broken:
            return
        if head is None:
            return
        t0 = time.time()
        start, _ = parse_head(head)
        target = start[1] if len(start) == 3 else ""
        log([start[0], target, True, t0, 0], 502)
        body = json.dumps({"message": "engineproxy: cannot reach the engine: " + why}).encode()
        try:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\n"
                           b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        except OSError:
            pass


class Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def main():
    global log_file
    ap = argparse.ArgumentParser(description="counting proxy for a container engine's API socket")
    ap.add_argument("--listen", required=True, help="unix socket to listen on (created)")
    ap.add_argument("--upstream", required=True, help="the engine's unix socket")
    ap.add_argument("--log", required=True, help="JSON lines log, appended to")
    opts = ap.parse_args()
    log_file = open(opts.log, "a", encoding="utf-8")
    threading.Thread(target=loopback.watch_parent, daemon=True).start()
    if os.path.exists(opts.listen):
        os.unlink(opts.listen)
    server = Server(opts.listen, Handler)
    server.upstream_path = opts.upstream
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
