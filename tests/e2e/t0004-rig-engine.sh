#!/usr/bin/env bash
# The container engine rig: podman's Docker-compatible API (podman system service
# on a unix socket in $T) with the counting proxy (tests/fakes/engineproxy.py) in
# front. Loads the busybox image through the API in both archive formats, runs a
# web server with a published ephemeral port and fetches a page from it, streams
# its logs and attaches to it through the proxy, and pins the compat API's answers
# the local provider relies on (lib.sh's header lists them). Last, a test that
# fails with a running container leaves no container, process, rule or file.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

busybox_layout
cfg_digest=$(jq -r .config.digest "$BUSYBOX_LAYOUT/blobs/sha256/${BUSYBOX_AMD64_DIGEST#sha256:}")

ms() { date +%s%3N; }
t0=$(ms)
start_engine --proxy --cache-image "$BUSYBOX_LAYOUT:amd64"
say "engine and proxy ready in $(($(ms) - t0)) ms (busybox image store cached in $RIG_CACHE)"
[ -S "$ENGINE_SOCK" ] && [ -S "$ENGINE_PROXY_SOCK" ] || fail "no engine or proxy socket"
assert_eq "$ENGINE_HOST" "unix://$ENGINE_PROXY_SOCK" "ENGINE_HOST with --proxy"

# api METHOD PATH [CURL_ARGS...]: through the proxy; prints the status, body in $T/body
api() {
	local m=$1 p=$2
	shift 2
	curl -sS --max-time 60 --unix-socket "$ENGINE_PROXY_SOCK" -X "$m" -o "$T/body" \
		-w '%{http_code}' "$@" "http://d/v1.41$p"
}
body() { cat "$T/body"; }
json() { api "$@" -H 'Content-Type: application/json'; }
filter() { jq -rn --arg f "$1" '$f | @uri'; }

say "version"
assert_eq "$(api GET /version)" 200 "GET /version"
assert_eq "$(jq -r .ApiVersion "$T/body")" 1.41 "ApiVersion"
assert_eq "$(jq -r .MinAPIVersion "$T/body")" 1.24 "MinAPIVersion"
assert_eq "$(jq -r '.Components[0].Name' "$T/body")" "Podman Engine" "engine"
assert_eq "$(head -n 1 "$ENGINE_LOG" | jq -c '{method, path, query, status}')" \
	'{"method":"GET","path":"/v1.41/version","query":"","status":200}' "proxy log line"
assert_eq "$(head -n 1 "$ENGINE_LOG" | jq -r --argjson now "$(date +%s)" \
	'[(.t > $now - 60 and .t <= $now + 1), (.ms >= 0 and .ms < 60000), .bytes] | @tsv')" \
	"$(printf 'true\ttrue\t0')" "proxy log line: arrival time, duration, no body"

say "keep-alive through the proxy: several requests on one connection"
/usr/bin/python3 - "$ENGINE_PROXY_SOCK" >"$T/keepalive" <<'EOF'
import http.client, socket, sys
connects = 0
class Conn(http.client.HTTPConnection):
    def connect(self):
        global connects
        connects += 1
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sys.argv[1])
c = Conn("d")
for method, path in [("HEAD", "/_ping"), ("GET", "/v1.41/containers/json?all=1"),
                     ("POST", "/v1.41/containers/nothing/stop"), ("GET", "/_ping")]:
    c.request(method, path)
    r = c.getresponse()
    print(("%s %s %d %s" % (method, path, r.status, r.read().decode().strip()[:30])).rstrip())
