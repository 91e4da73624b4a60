"""T5 (Raffel et al., 2020), with Hugging Face's module tree and parameter names.

    source ids ─► shared ─► [ encoder block × num_layers ] ─► final_layer_norm ─► encoder states ─┐
    target ids ─► shared ─► [ decoder block × num_decoder_layers ] ─► final_layer_norm ─► (× d_model**-0.5) ─► lm_head
                               self-attention (causal) ─► cross-attention (q: decoder, k/v: encoder) ─► feed-forward

    encoder block:  x ─► layer[0] (layer_norm ─► SelfAttention ─► +x) ─► layer[1] (layer_norm ─► DenseReluDense ─► +)
    decoder block:  x ─► layer[0] self ─► layer[1] (layer_norm ─► EncDecAttention ─► +) ─► layer[2] feed-forward

What changed since GPT-2 (and the toy encoder-decoder of the tests), and where to look:

* **Two stacks.** An encoder reads the source in both directions; a decoder writes the
  target left to right and, in every block, *cross-attends* to the encoder's output
  (``T5LayerCrossAttention``: queries from the decoder, keys and values from the encoder,
  the encoder's padding mask). One embedding, ``shared``, serves both stacks
  (``encoder.embed_tokens`` and ``decoder.embed_tokens`` are the same parameter).
* **No position embedding at all.** Positions enter as a learned *bias* added to the
  attention scores, looked up by the (bucketed) distance between query and key:
  :func:`relative_position_bucket`. Near distances get a bucket each, far ones share
  logarithmically wider buckets, everything past ``relative_attention_max_distance``
  shares the last. The encoder's buckets are bidirectional (half for keys to the left,
  half for the right); the decoder's only look left. Only the *first* block of each stack
  owns a ``relative_attention_bias`` table; it computes the bias once and every later
  block of that stack reuses it (:class:`T5Stack` passes it along).
* **No 1/sqrt(d) scaling**: scores are q k^T + bias (the scale was folded into the
  initialisation of ``q``).
* **T5LayerNorm** is RMS-style (no mean subtraction, no bias), applied *before* each
  sub-layer (pre-norm), with one more after each stack.
* **Feed-forward** ``feed_forward_proj``: ``"relu"`` (``wo(relu(wi(x)))``, the original T5)
  or ``"gated-gelu"`` (``wo(gelu_new(wi_0(x)) * wi_1(x))``, T5 v1.1 / flan); no biases anywhere.
* **Tied or untied head.** With ``tie_word_embeddings`` (the original T5) ``lm_head``
  is ``shared`` and the decoder's output is rescaled by ``d_model**-0.5`` first
  (``scale_decoder_outputs``); T5 v1.1 checkpoints have their own ``lm_head`` and no
  rescale. (transformers 5 keeps ``tie_word_embeddings=True`` in every config it writes and
  records the rescale in ``scale_decoder_outputs``; both forms load here.)
* **decoder_start_token_id** (0, the pad token, in T5's checkpoints): labels are shifted
  right behind it (:meth:`T5PreTrainedModel._shift_right`) and ``generate`` starts there.

Hook points: each stack's ``embed``, ``resid_pre``, ``q``/``k``/``v``/``scores``/``pattern``/``z``,
``attn_out``, ``resid_mid``, ``mlp_pre``/``mlp_post``/``mlp_out``, ``resid_post`` and ``final``
carry ``stack="encoder"`` or ``"decoder"``; the decoder adds ``cross_q`` ... ``cross_attn_out`` and
``resid_mid_cross``; ``scores`` include the position bias. ``logits`` is the head's output.

Shapes: b=batch, s=source positions, t=target positions (new), p=past+new target
positions, d=d_model, h=num_heads, e=d_kv, m=d_ff, v=vocab_size, n=num_buckets.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..configuration import PretrainedConfig
from ..generation import GenerationMixin
from ..hooks import HookPoint
from ..layers import EncoderDecoderCache, attend, build_attention_mask, get_activation
from ..modeling import PreTrainedModel, _has_parameter
from ..outputs import BaseModelOutput, Seq2SeqLMOutput, Seq2SeqModelOutput


class T5Config(PretrainedConfig):
    """T5's hyper-parameters, with transformers' names and defaults (t5-small).

    ``feed_forward_proj`` is ``"ACT"`` or ``"gated-ACT"``; the derived ``dense_act_fn`` and
    ``is_gated_act`` are recomputed from it (``"gated-gelu"`` means the tanh GELU,
    ``gelu_new``, as transformers does). ``scale_decoder_outputs`` defaults to
    ``tie_word_embeddings``.
    """

    model_type = "t5"
    attribute_map = {"hidden_size": "d_model", "num_attention_heads": "num_heads",
                     "num_hidden_layers": "num_layers", "head_dim": "d_kv"}

    def __init__(self, vocab_size: int = 32128, d_model: int = 512, d_kv: int = 64, d_ff: int = 2048,
                 num_layers: int = 6, num_decoder_layers: int | None = None, num_heads: int = 8,
                 relative_attention_num_buckets: int = 32, relative_attention_max_distance: int = 128,
                 dropout_rate: float = 0.1, layer_norm_epsilon: float = 1e-6, initializer_factor: float = 1.0,
                 feed_forward_proj: str = "relu", is_encoder_decoder: bool = True, use_cache: bool = True,
                 pad_token_id: int | None = 0, eos_token_id: int | list[int] | None = 1,
                 decoder_start_token_id: int | None = None, classifier_dropout: float = 0.0,
                 tie_word_embeddings: bool = True, scale_decoder_outputs: bool | None = None, **kwargs: Any):
        parts = feed_forward_proj.split("-")
        if len(parts) > 2 or (len(parts) == 2 and parts[0] != "gated"):
            raise ValueError(
                f"feed_forward_proj={feed_forward_proj!r} is not a valid feed-forward type: use 'ACT' or "
                "'gated-ACT', e.g. 'relu' (the original T5) or 'gated-gelu' (T5 v1.1)."
            )
        if relative_attention_num_buckets < 4:
            raise ValueError(
                f"relative_attention_num_buckets={relative_attention_num_buckets} is too small: the buckets are split "
                "in halves (left/right) and quarters (exact/logarithmic); use at least 4 (T5 uses 32)."
            )
        if relative_attention_max_distance <= relative_attention_num_buckets // 4:
            raise ValueError(
                f"relative_attention_max_distance={relative_attention_max_distance} must exceed the exact-distance "
                f"buckets ({relative_attention_num_buckets // 4}); T5 uses 128."
            )
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.d_kv = d_kv
        self.d_ff = d_ff
        self.num_layers = num_layers
        self.num_decoder_layers = num_decoder_layers if num_decoder_layers is not None else num_layers
        self.num_heads = num_heads
        self.relative_attention_num_buckets = relative_attention_num_buckets
        self.relative_attention_max_distance = relative_attention_max_distance
        self.dropout_rate = dropout_rate
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_factor = initializer_factor
        self.feed_forward_proj = feed_forward_proj
        self.is_gated_act = parts[0] == "gated"
        self.dense_act_fn = "gelu_new" if feed_forward_proj == "gated-gelu" else parts[-1]
        get_activation(self.dense_act_fn)  # an unknown activation is named now, not at the first forward
        self.is_encoder_decoder = is_encoder_decoder
        self.use_cache = use_cache
        self.decoder_start_token_id = decoder_start_token_id
        self.classifier_dropout = classifier_dropout
        self.scale_decoder_outputs = tie_word_embeddings if scale_decoder_outputs is None else scale_decoder_outputs
        for derived in ("dense_act_fn", "is_gated_act"):  # written to config.json; recomputed above
            kwargs.pop(derived, None)
        super().__init__(pad_token_id=pad_token_id, eos_token_id=eos_token_id,
                         tie_word_embeddings=tie_word_embeddings, **kwargs)


def relative_position_bucket(relative_position: torch.Tensor, bidirectional: bool = True, num_buckets: int = 32,
                             max_distance: int = 128) -> torch.Tensor:
    """Map ``key position - query position`` to a bucket in [0, num_buckets).

    Bidirectional (the encoder): half the buckets for keys to the right (positive
    distances), half for the left. Causal (the decoder): keys to the right never occur,
    so every bucket serves the left. Within a half, distances below ``num_buckets // 4``
    (``max_exact``) get a bucket each; larger ones share buckets that widen
    logarithmically up to ``max_distance``, past which everything is the last bucket.
    """
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (relative_position > 0).to(torch.long) * num_buckets  # right half
        distance = relative_position.abs()
    else:
        distance = -torch.clamp(relative_position, max=0)  # how far to the left; 0 for the right
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    # log-spaced: max_exact at distance max_exact, num_buckets at distance max_distance
    far = max_exact + (
        torch.log(distance.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).to(torch.long)
    far = torch.clamp(far, max=num_buckets - 1)
    return buckets + torch.where(is_small, distance, far)


class T5LayerNorm(nn.Module):
    """RMS norm without mean subtraction or bias: weight * x / sqrt(mean(x^2) + eps).

    The statistics are taken in float32; in half precision the result is cast back to
    the weight's dtype before the scale (as transformers does).
    """

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        variance = hidden_states.to(torch.float32).pow(2).mean(-1, keepdim=True)  # (..., 1)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        if self.weight.dtype in (torch.float16, torch.bfloat16):
            hidden_states = hidden_states.to(self.weight.dtype)
        return self.weight * hidden_states

    def extra_repr(self) -> str:
        return f"{tuple(self.weight.shape)}, eps={self.variance_epsilon}"


class T5DenseActDense(nn.Module):
    """The original T5 feed-forward: wo(act(wi(x))), no biases."""

    def __init__(self, config: T5Config, layer_idx: int, stack: str):
        super().__init__()
        self.wi = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.act = get_activation(config.dense_act_fn)
        self.hook_pre = HookPoint("mlp_pre", layer_idx, stack)  # (b, s, m)
        self.hook_post = HookPoint("mlp_post", layer_idx, stack)  # (b, s, m)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden = self.hook_post(self.act(self.hook_pre(self.wi(hidden_states))))  # (b, s, m)
        return self.wo(self.dropout(hidden).to(self.wo.weight.dtype))  # (b, s, d)


class T5DenseGatedActDense(nn.Module):
    """T5 v1.1's gated feed-forward: wo(act(wi_0(x)) * wi_1(x)), no biases."""

    def __init__(self, config: T5Config, layer_idx: int, stack: str):
        super().__init__()
        self.wi_0 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wi_1 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.act = get_activation(config.dense_act_fn)
        self.hook_pre = HookPoint("mlp_pre", layer_idx, stack)  # (b, s, m): the gate, before its activation
        self.hook_post = HookPoint("mlp_post", layer_idx, stack)  # (b, s, m): the gated product

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        gate = self.act(self.hook_pre(self.wi_0(hidden_states)))  # (b, s, m)
        hidden = self.hook_post(gate * self.wi_1(hidden_states))  # (b, s, m)
        return self.wo(self.dropout(hidden).to(self.wo.weight.dtype))  # (b, s, d)


