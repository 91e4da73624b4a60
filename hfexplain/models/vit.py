"""ViT, the Vision Transformer (Dosovitskiy et al., 2020): "an image is worth 16x16 words".

    image (b, c, H, W) ─► cut into P x P patches, each one projected to d (a strided Conv2d)
          ─► prepend a learned [CLS] vector ─► + learned position embeddings ─► dropout
          ─► [ layer × num_hidden_layers ] ─► layernorm ─► last_hidden_state
                                                             └─► [CLS] ─► classifier (or pooler)

    layer:  x ─► layernorm_before ─► attention ─► (+x) ─► layernorm_after ─► MLP ─► (+) ─►
            (pre-norm, as GPT-2: the residual stream is a plain sum; BERT is post-norm)

Nothing in the encoder is new: it is BERT's encoder with the LayerNorms moved in front of
each sub-layer. What is new is the first step. A Conv2d whose kernel and stride are both the
patch size looks at each P x P patch exactly once, so it is a linear map from a patch's
``c * P * P`` pixels to a d-vector: the image becomes a sentence of ``(H / P) * (W / P)``
"patch words". Every patch attends to every other patch (no mask: an image has no padding),
and the classifier reads the [CLS] position, which has no pixels of its own and only gathers.

Position 0 of the sequence is [CLS]; position ``1 + i * (W / P) + j`` is the patch in row i,
column j. The position embeddings are learned for ``config.image_size``; for another size,
``interpolate_pos_encoding=True`` resizes their (H/P, W/P) grid bicubically, as transformers does.

Module tree and parameter names are those of the checkpoints on the Hub and of what
transformers 5 writes (``vit.encoder.layer.0.attention.attention.query.weight``); transformers
5 renames them in memory (``vit.layers.0.attention.q_proj``) and back when saving, so a
checkpoint loads here strictly, with no conversion table, and ours loads there.

Shapes: b=batch, c=num_channels, H/W=image height/width, P=patch_size, n=number of patches,
s=n+1 positions, d=hidden_size, h=num_attention_heads, e=d/h, m=intermediate_size, k=num_labels.

Hook points (aliases in brackets), per layer i under ``vit.encoder.layer.i``::

    (embeddings) hook_embed [embed]                     [CLS] + patch vectors, before positions (b, s, d)
    (embeddings) hook_pos_embed [pos_embed]             position embeddings (1, s, d)
    hook_resid_pre [resid_pre]                          layer input (b, s, d)
    attention.attention.hook_q/k/v [q, k, v]            (b, h, s, e)
    attention.attention.hook_scores/pattern             (b, h, s, s)
    attention.attention.hook_z [z]                      (b, h, s, e)
    attention.output.hook_attn_out [attn_out]           what attention adds to the stream (b, s, d)
    hook_resid_mid [resid_mid]                          stream after attention (b, s, d)
    intermediate.hook_pre/hook_post [mlp_pre, mlp_post] (b, s, m)
    output.hook_mlp_out [mlp_out]                       what the MLP adds (b, s, d)
    hook_resid_post [resid_post]                        layer output (b, s, d) = hidden_states[i + 1]
    (model) hook_final [final]                          after the last layernorm (b, s, d)
    (classifier) hook_class_logits [class_logits]       (b, k)

This file also holds ``ViTImageProcessor`` (images -> ``pixel_values``), at the bottom.
"""
from __future__ import annotations

import collections.abc

import torch
from torch import nn

from ..configuration import PretrainedConfig
from ..heads import sequence_classification_loss
from ..hooks import HookPoint
from ..layers import attend, get_activation
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutputWithPooling, ImageClassifierOutput
from ..processing.image_processing import IMAGENET_STANDARD_MEAN, IMAGENET_STANDARD_STD, BaseImageProcessor
from ..processing.image_transforms import BILINEAR


def _pair(value) -> tuple[int, int]:
    """An int or an (h, w) pair as (h, w): ``image_size`` and ``patch_size`` may be either."""
    if isinstance(value, collections.abc.Iterable):
        height, width = value
        return int(height), int(width)
    return int(value), int(value)


