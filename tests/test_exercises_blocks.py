"""The lesson-04 checker accepts GPT-2's pre-norm block and names each wiring mistake.

The checker's reference is compared with transformers' own ``GPT2Block`` on the same
weights, so it is not tuned to hfexplain.
"""
from __future__ import annotations

import pytest
import torch

from hfexplain.exercises.blocks import check_gpt2_block_forward, make_block_parts, reference


def pre_norm(block, x):
    h = x + block.attn(block.ln_1(x))
    return h + block.mlp(block.ln_2(h))


def post_norm(block, x):
    h = block.ln_1(x + block.attn(x))
    return block.ln_2(h + block.mlp(h))


def no_mlp_residual(block, x):
    h = x + block.attn(block.ln_1(x))
    return block.mlp(block.ln_2(h))


def no_attention_residual(block, x):
    h = block.attn(block.ln_1(x))
    return h + block.mlp(block.ln_2(h))


def normalised_residual(block, x):
    x = block.ln_1(x)
    h = x + block.attn(x)
    h = block.ln_2(h)
    return h + block.mlp(h)


def swapped_norms(block, x):
    h = x + block.attn(block.ln_2(x))
    return h + block.mlp(block.ln_1(h))


def parallel(block, x):
    return x + block.attn(block.ln_1(x)) + block.mlp(block.ln_2(x))


def missing_ln_2(block, x):
    h = x + block.attn(block.ln_1(x))
    return h + block.mlp(h)


def mlp_first(block, x):
    h = x + block.mlp(block.ln_2(x))
    return h + block.attn(block.ln_1(h))


def test_pre_norm_block_is_accepted():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    result = check_gpt2_block_forward(pre_norm)
    assert torch.equal(torch.rand(3), before), "the checker must not reseed the global RNG"
    assert result.passed, str(result)
    assert "✅" in str(result)


def test_reference_matches_transformers_gpt2_block():
    transformers = pytest.importorskip("transformers")
    from transformers.models.gpt2.modeling_gpt2 import GPT2Block as HFGPT2Block

    parts = make_block_parts()
    config = transformers.GPT2Config(
        n_embd=32, n_head=4, n_layer=1, n_positions=64, vocab_size=16, bos_token_id=0, eos_token_id=0
    )
    hf_block = HFGPT2Block(config, layer_idx=0).eval()
    state = {name.replace("attn.inner.", "attn."): tensor for name, tensor in parts.state_dict().items()}
    hf_block.load_state_dict(state, strict=True)  # same names: every tensor finds its place
    torch.manual_seed(3)
    x = torch.randn(2, 5, 32)
    causal = torch.zeros(5, 5).masked_fill(~torch.ones(5, 5, dtype=torch.bool).tril(), torch.finfo(torch.float32).min)
    with torch.no_grad():
        out = hf_block(x, attention_mask=causal[None, None])
        out = out[0] if isinstance(out, tuple) else out
        torch.testing.assert_close(reference(parts, x), out, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "fn, expected",
    [
        (post_norm, "Post-norm instead of pre-norm"),
        (no_mlp_residual, "Residual missing around the MLP"),
        (no_attention_residual, "Residual missing around the attention"),
        (normalised_residual, "residual carries the normalised stream"),
        (swapped_norms, "layer norms are swapped"),
        (parallel, "reads the block's input x"),
        (missing_ln_2, "ln_2 is missing"),
        (mlp_first, "MLP runs before the attention"),
    ],
)
def test_each_wiring_mistake_is_named(fn, expected):
    result = check_gpt2_block_forward(fn)
    assert not result.passed
    assert expected in str(result), str(result)


def test_starter_and_broken_answers_do_not_raise():
    def starter(block, x):
        ...

    assert "returned nothing" in str(check_gpt2_block_forward(starter))

    def like_hfexplain(block, x):  # returns (hidden, pattern) as hfexplain's GPT2Block does
        return pre_norm(block, x), None

    assert "returned a tuple" in str(check_gpt2_block_forward(like_hfexplain))

    def uses_wrong_name(block, x):
        return x + block.attention(block.ln_1(x))

    message = str(check_gpt2_block_forward(uses_wrong_name))
    assert "raised AttributeError" in message and "block.attn" in message

    def scaled(block, x):
        return pre_norm(block, x) * 1.01

    message = str(check_gpt2_block_forward(scaled))
    assert "different values" in message and "None of the usual wiring mistakes" in message