class T5LayerFF(nn.Module):
    """x + feed_forward(layer_norm(x))."""

    def __init__(self, config: T5Config, layer_idx: int, stack: str):
        super().__init__()
        dense = T5DenseGatedActDense if config.is_gated_act else T5DenseActDense
        self.DenseReluDense = dense(config, layer_idx, stack)
        self.layer_norm = T5LayerNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx, stack)  # (b, s, d)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        out = self.hook_mlp_out(self.DenseReluDense(self.layer_norm(hidden_states)))  # (b, s, d)
        return hidden_states + self.dropout(out)


class T5Attention(nn.Module):
    """T5's attention: softmax(q k^T + position_bias + mask) v, no 1/sqrt(e) scale.

    Self-attention (``cross=False``: q, k, v from one stream; the decoder's keys and values
    grow in the cache) or cross-attention (``cross=True``: k, v from the encoder's
    states, computed on the first decoding step and read back from the cache after).
    Only the first self-attention of each stack has ``relative_attention_bias`` and
    computes the bias; the others receive it. Cross-attention has no position bias.
    """

    def __init__(self, config: T5Config, layer_idx: int, stack: str, *, has_relative_attention_bias: bool = False,
                 cross: bool = False):
        super().__init__()
        self.layer_idx = layer_idx
        self.cross = cross
        self.is_decoder = stack == "decoder"
        self.has_relative_attention_bias = has_relative_attention_bias
        self.relative_attention_num_buckets = config.relative_attention_num_buckets
        self.relative_attention_max_distance = config.relative_attention_max_distance
        self.n_heads = config.num_heads
        self.key_value_proj_dim = config.d_kv
        self.inner_dim = config.num_heads * config.d_kv
        self.dropout = config.dropout_rate
        self.q = nn.Linear(config.d_model, self.inner_dim, bias=False)
        self.k = nn.Linear(config.d_model, self.inner_dim, bias=False)
        self.v = nn.Linear(config.d_model, self.inner_dim, bias=False)
        self.o = nn.Linear(self.inner_dim, config.d_model, bias=False)
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(config.relative_attention_num_buckets, config.num_heads)
        prefix = "cross_" if cross else ""
        self.hook_q = HookPoint(prefix + "q", layer_idx, stack)  # (b, h, t, e)
        self.hook_k = HookPoint(prefix + "k", layer_idx, stack)  # (b, h, s|t, e)
        self.hook_v = HookPoint(prefix + "v", layer_idx, stack)  # (b, h, s|t, e)
        self.hook_scores = HookPoint(prefix + "scores", layer_idx, stack)  # (b, h, t, s|p), bias included
        self.hook_pattern = HookPoint(prefix + "pattern", layer_idx, stack)  # (b, h, t, s|p)
        self.hook_z = HookPoint(prefix + "z", layer_idx, stack)  # (b, h, t, e)

    def compute_bias(self, query_length: int, key_length: int, past: int = 0,
                     device: torch.device | None = None) -> torch.Tensor:
        """The learned bias of every (query, key) pair: (1, h, q, k). Queries sit at
        positions past .. past+q-1 (a cache holds the first ``past``), keys at 0 .. k-1."""
        device = device if device is not None else self.relative_attention_bias.weight.device
        query_position = torch.arange(query_length, dtype=torch.long, device=device)[:, None] + past  # (q, 1)
        key_position = torch.arange(key_length, dtype=torch.long, device=device)[None, :]  # (1, k)
        buckets = relative_position_bucket(key_position - query_position, bidirectional=not self.is_decoder,
                                           num_buckets=self.relative_attention_num_buckets,
                                           max_distance=self.relative_attention_max_distance)  # (q, k)
        values = self.relative_attention_bias(buckets)  # (q, k, h)
        return values.permute(2, 0, 1).unsqueeze(0)  # (1, h, q, k)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.n_heads, self.key_value_proj_dim).transpose(1, 2)  # (b, h, seq, e)

    def forward(self, hidden_states: torch.Tensor, mask: torch.Tensor | None, position_bias: torch.Tensor | None = None,
                key_value_states: torch.Tensor | None = None, cache: EncoderDecoderCache | None = None,
                output_attentions: bool = False):
        """Returns ``(output (b, t, d), position_bias (1|b, h, t, s|p), pattern or None)``."""
        batch, new, _ = hidden_states.shape  # (b, t, d)
        past = cache.get_seq_length(self.layer_idx) if cache is not None and not self.cross else 0
        query = self.hook_q(self._split(self.q(hidden_states)))  # (b, h, t, e)
        if self.cross and cache is not None and cache.is_cross_ready(self.layer_idx):
            key, value = cache.get_cross(self.layer_idx)  # (b, h, s, e), computed on the first step
        else:
            source = key_value_states if self.cross else hidden_states
            key = self.hook_k(self._split(self.k(source)))  # (b, h, s|t, e)
            value = self.hook_v(self._split(self.v(source)))  # (b, h, s|t, e)
            if cache is not None:
                if self.cross:
                    key, value = cache.set_cross(key, value, self.layer_idx)
                else:
                    key, value = cache.update(key, value, self.layer_idx)  # (b, h, p, e)
        if position_bias is None:
            key_length = key.shape[-2]
            if self.has_relative_attention_bias:
                position_bias = self.compute_bias(new, key_length, past, device=query.device)  # (1, h, t, p)
            else:
                position_bias = torch.zeros(1, self.n_heads, new, key_length, dtype=query.dtype,
                                            device=query.device)  # (1, h, t, s|p)
        bias = position_bias if mask is None else position_bias + mask  # (1|b, h, t, s|p)
        z, pattern = attend(query, key, value, bias, scale=1.0, dropout=self.dropout if self.training else 0.0,
                            hook_scores=self.hook_scores, hook_pattern=self.hook_pattern,
                            need_weights=output_attentions, upcast=False)
        z = self.hook_z(z)  # (b, h, t, e)
        out = self.o(z.transpose(1, 2).reshape(batch, new, self.inner_dim))  # (b, t, d)
        return out, position_bias, pattern


