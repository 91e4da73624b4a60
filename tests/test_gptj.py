"""hfexplain's GPT-J against transformers' (the reference, test-only).

Parity through tests/parity.py (both classes, tiny configs saved by transformers, padded
batches: outputs, hidden states, patterns vs eager ``output_attentions``, the hook aliases,
greedy tokens with the KV cache on and off, our save read by transformers), then what is
GPT-J's own: the interleaved partial rotation against transformers' function and by hand,
the parallel block's residual sum, the config errors for ``rotary_dim``, positions past
``n_positions``, old checkpoints with mask buffers, the pipeline and the tokenizer.
"""
from __future__ import annotations

import math
import os
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers.models.gptj.modeling_gptj import apply_rotary_pos_emb as hf_apply_rotary
from transformers.models.gptj.modeling_gptj import create_sinusoidal_positions

import parity
from hfexplain import AutoModelForCausalLM, AutoTokenizer, pipeline
from hfexplain.assets import tiny_gpt2_path
from hfexplain.layers import apply_rotary_pos_emb
from hfexplain.models.gptj import (
    GPTJConfig,
    GPTJForCausalLM,
    GPTJForQuestionAnswering,
    GPTJForSequenceClassification,
    GPTJModel,
    apply_interleaved_rotary_pos_emb,
    rotate_every_two,
)

transformers = parity.quiet_transformers()

TOKENS = dict(bos_token_id=0, eos_token_id=0, pad_token_id=1)
CONFIGS = {
    # partial rotary: 6 of 12 dims per head turn, odd n_inner
    "partial": dict(vocab_size=101, n_embd=24, n_layer=2, n_head=2, rotary_dim=6, n_inner=40, n_positions=32,
                    **TOKENS),
    # the whole head turns (rotary_dim = e = 8), four heads, tied lm_head (its bias stays its own), relu
    "full_tied": dict(vocab_size=64, n_embd=32, n_layer=3, n_head=4, rotary_dim=8, n_positions=32,
                      tie_word_embeddings=True, activation_function="relu", **TOKENS),
    # three heads of 10 dims, 4 of them turning; erf gelu
    "three_heads": dict(vocab_size=97, n_embd=30, n_layer=2, n_head=3, rotary_dim=4, n_positions=32,
                        activation_function="gelu", **TOKENS),
}
PAIRS = [(transformers.GPTJModel, GPTJModel), (transformers.GPTJForCausalLM, GPTJForCausalLM),
         (transformers.GPTJForSequenceClassification, GPTJForSequenceClassification),
         (transformers.GPTJForQuestionAnswering, GPTJForQuestionAnswering)]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.parametrize("reference_class, our_class, config", parity.cases(PAIRS, CONFIGS))
def test_parity_with_transformers(reference_class, our_class, config, tmp_path):
    report = parity.check_parity(reference_class, our_class, config, tmp_path, token_types=3)
    assert report.generated == (our_class is GPTJForCausalLM)
    assert {"embed", "resid_pre", "resid_post", "pattern", "final"} <= set(report.aliases)


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    folder, _ = parity.save_reference(transformers.GPTJForCausalLM, CONFIGS["partial"],
                                      tmp_path_factory.mktemp("gptj") / "partial")
    reference = transformers.GPTJForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    return folder, reference, GPTJForCausalLM.from_pretrained(folder)


# ------------------------------------------------------------------ the rotation


