"""The copy-on-write model against the running kernel's overlayfs (docs/semantics.md 9-15).

Each test builds lower layers, writes them to disk in overlay form (char 0/0 whiteouts,
opaque xattrs), mounts a real overlayfs over them the way Docker's overlay2 does (index=off,
no redirect_dir), performs operations through the mount with plain system calls, and
performs the same operations on `layerlab.copy_on_write.Overlay`. Then it compares:

* every operation's result: the model must fail with the kernel's errno, or succeed;
* the merged view (types, contents, modes, owners, link targets, hardlink groups);
* the upper dir, read back from disk, against the model's upper layer (whiteouts,
  opaque dirs, copied-up files and directories).

Root runs in this process; rootless runs as uid 65534 inside `unshare -Urm` with
`-o userxattr` (so the opaque marker is `user.overlay.opaque`).
"""

from __future__ import annotations

import errno
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from needs import need_tool
from overlay_kernel import KernelOps, Op, Outcome, Snapshot, run_on_kernel, run_on_model_outcome
from overlay_strategies import moves, op_lists, stacks

from layerlab.entries import Content, Dir, File, Hardlink, Meta, OpaqueDir, Symlink, Whiteout
from layerlab.layer import Layer

pytestmark = pytest.mark.reference


def _errname(code: int | None) -> str:
    return "ok" if code is None else errno.errorcode.get(code, str(code))


def _diff(what: str, kernel: Snapshot, model: Snapshot) -> list[str]:
    out = []
    for path in sorted(set(kernel.entries) | set(model.entries)):
        k, m = kernel.entries.get(path), model.entries.get(path)
        if k != m:
            out.append(f"{what} {path}: kernel {k}, model {m}")
    if kernel.links != model.links:
        out.append(
            f"{what} hardlink groups: kernel {sorted(map(sorted, kernel.links))}, "
            f"model {sorted(map(sorted, model.links))}"
        )
    if kernel.xattrs != model.xattrs:
        out.append(f"{what} xattrs: kernel {kernel.xattrs}, model {model.xattrs}")
    return out


def assert_model_matches(
    kernel: Outcome, lowers: list[Layer], ops: list[Op], *, rootless: bool
) -> Outcome:
    """Every op's errno, the merged view and the upper layer must equal the kernel's."""
    model, _ = run_on_model_outcome(lowers, ops, rootless=rootless)
    problems = [
        f"op {i} {op}: kernel {_errname(k)}, model {_errname(m)}"
        for i, (op, k, m) in enumerate(zip(ops, kernel.errors, model.errors, strict=True))
        if k != m
    ]
    problems += _diff("merged", kernel.merged, model.merged)
    problems += _diff("upper", kernel.upper, model.upper)
    if problems:
        stack = "\n".join(f"  lower {i}: {dict(layer.items())}" for i, layer in enumerate(lowers))
        raise AssertionError(
            "model and kernel disagree\n"
            + stack
            + "\n  ops: "
            + "; ".join(map(str, ops))
            + "\n"
            + "\n".join(problems)
        )
    return model


# -- random stacks and operations ------------------------------------------------------------
def _random(max_examples: int) -> settings:
    """Deterministic for CI: the same examples on every run, no example database."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@_random(60)
@given(lowers=stacks(owners=(0, 1000)), ops=op_lists(owners=(0, 1000)))
def test_random_operations_match_the_kernel_as_root(root_overlay, lowers, ops):
    """overlayfs (root, trusted.* xattrs): random ops on random stacks, kernel == model."""
    assert_model_matches(root_overlay.run(lowers, ops), lowers, ops, rootless=False)


@_random(30)
@given(lowers=stacks(), ops=op_lists())
def test_random_operations_match_the_kernel_rootless(rootless_overlay, lowers, ops):
    """overlayfs (rootless, userxattr): random ops on random stacks, kernel == model."""
    assert_model_matches(rootless_overlay.run(lowers, ops), lowers, ops, rootless=True)


# -- the rules, one by one (each on root and rootless mounts) ---------------------------------
def check(kernel, lowers: list[Layer], ops: list[Op]) -> Outcome:
    """Run on the kernel, insist the model agrees, and hand back the kernel's answer."""
    outcome = kernel.run(lowers, ops)
    assert_model_matches(outcome, lowers, ops, rootless=kernel.rootless)
    return outcome


