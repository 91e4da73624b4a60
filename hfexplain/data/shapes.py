"""A synthetic world of coloured shapes: images with exact boxes and a caption made from the scene.

A *scene* is a few shapes (circle, square, triangle) in a few colours, small or large, at chosen
places on a plain square canvas. Everything a detector or a captioner needs follows from it by
code a learner can read and change:

* ``scene.pixels()`` / ``scene.render()``: the picture, drawn pixel by pixel from each shape's
  geometry (no anti-aliasing, so every pixel belongs to one shape or to the background);
* ``scene.boxes_xyxy()``: each shape's box as (x0, y0, x1, y1) pixels, the tightest box around
  the pixels it paints (x1, y1 exclusive: the box spans columns x0 .. x1 - 1);
  ``scene.boxes()``: the same boxes as (center_x, center_y, width, height) divided by the image
  size, the ``labels=`` format of ``YolosForObjectDetection``; ``scene.class_labels()``: the
  shape kinds as ids (``KINDS``: 0 circle, 1 square, 2 triangle);
* ``scene.caption()``: "a small red circle above a large blue square", the relation read from
  the positions of the box centres (the axis on which they are further apart decides between
  above/below and left of/right of).

``generate_scene(seed)`` draws a scene (1-3 shapes, none overlapping, each (colour, kind) at most
once, so "the blue square" names one shape); the same seed always gives the same scene.
``make_scenes(count, seed)`` draws many (scene i from the seed string ``"shapes/<seed>/<i>"``), and
``ShapesDataset`` / ``to_hf_dataset`` serve them to a ``DataLoader`` or as a ``datasets.Dataset``.
To experiment, change a scene and draw it again::

    scene = generate_scene(3)
    moved = scene.replace_shape(0, center=(12, 50), colour="green")   # a new scene, the old one is kept
    moved.render(), moved.caption(), moved.boxes()

Shapes, for an image of side S, a shape of centre (cx, cy) and extent e (pixels), and a pixel
(column j, row i) with centre (px, py) = (j + 0.5, i + 0.5), painted when:

    circle    (px - cx)^2 + (py - cy)^2 <= (e/2)^2
    square    |px - cx| <= e/2 and |py - cy| <= e/2
    triangle  apex up: cy - e/2 <= py <= cy + e/2 and |px - cx| <= (py - (cy - e/2)) / 2

Later shapes are painted over earlier ones; generated scenes never overlap, and a scene you edit
may (its boxes are still each shape's own pixels, hidden or not).
"""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

KINDS = ("circle", "square", "triangle")
COLOURS = {"red": (220, 40, 40), "green": (30, 150, 60), "blue": (40, 80, 220), "yellow": (230, 180, 20)}
SIZES = ("small", "large")
BACKGROUND = (245, 245, 245)
# Extents (pixels across) drawn for each size word, on a 64-pixel image; scaled with the image size.
EXTENTS_AT_64 = {"small": (8, 12), "large": (16, 24)}
GAP = 2  # generated shapes keep this many pixels between their boxes


def default_extent(size: str, image_size: int = 64) -> float:
    """The middle of the extents ``generate_scene`` draws for ``size`` on an ``image_size`` canvas."""
    low, high = EXTENTS_AT_64[size]
    return (low + high) / 2 * image_size / 64


