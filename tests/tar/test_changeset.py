"""The OCI layer tar: reading untrusted changesets and writing reproducible ones (OCI layer.md)."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tarbuild import member, tar_bytes

from layerlab.entries import (
    Content,
    Device,
    Dir,
    Fifo,
    File,
    Hardlink,
    Meta,
    OpaqueDir,
    Symlink,
    Whiteout,
)
from layerlab.image import EMPTY_TAR_DIFF_ID
from layerlab.layer import Layer
from layerlab.safety import LayerlabError
from layerlab.tar import empty_diff_id, read_changeset, write_changeset
from layerlab.union import UnionView


def read(*members: tuple) -> Layer:
    return read_changeset(io.BytesIO(tar_bytes(members)))


def written(layer: Layer, **kwargs) -> bytes:
    buffer = io.BytesIO()
    write_changeset(layer, buffer, **kwargs)
    return buffer.getvalue()


def tar_members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return list(tar)


def names(data: bytes) -> list[str]:
    return [m.name for m in tar_members(data)]


EVERYTHING = Layer(
    {
        "/etc": Dir(Meta(mode=0o750, uid=3, gid=4, mtime=99)),
        "/etc/hosts": File.of("127.0.0.1 localhost\n", mode=0o644, mtime=5),
        "/etc/hosts.link": Hardlink(target="/etc/hosts"),
        "/bin/sh": Symlink(Meta(mode=0o777), "busybox"),
        "/dev/null": Device(Meta(mode=0o666), "c", 1, 3),
        "/dev/sda": Device(Meta(mode=0o660, gid=6), "b", 8, 0),
        "/run/pipe": Fifo(Meta(mode=0o600)),
        "/gone": Whiteout(),
        "/var/cache": OpaqueDir(Meta(mode=0o700)),
        "/var/cache/new": File.of(b"\x00\xff", xattrs={"user.note": b"\xff\x00 bin"}),
        "/" + "long/" * 40 + "name": File.of("deep"),
        "/caf\u00e9": File.of("unicode name"),
    }
)


# -- the empty layer and reproducibility ---------------------------------------------------


def test_empty_layer_has_the_well_known_empty_tar_diff_id():
    """docs/semantics.md rule 7: the empty tar (1024 zero bytes) has DiffID sha256:5f70bf18..."""
    assert empty_diff_id() == EMPTY_TAR_DIFF_ID
    assert written(Layer()) == bytes(1024)


def test_same_layer_gives_same_bytes_and_digest():
    """Reproducible layers: sorted entries, no owner names, no record padding."""
    again = Layer(dict(reversed(EVERYTHING.items())))
    assert written(EVERYTHING) == written(again)
    assert write_changeset(EVERYTHING, io.BytesIO()) == write_changeset(again, io.BytesIO())


def test_fixed_mtime_overrides_every_entry_and_changes_nothing_else():
    data = written(EVERYTHING, mtime=1_700_000_000)
    members = tar_members(data)
    assert {m.mtime for m in members} == {1_700_000_000}
    assert {(m.uname, m.gname) for m in members} == {("", "")}


def test_round_trip_keeps_every_entry_type_and_metadata():
    assert read_changeset(io.BytesIO(written(EVERYTHING))) == EVERYTHING


def test_whiteouts_and_opaque_markers_are_spelled_like_moby():
    """docs/semantics.md rule 19: whiteout `.wh.<name>`; opaque = dir entry, then `.wh..wh..opq`."""
    order = names(written(EVERYTHING))
    assert ".wh.gone" in order
    assert order.index("var/cache/.wh..wh..opq") == order.index("var/cache") + 1
    info = {m.name: m for m in tar_members(written(EVERYTHING))}
    assert info[".wh.gone"].isreg() and info[".wh.gone"].size == 0
    assert info["etc/hosts.link"].islnk() and info["etc/hosts.link"].linkname == "etc/hosts"


def test_hardlink_is_written_after_its_same_layer_target():
    """An extractor links to what it already made, so a link sorted first must wait."""
    layer = Layer({"/a": Hardlink(target="/z"), "/z": File.of("z")})
    order = names(written(layer))
    assert order.index("z") < order.index("a")
    view = UnionView([read_changeset(io.BytesIO(written(layer)))])
    assert view.lookup("/a").inode == view.lookup("/z").inode


def test_a_real_file_named_like_a_whiteout_cannot_be_written():
    with pytest.raises(LayerlabError, match="whiteout"):
        write_changeset(Layer({"/.wh.x": File.of("x")}), io.BytesIO())


# -- reading: markers and the same-layer rules --------------------------------------------


def test_whiteout_file_becomes_a_whiteout_entry():
    assert read(member("etc/.wh.motd"))["/etc/motd"] == Whiteout()


def test_opaque_marker_position_in_the_tar_does_not_matter():
    """OCI layer.md: the opaque marker may come before or after the dir's other entries."""
    before = read(member("d/.wh..wh..opq"), member("d", "d"), member("d/x", data="x"))
    after = read(member("d", "d"), member("d/x", data="x"), member("d/.wh..wh..opq"))
    assert before == after
    assert isinstance(after["/d"], OpaqueDir) and after["/d/x"] == File.of("x")


