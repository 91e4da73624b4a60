"""BLIP (Li et al., 2022, "BLIP: Bootstrapping Language-Image Pre-training for Unified
Vision-Language Understanding and Generation"), with Hugging Face's module tree and parameter names.

What changed since CLIP (the two towers) and BERT (the text layers):

    image ─► patch_embedding (a strided conv, with bias) ─► [CLS] + patches + position_embedding
          ─► [ pre-norm layer × M ] ─► post_layernorm ─► image states (b, n, d_v) ───────────────┐
    text  ─► word + position embeddings ─► LayerNorm                                              │
          ─► [ BERT layer × N: self-attention ─► cross-attention (k/v: the image states) ◄────────┘
                             ─► MLP, each post-norm ] ─► cls (dense, gelu, LayerNorm, tied decoder) ─► logits

* **The text side is BERT with a cross-attention in every layer** (``crossattention``, between the
  self-attention and the MLP, built when ``text_config.is_decoder``): queries from the text, keys
  and values from the image states, whose width is ``encoder_hidden_size`` (``BlipConfig`` sets it
  to the vision tower's ``hidden_size``). The same stack is an encoder or a decoder by a forward
  argument: ``is_decoder=True`` makes its self-attention causal. No token types.
* **Three models from one pair of towers.** ``BlipForConditionalGeneration`` (captioning): the
  vision tower, and a causal text decoder (``text_decoder``, a ``BlipTextLMHeadModel``) that reads
  the image states. ``BlipForQuestionAnswering``: the question goes through a bidirectional text
  *encoder* that reads the image (``text_encoder``), and a decoder writes the answer while reading
  the *question's* states. ``BlipModel``: image-text contrast as CLIP (``logit_scale``, two
  projections into ``projection_dim``), the text read at its first token through the BERT pooler
  (dense, tanh); its cross-attention layers exist (the checkpoint has them) but are not used.
  (``image_text_hidden_size`` sizes the projections of BLIP's image-text retrieval model, which is
  not written here; the config keeps it.)
* **The vision tower** is CLIP's (pre-norm layers) with a fused ``qkv`` projection, an attention
  output called ``projection``, learned positions as one Parameter (1, n, d), no ``pre_layrnorm``,
  and ``post_layernorm`` applied to *every* state (``last_hidden_state`` is normalised). Its
  ``pooler_output`` is that normalised ``[CLS]`` state normalised by ``post_layernorm`` a second
  time: transformers does so, and the contrastive head reads it; kept for parity.
* **Generation** (transformers' quirks, kept so the same weights give the same captions):
  captioning starts from ``[bos_token_id, eos_token_id]`` per image, or the prompt's ids with
  their first token replaced by ``bos_token_id`` (the tokenizer's ``[CLS]`` becomes ``[DEC]``);
  the last token is dropped (the tokenizer's ``[SEP]``, or that ``eos_token_id``), and decoding
  stops at ``sep_token_id`` (``[SEP]``), padding with ``pad_token_id``. The returned ids include
  the start token and the prompt. VQA starts the answer from ``bos_token_id`` alone and lets the
  answer read every question position (an all-ones mask, also for padded questions). Both call
  ``text_decoder.generate``, so its generation config (made from ``text_config``) supplies the
  defaults, as in transformers; arguments of the call override them.
* **The loss** (``labels``): next-token cross-entropy of the decoder with
  ``text_config.label_smoothing`` (BLIP trains with 0.1; the configs default to 0.0). The labels
  are the decoder's *input* (shifted inside), so ``-100`` must not be among them for the VQA
  model, which feeds its labels to the decoder as ids, as transformers does.
* **No cross-attention mask.** transformers 5.23 takes ``encoder_attention_mask`` but never passes it
  on to the cross-attention, which reads every encoder position; so do we. Image states have no
  padding, so captions and answers are unaffected; the VQA *loss* on padded questions is (BLIP's
  original code hides the question's padding there).

Shapes: b=batch, s=text positions (question or caption), n=patches + 1 ([CLS]), d=hidden size
(per tower), h=heads, e=d/h, m=intermediate size, v=vocab_size, p=projection_dim.

Hook points: stacks ``"vision"`` and ``"text"`` (``cache["cross_pattern", 0, "text"]``); in
``BlipForQuestionAnswering`` ``"text"`` is the question encoder and the answer decoder is
``"decoder"``. Vision, per layer: ``resid_pre``, ``q`` / ``k`` / ``v``, ``scores``, ``pattern``,
``z``, ``attn_out``, ``resid_mid``, ``mlp_pre``, ``mlp_post``, ``mlp_out``, ``resid_post``; plus
``embed``, ``pos_embed`` and ``final`` (after ``post_layernorm``). Text, per layer: the same
self-attention aliases (post-norm as BERT: ``resid_mid`` is after the LayerNorm), then
``cross_q`` / ``cross_k`` / ``cross_v``, ``cross_scores``, ``cross_pattern``, ``cross_z``,
``cross_attn_out``, ``resid_mid_cross``, then the MLP's; plus ``embed``, ``pos_embed``, ``final``
and, on the decoders, ``logits``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..configuration import PretrainedConfig, check_divisible
from ..generation import GenerationMixin
from ..heads import check_model_inputs
from ..hooks import HookPoint
from ..layers import EncoderDecoderCache, attend, build_attention_mask, encoder_key_values, get_activation
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutput, BaseModelOutputWithPooling, ModelOutput, Tensor, Tensors
from ..processing import BaseImageProcessor, ProcessorMixin
from .clip import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, clip_loss

# -- configs ------------------------------------------------------------------------------------


class BlipTextConfig(PretrainedConfig):
    """The text stack's hyper-parameters, with transformers' names and defaults (blip-vqa-base):
    BERT's, plus ``encoder_hidden_size`` (the width of the states its cross-attention reads),
    ``sep_token_id`` (where generation stops) and ``label_smoothing`` (of the LM loss)."""

    model_type = "blip_text_model"
    base_config_key = "text_config"

    def __init__(
        self,
        vocab_size: int = 30524,
        hidden_size: int = 768,
        encoder_hidden_size: int = 768,
        intermediate_size: int = 3072,
        projection_dim: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 8,
        max_position_embeddings: int = 512,
        hidden_act: str = "gelu",
        layer_norm_eps: float = 1e-12,
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        initializer_range: float = 0.02,
        bos_token_id: int | None = 30522,
        eos_token_id: int | list[int] | None = 2,
        pad_token_id: int | None = 0,
        sep_token_id: int | None = 102,
        is_decoder: bool = True,
        use_cache: bool = True,
        label_smoothing: float = 0.0,
        **kwargs,
    ):
        check_divisible("hidden_size", hidden_size, "num_attention_heads", num_attention_heads,
                        "each head gets hidden_size / num_attention_heads dimensions.")
        if not isinstance(label_smoothing, (int, float)) or isinstance(label_smoothing, bool) or \
                not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be a number in [0, 1] (0.1 in BLIP's training), got "
                             f"{label_smoothing!r}.")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.encoder_hidden_size = encoder_hidden_size
        self.intermediate_size = intermediate_size
        self.projection_dim = projection_dim
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.max_position_embeddings = max_position_embeddings
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.initializer_range = initializer_range
        self.sep_token_id = sep_token_id
        self.use_cache = use_cache
        self.label_smoothing = label_smoothing
        super().__init__(bos_token_id=bos_token_id, eos_token_id=eos_token_id, pad_token_id=pad_token_id,
                         is_decoder=is_decoder, **kwargs)


class BlipVisionConfig(PretrainedConfig):
    """The vision tower's hyper-parameters, with transformers' names and defaults (ViT-B/16 at 384)."""

    model_type = "blip_vision_model"
    base_config_key = "vision_config"

    def __init__(
        self,
        hidden_size: int = 768,
        intermediate_size: int = 3072,
        projection_dim: int = 512,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        image_size: int = 384,
        patch_size: int = 16,
        hidden_act: str = "gelu",
        layer_norm_eps: float = 1e-5,
        attention_dropout: float = 0.0,
        initializer_range: float = 1e-10,
        **kwargs,
    ):
        check_divisible("hidden_size", hidden_size, "num_attention_heads", num_attention_heads,
                        "each head gets hidden_size / num_attention_heads dimensions.")
        check_divisible("image_size", image_size, "patch_size", patch_size, "the patches tile the image.")
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.projection_dim = projection_dim
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        super().__init__(**kwargs)


class BlipConfig(PretrainedConfig):
    """Both stacks' configs (``text_config``, ``vision_config``: a config, a dict or None for the
    defaults) and the shared space. ``text_config.encoder_hidden_size`` is set to the vision
    tower's ``hidden_size``: the text's cross-attention reads the image states."""

    model_type = "blip"
    sub_configs = {"text_config": BlipTextConfig, "vision_config": BlipVisionConfig}

    def __init__(
        self,
        text_config: BlipTextConfig | dict | None = None,
        vision_config: BlipVisionConfig | dict | None = None,
        projection_dim: int = 512,
        logit_scale_init_value: float = 2.6592,
        image_text_hidden_size: int = 256,
        label_smoothing: float = 0.0,
        initializer_factor: float = 1.0,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        self.projection_dim = projection_dim
        self.logit_scale_init_value = logit_scale_init_value
        self.image_text_hidden_size = image_text_hidden_size
        self.label_smoothing = label_smoothing
        self.initializer_factor = initializer_factor
        self.initializer_range = initializer_range
        super().__init__(text_config=text_config, vision_config=vision_config, **kwargs)
        self.text_config.encoder_hidden_size = self.vision_config.hidden_size


# -- outputs ------------------------------------------------------------------------------------


@dataclass
class BlipForConditionalGenerationModelOutput(ModelOutput):
    """What ``BlipForConditionalGeneration`` returns (transformers' fields; the states are the vision tower's)."""

    loss: Tensor = None  # the decoder's LM loss, with labels
    logits: Tensor = None  # (b, s, v) the decoder's next-token scores
    image_embeds: Tensor = None  # (b, n, d_v) the image states the decoder read
    last_hidden_state: Tensor = None  # (b, n, d_v) the same
    hidden_states: Tensors = None  # the vision tower's, with output_hidden_states
    attentions: Tensors = None  # the vision tower's, with output_attentions


@dataclass
class BlipTextVisionModelOutput(ModelOutput):
    """What ``BlipForQuestionAnswering`` returns: the answer's loss and the vision tower's states
    (no logits, as in transformers: the answers come from ``generate``)."""

    loss: Tensor = None
    image_embeds: Tensor = None
    last_hidden_state: Tensor = None
    hidden_states: Tensors = None
    attentions: Tensors = None


@dataclass
class BlipOutput(ModelOutput):
    """What ``BlipModel`` returns (CLIP's fields)."""

    loss: Tensor = None  # the contrastive loss, with return_loss=True
    logits_per_image: Tensor = None  # (i, t)
    logits_per_text: Tensor = None  # (t, i)
    text_embeds: Tensor = None  # (t, p) projected and L2-normalised
    image_embeds: Tensor = None  # (i, p) projected and L2-normalised
    text_model_output: BaseModelOutputWithPooling = None
    vision_model_output: BaseModelOutputWithPooling = None

    def to_tuple(self) -> tuple:
        return tuple(v.to_tuple() if isinstance(v, ModelOutput) else v for v in self.values())


@dataclass
class BlipTextModelOutput(ModelOutput):
    """The text stack's output (transformers' ``BaseModelOutputWithPoolingAndCrossAttentions``)."""

    last_hidden_state: Tensor = None  # (b, s, d)
    pooler_output: Tensor = None  # (b, d) tanh(dense([CLS])), where the stack has a pooler
    past_key_values: Any = None
    hidden_states: Tensors = None
    attentions: Tensors = None
    cross_attentions: Tensors = None


@dataclass
class BlipCausalLMOutput(ModelOutput):
    """The decoder's output (transformers' ``CausalLMOutputWithCrossAttentions``)."""

    loss: Tensor = None
    logits: Tensor = None  # (b, s, v)
    past_key_values: Any = None
    hidden_states: Tensors = None
    attentions: Tensors = None
    cross_attentions: Tensors = None


# -- the vision tower -----------------------------------------------------------------------------


class BlipVisionEmbeddings(nn.Module):
    """Patches by a strided conv (with bias), ``[CLS]`` in front, learned positions (one Parameter)."""

    def __init__(self, config: BlipVisionConfig):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.image_size = config.image_size
        self.patch_size = config.patch_size
        self.class_embedding = nn.Parameter(torch.randn(1, 1, self.embed_dim))
        self.patch_embedding = nn.Conv2d(3, self.embed_dim, kernel_size=self.patch_size, stride=self.patch_size)
        self.num_patches = (self.image_size // self.patch_size) ** 2
        self.num_positions = self.num_patches + 1
        self.position_embedding = nn.Parameter(torch.randn(1, self.num_positions, self.embed_dim))
        self.hook_embed = HookPoint("embed", stack="vision")  # (b, n, d): [CLS] then the patches, row by row
        self.hook_pos_embed = HookPoint("pos_embed", stack="vision")  # (1, n, d)

    def interpolate_pos_encoding(self, height: int, width: int) -> torch.Tensor:
        """The learned (grid x grid) patch positions resized (bicubic) to the patch grid of a
        ``height`` x ``width`` image, ``[CLS]``'s kept; (1, n, d). As transformers: a square image
        with as many patches as learned keeps the table."""
        table = self.position_embedding  # (1, 1 + g*g, d)
        grid = int(math.sqrt(self.num_patches))
        new_height, new_width = height // self.patch_size, width // self.patch_size
        if new_height * new_width == self.num_patches and height == width:
            return table
        patches = table[:, 1:].reshape(1, grid, grid, self.embed_dim).permute(0, 3, 1, 2)  # (1, d, g, g)
        patches = nn.functional.interpolate(patches, size=(new_height, new_width), mode="bicubic",
                                            align_corners=False)  # (1, d, h', w')
        patches = patches.permute(0, 2, 3, 1).reshape(1, new_height * new_width, self.embed_dim)  # (1, h'*w', d)
        return torch.cat([table[:, :1], patches], dim=1)  # (1, n, d)

    def forward(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        batch, _, height, width = pixel_values.shape
        dtype = self.patch_embedding.weight.dtype
        patches = self.patch_embedding(pixel_values.to(dtype))  # (b, d, h/P, w/P)
        patches = patches.flatten(2).transpose(1, 2)  # (b, n - 1, d)
        cls = self.class_embedding.expand(batch, 1, -1).to(dtype)  # (b, 1, d)
        embedded = self.hook_embed(torch.cat([cls, patches], dim=1))  # (b, n, d)
        if interpolate_pos_encoding:
            positions = self.interpolate_pos_encoding(height, width)  # (1, n, d)
        else:
            positions = self.position_embedding[:, : embedded.shape[1]]  # (1, n, d)
        return embedded + self.hook_pos_embed(positions.to(dtype))


class BlipAttention(nn.Module):
    """Multi-head self-attention with one fused ``qkv`` projection and an output ``projection``."""

    def __init__(self, config: BlipVisionConfig, layer_idx: int):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = self.embed_dim // self.num_heads
        self.scale = self.head_dim**-0.5
        self.dropout = nn.Dropout(config.attention_dropout)
        self.qkv = nn.Linear(self.embed_dim, 3 * self.embed_dim)
        self.projection = nn.Linear(self.embed_dim, self.embed_dim)
        self.hook_q = HookPoint("q", layer_idx, "vision")  # (b, h, n, e)
        self.hook_k = HookPoint("k", layer_idx, "vision")  # (b, h, n, e)
        self.hook_v = HookPoint("v", layer_idx, "vision")  # (b, h, n, e)
        self.hook_scores = HookPoint("scores", layer_idx, "vision")  # (b, h, n, n)
        self.hook_pattern = HookPoint("pattern", layer_idx, "vision")  # (b, h, n, n)
        self.hook_z = HookPoint("z", layer_idx, "vision")  # (b, h, n, e)

    def forward(self, hidden: torch.Tensor, output_attentions: bool = False):
        batch, seq, d = hidden.shape  # (b, n, d)
        mixed = self.qkv(hidden).reshape(batch, seq, 3, self.num_heads, self.head_dim)  # (b, n, 3, h, e)
        mixed = mixed.permute(2, 0, 3, 1, 4)  # (3, b, h, n, e)
        query, key, value = self.hook_q(mixed[0]), self.hook_k(mixed[1]), self.hook_v(mixed[2])
        z, pattern = attend(query, key, value, None, scale=self.scale,
                            dropout=self.dropout.p if self.training else 0.0, hook_scores=self.hook_scores,
                            hook_pattern=self.hook_pattern, need_weights=output_attentions)
        z = self.hook_z(z)  # (b, h, n, e)
        return self.projection(z.transpose(1, 2).reshape(batch, seq, d)), pattern  # (b, n, d)


class BlipMLP(nn.Module):
    """fc1 -> gelu -> fc2."""

    def __init__(self, config: BlipVisionConfig, layer_idx: int):
        super().__init__()
        self.activation_fn = get_activation(config.hidden_act)
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)
        self.hook_mlp_pre = HookPoint("mlp_pre", layer_idx, "vision")  # (b, n, m)
        self.hook_mlp_post = HookPoint("mlp_post", layer_idx, "vision")  # (b, n, m)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        inner = self.hook_mlp_post(self.activation_fn(self.hook_mlp_pre(self.fc1(hidden))))  # (b, n, m)
        return self.fc2(inner)  # (b, n, d)


class BlipEncoderLayer(nn.Module):
    """Pre-norm, as CLIP's: x = x + attn(LN1(x)); x = x + mlp(LN2(x))."""

    def __init__(self, config: BlipVisionConfig, layer_idx: int):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.self_attn = BlipAttention(config, layer_idx)
        self.layer_norm1 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.mlp = BlipMLP(config, layer_idx)
        self.layer_norm2 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.hook_resid_pre = HookPoint("resid_pre", layer_idx, "vision")  # (b, n, d)
        self.hook_attn_out = HookPoint("attn_out", layer_idx, "vision")  # (b, n, d)
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx, "vision")  # (b, n, d)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx, "vision")  # (b, n, d)
        self.hook_resid_post = HookPoint("resid_post", layer_idx, "vision")  # (b, n, d)

    def forward(self, hidden: torch.Tensor, output_attentions: bool = False):
        hidden = self.hook_resid_pre(hidden)
        attn_out, pattern = self.self_attn(self.layer_norm1(hidden), output_attentions)
        hidden = self.hook_resid_mid(hidden + self.hook_attn_out(attn_out))
        hidden = hidden + self.hook_mlp_out(self.mlp(self.layer_norm2(hidden)))
        return self.hook_resid_post(hidden), pattern


class BlipEncoder(nn.Module):
    """The vision tower's stack; hidden_states are each layer's input, then the last layer's output
    (before ``post_layernorm``, as transformers records them)."""

    def __init__(self, config: BlipVisionConfig):
        super().__init__()
        self.layers = nn.ModuleList([BlipEncoderLayer(config, i) for i in range(config.num_hidden_layers)])

    def forward(self, hidden: torch.Tensor, output_attentions: bool = False,
                output_hidden_states: bool = False) -> BaseModelOutput:
        all_hidden, all_attn = (), ()
        for layer in self.layers:
            all_hidden += (hidden,)
            hidden, pattern = layer(hidden, output_attentions)
            all_attn += (pattern,)
        all_hidden += (hidden,)
        return BaseModelOutput(last_hidden_state=hidden, hidden_states=all_hidden if output_hidden_states else None,
                               attentions=all_attn if output_attentions else None)


# -- the text stack -------------------------------------------------------------------------------


class BlipTextEmbeddings(nn.Module):
    """Word + learned position embeddings, then LayerNorm and dropout (BERT's, without token types)."""

    def __init__(self, config: BlipTextConfig, stack: str):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.register_buffer("position_ids", torch.arange(config.max_position_embeddings)[None], persistent=False)
        self.hook_embed = HookPoint("embed", stack=stack)  # (b, s, d)
        self.hook_pos_embed = HookPoint("pos_embed", stack=stack)  # (b|1, s, d)

    def forward(self, input_ids=None, position_ids=None, inputs_embeds=None, past: int = 0) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # (b, s, d)
        if position_ids is None:
            position_ids = self.position_ids[:, past : past + inputs_embeds.shape[1]]  # (1, s)
        embedded = self.hook_embed(inputs_embeds) + self.hook_pos_embed(self.position_embeddings(position_ids))
        return self.dropout(self.LayerNorm(embedded))  # (b, s, d)


class BlipTextSelfAttention(nn.Module):
    """BERT's self-attention (``query``, ``key``, ``value``); with ``is_cross_attention`` the keys
    and values come from the encoder states (width ``encoder_hidden_size``), computed once per
    ``generate`` and kept in the cache's cross slot."""

    def __init__(self, config: BlipTextConfig, is_cross_attention: bool, layer_idx: int, stack: str):
        super().__init__()
        self.layer_idx = layer_idx
        self.is_cross_attention = is_cross_attention
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        source_size = config.encoder_hidden_size if is_cross_attention else config.hidden_size
        self.query = nn.Linear(config.hidden_size, self.all_head_size)
        self.key = nn.Linear(source_size, self.all_head_size)
        self.value = nn.Linear(source_size, self.all_head_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)
        prefix = "cross_" if is_cross_attention else ""
        self.hook_q = HookPoint(prefix + "q", layer_idx, stack)  # (b, h, s, e)
        self.hook_k = HookPoint(prefix + "k", layer_idx, stack)  # (b, h, n|p, e)
        self.hook_v = HookPoint(prefix + "v", layer_idx, stack)  # (b, h, n|p, e)
        self.hook_scores = HookPoint(prefix + "scores", layer_idx, stack)  # (b, h, s, n|p)
        self.hook_pattern = HookPoint(prefix + "pattern", layer_idx, stack)  # (b, h, s, n|p)
        self.hook_z = HookPoint(prefix + "z", layer_idx, stack)  # (b, h, s, e)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.num_attention_heads, self.attention_head_size).transpose(1, 2)  # (b, h, s, e)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None, encoder_states: torch.Tensor | None = None,
                cache: EncoderDecoderCache | None = None, output_attentions: bool = False):
        batch, seq, _ = hidden.shape  # (b, s, d)
        query = self.hook_q(self._split_heads(self.query(hidden)))  # (b, h, s, e)
        if self.is_cross_attention:
            key, value = encoder_key_values(encoder_states, self.key, self.value, self.num_attention_heads,
                                            self.attention_head_size, cache=cache, layer_idx=self.layer_idx,
                                            hook_k=self.hook_k, hook_v=self.hook_v)  # (b, h, n, e)
        else:
            key = self.hook_k(self._split_heads(self.key(hidden)))  # (b, h, s, e)
            value = self.hook_v(self._split_heads(self.value(hidden)))
            if cache is not None:
                key, value = cache.update(key, value, self.layer_idx)  # (b, h, p, e)
        z, pattern = attend(query, key, value, mask, scale=self.attention_head_size**-0.5,
                            dropout=self.dropout.p if self.training else 0.0, hook_scores=self.hook_scores,
                            hook_pattern=self.hook_pattern, need_weights=output_attentions)
        z = self.hook_z(z)  # (b, h, s, e)
        return z.transpose(1, 2).reshape(batch, seq, self.all_head_size), pattern  # (b, s, d)


