"""CLIP (Radford et al., 2021, "Learning Transferable Visual Models From Natural Language
Supervision"), with Hugging Face's module tree and parameter names.

    text   ─► token_embedding + position_embedding ─► [ layer × N, causal ] ─► final_layer_norm
           ─► the state at each text's end-of-text token ─► text_projection ─► text_embeds ─┐
    image  ─► patch_embedding (a strided conv) ─► [CLS] + patches + position_embedding      │ cosine
           ─► pre_layrnorm ─► [ layer × M ] ─► post_layernorm([CLS]) ─► visual_projection    │ × exp(logit_scale)
                                                                        ─► image_embeds ───┘ ─► logits_per_image

Two transformers, one for each modality, trained together so that an image and its caption land
on nearby directions of one shared space. A batch of n (image, caption) pairs gives an n x n
table of cosine similarities; training (``return_loss=True``) pushes the diagonal up with a
cross-entropy over rows (each image picks its caption) and over columns (each caption picks its
image). At inference the same table does zero-shot classification: one row per image, one column
per candidate caption ("a photo of a cat", "a photo of a dog"), softmax over the columns.

Both towers use the same pre-norm block (``x = x + attn(LN1(x)); x = x + fc2(act(fc1(LN2(x))))``,
activation ``quick_gelu``: ``x * sigmoid(1.702 x)``) and the same attention as every other family;
they differ in how they feed it:

* **Text**: BPE tokens (``CLIPTokenizer``: lower-cased, ``</w>`` marks a word's end, the text
  wrapped in ``<|startoftext|> ... <|endoftext|>``) plus learned positions (77 of them). The
  attention is **causal** (GPT-2's mask, inherited from the original code) plus the padding mask,
  so the last token, ``<|endoftext|>``, is the only one that has seen the whole text: its state
  (after ``final_layer_norm``) is the text's summary. Which position that is follows
  transformers' rule: with ``eos_token_id == 2`` (configs saved before transformers' fix) the
  position of the largest id in each row (the end-of-text token has the largest id in CLIP's
  vocabulary), otherwise the first position holding ``eos_token_id``.
* **Vision**: ViT's patches (a ``patch_size`` conv with stride ``patch_size``, no bias), a learned
  ``class_embedding`` in front and learned positions, then one extra LayerNorm *before* the blocks
  (``pre_layrnorm``, sic: the name is a typo kept from the checkpoints). The summary is the
  ``[CLS]`` state after ``post_layernorm``; ``last_hidden_state`` itself is not normalised.
  ``interpolate_pos_encoding=True`` resizes the position grid (bicubic) for other image sizes.
* **The head**: two bias-free projections into ``projection_dim``, both embeddings L2-normalised,
  and a learned temperature: ``logit_scale`` is a log, ``exp(logit_scale)`` multiplies the
  cosines (initialised to ``log(1 / 0.07)`` = 2.6592).

One ``CLIPModel`` holds both towers as ``text_model`` (a ``CLIPTextModel``) and ``vision_model``
(a ``CLIPVisionModel``), each usable alone; ``CLIPTextModelWithProjection`` and
``CLIPVisionModelWithProjection`` add one tower's projection (e.g. Stable Diffusion's text encoder).

Shapes: b=batch (texts or images), i=images, t=texts, s=text positions, n=patches + 1 ([CLS]),
d=hidden size (per tower), h=heads, e=d/h, m=intermediate size, p=projection_dim, c=channels.

Hook points, on the stacks ``"text"`` and ``"vision"`` (``cache["pattern", 0, "vision"]`` on a
``CLIPModel``, where leaving the stack out is an error; a tower alone has just its own stack):
``embed`` (token embeddings / ``[CLS]`` + patch embeddings), ``pos_embed``, per layer ``resid_pre``,
``q`` / ``k`` / ``v``, ``scores``, ``pattern``, ``z``, ``attn_out``, ``resid_mid``, ``mlp_pre``,
``mlp_post``, ``mlp_out``, ``resid_post``, and ``final`` (the tower's ``last_hidden_state``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..configuration import PretrainedConfig
from ..heads import check_input_ids, sequence_classification_loss
from ..hooks import HookPoint
from ..layers import attend, build_attention_mask, get_activation
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutput, BaseModelOutputWithPooling, ImageClassifierOutput, ModelOutput, Tensor, Tensors
from ..processing import BaseImageProcessor, ProcessorMixin

OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


# -- configs ------------------------------------------------------------------------------------


def _check_heads(name: str, hidden_size: int, heads: int) -> None:
    if hidden_size % heads:
        raise ValueError(
            f"{name}: hidden_size ({hidden_size}) must be divisible by num_attention_heads ({heads}): each head gets "
            f"hidden_size / heads dimensions. Pick e.g. num_attention_heads={math.gcd(hidden_size, heads)}."
        )


class CLIPTextConfig(PretrainedConfig):
    """The text tower's hyper-parameters, with transformers' names and defaults (clip-vit-base-patch32)."""

    model_type = "clip_text_model"
    base_config_key = "text_config"

    def __init__(
        self,
        vocab_size: int = 49408,
        hidden_size: int = 512,
        intermediate_size: int = 2048,
        projection_dim: int = 512,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 8,
        max_position_embeddings: int = 77,
        hidden_act: str = "quick_gelu",
        layer_norm_eps: float = 1e-5,
        attention_dropout: float = 0.0,
        initializer_range: float = 0.02,
        initializer_factor: float = 1.0,
        pad_token_id: int | None = 1,  # transformers' default, not the tokenizer's (which pads with eos)
        bos_token_id: int | None = 49406,
        eos_token_id: int | None = 49407,
        **kwargs,
    ):
        _check_heads("CLIPTextConfig", hidden_size, num_attention_heads)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.projection_dim = projection_dim
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.max_position_embeddings = max_position_embeddings
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        self.initializer_factor = initializer_factor
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)


class CLIPVisionConfig(PretrainedConfig):
    """The vision tower's hyper-parameters, with transformers' names and defaults (ViT-B/32 at 224)."""

    model_type = "clip_vision_model"
    base_config_key = "vision_config"

    def __init__(
        self,
        hidden_size: int = 768,
        intermediate_size: int = 3072,
        projection_dim: int = 512,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        num_channels: int = 3,
        image_size: int = 224,
        patch_size: int = 32,
        hidden_act: str = "quick_gelu",
        layer_norm_eps: float = 1e-5,
        attention_dropout: float = 0.0,
        initializer_range: float = 0.02,
        initializer_factor: float = 1.0,
        **kwargs,
    ):
        _check_heads("CLIPVisionConfig", hidden_size, num_attention_heads)
        if image_size % patch_size:
            raise ValueError(
                f"image_size ({image_size}) must be a multiple of patch_size ({patch_size}): the patches tile the image."
            )
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.projection_dim = projection_dim
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_channels = num_channels
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        self.initializer_factor = initializer_factor
        super().__init__(**kwargs)


class CLIPConfig(PretrainedConfig):
    """Both towers' configs (``text_config``, ``vision_config``: a config, a dict or None for the
    defaults) plus the shared space: ``projection_dim`` and the temperature's starting value."""

    model_type = "clip"
    sub_configs = {"text_config": CLIPTextConfig, "vision_config": CLIPVisionConfig}

    def __init__(
        self,
        text_config: CLIPTextConfig | dict | None = None,
        vision_config: CLIPVisionConfig | dict | None = None,
        projection_dim: int = 512,
        logit_scale_init_value: float = 2.6592,
        initializer_factor: float = 1.0,
        **kwargs,
    ):
        self.projection_dim = projection_dim
        self.logit_scale_init_value = logit_scale_init_value
        self.initializer_factor = initializer_factor
        super().__init__(text_config=text_config, vision_config=vision_config, **kwargs)