def check_whole_patches(image_size, patch_size) -> None:
    """``image_size`` must be a whole number of patches (the learned position grid is (H / P, W / P))."""
    (image_height, image_width), (patch_height, patch_width) = _pair(image_size), _pair(patch_size)
    if image_height % patch_height or image_width % patch_width:
        raise ValueError(
            f"image_size {image_size} is not a whole number of patches of patch_size {patch_size}; "
            "pick an image_size that is a multiple of patch_size."
        )


class ViTConfig(PretrainedConfig):
    """ViT's hyper-parameters, with the names and defaults of transformers' ``ViTConfig``
    (the defaults describe google/vit-base-patch16-224)."""

    model_type = "vit"

    def __init__(
        self,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        image_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 16,
        num_channels: int = 3,
        qkv_bias: bool = True,
        encoder_stride: int = 16,
        pooler_output_size: int | None = None,
        pooler_act: str = "tanh",
        **kwargs,
    ):
        for name, value in (("hidden_act", hidden_act), ("pooler_act", pooler_act)):
            if not isinstance(value, str):
                raise TypeError(
                    f"{name} must be an activation name such as 'gelu', got {type(value).__name__}; "
                    "configs are plain data, so pass the name."
                )
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be divisible by num_attention_heads ({num_attention_heads}); "
                "each head gets hidden_size / num_attention_heads dimensions."
            )
        check_whole_patches(image_size, patch_size)
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.image_size = image_size
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.qkv_bias = qkv_bias
        self.encoder_stride = encoder_stride
        self.pooler_output_size = pooler_output_size if pooler_output_size else hidden_size
        self.pooler_act = pooler_act
        super().__init__(**kwargs)


# --------------------------------------------------------------------------- input checks


def check_pixel_values(pixel_values, config: ViTConfig, interpolate_pos_encoding: bool, family: str = "ViT") -> None:
    """Raise a clear error, before any work, for ``pixel_values`` the model cannot read."""
    if not isinstance(pixel_values, torch.Tensor):
        raise TypeError(
            f"pixel_values must be a torch.Tensor of shape (batch, channels, height, width), got "
            f"{type(pixel_values).__name__}; make it with the image processor: "
            "processor(images, return_tensors='pt').pixel_values."
        )
    if pixel_values.dim() != 4:
        hint = " For one image add a batch axis: pixel_values.unsqueeze(0)." if pixel_values.dim() == 3 else ""
        raise ValueError(
            f"pixel_values must have shape (batch, channels, height, width), got rank {pixel_values.dim()} "
            f"{tuple(pixel_values.shape)}.{hint}"
        )
    if not pixel_values.is_floating_point():
        raise TypeError(
            f"pixel_values must be floats (rescaled and normalised), got {pixel_values.dtype}: these look like raw "
            "pixel bytes. Run the image processor first: processor(images, return_tensors='pt').pixel_values."
        )
    channels, height, width = pixel_values.shape[1:]
    if channels != config.num_channels:
        raise ValueError(
            f"pixel_values have {channels} channels but this {family} reads {config.num_channels} "
            f"(config.num_channels); pixel_values must be (batch, channels, height, width). Convert the images to "
            "RGB (image.convert('RGB'), or the processor's do_convert_rgb=True) and check the channel axis."
        )
    image_height, image_width = _pair(config.image_size)
    patch_height, patch_width = _pair(config.patch_size)
    if interpolate_pos_encoding:
        if height < patch_height or width < patch_width:
            raise ValueError(
                f"the image ({height}x{width}) is smaller than one patch ({patch_height}x{patch_width}); "
                f"resize it to config.image_size ({image_height}x{image_width})."
            )
    elif (height, width) != (image_height, image_width):
        raise ValueError(
            f"Input image size ({height}*{width}) doesn't match model ({image_height}*{image_width}): its position "
            f"embeddings were learned for {image_height}x{image_width} images. Resize the images to config.image_size "
            f"(the image processor's size={{'height': {image_height}, 'width': {image_width}}}), or pass "
            "interpolate_pos_encoding=True to resize the position embeddings instead."
        )


# --------------------------------------------------------------------------- embeddings