print("connections:", connects)
EOF
assert_eq "$(cat "$T/keepalive")" "HEAD /_ping 200
GET /v1.41/containers/json?all=1 200 []
POST /v1.41/containers/nothing/stop 404 {\"cause\":\"no such container\",\"
GET /_ping 200 OK
connections: 1" "keep-alive answers"
assert_eq "$(engine_count HEAD '^/_ping$' 200)" 1 "HEAD counted"

say "images/load: docker-archive, OCI archive (chunked), OCI archive without a name"
skopeo copy --quiet "oci:$BUSYBOX_LAYOUT:amd64" "docker-archive:$T/bb-docker.tar:mldeploy-test/busybox:docker"
skopeo copy --quiet "oci:$BUSYBOX_LAYOUT:amd64" "oci-archive:$T/bb-oci.tar:mldeploy-test/busybox:oci"
skopeo copy --quiet "oci:$BUSYBOX_LAYOUT:amd64" "oci-archive:$T/bb-noname.tar"
load() { api POST /images/load -H 'Content-Type: application/x-tar' --data-binary @"$1" "${@:2}"; }
assert_eq "$(load "$T/bb-docker.tar")" 200 "load docker-archive"
assert_eq "$(body)" '{"stream":"Loaded image: docker.io/mldeploy-test/busybox:docker"}' "load answer"
assert_eq "$(load "$T/bb-oci.tar" -H 'Transfer-Encoding: chunked')" 200 "load OCI archive"
assert_eq "$(body)" '{"stream":"Loaded image: localhost/mldeploy-test/busybox:oci"}' "load answer"
assert_eq "$(load "$T/bb-noname.tar")" 200 "load OCI archive without a name"
assert_eq "$(body)" "{\"stream\":\"Loaded image: $cfg_digest\"}" "load answer"
# without Content-Type: application/x-tar the body is eaten as a form
assert_eq "$(api POST /images/load --data-binary @"$T/bb-docker.tar")" 500 "load as a form"
assert_contains "$T/body" 'payload does not match any of the supported image formats'

say "image id, digests, lookups"
assert_eq "$(api GET /images/mldeploy-test/busybox:oci/json)" 200 "inspect by name"
assert_eq "$(jq -r .Id "$T/body")" "$cfg_digest" "image Id is the config digest"
jq -e --arg d "localhost/mldeploy-test/busybox@$BUSYBOX_AMD64_DIGEST" '.RepoDigests | index($d)' \
	"$T/body" >/dev/null || fail "RepoDigests lacks the manifest digest: $(jq -c .RepoDigests "$T/body")"
assert_eq "$(api GET "/images/localhost/mldeploy-test/busybox@$BUSYBOX_AMD64_DIGEST/json")" 200 "inspect by digest"
assert_eq "$(api GET "/images/$BUSYBOX_AMD64_DIGEST/json")" 404 "a bare manifest digest is no image id"
assert_eq "$(api GET "/images/$cfg_digest/json")" 200 "inspect by id"

say "create and start a web server on an ephemeral port"
web='{"Image": "'$cfg_digest'",
	"Cmd": ["sh", "-c", "mkdir /www && echo \"hello $GREETING\" >/www/index.html && echo serving && exec httpd -f -v -p 8080 -h /www"],
	"Env": ["GREETING=engine"],
	"Labels": {"managed-by": "mldeploy", "mldeploy.service": "web"},
	"ExposedPorts": {"8080/tcp": {}},
	"HostConfig": {"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "0"}]},
		"RestartPolicy": {"Name": "unless-stopped"}}}'
assert_eq "$(json POST /containers/create?name=rig-web -d "$web")" 201 "create"
web_id=$(jq -r .Id "$T/body")
assert_eq "$(jq -c .Warnings "$T/body")" '[]' "create warnings"
assert_eq "$(json POST /containers/create?name=rig-web -d "$web")" 500 "create with a taken name"
assert_contains "$T/body" 'that name is already in use'
idle='{"Image": "localhost/mldeploy-test/busybox@'$BUSYBOX_AMD64_DIGEST'", "Cmd": ["sleep", "600"],
	"Labels": {"managed-by": "someone-else"},
	"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": ""}]}}}'
