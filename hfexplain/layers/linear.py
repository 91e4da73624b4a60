"""Projection layers that some checkpoints store in their own layout."""
from __future__ import annotations

import torch
from torch import nn


class Conv1D(nn.Module):
    """A linear layer whose weight is stored (in_features, out_features), as GPT-2's is.

    OpenAI's GPT-2 checkpoint keeps its projections transposed compared with
    ``nn.Linear``; keeping the layout lets the checkpoint load without conversion.
    """

    def __init__(self, out_features: int, in_features: int):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (..., in) -> (..., out), computed as bias + x @ W in one fused call.
        out_shape = x.shape[:-1] + (self.out_features,)
        x = torch.addmm(self.bias, x.reshape(-1, self.in_features), self.weight)  # (N, out)
        return x.view(out_shape)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"
