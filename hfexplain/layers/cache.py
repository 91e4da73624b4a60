"""The KV cache: keys and values of the positions seen so far, per layer.

During generation each step feeds only the new token; its attention still needs the
keys and values of every earlier position. The cache keeps them, so a step costs
O(seq) instead of recomputing the whole prefix.
"""
from __future__ import annotations

import torch


class KVCache:
    """A growing per-layer store of (key, value) tensors, each (b, g, seq, e).

    Returned as ``past_key_values`` by models called with ``use_cache=True`` and passed
    back in on the next step.
    """

    def __init__(self):
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []

    def update(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new positions of layer ``layer_idx``; return all positions so far."""
        if layer_idx == len(self.keys):
            self.keys.append(key)
            self.values.append(value)
        elif layer_idx < len(self.keys):
            self.keys[layer_idx] = torch.cat([self.keys[layer_idx], key], dim=-2)  # (b, g, past + new, e)
            self.values[layer_idx] = torch.cat([self.values[layer_idx], value], dim=-2)
        else:
            raise IndexError(f"layer {layer_idx} updated before layer {len(self.keys)}")
        return self.keys[layer_idx], self.values[layer_idx]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """How many positions are cached (0 for an empty cache)."""
        if layer_idx >= len(self.keys):
            return 0
        return self.keys[layer_idx].shape[-2]

    def reorder_cache(self, beam_idx: torch.Tensor) -> None:
        """Keep the rows ``beam_idx`` (beam search reorders hypotheses every step)."""
        for i in range(len(self.keys)):
            self.keys[i] = self.keys[i].index_select(0, beam_idx.to(self.keys[i].device))
            self.values[i] = self.values[i].index_select(0, beam_idx.to(self.values[i].device))

    def nbytes(self) -> int:
        """Memory held by the cached tensors, in bytes."""
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        return f"KVCache(layers={len(self)}, seq={self.get_seq_length()}, {self.nbytes() / 2**20:.2f} MiB)"
