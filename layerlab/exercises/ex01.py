"""Exercises of notebook 01, namespaces: reading /proc/<pid>/ns, a hostname that stays
inside, and where a user namespace's uids land on the host.

The checkers judge outcomes on recorded data and on a small model of the kernel's rules
(`hostname_change`), never by running a learner's guess on this machine: a wrong answer
to "which namespaces keep a hostname change inside?" would, run as root, rename the host.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..i18n import N_, _, ngettext
from .framework import Exercise, NotSolved, Wrong, attempt, register
from .judging import as_int, as_items

__all__ = ["KINDS", "HOST_LINKS", "CONTAINERS", "HostnameChange", "hostname_change"]

#: The seven namespace kinds, as /proc/<pid>/ns names them.
KINDS = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")


# -- 01.1 which namespaces two processes share --------------------------------------------
def _links(numbers: Mapping[str, int]) -> dict[str, str]:
    """/proc/<pid>/ns as `readlink` shows it: kind:[inode of the namespace]."""
    return {kind: f"{kind}:[{numbers[kind]}]" for kind in KINDS}


#: A host's initial namespaces. Most of these numbers are fixed by the kernel
#: (PROC_UTS_INIT_INO and friends); ordinary namespaces get numbers from the same counter.
HOST_NUMBERS = {
    "cgroup": 4026531835,
    "ipc": 4026531839,
    "mnt": 4026531841,
    "net": 4026531840,
    "pid": 4026531836,
    "user": 4026531837,
    "uts": 4026531838,
}
HOST_LINKS = _links(HOST_NUMBERS)


def _container(new: dict[str, int]) -> dict[str, str]:
    return _links({**HOST_NUMBERS, **new})


#: Example links of containers on such a host, by how each was started.
CONTAINERS: dict[str, dict[str, str]] = {
    N_("docker run --network host (cgroup v1 host)"): _container(
        {"ipc": 4026532290, "mnt": 4026532288, "pid": 4026532291, "uts": 4026532289}
    ),
    N_("docker run (cgroup v2 host)"): _container(
        {
            "cgroup": 4026532354,
            "ipc": 4026532352,
            "mnt": 4026532350,
            "net": 4026532355,
            "pid": 4026532353,
            "uts": 4026532351,
        }
    ),
    N_("podman run as an ordinary user"): _container(
        {
            "cgroup": 4026532410,
            "ipc": 4026532408,
            "mnt": 4026532406,
            "net": 4026532411,
            "pid": 4026532409,
            "user": 4026532404,
            "uts": 4026532407,
        }
    ),
}


def _shared(a: Mapping[str, str], b: Mapping[str, str]) -> set[str]:
    return {kind for kind in KINDS if a[kind] == b[kind]}


def link_cases(count: int = 24, seed: str = "01.1") -> list[tuple[dict[str, str], dict[str, str]]]:
    """The three example containers, then generated pairs (seeded, so reproducible): hosts
    that are themselves in non-initial namespaces, and containers sharing any subset."""
    rng = random.Random(seed)
    cases = [(dict(HOST_LINKS), dict(links)) for links in CONTAINERS.values()]
    for _n in range(count):
        host = {kind: rng.randrange(4026531835, 4026539999) for kind in KINDS}
        shared = {kind for kind in KINDS if rng.random() < 0.5}
        other = {k: (n if k in shared else n + rng.randrange(1, 900)) for k, n in host.items()}
        cases.append((_links(host), _links(other)))
    return cases


def _initial_numbers(host: Mapping[str, str], container: Mapping[str, str]) -> set[str]:
    return {k for k in KINDS if container[k] == HOST_LINKS[k]}


def check_shared(solve: object) -> str:
    cases = link_cases()
    answers = []
    for host, links in cases:
        answer = attempt(solve, dict(host), dict(links), returns=True)
        if answer is None or answer is Ellipsis:
            raise NotSolved()
        items = as_items(answer, what=_("a set of kinds"), example="{'net', 'user'}")
        answers.append({str(kind) for kind in items})
    hows = list(CONTAINERS)
    first_truth = _shared(*cases[0])
    for index, ((host, links), got) in enumerate(zip(cases, answers, strict=True)):
        truth = _shared(host, links)
        if got == truth:
            continue
        how = _(hows[index]) if index < len(hows) else _("a generated pair")
        if got and got <= {host[k] for k in KINDS} | {links[k] for k in KINDS}:
            raise Wrong(
                "links-not-kinds",
                _("you returned the links themselves; return the kinds, like {'net', 'user'}."),
            )
        if got == set(KINDS) - truth:
            raise Wrong(
                "differs",
                _(
                    "for `{how}` you returned the kinds that *differ*. A namespace is shared "
                    "when both links are equal: same kind, same number."
                ).format(how=how),
            )
        if got == set(KINDS):
            raise Wrong(
                "kind-only",
                _(
                    "you found every kind shared. The text before the colon is only the kind; "
                    "the number in brackets names the namespace itself (its inode), and that "
                    "is what two processes share or not."
                ),
            )
        if all(a == _initial_numbers(*c) for a, c in zip(answers, cases, strict=True)):
            raise Wrong(
                "initial-numbers",
                _(
                    "you compared the container's numbers with the initial namespaces' numbers "
                    "(4026531835 and friends). Those are only this host's; compare the two "
                    "links you are given: the host may itself live in a container."
                ),
            )
        if index > 0 and answers[0] == first_truth and len({frozenset(a) for a in answers}) == 1:
            raise Wrong(
                "one-case",
                _(
                    "right for the first container, wrong for `{how}`: compute the answer "
                    "from the two link tables you are given."
                ).format(how=how),
            )
        raise Wrong(
            "mismatch",
            _("for `{how}` ({links}) the shared kinds are {truth}, not {got}.").format(
                how=how,
                links=", ".join(f"{k}: {host[k]} vs {links[k]}" for k in KINDS),
                truth=sorted(truth),
                got=sorted(got),
            ),
        )
    return _(
        "--network host keeps the host's net (and Docker creates no user namespace, nor a "
        "cgroup namespace on a v1 host); a default docker run shares only the user "
        "namespace; rootless podman shares nothing: it needs a user namespace of its own."
    )


SHARED_STUB = '''
def solve(host, container):
    """host and container map each kind to its link, like {"uts": "uts:[4026531838]", ...}.
    Return the set of kinds whose namespace the two processes share."""
    ...  # YOUR CODE HERE

check("01.1", solve)
'''

SHARED_SOLUTION = '''
def solve(host, container):
    """host and container map each kind to its link, like {"uts": "uts:[4026531838]", ...}.
    Return the set of kinds whose namespace the two processes share."""
    return {kind for kind in host if host[kind] == container[kind]}

check("01.1", solve)
'''


# -- 01.2 a hostname that stays inside, as an ordinary user --------------------------------
@dataclass(frozen=True)
class HostnameChange:
    """What `unshare <namespaces> hostname web` does, by the kernel's rules."""

    namespaces: frozenset[str]
    as_root: bool
    error: str  # "" when unshare and sethostname both worked
    hostname_inside: str
    host_renamed: bool

    def __str__(self) -> str:
        who = "root" if self.as_root else _("an ordinary user")
        kinds = ", ".join(sorted(self.namespaces)) or _("no new namespaces")
        if self.error:
            outcome = _(self.error)
        elif self.host_renamed:
            outcome = _("hostname inside is {name!r}; host renamed: yes")
        else:
            outcome = _("hostname inside is {name!r}; host renamed: no")
        return _("{who}, {kinds}: {outcome}").format(
            who=who, kinds=kinds, outcome=outcome.format(name=self.hostname_inside)
        )