def test_interleaved_rotation_matches_transformers_and_a_hand_rotation():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 12)  # (b, h, s, e)
    positions = torch.tensor([[0, 1, 2, 3, 4], [7, 8, 9, 10, 11]])  # (b, s)
    rotary_dim = 6
    model = GPTJModel(GPTJConfig(vocab_size=10, n_embd=36, n_layer=1, n_head=3, rotary_dim=rotary_dim))
    sin, cos = model.rotary_angles(positions, torch.float32)  # (b, s, r/2)

    table = create_sinusoidal_positions(16, rotary_dim)[positions]  # transformers' (b, s, r): sin then cos
    hf_sin, hf_cos = table.split(rotary_dim // 2, dim=-1)
    torch.testing.assert_close(sin, hf_sin, atol=0, rtol=0)
    torch.testing.assert_close(cos, hf_cos, atol=0, rtol=0)

    ours = apply_interleaved_rotary_pos_emb(x, sin, cos)  # (b, h, s, e)
    x_bshe = x.transpose(1, 2)  # transformers rotates (b, s, h, e)
    turned = hf_apply_rotary(x_bshe[..., :rotary_dim], hf_sin, hf_cos)
    expected = torch.cat([turned, x_bshe[..., rotary_dim:]], dim=-1).transpose(1, 2)
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)

    # by hand: pair i = (x[2i], x[2i+1]) turns by position * 10000 ** (-2i / r); the rest passes through
    b, h, s, i = 1, 2, 3, 1
    angle = positions[b, s].item() * 10000 ** (-2 * i / rotary_dim)
    a, c = x[b, h, s, 2 * i].item(), x[b, h, s, 2 * i + 1].item()
    assert math.isclose(ours[b, h, s, 2 * i].item(), a * math.cos(angle) - c * math.sin(angle), abs_tol=1e-5)
    assert math.isclose(ours[b, h, s, 2 * i + 1].item(), c * math.cos(angle) + a * math.sin(angle), abs_tol=1e-5)
    assert torch.equal(ours[..., rotary_dim:], x[..., rotary_dim:])
    assert rotate_every_two(torch.tensor([1.0, 2.0, 3.0, 4.0])).tolist() == [-2.0, 1.0, -4.0, 3.0]

    # not LLaMA's rotate-half layout with the same angles
    half = apply_rotary_pos_emb(x[..., :rotary_dim], torch.cat([cos, cos], -1), torch.cat([sin, sin], -1))
    assert not torch.allclose(half, ours[..., :rotary_dim], atol=1e-3)


def test_parallel_block_adds_attention_and_mlp_to_the_same_residual(partial):
    _, _, ours = partial
    ids = torch.arange(2, 12)[None]
    with torch.no_grad():
        _, cache = ours.run_with_cache(ids)
    for layer in range(2):
        expected = cache["resid_pre", layer] + cache["attn_out", layer] + cache["mlp_out", layer]
        parity.assert_close(cache["resid_post", layer], expected, f"resid_post {layer}")
    with pytest.raises(KeyError):
        cache["resid_mid", 0]  # there is no stream between attention and MLP
    parts = cache.decompose_resid()  # embed, then each block's attn_out and mlp_out
    parity.assert_close(parts.sum(0), cache["resid_post", 1], "decomposed residual")
    parity.assert_close(cache.apply_final_norm(cache["resid_post", 1]), cache["final"], "final norm (logit lens)")


def test_kv_cache_one_token_at_a_time_equals_full_forward(partial):
    _, reference, ours = partial
    ids = torch.randint(2, 101, (2, 12), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        out = ours(ids[:, :3], use_cache=True)
        steps, cache = [out.logits], out.past_key_values
        for position in range(3, 12):
            out = ours(ids[:, position:position + 1], past_key_values=cache, use_cache=True)
            steps.append(out.logits)
        full = ours(ids, use_cache=False).logits
        expected = reference(ids).logits
    parity.assert_close(torch.cat(steps, dim=1), full, "incremental vs full")
    parity.assert_close(full, expected, "full vs transformers")


def test_rotary_positions_have_no_table_to_run_out_of(partial):
    _, _, ours = partial
    assert ours.generation_position_limit() is None
    assert ours.generate(torch.full((1, 30), 5), max_new_tokens=4).shape == (1, 34)  # past n_positions = 32


# ------------------------------------------------------------------ configuration errors


@pytest.mark.parametrize("rotary_dim, message", [
    (14, r"rotary_dim \(14\) is larger than the head size n_embd / n_head = 24 / 2 = 12"),
    (5, r"rotary_dim \(5\) must be a positive even number"),
    (0, r"rotary_dim \(0\) must be a positive even number"),
])
def test_bad_rotary_dim_is_refused_before_any_weight(rotary_dim, message, monkeypatch, tmp_path):
    built = []
    monkeypatch.setattr(GPTJModel, "__init__", lambda *args: built.append(args))
    with pytest.raises(ValueError, match=message):
        GPTJConfig(n_embd=24, n_head=2, rotary_dim=rotary_dim)
    # from a config.json too
    GPTJConfig(n_embd=24, n_head=2, rotary_dim=4, n_layer=1, vocab_size=10).save_pretrained(tmp_path)
    text = open(tmp_path / "config.json").read().replace('"rotary_dim": 4', f'"rotary_dim": {rotary_dim}')
    open(tmp_path / "config.json", "w").write(text)
    with pytest.raises(ValueError, match=message):
        AutoModelForCausalLM.from_pretrained(tmp_path)
    assert not built
    with pytest.raises(TypeError, match="rotary_dim must be an int"):
        GPTJConfig(n_embd=24, n_head=2, rotary_dim=None)
    with pytest.raises(ValueError, match="divisible by n_head"):
        GPTJConfig(n_embd=10, n_head=3)


def test_config_defaults_match_transformers():
    ours, theirs = GPTJConfig(), transformers.GPTJConfig()
    for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "rotary_dim", "n_inner",
                 "activation_function", "resid_pdrop", "embd_pdrop", "attn_pdrop", "layer_norm_epsilon",
                 "bos_token_id", "eos_token_id", "tie_word_embeddings", "hidden_size", "num_attention_heads",
                 "num_hidden_layers", "max_position_embeddings"):
        assert getattr(ours, name) == getattr(theirs, name), name


