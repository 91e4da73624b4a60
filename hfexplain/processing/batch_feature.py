"""BatchFeature: what an image processor, a feature extractor or a processor returns.

The sibling of :class:`~hfexplain.tokenization.BatchEncoding` for inputs that are not token
ids: ``pixel_values`` (b, c, h, w) from an image processor, ``input_values`` (b, samples) or
``input_features`` (b, mel bins, frames) from an audio feature extractor, plus whatever mask
goes with them. A dict with attribute access, so ``model(**features)`` passes every field.

``to()`` follows transformers: a dtype (``features.to(torch.float16)``) casts only the
floating tensors, so an ``attention_mask`` or ``input_ids`` of integers stays integer; a
device moves every tensor.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


class BatchFeature(dict):
    """A dict of model inputs (lists, arrays or tensors) with ``.pixel_values``-style access.

    ``tensor_type="pt"`` (or ``"np"``) converts every array-like field at construction;
    fields that are not array-like (strings, dicts) are left alone, as are the names in
    ``skip_tensor_conversion``.
    """

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        tensor_type: str | None = None,
        skip_tensor_conversion: list[str] | set[str] | None = None,
    ):
        super().__init__(data or {})
        self.skip_tensor_conversion = skip_tensor_conversion
        self.convert_to_tensors(tensor_type)

    def __getattr__(self, name: str):
        if name.startswith("_") or name == "skip_tensor_conversion":
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"this BatchFeature has no field {name!r}; it has {sorted(self.keys())}") from None

    def __getitem__(self, key):
        if not isinstance(key, str):
            raise KeyError(
                f"index a BatchFeature with a field name such as 'pixel_values', not {key!r} "
                "(only a tokenizer's BatchEncoding keeps per-row Encodings)."
            )
        return super().__getitem__(key)

    def __repr__(self) -> str:
        return f"BatchFeature({dict.__repr__(self)})"

    def __reduce__(self):
        return (BatchFeature, (dict(self), None, self.skip_tensor_conversion))

    # -- tensors ------------------------------------------------------------------------------
    def convert_to_tensors(
        self, tensor_type: str | None = None, skip_tensor_conversion: list[str] | set[str] | None = None
    ) -> BatchFeature:
        """Turn every array-like field into a ``torch.Tensor`` (``"pt"``) or ``numpy.ndarray`` (``"np"``).

        A list of tensors or arrays (one per example) is stacked; a ragged list cannot be, and
        the error says to pad (``padding=True``) or to keep lists (``return_tensors=None``).
        """
        if tensor_type is None:
            return self
        tensor_type = getattr(tensor_type, "value", tensor_type)  # accept transformers' TensorType enum
        if tensor_type == "pt":
            import torch

            is_tensor, as_tensor = torch.is_tensor, _as_torch
        elif tensor_type == "np":
            is_tensor, as_tensor = _is_numpy, _as_numpy
        else:
            raise ValueError(f"return_tensors={tensor_type!r} is not supported: use 'pt' (PyTorch), 'np' or None.")
        skip = skip_tensor_conversion if skip_tensor_conversion is not None else self.skip_tensor_conversion
        for name, value in self.items():
            if (skip and name in skip) or not _is_array_like(value) or is_tensor(value):
                continue
            try:
                self[name] = as_tensor(value)
            except Exception as error:
                raise ValueError(
                    f"Unable to convert {name!r} ({type(value).__name__}) to a tensor: {error}. Its examples probably "
                    "have different lengths: pass padding=True so they match, or return_tensors=None to keep lists."
                ) from error
        return self

    def to(self, *args, **kwargs) -> BatchFeature:
        """Move tensors to a device and/or cast floating tensors to a dtype; returns ``self``.

        ``features.to("cuda")`` moves every tensor; ``features.to(torch.float16)`` or
        ``features.to("cuda", dtype=torch.float16)`` casts only floating tensors (pixel
        values, audio) and moves the integer ones (masks, ids) without changing their dtype.
        """
        import torch

        device = kwargs.get("device")
        non_blocking = kwargs.get("non_blocking", False)
        if device is None and args:
            first = args[0]
            if isinstance(first, torch.dtype):
                pass  # only a dtype: integer tensors stay where and what they are
            elif isinstance(first, (str, int, torch.device)):
                device = first
            else:
                raise ValueError(
                    f"Attempting to cast a BatchFeature to type {first!r}. This is not supported: pass a device "
                    "('cpu', 'cuda', torch.device) and/or a dtype (torch.float16)."
                )

        def move(value):
            if isinstance(value, torch.Tensor) and torch.is_floating_point(value):
                return value.to(*args, **kwargs)
            if isinstance(value, torch.Tensor) and device is not None:
                return value.to(device=device, non_blocking=non_blocking)
            if isinstance(value, (list, tuple)):
                return type(value)(move(item) for item in value)
            return value

        for name in list(self.keys()):
            self[name] = move(self[name])
        return self


def _is_numpy(value) -> bool:
    return isinstance(value, np.ndarray)


def _is_torch_tensor(value) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "shape")  # without importing torch


def _is_array_like(value) -> bool:
    """Numbers, arrays, tensors and (nested) lists of them; an empty list counts."""
    if isinstance(value, (np.ndarray, int, float, bool, np.number)) or _is_torch_tensor(value):
        return True
    if isinstance(value, (list, tuple)):
        return len(value) == 0 or _is_array_like(value[0])
    return False


def _as_torch(value):
    import torch

    if isinstance(value, (list, tuple)) and value and torch.is_tensor(value[0]):
        return torch.stack(list(value))  # one tensor per example -> (batch, ...)
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], np.ndarray):
        value = np.array(value)
    elif (
        isinstance(value, (list, tuple))
        and value
        and isinstance(value[0], (list, tuple))
        and value[0]
        and isinstance(value[0][0], np.ndarray)
    ):
        value = np.array(value)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    return torch.tensor(value)


def _as_numpy(value, dtype=None):
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple, np.ndarray)):
        if len({len(item) for item in value}) > 1 and dtype is None:
            # A ragged batch (as transformers does): an object array of one array per example.
            return np.asarray([np.asarray(item) for item in value], dtype=object)
    if hasattr(value, "detach"):  # a torch tensor
        return value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)