def test_file_and_its_whiteout_in_one_layer_keep_the_file():
    """docs/semantics.md: spec and umoci keep f (a whiteout only deletes from lower layers)."""
    for members in (
        [member("f", data="new"), member(".wh.f")],
        [member(".wh.f"), member("f", data="new")],
    ):
        assert read(*members)["/f"].content.read() == b"new"


def test_dir_and_its_whiteout_in_one_layer_make_an_opaque_dir():
    layer = read(member(".wh.d"), member("d", "d"), member("d/c", data="c"))
    assert isinstance(layer["/d"], OpaqueDir)
    below = Layer({"/d/a": File.of("a")})
    assert UnionView([below, layer]).readdir("/d") == ["c"]


def test_names_are_cleaned_absolute_and_dot_slash():
    """docs/semantics.md bad input: absolute names are made relative and stay inside."""
    layer = read(member("/abs/x", data="1"), member("./rel/y", data="2"), member("./", "d"))
    assert layer.paths() == ["/", "/abs/x", "/rel/y"]


def test_pax_xattrs_are_read_as_bytes():
    layer = read(
        member("f", data="x", pax_headers={"SCHILY.xattr.security.capability": "\x01\x02"})
    )
    assert layer["/f"].meta.xattrs == (("security.capability", b"\x01\x02"),)


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT])
def test_all_three_tar_dialects_are_read(fmt):
    data = tar_bytes([member("d", "d"), member("d/f", data="x"), member("d/l", "l", "f")], fmt=fmt)
    layer = read_changeset(io.BytesIO(data))
    assert layer["/d/l"] == Symlink(Meta(mode=0o644), "f")


# -- laziness --------------------------------------------------------------------------------


def test_contents_of_a_seekable_file_are_read_lazily_and_survive_closing_it(tmp_path):
    """Big layers: file bytes stay in the tar until read (the 150 MB flatten budget)."""
    path = tmp_path / "layer.tar"
    path.write_bytes(tar_bytes([member("big", data=b"B" * 3_000_000), member("s", data="s")]))
    with open(path, "rb") as f:
        layer = read_changeset(f)
    content = layer["/big"].content
    assert content._data is None and content.size == 3_000_000
    assert content.read() == b"B" * 3_000_000  # the caller's file is closed by now
    assert layer["/s"].content.read() == b"s"


def test_a_gzip_stream_is_read_in_one_pass():
    data = gzip.compress(tar_bytes([member("f", data="zipped")]))
    assert read_changeset(io.BytesIO(data))["/f"].content.read() == b"zipped"


def test_a_truncated_layer_is_refused_with_one_line():
    data = tar_bytes([member("f", data=b"x" * 5000)])[:2048]
    with pytest.raises(LayerlabError, match="truncated") as err:
        read_changeset(io.BytesIO(data))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "odd, field",
    [
        (member("f", pax_headers={"uid": str(2**40)}), "owner"),
        (member("f", pax_headers={"gid": "-1"}), "owner"),
        (member("f", pax_headers={"mtime": "nan"}), "mtime"),
        (member("f", pax_headers={"mtime": "1e300"}), "mtime"),
        (member("dev/x", "c", devmajor=5000, devminor=1), "device number"),
    ],
)
def test_values_no_file_system_can_hold_are_refused_in_one_line(odd, field):
    """The fast header reader passes them on; the layer reader refuses them by name."""
    with pytest.raises(LayerlabError, match=f"has {field} .* refusing this layer") as err:
        read(member("ok", data="fine"), odd)
    assert "\n" not in str(err.value)


# -- round trip, generated ------------------------------------------------------------------

paths_st = st.lists(st.sampled_from(["a", "b", "c", "x y", "\u00e9"]), min_size=1, max_size=3).map(
    lambda parts: "/" + "/".join(parts)
)
metas = st.builds(
    lambda mode, uid, mtime: Meta(mode=mode, uid=uid, gid=uid, mtime=mtime),
    st.integers(0, 0o7777),
    st.sampled_from([0, 1000, 70000]),
    st.sampled_from([0, 1, 2**33]),
)
leaves = st.one_of(
    st.builds(lambda m, data: File(m, Content(data)), metas, st.binary(max_size=600)),
    st.builds(
        lambda m, target: Symlink(m, target), metas, st.sampled_from(["a", "/abs", "..", "x" * 150])
    ),
    st.builds(Fifo, metas),
    st.just(Whiteout()),
)


@settings(max_examples=60, derandomize=True)
@given(st.dictionaries(paths_st, leaves, max_size=8))
def test_generated_layers_round_trip(entries):
    # Keep a consistent layer: no leaf may have children in the same layer.
    keep = {p: e for p, e in entries.items() if not any(q.startswith(p + "/") for q in entries)}
    layer = Layer(keep)
    data = written(layer)
    assert read_changeset(io.BytesIO(data)) == layer
    assert written(read_changeset(io.BytesIO(data))) == data
