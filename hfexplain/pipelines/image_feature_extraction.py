"""image-feature-extraction: a vision model's hidden states for one image.

    "cat.png" / PIL image / array ─► image processor ─► pixel_values (1, 3, H, W)
        ─► base model ─► last_hidden_state (1, s, d) ─► nested lists (one vector per position)

As transformers' ``ImageFeatureExtractionPipeline``: the output is the model's first output
(ViT: s = 1 + patches, position 0 is [CLS]); ``pool=True`` gives ``pooler_output`` (1, d)
instead, ``return_tensors=True`` the tensor rather than nested lists, and
``image_processor_kwargs`` (``{"size": ...}``) go to the image processor.
"""
from __future__ import annotations

import re
from typing import Any

from .base import Pipeline
from .image_classification import as_processor_input, check_image, describe_pixels


class ImageFeatureExtractionPipeline(Pipeline):
    """Return the hidden states (or the pooled vector) of any vision model."""

    task = "image-feature-extraction"
    model_task = None  # any model that reads pixel_values

    def _sanitize_parameters(self, image_processor_kwargs: dict[str, Any] | None = None,
                             return_tensors: bool | None = None, pool: bool | None = None):
        postprocess_params: dict[str, Any] = {}
        if pool is not None:
            postprocess_params["pool"] = pool
        if return_tensors is not None:
            postprocess_params["return_tensors"] = return_tensors
        return dict(image_processor_kwargs or {}), {}, postprocess_params

    def _ignores_new_weight(self, name: str) -> bool:
        # The output is the last hidden state; a pooler missing from a classifier's checkpoint is not used.
        return re.search(r"(^|\.)pooler\.", name) is not None

    def _check_input(self, item: Any) -> None:
        check_image(item, self.task)

    def preprocess(self, image, **image_processor_kwargs: Any) -> dict[str, Any]:
        return dict(self.image_processor(as_processor_input(image), return_tensors="pt", **image_processor_kwargs))

    def _inspection_details(self, rows: list[dict[str, Any]], details: dict[str, Any]) -> None:
        details["pixels"] = [describe_pixels(self.model, row["pixel_values"]) for row in rows]

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        outputs = self.model(**self._model_kwargs(model_inputs))
        return {"features": outputs[0], "pooler_output": getattr(outputs, "pooler_output", None)}  # (b, s, d), (b, d)

    def postprocess(self, model_outputs: dict[str, Any], pool: bool = False, return_tensors: bool = False,
                    trace: dict | None = None):
        if pool:
            if model_outputs.get("pooler_output") is None:
                raise ValueError(
                    f"pool=True needs a pooled output, and {type(self.model).__name__} returns none (it was built "
                    "without a pooler: add_pooling_layer=False, or a classifier). Use pool=False and read "
                    "position 0 ([CLS]) of the hidden states, or load the model with AutoModel."
                )
            features = model_outputs["pooler_output"]  # (1, d)
        else:
            features = model_outputs["features"]  # (1, s, d)
        if trace is not None:
            trace["probabilities"] = None
            trace["decision"] = f"none: the output is the model's {'pooled output' if pool else 'first output'}, " \
                                f"{tuple(features.shape)}"
        return features if return_tensors else features.tolist()
