"""AutoImageProcessor, AutoFeatureExtractor, AutoProcessor: the saved files pick the class.

    AutoImageProcessor.from_pretrained(path)
        1. read path/preprocessor_config.json  -> {"image_processor_type": "ViTImageProcessor", ...}
        2. the class of that name in IMAGE_PROCESSOR_MAPPING_NAMES (or registered)
           (no type saved: config.json's model_type picks the table's entry)
        3. ViTImageProcessor.from_dict(settings)

``AutoFeatureExtractor`` reads ``feature_extractor_type`` the same way. ``AutoProcessor``
looks for ``processor_class`` (in ``processor_config.json``, ``preprocessor_config.json``,
then ``tokenizer_config.json``), then for config.json's model_type in PROCESSOR_MAPPING_NAMES;
a model with neither gets its tokenizer (a text-only model, as in transformers) or, without
tokenizer files, its image processor / feature extractor.

The tables map ``model_type -> (module under hfexplain.models, class name)``; they are read
from the family declarations (``hfexplain.models.FAMILIES``: a family's ``image_processor``,
``feature_extractor`` and ``processor`` fields) and are empty until the vision and speech
families declare theirs. A test, or a
learner's own family, adds one with ``register_image_processor(model_type, cls)`` (and the
feature-extractor / processor versions), as ``hfexplain.register`` does for models.
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from .. import models as _models
from .base import HUB_ARGUMENTS, PREPROCESSOR_CONFIG_FILE, PROCESSOR_CONFIG_FILE, read_preprocessor_config



class _FamilyTable(Mapping):
    """``model_type -> (module under hfexplain.models, class name)`` for one ``Family`` field
    (``image_processor``, ``feature_extractor`` or ``processor``), read from ``FAMILIES`` each time."""

    def __init__(self, field: str):
        self.field = field

    def _rows(self) -> dict[str, tuple[str, str]]:
        return {model_type: (family.module, getattr(family, self.field))
                for model_type, family in _models.FAMILIES.items() if getattr(family, self.field)}

    def __getitem__(self, model_type: str) -> tuple[str, str]:
        return self._rows()[model_type]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows())

    def __len__(self) -> int:
        return len(self._rows())

    def __repr__(self) -> str:
        return repr(self._rows())


# model_type -> (module under hfexplain.models, class name): views of the family declarations
# (empty until the vision and speech families declare their processors).
IMAGE_PROCESSOR_MAPPING_NAMES: Mapping[str, tuple[str, str]] = _FamilyTable("image_processor")
FEATURE_EXTRACTOR_MAPPING_NAMES: Mapping[str, tuple[str, str]] = _FamilyTable("feature_extractor")
PROCESSOR_MAPPING_NAMES: Mapping[str, tuple[str, str]] = _FamilyTable("processor")

# Classes registered at run time (model_type -> class).
_REGISTERED: dict[str, dict[str, type]] = {"image processor": {}, "feature extractor": {}, "processor": {}}
_TABLES = {
    "image processor": IMAGE_PROCESSOR_MAPPING_NAMES,
    "feature extractor": FEATURE_EXTRACTOR_MAPPING_NAMES,
    "processor": PROCESSOR_MAPPING_NAMES,
}
_TEXT_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json")


# -- the tables -----------------------------------------------------------------------------------
def _register(kind: str, model_type, cls: type, exist_ok: bool) -> None:
    model_type = getattr(model_type, "model_type", model_type)  # a config class works too, as in transformers
    if not isinstance(model_type, str) or not model_type:
        raise TypeError(f"register a {kind} under a model_type string (or a config class), got {model_type!r}.")
    if not isinstance(cls, type):
        raise TypeError(f"register a {kind} class, got {cls!r}.")
    if not exist_ok and (model_type in _REGISTERED[kind] or model_type in _TABLES[kind]):
        raise ValueError(f"model_type {model_type!r} already has a {kind}; pass exist_ok=True to replace it.")
    _REGISTERED[kind][model_type] = cls


def register_image_processor(model_type, image_processor_class: type, exist_ok: bool = False) -> None:
    """Make ``AutoImageProcessor`` know ``image_processor_class`` (by its name and by ``model_type``)."""
    _register("image processor", model_type, image_processor_class, exist_ok)


def register_feature_extractor(model_type, feature_extractor_class: type, exist_ok: bool = False) -> None:
    """Make ``AutoFeatureExtractor`` know ``feature_extractor_class`` (by its name and by ``model_type``)."""
    _register("feature extractor", model_type, feature_extractor_class, exist_ok)


def register_processor(model_type, processor_class: type, exist_ok: bool = False) -> None:
    """Make ``AutoProcessor`` know ``processor_class`` (by its name and by ``model_type``)."""
    _register("processor", model_type, processor_class, exist_ok)


def unregister(kind: str, model_type: str) -> None:
    """Remove a registered class (tests clean up with it).

    ``kind`` is 'image processor', 'feature extractor' or 'processor'.
    """
    _REGISTERED[kind].pop(model_type, None)


def _supported(kind: str) -> str:
    names = sorted({cls.__name__ for cls in _REGISTERED[kind].values()} | {name for _, name in _TABLES[kind].values()})
    return ", ".join(names) if names else f"none yet (no family in hfexplain has an {kind} so far)"


def _import(module: str, class_name: str) -> type:
    return getattr(importlib.import_module(f"hfexplain.models.{module}"), class_name)


def class_for_model_type(kind: str, model_type: str | None) -> type | None:
    """The ``kind`` class registered or listed for ``model_type`` (None when there is none)."""
    if model_type in _REGISTERED[kind]:
        return _REGISTERED[kind][model_type]
    if model_type in _TABLES[kind]:
        return _import(*_TABLES[kind][model_type])
    return None


def class_for_name(kind: str, class_name: str) -> type | None:
    """The ``kind`` class called ``class_name`` (transformers' "Fast" / "Pil" suffixes ignored), or None."""
    candidates = [class_name]
    candidates += [class_name.removesuffix(suffix) for suffix in ("Fast", "Pil") if class_name.endswith(suffix)]
    for name in candidates:
        for cls in _REGISTERED[kind].values():
            if cls.__name__ == name:
                return cls
        for module, listed in _TABLES[kind].values():
            if listed == name:
                return _import(module, listed)
    return None


def _model_type(path_or_repo_id, hub_arguments: dict[str, Any]) -> str | None:
    from ..configuration import CONFIG_NAME, load_config_dict
    from ..hub import cached_file

    if os.path.isfile(os.fspath(path_or_repo_id)):
        return None
    path = cached_file(path_or_repo_id, CONFIG_NAME, required=False, **hub_arguments)
    return load_config_dict(path).get("model_type") if path is not None else None


def _resolve(kind: str, type_key: str, settings: dict[str, Any], path_or_repo_id, hub_arguments) -> type:
    """The class named by ``settings[type_key]``, else the one for config.json's model_type; a clear error otherwise."""
    where = os.fspath(path_or_repo_id)
    class_name = settings.get(type_key)
    if class_name is None and kind == "image processor" and settings.get("feature_extractor_type"):
        # Older image processors were saved as "...FeatureExtractor" (transformers reads them the same way).
        class_name = settings["feature_extractor_type"].replace("FeatureExtractor", "ImageProcessor")
    if class_name is not None:
        cls = class_for_name(kind, class_name)
        if cls is None:
            raise ValueError(
                f"{where!r} asks for the {kind} {class_name!r} ({type_key}), which hfexplain does not have. "
                f"Supported: {_supported(kind)}. Register your own with "
                f"hfexplain.processing.register_{kind.replace(' ', '_')}(model_type, cls)."
            )
        return cls
    model_type = _model_type(path_or_repo_id, hub_arguments)
    cls = class_for_model_type(kind, model_type)
    if cls is None:
        raise ValueError(
            f"{where!r} names no {type_key} in {PREPROCESSOR_CONFIG_FILE}, and its model_type {model_type!r} has no "
            f"{kind} in hfexplain. Supported: {_supported(kind)}. Add \"{type_key}\" to the file, or register a class "
            f"with hfexplain.processing.register_{kind.replace(' ', '_')}(model_type, cls)."
        )
    return cls


def _split_hub_arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {key: kwargs.pop(key) for key in list(kwargs) if key in HUB_ARGUMENTS}


# -- the Auto classes ---------------------------------------------------------------------------
class AutoImageProcessor:
    """``AutoImageProcessor.from_pretrained(path_or_repo_id)``: the image processor the folder names."""

    def __init__(self):
        raise TypeError("AutoImageProcessor is not instantiated; use AutoImageProcessor.from_pretrained().")

    @staticmethod
    def from_pretrained(path_or_repo_id: str | os.PathLike, **kwargs: Any):
        """Hub arguments pass through; other keyword arguments override saved settings."""
        hub_arguments = _split_hub_arguments(kwargs)
        settings = read_preprocessor_config(path_or_repo_id, "image_processor", **hub_arguments)
        cls = _resolve("image processor", "image_processor_type", settings, path_or_repo_id, hub_arguments)
        return cls.from_dict(settings, **kwargs)

    @staticmethod
    def register(model_type, image_processor_class: type, exist_ok: bool = False) -> None:
        register_image_processor(model_type, image_processor_class, exist_ok=exist_ok)


class AutoFeatureExtractor:
    """``AutoFeatureExtractor.from_pretrained(path_or_repo_id)``: the feature extractor the folder names."""

    def __init__(self):
        raise TypeError("AutoFeatureExtractor is not instantiated; use AutoFeatureExtractor.from_pretrained().")

    @staticmethod
    def from_pretrained(path_or_repo_id: str | os.PathLike, **kwargs: Any):
        """Hub arguments pass through; other keyword arguments override saved settings."""
        hub_arguments = _split_hub_arguments(kwargs)
        settings = read_preprocessor_config(path_or_repo_id, "feature_extractor", **hub_arguments)
        cls = _resolve("feature extractor", "feature_extractor_type", settings, path_or_repo_id, hub_arguments)
        return cls.from_dict(settings, **kwargs)

    @staticmethod
    def register(model_type, feature_extractor_class: type, exist_ok: bool = False) -> None:
        register_feature_extractor(model_type, feature_extractor_class, exist_ok=exist_ok)


class AutoProcessor:
    """``AutoProcessor.from_pretrained(path_or_repo_id)``: the processor, or for a text-only model its tokenizer."""

    def __init__(self):
        raise TypeError("AutoProcessor is not instantiated; use AutoProcessor.from_pretrained().")

    @staticmethod
    def from_pretrained(path_or_repo_id: str | os.PathLike, **kwargs: Any):
        from ..configuration import load_config_dict
        from ..hub import cached_file

        hub_arguments = _split_hub_arguments(kwargs)

        def find(filename: str) -> str | None:
            return cached_file(path_or_repo_id, filename, required=False, **hub_arguments)

        processor_class = None
        for filename in (PROCESSOR_CONFIG_FILE, PREPROCESSOR_CONFIG_FILE, "tokenizer_config.json"):
            path = find(filename)
            if path is not None and load_config_dict(path).get("processor_class"):
                processor_class = load_config_dict(path)["processor_class"]
                break
        if processor_class is not None:
            cls = class_for_name("processor", processor_class)
            if cls is None:
                raise ValueError(
                    f"{os.fspath(path_or_repo_id)!r} asks for the processor {processor_class!r} (processor_class), "
                    f"which hfexplain does not have. Supported: {_supported('processor')}. Register your own with "
                    "hfexplain.processing.register_processor(model_type, cls)."
                )
        else:
            cls = class_for_model_type("processor", _model_type(path_or_repo_id, hub_arguments))
        if cls is not None:
            return cls.from_pretrained(path_or_repo_id, **hub_arguments, **kwargs)

        # No processor: a text-only model gets its tokenizer; a model without one, its preprocessor.
        if any(find(filename) is not None for filename in _TEXT_FILES):
            from ..auto import AutoTokenizer

            return AutoTokenizer.from_pretrained(path_or_repo_id, **hub_arguments, **kwargs)
        settings = read_preprocessor_config(path_or_repo_id, required=False, **hub_arguments)
        if settings is not None:
            if "feature_extractor_type" in settings and "image_processor_type" not in settings:
                return AutoFeatureExtractor.from_pretrained(path_or_repo_id, **hub_arguments, **kwargs)
            return AutoImageProcessor.from_pretrained(path_or_repo_id, **hub_arguments, **kwargs)
        raise ValueError(
            f"{os.fspath(path_or_repo_id)!r} has no processor, tokenizer, image processor or feature extractor files "
            f"({PREPROCESSOR_CONFIG_FILE}, tokenizer.json, ...). Save one there with save_pretrained(), or point to "
            "the folder (or repo id) that has them."
        )

    @staticmethod
    def register(model_type, processor_class: type, exist_ok: bool = False) -> None:
        register_processor(model_type, processor_class, exist_ok=exist_ok)
