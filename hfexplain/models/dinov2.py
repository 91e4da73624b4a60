"""DINOv2 (Oquab et al., 2023): a Vision Transformer trained without labels, with Hugging Face's
module tree and parameter names.

What changed since ViT. The backbone is ViT's: cut the image into patches, embed each patch
with one strided convolution, put a learned [CLS] vector in front, add learned positions, and
run a stack of pre-norm transformer layers. DINOv2 changes four things:

* **Layer scale.** Each sub-layer's output is multiplied, channel by channel, by a learned
  vector (``layer_scale1.lambda1`` after attention, ``layer_scale2.lambda1`` after the MLP)
  before it is added to the residual stream. Initialised small (``layerscale_value``), it lets
  a deep stack start close to the identity.
* **Positions for any image size.** The position table is learned for one grid (518 x 518
  pixels at patch 14: 37 x 37 patches). Another size gets the patch part of the table resized
  bicubically to its own grid (``interpolate_pos_encoding``); the [CLS] position is kept.
* **A mask token.** Self-distillation (iBOT) hides patches and asks the student to predict
  the teacher's view of them: ``bool_masked_pos`` replaces the chosen patch embeddings by
  the learned ``mask_token``.
* **The pooled output is the normalised [CLS] vector** (no dense + tanh pooler as in BERT/ViT),
  and the classifier reads [CLS] *and* the mean of the patch tokens side by side (2d inputs).
  Larger DINOv2 models swap the MLP for a SwiGLU one (``use_swiglu_ffn``).

    pixels (b, c, H, W) ─► patch conv (p x p, stride p) ─► (b, n, d) ─► [CLS] + patches ─► + positions
        ─► [ layer × num_hidden_layers ] ─► layernorm ─► last_hidden_state (b, 1 + n, d)
                                                               └─► [CLS] ─► pooler_output (b, d)

    layer:  x ─► norm1 ─► attention ─► × lambda1 ─► (+x) ─► norm2 ─► MLP ─► × lambda1 ─► (+) ─►

Shapes: b=batch, c=num_channels, H/W=image height/width, p=patch_size, n=(H/p)*(W/p) patches,
s=1+n positions (position 0 is [CLS], 1.. are the patches in row-major order), d=hidden_size,
h=num_attention_heads, e=d/h, m=MLP width (d * mlp_ratio; two thirds of it rounded up to a
multiple of 8 for SwiGLU), l=num_labels.

Hook points (aliases of the shared vocabulary in brackets); one stack, whose "tokens" are the
[CLS] position and the patches. Under ``embeddings``::

    hook_embed [embed]                        (b, s, d) [CLS] + patch embeddings (mask tokens applied)
    hook_pos_embed [pos_embed]                (1, s, d) the position table, resized to this grid

and per layer i under ``encoder.layer.i``::

    hook_resid_pre [resid_pre]                          layer input (the embeddings for layer 0)
    attention.attention.hook_q/k/v [q, k, v]            (b, h, s, e)
    attention.attention.hook_scores/pattern             (b, h, s, s)
    attention.attention.hook_z [z]                      (b, h, s, e)
    hook_attn_out [attn_out]                            what attention adds: lambda1 * output.dense(z)
    hook_resid_mid [resid_mid]                          after the attention residual
    mlp.hook_pre / hook_post [mlp_pre, mlp_post]        (b, s, m) fc1 output / after the activation
    hook_mlp_out [mlp_out]                              what the MLP adds: lambda1 * fc2(.)
    hook_resid_post [resid_post]                        layer output

``hook_final [final]`` is the last hidden state after ``layernorm``. DINOv2 is pre-norm, so the
residual stream is the sum ``embed + pos_embed + sum(attn_out + mlp_out)`` (``decompose_resid``);
``attn_out`` and ``mlp_out`` are taken *after* the layer scale for that reason.

``BitImageProcessor`` (bottom of the file) turns images into ``pixel_values``: DINOv2's
checkpoints on the Hub name it (shortest edge to 256 bicubic, centre crop 224, ImageNet
mean and std).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import torch
from torch import nn

from ..configuration import PretrainedConfig
from ..heads import sequence_classification_loss
from ..hooks import HookPoint
from ..layers import attend, build_attention_mask, get_activation
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutputWithPooling, ImageClassifierOutput
from ..processing.image_processing import BaseImageProcessor
from ..processing.image_transforms import BICUBIC


def _pair(value) -> tuple[int, int]:
    """An int or an (h, w) pair -> (h, w)."""
    if isinstance(value, Iterable):
        height, width = value
        return int(height), int(width)
    return int(value), int(value)


class Dinov2Config(PretrainedConfig):
    """DINOv2's hyper-parameters, with the names and defaults of transformers' ``Dinov2Config``
    (the defaults describe dinov2-base; dinov2-small has hidden_size 384, 6 heads, image_size 518).

    The backbone fields transformers keeps for ``Dinov2Backbone`` (``out_features``,
    ``out_indices``, ``stage_names``, ``apply_layernorm``, ``reshape_hidden_states``) are kept
    and written back; hfexplain has no backbone class that reads them.
    """

    model_type = "dinov2"

    def __init__(
        self,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        mlp_ratio: int | float = 4,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-6,
        image_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 14,
        num_channels: int = 3,
        qkv_bias: bool = True,
        layerscale_value: float = 1.0,
        drop_path_rate: float = 0.0,
        use_swiglu_ffn: bool = False,
        apply_layernorm: bool = True,
        reshape_hidden_states: bool = True,
        use_mask_token: bool = True,
        **kwargs,
    ):
        if not isinstance(hidden_act, str):
            raise TypeError(
                f"hidden_act must be an activation name such as 'gelu', got {type(hidden_act).__name__}; "
                "configs are plain data, so pass the name."
            )
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be divisible by num_attention_heads ({num_attention_heads}); "
                "each head gets hidden_size / num_attention_heads dimensions."
            )
        if min(_pair(patch_size)) < 1 or any(i < p for i, p in zip(_pair(image_size), _pair(patch_size))):
            raise ValueError(
                f"patch_size {patch_size!r} must be at least 1 and no larger than image_size {image_size!r}: the "
                "position table holds one entry per patch of an image_size image."
            )
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.mlp_ratio = mlp_ratio
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.image_size = image_size
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.qkv_bias = qkv_bias
        self.layerscale_value = layerscale_value
        self.drop_path_rate = drop_path_rate
        self.use_swiglu_ffn = use_swiglu_ffn
        self.apply_layernorm = apply_layernorm
        self.reshape_hidden_states = reshape_hidden_states
        self.use_mask_token = use_mask_token
        super().__init__(**kwargs)


# --------------------------------------------------------------------------- embeddings


class Dinov2PatchEmbeddings(nn.Module):
    """Pixels -> one vector per patch: a p x p convolution with stride p is a linear map of each
    non-overlapping patch. (b, c, H, W) -> (b, n, d), patches in row-major order."""

    def __init__(self, config: Dinov2Config):
        super().__init__()
        self.image_size = _pair(config.image_size)
        self.patch_size = _pair(config.patch_size)
        self.num_channels = config.num_channels
        self.num_patches = (self.image_size[0] // self.patch_size[0]) * (self.image_size[1] // self.patch_size[1])
        self.projection = nn.Conv2d(config.num_channels, config.hidden_size, kernel_size=self.patch_size,
                                    stride=self.patch_size)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        pixel_values = pixel_values.to(self.projection.weight.dtype)
        patches = self.projection(pixel_values)  # (b, d, H/p, W/p)
        return patches.flatten(2).transpose(1, 2)  # (b, n, d)


class Dinov2Embeddings(nn.Module):
    """[CLS] + patch embeddings (with mask tokens where asked) + positions resized to the grid."""

    def __init__(self, config: Dinov2Config):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.mask_token = nn.Parameter(torch.zeros(1, config.hidden_size)) if config.use_mask_token else None
        self.patch_embeddings = Dinov2PatchEmbeddings(config)
        num_positions = self.patch_embeddings.num_patches + 1
        self.position_embeddings = nn.Parameter(torch.zeros(1, num_positions, config.hidden_size))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

        self.hook_embed = HookPoint("embed")  # (b, s, d)
        self.hook_pos_embed = HookPoint("pos_embed")  # (1, s, d)

    def interpolate_pos_encoding(self, embeddings: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The position table for an image of ``height`` x ``width`` pixels: (1, s, d).

        The table was learned for a square grid of g x g patches. A square image with as many
        patches gets it as it is; any other grid gets the patch part resized bicubically
        (``align_corners=False``) to (height // p, width // p), computed in float32 because
        bicubic resampling in half precision shifts the values, then cast back. The [CLS]
        position is kept. When tracing (ONNX export) the resize is always recorded, so the
        exported graph works at any size. This is transformers' ``interpolate_pos_encoding``.
        """
        num_patches = embeddings.shape[1] - 1
        num_positions = self.position_embeddings.shape[1] - 1
        if not torch.jit.is_tracing() and num_patches == num_positions and height == width:
            return self.position_embeddings  # (1, s, d)

        dim = embeddings.shape[-1]
        class_pos_embed = self.position_embeddings[:, :1]  # (1, 1, d)
        patch_pos_embed = self.position_embeddings[:, 1:]  # (1, g*g, d)
        patch_height, patch_width = self.patch_embeddings.patch_size
        new_height, new_width = height // patch_height, width // patch_width
        grid = int(num_positions**0.5)  # g: the table's grid is square
        patch_pos_embed = patch_pos_embed.reshape(1, grid, grid, dim).permute(0, 3, 1, 2)  # (1, d, g, g)
        target_dtype = patch_pos_embed.dtype
        patch_pos_embed = nn.functional.interpolate(
            patch_pos_embed.to(torch.float32), size=(new_height, new_width), mode="bicubic", align_corners=False
        ).to(target_dtype)  # (1, d, H/p, W/p)
        patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).reshape(1, -1, dim)  # (1, n, d)
        return torch.cat((class_pos_embed, patch_pos_embed), dim=1)  # (1, s, d)

    def forward(self, pixel_values: torch.Tensor, bool_masked_pos: torch.Tensor | None = None) -> torch.Tensor:
        _, _, height, width = pixel_values.shape
        patches = self.patch_embeddings(pixel_values)  # (b, n, d)
        batch, num_patches, _ = patches.shape
        if bool_masked_pos is not None:
            mask = bool_masked_pos.unsqueeze(-1).type_as(patches)  # (b, n, 1): 1 where the patch is hidden
            patches = patches * (1 - mask) + self.mask_token.expand(batch, num_patches, -1) * mask  # (b, n, d)
        cls_tokens = self.cls_token.expand(batch, -1, -1)  # (b, 1, d)
        tokens = self.hook_embed(torch.cat((cls_tokens, patches), dim=1))  # (b, s, d)
        positions = self.hook_pos_embed(self.interpolate_pos_encoding(tokens, height, width))  # (1, s, d)
        return self.dropout(tokens + positions)  # (b, s, d)


