"""Every hostile input of the corpus gets a one-line error that says what is wrong.

`hostile_corpus.py` builds each case; here each goes through `layerlab` as a user would run
it, in this process (fast) or in a child process where memory, time or signals matter.
"""

from __future__ import annotations

import os
import shutil
import stat

import pytest
from hostile_corpus import CASES

from layerlab.cli import main
from layerlab.tar import blobs

#: The bombs are stopped by the space budget; the sweep keeps it at 256 MiB to stay quick.
BUDGET = 256 << 20


def _leftovers(base) -> list[str]:
    return [n for n in os.listdir(base) if ".layerlab-" in n]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_every_case_gets_a_one_line_answer_never_an_internal_error(
    case, tmp_path, capsys, monkeypatch
):
    if case.root_only and os.geteuid() != 0:
        pytest.skip("needs root")
    if "zstd" in case.name:
        pytest.importorskip("zstandard")
    monkeypatch.setattr(blobs, "_reserve", lambda total: shutil.disk_usage(tmp_path).free - BUDGET)
    if case.klass == "entry-count":  # the real limit is measured in bench/hostile.py
        monkeypatch.setattr("layerlab.formats.oci.MAX_ENTRIES", 1000)
        monkeypatch.setattr("layerlab.formats.docker_archive.MAX_MEMBERS", 1000)
    argv = case.build(tmp_path)
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert "internal error" not in err
    if case.expect:
        assert code == 1, err
        assert err.startswith("layerlab: error: ") and err.count("\n") == 1, err
        assert case.expect in err, err
        assert not (tmp_path / "dest").exists()
    else:
        assert code == 0, err
    assert not _leftovers(tmp_path)
    if case.klass == "render-overwrite":
        assert (
            tmp_path / ("target.dot" if "symlink" in case.name else "mine.dot")
        ).read_text() == "precious"


def test_the_corpus_covers_every_class_of_the_issue():
    assert {c.klass for c in CASES} >= {
        "nested-compression",
        "bomb",
        "deep-tree",
        "fifo-blob",
        "odd-values",
        "render-overwrite",
        "messages",
        "root-flatten",
        "entry-count",
    }


def test_a_flattened_untrusted_image_leaves_dest_0700_and_ours(tmp_path, capsys):
    from hostile_corpus import CASES_BY_NAME

    argv = CASES_BY_NAME["setuid-devices-and-a-hostile-root-entry"].build(tmp_path)
    assert main(argv) == 0
    dest = tmp_path / "dest"
    st = os.stat(dest)
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())
    if os.geteuid() == 0:
        assert stat.S_ISCHR(os.lstat(dest / "mem").st_mode)  # made, but out of reach
        assert stat.S_IMODE(os.lstat(dest / "suid").st_mode) == 0o4777
