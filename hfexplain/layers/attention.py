"""The attention every family shares: masks, then softmax(q k^T * scale + mask) v.

Families differ in how they *make* queries, keys and values (one fused projection or
three, learned or rotary positions, as many key/value heads as query heads or fewer).
Once q, k and v exist, they all call :func:`attend`.

Shapes: b=batch, h=query heads, g=key/value heads (h for plain multi-head attention,
fewer for grouped-query attention), q=query positions, k=key positions, e=head dim.

Masks are *additive* float tensors of shape (b, 1, q, k): 0 where a query may look at a
key, the dtype's most negative value where it may not (adding it rather than -inf keeps
every softmax finite while a row still sees at least one key).

A row that sees *no* key at all (a query on a padding position whose causal window holds only
padding, or a sequence whose mask is all zeros) is marked -inf from end to end, and such a
query's attention output is zero: its pattern row is all zeros. That is what torch's
``scaled_dot_product_attention`` does with a boolean mask, and so what transformers' default
(SDPA) attention gives for most families; filling the row with the most negative value instead
makes it attend uniformly to every key, future positions included. transformers' eager attention
does that (and so disagrees with its own SDPA path on these rows), and it is what T5, GPT-Neo and
GPT-J compute there in transformers: those families ask for it with
``build_attention_mask(..., fully_masked_rows="uniform")``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..hooks import HookPoint


def is_traced() -> bool:
    """True while torch records the model rather than runs it: ``torch.export`` / ``torch.compile``
    (``torch.onnx.export(dynamo=True)``) or the TorchScript tracer (``dynamo=False``). A Python
    branch on a tensor's *values* cannot be recorded, so the code below then takes its general path,
    which gives the same result as the shortcut it skips."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing()


def causal_mask(q_len: int, k_len: int, device: torch.device | None = None) -> torch.Tensor:
    """Boolean (q, k) mask: True where query i may see key j.

    With a KV cache the queries are the *last* ``q_len`` of ``k_len`` positions, so
    query i sits at absolute position ``i + k_len - q_len`` and sees keys up to it.
    """
    offset = k_len - q_len
    query_pos = torch.arange(q_len, device=device)[:, None] + offset  # (q, 1)
    key_pos = torch.arange(k_len, device=device)[None, :]  # (1, k)
    return key_pos <= query_pos  # (q, k)


def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Boolean (b, 1, 1, k) mask from a tokenizer's 0/1 ``attention_mask`` of shape (b, k)."""
    return attention_mask.bool()[:, None, None, :]  # (b, 1, 1, k)


def build_attention_mask(
    attention_mask: torch.Tensor | None,
    q_len: int,
    k_len: int,
    *,
    causal: bool,
    dtype: torch.dtype,
    device: torch.device,
    fully_masked_rows: str = "zero",
) -> torch.Tensor | None:
    """Combine causal and padding masks into one additive (b|1, 1, q, k) mask.

    Returns ``None`` when nothing needs masking (no padding, and either not causal or
    a single query that may see every key), so the fast kernel can skip the mask.

    ``fully_masked_rows`` says what a query that may see no key gets: ``"zero"`` (the row is
    -inf throughout, so the query attends to nothing: transformers' SDPA attention, used by most
    families), ``"uniform"`` (the row keeps the most negative value, so its softmax is uniform
    over every key: what transformers computes where it adds a float mask, T5 with its position
    bias and GPT-J with eager attention only) or ``"causal-uniform"`` (future keys are -inf and
    padding the most negative value, so the row is uniform over the keys causality allows:
    GPT-Neo, whose eager attention masks the future first and adds the padding mask after).
    """
    if fully_masked_rows not in ("zero", "uniform", "causal-uniform"):
        raise ValueError(f"fully_masked_rows is 'zero', 'uniform' or 'causal-uniform', got {fully_masked_rows!r}.")
    allowed = None
    if causal and not (q_len == 1 and k_len >= 1):
        allowed = causal_mask(q_len, k_len, device)[None, None]  # (1, 1, q, k)
    if attention_mask is not None:
        if attention_mask.dim() != 2 or attention_mask.shape[-1] != k_len:
            raise ValueError(
                f"attention_mask must have shape (batch, {k_len}) (past plus new positions), "
                f"got {tuple(attention_mask.shape)}."
            )
        if is_traced() or not bool(attention_mask.bool().all()):  # traced: the padding path, same mask
            pad = padding_mask(attention_mask.to(device))  # (b, 1, 1, k)
            allowed = pad if allowed is None else (allowed & pad)  # (b, 1, q, k)
    if allowed is None:
        return None
    additive = torch.zeros(allowed.shape, dtype=dtype, device=device)
    additive = additive.masked_fill(~allowed, torch.finfo(dtype).min)  # (b|1, 1, q|1, k)
    if fully_masked_rows == "zero":
        return mark_unattended_rows(additive)
    if fully_masked_rows == "causal-uniform" and causal and not (q_len == 1 and k_len >= 1):
        additive = additive.masked_fill(~causal_mask(q_len, k_len, device), float("-inf"))
    return additive


