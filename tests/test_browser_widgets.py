"""Typing, training and glyphs in a real browser: JupyterLab + headless Chromium (tests/test_browser.py's setup).

On tests/notebooks/widgets_typing_training.ipynb:

- a TrainingDashboard shown, then trained in the next cell (lesson 10), draws every curve;
  when the run ends, ▶ replays it step by step and the slider goes back through the steps
  (tests/test_widgets_training.py holds the blank-plot fix: the synced state keeps every update);
- Enter runs the attention dashboard's text and the explorer's prompt (no new line in the
  prompt); Shift+Enter types a new line and runs nothing;
- with three tokenizer panels side by side, each count line stays on one line;
- the marks the exercise checkers print (✅ ❌) and lesson 01's 🐍 are drawn with a font that has
  them, not as empty boxes (scripts/setup_browser.sh installs an emoji font).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import jupyter_browser as jb  # the Jupyter server / Chromium helpers shared with tests/test_browser.py
import test_browser as browser  # its constants and waits (imported as a module: its test is not re-collected)

pytestmark = pytest.mark.browser

NOTEBOOK = Path(__file__).resolve().parent / "notebooks" / "widgets_typing_training.ipynb"
TRAINING = ".hfx-training-dashboard"
ATTENTION = ".hfx-attention-dashboard"
EXPLORER = ".hfx-generation-explorer"


def test_typing_training_and_glyphs_in_chromium(tmp_path):
    chromium = jb.chromium()
    if chromium is None:
        pytest.skip("chromium is not installed: run `bash scripts/setup_browser.sh` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    browser.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOK, tmp_path / "notebooks" / NOTEBOOK.name)
    port = jb.free_port()
    with open(browser.ARTIFACTS / "jupyterlab_typing_training.log", "w") as log:
        server = jb.start_server("lab", tmp_path, port, log)
        try:
            jb.wait_until_ready(server, port)
            with sync_playwright() as playwright:
                chrome = playwright.chromium.launch(executable_path=chromium, args=jb.CHROMIUM_FLAGS, headless=True)
                try:
                    context = chrome.new_context(viewport={"width": 1400, "height": 1000})
                    context.set_default_timeout(browser.UPDATE_TIMEOUT_MS)
                    _drive(context.new_page(), port)
                finally:
                    chrome.close()
        finally:
            jb.stop(server)


def _count(page, selector: str) -> int:
    return page.evaluate(f"document.querySelectorAll({json.dumps(selector)}).length")


def _wait_for(page, condition: str) -> None:
    browser._wait_for(page, condition)


def _text_is(selector: str, text: str) -> str:
    return f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent === {json.dumps(text)}"


def _text_has(selector: str, text: str) -> str:
    return f"((document.querySelector({json.dumps(selector)}) || {{}}).textContent || '').includes({json.dumps(text)})"


def _drive(page, port: int) -> None:
    page.goto(jb.notebook_url("lab", port, NOTEBOOK.name), timeout=browser.KERNEL_TIMEOUT_MS)
    jb.wait_idle(page)
    jb.run_all_cells(page)
    for selector in (TRAINING, ".hfx-tokenizer-dashboard", ATTENTION, EXPLORER):
        page.locator(selector).wait_for(state="visible", timeout=browser.KERNEL_TIMEOUT_MS)
    jb.wait_idle(page)
    assert "Error displaying widget" not in page.content()

    # --- TrainingDashboard: every curve drawn while the run goes on in the next cell -------------------
    status = f"{TRAINING} .hfx-training-status"
    _wait_for(page, _text_has(status, "step 8/8") + " && " + _text_has(status, "done"))
    points = f"{TRAINING} .scatterlayer .trace .point"
    _wait_for(page, f"document.querySelectorAll('{points}').length >= 10")  # 8 train losses + 2 eval losses
    assert _count(page, f"{TRAINING} .legend .traces") == 3  # train loss, eval loss, learning rate
    page.locator(TRAINING).screenshot(path=str(browser.ARTIFACTS / "11_training_drawn.png"))

    # ▶ replays the run from its first step to its last; the slider steps back through it
    replay = page.locator(f"{TRAINING} .hfx-replay")
    assert replay.is_visible()
    replay.locator(".hfx-replay-play button").first.click()
    _wait_for(page, _text_has(status, "replay: step"))
    _wait_for(page, _text_has(status, "done"))  # played through to step 8
    page.wait_for_timeout(1000)  # ▶ stops at its next tick (300 ms) after the last step
    handle = replay.locator(".hfx-replay-slider .noUi-handle").first
    handle.focus()
    for expected in (7, 6, 5):  # one stop back per key, each drawn before the next
        handle.press("ArrowLeft")
        _wait_for(page, _text_has(status, f"replay: step {expected}/8"))
    _wait_for(page, f"document.querySelectorAll('{points}').length === 6")  # steps 1-5 and the eval at step 4
    page.locator(TRAINING).screenshot(path=str(browser.ARTIFACTS / "12_training_replay_step_5.png"))

    # --- tokenizer count lines: one line each, in three narrow panels ------------------------------
    heights = page.evaluate(
        "[...document.querySelectorAll('.hfx-tokenizer-dashboard .hfx-counts')].map(e =>"
        " [e.getBoundingClientRect().height, parseFloat(getComputedStyle(e).lineHeight) ||"
        " 1.2 * parseFloat(getComputedStyle(e).fontSize)])"
    )
    assert len(heights) == 3 and all(height < 1.6 * line for height, line in heights), heights

    # --- AttentionDashboard: Enter runs the new text ------------------------------------------------
    attention = page.locator(ATTENTION)
    attention.scroll_into_view_if_needed()
    query_ticks = (f"[...document.querySelectorAll('{ATTENTION} .yaxislayer-above .ytick text')]"
                   ".filter(e => e.textContent.includes('\u00b7')).length")
    before = page.evaluate(query_ticks)
    assert before >= 2
    box = attention.locator(".hfx-attention-input textarea")
    box.click()
    box.press("End")
    box.press_sequentially(" sorted", delay=20)
    box.press("Enter")  # focus stays in the box: only Enter can have run it
    _wait_for(page, f"{query_ticks} > {before}")
    assert box.input_value() == "The list sorted"

    # --- GenerationExplorer: Enter restarts from the prompt; Shift+Enter is a new line in it ---------
    explorer = page.locator(EXPLORER)
    explorer.scroll_into_view_if_needed()
    source = f"{EXPLORER} .hfx-source"
    assert page.evaluate(f"document.querySelector('{source}').textContent") == "The list"
    prompt = explorer.locator(".hfx-prompt-input textarea")
    prompt.click()
    prompt.press("End")
    prompt.press_sequentially(" sorted", delay=20)
    prompt.press("Enter")
    _wait_for(page, _text_is(source, "The list sorted"))  # no "\n" token in the prompt
    prompt.press("End")
    prompt.press_sequentially(" x", delay=20)
    prompt.press("Shift+Enter")  # a new line in the box; the cell is not run again
    prompt.press_sequentially("y", delay=20)
    page.wait_for_timeout(300)
    assert page.evaluate(f"document.querySelector('{source}').textContent") == "The list sorted"
    prompt.press("Enter")
    _wait_for(page, _text_is(source, "The list sorted x\ny"))
    explorer.screenshot(path=str(browser.ARTIFACTS / "13_explorer_after_enter.png"))

    # --- the marks lessons print are drawn, not empty boxes -------------------------------------------
    output = page.locator(".jp-OutputArea-output pre", has_text="correct").first
    output.scroll_into_view_if_needed()
    drawn = output.evaluate(
        """(pre) => {
            const font = getComputedStyle(pre).font;
            const canvas = document.createElement('canvas');
            canvas.width = canvas.height = 48;
            const context = canvas.getContext('2d', { willReadFrequently: true });
            const draw = (text) => {
                context.clearRect(0, 0, 48, 48);
                context.font = font.replace(/\\d+(\\.\\d+)?px/, '32px');
                context.fillStyle = '#000';
                context.fillText(text, 4, 36);
                return Array.from(context.getImageData(0, 0, 48, 48).data).join(',');
            };
            const missing = draw('\\u{10FFFD}');  // a private-use character no font draws: the empty box
            return Object.fromEntries(['\\u2705', '\\u274c', '\\u{1F40D}'].map(mark => [mark, draw(mark) !== missing]));
        }"""
    )
    page.screenshot(path=str(browser.ARTIFACTS / "14_typing_training_final.png"), full_page=True)
    assert all(drawn.values()), f"drawn as an empty box (no font has them): {[m for m, ok in drawn.items() if not ok]}"
    assert page.locator(".hfx-notice-error").count() == 0
