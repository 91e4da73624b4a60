"""Whisper (Radford et al., 2022, "Robust Speech Recognition via Large-Scale Weak Supervision"),
with Hugging Face's module tree and parameter names: a translator from sound to text.

    audio (16 kHz) ─► WhisperFeatureExtractor ─► log-mel input_features (b, n_mels, 2 * s)
      ─► conv1 (k=3) ─► GELU ─► conv2 (k=3, stride 2) ─► GELU ─► + sinusoids ─► [ encoder layer × n ] ─► layer_norm ─┐
    <|startoftranscript|> <|en|> <|transcribe|> <|notimestamps|> text ...                                         │
      ─► embed_tokens + learned positions ─► [ decoder layer × n ] ─► layer_norm ─► proj_out (= embed_tokens) ─► logits
             pre-norm causal self-attention ─► pre-norm cross-attention (k/v: the encoder's frames) ◄─────────────┘

What changed since BART (``bart.py``) and Marian (``marian.py``), and where to look:

* **The source is sound, not tokens.** ``main_input_name = "input_features"``: a log-mel
  spectrogram, ``num_mel_bins`` rows (80, or 128 for large-v3) of ``2 * max_source_positions``
  frames (3000 = 30 s at one frame per 10 ms; the feature extractor pads every clip to 30 s).
  Two 1-D convolutions turn it into vectors; the second has stride 2, so the encoder works on
  ``max_source_positions`` (1500) *frames* of 20 ms each: those are its positions (``s`` below).
* **Encoder positions are fixed sinusoids** (``hfexplain.layers.sinusoids``, tensor2tensor's
  formula, not Marian's), stored in the checkpoint as ``model.encoder.embed_positions.weight``
  (frozen) and added to every frame. The **decoder's positions are learned**
  (``max_target_positions`` = 448 rows, no offset).
* **Pre-norm layers**, as GPT-2: ``x = x + sublayer(LayerNorm(x))``, with a final ``layer_norm``
  after each stack (BART and Marian are post-norm). So the residual stream is a sum of its
  parts and the logit lens applies (``decompose_resid`` works).
* **Attention**: ``k_proj`` has no bias (a softmax cannot see a bias added to every key), and the
  query is multiplied by ``head_dim ** -0.5`` *before* the dot product, as OpenAI's code does (the
  ``q`` hook shows the scaled query). The cross-attention has **no mask**: every clip is padded
  to 30 s with silence and the model learned to ignore it; ``attention_mask`` is accepted and not
  used, as in transformers.
* **One embedding, read twice**: ``proj_out`` is tied to the decoder's ``embed_tokens``; there is
  no ``final_logits_bias``. ``scale_embedding`` is kept in the config but, as in transformers,
  never applied.
* **The decoder prompt says what to do**: ``<|startoftranscript|>`` (``decoder_start_token_id``),
  a language token (``<|fr|>``), a task (``<|transcribe|>`` or ``<|translate|>``) and
  ``<|notimestamps|>``. :meth:`WhisperForConditionalGeneration.generate` builds it from the
  generation config (``lang_to_id``, ``task_to_id``, ``is_multilingual``,
  ``no_timestamps_token_id``), detects the language when none is given, and suppresses tokens
  (``suppress_tokens`` always, ``begin_suppress_tokens`` as the first word).

Shapes: b=batch, n=mel bins, f=input frames (2 s), s=encoder positions (frames after the stride-2
conv), t=new decoder positions, p=past + new decoder positions, d=d_model, h=heads, e=d/h (head
dim), m=ffn dim, v=vocab_size.

Hook points, on the stacks ``"encoder"`` and ``"decoder"`` (``cache["pattern", 0, "encoder"]``):
``embed`` (the frames' vectors after both convolutions, or the token embeddings), ``pos_embed``, per layer
``resid_pre``, ``q`` / ``k`` / ``v``, ``scores``, ``pattern``, ``z``, ``attn_out``, ``resid_mid``,
in the decoder ``cross_q`` / ``cross_k`` / ``cross_v``, ``cross_scores``, ``cross_pattern``
(b, h, t, s: which 20 ms frames each token reads), ``cross_z``, ``cross_attn_out``,
``resid_mid_cross``, then ``mlp_pre``, ``mlp_post``, ``mlp_out``, ``resid_post``; ``final`` (after
each stack's ``layer_norm``) and ``logits``. Two more have no shared alias (no other family has
convolutions) and are reached by their path: ``model.encoder.hook_conv1`` (b, d, f) and
``model.encoder.hook_conv2`` (b, d, s), each convolution's output after its GELU.

Also here: :class:`WhisperFeatureExtractor` (NumPy: STFT, slaney mel filters, log10, the
clamp and scaling of OpenAI's ``log_mel_spectrogram``) and :class:`WhisperProcessor`.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..configuration import PretrainedConfig
from ..generation import GenerationConfig, GenerationMixin
from ..heads import check_model_inputs
from ..hooks import HookPoint
from ..layers import EncoderDecoderCache, attend, build_attention_mask, encoder_key_values, get_activation, sinusoids
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutput, Seq2SeqLMOutput, Seq2SeqModelOutput
from ..processing import BatchFeature, ProcessorMixin, SequenceFeatureExtractor
from ..tokenization.whisper import LANGUAGES, TASK_IDS, TO_LANGUAGE_CODE
from .bart import _check_labels, shift_tokens_right


class WhisperConfig(PretrainedConfig):
    """Whisper's hyper-parameters, with the names and defaults of transformers' ``WhisperConfig``
    (whisper-tiny's shapes)."""

    model_type = "whisper"
    attribute_map = {"num_key_value_heads": "encoder_attention_heads", "num_attention_heads": "encoder_attention_heads",
                     "hidden_size": "d_model", "num_hidden_layers": "encoder_layers"}

    def __init__(
        self,
        vocab_size: int = 51865,
        num_mel_bins: int = 80,
        encoder_layers: int = 4,
        encoder_attention_heads: int = 6,
        decoder_layers: int = 4,
        decoder_attention_heads: int = 6,
        decoder_ffn_dim: int = 1536,
        encoder_ffn_dim: int = 1536,
        encoder_layerdrop: float = 0.0,
        decoder_layerdrop: float = 0.0,
        decoder_start_token_id: int = 50257,
        use_cache: bool = True,
        is_encoder_decoder: bool = True,
        activation_function: str = "gelu",
        d_model: int = 384,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        activation_dropout: float = 0.0,
        init_std: float = 0.02,
        scale_embedding: bool = False,
        max_source_positions: int = 1500,
        max_target_positions: int = 448,
        pad_token_id: int | None = 50256,
        bos_token_id: int | None = 50256,
        eos_token_id: int | None = 50256,
        suppress_tokens: list[int] | None = None,
        begin_suppress_tokens: list[int] | None = (220, 50256),
        tie_word_embeddings: bool = True,
        **kwargs,
    ):
        for stack, heads in (("encoder", encoder_attention_heads), ("decoder", decoder_attention_heads)):
            if d_model % heads:
                raise ValueError(
                    f"d_model ({d_model}) must be divisible by {stack}_attention_heads ({heads}): each head gets "
                    f"d_model / heads dimensions. Pick e.g. {stack}_attention_heads={math.gcd(d_model, heads)}."
                )
        if d_model % 2 or d_model < 4:
            raise ValueError(f"d_model must be even and >= 4 (the encoder's sinusoids are half sines, half cosines), "
                             f"got {d_model}.")
        for name, value in (("max_source_positions", max_source_positions),
                            ("max_target_positions", max_target_positions), ("num_mel_bins", num_mel_bins)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        self.vocab_size = vocab_size
        self.num_mel_bins = num_mel_bins
        self.d_model = d_model
        self.encoder_layers = encoder_layers
        self.encoder_attention_heads = encoder_attention_heads
        self.decoder_layers = decoder_layers
        self.decoder_attention_heads = decoder_attention_heads
        self.decoder_ffn_dim = decoder_ffn_dim
        self.encoder_ffn_dim = encoder_ffn_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation_dropout = activation_dropout
        self.activation_function = activation_function
        self.init_std = init_std
        self.encoder_layerdrop = encoder_layerdrop
        self.decoder_layerdrop = decoder_layerdrop
        self.use_cache = use_cache
        self.scale_embedding = scale_embedding
        self.max_source_positions = max_source_positions
        self.max_target_positions = max_target_positions
        self.is_encoder_decoder = is_encoder_decoder
        self.decoder_start_token_id = decoder_start_token_id
        self.suppress_tokens = list(suppress_tokens) if suppress_tokens is not None else None
        self.begin_suppress_tokens = list(begin_suppress_tokens) if begin_suppress_tokens is not None else None
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id,
                         tie_word_embeddings=tie_word_embeddings, **kwargs)


class WhisperPositionalEmbedding(nn.Embedding):
    """The decoder's learned positions: position i reads row i (``max_target_positions`` rows)."""

    def forward(self, past: int, seq: int, position_ids: torch.Tensor | None = None) -> torch.Tensor:
        if position_ids is None:
            return self.weight[past : past + seq][None]  # (1, t, d)
        return self.weight[position_ids]  # (b, t, d)


class WhisperAttention(nn.Module):
    """Multi-head attention: self-attention (causal in the decoder) or, with ``cross=True``,
    cross-attention to the encoder's frames. ``k_proj`` has no bias; the query is pre-scaled."""

    def __init__(self, config: WhisperConfig, num_heads: int, layer_idx: int, stack: str, cross: bool = False):
        super().__init__()
        self.layer_idx = layer_idx
        self.cross = cross
        self.num_heads = num_heads
        self.head_dim = config.d_model // num_heads
        self.scaling = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.k_proj = nn.Linear(config.d_model, config.d_model, bias=False)
        self.v_proj = nn.Linear(config.d_model, config.d_model)
        self.q_proj = nn.Linear(config.d_model, config.d_model)
        self.out_proj = nn.Linear(config.d_model, config.d_model)
        prefix = "cross_" if cross else ""
        self.hook_q = HookPoint(prefix + "q", layer_idx, stack)  # (b, h, t, e), already times head_dim ** -0.5
        self.hook_k = HookPoint(prefix + "k", layer_idx, stack)  # (b, h, s|t, e)
        self.hook_v = HookPoint(prefix + "v", layer_idx, stack)  # (b, h, s|t, e)
        self.hook_scores = HookPoint(prefix + "scores", layer_idx, stack)  # (b, h, t, s|p)
        self.hook_pattern = HookPoint(prefix + "pattern", layer_idx, stack)  # (b, h, t, s|p)
        self.hook_z = HookPoint(prefix + "z", layer_idx, stack)  # (b, h, t, e)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)  # (b, h, seq, e)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None, encoder_states: torch.Tensor | None = None,
                cache: EncoderDecoderCache | None = None, output_attentions: bool = False):
        batch, seq, d = hidden.shape  # (b, t, d)
        # OpenAI scales the query, not the scores: the same number, rounded as Whisper was trained.
        query = self.hook_q(self._split_heads(self.q_proj(hidden) * self.scaling))  # (b, h, t, e)
        if self.cross:
            key, value = encoder_key_values(encoder_states, self.k_proj, self.v_proj, self.num_heads, self.head_dim,
                                            cache=cache, layer_idx=self.layer_idx, hook_k=self.hook_k,
                                            hook_v=self.hook_v)  # (b, h, s, e)
        else:
            key = self.hook_k(self._split_heads(self.k_proj(hidden)))  # (b, h, t, e)
            value = self.hook_v(self._split_heads(self.v_proj(hidden)))
            if cache is not None:
                key, value = cache.update(key, value, self.layer_idx)  # (b, h, p, e)
        z, pattern = attend(query, key, value, mask, scale=1.0, dropout=self.dropout if self.training else 0.0,
                            hook_scores=self.hook_scores, hook_pattern=self.hook_pattern,
                            need_weights=output_attentions)
        z = self.hook_z(z)  # (b, h, t, e)
        return self.out_proj(z.transpose(1, 2).reshape(batch, seq, d)), pattern  # (b, t, d)


