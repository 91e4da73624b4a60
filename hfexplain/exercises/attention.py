"""Checkers for lesson 03 (attention).

``check_multi_head_attention(fn)`` checks a learner's masked multi-head attention::

    def masked_multi_head_attention(q, k, v, mask, num_heads):
        # q, k, v: (batch, seq, d_model), already projected
        # mask:    (batch, 1, seq, seq) bool, True where a query may look at a key
        # returns: (batch, seq, d_model), the heads merged back
        ...

How it finds the mistake: it runs ``fn`` on fixed inputs and compares the result with the
reference (:func:`hfexplain.layers.attend`). When they differ, it recomputes the answer
with each *typical* mistake (no scaling, mask inverted, softmax over the wrong dimension,
a missing transpose, heads split the wrong way ...) and names the one that reproduces the
learner's output exactly. The first input is chosen with as many positions as heads, so
even a missing transpose runs without a shape error and can be recognised.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import CheckResult, compare_tensors
from ..layers import attend

EXERCISE = "masked multi-head attention"

# (batch, seq, heads, head_dim, padding per sequence): the first case has seq == heads
# (see the module docstring); the second has padding on the right, combined with causality.
_CASES = (
    (2, 4, 4, 6, (0, 0)),
    (3, 6, 2, 8, (0, 2, 3)),
)


def _inputs(batch: int, seq: int, heads: int, head_dim: int, padding: tuple[int, ...]):
    generator = torch.Generator().manual_seed(1000 + seq * 10 + heads)
    d_model = heads * head_dim
    # Scores of a few units, like a trained model's: softmax is neither flat nor one-hot,
    # so every mistake below moves the output well beyond float noise.
    q, k, v = (torch.randn(batch, seq, d_model, generator=generator) * 1.5 for _ in range(3))
    causal = torch.ones(seq, seq, dtype=torch.bool).tril()  # (q, k)
    keep = torch.ones(batch, seq, dtype=torch.bool)  # (b, k): True = real token
    for row, pad in enumerate(padding):
        if pad:
            keep[row, seq - pad :] = False  # right padding: a query always sees key 0
    mask = causal[None, None] & keep[:, None, None, :]  # (b, 1, q, k)
    return q, k, v, mask


def _split(x: torch.Tensor, heads: int) -> torch.Tensor:
    batch, seq, d_model = x.shape
    return x.view(batch, seq, heads, d_model // heads).transpose(1, 2)  # (b, h, s, e)


def _merge(z: torch.Tensor) -> torch.Tensor:
    batch, heads, seq, head_dim = z.shape
    return z.transpose(1, 2).reshape(batch, seq, heads * head_dim)  # (b, s, d)


def reference(q, k, v, mask, num_heads: int) -> torch.Tensor:
    """The correct answer, with hfexplain's shared attention kernel."""
    query, key, value = (_split(t, num_heads) for t in (q, k, v))  # (b, h, s, e) each
    additive = torch.zeros(mask.shape).masked_fill(~mask, torch.finfo(torch.float32).min)  # (b, 1, q, k)
    z, _ = attend(query, key, value, additive, scale=query.shape[-1] ** -0.5)  # (b, h, s, e)
    return _merge(z)


def _attention(query, key, value, mask, *, scale, softmax_dim=-1, fill=None, mask_mode="normal"):
    """Plain attention on (..., q, e) tensors with the knobs the mistakes turn."""
    scores = query @ key.transpose(-1, -2) * scale  # (..., q, k)
    fill = torch.finfo(scores.dtype).min if fill is None else fill
    if mask_mode == "normal":
        scores = scores.masked_fill(~mask, fill)
    elif mask_mode == "inverted":
        scores = scores.masked_fill(mask, fill)
    elif mask_mode == "multiplied":
        scores = scores * mask
    return torch.softmax(scores, dim=softmax_dim) @ value


