#!/usr/bin/python3
"""Makes, from Debian bookworm packages, a wheel for each pin of a requirements.txt.

This is the offline route of the bundled example (scripts/example.sh): where
PyPI does not answer, image.python still needs wheels for Flask, gunicorn,
scikit-learn and their dependencies, at exactly the versions
templates/iris-flask/requirements.txt pins, and those are the versions Debian
bookworm ships. So, for each pinned distribution, this script downloads the
Debian binary packages that carry it (apt-get download; DEBIAN below), unpacks
them (dpkg-deb -x, no chroot, no root needed) and turns what they install
under usr/lib/python3/dist-packages into a wheel:

  - {name}-{version}.dist-info/ with METADATA (Name, Version, Requires-Python,
    Provides-Extra, Requires-Dist converted from the egg-info requires.txt or
    the METADATA Debian ships, plus the upstream runtime requirements Debian's
    build dropped: UPSTREAM_REQUIRES), WHEEL, top_level.txt, entry_points.txt
    (so an installer writes console scripts such as bin/gunicorn), Debian's
    copyright files under licenses/, and RECORD (sha256, urlsafe base64
    without padding, sizes);
  - tag py3-none-any when the distribution is pure Python,
    cpXY-cpXY-manylinux_2_<glibc>_<arch> (Root-Is-Purelib: false) when it has
    extension modules;
  - symlinks are followed when they stay inside dist-packages and dropped when
    they leave it (werkzeug's jquery.js points at Debian's libjs-jquery);
  - the zip is reproducible: sorted members, fixed times and modes.

CAVEAT: these are not PyPI's wheels. Debian's numpy, scipy and scikit-learn
link against system libraries (libblas.so.3, liblapack.so.3, libgfortran.so.5,
libgomp.so.1, liblbfgsb.so.0) that manylinux wheels would bundle; they work on
an image that carries those libraries, such as scripts/python-base.sh's
stand-in base, not on Docker Hub's python:3.11-slim. torch needs libtorch1.13
and the ~470 MB of libraries it links (OpenCV, FFmpeg, ...): the base
scripts/python-base.sh --torch makes; the host need not have them, so the check
below installs torch but does not import it.

The wheelhouse is validated before it is kept: every wheel's RECORD is checked,
the whole set is installed with Debian's pip (python3-pip) into a scratch
directory (--no-index --find-links) and imported with `python3 -I -S` from
there only, scikit-learn fitting and predicting.

It is cached, keyed on the requirements, the Debian package versions and this
recipe, in ${XDG_CACHE_HOME:-$HOME/.cache}/mldeploy-example/wheels-<key>/:
  *.whl                         the wheels (pip --find-links DIR works)
  simple/index.html             a static PEP 503 index of them:
  simple/<name>/index.html      <a href="../../<wheel>#sha256=...">
Serve DIR over HTTP (python3 -m http.server --directory DIR) and point
MLDEPLOY_PYTHON_INDEX at http://HOST:PORT/simple.

usage: scripts/debian-wheels.py [-r REQUIREMENTS] [--rebuild] [OUTDIR]
Prints the wheelhouse directory (OUTDIR when given: the cached wheelhouse is
copied there). Default REQUIREMENTS: templates/iris-flask/requirements.txt.
"""
import argparse
import base64
import csv
import email.parser
import fcntl
import hashlib
import html
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

PROG = "debian-wheels.py"
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Bump when the wheels this script makes change, so cached ones are not reused.
RECIPE = 1

