#!/usr/bin/env bash
# git supplies the tag (short revision, "-dirty" with uncommitted changes), the
# layer mtime (the commit time) and the revision/source annotations, with any
# credentials in the remote URL left out.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/repo/app"
cd "$T/repo"
printf 'print(1)\n' >app/main.py
printf 'name: gitmeta\nimage:\n  base: scratch\n  copy:\n    - { src: app/, dst: /app/ }\n' >deploy.yaml
git init -q .
git remote add origin "https://builder:hunter2-secret@git.example.com/ml/iris.git"
git add .
GIT_COMMITTER_DATE='2024-01-02T03:04:05Z' GIT_AUTHOR_DATE='2024-01-02T03:04:05Z' \
	git -c user.name=t -c user.email=t@example.com commit -qm init
rev=$(git rev-parse HEAD)
short=$(git rev-parse --short=7 HEAD)

run_ok "$MLDEPLOY" --json build -o "$T/a.tar"
cp "$T/out" "$T/a.json"
assert_eq "$(jq -r .tag "$T/a.json")" "$short" "tag"
assert_eq "$(jq -r .mtime_source "$T/a.json")" "git commit" "mtime source"
assert_eq "$(jq -r .mtime "$T/a.json")" 1704164645 "mtime"
run_ok skopeo_inspect --raw "oci-archive:$T/a.tar"
assert_eq "$(jq -r '.annotations["org.opencontainers.image.revision"]' "$T/out")" "$rev" "revision annotation"
assert_eq "$(jq -r '.annotations["org.opencontainers.image.source"]' "$T/out")" \
	"https://git.example.com/ml/iris.git" "source annotation"
run_ok skopeo_inspect --config "oci-archive:$T/a.tar"
assert_eq "$(jq -r '.config.Labels["org.opencontainers.image.revision"]' "$T/out")" "$rev" "revision label"
run_ok tar -xOf "$T/a.tar"
mv "$T/out" "$T/all"
# the absence below means something only when the image's documents were read
assert_contains "$T/all" "\"org.opencontainers.image.revision\":\"$rev\""
assert_contains "$T/all" "https://git.example.com/ml/iris.git"
assert_not_contains "$T/all" "hunter2-secret"
assert_not_contains "$T/all" "builder:"
run_ok "$MLDEPLOY" -f deploy.yaml validate
assert_eq "$(jq -r .plan.tag "$T/out")" "$short" "validate's tag"
assert_not_contains "$T/out" "hunter2-secret"

# a modified tracked file makes the tag -dirty; an untracked one does not
printf 'scratch\n' >notes.txt
run_ok "$MLDEPLOY" --json build -o "$T/b.tar"
assert_eq "$(jq -r .tag "$T/out")" "$short" "tag with an untracked file"
printf 'print(2)\n' >app/main.py
run_ok "$MLDEPLOY" --json build -o "$T/c.tar"
assert_eq "$(jq -r .tag "$T/out")" "$short-dirty" "tag with a modification"
run_ok "$MLDEPLOY" --json build --tag v1.2.3 -o "$T/d.tar"
assert_eq "$(jq -r .image "$T/out")" "gitmeta:v1.2.3" "--tag"
SOURCE_DATE_EPOCH=86400 run_ok "$MLDEPLOY" --json build -o "$T/e.tar"
assert_eq "$(jq -r .mtime_source "$T/out")" SOURCE_DATE_EPOCH "SOURCE_DATE_EPOCH wins"
must_fail 2 "$MLDEPLOY" build --tag 'bad tag!' -o "$T/f.tar"
assert_contains "$T/err" "invalid tag"
