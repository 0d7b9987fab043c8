#!/usr/bin/python3
"""Generates the wheels of the Python dependencies benchmark (bench/pydeps.sh).

usage: bench/make-wheels.py OUTDIR [TOTAL_MB]

Writes to OUTDIR a deterministic set of valid wheels, about TOTAL_MB MiB
(default 300) of wheel files in all, shaped like the dependencies of an ML
service: 12 distributions benchpkg01 .. benchpkg12, version 1.0.0, each a
py3-none-any wheel holding

  - many generated Python modules (classes, functions, docstrings, constants;
    they deflate about 3-4x, like real source), in sub-packages: about 20,000
    files over the 12 wheels at 300 MiB, proportionally fewer for less;
  - a few big binary files (lib*.so, *.bin: seeded pseudo-random bytes mixed with
    low-entropy runs and repeats, deflating about 2x), like the shared objects
    and data that make most of numpy's or torch's size;
  - {name}-1.0.0.dist-info/ with METADATA (Name, Version, Requires-Dist),
    WHEEL, top_level.txt and RECORD (sha256 in urlsafe base64 without padding,
    sizes).

benchpkg02 .. 12 require benchpkg01==1.0.0, and most also require one or two
others, so an installer resolves a real dependency graph. The wheels are zips
with ZIP_DEFLATED members, sorted, with fixed times and modes: the same
arguments give the same bytes.

The set is cached: OUTDIR/.complete records the arguments and the recipe
version, and a second run with the same ones does nothing. Prints one summary
line. Standard library only (Debian's /usr/bin/python3).
"""
import base64
import hashlib
import os
import random
import shutil
import sys
import zipfile

RECIPE = 1  # bump when the output changes
NPKG = 12
VERSION = "1.0.0"
FILES_AT_300 = 20000  # total files at TOTAL_MB=300, scaled linearly
SOURCE_SHARE = 0.35  # share of the wheel bytes that are Python modules
SOURCE_RATIO = 3.1  # expected deflate ratio of the generated source
BINARY_RATIO = 1.9  # expected deflate ratio of the binary files
ZIP_TIME = (2000, 1, 1, 0, 0, 0)

WORDS = (
    "tensor array model layer weight bias batch shape dtype device stream "
    "buffer cache index value key node graph edge kernel grad loss optim step "
    "config option param state context handle result error table column row "
    "sample feature label score metric scale offset stride block chunk window "
    "input output hidden dense sparse linear conv pool norm dropout embed token "
    "vocab encode decode parse format load save read write open close flush "
    "reset update apply merge split concat reshape flatten reduce mean sum max "
    "min count size length width height depth rank axis dim mask fill zero one"
).split()
TYPES = ("int", "float", "str", "bool", "bytes", "list", "dict", "tuple", "None")


def ident(rng, parts=2):
    return "_".join(rng.choice(WORDS) for _ in range(parts))


def camel(rng):
    return "".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(2, 3)))


def sentence(rng, lo=6, hi=14):
    s = " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))
    return s[0].upper() + s[1:] + "."


def function(rng, indent, method):
    pad = " " * indent
    args = ["self"] if method else []
    args += [f"{ident(rng, 1)}{i}: {rng.choice(TYPES)}" for i in range(rng.randint(0, 4))]
    names = [a.split(":")[0] for a in args if a != "self"]
    out = [f"{pad}def {ident(rng)}({', '.join(args)}) -> {rng.choice(TYPES)}:"]
    out.append(f'{pad}    """{sentence(rng)}')
    out.append("")
    for n in names:
        out.append(f"{pad}    :param {n}: {sentence(rng, 3, 8)}")
    out.append(f'{pad}    """')
    local = names or [ident(rng, 1)]
    if not names:
        out.append(f"{pad}    {local[0]} = {rng.randint(0, 4096)}")
    for _ in range(rng.randint(2, 9)):
        v = rng.choice(local)
        kind = rng.randrange(5)
        if kind == 0:
            out.append(f"{pad}    if {v} is None or {v} == {rng.randint(0, 255)}:")
            out.append(f"{pad}        raise ValueError(\"{sentence(rng, 3, 7)}\")")
        elif kind == 1:
            t = ident(rng, 1)
            out.append(f"{pad}    for {t} in range({rng.randint(1, 64)}):")
            out.append(f"{pad}        {v} = _{ident(rng)}({v}, {t}) * {rng.random():.3f}")
        elif kind == 2:
            out.append(f"{pad}    {v} = {{\"{ident(rng, 1)}\": {v}, \"{ident(rng, 1)}\": {rng.randint(0, 1 << 20)}}}")
        elif kind == 3:
            out.append(f"{pad}    # {sentence(rng, 4, 12)}")
            out.append(f"{pad}    {v} = [{', '.join(str(rng.randint(0, 999)) for _ in range(rng.randint(2, 8)))}]")
        else:
            new = ident(rng)
            out.append(f"{pad}    {new} = {v}.{ident(rng)}({rng.choice(local)})")
            local = local + [new]
    out.append(f"{pad}    return {rng.choice(local)}")
    out.append("")
    return out


def module(rng, size, pkg):
    """Python source of about SIZE bytes."""
    out = [f'"""{pkg}: {sentence(rng)}', "", sentence(rng, 12, 30), '"""']
    out += ["from __future__ import annotations", "", "import os", "import sys", ""]
    out += [f"__all__ = [\"{camel(rng)}\", \"{ident(rng)}\"]", ""]
    for _ in range(rng.randint(1, 4)):
        out.append(f"{ident(rng).upper()} = {rng.randint(0, 1 << 16)}")
    out.append("")
    n = sum(len(line) + 1 for line in out)
    while n < size:
        if rng.random() < 0.4:
            block = [f"class {camel(rng)}({rng.choice(['object', 'Exception', 'dict'])}):",
                     f'    """{sentence(rng)}"""', ""]
            for _ in range(rng.randint(1, 4)):
                block += function(rng, 4, True)
        else:
            block = function(rng, 0, False)
        block.append("")
        n += sum(len(line) + 1 for line in block)
        out += block
    return "\n".join(out).encode()