# a JSON body sent as a form (curl -d's and libcurl's default Content-Type) is eaten
assert_eq "$(api POST /containers/create?name=rig-idle -d "$idle")" 500 "create as a form"
assert_eq "$(jq -r .message "$T/body")" 'decode(): EOF' "create as a form"
assert_eq "$(json POST /containers/create?name=rig-idle -d "$idle")" 201 "create by name@digest, HostPort \"\""
assert_eq "$(api GET /containers/rig-idle/json)" 200 "inspect"
assert_eq "$(jq -r .Image "$T/body")" "$cfg_digest" "image of a container made by digest"
jq -e '.NetworkSettings.Ports["80/tcp"][0] | .HostIp == "" and (.HostPort | test("^[1-9][0-9]+$"))' \
	"$T/body" >/dev/null || fail "HostPort \"\" got no port at create: $(jq -c .NetworkSettings.Ports "$T/body")"
assert_eq "$(api POST /containers/rig-web/start)" 204 "start"
assert_eq "$(api GET /containers/rig-web/json)" 200 "inspect"
assert_eq "$(jq -r .Name "$T/body")" /rig-web "container name"
assert_eq "$(jq -r .Id "$T/body")" "$web_id" "container id"
assert_eq "$(jq -r .Image "$T/body")" "$cfg_digest" "container image"
assert_eq "$(jq -r .State.Status "$T/body")" running "state"
assert_eq "$(jq -c .HostConfig.RestartPolicy "$T/body")" '{"Name":"unless-stopped","MaximumRetryCount":0}' "restart policy"
port=$(jq -r '.NetworkSettings.Ports["8080/tcp"][0].HostPort' "$T/body")
case $port in
'' | 0 | *[!0-9]*) fail "no ephemeral port: $(jq -c .NetworkSettings.Ports "$T/body")" ;;
esac
assert_eq "$(jq -r '.NetworkSettings.Ports["8080/tcp"][0].HostIp' "$T/body")" 127.0.0.1 "HostIp"
assert_eq "$(jq -r '.HostConfig.PortBindings["8080/tcp"][0].HostPort' "$T/body")" "$port" "PortBindings shows the port"
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$port/index.html" || fail "no answer on port $port"
assert_eq "$(curl -sS "http://127.0.0.1:$port/index.html")" "hello engine" "page"

say "label filters, podman CLI on the same storage"
assert_eq "$(api GET "/containers/json?all=1&filters=$(filter '{"label":["managed-by=mldeploy"]}')")" 200 "list"
assert_eq "$(jq -c '[.[].Names[]]' "$T/body")" '["/rig-web"]' "label filter"
assert_eq "$(jq -c '.[0].Ports' "$T/body")" "[{\"IP\":\"127.0.0.1\",\"PrivatePort\":8080,\"PublicPort\":$port,\"Type\":\"tcp\"}]" "list ports"
assert_eq "$(jq -r '.[0].ImageID' "$T/body")" "$cfg_digest" "list ImageID"
assert_eq "$(api GET "/containers/json?all=1&filters=$(filter '{"label":["managed-by"]}')")" 200 "list"
assert_eq "$(jq -c '[.[].Names[]] | sort' "$T/body")" '["/rig-idle","/rig-web"]' "label key filter"
assert_eq "$(api GET "/containers/json?filters=$(filter '{"label":["managed-by=someone-else"]}')")" 200 "list"
assert_eq "$(body)" '[]' "running only without all=1"
assert_eq "$(podman ps -a --format '{{.Names}}' | sort | tr '\n' ' ')" "rig-idle rig-web " "podman ps"

say "logs: multiplexed frames; follow streams through the proxy"
# frames: 1 byte stream (1 stdout, 2 stderr), 3 zero bytes, 4 bytes big-endian length
frames='import struct, sys
data = open(sys.argv[1], "rb").read()
while data:
    kind, size = struct.unpack(">BxxxI", data[:8])
    print(kind, repr(data[8:8 + size].decode()))
    data = data[8 + size:]'
