"""Wav2Vec 2.0 (Baevski et al., 2020), with Hugging Face's module tree and parameter names.

What changed since BERT: the input is sound, not text. There is no vocabulary to embed; a
stack of 1-D convolutions reads the raw waveform (16 000 samples a second) and gives one
vector every ``prod(conv_stride)`` samples (320, i.e. every 20 ms, for the base model). Those
*frames* play the part of tokens; the Transformer encoder after them is BERT's, with a
convolution instead of a table for the positions::

    input_values (b, n) ─► feature_extractor: conv ─► norm ─► GELU  × len(conv_dim)  (b, c, t)
                        ─► transpose (b, t, c) ─► feature_projection: LayerNorm ─► Linear (b, t, d)
                        ─► encoder: (+ pos_conv_embed) ─► [ layer × num_hidden_layers ] ─► last_hidden_state
                        ─► task head: lm_head (CTC, one score per character per frame)
                                      or projector ─► mean over frames ─► classifier

* **Feature encoder.** ``feat_extract_norm="group"`` (wav2vec2-base) normalises only the first
  convolution, with a GroupNorm of one group per channel (each channel over time);
  ``"layer"`` (the large "lv60" models) puts a LayerNorm over channels after every convolution.
* **Positions from a convolution.** ``pos_conv_embed`` is one wide grouped convolution over
  time (``num_conv_pos_embeddings`` frames, ``num_conv_pos_embedding_groups`` groups) whose
  output, after GELU, is added to the frames: each frame learns where it is from its
  neighbours. Its kernel is *weight-normalised*: stored as a direction ``v`` and a length ``g``
  per kernel position, ``weight = g * v / ||v||`` (the norm over the output and input channels).
  transformers 5 stores them as torch's parametrisation (``conv.parametrizations.weight.original0``
  = g, ``.original1`` = v), older checkpoints as ``conv.weight_g`` / ``conv.weight_v``: both load.
* **Two encoder layouts.** ``do_stable_layer_norm=False`` (base) is post-norm like BERT, with a
  LayerNorm on the input to the first layer; ``True`` (large) is pre-norm like GPT-2, with the
  LayerNorm after the last layer.
* **Padding.** A padded batch carries an ``attention_mask`` over *samples*; the model turns it
  into one over frames with the convolutions' length formula
  (``_get_feat_extract_output_lengths``), zeroes the padded frames and hides them from the keys.
* **CTC.** ``Wav2Vec2ForCTC`` scores every frame over a character vocabulary plus a *blank*
  (the pad token). Connectionist temporal classification sums the probability of every
  frame-level path that collapses (merge repeats, drop blanks) to the label text, so audio and
  text need no alignment; greedy decoding is argmax per frame, then the same collapse
  (``Wav2Vec2CTCTokenizer.decode``).

Shapes: b=batch, n=samples, c=conv_dim[-1] (conv channels), t=frames, d=hidden_size,
h=num_attention_heads, e=d/h, m=intermediate_size, v=vocab_size, k=classifier_proj_size,
l=num_labels.

Hook points (aliases in brackets; one stack, positions are frames)::

    wav2vec2.hook_conv_features [conv_features]        (b, t, c) the convolutions' output
    wav2vec2.encoder.hook_embed [embed]                 (b, t, d) projected frames (padding zeroed)
    wav2vec2.encoder.pos_conv_embed.hook_pos_embed [pos_embed]  (b, t, d)
    per layer i under wav2vec2.encoder.layers.i:
      hook_resid_pre / hook_resid_mid / hook_resid_post [resid_pre, resid_mid, resid_post]
      attention.hook_q/k/v [q, k, v], hook_scores/pattern [scores, pattern] (b, h, t, t), hook_z [z]
      hook_attn_out [attn_out], feed_forward.hook_pre/hook_post [mlp_pre, mlp_post], hook_mlp_out [mlp_out]
    wav2vec2.hook_final [final]                         (b, t, d) last_hidden_state
    hook_logits [logits] (CTC, (b, t, v)); hook_class_logits [class_logits] (classification, (b, l))

The feature extractor (``Wav2Vec2FeatureExtractor``: normalise each clip, pad), the processor
(``Wav2Vec2Processor``) live here too; the CTC tokenizer is ``hfexplain.tokenization.ctc``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ..configuration import PretrainedConfig
from ..heads import ctc_loss
from ..hooks import HookPoint
from ..layers import attend, build_attention_mask, get_activation
from ..modeling import PreTrainedModel
from ..outputs import CausalLMOutput, SequenceClassifierOutput, Wav2Vec2BaseModelOutput
from ..processing.batch_feature import BatchFeature
from ..processing.processor import ProcessorMixin
from ..processing.sequence_feature_extraction import SequenceFeatureExtractor


class Wav2Vec2Config(PretrainedConfig):
    """Wav2Vec2's hyper-parameters, with the names and defaults of transformers' ``Wav2Vec2Config``
    (the defaults describe facebook/wav2vec2-base-960h). The quantizer / pre-training, x-vector and
    adapter fields are kept (and written back) but only what the models here use is checked."""

    model_type = "wav2vec2"

    def __init__(
        self,
        vocab_size: int | None = 32,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout: float = 0.1,
        activation_dropout: float = 0.1,
        attention_dropout: float = 0.1,
        feat_proj_dropout: float = 0.0,
        feat_quantizer_dropout: float = 0.0,
        final_dropout: float = 0.1,
        layerdrop: float = 0.1,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-5,
        feat_extract_norm: str = "group",
        feat_extract_activation: str = "gelu",
        conv_dim: tuple[int, ...] | list[int] = (512, 512, 512, 512, 512, 512, 512),
        conv_stride: tuple[int, ...] | list[int] = (5, 2, 2, 2, 2, 2, 2),
        conv_kernel: tuple[int, ...] | list[int] = (10, 3, 3, 3, 3, 2, 2),
        conv_bias: bool = False,
        num_conv_pos_embeddings: int = 128,
        num_conv_pos_embedding_groups: int = 16,
        do_stable_layer_norm: bool = False,
        apply_spec_augment: bool = True,
        mask_time_prob: float = 0.05,
        mask_time_length: int = 10,
        mask_time_min_masks: int = 2,
        mask_feature_prob: float = 0.0,
        mask_feature_length: int = 10,
        mask_feature_min_masks: int = 0,
        ctc_loss_reduction: str = "sum",
        ctc_zero_infinity: bool = False,
        use_weighted_layer_sum: bool = False,
        classifier_proj_size: int = 256,
        pad_token_id: int | None = 0,
        bos_token_id: int | None = 1,
        eos_token_id: int | None = 2,
        add_adapter: bool = False,
        adapter_attn_dim: int | None = None,
        output_hidden_size: int | None = None,
        **kwargs,
    ):
        conv_dim, conv_stride, conv_kernel = list(conv_dim), list(conv_stride), list(conv_kernel)
        if not len(conv_dim) == len(conv_stride) == len(conv_kernel):
            raise ValueError(
                "the feature encoder's convolutions are described by conv_dim, conv_stride and conv_kernel, one "
                f"entry per layer, but they have {len(conv_dim)}, {len(conv_stride)} and {len(conv_kernel)} "
                "entries; give all three the same length."
            )
        if feat_extract_norm not in ("group", "layer"):
            raise ValueError(f"feat_extract_norm is {feat_extract_norm!r}, but has to be one of ['group', 'layer'].")
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be divisible by num_attention_heads ({num_attention_heads})."
            )
        if hidden_size % num_conv_pos_embedding_groups:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be divisible by num_conv_pos_embedding_groups "
                f"({num_conv_pos_embedding_groups}): the positional convolution splits the channels into groups."
            )
        if ctc_loss_reduction not in ("sum", "mean", "none"):
            raise ValueError(f"ctc_loss_reduction must be 'sum', 'mean' or 'none', got {ctc_loss_reduction!r}.")
        if add_adapter or adapter_attn_dim is not None:
            raise NotImplementedError(
                "hfexplain's Wav2Vec2 has no adapters (add_adapter=True, or adapter_attn_dim for MMS's per-language "
                "adapters). Use a checkpoint without them, such as facebook/wav2vec2-base-960h."
            )
        for name, value in (("hidden_act", hidden_act), ("feat_extract_activation", feat_extract_activation)):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be an activation name such as 'gelu', got {type(value).__name__}; "
                                "configs are plain data, so pass the name.")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout = hidden_dropout
        self.activation_dropout = activation_dropout
        self.attention_dropout = attention_dropout
        self.feat_proj_dropout = feat_proj_dropout
        self.feat_quantizer_dropout = feat_quantizer_dropout
        self.final_dropout = final_dropout
        self.layerdrop = layerdrop
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.feat_extract_norm = feat_extract_norm
        self.feat_extract_activation = feat_extract_activation
        self.conv_dim = conv_dim
        self.conv_stride = conv_stride
        self.conv_kernel = conv_kernel
        self.conv_bias = conv_bias
        self.num_feat_extract_layers = len(conv_dim)
        self.num_conv_pos_embeddings = num_conv_pos_embeddings
        self.num_conv_pos_embedding_groups = num_conv_pos_embedding_groups
        self.do_stable_layer_norm = do_stable_layer_norm
        self.apply_spec_augment = apply_spec_augment
        self.mask_time_prob = mask_time_prob
        self.mask_time_length = mask_time_length
        self.mask_time_min_masks = mask_time_min_masks
        self.mask_feature_prob = mask_feature_prob
        self.mask_feature_length = mask_feature_length
        self.mask_feature_min_masks = mask_feature_min_masks
        self.ctc_loss_reduction = ctc_loss_reduction
        self.ctc_zero_infinity = ctc_zero_infinity
        self.use_weighted_layer_sum = use_weighted_layer_sum
        self.classifier_proj_size = classifier_proj_size
        self.add_adapter = add_adapter
        self.adapter_attn_dim = adapter_attn_dim
        self.output_hidden_size = output_hidden_size or hidden_size
        kwargs.pop("num_feat_extract_layers", None)  # derived from conv_dim
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)

    @property
    def inputs_to_logits_ratio(self) -> int:
        """Samples per frame: the product of the strides (320 for the base model: 20 ms at 16 kHz)."""
        return math.prod(self.conv_stride)


# --------------------------------------------------------------------------- the feature encoder


class Wav2Vec2NoLayerNormConvLayer(nn.Module):
    """One convolution over time, then the activation (the "group" encoder's layers after the first)."""

    def __init__(self, config: Wav2Vec2Config, layer_id: int = 0):
        super().__init__()
        self.in_conv_dim = config.conv_dim[layer_id - 1] if layer_id > 0 else 1
        self.out_conv_dim = config.conv_dim[layer_id]
        self.conv = nn.Conv1d(self.in_conv_dim, self.out_conv_dim, kernel_size=config.conv_kernel[layer_id],
                              stride=config.conv_stride[layer_id], bias=config.conv_bias)
        self.activation = get_activation(config.feat_extract_activation)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.conv(hidden_states))  # (b, c_out, t_out)


