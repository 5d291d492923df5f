"""Build the course as a static web site: a book to read and JupyterLite to run it.

    python web/build.py [OUT]          (what `make site` runs; OUT defaults to build/site)

OUT/ is the executed course as a Sphinx book (myst-nb renders the committed notebooks;
nothing is re-executed), and OUT/lite/ is JupyterLite whose Pyodide kernel runs layerlab's
simulated world. Every byte either serves comes from this checkout or from a package
registry, fetched at build time, so the site needs no CDN and no server code:

    npm   pyodide                  the Python runtime (pyodide.mjs, .wasm, stdlib zip, lock)
    npm   @hpcc-js/wasm-graphviz   Graphviz as WebAssembly, for pictures without `dot`
    PyPI  web/pyodide-requirements.txt, as wheels for Pyodide's Python (3.14)
    PyPI  jupyterlite-core, jupyterlite-pyodide-kernel, jupyterlab_widgets (the `site` extra)
    PyPI  sphinx, myst-nb, sphinx-book-theme (the `site` extra)
    here  layerlab's own wheel, and notebooks/*.ipynb

npm's `pyodide` has the runtime but none of the package files its lock names, so the
build writes a new pyodide-lock.json that lists exactly the wheels it serves, with their
own sha256, and tells the kernel to preload them all (no install step at start-up).
Pyodide itself, under Node, compiles the standard library and the wheels to bytecode
(web/precompile.py), so that learners' browsers do not compile them on every start.

Downloads are cached in build/web-cache/ (keyed by the pinned versions), so a rebuild
costs seconds. The site is assembled in OUT.tmp and renamed into place at the end: a
failed build leaves the previous site (or nothing), never half a site.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = REPO / "build" / "web-cache"
PYODIDE_PYTHON = "3.14"  # must match the npm pyodide's lock ("info": {"python": ...})
#: The runtime files taken from npm's pyodide; the rest of the package is docs and types.
PYODIDE_FILES = (
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
)
#: Wheels jupyterlite-pyodide-kernel ships for the kernel itself (they are not on PyPI).
KERNEL_WHEELS = ("pyodide_kernel-", "piplite-", "ipykernel-")
GRAPHVIZ_BUNDLE = "wasm-graphviz.js"  # layerlab/render/browser.py looks for this name
PYODIDE_KERNEL = "@jupyterlite/pyodide-kernel-extension:kernel"
#: Where Pyodide finds the standard library and installs wheels: each .pyc's file name.
STDLIB_AT = f"/lib/python{PYODIDE_PYTHON.replace('.', '')}.zip/"
SITE_PACKAGES_AT = f"/lib/python{PYODIDE_PYTHON}/site-packages/"


class BuildError(Exception):
    """A step failed; the message says which and what to do."""


def run(command: list[str], **kwargs) -> None:
    """Run a build tool, showing the command; a failure names the tool."""
    print("web/build.py:", " ".join(str(part) for part in command), flush=True)
    result = subprocess.run(command, **kwargs)
    if result.returncode != 0:
        raise BuildError(f"{Path(command[0]).name} failed (exit {result.returncode}); see above")


def npm_packages() -> Path:
    """node_modules for web/package-lock.json (npm ci), reused while the lock is unchanged."""
    lock = (HERE / "package-lock.json").read_bytes()
    where = CACHE / "npm" / hashlib.sha256(lock).hexdigest()[:16]
    if not (where / "node_modules" / ".complete").exists():
        npm = shutil.which("npm")
        if npm is None:
            raise BuildError("npm is missing: install Node.js and npm (apt-get install npm)")
        shutil.rmtree(where, ignore_errors=True)
        where.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(HERE / name, where / name)
        run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=where)
        (where / "node_modules" / ".complete").touch()
    return where / "node_modules"


def pyodide_wheels() -> list[Path]:
    """The pinned wheels, for Pyodide's Python; pip skips files it already downloaded."""
    dest = CACHE / "wheels"
    dest.mkdir(parents=True, exist_ok=True)
    pins = HERE / "pyodide-requirements.txt"
    run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--python-version", PYODIDE_PYTHON, "--implementation", "py", "--abi", "none",
         "--platform", "any", "--dest", str(dest), "-r", str(pins)]
    )  # fmt: skip
    wanted = [
        line.split("==")[0].strip()
        for line in pins.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    found = []
    for name in wanted:
        version = _pinned(pins, name)
        matches = [
            w
            for w in dest.glob("*-none-any.whl")  # pure Python: nothing else runs in Pyodide
            if _normal(w.name.split("-")[0]) == _normal(name) and w.name.split("-")[1] == version
        ]
        if not matches:
            raise BuildError(f"pip download gave no wheel for {name}=={version}")
        found.append(matches[0])
    return found


def _pinned(pins: Path, name: str) -> str:
    for line in pins.read_text().splitlines():
        if line.split("==")[0].strip() == name:
            return line.split("==")[1].strip()
    raise BuildError(f"{name} is not pinned in {pins.name}")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def layerlab_wheel(work: Path) -> Path:
    """layerlab as a wheel, built from this checkout (no dependencies: they are pinned)."""
    dest = work / "layerlab-wheel"
    run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "--wheel-dir", str(dest), str(REPO)]
    )  # fmt: skip
    shutil.rmtree(REPO / "build" / "lib", ignore_errors=True)  # setuptools' leftovers
    shutil.rmtree(REPO / "build" / "bdist.linux-x86_64", ignore_errors=True)
    (wheel,) = dest.glob("layerlab-*.whl")
    return wheel


