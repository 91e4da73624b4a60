"""image-classification: the labels an image classifier gives one image.

    "cat.png" / PIL image / array ─► (RGB) ─► image processor ─► pixel_values (1, 3, H, W)
        ─► model ─► logits (1, num_labels) ─► softmax / sigmoid / nothing ─► the top_k labels

As transformers' ``ImageClassificationPipeline``: a path or a PIL image is read as RGB (EXIF
orientation applied; a grey or RGBA picture becomes three channels), a NumPy array or torch
tensor goes to the image processor as it is. ``function_to_apply`` follows ``config.problem_type``
and ``num_labels`` exactly as text classification does (see text_classification.py).
``top_k`` (default 5, at most ``num_labels``) labels come back, best first::

    pipe("cat.png")              -> [{"label": "tabby", "score": 0.71}, ...]
    pipe(["a.png", "b.png"])     -> [[{...}, ...], [{...}, ...]]

Any ``...ForImageClassification`` model works, and DeiT's distilled
``DeiTForImageClassificationWithTeacher`` too (its logits are the average of its two heads).
"""
from __future__ import annotations

import os
from typing import Any

from .base import Pipeline, _check_top_k, _short
from .text_classification import FUNCTIONS, apply_function, default_function


def check_image(item: Any, task: str, who: str | None = None) -> None:
    """A clear error, before any work, for something that is not an image (or an image file).
    ``who`` names the caller in the message (default: "the <task> pipeline")."""
    who = who or f"the {task} pipeline"
    if isinstance(item, (str, os.PathLike)):
        if str(item).startswith(("http://", "https://")):
            raise ValueError(
                f"{who} got the URL {str(item)!r}; hfexplain downloads nothing. Save the image and "
                "pass its path, or open it and pass the PIL image."
            )
        if not os.path.isfile(item):
            raise ValueError(
                f"{who} got {_short(str(item), 80)}, which is not an image file (a string is read as a "
                "path). Pass the path of an existing image file, a PIL image, or a NumPy array / torch tensor."
            )
        return
    if type(item).__module__.startswith("PIL.") or hasattr(item, "ndim") and item.ndim in (2, 3):
        return
    raise TypeError(
        f"{who} takes an image (a path, a PIL image, a NumPy array or torch tensor of pixels)"
        f"{' or a list of images' if who.endswith('pipeline') else ''}, got {type(item).__name__}: {_short(item, 80)}."
    )


def patch_grid(model, height: int, width: int) -> dict[str, Any]:
    """How a vision transformer cuts a ``height`` x ``width`` image into tokens.

    ``patch_size`` comes from the model's config (a two-tower model's ``vision_config``), the
    leading tokens are the learned vectors in front of the patches: the embeddings'
    ``special_tokens`` where they declare it (ViT 1 = [CLS], DeiT 2 = [CLS] and the distillation
    token), else 1 ([CLS]: DINOv2, CLIP). The patches follow, row by row.
    """
    config = getattr(model.config, "vision_config", None) or model.config
    patch = getattr(config, "patch_size", None)
    if patch is None:
        raise ValueError(f"{type(model).__name__}'s config has no patch_size: it does not cut images into patches.")
    patch_h, patch_w = (patch, patch) if isinstance(patch, int) else (int(patch[0]), int(patch[1]))
    leading = next((int(module.special_tokens) for module in model.modules()
                    if isinstance(getattr(module, "special_tokens", None), int)), 1)
    rows, columns = height // patch_h, width // patch_w
    return {"image_size": (height, width), "patch_size": (patch_h, patch_w), "grid": (rows, columns),
            "patches": rows * columns, "leading_tokens": leading, "tokens": rows * columns + leading}


def describe_pixels(model, pixel_values) -> str:
    """One line on the processed tensor (shape, dtype, statistics) and the patch grid it becomes."""
    values = pixel_values.float()
    line = (f"pixel_values {tuple(pixel_values.shape)} {str(pixel_values.dtype).replace('torch.', '')}: "
            f"mean {float(values.mean()):.3f}, std {float(values.std()):.3f}, "
            f"min {float(values.min()):.3f}, max {float(values.max()):.3f}")
    try:
        grid = patch_grid(model, *pixel_values.shape[-2:])
    except ValueError:
        return line
    (height, width), (patch_h, patch_w), (rows, columns) = grid["image_size"], grid["patch_size"], grid["grid"]
    return (line + f"\n          {height}x{width} pixels / {patch_h}x{patch_w} patches -> {rows}x{columns} grid = "
            f"{grid['patches']} patch tokens + {grid['leading_tokens']} leading ([CLS] ...) = {grid['tokens']} tokens")


def as_processor_input(image: Any):
    """A path or PIL image -> an RGB PIL image (transformers' ``load_image``); arrays and tensors as they are."""
    if hasattr(image, "ndim"):
        return image
    from ..processing.image_processing import load_image

    return load_image(image)


class ImageClassificationPipeline(Pipeline):
    """Classify images with an image-classification model."""

    task = "image-classification"
    model_task = "image-classification"

    def _sanitize_parameters(self, top_k: int | None = None, function_to_apply: str | None = None):
        postprocess_params: dict[str, Any] = {}
        if top_k is not None:
            _check_top_k(top_k)
            postprocess_params["top_k"] = top_k
        if function_to_apply is not None:
            function_to_apply = str(getattr(function_to_apply, "value", function_to_apply)).lower()  # transformers' enum
            if function_to_apply not in FUNCTIONS:
                raise ValueError(f"function_to_apply must be one of {', '.join(FUNCTIONS)}, got {function_to_apply!r}.")
            postprocess_params["function_to_apply"] = function_to_apply
        return {}, {}, postprocess_params

    def _accepts_other_head(self, model) -> bool:
        # DeiT's distilled classifier: transformers' AutoModelForImageClassification lists it beside the plain one.
        return type(model).__name__.endswith("ForImageClassificationWithTeacher")

    def _check_input(self, item: Any) -> None:
        check_image(item, self.task)

    def preprocess(self, image) -> dict[str, Any]:
        return dict(self.image_processor(as_processor_input(image), return_tensors="pt"))  # pixel_values (1, c, h, w)

    def _inspection_details(self, rows: list[dict[str, Any]], details: dict[str, Any]) -> None:
        details["pixels"] = [describe_pixels(self.model, row["pixel_values"]) for row in rows]

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        return {"logits": self.model(**self._model_kwargs(model_inputs)).logits}  # (b, num_labels)

    def postprocess(self, model_outputs: dict[str, Any], function_to_apply: str | None = None, top_k: int = 5,
                    trace: dict | None = None) -> list[dict[str, Any]]:
        function = function_to_apply or default_function(self.model.config)
        scores = apply_function(model_outputs["logits"][0], function)  # (num_labels,)
        top_k = min(top_k, self.model.config.num_labels)
        ranked = sorted(range(len(scores)), key=lambda index: -float(scores[index]))[:top_k]
        result = [{"label": self._label(index), "score": float(scores[index])} for index in ranked]
        if trace is not None:
            trace["probabilities"] = scores
            trace["decision"] = (f"{function} over {len(scores)} labels; sorted by score, kept the top {top_k}: "
                                 f"{[row['label'] for row in result]}")
            trace["details"]["function_to_apply"] = function
        return result