class BlipTextSelfOutput(nn.Module):
    """The attention's output projection, then the post-norm step LayerNorm(x + dropout(dense(z)))."""

    def __init__(self, config: BlipTextConfig, layer_idx: int, stack: str, cross: bool = False):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.hook_attn_out = HookPoint("cross_attn_out" if cross else "attn_out", layer_idx, stack)  # (b, s, d)

    def forward(self, hidden: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        attn_out = self.hook_attn_out(self.dropout(self.dense(hidden)))  # (b, s, d)
        return self.LayerNorm(attn_out + input_tensor)


class BlipTextAttention(nn.Module):
    """Attention (``self``) and its projection, residual and LayerNorm (``output``)."""

    def __init__(self, config: BlipTextConfig, layer_idx: int, stack: str, is_cross_attention: bool = False):
        super().__init__()
        self.self = BlipTextSelfAttention(config, is_cross_attention, layer_idx, stack)
        self.output = BlipTextSelfOutput(config, layer_idx, stack, cross=is_cross_attention)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None, encoder_states: torch.Tensor | None = None,
                cache: EncoderDecoderCache | None = None, output_attentions: bool = False):
        merged, pattern = self.self(hidden, mask, encoder_states, cache, output_attentions)  # (b, s, d)
        return self.output(merged, hidden), pattern


