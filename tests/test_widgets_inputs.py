"""Text boxes that run on Enter, and labels that fit: the explorer's tick labels and colour bar, the
tokenizer panels' count lines. (The browser half is tests/test_browser_widgets.py.)"""
from __future__ import annotations

import pytest
import torch

ipywidgets = pytest.importorskip("ipywidgets", reason="needs the widget extras")
pytest.importorskip("plotly", reason="needs the widget extras")

from hfexplain import GPT2Config, GPT2LMHeadModel, Tokenizer  # noqa: E402
from hfexplain.widgets import AttentionDashboard, GenerationExplorer, TokenizerDashboard  # noqa: E402
from hfexplain.widgets._common import SubmitText  # noqa: E402
from hfexplain.widgets.generation import COLORBAR_TICK_PX, TICK_CHARACTERS, tick_label  # noqa: E402

from test_widgets import _train_bpe  # noqa: E402


@pytest.fixture(scope="module")
def bpe_tok():
    return Tokenizer(tokenizer_object=_train_bpe(), bos_token="<|endoftext|>", eos_token="<|endoftext|>")


@pytest.fixture(scope="module")
def gpt2(bpe_tok):
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=2, n_head=2, vocab_size=len(bpe_tok), n_positions=64)).eval()


def test_the_text_boxes_run_on_enter_and_keep_shift_enter_for_a_new_line(gpt2, bpe_tok):
    attention = AttentionDashboard(gpt2, bpe_tok, "The list")
    explorer = GenerationExplorer(gpt2, bpe_tok, "The list")
    for box in (attention.text_box, explorer.prompt_box):
        assert isinstance(box, SubmitText)  # not a Textarea, where Enter types a "\n" and nothing runs
        assert "press Enter to run it (Shift+Enter: a new line)" in box.placeholder
    script = SubmitText._esm
    assert 'event.key === "Enter" && !event.shiftKey' in script and "event.preventDefault()" in script
    assert "stopPropagation" in script  # Shift+Enter must not reach the notebook (it runs the cell)
    # a submitted text (what Enter sends) runs at once; a new line typed with Shift+Enter stays in the prompt
    explorer.prompt_box.value = "def f():\n    return"
    assert explorer.ids == list(bpe_tok("def f():\n    return")["input_ids"])
    attention.text_box.value = "The list sorted"
    assert len(attention.tokens) == len(bpe_tok("The list sorted")["input_ids"])


def test_tick_labels_are_short_and_keep_their_spaces():
    assert tick_label("'x'") == "'x'"
    assert tick_label("'        '") == "'" + "\u00a0" * 8 + "'"  # SVG would collapse the spaces
    long = tick_label("' supercalifragilistic'")
    assert len(long) == TICK_CHARACTERS and long.endswith("…'") and long.startswith("'\u00a0super")
    assert tick_label("12 '</s>'") == "12\u00a0'&lt;/s&gt;'"  # drawn literally by plotly
    assert "&l…" not in tick_label("'" + "<" * 20 + "'")  # cut before escaping: no broken entity


def test_the_explorer_draws_short_ticks_and_a_readable_colour_bar(gpt2, bpe_tok):
    explorer = GenerationExplorer(gpt2, bpe_tok, "The list")
    explorer.step(14)
    layout, cache = explorer.figure.layout, explorer.cache_view
    assert list(layout.xaxis2.tickvals) == list(cache.x)  # the full labels stay in the data (and the hover)
    assert all(len(text) <= TICK_CHARACTERS for text in layout.xaxis.ticktext + layout.xaxis2.ticktext)
    assert len(layout.xaxis.ticktext) == len(explorer.model_bars.x)
    steps = max(explorer.cache_added_at) + 1
    grid_px = layout.yaxis2.domain[1] * (layout.height - layout.margin.t - layout.margin.b)
    ticks = -(-steps // cache.colorbar.dtick)
    assert steps == 15 and cache.colorbar.dtick > 1 and ticks * COLORBAR_TICK_PX <= grid_px + COLORBAR_TICK_PX
    explorer.reset()
    assert explorer.cache_view.colorbar.dtick == 1  # a prompt alone: every step labelled


def test_tokenizer_count_lines_stay_on_one_line(bpe_tok):
    dashboard = TokenizerDashboard({"a": bpe_tok, "b": bpe_tok, "c": bpe_tok}, "Tokenizers split unbelievable words.")
    titles = [child for child in _all_widgets(dashboard.widget)
              if isinstance(child, ipywidgets.HTML) and 'class="hfx-counts hfx-token-counts"' in child.value]
    assert len(titles) == 3
    for title in titles:
        assert "chars/token</div>" in title.value  # the short form in the panel...
        assert 'title="36 characters · ' in title.value and "characters per token" in title.value  # ...the whole in the tooltip
    assert ".hfx-token-counts { white-space: nowrap;" in titles[0].value
    assert "characters per token" in dashboard.text()  # the text fallback keeps the long form


def _all_widgets(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _all_widgets(child)
