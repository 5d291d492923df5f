"""pathwalk: the kernel's path walk, which decides most errnos (checked against overlayfs
in tests/reference/test_overlayfs.py; these run anywhere)."""

import errno

import pytest

from layerlab.entries import Dir, File, Symlink
from layerlab.pathwalk import walk

TREE = {
    "/": Dir(),
    "/d": Dir(),
    "/d/x": File.of("x"),
    "/f": File.of("f"),
    "/l": Symlink(target="d"),
    "/abs": Symlink(target="/d/x"),
    "/up": Symlink(target="../../d"),
    "/loop": Symlink(target="loop"),
    "/dangling": Symlink(target="nowhere"),
}


def lookup(path):
    return TREE.get(path)


@pytest.mark.parametrize(
    ("path", "follow_last", "expected"),
    [
        ("/l/x", False, "/d/x"),  # a symlink in the middle is always followed
        ("/l", False, "/l"),  # ...the last one only when asked
        ("/l", True, "/d"),
        ("/abs", True, "/d/x"),  # absolute targets restart at the container's root
        ("/up/x", True, "/d/x"),  # `..` stops at the root
        ("/dangling", True, "/nowhere"),  # open(O_CREAT) creates a dangling link's target
        ("/d/new", True, "/d/new"),  # the last component may be missing
    ],
)
def test_walk_resolves_like_the_kernel(path, follow_last, expected):
    assert walk(path, lookup, follow_last=follow_last) == expected


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/f/x", errno.ENOTDIR),
        ("/f/x/y", errno.ENOTDIR),
        ("/missing/x", errno.ENOENT),
        ("/dangling/x", errno.ENOENT),
        ("/loop/x", errno.ELOOP),
    ],
)
def test_walk_fails_with_the_kernels_errno(path, code):
    with pytest.raises(OSError) as info:
        walk(path, lookup, follow_last=False)
    assert info.value.errno == code