# The Debian bookworm binary packages that together install each distribution
# (PEP 503 normalized name) under usr/lib/python3/dist-packages.
DEBIAN = {
    # the fastapi template's (templates/fastapi/requirements.txt)
    "anyio": ["python3-anyio"],
    "asgiref": ["python3-asgiref"],
    "fastapi": ["python3-fastapi"],
    "h11": ["python3-h11"],
    "idna": ["python3-idna"],
    "pydantic": ["python3-pydantic"],
    "sniffio": ["python3-sniffio"],
    "starlette": ["python3-starlette"],
    "typing-extensions": ["python3-typing-extensions"],
    "uvicorn": ["python3-uvicorn"],
    # the pytorch template's: Debian's torch (its libtorch1.13 libraries are not in
    # the wheel: scripts/python-base.sh --torch puts them in the base)
    "torch": ["python3-torch", "libtorch1.13"],
    # the bundled example's
    "click": ["python3-click"],
    "flask": ["python3-flask"],
    "gunicorn": ["python3-gunicorn"],  # the "gunicorn" package only adds /usr/bin/gunicorn
    "itsdangerous": ["python3-itsdangerous"],
    "jinja2": ["python3-jinja2"],
    "joblib": ["python3-joblib"],
    "markupsafe": ["python3-markupsafe"],
    "numpy": ["python3-numpy"],
    "scikit-learn": ["python3-sklearn", "python3-sklearn-lib"],
    "scipy": ["python3-scipy"],
    "setuptools": ["python3-setuptools", "python3-pkg-resources"],
    "threadpoolctl": ["python3-threadpoolctl"],
    "werkzeug": ["python3-werkzeug"],
}

# Runtime requirements of the upstream (PyPI) releases that Debian's egg-info
# lacks (its builds drop install_requires; Debian states them as package
# Depends instead). Keyed on (normalized name, version): they are per release.
UPSTREAM_REQUIRES = {
    ("flask", "2.2.2"): [
        "Werkzeug>=2.2.2", "Jinja2>=3.0", "itsdangerous>=2.0", "click>=8.0",
        'importlib-metadata>=3.6.0; python_version < "3.10"',
    ],
    ("gunicorn", "20.1.0"): ["setuptools>=3.0"],
    ("jinja2", "3.1.2"): ["MarkupSafe>=2.0"],
    ("werkzeug", "2.2.2"): ["MarkupSafe>=2.1.1"],
    ("scikit-learn", "1.2.1"): [
        "numpy>=1.17.3", "scipy>=1.3.2", "joblib>=1.1.1", "threadpoolctl>=2.0.0",
    ],
    ("anyio", "3.6.2"): ["idna>=2.8", "sniffio>=1.1"],
    ("pydantic", "1.10.4"): ["typing-extensions>=4.2.0"],
    ("uvicorn", "0.17.6"): ["asgiref>=3.4.0", "click>=7.0", "h11>=0.8"],
    # Debian's torch 1.13.1 calls itself 1.13.0a0+gitunknown (its build has no git
    # tag); PyPI's 1.13.1 needs typing-extensions (and NVIDIA's CUDA wheels: not here)
    ("torch", "1.13.0a0+gitunknown"): ["typing-extensions"],
    # Debian runs fastapi 0.92.0 with its starlette 0.26.1 (python3-fastapi
    # depends on it); the dist-info keeps the upstream "starlette<0.26.0,>=0.25.0"
    ("fastapi", "0.92.0"): [
        "starlette>=0.25.0,<0.27.0",
        "pydantic!=1.7,!=1.7.1,!=1.7.2,!=1.7.3,!=1.8,!=1.8.1,<2.0.0,>=1.6.2",
    ],
}

SITE = "usr/lib/python3/dist-packages"
# Symlinks out of dist-packages to a file one of the distribution's packages has,
# which the distribution opens by path (not through the loader's search path):
# the file is copied in. torch/__init__.py loads torch/lib/libtorch_global_deps.so
# (16 KiB; libtorch1.13 has it); the other torch/lib links are found by the loader.
BY_PATH = {"torch/lib/libtorch_global_deps.so"}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def say(msg):
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def die(msg):
    say(msg)
    sys.exit(1)


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def escape(name):
    """A name as wheel file names and .dist-info directories spell it."""
    return re.sub(r"[-_.]+", "_", name)


def run(argv, **kw):
    try:
        return subprocess.run(argv, check=True, **kw)
    except FileNotFoundError:
        die(f"{argv[0]} is not installed")
    except subprocess.CalledProcessError as e:
        if e.stderr:
            sys.stderr.write(e.stderr if isinstance(e.stderr, str) else e.stderr.decode())
        die(f"{' '.join(argv[:3])} ... failed (exit {e.returncode})")


def read_requirements(path):
    """[(name as written, normalized, version)] of name==version lines."""
    pins = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9.+!_-]+)", line)
            if not m:
                die(f"{path}:{n}: expected name==version, got {line!r}")
            pins.append((m.group(1), normalize(m.group(1)), m.group(2)))
    if not pins:
        die(f"{path}: no requirements")
    return pins


