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


class EncoderDecoderCache:
    """The cache of an encoder-decoder's decoder: two :class:`KVCache` s.

    ``self_attention_cache`` grows by one position per generated token, as in a
    decoder-only model. ``cross_attention_cache`` holds each layer's keys and values of
    the *encoder's* output: they never change while decoding, so they are computed on
    the first step and read back on every later one (``is_cross_ready(layer)``).
    """

    def __init__(self, self_attention_cache: KVCache | None = None, cross_attention_cache: KVCache | None = None):
        self.self_attention_cache = self_attention_cache if self_attention_cache is not None else KVCache()
        self.cross_attention_cache = cross_attention_cache if cross_attention_cache is not None else KVCache()

    def update(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the decoder's new self-attention positions (see :meth:`KVCache.update`)."""
        return self.self_attention_cache.update(key, value, layer_idx)

    def is_cross_ready(self, layer_idx: int) -> bool:
        """True when layer ``layer_idx``'s cross-attention keys and values are stored."""
        return layer_idx < len(self.cross_attention_cache)

    def set_cross(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Store layer ``layer_idx``'s cross-attention keys and values, (b, g, k_enc, e), once."""
        if self.is_cross_ready(layer_idx):
            raise ValueError(f"cross-attention keys of layer {layer_idx} are already cached; read them with get_cross.")
        return self.cross_attention_cache.update(key, value, layer_idx)

    def get_cross(self, layer_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cross_attention_cache.keys[layer_idx], self.cross_attention_cache.values[layer_idx]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """How many *decoder* positions are cached."""
        return self.self_attention_cache.get_seq_length(layer_idx)

    def reorder_cache(self, beam_idx: torch.Tensor) -> None:
        """Beam search: both caches follow the beams (each beam row has its own encoder copy)."""
        self.self_attention_cache.reorder_cache(beam_idx)
        self.cross_attention_cache.reorder_cache(beam_idx)

    def nbytes(self) -> int:
        return self.self_attention_cache.nbytes() + self.cross_attention_cache.nbytes()

    def __len__(self) -> int:
        return len(self.self_attention_cache)

    def __repr__(self) -> str:
        return (f"EncoderDecoderCache(layers={len(self)}, decoder seq={self.get_seq_length()}, "
                f"encoder seq={self.cross_attention_cache.get_seq_length()}, {self.nbytes() / 2**20:.2f} MiB)")
