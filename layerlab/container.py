"""A container's filesystem: the image's read-only layers, the `-init` layer, and one rw layer.

Everything a process in the container does to files goes through `Container`'s methods,
which follow overlayfs (`layerlab.copy_on_write`) and the engine's bind mounts for hosts,
hostname and resolv.conf. The engine is Docker unless told otherwise; `engine="podman"`
has no init layer and starts with placeholders in the rw layer (`layerlab.engines`).
Each operation is recorded as a `Step` with the shell command
that does the same thing and a snapshot of the rw layer afterwards, so a notebook can
replay the history of a container frame by frame, and the tests can run the very same
commands in a real Docker container and compare.
"""

from __future__ import annotations

import errno
import hashlib
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .commit import CommitResult, commit
from .copy_on_write import Effects, Overlay
from .engines import engine_profile
from .entries import normpath
from .image import Image
from .layer import Layer
from .mv import move
from .union import UnionView

__all__ = ["Container", "Step"]


@dataclass(frozen=True)
class Step:
    """One operation in a container's log and what it did to the rw layer."""

    number: int
    op: str
    args: tuple[str, ...]
    command: str
    copied_up: tuple[str, ...]
    notes: tuple[str, ...]
    rw: Layer

    def __str__(self) -> str:
        extra = [f"copy-up {p}" for p in self.copied_up] + list(self.notes)
        tail = f"   [{'; '.join(extra)}]" if extra else ""
        return f"{self.number:>2}. {self.command}{tail}"


def _printf(data: bytes) -> str:
    """A one-line shell command that prints exactly `data` (newlines as \\n escapes)."""
    text = data.decode(errors="replace")
    escaped = text.replace("\\", "\\\\").replace("%", "%%").replace("\n", "\\n")
    if escaped.startswith("-"):  # printf would read it as an option
        return f"printf %s {shlex.quote(text)}"
    return f"printf {shlex.quote(escaped)}"


def _octal(mode: int) -> str:
    return f"{mode:o}"


