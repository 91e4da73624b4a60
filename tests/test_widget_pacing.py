"""How the dashboards meet the browser: redraws paced to the browser, arrow keys for the sliders.

The browser's side is simulated as ipywidgets sees it: a slider value from the page arrives
through ``set_state`` (under a property lock), inside the kernel's running event loop. The real
thing runs in tests/test_browser.py (JupyterLab and Notebook 7 in Chromium).
"""
from __future__ import annotations

import asyncio

import pytest

from hfexplain import GPT2Config, GPT2LMHeadModel, Tokenizer

widgets = pytest.importorskip("hfexplain.widgets", reason="needs the widget extras: pip install 'hfexplain[widgets]'")
from hfexplain.widgets import AttentionDashboard, GenerationExplorer, TokenizerDashboard  # noqa: E402
from hfexplain.widgets._browser import DASHBOARD_CLASS, SLIDER_KEYS, SliderKeys  # noqa: E402

from test_widgets import _train_bpe  # noqa: E402


@pytest.fixture(scope="module")
def bpe_tok():
    return Tokenizer(tokenizer_object=_train_bpe(), bos_token="<|endoftext|>", eos_token="<|endoftext|>")


@pytest.fixture(scope="module")
def gpt2(bpe_tok):
    config = GPT2Config(n_embd=32, n_layer=4, n_head=2, vocab_size=len(bpe_tok), n_positions=32)
    return GPT2LMHeadModel(config).eval()


def _title(dash) -> str:
    return dash.figure.layout.annotations[0].text


def test_slider_values_from_the_browser_are_drawn_at_most_once_per_window(gpt2, bpe_tok):
    dash = AttentionDashboard(gpt2, bpe_tok, "one two three four")
    window = dash._pacer.WINDOW_S

    async def drag():
        dash.layer_slider.set_state({"value": 1})  # a key press in the page: drawn at once
        assert _title(dash).startswith("layer 1, head 0")
        dash.layer_slider.set_state({"value": 2})  # within the window: waits
        dash.layer_slider.set_state({"value": 3})
        assert dash.layer == 3 and _title(dash).startswith("layer 1, head 0")
        assert dash._pacer.stale and dash._pacer.skipped == 1  # layer 2 is never drawn
        dash.layer_slider.value = 0  # from Python: at once, whatever the browser is doing
        assert _title(dash).startswith("layer 0, head 0")
        dash.layer_slider.set_state({"value": 3})
        await asyncio.sleep(window + 0.1)  # the window's end draws the latest value
        assert _title(dash).startswith("layer 3, head 0") and not dash._pacer.stale
        await asyncio.sleep(window)
        dash.head_slider.set_state({"value": 1})  # a press after a pause: at once again
        assert _title(dash).startswith("layer 3, head 1")

    asyncio.run(drag())


def test_without_an_event_loop_nothing_waits(gpt2, bpe_tok):
    dash = AttentionDashboard(gpt2, bpe_tok, "one two three four")
    for layer in (1, 2, 3):  # no loop to fire a delayed redraw: each value is drawn
        dash.layer_slider.set_state({"value": layer})
        assert _title(dash).startswith(f"layer {layer}, head 0")


def test_generation_sliders_are_paced_too(gpt2, bpe_tok):
    explorer = GenerationExplorer(gpt2, bpe_tok, "one two")
    bars = list(explorer.processed_bars.y)

    async def drag():
        explorer.temperature.set_state({"value": 0.5})
        after_first = list(explorer.processed_bars.y)
        assert after_first != bars
        explorer.temperature.set_state({"value": 2.0})  # within the window
        assert list(explorer.processed_bars.y) == after_first
        await asyncio.sleep(explorer._pacer.WINDOW_S + 0.1)
        _, processed = explorer.distribution()
        top = sorted(range(len(processed)), key=lambda i: -float(explorer.logits[i]))[:3]
        assert list(explorer.processed_bars.y)[:3] == [round(float(processed[i]), 4) for i in top]

    asyncio.run(drag())


def test_every_dashboard_carries_the_slider_key_script(gpt2, bpe_tok):
    for dash in (AttentionDashboard(gpt2, bpe_tok, "one two"), GenerationExplorer(gpt2, bpe_tok, "one"),
                 TokenizerDashboard(bpe_tok, "one two")):
        root = dash.widget
        assert DASHBOARD_CLASS in root._dom_classes
        helpers = [child for child in root.children if isinstance(child, SliderKeys)]
        assert len(helpers) == 1
        dash.widget  # showing it again adds nothing
        assert sum(isinstance(child, SliderKeys) for child in root.children) == 1
    script = SliderKeys._esm
    assert "data-lm-suppress-shortcuts" in script and f".{DASHBOARD_CLASS}" in script
    assert all(f'"{key}"' in script for key in SLIDER_KEYS)
