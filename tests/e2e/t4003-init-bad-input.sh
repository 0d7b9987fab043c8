#!/usr/bin/env bash
# `mldeploy init` refuses, with exit status 2, a clear message and nothing written:
# an unknown template (listing the known ones), a directory that is not empty (and
# never replaces a file without --force), a model file that is missing, and one the
# template cannot load (saying what it expects); also an unknown provider or CI
# system. And mldeploy in CI: without a terminal, destroy's question is an error
# that names --yes; on a terminal progress is drawn, with CI=true it is not (one
# line per blob instead).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

empty() {
	[ -z "$(ls -A "$1" 2>/dev/null)" ] || { ls -lA "$1" >&2; fail "$1 is not empty"; }
}

say "--list: one line per template"
run_ok "$MLDEPLOY" init --list
assert_eq "$(cut -d' ' -f1 "$T/out" | tr '\n' ' ')" "sklearn-flask fastapi pytorch " "templates"

say "unknown template, provider, CI system"
mkdir "$T/a"
must_fail 2 "$MLDEPLOY" init --template keras "$T/a"
assert_contains "$T/err" "unknown template 'keras' (known: sklearn-flask, fastapi, pytorch;"
must_fail 2 "$MLDEPLOY" init --provider heroku "$T/a"
assert_contains "$T/err" "unknown provider 'heroku' (known: local, gcp, aws, azure)"
must_fail 2 "$MLDEPLOY" init --ci jenkins "$T/a"
assert_contains "$T/err" "unknown CI system 'jenkins' (known: github, gitlab)"
must_fail 2 "$MLDEPLOY" init "$T/a" "$T/b"
assert_contains "$T/err" "unexpected argument"
empty "$T/a"

say "DIR not empty: nothing written, the files it would replace named; --force writes"
mkdir -p "$T/busy/.git"
echo 'name: mine' >"$T/busy/deploy.yaml"
echo notes >"$T/busy/notes.txt"
must_fail 2 "$MLDEPLOY" init "$T/busy"
assert_contains "$T/err" "'$T/busy' is not empty (it holds 'deploy.yaml', 'notes.txt'; it would replace 'deploy.yaml')"
assert_contains "$T/err" "--force"
assert_eq "$(cat "$T/busy/deploy.yaml")" "name: mine" "deploy.yaml untouched"
assert_eq "$(ls -A "$T/busy" | tr '\n' ' ')" ".git deploy.yaml notes.txt " "nothing written"
run_ok "$MLDEPLOY" init --force "$T/busy"
assert_contains "$T/busy/deploy.yaml" "name: busy"
assert_eq "$(cat "$T/busy/notes.txt")" notes "other files kept"
# a git repository with nothing else is empty enough
mkdir -p "$T/repo/.git"
run_ok "$MLDEPLOY" init "$T/repo"
[ -f "$T/repo/Makefile" ] || fail "init into a fresh git repository wrote nothing"

say "model file missing"
must_fail 2 "$MLDEPLOY" init --model "$T/nope.pkl" "$T/a"
assert_contains "$T/err" "model file '$T/nope.pkl': No such file or directory"
must_fail 2 "$MLDEPLOY" init --model "$T" "$T/a"
assert_contains "$T/err" "is not a regular file"
empty "$T/a"

say "a model the template cannot load: what it expects"
printf 'not a pickle\n' >"$T/model.pkl"
must_fail 2 "$MLDEPLOY" init --model "$T/model.pkl" "$T/a"
assert_contains "$T/err" "'$T/model.pkl' is something else, not a pickle or joblib file: the sklearn-flask template loads a scikit-learn model saved with joblib.dump or pickle.dump (.pkl, .pickle or .joblib)"
printf '\x08\x07onnx' >"$T/model.onnx"
must_fail 2 "$MLDEPLOY" init --template fastapi --model "$T/model.onnx" "$T/a"
assert_contains "$T/err" "the fastapi template loads a scikit-learn model saved with joblib.dump or pickle.dump"
cp "$SRCDIR/templates/iris-flask/model/model.pkl" "$T/iris.pkl"
must_fail 2 "$MLDEPLOY" init --template pytorch --model "$T/iris.pkl" "$T/a"
assert_contains "$T/err" "the pytorch template loads a TorchScript model saved with torch.jit.save (.pt or .pth)"
# torch.save() of weights: a zip with data.pkl and no code
mkdir -p "$T/w/weights/data"
echo x >"$T/w/weights/data.pkl"
echo x >"$T/w/weights/data/0"
(cd "$T/w" && /usr/bin/python3 -c 'import shutil; shutil.make_archive("weights", "zip", ".", "weights")')
mv "$T/w/weights.zip" "$T/weights.pt"
must_fail 2 "$MLDEPLOY" init --template pytorch --model "$T/weights.pt" "$T/a"
assert_contains "$T/err" "is a torch.save() archive (weights without code), not a TorchScript model"
must_fail 2 "$MLDEPLOY" init --model "$T/weights.pt" "$T/a"
assert_contains "$T/err" "for a TorchScript model use --template pytorch"
empty "$T/a"

say "the model already in the directory: init around it"
mkdir "$T/own"
cp "$SRCDIR/templates/iris-flask/model/model.pkl" "$T/own/clf.joblib"
(cd "$T/own" && run_ok "$MLDEPLOY" init --model clf.joblib)
assert_contains "$T/own/deploy.yaml" "MODEL_PATH: /app/clf.joblib"
cmp "$T/own/clf.joblib" "$SRCDIR/templates/iris-flask/model/model.pkl" || fail "the model changed"
[ ! -e "$T/own/model.pkl" ] || fail "the bundled model was written too"

say "CI: destroy without a terminal names --yes"
must_fail 2 "$MLDEPLOY" -C "$T/repo" destroy --provider local </dev/null
assert_contains "$T/err" "without a terminal to ask on, pass --yes"

say "CI: progress on a terminal, none with CI=true"
start_registry main
mkdir "$T/px"
head -c 3000000 /dev/urandom >"$T/px/blob.bin"
cat >"$T/px/deploy.yaml" <<YAML
name: px
image:
  repository: $REG_MAIN_ADDR/px
  base: scratch
  copy: [{ src: blob.bin, dst: /blob.bin }]
YAML
export MLDEPLOY_INSECURE_REGISTRIES=$REG_MAIN_ADDR
run_ok "$MLDEPLOY" -C "$T/px" build --compression none
tty_push() {
	script -qec "$(printf '%q ' "$@")" "$T/tty.log" >/dev/null
}
CI= tty_push "$MLDEPLOY" -C "$T/px" push --tag t1 || fail "push on a terminal failed"
grep -q $'\r\033\[K' "$T/tty.log" || fail "no progress drawn on a terminal"
head -c 3000000 /dev/urandom >"$T/px/blob.bin"
run_ok "$MLDEPLOY" -C "$T/px" build --compression none
CI=true tty_push "$MLDEPLOY" -C "$T/px" push --tag t2 || fail "push with CI=true failed"
if grep -q $'\033\[K' "$T/tty.log"; then
	fail "progress drawn with CI=true"
fi
assert_contains "$T/tty.log" "pushed"