# -- outputs ------------------------------------------------------------------------------------


@dataclass
class CLIPOutput(ModelOutput):
    """What ``CLIPModel`` returns (transformers' field names)."""

    loss: Tensor = None  # the contrastive loss, with return_loss=True
    logits_per_image: Tensor = None  # (i, t) exp(logit_scale) * cosine similarity
    logits_per_text: Tensor = None  # (t, i) its transpose
    text_embeds: Tensor = None  # (t, p) projected and L2-normalised
    image_embeds: Tensor = None  # (i, p) projected and L2-normalised
    text_model_output: BaseModelOutputWithPooling = None
    vision_model_output: BaseModelOutputWithPooling = None

    def to_tuple(self) -> tuple:
        return tuple(v.to_tuple() if isinstance(v, ModelOutput) else v for v in self.values())


@dataclass
class CLIPTextModelOutput(ModelOutput):
    text_embeds: Tensor = None  # (b, p), projected (not normalised)
    last_hidden_state: Tensor = None
    hidden_states: Tensors = None
    attentions: Tensors = None


@dataclass
class CLIPVisionModelOutput(ModelOutput):
    image_embeds: Tensor = None  # (b, p), projected (not normalised)
    last_hidden_state: Tensor = None
    hidden_states: Tensors = None
    attentions: Tensors = None