# --------------------------------------------------------------------------- one layer


class Dinov2SelfAttention(nn.Module):
    """Bidirectional multi-head self-attention with separate ``query``, ``key``, ``value`` projections."""

    def __init__(self, config: Dinov2Config, layer_idx: int | None = None):
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

    # Copied from hfexplain.models.bert.BertSelfAttention._split_heads
    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        x = x.view(batch, seq, self.num_attention_heads, self.attention_head_size)  # (b, s, h, e)
        return x.transpose(1, 2)  # (b, h, s, e)

    # Copied from hfexplain.models.bert.BertSelfAttention.forward
    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``attention_mask``: the additive (b|1, 1, 1|s, s) mask from ``build_attention_mask`` or None."""
        batch, seq, _ = hidden_states.shape  # (b, s, d)
        query = self.hook_q(self._split_heads(self.query(hidden_states)))  # (b, h, s, e)
        key = self.hook_k(self._split_heads(self.key(hidden_states)))  # (b, h, s, e)
        value = self.hook_v(self._split_heads(self.value(hidden_states)))  # (b, h, s, e)

        z, pattern = attend(
            query,
            key,
            value,
            attention_mask,
            scale=self.scaling,
            dropout=self.dropout.p if self.training else 0.0,
            hook_scores=self.hook_scores,
            hook_pattern=self.hook_pattern,
            need_weights=output_attentions,
        )  # z: (b, h, s, e), pattern: (b, h, s, s) or None
        z = self.hook_z(z)
        merged = z.transpose(1, 2).reshape(batch, seq, self.all_head_size)  # (b, s, d)
        return merged, pattern


class Dinov2SelfOutput(nn.Module):
    """Attention's output projection (d -> d); the residual is added by the layer."""

    def __init__(self, config: Dinov2Config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden_states))  # (b, s, d)