class T5LayerSelfAttention(nn.Module):
    """x + self_attention(layer_norm(x))."""

    def __init__(self, config: T5Config, layer_idx: int, stack: str, has_relative_attention_bias: bool = False):
        super().__init__()
        self.SelfAttention = T5Attention(config, layer_idx, stack,
                                         has_relative_attention_bias=has_relative_attention_bias)
        self.layer_norm = T5LayerNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.hook_attn_out = HookPoint("attn_out", layer_idx, stack)  # (b, s, d)

    def forward(self, hidden_states, mask, position_bias=None, cache=None, output_attentions=False):
        out, position_bias, pattern = self.SelfAttention(self.layer_norm(hidden_states), mask, position_bias,
                                                         cache=cache, output_attentions=output_attentions)
        return hidden_states + self.dropout(self.hook_attn_out(out)), position_bias, pattern


class T5LayerCrossAttention(nn.Module):
    """x + cross_attention(layer_norm(x), encoder states): the decoder reads the source."""

    def __init__(self, config: T5Config, layer_idx: int):
        super().__init__()
        self.EncDecAttention = T5Attention(config, layer_idx, "decoder", cross=True)
        self.layer_norm = T5LayerNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.hook_cross_attn_out = HookPoint("cross_attn_out", layer_idx, "decoder")  # (b, t, d)

    def forward(self, hidden_states, encoder_states, mask, position_bias=None, cache=None, output_attentions=False):
        out, position_bias, pattern = self.EncDecAttention(self.layer_norm(hidden_states), mask, position_bias,
                                                           key_value_states=encoder_states, cache=cache,
                                                           output_attentions=output_attentions)
        return hidden_states + self.dropout(self.hook_cross_attn_out(out)), position_bias, pattern