class BlipTextIntermediate(nn.Module):
    """The MLP's first half: d -> m, then the activation."""

    def __init__(self, config: BlipTextConfig, layer_idx: int, stack: str):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = get_activation(config.hidden_act)
        self.hook_pre = HookPoint("mlp_pre", layer_idx, stack)  # (b, s, m)
        self.hook_post = HookPoint("mlp_post", layer_idx, stack)  # (b, s, m)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.hook_post(self.intermediate_act_fn(self.hook_pre(self.dense(hidden))))  # (b, s, m)


class BlipTextOutput(nn.Module):
    """The MLP's second half: m -> d, then LayerNorm(x + dropout(dense(.)))."""

    def __init__(self, config: BlipTextConfig, layer_idx: int, stack: str):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx, stack)  # (b, s, d)

    def forward(self, hidden: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.hook_mlp_out(self.dropout(self.dense(hidden))) + input_tensor)  # (b, s, d)


class BlipTextLayer(nn.Module):
    """One post-norm layer: self-attention, cross-attention to the encoder states (when given, and
    built when ``config.is_decoder``), MLP; each LayerNorm(x + sublayer(x))."""

    def __init__(self, config: BlipTextConfig, layer_idx: int, stack: str):
        super().__init__()
        self.attention = BlipTextAttention(config, layer_idx, stack)
        if config.is_decoder:
            self.crossattention = BlipTextAttention(config, layer_idx, stack, is_cross_attention=True)
            self.hook_resid_mid_cross = HookPoint("resid_mid_cross", layer_idx, stack)  # (b, s, d)
        self.intermediate = BlipTextIntermediate(config, layer_idx, stack)
        self.output = BlipTextOutput(config, layer_idx, stack)
        self.hook_resid_pre = HookPoint("resid_pre", layer_idx, stack)  # (b, s, d)
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx, stack)  # (b, s, d), already normalised
        self.hook_resid_post = HookPoint("resid_post", layer_idx, stack)  # (b, s, d)

    def forward(self, hidden: torch.Tensor, self_mask: torch.Tensor | None, encoder_states: torch.Tensor | None,
                cross_mask: torch.Tensor | None, cache: EncoderDecoderCache | None = None,
                output_attentions: bool = False):
        hidden = self.hook_resid_pre(hidden)  # (b, s, d)
        hidden, self_pattern = self.attention(hidden, self_mask, cache=cache, output_attentions=output_attentions)
        hidden = self.hook_resid_mid(hidden)
        cross_pattern = None
        if encoder_states is not None:
            hidden, cross_pattern = self.crossattention(hidden, cross_mask, encoder_states, cache, output_attentions)
            hidden = self.hook_resid_mid_cross(hidden)  # (b, s, d)
        hidden = self.output(self.intermediate(hidden), hidden)  # (b, s, d)
        return self.hook_resid_post(hidden), self_pattern, cross_pattern