class ViTPatchEmbeddings(nn.Module):
    """Pixels -> one d-vector per P x P patch: a Conv2d with kernel = stride = P."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.image_size = _pair(config.image_size)
        self.patch_size = _pair(config.patch_size)
        self.num_channels = config.num_channels
        self.num_patches = (self.image_size[0] // self.patch_size[0]) * (self.image_size[1] // self.patch_size[1])
        self.projection = nn.Conv2d(
            config.num_channels, config.hidden_size, kernel_size=self.patch_size, stride=self.patch_size
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        patches = self.projection(pixel_values)  # (b, d, H/P, W/P): one vector per patch, on the grid
        return patches.flatten(2).transpose(1, 2)  # (b, n, d), patches in reading order (row by row)


class ViTEmbeddings(nn.Module):
    """[CLS] + patch vectors + learned positions. ``mask_token`` (SimMIM) only with ``use_mask_token``.

    ``special_tokens`` is the number of learned vectors in front of the patches: 1 ([CLS]) here,
    2 in DeiT ([CLS] and the distillation token).
    """

    special_tokens = 1

    def __init__(self, config: ViTConfig, use_mask_token: bool = False):
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, config.hidden_size))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size)) if use_mask_token else None
        self.patch_embeddings = ViTPatchEmbeddings(config)
        num_positions = self.patch_embeddings.num_patches + self.special_tokens
        self.position_embeddings = nn.Parameter(torch.randn(1, num_positions, config.hidden_size))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.patch_size = self.patch_embeddings.patch_size
        self.image_size = self.patch_embeddings.image_size

        self.hook_embed = HookPoint("embed")  # (b, s, d) special tokens + patch vectors, before positions
        self.hook_pos_embed = HookPoint("pos_embed")  # (1, s, d)

    def leading_tokens(self, batch: int) -> torch.Tensor:
        """The learned vectors that go in front of the patches: [CLS]."""
        return self.cls_token.expand(batch, -1, -1)  # (b, 1, d)

    def interpolate_pos_encoding(self, embeddings: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Position embeddings for a ``height`` x ``width`` image: the learned patch grid, resized bicubically.

        The special tokens' positions are kept as they are; the patch positions are laid out
        on their square (sqrt(n), sqrt(n)) grid, resized to (height / P, width / P) and read
        back row by row (DINO's recipe, as transformers does it).
        """
        num_patches = embeddings.shape[1] - self.special_tokens
        num_positions = self.position_embeddings.shape[1] - self.special_tokens
        if num_patches == num_positions and height == width:
            return self.position_embeddings  # (1, s, d): the size it was trained for

        special = self.position_embeddings[:, : self.special_tokens]  # (1, special, d)
        patch_positions = self.position_embeddings[:, self.special_tokens :]  # (1, N, d)
        dim = embeddings.shape[-1]
        side = int(num_positions**0.5)
        grid = patch_positions.reshape(1, side, side, dim).permute(0, 3, 1, 2)  # (1, d, side, side)
        new_size = (height // self.patch_size[0], width // self.patch_size[1])
        grid = nn.functional.interpolate(grid, size=new_size, mode="bicubic", align_corners=False)  # (1, d, H/P, W/P)
        patch_positions = grid.permute(0, 2, 3, 1).reshape(1, -1, dim)  # (1, n, d)
        return torch.cat((special, patch_positions), dim=1)  # (1, s, d)

    def forward(
        self,
        pixel_values: torch.Tensor,
        bool_masked_pos: torch.BoolTensor | None = None,
        interpolate_pos_encoding: bool = False,
    ) -> torch.Tensor:
        batch, _, height, width = pixel_values.shape
        patches = self.patch_embeddings(pixel_values)  # (b, n, d)
        if bool_masked_pos is not None:  # masked image modelling: hidden patches become the mask token
            mask = bool_masked_pos.unsqueeze(-1).type_as(patches)  # (b, n, 1)
            patches = patches * (1.0 - mask) + self.mask_token.expand_as(patches) * mask  # (b, n, d)

        tokens = self.hook_embed(torch.cat((self.leading_tokens(batch), patches), dim=1))  # (b, s, d)
        if interpolate_pos_encoding:
            positions = self.interpolate_pos_encoding(tokens, height, width)  # (1, s, d)
        else:
            positions = self.position_embeddings  # (1, s, d)
        return self.dropout(tokens + self.hook_pos_embed(positions))  # (b, s, d)


# --------------------------------------------------------------------------- one layer


class ViTSelfAttention(nn.Module):
    """Multi-head self-attention over all positions (no mask), with ``query``, ``key``, ``value`` projections."""

    def __init__(self, config: ViTConfig, layer_idx: int | None = None):
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.scaling = self.attention_head_size**-0.5  # divide scores by sqrt(e)

        self.query = nn.Linear(config.hidden_size, self.all_head_size, bias=config.qkv_bias)
        self.key = nn.Linear(config.hidden_size, self.all_head_size, bias=config.qkv_bias)
        self.value = nn.Linear(config.hidden_size, self.all_head_size, bias=config.qkv_bias)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

        self.hook_q = HookPoint("q", layer_idx)  # (b, h, s, e)
        self.hook_k = HookPoint("k", layer_idx)  # (b, h, s, e)
        self.hook_v = HookPoint("v", layer_idx)  # (b, h, s, e)
        self.hook_scores = HookPoint("scores", layer_idx)  # (b, h, s, s)
        self.hook_pattern = HookPoint("pattern", layer_idx)  # (b, h, s, s)
        self.hook_z = HookPoint("z", layer_idx)  # (b, h, s, e)

    # Copied from hfexplain.models.gpt2.GPT2Attention._split_heads with num_heads->num_attention_heads, head_dim->attention_head_size
    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        x = x.view(batch, seq, self.num_attention_heads, self.attention_head_size)  # (b, s, h, e)
        return x.transpose(1, 2)  # (b, h, s, e)

    def forward(self, hidden_states: torch.Tensor, output_attentions: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, seq, _ = hidden_states.shape  # (b, s, d)
        query = self.hook_q(self._split_heads(self.query(hidden_states)))  # (b, h, s, e)
        key = self.hook_k(self._split_heads(self.key(hidden_states)))  # (b, h, s, e)
        value = self.hook_v(self._split_heads(self.value(hidden_states)))  # (b, h, s, e)
        z, pattern = attend(
            query, key, value, None,  # every patch sees every patch: no mask
            scale=self.scaling,
            dropout=self.dropout.p if self.training else 0.0,
            hook_scores=self.hook_scores,
            hook_pattern=self.hook_pattern,
            need_weights=output_attentions,
        )  # z: (b, h, s, e), pattern: (b, h, s, s) or None
        z = self.hook_z(z)
        merged = z.transpose(1, 2).reshape(batch, seq, self.all_head_size)  # (b, s, d)
        return merged, pattern


class ViTSelfOutput(nn.Module):
    """Attention's output projection (the residual is added by the layer, pre-norm style)."""

    def __init__(self, config: ViTConfig, layer_idx: int | None = None):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.hook_attn_out = HookPoint("attn_out", layer_idx)  # (b, s, d): what attention adds to the stream

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.hook_attn_out(self.dropout(self.dense(hidden_states)))  # (b, s, d)


class ViTAttention(nn.Module):
    """Self-attention (``attention``) followed by its projection (``output``)."""

    def __init__(self, config: ViTConfig, layer_idx: int | None = None):
        super().__init__()
        self.attention = ViTSelfAttention(config, layer_idx)
        self.output = ViTSelfOutput(config, layer_idx)

    def forward(self, hidden_states: torch.Tensor, output_attentions: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        merged, pattern = self.attention(hidden_states, output_attentions)  # (b, s, d)
        return self.output(merged), pattern


# Copied from hfexplain.models.bert.BertIntermediate with Bert->ViT
class ViTIntermediate(nn.Module):
    """The MLP's first half: d -> m, then the activation (``config.hidden_act``)."""

    def __init__(self, config: ViTConfig, layer_idx: int | None = None):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = get_activation(config.hidden_act)
        self.hook_pre = HookPoint("mlp_pre", layer_idx)  # (b, s, m)
        self.hook_post = HookPoint("mlp_post", layer_idx)  # (b, s, m)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        pre = self.hook_pre(self.dense(hidden_states))  # (b, s, m)
        return self.hook_post(self.intermediate_act_fn(pre))  # (b, s, m)


class ViTOutput(nn.Module):
    """The MLP's second half, m -> d, added back to the residual stream."""

    def __init__(self, config: ViTConfig, layer_idx: int | None = None):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx)  # (b, s, d): what the MLP adds to the stream

    def forward(self, hidden_states: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        mlp_out = self.hook_mlp_out(self.dropout(self.dense(hidden_states)))  # (b, s, d)
        return mlp_out + input_tensor  # (b, s, d)


class ViTLayer(nn.Module):
    """One pre-norm encoder layer: x = x + attn(LN(x)); x = x + mlp(LN(x))."""

    def __init__(self, config: ViTConfig, layer_idx: int | None = None):
        super().__init__()
        self.attention = ViTAttention(config, layer_idx)
        self.intermediate = ViTIntermediate(config, layer_idx)
        self.output = ViTOutput(config, layer_idx)
        self.layernorm_before = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.layernorm_after = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.hook_resid_pre = HookPoint("resid_pre", layer_idx)  # (b, s, d)
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx)  # (b, s, d)
        self.hook_resid_post = HookPoint("resid_post", layer_idx)  # (b, s, d)

    def forward(self, hidden_states: torch.Tensor, output_attentions: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        resid = self.hook_resid_pre(hidden_states)  # (b, s, d)
        attn_out, pattern = self.attention(self.layernorm_before(resid), output_attentions)  # (b, s, d)
        resid = self.hook_resid_mid(attn_out + resid)  # (b, s, d)
        layer_output = self.output(self.intermediate(self.layernorm_after(resid)), resid)  # (b, s, d)
        return self.hook_resid_post(layer_output), pattern


class ViTEncoder(nn.Module):
    """The stack of ``num_hidden_layers`` layers (``layer.0`` ... ``layer.N-1``)."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.layer = nn.ModuleList([ViTLayer(config, layer_idx=i) for i in range(config.num_hidden_layers)])

    def forward(self, hidden_states: torch.Tensor, output_attentions: bool = False,
                output_hidden_states: bool = False) -> tuple[torch.Tensor, tuple | None, tuple | None]:
        """Returns ``(hidden, hidden_states, attentions)``; ``hidden_states`` has N + 1 entries (the
        embeddings, then each layer's output, before the final layernorm), as in transformers."""
        all_hidden = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layer:
            hidden_states, pattern = layer(hidden_states, output_attentions)  # (b, s, d)
            if output_hidden_states:
                all_hidden += (hidden_states,)
            if output_attentions:
                all_attentions += (pattern,)
        return hidden_states, all_hidden, all_attentions


class ViTPooler(nn.Module):
    """An image summary: the [CLS] vector through dense + activation (``pooler_act``, tanh)."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.pooler_output_size)
        self.activation = get_activation(config.pooler_act)
        self.hook_pooled = HookPoint()  # (b, pooler_output_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        first_token = hidden_states[:, 0]  # (b, d): [CLS]
        return self.hook_pooled(self.activation(self.dense(first_token)))


# --------------------------------------------------------------------------- models


class ViTPreTrainedModel(PreTrainedModel):
    config_class = ViTConfig
    base_model_prefix = "vit"
    main_input_name = "pixel_values"
    # A classification checkpoint has no pooler (ViTForImageClassification is built without one).
    _keys_optional_in_checkpoint = [r"(^|\.)pooler\.dense\.(weight|bias)$"]

    def _init_weights(self, module: nn.Module) -> None:
        """Truncated normal weights, zero biases, unit LayerNorms (transformers' ViT initialisation)."""
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.trunc_normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, ViTEmbeddings):
            nn.init.trunc_normal_(module.position_embeddings, mean=0.0, std=std)
            nn.init.trunc_normal_(module.cls_token, mean=0.0, std=std)
            if module.mask_token is not None:
                nn.init.zeros_(module.mask_token)


class ViTModel(ViTPreTrainedModel):
    """The bare ViT encoder: ``pixel_values`` (b, c, H, W) -> ``last_hidden_state`` (b, s, d)
    and ``pooler_output`` (b, d) (None with ``add_pooling_layer=False``)."""

    embeddings_class = ViTEmbeddings
    _final_norm = "layernorm"  # the norm after the last layer (ActivationCache.apply_final_norm)

    def __init__(self, config: ViTConfig, add_pooling_layer: bool = True, use_mask_token: bool = False):
        super().__init__(config)
        self.embeddings = self.embeddings_class(config, use_mask_token=use_mask_token)
        self.encoder = ViTEncoder(config)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.pooler = ViTPooler(config) if add_pooling_layer else None
        self.hook_final = HookPoint("final")  # (b, s, d)
        self.post_init()

    def get_input_embeddings(self) -> ViTPatchEmbeddings:
        return self.embeddings.patch_embeddings

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        bool_masked_pos: torch.BoolTensor | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling:
        """``interpolate_pos_encoding=True`` reads images of another size than ``config.image_size``.
        ``bool_masked_pos`` (b, n): patches to replace by the mask token (needs ``use_mask_token=True``)."""
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        check_pixel_values(pixel_values, config, bool(interpolate_pos_encoding), family=type(self).__name__)
        if bool_masked_pos is not None and self.embeddings.mask_token is None:
            raise ValueError(
                f"bool_masked_pos needs a mask token, and this {type(self).__name__} was built without one; "
                "build it with use_mask_token=True."
            )
        pixel_values = pixel_values.to(self.embeddings.patch_embeddings.projection.weight.dtype)

        hidden = self.embeddings(pixel_values, bool_masked_pos, bool(interpolate_pos_encoding))  # (b, s, d)
        hidden, all_hidden, all_attentions = self.encoder(hidden, output_attentions, output_hidden_states)
        hidden = self.hook_final(self.layernorm(hidden))  # (b, s, d)
        pooled = self.pooler(hidden) if self.pooler is not None else None  # (b, d)
        return BaseModelOutputWithPooling(
            last_hidden_state=hidden, pooler_output=pooled, hidden_states=all_hidden, attentions=all_attentions
        )


class ViTForImageClassification(ViTPreTrainedModel):
    """A linear ``classifier`` on the final [CLS] vector: one score per label for the image
    (``nn.Identity`` when ``num_labels`` is 0, as in transformers)."""

    base_model_class = ViTModel

    def __init__(self, config: ViTConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        setattr(self, self.base_model_prefix, self.base_model_class(config, add_pooling_layer=False))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels) if config.num_labels > 0 else nn.Identity()
        self.hook_class_logits = HookPoint("class_logits")  # (b, k)
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> ImageClassifierOutput:
        """``labels`` (b,): class ids (cross-entropy), floats with num_labels == 1 (regression), or
        (b, num_labels) floats (multi-label); see ``config.problem_type``."""
        outputs = self.base_model(
            pixel_values,
            interpolate_pos_encoding=interpolate_pos_encoding,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        cls_vector = outputs.last_hidden_state[:, 0]  # (b, d): [CLS] after the final layernorm
        logits = self.hook_class_logits(self.classifier(cls_vector))  # (b, k)
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return ImageClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


# --------------------------------------------------------------------------- image processor


class ViTImageProcessor(BaseImageProcessor):
    """Images -> ``pixel_values`` (b, 3, 224, 224): resize (bilinear) to 224 x 224, rescale to [0, 1],
    normalise with mean = std = 0.5 (to [-1, 1]). The defaults of transformers' ``ViTImageProcessorPil``
    (what ``AutoImageProcessor`` gives there without torchvision); the steps are BaseImageProcessor's.

    >>> ViTImageProcessor()(image, return_tensors="pt").pixel_values.shape
    torch.Size([1, 3, 224, 224])
    """

    resample = BILINEAR
    image_mean = IMAGENET_STANDARD_MEAN
    image_std = IMAGENET_STANDARD_STD
    size = {"height": 224, "width": 224}
    do_resize = True
    do_rescale = True
    do_normalize = True


__all__ = [
    "ViTConfig",
    "ViTPreTrainedModel",
    "ViTModel",
    "ViTForImageClassification",
    "ViTImageProcessor",
    "check_pixel_values",
]