def mark_unattended_rows(mask: torch.Tensor) -> torch.Tensor:
    """Set every row of an additive mask that allows no key to -inf (see the module docstring):
    :func:`attend` then gives those queries a zero output and an all-zero pattern row."""
    unattended = (mask <= torch.finfo(mask.dtype).min).all(dim=-1, keepdim=True)  # (b|1, 1, q|1, 1)
    if not is_traced() and not bool(unattended.any()):  # traced: fill always (the same result)
        return mask
    return mask.masked_fill(unattended, float("-inf"))


def _unattended_rows(mask: torch.Tensor | None) -> torch.Tensor | None:
    """(b|1, 1|h, q|1, 1) True where a mask row is -inf throughout, or None when no row is."""
    if mask is None:
        return None
    unattended = torch.isneginf(mask).all(dim=-1, keepdim=True)  # (b|1, 1|h, q|1, 1)
    if is_traced():  # no branch on values (a masked_fill with no True changes nothing)
        return unattended
    return unattended if bool(unattended.any()) else None


def repeat_kv(states: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(b, g, k, e) -> (b, g * n_rep, k, e): each key/value head serves n_rep query heads."""
    if n_rep == 1:
        return states
    return states.repeat_interleave(n_rep, dim=1)  # (b, h, k, e)


def attend(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    *,
    scale: float,
    dropout: float = 0.0,
    hook_scores: HookPoint | None = None,
    hook_pattern: HookPoint | None = None,
    need_weights: bool = False,
    upcast: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scaled dot-product attention. Returns ``(z, pattern)``.

    Args:
        query: (b, h, q, e). key, value: (b, g, k, e) with h a multiple of g.
        mask: additive (b|1, 1, q|1, k) mask or None (see :func:`build_attention_mask`).
        scale: multiplies q k^T; usually ``e ** -0.5``.
        dropout: attention dropout probability (pass 0.0 in eval mode).
        hook_scores, hook_pattern: the family's hook points for the scores and pattern.
        need_weights: compute and return the pattern even if no hook watches it
            (``output_attentions=True``).

    Returns:
        z: (b, h, q, e), the per-head outputs. pattern: (b, h, q, k) or None.

    "Fast unless watched": when nobody asks for the scores or the pattern, this calls
    torch's fused ``scaled_dot_product_attention``; otherwise it computes the same thing
    step by step so the hooks can see (and change) every stage. Both agree to float
    tolerance.
    """
    n_rep = query.shape[1] // key.shape[1]
    watched = need_weights or bool(hook_scores and hook_scores.is_watched) or bool(
        hook_pattern and hook_pattern.is_watched
    )
    if not watched:
        z = F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask, dropout_p=dropout, scale=scale, enable_gqa=bool(n_rep > 1)
        )  # (b, h, q, e); bool(): the TorchScript tracer sees shapes as tensors
        return z, None

    key = repeat_kv(key, n_rep)  # (b, h, k, e)
    value = repeat_kv(value, n_rep)  # (b, h, k, e)
    scores = torch.matmul(query, key.transpose(-1, -2)) * scale  # (b, h, q, k)
    if mask is not None:
        scores = scores + mask
    if hook_scores is not None:
        scores = hook_scores(scores)
    if upcast:
        pattern = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)  # (b, h, q, k)
    else:
        pattern = torch.softmax(scores, dim=-1)
    unattended = _unattended_rows(mask)
    if unattended is not None:  # softmax of a row that is -inf throughout is NaN: such a query attends to nothing
        pattern = pattern.masked_fill(unattended, 0.0)
    if hook_pattern is not None:
        pattern = hook_pattern(pattern)
    z = torch.matmul(F.dropout(pattern, p=dropout, training=dropout > 0), value)  # (b, h, q, e)
    return z, pattern