def debian_versions(packages):
    """{package: version} of the candidates apt would download."""
    out = run(["apt-cache", "show", "--no-all-versions", *packages],
              capture_output=True, text=True).stdout
    versions = {}
    for stanza in out.split("\n\n"):
        fields = dict(re.findall(r"^(Package|Version): (.*)$", stanza, re.M))
        if "Package" in fields:
            versions[fields["Package"]] = fields["Version"]
    missing = [p for p in packages if p not in versions]
    if missing:
        die(f"apt does not know {', '.join(missing)} (apt-get update? a bookworm sources.list?)")
    return versions


def target_platform():
    """(python tag, platform tag) of the extension modules Debian builds here."""
    arch = run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    machine = {"amd64": "x86_64", "arm64": "aarch64", "i386": "i686", "ppc64el": "ppc64le",
               "s390x": "s390x", "riscv64": "riscv64"}.get(arch)
    if not machine:
        die(f"no wheel platform tag for Debian architecture {arch}")
    libc = debian_versions(["libc6"])["libc6"]
    m = re.match(r"(?:\d+:)?2\.(\d+)", libc)
    if not m:
        die(f"cannot read glibc's version from libc6 {libc}")
    return f"manylinux_2_{m.group(1)}_{machine}"


# --- reading what Debian installed ------------------------------------------

def collect_files(roots, dist):
    """{path relative to dist-packages: bytes} from the unpacked packages."""
    files = {}
    if not any(os.path.isdir(os.path.join(root, SITE)) for root in roots):
        die(f"{dist}: {', '.join(map(os.path.basename, roots))} install nothing in /{SITE}")
    for root in roots:
        site = os.path.join(root, SITE)
        if not os.path.isdir(site):
            continue
        for dirpath, dirnames, filenames in os.walk(site):
            dirnames.sort()
            for fn in filenames:
                full = os.path.join(dirpath, fn)
                rel = os.path.relpath(full, site)
                if os.path.islink(full) and rel in BY_PATH:
                    target = os.path.normpath(os.path.join(SITE, os.path.dirname(rel), os.readlink(full)))
                    found = [os.path.join(r, target) for r in roots if os.path.isfile(os.path.join(r, target))]
                    if not found:
                        die(f"{dist}: {rel} links to /{target}, which none of its packages has")
                    full = found[0]
                elif os.path.islink(full):
                    real = os.path.realpath(full)
                    if not real.startswith(os.path.realpath(site) + os.sep) or not os.path.isfile(real):
                        say(f"{dist}: dropping {rel}: symlink to {os.readlink(full)}, outside dist-packages")
                        continue
                if "__pycache__" in rel.split(os.sep) or rel.endswith(".pyc"):
                    continue
                with open(full, "rb") as f:
                    data = f.read()
                mode = os.stat(full).st_mode
                if rel in files and files[rel][0] != data:
                    die(f"{dist}: {rel} differs between the Debian packages")
                files[rel] = (data, bool(mode & 0o111))
    return files


def parse_requires_txt(text):
    """Requires-Dist strings and extras from an egg-info requires.txt."""
    reqs, extras = [], []
    extra = marker = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"\[([^:\]]*)(?::(.*))?\]", line)
        if m:
            extra, marker = m.group(1) or None, m.group(2)
            if extra and extra not in extras:
                extras.append(extra)
            continue
        conds = []
        if marker:
            conds.append(f"({marker})" if extra else marker)
        if extra:
            conds.append(f'extra == "{extra}"')
        reqs.append(line + (f"; {' and '.join(conds)}" if conds else ""))
    return reqs, extras


def req_name(req):
    return normalize(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req).group(1))


def is_runtime(req):
    return "extra ==" not in req.split(";", 1)[-1] if ";" in req else True


