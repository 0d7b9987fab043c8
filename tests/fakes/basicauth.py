#!/usr/bin/python3
"""Loopback registry stand-in that wants Basic authentication, for
tests/unit/test-registry.c (standard library only).

Prints its port on stdout; exits when its parent does. Routes:
  /v2/...   without Authorization: 401 with WWW-Authenticate: Basic; with it:
            404 BLOB_UNKNOWN (so a HEAD of a blob reads "not there")
  /open     200 "ok", no authentication
"""
import loopback


class Handler(loopback.Handler):
    def route(self):
        self.read_body()
        if self.path == "/open":
            self.reply(200, b"ok")
        elif not self.path.startswith("/v2/"):
            self.reply(404)
        elif not self.headers.get("Authorization"):
            self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                       [("WWW-Authenticate", 'Basic realm="fake"')])
        else:
            self.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')


if __name__ == "__main__":
    loopback.serve(Handler)
