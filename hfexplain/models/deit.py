"""DeiT, data-efficient image Transformers (Touvron et al., 2020): what changed since ViT.

The network is ViT's, layer for layer (``hfexplain.models.vit``). What changed is how it was
trained, and the one token that training needed:

1. **A distillation token.** Next to [CLS], a second learned vector sits in front of the
   patches. During training its final state was pushed (by a second classifier) to agree with
   a teacher network's predictions, while [CLS] learned from the true labels::

       [CLS] [DIST] patch_1 ... patch_n  ─► ViT encoder ─► [CLS] ─► cls_classifier ─┐
                                                          [DIST] ─► distillation_classifier ─┴► average = logits

   So the sequence has s = n + 2 positions (0 = [CLS], 1 = [DIST], 2.. = patches) and
   ``position_embeddings`` has n + 2 rows. ``interpolate_pos_encoding`` keeps both special
   positions and resizes the patch grid, as in ViT.
2. **Two heads.** ``DeiTForImageClassificationWithTeacher`` (the distilled checkpoints) has
   ``cls_classifier`` and ``distillation_classifier``; its ``logits`` are their average, with
   each head's scores in ``cls_logits`` and ``distillation_logits``. It is for inference only
   (no loss), as in transformers. ``DeiTForImageClassification`` is ViT's one classifier on [CLS].
3. **Its image processor** resizes to 256 x 256 (bicubic) and then crops the centre 224 x 224.

Everything else (``deit.encoder.layer.i...``, the hook points, the input checks) is ViT's,
under the prefix ``deit``. Shapes: as in vit.py, with s = n + 2.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..hooks import HookPoint
from ..outputs import ModelOutput, Tensor, Tensors
from ..processing.image_processing import IMAGENET_STANDARD_MEAN, IMAGENET_STANDARD_STD, BaseImageProcessor
from ..processing.image_transforms import BICUBIC
from .vit import (
    ViTConfig,
    ViTEmbeddings,
    ViTForImageClassification,
    ViTModel,
    ViTPreTrainedModel,
)


class DeiTConfig(ViTConfig):
    """DeiT's hyper-parameters: ViT's fields and defaults (transformers' ``DeiTConfig``)."""

    model_type = "deit"


class DeiTEmbeddings(ViTEmbeddings):
    """ViT's embeddings with a second learned vector, the distillation token, after [CLS]."""

    special_tokens = 2  # [CLS] and [DIST]: position_embeddings has n + 2 rows

    def __init__(self, config: DeiTConfig, use_mask_token: bool = False):
        super().__init__(config, use_mask_token=use_mask_token)
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))

    def leading_tokens(self, batch: int) -> torch.Tensor:
        cls_tokens = self.cls_token.expand(batch, -1, -1)  # (b, 1, d)
        distillation_tokens = self.distillation_token.expand(batch, -1, -1)  # (b, 1, d)
        return torch.cat((cls_tokens, distillation_tokens), dim=1)  # (b, 2, d)


class DeiTPreTrainedModel(ViTPreTrainedModel):
    config_class = DeiTConfig
    base_model_prefix = "deit"

    def _init_weights(self, module: nn.Module) -> None:
        """ViT's, except that the special tokens and positions start at zero (transformers' DeiT)."""
        if isinstance(module, DeiTEmbeddings):
            nn.init.zeros_(module.cls_token)
            nn.init.zeros_(module.distillation_token)
            nn.init.zeros_(module.position_embeddings)
            if module.mask_token is not None:
                nn.init.zeros_(module.mask_token)
            return
        super()._init_weights(module)


class DeiTModel(DeiTPreTrainedModel, ViTModel):
    """The bare DeiT encoder: ViTModel with DeiT's embeddings (s = n + 2 positions)."""

    embeddings_class = DeiTEmbeddings


class DeiTForImageClassification(DeiTPreTrainedModel, ViTForImageClassification):
    """ViT's classifier on the final [CLS] vector (the distillation token's state is not read)."""

    base_model_class = DeiTModel


@dataclass
class DeiTForImageClassificationWithTeacherOutput(ModelOutput):
    """``logits`` = (``cls_logits`` + ``distillation_logits``) / 2, each (b, k)."""

    logits: Tensor = None
    cls_logits: Tensor = None
    distillation_logits: Tensor = None
    hidden_states: Tensors = None
    attentions: Tensors = None


class DeiTForImageClassificationWithTeacher(DeiTPreTrainedModel):
    """The distilled DeiT: one classifier on [CLS], one on [DIST]; the prediction is their average.

    Inference only, as in transformers (it takes no labels).
    """

    def __init__(self, config: DeiTConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.deit = DeiTModel(config, add_pooling_layer=False)
        num_labels = config.num_labels
        self.cls_classifier = nn.Linear(config.hidden_size, num_labels) if num_labels > 0 else nn.Identity()
        self.distillation_classifier = nn.Linear(config.hidden_size, num_labels) if num_labels > 0 else nn.Identity()
        self.hook_cls_logits = HookPoint()  # (b, k): the [CLS] head's scores
        self.hook_distillation_logits = HookPoint()  # (b, k): the [DIST] head's scores
        self.hook_class_logits = HookPoint("class_logits")  # (b, k): their average
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        interpolate_pos_encoding: bool = False,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> DeiTForImageClassificationWithTeacherOutput:
        outputs = self.deit(
            pixel_values,
            interpolate_pos_encoding=interpolate_pos_encoding,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        hidden = outputs.last_hidden_state  # (b, s, d)
        cls_logits = self.hook_cls_logits(self.cls_classifier(hidden[:, 0]))  # (b, k), from [CLS]
        distillation_logits = self.hook_distillation_logits(self.distillation_classifier(hidden[:, 1]))  # (b, k)
        logits = self.hook_class_logits((cls_logits + distillation_logits) / 2)  # (b, k)
        return DeiTForImageClassificationWithTeacherOutput(
            logits=logits,
            cls_logits=cls_logits,
            distillation_logits=distillation_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


class DeiTImageProcessor(BaseImageProcessor):
    """Images -> ``pixel_values`` (b, 3, 224, 224): resize to 256 x 256 (bicubic), crop the centre
    224 x 224, rescale, normalise with mean = std = 0.5. transformers' ``DeiTImageProcessorPil`` defaults."""

    resample = BICUBIC
    image_mean = IMAGENET_STANDARD_MEAN
    image_std = IMAGENET_STANDARD_STD
    size = {"height": 256, "width": 256}
    crop_size = {"height": 224, "width": 224}
    do_resize = True
    do_center_crop = True
    do_rescale = True
    do_normalize = True


__all__ = [
    "DeiTConfig",
    "DeiTPreTrainedModel",
    "DeiTModel",
    "DeiTForImageClassification",
    "DeiTForImageClassificationWithTeacher",
    "DeiTForImageClassificationWithTeacherOutput",
    "DeiTImageProcessor",
]
