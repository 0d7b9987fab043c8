#!/usr/bin/env bash
# tests/e2e/pywheels.sh OUTDIR — builds the end-to-end tests' wheels into OUTDIR,
# offline, with Debian's /usr/bin/python3 (python3-pip, python3-setuptools,
# python3-wheel, python3-dev), and prints the names of the files in OUTDIR.
#   mlpure-1.0.0-py3-none-any.whl                   tests/e2e/pypkgs/mlpure
#   mlcext-2.1.0-cp311-cp311-manylinux_2_17_x86_64.whl   tests/e2e/pypkgs/mlcext (C)
#   mlmarker-0.3.0-py3-none-any.whl                 tests/e2e/pypkgs/mlmarker
#   mlevil-1.0-py3-none-any.whl     a member ../../evil.txt, listed in RECORD
#   mlmac-1.0-cp311-cp311-macosx_11_0_arm64.whl     valid, but only a macOS tag
#   pip-*.whl, setuptools-*.whl     copies of /usr/share/python-wheels/ (py3-none-any)
# Timestamps come from SOURCE_DATE_EPOCH (2000-01-01), so the pure wheels are
# byte-for-byte reproducible. Prints nothing else on success; fails loudly.
set -euo pipefail

[ "$#" = 1 ] || {
	echo "usage: $0 OUTDIR" >&2
	exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
mkdir -p "$1"
out=$(cd "$1" && pwd)

"$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
	{ echo "pywheels: $py is not Python 3.11" >&2; exit 1; }
"$py" -m pip --version >/dev/null 2>&1 || { echo "pywheels: python3-pip is missing" >&2; exit 1; }
"$py" -c 'import setuptools, wheel' 2>/dev/null ||
	{ echo "pywheels: python3-setuptools or python3-wheel is missing" >&2; exit 1; }
[ -f /usr/include/python3.11/Python.h ] || { echo "pywheels: python3-dev is missing" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pywheels.XXXXXX")
trap 'rm -rf "$work"' EXIT

# pip builds in the source tree: build from a copy.
cp -r "$here/pypkgs/mlpure" "$here/pypkgs/mlcext" "$here/pypkgs/mlmarker" "$work/"
export SOURCE_DATE_EPOCH=946684800 PYTHONDONTWRITEBYTECODE=1 PIP_NO_INPUT=1 \
	PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_CONFIG_FILE=/dev/null \
	PYTHONNOUSERSITE=1 LC_ALL=C.UTF-8 TZ=UTC
export CFLAGS="-g0 -O2 -ffile-prefix-map=$work=."
if ! (cd "$work" && "$py" -m pip wheel --no-deps --no-build-isolation --no-index \
	-w "$work/wheels" ./mlpure ./mlcext ./mlmarker) >"$work/pip.log" 2>&1; then
	cat "$work/pip.log" >&2
	echo "pywheels: pip wheel failed" >&2
	exit 1
fi

"$py" - "$work/wheels" <<'PY'
import base64, hashlib, sys, zipfile

wheels = sys.argv[1]
DATE = (2000, 1, 1, 0, 0, 0)


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def write_wheel(path, dist, version, tag, members, purelib):
    """members: [(name, bytes)]; dist-info and RECORD are added."""
    di = "%s-%s.dist-info" % (dist, version)
    meta = [
        (di + "/METADATA", ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
                            "Summary: mldeploy test wheel\n" % (dist, version)).encode()),
        (di + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: mldeploy-pywheels\n"
                         "Root-Is-Purelib: %s\nTag: %s\n\n" % (purelib, tag)).encode()),
        (di + "/top_level.txt", (dist + "\n").encode()),
    ]
    entries = members + meta
    record = "".join(record_line(n, d) + "\n" for n, d in entries) + di + "/RECORD,,\n"
    entries.append((di + "/RECORD", record.encode()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, DATE)  # keeps "../" as it is
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


write_wheel(wheels + "/mlevil-1.0-py3-none-any.whl", "mlevil", "1.0", "py3-none-any", [
    ("mlevil/__init__.py", b'"""mldeploy test wheel with a path traversal."""\n'),
    ("../../evil.txt", b"written outside the install root\n"),
], "true")
write_wheel(wheels + "/mlmac-1.0-cp311-cp311-macosx_11_0_arm64.whl", "mlmac", "1.0",
            "cp311-cp311-macosx_11_0_arm64", [
    ("mlmac/__init__.py", b'"""mldeploy test wheel for macOS only."""\n'),
], "false")
PY

cp /usr/share/python-wheels/pip-*-py3-none-any.whl \
	/usr/share/python-wheels/setuptools-*-py3-none-any.whl "$work/wheels/"

want=(mlpure-1.0.0-py3-none-any.whl mlcext-2.1.0-cp311-cp311-manylinux_2_17_x86_64.whl
	mlmarker-0.3.0-py3-none-any.whl mlevil-1.0-py3-none-any.whl
	mlmac-1.0-cp311-cp311-macosx_11_0_arm64.whl)
for f in "${want[@]}"; do
	[ -f "$work/wheels/$f" ] || {
		ls -l "$work/wheels" >&2
		echo "pywheels: $f was not built" >&2
		exit 1
	}
done
"$py" - "$work/wheels/mlcext-2.1.0-cp311-cp311-manylinux_2_17_x86_64.whl" <<'PY'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = z.namelist()
wheel = z.read("mlcext-2.1.0.dist-info/WHEEL").decode()
assert "Tag: cp311-cp311-manylinux_2_17_x86_64\n" in wheel, wheel
assert "Root-Is-Purelib: false\n" in wheel, wheel
assert any(n.startswith("mlcext/_speed.") and n.endswith(".so") for n in names), names
PY
cp "$work/wheels/"*.whl "$out/"
find "$work/wheels" -maxdepth 1 -name '*.whl' -printf '%f\n' | LC_ALL=C sort
