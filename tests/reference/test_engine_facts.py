"""The facts the course prints about Docker, held against the private dockerd of `make test`.

Each test reads one fact from `layerlab.live.engine_facts` (what the notebooks say) and the
same thing from a real engine: a running container's overlay mount options, the cgroup
limits `--memory` produces, the layer store on disk, and the config `docker commit`
writes. A course statement that the engine contradicts fails here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from docker_engine import Engine, base_rootfs_tar, is_static_elf
from needs import need_root, need_tool, unavailable

from layerlab.formats.docker_archive import load_docker_archive
from layerlab.image import chain_ids
from layerlab.live import engine_facts
from layerlab.live.overlay_mount import DOCKER_OPTIONS_FACT

pytestmark = pytest.mark.reference

MEMORY = 100 * 1024 * 1024


@pytest.fixture(scope="module")
def base(engine: Engine) -> str:
    busybox = need_tool("busybox")
    if not is_static_elf(busybox):
        unavailable(f"{busybox} is dynamically linked; install busybox-static")
    return engine.import_rootfs(base_rootfs_tar(busybox), "facts-base")


@pytest.fixture(scope="module")
def waiting(engine: Engine, base: str) -> str:
    name = engine.container_name("facts-waiting")
    engine(
        "run", "-d", "-i", "--name", name, "--network", "none",
        "--memory", str(MEMORY), base, "sh", "-c", "read line",
    )  # fmt: skip
    return name


@pytest.fixture(scope="module")
def committed(engine: Engine, base: str) -> str:
    """`docker commit` of a container that set Env and WorkingDir and wrote one file."""
    name = engine.container_name("facts-commit")
    engine(
        "run", "--name", name, "--network", "none", "-e", "GREETING=hi", "-w", "/tmp",
        base, "sh", "-c", "echo x > /x",
    )  # fmt: skip
    return engine.commit(name, "facts-commit")


def _root_mount_options(engine: Engine, container: str) -> dict[str, str]:
    """The super options of the container's `/` in its own mountinfo."""
    for line in engine("exec", container, "cat", "/proc/self/mountinfo").splitlines():
        fields = line.split()
        if fields[4] == "/":
            super_options = fields[fields.index("-") + 3]
            pairs = (opt.partition("=") for opt in super_options.split(","))
            return {key: value for key, _, value in pairs if key not in ("rw", "ro")}
    raise AssertionError("the container's mountinfo has no / mount")


def _overlay_parameter(name: str) -> bool:
    path = Path("/sys/module/overlay/parameters", name)
    if not path.exists():
        unavailable(f"{path} is missing: is the overlay module loaded?")
    return path.read_text().strip() == "Y"


def test_a_containers_overlay_shows_the_options_the_course_names(engine: Engine, waiting: str):
    """moby passes index=off and the three dirs; mountinfo hides what equals the default."""
    options = _root_mount_options(engine, waiting)
    shown = engine_facts.overlay2_shown_options(_overlay_parameter("index"))
    assert tuple(sorted(options)) == tuple(sorted(shown))
    assert "redirect_dir" not in options and "metacopy" not in options
    # ... so redirect_dir and metacopy are the kernel's defaults, which the course says are off:
    assert not _overlay_parameter("redirect_dir") and not _overlay_parameter("metacopy")
    for name in ("index=off", "lowerdir", "upperdir", "workdir"):
        assert name in DOCKER_OPTIONS_FACT


def _cgroup_file(engine: Engine, container: str, v1: str, v2: str) -> tuple[str, str | None]:
    """Read a memory file inside the container: v1 mounts its own memory cgroup there."""
    for path in (f"/sys/fs/cgroup/memory/{v1}", f"/sys/fs/cgroup/{v2}"):
        try:
            return path, engine("exec", container, "cat", path)
        except AssertionError:
            continue
    return "", None


def test_memory_without_memory_swap_allows_as_much_swap_again(engine: Engine, waiting: str):
    """`--memory 100m` alone: MemorySwap 200 MiB, memsw 200 MiB (v1) or swap.max 100 MiB (v2)."""
    facts = engine_facts.docker_swap_limits(MEMORY)
    host_config = engine.inspect(waiting)["HostConfig"]
    assert host_config["Memory"] == MEMORY
    assert host_config["MemorySwap"] == facts["memory.memsw.limit_in_bytes"] == 2 * MEMORY
    path, limit = _cgroup_file(engine, waiting, "memory.limit_in_bytes", "memory.max")
    assert limit is not None, "the container shows no memory limit file"
    assert int(limit) == MEMORY
    path, swap = _cgroup_file(engine, waiting, "memory.memsw.limit_in_bytes", "memory.swap.max")
    if swap is None:
        unavailable("this kernel has no swap accounting (no memsw/swap.max file)")
    assert int(swap) == facts[os.path.basename(path)]


def test_memory_swap_equal_to_memory_forbids_swap(engine: Engine, base: str):
    """`--memory-swap` equal to `--memory`: no swap at all, as the OOM lab runs."""
    name = engine.container_name("facts-noswap")
    engine(
        "run", "-d", "-i", "--name", name, "--network", "none", "--memory", str(MEMORY),
        "--memory-swap", str(MEMORY), base, "sh", "-c", "read line",
    )  # fmt: skip
    facts = engine_facts.docker_swap_limits(MEMORY, MEMORY)
    path, swap = _cgroup_file(engine, name, "memory.memsw.limit_in_bytes", "memory.swap.max")
    if swap is None:
        unavailable("this kernel has no swap accounting (no memsw/swap.max file)")
    assert int(swap) == facts[os.path.basename(path)]
    assert facts["memory.swap.max"] == 0


