"""Rotary position embeddings (RoPE, Su et al. 2021), family-agnostic.

Learned position embeddings (GPT-2, BERT) *add* a vector per position to the token
embedding. RoPE instead *rotates* each query and key: the head dimension is split into
pairs, and pair i of the vector at position p turns by the angle ``p * inv_freq[i]``.
A rotation keeps lengths, and the dot product of a query rotated by angle a with a key
rotated by angle b depends only on a - b, so attention scores see *relative* positions:

    inv_freq[i] = 1 / theta ** (2i / dim)          i = 0 .. dim/2 - 1
    angle[p, i] = p * inv_freq[i]
    x_rotated   = x * cos(angle) + rotate_half(x) * sin(angle)

Pairs with a small i turn fast (wavelength 2*pi), pairs with a large i turn slowly
(wavelength up to 2*pi*theta): each pair is a clock hand with its own speed.

The *scaled* variants stretch those clocks so a model trained on short sequences can
read longer ones. Which one a checkpoint uses is written in its config.json as
``rope_parameters`` (transformers 5) or ``rope_scaling`` + ``rope_theta`` (older files):

    "default"  the plain formula above.
    "linear"   every frequency divided by ``factor`` ("position interpolation"):
               position p looks like position p / factor did in training.
    "dynamic"  NTK-aware scaling: once a sequence is longer than max_position_embeddings,
               theta grows with the length, stretching the slow pairs more than the fast.
    "llama3"   Llama 3.1: fast pairs (short wavelengths) kept, slow pairs divided by
               ``factor``, the pairs in between blended smoothly.
    "yarn"     YaRN: like llama3 a per-pair blend of kept and divided frequencies, plus an
               ``attention_factor`` that scales cos and sin (and so the attention logits).

The arithmetic follows transformers' ``modeling_rope_utils.py`` so that checkpoints give
the same numbers; the code is our own.

Shapes: b=batch, s=sequence, h=heads, e=head dim, r=rotary dim (e, or less for families
that rotate only part of each head).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

DEFAULT_ROPE_THETA = 10_000.0

# rope_type -> the keys of rope_parameters it needs besides rope_type and rope_theta.
ROPE_TYPES: dict[str, tuple[str, ...]] = {
    "default": (),
    "linear": ("factor",),
    "dynamic": ("factor",),
    "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
    "yarn": ("factor", "original_max_position_embeddings"),
}
# Types transformers knows that this library does not implement (yet).
_NOT_IMPLEMENTED_ROPE_TYPES = ("longrope", "proportional", "axial")
# Types whose pre-training length defaults to max_position_embeddings when not given.
_USES_ORIGINAL_LENGTH = ("llama3", "yarn", "longrope")


def standardize_rope_parameters(
    rope_parameters: dict[str, Any] | None,
    *,
    rope_scaling: dict[str, Any] | None = None,
    rope_theta: float | None = None,
    max_position_embeddings: int,
    default_theta: float = DEFAULT_ROPE_THETA,
) -> dict[str, Any]:
    """One ``rope_parameters`` dict from either way a config.json may store RoPE settings.

    transformers 5 writes ``"rope_parameters": {"rope_type": ..., "rope_theta": ..., ...}``.
    Older files have a top-level ``rope_theta`` and an optional ``rope_scaling`` dict whose
    type key may be the legacy ``"type"``. As transformers does, ``rope_scaling`` wins over
    ``rope_parameters`` when both are given, a value inside the dict wins over the
    top-level ``rope_theta``, and the input dict is never modified.
    """
    params = dict(rope_scaling or rope_parameters or {})
    params.setdefault("rope_theta", rope_theta if rope_theta is not None else default_theta)
    params.setdefault("rope_type", params.get("type", "default"))
    if params["rope_type"] in _USES_ORIGINAL_LENGTH:
        params.setdefault("original_max_position_embeddings", max_position_embeddings)
    return params


def check_rope_parameters(rope_parameters: dict[str, Any], rotary_dim: int) -> None:
    """Raise a clear error for a RoPE setting this library cannot run.

    Missing keys raise ``KeyError`` (as transformers does), unknown types ``ValueError``,
    types transformers has but hfexplain lacks ``NotImplementedError``.
    """
    rope_type = rope_parameters.get("rope_type", "default")
    if rope_type in _NOT_IMPLEMENTED_ROPE_TYPES:
        raise NotImplementedError(
            f"rope_type {rope_type!r} is valid in transformers but not implemented in hfexplain; "
            f"supported: {', '.join(ROPE_TYPES)}. Load this checkpoint with transformers instead."
        )
    if rope_type not in ROPE_TYPES:
        raise ValueError(
            f"unknown rope_type {rope_type!r} in rope_parameters; use one of {', '.join(ROPE_TYPES)} "
            "(check the spelling in config.json)."
        )
    missing = [key for key in ROPE_TYPES[rope_type] if rope_parameters.get(key) is None]
    if rope_type == "yarn" and "factor" in rope_parameters and "factor" in missing:
        missing.remove("factor")  # YaRN may leave factor null: it is then max_positions / trained length
    if missing:
        raise KeyError(
            f"rope_type {rope_type!r} needs {', '.join(map(repr, missing))} in rope_parameters; "
            f"add them, e.g. rope_parameters={{'rope_type': {rope_type!r}, 'factor': 2.0, ...}}."
        )
    if rotary_dim % 2 and rotary_dim > 4:
        # Odd dims cannot be split into pairs (transformers lets tiny test heads <= 4 through).
        raise ValueError(
            f"rotary position embeddings rotate pairs of dimensions, so the rotary dim must be even; "
            f"got {rotary_dim}. Choose an even head_dim."
        )


# -- inverse frequencies, one function per rope_type ---------------------------------------


def default_inverse_frequencies(dim: int, theta: float) -> torch.Tensor:
    """(dim/2,) float32: 1 / theta ** (2i / dim), the speed of each pair's clock."""
    exponents = torch.arange(0, dim, 2, dtype=torch.float32) / dim  # (r/2,)
    return 1.0 / (theta**exponents)


