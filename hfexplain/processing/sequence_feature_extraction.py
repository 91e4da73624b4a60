"""SequenceFeatureExtractor: the base of audio feature extractors, and the padding they share.

A speech model takes a batch of sequences of different lengths: raw samples ``input_values``
(b, samples) for Wav2Vec2, or log-mel frames ``input_features`` (b, mel bins, frames) for
Whisper. ``pad`` makes them one length, with the semantics of transformers'
``SequenceFeatureExtractor.pad``: ``padding=True`` (the longest), ``"max_length"`` (needs
``max_length``), ``truncation=True`` (cut to ``max_length``), ``pad_to_multiple_of``,
``self.padding_side`` and ``self.padding_value``, and an ``attention_mask`` of 1s for real
frames and 0s for padding. A family's extractor subclasses it and computes its features
in ``__call__`` (the Wav2Vec2 and Whisper issues add those).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .base import FeatureExtractionMixin
from .batch_feature import BatchFeature

PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")


class SequenceFeatureExtractor(FeatureExtractionMixin):
    """Holds ``feature_size`` (values per frame; 1 for raw audio), ``sampling_rate`` and ``padding_value``."""

    model_input_names: ClassVar[list[str]] = ["input_values", "attention_mask"]

    def __init__(self, feature_size: int, sampling_rate: int, padding_value: float, **settings: Any):
        self.feature_size = feature_size
        self.sampling_rate = sampling_rate
        self.padding_value = padding_value
        self.padding_side = settings.pop("padding_side", "right")
        self.return_attention_mask = settings.pop("return_attention_mask", True)
        if self.padding_side not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left', got {self.padding_side!r}.")
        super().__init__(**settings)

    def pad(
        self,
        processed_features,
        padding: bool | str = True,
        max_length: int | None = None,
        truncation: bool = False,
        pad_to_multiple_of: int | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
    ) -> BatchFeature:
        """Pad (and optionally truncate) a batch of feature sequences to one length.

        Takes a dict of lists (``{"input_values": [seq, seq, ...]}``), a list of such dicts
        (what a DataLoader gives a collate function), or a BatchFeature. Each sequence is a
        list, array or tensor of shape (frames,) or (frames, feature_size). Lists give NumPy
        arrays back, tensors give tensors, unless ``return_tensors`` says otherwise.
        """
        if isinstance(processed_features, (list, tuple)) and processed_features and isinstance(
            processed_features[0], Mapping
        ):
            processed_features = {key: [example[key] for example in processed_features] for key in processed_features[0]}
        if not isinstance(processed_features, Mapping):
            raise ValueError(
                "pad() takes a dict of features, a BatchFeature, or a list of such dicts, got "
                f"{type(processed_features).__name__}."
            )
        main_input = self.model_input_names[0]
        if main_input not in processed_features:
            raise ValueError(
                f"pad() needs the field {main_input!r} (this extractor's main input), but got only "
                f"{list(processed_features.keys())}."
            )
        features = dict(processed_features)
        required = features[main_input]
        if return_attention_mask is None:
            return_attention_mask = self.return_attention_mask
        if len(required) == 0:
            if return_attention_mask:
                features["attention_mask"] = []
            return BatchFeature(features)

        # Lists and tensors are padded as NumPy arrays and given back as the input was (or as asked).
        first = required[0]
        if isinstance(first, (list, tuple)):
            first = next((row[0] for row in required if len(row)), first)
        if return_tensors is None:
            if type(first).__module__.startswith("torch"):
                return_tensors = "pt"
            elif isinstance(first, (int, float, list, tuple, np.ndarray, np.number)):
                return_tensors = "np"
            else:
                raise ValueError(
                    f"pad() cannot tell the type of {first!r} ({type(first).__name__}): give Python numbers, "
                    "NumPy arrays or torch tensors."
                )
        for key, value in features.items():
            if isinstance(value[0], (int, float)):
                features[key] = _to_numpy(value)
            elif not isinstance(value, np.ndarray):
                features[key] = [_to_numpy(row) for row in value]

        strategy = self._padding_strategy(padding, max_length)
        batch_size = len(features[main_input])
        if not all(len(value) == batch_size for value in features.values()):
            raise ValueError(
                "pad() got fields with different batch sizes: "
                + ", ".join(f"{key}: {len(value)}" for key, value in features.items())
            )

        examples = [
            self._truncate({key: value[i] for key, value in features.items()}, max_length, pad_to_multiple_of, truncation)
            for i in range(batch_size)
        ]
        if strategy == "longest":
            max_length = max(len(example[main_input]) for example in examples)
            strategy = "max_length"

        batch: dict[str, list] = {}
        for example in examples:
            padded = self._pad(example, max_length, strategy, pad_to_multiple_of, return_attention_mask)
            for key, value in padded.items():
                if value.dtype == np.float64:
                    value = value.astype(np.float32)  # as transformers: float64 lists come back float32
                batch.setdefault(key, []).append(value)
        return BatchFeature(batch, tensor_type=return_tensors)

    def _pad(
        self,
        example: dict[str, np.ndarray],
        max_length: int | None,
        strategy: str,
        pad_to_multiple_of: int | None,
        return_attention_mask: bool,
    ) -> dict[str, np.ndarray]:
        """Pad one example's main input (frames,) or (frames, feature_size) and its mask."""
        main_input = self.model_input_names[0]
        values = example[main_input]
        if max_length is not None and pad_to_multiple_of is not None and max_length % pad_to_multiple_of != 0:
            max_length = (max_length // pad_to_multiple_of + 1) * pad_to_multiple_of
        if return_attention_mask and "attention_mask" not in example:
            example["attention_mask"] = np.ones(len(values), dtype=np.int32)
        if strategy == "do_not_pad" or len(values) >= max_length:
            return example
        missing = max_length - len(values)
        before, after = (0, missing) if self.padding_side == "right" else (missing, 0)
        if return_attention_mask:
            example["attention_mask"] = np.pad(example["attention_mask"], (before, after))
        frames = ((before, after), (0, 0)) if self.feature_size > 1 else (before, after)  # pad frames, not features
        example[main_input] = np.pad(values, frames, "constant", constant_values=self.padding_value)
        return example

    def _truncate(
        self, example: dict[str, np.ndarray], max_length: int | None, pad_to_multiple_of: int | None, truncation: bool
    ) -> dict[str, np.ndarray]:
        if not truncation:
            return example
        if max_length is None:
            raise ValueError("truncation=True needs max_length: pass pad(..., truncation=True, max_length=N).")
        main_input = self.model_input_names[0]
        if pad_to_multiple_of is not None and max_length % pad_to_multiple_of != 0:
            max_length = (max_length // pad_to_multiple_of + 1) * pad_to_multiple_of
        if len(example[main_input]) > max_length:
            example[main_input] = example[main_input][:max_length]
            if "attention_mask" in example:
                example["attention_mask"] = example["attention_mask"][:max_length]
        return example

    def _padding_strategy(self, padding, max_length: int | None) -> str:
        padding = getattr(padding, "value", padding)  # accept transformers' PaddingStrategy enum
        if padding is True:
            strategy = "longest"
        elif padding is False or padding is None:
            strategy = "do_not_pad"
        elif padding in PADDING_STRATEGIES:
            strategy = padding
        else:
            raise ValueError(f"padding={padding!r} is not valid. Use True, False, or one of {list(PADDING_STRATEGIES)}.")
        if strategy == "max_length" and max_length is None:
            raise ValueError("padding='max_length' needs max_length: pass pad(..., padding='max_length', max_length=N).")
        if strategy != "do_not_pad" and self.padding_value is None:
            raise ValueError(
                "Asking to pad but this feature extractor has no padding_value. Set one, e.g. "
                "`feature_extractor.padding_value = 0.0`."
            )
        return strategy


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        return value.detach().cpu().numpy()
    return np.array(value) if isinstance(value, (list, tuple)) else np.asarray(value)
