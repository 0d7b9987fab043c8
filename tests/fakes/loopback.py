"""What every loopback fake in tests/fakes shares: a threaded HTTP server on
127.0.0.1 with optional TLS, connections that can be reset instead of closed,
and a life bound to the test that started it.

    loopback.serve(Handler, port=0, tls_cert=None, tls_key=None)

prints the bound port on stdout and serves until the parent process exits;
loopback.parse_args(ap) adds the options --port, --tls-cert and --tls-key to
an argparse parser, parses and checks that the TLS pair goes together.
A handler resets its connection with self.server.reset(self.connection), or
with Handler.reset_connection() below.

A subclass of loopback.Handler is a quiet HTTP/1.1 handler that sends every
method to do_<route>(q, body) and answers with self.reply(code, body, headers);
loopback.bump(key) counts per key across requests.

For the fakes that log or relay requests: loopback.auth_kind(headers) names the
Authorization scheme (none, basic, bearer or other; never the credential) and
loopback.HOP_BY_HOP holds the header names (lower-case) a proxy does not forward.
"""
import os
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = None  # an ssl.SSLContext for HTTPS

    def __init__(self, *args):
        super().__init__(*args)
        self._reset = set()
        self._reset_lock = threading.Lock()

    def reset(self, sock):
        """Close sock with an RST when its request is done, not a FIN."""
        with self._reset_lock:
            self._reset.add(sock)

    def get_request(self):
        # The handshake happens in the request's thread, on its first read, so a
        # stalled client cannot block accept().
        sock, addr = super().get_request()
        if self.tls:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def shutdown_request(self, request):
        # shutdown() would send a FIN before the close
        with self._reset_lock:
            reset = request in self._reset
            self._reset.discard(request)
        if reset:
            request.close()
            return
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # clients that give up on purpose (body caps, aborts, resets) are not errors
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """Every method goes to route(), which reads the body and calls
    do_<route_name(path)>(q, body), q holding the first value of each query
    parameter; do_404 when there is no such route."""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        """The request body, sent with Content-Length or chunked."""
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

    def reset_connection(self):
        """Ends the connection with an RST once this request is done (a unix
        socket is just closed)."""
        if self.connection.family != socket.AF_UNIX:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        self.server.reset(self.connection)
        self.close_connection = True

    def route_name(self, path):
        """The route of a path: /big-file is big_file."""
        return path.strip("/").replace("-", "_")

    def dispatch(self, name, q, body):
        getattr(self, "do_" + name, self.do_404)(q, body)

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        body = self.read_body()
        self.dispatch(self.route_name(url.path), q, body)

    def do_GET(self):
        self.route()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def do_404(self, q, body):
        self.reply(404, b"not found\n")


HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
              "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding",
              "upgrade", "expect"}


def auth_kind(headers):
    """The scheme of the Authorization header: none, basic, bearer or other."""
    value = headers.get("Authorization")
    if value is None:
        return "none"
    scheme = value.split(" ", 1)[0].lower()
    return scheme if scheme in ("basic", "bearer") else "other"


_counts = {}
_counts_lock = threading.Lock()


def bump(key, add=1):
    """Adds add to the count of key and returns it (add=0 reads it)."""
    with _counts_lock:
        _counts[key] = _counts.get(key, 0) + add
        return _counts[key]


def watch_parent():
    # a test that crashes must not leave its server behind
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


def parse_args(ap):
    """ap's options with --port, --tls-cert and --tls-key (for serve)."""
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    opts = ap.parse_args()
    if bool(opts.tls_cert) != bool(opts.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    return opts


def serve(handler, port=0, tls_cert=None, tls_key=None):
    threading.Thread(target=watch_parent, daemon=True).start()
    server = Server(("127.0.0.1", port), handler)
    if tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls_cert, tls_key)
        server.tls = ctx
    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
    server.serve_forever()
