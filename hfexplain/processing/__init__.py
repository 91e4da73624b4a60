"""Inputs that are not text: image processors, audio feature extractors, processors.

A tokenizer turns text into ``input_ids``; these turn pixels and sound into what a vision or
speech model takes. Which one a model needs follows from its ``main_input_name``:

    input_ids                      -> a tokenizer                (hfexplain.tokenization)
    pixel_values   (b, c, h, w)    -> an image processor         (BaseImageProcessor)
    input_values   (b, samples)    -> a feature extractor        (SequenceFeatureExtractor: Wav2Vec2)
    input_features (b, mels, t)    -> a feature extractor        (SequenceFeatureExtractor: Whisper)
    text + pixels / audio          -> a processor holding both   (ProcessorMixin: CLIP, BLIP, Whisper)

The rooms::

    processing/
      batch_feature.py                BatchFeature: what they return (dict; .to() casts only floats)
      base.py                         preprocessor_config.json: from/save_pretrained, to/from_dict
      image_transforms.py             rescale, normalize, resize (PIL), center_crop, HWC <-> CHW
      image_processing.py             BaseImageProcessor: those steps as one pipeline, per-family defaults
      sequence_feature_extraction.py  SequenceFeatureExtractor: pad (side, max_length, multiple, mask)
      processor.py                    ProcessorMixin: tokenizer + image processor / feature extractor
      auto.py                         AutoImageProcessor / AutoFeatureExtractor / AutoProcessor, the tables

Each behaves as transformers' class of the same name does (tested against it on the same
inputs). A new vision family writes ``class ViTImageProcessor(BaseImageProcessor)`` with its
defaults as class attributes and lists it in ``IMAGE_PROCESSOR_MAPPING_NAMES``; a speech family
subclasses ``SequenceFeatureExtractor`` and writes its ``__call__`` (raw samples, log-mel
frames) on top of ``pad``.
"""
from __future__ import annotations

from .auto import (
    FEATURE_EXTRACTOR_MAPPING_NAMES,
    IMAGE_PROCESSOR_MAPPING_NAMES,
    PROCESSOR_MAPPING_NAMES,
    AutoFeatureExtractor,
    AutoImageProcessor,
    AutoProcessor,
    register_feature_extractor,
    register_image_processor,
    register_processor,
)
from .base import PREPROCESSOR_CONFIG_FILE, PROCESSOR_CONFIG_FILE, FeatureExtractionMixin, ImageProcessingMixin
from .batch_feature import BatchFeature
from .image_processing import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    IMAGENET_STANDARD_MEAN,
    IMAGENET_STANDARD_STD,
    BaseImageProcessor,
    get_size_dict,
)
from .processor import ProcessorMixin
from .sequence_feature_extraction import SequenceFeatureExtractor

__all__ = [
    "AutoFeatureExtractor",
    "AutoImageProcessor",
    "AutoProcessor",
    "BaseImageProcessor",
    "BatchFeature",
    "FEATURE_EXTRACTOR_MAPPING_NAMES",
    "FeatureExtractionMixin",
    "IMAGENET_DEFAULT_MEAN",
    "IMAGENET_DEFAULT_STD",
    "IMAGENET_STANDARD_MEAN",
    "IMAGENET_STANDARD_STD",
    "IMAGE_PROCESSOR_MAPPING_NAMES",
    "ImageProcessingMixin",
    "PREPROCESSOR_CONFIG_FILE",
    "PROCESSOR_CONFIG_FILE",
    "PROCESSOR_MAPPING_NAMES",
    "ProcessorMixin",
    "SequenceFeatureExtractor",
    "get_size_dict",
    "register_feature_extractor",
    "register_image_processor",
    "register_processor",
]
