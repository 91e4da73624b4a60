"""Data that hfexplain makes with its own code, so a learner can read and change how it is made.

``hfexplain.data.shapes``: a synthetic world of coloured shapes, images with exact boxes and a
caption made from the scene ("a small red circle above a large blue square"), for detectors and
captioners.
"""
from __future__ import annotations

from .shapes import (
    KINDS,
    Scene,
    Shape,
    ShapesDataset,
    detection_collator,
    generate_scene,
    make_scenes,
    to_hf_dataset,
)

__all__ = ["KINDS", "Scene", "Shape", "ShapesDataset", "detection_collator", "generate_scene", "make_scenes",
           "to_hf_dataset"]
