"""Drive one notebook in JupyterLab the way a learner does, and read back what the page shows.

A learner opens the notebook, picks "Run All Cells" from the Run menu and looks at the
outputs. These helpers do exactly that through the real UI (menu clicks, no kernel API
shortcuts), then read the page: the DOM that is on screen, plus the notebook model that
JupyterLab keeps behind it (via `window.jupyterapp`, read-only), so a check can tell a
Python traceback from a plain stderr warning.

Every wait has a deadline: a hung kernel or a blank page fails the test with a message,
it never hangs the suite.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lab_server import LabServer

if TYPE_CHECKING:  # only for annotations: collecting the tests must not need playwright
    from playwright.sync_api import BrowserContext, Page

#: Chromium as root on a machine without internet: no sandbox (root), no GPU, and none
#: of the background traffic (updates, sync, field trials) that would try to leave the
#: machine. Playwright itself gives every launch a fresh, empty profile directory.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
)

OPEN_TIMEOUT_MS = 60_000
#: Each notebook must run in under 20 s (course rule); a cold kernel on CI gets headroom.
RUN_TIMEOUT_S = 120.0
ACTIVE_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


@dataclass
class PageLog:
    """What the browser reported while a page was open."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)


def watch(page: Page) -> PageLog:
    """Record console errors and uncaught exceptions of `page` from now on."""
    log = PageLog()

    def on_console(message) -> None:
        if message.type == "error":
            location = message.location or {}
            where = location.get("url", "")
            log.console_errors.append(f"{message.text} [{where}]" if where else message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))
    return log


def keep_on_localhost(context: BrowserContext, log_for: dict[str, list[str]]) -> None:
    """Abort every request that would leave 127.0.0.1 and record it.

    The machine has no internet: a request to the outside would at best fail slowly. The
    course must not need the network either (Binder users may be offline later), so a
    notebook that asks for an outside URL is reported, not waited for.
    """

    def route(route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith("data:"):
            route.continue_()
        else:
            log_for.setdefault("blocked", []).append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", route)


def open_notebook(page: Page, server: LabServer, notebook: str) -> None:
    """Open `notebook` (a path under the server's root) and wait for an idle kernel."""
    page.goto(server.lab_url(notebook), wait_until="domcontentloaded", timeout=OPEN_TIMEOUT_MS)
    name = Path(notebook).name
    page.locator(f".lm-TabBar-tab[data-type='document-title'] >> text='{name}'").first.wait_for(
        timeout=OPEN_TIMEOUT_MS
    )
    page.locator(f"{ACTIVE_PANEL} .jp-Notebook .jp-Cell").first.wait_for(timeout=OPEN_TIMEOUT_MS)
    # The status bar names the kernel once it is connected: "Python 3 (ipykernel) | Idle".
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")).wait_for(
        timeout=OPEN_TIMEOUT_MS
    )


def click_menu(page: Page, menu: str, item: str) -> None:
    """Choose `item` from the menu bar's `menu`, as a person would with the mouse."""
    page.locator(f".lm-MenuBar-itemLabel:text-is('{menu}')").click()
    page.locator(f".lm-Menu-content .lm-Menu-itemLabel:text-is('{item}')").click()


