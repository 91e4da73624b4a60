"""ProcessorMixin: one object for a model that takes more than text.

CLIP and BLIP take text and pixels, Whisper and Wav2Vec2 take audio and give text back. Their
*processor* holds the pieces (``attributes``, e.g. ``["image_processor", "tokenizer"]``), calls
each on its part of the input and merges what they return into one
:class:`~hfexplain.processing.BatchFeature`::

    processor(text=["a cat"], images=image, return_tensors="pt")
    -> {"input_ids": ..., "attention_mask": ..., "pixel_values": ...}     # model(**that)

``save_pretrained`` writes each piece's own files (``tokenizer.json`` ...,
``preprocessor_config.json``) and records the processor's class name as ``processor_class`` in
``preprocessor_config.json`` and ``tokenizer_config.json``, which is where
:class:`~hfexplain.processing.AutoProcessor` looks for it. ``from_pretrained`` loads each piece
with its Auto class (``AutoTokenizer``, ``AutoImageProcessor``, ``AutoFeatureExtractor``).

Call arguments go to the piece that knows them: an image processor's settings (``do_resize``,
``size`` ...) to the image processor, ``sampling_rate`` to the feature extractor, everything else
(``padding``, ``truncation``, ``max_length``) to the tokenizer; ``text_kwargs=``,
``images_kwargs=``, ``audio_kwargs=`` (dicts) say it explicitly. ``return_tensors`` goes to all.
"""
from __future__ import annotations

import json
import os
from typing import Any, ClassVar

from .base import HUB_ARGUMENTS, PREPROCESSOR_CONFIG_FILE
from .batch_feature import BatchFeature

# attribute name -> (the kind of input it takes, the Auto class that loads it)
_ATTRIBUTE_INPUTS = {"tokenizer": "text", "image_processor": "images", "feature_extractor": "audio"}
_AUDIO_ARGUMENTS = ("sampling_rate",)