class Container:
    """Image layers + init layer (Docker only) + rw layer, with copy-on-write file operations."""

    def __init__(
        self,
        image: Image | Sequence[Layer],
        *,
        name: str = "demo",
        hostname: str | None = None,
        resolv_conf: bytes | None = None,
        clock: int = 0,
        engine: str = "docker",
    ) -> None:
        profile = engine_profile(engine)
        self.engine = profile.name
        self.image = image if isinstance(image, Image) else None
        self.image_layers: list[Layer] = (
            image.model_layers() if isinstance(image, Image) else list(image)
        )
        self.name = name
        #: Docker derives names from a random 64-hex id; ours comes from `name`, so it is stable.
        self.id = hashlib.sha256(name.encode()).hexdigest()
        self.hostname = hostname or self.id[:12]
        #: Docker's `<id>-init` layer; None for Podman, which has none.
        self.init = profile.init_layer(self.image_layers, name=f"{self.id[:12]}-init")
        lowers = [*self.image_layers, *([self.init] if self.init is not None else [])]
        self._overlay = Overlay(UnionView(lowers), Layer(name="rw"), clock=clock)
        profile.prepare(self._overlay)
        #: The rw layer before the first step: empty for Docker, placeholders for Podman.
        self.fresh_rw = self.rw.copy()
        #: The container's own files, bind-mounted over the engine's placeholders.
        self.mounts: dict[str, bytes] = profile.mounts(
            hostname=self.hostname, name=name, resolv_conf=resolv_conf
        )
        self.log: list[Step] = []

    @property
    def clock(self) -> int:
        """The mtime this container's writes record (fixed, so commits are reproducible)."""
        return self._overlay.clock

    # -- the three parts ----------------------------------------------------------------
    @property
    def rw(self) -> Layer:
        """The read-write layer: empty for Docker until the container changes something;
        Podman's starts with its mount-point placeholders."""
        return self._overlay.upper

    @property
    def layers(self) -> list[Layer]:
        """All layers bottom first: image layers, then init (if the engine has one), then rw."""
        return [*self.image_layers, *([self.init] if self.init is not None else []), self.rw]

    def view(self) -> UnionView:
        """The union mount (without the bind mounts on top of it)."""
        return UnionView(self.layers)

    # -- reading ------------------------------------------------------------------------
    def read(self, path: str) -> bytes:
        """What `cat path` prints inside the container, bind mounts included."""
        target = self._overlay.resolve(path)
        if target in self.mounts:
            return self.mounts[target]
        return self.view().read(target)

    def listdir(self, path: str = "/") -> list[str]:
        return self._overlay.listdir(path)

    def exists(self, path: str) -> bool:
        return self._overlay.lookup(path) is not None

    # -- writing ------------------------------------------------------------------------
    def _step(
        self, op: str, args: tuple[str, ...], command: str, action: Callable[[], None]
    ) -> Step:
        self._overlay.effects = Effects()
        action()
        effects = self._overlay.effects
        step = Step(
            len(self.log) + 1,
            op,
            args,
            command,
            tuple(effects.copied_up),
            tuple(effects.notes),
            self.rw.copy(),
        )
        self.log.append(step)
        return step

    def _bind_target(self, path: str) -> str | None:
        target = self._overlay.resolve(path)
        return target if target in self.mounts else None

    def _refuse_busy(self, *paths: str) -> None:
        for path in paths:
            if normpath(path) in self.mounts:
                raise OSError(
                    errno.EBUSY,
                    f"{path} is a bind mount ({self.engine.capitalize()}'s own file)",
                    path,
                )

    def write(self, path: str, data: bytes | str, *, append: bool = False) -> Step:
        """`printf DATA > path` (or `>>` with append): creates, or copies up then writes."""
        blob = data.encode() if isinstance(data, str) else bytes(data)
        command = f"{_printf(blob)} {'>>' if append else '>'} {shlex.quote(path)}"
        bind = self._bind_target(path)
        if bind is not None:

            def to_mount() -> None:
                self.mounts[bind] = (self.mounts[bind] if append else b"") + blob
                self._overlay.effects.notes.append(
                    f"{bind} is bind-mounted: the write never reaches the rw layer"
                )

            return self._step("append" if append else "write", (path,), command, to_mount)
        return self._step(
            "append" if append else "write",
            (path,),
            command,
            lambda: self._overlay.write(path, blob, append=append),
        )

    def append(self, path: str, data: bytes | str) -> Step:
        return self.write(path, data, append=True)

    def _metadata(
        self, op: str, args: tuple[str, ...], command: str, action: Callable[[], None]
    ) -> Step:
        bind = self._bind_target(args[0])
        if bind is None:
            return self._step(op, args, command, action)
        owner = self.engine.capitalize()
        note = f"{bind} is bind-mounted: {op} changes {owner}'s file, not the rw layer"
        return self._step(op, args, command, lambda: self._overlay.effects.notes.append(note))

    def chmod(self, path: str, mode: int) -> Step:
        """chmod: even a metadata change copies the whole file up."""
        return self._metadata(
            "chmod",
            (path, _octal(mode)),
            f"chmod {_octal(mode)} {path}",
            lambda: self._overlay.chmod(path, mode),
        )

    def chown(self, path: str, uid: int, gid: int) -> Step:
        return self._metadata(
            "chown",
            (path, str(uid), str(gid)),
            f"chown {uid}:{gid} {path}",
            lambda: self._overlay.chown(path, uid, gid),
        )

    def unlink(self, path: str) -> Step:
        self._refuse_busy(path)
        return self._step("unlink", (path,), f"rm {path}", lambda: self._overlay.unlink(path))

    def rmdir(self, path: str) -> Step:
        return self._step("rmdir", (path,), f"rmdir {path}", lambda: self._overlay.rmdir(path))

    def remove(self, path: str) -> Step:
        """rm -r: every lower name it removes becomes a whiteout, then the dir itself."""
        bound = [m for m in self.mounts if m.startswith(normpath(path).rstrip("/") + "/")]
        self._refuse_busy(normpath(path), *bound)
        return self._step("remove", (path,), f"rm -r {path}", lambda: self._overlay.remove(path))

    def mkdir(self, path: str, mode: int = 0o755) -> Step:
        return self._step(
            "mkdir",
            (path,),
            f"mkdir -m {_octal(mode)} {path}",
            lambda: self._overlay.mkdir(path, mode),
        )

    def symlink(self, target: str, path: str) -> Step:
        return self._step(
            "symlink",
            (target, path),
            f"ln -s {target} {path}",
            lambda: self._overlay.symlink(target, path),
        )

    def link(self, existing: str, path: str) -> Step:
        return self._step(
            "link",
            (existing, path),
            f"ln {existing} {path}",
            lambda: self._overlay.link(existing, path),
        )

    def rename(self, old: str, new: str) -> Step:
        """rename(2): raises EXDEV for a directory an image layer has (see `move`)."""
        self._refuse_busy(old, new)
        return self._step(
            "rename", (old, new), f"rename({old}, {new})", lambda: self._overlay.rename(old, new)
        )

    def move(self, old: str, new: str) -> Step:
        """mv: rename, falling back to copy-and-delete on EXDEV, as coreutils and busybox do."""
        self._refuse_busy(old, new)
        return self._step(
            "move", (old, new), f"mv {old} {new}", lambda: move(self._overlay, old, new)
        )

    # -- commit -------------------------------------------------------------------------
    def changes(self) -> Layer:
        """The rw layer as the engine's commit writes it (see `EngineProfile.changes`)."""
        return engine_profile(self.engine).changes(self.rw, self.image_layers)

    def commit(self, **options: object) -> CommitResult:
        """`docker commit` (or `podman commit`): see `layerlab.commit.commit` for the options."""
        parent = self.image if self.image is not None else self.image_layers
        changes = self.changes() if len(self.rw) else None
        return commit(parent, changes, **options)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return (
            f"<Container {self.name!r}: {len(self.image_layers)} image layers"
            f"{' + init' if self.init is not None else ''} + rw "
            f"({len(self.rw)} entries), {len(self.log)} steps>"
        )

    def __str__(self) -> str:
        lines = [repr(self)]
        lines += [f"  {step}" for step in self.log]
        return "\n".join(lines)
