"""Notebook 02's checker parses cgroup files "as the kernel does": proven here against the
kernel itself. Each tricky text is written into a real cgroup's file; the kernel's verdict
(EINVAL or accepted) and the value it reads back must be what ex02's parser says.

pids.max is the same code in v1 and v2 (kernel/cgroup/pids.c: strstrip, "max", kstrtoll
base 0). memory.max (v2) and v1's memory.limit_in_bytes both go through
page_counter_memparse (mm/page_counter.c), whose "no limit" token is "max" in v2 and "-1"
in v1; v1's is not ex02's business, so it is left out there. cpu.max exists only in v2
(kernel/sched/core.c: sscanf "%20s %llu"); on a v1 cpu controller, cpu.cfs_quota_us goes
through kstrtoll base 0 (cgroup's write_s64), which is what ex02's kstrtoll stands for.
That path strips nothing (kstrtoll itself allows one trailing newline), and any negative
quota means no limit (tg_set_cfs_quota) and reads back as -1.
The cgroup is removed whatever happens (Cgroup's context manager).
"""

from __future__ import annotations

import errno
import os

import pytest
from livetools import WORLD

from layerlab.exercises.ex02 import (
    MAX_QUOTA_US,
    MIN_QUOTA_US,
    PAGE_SIZE,
    Invalid,
    _cpu,
    _memory,
    _pids,
    kstrtoll,
)
from layerlab.live.kernel.cgroupfs import Cgroup, detect_layout

pytestmark = pytest.mark.live

PIDS_TEXTS = [
    "20", "20\n", " 20 \n", "+20", "0x14", "0X14", "024", "08", "0x", "-1", "-0", "max",
    "max\n", " max ", "maxx", "20abc", "1e3", "2 0", "4194304", "4194305", "0", "00",
]  # fmt: skip
MEMORY_TEXTS = [
    "67108864", "67108864\n", "64M", "64m", "64K", "1G", "0x4000000", "0100000000", "64 M",
    "1.5G", "64MB", "-5", "0x", "08", "4097", "0", " 4096 ", "+4096", "max", "max\n",
]  # fmt: skip
CPU_TEXTS = [
    "150000 100000", "150000 100000\n", "max", "max 100000", "max\n", "50000", "1.5",
    "150 100", "1000 1000", "999 100000", "150000 1000001", "150000 999", "0x100 100000",
    "150000 0x100", "150000 100000 7", "  150000   100000  ", "-1 100000", "+5000 100000",
    "5000abc 100000", "maxi 100000", "5000 100000abc",
]  # fmt: skip
QUOTA_TEXTS = [
    "150000", "0x249f0", "0444760", "+150000", "-1", "-2", "999", "08", "150000abc",
    " 150000 \n", "150000\n", "150000\n\n", "1e5", "max",
]  # fmt: skip


@pytest.fixture(scope="module")
def cgroup():
    if WORLD != "root":
        pytest.skip(
            f"writing a cgroup's limits needs root on the live kernel; this is the {WORLD} world"
        )
    with Cgroup("parse") as group:
        group.create()
        yield group


def kernel_write(path: str, text: str) -> bool:
    """Write `text` in one write(2), as echo does; True if the kernel took it."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return False
    finally:
        os.close(fd)
    return True


def read(path: str) -> str:
    with open(path) as handle:
        return handle.read().strip()


def parsed(parse, text: str):
    try:
        return True, parse(text)
    except Invalid:
        return False, None


def version(controller: str) -> int:
    return detect_layout().hierarchies[controller].version


@pytest.mark.parametrize("text", PIDS_TEXTS)
def test_pids_max_is_parsed_as_the_kernel_does(cgroup, text):
    path = os.path.join(cgroup.dirs["pids"], "pids.max")
    kernel_write(path, "7")
    accepted = kernel_write(path, text)
    ok, value = parsed(_pids, text)
    assert accepted == ok, f"pids.max {text!r}: kernel {'took' if accepted else 'refused'} it"
    back = read(path)
    assert back == ("7" if not ok else "max" if value is None else str(value))


@pytest.mark.parametrize("text", MEMORY_TEXTS)
def test_memory_limits_are_parsed_as_the_kernel_does(cgroup, text):
    v2 = version("memory") == 2
    if not v2 and text.strip() == "max":
        pytest.skip("v1's memory.limit_in_bytes spells no limit -1, not max")
    path = os.path.join(cgroup.dirs["memory"], "memory.max" if v2 else "memory.limit_in_bytes")
    kernel_write(path, str(64 * PAGE_SIZE))
    accepted = kernel_write(path, text)
    ok, value = parsed(_memory, text)
    assert accepted == ok, f"memory {text!r}: kernel {'took' if accepted else 'refused'} it"
    back = read(path)
    if not ok:
        assert int(back) == 64 * PAGE_SIZE
    elif value is None:
        assert back == "max"
    else:
        assert int(back) == value


@pytest.mark.parametrize("text", CPU_TEXTS)
def test_cpu_max_is_parsed_as_the_kernel_does(cgroup, text):
    if version("cpu") != 2:
        pytest.skip("cpu.max exists only on a v2 cpu controller (tests/support/purev2-world)")
    path = os.path.join(cgroup.dirs["cpu"], "cpu.max")
    kernel_write(path, "40000 100000")
    accepted = kernel_write(path, text)
    ok, value = parsed(_cpu, text)
    assert accepted == ok, f"cpu.max {text!r}: kernel {'took' if accepted else 'refused'} it"
    quota, period = read(path).split()
    if not ok:
        assert (quota, period) == ("40000", "100000")
    elif value is None:
        assert quota == "max"
    else:
        assert int(quota) / int(period) == pytest.approx(value)


@pytest.mark.parametrize("text", QUOTA_TEXTS)
def test_v1_cpu_quota_goes_through_kstrtoll_base_0(cgroup, text):
    if version("cpu") != 1:
        pytest.skip("cpu.cfs_quota_us exists only on a v1 cpu controller")
    path = os.path.join(cgroup.dirs["cpu"], "cpu.cfs_quota_us")
    kernel_write(path, "40000")
    accepted = kernel_write(path, text)
    try:
        value = kstrtoll(text)  # cgroup_file_write does not strip for write_s64
        ok = value < 0 or MIN_QUOTA_US <= value <= MAX_QUOTA_US  # v1: any negative is "no limit"
    except Invalid:
        ok, value = False, None
    assert accepted == ok, f"cfs_quota_us {text!r}: kernel {'took' if accepted else 'refused'} it"
    assert int(read(path)) == (40000 if not ok else -1 if value < 0 else value)