class Dinov2Attention(nn.Module):
    """Self-attention (``attention``) and its output projection (``output``)."""

    def __init__(self, config: Dinov2Config, layer_idx: int | None = None):
        super().__init__()
        self.attention = Dinov2SelfAttention(config, layer_idx)
        self.output = Dinov2SelfOutput(config)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        merged, pattern = self.attention(hidden_states, attention_mask, output_attentions)  # (b, s, d)
        return self.output(merged), pattern


class Dinov2LayerScale(nn.Module):
    """x * lambda1: a learned per-channel scale on a sub-layer's output."""

    def __init__(self, config: Dinov2Config):
        super().__init__()
        self.lambda1 = nn.Parameter(config.layerscale_value * torch.ones(config.hidden_size))

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        return hidden_state * self.lambda1  # (b, s, d)


class Dinov2DropPath(nn.Module):
    """Stochastic depth: in training, drop a sub-layer's whole output for some samples (and scale
    the kept ones by 1 / keep); the identity in eval mode."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return hidden_states
        keep_prob = 1 - self.drop_prob
        shape = (hidden_states.shape[0],) + (1,) * (hidden_states.ndim - 1)  # (b, 1, 1): one draw per sample
        keep = torch.floor(keep_prob + torch.rand(shape, dtype=hidden_states.dtype, device=hidden_states.device))
        return hidden_states.div(keep_prob) * keep

    def extra_repr(self) -> str:
        return f"p={self.drop_prob}"


class Dinov2MLP(nn.Module):
    """fc1 (d -> m), the activation, fc2 (m -> d); m = d * mlp_ratio."""

    def __init__(self, config: Dinov2Config, layer_idx: int | None = None):
        super().__init__()
        hidden_features = int(config.hidden_size * config.mlp_ratio)
        self.fc1 = nn.Linear(config.hidden_size, hidden_features)
        self.activation = get_activation(config.hidden_act)
        self.fc2 = nn.Linear(hidden_features, config.hidden_size)
        self.hook_pre = HookPoint("mlp_pre", layer_idx)  # (b, s, m)
        self.hook_post = HookPoint("mlp_post", layer_idx)  # (b, s, m)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        pre = self.hook_pre(self.fc1(hidden_states))  # (b, s, m)
        post = self.hook_post(self.activation(pre))  # (b, s, m)
        return self.fc2(post)  # (b, s, d)


class Dinov2SwiGLUFFN(nn.Module):
    """The gated MLP of the larger DINOv2 models: silu(x W_gate) * (x W_up), then ``weights_out``.

    Checkpoints store the gate and up projections as one matrix, ``weights_in`` (d -> 2m): its
    first m outputs are the gate, the next m the values. m is two thirds of d * mlp_ratio,
    rounded up to a multiple of 8 (the parameter count of a plain MLP of width d * mlp_ratio).
    """

    def __init__(self, config: Dinov2Config, layer_idx: int | None = None):
        super().__init__()
        hidden_features = int(config.hidden_size * config.mlp_ratio)
        hidden_features = (int(hidden_features * 2 / 3) + 7) // 8 * 8
        self.weights_in = nn.Linear(config.hidden_size, 2 * hidden_features)
        self.weights_out = nn.Linear(hidden_features, config.hidden_size)
        self.act_fn = nn.SiLU()
        self.hook_pre = HookPoint("mlp_pre", layer_idx)  # (b, s, m) the gate, before silu
        self.hook_up = HookPoint()  # (b, s, m) the values the gate lets through
        self.hook_post = HookPoint("mlp_post", layer_idx)  # (b, s, m) silu(gate) * up

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        gate, up = self.weights_in(hidden_states).chunk(2, dim=-1)  # (b, s, 2m) -> 2 x (b, s, m)
        gate, up = self.hook_pre(gate), self.hook_up(up)
        post = self.hook_post(self.act_fn(gate) * up)  # (b, s, m)
        return self.weights_out(post)  # (b, s, d)


class Dinov2Layer(nn.Module):
    """One pre-norm layer with layer scale: x += lambda1 * attn(norm1(x)); x += lambda1 * mlp(norm2(x))."""

    def __init__(self, config: Dinov2Config, layer_idx: int | None = None):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = Dinov2Attention(config, layer_idx)
        self.layer_scale1 = Dinov2LayerScale(config)
        self.drop_path = Dinov2DropPath(config.drop_path_rate) if config.drop_path_rate > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        mlp_class = Dinov2SwiGLUFFN if config.use_swiglu_ffn else Dinov2MLP
        self.mlp = mlp_class(config, layer_idx)
        self.layer_scale2 = Dinov2LayerScale(config)

        self.hook_resid_pre = HookPoint("resid_pre", layer_idx)  # (b, s, d)
        self.hook_attn_out = HookPoint("attn_out", layer_idx)  # (b, s, d), after layer scale
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx)  # (b, s, d)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx)  # (b, s, d), after layer scale
        self.hook_resid_post = HookPoint("resid_post", layer_idx)  # (b, s, d)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        resid = self.hook_resid_pre(hidden_states)  # (b, s, d)
        attention_output, pattern = self.attention(self.norm1(resid), attention_mask, output_attentions)
        attn_out = self.hook_attn_out(self.layer_scale1(attention_output))  # (b, s, d)
        resid = self.hook_resid_mid(self.drop_path(attn_out) + resid)  # (b, s, d)
        mlp_out = self.hook_mlp_out(self.layer_scale2(self.mlp(self.norm2(resid))))  # (b, s, d)
        resid = self.hook_resid_post(self.drop_path(mlp_out) + resid)  # (b, s, d)
        return resid, pattern


# Copied from hfexplain.models.bert.BertEncoder with BertConfig->Dinov2Config, BertLayer->Dinov2Layer, BertEncoder->Dinov2Encoder
class Dinov2Encoder(nn.Module):
    """The stack of ``num_hidden_layers`` layers (``layer.0`` ... ``layer.N-1``)."""

    def __init__(self, config: Dinov2Config):
        super().__init__()
        self.layer = nn.ModuleList([Dinov2Layer(config, layer_idx=i) for i in range(config.num_hidden_layers)])

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> tuple[torch.Tensor, tuple | None, tuple | None]:
        """Returns ``(last_hidden_state, hidden_states, attentions)``; the tuples are None
        unless asked for. ``hidden_states`` has N + 1 entries: the embeddings, then each
        layer's output, as in transformers."""
        all_hidden = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layer:
            hidden_states, pattern = layer(hidden_states, attention_mask, output_attentions)  # (b, s, d)
            if output_hidden_states:
                all_hidden += (hidden_states,)
            if output_attentions:
                all_attentions += (pattern,)
        return hidden_states, all_hidden, all_attentions