def read_metadata(files, dist, version):
    """Debian's installed metadata: (headers, requires, extras, entry_points).

    Removes the egg-info/dist-info from files: the wheel gets its own."""
    infos = sorted({rel.split(os.sep)[0] for rel in files
                    if rel.split(os.sep)[0].endswith((".egg-info", ".dist-info"))})
    if len(infos) != 1:
        die(f"{dist}: expected one .egg-info or .dist-info, found {infos or 'none'}")
    info = infos[0]
    own = {rel[len(info) + 1:]: files.pop(rel)[0] for rel in list(files)
           if rel.split(os.sep)[0] == info}
    pkginfo = own.get("PKG-INFO") or own.get("METADATA")
    if pkginfo is None:
        die(f"{dist}: {info} has no PKG-INFO/METADATA")
    headers = email.parser.BytesHeaderParser().parsebytes(pkginfo)
    if normalize(headers["Name"]) != dist or headers["Version"] != version:
        die(f"{dist}: Debian ships {headers['Name']} {headers['Version']}, the requirements pin {version}")
    if info.endswith(".dist-info"):
        reqs = headers.get_all("Requires-Dist") or []
        extras = headers.get_all("Provides-Extra") or []
    else:
        reqs, extras = parse_requires_txt(own.get("requires.txt", b"").decode())
    upstream = UPSTREAM_REQUIRES.get((dist, version), [])
    names = {req_name(r) for r in upstream}
    reqs = upstream + [r for r in reqs if not (is_runtime(r) and req_name(r) in names)]
    return headers, reqs, extras, own.get("entry_points.txt")


# --- writing wheels -----------------------------------------------------------

def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def top_level(files):
    names = set()
    for rel in files:
        parts = rel.split(os.sep)
        if len(parts) > 1 and parts[0] + os.sep + "__init__.py" in files:
            names.add(parts[0])
        elif len(parts) == 1 and (rel.endswith(".py") or ".cpython-" in rel):
            names.add(rel.split(".", 1)[0])
    return sorted(names)


def make_wheel(outdir, dist, version, roots, debs, platform):
    files = collect_files(roots, dist)
    headers, reqs, extras, entry_points = read_metadata(files, dist, version)
    name = headers["Name"]
    sos = [rel for rel in files if re.search(r"\.so(\.|$)", rel)]
    if sos:
        abis = {m.group(1) for rel in sos for m in [re.search(r"\.cpython-(\d+)-", rel)] if m}
        if len(abis) != 1:
            die(f"{dist}: extension modules for {sorted(abis) or 'no'} CPython ABI, expected one")
        py = "cp" + abis.pop()
        tag = f"{py}-{py}-{platform}"
    else:
        tag = "py3-none-any"
    info = f"{escape(name)}-{version}.dist-info"

    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    for h in ("Summary", "Home-page", "License", "Requires-Python"):
        if headers.get(h) and headers[h] != "UNKNOWN":
            meta.append(f"{h}: {' '.join(headers[h].split())}")
    meta += [f"Provides-Extra: {e}" for e in extras]
    meta += [f"Requires-Dist: {r}" for r in reqs]
    debver = ", ".join(f"{p} {v}" for p, v in debs)
    meta.append(f"Description: Built by mldeploy scripts/{PROG} from Debian bookworm's {debver}.")
    dist_info = {
        "METADATA": ("\n".join(meta) + "\n").encode(),
        "WHEEL": (f"Wheel-Version: 1.0\nGenerator: mldeploy scripts/{PROG} ({debver})\n"
                  f"Root-Is-Purelib: {'false' if sos else 'true'}\nTag: {tag}\n").encode(),
        "top_level.txt": "".join(t + "\n" for t in top_level(files)).encode(),
    }
    if entry_points:
        dist_info["entry_points.txt"] = entry_points
    for root, (pkg, _) in zip(roots, debs):
        copyright_file = os.path.join(root, "usr/share/doc", pkg, "copyright")
        if os.path.isfile(copyright_file) and not os.path.islink(copyright_file):
            with open(copyright_file, "rb") as f:
                dist_info[f"licenses/debian-{pkg}.copyright"] = f.read()

    members = sorted((rel.replace(os.sep, "/"), data, exe) for rel, (data, exe) in files.items())
    members += [(f"{info}/{k}", v, False) for k, v in sorted(dist_info.items())]
    record = io.StringIO()
    w = csv.writer(record, lineterminator="\n")
    for path, data, _ in members:
        w.writerow([path, digest(data), len(data)])
    w.writerow([f"{info}/RECORD", "", ""])
    members.append((f"{info}/RECORD", record.getvalue().encode(), False))

    whl = os.path.join(outdir, f"{escape(name)}-{version}-{tag}.whl")
    with zipfile.ZipFile(whl, "w") as z:
        for path, data, exe in members:
            zi = zipfile.ZipInfo(path, ZIP_TIME)
            zi.external_attr = (0o100755 if exe else 0o100644) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data, compresslevel=6)
    say(f"{os.path.basename(whl)}: {len(files)} files, {os.path.getsize(whl) // 1024} KiB")
    return whl, name, headers.get("Requires-Python")


