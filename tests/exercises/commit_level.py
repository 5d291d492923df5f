"""Answers to notebook 08's last runtime level, 08.8 commit, wrong and right, for test_ex08.py.

Each mutant reads the overlay upper dir through `k` as a learner might, with one line saying
which misconception it holds; the key is the reason of the hint it must get.
"""

from __future__ import annotations

import stat

OPAQUE = ("trusted.overlay.opaque", "user.overlay.opaque")


def _walk(k, upper, visit, name=""):
    """Calls visit(k, full path, layer name, mode, members) for each entry, parents first."""
    members = {}

    def walk(path, prefix):
        for child in k.listdir(path):
            full = f"{path}/{child}"
            mode = k.lstat(full).st_mode
            if visit(k, full, prefix, child, mode, members):
                walk(full, f"{prefix}{child}/")

    walk(upper, name)
    return members


def _whiteout(k, full, prefix, child, mode, members):
    members[f"{prefix}.wh.{child}"] = b""


def _opaque(k, full):
    return any(k.getxattr(full, x) == b"y" for x in k.listxattr(full) if x in OPAQUE)


def _reference(whiteout=_whiteout, opaque=_opaque, dirs=True, read=None):
    def visit(k, full, prefix, child, mode, members):
        if stat.S_ISCHR(mode):
            whiteout(k, full, prefix, child, mode, members)
            return False
        if stat.S_ISDIR(mode):
            if dirs:
                members[prefix + child] = None
            if opaque(k, full):
                members[f"{prefix}{child}/.wh..wh..opq"] = b""
            return True
        members[prefix + child] = (read or (lambda k, p: k.read_bytes(p)))(k, full)
        return False

    return lambda k, upper: _walk(k, upper, visit)


# -- wrong -------------------------------------------------------------------------------------
def whiteout_as_device(k, upper):
    """Copies the upper dir as it is: thinks the char device 0/0 is the deletion a layer carries."""
    return _reference(whiteout=lambda k, f, p, c, m, members: members.update({p + c: b""}))(
        k, upper
    )


def skips_devices(k, upper):
    """Thinks a whiteout is nothing, so leaves it out of the layer."""
    return _reference(whiteout=lambda *args: None)(k, upper)


def whiteout_suffix(k, upper):
    """Spells the whiteout as a suffix, name.wh."""
    return _reference(whiteout=lambda k, f, p, c, m, members: members.update({f"{p}{c}.wh": b""}))(
        k, upper
    )


def ignores_xattrs(k, upper):
    """Thinks a re-made directory is just a directory: never looks at the opaque xattr."""
    return _reference(opaque=lambda k, full: False)(k, upper)


def trusted_only(k, upper):
    """Knows only the root overlay's trusted.overlay.opaque, not the rootless userxattr one."""
    return _reference(opaque=lambda k, f: "trusted.overlay.opaque" in k.listxattr(f))(k, upper)


def every_dir_opaque(k, upper):
    """Thinks a directory in the upper dir replaces the image's, so marks each one opaque."""
    return _reference(opaque=lambda k, full: True)(k, upper)


def files_only(k, upper):
    """Lists only files and markers: thinks a tar needs no directory entries."""
    return _reference(dirs=False)(k, upper)


def text_not_bytes(k, upper):
    """Reads each file as a line of text, stripped, so a trailing newline is lost."""
    return _reference(read=lambda k, p: k.read_bytes(p).decode().strip())(k, upper)


def host_paths(k, upper):
    """Names the members by where they are on this machine, the upper dir's full path."""
    return {f"{upper}/{name}": data for name, data in _reference()(k, upper).items()}


def names_only(k, upper):
    """Returns the list of names a tar -t would print, not what each one holds."""
    return sorted(_reference()(k, upper))


WRONG = {
    "08.8": {
        "whiteout-as-device": whiteout_as_device,
        "whiteout-dropped": skips_devices,
        "whiteout-name": whiteout_suffix,
        "opaque-missed": ignores_xattrs,
        "userxattr-opaque": trusted_only,
        "opaque-everywhere": every_dir_opaque,
        "no-dirs": files_only,
        "content": text_not_bytes,
        "host-paths": host_paths,
        "not-a-mapping": names_only,
    }
}


# -- right -------------------------------------------------------------------------------------
def with_a_stack(k, upper):
    """Iterative; absolute names, a slash after directories; whiteouts as "", a list of pairs."""
    members, todo = [], [upper]
    while todo:
        path = todo.pop()
        for child in k.listdir(path):
            full = path + "/" + child
            name = "/" + full[len(upper) + 1 :]
            info = k.lstat(full)
            if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                parent, _, base = name.rpartition("/")
                members.append((f"{parent}/.wh.{base}", ""))
            elif stat.S_ISDIR(info.st_mode):
                members.append((name + "/", None))
                for x in k.listxattr(full):
                    if x.endswith("overlay.opaque") and k.getxattr(full, x) == b"y":
                        members.append((name + "/.wh..wh..opq", b""))
                todo.append(full)
            else:
                members.append((name, bytearray(k.read_bytes(full))))
    return members  # a list of pairs


RIGHT = {"08.8": [_reference(), with_a_stack]}