class WhisperEncoderLayer(nn.Module):
    """Pre-norm: x = x + attn(LN(x)); x = x + fc2(act(fc1(LN(x))))."""

    def __init__(self, config: WhisperConfig, layer_idx: int):
        super().__init__()
        self.dropout = config.dropout
        self.activation_dropout = config.activation_dropout
        self.self_attn = WhisperAttention(config, config.encoder_attention_heads, layer_idx, "encoder")
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.activation_fn = get_activation(config.activation_function)
        self.fc1 = nn.Linear(config.d_model, config.encoder_ffn_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.hook_resid_pre = HookPoint("resid_pre", layer_idx, "encoder")  # (b, s, d)
        self.hook_attn_out = HookPoint("attn_out", layer_idx, "encoder")  # (b, s, d)
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx, "encoder")  # (b, s, d)
        self.hook_mlp_pre = HookPoint("mlp_pre", layer_idx, "encoder")  # (b, s, m)
        self.hook_mlp_post = HookPoint("mlp_post", layer_idx, "encoder")  # (b, s, m)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx, "encoder")  # (b, s, d)
        self.hook_resid_post = HookPoint("resid_post", layer_idx, "encoder")  # (b, s, d)

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.dropout(x, p=self.dropout, training=self.training)

    def forward(self, hidden: torch.Tensor, output_attentions: bool = False):
        hidden = self.hook_resid_pre(hidden)  # (b, s, d)
        attn_out, pattern = self.self_attn(self.self_attn_layer_norm(hidden), None,
                                           output_attentions=output_attentions)
        hidden = self.hook_resid_mid(hidden + self.hook_attn_out(self._drop(attn_out)))
        inner = self.fc1(self.final_layer_norm(hidden))
        inner = self.hook_mlp_post(self.activation_fn(self.hook_mlp_pre(inner)))  # (b, s, m)
        inner = nn.functional.dropout(inner, p=self.activation_dropout, training=self.training)
        hidden = hidden + self.hook_mlp_out(self._drop(self.fc2(inner)))
        return self.hook_resid_post(hidden), pattern


