"""What the course says a real Docker engine and containerd do, as data a test can check.

A sentence in a notebook about what Docker does is only as good as the last time someone
looked. So the facts the course prints about an engine live here, as values, and
tests/reference/test_engine_facts.py (Docker) and test_containerd.py hold each one against
the real engine that `make test` starts: when an engine disagrees, CI fails, not the reader.

The facts were first read off Docker 20.10 (Debian 12's docker.io, overlay2, cgroup v1)
and containerd 1.6, and from the source files named beside each one; docs/semantics.md
lists where the references disagree with each other.
"""

from __future__ import annotations

__all__ = [
    "OVERLAY2_PASSES",
    "OVERLAY2_ROOTLESS_PASSES",
    "overlay2_shown_options",
    "docker_swap_limits",
    "LAYERDB_FILES",
    "LAYERDB_MOUNT_FILES",
    "overlay2_layer_files",
    "COMMIT_WRITES",
    "DOCKER_DEFAULT_CAPABILITIES",
    "DOCKER_SECCOMP_FILTER",
    "DOCKER_NO_NEW_PRIVS",
    "CONTAINERD_OVERLAYFS_ROOT",
    "CONTAINERD_IMAGE_ID",
    "DOCKER_IMAGE_ID",
]

# -- overlay2's mount options (moby daemon/graphdriver/overlay2/overlay.go, Get) ----------

#: What overlay2 passes to mount(2) for a container: `index=off` when the kernel knows the
#: option (/sys/module/overlay/parameters/index exists), then the three dirs. Nothing about
#: redirect_dir or metacopy: those stay at the kernel's defaults (its module parameters).
OVERLAY2_PASSES: tuple[str, ...] = ("index=off", "lowerdir", "upperdir", "workdir")
#: A rootless dockerd adds `userxattr` (overlayfs in a user namespace needs it).
OVERLAY2_ROOTLESS_PASSES: tuple[str, ...] = (
    "index=off",
    "userxattr",
    "lowerdir",
    "upperdir",
    "workdir",
)


def overlay2_shown_options(index_default_on: bool) -> tuple[str, ...]:
    """The option names /proc/<pid>/mountinfo shows for an overlay2 container (as root).

    The kernel lists `index=` only when it differs from the module's default, so on a
    kernel whose `index` parameter is N (Debian's), the `index=off` Docker passed is
    invisible and a container shows just the three dirs.
    """
    shown = [name for name in OVERLAY2_PASSES if "=" not in name]
    return ("index", *shown) if index_default_on else tuple(shown)


# -- memory and swap (moby daemon/daemon_unix.go, adaptContainerSettings) ----------------


def docker_swap_limits(memory: int, memory_swap: int | None = None) -> dict[str, int]:
    """The cgroup files `docker run --memory M [--memory-swap S]` ends up with, in bytes.

    Without `--memory-swap`, Docker sets MemorySwap to twice the memory: the container may
    use as much swap again. cgroup v1 counts memory plus swap in `memory.memsw.limit_in_bytes`;
    v2 limits swap alone in `memory.swap.max` (runc writes memsw - memory there).
    """
    total = 2 * memory if memory_swap is None else memory_swap
    return {
        "memory.limit_in_bytes": memory,
        "memory.memsw.limit_in_bytes": total,
        "memory.max": memory,
        "memory.swap.max": total - memory,
    }


# -- the layer store: layerdb and overlay2 dirs (moby layer/filestore.go, overlay.go) ----

#: The files of image/overlay2/layerdb/sha256/<chain-id>/: which overlay2 dir holds the
#: layer (cache-id), its DiffID (diff), its size in bytes (size), and the tar headers
#: that let Docker rebuild the exact tar (tar-split.json.gz). Every layer but the first
#: also has `parent`: the chain ID below it.
LAYERDB_FILES: tuple[str, ...] = ("cache-id", "diff", "size", "tar-split.json.gz")
#: image/overlay2/layerdb/mounts/<container-id>/: the container's rw dir (mount-id), its
#: init dir (init-id, the mount ID plus `-init`), and the image's top chain ID (parent).
LAYERDB_MOUNT_FILES: tuple[str, ...] = ("init-id", "mount-id", "parent")


def overlay2_layer_files(*, has_parent: bool, has_child: bool, mounted: bool) -> tuple[str, ...]:
    """The names in overlay2/<cache-id>/ for one layer.

    Every layer has `diff/` and `link`; one with a parent also `lower` and `work/`; a layer
    something was built on is marked `committed` (it is then mounted read-only); `merged/`
    exists while the layer is mounted (a running container's rw layer).
    """
    names = ["diff", "link"]
    if has_parent:
        names += ["lower", "work"]
    if has_child:
        names.append("committed")
    if mounted:
        names.append("merged")
    return tuple(sorted(names))


# -- docker commit (moby daemon/commit.go and image/image.go, NewChildImage) -------------

#: The top-level fields of the image config that `docker commit` (20.10) writes anew; every
#: other field is the parent's. `created` is the commit's time, `config` the container's
#: own (its Cmd, Env, WorkingDir, ...), `container` and `container_config` name the
#: container it came from, `author` and `comment` are `-a` and `-m` (absent without them,
#: whatever the parent had), and `history`/`rootfs` gain one entry each.
COMMIT_WRITES: tuple[str, ...] = (
    "author",
    "comment",
    "config",
    "container",
    "container_config",
    "created",
    "docker_version",
    "history",
    "rootfs",
)

# -- what a container may do (moby oci/caps/defaults.go, profiles/seccomp/default.json) --

#: The capabilities a `docker run` container keeps (all others are dropped).
DOCKER_DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SYS_CHROOT",
    "CAP_MKNOD",
    "CAP_AUDIT_WRITE",
    "CAP_SETFCAP",
)
#: Docker runs every container under its default seccomp filter, and leaves no_new_privs
#: off unless asked (`--security-opt no-new-privileges`).
DOCKER_SECCOMP_FILTER = True
DOCKER_NO_NEW_PRIVS = False

# -- two image stores ----------------------------------------------------------------------

#: The classic store (overlay2 graph driver): an image ID is the digest of its config.
DOCKER_IMAGE_ID = "config digest"
#: containerd's store (and Docker's containerd image store): an image is a name pointing
#: at a manifest or index, and that target's digest is the ID `docker images` shows.
CONTAINERD_IMAGE_ID = "manifest or index digest"
#: Where containerd's overlayfs snapshotter keeps its metadata.db and snapshots/<n>/fs.
CONTAINERD_OVERLAYFS_ROOT = "io.containerd.snapshotter.v1.overlayfs"
