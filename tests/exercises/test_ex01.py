"""Notebook 01's exercises: shared namespaces from /proc/<pid>/ns links, the namespaces a
rootless hostname change needs, and uid_map arithmetic."""

from __future__ import annotations

import pytest
from exercise_contract import contract_tests

from layerlab.exercises.ex01 import (
    CONTAINERS,
    HOST_LINKS,
    KINDS,
    MISTAKES,
    hostname_change,
)


def shared_by_kind_only(host, container):
    """Reads 'uts:[...]' as just the kind."""
    return {k for k in host if host[k].split(":")[0] == container[k].split(":")[0]}


def shared_if_initial(host, container):
    """Believes the host's namespaces always have the boot-time numbers."""
    return {k for k in container if container[k] == HOST_LINKS[k]}


def uid_split_on_one_space(uid_map, uid):
    """Splits the kernel's padded columns on single spaces."""
    for line in uid_map.splitlines():
        inside, outside, count = (int(n) for n in line.split(" "))
        if inside <= uid < inside + count:
            return outside + uid - inside
    return None


WRONG = {
    "01.1": {
        # returns what differs instead of what is shared
        "differs": lambda host, container: {k for k in host if host[k] != container[k]},
        "kind-only": shared_by_kind_only,
        # copies the first example's answer
        "one-case": lambda host, container: {"cgroup", "net", "user"},
        # returns the links, not the kinds
        "links-not-kinds": lambda h, c: {h[k] for k in h if h[k] == c[k]},
        "initial-numbers": shared_if_initial,
        # counts instead of naming
        "not-a-collection": lambda h, c: sum(h[k] == c[k] for k in h),
    },
    "01.2": {
        "no-uts": {"pid", "net"},  # thinks the hostname is per PID namespace
        "user-without-uts": {"user"},  # thinks root in a user ns may rename anything
        "needs-user": {"uts"},  # forgets an ordinary user cannot unshare
        "more-than-needed": {"user", "uts", "net"},  # thinks the hostname is network state
        "unknown-kind": {"user", "hostname"},  # names the thing, not the namespace
        "not-a-collection": "user,uts",  # one string for two kinds
    },
    "01.3": {
        **{reason: model for model, reason, _ in MISTAKES},
        "padded-columns": uid_split_on_one_space,
    },
}


def shared_by_number(host, container):
    return {k for k, link in host.items() if link.split("[")[1] == container[k].split("[")[1]}


def uid_by_arithmetic(uid_map, uid):
    for line in filter(str.strip, uid_map.split("\n")):
        first, host_first, count = map(int, line.split())
        if 0 <= uid - first < count:
            return host_first + uid - first
    return None


RIGHT = {
    "01.1": [
        shared_by_number,
        lambda host, container: [k for k in KINDS if host[k] == container[k]],
        lambda host, container: (
            set(host.items()) & set(container.items())
            and {k for k, _ in set(host.items()) & set(container.items())}
        ),
    ],
    "01.2": [["uts", "user"], ("user", "uts"), frozenset({"uts", "user"})],
    "01.3": [
        uid_by_arithmetic,
        lambda m, u: next(
            (
                o + u - i
                for i, o, n in (map(int, ln.split()) for ln in m.splitlines() if ln.strip())
                if i <= u < i + n
            ),
            None,
        ),
    ],
}


(
    test_every_exercise_has_mutants_and_right_answers_under_test,
    test_a_differently_written_right_answer_is_accepted,
    test_the_stub_is_not_solved_yet,
    test_a_wrong_answer_gets_the_hint_for_its_misconception,
    test_the_reference_solution_is_accepted,
) = contract_tests("01", WRONG, RIGHT)


def test_the_example_containers_share_what_their_docker_options_say():
    def shared(links):
        return {k for k in KINDS if links[k] == HOST_LINKS[k]}

    assert [shared(links) for links in CONTAINERS.values()] == [
        {"cgroup", "net", "user"},  # --network host, and no cgroup namespace on v1
        {"user"},  # Docker makes no user namespace
        set(),  # rootless: a user namespace of its own
    ]


@pytest.mark.parametrize(
    "kinds, as_root, renamed, error",
    [
        (set(), True, True, ""),  # root without a UTS namespace renames the host
        ({"uts"}, True, False, ""),
        ({"uts"}, False, False, "unshare fails"),  # CAP_SYS_ADMIN needed
        ({"user"}, False, False, "sethostname fails"),  # the host's UTS ns is not owned
        ({"user"}, True, False, "sethostname fails"),  # not even when real root made it
        ({"user", "uts"}, False, False, ""),
        ({"pid"}, False, False, "unshare fails"),
    ],
)
def test_the_hostname_model_follows_unshare_and_sethostname(kinds, as_root, renamed, error):
    change = hostname_change(kinds, as_root)
    assert change.host_renamed is renamed
    assert change.error.startswith(error) if error else change.error == ""
    assert change.hostname_inside == ("" if error else "web")
