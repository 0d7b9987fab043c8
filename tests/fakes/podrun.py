"""Running what a fake platform is given, with the podman CLI, for the fakes in
tests/fakes (azurearm.py). Standard library only.

    pm = Podman(work_dir, cert_dir, router)
    why = pm.pull(ref, (registry_host, user, password) or None)   # None when pulled
    why = pm.create(name, ref, [(NAME, VALUE)...], entrypoint_list_or_None,
                    [(container_port, host_port)...], {label: value})
    pm.run(["start", name]); pm.run(["wait", name], timeout=None)
    pm.remove([names]); pm.remove_all()           # what this object created

Credentials go through a private auth file and env values through a private env
file (mode 0600, removed at once), never on a command line; a value with a line
break is the exception (--env NAME=VALUE). Published ports bind 127.0.0.1. The
reason a step failed is podman's last stderr line, which holds no secret.

    router = RegistryRouter(routes_file)          # a CONNECT proxy on 127.0.0.1

Pulls go through it (HTTPS_PROXY for podman alone), so an image keeps its real
registry name (myacr.azurecr.io/app@sha256:...) and TLS is verified for that name
(cert_dir), while the connection goes where the routes file says: lines
"HOST=ADDR" (HOST or HOST:PORT, port 443 by default; ADDR 127.0.0.1:PORT),
re-read on every connection. A host without a route is refused (403), like a name
that does not resolve. Loopback registries (127.0.0.1:PORT) are reached directly.
"""
import base64
import json
import os
import select
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time


class Podman:
    """The podman CLI as configured by the environment (CONTAINERS_CONF...);
    remembers the containers it created. work: a private directory for the
    short-lived credential and env files; cert_dir: CA certificates for pulls."""

    def __init__(self, work=None, cert_dir=None, router=None):
        self.lock = threading.Lock()
        self.created = set()
        self.cert_dir = cert_dir
        self.router = router
        self.work = work or tempfile.mkdtemp(prefix="podrun.")
        os.makedirs(self.work, mode=0o700, exist_ok=True)

    def run(self, args, timeout=600, env=None):
        try:
            p = subprocess.run(["podman"] + args, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return 124, "", "podman %s timed out" % args[0]
        return (p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))

    def pull(self, ref, creds):
        """None, or the reason the pull failed (no secret in it)."""
        args = ["pull", "--quiet"]
        authdir = tempfile.mkdtemp(dir=self.work)
        try:
            authfile = os.path.join(authdir, "auth.json")
            auths = {}
            if creds:
                host, user, password = creds
                pair = ("%s:%s" % (user, password)).encode()
                auths[host] = {"auth": base64.b64encode(pair).decode()}
            fd = os.open(authfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"auths": auths}, f)
            args += ["--authfile", authfile]
            if self.cert_dir:
                args += ["--cert-dir", self.cert_dir]
            args.append(ref)
            env = None
            if self.router:
                env = dict(os.environ)
                proxy = "http://127.0.0.1:%d" % self.router.port
                env.update({"HTTPS_PROXY": proxy, "https_proxy": proxy})
            rc, _, err = self.run(args, env=env)
        finally:
            shutil.rmtree(authdir, ignore_errors=True)
        if rc != 0:
            lines = [l for l in err.strip().splitlines() if l.strip()]
            return lines[-1] if lines else "podman pull exited with %d" % rc
        return None

    def create(self, name, ref, env, command, publish, labels):
        """None or the reason."""
        args = ["create", "--name", name, "--restart", "no"]
        for k, v in labels.items():
            args += ["--label", "%s=%s" % (k, v)]
        for cport, hport in publish:
            args += ["-p", "127.0.0.1:%d:%d" % (hport, cport)]
        envdir = tempfile.mkdtemp(dir=self.work)
        try:
            lines = []
            for k, v in env:
                if "\n" in v or "\r" in v:
                    args += ["--env", "%s=%s" % (k, v)]
                else:
                    lines.append("%s=%s\n" % (k, v))
            if lines:
                envfile = os.path.join(envdir, "env")
                fd = os.open(envfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.writelines(lines)
                args += ["--env-file", envfile]
            if command:
                args += ["--entrypoint", json.dumps(command)]
            args.append(ref)
            with self.lock:
                self.created.add(name)
            rc, _, err = self.run(args)
        finally:
            shutil.rmtree(envdir, ignore_errors=True)
        if rc != 0:
            lines = [l for l in err.strip().splitlines() if l.strip()]
            return lines[-1] if lines else "podman create exited with %d" % rc
        return None

    def remove(self, names):
        names = [n for n in names if n]
        if not names:
            return
        self.run(["rm", "--force", "--time", "0", "--ignore"] + names, timeout=120)
        with self.lock:
            self.created.difference_update(names)

    def remove_all(self):
        with self.lock:
            names = sorted(self.created)
        if names:
            self.run(["rm", "--force", "--time", "0", "--ignore"] + names, timeout=60)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class RegistryRouter:
    """A CONNECT proxy on 127.0.0.1 that sends HOST[:PORT] where the routes file
    says; see the module's docstring."""

    def __init__(self, routes_file):
        self.routes_file = routes_file
        router = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                router.serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def routes(self):
        out = {}
        try:
            with open(self.routes_file, encoding="utf-8") as f:
                for line in f:
                    host, sep, addr = line.strip().partition("=")
                    if sep and host and addr:
                        host = host.lower()
                        out[host if ":" in host else host + ":443"] = addr
        except OSError:
            pass
        return out

    def serve(self, client):
        head = b""
        while b"\r\n\r\n" not in head:
            piece = client.recv(4096)
            if not piece or len(head) > 65536:
                return
            head += piece
        line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        if len(line) != 3 or line[0].upper() != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        addr = self.routes().get(line[1].lower())
        if addr is None:
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = addr.rpartition(":")
        try:
            upstream = socket.create_connection((host, int(port)), timeout=30)
        except (OSError, ValueError):
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        upstream.settimeout(None)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest = head.split(b"\r\n\r\n", 1)[1]
        try:
            if rest:
                upstream.sendall(rest)
            pipe(client, upstream)
        finally:
            upstream.close()


def pipe(a, b):
    """Copies bytes both ways until either side closes."""
    socks = [a, b]
    while True:
        ready, _, _ = select.select(socks, [], [], 300)
        if not ready:
            return
        for s in ready:
            try:
                data = s.recv(65536)
            except OSError:
                return
            if not data:
                return
            try:
                (b if s is a else a).sendall(data)
            except OSError:
                return


def serve_platform(server, podman, keep_work=False):
    """Runs a fake platform's server until SIGTERM or until its parent (the test)
    goes: prints the port on stdout first (spawn_fake reads it), and at the end
    removes every container podman started (and its work directory unless
    keep_work). Never returns."""
    done = threading.Event()

    def finish(*_):
        if done.is_set():
            return
        done.set()
        podman.remove_all()
        if not keep_work:
            shutil.rmtree(podman.work, ignore_errors=True)
        os._exit(0)

    def watch_parent():
        parent = os.getppid()
        while os.getppid() == parent:
            time.sleep(0.2)
        finish()

    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=finish, daemon=True).start())
    threading.Thread(target=watch_parent, daemon=True).start()
    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
    server.serve_forever()
