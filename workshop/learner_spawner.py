"""JupyterHub's LocalProcessSpawner, plus what a class on one machine needs around it.

Why not LocalProcessSpawner alone: it runs each server as the Unix user *named like the hub
user*, which must already exist, and it enforces no limits (its `mem_limit` is advisory).
SystemdSpawner (what The Littlest JupyterHub uses) does both, but needs systemd as PID 1,
which containers, CI runners and many lab VMs do not have. So this subclass adds three
things, each the way TLJH does it, and nothing else:

- every hub user `NAME` runs as the Unix user `jupyter-NAME`, created on first spawn with a
  private home (mode 0700: learners cannot read each other's files). A prefix, so that no
  sign-up name can ever map onto an existing account such as `root` or `daemon`; and an
  existing `jupyter-*` account is used only if it is in the learners' group;
- the server starts inside a cgroup of its own with `mem_limit` and `pids_limit` (v2 where
  the machine has it, v1 on hybrid machines; found by the course's own `Cgroup`), so one
  learner's runaway loop cannot take the machine from the class. The cgroup belongs to
  root: a learner cannot raise their limits, and the course's cgroup labs show their
  labelled simulation for them;
- learners' servers run at a lower CPU priority (nice 10) than the hub and its proxy: on
  a small machine a whole class starting at once otherwise starves the proxy, and the hub
  stops servers whose route it could not add in time;
- stopping the server removes the cgroup, which kills whatever the learner left running
  (a background job, a forgotten kernel): nothing outlives the session.
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import shutil
import subprocess
import threading

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Integer, Unicode

from layerlab.live.kernel.cgroupfs import Cgroup

_accounts_lock = threading.Lock()


class LearnerSpawner(LocalProcessSpawner):
    """Each learner's server as their own Unix user, inside a cgroup with limits."""

    unix_prefix = Unicode(
        "jupyter-", config=True, help="Unix account of hub user NAME: this prefix + NAME."
    )
    learner_group = Unicode(
        "layerlab-learners", config=True, help="Every learner account is in this group."
    )
    pids_limit = Integer(512, config=True, help="Most processes a learner's server may have.")
    nice = Integer(
        10,
        config=True,
        help="Scheduling niceness of learners' servers: the hub and the proxy come first.",
    )

    @property
    def unix_name(self) -> str:
        return self.unix_prefix + self.user.name

    async def start(self) -> tuple[str, int]:
        await asyncio.to_thread(self._ensure_unix_user)
        await asyncio.to_thread(self._make_cgroup)
        try:
            return await super().start()
        except BaseException:
            await asyncio.to_thread(self._remove_cgroup)
            raise

    async def stop(self, now: bool = False) -> None:
        await super().stop(now=now)
        await asyncio.to_thread(self._remove_cgroup)

    def make_preexec_fn(self, name: str):
        """Join the cgroup while still root (after fork, before exec), then become the learner.

        Joining before exec means every process the server ever starts is born inside it.
        """
        become_learner = set_user_setuid(self.unix_name)
        group = self._cgroup
        nice = self.nice

        def preexec() -> None:
            if group is not None:
                group.join()
            os.nice(nice)
            become_learner()

        return preexec

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        account = pwd.getpwnam(self.unix_name)
        env.update(USER=self.unix_name, HOME=account.pw_dir, SHELL=account.pw_shell)
        return env

    # Restart safety: the hub keeps this in its database, so a restarted hub still removes
    # the cgroups of servers started before it.
    _cgroup: Cgroup | None = None

    def get_state(self) -> dict:
        state = super().get_state()
        if self._cgroup is not None:
            state["cgroup_dirs"] = self._cgroup.dirs
        return state

    def load_state(self, state: dict) -> None:
        super().load_state(state)
        if state.get("cgroup_dirs"):
            group = Cgroup(self.user.name)
            group.dirs = dict(state["cgroup_dirs"])
            self._cgroup = group

    def _ensure_unix_user(self) -> None:
        """Create `jupyter-NAME` as TLJH does; refuse an account that is not a learner's."""
        with _accounts_lock:  # a whole class spawns at once: one groupadd, one useradd at a time
            self._ensure_unix_user_locked()

    def _ensure_unix_user_locked(self) -> None:
        try:
            grp.getgrnam(self.learner_group)
        except KeyError:
            subprocess.run(["groupadd", "--system", self.learner_group], check=True)
        try:
            account = pwd.getpwnam(self.unix_name)
        except KeyError:
            subprocess.run(
                ["useradd", "--create-home", "--shell", "/bin/bash", "--user-group"]
                + ["--groups", self.learner_group, self.unix_name],
                check=True,
            )
            account = pwd.getpwnam(self.unix_name)
        if self.unix_name not in grp.getgrnam(self.learner_group).gr_mem:
            raise PermissionError(
                f"the Unix account {self.unix_name} exists but is not in group "
                f"{self.learner_group}; the hub will not run a server as it"
            )
        os.chmod(account.pw_dir, 0o700)
        shutil.chown(account.pw_dir, account.pw_uid, account.pw_gid)

    def _make_cgroup(self) -> None:
        self._remove_cgroup()
        group = Cgroup(f"hub-{self.user.name}")
        try:
            group.create(
                memory=int(self.mem_limit) if self.mem_limit else None, pids=self.pids_limit
            )
        except BaseException:
            group.remove()
            raise
        self._cgroup = group

    def _remove_cgroup(self) -> None:
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None