def hostname_change(namespaces: set[str], as_root: bool) -> HostnameChange:
    """The rules, from unshare(2) and sethostname(2):

    - creating a UTS (or any non-user) namespace needs CAP_SYS_ADMIN; root has it, an
      ordinary user gets it only inside a new user namespace, created first;
    - sethostname needs CAP_SYS_ADMIN in the user namespace that *owns* the UTS namespace;
    - without a new UTS namespace there is one hostname: the host's.
    """
    kinds = frozenset(namespaces)
    own_user = "user" in kinds
    if kinds - {"user"} and not (as_root or own_user):
        return HostnameChange(kinds, as_root, N_("unshare fails: EPERM (needs root)"), "", False)
    if "uts" in kinds:
        return HostnameChange(kinds, as_root, "", "web", False)
    if own_user or not as_root:
        why = N_("sethostname fails: EPERM (the host's UTS namespace is not yours)")
        return HostnameChange(kinds, as_root, why, "", False)
    return HostnameChange(kinds, as_root, "", "web", True)


def check_hostname(answer: object) -> str:
    if answer is Ellipsis or answer is None:
        raise NotSolved()
    items = as_items(answer, what=_("a set of namespace kinds"), example="{'pid', 'net'}")
    chosen = {str(kind) for kind in items}
    unknown = sorted(chosen - set(KINDS))
    if unknown:
        raise Wrong(
            "unknown-kind",
            _("{kind!r} is not a namespace kind; use the names of /proc/<pid>/ns: {kinds}").format(
                kind=unknown[0], kinds=", ".join(KINDS)
            ),
        )
    if "uts" not in chosen and "user" in chosen:
        raise Wrong(
            "user-without-uts",
            _(
                "the user namespace makes you root, but only over namespaces it owns. The "
                "hostname still belongs to the host's UTS namespace, so sethostname fails with "
                "EPERM (and run as real root, it would rename the host)."
            ),
        )
    if "uts" not in chosen:
        raise Wrong(
            "no-uts",
            _(
                "the hostname lives in the UTS namespace; without a new one there is only the "
                "host's hostname to change (as root, you would rename the host)."
            ),
        )
    if hostname_change(chosen, as_root=False).error:
        raise Wrong(
            "needs-user",
            _(
                "as an ordinary user, unshare(CLONE_NEWUTS) is refused (EPERM): creating a "
                "namespace needs CAP_SYS_ADMIN. Which namespace gives you that, without root?"
            ),
        )
    extra = sorted(chosen - {"user", "uts"})
    if extra:
        raise Wrong(
            "more-than-needed",
            ngettext(
                "that works, but {extra} is not needed: each namespace isolates one kind of "
                "name. Give the smallest set.",
                "that works, but {extra} are not needed: each namespace isolates one kind of "
                "name. Give the smallest set.",
                len(extra),
            ).format(extra=", ".join(extra)),
        )
    return _(
        "unshare --user --map-root-user --uts: the user namespace comes first and owns the "
        "new UTS namespace, so root inside may rename it, and the host never notices. This "
        "is how rootless containers get their own hostname."
    )


