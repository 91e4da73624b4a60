"""The dashboards in a real browser: JupyterLab and Notebook 7 in headless Chromium, driven by Playwright.

What a unit test cannot see: that the widgets render at all (no "Error displaying
widget"), that the installed Jupyter extensions serve every bit of JavaScript (nothing from
a CDN: the browser is started with networking features off), and that typing and sliders
round-trip through the kernel and change what is drawn. JupyterLab gets the whole check;
Notebook 7 (the same widget JavaScript, another page around it) a shorter one: the dashboards
render, typing updates the tokens, and arrow keys move the sliders after a click on the handle
(Notebook 7 reads them as its own shortcuts otherwise). Each layer-slider key press is timed
from the ``keydown`` to the redrawn heatmap in the DOM (``jupyter_browser.input_to_redraw_ms``;
``test-artifacts/browser/<frontend>-latency.json``); ``benchmarks/widgets_browser.py`` reports it
at 128 and 512 tokens.

Needs Debian's Chromium (``bash scripts/setup_browser.sh``) and Playwright (the [dev]
extra); never ``playwright install``. Screenshots land in ``test-artifacts/browser/``.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import jupyter_browser as jb

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = Path(__file__).resolve().parent / "notebooks" / "widgets_demo.ipynb"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
KERNEL_TIMEOUT_MS = jb.KERNEL_TIMEOUT_MS  # the kernel starting, or running every cell (~15 s here)
UPDATE_TIMEOUT_MS = 30_000  # one round trip: browser -> kernel -> browser (~0.1 s here)
ATTENTION = ".hfx-attention-dashboard:not(.hfx-attention-picture)"  # the text one (the ViT's draws a picture)
PICTURE = ".hfx-attention-picture"


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


@pytest.mark.parametrize("frontend", jb.FRONTENDS)
def test_dashboards_render_and_respond_in_chromium(tmp_path, frontend):
    """Everything in JupyterLab; in Notebook 7 the dashboards render, typing works and arrow keys move sliders."""
    chromium = jb.chromium()
    if chromium is None:
        pytest.skip("chromium is not installed: run `bash scripts/setup_browser.sh` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright  # in the [dev] extra: its absence is a setup error, not a skip

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOK, tmp_path / "notebooks" / NOTEBOOK.name)
    port = jb.free_port()
    log_path = ARTIFACTS / f"{frontend}-server.log"
    with open(log_path, "w") as log:
        server = jb.start_server(frontend, tmp_path, port, log)
        try:
            jb.wait_until_ready(server, port)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=jb.CHROMIUM_FLAGS, headless=True)
                try:
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})
                    context.set_default_timeout(UPDATE_TIMEOUT_MS)
                    page = context.new_page()
                    _drive(page, port, frontend)
                finally:
                    browser.close()
        finally:
            jb.stop(server)


def _press_on_slider(page, root: str, slider: str, key: str, times: int, latencies: list | None = None) -> None:
    """Click a slider's handle, as a learner does, then press ``key`` on the keyboard ``times`` times.

    The handle must keep the focus and each key must move the slider (Notebook 7 read the arrow keys
    as its own shortcuts: the focus went to a cell). ``latencies`` collects input-to-redraw times of
    the heatmap (ms), measured, not asserted: they depend on the machine's load.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    handle = page.locator(root).locator(f"{slider} .noUi-handle").first
    handle.click()
    is_focused = "() => document.activeElement && document.activeElement.matches(%s)" % json.dumps(f"{root} {slider} .noUi-handle")
    assert page.evaluate(is_focused), "a click on the slider's handle must give it the keyboard focus"
    readout = page.locator(root).locator(f"{slider} .widget-readout").first
    for _ in range(times):
        before = readout.text_content()
        try:
            if latencies is None:
                page.keyboard.press(key)
            else:
                latencies.append(jb.input_to_redraw_ms(page, root, "heatmap", lambda: page.keyboard.press(key),
                                                       timeout_ms=UPDATE_TIMEOUT_MS))
            page.wait_for_function("([e, before]) => e.textContent !== before", arg=[readout.element_handle(), before],
                                   timeout=UPDATE_TIMEOUT_MS)
        except PlaywrightTimeout:
            pytest.fail(f"{key} on the focused {slider} handle did not move the slider (now on "
                        f"{page.evaluate('() => document.activeElement.className')!r})")
        assert page.evaluate(is_focused), f"{key} took the focus away from the slider (a notebook shortcut ran)"


def _shot(frontend: str, name: str) -> str:
    return str(ARTIFACTS / f"{frontend}-{name}")


