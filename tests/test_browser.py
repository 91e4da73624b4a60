"""The dashboards in a real browser: JupyterLab + headless Chromium, driven by Playwright.

What a unit test cannot see: that the widgets render at all (no "Error displaying
widget"), that the installed Jupyter extensions serve every bit of JavaScript (nothing from
a CDN: the browser is started with networking features off), and that typing and sliders
round-trip through the kernel and change what is drawn.

Needs Debian's Chromium (``bash scripts/setup_browser.sh``) and Playwright (the [dev]
extra); never ``playwright install``. Screenshots land in ``test-artifacts/browser/``.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = Path(__file__).resolve().parent / "notebooks" / "widgets_demo.ipynb"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
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
KERNEL_TIMEOUT_MS = 90_000  # the kernel starting, or running every cell (~15 s here)
UPDATE_TIMEOUT_MS = 30_000  # one round trip: browser -> kernel -> browser (~0.1 s here)
ATTENTION = ".hfx-attention-dashboard:not(.hfx-attention-picture)"  # the text one (the ViT's draws a picture)
PICTURE = ".hfx-attention-picture"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_jupyterlab(workdir: Path, port: int, log) -> subprocess.Popen:
    """JupyterLab on 127.0.0.1:port without token, update checks, news, or cell virtualisation."""
    config_dir, settings_dir = workdir / "config", workdir / "settings"
    (config_dir / "labconfig").mkdir(parents=True)
    (config_dir / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    # Every cell stays in the page (JupyterLab may otherwise skip drawing cells out of view).
    tracker = settings_dir / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
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
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ip=127.0.0.1",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--notebook-dir={workdir / 'notebooks'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait_until_ready(server: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"JupyterLab did not answer on port {port} within {SERVER_START_TIMEOUT} s")


def _stop(server: subprocess.Popen) -> None:
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


def _wait_idle(page) -> None:
    # The status bar says "Python 3 (ipykernel) | Idle" once the kernel is ready and done.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => e.textContent.includes('| Idle'))",
        timeout=KERNEL_TIMEOUT_MS,
    )


def _text(page, selector: str) -> str:
    return page.locator(selector).first.text_content()  # SVG text (plotly titles) has no innerText


def _wait_text_change(page, selector: str, before: str) -> str:
    page.wait_for_function(
        "([selector, before]) => { const e = document.querySelector(selector); return e && e.textContent !== before; }",
        arg=[selector, before],
        timeout=UPDATE_TIMEOUT_MS,
    )
    return _text(page, selector)


def _wait_for(page, condition: str) -> None:
    page.wait_for_function(f"() => {condition}", timeout=UPDATE_TIMEOUT_MS)


def _annotation_starts_with(root: str, text: str) -> str:
    """A JS condition: some plotly annotation (our figure titles) inside ``root`` starts with ``text``."""
    return (f"[...document.querySelectorAll('{root} .annotation-text')]"
            f".some(e => e.textContent.startsWith({json.dumps(text)}))")


def _annotation_contains(root: str, text: str) -> str:
    return (f"[...document.querySelectorAll('{root} .annotation-text')]"
            f".some(e => e.textContent.includes({json.dumps(text)}))")


def test_dashboards_render_and_respond_in_chromium(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed: run `bash scripts/setup_browser.sh` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright  # in the [dev] extra: its absence is a setup error, not a skip

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOK, tmp_path / "notebooks" / NOTEBOOK.name)
    port = _free_port()
    log_path = ARTIFACTS / "jupyterlab.log"
    with open(log_path, "w") as log:
        server = _start_jupyterlab(tmp_path, port, log)
        try:
            _wait_until_ready(server, port)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS, headless=True)
                try:
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})
                    context.set_default_timeout(UPDATE_TIMEOUT_MS)
                    page = context.new_page()
                    _drive(page, port)
                finally:
                    browser.close()
        finally:
            _stop(server)


def _drive(page, port: int) -> None:
    offsite = []  # every request that leaves 127.0.0.1: there must be none
    page.on("request", lambda request: None if request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
            else offsite.append(request.url))
    page.goto(f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}", timeout=KERNEL_TIMEOUT_MS)
    _wait_idle(page)
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

    # All three dashboards appear; the attention dashboard and the explorer draw one plotly figure each.
    for selector in (".hfx-tokenizer-dashboard", ATTENTION, ".hfx-generation-explorer", PICTURE):
        page.locator(selector).wait_for(state="visible", timeout=KERNEL_TIMEOUT_MS)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=KERNEL_TIMEOUT_MS)
    _wait_idle(page)
    page.screenshot(path=str(ARTIFACTS / "01_after_run_all.png"), full_page=True)
    assert "Error displaying widget" not in page.content()
    assert page.locator(".hfx-notice-error").count() == 0

    # --- TokenizerDashboard: typing updates chips, counts and the highlighted source -----------
    tokens = page.locator(".hfx-tokenizer-dashboard")
    counts = ".hfx-tokenizer-dashboard .hfx-counts"
    before = _text(page, counts)
    assert before.startswith("36 characters")
    assert tokens.locator(".hfx-chip.hfx-special").count() >= 2  # [CLS] and [SEP] in the MiniLM panel
    assert tokens.locator(".hfx-chip.hfx-cont").count() >= 1  # ##izer
    box = tokens.locator(".hfx-tokenizer-input textarea")
    box.click()
    box.press("End")
    box.press_sequentially(" Hello Kenobi", delay=20)
    _wait_text_change(page, counts, before)
    _wait_for(page, "document.querySelector('.hfx-tokenizer-dashboard .hfx-counts').textContent.startsWith('49 characters')")
    assert tokens.locator(".hfx-chip", has_text="##ob").count() >= 1  # "kenobi" -> ken ##ob ##i
    tokens.screenshot(path=str(ARTIFACTS / "02_tokenizer_after_typing.png"))

    # --- AttentionDashboard: a slider moves the heatmap to another layer ------------------------
    attention = page.locator(ATTENTION)
    attention.scroll_into_view_if_needed()
    _wait_for(page, _annotation_starts_with(ATTENTION, "layer 0, head 0"))
    image_before = attention.locator(".hm image").first.get_attribute("href")
    handle = attention.locator(".hfx-layer-slider .noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")
    handle.press("ArrowRight")
    _wait_for(page, _annotation_starts_with(ATTENTION, "layer 2, head 0"))
    image_after = attention.locator(".hm image").first.get_attribute("href")
    assert image_after != image_before  # the heatmap itself was redrawn with layer 2's pattern

    # hovering a cell highlights its row and column (two frames drawn after a round trip to Python)
    shapes = f"document.querySelectorAll('{ATTENTION} .shapelayer path').length"
    assert page.evaluate(shapes) == 1  # only the model view's frame around the chosen head
    heatmap_area = attention.locator(".draglayer > .xy > .nsewdrag").first.bounding_box()
    page.mouse.move(heatmap_area["x"] + heatmap_area["width"] * 0.3, heatmap_area["y"] + heatmap_area["height"] * 0.6)
    _wait_for(page, f"{shapes} >= 3")
    attention.screenshot(path=str(ARTIFACTS / "03_attention_layer_2_hover.png"))

    # clicking a model-view thumbnail zooms into that layer and head (6 layers x 12 heads here)
    model_drag = attention.locator(".draglayer > .x3y3 > .nsewdrag").first
    model_drag.scroll_into_view_if_needed()
    model_area = model_drag.bounding_box()
    layer, head = 4, 7
    page.mouse.click(model_area["x"] + model_area["width"] * (head + 0.5) / 12,
                     model_area["y"] + model_area["height"] * (layer + 0.5) / 6)
    _wait_for(page, _annotation_starts_with(ATTENTION, "layer 4, head 7"))
    readouts = attention.locator(".widget-readout")
    assert [readouts.nth(0).text_content().strip(), readouts.nth(1).text_content().strip()] == ["4", "7"]
    attention.screenshot(path=str(ARTIFACTS / "04_attention_clicked_layer_4_head_7.png"))

    # --- GenerationExplorer: append a token, then cut the distribution with top-k ------------
    explorer = page.locator(".hfx-generation-explorer")
    explorer.scroll_into_view_if_needed()
    explorer.locator(".hfx-next-button").click()
    explorer.locator(".hfx-generated").first.wait_for(state="visible", timeout=UPDATE_TIMEOUT_MS)
    _wait_for(page, _annotation_contains(".hfx-generation-explorer", "400 of 400 tokens can be picked"))
    top_k = explorer.locator(".hfx-topk-slider .noUi-handle").first
    top_k.focus()
    for _ in range(5):
        top_k.press("ArrowRight")
    _wait_for(page, _annotation_contains(".hfx-generation-explorer", ": 5 of 400 tokens can be picked"))
    explorer.screenshot(path=str(ARTIFACTS / "05_generation_top_k_5.png"))

    # --- AttentionDashboard on an image: the picture, and the query slider moves its patch map ----
    picture = page.locator(PICTURE)
    picture.scroll_into_view_if_needed()
    _wait_for(page, _annotation_starts_with(PICTURE, "query [CLS] over the 4x4 patches"))
    assert picture.locator(".x4y4 .im image").count() == 1  # the photograph, sent as a PNG
    grid_before = picture.locator(".x4y4 .hm image").first.get_attribute("href")
    query = picture.locator(".hfx-query-slider .noUi-handle").first
    query.focus()
    query.press("ArrowRight")
    _wait_for(page, _annotation_starts_with(PICTURE, "query (0,0) over the 4x4 patches"))
    assert picture.locator(".x4y4 .hm image").first.get_attribute("href") != grid_before
    picture.screenshot(path=str(ARTIFACTS / "06_attention_on_an_image.png"))

    page.screenshot(path=str(ARTIFACTS / "07_final.png"), full_page=True)
    assert "Error displaying widget" not in page.content()
    assert page.locator(".hfx-notice-error").count() == 0
    assert offsite == [], f"the page tried to load from the network: {offsite[:5]}"
