"""Checkers for lesson 11 (the family tree).

``check_local_causal_mask(fn)`` checks a learner's local-window causal mask, the one change
that turns GPT-2's attention into a GPT-Neo "local" layer::

    def local_causal_mask(seq_len, window_size):
        # returns: (seq_len, seq_len) bool, True where query q may look at key k
        ...

GPT-Neo's rule (transformers' ``GPTNeoSelfAttention`` for ``attention_type="local"``): a query
sees itself and the ``window_size - 1`` keys before it, so ``0 <= q - k < window_size``.

How it finds the mistake: it compares ``fn``'s mask with the reference for a few
``(seq_len, window_size)`` pairs, and when they differ it builds the mask each *typical*
mistake gives (a window one too wide, a window that also looks ahead, the window counted
from the start of the text, the window forgotten, True and False swapped ...) and names the
one that reproduces the learner's mask exactly.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from . import CheckResult

EXERCISE = "local causal mask"

# (seq_len, window_size): a window shorter than the text (the case that matters), a window of
# one (only itself), and a window longer than the text (then local equals global causal).
_CASES = ((7, 3), (5, 1), (4, 6))


def reference(seq_len: int, window_size: int) -> torch.Tensor:
    """The correct mask: True where ``0 <= q - k < window_size``."""
    q = torch.arange(seq_len)[:, None]  # (q, 1)
    k = torch.arange(seq_len)[None, :]  # (1, k)
    distance = q - k  # (q, k): how far back key k lies from query q
    return (distance >= 0) & (distance < window_size)  # (q, k)


def _mistakes(seq_len: int, window_size: int) -> dict[str, torch.Tensor]:
    q = torch.arange(seq_len)[:, None]  # (q, 1)
    k = torch.arange(seq_len)[None, :]  # (1, k)
    distance = q - k  # (q, k)
    right = reference(seq_len, window_size)
    return {
        "the window is one key too wide: use `q - k < window_size`, not `<=` (a query sees itself "
        "and the window_size - 1 keys before it)": (distance >= 0) & (distance <= window_size),
        "the window is one key too narrow: a query sees itself and window_size - 1 earlier keys, "
        "so the test is `q - k < window_size`": (distance >= 0) & (distance < window_size - 1),
        "the mask also looks ahead: keep it causal (`q - k >= 0`) as well as local": distance.abs() < window_size,
        "the window is counted from the start of the text (`k < window_size`), not back from each "
        "query (`q - k < window_size`)": (distance >= 0) & (k < window_size),
        "the window is missing: this is GPT-2's full causal mask; also require `q - k < window_size`": distance >= 0,
        "True and False are swapped: True must mean 'may look'": ~right,
        "the mask is transposed: rows are queries and columns keys (the keys a query sees lie at or "
        "left of the diagonal)": right.T,
    }


def check_local_causal_mask(fn: Callable) -> CheckResult:
    """Check ``fn(seq_len, window_size) -> (seq_len, seq_len) bool``; never raises on a wrong answer."""
    if not callable(fn):
        return CheckResult(EXERCISE, False, [f"Pass your function itself, got {type(fn).__name__}."])
    for seq_len, window_size in _CASES:
        where = f"(seen with seq_len={seq_len}, window_size={window_size})"
        try:
            got = fn(seq_len, window_size)
        except Exception as error:  # noqa: BLE001 - the learner's error is the verdict
            return CheckResult(EXERCISE, False, [f"your function raised {type(error).__name__}: {error} {where}."])
        if got is None:
            return CheckResult(EXERCISE, False, ["the function returned nothing (did you forget `return`?)."])
        if not isinstance(got, torch.Tensor):
            return CheckResult(EXERCISE, False, [f"return a torch.Tensor, got {type(got).__name__}."])
        if tuple(got.shape) != (seq_len, seq_len):
            return CheckResult(EXERCISE, False, [
                f"the mask has shape {tuple(got.shape)} but should be (seq_len, seq_len) = "
                f"{(seq_len, seq_len)}: one row per query, one column per key {where}."
            ])
        if got.dtype != torch.bool:
            return CheckResult(EXERCISE, False, [
                f"the mask has dtype {got.dtype}; return a bool tensor (True where a query may look), "
                f"e.g. with comparisons combined by `&` {where}."
            ])
        expected = reference(seq_len, window_size)
        if torch.equal(got, expected):
            continue
        for message, mask in _mistakes(seq_len, window_size).items():
            if torch.equal(got, mask):
                return CheckResult(EXERCISE, False, [f"{message} {where}."])
        wrong = torch.nonzero(got != expected)[0].tolist()
        return CheckResult(EXERCISE, False, [
            f"query {wrong[0]} and key {wrong[1]} should be {'allowed' if expected[tuple(wrong)] else 'masked'} "
            f"but your mask says {'allowed' if got[tuple(wrong)] else 'masked'}; the rule is "
            f"0 <= q - k < window_size {where}."
        ])
    return CheckResult(EXERCISE, True, [
        "this is the mask GPT-Neo's local layers use; everything else in the layer is GPT-2's attention "
        "(without the 1/sqrt(head_dim) scale)."
    ])


__all__ = ["check_local_causal_mask", "reference"]