def binary(rng, size):
    """SIZE bytes that deflate about 2x: random, 16-symbol and repeated runs."""
    buf = bytearray()
    low = bytes(range(16)) * 16
    table = bytes.maketrans(bytes(range(256)), low)
    while len(buf) < size:
        kind = rng.random()
        n = rng.randint(256, 4096)
        if kind < 0.3 or len(buf) < 8192:
            buf += rng.randbytes(n)
        elif kind < 0.6:
            buf += rng.randbytes(n).translate(table)
        else:
            start = len(buf) - rng.randint(n, 8192)
            buf += buf[start:start + n]
    return bytes(buf[:size])


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def requires(i):
    """Requires-Dist of package I (1-based): 01, and one or two of those before it."""
    if i == 1:
        return []
    deps = {1}
    if i > 2:
        deps.add(i - 1)
    if i > 4 and i % 3 == 0:
        deps.add(i // 2)
    return [f"benchpkg{d:02d}=={VERSION}" for d in sorted(deps)]


def zinfo(path, mode):
    zi = zipfile.ZipInfo(path, ZIP_TIME)
    zi.compress_type = zipfile.ZIP_DEFLATED
    zi.external_attr = (0o100000 | mode) << 16
    return zi


def make_wheel(outdir, i, nfiles, src_bytes, bin_bytes):
    name = f"benchpkg{i:02d}"
    rng = random.Random(f"mldeploy-bench-{RECIPE}-{name}")
    files = []  # (path, data, mode)
    nmod = max(nfiles - 8, 4)
    subs = [name] + [f"{name}/{ident(rng, 1)}{k}" for k in range(max(nmod // 60, 1))]
    for s in subs:
        files.append((f"{s}/__init__.py", f'"""{s.replace("/", ".")}."""\n'.encode(), 0o644))
    mean = src_bytes / nmod
    for k in range(nmod - len(subs)):
        size = int(mean * rng.uniform(0.2, 1.8))
        files.append((f"{rng.choice(subs)}/{ident(rng)}_{k}.py", module(rng, size, name), 0o644))
    nbin = 3
    for k in range(nbin):
        size = int(bin_bytes / nbin * (0.5 + k * 0.5))
        path = f"{name}/_lib/lib{name}_{k}.so" if k < 2 else f"{name}/data/{ident(rng)}.bin"
        files.append((path, binary(rng, size), 0o755 if path.endswith(".so") else 0o644))

    info = f"{name}-{VERSION}.dist-info"
    meta = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {VERSION}",
        f"Summary: mldeploy benchmark package {i}",
        "Requires-Python: >=3.8",
    ]
    meta += [f"Requires-Dist: {r}" for r in requires(i)]
    files.append((f"{info}/METADATA", ("\n".join(meta) + "\n\n" + sentence(rng) + "\n").encode(), 0o644))
    files.append((f"{info}/WHEEL", (
        "Wheel-Version: 1.0\nGenerator: mldeploy-bench (make-wheels.py)\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n").encode(), 0o644))
    files.append((f"{info}/top_level.txt", f"{name}\n".encode(), 0o644))
    files.sort(key=lambda f: f[0])
    record = [record_line(p, d) for p, d, _ in files] + [f"{info}/RECORD,,"]
    files.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode(), 0o644))

    path = os.path.join(outdir, f"{name}-{VERSION}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as z:
        for p, d, mode in files:
            z.writestr(zinfo(p, mode), d, compresslevel=6)
    return len(files), sum(len(d) for _, d, _ in files), os.path.getsize(path)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.split("\n\n")[1])
    outdir = sys.argv[1]
    arg = sys.argv[2] if len(sys.argv) == 3 else "300"
    total_mb = int(arg) if arg.isdigit() else 0
    if total_mb < 1:
        sys.exit("make-wheels: TOTAL_MB must be a positive whole number")
    key = f"recipe={RECIPE} total_mb={total_mb} packages={NPKG}\n"
    stamp = os.path.join(outdir, ".complete")
    try:
        with open(stamp) as f:
            if f.read() == key:
                print(f"make-wheels: reusing {outdir} ({key.strip()})")
                return
    except FileNotFoundError:
        pass

    total = total_mb * 1048576
    nfiles = max(int(FILES_AT_300 * total_mb / 300), NPKG * 12)
    # Uncompressed sizes that should deflate to the target, split unevenly
    # between the packages (weights 1 .. 2.4), as real dependencies are.
    weights = [1 + 0.125 * k for k in range(NPKG)]
    tmp = outdir.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    files = raw = whl = 0
    for k in range(NPKG):
        w = weights[k] / sum(weights)
        n, r, s = make_wheel(tmp, k + 1, int(nfiles * w),
                             total * w * SOURCE_SHARE * SOURCE_RATIO,
                             total * w * (1 - SOURCE_SHARE) * BINARY_RATIO)
        files, raw, whl = files + n, raw + r, whl + s
    with open(os.path.join(tmp, ".complete"), "w") as f:
        f.write(key)
    shutil.rmtree(outdir, ignore_errors=True)
    os.rename(tmp, outdir)
    print(f"make-wheels: {NPKG} wheels in {outdir}: {whl / 1048576:.1f} MiB of wheels, "
          f"{files} files, {raw / 1048576:.1f} MiB unpacked")


if __name__ == "__main__":
    main()