@dataclass(frozen=True)
class Shape:
    """One shape: ``kind`` (KINDS), ``colour`` (COLOURS), ``center`` (x, y) in pixels from the top left,
    ``size`` ("small" or "large": the word in captions) and ``extent`` (pixels across; by default the
    middle of what ``size`` draws on a 64-pixel image)."""

    kind: str
    colour: str
    center: tuple[float, float]
    size: str = "small"
    extent: float | None = None

    def __post_init__(self):
        for field, value, allowed in (("kind", self.kind, KINDS), ("colour", self.colour, tuple(COLOURS)),
                                      ("size", self.size, SIZES)):
            if value not in allowed:
                raise ValueError(f"Shape {field} must be one of {allowed}, got {value!r}.")
        center = tuple(self.center) if isinstance(self.center, (tuple, list, np.ndarray)) else None
        if center is None or len(center) != 2 or not all(_is_number(c) and np.isfinite(c) for c in center):
            raise ValueError(f"Shape center must be (x, y) in pixels, two finite numbers, got {self.center!r}.")
        object.__setattr__(self, "center", (float(center[0]), float(center[1])))
        if self.extent is None:
            object.__setattr__(self, "extent", default_extent(self.size))
        if not _is_number(self.extent) or not np.isfinite(self.extent) or self.extent < 1:
            raise ValueError(f"Shape extent must be a number of pixels >= 1, got {self.extent!r}.")
        object.__setattr__(self, "extent", float(self.extent))

    def describe(self) -> str:
        return f"{self.size} {self.colour} {self.kind}"

    def mask(self, image_size: int) -> np.ndarray:
        """(S, S) bool: the pixels this shape paints on an ``image_size`` canvas (the rules in the module docstring)."""
        centres = np.arange(image_size) + 0.5  # pixel centres along one axis
        px, py = centres[None, :], centres[:, None]  # (1, S) columns, (S, 1) rows
        cx, cy = self.center
        half = self.extent / 2
        if self.kind == "circle":
            return (px - cx) ** 2 + (py - cy) ** 2 <= half**2
        if self.kind == "square":
            return (np.abs(px - cx) <= half) & (np.abs(py - cy) <= half)
        top = cy - half
        return (py >= top) & (py <= cy + half) & (np.abs(px - cx) <= (py - top) / 2)  # triangle, apex up


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _relation(a: tuple[float, float], b: tuple[float, float]) -> str:
    """Where box centre ``a`` is seen from ``b``: the axis on which they are further apart decides."""
    dx, dy = a[0] - b[0], a[1] - b[1]
    if abs(dy) >= abs(dx):
        return "above" if dy < 0 else "below"  # rows grow downwards
    return "to the left of" if dx < 0 else "to the right of"


@dataclass(frozen=True)
class Scene:
    """Shapes on a square canvas of ``image_size`` pixels (painted in order). Every shape must paint
    at least one pixel and stay inside the canvas."""

    shapes: tuple[Shape, ...]
    image_size: int = 64

    def __post_init__(self):
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, (int, np.integer)) \
                or self.image_size < 16:
            raise ValueError(f"Scene image_size must be a whole number of pixels >= 16, got {self.image_size!r}.")
        if not isinstance(self.shapes, (tuple, list)) or not all(isinstance(s, Shape) for s in self.shapes):
            raise TypeError(f"Scene shapes must be a sequence of Shape, got {self.shapes!r}.")
        object.__setattr__(self, "shapes", tuple(self.shapes))
        size = int(self.image_size)
        for index, shape in enumerate(self.shapes):
            half = shape.extent / 2
            (cx, cy) = shape.center
            if cx - half < 0 or cy - half < 0 or cx + half > size or cy + half > size:
                raise ValueError(
                    f"shape {index} (a {shape.describe()} at {shape.center}, extent {shape.extent:g}) reaches outside "
                    f"the {size}x{size} image: keep its centre at least extent/2 = {half:g} pixels from every edge, "
                    f"or make it smaller."
                )

    # -- pictures
    def masks(self) -> np.ndarray:
        """(n, S, S) bool: each shape's own pixels (hidden ones included)."""
        return np.stack([shape.mask(self.image_size) for shape in self.shapes]) if self.shapes else \
            np.zeros((0, self.image_size, self.image_size), dtype=bool)

    def pixels(self) -> np.ndarray:
        """(S, S, 3) uint8 RGB: the background, then each shape painted in order."""
        image = np.empty((self.image_size, self.image_size, 3), dtype=np.uint8)
        image[:] = BACKGROUND
        for shape, mask in zip(self.shapes, self.masks()):
            image[mask] = COLOURS[shape.colour]
        return image

    def render(self):
        """The picture as a PIL RGB image."""
        from PIL import Image

        return Image.fromarray(self.pixels(), mode="RGB")

    # -- labels
    def boxes_xyxy(self) -> np.ndarray:
        """(n, 4) int64 (x0, y0, x1, y1) pixels: the tightest box around each shape's pixels, x1/y1 exclusive."""
        boxes = np.zeros((len(self.shapes), 4), dtype=np.int64)
        for index, (shape, mask) in enumerate(zip(self.shapes, self.masks())):
            rows, cols = np.nonzero(mask)
            if not len(rows):
                raise ValueError(f"shape {index} (a {shape.describe()}, extent {shape.extent:g}) paints no pixel; "
                                 f"make it larger.")
            boxes[index] = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        return boxes

    def boxes(self) -> np.ndarray:
        """(n, 4) float32 (center_x, center_y, width, height) / image size: YOLOS's ``labels`` boxes."""
        x0, y0, x1, y1 = self.boxes_xyxy().T.astype(np.float64)
        size = float(self.image_size)
        return np.stack([(x0 + x1) / 2 / size, (y0 + y1) / 2 / size, (x1 - x0) / size, (y1 - y0) / size],
                        axis=1).astype(np.float32).reshape(-1, 4)

    def class_labels(self) -> np.ndarray:
        """(n,) int64: each shape's kind as an id into KINDS."""
        return np.array([KINDS.index(shape.kind) for shape in self.shapes], dtype=np.int64)

    def caption(self) -> str:
        """"a small red circle", "a small red circle above a large blue square", and for three shapes
        "..., and a large green triangle to the right of the red circle" (the third seen from the first)."""
        if not self.shapes:
            return "nothing"
        boxes = self.boxes_xyxy().astype(np.float64)
        centres = [((x0 + x1) / 2, (y0 + y1) / 2) for x0, y0, x1, y1 in boxes]
        words = [f"a {shape.describe()}" for shape in self.shapes]
        if len(self.shapes) == 1:
            return words[0]
        text = f"{words[0]} {_relation(centres[0], centres[1])} {words[1]}"
        for index in range(2, len(self.shapes)):
            first = self.shapes[0]
            text += f", and {words[index]} {_relation(centres[index], centres[0])} the {first.colour} {first.kind}"
        return text

    def replace_shape(self, index: int, **changes) -> Scene:
        """A new scene with shape ``index`` changed (``kind``, ``colour``, ``center``, ``size``, ``extent``)."""
        if not 0 <= index < len(self.shapes):
            raise IndexError(f"this scene has {len(self.shapes)} shapes (0..{len(self.shapes) - 1}), got {index}.")
        if "size" in changes and "extent" not in changes:
            changes["extent"] = None  # the new size's default extent
        shapes = list(self.shapes)
        shapes[index] = dataclasses.replace(shapes[index], **changes)
        return Scene(tuple(shapes), self.image_size)

    def to_example(self) -> dict:
        """The scene as one plain example: ``image`` (PIL), ``caption``, ``boxes``, ``boxes_xyxy``, ``class_labels``."""
        return {"image": self.render(), "caption": self.caption(), "boxes": self.boxes(),
                "boxes_xyxy": self.boxes_xyxy(), "class_labels": self.class_labels()}