class T5Block(nn.Module):
    """One block: ``layer`` holds [self-attention, (cross-attention,) feed-forward]."""

    def __init__(self, config: T5Config, layer_idx: int, stack: str, has_relative_attention_bias: bool = False):
        super().__init__()
        self.is_decoder = stack == "decoder"
        self.layer = nn.ModuleList([T5LayerSelfAttention(config, layer_idx, stack, has_relative_attention_bias)])
        if self.is_decoder:
            self.layer.append(T5LayerCrossAttention(config, layer_idx))
        self.layer.append(T5LayerFF(config, layer_idx, stack))
        self.hook_resid_pre = HookPoint("resid_pre", layer_idx, stack)  # (b, s, d)
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx, stack)  # (b, s, d)
        if self.is_decoder:
            self.hook_resid_mid_cross = HookPoint("resid_mid_cross", layer_idx, stack)  # (b, t, d)
        self.hook_resid_post = HookPoint("resid_post", layer_idx, stack)  # (b, s, d)

    def forward(self, hidden_states, mask, position_bias=None, encoder_states=None, cross_mask=None,
                cross_position_bias=None, cache=None, output_attentions=False):
        """Returns (hidden, self position bias, cross position bias, self pattern, cross pattern)."""
        hidden = self.hook_resid_pre(hidden_states)  # (b, s, d)
        hidden, position_bias, self_pattern = self.layer[0](hidden, mask, position_bias, cache, output_attentions)
        hidden = self.hook_resid_mid(hidden)
        cross_pattern = None
        if self.is_decoder:
            hidden, cross_position_bias, cross_pattern = self.layer[1](hidden, encoder_states, cross_mask,
                                                                       cross_position_bias, cache, output_attentions)
            hidden = self.hook_resid_mid_cross(hidden)  # (b, t, d)
        hidden = self.hook_resid_post(self.layer[-1](hidden))
        return hidden, position_bias, cross_position_bias, self_pattern, cross_pattern