# -- the shared block -----------------------------------------------------------------------------


class CLIPAttention(nn.Module):
    """Multi-head self-attention with four projections; causal in the text tower."""

    def __init__(self, config: CLIPTextConfig | CLIPVisionConfig, layer_idx: int, stack: str):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = self.embed_dim // self.num_heads
        self.scale = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.hook_q = HookPoint("q", layer_idx, stack)  # (b, h, s, e)
        self.hook_k = HookPoint("k", layer_idx, stack)  # (b, h, s, e)
        self.hook_v = HookPoint("v", layer_idx, stack)  # (b, h, s, e)
        self.hook_scores = HookPoint("scores", layer_idx, stack)  # (b, h, s, s)
        self.hook_pattern = HookPoint("pattern", layer_idx, stack)  # (b, h, s, s)
        self.hook_z = HookPoint("z", layer_idx, stack)  # (b, h, s, e)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)  # (b, h, s, e)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool = False):
        batch, seq, d = hidden.shape  # (b, s, d)
        query = self.hook_q(self._split_heads(self.q_proj(hidden)))  # (b, h, s, e)
        key = self.hook_k(self._split_heads(self.k_proj(hidden)))
        value = self.hook_v(self._split_heads(self.v_proj(hidden)))
        z, pattern = attend(query, key, value, mask, scale=self.scale, dropout=self.dropout if self.training else 0.0,
                            hook_scores=self.hook_scores, hook_pattern=self.hook_pattern,
                            need_weights=output_attentions)
        z = self.hook_z(z)  # (b, h, s, e)
        return self.out_proj(z.transpose(1, 2).reshape(batch, seq, d)), pattern  # (b, s, d)


class CLIPMLP(nn.Module):
    """fc1 -> quick_gelu -> fc2."""

    def __init__(self, config: CLIPTextConfig | CLIPVisionConfig, layer_idx: int, stack: str):
        super().__init__()
        self.activation_fn = get_activation(config.hidden_act)
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)
        self.hook_mlp_pre = HookPoint("mlp_pre", layer_idx, stack)  # (b, s, m)
        self.hook_mlp_post = HookPoint("mlp_post", layer_idx, stack)  # (b, s, m)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        inner = self.hook_mlp_post(self.activation_fn(self.hook_mlp_pre(self.fc1(hidden))))  # (b, s, m)
        return self.fc2(inner)  # (b, s, d)


class CLIPEncoderLayer(nn.Module):
    """Pre-norm: x = x + attn(LN1(x)); x = x + mlp(LN2(x))."""

    def __init__(self, config: CLIPTextConfig | CLIPVisionConfig, layer_idx: int, stack: str):
        super().__init__()
        self.self_attn = CLIPAttention(config, layer_idx, stack)
        self.layer_norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = CLIPMLP(config, layer_idx, stack)
        self.layer_norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.hook_resid_pre = HookPoint("resid_pre", layer_idx, stack)  # (b, s, d)
        self.hook_attn_out = HookPoint("attn_out", layer_idx, stack)  # (b, s, d)
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx, stack)  # (b, s, d)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx, stack)  # (b, s, d)
        self.hook_resid_post = HookPoint("resid_post", layer_idx, stack)  # (b, s, d)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool = False):
        hidden = self.hook_resid_pre(hidden)
        attn_out, pattern = self.self_attn(self.layer_norm1(hidden), mask, output_attentions)
        hidden = self.hook_resid_mid(hidden + self.hook_attn_out(attn_out))
        hidden = hidden + self.hook_mlp_out(self.mlp(self.layer_norm2(hidden)))
        return self.hook_resid_post(hidden), pattern


class CLIPEncoder(nn.Module):
    """The stack of layers; hidden_states are each layer's input, then the last layer's output."""

    def __init__(self, config: CLIPTextConfig | CLIPVisionConfig, stack: str):
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(config, i, stack) for i in range(config.num_hidden_layers)])

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> BaseModelOutput:
        all_hidden, all_attn = (), ()
        for layer in self.layers:
            all_hidden += (hidden,)
            hidden, pattern = layer(hidden, mask, output_attentions)
            all_attn += (pattern,)
        all_hidden += (hidden,)
        return BaseModelOutput(last_hidden_state=hidden, hidden_states=all_hidden if output_hidden_states else None,
                               attentions=all_attn if output_attentions else None)


# -- embeddings -----------------------------------------------------------------------------------


