"""hfexplain.layers.cross_attention: the encoder's keys and values, computed once, and the source mask."""
from __future__ import annotations

import torch
from torch import nn

from hfexplain.layers import EncoderDecoderCache, attend, cross_attention_mask, encoder_key_values


def _projections(d: int = 6):
    torch.manual_seed(0)
    return nn.Linear(d, d), nn.Linear(d, d)


def test_keys_and_values_are_the_encoder_projections_split_into_heads():
    k_proj, v_proj = _projections()
    states = torch.randn(2, 4, 6)  # (b, s, d)
    key, value = encoder_key_values(states, k_proj, v_proj, num_heads=3, head_dim=2)
    assert key.shape == value.shape == (2, 3, 4, 2)
    assert torch.equal(key[1, 2, 3], k_proj(states)[1, 3, 4:6])  # head 2 = dims 4..5, by hand
    assert torch.equal(value[0, 1], v_proj(states)[0, :, 2:4])


def test_the_cache_stores_them_on_the_first_call_and_reads_them_back():
    k_proj, v_proj = _projections()
    states = torch.randn(2, 4, 6)
    cache = EncoderDecoderCache()
    first = encoder_key_values(states, k_proj, v_proj, 3, 2, cache=cache, layer_idx=0)
    assert cache.is_cross_ready(0) and cache.get_seq_length() == 0  # the decoder's own cache did not grow
    calls = []
    k_proj.register_forward_hook(lambda module, args, output: calls.append(1))
    second = encoder_key_values(torch.zeros(2, 4, 6), k_proj, v_proj, 3, 2, cache=cache, layer_idx=0)
    assert not calls and torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_the_mask_hides_source_padding_from_every_decoder_query():
    source_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    mask = cross_attention_mask(source_mask, 4, dtype=torch.float32, device=torch.device("cpu"))
    assert mask.shape == (2, 1, 1, 4)
    assert cross_attention_mask(torch.ones(2, 4, dtype=torch.long), 4, dtype=torch.float32,
                                device=torch.device("cpu")) is None
    query, key, value = torch.randn(2, 3, 5, 2), torch.randn(2, 3, 4, 2), torch.randn(2, 3, 4, 2)
    _, pattern = attend(query, key, value, mask, scale=2 ** -0.5, need_weights=True)  # (b, h, t, s)
    assert pattern[1, :, :, 2:].abs().max() == 0 and torch.allclose(pattern.sum(-1), torch.ones(2, 3, 5))
    expected = torch.softmax(query[1] @ key[1, :, :2].transpose(-1, -2) * 2 ** -0.5, -1)  # by hand, real keys only
    assert torch.allclose(pattern[1, :, :, :2], expected, atol=1e-6)