class Wav2Vec2LayerNormConvLayer(Wav2Vec2NoLayerNormConvLayer):
    """Convolution, LayerNorm over the channels of each frame, activation (every layer of "layer")."""

    def __init__(self, config: Wav2Vec2Config, layer_id: int = 0):
        super().__init__(config, layer_id)
        self.layer_norm = nn.LayerNorm(self.out_conv_dim, elementwise_affine=True)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.conv(hidden_states)  # (b, c, t)
        hidden_states = self.layer_norm(hidden_states.transpose(-2, -1)).transpose(-2, -1)  # (b, t, c) -> (b, c, t)
        return self.activation(hidden_states)


class Wav2Vec2GroupNormConvLayer(Wav2Vec2NoLayerNormConvLayer):
    """Convolution, GroupNorm with one group per channel (each channel normalised over time), activation.

    Used for the first layer of the "group" encoder only. Because it normalises over the whole
    clip, padding changes the statistics: such models (wav2vec2-base) were trained without an
    attention mask and expect zero-padded input.
    """

    def __init__(self, config: Wav2Vec2Config, layer_id: int = 0):
        super().__init__(config, layer_id)
        self.layer_norm = nn.GroupNorm(num_groups=self.out_conv_dim, num_channels=self.out_conv_dim, affine=True)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.layer_norm(self.conv(hidden_states)))  # (b, c, t)


