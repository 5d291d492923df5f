"""The fast tar header reader agrees with Python's tarfile, field by field, on every dialect."""

from __future__ import annotations

import io
import tarfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layerlab.tar.blobslice import BlobSlice
from layerlab.tar.headers import read_headers

FIELDS = (
    "name",
    "type",
    "mode",
    "uid",
    "gid",
    "size",
    "mtime",
    "linkname",
    "devmajor",
    "devminor",
    "offset_data",
)
TYPES = [
    tarfile.REGTYPE,
    tarfile.DIRTYPE,
    tarfile.SYMTYPE,
    tarfile.LNKTYPE,
    tarfile.CHRTYPE,
    tarfile.FIFOTYPE,
]


def ours(data: bytes) -> list[tuple]:
    return [
        tuple(getattr(m, f) for f in FIELDS) + (m.pax_headers,)
        for m in read_headers(BlobSlice.over(io.BytesIO(data)))
    ]


def theirs(data: bytes) -> list[tuple]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [tuple(getattr(m, f) for f in FIELDS) + (m.pax_headers,) for m in tar]


members = st.tuples(
    st.text(st.sampled_from("ab/é-x"), min_size=1, max_size=160).filter(
        lambda n: n.strip("/") and "//" not in n
    ),
    st.sampled_from(TYPES),
    st.integers(0, 0o7777),
    st.sampled_from([0, 1000, 2**21, 2**40]),
    st.binary(max_size=700),
    st.sampled_from([0, 1_700_000_000, 2**34]),
    st.text(st.sampled_from("abc/."), max_size=120),
    st.dictionaries(
        st.sampled_from(["SCHILY.xattr.user.a", "SCHILY.xattr.security.b"]),
        st.text(max_size=20),
        max_size=2,
    ),
)


def build(items: list[tuple], fmt: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for name, kind, mode, uid, data, mtime, link, pax in items:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.uid, info.mtime = kind, mode, uid, mtime
            info.linkname = link if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
            if fmt == tarfile.PAX_FORMAT:
                info.pax_headers = pax
            if kind == tarfile.CHRTYPE:
                info.devmajor, info.devminor = 1, 3
            stream = io.BytesIO(data) if kind == tarfile.REGTYPE else None
            info.size = len(data) if stream else 0
            tar.addfile(info, stream)
    return buffer.getvalue()


@settings(max_examples=120, derandomize=True)
@given(st.lists(members, max_size=6), st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]))
def test_every_field_matches_tarfile(items, fmt):
    data = build(items, fmt)
    assert ours(data) == theirs(data)


def test_ustar_prefix_field_joins_long_names():
    data = build(
        [("d" * 90 + "/" + "f" * 90, tarfile.REGTYPE, 0o644, 0, b"x", 0, "", {})],
        tarfile.USTAR_FORMAT,
    )
    assert ours(data) == theirs(data)
    assert ours(data)[0][0] == "d" * 90 + "/" + "f" * 90


def test_a_damaged_checksum_is_refused():
    data = bytearray(build([("f", tarfile.REGTYPE, 0o644, 0, b"x", 0, "", {})], tarfile.PAX_FORMAT))
    data[0] ^= 1
    with pytest.raises(tarfile.ReadError, match="checksum"):
        ours(bytes(data))


def test_a_header_cut_in_the_middle_is_refused():
    one = ("f", tarfile.REGTYPE, 0o644, 0, b"x", 0, "", {})
    data = build([one, one], tarfile.PAX_FORMAT)
    with pytest.raises(tarfile.ReadError, match="inside a header"):
        ours(data[: 1024 + 100])


def test_sparse_members_are_marked_for_refusal():
    data = bytearray(build([("f", tarfile.REGTYPE, 0o644, 0, b"x", 0, "", {})], tarfile.GNU_FORMAT))
    data[156:157] = b"S"
    data[148:156] = b"%06o\0 " % (256 + sum(data[:148]) + sum(data[156:512]))
    [member] = read_headers(BlobSlice.over(io.BytesIO(bytes(data[:1024]))))
    assert member.sparse is not None
