#!/usr/bin/python3
"""Loopback HTTP server for tests/unit/test-http.c (standard library only).

Binds 127.0.0.1 on a free port and prints the port on stdout; exits when its parent
does. Routes:
  /echo                 plain text: method, path, headers (lower-cased), body length,
                        byte sum and, when short, the body; ?cookie=V sets a cookie
  /redirect?to=U&code=N answers N (302 by default) with Location: U; &cookie=V sets a cookie
  /loop                 redirects to itself, forever
  /flaky?id=K&fail=N&code=C&after=S
                        the first N requests of key K answer C (with Retry-After: S),
                        then 200 "ok"
  /reset?id=K&fail=N    the first N requests of key K send half a body and reset the
                        connection, then 200 with 1000 bytes
  /big?size=N           N bytes
  /stall                headers, then nothing for 30 s
  /trickle?bps=N&size=S S bytes at N bytes per second (10 writes a second)
  /headers?n=N&size=S   N headers X-H<i> with values of S bytes
  /count?id=K           how many requests key K has seen
"""
import socket
import struct
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

import loopback

counters = {}
lock = threading.Lock()


def bump(key, add=1):
    with lock:
        counters[key] = counters.get(key, 0) + add
        return counters[key]


def pattern(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(n) if n else b""

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        body = self.read_body()
        getattr(self, "do_" + url.path.strip("/").replace("-", "_"), self.do_404)(q, body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = route

    def do_404(self, q, body):
        self.reply(404, b"not found\n")

    def do_echo(self, q, body):
        lines = ["method " + self.command, "path " + self.path]
        for name, value in self.headers.items():
            lines.append("header %s: %s" % (name.lower(), value))
        lines.append("body-length %d" % len(body))
        lines.append("body-sum %d" % (sum(body) & 0xFFFFFFFF))
        if len(body) <= 200:
            lines.append("body " + body.decode("latin-1"))
        headers = [("Content-Type", "text/plain")]
        if "cookie" in q:
            headers.append(("Set-Cookie", "session=" + q["cookie"]))
        self.reply(200, ("\n".join(lines) + "\n").encode(), headers)

    def do_redirect(self, q, body):
        headers = [("Location", q["to"])]
        if "cookie" in q:
            headers.append(("Set-Cookie", "session=" + q["cookie"]))
        self.reply(int(q.get("code", "302")), b"moved\n", headers)

    def do_loop(self, q, body):
        self.reply(302, b"", [("Location", "/loop")])

    def do_flaky(self, q, body):
        n = bump(q["id"])
        if n <= int(q.get("fail", "1")):
            headers = [("Retry-After", q["after"])] if "after" in q else []
            self.reply(int(q.get("code", "503")), b"try again\n", headers)
        else:
            self.reply(200, b"ok\n")

    def do_reset(self, q, body):
        n = bump(q["id"])
        if n > int(q.get("fail", "1")):
            self.reply(200, pattern(1000))
            return
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(pattern(500))
        self.wfile.flush()
        time.sleep(0.2)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.server.reset(self.connection)
        self.close_connection = True

    def do_big(self, q, body):
        size = int(q["size"])
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = pattern(65536)
        while size > 0:
            self.wfile.write(chunk[:min(size, len(chunk))])
            size -= len(chunk)

    def do_stall(self, q, body):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        time.sleep(30)
        self.close_connection = True

    def do_trickle(self, q, body):
        bps, size = int(q["bps"]), int(q["size"])
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        piece = max(1, bps // 10)
        try:
            while size > 0:
                self.wfile.write(pattern(min(piece, size)))
                self.wfile.flush()
                size -= piece
                time.sleep(piece / bps)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def do_headers(self, q, body):
        n, size = int(q.get("n", "1")), int(q.get("size", "10"))
        self.reply(200, b"ok\n", [("X-H%d" % i, "v" * size) for i in range(n)])

    def do_count(self, q, body):
        self.reply(200, b"%d\n" % bump(q["id"], 0))


def main():
    loopback.serve(Handler)


if __name__ == "__main__":
    main()