def test_old_checkpoints_with_mask_buffers_load(partial, tmp_path):
    folder, _, ours = partial
    shutil.copytree(folder, tmp_path / "old")
    weights = load_file(os.path.join(folder, "model.safetensors"))
    for layer in range(2):
        weights[f"transformer.h.{layer}.attn.bias"] = torch.ones(1, 1, 32, 32, dtype=torch.bool).tril()
        weights[f"transformer.h.{layer}.attn.masked_bias"] = torch.tensor(-1e9)
    save_file(weights, tmp_path / "old" / "model.safetensors", metadata={"format": "pt"})
    old, info = GPTJForCausalLM.from_pretrained(tmp_path / "old", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    ids = torch.arange(2, 10)[None]
    with torch.no_grad():
        assert torch.equal(old(ids).logits, ours(ids).logits)


# ------------------------------------------------------------------ pipeline, tokenizer, widgets


@pytest.fixture(scope="module")
def gptj_with_tokenizer(tmp_path_factory):
    config = dict(vocab_size=4096, n_embd=32, n_layer=2, n_head=4, rotary_dim=4, n_positions=64, bos_token_id=0,
                  eos_token_id=0, pad_token_id=0)
    folder, _ = parity.save_reference(transformers.GPTJForCausalLM, config, tmp_path_factory.mktemp("gptj_pipe"),
                                      perturb=0.3)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(tiny_gpt2_path(), name), folder)
    return folder


def test_text_generation_pipeline_matches_transformers(gptj_with_tokenizer):
    ours = pipeline("text-generation", model=gptj_with_tokenizer)
    theirs = transformers.pipeline("text-generation", model=gptj_with_tokenizer)
    assert type(ours.model) is GPTJForCausalLM
    for kwargs in (dict(max_new_tokens=10, do_sample=False), dict(max_new_tokens=5, num_beams=2, do_sample=False)):
        assert ours("The for statement", **kwargs) == theirs("The for statement", **kwargs)


def test_tokenizer_and_attention_dashboard(gptj_with_tokenizer):
    from test_tokenization import BPE_TEXTS

    ours = AutoTokenizer.from_pretrained(gptj_with_tokenizer)
    theirs = transformers.AutoTokenizer.from_pretrained(gptj_with_tokenizer)
    for text in BPE_TEXTS:
        assert ours(text)["input_ids"] == theirs(text)["input_ids"], text

    widgets = pytest.importorskip("hfexplain.widgets", reason="needs the widget extras")
    model = AutoModelForCausalLM.from_pretrained(gptj_with_tokenizer)
    sentence = "The for statement is used to iterate"
    with torch.no_grad():
        reference = transformers.GPTJForCausalLM.from_pretrained(gptj_with_tokenizer, attn_implementation="eager")(
            theirs(sentence, return_tensors="pt")["input_ids"], output_attentions=True).attentions
    dash = widgets.AttentionDashboard(model, ours, sentence, layer=1, head=3)
    shown = torch.as_tensor(widgets._common.from_typed_array(dash.heatmap.z)).float()
    torch.testing.assert_close(shown, reference[1][0, 3], atol=5e-4 + 1e-6, rtol=0)