BASE = Layer(
    {
        "/d": Dir(Meta(mode=0o750)),
        "/d/x": File(Meta(mode=0o640), Content(b"lower x")),
        "/d/sub": Dir(),
        "/d/sub/y": File.of("y"),
        "/f": File(Meta(mode=0o600), Content(b"lower f")),
        "/h1": File.of("shared"),
        "/h2": Hardlink(target="/h1"),
    }
)


def test_the_top_lower_wins_and_dirs_merge_with_the_upper_metadata(kernel):
    """overlayfs: lowerdir=top:...: a non-dir hides a dir below, dir over dir merges names
    and takes the upper dir's mode (rule 9)."""
    top = Layer(
        {
            "/d": Dir(Meta(mode=0o700)),
            "/d/z": File.of("z"),
            "/d/sub": File.of("now a file"),
            "/f": Dir(),
            "/f/inner": File.of("i"),
        }
    )
    out = check(kernel, [BASE, top], [])
    assert out.merged.entries["/d"] == ("dir", 0o700, 0, 0)
    assert {"/d/x", "/d/z"} <= set(out.merged.entries)
    assert out.merged.entries["/d/sub"][0] == "file" and "/d/sub/y" not in out.merged.entries
    assert out.merged.entries["/f"][0] == "dir" and "/f/inner" in out.merged.entries


def test_lower_whiteouts_and_opaque_dirs_hide_what_is_below(kernel):
    """overlayfs: a char 0/0 hides a name, an opaque dir hides every lower child but not
    its own (rules 10, 11)."""
    top = Layer({"/f": Whiteout(), "/d": OpaqueDir(Meta(mode=0o755)), "/d/new": File.of("n")})
    out = check(kernel, [BASE, top], [])
    assert "/f" not in out.merged.entries
    assert sorted(p for p in out.merged.entries if p.startswith("/d/")) == ["/d/new"]


def test_unlinking_a_lower_file_leaves_a_whiteout_in_the_upper_dir(kernel):
    """overlayfs: rm through the mount leaves a character device 0/0 (rule 10)."""
    out = check(kernel, [BASE], [Op("unlink", ("/d/x",))])
    assert out.upper.entries["/d/x"] == ("whiteout",)
    assert out.upper.entries["/d"] == ("dir", 0o750, 0, 0)


def test_deleting_an_upper_only_file_leaves_no_whiteout(kernel):
    out = check(kernel, [BASE], [Op("write", ("/d/new", b"n")), Op("unlink", ("/d/new",))])
    assert "/d/new" not in out.upper.entries


def test_copy_up_on_open_for_write_even_with_no_write(kernel):
    """overlayfs: opening for writing copies the whole file and its parents up (rule 12)."""
    out = check(kernel, [BASE], [Op("append", ("/d/sub/y", b""))])
    assert out.upper.entries["/d/sub/y"] == ("file", 0o644, 0, 0, b"y")
    assert out.upper.entries["/d"] == ("dir", 0o750, 0, 0)
    assert "/d/x" not in out.upper.entries


def test_chmod_copies_up_the_whole_file(kernel):
    """overlayfs: a metadata change copies the data up too (no metacopy) (rule 12)."""
    out = check(kernel, [BASE], [Op("chmod", ("/f", 0o755))])
    assert out.upper.entries["/f"] == ("file", 0o755, 0, 0, b"lower f")


def test_chmod_of_a_lower_dir_copies_up_the_dir_alone(kernel):
    out = check(kernel, [BASE], [Op("chmod", ("/d", 0o700))])
    assert out.upper.entries == {"/d": ("dir", 0o700, 0, 0)}
    assert "/d/x" in out.merged.entries


