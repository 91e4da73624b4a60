"""object-detection: the objects a detector finds in one image, each with a label, a score and a box.

    "street.png" / PIL image / array ─► (RGB) ─► image processor ─► pixel_values (1, 3, h, w)
        ─► model ─► logits (1, D, k + 1), pred_boxes (1, D, 4)    one row per detection token
        ─► image_processor.post_process_object_detection(threshold, the original (height, width))
        ─► [{"score", "label", "box": {"xmin", "ymin", "xmax", "ymax"}}, ...]

As transformers' ``ObjectDetectionPipeline``: a path or a PIL image is read as RGB (EXIF
orientation applied); a NumPy array or torch tensor goes to the image processor as it is (an
hfexplain extra: transformers' pipeline takes paths and PIL images only). Every detection
token whose best class (not "no object") scores above ``threshold`` (default 0.5) is one
answer; its box is in pixels of the *original* image, corners truncated to whole pixels::

    pipe("street.png")                   -> [{"score": 0.98, "label": "car", "box": {"xmin": 12, ...}}, ...]
    pipe(["a.png", "b.png"], threshold=0.9)  -> [[...], [...]]

``inspect()`` adds, under ``details``, the patch grid the model saw, where the detection
tokens sit in the sequence, and every token's scores and box before the threshold.
"""
from __future__ import annotations

from typing import Any

import torch

from .base import Pipeline
from .image_classification import as_processor_input, check_image


class ObjectDetectionPipeline(Pipeline):
    """Detect objects (boxes and their classes) with an object-detection model."""

    task = "object-detection"
    model_task = "object-detection"

    def _sanitize_parameters(self, threshold: float | None = None):
        postprocess_params: dict[str, Any] = {}
        if threshold is not None:
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
                raise TypeError(f"threshold must be a number (the score a detection must beat), got {threshold!r}.")
            postprocess_params["threshold"] = float(threshold)
        return {}, {}, postprocess_params

    def _check_input(self, item: Any) -> None:
        check_image(item, self.task)

    def preprocess(self, image) -> dict[str, Any]:
        image = as_processor_input(image)
        inputs = dict(self.image_processor(image, return_tensors="pt"))  # pixel_values (1, c, h, w), pixel_mask
        height, width = _original_size(image, self.image_processor)
        inputs["target_size"] = torch.tensor([[height, width]], dtype=torch.int32)  # (1, 2): boxes go back here
        return inputs

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        outputs = self.model(**self._model_kwargs(model_inputs))
        processed_size = torch.tensor([list(model_inputs["pixel_values"].shape[-2:])] * len(outputs.logits))
        return {
            "logits": outputs.logits,  # (b, D, k + 1)
            "pred_boxes": outputs.pred_boxes,  # (b, D, 4): (cx, cy, w, h) in [0, 1]
            "target_size": model_inputs["target_size"],  # (b, 2) original (height, width)
            "processed_size": processed_size,  # (b, 2) the (height, width) the model saw
        }

    def _collate(self, rows: list[dict[str, Any]]):
        sizes = {tuple(row["pixel_values"].shape) for row in rows}
        if len(sizes) > 1:
            raise ValueError(
                f"batch_size > 1 stacks images, but the image processor made them different sizes "
                f"({sorted(size[-2:] for size in sizes)}): a detector reads each image at its own aspect ratio, "
                "and padding them together would move the boxes. Use batch_size=1, or images of one size."
            )
        return super()._collate(rows)

    def postprocess(self, model_outputs: dict[str, Any], threshold: float = 0.5,
                    trace: dict | None = None) -> list[dict[str, Any]]:
        target_size = model_outputs["target_size"]  # (1, 2)
        detections = self.image_processor.post_process_object_detection(model_outputs, threshold, target_size)[0]
        result = []
        for score, label, box in zip(detections["scores"].tolist(), detections["labels"].tolist(), detections["boxes"]):
            xmin, ymin, xmax, ymax = box.int().tolist()  # whole pixels, truncated as transformers does
            result.append({"score": score, "label": self._label(label),
                           "box": {"xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax}})
        if trace is not None:
            self._explain(model_outputs, threshold, result, trace)
        return result

    def _explain(self, model_outputs: dict[str, Any], threshold: float, result: list, trace: dict) -> None:
        logits = model_outputs["logits"][0]  # (D, k + 1)
        probabilities = logits.softmax(-1)  # (D, k + 1)
        num_tokens, num_classes = probabilities.shape
        height, width = model_outputs["processed_size"][0].tolist()
        details = trace["details"]
        details["processed_size"] = (height, width)
        details["target_size"] = tuple(model_outputs["target_size"][0].tolist())
        config = self.model.config
        patch = getattr(config, "patch_size", None)
        if isinstance(patch, int):
            rows, cols = height // patch, width // patch
            details["patch_grid"] = (rows, cols)
            patches = rows * cols
            details["positions"] = (f"0 = [CLS], 1..{patches} = the {rows}x{cols} patches row by row, "
                                    f"{patches + 1}..{patches + num_tokens} = the {num_tokens} detection tokens")
        details["scores"] = probabilities[:, :-1].max(-1).values  # (D,) best real class per token
        details["pred_boxes"] = model_outputs["pred_boxes"][0]  # (D, 4)
        trace["probabilities"] = probabilities
        trace["decision"] = (
            f"softmax over {num_classes} classes for each of {num_tokens} detection tokens (the last class is "
            f"'no object' and is left out); kept the {len(result)} token(s) whose best class scores above "
            f"{threshold}; boxes (cx, cy, w, h) -> corners, times the original {details['target_size']} (h, w): "
            f"{[row['label'] for row in result]}"
        )


def _original_size(image, image_processor) -> tuple[int, int]:
    """(height, width) of the image as given (what the boxes are scaled back to)."""
    if hasattr(image, "height") and hasattr(image, "width") and not hasattr(image, "ndim"):
        return image.height, image.width  # a PIL image
    return tuple(image_processor.process_image(image).shape[-2:])  # (c, h, w), its channel axis found as it was
