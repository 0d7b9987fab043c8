#!/usr/bin/python3
"""Loopback JSON API for tests/unit/test-rest.c and test-http-connect.c (standard
library only).

usage: restfake.py [--unix PATH] [--tls-cert CERT --tls-key KEY]

Binds 127.0.0.1 on a free port and prints the port on stdout (with --unix it
serves the same routes on that AF_UNIX socket too); exits when its parent does.
Every request is counted per ?id=K, and the Authorization and X-Amz-Security-Token
headers each request carried are remembered per key. Routes (any method):
  /echo                     {"method", "path", "headers" (lower-cased names), "body"
                            (parsed JSON, else text)}
  /flaky?id=K&fail=N&status=C&after=S&format=F
                            the first N requests of K answer C (Retry-After: S when
                            given) with an error body in format F (see /error), then
                            200 {"ok": true, "n": count}
  /reset?id=K&fail=N        the first N requests of K get half an answer and an RST
  /error?format=F&status=C    an error body: google, google-fields, azure, azure-bare,
                            oauth, aws-json, aws-json-header, aws-query, s3, docker,
                            control (escapes and newlines), html, empty
  /pages?n=N&mode=token|link|foreign[&pageToken=T]
                            page T (0 first) of N with items [{"i": T*2}, {"i": T*2+1}]
                            and nextPageToken / nextLink to the next page
  /text                     200 text/plain that is not JSON
  /big?size=N               N bytes of JSON string
  /slow?s=S                 answers after S seconds
  /count?id=K               {"n": requests of K}
  /seen?id=K                {"auth": [...], "token": [...]} as each request of K had them
  /redirect?to=U&status=C   C (302) with Location: U
"""
import json
import socketserver
import sys
import threading
import time

import loopback
from loopback import bump

lock = threading.Lock()  # guards seen
seen = {}