assert_eq "$(api GET '/containers/rig-web/logs?stdout=1&stderr=1' -D "$T/headers")" 200 "logs"
assert_contains "$T/headers" 'Content-Type: application/octet-stream'
assert_contains "$T/headers" 'Transfer-Encoding: chunked'
python3 -c "$frames" "$T/body" >"$T/frames"
assert_eq "$(head -n 1 "$T/frames")" "1 'serving\\n'" "first frame"
grep -q "^2 '.*response:200" "$T/frames" || { _rig_show frames "$T/frames"; fail "no stderr frame of the request"; }
# ends by itself should the test fail (a pid left to the teardown might be reused)
curl -sS -N --max-time 30 --unix-socket "$ENGINE_PROXY_SOCK" -o "$T/follow" \
	'http://d/v1.41/containers/rig-web/logs?stdout=1&stderr=1&follow=1&tail=0' &
follow_pid=$!
sleep 0.3
for _ in 1 2 3; do
	curl -sS -o /dev/null "http://127.0.0.1:$port/index.html"
done
followed() { [ "$(python3 -c "$frames" "$T/follow" 2>/dev/null | grep -c 'response:200')" = 3 ]; }
wait_for 10 followed ||
	fail "the followed logs did not stream: $(python3 -c "$frames" "$T/follow")"
kill -0 "$follow_pid" 2>/dev/null || fail "logs?follow=1 ended early"
kill "$follow_pid"
wait "$follow_pid" || true

