"""Hand-made tars for tests: exactly the bytes a hostile or unusual producer would write.

The format tests and the hostile corpus both build their tars here."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterable
from typing import Any

from layerlab.image import Image, LayerRef
from layerlab.tar.read import read_changeset


def member(name: str, kind: str = "f", data: bytes | str = b"", **fields: Any) -> tuple:
    """kind: f file, d dir, l symlink (data = target), h hardlink (data = target),
    c/b device, p fifo. Extra fields are set on the TarInfo (mode, uid, pax_headers...)."""
    return (name, kind, data.encode() if isinstance(data, str) else data, fields)


def tar_bytes(members: Iterable[tuple], *, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """Tar bytes, no checks. Each member is (name, kind, data or link target, TarInfo fields)
    as `member` makes it; data and fields may be left off (kinds as in `member`)."""
    buffer = io.BytesIO()
    types = {
        "f": tarfile.REGTYPE,
        "d": tarfile.DIRTYPE,
        "l": tarfile.SYMTYPE,
        "h": tarfile.LNKTYPE,
        "c": tarfile.CHRTYPE,
        "b": tarfile.BLKTYPE,
        "p": tarfile.FIFOTYPE,
    }
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for name, kind, *rest in members:
            data = rest[0] if rest else b""
            data = data.encode() if isinstance(data, str) else data
            fields = rest[1] if len(rest) > 1 else {}
            info = tarfile.TarInfo(name)
            info.type = types[kind]
            info.mode = 0o755 if kind == "d" else 0o644
            stream = None
            if kind in ("l", "h"):
                info.linkname = data.decode()
            elif kind == "f":
                info.size, stream = len(data), io.BytesIO(data)
            for key, value in fields.items():
                setattr(info, key, value)
            tar.addfile(info, stream)
    return buffer.getvalue()


def image_of(*tars: bytes, tags: Iterable[str] = ()) -> Image:
    """An image whose layer blobs are exactly these tar bytes."""
    refs, diff_ids = [], []
    for data in tars:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        layer = read_changeset(io.BytesIO(data))
        refs.append(
            LayerRef(layer, digest, digest, len(data), open_blob=lambda data=data: io.BytesIO(data))
        )
        diff_ids.append(digest)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"layer {i}"} for i in range(len(tars))],
    }
    return Image(config, refs, repo_tags=list(tags))