HOSTNAME_STUB = """
needed = ...  # YOUR CODE HERE: a set of kinds, e.g. {"pid", "net"}

check("01.2", needed)
"""

HOSTNAME_SOLUTION = """
needed = {"user", "uts"}   # the user namespace gives the rights, the UTS namespace the name

check("01.2", needed)
"""


# -- 01.3 where a user namespace's uids land on the host -----------------------------------
def _kernel_format(*lines: tuple[int, int, int]) -> str:
    """uid_map as the kernel prints it: three right-aligned columns of width 10."""
    return "".join(f"{a:>10} {b:>10} {c:>10}\n" for a, b, c in lines)


_ROOTLESS = _kernel_format((0, 1000, 1), (1, 100000, 65536))

#: (uid_map, uid inside) -> uid on the host, or None when the uid is not mapped.
UID_CASES: tuple[tuple[str, int, int | None], ...] = (
    ("0 1000 1", 0, 1000),
    ("0 1000 1", 33, None),
    ("0 1000 1\n1 100000 65536", 0, 1000),
    ("0 1000 1\n1 100000 65536", 1, 100000),
    ("0 1000 1\n1 100000 65536", 33, 100032),
    ("0 1000 1\n1 100000 65536", 65536, 165535),
    ("0 1000 1\n1 100000 65536", 65537, None),
    ("0 0 4294967295", 33, 33),
    (_ROOTLESS, 33, 100032),  # what `cat /proc/self/uid_map` really shows
    (_kernel_format((1000, 5000, 10)), 5, None),  # below the map's range
    (_kernel_format((1000, 5000, 10), (0, 7000, 1)), 0, 7000),  # lines in any order
    ("", 0, None),  # an empty map: nothing is mapped (a fresh user namespace)
)


