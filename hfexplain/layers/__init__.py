"""The shared math: attention kernel and masks, cross-attention, rotary and sinusoidal positions, norms,
activations, KV cache."""
from .activations import get_activation
from .attention import attend, build_attention_mask, causal_mask, padding_mask, repeat_kv
from .cache import EncoderDecoderCache, KVCache
from .cross_attention import cross_attention_mask, encoder_key_values
from .linear import Conv1D
from .norms import LayerNorm, RMSNorm
from .rotary import RotaryEmbedding, apply_rotary_pos_emb, rope_frequencies, rotate_half, standardize_rope_parameters
from .sinusoidal import sinusoids

__all__ = [
    "attend",
    "build_attention_mask",
    "causal_mask",
    "padding_mask",
    "repeat_kv",
    "encoder_key_values",
    "cross_attention_mask",
    "get_activation",
    "KVCache",
    "EncoderDecoderCache",
    "Conv1D",
    "LayerNorm",
    "RMSNorm",
    "RotaryEmbedding",
    "apply_rotary_pos_emb",
    "rope_frequencies",
    "rotate_half",
    "standardize_rope_parameters",
    "sinusoids",
]