say "attach (Upgrade: tcp) through the proxy"
/usr/bin/python3 - "$ENGINE_PROXY_SOCK" "$port" >"$T/attach" <<'EOF'
import socket, sys, time, urllib.request
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
s.sendall(b"POST /v1.41/containers/rig-web/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\n"
          b"Host: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(4096)
head, _, data = data.partition(b"\r\n\r\n")
print(head.split(b"\r\n")[0].decode())
urllib.request.urlopen("http://127.0.0.1:%s/index.html" % sys.argv[2]).read()
end = time.time() + 10
while b"response:200" not in data and time.time() < end:
    data += s.recv(4096)
print("got:", data[8:].decode(errors="replace").strip())
EOF
assert_eq "$(head -n 1 "$T/attach")" "HTTP/1.1 101 UPGRADED" "attach answer"
assert_contains "$T/attach" 'response:200'

say "stop, remove; forced image removal takes containers with it"
assert_eq "$(api DELETE /containers/rig-web)" 500 "remove a running container"
assert_contains "$T/body" 'container state improper'
assert_eq "$(api POST '/containers/rig-web/stop?t=1')" 204 "stop"
assert_eq "$(api POST '/containers/rig-web/stop?t=1')" 304 "stop a stopped container"
assert_eq "$(api DELETE /containers/rig-web)" 204 "remove"
assert_eq "$(api DELETE /containers/rig-web)" 404 "remove again"
assert_eq "$(api GET /containers/rig-web/json)" 404 "inspect removed"
assert_eq "$(api DELETE "/images/$cfg_digest")" 500 "remove an image with two names by id"
assert_contains "$T/body" 'by ID with more than one tag'
assert_eq "$(api DELETE /images/localhost/mldeploy-test/busybox:oci)" 200 "remove one name"
assert_eq "$(body)" '[{"Untagged":"localhost/mldeploy-test/busybox:oci"}]' "untag answer"
assert_eq "$(api DELETE "/images/$cfg_digest")" 409 "remove an image in use"
assert_contains "$T/body" 'image is in use by a container'
assert_eq "$(api DELETE "/images/$cfg_digest?force=1")" 200 "force-remove an image in use"
assert_eq "$(jq -c '[.[] | keys[0]] | unique' "$T/body")" '["Deleted","Untagged"]' "removal answer"
assert_eq "$(api GET /containers/rig-idle/json)" 404 "the container of a force-removed image"
# the read-only rig cache copy of the same image stays (same id)
assert_eq "$(api GET "/images/$cfg_digest/json")" 200 "cached image"
tags=$(jq -r '.RepoTags | join(" ")' "$T/body")
[[ $tags == localhost/rig-cache/busybox-static-*:amd64 ]] || fail "names left: '$tags', expected the cache's only"
assert_eq "$(podman ps -a -q | wc -l)" 0 "containers left"

say "the proxy counted every call"
assert_eq "$(engine_count POST '/images/load$')" 4 "loads"
assert_eq "$(engine_count POST '/images/load$' 500)" 1 "failed loads"
# request body bytes: with Content-Length, then chunked (payload only)
assert_eq "$(jq -rs '[.[] | select(.path | test("/images/load$")) | .bytes][0:2] | @tsv' "$ENGINE_LOG")" \
	"$(printf '%s\t%s' "$(stat -c %s "$T/bb-docker.tar")" "$(stat -c %s "$T/bb-oci.tar")")" "loads' body bytes"
assert_eq "$(engine_count POST '/containers/create$')" 4 "creates"
assert_eq "$(engine_count POST '/containers/create$' 201)" 2 "successful creates"
assert_eq "$(engine_count POST '/containers/[^/]+/attach$' 101)" 1 "attach"
assert_eq "$(engine_count GET '/containers/[^/]+/logs$')" 2 "logs"
assert_eq "$(engine_count GET '^/v1[.]41/containers/json$')" 4 "lists"
assert_eq "$(engine_count DELETE '/containers/rig-web$')" 3 "removals"
# 4 loads, 4 creates, start, attach, 3 stops, 3 container and 4 image removals
assert_eq "$(engine_mutations)" 20 "mutating calls"
assert_eq "$(engine_count '*' '')" "$(wc -l <"$ENGINE_LOG")" "every line counts"
grep -q '"query":"stdout=1&stderr=1&follow=1&tail=0"' "$ENGINE_LOG" || fail "no raw query in the log"

say "engine_api goes around the proxy"
lines=$(wc -l <"$ENGINE_LOG")
engine_api GET /containers/json >"$T/list" || fail "engine_api GET failed"
assert_eq "$(cat "$T/list")" '[]' "engine_api answer"
must_fail 1 engine_api GET /containers/nothing/json
assert_eq "$(wc -l <"$ENGINE_LOG")" "$lines" "engine_api calls are not counted"

say "a failing test with a running container leaves nothing behind"
must_fail 3 bash -c '
	. "$1/tests/e2e/lib.sh"
	start_engine --proxy
	engine_api POST /images/load -H "Content-Type: application/x-tar" --data-binary @"$2" >/dev/null
	engine_api POST /containers/create?name=left -d "{\"Image\": \"mldeploy-test/busybox:docker\",
		\"Cmd\": [\"httpd\", \"-f\", \"-p\", \"8080\"], \"ExposedPorts\": {\"8080/tcp\": {}},
		\"HostConfig\": {\"PortBindings\": {\"8080/tcp\": [{\"HostPort\": \"0\"}]}}}" |
		jq -r .Id >"$3.id"
	engine_api POST /containers/left/start >/dev/null
	printf "%s\n" "$T" "$ENGINE_PID" "$ENGINE_PROXY_PID" >"$3"
	exit 3' _ "$SRCDIR" "$T/bb-docker.tar" "$T/inner"
mapfile -t inner <"$T/inner"
[ "${#inner[@]}" = 3 ] && [ -n "${inner[0]}" ] || fail "the inner test did not start its engine"
inner_id=$(cat "$T/inner.id")
[ ! -e "${inner[0]}" ] || fail "the inner test's directory is left: ${inner[0]}"
for pid in "${inner[1]}" "${inner[2]}"; do
	! kill -0 "$pid" 2>/dev/null || fail "process $pid of the inner test is still running"
done
if ps -eo args | grep -F -- "${inner[0]}" | grep -v grep >"$T/left"; then
	_rig_show processes "$T/left"
	fail "processes of the inner test are still running"
fi
if iptables -t nat -S 2>/dev/null | grep -F -- "$inner_id" >"$T/left"; then
	_rig_show "iptables rules" "$T/left"
	fail "the inner container's port rules are left"
fi