def run_all_cells(page: Page, server: LabServer, timeout: float = RUN_TIMEOUT_S) -> None:
    """Clear the stored outputs, then Run > Run All Cells, and wait until it has finished.

    Clearing first matters: the committed outputs would otherwise look like a finished
    run before anything ran, and every output checked afterwards is one this browser
    rendered from the live kernel.
    """
    click_menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('{ACTIVE_PANEL} .jp-CodeCell .jp-InputArea-prompt')]
            .every(p => !/\\d/.test(p.textContent))""",
        timeout=10_000,
    )
    click_menu(page, "Run", "Run All Cells")
    wait_for_idle(page, server, timeout)


_RUN_STATE_JS = f"""() => {{
  const panel = document.querySelector('{ACTIVE_PANEL}');
  if (!panel) return {{ok: false, why: 'no notebook panel'}};
  // An empty code cell never gets a number, so only cells with source count.
  const prompts = [...panel.querySelectorAll('.jp-Notebook .jp-CodeCell')]
    .filter(cell => ((cell.querySelector('.cm-content') || {{}}).textContent || '').trim())
    .map(cell => (cell.querySelector('.jp-InputArea-prompt') || {{}}).textContent || '');
  const running = prompts.filter(p => p.includes('*')).length;
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const status = indicator ? indicator.getAttribute('data-status') : 'unknown';
  const last = prompts.length ? prompts[prompts.length - 1] : '[0]:';
  const errors = panel.querySelectorAll(
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').length;
  // After an error stops a Run All, JupyterLite's indicator stays "busy" with nothing
  // queued: an idle kernel (the status bar) with no cell running is the end there too.
  const kernelIdle = [...document.querySelectorAll('.jp-StatusBar-TextItem')]
    .some(item => /\\| Idle$/.test(item.textContent));
  const stopped = errors > 0 && kernelIdle;
  return {{ok: running === 0 && (status === 'idle' || stopped) && (/\\d/.test(last) || errors > 0),
           running, status, last}};
}}"""


def wait_for_idle(page: Page, server: LabServer, timeout: float = RUN_TIMEOUT_S) -> None:
    """Wait until no cell is queued or running, the kernel is idle (in the page and on the
    server), and the last cell has run or an error stopped the run; stable for ~1 s so
    that widget messages arriving right after the last reply are included."""
    deadline = time.monotonic() + timeout
    stable = 0
    state: dict = {}
    while time.monotonic() < deadline:
        state = page.evaluate(_RUN_STATE_JS)
        idle_on_server = all(s == "idle" for s in server.kernel_states())
        stable = stable + 1 if state["ok"] and idle_on_server else 0
        if stable >= 4:
            return
        time.sleep(0.25)
    raise TimeoutError(f"the notebook did not finish running within {timeout:.0f} s: {state}")


_SNAPSHOT_JS = f"""() => {{
  const panel = document.querySelector('{ACTIVE_PANEL}');
  const decode = src => {{
    const comma = src.indexOf(',');
    const head = src.slice(0, comma), body = src.slice(comma + 1);
    return head.endsWith(';base64') ? atob(body) : decodeURIComponent(body);
  }};
  const svgsIn = node => {{
    const found = [];
    for (const img of node.querySelectorAll('img')) {{
      if ((img.getAttribute('src') || '').startsWith('data:image/svg+xml')) {{
        found.push({{how: 'img', source: decode(img.getAttribute('src')),
                     loaded: img.complete && img.naturalWidth > 0}});
      }}
    }}
    for (const svg of node.querySelectorAll('svg')) {{
      if (svg.closest('.layerlab-figure') || svg.querySelector('g.graph')) {{
        // XMLSerializer, not outerHTML: HTML serialization may write &nbsp; and the like.
        found.push({{how: 'inline', source: new XMLSerializer().serializeToString(svg),
                     loaded: true}});
      }}
    }}
    return found;
  }};
  const cells = [...panel.querySelectorAll('.jp-Notebook .jp-Cell')];
  const dom = cells.map((cell, index) => ({{
    index,
    kind: cell.classList.contains('jp-CodeCell') ? 'code'
        : cell.classList.contains('jp-MarkdownCell') ? 'markdown' : 'raw',
    prompt: ((cell.querySelector('.jp-InputArea-prompt') || {{}}).textContent || '').trim(),
    outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map(out => ({{
      mime: out.getAttribute('data-mime-type') || '',
      nested: !!out.parentElement.closest('.jp-OutputArea-output'),
      // textContent, not innerText: JupyterLab skips rendering of off-screen cells
      // (content-visibility: auto), and innerText is empty there.
      text: (out.textContent || '').slice(0, 4000),
      widget: !!out.querySelector('.jupyter-widgets')
        && !out.querySelector('.jupyter-widgets-error-widget'),
      // ipywidgets 8 draws a failed widget as an error icon ("Click to show javascript
      // error."); older paths print "Error displaying widget".
      widgetError: !!out.querySelector('.jupyter-widgets-error-widget, .widget-error')
        || /Error displaying widget|Failed to load model class/.test(out.textContent || ''),
      svgs: out.parentElement.closest('.jp-OutputArea-output') ? [] : svgsIn(out),
    }})),
  }}));
  let model = null;
  const app = window.jupyterapp;
  const widget = app && app.shell.currentWidget;
  if (widget && widget.content && widget.content.model) {{
    const list = widget.content.model.cells;
    model = [];
    for (let i = 0; i < list.length; i++) {{
      const cell = list.get(i);
      const outputs = cell.type === 'code' ? cell.outputs.toJSON() : [];
      model.push({{type: cell.type, source: cell.sharedModel.getSource(),
        outputs: outputs.map(o => ({{output_type: o.output_type,
          mimes: Object.keys(o.data || {{}}), ename: o.ename || '', evalue: o.evalue || '',
          name: o.name || '', text: Array.isArray(o.text) ? o.text.join('') : (o.text || '')}}))}});
    }}
  }}
  const logItem = document.querySelector('.jp-LogConsoleStatusItem');
  const logTitle = logItem && !logItem.classList.contains('lm-mod-hidden')
    ? (logItem.querySelector('[title]') || logItem).getAttribute('title') || '' : '';
  return {{dom, model, logTitle}};
}}"""


def snapshot(page: Page) -> dict:
    """Everything the checks need, read in one go: per cell its prompt, its rendered
    outputs (text, mime type, widgets, SVG sources) and the model's outputs, plus the
    title of the log console's status item (kernel errors outside cells land there)."""
    return page.evaluate(_SNAPSHOT_JS)


#: Draws three Chinese characters and a private-use code point (no font has it: the
#: browser's "tofu" box) on a canvas in the output SVGs' font, and measures the Chinese
#: texts the pictures drew. Read by lab_checks.tofu_failures.
_GLYPHS_JS = r"""() => {
  const size = 40;
  const sample = document.querySelector('.jp-OutputArea svg text');
  const family = sample ? getComputedStyle(sample).fontFamily : 'sans-serif';
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 64;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const shape = (ch) => {
    ctx.clearRect(0, 0, 64, 64);
    ctx.font = `${size}px ${family}`;
    ctx.textBaseline = 'top';
    ctx.fillText(ch, 4, 4);
    return ctx.getImageData(0, 0, 64, 64).data.filter((_, i) => i % 4 === 3).join(',');
  };
  const chars = ['镜', '像', '层'];
  const shapes = chars.map(shape);
  const tofu = shape('\ue000');
  ctx.font = `${size}px ${family}`;
  const cjk = /[\u4e00-\u9fff]/g;
  const drawn = [...document.querySelectorAll('.jp-OutputArea svg text')]
    .map((t) => ({
      text: t.textContent,
      cjk: (t.textContent.match(cjk) || []).length,
      em: t.getComputedTextLength() / parseFloat(getComputedStyle(t).fontSize),
    }))
    .filter((t) => t.cjk >= 2);
  return {
    family,
    chars: chars.length,
    distinct: new Set(shapes).size,
    like_tofu: shapes.filter((s) => s === tofu).length,
    advance_em: ctx.measureText(chars.join('').repeat(4)).width / (4 * chars.length) / size,
    drawn,
  };
}"""


def glyph_report(page: Page) -> dict:
    """How this page draws Chinese (see _GLYPHS_JS), for lab_checks.tofu_failures."""
    return page.evaluate(_GLYPHS_JS)


def screenshot_notebook(page: Page, path: Path, max_height: int = 12_000) -> Path:
    """Save the whole notebook as one tall PNG, for people to look at.

    The notebook scrolls inside its own panel, so a page screenshot would show one
    screenful; instead the viewport grows to the notebook's height for the shot.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": 1280, "height": 900}
    # Give the notebook the whole width: close the file browser as a person would, by
    # clicking its (selected) icon in the left side bar.
    opened = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if opened.count():
        opened.first.click()
    page.evaluate(
        f"() => {{ const o = document.querySelector('{ACTIVE_PANEL} .jp-WindowedPanel-outer');"
        " if (o) o.scrollTop = 0; }"
    )
    height = page.evaluate(
        f"""() => {{
      const outer = document.querySelector('{ACTIVE_PANEL} .jp-WindowedPanel-outer');
      const extra = window.innerHeight - (outer ? outer.clientHeight : window.innerHeight);
      return (outer ? outer.scrollHeight : document.body.scrollHeight) + extra + 40;
    }}"""
    )
    page.set_viewport_size({"width": size["width"], "height": min(max(height, 600), max_height)})
    try:
        page.wait_for_timeout(600)  # JupyterLab relayouts on resize; let it settle
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    return path