class BlipTextEncoder(nn.Module):
    """The ``num_hidden_layers`` text layers (``layer.0`` ... ``layer.N-1``)."""

    def __init__(self, config: BlipTextConfig, stack: str):
        super().__init__()
        self.layer = nn.ModuleList([BlipTextLayer(config, i, stack) for i in range(config.num_hidden_layers)])


class BlipTextPooler(nn.Module):
    """The text's summary: the first ([CLS]) state through dense + tanh (BERT's pooler)."""

    def __init__(self, config: BlipTextConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden[:, 0]))  # (b, d)


class BlipTextPredictionHeadTransform(nn.Module):
    """dense -> activation -> LayerNorm, before the vocabulary projection."""

    def __init__(self, config: BlipTextConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = get_activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden)))  # (b, s, d)


class BlipTextLMPredictionHead(nn.Module):
    """Hidden state -> a score per vocabulary word; ``decoder.weight`` is the word-embedding matrix
    and ``decoder.bias`` is ``bias`` (tied, as BERT's)."""

    def __init__(self, config: BlipTextConfig):
        super().__init__()
        self.transform = BlipTextPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=True)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden))  # (b, s, v)


class BlipTextOnlyMLMHead(nn.Module):
    def __init__(self, config: BlipTextConfig):
        super().__init__()
        self.predictions = BlipTextLMPredictionHead(config)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.predictions(hidden)  # (b, s, v)


# -- the models -----------------------------------------------------------------------------------


