"""Cross-attention: the decoder's queries read the encoder's keys and values.

In an encoder-decoder (BART, Marian, T5 ...) every decoder layer has a second attention
after its causal self-attention. Its queries come from the decoder's stream (b, h, t, e);
its keys and values are projections of the *encoder's output* (b, h, s, e), and its mask
is the encoder's padding mask: no causal triangle, since the whole source is known.

    decoder stream (b, t, d) ─► q_proj ─► q (b, h, t, e) ─┐
    encoder output (b, s, d) ─► k_proj, v_proj ─► k, v (b, h, s, e) ─► attend ─► z (b, h, t, e)
    source attention_mask (b, s) ─► additive mask (b, 1, 1, s) ─┘

While generating, the encoder's output never changes, so its keys and values are the same
at every step: :func:`encoder_key_values` computes them on the first step, stores them in
the :class:`~hfexplain.layers.cache.EncoderDecoderCache`'s cross slot (``set_cross``) and
reads them back afterwards (``get_cross``). A family keeps its own projections (their
names are its checkpoint's) and calls these two helpers.

Shapes: b=batch, t=decoder (query) positions, s=encoder (source) positions, h=heads, e=head dim.
"""
from __future__ import annotations

import torch
from torch import nn

from ..hooks import HookPoint
from .attention import build_attention_mask
from .cache import EncoderDecoderCache


def encoder_key_values(
    encoder_states: torch.Tensor,
    k_proj: nn.Module,
    v_proj: nn.Module,
    num_heads: int,
    head_dim: int,
    *,
    cache: EncoderDecoderCache | None = None,
    layer_idx: int = 0,
    hook_k: HookPoint | None = None,
    hook_v: HookPoint | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The cross-attention keys and values of one decoder layer, each (b, h, s, e).

    Args:
        encoder_states: the encoder's last hidden state (b, s, d).
        k_proj, v_proj: the layer's key and value projections (d -> h * e).
        cache: the decoder's cache while generating (or any cached forward); ``None`` otherwise.
            On the first call for ``layer_idx`` the projections run and are stored; later
            calls return the stored tensors without projecting again (so ``hook_k`` /
            ``hook_v`` fire once per generate call, on the first step).
        hook_k, hook_v: the family's ``cross_k`` / ``cross_v`` hook points.
    """
    if cache is not None and cache.is_cross_ready(layer_idx):
        return cache.get_cross(layer_idx)  # computed on the first step
    batch, source, _ = encoder_states.shape
    key = k_proj(encoder_states).view(batch, source, num_heads, head_dim).transpose(1, 2)  # (b, h, s, e)
    value = v_proj(encoder_states).view(batch, source, num_heads, head_dim).transpose(1, 2)  # (b, h, s, e)
    if hook_k is not None:
        key = hook_k(key)
    if hook_v is not None:
        value = hook_v(value)
    if cache is not None:
        key, value = cache.set_cross(key, value, layer_idx)
    return key, value


def cross_attention_mask(
    encoder_attention_mask: torch.Tensor | None, source_len: int, *, dtype: torch.dtype, device: torch.device
) -> torch.Tensor | None:
    """The additive (b, 1, 1, s) mask that hides the source's padding from every decoder query
    (it broadcasts over the t queries), or ``None`` when the source has no padding."""
    return build_attention_mask(encoder_attention_mask, 1, source_len, causal=False, dtype=dtype, device=device)