def _linear(params: dict, dim: int, max_positions: int, seq_len: int | None) -> tuple[torch.Tensor, float]:
    # Dividing every frequency by factor is the same as dividing every position by it.
    return default_inverse_frequencies(dim, params["rope_theta"]) / params["factor"], 1.0


def _dynamic(params: dict, dim: int, max_positions: int, seq_len: int | None) -> tuple[torch.Tensor, float]:
    # NTK-aware: grow theta with the sequence length, never below the trained length.
    factor = params["factor"]
    seq_len = max_positions if seq_len is None else max(seq_len, max_positions)
    theta = params["rope_theta"] * ((factor * seq_len / max_positions) - (factor - 1)) ** (dim / (dim - 2))
    return default_inverse_frequencies(dim, theta), 1.0


def _llama3(params: dict, dim: int, max_positions: int, seq_len: int | None) -> tuple[torch.Tensor, float]:
    inv_freq = default_inverse_frequencies(dim, params["rope_theta"])  # (r/2,)
    factor = params["factor"]
    low, high = params["low_freq_factor"], params["high_freq_factor"]
    trained_len = params["original_max_position_embeddings"]
    wavelength = 2 * math.pi / inv_freq  # (r/2,) positions per full turn
    long_wavelength = trained_len / low  # slower than this: divide by factor
    short_wavelength = trained_len / high  # faster than this: keep

    # 0 at long_wavelength, 1 at short_wavelength: how much of the original speed to keep.
    keep = ((trained_len / wavelength - low) / (high - low)).clamp(0.0, 1.0)  # (r/2,)
    blended = (1 - keep) * inv_freq / factor + keep * inv_freq
    scaled = torch.where(wavelength > long_wavelength, inv_freq / factor, blended)
    return torch.where(wavelength < short_wavelength, inv_freq, scaled), 1.0


