"""hfexplain's GPT-Neo against transformers' (the reference, test-only).

Parity through tests/parity.py (every head, tiny configs saved by transformers, padded
batches: outputs, hidden states, patterns vs eager ``output_attentions``, the hook aliases,
greedy tokens with the KV cache on and off, our save read by transformers), then what is
GPT-Neo's own: the local window seen in the patterns and kept by the KV cache past the
window, the unscaled scores, the config error for ``attention_types``, the learned-position
limit of ``generate``, old checkpoints with mask buffers, the pipelines and the tokenizer.
"""
from __future__ import annotations

import os
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

import parity
from hfexplain import AutoConfig, AutoModelForCausalLM, AutoTokenizer, pipeline
from hfexplain.assets import tiny_gpt2_path
from hfexplain.layers import build_attention_mask
from hfexplain.models.gpt_neo import (
    GPTNeoConfig,
    GPTNeoForCausalLM,
    GPTNeoForSequenceClassification,
    GPTNeoModel,
    local_attention_mask,
)

transformers = parity.quiet_transformers()

TOKENS = dict(bos_token_id=0, eos_token_id=0, pad_token_id=1)
CONFIGS = {
    # global, local, local; a window of 3 (< parity.SEQ = 9), odd hidden size per head count
    "mixed": dict(vocab_size=101, hidden_size=24, num_layers=3, num_heads=3, window_size=3, intermediate_size=40,
                  max_position_embeddings=32, attention_types=[[["global", "local"], 1], [["local"], 1]], **TOKENS),
    # the default alternation, a window of 1 (each token sees only itself), relu, no intermediate_size
    "window_one": dict(vocab_size=64, hidden_size=16, num_layers=2, num_heads=2, window_size=1,
                       max_position_embeddings=24, activation_function="relu",
                       attention_types=[[["global", "local"], 1]], **TOKENS),
    # local first, window longer than the batch (the same as global here), four heads
    "wide_window": dict(vocab_size=97, hidden_size=32, num_layers=2, num_heads=4, window_size=16,
                        max_position_embeddings=40, attention_types=[[["local", "global"], 1]], **TOKENS),
}
PAIRS = [
    (transformers.GPTNeoModel, GPTNeoModel),
    (transformers.GPTNeoForCausalLM, GPTNeoForCausalLM),
    (transformers.GPTNeoForSequenceClassification, GPTNeoForSequenceClassification),
]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.parametrize("reference_class, our_class, config", parity.cases(PAIRS, CONFIGS))
def test_parity_with_transformers(reference_class, our_class, config, tmp_path):
    report = parity.check_parity(reference_class, our_class, config, tmp_path, token_types=3)
    assert report.generated == (our_class is GPTNeoForCausalLM)
    assert {"embed", "resid_pre", "resid_post", "pattern", "final"} <= set(report.aliases)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    folder, _ = parity.save_reference(transformers.GPTNeoForCausalLM, CONFIGS["mixed"],
                                      tmp_path_factory.mktemp("neo") / "mixed")
    reference = transformers.GPTNeoForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    return folder, reference, GPTNeoForCausalLM.from_pretrained(folder)


def test_local_layers_see_only_the_window_and_global_ones_everything(mixed):
    _, _, ours = mixed
    ids = torch.arange(2, 14)[None]  # (1, 12)
    with torch.no_grad():
        _, cache = ours.run_with_cache(ids, names_filter="pattern")
    query = torch.arange(12)[:, None]
    key = torch.arange(12)[None, :]
    window = CONFIGS["mixed"]["window_size"]
    for layer, kind in enumerate(ours.config.attention_layers):
        allowed = (key <= query) & ((query - key < window) if kind == "local" else True)  # (q, k)
        pattern = cache["pattern", layer][0]  # (h, q, k)
        assert torch.all(pattern[:, ~allowed] == 0), f"layer {layer} ({kind}) looks outside its mask"
        assert torch.all(pattern[:, allowed] > 0), f"layer {layer} ({kind}) ignores a key it may see"
        torch.testing.assert_close(pattern.sum(-1), torch.ones(3, 12))
    assert ours.config.attention_layers == ["global", "local", "local"]


def test_scores_are_not_scaled(mixed):
    """scores = q k^T (no 1/sqrt(e)), computed by hand from the cached q and k."""
    _, _, ours = mixed
    ids = torch.arange(2, 8)[None]  # (1, 6)
    with torch.no_grad():
        _, cache = ours.run_with_cache(ids)
    q, k, scores = cache["q", 0], cache["k", 0], cache["scores", 0]  # (1, h, s, e), (1, h, s, e), (1, h, s, s)
    causal = torch.ones(6, 6, dtype=torch.bool).tril()
    torch.testing.assert_close(scores[..., causal], (q @ k.transpose(-1, -2))[..., causal], atol=1e-5, rtol=0)


