"""A pocket shell over the model: what a command would do in the simulated world.

Where no kernel may run a container (Binder, macOS, LAYERLAB_LIVE=0), `layerlab.run` and
the overlay lab still have to show what the command prints and what it changes in the rw
layer. This module understands a small part of busybox `sh`: commands separated by `;`,
`&&` and `||`, `>`/`>>` redirection, `$$` (always 1: the command is PID 1), and the tools
below, each acting through `Container` methods, so copy-up, whiteouts and opaque dirs come
from the same model the course teaches. Messages follow busybox's wording. Anything else
answers "not found in the simulation" with exit status 127, as a shell would.
"""

from __future__ import annotations

import errno
import os
import shlex
from collections.abc import Callable, Sequence

from ..container import Container
from ..entries import Dir, normpath
from ..union import Node
from .kernel.child import CommandResult

__all__ = ["simulate"]


class _Shell:
    def __init__(self, container: Container, hostname: str) -> None:
        self.c = container
        self.hostname = hostname
        self.out: list[str] = []
        self.err: list[str] = []
        self.tools: dict[str, Callable[[list[str]], int]] = {
            "echo": self.echo, "cat": self.cat, "hostname": self.host, "id": self.id,
            "true": lambda a: 0, "false": lambda a: 1, "ls": self.ls, "rm": self.rm,
            "mkdir": self.mkdir, "rmdir": self.rmdir, "touch": self.touch, "ln": self.ln,
            "mv": self.mv, "chmod": self.chmod,
        }  # fmt: skip

    def fail(self, text: str) -> int:
        self.err.append(text + "\n")
        return 1

    def echo(self, args: list[str]) -> int:
        newline = args[:1] != ["-n"]
        self.out.append(" ".join(args[0 if newline else 1 :]) + ("\n" if newline else ""))
        return 0

    def cat(self, args: list[str]) -> int:
        status = 0
        for path in args:
            try:
                self.out.append(self.c.read(path).decode(errors="replace"))
            except (OSError, KeyError, ValueError):
                status = self.fail(f"cat: can't open '{path}': No such file or directory")
        return status

    def host(self, args: list[str]) -> int:
        self.out.append(self.hostname + "\n")
        return 0

    def id(self, args: list[str]) -> int:
        self.out.append("uid=0(root) gid=0(root)\n")
        return 0

    def ls(self, args: list[str]) -> int:
        paths = [a for a in args if not a.startswith("-")] or ["/"]
        for path in paths:
            node = self.node(path)
            if node is None:
                return self.fail(f"ls: {path}: No such file or directory")
            names = self.c.listdir(node.path) if isinstance(node.entry, Dir) else [path]
            if "-a" in args:
                names = [".", "..", *names]
            else:  # like ls, hide dot files unless asked
                names = [name for name in names if not name.startswith(".")]
            self.out.extend(f"{name}\n" for name in names)
        return 0

    def rm(self, args: list[str]) -> int:
        flags = "".join(a[1:] for a in args if a.startswith("-"))
        status = 0
        for path in (a for a in args if not a.startswith("-")):
            try:
                (self.c.remove if "r" in flags else self.c.unlink)(self.abs(path))
            except OSError as exc:
                if not ("f" in flags and exc.errno == errno.ENOENT):
                    status = self.fail(f"rm: can't remove '{path}': {os.strerror(exc.errno or 0)}")
        return status

    def mkdir(self, args: list[str]) -> int:
        parents = "-p" in args
        status = 0
        for path in (a for a in args if not a.startswith("-")):
            todo = [*_ancestors(self.abs(path)), self.abs(path)] if parents else [self.abs(path)]
            for step in todo:
                if parents and self.c.exists(step):
                    continue
                try:
                    self.c.mkdir(step)
                except OSError as exc:
                    why = os.strerror(exc.errno or 0)
                    status = self.fail(f"mkdir: can't create directory '{path}': {why}")
        return status

    def rmdir(self, args: list[str]) -> int:
        return self._each(args, self.c.rmdir, "rmdir: '{path}': {why}")

    def touch(self, args: list[str]) -> int:
        """A new empty file, or a metadata change (a copy-up, like utimes(2))."""
        for path in args:
            if self.node(path) is None:
                self.c.write(self.abs(path), b"", append=True)
            else:
                self.c.chmod(self.abs(path), self.node(path).entry.meta.mode)
        return 0

    def ln(self, args: list[str]) -> int:
        plain = [a for a in args if not a.startswith("-")]
        if len(plain) != 2:
            return self.fail("ln: give a target and a link name")
        target, path = plain
        try:
            if "-s" in args:
                self.c.symlink(target, self.abs(path))
            else:
                self.c.link(self.abs(target), self.abs(path))
        except OSError as exc:
            return self.fail(f"ln: {path}: {os.strerror(exc.errno or 0)}")
        return 0

    def mv(self, args: list[str]) -> int:
        if len(args) != 2:
            return self.fail("mv: give a source and a destination")
        try:
            self.c.move(self.abs(args[0]), self.abs(args[1]))
        except OSError as exc:
            return self.fail(f"mv: can't rename '{args[0]}': {os.strerror(exc.errno or 0)}")
        return 0

    def chmod(self, args: list[str]) -> int:
        mode, *paths = args
        return self._each(paths, lambda p: self.c.chmod(p, int(mode, 8)), "chmod: {path}: {why}")

    def _each(self, paths: list[str], action: Callable[[str], object], message: str) -> int:
        status = 0
        for path in paths:
            try:
                action(self.abs(path))
            except OSError as exc:
                status = self.fail(message.format(path=path, why=os.strerror(exc.errno or 0)))
        return status

    def node(self, path: str) -> Node | None:
        """What `path` names in the container, symlinks followed; None if nothing."""
        view = self.c.view()
        try:
            return view.lookup(view.resolve(self.abs(path)))
        except OSError:
            return None

    @staticmethod
    def abs(path: str) -> str:
        return normpath(path if path.startswith("/") else "/" + path)

    def command(self, words: list[str]) -> int:
        """One simple command, with its redirection."""
        target, append = None, False
        if len(words) >= 2 and words[-2] in (">", ">>"):
            target, append, words = words[-1], words[-2] == ">>", words[:-2]
        if not words:
            return 0
        if "|" in words or "<" in words:
            self.err.append("sh: pipes and input redirection are not part of the simulation\n")
            return 127
        tool = self.tools.get(os.path.basename(words[0]))
        if tool is None:
            self.err.append(f"sh: {words[0]}: not found in the simulation\n")
            return 127
        if target is None:
            return tool(words[1:])
        mark = len(self.out)
        status = tool(words[1:])
        text, self.out[mark:] = "".join(self.out[mark:]), []
        self.c.write(self.abs(target), text, append=append)
        return status


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts)) if parts[0]]


def _split(script: str) -> list[tuple[str, list[str]]]:
    """[(operator before it, words)]: ';', '&&' or '||' joins each command to the previous."""
    lexer = shlex.shlex(script.replace("\n", ";"), posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    commands: list[tuple[str, list[str]]] = [(";", [])]
    for token in lexer:
        if token in (";", "&&", "||"):
            commands.append((token, []))
        else:
            commands[-1][1].append(token.replace("$$", "1"))
    return [(op, words) for op, words in commands if words]


def simulate(container: Container, argv: Sequence[str], hostname: str) -> CommandResult:
    """Run `argv` (often `sh -c SCRIPT`) against the model container; see the module doc."""
    argv = list(argv)
    if len(argv) >= 3 and os.path.basename(argv[0]) == "sh" and argv[1] == "-c":
        script = argv[2]
    else:
        script = shlex.join(argv)
    shell = _Shell(container, hostname)
    status = 0
    for operator, words in _split(script):
        if (operator == "&&" and status != 0) or (operator == "||" and status == 0):
            continue
        status = shell.command(words)
    return CommandResult(status, "".join(shell.out), "".join(shell.err))
