"""Scores computed by hfexplain's own code (NumPy only), so a learner can read how a number is made.

Detection: ``mean_average_precision(predictions, targets, iou_threshold=0.5)`` is mAP@0.5 in the
PASCAL VOC style (2010 onwards, "all points"):

1. per class, every predicted box of every image, best score first;
2. each one is a true positive if its IoU with the most-overlapping true box of that class in its
   image is at least ``iou_threshold`` and that true box was not taken by a better-scored
   prediction; otherwise a false positive (a second box on one object is a false positive);
3. precision and recall after each prediction; AP is the area under the precision-recall curve
   after precision is made non-increasing (each precision replaced by the best one at equal or
   higher recall);
4. mAP is the mean AP over the classes that have at least one true box.

COCO's "AP50" differs slightly: it samples the same curve at 101 recall points and matches within
crowd regions differently. Boxes here are corners (x0, y0, x1, y1) in any one unit.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """(N, 4), (M, 4) corner boxes -> (N, M) intersection over union (0 where a union is empty)."""
    boxes1, boxes2 = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4), np.asarray(boxes2, np.float64).reshape(-1, 4)
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])  # (N,)
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])  # (M,)
    top_left = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    overlap = np.clip(bottom_right - top_left, 0, None)  # (N, M, 2)
    intersection = overlap[..., 0] * overlap[..., 1]  # (N, M)
    union = area1[:, None] + area2[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def _as_arrays(entry: dict, index: int, what: str, with_scores: bool) -> tuple:
    keys = ("boxes", "labels", "scores") if with_scores else ("boxes", "labels")
    missing = [key for key in keys if key not in entry]
    if missing:
        raise ValueError(f"{what}[{index}] has no {missing}: each entry is a dict with {list(keys)}.")
    boxes = np.asarray(_to_numpy(entry["boxes"]), dtype=np.float64)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    labels = np.asarray(_to_numpy(entry["labels"])).reshape(-1)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) != len(labels):
        raise ValueError(f"{what}[{index}]['boxes'] must have shape ({len(labels)}, 4) (x0, y0, x1, y1), one per "
                         f"label, got {boxes.shape}.")
    if not np.isfinite(boxes).all() or (boxes[:, 2:] < boxes[:, :2]).any():
        raise ValueError(f"{what}[{index}]['boxes'] must be finite corners with x1 >= x0 and y1 >= y0, got "
                         f"{boxes.tolist()}. Centre boxes (cx, cy, w, h)? Convert them to corners first.")
    if not with_scores:
        return boxes, labels
    scores = np.asarray(_to_numpy(entry["scores"]), dtype=np.float64).reshape(-1)
    if len(scores) != len(labels):
        raise ValueError(f"{what}[{index}] has {len(labels)} labels but {len(scores)} scores.")
    return boxes, labels, scores


def _to_numpy(value):
    return value.detach().cpu().numpy() if hasattr(value, "detach") else value


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under a precision-recall curve (points in the order predictions were taken), precision
    made non-increasing first (VOC's all-points AP)."""
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # best precision at this recall or higher
    steps = np.nonzero(recall[1:] != recall[:-1])[0]  # where recall grows
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def mean_average_precision(predictions: Sequence[dict], targets: Sequence[dict], iou_threshold: float = 0.5,
                           num_classes: int | None = None) -> dict:
    """mAP over images (steps 1-4 of the module docstring).

    ``predictions``: one dict per image with ``boxes`` (p, 4) corners, ``labels`` (p,), ``scores`` (p,)
    (what ``post_process_object_detection`` returns, tensors or arrays); ``targets``: one dict per
    image with ``boxes`` (n, 4) in the same unit and ``labels`` (n,).
    Returns ``{"map": float, "per_class": {class: AP}, "num_targets": {class: n}}``; classes with no
    true box are left out of the mean (and ``map`` is NaN if no image has any box). ``num_classes``
    only lists classes 0..num_classes - 1 in ``num_targets`` even if absent.
    """
    if len(predictions) != len(targets):
        raise ValueError(f"got {len(predictions)} prediction entries for {len(targets)} target entries: give one "
                         "of each per image, in the same order.")
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}.")
    predicted = [_as_arrays(p, i, "predictions", True) for i, p in enumerate(predictions)]
    truth = [_as_arrays(t, i, "targets", False) for i, t in enumerate(targets)]
    classes = set(range(num_classes or 0))
    for boxes, labels in truth:
        classes.update(labels.tolist())
    per_class, num_targets = {}, {}
    for cls in sorted(classes):
        true_boxes = [boxes[labels == cls] for boxes, labels in truth]  # per image (n_c, 4)
        total = sum(len(boxes) for boxes in true_boxes)
        num_targets[cls] = total
        if total == 0:
            continue
        found = []  # (score, image, box) of this class's predictions
        for image, (boxes, labels, scores) in enumerate(predicted):
            found += [(score, image, box) for box, score in zip(boxes[labels == cls], scores[labels == cls])]
        found.sort(key=lambda item: -item[0])  # best first (a stable sort keeps ties in image order)
        taken = [np.zeros(len(boxes), dtype=bool) for boxes in true_boxes]
        hits = np.zeros(len(found))
        for rank, (_, image, box) in enumerate(found):
            if not len(true_boxes[image]):
                continue
            overlaps = box_iou(box[None], true_boxes[image])[0]  # (n_c,)
            best = int(overlaps.argmax())
            if overlaps[best] >= iou_threshold and not taken[image][best]:
                taken[image][best] = True
                hits[rank] = 1
        true_positives = np.cumsum(hits)
        recall = true_positives / total
        precision = true_positives / np.arange(1, len(found) + 1)
        per_class[cls] = average_precision(recall, precision)
    mean = float(np.mean(list(per_class.values()))) if per_class else float("nan")
    return {"map": mean, "per_class": per_class, "num_targets": num_targets}


__all__ = ["average_precision", "box_iou", "mean_average_precision"]