ERRORS = {
    "google": (404, "application/json", {"error": {
        "code": 404, "status": "NOT_FOUND",
        "message": "Resource 'projects/p/locations/us-east1/services/iris' was not found"}}),
    "google-fields": (400, "application/json", {"error": {
        "code": 400, "status": "INVALID_ARGUMENT",
        "message": "The request has errors",
        "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                     "fieldViolations": [{"field": "spec.template.containers[0].image",
                                          "description": "must be a digest reference"}]}]}}),
    "azure": (404, "application/json", {"error": {
        "code": "ResourceGroupNotFound",
        "message": "Resource group 'ml' could not be found."}}),
    "azure-bare": (409, "application/json", {
        "code": "Conflict", "message": "The container group 'iris' is being updated."}),
    "oauth": (400, "application/json", {
        "error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
    "aws-json": (400, "application/x-amz-json-1.1", {
        "__type": "com.amazonaws.ecr#RepositoryNotFoundException",
        "message": "The repository with name 'iris' does not exist in the registry "
                   "with id '123456789012'"}),
    "aws-throttle": (400, "application/x-amz-json-1.1", {
        "__type": "ThrottlingException", "message": "Rate exceeded"}),
    "docker": (404, "application/json", {"message": "No such container: iris"}),
    "control": (500, "application/json", {
        "message": "line one\nline two\x1b[31m red\x07 \"password\": \"hunter2\""}),
}


class Handler(loopback.Handler):
    def reply(self, code, body=b"", ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        super().reply(code, body, ([("Content-Type", ctype)] if body else []) + list(headers))

    def route_name(self, path):
        # the last segment: /api/v1.43/echo is echo
        return path.rstrip("/").rsplit("/", 1)[-1]

    def dispatch(self, name, q, body):
        if "id" in q and name not in ("seen", "count"):
            with lock:
                s = seen.setdefault(q["id"], {"auth": [], "token": []})
                s["auth"].append(self.headers.get("Authorization"))
                s["token"].append(self.headers.get("X-Amz-Security-Token"))
        super().dispatch(name, q, body)

    def do_404(self, q, body):
        self.reply(404, {"message": "no route " + self.path})

    def do_echo(self, q, body):
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("latin-1")
        self.reply(200, {"method": self.command, "path": self.path,
                         "headers": {k.lower(): v for k, v in self.headers.items()},
                         "body": parsed})

    def error(self, fmt, code=None):
        if fmt == "aws-json-header":
            self.reply(code or 400, b"", headers=[
                ("X-Amzn-ErrorType", "AccessDeniedException:http://internal.amazon.com/x")])
            return
        if fmt == "aws-query":
            body = (b'<ErrorResponse xmlns="http://elasticbeanstalk.amazonaws.com/docs/'
                    b'2010-12-01/"><Error><Type>Sender</Type><Code>InvalidParameterValue'
                    b'</Code><Message>No Application named &apos;iris&apos; found.</Message>'
                    b'</Error><RequestId>4d5e</RequestId></ErrorResponse>')
            self.reply(code or 400, body, "text/xml")
            return
        if fmt == "s3":
            body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket</Code>'
                    b'<Message>The specified bucket does not exist</Message>'
                    b'<BucketName>elasticbeanstalk-us-east-1-123</BucketName></Error>')
            self.reply(code or 404, body, "application/xml")
            return
        if fmt == "moto-auth":
            body = (b'<?xml version="1.0" encoding="utf-8"?>\n<ErrorResponse><Errors><Error>'
                    b'<Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/'
                    b'ci is not authorized to perform: ecr:GetAuthorizationToken</Message>'
                    b'<Type>Sender</Type></Error></Errors></ErrorResponse>')
            self.reply(code or 403, body)
            return
        if fmt == "html":
            self.reply(code or 502, b"<html><body><h1>502 Bad Gateway</h1>\n</body></html>",
                       "text/html")
            return
        if fmt == "empty":
            self.reply(code or 503)
            return
        status, ctype, doc = ERRORS[fmt]
        self.reply(code or status, doc, ctype)

    def do_error(self, q, body):
        self.error(q.get("format", "google"), int(q["status"]) if "status" in q else None)

    def do_flaky(self, q, body):
        n = bump(q["id"])
        if n <= int(q.get("fail", "1")):
            code = int(q.get("status", "503"))
            if "after" in q:
                self.reply(code, {"message": "slow down"}, headers=[("Retry-After", q["after"])])
            elif "format" in q:
                self.error(q["format"], code)
            else:
                self.reply(code, {"message": "try again"})
        else:
            self.reply(200, {"ok": True, "n": n})

    def do_reset(self, q, body):
        n = bump(q["id"])
        if n > int(q.get("fail", "1")):
            self.reply(200, {"ok": True, "n": n})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b'{"half": "')
        self.wfile.flush()
        time.sleep(0.1)
        self.reset_connection()

    def do_pages(self, q, body):
        n, mode = int(q.get("n", "3")), q.get("mode", "token")
        page = int(q.get("pageToken", q.get("page", "0")))
        doc = {"items": [{"i": page * 2}, {"i": page * 2 + 1}]}
        if page + 1 < n:
            if mode == "token":
                doc["nextPageToken"] = str(page + 1)
            else:
                host = "127.0.0.2" if mode == "foreign" else self.headers["Host"]
                doc["nextLink"] = "http://%s/pages?n=%d&mode=%s&page=%d" % (
                    host, n, mode, page + 1)
        self.reply(200, doc)

    def do_text(self, q, body):
        self.reply(200, b"plain words, not json", "text/plain")

    def do_big(self, q, body):
        size = int(q["size"])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(size + 2))
        self.end_headers()
        self.wfile.write(b'"')
        chunk = b"a" * 65536
        left = size
        while left > 0:
            self.wfile.write(chunk[:min(left, len(chunk))])
            left -= len(chunk)
        self.wfile.write(b'"')

    def do_slow(self, q, body):
        time.sleep(float(q.get("s", "5")))
        self.reply(200, {"ok": True})

    def do_count(self, q, body):
        self.reply(200, {"n": bump(q["id"], 0) if "id" in q else 0})

    def do_seen(self, q, body):
        with lock:
            self.reply(200, seen.get(q["id"], {"auth": [], "token": []}))

    def do_redirect(self, q, body):
        self.reply(int(q.get("status", "302")), {}, headers=[("Location", q["to"])])


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def reset(self, sock):
        pass


class UnixHandler(Handler):
    def address_string(self):
        return "unix"


def main():
    args = sys.argv[1:]
    opts = dict(zip(args[::2], args[1::2]))
    if "--unix" in opts:
        server = UnixServer(opts["--unix"], UnixHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    loopback.serve(Handler, tls_cert=opts.get("--tls-cert"), tls_key=opts.get("--tls-key"))


if __name__ == "__main__":
    main()