class WhisperDecoderLayer(nn.Module):
    """Pre-norm, three sublayers: causal self-attention, cross-attention to the frames, MLP."""

    def __init__(self, config: WhisperConfig, layer_idx: int):
        super().__init__()
        self.dropout = config.dropout
        self.activation_dropout = config.activation_dropout
        self.self_attn = WhisperAttention(config, config.decoder_attention_heads, layer_idx, "decoder")
        self.activation_fn = get_activation(config.activation_function)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.encoder_attn = WhisperAttention(config, config.decoder_attention_heads, layer_idx, "decoder", cross=True)
        self.encoder_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.fc1 = nn.Linear(config.d_model, config.decoder_ffn_dim)
        self.fc2 = nn.Linear(config.decoder_ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.hook_resid_pre = HookPoint("resid_pre", layer_idx, "decoder")  # (b, t, d)
        self.hook_attn_out = HookPoint("attn_out", layer_idx, "decoder")  # (b, t, d)
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx, "decoder")  # (b, t, d)
        self.hook_cross_attn_out = HookPoint("cross_attn_out", layer_idx, "decoder")  # (b, t, d)
        self.hook_resid_mid_cross = HookPoint("resid_mid_cross", layer_idx, "decoder")  # (b, t, d)
        self.hook_mlp_pre = HookPoint("mlp_pre", layer_idx, "decoder")  # (b, t, m)
        self.hook_mlp_post = HookPoint("mlp_post", layer_idx, "decoder")  # (b, t, m)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx, "decoder")  # (b, t, d)
        self.hook_resid_post = HookPoint("resid_post", layer_idx, "decoder")  # (b, t, d)

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.dropout(x, p=self.dropout, training=self.training)

    def forward(self, hidden: torch.Tensor, self_mask: torch.Tensor | None, encoder_states: torch.Tensor,
                cache: EncoderDecoderCache | None = None, output_attentions: bool = False):
        hidden = self.hook_resid_pre(hidden)  # (b, t, d)
        attn_out, self_pattern = self.self_attn(self.self_attn_layer_norm(hidden), self_mask, cache=cache,
                                                output_attentions=output_attentions)
        hidden = self.hook_resid_mid(hidden + self.hook_attn_out(self._drop(attn_out)))
        cross_out, cross_pattern = self.encoder_attn(self.encoder_attn_layer_norm(hidden), None, encoder_states,
                                                     cache=cache, output_attentions=output_attentions)
        hidden = self.hook_resid_mid_cross(hidden + self.hook_cross_attn_out(self._drop(cross_out)))  # (b, t, d)
        inner = self.fc1(self.final_layer_norm(hidden))
        inner = self.hook_mlp_post(self.activation_fn(self.hook_mlp_pre(inner)))  # (b, t, m)
        inner = nn.functional.dropout(inner, p=self.activation_dropout, training=self.training)
        hidden = hidden + self.hook_mlp_out(self._drop(self.fc2(inner)))
        return self.hook_resid_post(hidden), self_pattern, cross_pattern


def _check_input_features(input_features, config: WhisperConfig) -> None:
    """(b, num_mel_bins, 2 * max_source_positions) floats, or a clear error saying what to do."""
    frames = 2 * config.max_source_positions
    if not isinstance(input_features, torch.Tensor) or not input_features.is_floating_point():
        what = input_features.dtype if isinstance(input_features, torch.Tensor) else type(input_features).__name__
        raise TypeError(
            f"input_features must be a float tensor of log-mel frames (batch, {config.num_mel_bins}, {frames}), got "
            f"{what}; make it with WhisperFeatureExtractor(audio, sampling_rate=16000, return_tensors='pt')."
        )
    if input_features.dim() != 3 or input_features.shape[1] != config.num_mel_bins:
        raise ValueError(
            f"input_features must have shape (batch, num_mel_bins={config.num_mel_bins}, frames), got "
            f"{tuple(input_features.shape)}; a feature extractor with feature_size={config.num_mel_bins} makes it."
        )
    if input_features.shape[-1] != frames:
        raise ValueError(
            f"Whisper expects the mel input features to be of length {frames} (2 * max_source_positions), but found "
            f"{input_features.shape[-1]}. Make sure to pad the input mel features to {frames}: the feature extractor "
            "pads every clip to chunk_length seconds (padding='max_length', its default)."
        )


