"""Checkers for lesson 12 (encoder-decoders).

``check_cross_attention(fn)`` checks a learner's cross-attention, the sublayer that lets a
decoder read the encoder::

    def cross_attention(attn, decoder_states, encoder_states, encoder_attention_mask):
        # attn:                   one decoder layer's cross-attention module (BART / Marian names):
        #                         q_proj, k_proj, v_proj, out_proj (nn.Linear d -> d), num_heads, head_dim
        # decoder_states:         (batch, t, d)  the decoder's stream: the queries come from here
        # encoder_states:         (batch, s, d)  the encoder's output: the keys and values come from here
        # encoder_attention_mask: (batch, s)     1 for a real source token, 0 for padding
        # returns:                (batch, t, d)  what the sublayer adds to the decoder's stream
        ...

The reference is the library's own layer (``MarianAttention(cross=True)`` of
:mod:`hfexplain.models.marian`, a marked copy of BART's) with the mask of
:func:`hfexplain.layers.cross_attention_mask`; ``tests/test_exercises_encoder_decoder.py`` checks
it against transformers' Marian layer on the same weights.

How it finds the mistake: it runs ``fn`` on a small random layer and inputs with padding in
the source and ``t != s`` (so a query/key mix-up is a shape error, not a silent one), compares
the output with the reference, and when they differ recomputes the answer with each *typical*
mistake (no scaling, no padding mask, the mask inverted or added as 0/1, a causal triangle that
cross-attention does not have, the softmax over the queries, ``out_proj`` forgotten ...) and
names the one that reproduces the learner's output. Otherwise it reports the first difference.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import CheckResult, compare_tensors
from ..layers import cross_attention_mask
from .attention import _attention

EXERCISE = "cross-attention"

# (batch, t decoder positions, s source positions, heads, head_dim, source padding per row):
# a short target over a longer source; one decoding step (t = 1, as inside generate); and a
# target longer than its source. Every row keeps at least its first source token.
_CASES = (
    (2, 3, 5, 2, 4, (0, 2)),
    (3, 1, 6, 4, 4, (0, 3, 5)),
    (2, 6, 4, 2, 8, (1, 0)),
)


def make_layer(heads: int, head_dim: int, seed: int = 0):
    """A decoder layer's cross-attention (hfexplain's ``MarianAttention``) with seeded random weights."""
    from ..models.marian import MarianAttention, MarianConfig

    d_model = heads * head_dim
    config = MarianConfig(vocab_size=8, d_model=d_model, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=heads, decoder_attention_heads=heads,
                          encoder_ffn_dim=4, decoder_ffn_dim=4, max_position_embeddings=8,
                          pad_token_id=0, decoder_start_token_id=0)
    with torch.random.fork_rng():  # nn.Linear's default init draws from the global generator
        torch.manual_seed(seed)
        attn = MarianAttention(config, heads, 0, "decoder", cross=True).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in attn.parameters():  # trained-like scale: scores of a few units
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * d_model**-0.5)
    return attn


def make_inputs(batch: int, t: int, s: int, d_model: int, padding: tuple[int, ...], seed: int = 0):
    """(decoder_states (b, t, d), encoder_states (b, s, d), encoder_attention_mask (b, s) of 0/1)."""
    generator = torch.Generator().manual_seed(1000 + seed)
    decoder_states = torch.randn(batch, t, d_model, generator=generator) * 1.5  # (b, t, d)
    encoder_states = torch.randn(batch, s, d_model, generator=generator) * 1.5  # (b, s, d)
    mask = torch.ones(batch, s, dtype=torch.long)  # (b, s): 1 = a real source token
    for row, pad in enumerate(padding):
        if pad:
            mask[row, s - pad:] = 0  # right padding, as a tokenizer pads a batch
    return decoder_states, encoder_states, mask


def reference(attn, decoder_states, encoder_states, encoder_attention_mask) -> torch.Tensor:
    """The correct answer: the library's layer, with the library's cross-attention mask (b, 1, 1, s)."""
    mask = cross_attention_mask(encoder_attention_mask, encoder_states.shape[1], dtype=decoder_states.dtype,
                                device=decoder_states.device)
    with torch.no_grad():
        output, _ = attn(decoder_states, mask, encoder_states)  # (b, t, d)
    return output


def _split(x: torch.Tensor, heads: int) -> torch.Tensor:
    batch, seq, d_model = x.shape
    return x.view(batch, seq, heads, d_model // heads).transpose(1, 2)  # (b, h, seq, e)


def _cross(attn, decoder_states, encoder_states, mask, *, scale=None, mask_mode="normal", causal=False,
           softmax_dim=-1, project_out=True, merge="transpose") -> torch.Tensor:
    """Cross-attention with the knobs the mistakes turn (mask: (b, s) of 0/1)."""
    heads, head_dim = attn.num_heads, attn.head_dim
    batch, t, d_model = decoder_states.shape
    s = encoder_states.shape[1]
    with torch.no_grad():
        query = _split(attn.q_proj(decoder_states), heads)  # (b, h, t, e)
        key = _split(attn.k_proj(encoder_states), heads)  # (b, h, s, e)
        value = _split(attn.v_proj(encoder_states), heads)  # (b, h, s, e)
        scale = head_dim**-0.5 if scale is None else scale
        keep = mask.bool()[:, None, None, :]  # (b, 1, 1, s)
        if causal:
            keep = keep & torch.ones(t, s, dtype=torch.bool).tril()  # (b, 1, t, s)
        if mask_mode == "added":  # the 0/1 mask added to the scores as if it were an additive mask
            scores = query @ key.transpose(-1, -2) * scale + mask[:, None, None, :]  # (b, h, t, s)
            z = torch.softmax(scores, dim=softmax_dim) @ value  # (b, h, t, e)
        else:  # lesson 03's knobs: normal, inverted, multiplied, none
            z = _attention(query, key, value, keep, scale=scale, softmax_dim=softmax_dim, mask_mode=mask_mode)
        if merge == "transpose":
            merged = z.transpose(1, 2).reshape(batch, t, d_model)  # (b, t, d)
        else:
            merged = z.reshape(batch, t, d_model)  # (b, t, d), heads and positions mixed
        return attn.out_proj(merged) if project_out else merged


def _mistakes(attn, decoder_states, encoder_states, mask) -> list[tuple[str, torch.Tensor]]:
    """(explanation, what the answer would be with that mistake)."""
    head_dim, d_model = attn.head_dim, attn.num_heads * attn.head_dim

    def wrong(**knobs) -> torch.Tensor:
        return _cross(attn, decoder_states, encoder_states, mask, **knobs)

    return [
        (f"the scores are not scaled: divide q @ k^T by sqrt(head_dim) = sqrt({head_dim}) = "
         f"{math.sqrt(head_dim):.3g} before the softmax (BART and Marian scale; only T5 does not).",
         wrong(scale=1.0)),
        (f"the scores are divided by sqrt(d_model) = sqrt({d_model}); scale by the size of one head, "
         f"sqrt(head_dim) = sqrt({head_dim}).", wrong(scale=d_model**-0.5)),
        ("the scores are divided by head_dim; divide by its square root, sqrt(head_dim).",
         wrong(scale=1.0 / head_dim)),
        ("the padding mask is missing: the decoder's queries still read the source's padding. Hide the keys "
         "where encoder_attention_mask is 0: scores.masked_fill(mask[:, None, None, :] == 0, "
         "torch.finfo(scores.dtype).min), a (batch, 1, 1, s) mask that broadcasts over heads and queries.",
         wrong(mask_mode="none")),
        ("the padding mask is applied the wrong way round: 1 means a real source token, so fill the scores "
         "where the mask is 0, not where it is 1.", wrong(mask_mode="inverted")),
        ("the scores were multiplied by the mask: a score of 0 still gets weight after the softmax "
         "(exp(0) = 1). Fill the masked scores with a very negative number instead.", wrong(mask_mode="multiplied")),
        ("the 0/1 attention mask was added to the scores as it is: an additive mask is 0 where a key may be "
         "read and a very negative number where it may not (build it from the 0/1 mask, e.g. with masked_fill).",
         wrong(mask_mode="added")),
        ("a causal triangle is applied: cross-attention has none. The whole source is known before the decoder "
         "starts, so every decoder position may read every (non-padding) source position; only the padding "
         "mask applies.", wrong(causal=True)),
        ("the softmax runs over the wrong dimension: each decoder query's weights over the source keys must "
         "sum to 1, so use softmax(scores, dim=-1) (the key dimension), not dim=-2.", wrong(softmax_dim=-2)),
        ("the output projection is missing: after merging the heads back to (batch, t, d), apply "
         "attn.out_proj, as every multi-head attention does.", wrong(project_out=False)),
        ("the heads are merged without transposing back: z is (batch, heads, t, head_dim); do "
         "z.transpose(1, 2).reshape(batch, t, d), not z.reshape(batch, t, d) directly.", wrong(merge="reshape")),
    ]


def _shape_hint(got_shape: tuple, batch: int, t: int, s: int, heads: int, head_dim: int) -> str:
    d_model = heads * head_dim
    hints = {
        (batch, s, d_model): " That is one row per *source* position: the queries come from decoder_states "
                             "(batch, t, d), the keys and values from encoder_states (batch, s, d).",
        (batch, heads, t, s): " That is the attention pattern: multiply it by the values, merge the heads and "
                              "apply out_proj.",
        (batch, heads, t, head_dim): " That is z, per head: merge the heads back with "
                                     "z.transpose(1, 2).reshape(batch, t, d), then apply out_proj.",
    }
    return hints.get(tuple(got_shape), "")


def check_cross_attention(fn: Callable) -> CheckResult:
    """Check ``fn(attn, decoder_states, encoder_states, encoder_attention_mask) -> (batch, t, d)``;
    never raises on a wrong answer."""
    if not callable(fn):
        return CheckResult(EXERCISE, False, [f"Pass your function itself, got {type(fn).__name__}."])
    for case, (batch, t, s, heads, head_dim, padding) in enumerate(_CASES):
        attn = make_layer(heads, head_dim, seed=case)
        decoder_states, encoder_states, mask = make_inputs(batch, t, s, heads * head_dim, padding, seed=case)
        where = (f"(seen with decoder_states {tuple(decoder_states.shape)}, encoder_states "
                 f"{tuple(encoder_states.shape)}, {heads} heads of {head_dim}, source padding {list(padding)})")
        try:
            got = fn(attn, decoder_states.clone(), encoder_states.clone(), mask.clone())
        except Exception as error:  # noqa: BLE001 - the learner's error is the verdict
            return CheckResult(EXERCISE, False, [
                f"your function raised {type(error).__name__}: {error}. The queries come from decoder_states "
                "(batch, t, d) and the keys and values from encoder_states (batch, s, d), so the scores are "
                "(batch, heads, t, s) and the mask (batch, s) becomes (batch, 1, 1, s).", where])
        if isinstance(got, tuple):
            return CheckResult(EXERCISE, False, [
                "your function returned a tuple; return only the output tensor (batch, t, d).", where])
        expected = reference(attn, decoder_states, encoder_states, mask)
        problems = compare_tensors("the output", got, expected, atol=1e-5)
        if not problems:
            continue
        if isinstance(got, torch.Tensor) and tuple(got.shape) != tuple(expected.shape):
            problems[0] += _shape_hint(tuple(got.shape), batch, t, s, heads, head_dim)
        elif isinstance(got, torch.Tensor):
            got = got.detach().to(expected.dtype)
            for explanation, answer in _mistakes(attn, decoder_states, encoder_states, mask):
                if torch.allclose(got, answer, atol=1e-5, equal_nan=True):
                    return CheckResult(EXERCISE, False, [explanation[0].upper() + explanation[1:], where])
            problems.append(
                "none of the usual mistakes explains it; compare your steps with the lesson: q from "
                "decoder_states, k and v from encoder_states, heads split, scores = q @ k^T / sqrt(head_dim), "
                "padding keys filled with a very negative number, softmax over the keys, weights @ v, heads "
                "merged, out_proj."
            )
        problems[0] = problems[0][0].upper() + problems[0][1:]
        return CheckResult(EXERCISE, False, [*problems, where])
    return CheckResult(EXERCISE, True, [
        "matches the library's cross-attention layer (BART's and Marian's) for a short and a long target, one "
        "decoding step (t = 1), and padded sources."
    ])


__all__ = ["check_cross_attention", "make_inputs", "make_layer", "reference"]
