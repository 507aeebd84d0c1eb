"""The course in a real browser: JupyterLab from .venv, driven by Debian's headless Chromium.

What a learner does in lesson 03, done by a robot: open the notebook, run all cells,
see no error, move the explorer's inverse-temperature (β) slider and see the figure change. A
screenshot lands in tests/artifacts/ (ignored by git).

The server runs on a free localhost port with a random token (auth on), with its
runtime, config, data, settings, workspace and checkpoint folders in a temporary
directory, and autosave off, so the user's Jupyter set-up and the notebook on disk
are left as they were. Every process the test starts is stopped, even on failure.
Chromium comes from Debian's ``chromium`` package (``tools/ensure_chromium.py``
installs it); its ``/usr/bin/chromium`` wrapper script misbehaves under playwright, so
the real binary is launched. Without Chromium the test skips and says why.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil  # ships with ipykernel
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/03_basic_attention.ipynb"
CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# The explorer's figure: an ipywidgets Image, or a PNG in an Output widget (both are an <img>).
FIGURE = "img"
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOT = ARTIFACTS / "browser_03_basic_attention.png"
TIMING = ARTIFACTS / "browser_03_basic_attention.txt"
# Generous: two cores shared with the rest of `make test` (pytest -n 2).
SERVER_TIMEOUT_S = 90
RUN_ALL_TIMEOUT_S = 240
# An error output renders as stderr text holding the traceback; warnings and progress bars
# are stderr too, and allowed.
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|^\s*\w*(Error|Exception)\b\s*:?", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Process ids under ``pid`` (kernels are started in their own session, so killpg misses them)."""
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop(pids: list[int]) -> None:
    """SIGTERM, wait a little, then SIGKILL whatever of ``pids`` still runs."""
    procs = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            proc.terminate()
            procs.append(proc)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=10)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)


