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
    return {k for k in host if host[k].split(":")[0] == container[k].split(":")[0]}


WRONG = {
    "01.1": {
        "differs": lambda host, container: {k for k in host if host[k] != container[k]},
        "kind-only": shared_by_kind_only,
        "one-case": lambda host, container: {"cgroup", "net", "user"},
        "not-a-set": lambda host, container: "net",
    },
    "01.2": {
        "no-uts": {"pid", "net"},
        "user-without-uts": {"user"},
        "needs-user": {"uts"},
        "more-than-needed": {"user", "uts", "net"},
        "unknown-kind": {"user", "hostname"},
    },
    "01.3": {reason: model for model, reason, _ in MISTAKES},
}


(
    test_every_exercise_has_wrong_answers_under_test,
    test_the_stub_is_not_solved_yet,
    test_a_wrong_answer_gets_the_hint_for_its_misconception,
    test_the_reference_solution_is_accepted,
) = contract_tests("01", WRONG)


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