def uid_cases(count: int = 40, seed: str = "01.3") -> list[tuple[str, int, int | None]]:
    """The hand-picked cases, then generated ones (seeded): maps of up to five
    non-overlapping lines, in any order, and uids in, below, between and above them."""
    rng = random.Random(seed)
    cases = list(UID_CASES)
    for _n in range(count):
        lines, inside = [], rng.randrange(0, 50)
        for _n in range(rng.randint(1, 5)):
            size = rng.randint(1, 70000)
            lines.append((inside, rng.randrange(1, 1 << 31), size))
            inside += size + rng.randrange(0, 100)
        rng.shuffle(lines)
        text = (
            _kernel_format(*lines)
            if rng.random() < 0.5
            else "\n".join(" ".join(map(str, line)) for line in lines)
        )
        a, _, n = rng.choice(lines)
        uid = rng.choice([a, a + n - 1, a + n, max(a - 1, 0), rng.randrange(0, inside + 10)])
        cases.append((text, uid, _reference(text, uid)))
    return cases


def _reference(uid_map: str, uid: int) -> int | None:
    for line in uid_map.splitlines():
        if not line.strip():
            continue
        inside, outside, count = (int(n) for n in line.split())
        if inside <= uid < inside + count:
            return outside + uid - inside
    return None


def _identity(uid_map: str, uid: int) -> int | None:
    return uid


def _reversed(uid_map: str, uid: int) -> int | None:
    for line in uid_map.splitlines():
        outside, inside, count = (int(n) for n in line.split())
        if inside <= uid < inside + count:
            return outside + uid - inside
    return None


def _inclusive(uid_map: str, uid: int) -> int | None:
    for line in uid_map.splitlines():
        inside, outside, count = (int(n) for n in line.split())
        if inside <= uid <= inside + count:
            return outside + uid - inside
    return None


def _first_line(uid_map: str, uid: int) -> int | None:
    return _reference(uid_map.splitlines()[0], uid) if uid_map else None


def _no_offset(uid_map: str, uid: int) -> int | None:
    for line in uid_map.splitlines():
        inside, outside, count = (int(n) for n in line.split())
        if inside <= uid < inside + count:
            return outside
    return None


def _no_lower_bound(uid_map: str, uid: int) -> int | None:
    for line in uid_map.splitlines():
        inside, outside, count = (int(n) for n in line.split())
        if uid < inside + count:
            return outside + uid - inside
    return None


def _overflow(uid_map: str, uid: int) -> int | None:
    found = _reference(uid_map, uid)
    return 65534 if found is None else found


