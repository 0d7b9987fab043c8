"""mldeploy test package: a tiny web app on $PORT."""
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

import mlpure


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/":
            self.send_error(404)
            return
        body = ("mlmarker " + mlpure.hello() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def serve():
    port = int(os.environ.get("PORT", "8080"))
    HTTPServer(("0.0.0.0", port), _Handler).serve_forever()


if __name__ == "__main__":
    serve()
