#!/usr/bin/env python3
"""Generate a static, PyPI-shaped upstream for the sync benchmark (stdlib only).

Layout under --out DIR:
  web/packages/<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<file>  release files (+ <wheel>.metadata)
  web/pypi/<name>/json                              Warehouse JSON API
  web/simple/<name>/index.html, index.v1_json       PEP 503 / PEP 691 detail pages
  web/simple/index.html, index.v1_json              root (API 1.4, per-project _last-serial)
  xmlrpc.json    list_packages_with_serial + changelog, read by xmlrpc_server.py
  serials.map    nginx map body: project -> X-PyPI-Last-Serial (__root__ = max)
  state.json     seed, base URL, mutation rounds and dataset statistics

Everything is derived from --seed, so two runs give byte-identical trees.
`--mutate P` on an existing tree adds one release to P% of the projects.
"""

import argparse
import base64
import gzip
import hashlib
import html
import io
import json
import math
import os
import random
import sys
import tarfile
import time
import zipfile
from datetime import datetime, timezone

BASE_TS = 1704067200  # 2024-01-01T00:00:00Z; upload times derive from serials
ZIP_TIME = (2024, 1, 1, 0, 0, 0)
SYLLABLES = (
    "ba be bi bo bu da de di do du fa fe fi fo ka ke ki ko ku la le li lo lu "
    "ma me mi mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so "
    "su ta te ti to tu va ve vi vo vu za ze zi zo zu qu ix ox ex yl"
).split()
SUFFIXES = ["", "", "", "-py", "-lib", "-tools", "-client", "-core", "-utils", "-sdk"]
WHEEL_TAGS = [
    "py3-none-any",
    "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp311-cp311-win_amd64",
]
REQUIRES_PYTHON = ">=3.8"


def payload_size(rng):
    """Mixed sizes: log-normal around 10 KB, plus ~0.1% files of 2-8 MB."""
    if rng.random() < 0.001:
        return rng.randint(2_000_000, 8_000_000)
    return int(min(max(rng.lognormvariate(math.log(9_000), 1.25), 300), 1_500_000))


def iso(ts):
    return datetime.fromtimestamp(ts, timezone.utc)


def atomic_write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def record_hash(data):
    d = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(d).rstrip(b"=").decode()


def metadata_bytes(name, version):
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        f"Summary: Synthetic package {name} for mirror benchmarks\n"
        f"Requires-Python: {REQUIRES_PYTHON}\n"
        "\n"
    ).encode()


def wheel_file(tag):
    py, abi, plats = tag.split("-")
    lines = ["Wheel-Version: 1.0", "Generator: gen_upstream"]
    lines.append(f"Root-Is-Purelib: {'true' if plats == 'any' else 'false'}")
    lines += [f"Tag: {py}-{abi}-{p}" for p in plats.split(".")]
    return ("\n".join(lines) + "\n").encode()


def make_wheel(name, version, tag, payload):
    dist = name.replace("-", "_")
    di = f"{dist}-{version}.dist-info"
    meta = metadata_bytes(name, version)
    files = [
        (f"{dist}/__init__.py", f'__version__ = "{version}"\n'.encode(), zipfile.ZIP_DEFLATED),
        (f"{dist}/_data.bin", payload, zipfile.ZIP_STORED),
        (f"{di}/METADATA", meta, zipfile.ZIP_DEFLATED),
        (f"{di}/WHEEL", wheel_file(tag), zipfile.ZIP_DEFLATED),
    ]
    record = "".join(f"{p},{record_hash(d)},{len(d)}\n" for p, d, _ in files)
    record += f"{di}/RECORD,,\n"
    files.append((f"{di}/RECORD", record.encode(), zipfile.ZIP_DEFLATED))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path, data, method in files:
            info = zipfile.ZipInfo(path, date_time=ZIP_TIME)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return f"{dist}-{version}-{tag}.whl", buf.getvalue(), meta