def test_local_attention_mask_by_hand():
    cpu = dict(dtype=torch.float32, device=torch.device("cpu"))
    causal = build_attention_mask(None, 2, 5, causal=True, **cpu)  # 2 new queries (positions 3, 4), 5 keys
    mask = local_attention_mask(causal, 2, 5, 2, **cpu)
    assert mask.shape == (1, 1, 2, 5)
    assert (mask[0, 0] == 0).tolist() == [[False, False, True, True, False], [False, False, False, True, True]]
    # one new token with no padding: no causal mask is needed, the window still is
    step = local_attention_mask(None, 1, 5, 2, **cpu)
    assert (step[0, 0] == 0).tolist() == [[False, False, False, True, True]]
    # a window wider than the sequence changes nothing
    full = build_attention_mask(None, 3, 3, causal=True, **cpu)
    assert local_attention_mask(full, 3, 3, 5, **cpu) is full


def test_kv_cache_past_the_window_equals_full_forward(mixed):
    folder, reference, ours = mixed
    ids = torch.randint(2, 101, (2, 14), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        out = ours(ids[:, :4], use_cache=True)
        steps, cache = [out.logits], out.past_key_values
        for position in range(4, 14):  # many steps past the window of 3
            out = ours(ids[:, position:position + 1], past_key_values=cache, use_cache=True)
            steps.append(out.logits)
        full = ours(ids, use_cache=False).logits
        expected = reference(ids).logits
    parity.assert_close(torch.cat(steps, dim=1), full, "incremental vs full")
    parity.assert_close(full, expected, "full vs transformers")


def test_greedy_generation_longer_than_the_window(mixed):
    _, reference, ours = mixed
    prompt = torch.tensor([[1, 1, 5, 6, 7], [8, 9, 10, 11, 12]])
    mask = (prompt != 1).long()
    settings = dict(max_new_tokens=12, do_sample=False, pad_token_id=1, eos_token_id=None)
    expected = reference.generate(prompt, attention_mask=mask, **settings)
    for use_cache in (True, False):
        assert torch.equal(ours.generate(prompt, attention_mask=mask, use_cache=use_cache, **settings), expected)


def test_generation_stops_at_the_learned_positions(mixed):
    _, _, ours = mixed
    assert ours.generation_position_limit() == 32
    with pytest.raises(ValueError, match="context window"):
        ours.generate(torch.full((1, 30), 5), max_new_tokens=4)
    with pytest.raises(ValueError, match=r"only 32 \(max_position_embeddings\)"):
        ours(torch.full((1, 33), 5))


# ------------------------------------------------------------------ configuration errors


@pytest.mark.parametrize("attention_types, layers", [([[["global", "local"], 2]], 4), ([[["global"], 1]], 1)])
def test_attention_types_that_do_not_expand_to_num_layers(attention_types, layers, monkeypatch):
    built = []
    monkeypatch.setattr(GPTNeoModel, "__init__", lambda *args: built.append(args))
    with pytest.raises(ValueError, match=rf"attention_types .* expands to {layers} layers, but num_layers is 3"):
        GPTNeoConfig(num_layers=3, attention_types=attention_types)
    with pytest.raises(Exception, match="num_layers"):  # transformers refuses it too (a strict-dataclass error)
        transformers.GPTNeoConfig(num_layers=3, attention_types=attention_types)
    assert not built


def test_bad_attention_types_entries(tmp_path):
    with pytest.raises(ValueError, match="'global' or 'local'"):
        GPTNeoConfig(num_layers=2, attention_types=[[["global", "sparse"], 1]])
    with pytest.raises(ValueError, match=r"\[\[types...\], repeats\]"):
        GPTNeoConfig(num_layers=2, attention_types=[["global", "local"]])
    with pytest.raises(ValueError, match="divisible by num_heads"):
        GPTNeoConfig(num_layers=2, attention_types=[[["global"], 2]], hidden_size=10, num_heads=3)
    # from a config.json too, before any weight is read
    config = GPTNeoConfig(num_layers=2, attention_types=[[["global"], 2]], hidden_size=8, num_heads=2)
    config.save_pretrained(tmp_path)
    text = open(tmp_path / "config.json").read().replace('"num_layers": 2', '"num_layers": 5')
    open(tmp_path / "config.json", "w").write(text)
    with pytest.raises(ValueError, match="num_layers is 5"):
        AutoModelForCausalLM.from_pretrained(tmp_path)


def test_config_round_trip_and_defaults(tmp_path):
    ours, theirs = GPTNeoConfig(), transformers.GPTNeoConfig()
    for name in ("vocab_size", "max_position_embeddings", "hidden_size", "num_layers", "num_heads", "window_size",
                 "attention_layers", "intermediate_size", "activation_function", "resid_dropout", "embed_dropout",
                 "attention_dropout", "classifier_dropout", "layer_norm_epsilon", "bos_token_id", "eos_token_id",
                 "tie_word_embeddings", "num_attention_heads", "num_hidden_layers"):
        assert getattr(ours, name) == getattr(theirs, name), name
    ours = GPTNeoConfig(**CONFIGS["mixed"])
    ours.save_pretrained(tmp_path)
    reloaded = AutoConfig.from_pretrained(tmp_path)
    assert type(reloaded) is GPTNeoConfig and reloaded.attention_layers == ["global", "local", "local"]
    assert transformers.AutoConfig.from_pretrained(tmp_path).attention_layers == ["global", "local", "local"]


def test_old_checkpoints_with_mask_buffers_load(mixed, tmp_path):
    """EleutherAI's files on the Hub still hold attn.attention.bias / masked_bias buffers."""
    folder, _, ours = mixed
    shutil.copytree(folder, tmp_path / "old")
    weights = load_file(os.path.join(folder, "model.safetensors"))
    for layer in range(3):
        weights[f"transformer.h.{layer}.attn.attention.bias"] = torch.ones(1, 1, 32, 32, dtype=torch.bool).tril()
        weights[f"transformer.h.{layer}.attn.attention.masked_bias"] = torch.tensor(-1e9)
    save_file(weights, tmp_path / "old" / "model.safetensors", metadata={"format": "pt"})
    old, info = GPTNeoForCausalLM.from_pretrained(tmp_path / "old", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    ids = torch.arange(2, 10)[None]
    with torch.no_grad():
        assert torch.equal(old(ids).logits, ours(ids).logits)


# ------------------------------------------------------------------ pipelines, tokenizer, widgets


@pytest.fixture(scope="module")
def neo_with_tokenizer(tmp_path_factory):
    """A tiny GPT-Neo with the packaged GPT-2 byte-level BPE tokenizer (4096 entries) beside it."""
    folders = {}
    root = tmp_path_factory.mktemp("neo_pipelines")
    config = dict(vocab_size=4096, hidden_size=32, num_layers=2, num_heads=4, window_size=4,
                  max_position_embeddings=64, attention_types=[[["global", "local"], 1]], bos_token_id=0,
                  eos_token_id=0, pad_token_id=0)
    for task, reference_class in (("causal-lm", transformers.GPTNeoForCausalLM),
                                  ("sequence-classification", transformers.GPTNeoForSequenceClassification)):
        folder, _ = parity.save_reference(reference_class, config, root / task, perturb=0.3)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(os.path.join(tiny_gpt2_path(), name), folder)
        folders[task] = folder
    return folders


def test_text_generation_pipeline_matches_transformers(neo_with_tokenizer):
    folder = neo_with_tokenizer["causal-lm"]
    ours = pipeline("text-generation", model=folder)
    theirs = transformers.pipeline("text-generation", model=folder)
    assert type(ours.model) is GPTNeoForCausalLM
    for kwargs in (dict(max_new_tokens=10, do_sample=False), dict(max_new_tokens=5, num_beams=2, do_sample=False)):
        assert ours("The for statement", **kwargs) == theirs("The for statement", **kwargs)


def test_text_classification_pipeline_matches_transformers(neo_with_tokenizer):
    folder = neo_with_tokenizer["sequence-classification"]
    ours = pipeline("text-classification", model=folder)
    theirs = transformers.pipeline("text-classification", model=folder)
    texts = ["The class statement defines a class.", "Lambda"]
    for got, expected in zip(ours(texts, top_k=None), theirs(texts, top_k=None)):
        assert [item["label"] for item in got] == [item["label"] for item in expected]
        for a, b in zip(got, expected):
            assert abs(a["score"] - b["score"]) < 1e-5


def test_tokenizer_matches_transformers(neo_with_tokenizer):
    from test_tokenization import BPE_TEXTS

    folder = neo_with_tokenizer["causal-lm"]
    ours, theirs = AutoTokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(folder)
    for text in BPE_TEXTS:
        mine, ref = ours(text, return_offsets_mapping=True), theirs(text, return_offsets_mapping=True)
        assert mine["input_ids"] == ref["input_ids"], text
        assert [tuple(o) for o in mine["offset_mapping"]] == [tuple(o) for o in ref["offset_mapping"]], text
        assert ours.decode(mine["input_ids"]) == theirs.decode(ref["input_ids"])
    pairs = ours(BPE_TEXTS[:3], BPE_TEXTS[3:6], truncation=True, max_length=6)
    assert pairs["input_ids"] == theirs(BPE_TEXTS[:3], BPE_TEXTS[3:6], truncation=True, max_length=6)["input_ids"]


def test_logit_lens_and_attention_dashboard(neo_with_tokenizer):
    folder = neo_with_tokenizer["causal-lm"]
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = tokenizer("The for statement is used to iterate", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        output, cache = model.run_with_cache(ids)
    parity.assert_close(cache.apply_final_norm(cache["resid_post", 1]), cache["final"], "final norm")
    lens = cache.accumulated_resid(apply_ln=True)  # (layers + 1, b, s, d)
    parity.assert_close(model.lm_head(lens[-1]), output.logits, "logit lens, last row")

    widgets = pytest.importorskip("hfexplain.widgets", reason="needs the widget extras")
    dash = widgets.AttentionDashboard(model, tokenizer, "The for statement is used to iterate", layer=1, head=2)
    shown = torch.as_tensor(widgets._common.from_typed_array(dash.heatmap.z))
    local = cache["pattern", 1][0, 2]  # (q, k), layer 1 is local with a window of 4
    torch.testing.assert_close(shown.float(), local, atol=5e-4 + 1e-6, rtol=0)
    assert torch.all(shown.tril(-4) == 0)  # keys 4 or more back are outside the window