class Wav2Vec2FeatureEncoder(nn.Module):
    """Raw samples (b, n) -> convolutional features (b, c, t)."""

    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        if config.feat_extract_norm == "group":
            layers = [Wav2Vec2GroupNormConvLayer(config, layer_id=0)]
            layers += [Wav2Vec2NoLayerNormConvLayer(config, layer_id=i) for i in range(1, config.num_feat_extract_layers)]
        else:
            layers = [Wav2Vec2LayerNormConvLayer(config, layer_id=i) for i in range(config.num_feat_extract_layers)]
        self.conv_layers = nn.ModuleList(layers)

    def _freeze_parameters(self) -> None:
        for param in self.parameters():
            param.requires_grad = False

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        hidden_states = input_values[:, None]  # (b, 1, n): one input channel
        for conv_layer in self.conv_layers:
            hidden_states = conv_layer(hidden_states)  # (b, c_i, t_i)
        return hidden_states


class Wav2Vec2FeatureProjection(nn.Module):
    """LayerNorm over the conv channels, then c -> d. Returns (projected, normalised features)."""

    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        self.layer_norm = nn.LayerNorm(config.conv_dim[-1], eps=config.layer_norm_eps)
        self.projection = nn.Linear(config.conv_dim[-1], config.hidden_size)
        self.dropout = nn.Dropout(config.feat_proj_dropout)

    def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        normed = self.layer_norm(hidden_states)  # (b, t, c): what the pre-training quantizer reads
        return self.dropout(self.projection(normed)), normed  # (b, t, d), (b, t, c)


# --------------------------------------------------------------------------- positions


class Wav2Vec2PositionalConvEmbedding(nn.Module):
    """Relative positions from a grouped, weight-normalised convolution over time (b, t, d) -> (b, t, d).

    ``conv`` is an ``nn.Conv1d`` under torch's weight-norm parametrisation (``dim=2``: one length
    per kernel position): ``conv.weight`` is recomputed as ``g * v / ||v||`` on each call, from
    ``conv.parametrizations.weight.original0`` (g, (1, 1, K)) and ``.original1`` (v, (d, d/groups, K)).
    The padding is K // 2 on both sides; with an even K that gives one frame too many, and the
    last is dropped (transformers' ``Wav2Vec2SamePadLayer``).
    """

    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        conv = nn.Conv1d(config.hidden_size, config.hidden_size, kernel_size=config.num_conv_pos_embeddings,
                         padding=config.num_conv_pos_embeddings // 2, groups=config.num_conv_pos_embedding_groups)
        self.conv = nn.utils.parametrizations.weight_norm(conv, name="weight", dim=2)
        self.num_pad_remove = 1 if config.num_conv_pos_embeddings % 2 == 0 else 0
        self.activation = get_activation(config.feat_extract_activation)
        self.hook_pos_embed = HookPoint("pos_embed")  # (b, t, d)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.conv(hidden_states.transpose(1, 2))  # (b, d, t + 1 if K is even)
        if self.num_pad_remove:
            hidden_states = hidden_states[:, :, : -self.num_pad_remove]  # (b, d, t)
        hidden_states = self.activation(hidden_states).transpose(1, 2)  # (b, t, d)
        return self.hook_pos_embed(hidden_states)


# --------------------------------------------------------------------------- one layer


class Wav2Vec2Attention(nn.Module):
    """Bidirectional multi-head self-attention over frames, with BART's projection names."""

    def __init__(self, config: Wav2Vec2Config, layer_idx: int | None = None):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = self.embed_dim // self.num_heads
        self.scaling = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.hook_q = HookPoint("q", layer_idx)  # (b, h, t, e)
        self.hook_k = HookPoint("k", layer_idx)  # (b, h, t, e)
        self.hook_v = HookPoint("v", layer_idx)  # (b, h, t, e)
        self.hook_scores = HookPoint("scores", layer_idx)  # (b, h, t, t)
        self.hook_pattern = HookPoint("pattern", layer_idx)  # (b, h, t, t)
        self.hook_z = HookPoint("z", layer_idx)  # (b, h, t, e)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, frames, _ = x.shape
        return x.view(batch, frames, self.num_heads, self.head_dim).transpose(1, 2)  # (b, h, t, e)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``attention_mask``: the additive (b, 1, 1, t) mask over padded frames, or None."""
        batch, frames, _ = hidden_states.shape  # (b, t, d)
        query = self.hook_q(self._split_heads(self.q_proj(hidden_states)))  # (b, h, t, e)
        key = self.hook_k(self._split_heads(self.k_proj(hidden_states)))  # (b, h, t, e)
        value = self.hook_v(self._split_heads(self.v_proj(hidden_states)))  # (b, h, t, e)
        z, pattern = attend(
            query, key, value, attention_mask, scale=self.scaling, dropout=self.dropout if self.training else 0.0,
            hook_scores=self.hook_scores, hook_pattern=self.hook_pattern, need_weights=output_attentions,
        )  # z: (b, h, t, e), pattern: (b, h, t, t) or None
        z = self.hook_z(z)
        merged = z.transpose(1, 2).reshape(batch, frames, self.embed_dim)  # (b, t, d)
        return self.out_proj(merged), pattern


class Wav2Vec2FeedForward(nn.Module):
    """The MLP: d -> m, activation, m -> d (with dropout after each half)."""

    def __init__(self, config: Wav2Vec2Config, layer_idx: int | None = None):
        super().__init__()
        self.intermediate_dropout = nn.Dropout(config.activation_dropout)
        self.intermediate_dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = get_activation(config.hidden_act)
        self.output_dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.output_dropout = nn.Dropout(config.hidden_dropout)
        self.hook_pre = HookPoint("mlp_pre", layer_idx)  # (b, t, m)
        self.hook_post = HookPoint("mlp_post", layer_idx)  # (b, t, m)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        pre = self.hook_pre(self.intermediate_dense(hidden_states))  # (b, t, m)
        post = self.hook_post(self.intermediate_act_fn(pre))  # (b, t, m)
        return self.output_dropout(self.output_dense(self.intermediate_dropout(post)))  # (b, t, d)


class Wav2Vec2EncoderLayer(nn.Module):
    """Post-norm (wav2vec2-base): x = LN(x + attn(x)); x = final_LN(x + mlp(x)), as BERT."""

    def __init__(self, config: Wav2Vec2Config, layer_idx: int | None = None):
        super().__init__()
        self.attention = Wav2Vec2Attention(config, layer_idx)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = Wav2Vec2FeedForward(config, layer_idx)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.hook_resid_pre = HookPoint("resid_pre", layer_idx)  # (b, t, d)
        self.hook_attn_out = HookPoint("attn_out", layer_idx)  # (b, t, d): what attention adds
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx)  # (b, t, d)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx)  # (b, t, d): what the MLP adds
        self.hook_resid_post = HookPoint("resid_post", layer_idx)  # (b, t, d)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        resid = self.hook_resid_pre(hidden_states)  # (b, t, d)
        attn_out, pattern = self.attention(resid, attention_mask, output_attentions)
        attn_out = self.hook_attn_out(self.dropout(attn_out))  # (b, t, d)
        resid = self.hook_resid_mid(self.layer_norm(resid + attn_out))  # (b, t, d), normalised
        mlp_out = self.hook_mlp_out(self.feed_forward(resid))  # (b, t, d)
        return self.hook_resid_post(self.final_layer_norm(resid + mlp_out)), pattern