def _mistakes(q, k, v, mask, heads: int) -> list[tuple[str, torch.Tensor]]:
    """(explanation, what the answer would be with that mistake)."""
    batch, seq, d_model = q.shape
    head_dim = d_model // heads
    scale = head_dim**-0.5
    query, key, value = (_split(t, heads) for t in (q, k, v))  # (b, h, s, e)

    def standard(**knobs) -> torch.Tensor:
        return _merge(_attention(query, key, value, mask, **{"scale": scale, **knobs}))

    found: list[tuple[str, torch.Tensor]] = [
        (
            "The scores are not scaled: divide q @ k^T by sqrt(head_dim) (here sqrt("
            f"{head_dim}) = {math.sqrt(head_dim):.3g}) before the softmax.",
            standard(scale=1.0),
        ),
        (
            f"The scores are divided by sqrt(d_model) = sqrt({d_model}); scale by the size of one head "
            f"instead: sqrt(head_dim) = sqrt({head_dim}).",
            standard(scale=d_model**-0.5),
        ),
        (
            "The scores are divided by head_dim; divide by its square root, sqrt(head_dim).",
            standard(scale=1.0 / head_dim),
        ),
        (
            "The mask is applied the wrong way round: True means 'may look', so fill the scores where the "
            "mask is False (scores.masked_fill(~mask, ...)), not where it is True.",
            standard(mask_mode="inverted"),
        ),
        (
            "The mask is applied the wrong way round: True means 'may look', so fill the scores where the "
            "mask is False (scores.masked_fill(~mask, ...)), not where it is True. (With -inf, rows that "
            "see nothing become NaN.)",
            standard(mask_mode="inverted", fill=float("-inf")),
        ),
        (
            "The mask is not applied: future (and padding) positions still get attention. Fill the scores "
            "where the mask is False with a very negative number before the softmax.",
            standard(mask_mode="none"),
        ),
        (
            "The scores were multiplied by the mask: a score of 0 still gets weight after the softmax "
            "(exp(0) = 1). Fill the masked scores with a very negative number instead "
            "(scores.masked_fill(~mask, torch.finfo(scores.dtype).min)).",
            standard(mask_mode="multiplied"),
        ),
        (
            "The softmax runs over the wrong dimension: each query's weights over the keys must sum to 1, "
            "so use softmax(scores, dim=-1) (the key dimension), not dim=-2.",
            standard(softmax_dim=-2),
        ),
    ]
    # Heads split with a missing transpose: view (b, s, h, e) and attend over that directly.
    if seq == heads:
        q_bad, k_bad, v_bad = (t.view(batch, seq, heads, head_dim) for t in (q, k, v))  # (b, s, h, e)
        z = _attention(q_bad, k_bad, v_bad, mask, scale=scale)  # (b, s, h, e): heads treated as positions
        found.append(
            (
                "A transpose is missing after splitting the heads: q.view(batch, seq, heads, head_dim) must be "
                "followed by .transpose(1, 2) to give (batch, heads, seq, head_dim); without it, attention "
                "runs across heads instead of across positions.",
                z.reshape(batch, seq, d_model),
            )
        )
    z = _attention(query, key, value, mask, scale=scale)  # (b, h, s, e), correct
    found.append(
        (
            "The heads are merged without transposing back: z is (batch, heads, seq, head_dim); do "
            "z.transpose(1, 2).reshape(batch, seq, d_model), not z.reshape(batch, seq, d_model) directly.",
            z.reshape(batch, seq, d_model),
        )
    )
    # Wrong head splits: (b, s, e, h) order, or a straight reshape to (b, h, s, e). A learner
    # may merge back either the standard way or by undoing their own split: try both.
    e_h_message = (
        "The heads are split the wrong way: d_model is laid out as (heads, head_dim), so view the last "
        "dimension as (num_heads, head_dim), not (head_dim, num_heads)."
    )
    z = _attention(
        *(t.view(batch, seq, head_dim, heads).permute(0, 3, 1, 2) for t in (q, k, v)), mask, scale=scale
    )  # (b, h, s, e)
    found.append((e_h_message, _merge(z)))
    found.append((e_h_message, z.permute(0, 2, 3, 1).reshape(batch, seq, d_model)))
    straight_message = (
        "The heads are split the wrong way: reshaping (batch, seq, d_model) straight to "
        "(batch, num_heads, seq, head_dim) mixes positions into heads. View as (batch, seq, num_heads, "
        "head_dim), then transpose(1, 2)."
    )
    z = _attention(*(t.reshape(batch, heads, seq, head_dim) for t in (q, k, v)), mask, scale=scale)  # (b, h, s, e)
    found.append((straight_message, _merge(z)))
    found.append((straight_message, z.reshape(batch, seq, d_model)))
    found.append(
        (
            "Only one head is used: with num_heads heads, each head attends with its own head_dim slice; "
            "split d_model into (num_heads, head_dim) before computing scores.",
            _merge(_attention(*(t[:, None] for t in (q, k, v)), mask, scale=d_model**-0.5)),
        )
    )
    return found