def _files(directory: Path) -> tuple[str, ...]:
    return tuple(sorted(os.listdir(directory)))


def test_the_layer_store_is_keyed_by_chain_id_and_points_at_random_cache_ids(
    engine: Engine, committed: str, tmp_path: Path
):
    """layerdb/sha256/<chain-id>/ holds cache-id, diff, size, tar-split (+ parent);
    overlay2/<cache-id>/ is named by a random ID, not by a chain ID or DiffID."""
    need_root("reading the layer store under Docker's data-root")
    image = load_docker_archive(engine.save(committed, tmp_path / "layers.tar"))
    root = Path(engine("info", "--format", "{{.DockerRootDir}}"))
    layerdb = root / "image" / "overlay2" / "layerdb"
    for number, (chain_id, diff_id) in enumerate(zip(image.chain_ids, image.diff_ids, strict=True)):
        entry = layerdb / "sha256" / chain_id.split(":")[1]
        expected = engine_facts.LAYERDB_FILES + (("parent",) if number else ())
        assert _files(entry) == tuple(sorted(expected))
        assert (entry / "diff").read_text() == diff_id
        if number:
            assert (entry / "parent").read_text() == image.chain_ids[number - 1]
        assert int((entry / "size").read_text()) >= 0
        cache_id = (entry / "cache-id").read_text()
        assert cache_id not in (chain_id.split(":")[1], diff_id.split(":")[1])
        assert len(cache_id) == 64 and int(cache_id, 16) >= 0
        # The committed layer is the top: nothing was built on it yet.
        top = number == len(image.diff_ids) - 1
        assert _files(root / "overlay2" / cache_id) == engine_facts.overlay2_layer_files(
            has_parent=number > 0, has_child=not top, mounted=False
        )


def test_a_container_has_a_mount_id_and_its_files_sit_beside_overlay2(engine: Engine, waiting):
    """layerdb/mounts/<container-id>/ names the rw dir (mount-id, not the container ID),
    the init dir (<mount-id>-init) and the image's top chain ID; containers/<id>/ is a
    sibling of overlay2/."""
    need_root("reading the layer store under Docker's data-root")
    root = Path(engine("info", "--format", "{{.DockerRootDir}}"))
    info = engine.inspect(waiting)
    container_id = info["Id"]
    mounts = root / "image" / "overlay2" / "layerdb" / "mounts" / container_id
    assert _files(mounts) == tuple(sorted(engine_facts.LAYERDB_MOUNT_FILES))
    mount_id = (mounts / "mount-id").read_text()
    assert mount_id != container_id
    assert (mounts / "init-id").read_text() == f"{mount_id}-init"
    layers = engine.inspect(info["Image"])["RootFS"]["Layers"]
    assert (mounts / "parent").read_text() == chain_ids(layers)[-1]
    upper = info["GraphDriver"]["Data"]["UpperDir"]
    assert upper == str(root / "overlay2" / mount_id / "diff")
    assert _files(root / "overlay2" / mount_id) == engine_facts.overlay2_layer_files(
        has_parent=True, has_child=False, mounted=True
    )
    assert _files(root / "overlay2" / f"{mount_id}-init") == engine_facts.overlay2_layer_files(
        has_parent=True, has_child=True, mounted=False
    )
    assert (root / "containers" / container_id / "hostname").is_file()
    assert not (root / "overlay2" / "containers").exists()


def test_commit_writes_exactly_the_fields_the_course_names(
    engine: Engine, base: str, committed: str, tmp_path: Path
):
    """A new `created`, the container's own config (Cmd, Env, WorkingDir), container and
    container_config; everything else is the parent's."""
    parent = load_docker_archive(engine.save(base, tmp_path / "parent.tar")).config
    child = load_docker_archive(engine.save(committed, tmp_path / "child.tar")).config
    changed = {key for key in set(parent) | set(child) if parent.get(key) != child.get(key)}
    assert changed <= set(engine_facts.COMMIT_WRITES), json.dumps(child, indent=1)
    assert {"created", "config", "history", "rootfs"} <= changed
    assert child["created"] > parent["created"]
    assert child["config"]["Cmd"] == ["sh", "-c", "echo x > /x"]
    assert "GREETING=hi" in child["config"]["Env"]
    assert child["config"]["WorkingDir"] == "/tmp"
    assert child["history"][-1]["created"] == child["created"]


#: Capability numbers from linux/capability.h (a kernel ABI, stable across versions).
CAPABILITY_BITS = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_RAW": 13,
    "CAP_SYS_CHROOT": 18,
    "CAP_MKNOD": 27,
    "CAP_AUDIT_WRITE": 29,
    "CAP_SETFCAP": 31,
}


def test_a_container_keeps_the_capabilities_the_course_lists_under_seccomp(
    engine: Engine, waiting: str
):
    """Notebook 08's list of what Docker adds: 14 capabilities, a seccomp filter, no
    no_new_privs."""
    status = dict(
        line.split(":", 1)
        for line in engine("exec", waiting, "cat", "/proc/self/status").splitlines()
        if ":" in line
    )
    effective = int(status["CapEff"].strip(), 16)
    bits = {n for n in range(64) if effective >> n & 1}
    assert bits == {CAPABILITY_BITS[name] for name in engine_facts.DOCKER_DEFAULT_CAPABILITIES}
    assert (status["Seccomp"].strip() == "2") is engine_facts.DOCKER_SECCOMP_FILTER
    assert (status["NoNewPrivs"].strip() == "1") is engine_facts.DOCKER_NO_NEW_PRIVS