class BlipPreTrainedModel(PreTrainedModel):
    config_class = BlipConfig
    base_model_prefix = "blip"
    _residual_stream_is_a_sum = False  # the text layers are post-norm

    def _init_weights(self, module: nn.Module) -> None:
        """transformers' generic initialisation (convolutions as linears), then truncated normals for the
        vision embeddings' [CLS] and positions (``vision_config.initializer_range``)."""
        std = self.config.initializer_range
        if isinstance(module, nn.Conv2d):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, BlipVisionEmbeddings):
            std = getattr(self.config, "vision_config", self.config).initializer_range
            nn.init.trunc_normal_(module.position_embedding, mean=0.0, std=std)
            nn.init.trunc_normal_(module.class_embedding, mean=0.0, std=std)
        else:
            super()._init_weights(module)


def _check_pixel_values(pixel_values, config: BlipVisionConfig, interpolate_pos_encoding: bool) -> None:
    """pixel_values must be a float (b, 3, h, w) batch of the model's size (or any size with interpolation)."""
    if pixel_values is None:
        raise ValueError(
            "BLIP reads an image: pass pixel_values, the images through BlipImageProcessor()(images, "
            "return_tensors='pt') (or BlipProcessor(images=..., text=...))."
        )
    if not isinstance(pixel_values, torch.Tensor):
        raise TypeError(
            f"pixel_values must be a torch.Tensor (b, 3, h, w), got {type(pixel_values).__name__}; make it with "
            "BlipImageProcessor()(images, return_tensors='pt')."
        )
    if pixel_values.dim() != 4 or not pixel_values.is_floating_point():
        raise ValueError(
            f"pixel_values must be a float tensor of shape (batch, 3, height, width), got {pixel_values.dtype} of "
            f"shape {tuple(pixel_values.shape)}; for one image add a batch dim with pixel_values.unsqueeze(0), and "
            "let the image processor rescale bytes to floats."
        )
    _, channels, height, width = pixel_values.shape
    if channels != 3:
        raise ValueError(f"pixel_values have {channels} channels but BLIP takes 3 (RGB); convert the image to RGB "
                         "first (the image processor does, with do_convert_rgb=True).")
    size, patch = config.image_size, config.patch_size
    if interpolate_pos_encoding:
        if height < patch or width < patch:
            raise ValueError(f"the image ({height}x{width}) is smaller than one patch ({patch}x{patch}).")
    elif (height, width) != (size, size):
        raise ValueError(
            f"the image is {height}x{width} but the model was trained on {size}x{size} (image_size); resize it "
            f"(BlipImageProcessor(size={size})), or pass interpolate_pos_encoding=True to resize the position grid."
        )


class BlipVisionModel(BlipPreTrainedModel):
    """The vision tower: ``last_hidden_state`` (b, n, d) after ``post_layernorm``, ``pooler_output``
    the ``[CLS]`` row of it normalised once more (b, d)."""

    config_class = BlipVisionConfig
    main_input_name = "pixel_values"
    base_model_prefix = "vision_model"
    _final_norm = "post_layernorm"

    def __init__(self, config: BlipVisionConfig):
        super().__init__(config)
        self.embeddings = BlipVisionEmbeddings(config)
        self.encoder = BlipEncoder(config)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.hook_final = HookPoint("final", stack="vision")  # (b, n, d), normalised
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings

    def forward(self, pixel_values=None, interpolate_pos_encoding: bool = False, output_attentions=None,
                output_hidden_states=None, return_dict=None) -> BaseModelOutputWithPooling:
        config = self.config
        _check_pixel_values(pixel_values, config, interpolate_pos_encoding)
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        hidden = self.embeddings(pixel_values, interpolate_pos_encoding)  # (b, n, d)
        encoded = self.encoder(hidden, output_attentions, output_hidden_states)
        last = self.hook_final(self.post_layernorm(encoded.last_hidden_state))  # (b, n, d)
        pooled = self.post_layernorm(last[:, 0])  # (b, d): normalised a second time, as transformers
        return BaseModelOutputWithPooling(last_hidden_state=last, pooler_output=pooled,
                                          hidden_states=encoded.hidden_states, attentions=encoded.attentions)


class BlipTextPreTrainedModel(PreTrainedModel):
    config_class = BlipTextConfig
    base_model_prefix = "bert"
    _residual_stream_is_a_sum = False  # post-norm
    _keys_to_ignore_on_load_unexpected = [r"embeddings\.position_ids$"]


class BlipTextModel(BlipTextPreTrainedModel):
    """The text stack: an encoder (bidirectional; ``is_decoder=False``, the default) or a decoder
    (causal), reading ``encoder_hidden_states`` through its cross-attention when they are given.

    ``stack`` names its hook points' stack (``"text"``; the VQA answer decoder's is ``"decoder"``)."""

    def __init__(self, config: BlipTextConfig, add_pooling_layer: bool = True, stack: str = "text"):
        super().__init__(config)
        self.embeddings = BlipTextEmbeddings(config, stack)
        self.encoder = BlipTextEncoder(config, stack)
        self.pooler = BlipTextPooler(config) if add_pooling_layer else None
        self.hook_final = HookPoint("final", stack=stack)  # (b, s, d)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, inputs_embeds=None,
                encoder_hidden_states=None, encoder_attention_mask=None, past_key_values=None, use_cache=None,
                is_decoder: bool = False, output_attentions=None, output_hidden_states=None,
                return_dict=None) -> BlipTextModelOutput:
        """``attention_mask`` (b, past + s): 1 for real tokens; ``encoder_hidden_states`` (b, n, d_enc)
        the states the cross-attention reads, ``encoder_attention_mask`` (b, n) their padding."""
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        if not is_decoder:
            use_cache = False
        if use_cache and past_key_values is None:
            past_key_values = EncoderDecoderCache()
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        batch, seq = check_model_inputs(input_ids, inputs_embeds, vocab_size=config.vocab_size,
                                        hidden_size=config.hidden_size, position_ids=position_ids, past_length=past,
                                        max_positions=config.max_position_embeddings, family="BLIP's text stack")
        if encoder_hidden_states is not None:
            _check_encoder_states(encoder_hidden_states, encoder_attention_mask, batch, config)
        hidden = self.embeddings(input_ids, position_ids, inputs_embeds, past)  # (b, s, d)
        self_mask = build_attention_mask(attention_mask, seq, past + seq, causal=is_decoder, dtype=hidden.dtype,
                                         device=hidden.device)  # (b|1, 1, s|1, p)
        # transformers 5.23 accepts encoder_attention_mask but its attention layer never hands it to the
        # cross-attention, which therefore reads every encoder position; we do the same (parity). It changes
        # nothing for image states (never padded); it does for the VQA loss on padded questions.
        cross_mask = None
        cache = past_key_values if use_cache or past_key_values is not None else None
        all_hidden, self_attn, cross_attn = (), (), ()
        for layer in self.encoder.layer:
            all_hidden += (hidden,)
            hidden, self_pattern, cross_pattern = layer(hidden, self_mask, encoder_hidden_states, cross_mask, cache,
                                                        output_attentions)
            self_attn += (self_pattern,)
            cross_attn += (cross_pattern,)
        hidden = self.hook_final(hidden)  # (b, s, d)
        all_hidden += (hidden,)
        pooled = self.pooler(hidden) if self.pooler is not None else None  # (b, d)
        has_cross = encoder_hidden_states is not None
        return BlipTextModelOutput(
            last_hidden_state=hidden, pooler_output=pooled, past_key_values=cache if use_cache else None,
            hidden_states=all_hidden if output_hidden_states else None,
            attentions=self_attn if output_attentions else None,
            cross_attentions=cross_attn if output_attentions and has_cross else None,
        )