class T5Stack(nn.Module):
    """The encoder or the decoder: embed, blocks (the first computes the position bias
    once; the rest reuse it), final norm. ``get_encoder()`` returns the encoder one."""

    def __init__(self, config: T5Config, stack: str):
        super().__init__()
        self.config = config
        self.stack = stack
        self.is_decoder = stack == "decoder"
        layers = config.num_decoder_layers if self.is_decoder else config.num_layers
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model)  # tied to the model's ``shared``
        self.block = nn.ModuleList([T5Block(config, i, stack, has_relative_attention_bias=i == 0)
                                    for i in range(layers)])
        self.final_layer_norm = T5LayerNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.hook_embed = HookPoint("embed", stack=stack)  # (b, s, d)
        self.hook_final = HookPoint("final", stack=stack)  # (b, s, d)

    def forward(self, input_ids=None, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None,
                inputs_embeds=None, past_key_values=None, output_attentions=False, output_hidden_states=False):
        """The encoder returns a :class:`BaseModelOutput`; the decoder returns
        ``(last hidden, hidden states, self patterns, cross patterns)``, the tuples None where not asked."""
        if (input_ids is None) == (inputs_embeds is None):
            side = "decoder_input_ids or decoder_inputs_embeds" if self.is_decoder else "input_ids or inputs_embeds"
            got = "both" if input_ids is not None else "neither"
            raise ValueError(f"pass exactly one of {side} to T5's {self.stack} (got {got}).")
        if input_ids is not None and input_ids.dim() != 2:
            raise ValueError(f"the {self.stack}'s token ids must be (batch, seq), got shape {tuple(input_ids.shape)}.")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)  # (b, s, d)
        hidden = self.hook_embed(inputs_embeds)
        batch, seq, _ = hidden.shape
        cache = past_key_values if self.is_decoder else None
        past = cache.get_seq_length() if cache is not None else 0
        # transformers adds T5's position bias to a float mask: a row that sees no key stays uniform.
        mask = build_attention_mask(attention_mask, seq, past + seq, causal=self.is_decoder, dtype=hidden.dtype,
                                    device=hidden.device, fully_masked_rows="uniform")  # (b|1, 1, s, p) or None
        cross_mask = None
        if self.is_decoder:
            if encoder_hidden_states is None:
                raise ValueError("T5's decoder cross-attends to the encoder: pass encoder_hidden_states (b, s, d).")
            cross_mask = build_attention_mask(encoder_attention_mask, seq, encoder_hidden_states.shape[1],
                                              causal=False, dtype=hidden.dtype, device=hidden.device,
                                              fully_masked_rows="uniform")  # (b, 1, 1, s)
        hidden = self.dropout(hidden)
        position_bias = cross_position_bias = None
        all_hidden, self_patterns, cross_patterns = (), (), ()
        for block in self.block:
            all_hidden += (hidden,)
            hidden, position_bias, cross_position_bias, self_pattern, cross_pattern = block(
                hidden, mask, position_bias, encoder_hidden_states, cross_mask, cross_position_bias, cache,
                output_attentions)
            self_patterns += (self_pattern,)
            cross_patterns += (cross_pattern,)
        hidden = self.hook_final(self.dropout(self.final_layer_norm(hidden)))  # (b, s, d)
        all_hidden += (hidden,)
        all_hidden = all_hidden if output_hidden_states else None
        self_patterns = self_patterns if output_attentions else None
        if not self.is_decoder:
            return BaseModelOutput(last_hidden_state=hidden, hidden_states=all_hidden, attentions=self_patterns)
        return hidden, all_hidden, self_patterns, cross_patterns if output_attentions else None