def _drive(page, port: int, frontend: str) -> None:
    offsite = []  # every request that leaves 127.0.0.1: there must be none
    page.on("request", lambda request: None if request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
            else offsite.append(request.url))
    # The largest message the page sends to the kernel. plotly's FigureWidget sends changed traces back
    # after each redraw; a heatmap z sent as plotly's binary 2-D spec came back as rows x the whole
    # array (tens of MB here, 512 MB for a 512-token dashboard: see widgets/_common.py heatmap_z).
    sent = [0]
    page.on("websocket", lambda socket: socket.on("framesent", lambda payload: sent.append(len(payload))))
    page.goto(jb.notebook_url(frontend, port, NOTEBOOK.name), timeout=KERNEL_TIMEOUT_MS)
    jb.wait_idle(page)
    jb.run_all_cells(page)

    # All three dashboards appear; the attention dashboard and the explorer draw one plotly figure each.
    for selector in (".hfx-tokenizer-dashboard", ATTENTION, ".hfx-generation-explorer", PICTURE):
        page.locator(selector).wait_for(state="visible", timeout=KERNEL_TIMEOUT_MS)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=KERNEL_TIMEOUT_MS)
    jb.wait_idle(page)
    page.screenshot(path=_shot(frontend, "01_after_run_all.png"), full_page=True)
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
    # "kenobi" -> ken ##ob ##i (the chips are their own widget: their update may land after the counts')
    tokens.locator(".hfx-chip", has_text="##ob").first.wait_for(state="visible", timeout=UPDATE_TIMEOUT_MS)
    tokens.screenshot(path=_shot(frontend, "02_tokenizer_after_typing.png"))

    # --- AttentionDashboard: a slider moves the heatmap to another layer ------------------------
    attention = page.locator(ATTENTION)
    attention.scroll_into_view_if_needed()
    _wait_for(page, _annotation_starts_with(ATTENTION, "layer 0, head 0"))
    image_before = attention.locator(".hm image").first.get_attribute("href")
    latencies = []  # key press -> the redrawn heatmap in the DOM, ms
    _press_on_slider(page, ATTENTION, ".hfx-layer-slider", "ArrowRight", 2, latencies)
    _wait_for(page, _annotation_starts_with(ATTENTION, "layer 2, head 0"))
    image_after = attention.locator(".hm image").first.get_attribute("href")
    assert image_after != image_before  # the heatmap itself was redrawn with layer 2's pattern
    _press_on_slider(page, ATTENTION, ".hfx-layer-slider", "ArrowLeft", 1, latencies)
    _press_on_slider(page, ATTENTION, ".hfx-layer-slider", "ArrowRight", 1, latencies)
    _wait_for(page, _annotation_starts_with(ATTENTION, "layer 2, head 0"))
    (ARTIFACTS / f"{frontend}-latency.json").write_text(json.dumps({"attention_layer_key_ms": latencies}) + "\n")
    print(f"{frontend}: layer slider key press -> redrawn heatmap: {', '.join(f'{ms:.0f}' for ms in latencies)} ms")

    if frontend == "notebook":  # the shorter check: the rest is the same JavaScript as in JupyterLab
        return _finish(page, frontend, offsite, sent)

    # hovering a cell highlights its row and column (two frames drawn after a round trip to Python)
    shapes = f"document.querySelectorAll('{ATTENTION} .shapelayer path').length"
    assert page.evaluate(shapes) == 1  # only the model view's frame around the chosen head
    heatmap_area = attention.locator(".draglayer > .xy > .nsewdrag").first.bounding_box()
    page.mouse.move(heatmap_area["x"] + heatmap_area["width"] * 0.3, heatmap_area["y"] + heatmap_area["height"] * 0.6)
    _wait_for(page, f"{shapes} >= 3")
    attention.screenshot(path=_shot(frontend, "03_attention_layer_2_hover.png"))

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
    attention.screenshot(path=_shot(frontend, "04_attention_clicked_layer_4_head_7.png"))

    # --- GenerationExplorer: append a token, then cut the distribution with top-k ------------
    explorer = page.locator(".hfx-generation-explorer")
    explorer.scroll_into_view_if_needed()
    explorer.locator(".hfx-next-button").click()
    explorer.locator(".hfx-generated").first.wait_for(state="visible", timeout=UPDATE_TIMEOUT_MS)
    _wait_for(page, _annotation_contains(".hfx-generation-explorer", "400 of 400 tokens can be picked"))
    _press_on_slider(page, ".hfx-generation-explorer", ".hfx-topk-slider", "ArrowRight", 5)
    _wait_for(page, _annotation_contains(".hfx-generation-explorer", ": 5 of 400 tokens can be picked"))
    explorer.screenshot(path=_shot(frontend, "05_generation_top_k_5.png"))

    # --- AttentionDashboard on an image: the picture, and the query slider moves its patch map ----
    picture = page.locator(PICTURE)
    picture.scroll_into_view_if_needed()
    _wait_for(page, _annotation_starts_with(PICTURE, "query [CLS] over the 4x4 patches"))
    assert picture.locator(".x4y4 .im image").count() == 1  # the photograph, sent as a PNG
    grid_before = picture.locator(".x4y4 .hm image").first.get_attribute("href")
    _press_on_slider(page, PICTURE, ".hfx-query-slider", "ArrowRight", 1)
    _wait_for(page, _annotation_starts_with(PICTURE, "query (0,0) over the 4x4 patches"))
    assert picture.locator(".x4y4 .hm image").first.get_attribute("href") != grid_before
    picture.screenshot(path=_shot(frontend, "06_attention_on_an_image.png"))

    _finish(page, frontend, offsite, sent)


def _finish(page, frontend: str, offsite: list, sent: list) -> None:
    page.screenshot(path=_shot(frontend, "07_final.png"), full_page=True)
    assert "Error displaying widget" not in page.content()
    assert page.locator(".hfx-notice-error").count() == 0
    assert offsite == [], f"the page tried to load from the network: {offsite[:5]}"
    print(f"{frontend}: largest message from the page to the kernel: {max(sent):,} bytes")
    assert max(sent) < 1_000_000, f"the page sent the kernel a {max(sent):,}-byte message (plotly echoing a trace?)"