# --------------------------------------------------------------------------- models


def _trunc_normal_(tensor: torch.Tensor, std: float) -> None:
    nn.init.trunc_normal_(tensor, mean=0.0, std=std)


class Dinov2PreTrainedModel(PreTrainedModel):
    config_class = Dinov2Config
    base_model_prefix = "dinov2"
    main_input_name = "pixel_values"

    def _init_weights(self, module: nn.Module) -> None:
        """transformers' init: truncated normals for projections, positions and [CLS]; zero
        mask token and biases; layer scales at ``layerscale_value``."""
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            # transformers runs its generic init (a normal draw) first, then the truncated normal: the
            # first draw is overwritten, but it moves the generator, so a new head gets the same values.
            nn.init.normal_(module.weight, 0.0, std)
            _trunc_normal_(module.weight, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, Dinov2Embeddings):
            _trunc_normal_(module.position_embeddings, std)
            _trunc_normal_(module.cls_token, std)
            if module.mask_token is not None:
                nn.init.zeros_(module.mask_token)
        elif isinstance(module, Dinov2LayerScale):
            nn.init.constant_(module.lambda1, self.config.layerscale_value)


def check_pixel_values(pixel_values, config: Dinov2Config, bool_masked_pos=None, has_mask_token: bool = True):
    """The checks every DINOv2 model runs on its inputs, before any work, with errors that name the fix."""
    if not isinstance(pixel_values, torch.Tensor) or not pixel_values.is_floating_point():
        what = pixel_values.dtype if isinstance(pixel_values, torch.Tensor) else type(pixel_values).__name__
        raise TypeError(
            f"pixel_values must be a float tensor (batch, channels, height, width), got {what}; make it with the "
            "image processor: BitImageProcessor.from_pretrained(path)(images, return_tensors='pt')."
        )
    if pixel_values.dim() != 4:
        raise ValueError(
            f"pixel_values must have shape (batch, channels, height, width), got {tuple(pixel_values.shape)}; for "
            "one image add a batch dimension with pixel_values.unsqueeze(0)."
        )
    if pixel_values.shape[1] != config.num_channels:
        raise ValueError(
            f"pixel_values have {pixel_values.shape[1]} channels but the model expects num_channels="
            f"{config.num_channels}: make sure that the channel dimension of the pixel values matches the "
            "configuration (an RGB model takes (batch, 3, height, width); the image processor converts to RGB)."
        )
    patch_height, patch_width = _pair(config.patch_size)
    if pixel_values.shape[2] < patch_height or pixel_values.shape[3] < patch_width:
        raise ValueError(
            f"an image of {pixel_values.shape[2]} x {pixel_values.shape[3]} pixels is smaller than one patch "
            f"({patch_height} x {patch_width}); resize it first (the image processor does)."
        )
    if bool_masked_pos is not None:
        if not has_mask_token:
            raise ValueError(
                "bool_masked_pos was given but this model has no mask_token (config.use_mask_token=False); build "
                "the model with use_mask_token=True to mask patches, or leave bool_masked_pos out."
            )
        num_patches = (pixel_values.shape[2] // patch_height) * (pixel_values.shape[3] // patch_width)
        if tuple(bool_masked_pos.shape) != (pixel_values.shape[0], num_patches):
            raise ValueError(
                f"bool_masked_pos must have shape (batch, num_patches) = ({pixel_values.shape[0]}, {num_patches}), "
                f"one flag per patch (the [CLS] position is never masked); got {tuple(bool_masked_pos.shape)}."
            )


class Dinov2Model(Dinov2PreTrainedModel):
    """The bare DINOv2 encoder: pixels -> ``last_hidden_state`` (b, s, d) after ``layernorm``, and
    ``pooler_output`` (b, d), the normalised [CLS] vector."""

    _final_norm = "layernorm"  # the norm after the last block (ActivationCache.apply_final_norm)

    def __init__(self, config: Dinov2Config):
        super().__init__(config)
        self.embeddings = Dinov2Embeddings(config)
        self.encoder = Dinov2Encoder(config)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.hook_final = HookPoint("final")  # (b, s, d)
        self.post_init()

    def get_input_embeddings(self) -> Dinov2PatchEmbeddings:
        return self.embeddings.patch_embeddings

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        bool_masked_pos: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling:
        """``pixel_values`` (b, c, H, W) from the image processor; any H, W of at least one patch
        (positions are resized to the grid). ``bool_masked_pos`` (b, n): True where a patch is
        replaced by the mask token. ``attention_mask`` (b, s): 1 for positions the queries may see
        (rarely needed: every patch is real)."""
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        if pixel_values is None:
            raise ValueError("Dinov2Model needs pixel_values (batch, channels, height, width); the image processor "
                             "makes them from images.")
        check_pixel_values(pixel_values, config, bool_masked_pos, self.embeddings.mask_token is not None)

        hidden = self.embeddings(pixel_values, bool_masked_pos=bool_masked_pos)  # (b, s, d)
        seq = hidden.shape[1]
        # Bidirectional: every position sees every other. (b, 1, 1, s) or None.
        mask = build_attention_mask(attention_mask, seq, seq, causal=False, dtype=hidden.dtype, device=hidden.device)
        hidden, all_hidden, all_attentions = self.encoder(hidden, mask, output_attentions, output_hidden_states)
        sequence_output = self.hook_final(self.layernorm(hidden))  # (b, s, d)
        pooled = sequence_output[:, 0]  # (b, d): the [CLS] position
        return BaseModelOutputWithPooling(
            last_hidden_state=sequence_output,
            pooler_output=pooled,
            hidden_states=all_hidden,
            attentions=all_attentions,
        )


class Dinov2ForImageClassification(Dinov2PreTrainedModel):
    """A linear ``classifier`` on [CLS] and the mean of the patch tokens, side by side (2d -> l).

    This is DINOv2's linear probe: the frozen features of both kinds of token, one layer on top.
    ``num_labels=0`` makes the classifier an identity (the 2d features come out as logits).
    """

    def __init__(self, config: Dinov2Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.dinov2 = Dinov2Model(config)
        if config.num_labels > 0:
            self.classifier = nn.Linear(config.hidden_size * 2, config.num_labels)
        else:
            self.classifier = nn.Identity()
        self.hook_class_logits = HookPoint("class_logits")  # (b, l)
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> ImageClassifierOutput:
        """``labels`` (b,): class ids (cross-entropy), floats with num_labels == 1 (regression),
        or (b, num_labels) floats (multi-label); see ``config.problem_type``."""
        outputs = self.dinov2(
            pixel_values,
            attention_mask=attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        sequence_output = outputs.last_hidden_state  # (b, s, d)
        cls_token = sequence_output[:, 0]  # (b, d)
        patch_mean = sequence_output[:, 1:].mean(dim=1)  # (b, d)
        features = torch.cat([cls_token, patch_mean], dim=1)  # (b, 2d)
        logits = self.hook_class_logits(self.classifier(features))  # (b, l)
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return ImageClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


# --------------------------------------------------------------------------- the image processor


class BitImageProcessor(BaseImageProcessor):
    """Images -> ``pixel_values`` the way DINOv2's checkpoints ask for it (they name BiT's processor).

    convert to RGB -> resize the shorter edge (aspect kept, bicubic) -> centre crop -> rescale
    to [0, 1] -> normalise. The class defaults are transformers' ``BitImageProcessor`` (shortest
    edge 224, CLIP's mean and std); DINOv2's ``preprocessor_config.json`` sets shortest edge 256,
    crop 224 and ImageNet's mean and std, so ``from_pretrained`` of such a folder gives those.
    """

    resample = BICUBIC
    image_mean: ClassVar[list[float]] = [0.48145466, 0.4578275, 0.40821073]  # OpenAI CLIP's
    image_std: ClassVar[list[float]] = [0.26862954, 0.26130258, 0.27577711]
    size: ClassVar[dict[str, int]] = {"shortest_edge": 224}
    default_to_square = False
    crop_size: ClassVar[dict[str, int]] = {"height": 224, "width": 224}
    do_resize = True
    do_center_crop = True
    do_rescale = True
    do_normalize = True
    do_convert_rgb = True


__all__ = [
    "BitImageProcessor",
    "Dinov2Config",
    "Dinov2PreTrainedModel",
    "Dinov2Model",
    "Dinov2ForImageClassification",
]