def check_record(whl):
    with zipfile.ZipFile(whl) as z:
        names = set(z.namelist())
        rec = [n for n in names if re.fullmatch(r"[^/]+\.dist-info/RECORD", n)]
        if len(rec) != 1:
            die(f"{whl}: expected one RECORD")
        rows = list(csv.reader(io.StringIO(z.read(rec[0]).decode())))
        listed = {r[0] for r in rows}
        if listed != names:
            die(f"{whl}: RECORD and the zip disagree on {sorted(listed ^ names)[:5]}")
        for path, hash_, size in rows:
            if path == rec[0]:
                continue
            data = z.read(path)
            if digest(data) != hash_ or str(len(data)) != size:
                die(f"{whl}: RECORD is wrong about {path}")


def write_index(outdir, wheels):
    simple = os.path.join(outdir, "simple")
    os.makedirs(simple)
    links = []
    for whl, name, requires_python in sorted(wheels, key=lambda w: normalize(w[1])):
        norm = normalize(name)
        links.append(f'<a href="{norm}/">{html.escape(norm)}</a><br>')
        with open(whl, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        fn = os.path.basename(whl)
        rp = f' data-requires-python="{html.escape(requires_python)}"' if requires_python else ""
        os.makedirs(os.path.join(simple, norm))
        with open(os.path.join(simple, norm, "index.html"), "w") as f:
            f.write('<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
                    f"<title>Links for {norm}</title></head><body>\n<h1>Links for {norm}</h1>\n"
                    f'<a href="../../{fn}#sha256={sha}"{rp}>{fn}</a><br>\n</body></html>\n')
    with open(os.path.join(simple, "index.html"), "w") as f:
        f.write('<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
                "<title>Simple index</title></head><body>\n" + "\n".join(links) + "\n</body></html>\n")


VALIDATE = r"""
import os, sys
target = sys.argv[1]
sys.path.insert(0, target)
mods = sys.argv[2:]
for name in mods:
    m = __import__(name)
    where = getattr(m, "__file__", None) or ""
    if not os.path.realpath(where).startswith(os.path.realpath(target) + os.sep):
        sys.exit(f"{name} was imported from {where}, not from the wheels")
checked = []
if "sklearn" in mods:
    import numpy, scipy.linalg
    from sklearn.neighbors import NearestCentroid
    a = numpy.array([[2.0, 1.0], [1.0, 3.0]])
    assert numpy.allclose(a @ scipy.linalg.solve(a, [1.0, 2.0]), [1.0, 2.0])   # BLAS, LAPACK
    clf = NearestCentroid().fit([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]], ["a", "a", "b", "b"])
    assert clf.predict([[0.2, 0.1], [4.0, 4.5]]).tolist() == ["a", "b"]
    checked.append(f"numpy {numpy.__version__}, sklearn fits and predicts")
if "flask" in mods:
    import flask, gunicorn.app.wsgiapp
    checked.append(f"flask {flask.__version__}")
if "fastapi" in mods:
    import fastapi, pydantic, uvicorn
    app = fastapi.FastAPI()
    class Req(pydantic.BaseModel):
        x: list
    @app.post("/p")
    def p(r: Req):
        return {"n": len(r.x)}
    assert "/p" in app.openapi()["paths"]
    checked.append(f"fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}")
print(f"imported {len(mods)} modules from the wheels; " + "; ".join(checked))
"""


def validate(outdir, requirements, wheels, scratch):
    for whl, _, _ in wheels:
        check_record(whl)
    target = os.path.join(scratch, "target")
    probe = subprocess.run(["/usr/bin/python3", "-m", "pip", "--version"], capture_output=True)
    if probe.returncode != 0:
        die("Debian's pip is needed to check the wheels: apt-get install python3-pip")
    run(["/usr/bin/python3", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-cache-dir", "--no-index", "--find-links", outdir, "--target", target,
         "-r", requirements], capture_output=True, text=True)
    mods = []
    for whl, name, _ in wheels:
        if normalize(name) == "torch":
            # libtorch1.13 and what it links are in python-base.sh --torch, not on the host
            say("torch: installed, not imported (its libraries are in the image's base only)")
            continue
        with zipfile.ZipFile(whl) as z:
            top = [n for n in z.namelist() if n.endswith(".dist-info/top_level.txt")][0]
            mods += [m for m in z.read(top).decode().split() if m != "_distutils_hack"]
    names = {normalize(name) for _, name, _ in wheels}
    for script in ("gunicorn", "uvicorn"):
        if script in names and not os.access(os.path.join(target, "bin", script), os.X_OK):
            die(f"pip wrote no bin/{script}: {script}'s entry_points.txt is not right")
    out = run(["/usr/bin/python3", "-I", "-S", "-c", VALIDATE, target, *sorted(mods)],
              capture_output=True, text=True, cwd=scratch).stdout
    say(out.strip())


def build(requirements, pins, versions, dest):
    scratch = tempfile.mkdtemp(prefix=".wheels-build.", dir=os.path.dirname(dest))
    try:
        debs = os.path.join(scratch, "debs")
        os.makedirs(debs)
        packages = sorted({p for _, norm, _ in pins for p in DEBIAN[norm]})
        say(f"apt-get download {len(packages)} packages")
        # apt's sandbox user cannot write to a root-owned 0700 temp dir: harmless warning
        run(["apt-get", "download", *[f"{p}={versions[p]}" for p in packages]],
            cwd=debs, capture_output=True, text=True)
        platform = target_platform()
        out = os.path.join(scratch, "wheelhouse")
        os.makedirs(out)
        wheels = []
        for _, norm, version in pins:
            roots, used = [], []
            for pkg in DEBIAN[norm]:
                deb = [f for f in os.listdir(debs) if f.startswith(pkg + "_")]
                if len(deb) != 1:
                    die(f"apt-get download gave {deb} for {pkg}")
                root = os.path.join(scratch, "x", pkg)
                os.makedirs(root)
                run(["dpkg-deb", "-x", os.path.join(debs, deb[0]), root])
                roots.append(root)
                used.append((pkg, versions[pkg]))
            wheels.append(make_wheel(out, norm, version, roots, used, platform))
        write_index(out, wheels)
        validate(out, requirements, wheels, scratch)
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.rename(out, dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("-r", "--requirements",
                    default=os.path.join(TOP, "templates/iris-flask/requirements.txt"))
    ap.add_argument("--rebuild", action="store_true", help="ignore the cache")
    ap.add_argument("outdir", nargs="?", help="copy the wheelhouse here (must not exist or be empty)")
    args = ap.parse_args()

    pins = read_requirements(args.requirements)
    unknown = [d for d, norm, _ in pins if norm not in DEBIAN]
    if unknown:
        die(f"no Debian packages known for {', '.join(unknown)} (see DEBIAN in this script)")
    packages = sorted({p for _, norm, _ in pins for p in DEBIAN[norm]})
    versions = debian_versions(packages)
    key = hashlib.sha256(repr((RECIPE, sorted((n, v) for _, n, v in pins),
                               sorted(versions.items()))).encode()).hexdigest()[:16]
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                         "mldeploy-example")
    os.makedirs(cache, exist_ok=True)
    dest = os.path.join(cache, f"wheels-{key}")
    # One build at a time; a concurrent run waits and then reuses the result.
    with open(os.path.join(cache, ".wheels.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if args.rebuild or not os.path.isfile(os.path.join(dest, "simple", "index.html")):
            build(args.requirements, pins, versions, dest)
    if args.outdir:
        if os.path.isdir(args.outdir) and os.listdir(args.outdir):
            die(f"{args.outdir} is not empty")
        shutil.copytree(dest, args.outdir, dirs_exist_ok=True)
        dest = os.path.abspath(args.outdir)
    print(dest)


if __name__ == "__main__":
    main()