class Wav2Vec2EncoderLayerStableLayerNorm(Wav2Vec2EncoderLayer):
    """Pre-norm (the large models): x = x + attn(LN(x)); x = x + mlp(final_LN(x)), as GPT-2."""

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        resid = self.hook_resid_pre(hidden_states)  # (b, t, d)
        attn_out, pattern = self.attention(self.layer_norm(resid), attention_mask, output_attentions)
        resid = self.hook_resid_mid(resid + self.hook_attn_out(self.dropout(attn_out)))  # (b, t, d)
        mlp_out = self.hook_mlp_out(self.feed_forward(self.final_layer_norm(resid)))  # (b, t, d)
        return self.hook_resid_post(resid + mlp_out), pattern


class Wav2Vec2Encoder(nn.Module):
    """Positions, then the layers; post-norm: ``layer_norm`` normalises the input of the first layer."""

    layer_class = Wav2Vec2EncoderLayer
    pre_norm = False

    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        self.pos_conv_embed = Wav2Vec2PositionalConvEmbedding(config)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layers = nn.ModuleList([self.layer_class(config, layer_idx=i) for i in range(config.num_hidden_layers)])
        self.layerdrop = config.layerdrop
        self.hook_embed = HookPoint("embed")  # (b, t, d): the projected frames, padded ones zeroed

    def forward(
        self,
        hidden_states: torch.Tensor,
        frame_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> tuple[torch.Tensor, tuple | None, tuple | None]:
        """``frame_mask`` (b, t) bool: True at real frames. Returns ``(last_hidden_state, hidden_states,
        attentions)``; ``hidden_states`` holds the input of every layer and the last layer's output
        (before the final LayerNorm of a pre-norm encoder), as transformers records them."""
        mask = None
        if frame_mask is not None:
            hidden_states = hidden_states.masked_fill(~frame_mask[..., None], 0.0)  # padded frames output 0
            frames = hidden_states.shape[1]
            mask = build_attention_mask(frame_mask, frames, frames, causal=False, dtype=hidden_states.dtype,
                                        device=hidden_states.device)  # (b, 1, 1, t) or None
        hidden_states = self.hook_embed(hidden_states)  # (b, t, d)
        hidden_states = hidden_states + self.pos_conv_embed(hidden_states)  # (b, t, d)
        if not self.pre_norm:
            hidden_states = self.layer_norm(hidden_states)
        hidden_states = self.dropout(hidden_states)

        all_hidden = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            if output_hidden_states:
                all_hidden += (hidden_states,)
            if self.training and self.layerdrop > 0.0 and torch.rand([]) < self.layerdrop:
                continue  # LayerDrop: skip the whole layer now and then while training
            hidden_states, pattern = layer(hidden_states, mask, output_attentions)  # (b, t, d)
            if output_attentions:
                all_attentions += (pattern,)
        if output_hidden_states:
            all_hidden += (hidden_states,)
        if self.pre_norm:
            hidden_states = self.layer_norm(hidden_states)
        return hidden_states, all_hidden, all_attentions


class Wav2Vec2EncoderStableLayerNorm(Wav2Vec2Encoder):
    """Pre-norm layers; ``layer_norm`` normalises the output of the last layer."""

    layer_class = Wav2Vec2EncoderLayerStableLayerNorm
    pre_norm = True


# --------------------------------------------------------------------------- models


def _conv_out_length(length, kernel_size: int, stride: int):
    """Frames a convolution (no padding) gives from ``length`` inputs (int or tensor)."""
    if isinstance(length, torch.Tensor):
        return torch.div(length - kernel_size, stride, rounding_mode="floor") + 1
    return (length - kernel_size) // stride + 1


class Wav2Vec2PreTrainedModel(PreTrainedModel):
    config_class = Wav2Vec2Config
    base_model_prefix = "wav2vec2"
    main_input_name = "input_values"
    # The SpecAugment vector exists only when the config masks; a checkpoint saved without masking lacks it.
    _keys_optional_in_checkpoint = [r"(^|\.)masked_spec_embed$"]

    @property
    def _residual_stream_is_a_sum(self) -> bool:
        """Pre-norm (stable layer norm): the stream is the sum of what each part wrote; post-norm: not."""
        return bool(self.config.do_stable_layer_norm)

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, Wav2Vec2PositionalConvEmbedding):
            conv = module.conv
            direction = conv.parametrizations.weight.original1  # v
            with torch.no_grad():
                direction.normal_(0.0, 2 * math.sqrt(1 / (conv.kernel_size[0] * conv.in_channels)))
                conv.parametrizations.weight.original0.copy_(direction.norm(dim=(0, 1), keepdim=True))  # g = |v|
                nn.init.zeros_(conv.bias)
        elif isinstance(module, Wav2Vec2FeatureProjection):
            bound = math.sqrt(1 / module.projection.in_features)
            nn.init.uniform_(module.projection.weight, -bound, bound)
            nn.init.uniform_(module.projection.bias, -bound, bound)
        elif isinstance(module, nn.Conv1d) and not hasattr(module, "parametrizations"):
            nn.init.kaiming_normal_(module.weight)
            if module.bias is not None:
                bound = math.sqrt(module.groups / (module.in_channels * module.kernel_size[0]))
                nn.init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, Wav2Vec2Model) and module.masked_spec_embed is not None:
            nn.init.uniform_(module.masked_spec_embed)

    # Checkpoints written before torch's parametrisations (transformers 4.x and fairseq conversions)
    # name the positional convolution's weight norm weight_g / weight_v; they are the same two tensors.
    _LEGACY_WEIGHT_NORM = {".conv.weight_g": ".conv.parametrizations.weight.original0",
                           ".conv.weight_v": ".conv.parametrizations.weight.original1"}

    def _plan_load(self, state_dict: dict[str, torch.Tensor], ignore_mismatched_sizes: bool):
        """Older checkpoints name the positional conv's weight norm ``weight_g`` / ``weight_v``: read them
        under today's parametrisation names (both the shape check and the load go through here)."""
        renamed = {}
        for key, tensor in state_dict.items():
            for old, new in self._LEGACY_WEIGHT_NORM.items():
                if "pos_conv_embed" in key and key.endswith(old):
                    key = key[: -len(old)] + new
            renamed[key] = tensor
        return super()._plan_load(renamed, ignore_mismatched_sizes)

    def _get_feat_extract_output_lengths(self, input_lengths):
        """Frames the feature encoder gives from ``input_lengths`` samples (int or (b,) tensor)."""
        for kernel_size, stride in zip(self.config.conv_kernel, self.config.conv_stride):
            input_lengths = _conv_out_length(input_lengths, kernel_size, stride)
        return input_lengths

    def _receptive_field(self) -> int:
        """The fewest samples that give one frame."""
        samples = 1
        for kernel_size, stride in reversed(list(zip(self.config.conv_kernel, self.config.conv_stride))):
            samples = (samples - 1) * stride + kernel_size
        return samples

    def _get_feature_vector_attention_mask(self, feature_vector_length: int, attention_mask: torch.Tensor) -> torch.Tensor:
        """The sample mask (b, n) as a frame mask (b, t) bool: a row's first ``lengths`` frames are real,
        where ``lengths`` is what the convolutions make of its number of real samples (right padding)."""
        lengths = self._get_feat_extract_output_lengths(attention_mask.sum(-1)).to(torch.long)  # (b,)
        frames = torch.arange(feature_vector_length, device=attention_mask.device)  # (t,)
        return frames[None, :] < lengths[:, None]  # (b, t)

    def freeze_feature_encoder(self) -> None:
        """Stop training the convolutions (usual when fine-tuning for CTC)."""
        self.base_model.feature_extractor._freeze_parameters()

    def _check_inputs(self, input_values, attention_mask) -> None:
        """Clear errors for the inputs every Wav2Vec2 model takes, before any work."""
        if input_values is None:
            raise ValueError("input_values is required: the raw audio, e.g. Wav2Vec2FeatureExtractor(audio)['input_values'].")
        if not isinstance(input_values, torch.Tensor):
            raise TypeError(
                f"input_values must be a torch.Tensor, got {type(input_values).__name__}; call the feature extractor "
                "with return_tensors='pt'."
            )
        if not input_values.is_floating_point():
            raise TypeError(
                f"input_values must hold float samples, got {input_values.dtype}; convert int16 audio with "
                "the feature extractor (it normalises), or input_values.float() / 32768."
            )
        if input_values.dim() != 2:
            hint = ("for one clip add a batch axis: input_values[None]" if input_values.dim() == 1 else
                    "a clip is mono (samples,): mix stereo down first, e.g. audio.mean(axis=channel_axis)")
            raise ValueError(f"input_values must have shape (batch, samples), got {tuple(input_values.shape)}; {hint}.")
        needed = self._receptive_field()
        if input_values.shape[1] < needed:
            raise ValueError(
                f"input_values has {input_values.shape[1]} samples, fewer than the {needed} the feature encoder needs "
                "for one frame; pad the audio (feature_extractor(..., padding='max_length', max_length=...))."
            )
        if attention_mask is not None:
            if tuple(attention_mask.shape) != tuple(input_values.shape):
                raise ValueError(
                    f"attention_mask must have the shape of input_values {tuple(input_values.shape)} (one entry per "
                    f"sample), got {tuple(attention_mask.shape)}."
                )
            short = (attention_mask.sum(-1) < needed).nonzero().flatten().tolist()
            if short:
                raise ValueError(
                    f"row(s) {short} of the batch have fewer than {needed} real samples (the feature encoder's "
                    "receptive field), so they give no frame; drop or lengthen those clips."
                )


