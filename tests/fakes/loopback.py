"""What every loopback fake in tests/fakes shares: a threaded HTTP server on
127.0.0.1 with optional TLS, connections that can be reset instead of closed,
and a life bound to the test that started it.

    loopback.serve(Handler, port=0, tls_cert=None, tls_key=None)

prints the bound port on stdout and serves until the parent process exits.
A handler resets its connection with self.server.reset(self.connection).
"""
import os
import ssl
import sys
import threading
import time
from http.server import ThreadingHTTPServer


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


def watch_parent():
    # a test that crashes must not leave its server behind
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


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
