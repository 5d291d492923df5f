"""Compile the site's Python to bytecode once, at build time, inside Pyodide itself.

Run by web/precompile.mjs (Node), never by the build's own Python: a .pyc is only read by
the interpreter version that wrote it, and the site's is Pyodide's (3.14, WebAssembly).

Without this, every learner's browser compiles the same sources on every start: npm's
`pyodide` ships its standard library as .py sources, and the wheels from PyPI are sources
too. IPython alone is hundreds of modules, so most of a cold start went to the compiler.

Each .py gets an *unchecked-hash* .pyc beside it (PEP 552), which the import system uses
without comparing file times: the times that Pyodide gives unpacked files mean nothing.
The sources stay, so tracebacks still show the code. Where it goes:

- the standard library zip: `name.pyc` next to `name.py` (zipimport looks there);
- a wheel: `__pycache__/name.cpython-314.pyc`, listed in the wheel's RECORD.

ARGS (set by the driver): a list of (source, destination, runtime prefix) triples; the
prefix is where the files are at run time, and becomes each code object's file name.
"""

import base64
import hashlib
import importlib.util
import posixpath
import sys
import warnings
import zipfile
from importlib._bootstrap_external import _code_to_hash_pyc


def bytecode(source: bytes, filename: str) -> bytes | None:
    try:
        with warnings.catch_warnings():  # old escapes in packages' tests: not ours to report
            warnings.simplefilter("ignore")
            code = compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError:  # test data and templates that are not meant to be imported
        return None
    return bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False))


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def precompile(source: str, dest: str, prefix: str) -> int:
    """Copy the zip `source` to `dest` with a .pyc for each .py; returns how many."""
    wheel = source.endswith(".whl")
    added: list[tuple[str, bytes]] = []
    record_name, record = None, b""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if wheel and info.filename.endswith(".dist-info/RECORD"):
                record_name, record = info, data
                continue
            zout.writestr(info, data)
            if not info.filename.endswith(".py"):
                continue
            pyc = bytecode(data, prefix + info.filename)
            if pyc is None:
                continue
            folder, base = posixpath.split(info.filename)
            if wheel:
                tag = sys.implementation.cache_tag
                name = posixpath.join(folder, "__pycache__", f"{base[:-3]}.{tag}.pyc")
            else:
                name = info.filename + "c"
            compiled = zipfile.ZipInfo(name, date_time=info.date_time)
            compiled.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(compiled, pyc)
            added.append((name, pyc))
        if record_name is not None:
            lines = record.decode() + "".join(record_line(n, d) for n, d in added)
            zout.writestr(record_name, lines)
    return len(added)


for source, dest, prefix in ARGS:  # noqa: F821  # set by web/precompile.mjs
    print(f"web/precompile.py: {posixpath.basename(dest)}: {precompile(source, dest, prefix)} .pyc")