class T5PreTrainedModel(PreTrainedModel):
    config_class = T5Config
    base_model_prefix = "transformer"
    _final_norm = {"encoder": "encoder.final_layer_norm", "decoder": "decoder.final_layer_norm"}
    # The stacks' embeddings are always ``shared``; the head is tied only with tie_word_embeddings.
    _tied_weights_keys = {"encoder.embed_tokens.weight": "shared.weight",
                          "decoder.embed_tokens.weight": "shared.weight"}
    _keys_to_ignore_on_load_unexpected = [r"^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias"]

    def _tie_pairs(self) -> dict[str, str]:
        pairs = dict(self._tied_weights_keys)
        if not getattr(self.config, "tie_word_embeddings", True):
            pairs.pop("lm_head.weight", None)
        return {t: s for t, s in pairs.items() if _has_parameter(self, t) and _has_parameter(self, s)}

    def tie_weights(self) -> None:
        """``encoder/decoder.embed_tokens`` share ``shared``; ``lm_head`` too when tied."""
        for target, source in self._tie_pairs().items():
            module_path, _, name = target.rpartition(".")
            setattr(self.get_submodule(module_path), name, self.get_parameter(source))

    def _tied_targets(self) -> set[str]:
        return set(self._tie_pairs())

    def get_input_embeddings(self) -> nn.Embedding:
        return self.shared

    def set_input_embeddings(self, embeddings: nn.Embedding) -> None:
        self.shared = embeddings
        for stack in (getattr(self, "encoder", None), getattr(self, "decoder", None)):
            if stack is not None:
                stack.embed_tokens = embeddings

    def get_encoder(self) -> T5Stack:
        return self.encoder

    def _init_weights(self, module: nn.Module) -> None:
        """T5's initialisation (Mesh TensorFlow's): each matrix's std from its fan-in."""
        factor = self.config.initializer_factor
        d_model, d_kv, heads, d_ff = self.config.d_model, self.config.d_kv, self.config.num_heads, self.config.d_ff
        if isinstance(module, T5LayerNorm):
            nn.init.constant_(module.weight, factor)
        elif isinstance(module, (nn.Embedding, nn.Linear)):  # shared, an untied lm_head
            nn.init.normal_(module.weight, std=factor)
        elif isinstance(module, T5Attention):  # (its children were visited first: overwrite them)
            nn.init.normal_(module.q.weight, std=factor * (d_model * d_kv) ** -0.5)
            nn.init.normal_(module.k.weight, std=factor * d_model**-0.5)
            nn.init.normal_(module.v.weight, std=factor * d_model**-0.5)
            nn.init.normal_(module.o.weight, std=factor * (heads * d_kv) ** -0.5)
            if module.has_relative_attention_bias:
                nn.init.normal_(module.relative_attention_bias.weight, std=factor * d_model**-0.5)
        elif isinstance(module, (T5DenseActDense, T5DenseGatedActDense)):
            for name in ("wi", "wi_0", "wi_1"):
                if hasattr(module, name):
                    nn.init.normal_(getattr(module, name).weight, std=factor * d_model**-0.5)
            nn.init.normal_(module.wo.weight, std=factor * d_ff**-0.5)

    def _shift_right(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Labels (b, t) -> decoder inputs (b, t): ``decoder_start_token_id`` then labels[:, :-1],
        with the loss's -100 placeholders replaced by the pad id."""
        start, pad = self.config.decoder_start_token_id, self.config.pad_token_id
        if start is None:
            raise ValueError(
                "config.decoder_start_token_id is not set, so labels cannot be shifted into decoder inputs; "
                "T5 starts the decoder with the pad token: set model.config.decoder_start_token_id = 0 "
                "(or pass decoder_input_ids yourself)."
            )
        if pad is None:
            raise ValueError("config.pad_token_id is not set; T5 needs it to replace -100 in shifted labels.")
        shifted = input_ids.new_zeros(input_ids.shape)  # (b, t)
        shifted[:, 1:] = input_ids[:, :-1]
        shifted[:, 0] = start
        return shifted.masked_fill(shifted == -100, pad)

    def _run(self, input_ids, attention_mask, decoder_input_ids, decoder_attention_mask, encoder_outputs,
             past_key_values, inputs_embeds, decoder_inputs_embeds, use_cache, output_attentions,
             output_hidden_states):
        """Encoder (unless ``encoder_outputs`` is given), then decoder; shared by both task models."""
        if encoder_outputs is None:
            encoder_outputs = self.encoder(input_ids, attention_mask, inputs_embeds=inputs_embeds,
                                           output_attentions=output_attentions,
                                           output_hidden_states=output_hidden_states)
        elif isinstance(encoder_outputs, (tuple, list)):
            encoder_outputs = BaseModelOutput(*encoder_outputs)
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if use_cache and past_key_values is None:
            past_key_values = EncoderDecoderCache()
        cache = past_key_values if use_cache else None
        decoder = self.decoder(decoder_input_ids, decoder_attention_mask, encoder_outputs.last_hidden_state,
                               attention_mask, inputs_embeds=decoder_inputs_embeds, past_key_values=cache,
                               output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        return encoder_outputs, decoder, cache


class T5Model(T5PreTrainedModel):
    """Encoder and decoder, no head: the decoder's last hidden state (b, t, d)."""

    def __init__(self, config: T5Config):
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, "encoder")
        self.decoder = T5Stack(config, "decoder")
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                encoder_outputs=None, past_key_values=None, inputs_embeds=None, decoder_inputs_embeds=None,
                use_cache=None, output_attentions=False, output_hidden_states=False, return_dict=None):
        encoder_outputs, decoder, cache = self._run(
            input_ids, attention_mask, decoder_input_ids, decoder_attention_mask, encoder_outputs, past_key_values,
            inputs_embeds, decoder_inputs_embeds, use_cache, output_attentions, output_hidden_states)
        hidden, all_hidden, self_patterns, cross_patterns = decoder
        return Seq2SeqModelOutput(
            last_hidden_state=hidden, past_key_values=cache, decoder_hidden_states=all_hidden,
            decoder_attentions=self_patterns, cross_attentions=cross_patterns,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states, encoder_attentions=encoder_outputs.attentions,
        )


