#!/usr/bin/python3
"""Loopback registry stand-in that wants Basic authentication, for
tests/unit/test-registry.c (standard library only).

Prints its port on stdout; exits when its parent does. Routes:
  /v2/...   without Authorization: 401 with WWW-Authenticate: Basic; with it:
            404 BLOB_UNKNOWN (so a HEAD of a blob reads "not there")
  /open     200 "ok", no authentication
"""
from http.server import BaseHTTPRequestHandler

import loopback


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route(self):
        if self.path == "/open":
            self.answer(200, b"ok")
        elif not self.path.startswith("/v2/"):
            self.answer(404)
        elif not self.headers.get("Authorization"):
            self.answer(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                        [("WWW-Authenticate", 'Basic realm="fake"')])
        else:
            self.answer(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')

    do_GET = do_HEAD = route


if __name__ == "__main__":
    loopback.serve(Handler)
