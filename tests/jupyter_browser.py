"""A Jupyter server and headless Chromium, for tests/test_browser.py and benchmarks/widgets_browser.py.

Two frontends serve the same notebook: JupyterLab (``/lab/tree/NAME``) and Notebook 7
(``/notebooks/NAME``). Both are started on 127.0.0.1 without a token, update checks or news,
and with every cell kept in the page (no windowing), in a private config folder.

``input_to_redraw_ms`` measures what a learner feels: the time from a key press (the
``keydown`` event's own timestamp) to the first DOM change that shows the redrawn result
(a heatmap's new image, new bars, new chips), observed by a ``MutationObserver`` in the page.
It covers the browser -> kernel message, the Python work, the kernel -> browser update and
plotly.js (or the HTML widget) building the new DOM; painting the frame comes after.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

FRONTENDS = ("lab", "notebook")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 60  # s until /api/status answers
KERNEL_TIMEOUT_MS = 120_000  # the kernel starting, or running every cell


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def notebook_url(frontend: str, port: int, name: str) -> str:
    return f"http://127.0.0.1:{port}/lab/tree/{name}" if frontend == "lab" else f"http://127.0.0.1:{port}/notebooks/{name}"


def start_server(frontend: str, workdir: Path, port: int, log) -> subprocess.Popen:
    """JupyterLab or Notebook 7 on 127.0.0.1:port, serving ``workdir / "notebooks"``."""
    if frontend not in FRONTENDS:
        raise ValueError(f"frontend must be one of {FRONTENDS}, got {frontend!r}")
    config_dir, settings_dir = workdir / "config", workdir / "settings"
    (config_dir / "labconfig").mkdir(parents=True, exist_ok=True)
    (config_dir / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    # Every cell stays in the page (the frontends may otherwise skip drawing cells out of view).
    tracker = settings_dir / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
        JUPYTERLAB_WORKSPACES_DIR=str(workdir / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(workdir / "runtime"),
        IPYTHONDIR=str(workdir / "ipython"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    command = [
        sys.executable, "-m", "jupyterlab" if frontend == "lab" else "notebook",
        "--no-browser",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ip=127.0.0.1",
        f"--notebook-dir={workdir / 'notebooks'}",
    ]
    if frontend == "lab":
        command.append("--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_until_ready(server: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the Jupyter server exited with code {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"the Jupyter server did not answer on port {port} within {SERVER_START_TIMEOUT} s")


def stop(server: subprocess.Popen) -> None:
    """Stop the server we started (and its kernels, in its process group)."""
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)  # the group we created with start_new_session
            server.wait(timeout=5)
    try:  # kernels the server could not shut down are in the same process group
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_idle(page, timeout_ms: int = KERNEL_TIMEOUT_MS) -> None:
    """The notebook toolbar's execution indicator (both frontends) says the kernel is idle."""
    page.wait_for_function(
        "() => { const e = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return e && e.dataset.status === 'idle'; }",
        timeout=timeout_ms,
    )


def dismiss_startup_dialog(page, wait_ms: int = 2_000) -> None:
    """A modal dialog in front of the notebook blocks every click (seen once in a few runs on a loaded
    machine, its text not yet caught): print its text, accept it, and go on; fail if it stays."""
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.first.wait_for(state="visible", timeout=wait_ms)
    except Exception:  # no dialog: the usual case
        return
    print(f"a dialog in front of the notebook said: {dialog.first.inner_text()!r}; accepting it")
    page.locator(".jp-Dialog .jp-mod-accept").first.click()
    try:
        dialog.first.wait_for(state="hidden", timeout=10_000)
    except Exception:
        raise AssertionError(f"a dialog blocks the notebook: {dialog.first.inner_text()!r}") from None


def run_all_cells(page, tries: int = 3) -> None:
    """Run > Run All Cells, from the menu bar (the same menu in both frontends).

    A click that comes while the kernel is still connecting can be lost: it is repeated until
    the first cell's prompt shows it queued or run (``[*]:`` or ``[1]:``).
    """
    for attempt in range(tries):
        dismiss_startup_dialog(page)
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(
                "() => { const p = document.querySelector('.jp-Notebook .jp-CodeCell .jp-InputPrompt');"
                " return p && /[*0-9]/.test(p.textContent); }",
                timeout=10_000,
            )
            return
        except Exception:  # playwright's TimeoutError
            if attempt == tries - 1:
                raise


# A JS condition over `root` and a snapshot taken before the key press; true once the redraw landed.
SNAPSHOTS = {
    # the heatmap's image (plotly draws a heatmap as one <image> with a data: URL)
    "heatmap": "(root) => { const e = root.querySelector('.hm image'); return e ? e.getAttribute('href') : null; }",
    # the bars' outlines
    "bars": "(root) => [...root.querySelectorAll('.barlayer path')].map(p => p.getAttribute('d')).join(' ')",
    # the token chips of every panel
    "chips": "(root) => [...root.querySelectorAll('.hfx-chips')].map(e => e.innerHTML).join('')",
}


def input_to_redraw_ms(page, root: str, what: str, press, timeout_ms: int = 60_000) -> float:
    """Milliseconds from the key press that ``press()`` makes to the DOM change of ``what`` inside ``root``.

    ``what`` names a snapshot in ``SNAPSHOTS``; the clock starts at the first ``keydown`` (its
    ``timeStamp``) and stops in the ``MutationObserver`` callback that first sees the snapshot differ.
    """
    page.evaluate(
        """([root, snapshot]) => {
            const node = document.querySelector(root);
            const take = eval(snapshot);
            const before = take(node);
            const probe = window.__hfxProbe = { start: null, end: null };
            document.addEventListener('keydown', e => { if (probe.start === null) probe.start = e.timeStamp; },
                                      { capture: true, once: true });
            const observer = new MutationObserver(() => {
                if (probe.start !== null && probe.end === null && take(node) !== before) {
                    probe.end = performance.now();
                    observer.disconnect();
                }
            });
            observer.observe(node, { subtree: true, childList: true, attributes: true, characterData: true });
        }""",
        [root, SNAPSHOTS[what]],
    )
    press()
    page.wait_for_function("() => window.__hfxProbe.end !== null", timeout=timeout_ms)
    return float(page.evaluate("() => window.__hfxProbe.end - window.__hfxProbe.start"))


def summary(samples: list[float]) -> dict:
    return {"median_ms": round(statistics.median(samples), 1), "min_ms": round(min(samples), 1),
            "max_ms": round(max(samples), 1), "samples_ms": [round(sample, 1) for sample in samples]}
