"""What this machine allows, shown to the learner but kept out of committed outputs.

The probe's answers differ between a laptop, CI as root, an unprivileged user and a run
with LAYERLAB_LIVE=0, while a notebook's stored outputs must be the same in all of them
(strict nbval compares them). So the machine's own answers go into a small widget: a
learner sees the table in JupyterLab, and nbval, which never compares widget views, sees
only its one stable `text/plain` line. What a notebook *prints* is what holds on every
machine, such as which lab needs which kernel feature (`lab_requirements`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import ipywidgets as widgets

from ..i18n import N_, _
from .kernel.cgroupfs import CgroupLayout, detect_layout
from .kernel.probe import IN_BROWSER, ProbeReport, off_reason, probe

__all__ = [
    "LABS",
    "MachineTable",
    "Here",
    "here",
    "lab_requirements",
    "probe_table",
    "cgroup_layout_table",
]

#: Each live lab of the course and the probe features it needs. "a|b" means either one.
#: The names are shown translated (`lab_name`); a translation keeps the "NN " in front.
LABS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (N_("00 a first lab: a hostname of its own"), ("uts_namespace",)),
    (
        N_("01 namespaces: PID 1, hostname, lo only, private mounts, IPC"),
        (
            "pid_namespace",
            "uts_namespace",
            "mount_namespace",
            "net_namespace",
            "ipc_namespace",
        ),
    ),
    (N_("01 rootless containers: uid 0 inside, you outside"), ("user_namespaces",)),
    (N_("02 cgroup limits: OOM kill, refused fork, CPU throttling"), ("cgroups",)),
    (N_("03 chroot and its escape"), ("mount_namespace",)),
    (N_("03 pivot_root closing the escape"), ("mount_namespace", "pivot_root")),
    (N_("05 the kernel's whiteouts and opaque dirs"), ("overlayfs|overlayfs_rootless",)),
    (N_("05 copy-up timed on a real overlay mount"), ("overlayfs|overlayfs_rootless",)),
    (N_("07 the same commit in a real Docker engine"), ("docker",)),
    (
        N_("08 the mini runtime: overlay rootfs, namespaces, pivot_root"),
        (
            "overlayfs|overlayfs_rootless",
            "pid_namespace",
            "uts_namespace",
            "mount_namespace",
            "net_namespace",
            "ipc_namespace",
            "pivot_root",
        ),
    ),
    (N_("08 the mini runtime's memory and pids limits"), ("cgroups",)),
)


class MachineTable(widgets.HTML):
    """An HTML table about this machine whose `repr` (the stored `text/plain`) is stable."""

    def __init__(self, what: str, table_html: str) -> None:
        super().__init__(value=table_html)
        self.what = what
        self.add_class("layerlab-machine-table")

    def __repr__(self) -> str:
        # Shown only where the widget is not (a stored notebook, a terminal): say so.
        return _(
            "<{what}: a table widget; run the cell in JupyterLab to see this machine's>"
        ).format(what=self.what)


def lab_name(lab: str) -> str:
    """A lab's name as the learner reads it: "NN name", translated."""
    return _(lab)


def _available(report: ProbeReport, need: str) -> bool:
    return any(report[name].available for name in need.split("|"))


def lab_requirements() -> str:
    """Which probe features each live lab needs: the same text on every machine."""
    width = max(len(lab) for lab, _ in LABS)
    return "\n".join(
        f"{lab:<{width}}  needs {', '.join(n.replace('|', ' or ') for n in needs)}"
        for lab, needs in LABS
    )


@dataclass(frozen=True)
class Here:
    """Which of one notebook's labs run live on this machine: the last line of its header.

    It is the one line of a header that differs between machines, so
    notebooks/nbval-sanitize.cfg hides it (and only it) from strict nbval."""

    live: tuple[str, ...]
    simulated: tuple[str, ...]

    def __str__(self) -> str:
        if not self.live and not self.simulated:
            return _(
                "On this machine: no lab here needs the kernel; every cell runs the same anywhere."
            )
        # TRANSLATORS: what separates the labs in a list; Chinese uses 、
        comma = _(", ")
        return _("On this machine: live: {live}; simulated (labelled): {simulated}.").format(
            live=comma.join(self.live) or _("none"),
            simulated=comma.join(self.simulated) or _("none"),
        )

    __repr__ = __str__


def here(notebook: str, report: ProbeReport | None = None) -> Here:
    """Ask the probe which labs of notebook "NN" run live here, before the learner meets them."""
    labs = [(lab, needs) for lab, needs in LABS if lab.startswith(f"{notebook} ")]
    if labs and report is None:
        report = probe()
    live, simulated = [], []
    for lab, needs in labs:
        name = re.split("[:：]", lab_name(lab).split(" ", 1)[1], maxsplit=1)[0]
        runs_live = all(_available(report, n) for n in needs)
        (live if runs_live else simulated).append(name)
    return Here(tuple(live), tuple(simulated))


def _rows(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def probe_table(report: ProbeReport | None = None) -> MachineTable:
    """The probe's answers (feature, yes/no, why) and, below, which labs run live here."""
    report = report if report is not None else probe()
    features = [
        [name, _("yes") if cap.available else _("no"), cap.reason] for name, cap in report.items()
    ]
    labs = [
        [
            lab_name(lab),
            _("live") if all(_available(report, n) for n in needs) else _("simulated (labelled)"),
        ]
        for lab, needs in LABS
    ]
    table = (
        _("<p><b>What this machine allows</b> (the probe tried each one)</p>")
        + _rows([_("feature"), _("available"), _("why")], features)
        + _("<p><b>So the labs run</b></p>")
        + _rows([_("lab"), _("here")], labs)
    )
    return MachineTable(
        _("probe: {features} features, {labs} labs").format(features=len(report), labs=len(LABS)),
        table,
    )


def cgroup_layout_table(layout: CgroupLayout | None = None) -> MachineTable:
    """This machine's cgroup layout, controller by controller (`detect_layout`).

    A web page has no /proc to read: there the table shows what `detect_layout` finds on a
    pure v2 machine (the texts notebook 02 prints), labelled as simulated, with the reason.
    """
    title = _("This machine")
    if layout is None and IN_BROWSER:
        from ..samples import V2_MACHINE  # the course's recorded texts, one place

        layout = detect_layout(**V2_MACHINE)
        title = _("SIMULATED ({reason}): a pure cgroup v2 machine").format(reason=off_reason())
    layout = layout if layout is not None else detect_layout()
    rows = [[c, f"v{h.version}", h.mount] for c, h in layout.hierarchies.items()]
    rows += [[c, _("missing"), "-"] for c in layout.missing]
    heading = _("{title}: cgroup layout {kind}").format(title=title, kind=layout.kind)
    table = f"<p><b>{html.escape(heading)}</b></p>" + _rows(
        [_("controller"), _("version"), _("mounted at")], rows
    )
    return MachineTable(_("cgroup layout"), table)