def _yarn_mscale(scale: float, mscale: float = 1.0) -> float:
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def _yarn(params: dict, dim: int, max_positions: int, seq_len: int | None) -> tuple[torch.Tensor, float]:
    theta = params["rope_theta"]
    trained_len = params["original_max_position_embeddings"]
    factor = params["factor"]
    if factor is None:
        factor = max_positions / trained_len
    attention_factor = params.get("attention_factor")
    if attention_factor is None:
        mscale, mscale_all_dim = params.get("mscale"), params.get("mscale_all_dim")
        if mscale and mscale_all_dim:
            attention_factor = _yarn_mscale(factor, mscale) / _yarn_mscale(factor, mscale_all_dim)
        else:
            attention_factor = _yarn_mscale(factor)
    beta_fast = params.get("beta_fast") or 32  # pairs turning more than this often: keep
    beta_slow = params.get("beta_slow") or 1  # pairs turning less than this often: divide

    def pair_index_for(turns: float) -> float:
        """The (fractional) pair index whose clock turns ``turns`` times over trained_len."""
        return dim * math.log(trained_len / (turns * 2 * math.pi)) / (2 * math.log(theta))

    first, last = pair_index_for(beta_fast), pair_index_for(beta_slow)
    if params.get("truncate", True):
        first, last = math.floor(first), math.ceil(last)
    first, last = max(first, 0), min(last, dim - 1)
    if first == last:
        last += 0.001  # avoid dividing by zero below

    periods = theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim)  # (r/2,) 1 / inv_freq
    extrapolated = 1.0 / periods  # the trained speeds
    interpolated = 1.0 / (factor * periods)  # the speeds divided by factor
    ramp = ((torch.arange(dim // 2, dtype=torch.float32) - first) / (last - first)).clamp(0, 1)  # (r/2,)
    keep = 1 - ramp  # 1 for the fast pairs, 0 for the slow ones
    return interpolated * (1 - keep) + extrapolated * keep, float(attention_factor)


_FREQUENCY_FUNCTIONS = {"linear": _linear, "dynamic": _dynamic, "llama3": _llama3, "yarn": _yarn}


def rope_frequencies(
    rope_parameters: dict[str, Any], dim: int, max_position_embeddings: int, seq_len: int | None = None
) -> tuple[torch.Tensor, float]:
    """``(inv_freq, attention_scaling)`` for a rope_parameters dict and a rotary dim.

    ``inv_freq`` is (dim/2,) float32; ``attention_scaling`` multiplies cos and sin (1.0
    except for YaRN). ``seq_len`` matters only for "dynamic".
    """
    rope_type = rope_parameters.get("rope_type", "default")
    if rope_type == "default":
        return default_inverse_frequencies(dim, rope_parameters["rope_theta"]), 1.0
    return _FREQUENCY_FUNCTIONS[rope_type](rope_parameters, dim, max_position_embeddings, seq_len)


class RotaryEmbedding(nn.Module):
    """Turns position ids into the (cos, sin) tables every attention layer rotates with.

    One instance per model (``model.rotary_emb``); it has no weights and nothing in the
    state dict. ``inv_freq`` is kept as a plain float32 tensor rather than a buffer so
    ``model.to(torch.bfloat16)`` cannot round the frequencies (transformers also keeps them
    float32 when loading in half precision).

    Args:
        dim: the rotary dim r (the head dim for LLaMA).
        rope_parameters: a standardized dict (see :func:`standardize_rope_parameters`).
        max_position_embeddings: the length the model was trained for.
    """

    def __init__(self, dim: int, rope_parameters: dict[str, Any], max_position_embeddings: int):
        super().__init__()
        check_rope_parameters(rope_parameters, dim)
        self.dim = dim
        self.rope_parameters = dict(rope_parameters)
        self.rope_type = rope_parameters.get("rope_type", "default")
        self.max_position_embeddings = max_position_embeddings
        inv_freq, self.attention_scaling = rope_frequencies(self.rope_parameters, dim, max_position_embeddings)
        self.inv_freq = inv_freq  # (r/2,)
        self.original_inv_freq = inv_freq
        # "dynamic" only: the longest sequence the current inv_freq was stretched for.
        self.max_seq_len_cached = max_position_embeddings

    def _update_dynamic(self, position_ids: torch.Tensor) -> None:
        """Re-stretch the frequencies for "dynamic" RoPE, exactly when transformers does.

        The frequencies only grow: a sequence longer than any seen so far stretches them
        for its length; they go back to the trained ones only when a sequence shorter than
        max_position_embeddings comes. (So the result of a call can depend on the calls
        before it, in transformers too.)
        """
        seq_len = int(position_ids.max()) + 1
        if seq_len > self.max_seq_len_cached:
            self.inv_freq, _ = rope_frequencies(self.rope_parameters, self.dim, self.max_position_embeddings, seq_len)
            self.max_seq_len_cached = seq_len
        elif seq_len < self.max_position_embeddings < self.max_seq_len_cached:
            self.inv_freq = self.original_inv_freq
            self.max_seq_len_cached = self.max_position_embeddings

    def forward(self, position_ids: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """position_ids (b|1, s) -> cos, sin, each (b|1, s, r) in ``dtype``."""
        if self.rope_type == "dynamic":
            self._update_dynamic(position_ids)
        if self.inv_freq.device != position_ids.device:  # follow the model to its device, once
            self.inv_freq = self.inv_freq.to(position_ids.device)
        angles = position_ids[..., None].float() * self.inv_freq  # (b, s, r/2)
        # Pair i is (x[i], x[i + r/2]): both halves turn by the same angles.
        angles = torch.cat((angles, angles), dim=-1)  # (b, s, r)
        cos = angles.cos() * self.attention_scaling
        sin = angles.sin() * self.attention_scaling
        return cos.to(dtype), sin.to(dtype)

    def extra_repr(self) -> str:
        theta = self.rope_parameters.get("rope_theta")
        return f"dim={self.dim}, rope_type={self.rope_type!r}, rope_theta={theta}"


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) over the last dim: a quarter turn of every pair (x[i], x[i + r/2])."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate queries or keys x (b, h, s, e) by cos, sin (b|1, s, r).

    Pairs are (x[i], x[i + r/2]) (the "rotate half" layout of GPT-NeoX and LLaMA
    checkpoints, not interleaved neighbours). When r < e only the first r dims turn;
    the rest pass through unchanged.
    """
    cos = cos[:, None]  # (b, 1, s, r): the same rotation for every head
    sin = sin[:, None]
    rotary_dim = cos.shape[-1]
    if rotary_dim == x.shape[-1]:
        return x * cos + rotate_half(x) * sin
    turned, passed = x[..., :rotary_dim], x[..., rotary_dim:]  # (b, h, s, r), (b, h, s, e - r)
    return torch.cat((turned * cos + rotate_half(turned) * sin, passed), dim=-1)  # (b, h, s, e)


__all__ = [
    "RotaryEmbedding",
    "apply_rotary_pos_emb",
    "rotate_half",
    "rope_frequencies",
    "default_inverse_frequencies",
    "standardize_rope_parameters",
    "check_rope_parameters",
    "ROPE_TYPES",
]