class JupyterLab:
    """A JupyterLab server on 127.0.0.1 with its own temporary Jupyter folders."""

    def __init__(self, tmp: Path):
        self.port, self.token = free_port(), secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        settings = tmp / "lab-settings"
        plugin = settings / "@jupyterlab" / "docmanager-extension"
        plugin.mkdir(parents=True)
        (plugin / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
        tracker = settings / "@jupyterlab" / "notebook-extension"
        tracker.mkdir(parents=True)  # every cell in the DOM, so the explorer is there to find
        (tracker / "tracker.jupyterlab-settings").write_text(
            json.dumps({"windowingMode": "none", "autoStartDefaultKernel": True}))
        apputils = settings / "@jupyterlab" / "apputils-extension"
        apputils.mkdir(parents=True)  # no "get Jupyter news?" toast, no request to the web
        (apputils / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
        env = dict(
            os.environ,
            JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_CONFIG_DIR=str(tmp / "config"),
            JUPYTER_DATA_DIR=str(tmp / "data"), JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"), IPYTHONDIR=str(tmp / "ipython"),
            MPLBACKEND="module://matplotlib_inline.backend_inline",
        )
        cmd = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
            f"--port={self.port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={ROOT}", f"--IdentityProvider.token={self.token}",
            f"--FileCheckpoints.checkpoint_dir={tmp / 'checkpoints'}",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if os.geteuid() == 0:  # JupyterLab refuses root without it; a laptop user never needs it
            cmd.append("--allow-root")
        self.log = open(tmp / "server.log", "w")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.log_path = tmp / "server.log"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {SERVER_TIMEOUT_S} s:\n{self.tail()}")

    def kernel_state(self, path: str) -> str | None:
        """The execution state of the kernel attached to notebook ``path``, from the REST API."""
        req = urllib.request.Request(f"{self.url}/api/sessions",
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            sessions = json.load(r)
        states = [s["kernel"]["execution_state"] for s in sessions if s.get("path") == path and s.get("kernel")]
        return states[0] if states else None

    def tail(self, n: int = 30) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> list[int]:
        """Stop the server and its kernels; return the ids of every process that was ours."""
        ours = [self.proc.pid, *descendants(self.proc.pid)]  # kernels run in their own session
        if self.proc.poll() is None:
            try:  # the clean way: the server shuts its kernels down, then exits
                req = urllib.request.Request(f"{self.url}/api/shutdown", method="POST",
                                             headers={"Authorization": f"token {self.token}"})
                urllib.request.urlopen(req, timeout=10).close()
                self.proc.wait(timeout=20)
            except (urllib.error.URLError, OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        stop(ours[1:])
        self.log.close()
        return ours


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def lab(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed ({CHROMIUM} is absent after tools/ensure_chromium.py, "
                    "which needs root or passwordless sudo and apt-get); `apt-get install chromium` "
                    "enables this test")
    me, started = psutil.Process(), time.time()
    server = JupyterLab(tmp_path)
    try:
        server.wait_ready()
        server.start_seconds = time.time() - started
        yield server
    finally:
        ours = server.stop()
        leftover = [pid for pid in ours if alive(pid)]
        leftover += [c.pid for c in me.children(recursive=True) if c.create_time() >= started and alive(c.pid)]
        assert not leftover, f"processes left behind by the browser test: {leftover}"


def wait_for_kernel(page, lab: JupyterLab) -> None:
    """Wait until the notebook's kernel runs and is idle (the server says so), accepting the
    "Select Kernel" dialog JupyterLab may show (its preselected choice is the notebook's kernel)."""
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    select = page.locator(".jp-Dialog .jp-mod-accept", has_text="Select")
    while time.monotonic() < deadline:
        if select.count() and select.first.is_visible():
            select.first.click()
        if not page.locator(".jp-Dialog").count() and lab.kernel_state(NOTEBOOK) == "idle":
            return
        page.wait_for_timeout(500)
    raise RuntimeError(f"the kernel of {NOTEBOOK} did not start within {SERVER_TIMEOUT_S} s:\n{lab.tail()}")


def menu(page, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{top}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{item}$")).click()


def run_all_and_wait(page) -> None:
    """Clear the saved outputs, Run > Run All Cells, wait until every code cell has run again."""
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(
        "() => ![...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
        ".some(p => /\\[\\d+\\]/.test(p.textContent))", timeout=30_000)
    menu(page, "Run", "Run All Cells")
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            const done = prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
            // A cell that raises stops Run All: the error is then reported by error_outputs().
            const failed = [...document.querySelectorAll('.jp-OutputArea-output')]
                .some(o => o.textContent.includes('Traceback (most recent call last)'));
            const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
            return (done || failed) && (!status || status.getAttribute('data-status') === 'idle');
        }""",
        timeout=RUN_ALL_TIMEOUT_S * 1000,
    )


def settled_src(page, explorer, before: str, timeout_s: float = 60, quiet_s: float = 1.5) -> str:
    """The explorer figure's ``src`` once it has changed and the kernel has finished redrawing.

    Each step of the slider sends one redraw; wait until the kernel is idle and the
    figure has stayed the same for ``quiet_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    last, last_change = before, time.monotonic()
    while time.monotonic() < deadline:
        imgs = explorer.locator(FIGURE)
        src = imgs.first.get_attribute("src") if imgs.count() else None
        if src and src != last:
            last, last_change = src, time.monotonic()
        idle = page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').count() > 0
        if last != before and idle and time.monotonic() - last_change > quiet_s:
            break
        page.wait_for_timeout(250)
    return last


def error_outputs(page) -> list[str]:
    """Texts of outputs that show an error (tracebacks); warnings and progress bars pass."""
    found = []
    errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')
    found += errors.all_inner_texts()
    stderr = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    found += [t for t in stderr.all_inner_texts() if ERROR_TEXT.search(t)]
    rendered = page.locator(".jp-OutputArea-output .jp-RenderedText")
    found += [t for t in rendered.all_inner_texts() if "Traceback" in t]
    return found


def test_lesson_03_runs_and_its_explorer_responds_in_chromium(lab):
    from playwright.sync_api import sync_playwright

    notebook = ROOT / NOTEBOOK
    assert notebook.exists(), f"{NOTEBOOK} is missing: build it with `make notebooks ONLY=03`"
    on_disk = notebook.read_bytes()
    ARTIFACTS.mkdir(exist_ok=True)
    failure_shot = ARTIFACTS / "browser_failure.png"
    failure_shot.unlink(missing_ok=True)  # only this run's failure, never a stale one
    start = time.perf_counter()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        try:
            page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}", timeout=SERVER_TIMEOUT_S * 1000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=SERVER_TIMEOUT_S * 1000)
            wait_for_kernel(page, lab)
            run_all_and_wait(page)

            errors = error_outputs(page)
            assert not errors, "cells show errors:\n" + "\n---\n".join(e[:800] for e in errors)

            # The explorer: the widget box whose slider is labelled "inv. temp. β" (lesson 03).
            slider = page.locator(".widget-slider", has=page.locator(".widget-label", has_text="inv. temp."))
            slider.first.wait_for(state="attached", timeout=30_000)
            explorer = page.locator(".widget-vbox", has=slider).last
            figure = explorer.locator(FIGURE).first
            figure.wait_for(state="attached", timeout=30_000)
            explorer.scroll_into_view_if_needed()
            readout = slider.first.locator(".widget-readout")
            before_src, before_value = figure.get_attribute("src"), readout.inner_text()

            handle = slider.first.locator(".noUi-handle")
            handle.focus()
            for _ in range(6):  # six steps of 0.05 in log10: β 1 -> 2
                handle.press("ArrowRight")
            after_src = settled_src(page, explorer, before_src)
            after_value = readout.inner_text()
            page.screenshot(path=str(SCREENSHOT))
            assert after_value != before_value, f"the slider did not move (readout {before_value})"
            assert after_src != before_src, (
                f"the figure did not change when β moved from {before_value} to {after_value}")
            assert not error_outputs(page), "moving the slider produced an error"
        except Exception:
            try:  # what the page showed when it failed, for the person reading the CI log
                page.screenshot(path=str(failure_shot))
            except Exception:  # noqa: BLE001 (the original error matters more)
                pass
            raise
        finally:
            browser.close()
    elapsed = time.perf_counter() - start
    TIMING.write_text(f"JupyterLab answered after {lab.start_seconds:.1f} s; Chromium opened lesson 03, "
                      f"ran all cells and moved the slider in {elapsed:.1f} s\n")
    assert notebook.read_bytes() == on_disk, f"{NOTEBOOK} was modified on disk by the browser session"