class ProcessorMixin:
    """Holds a tokenizer and/or an image processor / feature extractor; subclasses set ``attributes``."""

    attributes: ClassVar[list[str]] = []

    def __init__(self, *args: Any, **kwargs: Any):
        attributes = type(self).attributes
        if not attributes:
            raise TypeError(
                f"{type(self).__name__} lists no attributes; a processor subclass sets e.g. "
                "attributes = ['image_processor', 'tokenizer']."
            )
        unknown = [name for name in attributes if name not in _ATTRIBUTE_INPUTS]
        if unknown:
            raise TypeError(
                f"{type(self).__name__}.attributes has {unknown}; a processor holds {list(_ATTRIBUTE_INPUTS)}."
            )
        for key in kwargs:
            if key not in attributes:
                raise TypeError(f"{type(self).__name__}() got an unexpected argument {key!r}; it takes {attributes}.")
        for value, name in zip(args, attributes):
            if name in kwargs:
                raise TypeError(f"{type(self).__name__}() got two values for {name!r}.")
            kwargs[name] = value
        if len(args) > len(attributes) or len(kwargs) != len(attributes):
            raise ValueError(
                f"{type(self).__name__} needs {len(attributes)} pieces ({', '.join(attributes)}), "
                f"got {len(args)} positional and {sorted(set(kwargs) - set(attributes[:len(args)]))} by name."
            )
        for name in attributes:
            setattr(self, name, kwargs[name])

    # -- the call ---------------------------------------------------------------------------------
    def __call__(
        self,
        images=None,
        text=None,
        audio=None,
        *,
        return_tensors: str | None = None,
        text_kwargs: dict[str, Any] | None = None,
        images_kwargs: dict[str, Any] | None = None,
        audio_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        """Run each piece on its input and merge the results (see the module docstring for arguments)."""
        if images is None and text is None and audio is None:
            raise ValueError(f"{type(self).__name__}() needs some input: text=, images= or audio=.")
        routed = {
            "text": dict(text_kwargs or {}),
            "images": dict(images_kwargs or {}),
            "audio": dict(audio_kwargs or {}),
        }
        image_settings = getattr(getattr(self, "image_processor", None), "preprocess_settings", ())
        for key, value in kwargs.items():
            if key in image_settings:
                routed["images"][key] = value
            elif key in _AUDIO_ARGUMENTS:
                routed["audio"][key] = value
            else:
                routed["text"][key] = value

        data: dict[str, Any] = {}
        for name, given in (("image_processor", images), ("feature_extractor", audio), ("tokenizer", text)):
            if given is None:
                continue
            piece = getattr(self, name, None)
            if piece is None:
                raise ValueError(
                    f"{type(self).__name__} got {_ATTRIBUTE_INPUTS[name]}= but holds no {name} "
                    f"(it has {type(self).attributes})."
                )
            data.update(piece(given, return_tensors=return_tensors, **routed[_ATTRIBUTE_INPUTS[name]]))
        return BatchFeature(data, tensor_type=return_tensors)

    @property
    def model_input_names(self) -> list[str]:
        """Every piece's input names, in order, once each."""
        names: list[str] = []
        for attribute in type(self).attributes:
            for name in getattr(getattr(self, attribute), "model_input_names", []):
                if name not in names:
                    names.append(name)
        return names

    def batch_decode(self, *args, **kwargs):
        return self._tokenizer("batch_decode").batch_decode(*args, **kwargs)

    def decode(self, *args, **kwargs):
        return self._tokenizer("decode").decode(*args, **kwargs)

    def _tokenizer(self, method: str):
        tokenizer = getattr(self, "tokenizer", None)
        if tokenizer is None:
            raise ValueError(f"{type(self).__name__}.{method}() needs a tokenizer, and this processor has none.")
        return tokenizer

    # -- files ------------------------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | os.PathLike) -> list[str]:
        """Write every piece's files into ``save_directory``, with ``processor_class`` recorded.

        All pieces land in one ``hub.saving_folder`` step: the old processor or the new one, whole."""
        from ..hub import saving_folder, write_text_atomically

        save_directory = os.fspath(save_directory)
        name = type(self).__name__
        written: list[str] = []
        if hasattr(self, "image_processor") and hasattr(self, "feature_extractor"):
            raise ValueError(
                f"{name} holds an image processor and a feature extractor, which would both write "
                f"{PREPROCESSOR_CONFIG_FILE}; hfexplain saves one of them per folder."
            )
        with saving_folder(save_directory):
            for attribute in type(self).attributes:
                piece = getattr(self, attribute)
                if attribute == "tokenizer":
                    piece.init_kwargs["processor_class"] = name  # as transformers: tokenizer_config.json names it too
                    written.extend(piece.save_pretrained(save_directory))
                    continue
                for path in piece.save_pretrained(save_directory):
                    settings = json.loads(piece.to_json_string())
                    settings["processor_class"] = name
                    write_text_atomically(path, json.dumps(settings, indent=2, sort_keys=True) + "\n")
                    written.append(path)
        return written

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **kwargs: Any):
        """Load each piece with its Auto class from a folder or Hub repo id (hub arguments pass through)."""
        from ..auto import AutoTokenizer
        from .auto import AutoFeatureExtractor, AutoImageProcessor

        loaders = {
            "tokenizer": AutoTokenizer,
            "image_processor": AutoImageProcessor,
            "feature_extractor": AutoFeatureExtractor,
        }
        hub_arguments = {key: kwargs.pop(key) for key in list(kwargs) if key in HUB_ARGUMENTS}
        if kwargs:
            raise TypeError(f"{cls.__name__}.from_pretrained() got unexpected arguments {sorted(kwargs)}.")
        pieces = [loaders[attribute].from_pretrained(path_or_repo_id, **hub_arguments) for attribute in cls.attributes]
        return cls(*pieces)

    def __repr__(self) -> str:
        parts = "\n".join(f"- {attribute}: {getattr(self, attribute)!r}" for attribute in type(self).attributes)
        return f"{type(self).__name__}:\n{parts}"