def check_multi_head_attention(fn: Callable) -> CheckResult:
    """Check ``fn(q, k, v, mask, num_heads) -> (batch, seq, d_model)``; never raises on a wrong answer."""
    if not callable(fn):
        return CheckResult(EXERCISE, False, [f"Pass your function itself, got {type(fn).__name__}."])
    for batch, seq, heads, head_dim, padding in _CASES:
        q, k, v, mask = _inputs(batch, seq, heads, head_dim, padding)
        where = (
            f"(seen on q, k, v of shape {tuple(q.shape)} with num_heads={heads}"
            + (f" and right padding {list(padding)})" if any(padding) else ")")
        )
        try:
            got = fn(q.clone(), k.clone(), v.clone(), mask.clone(), heads)
        except Exception as error:  # noqa: BLE001 - the learner's error is the verdict
            hint = ""
            text = str(error)
            if "size of tensor" in text or "shape" in text or "mat1 and mat2" in text or "dimension" in text:
                hint = (
                    " A shape error usually means the head split is off: view (batch, seq, d_model) as "
                    "(batch, seq, num_heads, head_dim), transpose(1, 2) to (batch, heads, seq, head_dim), "
                    "and the mask (batch, 1, seq, seq) then broadcasts over the heads."
                )
            message = f"Your function raised {type(error).__name__}: {text}.{hint}"
            return CheckResult(EXERCISE, False, [message, where])
        if isinstance(got, tuple):
            return CheckResult(
                EXERCISE, False, ["Your function returned a tuple; return only the output tensor (batch, seq, d_model)."]
            )
        expected = reference(q, k, v, mask, heads)
        problems = compare_tensors("the output", got, expected, atol=1e-5)
        if not problems:
            continue
        if isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(expected.shape):
            got = got.detach().to(expected.dtype)
            for explanation, wrong in _mistakes(q, k, v, mask, heads):
                if torch.allclose(got, wrong, atol=1e-5, equal_nan=True):
                    return CheckResult(EXERCISE, False, [explanation, where])
            problems.append(
                "None of the usual mistakes explains it; compare your steps one by one with the lesson: "
                "split heads, scores = q @ k^T / sqrt(head_dim), fill where the mask is False, softmax over "
                "the keys (dim=-1), weights @ v, merge heads."
            )
        problems[0] = problems[0][0].upper() + problems[0][1:]
        return CheckResult(EXERCISE, False, [*problems, where])
    return CheckResult(
        EXERCISE,
        True,
        [
            "matches hfexplain.layers.attend with causal and padding masks, for 4 heads of 6 and 2 heads of 8 "
            "dimensions."
        ],
    )


__all__ = ["check_multi_head_attention", "reference"]