def _check_encoder_states(states, mask, batch: int, config: BlipTextConfig) -> None:
    if not isinstance(states, torch.Tensor) or states.dim() != 3 or states.shape[-1] != config.encoder_hidden_size:
        shape = tuple(states.shape) if isinstance(states, torch.Tensor) else type(states).__name__
        raise ValueError(
            f"encoder_hidden_states must be (batch, positions, {config.encoder_hidden_size}) (encoder_hidden_size: the "
            f"states the cross-attention reads, e.g. the vision tower's last_hidden_state), got {shape}."
        )
    if states.shape[0] != batch:
        raise ValueError(f"encoder_hidden_states has {states.shape[0]} rows but the text has {batch}; give each text "
                         "its own image states (repeat them for several texts of one image).")
    if mask is not None and tuple(mask.shape) != tuple(states.shape[:2]):
        raise ValueError(f"encoder_attention_mask must be {tuple(states.shape[:2])} (batch, positions of "
                         f"encoder_hidden_states), got {tuple(mask.shape)}.")


def lm_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """BLIP's decoder loss: position t predicts labels[t + 1], -100 ignored, with label smoothing."""
    shifted = logits[:, :-1].float()  # (b, s - 1, v)
    targets = labels[:, 1:].to(logits.device)  # (b, s - 1)
    return nn.functional.cross_entropy(shifted.reshape(-1, shifted.shape[-1]), targets.reshape(-1),
                                       label_smoothing=label_smoothing)


class BlipTextLMHeadModel(GenerationMixin, BlipTextPreTrainedModel):
    """The causal text decoder with its LM head (``cls``, tied to the word embeddings): the caption
    (or answer) writer. ``generate`` takes ``encoder_hidden_states=`` / ``encoder_attention_mask=``,
    the states every step reads (one copy per beam)."""

    _tied_weights_keys = {
        "cls.predictions.decoder.bias": "cls.predictions.bias",
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
    }

    def __init__(self, config: BlipTextConfig, stack: str = "text"):
        super().__init__(config)
        self.bert = BlipTextModel(config, add_pooling_layer=False, stack=stack)
        self.cls = BlipTextOnlyMLMHead(config)
        self.label_smoothing = config.label_smoothing
        self.hook_logits = HookPoint("logits", stack=stack)  # (b, s, v)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.bert.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.bert.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Linear:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

    def generation_position_limit(self) -> int:
        return self.config.max_position_embeddings

    def _new_generation_cache(self) -> EncoderDecoderCache:
        return EncoderDecoderCache()  # self-attention keys grow; the cross-attention's are kept once

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, inputs_embeds=None,
                encoder_hidden_states=None, encoder_attention_mask=None, labels=None, past_key_values=None,
                use_cache=None, return_logits: bool = False, is_decoder: bool = True, reduction: str = "mean",
                logits_to_keep: int = 0, output_attentions=None, output_hidden_states=None,
                return_dict=None) -> BlipCausalLMOutput:
        """``labels`` (b, s): the input ids themselves (-100 to skip a position); shifted inside."""
        if reduction not in ("mean", "none"):
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}.")
        if labels is not None:
            use_cache = False
        outputs = self.bert(input_ids, attention_mask, position_ids, inputs_embeds, encoder_hidden_states,
                            encoder_attention_mask, past_key_values, use_cache, is_decoder, output_attentions,
                            output_hidden_states)
        hidden = outputs.last_hidden_state  # (b, s, d)
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]  # (b, k, d)
        logits = self.hook_logits(self.cls(hidden))  # (b, s|k, v)
        if return_logits:
            return logits[:, :-1].contiguous()
        loss = None
        if labels is not None:
            if reduction == "mean":
                loss = lm_loss(logits, labels, self.label_smoothing)
            else:  # per row: the sum over its positions
                shifted = logits[:, :-1].float()  # (b, s - 1, v)
                per_token = nn.functional.cross_entropy(shifted.reshape(-1, shifted.shape[-1]),
                                                        labels[:, 1:].reshape(-1).to(logits.device),
                                                        reduction="none", label_smoothing=self.label_smoothing)
                loss = per_token.view(logits.shape[0], -1).sum(1)  # (b,)
        return BlipCausalLMOutput(loss=loss, logits=logits, past_key_values=outputs.past_key_values,
                                  hidden_states=outputs.hidden_states, attentions=outputs.attentions,
                                  cross_attentions=outputs.cross_attentions)


def _normalize(embeds: torch.Tensor) -> torch.Tensor:
    return embeds / embeds.norm(p=2, dim=-1, keepdim=True)  # (b, p), unit length


def _image_mask(image_embeds: torch.Tensor) -> torch.Tensor:
    return torch.ones(image_embeds.shape[:2], dtype=torch.long, device=image_embeds.device)  # (b, n): no padding


class BlipModel(BlipPreTrainedModel):
    """Image-text contrast (CLIP's head): the vision tower's ``pooler_output`` and the text
    stack's pooled ``[CLS]`` (bidirectional, no image), projected, normalised, compared."""

    _final_norm = {"vision": "vision_model.post_layernorm"}

    def __init__(self, config: BlipConfig):
        super().__init__(config)
        text_config, vision_config = config.text_config, config.vision_config
        self.projection_dim = config.projection_dim
        self.text_embed_dim = text_config.hidden_size
        self.vision_embed_dim = vision_config.hidden_size
        self.text_model = BlipTextModel(text_config)
        self.vision_model = BlipVisionModel(vision_config)
        self.visual_projection = nn.Linear(self.vision_embed_dim, self.projection_dim, bias=False)
        self.text_projection = nn.Linear(self.text_embed_dim, self.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init_value)))  # a log temperature
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.get_input_embeddings()

    def get_text_features(self, input_ids=None, attention_mask=None, position_ids=None, output_attentions=None,
                          output_hidden_states=None) -> BlipTextModelOutput:
        """The text stack's output with ``pooler_output`` projected: (t, p), not normalised."""
        if input_ids is None:
            raise ValueError("get_text_features needs input_ids: the texts through the BLIP tokenizer "
                             "(tokenizer(['a photo of a cat'], padding=True, return_tensors='pt')).")
        outputs = self.text_model(input_ids, attention_mask, position_ids, output_attentions=output_attentions,
                                  output_hidden_states=output_hidden_states)
        outputs.pooler_output = self.text_projection(outputs.pooler_output)  # (t, p)
        return outputs

    def get_image_features(self, pixel_values=None, interpolate_pos_encoding: bool = False, output_attentions=None,
                           output_hidden_states=None) -> BaseModelOutputWithPooling:
        """The vision tower's output with ``pooler_output`` projected: (i, p), not normalised."""
        outputs = self.vision_model(pixel_values, interpolate_pos_encoding, output_attentions, output_hidden_states)
        outputs.pooler_output = self.visual_projection(outputs.pooler_output)  # (i, p)
        return outputs

    def get_multimodal_features(self, input_ids=None, pixel_values=None, attention_mask=None,
                                interpolate_pos_encoding: bool = False) -> torch.Tensor:
        """The texts read *with* their image (the cross-attention on), pooled and projected: (b, p)."""
        image_embeds = self.vision_model(pixel_values, interpolate_pos_encoding).last_hidden_state  # (b, n, d_v)
        text = self.text_model(input_ids, attention_mask, encoder_hidden_states=image_embeds,
                               encoder_attention_mask=_image_mask(image_embeds))
        return self.text_projection(text.pooler_output)  # (b, p)

    def forward(self, input_ids=None, pixel_values=None, attention_mask=None, position_ids=None, return_loss=None,
                interpolate_pos_encoding: bool = False, output_attentions=None, output_hidden_states=None,
                return_dict=None) -> BlipOutput:
        missing = [name for name, value in (("input_ids", input_ids), ("pixel_values", pixel_values)) if value is None]
        if missing:
            raise ValueError(
                f"BlipModel compares texts with images, so it needs input_ids and pixel_values; {' and '.join(missing)} "
                "missing. For one side alone use get_text_features(input_ids) or get_image_features(pixel_values)."
            )
        if return_loss and input_ids.shape[0] != pixel_values.shape[0]:
            raise ValueError(f"return_loss=True pairs text j with image j, but there are {input_ids.shape[0]} texts "
                             f"and {pixel_values.shape[0]} images; pass one caption per image.")
        vision_outputs = self.vision_model(pixel_values, interpolate_pos_encoding, output_attentions,
                                           output_hidden_states)
        text_outputs = self.text_model(input_ids, attention_mask, position_ids, output_attentions=output_attentions,
                                       output_hidden_states=output_hidden_states)
        image_embeds = _normalize(self.visual_projection(vision_outputs.pooler_output))  # (i, p)
        text_embeds = _normalize(self.text_projection(text_outputs.pooler_output))  # (t, p)
        logits_per_text = text_embeds @ image_embeds.t() * self.logit_scale.exp()  # (t, i)
        loss = clip_loss(logits_per_text) if return_loss else None
        return BlipOutput(loss=loss, logits_per_image=logits_per_text.t(), logits_per_text=logits_per_text,
                          text_embeds=text_embeds, image_embeds=image_embeds, text_model_output=text_outputs,
                          vision_model_output=vision_outputs)