def test_copy_up_keeps_the_owner(root_overlay):
    """overlayfs: copy-up keeps uid/gid of the lower file (root only: needs unmapped ids)."""
    lower = Layer({"/o": File(Meta(mode=0o640, uid=1000, gid=1000), Content(b"o"))})
    out = check(root_overlay, [lower], [Op("append", ("/o", b"+"))])
    assert out.upper.entries["/o"] == ("file", 0o640, 1000, 1000, b"o+")


def test_hardlinking_a_lower_file_copies_it_up(kernel):
    """overlayfs: link(2) of a lower file copies it up first (rule 12)."""
    out = check(kernel, [BASE], [Op("link", ("/f", "/g"))])
    assert out.upper.entries["/f"][0] == out.upper.entries["/g"][0] == "file"
    assert frozenset({"/f", "/g"}) in out.upper.links


def test_a_hardlinked_symlink_outlives_its_first_name(kernel):
    """link(2) does not follow a symlink: both names share the link's inode, and unlinking
    the first one leaves the other a symlink."""
    ops = [Op("symlink", ("x", "/s")), Op("link", ("/s", "/t")), Op("unlink", ("/s",))]
    out = check(kernel, [BASE], ops)
    assert out.merged.entries["/t"] == ("symlink", "x", 0, 0)


def test_symlink_creation_does_not_copy_up_the_target(kernel):
    """overlayfs: creating a symlink copies up its parent only, never its target (rule 12)."""
    out = check(kernel, [BASE], [Op("symlink", ("x", "/d/lnk"))])
    assert out.upper.entries["/d/lnk"] == ("symlink", "x", 0, 0)
    assert "/d/x" not in out.upper.entries


def test_mkdir_over_a_whiteout_makes_an_opaque_dir(kernel):
    """overlayfs: rm -r d; mkdir d leaves d opaque (rule 13, Docker's commit shows it)."""
    out = check(
        kernel,
        [BASE],
        [Op("remove", ("/d",)), Op("mkdir", ("/d", 0o755)), Op("write", ("/d/z", b"z"))],
    )
    assert out.upper.entries["/d"] == ("opaque dir", 0o755, 0, 0)
    assert sorted(p for p in out.merged.entries if p.startswith("/d/")) == ["/d/z"]


def test_mkdir_over_a_whited_out_file_makes_an_opaque_dir(kernel):
    out = check(kernel, [BASE], [Op("unlink", ("/f",)), Op("mkdir", ("/f", 0o755))])
    assert out.upper.entries["/f"] == ("opaque dir", 0o755, 0, 0)


def test_renaming_a_lower_dir_fails_with_exdev(kernel):
    """overlayfs without redirect_dir: rename(2) of a lower directory is EXDEV (rule 14)."""
    out = check(kernel, [BASE], [Op("rename", ("/d/sub", "/d/moved"))])
    assert out.errors == [errno.EXDEV]
    assert "/d/moved" not in out.upper.entries


def test_renaming_a_merged_dir_fails_with_exdev(kernel):
    out = check(kernel, [BASE], [Op("write", ("/d/new", b"n")), Op("rename", ("/d", "/e"))])
    assert out.errors == [None, errno.EXDEV]


def test_mv_of_a_lower_dir_copies_then_leaves_a_whiteout(kernel):
    """mv falls back to copy + delete: a whiteout for the old tree, a new tree (rule 14)."""
    out = check(kernel, [BASE], [Op("move", ("/d", "/e"))])
    assert out.upper.entries["/d"] == ("whiteout",)
    assert out.upper.entries["/e/x"] == ("file", 0o640, 0, 0, b"lower x")


def test_mv_of_a_lower_dir_onto_an_existing_dir_moves_it_inside(kernel):
    """busybox `mv /d /e` with /e a directory moves /d to /e/d (EXDEV: copy, then delete)."""
    out = check(kernel, [BASE], [Op("mkdir", ("/e", 0o755)), Op("move", ("/d", "/e"))])
    assert out.errors == [None, None]
    assert "/e/d/x" in out.merged.entries and "/d" not in out.merged.entries