class Wav2Vec2Model(Wav2Vec2PreTrainedModel):
    """The bare model: raw samples (b, n) -> ``last_hidden_state`` (b, t, d) and ``extract_features`` (b, t, c)."""

    def __init__(self, config: Wav2Vec2Config):
        super().__init__(config)
        self.feature_extractor = Wav2Vec2FeatureEncoder(config)
        self.feature_projection = Wav2Vec2FeatureProjection(config)
        # The learned "masked frame" vector of SpecAugment, only when the config masks.
        if config.mask_time_prob > 0.0 or config.mask_feature_prob > 0.0:
            self.masked_spec_embed = nn.Parameter(torch.empty(config.hidden_size).uniform_())
        else:
            self.masked_spec_embed = None
        encoder_class = Wav2Vec2EncoderStableLayerNorm if config.do_stable_layer_norm else Wav2Vec2Encoder
        self.encoder = encoder_class(config)
        self.hook_conv_features = HookPoint("conv_features")  # (b, t, c)
        self.hook_final = HookPoint("final")  # (b, t, d)
        # Pre-norm: the stream is a sum of its parts and encoder.layer_norm is the final norm; post-norm: neither.
        self._final_norm = "encoder.layer_norm" if config.do_stable_layer_norm else None
        self.post_init()

    def _mask_hidden_states(self, hidden_states: torch.Tensor, mask_time_indices: torch.Tensor | None,
                            frame_mask: torch.Tensor | None) -> torch.Tensor:
        """SpecAugment: replace spans of frames by ``masked_spec_embed`` and zero spans of channels.

        ``mask_time_indices`` (b, t) bool masks exactly those frames; otherwise, while training,
        random spans are drawn (``mask_time_prob`` / ``mask_time_length``, ``mask_feature_*``).
        """
        config = self.config
        if not config.apply_spec_augment:
            return hidden_states
        batch, frames, hidden = hidden_states.shape  # (b, t, d)
        if mask_time_indices is None and config.mask_time_prob > 0 and self.training:
            lengths = frame_mask.sum(-1).tolist() if frame_mask is not None else [frames] * batch
            mask_time_indices = _span_mask(lengths, frames, config.mask_time_prob, config.mask_time_length,
                                           config.mask_time_min_masks, hidden_states.device)
        if mask_time_indices is not None:
            if self.masked_spec_embed is None:
                raise ValueError("mask_time_indices needs masked_spec_embed, which exists only when the config has "
                                 "mask_time_prob > 0 (or mask_feature_prob > 0).")
            embed = self.masked_spec_embed.to(hidden_states.dtype)  # (d,)
            hidden_states = torch.where(mask_time_indices.bool()[..., None], embed, hidden_states)  # (b, t, d)
        if config.mask_feature_prob > 0 and self.training:
            channels = _span_mask([hidden] * batch, hidden, config.mask_feature_prob, config.mask_feature_length,
                                  config.mask_feature_min_masks, hidden_states.device)  # (b, d)
            hidden_states = hidden_states.masked_fill(channels[:, None, :], 0.0)
        return hidden_states

    def forward(
        self,
        input_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        mask_time_indices: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Wav2Vec2BaseModelOutput:
        """``input_values`` (b, n): float samples (normalised by the feature extractor); ``attention_mask``
        (b, n): 1 for real samples, 0 for padding."""
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        self._check_inputs(input_values, attention_mask)

        features = self.feature_extractor(input_values).transpose(1, 2)  # (b, c, t) -> (b, t, c)
        features = self.hook_conv_features(features)  # (b, t, c)
        frame_mask = None
        if attention_mask is not None:
            frame_mask = self._get_feature_vector_attention_mask(features.shape[1], attention_mask)  # (b, t)
        hidden, extract_features = self.feature_projection(features)  # (b, t, d), (b, t, c)
        hidden = self._mask_hidden_states(hidden, mask_time_indices, frame_mask)
        hidden, all_hidden, all_attentions = self.encoder(hidden, frame_mask, output_attentions, output_hidden_states)
        hidden = self.hook_final(hidden)  # (b, t, d)
        return Wav2Vec2BaseModelOutput(
            last_hidden_state=hidden, extract_features=extract_features, hidden_states=all_hidden,
            attentions=all_attentions,
        )


def _span_mask(lengths: list[int], size: int, prob: float, span: int, min_masks: int,
               device: torch.device) -> torch.Tensor:
    """Random spans of ``span`` positions, about ``prob`` of each row's ``length``: (b, size) bool.

    The SpecAugment rule of transformers' ``_compute_mask_indices`` (how many spans, at least
    ``min_masks``, starts drawn without replacement), drawn with torch's generator.
    """
    if span < 1 or span > size:
        raise ValueError(f"the mask span ({span}) must be between 1 and the axis length ({size}).")
    mask = torch.zeros(len(lengths), size, dtype=torch.bool, device=device)
    jitter = float(torch.rand([]))  # probabilistic rounding of the span count
    for row, length in enumerate(lengths):
        count = max(int(prob * length / span + jitter), min_masks)
        count = min(count, size // span, max(length - span + 1, 0))
        if count == 0:
            continue
        starts = torch.randperm(length - span + 1)[:count]  # (count,)
        positions = (starts[:, None] + torch.arange(span)).flatten().clamp(max=size - 1)  # (count * span,)
        mask[row, positions.to(device)] = True
    return mask


class Wav2Vec2ForCTC(Wav2Vec2PreTrainedModel):
    """Speech recognition: ``lm_head`` gives every frame a score per vocabulary entry (blank = pad);
    trained with the CTC loss, read with argmax + ``Wav2Vec2CTCTokenizer.decode``."""

    def __init__(self, config: Wav2Vec2Config):
        super().__init__(config)
        if config.vocab_size is None:
            raise ValueError(
                "Wav2Vec2ForCTC needs config.vocab_size (the size of the tokenizer's vocabulary): "
                "Wav2Vec2ForCTC.from_pretrained(path, vocab_size=len(tokenizer))."
            )
        self.wav2vec2 = Wav2Vec2Model(config)
        self.dropout = nn.Dropout(config.final_dropout)
        self.lm_head = nn.Linear(config.output_hidden_size, config.vocab_size)
        self.hook_logits = HookPoint("logits")  # (b, t, v)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def freeze_base_model(self) -> None:
        for param in self.wav2vec2.parameters():
            param.requires_grad = False

    def forward(
        self,
        input_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> CausalLMOutput:
        """``labels`` (b, u): the transcription's ids, padded with -100 (or the pad id)."""
        config = self.config
        if labels is not None and labels.numel() and int(labels.max()) >= config.vocab_size:
            raise ValueError(
                f"Label values must be <= vocab_size: {config.vocab_size} (got {int(labels.max())}); encode the "
                "transcriptions with this model's tokenizer."
            )
        outputs = self.wav2vec2(input_values, attention_mask=attention_mask, output_attentions=output_attentions,
                                output_hidden_states=output_hidden_states)
        logits = self.hook_logits(self.lm_head(self.dropout(outputs.last_hidden_state)))  # (b, t, v)
        loss = None
        if labels is not None:
            if attention_mask is None:
                attention_mask = torch.ones_like(input_values, dtype=torch.long)
            frame_lengths = self._get_feat_extract_output_lengths(attention_mask.sum(-1)).to(torch.long)  # (b,)
            loss = ctc_loss(logits, labels, frame_lengths, blank=config.pad_token_id,
                            reduction=config.ctc_loss_reduction, zero_infinity=config.ctc_zero_infinity)
        return CausalLMOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                              attentions=outputs.attentions)


class Wav2Vec2ForSequenceClassification(Wav2Vec2PreTrainedModel):
    """One label per clip (keyword spotting, speaker or emotion id): ``projector`` (d -> k) on every
    frame, the mean over the real frames, then ``classifier`` (k -> l).

    ``use_weighted_layer_sum=True`` reads a learned softmax-weighted mix of every hidden state
    (``layer_weights``) instead of the last one.
    """

    def __init__(self, config: Wav2Vec2Config):
        super().__init__(config)
        self.wav2vec2 = Wav2Vec2Model(config)
        num_layers = config.num_hidden_layers + 1  # the layers' inputs and the last output
        if config.use_weighted_layer_sum:
            self.layer_weights = nn.Parameter(torch.ones(num_layers) / num_layers)
        self.projector = nn.Linear(config.hidden_size, config.classifier_proj_size)
        self.classifier = nn.Linear(config.classifier_proj_size, config.num_labels)
        self.hook_class_logits = HookPoint("class_logits")  # (b, l)
        self.post_init()

    def freeze_base_model(self) -> None:
        for param in self.wav2vec2.parameters():
            param.requires_grad = False

    def forward(
        self,
        input_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> SequenceClassifierOutput:
        """``labels`` (b,): one class id per clip (cross-entropy loss)."""
        config = self.config
        wanted_hidden = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        outputs = self.wav2vec2(input_values, attention_mask=attention_mask, output_attentions=output_attentions,
                                output_hidden_states=wanted_hidden or config.use_weighted_layer_sum)
        if config.use_weighted_layer_sum:
            stacked = torch.stack(outputs.hidden_states, dim=1)  # (b, L + 1, t, d)
            weights = torch.softmax(self.layer_weights, dim=-1)  # (L + 1,)
            hidden = (stacked * weights.view(-1, 1, 1)).sum(dim=1)  # (b, t, d)
        else:
            hidden = outputs.last_hidden_state  # (b, t, d)
        hidden = self.projector(hidden)  # (b, t, k)
        if attention_mask is None:
            pooled = hidden.mean(dim=1)  # (b, k)
        else:
            frame_mask = self._get_feature_vector_attention_mask(hidden.shape[1], attention_mask)  # (b, t)
            hidden = hidden.masked_fill(~frame_mask[..., None], 0.0)
            pooled = hidden.sum(dim=1) / frame_mask.sum(dim=1, keepdim=True)  # (b, k): mean over real frames
        logits = self.hook_class_logits(self.classifier(pooled))  # (b, l)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, config.num_labels), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits,
                                        hidden_states=outputs.hidden_states if wanted_hidden else None,
                                        attentions=outputs.attentions)


# --------------------------------------------------------------------------- preprocessing


class Wav2Vec2FeatureExtractor(SequenceFeatureExtractor):
    """Raw audio -> ``input_values``: each clip normalised to zero mean and unit variance, then padded.

    Settings (transformers' names and defaults): ``feature_size=1`` (mono samples),
    ``sampling_rate=16000``, ``padding_value=0.0``, ``do_normalize=True``,
    ``return_attention_mask=False`` (the "group" models, wav2vec2-base, were trained on
    zero-padded batches without a mask; the "layer" ones, lv60, want the mask).

    As in transformers, the mean and variance of a padded clip are taken over its real samples
    when an ``attention_mask`` is returned, and over the padded clip when it is not.
    """

    model_input_names = ["input_values", "attention_mask"]

    def __init__(self, feature_size: int = 1, sampling_rate: int = 16000, padding_value: float = 0.0,
                 return_attention_mask: bool = False, do_normalize: bool = True, **settings: Any):
        super().__init__(feature_size=feature_size, sampling_rate=sampling_rate, padding_value=padding_value,
                         return_attention_mask=return_attention_mask, **settings)
        self.do_normalize = do_normalize

    @staticmethod
    def zero_mean_unit_var_norm(input_values: list[np.ndarray], attention_mask: list[np.ndarray] | None,
                                padding_value: float = 0.0) -> list[np.ndarray]:
        """(x - mean) / sqrt(var + 1e-7) per clip, over its first ``attention_mask.sum()`` samples when given."""
        normed = []
        for i, values in enumerate(input_values):
            length = int(np.sum(attention_mask[i])) if attention_mask is not None else len(values)
            real = values[:length]
            scaled = (values - real.mean()) / np.sqrt(real.var() + 1e-7)
            scaled[length:] = padding_value  # padding stays padding
            normed.append(scaled)
        return normed

    def __call__(
        self,
        raw_speech,
        padding: bool | str = False,
        max_length: int | None = None,
        truncation: bool = False,
        pad_to_multiple_of: int | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
        sampling_rate: int | None = None,
    ) -> BatchFeature:
        """One clip (samples,) or a batch (a list of clips, or a (b, samples) array) -> ``input_values``.

        Pass ``sampling_rate``: audio at another rate must be resampled first (a 44.1 kHz clip read
        at 16 kHz plays almost three times too slow, and the model hears noise).
        """
        if sampling_rate is not None and sampling_rate != self.sampling_rate:
            raise ValueError(
                f"this feature extractor expects audio sampled at {self.sampling_rate} Hz (what the model was trained "
                f"on), got sampling_rate={sampling_rate}. Resample first, e.g. "
                f"librosa.resample(audio, orig_sr={sampling_rate}, target_sr={self.sampling_rate}) or "
                f"torchaudio.functional.resample(audio, {sampling_rate}, {self.sampling_rate})."
            )
        clips = _as_clips(raw_speech)
        padded = self.pad(BatchFeature({"input_values": clips}), padding=padding, max_length=max_length,
                          truncation=truncation, pad_to_multiple_of=pad_to_multiple_of,
                          return_attention_mask=return_attention_mask)
        values = [np.asarray(clip) for clip in padded["input_values"]]
        attention_mask = padded.get("attention_mask")
        if attention_mask is not None:
            attention_mask = [np.asarray(row, dtype=np.int32) for row in attention_mask]
        if self.do_normalize:
            padded_at_all = self._padding_strategy(padding, max_length) != "do_not_pad"
            values = self.zero_mean_unit_var_norm(values, attention_mask if padded_at_all else None,
                                                  self.padding_value)
        data = {"input_values": [clip.astype(np.float32) for clip in values]}
        if attention_mask is not None:
            data["attention_mask"] = attention_mask
        return BatchFeature(data, tensor_type=return_tensors)


def _as_clips(raw_speech) -> list[np.ndarray]:
    """A clip or a batch of clips as a list of 1-D arrays (float32; integers as float64), with clear errors."""
    if hasattr(raw_speech, "detach"):  # a torch tensor
        raw_speech = raw_speech.detach().cpu().numpy()
    if isinstance(raw_speech, np.ndarray):
        if raw_speech.ndim == 0:
            raise ValueError("raw_speech is a single number; pass a clip of samples (a 1-D array).")
        if raw_speech.ndim > 2:
            raise ValueError(f"Only mono-channel audio is supported: got an array of shape {raw_speech.shape}. "
                             "Pass one clip (samples,) or a batch (batch, samples); mix stereo down first.")
        if raw_speech.ndim == 2 and raw_speech.shape[1] in (1, 2) and raw_speech.shape[0] > raw_speech.shape[1]:
            raise ValueError(
                f"an array of shape {raw_speech.shape} looks like one clip with {raw_speech.shape[1]} channel(s) "
                "(samples, channels), but Wav2Vec2 takes mono audio: mix it down with audio.mean(axis=1) (a 2-D "
                "array is read as a batch (batch, samples))."
            )
        clips = list(raw_speech) if raw_speech.ndim == 2 else [raw_speech]
    elif isinstance(raw_speech, (list, tuple)):
        if len(raw_speech) == 0:
            raise ValueError("raw_speech is empty: pass a clip of samples or a list of clips.")
        first = raw_speech[0]
        batched = isinstance(first, (list, tuple, np.ndarray)) or hasattr(first, "detach")
        clips = list(raw_speech) if batched else [raw_speech]
    else:
        raise TypeError(f"raw_speech must be a NumPy array, a torch tensor or a list of samples, got "
                        f"{type(raw_speech).__name__}.")
    out = []
    for i, clip in enumerate(clips):
        if hasattr(clip, "detach"):
            clip = clip.detach().cpu().numpy()
        clip = np.asarray(clip)
        if clip.ndim != 1:
            raise ValueError(
                f"clip {i} has shape {clip.shape}, but each clip must be mono (samples,); stereo audio "
                "(samples, 2) or (2, samples) has to be mixed down first, e.g. clip.mean(axis=channel_axis)."
            )
        if clip.size == 0:
            raise ValueError(f"clip {i} is empty (0 samples); drop it, or pass at least one sample.")
        if not (np.issubdtype(clip.dtype, np.floating) or np.issubdtype(clip.dtype, np.integer)):
            raise TypeError(f"clip {i} holds {clip.dtype} values; audio samples must be numbers.")
        out.append(clip.astype(np.float64 if np.issubdtype(clip.dtype, np.integer) else np.float32))
    return out


class Wav2Vec2Processor(ProcessorMixin):
    """The feature extractor and the CTC tokenizer in one object, as transformers' ``Wav2Vec2Processor``:
    ``processor(audio=..., text=...)`` gives ``input_values`` and, from the text, ``labels``;
    ``processor.batch_decode(logits.argmax(-1))`` gives the transcriptions."""

    attributes = ["feature_extractor", "tokenizer"]

    def __call__(self, audio=None, text=None, **kwargs: Any):
        if audio is None and text is None:
            raise ValueError("Wav2Vec2Processor() needs audio= (raw samples) or text= (a transcription), or both.")
        audio_settings = {key: kwargs.pop(key) for key in ("sampling_rate",) if key in kwargs}
        inputs = encodings = None
        if audio is not None:
            inputs = self.feature_extractor(audio, **audio_settings, **kwargs)
        if text is not None:
            encodings = self.tokenizer(text, **kwargs)
        if text is None:
            return inputs
        if audio is None:
            return encodings
        inputs["labels"] = encodings["input_ids"]
        return inputs

    def pad(self, input_features=None, labels=None, **kwargs: Any):
        """Pad features with the feature extractor and/or label ids with the tokenizer (a collator's job)."""
        if input_features is not None:
            input_features = self.feature_extractor.pad(input_features, **kwargs)
        if labels is not None:
            labels = self.tokenizer.pad(labels, **kwargs)
        if labels is None:
            return input_features
        if input_features is None:
            return labels
        input_features["labels"] = labels["input_ids"]
        return input_features

    @property
    def model_input_names(self) -> list[str]:
        return list(self.feature_extractor.model_input_names) + ["labels"]


__all__ = [
    "Wav2Vec2Config",
    "Wav2Vec2PreTrainedModel",
    "Wav2Vec2Model",
    "Wav2Vec2ForCTC",
    "Wav2Vec2ForSequenceClassification",
    "Wav2Vec2FeatureExtractor",
    "Wav2Vec2Processor",
]