class T5ForConditionalGeneration(GenerationMixin, T5PreTrainedModel):
    """T5 with its language-modelling head: text in, text out (translation, summarization ...)."""

    _tied_weights_keys = {**T5PreTrainedModel._tied_weights_keys, "lm_head.weight": "shared.weight"}

    def __init__(self, config: T5Config):
        super().__init__(config)
        self.model_dim = config.d_model
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, "encoder")
        self.decoder = T5Stack(config, "decoder")
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.hook_logits = HookPoint("logits", stack="decoder")  # (b, t, v): cache["logits"] needs no stack
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                encoder_outputs=None, past_key_values=None, inputs_embeds=None, decoder_inputs_embeds=None,
                labels=None, use_cache=None, output_attentions=False, output_hidden_states=False, return_dict=None):
        if labels is not None:
            _check_labels(labels, decoder_input_ids if decoder_input_ids is not None else decoder_inputs_embeds,
                          input_ids if input_ids is not None else inputs_embeds)
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = self._shift_right(labels)  # (b, t)
        encoder_outputs, decoder, cache = self._run(
            input_ids, attention_mask, decoder_input_ids, decoder_attention_mask, encoder_outputs, past_key_values,
            inputs_embeds, decoder_inputs_embeds, use_cache, output_attentions, output_hidden_states)
        hidden, all_hidden, self_patterns, cross_patterns = decoder
        if self.config.scale_decoder_outputs:  # tied head: the embedding matrix reads a rescaled state
            hidden = hidden * self.model_dim**-0.5
        logits = self.hook_logits(self.lm_head(hidden))  # (b, t, v)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                               labels.to(logits.device).reshape(-1), ignore_index=-100)
        return Seq2SeqLMOutput(
            loss=loss, logits=logits, past_key_values=cache, decoder_hidden_states=all_hidden,
            decoder_attentions=self_patterns, cross_attentions=cross_patterns,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states, encoder_attentions=encoder_outputs.attentions,
        )

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return self._shift_right(labels)