def test_mv_of_a_lower_dir_onto_an_existing_dir_inside_fails(kernel):
    """busybox mv: EXDEV, then unlink(2) of the existing target /e/d, a directory: the move
    fails (EISDIR) and nothing is copied."""
    ops = [Op("mkdir", ("/e", 0o755)), Op("mkdir", ("/e/d", 0o755)), Op("move", ("/d", "/e"))]
    out = check(kernel, [BASE], ops)
    assert out.errors == [None, None, errno.EISDIR]
    assert out.upper.entries == {"/e": ("dir", 0o755, 0, 0), "/e/d": ("dir", 0o755, 0, 0)}


def test_mv_to_a_missing_directory_fails_on_the_source_first(kernel):
    """busybox mv only stat(2)s NEW (ENOENT is fine) before rename(2), which walks the
    source's path first: a file in the middle of it gives ENOTDIR."""
    out = check(kernel, [BASE], [Op("move", ("/f/x", "/nope/y"))])
    assert out.errors == [errno.ENOTDIR]


def test_mv_of_a_lower_dir_through_a_symlinked_parent(kernel):
    """mv /d /l/new with /l -> e: the EXDEV copy lands in /e/new."""
    lower = Layer({"/l": Symlink(target="e"), "/e": Dir()})
    out = check(kernel, [BASE, lower], [Op("move", ("/d", "/l/new"))])
    assert out.errors == [None]
    assert "/e/new/x" in out.merged.entries


def test_mv_of_a_lower_dir_keeps_hardlinks_inside_the_tree(kernel):
    """busybox mv copies like cp -a: names sharing an inode still share one in the copy."""
    lower = Layer({"/t": Dir(), "/t/a": File.of("a"), "/t/b": Hardlink(target="/t/a")})
    out = check(kernel, [lower], [Op("move", ("/t", "/u"))])
    assert frozenset({"/u/a", "/u/b"}) in out.upper.links


def test_renaming_a_lower_file_whites_out_the_old_name(kernel):
    out = check(kernel, [BASE], [Op("rename", ("/f", "/d/f2"))])
    assert out.upper.entries["/f"] == ("whiteout",)
    assert out.upper.entries["/d/f2"] == ("file", 0o600, 0, 0, b"lower f")


def test_an_upper_dir_moved_into_a_merged_dir_becomes_opaque(kernel):
    """overlayfs marks a pure upper dir opaque when it lands in a merged parent."""
    out = check(kernel, [BASE], [Op("mkdir", ("/new", 0o755)), Op("rename", ("/new", "/d/n2"))])
    assert out.upper.entries["/d/n2"] == ("opaque dir", 0o755, 0, 0)


def test_copy_up_breaks_hardlinks(kernel):
    """overlayfs with index=off: writing one name of a lower hardlink pair splits it (rule 15)."""
    out = check(kernel, [BASE], [Op("append", ("/h1", b"+"))])
    assert out.merged.entries["/h1"][-1] == b"shared+"
    assert out.merged.entries["/h2"][-1] == b"shared"
    assert not out.merged.links


def test_a_layer_without_parent_entries_gets_real_directories(kernel):
    """Per-layer storage (overlay2): a layer holding /d/new but no /d entry is extracted
    into its own dir, so the kernel shows that layer's own /d (0755) over the lower /d."""
    top = Layer({"/d/new": File.of("n")})
    check(kernel, [BASE, top], [])


PATH_WALK = Layer(
    {
        "/l": Symlink(target="d"),
        "/loop": Symlink(target="loop"),
        "/dangling": Symlink(target="nothing"),
        "/e": Dir(),
        "/e/z": File.of("z"),
    }
)


