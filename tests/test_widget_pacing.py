"""How the dashboards meet the browser: redraws paced to the browser, arrow keys for the sliders.

The browser's side is simulated as ipywidgets and plotly see it: a slider value from the page
arrives through ``set_state`` (under a property lock), and plotly's view reports each update it has
drawn by setting ``_js2py_layoutDelta`` with that update's ``layout_edit_id``. The real thing runs
in tests/test_browser.py (JupyterLab and Notebook 7 in Chromium).
"""
from __future__ import annotations

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


def _browser_drew_last_update(figure) -> None:
    """What plotly's view sends once Plotly.update has drawn the newest update."""
    figure._js2py_layoutDelta = {"layout_delta": {}, "layout_edit_id": figure._last_layout_edit_id}


def test_slider_values_from_the_browser_wait_for_the_last_redraw(gpt2, bpe_tok):
    dash = AttentionDashboard(gpt2, bpe_tok, "one two three four")
    dash.layer_slider.set_state({"value": 1})  # a key press in the page: drawn at once
    assert _title(dash).startswith("layer 1, head 0")
    dash.layer_slider.set_state({"value": 2})  # the browser is still drawing layer 1: wait
    dash.layer_slider.set_state({"value": 3})
    assert dash.layer == 3 and _title(dash).startswith("layer 1, head 0")
    assert dash._pacer.stale and dash._pacer.skipped == 1  # layer 2 is never drawn
    _browser_drew_last_update(dash.figure)  # layer 1 is on screen: now the latest, layer 3
    assert _title(dash).startswith("layer 3, head 0") and not dash._pacer.stale
    _browser_drew_last_update(dash.figure)
    dash.head_slider.set_state({"value": 1})  # nothing pending: at once again
    assert _title(dash).startswith("layer 3, head 1")

    # a report for an older update (the hover's, say) does not release the wait
    dash.layer_slider.set_state({"value": 0})
    stale_id = dash.figure._last_layout_edit_id - 1
    dash.figure._js2py_layoutDelta = {"layout_delta": {}, "layout_edit_id": stale_id}
    assert dash._pacer.sent_at is not None

    # values set from Python draw at once, whatever the browser is doing
    dash.layer_slider.value = 2
    assert _title(dash).startswith("layer 2, head 1")


def test_a_browser_that_never_reports_holds_nothing_back_for_long(gpt2, bpe_tok, monkeypatch):
    dash = AttentionDashboard(gpt2, bpe_tok, "one two three four")
    dash.layer_slider.set_state({"value": 1})
    sent = dash._pacer.sent_at
    monkeypatch.setattr("hfexplain.widgets._browser.time.monotonic", lambda: sent + dash._pacer.STALE_S + 0.1)
    dash.layer_slider.set_state({"value": 2})  # the view was closed: no report came
    assert _title(dash).startswith("layer 2, head 0")


def test_generation_sliders_are_paced_too(gpt2, bpe_tok):
    explorer = GenerationExplorer(gpt2, bpe_tok, "one two")
    bars = list(explorer.processed_bars.y)
    explorer.temperature.set_state({"value": 0.5})
    after_first = list(explorer.processed_bars.y)
    assert after_first != bars
    explorer.temperature.set_state({"value": 2.0})  # while 0.5 is being drawn
    assert list(explorer.processed_bars.y) == after_first
    _browser_drew_last_update(explorer.figure)
    _, processed = explorer.distribution()
    top = sorted(range(len(processed)), key=lambda i: -float(explorer.logits[i]))[:3]
    assert list(explorer.processed_bars.y)[:3] == [round(float(processed[i]), 4) for i in top]


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
