"""hfexplain's LLaMA against transformers' LlamaForCausalLM (the reference, test-only).

Every checkpoint here is a tiny random model built and saved by transformers, with its
weights redrawn at a larger scale (transformers initialises with std 0.02 and zero biases,
which would hide a missing bias or a wrong norm weight). Each is loaded by hfexplain and
compared in fp32: logits, every hidden state, attention patterns against
``attn_implementation="eager"``, hook points against the reference's own intermediate
tensors, the KV cache against a full forward, and our save_pretrained against
transformers' loader.
"""
from __future__ import annotations

import json
import math
import os

import pytest
import torch
import transformers
from transformers import LlamaConfig as HFLlamaConfig
from transformers import LlamaForCausalLM as HFLlamaForCausalLM
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from transformers.models.gpt_neox.modeling_gpt_neox import apply_rotary_pos_emb as hf_neox_apply_rotary
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb as hf_apply_rotary

from hfexplain import AutoModelForCausalLM, KVCache

import parity
from hfexplain.hooks import ALIASES, CROSS_ALIASES
from hfexplain.layers import apply_rotary_pos_emb, rope_frequencies, standardize_rope_parameters
from hfexplain.models.llama import LlamaConfig, LlamaForCausalLM, LlamaModel

ATOL = 1e-5
VOCAB = 97
SEQ = 20  # longer than the "dynamic" config's max_position_embeddings, so its scaling kicks in

BASE = dict(vocab_size=VOCAB, intermediate_size=64, num_hidden_layers=2, pad_token_id=0, max_position_embeddings=256)
CONFIGS = {
    # grouped-query attention (2 query heads per kv head), default RoPE, untied head
    "gqa": dict(BASE, hidden_size=32, num_attention_heads=4, num_key_value_heads=2),
    # plain multi-head attention, tied embeddings, every bias switched on, another theta
    "mha_tied_bias": dict(
        BASE, hidden_size=32, num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=True,
        attention_bias=True, mlp_bias=True, rope_parameters={"rope_type": "default", "rope_theta": 500.0},
    ),
    # hidden 48 with head_dim set explicitly (6 heads x 16 = 96 != 48), linear scaling
    "odd_linear": dict(
        BASE, hidden_size=48, num_attention_heads=6, num_key_value_heads=2, head_dim=16,
        rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0},
    ),
    # multi-query attention (one kv head), Llama 3.1 scaling with kept, blended and divided pairs
    "mqa_llama3": dict(
        BASE, hidden_size=32, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
        rope_parameters={
            "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64, "rope_theta": 10000.0,
        },
    ),
    "yarn": dict(
        BASE, hidden_size=32, num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=64,
        rope_parameters={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16,
                         "rope_theta": 10000.0},
    ),
    # NTK-aware dynamic scaling; SEQ > max_position_embeddings, so theta is stretched
    "dynamic": dict(
        BASE, hidden_size=32, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16,
        rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0},
    ),
}

_FOLDERS: dict[str, str] = {}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("llama")


def reference_checkpoint(name: str, workdir) -> str:
    """A folder written by transformers' save_pretrained for CONFIGS[name] (built once)."""
    if name not in _FOLDERS:
        torch.manual_seed(sum(map(ord, name)))
        model = HFLlamaForCausalLM(HFLlamaConfig(**CONFIGS[name]))
        with torch.no_grad():
            for param_name, param in model.named_parameters():
                if "norm" in param_name:
                    param.copy_(1.0 + 0.2 * torch.randn_like(param))  # RMSNorm gains around 1
                else:
                    param.normal_(0.0, 0.25)
        folder = os.path.join(workdir, name)
        model.save_pretrained(folder)
        _FOLDERS[name] = folder
    return _FOLDERS[name]


def load_both(name: str, workdir) -> tuple[HFLlamaForCausalLM, LlamaForCausalLM]:
    """Fresh instances (dynamic RoPE keeps state between calls, in both libraries)."""
    folder = reference_checkpoint(name, workdir)
    reference = HFLlamaForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    ours = LlamaForCausalLM.from_pretrained(folder)
    return reference, ours


def padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Three rows: left-padded by 3, right-padded by 4, no padding (pad id 0)."""
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(1, VOCAB, (3, SEQ), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, :3] = 0
    attention_mask[1, -4:] = 0
    return input_ids.masked_fill(attention_mask == 0, 0), attention_mask


def assert_close(actual: torch.Tensor, expected: torch.Tensor, atol: float = ATOL, what: str = "") -> None:
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    difference = parity.record(what, (actual - expected).abs().max().item() if actual.numel() else 0.0)
    assert difference <= atol, f"{what}: max difference {difference:.3g} > {atol}"


# --------------------------------------------------------------------------- parity


@pytest.mark.parametrize("name", list(CONFIGS))
def test_logits_and_hidden_states_match_transformers(name, workdir):
    reference, ours = load_both(name, workdir)
    input_ids, attention_mask = padded_batch()
    real = attention_mask.bool()  # compare real tokens only; pad positions are garbage in both
    with torch.no_grad():
        expected = reference(input_ids, attention_mask=attention_mask, output_hidden_states=True)
        actual = ours(input_ids, attention_mask=attention_mask, output_hidden_states=True)  # fused SDPA path
    assert_close(actual.logits[real], expected.logits[real], what="logits")
    assert len(actual.hidden_states) == len(expected.hidden_states) == CONFIGS[name]["num_hidden_layers"] + 1
    for index, (mine, theirs) in enumerate(zip(actual.hidden_states, expected.hidden_states)):
        assert_close(mine[real], theirs[real], what=f"hidden_states[{index}]")


@pytest.mark.parametrize("name", ["gqa", "odd_linear", "mqa_llama3", "yarn"])
def test_attentions_match_eager_transformers(name, workdir):
    reference, ours = load_both(name, workdir)
    input_ids, attention_mask = padded_batch()
    real_queries = attention_mask.bool()[:, None, :, None]  # (b, 1, q, 1)
    with torch.no_grad():
        expected = reference(input_ids, attention_mask=attention_mask, output_attentions=True)
        actual = ours(input_ids, attention_mask=attention_mask, output_attentions=True)
        _, cache = ours.run_with_cache(input_ids, attention_mask=attention_mask, names_filter="pattern")
    assert len(actual.attentions) == len(expected.attentions)
    heads = CONFIGS[name]["num_attention_heads"]
    for layer, (mine, theirs) in enumerate(zip(actual.attentions, expected.attentions)):
        assert mine.shape == (3, heads, SEQ, SEQ)
        assert_close(mine * real_queries, theirs * real_queries, what=f"attentions[{layer}]")
        assert_close(cache["pattern", layer] * real_queries, theirs * real_queries, what=f"cached pattern {layer}")
    # The explicit (watched) path and the fused path give the same logits.
    assert_close(actual.logits, ours(input_ids, attention_mask=attention_mask).logits.detach(), what="sdpa vs eager")


def test_tied_embeddings_share_one_parameter(workdir):
    _, tied = load_both("mha_tied_bias", workdir)
    assert tied.lm_head.weight is tied.model.embed_tokens.weight
    _, untied = load_both("gqa", workdir)
    assert untied.lm_head.weight is not untied.model.embed_tokens.weight
    assert not torch.equal(untied.lm_head.weight, untied.model.embed_tokens.weight)
    assert untied.model.embed_tokens.padding_idx == 0  # pad_token_id, as transformers


@pytest.mark.parametrize("name", list(CONFIGS))
def test_kv_cache_one_token_at_a_time_equals_full_forward(name, workdir):
    reference, ours = load_both(name, workdir)
    input_ids = padded_batch()[0][2:]  # the unpadded row, (1, SEQ)
    prefix = 5
    with torch.no_grad():
        out = ours(input_ids[:, :prefix], use_cache=True)
        cache = out.past_key_values
        assert isinstance(cache, KVCache) and cache.get_seq_length() == prefix
        steps = [out.logits]
        for position in range(prefix, SEQ):
            out = ours(input_ids[:, position : position + 1], past_key_values=cache, use_cache=True)
            assert out.past_key_values is cache
            steps.append(out.logits)
        incremental = torch.cat(steps, dim=1)  # (1, SEQ, v)
        assert cache.get_seq_length() == SEQ

        # transformers fed the same way, one token at a time
        out = reference(input_ids[:, :prefix], use_cache=True)
        hf_cache, expected = out.past_key_values, [out.logits]
        for position in range(prefix, SEQ):
            out = reference(input_ids[:, position : position + 1], past_key_values=hf_cache, use_cache=True)
            expected.append(out.logits)
        hf_incremental = torch.cat(expected, dim=1)  # (1, SEQ, v)
        assert_close(incremental, hf_incremental, what="incremental vs transformers incremental")
        if name != "dynamic":
            # Dynamic RoPE re-stretches its frequencies as the length grows while the cached keys keep
            # their old rotation, so step by step differs from one full pass, in transformers too.
            # Elsewhere one full pass must agree with the cached steps up to fp32 rounding: the two sum
            # in different orders, and transformers' own two paths differ by up to ~8e-6 on these
            # logits (|logit| ~6) with one thread on an AMD EPYC. Ours may differ by that plus ATOL.
            full = ours(input_ids, use_cache=False)
            assert full.past_key_values is None
            hf_noise = (hf_incremental - reference(input_ids, use_cache=False).logits).abs().max().item()
            assert_close(incremental, full.logits, atol=hf_noise + ATOL, what="incremental vs full forward")
            assert_close(incremental, reference(input_ids).logits, what="incremental vs transformers")


def test_kv_cache_with_left_padding_and_position_ids(workdir):
    """The generate() path: left-padded prompts, positions counted from each row's first real token."""
    reference, ours = load_both("gqa", workdir)
    input_ids, _ = padded_batch()
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, :3] = 0
    attention_mask[1, :6] = 0
    input_ids = input_ids.masked_fill(attention_mask == 0, 0)
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)  # (b, SEQ)
    real = attention_mask.bool()
    prefix = 8
    with torch.no_grad():
        expected = reference(input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
        out = ours(input_ids[:, :prefix], attention_mask=attention_mask[:, :prefix],
                   position_ids=position_ids[:, :prefix], use_cache=True)
        steps = [out.logits]
        for position in range(prefix, SEQ):
            out = ours(
                input_ids[:, position : position + 1],
                attention_mask=attention_mask[:, : position + 1],  # past and new positions
                position_ids=position_ids[:, position : position + 1],
                past_key_values=out.past_key_values,
            )
            steps.append(out.logits)
    incremental = torch.cat(steps, dim=1)
    assert_close(incremental[real], expected[real], what="left-padded incremental")
    with torch.no_grad():
        # RoPE sees only relative positions: shifting every position of a row by the same amount
        # (default position ids on a left-padded row) changes nothing ...
        shifted = ours(input_ids, attention_mask=attention_mask).logits
        # ... but changing the distances between tokens does: the position ids are really used.
        stretched = ours(input_ids, attention_mask=attention_mask, position_ids=2 * position_ids).logits
    assert_close(shifted[real], expected[real], atol=1e-4, what="shifted positions")
    assert (stretched[real] - expected[real]).abs().max() > 1e-2


def test_logits_to_keep_and_loss_match_transformers(workdir):
    reference, ours = load_both("gqa", workdir)
    # The shifted loss reads the logits of the last left-padding position (it predicts the first real
    # token): there transformers' eager and default (SDPA) attention disagree, and hfexplain follows SDPA.
    reference = HFLlamaForCausalLM.from_pretrained(reference_checkpoint("gqa", workdir)).eval()
    input_ids, attention_mask = padded_batch()
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    with torch.no_grad():
        expected = reference(input_ids, attention_mask=attention_mask, labels=labels)
        actual = ours(input_ids, attention_mask=attention_mask, labels=labels)
        last = ours(input_ids, attention_mask=attention_mask, logits_to_keep=1).logits
        picked = ours(input_ids, attention_mask=attention_mask, logits_to_keep=torch.tensor([0, 5])).logits
    assert_close(actual.loss, expected.loss, what="loss")
    assert_close(last, expected.logits[:, -1:], what="logits_to_keep=1")
    assert_close(picked, expected.logits[:, [0, 5]], what="logits_to_keep=tensor")


def test_bfloat16_load_keeps_rotary_frequencies_float32(workdir):
    folder = reference_checkpoint("mqa_llama3", workdir)
    ours = LlamaForCausalLM.from_pretrained(folder, dtype=torch.bfloat16)
    reference = HFLlamaForCausalLM.from_pretrained(folder, dtype=torch.bfloat16, attn_implementation="eager").eval()
    assert ours.dtype == torch.bfloat16
    assert ours.model.rotary_emb.inv_freq.dtype == reference.model.rotary_emb.inv_freq.dtype == torch.float32
    assert torch.equal(ours.model.rotary_emb.inv_freq, reference.model.rotary_emb.inv_freq)
    input_ids = padded_batch()[0][2:]
    with torch.no_grad():
        actual = ours(input_ids, output_attentions=True).logits.float()  # the explicit path, as eager
        expected = reference(input_ids).logits.float()
    assert_close(actual, expected, atol=3e-2, what="bfloat16 logits")


@pytest.mark.parametrize("name", ["gqa", "mqa_llama3"])
def test_greedy_generation_is_token_identical_to_transformers(name, workdir):
    """Left-padded prompts, KV cache on and off: the same tokens as transformers."""
    reference, ours = load_both(name, workdir)
    input_ids, _ = padded_batch()
    attention_mask = torch.ones_like(input_ids)[:, :8]
    attention_mask[0, :3] = 0
    prompt = input_ids[:, :8].masked_fill(attention_mask == 0, 0)
    settings = dict(max_new_tokens=8, do_sample=False, pad_token_id=0, eos_token_id=None)
    expected = reference.generate(prompt, attention_mask=attention_mask, **settings)
    for use_cache in (True, False):
        actual = ours.generate(prompt, attention_mask=attention_mask, use_cache=use_cache, **settings)
        assert torch.equal(actual, expected), use_cache


# --------------------------------------------------------------------------- hook points


def reference_intermediates(reference, input_ids, attention_mask) -> tuple[dict, object]:
    """transformers' own intermediate tensors, caught with forward hooks on its modules."""
    seen: dict[str, torch.Tensor] = {}
    handles = []

    def keep(key, use_input=False):
        def hook(module, inputs, output):
            value = inputs[0] if use_input else output
            seen[key] = tuple(t.detach() for t in value) if isinstance(value, tuple) else value.detach()
        return hook

    handles.append(reference.model.embed_tokens.register_forward_hook(keep("embed")))
    handles.append(reference.model.rotary_emb.register_forward_hook(keep("rotary")))
    for i, layer in enumerate(reference.model.layers):
        attention, mlp = layer.self_attn, layer.mlp
        handles.append(attention.q_proj.register_forward_hook(keep(f"q_proj.{i}")))
        handles.append(attention.o_proj.register_forward_hook(keep(f"z.{i}", use_input=True)))
        handles.append(attention.o_proj.register_forward_hook(keep(f"attn_out.{i}")))
        handles.append(mlp.gate_proj.register_forward_hook(keep(f"mlp_pre.{i}")))
        handles.append(mlp.down_proj.register_forward_hook(keep(f"mlp_post.{i}", use_input=True)))
        handles.append(mlp.down_proj.register_forward_hook(keep(f"mlp_out.{i}")))
    try:
        with torch.no_grad():
            output = reference(input_ids, attention_mask=attention_mask, use_cache=True, output_hidden_states=True,
                               output_attentions=True)
    finally:
        for handle in handles:
            handle.remove()
    return seen, output


@pytest.mark.parametrize("name", ["gqa", "odd_linear"])
def test_every_alias_matches_transformers_intermediates(name, workdir):
    reference, ours = load_both(name, workdir)
    config = CONFIGS[name]
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config.get("head_dim", config["hidden_size"] // heads)
    input_ids, attention_mask = padded_batch()
    real = attention_mask.bool()
    seen, expected = reference_intermediates(reference, input_ids, attention_mask)
    with torch.no_grad():
        output, cache = ours.run_with_cache(input_ids, attention_mask=attention_mask)

    per_layer = {"resid_pre", "q", "k", "v", "scores", "pattern", "z", "attn_out", "resid_mid", "mlp_pre",
                 "mlp_post", "mlp_out", "resid_post"}
    single_stack = {alias for alias in ALIASES
                    if not alias.startswith("cross_") and alias not in ("resid_mid_cross", "conv_features")}
    # LLaMA adds no positions; class_logits belongs to the classification heads (tests/test_heads.py)
    assert single_stack - per_layer - {"embed", "final", "logits"} == {"pos_embed", "class_logits"}
    with pytest.raises(KeyError, match="no hook point for alias 'class_logits'"):
        ours.hook_name("class_logits")
    with pytest.raises(KeyError, match="no hook point for alias 'pos_embed'"):
        ours.hook_name("pos_embed")
    for layer in range(config["num_hidden_layers"]):
        for alias in per_layer:
            assert ours.hook_name(alias, layer) in cache, (alias, layer)
    assert ours.hook_name("q", 1) == "model.layers.1.self_attn.hook_q"
    assert ours.hook_name("mlp_pre", 0) == "model.layers.0.mlp.hook_pre"
    assert ours.hook_name("final") == "model.hook_final"

    assert_close(cache["embed"], seen["embed"], what="embed")
    assert_close(cache["logits"][real], expected.logits[real], what="logits")
    assert_close(cache["final"][real], expected.hidden_states[-1][real], what="final")
    hf_cos, hf_sin = seen["rotary"]
    b, s = input_ids.shape
    for layer in range(config["num_hidden_layers"]):
        assert_close(cache["resid_pre", layer][real], expected.hidden_states[layer][real], what="resid_pre")
        if layer + 1 < config["num_hidden_layers"]:
            assert_close(cache["resid_post", layer][real], expected.hidden_states[layer + 1][real], what="resid_post")
        # q AFTER rotary: rotate transformers' q_proj output with transformers' own function
        hf_q = seen[f"q_proj.{layer}"].view(b, s, heads, head_dim).transpose(1, 2)  # (b, h, s, e)
        hf_q_rotated, _ = hf_apply_rotary(hf_q, hf_q, hf_cos, hf_sin)
        assert cache["q", layer].shape == (b, heads, s, head_dim)
        # at real tokens: from layer 1 on, a left-padding position that saw only padding holds another state
        # in transformers' eager attention (uniform there, nothing in hfexplain and transformers' SDPA)
        assert_close(cache["q", layer].transpose(1, 2)[real], hf_q_rotated.transpose(1, 2)[real], what="q")
        assert not torch.allclose(cache["q", layer], cache[f"model.layers.{layer}.self_attn.hook_q_pre_rotary"])
        # k (rotated) and v: exactly what transformers keeps in its KV cache, kv heads only
        assert cache["k", layer].shape == cache["v", layer].shape == (b, kv_heads, s, head_dim)
        for alias, kept in (("k", expected.past_key_values.layers[layer].keys),
                            ("v", expected.past_key_values.layers[layer].values)):
            assert_close(cache[alias, layer].transpose(1, 2)[real], kept.transpose(1, 2)[real], what=alias)
        real_queries = real[:, None, :, None]
        assert_close(cache["pattern", layer] * real_queries, expected.attentions[layer] * real_queries, what="pattern")
        # pattern = softmax(scores) wherever a query sees a key (a left-padding query that sees only padding
        # has scores of -inf throughout and attends to nothing: tests/test_unattended_rows.py)
        assert_close(torch.softmax(cache["scores", layer], dim=-1).transpose(1, 2)[real],
                     cache["pattern", layer].transpose(1, 2)[real], what="scores")  # (n, h, k)
        z = cache["z", layer].transpose(1, 2).reshape(b, s, heads * head_dim)  # (b, s, h*e)
        assert_close(z[real], seen[f"z.{layer}"][real], what="z")
        assert_close(cache["attn_out", layer][real], seen[f"attn_out.{layer}"][real], what="attn_out")
        resid_mid = cache["resid_pre", layer] + cache["attn_out", layer]
        assert_close(cache["resid_mid", layer], resid_mid, what="resid_mid")
        assert_close(cache["mlp_pre", layer][real], seen[f"mlp_pre.{layer}"][real], what="mlp_pre")
        assert_close(cache["mlp_post", layer][real], seen[f"mlp_post.{layer}"][real], what="mlp_post")
        assert_close(cache["mlp_out", layer][real], seen[f"mlp_out.{layer}"][real], what="mlp_out")


def test_head_ablation_through_hook_z_matches_transformers(workdir):
    """Zero head 1 of layer 0 in our hook_z, and the same slice of transformers' o_proj input."""
    reference, ours = load_both("gqa", workdir)
    head_dim = CONFIGS["gqa"]["hidden_size"] // CONFIGS["gqa"]["num_attention_heads"]
    input_ids = padded_batch()[0]

    def zero_head(z, hook):
        z = z.clone()
        z[:, 1] = 0.0  # (b, h, s, e)
        return z

    def zero_slice(module, inputs):
        merged = inputs[0].clone()
        merged[..., head_dim : 2 * head_dim] = 0.0  # (b, s, h*e), head 1
        return (merged,)

    handle = reference.model.layers[0].self_attn.o_proj.register_forward_pre_hook(zero_slice)
    with torch.no_grad():
        expected = reference(input_ids).logits
        handle.remove()
        clean = reference(input_ids).logits
        actual = ours.run_with_hooks(input_ids, fwd_hooks=[(("z", 0), zero_head)]).logits
    assert (expected - clean).abs().max() > 1e-3  # the ablation matters
    assert_close(actual, expected, what="ablated logits")


# --------------------------------------------------------------------------- saving and loading


@pytest.mark.parametrize("name", ["gqa", "mha_tied_bias", "mqa_llama3"])
def test_our_save_pretrained_loads_in_transformers(name, workdir, tmp_path):
    _, ours = load_both(name, workdir)
    ours.save_pretrained(tmp_path)
    reloaded, info = HFLlamaForCausalLM.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    input_ids, attention_mask = padded_batch()
    real = attention_mask.bool()
    with torch.no_grad():
        assert_close(reloaded(input_ids, attention_mask=attention_mask).logits[real],
                     ours(input_ids, attention_mask=attention_mask).logits[real], what="reloaded logits")
    written = json.load(open(tmp_path / "config.json"))
    original = json.load(open(os.path.join(reference_checkpoint(name, workdir), "config.json")))
    assert written["rope_parameters"] == original["rope_parameters"]
    assert "rope_scaling" not in written and "rope_theta" not in written
    for key in ("head_dim", "num_key_value_heads", "tie_word_embeddings", "attention_bias", "mlp_bias",
                "rms_norm_eps", "pretraining_tp", "model_type"):
        assert written[key] == original[key], key
    assert reloaded.config.rope_parameters == HFLlamaConfig.from_pretrained(
        reference_checkpoint(name, workdir)).rope_parameters


def test_model_built_by_hfexplain_loads_in_transformers(tmp_path):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    ours = LlamaForCausalLM(config).eval()
    assert not any(name.startswith("model.rotary_emb") for name in ours.state_dict())  # no persistent params
    ours.save_pretrained(tmp_path)
    reloaded, info = HFLlamaForCausalLM.from_pretrained(tmp_path, output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    input_ids = padded_batch()[0]
    with torch.no_grad():
        assert_close(ours(input_ids).logits, reloaded(input_ids).logits, what="logits")
    auto = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert type(auto) is LlamaForCausalLM
    with pytest.warns(UserWarning, match=r"not used by LlamaModel: \['lm_head.weight'\]"):
        base = LlamaModel.from_pretrained(tmp_path)  # a causal-LM checkpoint into the bare model
    with torch.no_grad():
        assert_close(base(input_ids).last_hidden_state, ours.model(input_ids).last_hidden_state)


# --------------------------------------------------------------------------- config and rotary


def test_config_defaults_match_transformers():
    ours, theirs = LlamaConfig().to_dict(), HFLlamaConfig().to_dict()
    for key in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings", "initializer_range",
                "rms_norm_eps", "use_cache", "pad_token_id", "bos_token_id", "eos_token_id", "pretraining_tp",
                "tie_word_embeddings", "rope_parameters", "attention_bias", "attention_dropout", "mlp_bias"):
        assert ours[key] == theirs[key], key


@pytest.mark.parametrize(
    "legacy",
    [
        {"rope_theta": 500000.0, "rope_scaling": {"type": "linear", "factor": 2.0}},
        {"rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 64}},
        {"rope_theta": 1234.0, "rope_scaling": None},
        {"rope_scaling": {"rope_type": "yarn", "factor": 2.0}},  # original length defaults to max positions
        {"rope_theta": 1.0, "rope_parameters": {"rope_type": "default", "rope_theta": 20.0}},  # the dict wins
    ],
)
def test_legacy_rope_scaling_is_read_as_transformers_reads_it(legacy, tmp_path):
    fields = dict(vocab_size=VOCAB, hidden_size=32, num_attention_heads=4, max_position_embeddings=128, **legacy)
    (tmp_path / "config.json").write_text(json.dumps(dict(fields, model_type="llama")))
    ours = LlamaConfig.from_pretrained(tmp_path)
    theirs = HFLlamaConfig.from_pretrained(tmp_path)
    assert ours.rope_parameters == theirs.rope_parameters
    assert ours.rope_scaling == ours.rope_parameters  # the old name still reads
    ours.save_pretrained(tmp_path / "saved")
    written = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert "rope_scaling" not in written and "rope_theta" not in written
    assert HFLlamaConfig.from_pretrained(tmp_path / "saved").rope_parameters == theirs.rope_parameters


def test_setting_rope_scaling_keeps_theta_and_validates():
    config = LlamaConfig(hidden_size=32, num_attention_heads=4, rope_parameters={"rope_theta": 500.0})
    config.rope_scaling = {"type": "linear", "factor": 4.0}
    assert config.rope_parameters == {"type": "linear", "rope_type": "linear", "factor": 4.0, "rope_theta": 500.0}
    with pytest.raises(KeyError, match="'linear' needs 'factor'"):
        config.rope_scaling = {"rope_type": "linear"}
    assert config.rope_parameters["factor"] == 4.0  # the failed assignment changed nothing


ROPE_CASES = {
    "default": {"rope_type": "default", "rope_theta": 10000.0},
    "linear": {"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0},
    "dynamic": {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0},
    "llama3": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 128},
    "yarn": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 128,
             "beta_fast": 16, "beta_slow": 2},
    "yarn_mscale": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                    "original_max_position_embeddings": 128, "mscale": 0.707, "mscale_all_dim": 1.0, "truncate": False},
}


@pytest.mark.parametrize("case", list(ROPE_CASES))
def test_rope_frequencies_match_transformers(case):
    params = ROPE_CASES[case]
    config = HFLlamaConfig(hidden_size=256, num_attention_heads=4, max_position_embeddings=512,
                           rope_parameters=dict(params))
    head_dim = 64
    for seq_len in (None, 2048):
        if params["rope_type"] == "default":
            expected = (1.0 / (params["rope_theta"] ** (torch.arange(0, head_dim, 2).float() / head_dim)), 1.0)
        else:
            expected = ROPE_INIT_FUNCTIONS[params["rope_type"]](config, None, seq_len=seq_len)
        inv_freq, scaling = rope_frequencies(params, head_dim, 512, seq_len=seq_len)
        assert inv_freq.dtype == torch.float32 and inv_freq.shape == (head_dim // 2,)
        torch.testing.assert_close(inv_freq, expected[0].float(), rtol=1e-6, atol=0)
        assert math.isclose(scaling, float(expected[1]), rel_tol=1e-9)
    if case == "llama3":  # the case really has kept, divided and blended pairs
        default = 1.0 / (500000.0 ** (torch.arange(0, head_dim, 2).float() / head_dim))
        ratio = inv_freq / default
        assert (ratio == 1).any() and (ratio == 1 / 8).any() and ((ratio > 1 / 8) & (ratio < 1)).any()


def test_test_configs_exercise_the_scalings(workdir):
    """Guard the parity tests: llama3's config blends some pairs, dynamic's stretches theta."""
    _, ours = load_both("mqa_llama3", workdir)
    ratio = ours.model.rotary_emb.inv_freq / rope_frequencies({"rope_type": "default", "rope_theta": 10000.0}, 16, 0)[0]
    assert (ratio == 1).any() and (ratio == 1 / 8).any() and ((ratio > 1 / 8) & (ratio < 1)).any()
    _, ours = load_both("dynamic", workdir)
    before = ours.model.rotary_emb.inv_freq
    with torch.no_grad():
        ours(padded_batch()[0][:1])
    assert ours.model.rotary_emb.max_seq_len_cached == SEQ
    assert (ours.model.rotary_emb.inv_freq < before)[1:].all()
    with torch.no_grad():
        ours(padded_batch()[0][:1, :8])  # shorter than max_position_embeddings: back to the trained ones
    assert torch.equal(ours.model.rotary_emb.inv_freq, before)


def test_partial_rotary_matches_gpt_neox_layout():
    generator = torch.Generator().manual_seed(0)
    query = torch.randn(2, 3, 5, 16, generator=generator)  # (b, h, s, e)
    angles = torch.randn(2, 5, 4, generator=generator)  # (b, s, r/2) with r = 8 < e
    angles = torch.cat((angles, angles), dim=-1)  # (b, s, r)
    cos, sin = angles.cos(), angles.sin()
    expected, _ = hf_neox_apply_rotary(query, query, cos, sin)
    actual = apply_rotary_pos_emb(query, cos, sin)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-6)
    assert torch.equal(actual[..., 8:], query[..., 8:])  # the unrotated part passes through
    # a rotation keeps every pair's length
    torch.testing.assert_close(actual[..., :8].norm(dim=-1), query[..., :8].norm(dim=-1))


# --------------------------------------------------------------------------- bad input


def test_heads_not_divisible_by_kv_heads_is_refused():
    with pytest.raises(ValueError, match=r"num_attention_heads \(6\) must be divisible by num_key_value_heads \(4\)"):
        LlamaConfig(hidden_size=48, num_attention_heads=6, num_key_value_heads=4)
    with pytest.raises(ValueError, match=r"hidden_size \(30\) must be divisible by num_attention_heads \(4\)"):
        LlamaConfig(hidden_size=30, num_attention_heads=4)


@pytest.mark.parametrize(
    "rope, error, message",
    [
        ({"rope_type": "magic", "factor": 2.0}, ValueError, "unknown rope_type 'magic'.*default, linear"),
        ({"type": "magic"}, ValueError, "unknown rope_type 'magic'"),
        ({"rope_type": "longrope", "short_factor": [1.0], "long_factor": [1.0]}, NotImplementedError,
         "'longrope' is valid in transformers but not implemented"),
        ({"rope_type": "linear"}, KeyError, "'linear' needs 'factor'"),
        ({"rope_type": "llama3", "factor": 8.0}, KeyError, "'low_freq_factor', 'high_freq_factor'"),
    ],
)
def test_bad_rope_settings_are_refused(rope, error, message):
    with pytest.raises(error, match=message):
        LlamaConfig(hidden_size=32, num_attention_heads=4, rope_parameters=rope)
    with pytest.raises(error, match=message):
        LlamaConfig(hidden_size=32, num_attention_heads=4, rope_scaling=rope)  # the legacy spelling too


def test_odd_head_dim_is_refused():
    with pytest.raises(ValueError, match="rotary dim must be even; got 9"):
        LlamaConfig(hidden_size=36, num_attention_heads=4)


def test_bad_forward_inputs_are_refused():
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=48,
                                         num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2)).eval()
    input_ids = torch.randint(0, VOCAB, (2, 6))
    with pytest.raises(ValueError, match=r"position_ids must have shape \(2, 6\) or \(1, 6\)"):
        model(input_ids, position_ids=torch.arange(6))
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        model(input_ids, inputs_embeds=torch.zeros(2, 6, 32))
    with pytest.raises(ValueError, match=r"inputs_embeds must have shape \(batch, seq, 32\)"):
        model(inputs_embeds=torch.zeros(2, 6, 31))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(input_ids + VOCAB)
    with pytest.raises(ValueError, match="attention_mask must have shape"):
        model(input_ids, attention_mask=torch.ones(2, 5))


def test_transformers_is_only_a_test_dependency():
    import hfexplain.layers.rotary
    import hfexplain.models.llama

    for module in (hfexplain.models.llama, hfexplain.layers.rotary):
        source = open(module.__file__).read()
        assert "import transformers" not in source and "from transformers" not in source
    assert transformers.__version__.startswith("5.")
