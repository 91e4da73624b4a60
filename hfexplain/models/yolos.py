"""YOLOS, "You Only Look at One Sequence" (Fang et al., 2021): what changed since ViT.

The encoder is ViT's, layer for layer (``hfexplain.models.vit``: pre-norm layers, the same
attention, the same names under ``vit.encoder.layer.i``). YOLOS turns it into an object
detector with no convolutional backbone, no anchors and no decoder, by changing four things:

1. **Detection tokens.** ``num_detection_tokens`` (D, 100 in the checkpoints) learned vectors
   are appended *after* the patches. Like [CLS] they have no pixels; each one gathers, through
   attention, what it needs to describe one object (DETR's "object queries", inside the encoder)::

       [CLS] patch_1 ... patch_n [DET_1] ... [DET_D]  ─► ViT encoder ─► layernorm
                                    each [DET_j] ─► class_labels_classifier ─► k + 1 scores (+1: "no object")
                                                 └► bbox_predictor ─► sigmoid ─► (cx, cy, w, h) in [0, 1]

   Position 0 is [CLS], positions 1..n the patches in reading order, n+1..n+D the detection
   tokens; ``position_embeddings`` has 1 + n + D rows, one for each.
2. **Positions for any image size.** A detector reads images of many sizes (its processor keeps
   the aspect ratio, about 800 x 1333). The patch positions are learned on the
   ``config.image_size`` grid (H/P, W/P), and for another image they are resized bicubically to
   the new grid (``interpolate_positions``); [CLS]'s and the detection tokens' rows are kept. So
   there is no ``interpolate_pos_encoding`` flag: every call does it (a no-op at the trained size).
3. **Mid-layer position embeddings** (``use_mid_position_embeddings``, the "base" checkpoints):
   a fresh set of learned positions is *added* to the residual stream after every layer but the
   last (``encoder.mid_position_embeddings``, shape (L-1, 1, s, d)), resized the same way.
4. **Two MLP heads** (``YolosMLPPredictionHead``, DETR's: 3 linear layers, ReLU between) on
   each detection token's final vector. The boxes are relative to the image the model saw;
   ``YolosImageProcessor.post_process_object_detection`` turns them into (x0, y0, x1, y1) pixels.

Checkpoint names are the Hub's (``vit.encoder.mid_position_embeddings``); transformers 5 renames
that one in memory (``vit.encoder.interpolation.mid_position_embeddings``) and back when saving,
so a checkpoint loads here strictly and ours loads there. Training (``labels=``) uses DETR's
set loss, Hungarian matching then class, L1 and GIoU terms (section "the training loss" below).

``hidden_states`` are transformers 5's: the embeddings, then each layer's output *before* the
mid-layer positions are added (transformers 4 returned each layer's input, with them). The
hooks show both: ``resid_post`` (layer i) is ``hidden_states[i + 1]``, ``resid_pre`` (layer i + 1)
is that plus ``encoder.hook_mid_pos_embed``'s row i.

Shapes: b=batch, c=channels, H/W=image height/width, P=patch size, n=patches, D=detection
tokens, s=1+n+D positions, d=hidden_size, L=num_hidden_layers, k=num_labels.

Hook points (aliases in brackets), besides ViT's per layer (``vit.encoder.layer.i...``)::

    embeddings.hook_embed [embed]             [CLS] + patches + detection tokens, before positions (b, s, d)
    embeddings.hook_pos_embed [pos_embed]     position embeddings for this image size (1, s, d)
    encoder.hook_mid_pos_embed                mid-layer position embeddings for this size (L-1, 1, s, d)
    hook_final [final]                        after the last layernorm (b, s, d)
    hook_class_logits [class_logits]          per detection token (b, D, k + 1)
    hook_pred_boxes                           per detection token, (cx, cy, w, h) in [0, 1] (b, D, 4)

This file also holds ``YolosImageProcessor`` (images -> ``pixel_values`` + ``pixel_mask``; boxes
-> pixels), at the bottom.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..configuration import PretrainedConfig, check_divisible
from ..hooks import HookPoint
from ..outputs import BaseModelOutputWithPooling, ModelOutput, Tensor, Tensors
from ..processing.batch_feature import BatchFeature
from ..processing.image_processing import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, BaseImageProcessor, get_size_dict
from ..processing.image_transforms import BILINEAR
from .vit import ViTLayer, ViTPatchEmbeddings, ViTPreTrainedModel, _pair, check_pixel_values, check_whole_patches

AUXILIARY_LOSS_NOT_HERE = (
    "config.auxiliary_loss=True (DETR's extra losses on every decoder layer's guesses) is not supported: YOLOS has no "
    "decoder, and transformers 5.23's YolosForObjectDetection fails with it too (it passes the tuple of hidden states "
    "to the heads, and YolosConfig has no decoder_layers), so there is no reference to match. Set auxiliary_loss=False."
)


class YolosConfig(PretrainedConfig):
    """YOLOS's hyper-parameters, with the names and defaults of transformers' ``YolosConfig``
    (the defaults describe hustvl/yolos-base). The matching-loss fields (``class_cost`` ...
    ``eos_coefficient``) weigh the training loss (``object_detection_loss``); ``auxiliary_loss=True`` is refused
    in training (transformers 5.23 cannot compute it for YOLOS either)."""

    model_type = "yolos"

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
        image_size: int | Sequence[int] = (512, 864),
        patch_size: int = 16,
        num_channels: int = 3,
        qkv_bias: bool = True,
        num_detection_tokens: int = 100,
        use_mid_position_embeddings: bool = True,
        auxiliary_loss: bool = False,
        class_cost: float = 1,
        bbox_cost: float = 5,
        giou_cost: float = 2,
        bbox_loss_coefficient: float = 5,
        giou_loss_coefficient: float = 2,
        eos_coefficient: float = 0.1,
        **kwargs,
    ):
        if not isinstance(hidden_act, str):
            raise TypeError(
                f"hidden_act must be an activation name such as 'gelu', got {type(hidden_act).__name__}; "
                "configs are plain data, so pass the name."
            )
        check_divisible("hidden_size", hidden_size, "num_attention_heads", num_attention_heads,
                        "each head gets hidden_size / num_attention_heads dimensions.")
        count = num_detection_tokens
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(
                f"num_detection_tokens must be a whole number >= 1 (how many objects the model can report), "
                f"got {num_detection_tokens!r}."
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
        self.image_size = list(image_size) if isinstance(image_size, (list, tuple)) else image_size
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.qkv_bias = qkv_bias
        self.num_detection_tokens = num_detection_tokens
        self.use_mid_position_embeddings = use_mid_position_embeddings
        self.auxiliary_loss = auxiliary_loss
        self.class_cost = class_cost
        self.bbox_cost = bbox_cost
        self.giou_cost = giou_cost
        self.bbox_loss_coefficient = bbox_loss_coefficient
        self.giou_loss_coefficient = giou_loss_coefficient
        self.eos_coefficient = eos_coefficient
        super().__init__(**kwargs)


def patch_grid(config: YolosConfig, height: int | None = None, width: int | None = None) -> tuple[int, int]:
    """(rows, columns) of patches for a ``height`` x ``width`` image (``config.image_size`` by default)."""
    image_height, image_width = _pair(config.image_size)
    patch_height, patch_width = _pair(config.patch_size)
    height, width = height or image_height, width or image_width
    return height // patch_height, width // patch_width


def interpolate_positions(positions: torch.Tensor, grid: tuple[int, int], new_grid: tuple[int, int],
                          num_detection_tokens: int) -> torch.Tensor:
    """Position rows for a ``new_grid`` of patches: (r, 1 + gh*gw + D, d) -> (r, 1 + nh*nw + D, d).

    Row 0 ([CLS]) and the last D rows (detection tokens) are kept; the patch rows are laid out
    on their learned (gh, gw) grid, resized bicubically and read back row by row (what
    transformers' ``InterpolateInitialPositionEmbeddings`` / ``InterpolateMidPositionEmbeddings`` do).
    """
    if tuple(new_grid) == tuple(grid):
        return positions  # the size it was trained for
    rows, _, dim = positions.shape
    cls_position = positions[:, :1]  # (r, 1, d)
    patch_positions = positions[:, 1:-num_detection_tokens]  # (r, gh*gw, d)
    detection_positions = positions[:, -num_detection_tokens:]  # (r, D, d)
    patch_positions = patch_positions.transpose(1, 2).reshape(rows, dim, *grid)  # (r, d, gh, gw)
    patch_positions = nn.functional.interpolate(
        patch_positions, size=tuple(new_grid), mode="bicubic", align_corners=False
    )  # (r, d, nh, nw)
    patch_positions = patch_positions.flatten(2).transpose(1, 2)  # (r, nh*nw, d)
    return torch.cat((cls_position, patch_positions, detection_positions), dim=1)  # (r, 1 + nh*nw + D, d)


# --------------------------------------------------------------------------- embeddings and encoder


class YolosEmbeddings(nn.Module):
    """[CLS] + patch vectors + detection tokens, plus learned positions resized to the image."""

    def __init__(self, config: YolosConfig):
        super().__init__()
        self.config = config
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.detection_tokens = nn.Parameter(torch.zeros(1, config.num_detection_tokens, config.hidden_size))
        self.patch_embeddings = ViTPatchEmbeddings(config)  # ViT's strided Conv2d
        num_positions = 1 + self.patch_embeddings.num_patches + config.num_detection_tokens
        self.position_embeddings = nn.Parameter(torch.zeros(1, num_positions, config.hidden_size))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

        self.hook_embed = HookPoint("embed")  # (b, s, d) [CLS] + patches + detection tokens, before positions
        self.hook_pos_embed = HookPoint("pos_embed")  # (1, s, d) for this image size

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = pixel_values.shape
        patches = self.patch_embeddings(pixel_values)  # (b, n, d)
        cls_tokens = self.cls_token.expand(batch, -1, -1)  # (b, 1, d)
        detection_tokens = self.detection_tokens.expand(batch, -1, -1)  # (b, D, d)
        tokens = self.hook_embed(torch.cat((cls_tokens, patches, detection_tokens), dim=1))  # (b, s, d)
        positions = interpolate_positions(
            self.position_embeddings, patch_grid(self.config), patch_grid(self.config, height, width),
            self.config.num_detection_tokens,
        )  # (1, s, d)
        return self.dropout(tokens + self.hook_pos_embed(positions))  # (b, s, d)


class YolosEncoder(nn.Module):
    """ViT's layers; with ``use_mid_position_embeddings``, learned positions added after each but the last."""

    def __init__(self, config: YolosConfig):
        super().__init__()
        self.config = config
        self.layer = nn.ModuleList([ViTLayer(config, layer_idx=i) for i in range(config.num_hidden_layers)])
        if config.use_mid_position_embeddings:
            rows, cols = patch_grid(config)
            seq = 1 + rows * cols + config.num_detection_tokens
            self.mid_position_embeddings = nn.Parameter(
                torch.zeros(config.num_hidden_layers - 1, 1, seq, config.hidden_size)
            )  # (L-1, 1, s, d)
        else:
            self.mid_position_embeddings = None
        self.hook_mid_pos_embed = HookPoint()  # (L-1, 1, s, d) for this image size

    def mid_positions(self, height: int, width: int) -> torch.Tensor | None:
        """The mid-layer position embeddings resized to a ``height`` x ``width`` image: (L-1, 1, s, d)."""
        if self.mid_position_embeddings is None:
            return None
        mid = self.mid_position_embeddings
        depth, _, seq, dim = mid.shape
        if depth:
            mid = interpolate_positions(
                mid.reshape(depth, seq, dim), patch_grid(self.config), patch_grid(self.config, height, width),
                self.config.num_detection_tokens,
            ).unsqueeze(1)  # (L-1, 1, s, d)
        return self.hook_mid_pos_embed(mid)

    def forward(self, hidden_states: torch.Tensor, height: int, width: int, output_attentions: bool = False,
                output_hidden_states: bool = False) -> tuple[torch.Tensor, tuple | None, tuple | None]:
        """Returns ``(hidden, hidden_states, attentions)``; ``hidden_states`` has L + 1 entries: the
        embeddings, then each layer's output before the mid-layer positions (transformers 5)."""
        mid = self.mid_positions(height, width)  # (L-1, 1, s, d) or None
        all_hidden = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for index, layer in enumerate(self.layer):
            hidden_states, pattern = layer(hidden_states, output_attentions)  # (b, s, d)
            if output_hidden_states:
                all_hidden += (hidden_states,)
            if output_attentions:
                all_attentions += (pattern,)
            if mid is not None and index < len(self.layer) - 1:
                hidden_states = hidden_states + mid[index]  # (b, s, d) + (1, s, d)
        return hidden_states, all_hidden, all_attentions


class YolosPooler(nn.Module):
    """The [CLS] vector through dense + tanh (a bare YolosModel has it; the detector does not)."""

    def __init__(self, config: YolosConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()
        self.hook_pooled = HookPoint()  # (b, d)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.hook_pooled(self.activation(self.dense(hidden_states[:, 0])))  # (b, d) from [CLS]


class YolosMLPPredictionHead(nn.Module):
    """DETR's prediction MLP: ``num_layers`` linear layers with ReLU between (none after the last)."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int):
        super().__init__()
        self.num_layers = num_layers
        widths = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(
            nn.Linear(width_in, width_out) for width_in, width_out in zip([input_dim] + widths, widths + [output_dim])
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < self.num_layers - 1:
                x = nn.functional.relu(x)
        return x


# --------------------------------------------------------------------------- the training loss (DETR's)
#
# The D detection tokens give an unordered *set* of guesses; an image has some number n of true
# objects (n may be 0). DETR's loss (Carion et al., 2020), which YOLOS keeps unchanged:
#
# 1. **Match.** For each image, a cost for every (token, object) pair:
#        class_cost * (-p_token(object's class)) + bbox_cost * L1(boxes) + giou_cost * (-GIoU(boxes))
#    and the one-to-one assignment of n tokens to the n objects with the least total cost
#    (the Hungarian algorithm: SciPy's ``linear_sum_assignment``). No gradient flows through it.
# 2. **Classify.** Every matched token should predict its object's class, every other token
#    "no object" (class k): cross-entropy over all b*D tokens, with "no object" weighted by
#    ``eos_coefficient`` (0.1) since most tokens are empty.
# 3. **Regress.** For matched tokens only, the L1 distance of (cx, cy, w, h) and 1 - GIoU,
#    each summed and divided by the number of objects in the batch (at least 1).
# loss = loss_ce + bbox_loss_coefficient * loss_bbox + giou_loss_coefficient * loss_giou.
# ``cardinality_error`` (|tokens not predicting "no object" - n|, averaged over images) is logged only.


def center_to_corners(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) boxes (cx, cy, w, h) -> (x0, y0, x1, y1)."""
    center_x, center_y, width, height = boxes.unbind(-1)
    return torch.stack(
        (center_x - 0.5 * width, center_y - 0.5 * height, center_x + 0.5 * width, center_y + 0.5 * height), dim=-1
    )


def generalized_box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """GIoU (Rezatofighi et al., 2019) of corner boxes (x0, y0, x1, y1) that broadcast: (..., 4), (..., 4) -> (...).

    IoU minus the share of the smallest enclosing box that neither box covers: 1 for equal boxes,
    falling towards -1 as they move apart, so that boxes that do not touch still get a gradient.
    Pass (N, 1, 4) and (1, M, 4) for the (N, M) matrix."""
    area1 = (boxes1[..., 2] - boxes1[..., 0]) * (boxes1[..., 3] - boxes1[..., 1])
    area2 = (boxes2[..., 2] - boxes2[..., 0]) * (boxes2[..., 3] - boxes2[..., 1])
    overlap = (torch.min(boxes1[..., 2:], boxes2[..., 2:]) - torch.max(boxes1[..., :2], boxes2[..., :2])).clamp(min=0)
    intersection = overlap[..., 0] * overlap[..., 1]
    union = area1 + area2 - intersection
    iou = intersection / union
    hull = (torch.max(boxes1[..., 2:], boxes2[..., 2:]) - torch.min(boxes1[..., :2], boxes2[..., :2])).clamp(min=0)
    hull_area = hull[..., 0] * hull[..., 1]  # the smallest box around both
    return iou - (hull_area - union) / hull_area


def check_detection_labels(labels, batch: int, num_labels: int) -> list[dict]:
    """Check ``labels`` (one dict per image: ``class_labels`` (n,) ints in [0, k), ``boxes`` (n, 4)
    (cx, cy, w, h) in [0, 1], n >= 0) before any work; returns them as tensors."""
    hint = ("labels is a list with one dict per image: {'class_labels': (n,) class ids, 'boxes': (n, 4) as (center_x, "
            "center_y, width, height) divided by the image's width and height}; n may be 0.")
    if not isinstance(labels, (list, tuple)) or not all(isinstance(target, dict) for target in labels):
        raise TypeError(f"{hint} Got {type(labels).__name__}.")
    if len(labels) != batch:
        raise ValueError(f"labels has {len(labels)} dicts but pixel_values has {batch} images. {hint}")
    checked = []
    for index, target in enumerate(labels):
        missing = {"class_labels", "boxes"} - set(target)
        if missing:
            raise ValueError(f"labels[{index}] has no {sorted(missing)}. {hint}")
        classes = torch.as_tensor(target["class_labels"])
        boxes = torch.as_tensor(target["boxes"])
        if classes.ndim != 1 or classes.is_floating_point() or classes.is_complex() or classes.dtype == torch.bool:
            raise ValueError(f"labels[{index}]['class_labels'] must be a 1-D tensor of integer class ids, got "
                             f"dtype {classes.dtype} and shape {tuple(classes.shape)}. {hint}")
        if boxes.ndim != 2 or boxes.shape[-1] != 4 or len(boxes) != len(classes):
            raise ValueError(f"labels[{index}]['boxes'] must have shape ({len(classes)}, 4), one (center_x, center_y, "
                             f"width, height) row per class label, got {tuple(boxes.shape)}. {hint}")
        if not boxes.is_floating_point():
            boxes = boxes.float()
        if len(classes) and (classes.min() < 0 or classes.max() >= num_labels):
            raise ValueError(f"labels[{index}]['class_labels'] holds {classes.tolist()}, but this model has "
                             f"num_labels={num_labels} classes (ids 0..{num_labels - 1}; the 'no object' class "
                             f"{num_labels} is never a label).")
        if not torch.isfinite(boxes).all() or (boxes < 0).any() or (boxes > 1).any():
            raise ValueError(f"labels[{index}]['boxes'] must lie in [0, 1] (relative to the image), got "
                             f"{boxes.tolist()}. Pixel boxes? Divide center_x and width by the image width, "
                             f"center_y and height by its height. Corners (x0, y0, x1, y1)? Convert to centres "
                             f"and sizes first.")
        checked.append({"class_labels": classes.long(), "boxes": boxes})
    return checked


@torch.no_grad()
def hungarian_match(logits: torch.Tensor, pred_boxes: torch.Tensor, labels: list[dict], class_cost: float,
                    bbox_cost: float, giou_cost: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per image, (token indices, object indices) of the cheapest one-to-one assignment (step 1 above).

    ``logits`` (b, D, k + 1), ``pred_boxes`` (b, D, 4); each pair has min(D, n) entries, tokens in order."""
    from scipy.optimize import linear_sum_assignment  # only training needs SciPy

    matches = []
    for image_logits, image_boxes, target in zip(logits, pred_boxes, labels):
        probabilities = image_logits.softmax(-1)  # (D, k + 1)
        classes, boxes = target["class_labels"], target["boxes"].to(image_boxes)  # (n,), (n, 4)
        cost = (
            class_cost * -probabilities[:, classes]  # (D, n): 1 - p would match the same way
            + bbox_cost * torch.cdist(image_boxes, boxes, p=1)  # (D, n)
            + giou_cost * -generalized_box_iou(center_to_corners(image_boxes)[:, None], center_to_corners(boxes)[None])
        )  # (D, n)
        largest = torch.finfo(cost.dtype).max  # a NaN/inf pair is matched only when nothing else can be
        cost = torch.nan_to_num(cost, nan=largest, posinf=largest, neginf=largest)
        tokens, objects = linear_sum_assignment(cost.cpu().numpy())
        matches.append((torch.as_tensor(tokens, dtype=torch.int64), torch.as_tensor(objects, dtype=torch.int64)))
    return matches


def object_detection_loss(logits: torch.Tensor, pred_boxes: torch.Tensor, labels: list[dict],
                          config: YolosConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``(loss, loss_dict)`` of DETR's set loss (steps 1-3 above) with the config's costs and weights;
    ``loss_dict`` holds ``loss_ce``, ``loss_bbox``, ``loss_giou`` and ``cardinality_error``, as in transformers."""
    batch, tokens, num_classes = logits.shape  # num_classes = k + 1
    matches = hungarian_match(logits, pred_boxes, labels, config.class_cost, config.bbox_cost, config.giou_cost)
    image_index = torch.cat([torch.full_like(token, i) for i, (token, _) in enumerate(matches)])  # (m,)
    token_index = torch.cat([token for token, _ in matches])  # (m,) m = matched pairs in the batch
    num_boxes = max(sum(len(target["class_labels"]) for target in labels), 1)

    # 2. classes: matched tokens get their object's class, all others "no object" (k)
    target_classes = torch.full((batch, tokens), num_classes - 1, dtype=torch.int64, device=logits.device)  # (b, D)
    target_classes[image_index, token_index] = torch.cat(
        [target["class_labels"][objects] for target, (_, objects) in zip(labels, matches)]).to(logits.device)
    class_weights = torch.ones(num_classes, device=logits.device)
    class_weights[-1] = config.eos_coefficient
    loss_ce = nn.functional.cross_entropy(logits.transpose(1, 2), target_classes, class_weights)  # (b, k+1, D) vs (b, D)

    # 3. boxes: matched tokens only
    matched_boxes = pred_boxes[image_index, token_index]  # (m, 4)
    target_boxes = torch.cat([target["boxes"][objects] for target, (_, objects) in zip(labels, matches)]).to(
        matched_boxes)  # (m, 4)
    loss_bbox = nn.functional.l1_loss(matched_boxes, target_boxes, reduction="none").sum() / num_boxes
    giou = generalized_box_iou(center_to_corners(matched_boxes), center_to_corners(target_boxes))  # (m,)
    loss_giou = (1 - giou).sum() / num_boxes

    with torch.no_grad():  # logged, not trained
        predicted_objects = (logits.argmax(-1) != num_classes - 1).sum(1).float()  # (b,)
        true_objects = torch.tensor([float(len(target["class_labels"])) for target in labels], device=logits.device)
        cardinality_error = nn.functional.l1_loss(predicted_objects, true_objects)

    loss = loss_ce + config.bbox_loss_coefficient * loss_bbox + config.giou_loss_coefficient * loss_giou
    loss_dict = {"loss_ce": loss_ce, "loss_bbox": loss_bbox, "loss_giou": loss_giou,
                 "cardinality_error": cardinality_error}
    return loss, loss_dict


# --------------------------------------------------------------------------- models


class YolosPreTrainedModel(ViTPreTrainedModel):
    """ViT's base class (prefix ``vit``, ``pixel_values``, the pooler optional in a checkpoint) for YOLOS's config."""

    config_class = YolosConfig

    def _init_weights(self, module: nn.Module) -> None:
        """ViT's, except that the tokens and positions start at zero (as in transformers' YOLOS)."""
        if isinstance(module, YolosEmbeddings):
            for parameter in (module.cls_token, module.detection_tokens, module.position_embeddings):
                nn.init.zeros_(parameter)
        elif isinstance(module, YolosEncoder):
            if module.mid_position_embeddings is not None:
                nn.init.zeros_(module.mid_position_embeddings)
        else:
            super()._init_weights(module)


class YolosModel(YolosPreTrainedModel):
    """The bare YOLOS encoder: ``pixel_values`` (b, c, H, W), any size -> ``last_hidden_state`` (b, s, d)
    and ``pooler_output`` (b, d) (None with ``add_pooling_layer=False``)."""

    _final_norm = "layernorm"  # the norm after the last layer (ActivationCache.apply_final_norm)

    def __init__(self, config: YolosConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = YolosEmbeddings(config)
        self.encoder = YolosEncoder(config)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.pooler = YolosPooler(config) if add_pooling_layer else None
        self.hook_final = HookPoint("final")  # (b, s, d)
        self.post_init()

    def get_input_embeddings(self) -> ViTPatchEmbeddings:
        return self.embeddings.patch_embeddings

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling:
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        # Any size at least one patch: the positions are always resized to the image.
        check_pixel_values(pixel_values, config, interpolate_pos_encoding=True, family=type(self).__name__)
        pixel_values = pixel_values.to(self.embeddings.patch_embeddings.projection.weight.dtype)
        height, width = pixel_values.shape[-2:]

        hidden = self.embeddings(pixel_values)  # (b, s, d)
        hidden, all_hidden, all_attentions = self.encoder(hidden, height, width, output_attentions,
                                                          output_hidden_states)
        hidden = self.hook_final(self.layernorm(hidden))  # (b, s, d)
        pooled = self.pooler(hidden) if self.pooler is not None else None  # (b, d)
        return BaseModelOutputWithPooling(
            last_hidden_state=hidden, pooler_output=pooled, hidden_states=all_hidden, attentions=all_attentions
        )


@dataclass
class YolosObjectDetectionOutput(ModelOutput):
    """``logits`` (b, D, k + 1): class scores per detection token, the last one "no object";
    ``pred_boxes`` (b, D, 4): (cx, cy, w, h) relative to the image the model saw, in [0, 1].
    ``loss`` and ``loss_dict`` (``loss_ce``, ``loss_bbox``, ``loss_giou``, ``cardinality_error``) come with
    ``labels``; ``auxiliary_outputs`` stays None (no auxiliary loss)."""

    loss: Tensor = None
    loss_dict: dict | None = None
    logits: Tensor = None
    pred_boxes: Tensor = None
    auxiliary_outputs: list[dict] | None = None
    last_hidden_state: Tensor = None
    hidden_states: Tensors = None
    attentions: Tensors = None


class YolosForObjectDetection(YolosPreTrainedModel):
    """YOLOS with its two heads on the D detection tokens: classes (k + 1, "no object" last) and boxes."""

    def __init__(self, config: YolosConfig):
        super().__init__(config)
        self.vit = YolosModel(config, add_pooling_layer=False)
        hidden = config.hidden_size
        self.class_labels_classifier = YolosMLPPredictionHead(hidden, hidden, config.num_labels + 1, num_layers=3)
        self.bbox_predictor = YolosMLPPredictionHead(hidden, hidden, 4, num_layers=3)
        self.hook_class_logits = HookPoint("class_logits")  # (b, D, k + 1)
        self.hook_pred_boxes = HookPoint()  # (b, D, 4), (cx, cy, w, h) in [0, 1]
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        labels: list[dict] | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> YolosObjectDetectionOutput:
        if labels is not None:  # checked before any work
            if self.config.auxiliary_loss:
                raise NotImplementedError(AUXILIARY_LOSS_NOT_HERE)
            check_pixel_values(pixel_values, self.config, interpolate_pos_encoding=True, family="YolosModel")
            labels = check_detection_labels(labels, pixel_values.shape[0], self.config.num_labels)
        outputs = self.vit(pixel_values, output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        detections = outputs.last_hidden_state[:, -self.config.num_detection_tokens:]  # (b, D, d): the last D positions
        logits = self.hook_class_logits(self.class_labels_classifier(detections))  # (b, D, k + 1)
        pred_boxes = self.hook_pred_boxes(self.bbox_predictor(detections).sigmoid())  # (b, D, 4)
        loss = loss_dict = None
        if labels is not None:
            loss, loss_dict = object_detection_loss(logits, pred_boxes, labels, self.config)
        return YolosObjectDetectionOutput(
            loss=loss,
            loss_dict=loss_dict,
            logits=logits,
            pred_boxes=pred_boxes,
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


# --------------------------------------------------------------------------- image processor


def get_size_with_aspect_ratio_yolos(image_size: tuple[int, int], size: int, max_size: int | None = None,
                                     mod_size: int = 16) -> tuple[int, int]:
    """(height, width) with the shorter edge ``size`` (the longer at most ``max_size``, which then wins),
    aspect ratio kept, each side rounded down to a multiple of ``mod_size`` (YOLOS's processors, all backends)."""
    height, width = image_size
    short, long = min(height, width), max(height, width)
    raw_size = None
    if max_size is not None and long / short * size > max_size:
        raw_size = max_size * short / long  # the shorter edge that puts the longer one at max_size
        size = int(round(raw_size))
    scale = raw_size if raw_size is not None else size
    if width < height:
        new_height, new_width = int(scale * height / width), size
    elif height == size:
        new_height, new_width = height, width  # already that size
    else:
        new_height, new_width = size, int(scale * width / height)
    return new_height - new_height % mod_size, new_width - new_width % mod_size


class YolosImageProcessor(BaseImageProcessor):
    """Images -> ``pixel_values`` (b, 3, h, w) and ``pixel_mask`` (b, h, w), transformers'
    ``YolosImageProcessorPil`` (what ``AutoImageProcessor`` gives there without torchvision):

    1. resize keeping the aspect ratio: shorter edge 800, longer at most 1333, each side a
       multiple of 16 (``size`` may also be ``{"height", "width"}`` or ``{"max_height", "max_width"}``);
    2. rescale to [0, 1], normalise with ImageNet's mean and std;
    3. pad (``do_pad``) every image at the bottom and right with zeros to the batch's largest
       height and width (or ``pad_size``); ``pixel_mask`` is 1 on real pixels, 0 on padding.

    YOLOS itself takes no ``pixel_mask`` (it reads the padding as pixels, as in transformers); DETR-style
    models do, so the processor returns it. ``post_process_object_detection`` turns the model's
    boxes into pixel corners. COCO ``annotations=`` are not read (issue 15): give the model ``labels=`` directly.
    """

    model_input_names: ClassVar[list[str]] = ["pixel_values", "pixel_mask"]
    default_to_square: ClassVar[bool] = False
    resample = BILINEAR
    image_mean = IMAGENET_DEFAULT_MEAN
    image_std = IMAGENET_DEFAULT_STD
    size = {"shortest_edge": 800, "longest_edge": 1333}
    do_resize = True
    do_rescale = True
    do_normalize = True
    do_pad = True
    pad_size: dict[str, int] | None = None
    format = "coco_detection"

    def __init__(self, do_pad: bool | None = None, pad_size: dict[str, int] | None = None,
                 format: str | None = None, do_convert_annotations: bool | None = None,
                 max_size: int | None = None, **settings: Any):
        old_do_pad = settings.pop("pad_and_return_pixel_mask", None)  # the old name of do_pad
        do_pad = old_do_pad if do_pad is None else do_pad
        if isinstance(settings.get("size"), int):  # an int is the shorter edge, the longer at most max_size
            settings["size"] = {"shortest_edge": settings["size"], "longest_edge": max_size or 1333}
        super().__init__(**settings)
        self.do_pad = type(self).do_pad if do_pad is None else do_pad
        self.pad_size = _check_pad_size(pad_size)
        self.format = type(self).format if format is None else str(getattr(format, "value", format))
        self.do_convert_annotations = self.do_normalize if do_convert_annotations is None else do_convert_annotations

    def to_dict(self) -> dict[str, Any]:
        output = super().to_dict()
        if output.get("pad_size", 0) is None:
            del output["pad_size"]  # as transformers writes it: unset settings are left out
        return output

    def resize(self, image: np.ndarray, size: dict[str, int], resample: int | None = None, **kwargs) -> np.ndarray:
        """Resize a (c, h, w) image: ``{"shortest_edge", "longest_edge"}`` keeps the aspect ratio with sides
        that are multiples of 16; ``{"height", "width"}`` and ``{"max_height", "max_width"}`` as in the base."""
        size = get_size_dict(size, default_to_square=False)
        if "shortest_edge" in size and "longest_edge" in size:
            height, width = get_size_with_aspect_ratio_yolos(
                image.shape[-2:], size["shortest_edge"], size["longest_edge"]
            )
            if not height or not width:
                raise ValueError(
                    f"resizing a {image.shape[-2]}x{image.shape[-1]} image to {size} gives {height}x{width}: YOLOS "
                    "rounds each side down to a multiple of 16. Use a shortest_edge of at least 16."
                )
            size = {"height": height, "width": width}
        elif not ({"height", "width"} <= set(size) or {"max_height", "max_width"} <= set(size)):
            raise ValueError(
                f"YOLOS resizes to {{'shortest_edge', 'longest_edge'}}, {{'height', 'width'}} or "
                f"{{'max_height', 'max_width'}}, got {sorted(size)}; add 'longest_edge' (1333 by default)."
            )
        return super().resize(image, size, resample=resample, **kwargs)

    def preprocess(self, images, annotations=None, *, return_tensors: str | None = None,
                   input_data_format: str | None = None, do_pad: bool | None = None,
                   pad_size: dict[str, int] | None = None, **overrides) -> BatchFeature:
        """One image or a list -> ``BatchFeature({"pixel_mask": ..., "pixel_values": ...})`` (no mask
        with ``do_pad=False``). ``overrides`` are the base settings, for this call only."""
        if annotations is not None:
            raise NotImplementedError(
                "annotations (COCO boxes for training) are not read by hfexplain's YolosImageProcessor (issue 15): "
                "call it with images only and pass the model labels=[{'class_labels': (n,), 'boxes': (n, 4) "
                "relative (center_x, center_y, width, height)}, ...] yourself."
            )
        for name in ("format", "do_convert_annotations"):  # they only change annotations
            overrides.pop(name, None)
        do_pad = self.do_pad if do_pad is None else do_pad
        pad_size = self.pad_size if pad_size is None else _check_pad_size(pad_size)
        images = super().preprocess(images, input_data_format=input_data_format, **overrides)["pixel_values"]
        if not do_pad:
            return BatchFeature({"pixel_values": images}, tensor_type=return_tensors)

        sizes = [image.shape[-2:] for image in images]  # each (h, w)
        if pad_size is not None:
            target = (pad_size["height"], pad_size["width"])
        else:
            target = (max(height for height, _ in sizes), max(width for _, width in sizes))
        padded, masks = [], []
        for image, (height, width) in zip(images, sizes):
            if height > target[0] or width > target[1]:
                raise ValueError(
                    f"pad_size {target} is smaller than an image of {height}x{width} after resizing; padding only "
                    "adds pixels. Use a larger pad_size, or pad_size=None to pad to the largest image."
                )
            canvas = np.zeros(image.shape[:-2] + target, dtype=image.dtype)  # (c, H, W)
            canvas[..., :height, :width] = image  # the image at the top left, zeros below and to the right
            mask = np.zeros(target, dtype=np.int64)  # (H, W)
            mask[:height, :width] = 1
            padded.append(canvas)
            masks.append(mask)
        return BatchFeature({"pixel_mask": masks, "pixel_values": padded}, tensor_type=return_tensors)

    def post_process_object_detection(self, outputs, threshold: float = 0.5, target_sizes=None) -> list[dict]:
        """The model's outputs -> per image ``{"scores", "labels", "boxes"}``, boxes as (x0, y0, x1, y1).

        For each detection token: softmax over the k + 1 classes, the best real class (the last,
        "no object", is left out) and its score; tokens scoring above ``threshold`` are kept. Boxes
        (cx, cy, w, h) in [0, 1] become corners, times (width, height) of ``target_sizes`` ((b, 2)
        tensor or list of (height, width); pass the original image sizes) when given.
        """
        logits, boxes = outputs["logits"], outputs["pred_boxes"]  # (b, D, k + 1), (b, D, 4)
        if target_sizes is not None and len(target_sizes) != len(logits):
            raise ValueError(
                f"target_sizes has {len(target_sizes)} entries but the outputs have {len(logits)} images; "
                "pass one (height, width) per image, in order."
            )
        probabilities = logits.softmax(-1)  # (b, D, k + 1)
        scores, labels = probabilities[..., :-1].max(-1)  # (b, D): best real class per token
        center_x, center_y, width, height = boxes.unbind(-1)  # each (b, D)
        corners = torch.stack(
            (center_x - 0.5 * width, center_y - 0.5 * height, center_x + 0.5 * width, center_y + 0.5 * height), dim=-1
        )  # (b, D, 4): x0, y0, x1, y1
        if target_sizes is not None:
            if isinstance(target_sizes, (list, tuple)):
                image_height = torch.tensor([float(size[0]) for size in target_sizes])
                image_width = torch.tensor([float(size[1]) for size in target_sizes])
            else:
                image_height, image_width = target_sizes.unbind(1)  # (b,), (b,)
            scale = torch.stack((image_width, image_height, image_width, image_height), dim=1).to(corners.device)
            corners = corners * scale[:, None, :]  # (b, D, 4) in pixels
        results = []
        for image_scores, image_labels, image_boxes in zip(scores, labels, corners):
            keep = image_scores > threshold  # (D,)
            results.append({"scores": image_scores[keep], "labels": image_labels[keep], "boxes": image_boxes[keep]})
        return results


def _check_pad_size(pad_size):
    if pad_size is None:
        return None
    if not isinstance(pad_size, dict) or set(pad_size) != {"height", "width"}:
        raise ValueError(f"pad_size must be a dict with 'height' and 'width', got {pad_size!r}.")
    return dict(pad_size)


__all__ = [
    "YolosConfig",
    "YolosPreTrainedModel",
    "YolosModel",
    "YolosForObjectDetection",
    "YolosObjectDetectionOutput",
    "YolosImageProcessor",
    "YolosMLPPredictionHead",
    "center_to_corners",
    "check_detection_labels",
    "generalized_box_iou",
    "hungarian_match",
    "object_detection_loss",
    "get_size_with_aspect_ratio_yolos",
    "interpolate_positions",
    "patch_grid",
]
