"""The warm-up of notebook 00: one write into a container, judged by what `cat` shows."""

from __future__ import annotations

import posixpath

from ..container import Container
from ..entries import Symlink
from ..i18n import N_, _
from ..samples import ubuntu_image
from .framework import Exercise, NotSolved, Wrong, attempt, register
from .judging import require_image_untouched, require_no_collateral, snapshot, visible_state

__all__ = ["GREETING"]

#: What `cat /etc/motd` must print once the warm-up is solved.
GREETING = b"Hello from layerlab!\n"


def _cat(container: Container, path: str) -> bytes | None:
    """What `cat path` prints in the container, None when there is no such path, or a ✗
    saying why cat would fail (a dangling symlink, a directory)."""
    if not container.exists(path):
        return None
    try:
        return container.read(path)
    except OSError as exc:
        node = container.view().lookup(path)
        if isinstance(node.entry, Symlink):
            raise Wrong(
                "dangling-symlink",
                _(
                    "/etc/motd is a symlink to {target}, which does not exist, so "
                    "`cat /etc/motd` fails (No such file or directory). Ubuntu ships exactly "
                    "such a link (to /run/motd.dynamic); write the greeting where cat will "
                    "find it."
                ).format(target=node.entry.target),
            ) from None
        raise Wrong(
            "unreadable", _("`cat /etc/motd` would fail: {error}").format(error=exc)
        ) from None


def check_greeting(solve: object) -> str:
    container = Container(ubuntu_image(), name="warm-up")
    before = snapshot(container.image_layers)
    state = visible_state(container)
    welcome = container.read("/etc/motd")
    answer = attempt(solve, container)
    require_image_untouched(before, container)
    if isinstance(answer, Container) and answer is not container:
        raise Wrong(
            "other-container",
            _(
                "you changed a container of your own and returned it. Change the container "
                "solve() is given: that is the one the checker runs `cat /etc/motd` in."
            ),
        )
    shown = _cat(container, "/etc/motd")
    if shown == welcome and not len(container.rw):
        raise NotSolved()
    if shown == GREETING:
        node = container.view().lookup("/etc/motd")
        target = {node.entry.target} if isinstance(node.entry, Symlink) else set()
        target = {posixpath.join("/etc", t) for t in target}
        require_no_collateral(state, container, {"/etc/motd", *target})
        return _(
            "cat /etc/motd prints your greeting. The write copied /etc up into the rw layer "
            "and put the new /etc/motd there ({paths}); the "
            "image's own /etc/motd is untouched, only hidden."
        ).format(paths=", ".join(container.rw.paths()))
    if shown == welcome:
        written = ", ".join(p for p in container.rw.paths() if p != "/etc") or _("nothing")
        raise Wrong(
            "path",
            _(
                "/etc/motd still says {welcome!r}; your rw layer holds {written}. "
                "Write to the path '/etc/motd' itself."
            ).format(welcome=welcome, written=written),
        )
    if shown is None:
        raise Wrong(
            "deleted",
            _(
                "/etc/motd is gone: `cat` would fail. Write the new text to it instead of "
                "removing it."
            ),
        )
    if shown == GREETING.rstrip(b"\n"):
        raise Wrong(
            "newline",
            _(
                "almost: a text file's lines end with a newline, as `echo` writes them. "
                "Write 'Hello from layerlab!\\n'."
            ),
        )
    if shown.startswith(welcome) and shown.endswith(GREETING):
        raise Wrong(
            "appended",
            _(
                "you added your line after the old welcome text. Replace the file's "
                "content: container.write, not container.append."
            ),
        )
    if shown.replace(b"\r\n", b"\n") == GREETING:
        raise Wrong(
            "crlf",
            _(
                "the file ends its line with \\r\\n (Windows); `cat` shows a stray carriage "
                "return. End the line with \\n only."
            ),
        )
    if shown.strip() == GREETING.strip():
        raise Wrong(
            "whitespace",
            _(
                "cat prints {shown!r}: extra spaces or blank lines. In a file every byte "
                "counts; write exactly 'Hello from layerlab!\\n'."
            ).format(shown=shown),
        )
    raise Wrong(
        "text",
        _("cat /etc/motd prints {shown!r}; expected {expected!r}.").format(
            shown=shown, expected=GREETING
        ),
    )


GREETING_STUB = '''
def solve(container):
    """Make `cat /etc/motd` in this container print: Hello from layerlab!"""
    ...  # YOUR CODE HERE

check("00.1", solve)
'''

GREETING_SOLUTION = '''
def solve(container):
    """Make `cat /etc/motd` in this container print: Hello from layerlab!"""
    container.write("/etc/motd", "Hello from layerlab!\\n")

check("00.1", solve)
'''

register(
    Exercise(
        "00.1", N_("a greeting in /etc/motd"), GREETING_STUB, GREETING_SOLUTION, check_greeting
    ),
)