MISTAKES: tuple[tuple[Callable[[str, int], int | None], str, str], ...] = (
    (
        _identity,
        "identity",
        N_(
            "you returned the uid unchanged. Root inside a user namespace is not root on the "
            "host: each uid_map line maps a range of uids inside to a range outside."
        ),
    ),
    (
        _reversed,
        "reversed",
        N_(
            "the columns are the other way round: each line reads 'first uid INSIDE, first "
            "uid OUTSIDE, how many'."
        ),
    ),
    (
        _inclusive,
        "off-by-one",
        N_(
            "a line 'inside outside count' maps inside .. inside+count-1: count uids, so "
            "inside+count itself is not mapped."
        ),
    ),
    (
        _overflow,
        "overflow-uid",
        N_(
            "65534 is how the kernel *shows* an unmapped uid (nobody, the overflow uid), but "
            "no host uid owns it: return None for an unmapped uid."
        ),
    ),
    (
        _no_offset,
        "no-offset",
        N_(
            "you returned the first host uid of the range for every uid in it. The range maps "
            "one to one: uid inside+k lands on outside+k."
        ),
    ),
    (
        _no_lower_bound,
        "below-range",
        N_(
            "a uid *below* a line's first inside uid is not in that range either: check "
            "inside <= uid as well as uid < inside + count."
        ),
    ),
    (
        _first_line,
        "first-line-only",
        N_(
            "a uid_map may have several lines (rootless runtimes add a range from "
            "/etc/subuid): look at every line."
        ),
    ),
)


def _run_model(model: Callable[[str, int], int | None], cases: list) -> list[object]:
    out: list[object] = []
    for uid_map, uid, _expected in cases:
        try:
            out.append(model(uid_map, uid))
        except (ValueError, IndexError):
            out.append("error")
    return out


def check_uid_map(solve: object) -> str:
    cases = uid_cases()

    def explain(exc: BaseException) -> Wrong | None:
        if isinstance(exc, ValueError) and "''" in str(exc):
            return Wrong(
                "padded-columns",
                _(
                    "int('') failed: the kernel pads uid_map's columns with several spaces "
                    "('         0       1000          1'), so split(' ') yields empty strings. "
                    "split() without an argument splits on any run of whitespace."
                ),
            )
        return None

    got = []
    for uid_map, uid, _expected in cases:
        answer = attempt(solve, uid_map, uid, explain=explain)
        if answer is Ellipsis:
            raise NotSolved()
        got.append(None if answer is None else as_int(answer, what=_("the host uid")))
    if all(g is None for g in got):
        raise NotSolved()
    truth = [expected for _map, _uid, expected in cases]
    if got == truth:
        return _(
            "uid 0 inside is your own uid outside, a /etc/subuid range covers the rest, "
            "and anything else is unmapped: a rootless container's root owns nothing of "
            "the host but your own files."
        )
    for model, reason, hint in MISTAKES:
        if got == _run_model(model, cases):
            raise Wrong(reason, _(hint))
    index = next(i for i, (g, t) in enumerate(zip(got, truth, strict=True)) if g != t)
    uid_map, uid, expected = cases[index]
    raise Wrong(
        "mismatch",
        _(
            "with uid_map {uid_map!r}, uid {uid} inside is {expected} on the host; you "
            "returned {got!r}."
        ).format(uid_map=uid_map, uid=uid, expected=expected, got=got[index]),
    )


UID_STUB = '''
def solve(uid_map, uid):
    """uid_map is the text of /proc/<pid>/uid_map, one 'inside outside count' per line.
    Return the host uid that `uid` inside maps to, or None if it is not mapped."""
    ...  # YOUR CODE HERE

check("01.3", solve)
'''

UID_SOLUTION = '''
def solve(uid_map, uid):
    """uid_map is the text of /proc/<pid>/uid_map, one 'inside outside count' per line.
    Return the host uid that `uid` inside maps to, or None if it is not mapped."""
    for line in uid_map.splitlines():
        if not line.strip():
            continue                              # no line, no mapping
        inside, outside, count = (int(n) for n in line.split())
        if inside <= uid < inside + count:
            return outside + (uid - inside)
    return None

check("01.3", solve)
'''

register(
    Exercise("01.1", N_("which namespaces are shared"), SHARED_STUB, SHARED_SOLUTION, check_shared),
    Exercise(
        "01.2", N_("a hostname that stays inside"), HOSTNAME_STUB, HOSTNAME_SOLUTION, check_hostname
    ),
    Exercise("01.3", N_("where uid 0 lands on the host"), UID_STUB, UID_SOLUTION, check_uid_map),
)