class T5EncoderModel(T5PreTrainedModel):
    """The encoder alone (sentence embeddings, the text encoder of diffusion models)."""

    _tied_weights_keys = {"encoder.embed_tokens.weight": "shared.weight"}
    _keys_to_ignore_on_load_unexpected = [r"^decoder\.", r"^lm_head\."]
    _final_norm = {"encoder": "encoder.final_layer_norm"}

    def __init__(self, config: T5Config):
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, "encoder")
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, output_attentions=False,
                output_hidden_states=False, return_dict=None) -> BaseModelOutput:
        return self.encoder(input_ids, attention_mask, inputs_embeds=inputs_embeds,
                            output_attentions=output_attentions, output_hidden_states=output_hidden_states)


def _check_labels(labels: torch.Tensor, decoder_inputs: torch.Tensor | None, source: torch.Tensor | None) -> None:
    """Labels are (b, t) token ids: one target row per source row, as long as the decoder's inputs."""
    if labels.dim() != 2 or labels.is_floating_point():
        raise ValueError(
            f"labels must be integer token ids of shape (batch, target_length), got {labels.dtype} of shape "
            f"{tuple(labels.shape)}; tokenize the targets (text_target=...) and pass their input_ids."
        )
    if source is not None and labels.shape[0] != source.shape[0]:
        raise ValueError(f"labels have {labels.shape[0]} rows but the source has {source.shape[0]}: "
                         "give one target per source.")
    if decoder_inputs is not None and tuple(labels.shape) != tuple(decoder_inputs.shape[:2]):
        raise ValueError(
            f"labels {tuple(labels.shape)} and decoder inputs {tuple(decoder_inputs.shape[:2])} differ in shape; "
            "labels[:, i] is the token the decoder should predict after reading decoder_input_ids[:, :i+1]. Pass "
            "labels alone (they are shifted right behind decoder_start_token_id) or both with the same shape."
        )


__all__ = ["T5Config", "T5PreTrainedModel", "T5Model", "T5ForConditionalGeneration", "T5EncoderModel",
           "relative_position_bucket"]