def kernel_wheels() -> list[Path]:
    """pyodide-kernel, piplite and the ipykernel shim, from the installed kernel extension."""
    import jupyterlite_pyodide_kernel  # noqa: F401  # the `site` extra must be installed

    static = Path(sys.prefix) / "share/jupyter/labextensions/@jupyterlite/pyodide-kernel-extension"
    shipped = (static / "static" / "pypi").glob("*.whl")
    wheels = [wheel for wheel in shipped if wheel.name.startswith(KERNEL_WHEELS)]
    if len(wheels) != len(KERNEL_WHEELS):
        raise BuildError(f"the kernel's wheels are missing under {static}; reinstall `site`")
    return wheels


def lock_entry(wheel: Path) -> tuple[str, dict]:
    """A pyodide-lock.json package entry for a wheel we serve, with our own sha256."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        fields = dict(
            line.split(": ", 1)
            for line in archive.read(metadata).decode().splitlines()
            if ": " in line and not line.startswith(" ")
        )
        tops = {n.split("/")[0] for n in archive.namelist() if "/" in n}
        imports = sorted(
            t for t in tops if not t.endswith((".dist-info", ".data")) and t.isidentifier()
        )
        imports += sorted(n[:-3] for n in archive.namelist() if "/" not in n and n.endswith(".py"))
    name = _normal(fields["Name"])
    return name, {
        "name": fields["Name"],
        "version": fields["Version"],
        "file_name": wheel.name,
        "install_dir": "site",
        "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "package_type": "package",
        "imports": imports,
        "depends": [],  # every wheel is preloaded, so no dependency needs resolving
        "unvendored_tests": False,
    }


def precompile(npm_pyodide: Path, work: Path, jobs: list[tuple[Path, Path, str]]) -> None:
    """Copy each (zip, destination, runtime prefix) with its Python compiled to bytecode by
    Pyodide itself (web/precompile.py says why: most of a cold start was the compiler)."""
    node = shutil.which("node")
    if node is None:
        raise BuildError("node is missing: install Node.js (apt-get install nodejs)")
    listing = work / "precompile.json"
    listing.write_text(json.dumps([[str(s), str(d), prefix] for s, d, prefix in jobs]))
    run([node, str(HERE / "precompile.mjs"), str(npm_pyodide), str(listing)])


def pyodide_dir(target: Path, work: Path, node_modules: Path, wheels: list[Path]) -> list[str]:
    """static/pyodide for the lite build: runtime, wheels, a lock of exactly those, and the
    WebAssembly Graphviz, with all Python precompiled. Returns the packages to preload."""
    target.mkdir(parents=True)
    npm_pyodide = node_modules / "pyodide"
    for name in PYODIDE_FILES:
        if name != "python_stdlib.zip":  # precompile() writes that one
            shutil.copy2(npm_pyodide / name, target / name)
    lock = json.loads((npm_pyodide / "pyodide-lock.json").read_text())
    python = lock["info"]["python"]
    if not python.startswith(PYODIDE_PYTHON + "."):
        raise BuildError(
            f"npm's pyodide runs Python {python}, the wheels are for {PYODIDE_PYTHON}: "
            "update PYODIDE_PYTHON in web/build.py"
        )
    precompile(
        npm_pyodide,
        work,
        [(npm_pyodide / "python_stdlib.zip", target / "python_stdlib.zip", STDLIB_AT)]
        + [(wheel, target / wheel.name, SITE_PACKAGES_AT) for wheel in wheels],
    )
    packages = {}
    for wheel in wheels:
        name, entry = lock_entry(target / wheel.name)
        packages[name] = entry
    lock["packages"] = dict(sorted(packages.items()))
    (target / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True))
    graphviz = node_modules / "@hpcc-js" / "wasm-graphviz" / "dist" / "index.js"
    shutil.copy2(graphviz, target / GRAPHVIZ_BUNDLE)
    return sorted(packages)


def lite(out: Path, work: Path, node_modules: Path, notebooks: list[Path]) -> None:
    """JupyterLite (the lab app only) with the course notebooks, into out/lite."""
    lite_dir = work / "lite-src"
    contents = work / "lite-contents"
    contents.mkdir(parents=True)
    for notebook in notebooks:
        shutil.copy2(notebook, contents / notebook.name)
    wheels = [*pyodide_wheels(), layerlab_wheel(work), *kernel_wheels()]
    preload = pyodide_dir(lite_dir / "static" / "pyodide", work, node_modules, wheels)
    config = {
        "jupyter-lite-schema-version": 0,
        "jupyter-config-data": {
            "appName": "layerlab",
            "litePluginSettings": {
                PYODIDE_KERNEL: {
                    "loadPyodideOptions": {"packages": preload},
                    "disablePyPIFallback": True,
                }
            },
        },
    }
    (lite_dir / "jupyter-lite.json").write_text(json.dumps(config, indent=2))
    jupyter = Path(sys.executable).parent / "jupyter"
    run(
        [str(jupyter), "lite", "build", "--lite-dir", str(lite_dir), "--contents", str(contents),
         "--output-dir", str(out / "lite"), "--apps", "lab", "--no-sourcemaps"],
        cwd=work,
    )  # fmt: skip


def book(out: Path, work: Path, notebooks: list[Path]) -> None:
    """The static book: Sphinx with myst-nb over the committed outputs (web/book/conf.py)."""
    source = work / "book-src"
    source.mkdir(parents=True)
    shutil.copy2(HERE / "book" / "index.md", source / "index.md")
    for notebook in notebooks:
        shutil.copy2(notebook, source / notebook.name)
    run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going",
         "-c", str(HERE / "book"), "-d", str(work / "doctrees"), str(source), str(out)]
    )  # fmt: skip


def build(out: Path) -> None:
    notebooks = sorted((REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    if not notebooks:
        raise BuildError("no notebooks/NN-*.ipynb found: run from a layerlab checkout")
    node_modules = npm_packages()
    staging = out.with_name(out.name + ".tmp")
    work = CACHE / "work"
    for scratch in (staging, work):
        shutil.rmtree(scratch, ignore_errors=True)
    work.mkdir(parents=True)
    book(staging, work, notebooks)
    lite(staging, work, node_modules, notebooks)
    (staging / ".nojekyll").touch()  # GitHub Pages: serve _static/ and friends as they are
    shutil.rmtree(out, ignore_errors=True)
    os.replace(staging, out)
    shutil.rmtree(work, ignore_errors=True)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"web/build.py: built {out.relative_to(REPO)} ({size / 1e6:.1f} MB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=str(REPO / "build" / "site"))
    args = parser.parse_args(argv)
    try:
        build(Path(args.out).resolve())
    except BuildError as error:
        print(f"web/build.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
