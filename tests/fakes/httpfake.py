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
import time

import loopback
from loopback import bump


def pattern(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


class Handler(loopback.Handler):
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
        self.reset_connection()

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
