"""Fixed sinusoidal position tables ("Attention is all you need", section 3.5), Whisper's way.

Row p of the table is ``[sin(p * w_0), ..., sin(p * w_{c/2-1}), cos(p * w_0), ..., cos(p * w_{c/2-1})]``
with frequencies falling geometrically from 1 to ``1 / max_timescale``:

    w_i = exp(-i * log(max_timescale) / (c/2 - 1)),   i = 0 .. c/2 - 1

This is tensor2tensor's ``get_timing_signal_1d`` (and OpenAI Whisper's ``sinusoids``). Marian's
table (``hfexplain.models.marian.sinusoidal_table``) uses the paper's ``10000^(-2i/d)`` instead, so
its slowest frequency is ``10000^(-(d-2)/d)`` rather than exactly ``1/10000``: the two tables differ
in the last digits and are not interchangeable.

Shapes: n=positions, c=channels (must be even).
"""
from __future__ import annotations

import math

import torch


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """(length, channels) float32 table: sines in the first half of each row, cosines in the second
    (computed in float32, as transformers and OpenAI Whisper do, so the values match bit for bit)."""
    if channels % 2 != 0 or channels < 4:
        raise ValueError(
            f"sinusoids need an even number of channels >= 4 (half sines, half cosines), got {channels}; "
            "pick an even d_model."
        )
    log_timescale_increment = math.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = torch.exp(-log_timescale_increment * torch.arange(channels // 2))  # (c/2,)
    scaled_time = torch.arange(length).view(-1, 1) * inv_timescales.view(1, -1)  # (n, c/2)
    return torch.cat([scaled_time.sin(), scaled_time.cos()], dim=1)  # (n, c)