def _prompt_ids(input_ids, batch: int, bos: int, eos: int | list[int] | None, device) -> torch.Tensor:
    """The decoder's first ids: the prompt (b, s) with its first id made ``bos``, else [bos, eos] per image."""
    if isinstance(input_ids, list):
        input_ids = torch.tensor(input_ids, dtype=torch.long)
    if input_ids is None:
        end = eos[0] if isinstance(eos, (list, tuple)) else eos
        return torch.tensor([[bos, end if end is not None else bos]], device=device).repeat(batch, 1)  # (b, 2)
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.shape[1] < 2:
        shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__
        raise ValueError(
            f"input_ids (a caption prompt) must be (batch, tokens) with the tokenizer's [CLS] first and [SEP] last "
            f"(tokenizer('a picture of', return_tensors='pt').input_ids), got {shape}."
        )
    if input_ids.shape[0] != batch:
        raise ValueError(f"input_ids has {input_ids.shape[0]} prompts but there are {batch} images; pass one prompt "
                         "per image (repeat it for several images).")
    input_ids = input_ids.clone().to(device)  # transformers writes into the caller's tensor; we do not
    input_ids[:, 0] = bos  # [CLS] -> [DEC]: the decoder was trained to start there
    return input_ids


class BlipForConditionalGeneration(GenerationMixin, BlipPreTrainedModel):
    """Captioning: the vision tower and a text decoder that reads its states. ``generate(pixel_values)``
    writes a caption; with ``input_ids`` it continues that prompt ("a picture of")."""

    main_input_name = "pixel_values"
    _final_norm = {"vision": "vision_model.post_layernorm"}
    _tied_weights_keys = {
        "text_decoder.cls.predictions.decoder.bias": "text_decoder.cls.predictions.bias",
        "text_decoder.cls.predictions.decoder.weight": "text_decoder.bert.embeddings.word_embeddings.weight",
    }
    # a BlipModel checkpoint has no decoder: it is initialised (and named in a warning), as transformers does
    _keys_optional_in_checkpoint = (r"^text_decoder\.",)

    def __init__(self, config: BlipConfig):
        super().__init__(config)
        self.vision_model = BlipVisionModel(config.vision_config)
        self.text_decoder = BlipTextLMHeadModel(config.text_config)
        self.decoder_input_ids = config.text_config.bos_token_id
        self.decoder_pad_token_id = config.text_config.pad_token_id
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.text_decoder.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.text_decoder.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Linear:
        return self.text_decoder.get_output_embeddings()

    def forward(self, pixel_values=None, input_ids=None, attention_mask=None, labels=None,
                interpolate_pos_encoding: bool = False, logits_to_keep: int = 0, output_attentions=None,
                output_hidden_states=None, return_dict=None) -> BlipForConditionalGenerationModelOutput:
        """The caption's ``input_ids`` are fed as they are (transformers does not swap [CLS] for [DEC]
        here; ``generate`` does). ``labels`` (b, s): usually the input ids, -100 at padding."""
        _check_pixel_values(pixel_values, self.config.vision_config, interpolate_pos_encoding)
        if input_ids is None:
            raise ValueError(
                "BlipForConditionalGeneration's forward scores a caption, so it needs input_ids (the caption through "
                "the tokenizer) as well as pixel_values; to write a caption call model.generate(pixel_values)."
            )
        vision_outputs = self.vision_model(pixel_values, interpolate_pos_encoding, output_attentions,
                                           output_hidden_states)
        image_embeds = vision_outputs.last_hidden_state  # (b, n, d_v)
        outputs = self.text_decoder(input_ids, attention_mask, encoder_hidden_states=image_embeds, labels=labels,
                                    reduction="mean", logits_to_keep=logits_to_keep,
                                    output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        return BlipForConditionalGenerationModelOutput(
            loss=outputs.loss, logits=outputs.logits, image_embeds=image_embeds, last_hidden_state=image_embeds,
            hidden_states=vision_outputs.hidden_states, attentions=vision_outputs.attentions)

    @torch.no_grad()
    def generate(self, pixel_values=None, input_ids=None, attention_mask=None, interpolate_pos_encoding: bool = False,
                 **generate_kwargs: Any):
        """Caption each image (b, 3, h, w): token ids (b, 1 + prompt + new), start token and prompt included
        (decode with ``skip_special_tokens=True``). ``input_ids`` / ``attention_mask``: a prompt as the
        tokenizer gives it. Any ``generate`` argument passes through (``max_new_tokens``, ``num_beams`` ...)."""
        _check_pixel_values(pixel_values, self.config.vision_config, interpolate_pos_encoding)
        text_config = self.config.text_config
        image_embeds = self.vision_model(pixel_values, interpolate_pos_encoding).last_hidden_state  # (b, n, d_v)
        prompt = _prompt_ids(input_ids, image_embeds.shape[0], text_config.bos_token_id, text_config.eos_token_id,
                             image_embeds.device)  # (b, s)
        if attention_mask is not None:
            attention_mask = attention_mask[:, :-1]  # the dropped [SEP] goes with its mask column
        settings = {"eos_token_id": text_config.sep_token_id, "pad_token_id": text_config.pad_token_id,
                    **generate_kwargs}
        return self.text_decoder.generate(prompt[:, :-1], attention_mask=attention_mask,
                                          encoder_hidden_states=image_embeds,
                                          encoder_attention_mask=_image_mask(image_embeds), **settings)


class BlipForQuestionAnswering(GenerationMixin, BlipPreTrainedModel):
    """Visual question answering: the question encoder reads the image, the answer decoder reads the
    question's states. ``generate(input_ids, pixel_values)`` writes the answer."""

    _final_norm = {"vision": "vision_model.post_layernorm"}
    _tied_weights_keys = {
        "text_decoder.cls.predictions.decoder.bias": "text_decoder.cls.predictions.bias",
        "text_decoder.cls.predictions.decoder.weight": "text_decoder.bert.embeddings.word_embeddings.weight",
    }
    _keys_optional_in_checkpoint = (r"^text_encoder\.", r"^text_decoder\.")  # a BlipModel checkpoint has neither

    def __init__(self, config: BlipConfig):
        text_config, vision_config = config.text_config, config.vision_config
        if text_config.hidden_size != text_config.encoder_hidden_size:
            raise ValueError(
                f"BlipForQuestionAnswering's answer decoder reads the question encoder's states (width "
                f"{text_config.hidden_size}) through cross-attention projections built for encoder_hidden_size="
                f"{text_config.encoder_hidden_size} (the vision tower's hidden_size, {vision_config.hidden_size}): "
                "the two widths must match. Give text_config and vision_config the same hidden_size."
            )
        super().__init__(config)
        self.vision_model = BlipVisionModel(vision_config)
        self.text_encoder = BlipTextModel(text_config, add_pooling_layer=False, stack="text")
        self.text_decoder = BlipTextLMHeadModel(text_config, stack="decoder")
        self.decoder_pad_token_id = text_config.pad_token_id
        self.decoder_start_token_id = text_config.bos_token_id
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.text_encoder.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.text_encoder.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Linear:
        return self.text_decoder.get_output_embeddings()

    def _encode_question(self, input_ids, pixel_values, attention_mask, interpolate_pos_encoding,
                         output_attentions=None, output_hidden_states=None):
        """(vision outputs, the question's states (b, s, d)) : the question read with the image."""
        _check_pixel_values(pixel_values, self.config.vision_config, interpolate_pos_encoding)
        if input_ids is None:
            raise ValueError(
                "BlipForQuestionAnswering needs the question: input_ids from the tokenizer "
                "(processor(images=image, text='how many cats?', return_tensors='pt'))."
            )
        if isinstance(input_ids, list):
            input_ids = torch.tensor(input_ids, dtype=torch.long)
        vision_outputs = self.vision_model(pixel_values, interpolate_pos_encoding, output_attentions,
                                           output_hidden_states)
        image_embeds = vision_outputs.last_hidden_state  # (b, n, d_v)
        question = self.text_encoder(input_ids, attention_mask, encoder_hidden_states=image_embeds,
                                     encoder_attention_mask=_image_mask(image_embeds))
        return vision_outputs, question.last_hidden_state  # (b, s, d)

    def forward(self, input_ids=None, pixel_values=None, decoder_input_ids=None, decoder_attention_mask=None,
                attention_mask=None, labels=None, interpolate_pos_encoding: bool = False, output_attentions=None,
                output_hidden_states=None, return_dict=None) -> BlipTextVisionModelOutput:
        """``labels`` (b, t): the answer's ids, fed to the decoder as they are (they are its input, shifted
        inside the loss); ``decoder_input_ids`` instead of them for a forward without a loss."""
        if labels is None and decoder_input_ids is None:
            raise ValueError(
                "BlipForQuestionAnswering's forward needs the answer: labels= (the answer's ids, to train) or "
                "decoder_input_ids=; to answer a question call model.generate(input_ids=..., pixel_values=...)."
            )
        if labels is not None and bool((labels < 0).any()) and decoder_input_ids is None:
            raise ValueError(
                "labels hold negative ids (-100?), but BLIP's VQA model feeds its labels to the answer decoder as "
                "token ids (as transformers does); pad the answers with the pad token id, or pass "
                "decoder_input_ids separately."
            )
        vision_outputs, question = self._encode_question(input_ids, pixel_values, attention_mask,
                                                         interpolate_pos_encoding, output_attentions,
                                                         output_hidden_states)
        if decoder_input_ids is None:
            decoder_input_ids = labels  # already shifted right, as transformers says (#23153)
        answer = self.text_decoder(decoder_input_ids, decoder_attention_mask, encoder_hidden_states=question,
                                   encoder_attention_mask=attention_mask, labels=labels, reduction="mean")
        loss = answer.loss.mean() if labels is not None else None
        return BlipTextVisionModelOutput(loss=loss, image_embeds=vision_outputs.last_hidden_state,
                                         last_hidden_state=vision_outputs.last_hidden_state,
                                         hidden_states=vision_outputs.hidden_states,
                                         attentions=vision_outputs.attentions)

    @torch.no_grad()
    def generate(self, input_ids=None, pixel_values=None, attention_mask=None, interpolate_pos_encoding: bool = False,
                 **generate_kwargs: Any):
        """Answer each question about its image: token ids (b, 1 + new), the start token first. The
        answer reads every question position (transformers' all-ones mask, padding included)."""
        _, question = self._encode_question(input_ids, pixel_values, attention_mask, interpolate_pos_encoding)
        start = torch.full((question.shape[0], 1), self.decoder_start_token_id, dtype=torch.long,
                           device=question.device)  # (b, 1)
        settings = {"eos_token_id": self.config.text_config.sep_token_id,
                    "pad_token_id": self.config.text_config.pad_token_id, **generate_kwargs}
        return self.text_decoder.generate(start, encoder_hidden_states=question,
                                          encoder_attention_mask=_image_mask(question), **settings)


# -- preprocessing --------------------------------------------------------------------------------


class BlipImageProcessor(BaseImageProcessor):
    """BLIP's preprocessing, transformers' defaults: RGB, resized (bicubic) to 384 x 384 with no
    crop, bytes to [0, 1], normalised with OpenAI CLIP's mean and std."""

    resample = 3  # PIL's BICUBIC
    image_mean = OPENAI_CLIP_MEAN
    image_std = OPENAI_CLIP_STD
    size = {"height": 384, "width": 384}
    default_to_square = True
    do_resize = True
    do_rescale = True
    do_normalize = True
    do_convert_rgb = True


class BlipProcessor(ProcessorMixin):
    """The image processor and the (BERT) tokenizer in one object:
    ``processor(images=image, text="a picture of", return_tensors="pt")`` gives ``pixel_values``,
    ``input_ids`` and ``attention_mask`` (no ``token_type_ids``: BLIP's text has none)."""

    attributes = ["image_processor", "tokenizer"]

    def __call__(self, images=None, text=None, audio=None, *, return_tensors: str | None = None,
                 text_kwargs: dict[str, Any] | None = None, **kwargs: Any):
        text_kwargs = {"return_token_type_ids": False, **(text_kwargs or {})}
        return super().__call__(images, text, audio, return_tensors=return_tensors, text_kwargs=text_kwargs, **kwargs)


__all__ = [
    "BlipConfig",
    "BlipTextConfig",
    "BlipVisionConfig",
    "BlipOutput",
    "BlipForConditionalGenerationModelOutput",
    "BlipTextVisionModelOutput",
    "BlipTextModelOutput",
    "BlipCausalLMOutput",
    "BlipPreTrainedModel",
    "BlipTextPreTrainedModel",
    "BlipVisionModel",
    "BlipTextModel",
    "BlipTextLMHeadModel",
    "BlipModel",
    "BlipForConditionalGeneration",
    "BlipForQuestionAnswering",
    "BlipImageProcessor",
    "BlipProcessor",
]