# --------------------------------------------------------------------------- drawing scenes


def _check_counts(image_size, min_shapes, max_shapes):
    for name, value in (("image_size", image_size), ("min_shapes", min_shapes), ("max_shapes", max_shapes)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be a whole number, got {value!r}.")
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16 pixels, got {image_size}.")
    if not 1 <= min_shapes <= max_shapes <= 3:
        raise ValueError(f"need 1 <= min_shapes <= max_shapes <= 3 (a scene holds 1-3 shapes so that they fit "
                         f"without touching), got min_shapes={min_shapes}, max_shapes={max_shapes}.")


def generate_scene(seed: int | str, *, image_size: int = 64, min_shapes: int = 1, max_shapes: int = 3) -> Scene:
    """A random scene, the same for the same arguments: 1-3 shapes, none overlapping (their boxes at least
    ``GAP`` pixels apart), each (colour, kind) at most once. ``seed`` is an int or a string."""
    if isinstance(seed, bool) or not isinstance(seed, (int, str)):
        raise TypeError(f"seed must be an int or a string, got {type(seed).__name__}.")
    _check_counts(image_size, min_shapes, max_shapes)
    rng = random.Random(seed)
    scale = image_size / 64
    count = rng.randint(min_shapes, max_shapes)
    while True:  # a layout that does not fit is drawn again (rare)
        shapes, boxes = [], []
        for _ in range(count):
            for _attempt in range(100):
                kind, colour, size = rng.choice(KINDS), rng.choice(tuple(COLOURS)), rng.choice(SIZES)
                if any(s.kind == kind and s.colour == colour for s in shapes):
                    continue
                low, high = EXTENTS_AT_64[size]
                extent = rng.randint(round(low * scale), round(high * scale))
                half = extent / 2
                center = (rng.randint(int(np.ceil(half)), int(image_size - np.ceil(half))),
                          rng.randint(int(np.ceil(half)), int(image_size - np.ceil(half))))
                box = (center[0] - half - GAP, center[1] - half - GAP, center[0] + half + GAP, center[1] + half + GAP)
                if all(box[2] <= other[0] or other[2] <= box[0] or box[3] <= other[1] or other[3] <= box[1]
                       for other in boxes):
                    shapes.append(Shape(kind, colour, center, size, extent))
                    boxes.append(box)
                    break
        if len(shapes) == count:
            return Scene(tuple(shapes), image_size)


def make_scenes(count: int, seed: int = 0, *, image_size: int = 64, min_shapes: int = 1,
                max_shapes: int = 3) -> list[Scene]:
    """``count`` scenes; scene i is ``generate_scene(f"shapes/{seed}/{i}", ...)``, so two seeds give
    unrelated scenes and the first k scenes do not depend on ``count``."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"count must be a whole number >= 0, got {count!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}.")
    return [generate_scene(f"shapes/{seed}/{index}", image_size=image_size, min_shapes=min_shapes,
                           max_shapes=max_shapes) for index in range(count)]


class ShapesDataset:
    """A map-style dataset (``len``, ``[i]``) of ``Scene.to_example()`` dicts, for a torch ``DataLoader``
    or the Trainer; ``scenes`` is a list of scenes, or ``make_scenes(count, seed, ...)`` is called."""

    def __init__(self, count: int | None = None, seed: int = 0, *, scenes: Sequence[Scene] | None = None,
                 image_size: int = 64, min_shapes: int = 1, max_shapes: int = 3):
        if (scenes is None) == (count is None):
            raise ValueError("give either count (and seed) or scenes, not both and not neither.")
        self.scenes = list(scenes) if scenes is not None else make_scenes(
            count, seed, image_size=image_size, min_shapes=min_shapes, max_shapes=max_shapes)

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int) -> dict:
        return self.scenes[index].to_example()


def to_hf_dataset(scenes: Sequence[Scene]):
    """The scenes as a ``datasets.Dataset`` with columns image (PIL), caption, boxes, boxes_xyxy, class_labels."""
    import datasets

    examples = [scene.to_example() for scene in scenes]
    columns = {key: [example[key] for example in examples] for key in ("image", "caption")}
    for key in ("boxes", "boxes_xyxy", "class_labels"):
        columns[key] = [example[key].tolist() for example in examples]
    features = datasets.Features({
        "image": datasets.Image(), "caption": datasets.Value("string"),
        "boxes": datasets.List(datasets.List(datasets.Value("float32"), length=4)),
        "boxes_xyxy": datasets.List(datasets.List(datasets.Value("int64"), length=4)),
        "class_labels": datasets.List(datasets.ClassLabel(names=list(KINDS))),
    })
    return datasets.Dataset.from_dict(columns, features=features)


def detection_collator(features: Sequence[dict]) -> dict:
    """Examples ``{"pixel_values": (c, h, w), "labels": {"class_labels": (n,), "boxes": (n, 4)}}`` (the
    layout transformers' detection tutorials use) -> a batch for ``YolosForObjectDetection``:
    ``pixel_values`` (b, c, h, w) stacked, ``labels`` a list of b dicts (images hold different numbers
    of objects, so they are not stacked). Give it to the Trainer as ``data_collator``."""
    import torch

    for index, feature in enumerate(features):
        if "pixel_values" not in feature or not isinstance(feature.get("labels"), dict):
            raise KeyError(f"detection_collator needs 'pixel_values' and a 'labels' dict ({{'class_labels', "
                           f"'boxes'}}) in each example; example {index} has {sorted(feature)}.")
    return {
        "pixel_values": torch.stack([torch.as_tensor(f["pixel_values"]) for f in features]),
        "labels": [{"class_labels": torch.as_tensor(f["labels"]["class_labels"], dtype=torch.int64),
                    "boxes": torch.as_tensor(f["labels"]["boxes"], dtype=torch.float32).reshape(-1, 4)}
                   for f in features],
    }


__all__ = [
    "BACKGROUND",
    "COLOURS",
    "EXTENTS_AT_64",
    "GAP",
    "KINDS",
    "SIZES",
    "Scene",
    "Shape",
    "ShapesDataset",
    "default_extent",
    "detection_collator",
    "generate_scene",
    "make_scenes",
    "to_hf_dataset",
]