class CLIPTextEmbeddings(nn.Module):
    """Token embeddings plus learned absolute positions."""

    def __init__(self, config: CLIPTextConfig):
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embedding = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.register_buffer("position_ids", torch.arange(config.max_position_embeddings)[None], persistent=False)
        self.hook_embed = HookPoint("embed", stack="text")  # (b, s, d)
        self.hook_pos_embed = HookPoint("pos_embed", stack="text")  # (1|b, s, d)

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor | None = None) -> torch.Tensor:
        if position_ids is None:
            position_ids = self.position_ids[:, : input_ids.shape[1]]  # (1, s)
        return self.hook_embed(self.token_embedding(input_ids)) + self.hook_pos_embed(
            self.position_embedding(position_ids))  # (b, s, d)


class CLIPVisionEmbeddings(nn.Module):
    """Patches by a strided conv, the ``[CLS]`` vector in front, learned positions added."""

    def __init__(self, config: CLIPVisionConfig):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.image_size = config.image_size
        self.patch_size = config.patch_size
        self.class_embedding = nn.Parameter(torch.randn(self.embed_dim))
        self.patch_embedding = nn.Conv2d(config.num_channels, self.embed_dim, kernel_size=self.patch_size,
                                         stride=self.patch_size, bias=False)
        self.num_patches = (self.image_size // self.patch_size) ** 2
        self.num_positions = self.num_patches + 1
        self.position_embedding = nn.Embedding(self.num_positions, self.embed_dim)
        self.register_buffer("position_ids", torch.arange(self.num_positions)[None], persistent=False)
        self.hook_embed = HookPoint("embed", stack="vision")  # (b, n, d): [CLS] then the patches, row by row
        self.hook_pos_embed = HookPoint("pos_embed", stack="vision")  # (1, n, d)

    def interpolate_pos_encoding(self, height: int, width: int) -> torch.Tensor:
        """The learned (grid x grid) patch positions resized (bicubic) to the patch grid of an
        image of ``height`` x ``width``; the ``[CLS]`` position is kept. Returns (1, n, d)."""
        table = self.position_embedding.weight[None]  # (1, 1 + g*g, d)
        grid = int(math.sqrt(self.num_patches))
        new_height, new_width = height // self.patch_size, width // self.patch_size
        if new_height == new_width == grid:
            return table
        patches = table[:, 1:].reshape(1, grid, grid, self.embed_dim).permute(0, 3, 1, 2)  # (1, d, g, g)
        patches = nn.functional.interpolate(patches, size=(new_height, new_width), mode="bicubic",
                                            align_corners=False)  # (1, d, h', w')
        patches = patches.permute(0, 2, 3, 1).reshape(1, new_height * new_width, self.embed_dim)  # (1, h'*w', d)
        return torch.cat([table[:, :1], patches], dim=1)  # (1, n, d)

    def forward(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        batch, _, height, width = pixel_values.shape
        patches = self.patch_embedding(pixel_values.to(self.patch_embedding.weight.dtype))  # (b, d, h/P, w/P)
        patches = patches.flatten(2).transpose(1, 2)  # (b, n - 1, d)
        cls = self.class_embedding.expand(batch, 1, -1)  # (b, 1, d)
        embedded = self.hook_embed(torch.cat([cls, patches], dim=1))  # (b, n, d)
        if interpolate_pos_encoding:
            positions = self.interpolate_pos_encoding(height, width)  # (1, n, d)
        else:
            positions = self.position_embedding(self.position_ids)  # (1, n, d)
        return embedded + self.hook_pos_embed(positions)


# -- the models -----------------------------------------------------------------------------------


class CLIPPreTrainedModel(PreTrainedModel):
    config_class = CLIPConfig
    base_model_prefix = "clip"
    _residual_stream_is_a_sum = False  # the vision tower normalises its embeddings (pre_layrnorm) first

    def _init_weights(self, module: nn.Module) -> None:
        """CLIP's initialisation (as transformers'), scaled by ``initializer_factor``."""
        config = self.config
        factor = config.initializer_factor
        if isinstance(module, CLIPTextEmbeddings):
            nn.init.normal_(module.token_embedding.weight, std=0.02 * factor)
            nn.init.normal_(module.position_embedding.weight, std=0.02 * factor)
        elif isinstance(module, CLIPVisionEmbeddings):
            std = getattr(config, "vision_config", config).initializer_range * factor
            nn.init.normal_(module.class_embedding, std=module.embed_dim**-0.5 * factor)
            nn.init.normal_(module.patch_embedding.weight, std=std)
            nn.init.normal_(module.position_embedding.weight, std=std)
        elif isinstance(module, (CLIPAttention, CLIPMLP)):
            width = module.fc1.in_features if isinstance(module, CLIPMLP) else module.embed_dim
            layers = _layers_around(self, module)
            inner_std = width**-0.5 * (2 * layers) ** -0.5 * factor
            if isinstance(module, CLIPAttention):
                for projection in (module.q_proj, module.k_proj, module.v_proj):
                    nn.init.normal_(projection.weight, std=inner_std)
                nn.init.normal_(module.out_proj.weight, std=width**-0.5 * factor)
            else:
                nn.init.normal_(module.fc1.weight, std=(2 * width) ** -0.5 * factor)
                nn.init.normal_(module.fc2.weight, std=inner_std)
            for linear in module.children():
                if isinstance(linear, nn.Linear):
                    nn.init.zeros_(linear.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):  # the projections and the heads
            # transformers first runs its generic init (a normal draw), then the one below: the first
            # draw is overwritten but moves the generator, so a new head gets transformers' values.
            nn.init.normal_(module.weight, std=1.0)  # any std: only the draws it uses matter
            nn.init.normal_(module.weight, std=module.in_features**-0.5 * factor)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def _layers_around(model: nn.Module, module: nn.Module) -> int:
    """The number of layers of the tower ``module`` sits in (its std depends on it)."""
    for tower in model.modules():
        if isinstance(tower, CLIPEncoder) and any(m is module for m in tower.modules()):
            return len(tower.layers)
    return 1


def _check_pixel_values(pixel_values, config: CLIPVisionConfig, interpolate_pos_encoding: bool) -> None:
    """pixel_values must be a float (b, c, h, w) batch with the model's channels and size."""
    if not isinstance(pixel_values, torch.Tensor):
        raise TypeError(
            f"pixel_values must be a torch.Tensor (b, c, h, w), got {type(pixel_values).__name__}; make it with "
            "CLIPImageProcessor()(images, return_tensors='pt')."
        )
    if pixel_values.dim() != 4 or not pixel_values.is_floating_point():
        raise ValueError(
            f"pixel_values must be a float tensor of shape (batch, {config.num_channels}, height, width), got "
            f"{pixel_values.dtype} of shape {tuple(pixel_values.shape)}; for one image add a batch dim with "
            "pixel_values.unsqueeze(0), and let the image processor rescale bytes to floats."
        )
    _, channels, height, width = pixel_values.shape
    if channels != config.num_channels:
        raise ValueError(
            f"pixel_values have {channels} channels but the model takes {config.num_channels} (num_channels); "
            "convert the image to RGB first (the image processor does, with do_convert_rgb=True)."
        )
    size = config.image_size
    if interpolate_pos_encoding:
        if height < config.patch_size or width < config.patch_size:
            raise ValueError(
                f"the image ({height}x{width}) is smaller than one patch ({config.patch_size}x{config.patch_size})."
            )
    elif (height, width) != (size, size):
        raise ValueError(
            f"the image is {height}x{width} but the model was trained on {size}x{size} (image_size); resize it "
            f"(CLIPImageProcessor(crop_size={size})), or pass interpolate_pos_encoding=True to resize the position "
            "grid to this size."
        )


class CLIPTextModel(CLIPPreTrainedModel):
    """The text tower without a projection: ``pooler_output`` is each text's end-of-text state (b, d)."""

    config_class = CLIPTextConfig
    base_model_prefix = "text_model"  # older checkpoints kept the tower under text_model.*: they load too
    _residual_stream_is_a_sum = True  # pre-norm, positions added: the stream is the sum of its parts
    _final_norm = "final_layer_norm"

    def __init__(self, config: CLIPTextConfig):
        super().__init__(config)
        self.embeddings = CLIPTextEmbeddings(config)
        self.encoder = CLIPEncoder(config, "text")
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.hook_final = HookPoint("final", stack="text")  # (b, s, d)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.token_embedding

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.token_embedding = value

    def _eos_positions(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(b,) the position each text is read at (see the module docstring for the rule)."""
        eos = self.config.eos_token_id
        if eos == 2:  # configs saved before transformers fixed eos_token_id: the largest id is <|endoftext|>
            return input_ids.to(torch.int).argmax(dim=-1)
        is_eos = input_ids == eos  # (b, s)
        missing = (~is_eos.any(dim=-1)).nonzero().flatten().tolist()
        if missing:
            raise ValueError(
                f"row(s) {missing} of input_ids hold no end-of-text token (eos_token_id={eos}), the position CLIP reads "
                "each text at; tokenize with the CLIP tokenizer, which ends every text with <|endoftext|> (keep it "
                "when truncating: tokenizer(..., truncation=True) does)."
            )
        return is_eos.to(torch.int).argmax(dim=-1)  # the first one (padding may repeat the token)

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, output_attentions=None,
                output_hidden_states=None, return_dict=None) -> BaseModelOutputWithPooling:
        config = self.config
        if input_ids is None:
            raise ValueError(
                "CLIP's text tower needs input_ids (token ids from the CLIP tokenizer: tokenizer(texts, padding=True, "
                "return_tensors='pt')); it reads each text at its end-of-text token, so it takes no inputs_embeds."
            )
        check_input_ids(input_ids, max_positions=config.max_position_embeddings, vocab_size=config.vocab_size)
        positions = self._eos_positions(input_ids)  # (b,), checked before any work
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        batch, seq = input_ids.shape
        hidden = self.embeddings(input_ids, position_ids)  # (b, s, d)
        mask = build_attention_mask(attention_mask, seq, seq, causal=True, dtype=hidden.dtype,
                                    device=hidden.device)  # (b|1, 1, s, s)
        encoded = self.encoder(hidden, mask, output_attentions, output_hidden_states)
        last = self.hook_final(self.final_layer_norm(encoded.last_hidden_state))  # (b, s, d)
        pooled = last[torch.arange(batch, device=last.device), positions.to(last.device)]  # (b, d)
        return BaseModelOutputWithPooling(last_hidden_state=last, pooler_output=pooled,
                                          hidden_states=encoded.hidden_states, attentions=encoded.attentions)


class CLIPVisionModel(CLIPPreTrainedModel):
    """The vision tower without a projection: ``pooler_output`` is the normalised ``[CLS]`` state (b, d)."""

    config_class = CLIPVisionConfig
    main_input_name = "pixel_values"
    base_model_prefix = "vision_model"  # older checkpoints kept the tower under vision_model.*: they load too

    def __init__(self, config: CLIPVisionConfig):
        super().__init__(config)
        self.embeddings = CLIPVisionEmbeddings(config)
        self.pre_layrnorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.encoder = CLIPEncoder(config, "vision")
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.hook_final = HookPoint("final", stack="vision")  # (b, n, d), not normalised
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embedding

    def forward(self, pixel_values=None, interpolate_pos_encoding: bool = False, output_attentions=None,
                output_hidden_states=None, return_dict=None) -> BaseModelOutputWithPooling:
        config = self.config
        if pixel_values is None:
            raise ValueError("CLIP's vision tower needs pixel_values: CLIPImageProcessor()(images, return_tensors='pt').")
        _check_pixel_values(pixel_values, config, interpolate_pos_encoding)
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        hidden = self.pre_layrnorm(self.embeddings(pixel_values, interpolate_pos_encoding))  # (b, n, d)
        encoded = self.encoder(hidden, None, output_attentions, output_hidden_states)
        last = self.hook_final(encoded.last_hidden_state)  # (b, n, d)
        pooled = self.post_layernorm(last[:, 0])  # (b, d): the [CLS] state
        return BaseModelOutputWithPooling(last_hidden_state=last, pooler_output=pooled,
                                          hidden_states=encoded.hidden_states, attentions=encoded.attentions)


def _normalize(embeds: torch.Tensor) -> torch.Tensor:
    return embeds / embeds.pow(2).sum(dim=-1, keepdim=True).sqrt()  # (b, p), unit length


def clip_loss(logits_per_text: torch.Tensor) -> torch.Tensor:
    """The symmetric contrastive loss: text j should pick image j (rows) and image j text j (columns)."""
    targets = torch.arange(logits_per_text.shape[0], device=logits_per_text.device)  # (t,): the diagonal
    caption_loss = nn.functional.cross_entropy(logits_per_text, targets)
    image_loss = nn.functional.cross_entropy(logits_per_text.t(), targets)
    return (caption_loss + image_loss) / 2.0


class CLIPModel(CLIPPreTrainedModel):
    """Both towers, their projections and the temperature: image-text similarities (and the loss)."""

    _final_norm = {"text": "text_model.final_layer_norm"}  # the vision tower's "final" is not normalised

    def __init__(self, config: CLIPConfig):
        super().__init__(config)
        text_config, vision_config = config.text_config, config.vision_config
        self.projection_dim = config.projection_dim
        self.text_embed_dim = text_config.hidden_size
        self.vision_embed_dim = vision_config.hidden_size
        self.text_model = CLIPTextModel(text_config)
        self.vision_model = CLIPVisionModel(vision_config)
        self.visual_projection = nn.Linear(self.vision_embed_dim, self.projection_dim, bias=False)
        self.text_projection = nn.Linear(self.text_embed_dim, self.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init_value)))  # a log temperature
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.get_input_embeddings()

    def get_text_features(self, input_ids=None, attention_mask=None, position_ids=None, output_attentions=None,
                          output_hidden_states=None) -> BaseModelOutputWithPooling:
        """The text tower's output with ``pooler_output`` projected: (t, p), not normalised (transformers 5)."""
        if input_ids is None:
            raise ValueError(
                "get_text_features needs input_ids: the candidate texts, tokenized with the CLIP tokenizer "
                "(tokenizer(['a photo of a cat', 'a photo of a dog'], padding=True, return_tensors='pt'))."
            )
        outputs = self.text_model(input_ids, attention_mask, position_ids, output_attentions, output_hidden_states)
        outputs.pooler_output = self.text_projection(outputs.pooler_output)  # (t, p)
        return outputs

    def get_image_features(self, pixel_values=None, interpolate_pos_encoding: bool = False, output_attentions=None,
                           output_hidden_states=None) -> BaseModelOutputWithPooling:
        """The vision tower's output with ``pooler_output`` projected: (i, p), not normalised (transformers 5)."""
        if pixel_values is None:
            raise ValueError(
                "get_image_features needs pixel_values: the images through CLIPImageProcessor()(images, "
                "return_tensors='pt')."
            )
        outputs = self.vision_model(pixel_values, interpolate_pos_encoding, output_attentions, output_hidden_states)
        outputs.pooler_output = self.visual_projection(outputs.pooler_output)  # (i, p)
        return outputs

    def forward(self, input_ids=None, pixel_values=None, attention_mask=None, position_ids=None, return_loss=None,
                interpolate_pos_encoding: bool = False, output_attentions=None, output_hidden_states=None,
                return_dict=None) -> CLIPOutput:
        missing = [name for name, value in (("input_ids", input_ids), ("pixel_values", pixel_values)) if value is None]
        if missing:
            raise ValueError(
                f"CLIPModel compares texts with images, so it needs input_ids and pixel_values; {' and '.join(missing)} "
                "missing. For one side alone use get_text_features(input_ids) or get_image_features(pixel_values)."
            )
        if return_loss and input_ids.shape[0] != pixel_values.shape[0]:
            raise ValueError(
                f"return_loss=True pairs text j with image j, but there are {input_ids.shape[0]} texts and "
                f"{pixel_values.shape[0]} images; pass one caption per image."
            )
        _check_pixel_values(pixel_values, self.config.vision_config, interpolate_pos_encoding)  # before the text
        vision_outputs = self.get_image_features(pixel_values, interpolate_pos_encoding, output_attentions,
                                                 output_hidden_states)
        text_outputs = self.get_text_features(input_ids, attention_mask, position_ids, output_attentions,
                                              output_hidden_states)
        image_embeds = _normalize(vision_outputs.pooler_output)  # (i, p)
        text_embeds = _normalize(text_outputs.pooler_output)  # (t, p)
        logits_per_text = text_embeds @ image_embeds.t() * self.logit_scale.exp()  # (t, i)
        logits_per_image = logits_per_text.t()  # (i, t)
        loss = clip_loss(logits_per_text) if return_loss else None
        return CLIPOutput(loss=loss, logits_per_image=logits_per_image, logits_per_text=logits_per_text,
                          text_embeds=text_embeds, image_embeds=image_embeds, text_model_output=text_outputs,
                          vision_model_output=vision_outputs)


class CLIPTextModelWithProjection(CLIPPreTrainedModel):
    """The text tower and its projection: ``text_embeds`` (b, p)."""

    config_class = CLIPTextConfig
    base_model_prefix = "text_model"
    _residual_stream_is_a_sum = True

    def __init__(self, config: CLIPTextConfig):
        super().__init__(config)
        self.text_model = CLIPTextModel(config)
        self.text_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.get_input_embeddings()

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, output_attentions=None,
                output_hidden_states=None, return_dict=None) -> CLIPTextModelOutput:
        outputs = self.text_model(input_ids, attention_mask, position_ids, output_attentions, output_hidden_states)
        return CLIPTextModelOutput(text_embeds=self.text_projection(outputs.pooler_output),
                                   last_hidden_state=outputs.last_hidden_state, hidden_states=outputs.hidden_states,
                                   attentions=outputs.attentions)


class CLIPVisionModelWithProjection(CLIPPreTrainedModel):
    """The vision tower and its projection: ``image_embeds`` (b, p)."""

    config_class = CLIPVisionConfig
    main_input_name = "pixel_values"
    base_model_prefix = "vision_model"

    def __init__(self, config: CLIPVisionConfig):
        super().__init__(config)
        self.vision_model = CLIPVisionModel(config)
        self.visual_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.vision_model.get_input_embeddings()

    def forward(self, pixel_values=None, interpolate_pos_encoding: bool = False, output_attentions=None,
                output_hidden_states=None, return_dict=None) -> CLIPVisionModelOutput:
        outputs = self.vision_model(pixel_values, interpolate_pos_encoding, output_attentions, output_hidden_states)
        return CLIPVisionModelOutput(image_embeds=self.visual_projection(outputs.pooler_output),
                                     last_hidden_state=outputs.last_hidden_state,
                                     hidden_states=outputs.hidden_states, attentions=outputs.attentions)


class CLIPForImageClassification(CLIPPreTrainedModel):
    """The vision tower with a linear ``classifier`` on the *mean of its patch states* (not [CLS], and
    before ``post_layernorm``): what transformers gives a CLIP checkpoint for image classification.
    The text tower is not built; ``config`` is the whole ``CLIPConfig`` (``num_labels`` on it)."""

    main_input_name = "pixel_values"
    # a CLIPModel checkpoint has no classifier: a new head is initialised, as transformers does
    _keys_optional_in_checkpoint = (r"^classifier\.",)

    def __init__(self, config: CLIPConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        hidden_size = config.vision_config.hidden_size
        self.vision_model = CLIPVisionModel(config.vision_config)
        self.classifier = nn.Linear(hidden_size, config.num_labels) if config.num_labels > 0 else nn.Identity()
        self.hook_class_logits = HookPoint("class_logits", stack="vision")  # (b, k)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.vision_model.get_input_embeddings()

    def forward(self, pixel_values=None, labels=None, interpolate_pos_encoding: bool = False, output_attentions=None,
                output_hidden_states=None, return_dict=None) -> ImageClassifierOutput:
        """``labels`` (b,): class ids (cross-entropy), floats with num_labels == 1 (regression), or
        (b, num_labels) floats (multi-label); see ``config.problem_type``."""
        outputs = self.vision_model(pixel_values, interpolate_pos_encoding, output_attentions, output_hidden_states)
        patches = outputs.last_hidden_state[:, 1:]  # (b, n - 1, d): every patch, [CLS] left out
        logits = self.hook_class_logits(self.classifier(patches.mean(dim=1)))  # (b, d) -> (b, k)
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return ImageClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                     attentions=outputs.attentions)


# -- preprocessing --------------------------------------------------------------------------------


class CLIPImageProcessor(BaseImageProcessor):
    """CLIP's preprocessing, transformers' defaults: RGB, shortest edge to 224 (bicubic), centre crop
    224 x 224, bytes to [0, 1], normalised with the mean and std of OpenAI's training images."""

    resample = 3  # PIL's BICUBIC
    image_mean = OPENAI_CLIP_MEAN
    image_std = OPENAI_CLIP_STD
    size = {"shortest_edge": 224}
    default_to_square = False  # size=224 means the shortest edge, not a square
    crop_size = {"height": 224, "width": 224}
    do_resize = True
    do_center_crop = True
    do_rescale = True
    do_normalize = True
    do_convert_rgb = True


class CLIPProcessor(ProcessorMixin):
    """The image processor and the tokenizer in one object:
    ``processor(text=["a photo of a cat"], images=image, padding=True, return_tensors="pt")`` gives
    ``input_ids``, ``attention_mask`` and ``pixel_values``, what ``CLIPModel`` takes."""

    attributes = ["image_processor", "tokenizer"]


__all__ = [
    "CLIPConfig",
    "CLIPTextConfig",
    "CLIPVisionConfig",
    "CLIPOutput",
    "CLIPTextModelOutput",
    "CLIPVisionModelOutput",
    "CLIPPreTrainedModel",
    "CLIPTextModel",
    "CLIPVisionModel",
    "CLIPModel",
    "CLIPTextModelWithProjection",
    "CLIPVisionModelWithProjection",
    "CLIPForImageClassification",
    "CLIPImageProcessor",
    "CLIPProcessor",
    "OPENAI_CLIP_MEAN",
    "OPENAI_CLIP_STD",
    "clip_loss",
]
