"""Activation functions by the names configs use (``activation_function``, ``hidden_act``).

Each is a plain ``nn.Module`` (never a lambda on a module), so models pickle and deepcopy.
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F


class NewGELU(nn.Module):
    """GELU, tanh approximation, as GPT-2 was trained with ("gelu_new")."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class FastGELU(nn.Module):
    """Another tanh approximation of GELU ("gelu_fast")."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


class QuickGELU(nn.Module):
    """x * sigmoid(1.702 x) ("quick_gelu", CLIP)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class GELU(nn.Module):
    """Exact GELU, x * Phi(x) ("gelu"), or torch's tanh form ("gelu_pytorch_tanh")."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x, approximate=self.approximate)


def get_activation(name: str) -> nn.Module:
    """A fresh activation module for a config's activation name."""
    name = name.lower()
    if name == "gelu":
        return GELU()
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return NewGELU() if name == "gelu_new" else GELU("tanh")
    if name == "gelu_fast":
        return FastGELU()
    if name == "quick_gelu":
        return QuickGELU()
    if name == "relu":
        return nn.ReLU()
    if name in ("silu", "swish"):
        return nn.SiLU()
    if name == "tanh":
        return nn.Tanh()
    raise ValueError(
        f"unknown activation {name!r}; supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, "
        "quick_gelu, relu, silu, swish, tanh."
    )