class WhisperEncoder(nn.Module):
    """The audio encoder (``model.get_encoder()``): two convolutions, sinusoids, pre-norm layers."""

    def __init__(self, config: WhisperConfig):
        super().__init__()
        self.config = config
        self.dropout = config.dropout
        self.conv1 = nn.Conv1d(config.num_mel_bins, config.d_model, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(config.d_model, config.d_model, kernel_size=3, stride=2, padding=1)
        self.embed_positions = nn.Embedding(config.max_source_positions, config.d_model)
        self.embed_positions.requires_grad_(False)  # fixed sinusoids, stored in the checkpoint
        self.layers = nn.ModuleList([WhisperEncoderLayer(config, i) for i in range(config.encoder_layers)])
        self.layer_norm = nn.LayerNorm(config.d_model)
        self.hook_conv1 = HookPoint(stack="encoder")  # (b, d, f): no shared alias, reach it by its path
        self.hook_conv2 = HookPoint(stack="encoder")  # (b, d, s)
        self.hook_embed = HookPoint("embed", stack="encoder")  # (b, s, d)
        self.hook_pos_embed = HookPoint("pos_embed", stack="encoder")  # (1, s, d)
        self.hook_final = HookPoint("final", stack="encoder")  # (b, s, d)

    def forward(self, input_features=None, attention_mask=None, output_attentions=False, output_hidden_states=False,
                return_dict=None) -> BaseModelOutput:
        _check_input_features(input_features, self.config)
        frames = self.hook_conv1(nn.functional.gelu(self.conv1(input_features)))  # (b, d, f)
        frames = self.hook_conv2(nn.functional.gelu(self.conv2(frames)))  # (b, d, s)
        embedded = self.hook_embed(frames.permute(0, 2, 1))  # (b, s, d)
        hidden = embedded + self.hook_pos_embed(self.embed_positions.weight[None])  # (b, s, d)
        hidden = nn.functional.dropout(hidden, p=self.dropout, training=self.training)
        all_hidden, all_attn = (), ()
        for layer in self.layers:
            all_hidden += (hidden,)
            hidden, pattern = layer(hidden, output_attentions)
            all_attn += (pattern,)
        hidden = self.hook_final(self.layer_norm(hidden))
        all_hidden += (hidden,)  # as transformers: the last entry is after the final layer_norm
        return BaseModelOutput(last_hidden_state=hidden, hidden_states=all_hidden if output_hidden_states else None,
                               attentions=all_attn if output_attentions else None)


class WhisperDecoder(nn.Module):
    """The text decoder: learned positions, causal self-attention, cross-attention to the frames."""

    def __init__(self, config: WhisperConfig):
        super().__init__()
        self.config = config
        self.dropout = config.dropout
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        self.embed_positions = WhisperPositionalEmbedding(config.max_target_positions, config.d_model)
        self.layers = nn.ModuleList([WhisperDecoderLayer(config, i) for i in range(config.decoder_layers)])
        self.layer_norm = nn.LayerNorm(config.d_model)
        self.hook_embed = HookPoint("embed", stack="decoder")  # (b, t, d)
        self.hook_pos_embed = HookPoint("pos_embed", stack="decoder")  # (1|b, t, d)
        self.hook_final = HookPoint("final", stack="decoder")  # (b, t, d)

    def forward(self, input_ids=None, attention_mask=None, encoder_hidden_states=None, past_key_values=None,
                inputs_embeds=None, position_ids=None, use_cache=None, output_attentions=False,
                output_hidden_states=False):
        config = self.config
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        batch, new = check_model_inputs(input_ids, inputs_embeds, vocab_size=config.vocab_size,
                                        hidden_size=config.d_model, position_ids=position_ids, past_length=past,
                                        max_positions=None if position_ids is not None else config.max_target_positions,
                                        positions_field="max_target_positions", family="Whisper's decoder")
        embedded = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds  # (b, t, d)
        hidden = self.hook_embed(embedded) + self.hook_pos_embed(self.embed_positions(past, new, position_ids))
        hidden = nn.functional.dropout(hidden, p=self.dropout, training=self.training)  # (b, t, d)
        self_mask = build_attention_mask(attention_mask, new, past + new, causal=True, dtype=hidden.dtype,
                                         device=hidden.device)  # (b|1, 1, t, p)
        all_hidden, self_attn, cross_attn = (), (), ()
        for layer in self.layers:
            all_hidden += (hidden,)
            hidden, self_pattern, cross_pattern = layer(hidden, self_mask, encoder_hidden_states, past_key_values,
                                                        output_attentions)
            self_attn += (self_pattern,)
            cross_attn += (cross_pattern,)
        hidden = self.hook_final(self.layer_norm(hidden))
        all_hidden += (hidden,)
        return (hidden, all_hidden if output_hidden_states else None, self_attn if output_attentions else None,
                cross_attn if output_attentions else None)


class WhisperPreTrainedModel(PreTrainedModel):
    config_class = WhisperConfig
    base_model_prefix = "model"
    main_input_name = "input_features"

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.init_std
        if isinstance(module, WhisperEncoder):
            with torch.no_grad():
                module.embed_positions.weight.copy_(sinusoids(*module.embed_positions.weight.shape))
        elif isinstance(module, (nn.Linear, nn.Conv1d)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):  # the sinusoid table too: its encoder, visited after it, rewrites it
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def _get_feat_extract_output_lengths(self, input_lengths: torch.Tensor) -> torch.Tensor:
        """Input frames -> encoder positions (the stride-2 convolution halves them, rounding up)."""
        return (input_lengths - 1) // 2 + 1


class WhisperModel(WhisperPreTrainedModel):
    """The two stacks without a head; returns the decoder's last hidden state (b, t, d)."""

    def __init__(self, config: WhisperConfig):
        super().__init__(config)
        self.encoder = WhisperEncoder(config)
        self.decoder = WhisperDecoder(config)
        self.post_init()

    def get_input_embeddings(self):
        return self.decoder.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.decoder.embed_tokens = value

    def get_encoder(self):
        return self.encoder

    def forward(self, input_features=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                encoder_outputs=None, past_key_values=None, decoder_inputs_embeds=None, decoder_position_ids=None,
                use_cache=None, output_attentions=False, output_hidden_states=False, return_dict=None):
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            raise ValueError(
                "pass decoder_input_ids: the transcript so far, starting with decoder_start_token_id "
                f"({self.config.decoder_start_token_id}, <|startoftranscript|>); or labels to "
                "WhisperForConditionalGeneration."
            )
        if encoder_outputs is None:
            if input_features is None:
                raise ValueError("pass input_features (the log-mel frames from WhisperFeatureExtractor) or "
                                 "encoder_outputs (the encoder's output, computed once).")
            encoder_outputs = self.encoder(input_features, attention_mask, output_attentions, output_hidden_states)
        elif not isinstance(encoder_outputs, BaseModelOutput):  # a tuple (last_hidden_state, ...)
            encoder_outputs = BaseModelOutput(*encoder_outputs)
        if use_cache is None:
            use_cache = self.config.use_cache and not self.training
        if use_cache and past_key_values is None:
            past_key_values = EncoderDecoderCache()
        if not use_cache:
            past_key_values = None
        hidden, all_hidden, self_attn, cross_attn = self.decoder(
            decoder_input_ids, decoder_attention_mask, encoder_outputs.last_hidden_state, past_key_values,
            decoder_inputs_embeds, decoder_position_ids, use_cache, output_attentions, output_hidden_states)
        return Seq2SeqModelOutput(
            last_hidden_state=hidden, past_key_values=past_key_values, decoder_hidden_states=all_hidden,
            decoder_attentions=self_attn, cross_attentions=cross_attn,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states, encoder_attentions=encoder_outputs.attentions,
        )


class WhisperForConditionalGeneration(GenerationMixin, WhisperPreTrainedModel):
    """Whisper with its language-modelling head (``proj_out``, tied to the decoder's embeddings):
    speech recognition and speech translation."""

    _tied_weights_keys = {"proj_out.weight": "model.decoder.embed_tokens.weight"}

    def __init__(self, config: WhisperConfig):
        super().__init__(config)
        self.model = WhisperModel(config)
        self.proj_out = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.hook_logits = HookPoint("logits", stack="decoder")  # (b, t, v): read from the decoder
        self.post_init()

    def get_input_embeddings(self):
        return self.model.decoder.embed_tokens

    def get_output_embeddings(self):
        return self.proj_out

    def get_encoder(self):
        return self.model.encoder

    def generation_position_limit(self) -> int:
        """The decoder's learned position table caps prompt + transcript."""
        return self.config.max_target_positions

    def forward(self, input_features=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                encoder_outputs=None, past_key_values=None, decoder_inputs_embeds=None, decoder_position_ids=None,
                labels=None, use_cache=None, output_attentions=False, output_hidden_states=False,
                return_dict=None) -> Seq2SeqLMOutput:
        if labels is not None:
            _check_labels(labels, decoder_input_ids)
            if labels.shape[1] > self.config.max_target_positions:
                raise ValueError(
                    f"Labels' sequence length {labels.shape[1]} cannot exceed the maximum allowed length of "
                    f"{self.config.max_target_positions} tokens (max_target_positions); truncate the transcripts."
                )
            use_cache = False
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id,
                                                       self.config.decoder_start_token_id)  # (b, t)
        outputs = self.model(input_features, attention_mask, decoder_input_ids, decoder_attention_mask,
                             encoder_outputs, past_key_values, decoder_inputs_embeds, decoder_position_ids, use_cache,
                             output_attentions, output_hidden_states)
        logits = self.hook_logits(self.proj_out(outputs.last_hidden_state))  # (b, t, v)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).to(logits.device))
        return Seq2SeqLMOutput(
            loss=loss, logits=logits, past_key_values=outputs.past_key_values,
            decoder_hidden_states=outputs.decoder_hidden_states, decoder_attentions=outputs.decoder_attentions,
            cross_attentions=outputs.cross_attentions, encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states, encoder_attentions=outputs.encoder_attentions,
        )

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    # -- generation: the forced prompt, then the shared loop --------------------------------------

    @torch.no_grad()
    def generate(self, input_features: torch.Tensor | None = None, *, generation_config: GenerationConfig | None = None,
                 logits_processor: list | None = None, language: str | list[str] | None = None,
                 task: str | None = None, is_multilingual: bool | None = None, return_timestamps: bool | None = None,
                 temperature: float | None = None, attention_mask: torch.Tensor | None = None,
                 **kwargs: Any) -> torch.Tensor:
        """Transcribe (or translate) 30-second clips: short-form Whisper generation, token for
        token what transformers' ``WhisperForConditionalGeneration.generate`` returns.

        1. The encoder reads ``input_features`` (b, n_mels, 2 * max_source_positions) once.
        2. The decoder prompt (:meth:`decoder_prompt_ids`): ``decoder_start_token_id``, the language
           (``language="fr"`` / ``"french"`` / ``"<|fr|>"``, one or one per row; detected from the
           audio when the model is multilingual and none is given), the task (``task="transcribe"``
           or ``"translate"``) and ``<|notimestamps|>``.
        3. The shared loop (greedy, or beam search with ``num_beams``; sampling with
           ``temperature > 0``), suppressing ``suppress_tokens`` everywhere and
           ``begin_suppress_tokens`` as the first token after the prompt. Without
           ``max_new_tokens``, ``max_length`` counts the new tokens (prompt excluded), capped by
           ``max_target_positions``.
        4. The result holds only the transcript: the prompt, the end-of-text token and padding are
           removed, then rows are right-padded with ``pad_token_id`` to the longest (as transformers).

        Not implemented (errors say so): timestamps (``return_timestamps=True``), long-form audio
        (more than 30 s of frames), ``prompt_ids``, temperature fallback, ``num_return_sequences > 1``.
        """
        for name in ("prompt_ids", "condition_on_prev_tokens", "compression_ratio_threshold", "logprob_threshold",
                     "no_speech_threshold", "return_token_timestamps", "return_segments"):
            if kwargs.get(name) not in (None, False):
                raise NotImplementedError(
                    f"hfexplain's Whisper generate does short-form transcription only; {name}= is not implemented. "
                    "Use transformers' WhisperForConditionalGeneration.generate for it."
                )
            kwargs.pop(name, None)
        if "do_sample" in kwargs:
            raise ValueError("Whisper chooses sampling by temperature: pass temperature=0.7 to sample (0 or None "
                             "is greedy / beam search), not do_sample=.")
        if isinstance(temperature, (list, tuple)):
            raise NotImplementedError("temperature fallback (a list of temperatures) is not implemented; pass one "
                                      "temperature.")
        encoder_outputs = kwargs.pop("encoder_outputs", None)
        if encoder_outputs is None:
            if input_features is None:
                raise ValueError("generate() needs input_features: the log-mel frames of the audio, e.g. "
                                 "processor(audio, sampling_rate=16000, return_tensors='pt').input_features.")
            frames = 2 * self.config.max_source_positions
            if isinstance(input_features, torch.Tensor) and input_features.dim() == 3 and \
                    input_features.shape[-1] > frames:
                raise NotImplementedError(
                    f"input_features has {input_features.shape[-1]} frames, more than one {frames}-frame window: "
                    "long-form transcription (sliding windows with timestamps) is not implemented here. Cut the audio "
                    "into clips of at most 30 s (the feature extractor's chunk_length)."
                )
            encoder_outputs = self.get_encoder()(input_features.to(next(self.parameters()).device))
        elif input_features is not None:
            raise ValueError("pass input_features or encoder_outputs, not both.")
        batch = encoder_outputs.last_hidden_state.shape[0]

        config = copy_generation_config(generation_config or self.generation_config)
        if return_timestamps is None:
            return_timestamps = getattr(config, "return_timestamps", None)
        if return_timestamps:
            raise NotImplementedError("return_timestamps=True (timestamp tokens and their logits processor) is not "
                                      "implemented; transcribe without timestamps.")
        if kwargs.get("num_return_sequences", getattr(config, "num_return_sequences", None) or 1) > 1:
            raise NotImplementedError("num_return_sequences > 1 is not implemented for Whisper.")
        _set_language_and_task(config, language, task, is_multilingual)
        prompt = self.decoder_prompt_ids(config, batch, encoder_outputs=encoder_outputs)  # (b, t0)

        sampling = temperature is not None and temperature > 0.0
        kwargs.update(do_sample=sampling, temperature=temperature if sampling else 1.0)
        if sampling:
            kwargs["num_beams"] = 1
        max_new_tokens = kwargs.get("max_new_tokens", config.max_new_tokens)
        limit = self.config.max_target_positions
        if max_new_tokens is not None and max_new_tokens + prompt.shape[1] > limit:
            raise ValueError(
                f"the decoder prompt ({prompt.shape[1]} tokens) plus max_new_tokens ({max_new_tokens}) is "
                f"{max_new_tokens + prompt.shape[1]}, more than max_target_positions ({limit}); lower max_new_tokens "
                f"to at most {limit - prompt.shape[1]}."
            )
        if max_new_tokens is None:  # max_length counts new tokens here: the prompt is added, up to the table's end
            max_length = kwargs.get("max_length", config.max_length)
            max_length = 20 if max_length is None else max_length
            kwargs["max_length"] = min(max_length + min(limit // 2 - 1, prompt.shape[1]), limit)
        sequences = super().generate(
            None, attention_mask=None, generation_config=config, logits_processor=logits_processor,
            encoder_outputs=encoder_outputs, decoder_input_ids=prompt, **kwargs,
        )
        return self._strip_prompt_and_end(sequences, prompt.shape[1], config)

    def _strip_prompt_and_end(self, sequences: torch.Tensor, prompt_length: int, config) -> torch.Tensor:
        """(b, t0 + n) -> (b, n'): drop the prompt, then each row's padding and end-of-text token,
        then right-pad with ``pad_token_id`` to the longest row (transformers' short-form output).

        As transformers does: a row that ends in padding loses as many tokens as it holds pad
        tokens (keeping one when pad and end-of-text are the same id), then a final end-of-text."""
        pad = config.pad_token_id if config.pad_token_id is not None else self.config.pad_token_id
        eos = config.eos_token_id if config.eos_token_id is not None else self.config.eos_token_id
        eos = eos[0] if isinstance(eos, (list, tuple)) else eos
        rows = []
        for row in sequences[:, prompt_length:]:  # (n,)
            if len(row) and row[-1] == pad:
                n_pads = int((row == pad).sum()) - (1 if pad == eos else 0)
                if n_pads:
                    row = row[:-n_pads]
            if len(row) and row[-1] == eos:
                row = row[:-1]
            rows.append(row)
        longest = max(len(row) for row in rows)
        padded = [nn.functional.pad(row, (0, longest - len(row)), value=pad) for row in rows]
        return torch.stack(padded)  # (b, n')

    def decoder_prompt_ids(self, generation_config, batch_size: int, *, encoder_outputs=None,
                           input_features=None) -> torch.Tensor:
        """The forced decoder prompt (b, t0), as transformers' Whisper builds it from the generation
        config: ``[decoder_start_token_id, language, task, <|notimestamps|>]``.

        * ``language`` (``generation_config.language``) and ``task`` set: their ids
          (``lang_to_id``, ``task_to_id``); a language without a task means ``transcribe``.
        * neither set: the legacy ``forced_decoder_ids`` (``[[1, lang or None], [2, task], ...]``)
          of released checkpoints, if any, supply them.
        * no language id either way, and the model is multilingual (``lang_to_id``): the language
          is detected per row (:meth:`detect_language`).
        * ``<|notimestamps|>`` ends the prompt when the config has ``no_timestamps_token_id``.
        """
        config = generation_config
        language, task = getattr(config, "language", None), getattr(config, "task", None)
        tokens: list[int | None] = [self._decoder_start_token_id(config)]
        if task is None and language is None:
            forced = getattr(config, "forced_decoder_ids", None) or getattr(self.config, "forced_decoder_ids", None)
            if forced:
                forced = [list(pair) for pair in forced]
                rank = 1
                while forced and forced[0][0] == rank:
                    tokens.append(forced.pop(0)[1])
                    rank += 1
                if forced:
                    raise ValueError(
                        f"forced_decoder_ids {forced} do not follow Whisper's prompt pattern: every rank from 1 up "
                        "must be given in order. Prefer generate(language=..., task=...)."
                    )
        language_undefined = len(tokens) <= 1 or tokens[1] is None
        if isinstance(language, (list, tuple)):
            if len(language) != batch_size or any(lang is None for lang in language):
                raise ValueError(f"language= as a list needs one language (a string) per row: {batch_size}, got "
                                 f"{list(language)}.")
            languages = list(language)
        else:
            languages = [language] * batch_size
        prompts = [list(tokens) for _ in range(batch_size)]
        lang_ids = None
        if language is not None:
            lang_ids = [_language_id(lang, config) for lang in languages]
        elif getattr(config, "lang_to_id", None) and language_undefined:
            lang_ids = self.detect_language(encoder_outputs=encoder_outputs, input_features=input_features,
                                            generation_config=config).tolist()
        for i, prompt in enumerate(prompts):
            if lang_ids is not None:
                if len(prompt) > 1:
                    prompt[1] = lang_ids[i]
                else:
                    prompt.append(lang_ids[i])
            task_ids = getattr(config, "task_to_id", None) or {}
            if task is not None:
                prompt.append(task_ids[task])
            elif language is not None and task_ids and not any(t in prompt for t in task_ids.values()):
                prompt.append(task_ids["transcribe"])
            no_timestamps = getattr(config, "no_timestamps_token_id", None)
            if no_timestamps is not None and prompt[-1] != no_timestamps:
                prompt.append(no_timestamps)
            prompts[i] = [t for t in prompt if t is not None]
        if len({len(p) for p in prompts}) != 1:
            raise ValueError(f"the decoder prompts of the rows differ in length: {prompts}.")
        return torch.tensor(prompts, dtype=torch.long, device=next(self.parameters()).device)  # (b, t0)

    @torch.no_grad()
    def detect_language(self, input_features: torch.Tensor | None = None, encoder_outputs=None,
                        generation_config=None) -> torch.Tensor:
        """(b,) language token ids: after ``<|startoftranscript|>`` alone, the most likely of the
        ``lang_to_id`` tokens (every other token is ruled out)."""
        config = generation_config or self.generation_config
        lang_to_id = getattr(config, "lang_to_id", None)
        if not lang_to_id:
            raise ValueError("this generation config has no lang_to_id, so the model has no language tokens to "
                             "choose from (an English-only checkpoint?); pass language= only to multilingual models.")
        if (input_features is None) == (encoder_outputs is None):
            raise ValueError("detect_language needs exactly one of input_features or encoder_outputs.")
        if encoder_outputs is None:
            encoder_outputs = self.get_encoder()(input_features)
        batch = encoder_outputs.last_hidden_state.shape[0]
        start = torch.full((batch, 1), self._decoder_start_token_id(config), dtype=torch.long,
                           device=encoder_outputs.last_hidden_state.device)  # (b, 1)
        logits = self(encoder_outputs=encoder_outputs, decoder_input_ids=start, use_cache=False).logits[:, -1]  # (b, v)
        allowed = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)  # (v,)
        allowed[list(lang_to_id.values())] = True
        return logits.masked_fill(~allowed, -math.inf).argmax(-1)  # (b,)


def copy_generation_config(config: GenerationConfig) -> GenerationConfig:
    """A copy that generate may change (language, task) without touching the model's own."""
    return GenerationConfig.from_dict(config.to_dict())


def _set_language_and_task(config, language, task, is_multilingual) -> None:
    """Check ``language=`` / ``task=`` against what the checkpoint's generation config knows, then set them."""
    if is_multilingual is not None:
        config.is_multilingual = is_multilingual
    if getattr(config, "is_multilingual", None) is False and (task is not None or language is not None):
        raise ValueError(
            "Cannot specify `task` or `language` for an English-only model. If the model is intended to be "
            "multilingual, pass `is_multilingual=True` to generate, or update the generation config."
        )
    if language is not None:
        if not getattr(config, "lang_to_id", None):
            raise ValueError("language= needs the generation config's lang_to_id (language token -> id), which this "
                             "checkpoint's generation_config.json does not have; set generation_config.lang_to_id.")
        config.language = language
    if task is not None:
        if task not in TASK_IDS:
            raise ValueError(f"The `{task}` task is not supported. The task should be one of `{TASK_IDS}`")
        if not getattr(config, "task_to_id", None):
            raise ValueError("task= needs the generation config's task_to_id ({'transcribe': id, 'translate': id}); "
                             "set generation_config.task_to_id.")
        config.task = task


def _language_id(language: str, config) -> int:
    """"french", "fr" or "<|fr|>" -> the id of ``<|fr|>`` in ``config.lang_to_id``."""
    lowered = language.lower()
    if lowered in config.lang_to_id:
        token = lowered
    elif lowered in TO_LANGUAGE_CODE:
        token = f"<|{TO_LANGUAGE_CODE[lowered]}|>"
    elif lowered in LANGUAGES:
        token = f"<|{lowered}|>"
    else:
        is_code = len(lowered) == 2
        raise ValueError(f"Unsupported language: {language}. Language should be one of: "
                         f"{list(LANGUAGES) if is_code else list(TO_LANGUAGE_CODE)}.")
    if token not in config.lang_to_id:
        raise ValueError(f"{token} is not supported by this specific model as it is not in the "
                         "`generation_config.lang_to_id`. (You should just add it to the generation config)")
    return config.lang_to_id[token]


# =====================================================================================
# From sound to log-mel frames, and the processor
# =====================================================================================


def hertz_to_mel_slaney(freq: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default): linear below 1 kHz (3 mels per 200 Hz), logarithmic above."""
    freq = np.asarray(freq, dtype=np.float64)
    linear = 3.0 * freq / 200.0
    logarithmic = 15.0 + np.log(np.maximum(freq, 1e-10) / 1000.0) * (27.0 / np.log(6.4))
    return np.where(freq >= 1000.0, logarithmic, linear)


def mel_to_hertz_slaney(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    linear = 200.0 * mels / 3.0
    logarithmic = 1000.0 * np.exp(np.log(6.4) / 27.0 * (mels - 15.0))
    return np.where(mels >= 15.0, logarithmic, linear)


def mel_filter_bank(num_frequency_bins: int, num_mel_filters: int, sampling_rate: int, min_frequency: float = 0.0,
                    max_frequency: float = 8000.0) -> np.ndarray:
    """(num_frequency_bins, num_mel_filters) triangular filters, evenly spaced in (Slaney) mels between
    ``min_frequency`` and ``max_frequency``, each scaled to unit area ("slaney" norm), as librosa and
    transformers build Whisper's."""
    mel_edges = np.linspace(hertz_to_mel_slaney(min_frequency), hertz_to_mel_slaney(max_frequency),
                            num_mel_filters + 2)  # (m + 2,) the filters' left, centre and right edges
    hertz_edges = mel_to_hertz_slaney(mel_edges)
    fft_freqs = np.linspace(0, sampling_rate // 2, num_frequency_bins)  # (f,)
    slopes = hertz_edges[None, :] - fft_freqs[:, None]  # (f, m + 2)
    widths = np.diff(hertz_edges)  # (m + 1,)
    rising = -slopes[:, :-2] / widths[:-1]  # (f, m): up from the left edge
    falling = slopes[:, 2:] / widths[1:]  # (f, m): down to the right edge
    filters = np.maximum(0.0, np.minimum(rising, falling))  # (f, m)
    return filters * (2.0 / (hertz_edges[2:] - hertz_edges[:-2]))[None, :]  # (f, m)


def log_mel_spectrogram(waveform: np.ndarray, mel_filters: np.ndarray, n_fft: int = 400,
                        hop_length: int = 160) -> np.ndarray:
    """(samples,) -> (n_mels, samples // hop_length): OpenAI Whisper's ``log_mel_spectrogram``.

    1. STFT: reflect-pad ``n_fft // 2`` on both sides, frames of ``n_fft`` samples every
       ``hop_length`` (25 ms every 10 ms at 16 kHz), a periodic Hann window, the power spectrum.
    2. Mel filters, then ``log10`` (floored at 1e-10); the last frame is dropped.
    3. Dynamic range: nothing below ``max - 8`` (80 dB under the loudest bin), then ``(x + 4) / 4``
       so the values sit roughly in [-1, 1].
    """
    waveform = np.asarray(waveform, dtype=np.float64)
    padded = np.pad(waveform, n_fft // 2, mode="reflect")  # (samples + n_fft,)
    n_frames = 1 + (len(padded) - n_fft) // hop_length
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length][:n_frames]  # (frames, n_fft)
    window = np.hanning(n_fft + 1)[:-1]  # periodic Hann, as torch.hann_window
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2  # (frames, n_fft // 2 + 1)
    mel = mel_filters.T @ power.T  # (n_mels, frames)
    log_spec = np.log10(np.maximum(mel, 1e-10))[:, :-1]  # (n_mels, frames - 1)
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


class WhisperFeatureExtractor(SequenceFeatureExtractor):
    """Raw 16 kHz mono audio -> ``input_features`` (b, feature_size, chunk_length * sampling_rate / hop_length),
    with the settings and call of transformers' ``WhisperFeatureExtractor`` (computed with NumPy).

    Each clip is padded with silence (or cut) to ``chunk_length`` seconds (``padding="max_length"``,
    the default; ``padding="longest"`` pads to the longest clip instead), then turned into a log-mel
    spectrogram (:func:`log_mel_spectrogram`). ``return_attention_mask=True`` adds a mask over the
    frames (1 = real audio); ``do_normalize=True`` gives each clip zero mean and unit variance first.
    """

    model_input_names: ClassVar[list[str]] = ["input_features"]

    def __init__(self, feature_size: int = 80, sampling_rate: int = 16000, hop_length: int = 160,
                 chunk_length: int = 30, n_fft: int = 400, padding_value: float = 0.0, dither: float = 0.0,
                 return_attention_mask: bool = False, **kwargs: Any):
        kwargs.pop("n_samples", None)  # derived settings saved by transformers: recomputed here
        kwargs.pop("nb_max_frames", None)
        kwargs.pop("mel_filters", None)
        super().__init__(feature_size=feature_size, sampling_rate=sampling_rate, padding_value=padding_value,
                         return_attention_mask=return_attention_mask, **kwargs)
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.chunk_length = chunk_length
        self.n_samples = chunk_length * sampling_rate
        self.nb_max_frames = self.n_samples // hop_length
        self.dither = dither
        self.mel_filters = mel_filter_bank(1 + n_fft // 2, feature_size, sampling_rate)  # (n_fft/2 + 1, n_mels)

    def to_dict(self) -> dict[str, Any]:
        output = super().to_dict()
        output.pop("mel_filters", None)  # computed from the settings, as transformers leaves it out
        return output

    def __call__(self, raw_speech, truncation: bool = True, pad_to_multiple_of: int | None = None,
                 return_tensors: str | None = None, return_attention_mask: bool | None = None,
                 padding: str | bool | None = "max_length", max_length: int | None = None,
                 sampling_rate: int | None = None, do_normalize: bool | None = None, device: str | None = "cpu",
                 **kwargs: Any) -> BatchFeature:
        """One clip (a 1-D array or list of floats) or a batch (a list of them, or a 2-D array of
        equal-length clips) -> ``{"input_features": (b, n_mels, frames)[, "attention_mask": (b, frames)]}``."""
        if sampling_rate is not None and sampling_rate != self.sampling_rate:
            raise ValueError(
                f"The model corresponding to this feature extractor: {type(self).__name__} was trained using a sampling "
                f"rate of {self.sampling_rate}. Please make sure that the provided `raw_speech` input was sampled with "
                f"{self.sampling_rate} and not {sampling_rate}. Resample it first (e.g. librosa.resample(audio, "
                f"orig_sr={sampling_rate}, target_sr={self.sampling_rate}))."
            )
        if sampling_rate is None:
            warnings.warn(f"It is strongly recommended to pass the `sampling_rate` argument to `{type(self).__name__}()`"
                          ". Failing to do so can result in silent errors that might be hard to debug.", UserWarning,
                          stacklevel=2)
        if device not in (None, "cpu"):
            raise ValueError(f"hfexplain computes the features with NumPy on the CPU; pass device='cpu', not {device!r}.")
        clips = self._as_clips(raw_speech)
        padded = self.pad(BatchFeature({"input_features": [clip[:, None] for clip in clips]}), padding=padding,
                          max_length=max_length if max_length else self.n_samples, truncation=truncation,
                          pad_to_multiple_of=pad_to_multiple_of,
                          return_attention_mask=bool(return_attention_mask or do_normalize), return_tensors="np")
        waves = [np.asarray(row)[:, 0] for row in padded["input_features"]]  # b x (samples,)
        if do_normalize:
            lengths = np.asarray(padded["attention_mask"]).sum(-1)
            waves = [_zero_mean_unit_var(wave, int(n), self.padding_value) for wave, n in zip(waves, lengths)]
        if self.dither:
            rng = np.random.default_rng()
            waves = [wave + self.dither * rng.standard_normal(wave.shape) for wave in waves]
        features = [log_mel_spectrogram(wave, self.mel_filters, self.n_fft, self.hop_length) for wave in waves]
        data: dict[str, Any] = {"input_features": features}
        if return_attention_mask:
            mask = np.asarray(padded["attention_mask"])  # (b, samples)
            frame_mask = mask[:, :: self.hop_length]  # (b, frames + 1 | frames)
            if mask.shape[1] % self.hop_length != 0:
                frame_mask = frame_mask[:, :-1]  # the STFT's last frame is dropped
            data["attention_mask"] = frame_mask
        elif do_normalize:  # as transformers: the per-sample mask normalising needed is returned as it is
            data["attention_mask"] = np.asarray(padded["attention_mask"])  # (b, samples)
        return BatchFeature(data, tensor_type=return_tensors)

    def _as_clips(self, raw_speech) -> list[np.ndarray]:
        """Every clip as a 1-D float32 array, or a clear error for what is not mono audio."""
        if hasattr(raw_speech, "detach"):  # a torch tensor
            raw_speech = raw_speech.detach().cpu().numpy()
        if isinstance(raw_speech, np.ndarray):
            if raw_speech.ndim > 2:
                raise ValueError(f"Only mono-channel audio is supported for input to {type(self).__name__}: got an "
                                 f"array of shape {raw_speech.shape}. Pass one 1-D array per clip.")
            if raw_speech.ndim == 2 and raw_speech.shape[1] <= 2 < raw_speech.shape[0]:
                raise ValueError(self._stereo_message(raw_speech.shape))
            clips = list(raw_speech) if raw_speech.ndim == 2 else [raw_speech]
        elif isinstance(raw_speech, (list, tuple)):
            if len(raw_speech) == 0:
                raise ValueError("raw_speech is an empty list: pass at least one clip (a 1-D array of samples).")
            is_batch = isinstance(raw_speech[0], (np.ndarray, list, tuple)) or hasattr(raw_speech[0], "detach")
            clips = list(raw_speech) if is_batch else [raw_speech]
        else:
            raise TypeError(f"raw_speech must be a NumPy array, a list of floats, or a list of those (one per clip), "
                            f"got {type(raw_speech).__name__}.")
        arrays = []
        for index, clip in enumerate(clips):
            if hasattr(clip, "detach"):
                clip = clip.detach().cpu().numpy()
            clip = np.asarray(clip, dtype=np.float32)
            if clip.ndim == 2 and 1 in clip.shape:
                clip = clip.reshape(-1)
            if clip.ndim != 1:
                raise ValueError(self._stereo_message(clip.shape, index))
            if clip.size == 0:
                raise ValueError(f"clip {index} is empty (0 samples); give every clip at least one sample of audio.")
            arrays.append(clip)
        return arrays

    @staticmethod
    def _stereo_message(shape, index: int | None = None) -> str:
        which = "" if index is None else f"clip {index} "
        return (f"{which}has shape {tuple(shape)}: Whisper takes mono audio, one value per sample. Mix the channels down "
                "first, e.g. audio.mean(axis=1) for (samples, channels), or pass each clip as a 1-D array.")


def _zero_mean_unit_var(wave: np.ndarray, length: int, padding_value: float) -> np.ndarray:
    """Normalise the first ``length`` samples (the real audio); padding stays ``padding_value``."""
    normed = (wave - wave[:length].mean()) / np.sqrt(wave[:length].var() + 1e-7)
    normed[length:] = padding_value
    return normed


class WhisperProcessor(ProcessorMixin):
    """A :class:`WhisperFeatureExtractor` and a Whisper tokenizer: ``processor(audio, sampling_rate=16000)``
    gives ``input_features``; ``text=`` gives token ids (``labels`` next to audio);
    ``batch_decode`` turns generated ids into text."""

    attributes: ClassVar[list[str]] = ["feature_extractor", "tokenizer"]

    def __call__(self, audio=None, *, text=None, sampling_rate: int | None = None, return_tensors: str | None = None,
                 **kwargs: Any) -> BatchFeature:
        if audio is None and text is None:
            raise ValueError("You need to specify either an `audio` or `text` input to process.")
        if audio is not None:
            inputs = self.feature_extractor(audio, sampling_rate=sampling_rate, return_tensors=return_tensors,
                                            **kwargs)
        if text is None:
            return inputs
        encodings = self.tokenizer(text, return_tensors=return_tensors, **kwargs)
        if audio is None:
            return encodings
        inputs["labels"] = encodings["input_ids"]
        return inputs

    @classmethod
    def from_pretrained(cls, path_or_repo_id, **kwargs: Any):
        """The feature extractor and the :class:`~hfexplain.tokenization.WhisperTokenizer` saved in one folder or repo."""
        from ..tokenization import WhisperTokenizer

        return cls(WhisperFeatureExtractor.from_pretrained(path_or_repo_id, **kwargs),
                   WhisperTokenizer.from_pretrained(path_or_repo_id, **kwargs))

    def get_decoder_prompt_ids(self, task: str | None = None, language: str | None = None, no_timestamps: bool = True):
        return self.tokenizer.get_decoder_prompt_ids(task=task, language=language, no_timestamps=no_timestamps)


__all__ = [
    "WhisperConfig",
    "WhisperPreTrainedModel",
    "WhisperModel",
    "WhisperForConditionalGeneration",
    "WhisperFeatureExtractor",
    "WhisperProcessor",
    "log_mel_spectrogram",
    "mel_filter_bank",
]