def make_sdist(name, version, payload):
    dist = name.replace("-", "_")
    root = f"{dist}-{version}"
    members = [
        (f"{root}/PKG-INFO", metadata_bytes(name, version)),
        (
            f"{root}/pyproject.toml",
            f'[project]\nname = "{name}"\nversion = "{version}"\n'.encode(),
        ),
        (f"{root}/{dist}/__init__.py", f'__version__ = "{version}"\n'.encode()),
        (f"{root}/{dist}/_data.bin", payload),
    ]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for path, data in members:
            ti = tarfile.TarInfo(path)
            ti.size = len(data)
            ti.mtime = BASE_TS
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    # Level 1: the payload is random (incompressible); mtime=0 keeps bytes stable.
    gz = gzip.compress(raw.getvalue(), compresslevel=1, mtime=0)
    return f"{root}.tar.gz", gz


class Upstream:
    def __init__(self, out, base_url, seed):
        self.out = out
        self.web = os.path.join(out, "web")
        self.base_url = base_url.rstrip("/")
        self.seed = seed

    # ---- files -------------------------------------------------------------
    def store(self, filename, data):
        b2 = hashlib.blake2b(data, digest_size=32).hexdigest()
        rel = f"packages/{b2[0:2]}/{b2[2:4]}/{b2[4:]}/{filename}"
        path = os.path.join(self.web, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return rel, b2

    def release_files(self, name, version, serial, n_wheels):
        """Build and store one release; returns Warehouse JSON file dicts."""
        out = []
        ts = BASE_TS + serial * 60
        up = iso(ts)
        specs = [("wheel", WHEEL_TAGS[i]) for i in range(n_wheels)] + [("sdist", None)]
        for kind, tag in specs:
            rng = random.Random(f"{self.seed}:{name}:{version}:{tag}")
            payload = rng.randbytes(payload_size(rng))
            meta = None
            if kind == "wheel":
                filename, data, meta = make_wheel(name, version, tag, payload)
            else:
                filename, data = make_sdist(name, version, payload)
            rel, b2 = self.store(filename, data)
            entry = {
                "comment_text": "",
                "digests": {
                    "blake2b_256": b2,
                    "md5": hashlib.md5(data).hexdigest(),
                    "sha256": hashlib.sha256(data).hexdigest(),
                },
                "downloads": -1,
                "filename": filename,
                "has_sig": False,
                "md5_digest": hashlib.md5(data).hexdigest(),
                "packagetype": "bdist_wheel" if kind == "wheel" else "sdist",
                "python_version": (tag.split("-")[0] if kind == "wheel" else "source"),
                "requires_python": REQUIRES_PYTHON,
                "size": len(data),
                "upload_time": up.strftime("%Y-%m-%dT%H:%M:%S"),
                "upload_time_iso_8601": up.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
                "url": f"{self.base_url}/{rel}",
                "yanked": False,
                "yanked_reason": None,
            }
            if meta is not None:
                atomic_write(os.path.join(self.web, rel + ".metadata"), meta)
                entry["core-metadata"] = {"sha256": hashlib.sha256(meta).hexdigest()}
            else:
                entry["core-metadata"] = False
            out.append(entry)
        return out

    # ---- pages -------------------------------------------------------------
    def write_project(self, name, releases, serial):
        latest = list(releases)[-1]
        doc = {
            "info": {
                "author": "",
                "name": name,
                "package_url": f"{self.base_url}/project/{name}/",
                "project_url": f"{self.base_url}/project/{name}/",
                "release_url": f"{self.base_url}/project/{name}/{latest}/",
                "requires_python": REQUIRES_PYTHON,
                "summary": f"Synthetic package {name} for mirror benchmarks",
                "version": latest,
                "yanked": False,
                "yanked_reason": None,
            },
            "last_serial": serial,
            "releases": releases,
            "urls": releases[latest],
            "vulnerabilities": [],
        }
        atomic_write(
            os.path.join(self.web, "pypi", name, "json"),
            json.dumps(doc, separators=(",", ":")).encode(),
        )
        files = sorted(
            (f for fs in releases.values() for f in fs), key=lambda f: f["filename"]
        )
        links = []
        jfiles = []
        rp = html.escape(REQUIRES_PYTHON)
        for f in files:
            attrs = f' data-requires-python="{rp}"'
            cm = f["core-metadata"]
            if cm:
                attrs += (
                    f' data-dist-info-metadata="sha256={cm["sha256"]}"'
                    f' data-core-metadata="sha256={cm["sha256"]}"'
                )
            links.append(
                f'    <a href="{f["url"]}#sha256={f["digests"]["sha256"]}"{attrs}>'
                f'{f["filename"]}</a><br />'
            )
            jfiles.append(
                {
                    "filename": f["filename"],
                    "url": f["url"],
                    "hashes": {"sha256": f["digests"]["sha256"]},
                    "requires-python": REQUIRES_PYTHON,
                    "size": f["size"],
                    "upload-time": f["upload_time_iso_8601"],
                    "yanked": False,
                    "core-metadata": cm,
                }
            )
        page = (
            "<!DOCTYPE html>\n<html>\n  <head>\n"
            '    <meta name="pypi:repository-version" content="1.4">\n'
            f"    <title>Links for {name}</title>\n  </head>\n  <body>\n"
            f"    <h1>Links for {name}</h1>\n" + "\n".join(links) + "\n"
            f"  </body>\n</html>\n<!--SERIAL {serial}-->"
        )
        sdir = os.path.join(self.web, "simple", name)
        atomic_write(os.path.join(sdir, "index.html"), page.encode())
        jdoc = {
            "meta": {"api-version": "1.4", "_last-serial": serial},
            "name": name,
            "versions": list(releases),
            "files": jfiles,
            "project-status": {"status": "active"},
        }
        atomic_write(
            os.path.join(sdir, "index.v1_json"),
            json.dumps(jdoc, separators=(",", ":")).encode(),
        )

    def write_root(self, packages, changelog, extra_state):
        last = max(packages.values())
        names = sorted(packages)
        page = (
            "<!DOCTYPE html>\n<html>\n  <head>\n"
            '    <meta name="pypi:repository-version" content="1.4">\n'
            "    <title>Simple index</title>\n  </head>\n  <body>\n"
            + "".join(f'    <a href="/simple/{n}/">{n}</a>\n' for n in names)
            + f"  </body>\n</html>\n<!--SERIAL {last}-->"
        )
        atomic_write(os.path.join(self.web, "simple", "index.html"), page.encode())
        jroot = {
            "meta": {"api-version": "1.4", "_last-serial": last},
            "projects": [{"name": n, "_last-serial": packages[n]} for n in names],
        }
        atomic_write(
            os.path.join(self.web, "simple", "index.v1_json"),
            json.dumps(jroot, separators=(",", ":")).encode(),
        )
        atomic_write(
            os.path.join(self.out, "xmlrpc.json"),
            json.dumps(
                {"last_serial": last, "packages": packages, "changelog": changelog},
                separators=(",", ":"),
            ).encode(),
        )
        smap = "".join(f"{n} {s};\n" for n, s in sorted(packages.items()))
        smap += f"__root__ {last};\n"
        atomic_write(os.path.join(self.out, "serials.map"), smap.encode())
        state = dict(extra_state)
        state.update(self.stats())
        state["last_serial"] = last
        atomic_write(
            os.path.join(self.out, "state.json"), json.dumps(state, indent=1).encode()
        )
        return state

    def stats(self):
        """Count release files and bytes; pick a file near the mean size for wrk."""
        sizes = []
        meta_files = 0
        for d, _, fs in os.walk(os.path.join(self.web, "packages")):
            for f in fs:
                p = os.path.join(d, f)
                if f.endswith(".metadata"):
                    meta_files += 1
                    continue
                sizes.append((os.path.getsize(p), os.path.relpath(p, self.web)))
        total = sum(s for s, _ in sizes)
        mean = total / max(len(sizes), 1)
        mid = min(sizes, key=lambda s: abs(s[0] - mean)) if sizes else (0, "")
        return {
            "release_files": len(sizes),
            "metadata_files": meta_files,
            "release_bytes": total,
            "wrk_file": "/" + mid[1],
            "wrk_file_size": mid[0],
        }


def project_names(n, seed):
    rng = random.Random(f"{seed}:names")
    names, seen = [], set()
    while len(names) < n:
        base = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        name = base + rng.choice(SUFFIXES)
        if name in seen:
            name = f"{name}{len(names)}"
        seen.add(name)
        names.append(name)
    return names


def generate(args):
    if os.path.exists(os.path.join(args.out, "state.json")):
        sys.exit(f"{args.out} already holds an upstream; remove it or use --mutate")
    up = Upstream(args.out, args.base_url, args.seed)
    rng = random.Random(f"{args.seed}:layout")
    serial = 0
    packages, changelog = {}, []
    t0 = time.time()
    for i, name in enumerate(project_names(args.projects, args.seed)):
        releases = {}
        serial += 1
        changelog.append([name, None, BASE_TS + serial * 60, "create", serial])
        major = rng.randint(0, 5)
        for minor in range(rng.choice([1, 2, 2, 3])):
            version = f"{major}.{minor}.{rng.randint(0, 9)}"
            serial += 1
            changelog.append([name, version, BASE_TS + serial * 60, "new release", serial])
            files = up.release_files(name, version, serial, rng.choice([1, 1, 1, 2]))
            for f in files:
                serial += 1
                action = f"add {f['python_version']} file {f['filename']}"
                changelog.append([name, version, BASE_TS + serial * 60, action, serial])
            releases[version] = files
        packages[name] = serial
        up.write_project(name, releases, serial)
        if args.verbose and (i + 1) % 1000 == 0:
            print(f"  {i + 1} projects, {time.time() - t0:.1f}s", file=sys.stderr)
    state = {"seed": args.seed, "base_url": up.base_url, "projects": args.projects, "rounds": 0}
    return up.write_root(packages, changelog, state)


def mutate(args):
    spath = os.path.join(args.out, "state.json")
    try:
        with open(spath) as f:
            state = json.load(f)
        with open(os.path.join(args.out, "xmlrpc.json")) as f:
            xr = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"cannot read the upstream in {args.out} ({e}); generate it first")
    up = Upstream(args.out, state["base_url"], state["seed"])
    packages, changelog = xr["packages"], xr["changelog"]
    state["rounds"] += 1
    rng = random.Random(f"{state['seed']}:mutate:{state['rounds']}")
    names = sorted(packages)
    count = max(1, round(len(names) * args.mutate / 100))
    serial = xr["last_serial"]
    for name in sorted(rng.sample(names, count)):
        with open(os.path.join(up.web, "pypi", name, "json")) as f:
            releases = json.load(f)["releases"]
        major, minor, _ = list(releases)[-1].split(".")
        version = f"{major}.{int(minor) + 1}.{state['rounds']}"
        serial += 1
        changelog.append([name, version, BASE_TS + serial * 60, "new release", serial])
        files = up.release_files(name, version, serial, rng.choice([1, 1, 2]))
        for f in files:
            serial += 1
            action = f"add {f['python_version']} file {f['filename']}"
            changelog.append([name, version, BASE_TS + serial * 60, action, serial])
        releases[version] = files
        packages[name] = serial
        up.write_project(name, releases, serial)
    state["mutated_last_round"] = count
    return up.write_root(packages, changelog, state)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--projects", type=int, default=5000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--base-url", default="https://127.0.0.1:8443")
    ap.add_argument("--mutate", type=float, metavar="PERCENT")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    state = mutate(args) if args.mutate is not None else generate(args)
    what = f"mutated {state['mutated_last_round']} projects" if args.mutate is not None else "generated"
    print(
        f"{what}: {state['projects']} projects, {state['release_files']} release files "
        f"(+{state['metadata_files']} .metadata), {state['release_bytes'] / 1e6:.1f} MB, "
        f"last serial {state['last_serial']}, {time.time() - t0:.1f}s"
    )


if __name__ == "__main__":
    main()