@pytest.mark.parametrize(
    ("op", "kernel_says"),
    [
        # Every component of a path is looked up the way the kernel's path walk does:
        (Op("write", ("/f/x/y", b"")), errno.ENOTDIR),  # a file in the middle of a path
        (Op("unlink", ("/l/x",)), None),  # a symlink to a dir in the middle is followed
        (Op("mkdir", ("/l/new", 0o755)), None),
        (Op("rmdir", ("/loop/x",)), errno.ELOOP),  # a symlink loop in the middle
        (Op("mkdir", ("/dangling/x", 0o755)), errno.ENOENT),  # a dangling symlink in the middle
        # The VFS checks names before the filesystem is asked:
        (Op("link", ("/d", "/f")), errno.EEXIST),  # before "hardlink to a directory" (EPERM)
        (Op("link", ("/d", "/nope/x")), errno.ENOENT),
        # ... and before overlayfs refuses to move a lower directory (EXDEV):
        (Op("rename", ("/d/sub", "/nope/x")), errno.ENOENT),
        (Op("rename", ("/d/sub", "/f")), errno.ENOTDIR),
        (Op("rename", ("/d/sub", "/d")), errno.ENOTEMPTY),  # the target is an ancestor
        (Op("rename", ("/d", "/d/q/r")), errno.ENOENT),  # the target's parent is missing
        (Op("rename", ("/d/sub", "/e")), errno.EXDEV),
    ],
    ids=lambda v: str(v) if isinstance(v, Op) else _errname(v),
)
def test_paths_resolve_and_fail_like_the_kernels_path_walk(kernel, op, kernel_says):
    """Linux path walk: symlinks in the middle are followed, a non-directory in the middle
    is ENOTDIR, a loop is ELOOP; name checks come before overlayfs' own EXDEV."""
    out = check(kernel, [BASE, PATH_WALK], [op])
    assert out.errors == [kernel_says]


def test_root_keeps_setuid_when_writing(root_overlay):
    """Root in the initial user namespace has CAP_FSETID: a write keeps S_ISUID (Docker)."""
    lower = Layer({"/s": File(Meta(mode=0o4755), Content(b"s"))})
    out = check(root_overlay, [lower], [Op("write", ("/s", b"new"))])
    assert out.merged.entries["/s"][1] == 0o4755


@pytest.mark.parametrize(
    ("op", "mode"),
    [
        (Op("write", ("/s", b"new")), 0o755),
        (Op("write", ("/s", b"")), 0o755),  # O_TRUNC alone is enough
        (Op("append", ("/s", b"+")), 0o755),
        (Op("append", ("/s", b"")), 0o4755),  # opened for writing, nothing written: kept
    ],
    ids=lambda v: str(v) if isinstance(v, Op) else f"{v:o}",
)
def test_an_unprivileged_write_clears_setuid(rootless_overlay, op, mode):
    """Linux: a writer without CAP_FSETID in the initial user namespace clears S_ISUID when
    it truncates or writes bytes; the root of a user namespace (rootless containers) is
    such a writer."""
    lower = Layer({"/s": File(Meta(mode=0o4755), Content(b"s"))})
    out = check(rootless_overlay, [lower], [op])
    assert out.merged.entries["/s"][1] == mode


class BusyboxMv(KernelOps):
    """The real `busybox mv`, run in the mount with relative paths; any failure is EPERM
    here (the tool prints its reason but returns only 1), compared as "it failed"."""

    def move(self, old: str, new: str) -> None:
        argv = [need_tool("busybox"), "mv", old.lstrip("/"), new.lstrip("/")]
        if subprocess.run(argv, cwd=self.root, capture_output=True).returncode != 0:
            raise OSError(errno.EPERM, "busybox mv failed", old)


def _failed(outcome: Outcome) -> Outcome:
    return Outcome([e is not None for e in outcome.errors], outcome.merged, outcome.upper)


@_random(25)
@given(lowers=stacks(owners=(0, 1000)), ops=op_lists(3, owners=(0, 1000)), last=moves())
def test_the_harness_mv_is_busybox_mv(root_overlay, lowers, ops, last):
    """The harness spells out mv step by step; the real busybox mv must leave the same trees
    (so the model is compared with the tool Docker's containers run)."""
    ops = [*ops, last]
    ours = run_on_kernel(lowers, ops, rootless=False)
    real = run_on_kernel(lowers, ops, rootless=False, runner=BusyboxMv)
    assert _failed(ours) == _failed(real)
