"""The lesson-12 checker accepts a correct cross-attention and names each typical mistake.

The learner answers are written the way a learner would write them (explicit masks, einsum,
torch's fused attention), independently of the checker's catalogue; the checker's reference
itself is checked against transformers' Marian cross-attention on the same weights.
"""
from __future__ import annotations

import pytest
import torch

from hfexplain.exercises import CheckResult
from hfexplain.exercises.encoder_decoder import check_cross_attention, make_inputs, make_layer, reference

from conftest import quiet_transformers


def test_reference_is_transformers_marian_cross_attention():
    transformers = quiet_transformers()
    from transformers.models.marian.modeling_marian import MarianAttention

    attn = make_layer(heads=2, head_dim=4, seed=3)
    decoder_states, encoder_states, mask = make_inputs(2, 3, 5, 8, (0, 2), seed=3)
    config = transformers.MarianConfig(d_model=8, decoder_attention_heads=2)
    config._attn_implementation = "eager"
    theirs = MarianAttention(8, 2, is_decoder=True, config=config, layer_idx=0).eval()
    theirs.load_state_dict({name: tensor for name, tensor in attn.state_dict().items()})
    additive = torch.zeros(2, 1, 1, 5).masked_fill(mask[:, None, None, :] == 0, torch.finfo(torch.float32).min)
    with torch.no_grad():
        expected, _ = theirs(decoder_states, key_value_states=encoder_states, attention_mask=additive)
    ours = reference(attn, decoder_states, encoder_states, mask)
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=1e-6)
    assert (ours[1] - reference(attn, decoder_states, encoder_states, torch.ones_like(mask))[1]).abs().max() > 1e-3


def heads(x, attn):
    batch, seq, _ = x.shape
    return x.view(batch, seq, attn.num_heads, attn.head_dim).transpose(1, 2)  # (b, h, seq, e)


def written_out(attn, decoder_states, encoder_states, encoder_attention_mask):
    q = heads(attn.q_proj(decoder_states), attn)
    k = heads(attn.k_proj(encoder_states), attn)
    v = heads(attn.v_proj(encoder_states), attn)
    scores = q @ k.transpose(-1, -2) / attn.head_dim**0.5
    scores = scores.masked_fill(encoder_attention_mask[:, None, None, :] == 0, float("-inf"))
    z = scores.softmax(dim=-1) @ v
    batch, t, d = decoder_states.shape
    return attn.out_proj(z.transpose(1, 2).reshape(batch, t, d))


def with_sdpa(attn, decoder_states, encoder_states, encoder_attention_mask):
    q, k, v = heads(attn.q_proj(decoder_states), attn), heads(attn.k_proj(encoder_states), attn), \
        heads(attn.v_proj(encoder_states), attn)
    keep = encoder_attention_mask[:, None, None, :].bool()
    z = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    return attn.out_proj(z.transpose(1, 2).flatten(2))


@pytest.mark.parametrize("answer", [written_out, with_sdpa])
def test_correct_answers_pass(answer):
    result = check_cross_attention(answer)
    assert isinstance(result, CheckResult) and result.passed, str(result)
    assert "correct" in str(result)


def variant(*, scale=True, mask="fill", causal=False, dim=-1, project=True, transpose_back=True, kv_from="encoder",
            q_from="decoder", returns="output"):
    """A learner's answer with one thing changed."""
    def answer(attn, decoder_states, encoder_states, encoder_attention_mask):
        source = encoder_states if kv_from == "encoder" else decoder_states
        q = heads(attn.q_proj(decoder_states if q_from == "decoder" else encoder_states), attn)
        k, v = heads(attn.k_proj(source), attn), heads(attn.v_proj(source), attn)
        scores = torch.einsum("bhte,bhse->bhts", q, k)
        if scale:
            scores = scores / attn.head_dim**0.5
        keep = encoder_attention_mask[:, None, None, :]
        if causal:
            keep = keep * torch.ones(scores.shape[-2:]).tril()
        if mask == "fill":
            scores = scores.masked_fill(keep == 0, -1e9)
        elif mask == "inverted":
            scores = scores.masked_fill(keep == 1, -1e9)
        elif mask == "times":
            scores = scores * keep
        elif mask == "plus":
            scores = scores + keep
        weights = scores.softmax(dim=dim)
        if returns == "pattern":
            return weights
        z = weights @ v
        if returns == "z":
            return z
        if returns == "tuple":
            return z, weights
        batch, t, d = z.shape[0], z.shape[2], z.shape[1] * z.shape[3]
        merged = z.transpose(1, 2).reshape(batch, t, d) if transpose_back else z.reshape(batch, t, d)
        return attn.out_proj(merged) if project else merged
    return answer


def forgets_return(attn, decoder_states, encoder_states, encoder_attention_mask):
    written_out(attn, decoder_states, encoder_states, encoder_attention_mask)


def odd(attn, decoder_states, encoder_states, encoder_attention_mask):
    return written_out(attn, decoder_states, encoder_states, encoder_attention_mask) * 1.01


@pytest.mark.parametrize("answer, words", [
    (variant(scale=False), "not scaled"),
    (variant(mask="none"), "padding mask is missing"),
    (variant(mask="inverted"), "wrong way round"),
    (variant(mask="times"), "multiplied by the mask"),
    (variant(mask="plus"), "added to the scores as it is"),
    (variant(causal=True), "cross-attention has none"),
    (variant(dim=-2), "softmax runs over the wrong dimension"),
    (variant(project=False), "output projection is missing"),
    (variant(transpose_back=False), "merged without transposing back"),
    (variant(kv_from="decoder"), "raised RuntimeError"),
    (variant(q_from="encoder"), "one row per *source* position"),
    (variant(returns="pattern"), "That is the attention pattern"),
    (variant(returns="z"), "That is z, per head"),
    (variant(returns="tuple"), "returned a tuple"),
    (forgets_return, "forget `return`"),
    (odd, "max difference"),
    (42, "Pass your function itself"),
])
def test_each_mistake_is_named(answer, words):
    result = check_cross_attention(answer)
    assert not result.passed
    assert words in str(result), str(result)
