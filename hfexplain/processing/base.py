"""``preprocessor_config.json``: how an image processor or a feature extractor is saved.

An image processor's settings (``do_resize``, ``size``, ``image_mean`` ...) or a feature
extractor's (``sampling_rate``, ``feature_size``, ``padding_value`` ...) are plain data, saved
as one JSON object with the class name under ``image_processor_type`` /
``feature_extractor_type``; that name is what :mod:`hfexplain.processing.auto` dispatches on.
As with configs, keys this library does not know are kept and written back unchanged.

Files are found through :func:`hfexplain.hub.cached_file`, so a folder, a Hub repo id, its
cache, ``revision=`` and ``HF_HUB_OFFLINE=1`` behave exactly as they do for ``config.json``.
transformers 5 may also write ``processor_config.json`` with the settings nested under
``"image_processor"`` / ``"feature_extractor"``; that file is read first when present.
"""
from __future__ import annotations

import copy
import json
import os
from typing import Any, ClassVar

import numpy as np

PREPROCESSOR_CONFIG_FILE = "preprocessor_config.json"  # transformers' FEATURE_EXTRACTOR_NAME / IMAGE_PROCESSOR_NAME
PROCESSOR_CONFIG_FILE = "processor_config.json"  # transformers 5's nested processor file (PROCESSOR_NAME)
HUB_ARGUMENTS = ("revision", "cache_dir", "token", "local_files_only", "subfolder")


class FeatureExtractionMixin:
    """Loading and saving for feature extractors (and, through :class:`ImageProcessingMixin`, image processors).

    ``__init__(**settings)`` sets each setting as an attribute; ``to_dict()`` gives them back,
    plus the class name under ``type_key``. ``from_pretrained`` / ``save_pretrained`` read and
    write ``preprocessor_config.json``.
    """

    type_key: ClassVar[str] = "feature_extractor_type"
    nested_key: ClassVar[str] = "feature_extractor"  # its section in processor_config.json
    model_input_names: ClassVar[list[str]] = ["input_values", "attention_mask"]

    def __init__(self, **settings: Any):
        # Which processor holds this one is the processor's business, not a setting (as in transformers).
        settings.pop("processor_class", None)
        settings.pop(type(self).type_key, None)
        for key, value in settings.items():  # unknown keys are kept and written back
            setattr(self, key, value)

    # -- dict and JSON ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every setting (public attributes), plus ``{type_key: class name}``."""
        output = {key: copy.deepcopy(value) for key, value in self.__dict__.items() if not key.startswith("_")}
        output[type(self).type_key] = type(self).__name__
        return output

    def to_json_string(self) -> str:
        settings = {
            key: value.tolist() if isinstance(value, np.ndarray) else value for key, value in self.to_dict().items()
        }
        return json.dumps(settings, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, settings: dict[str, Any], **overrides: Any):
        """Build from a dict (what ``to_dict`` gave, or the JSON file); ``overrides`` win over it."""
        return cls(**{**settings, **overrides})

    @classmethod
    def from_json_file(cls, path: str | os.PathLike):
        return cls.from_dict(_read_json_object(path))

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()

    # -- files ------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **kwargs: Any):
        """Load from a folder, a Hub repo id (its cache, ``HF_HUB_OFFLINE=1``) or a JSON file path.

        Takes the hub arguments (``revision``, ``cache_dir``, ``token``, ``local_files_only``,
        ``subfolder``); other keyword arguments override the saved settings.
        """
        hub_arguments = {key: kwargs.pop(key) for key in list(kwargs) if key in HUB_ARGUMENTS}
        settings = cls.get_config_dict(path_or_repo_id, **hub_arguments)
        return cls.from_dict(settings, **kwargs)

    @classmethod
    def get_config_dict(cls, path_or_repo_id: str | os.PathLike, **hub_arguments: Any) -> dict[str, Any]:
        """The saved settings as a dict, before any class is chosen (what the Auto classes read)."""
        return read_preprocessor_config(path_or_repo_id, cls.nested_key, **hub_arguments)

    def save_pretrained(self, save_directory: str | os.PathLike) -> list[str]:
        """Write ``preprocessor_config.json`` into ``save_directory`` (created if needed), atomically."""
        from ..hub import write_text_atomically

        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise NotADirectoryError(
                f"save_pretrained() needs a folder, but {save_directory!r} is a file. Pass a folder path."
            )
        path = os.path.join(save_directory, PREPROCESSOR_CONFIG_FILE)
        write_text_atomically(path, self.to_json_string())
        return [path]


class ImageProcessingMixin(FeatureExtractionMixin):
    """The same files for image processors: the class name goes under ``image_processor_type``."""

    type_key: ClassVar[str] = "image_processor_type"
    nested_key: ClassVar[str] = "image_processor"
    model_input_names: ClassVar[list[str]] = ["pixel_values"]

    def __init__(self, **settings: Any):
        # Image processors were once called feature extractors; that old key would mislead (as in transformers).
        settings.pop("feature_extractor_type", None)
        super().__init__(**settings)


def read_preprocessor_config(
    path_or_repo_id: str | os.PathLike, nested_key: str | None = None, *, required: bool = True, **hub_arguments: Any
) -> dict[str, Any] | None:
    """The settings saved in a folder or repo: ``processor_config.json``'s ``nested_key`` section if
    it has one, else ``preprocessor_config.json``. A path to a JSON file is read as is.

    With ``required=False`` a folder without either file gives ``None``.
    """
    from ..hub import cached_file

    if os.path.isfile(os.fspath(path_or_repo_id)):
        return _read_json_object(path_or_repo_id)
    if nested_key is not None:
        nested_file = cached_file(path_or_repo_id, PROCESSOR_CONFIG_FILE, required=False, **hub_arguments)
        if nested_file is not None:
            section = _read_json_object(nested_file).get(nested_key)
            if isinstance(section, dict):
                return section
    path = cached_file(path_or_repo_id, PREPROCESSOR_CONFIG_FILE, required=False, **hub_arguments)
    if path is None:
        if not required:
            return None
        raise OSError(
            f"{os.fspath(path_or_repo_id)!r} has no {PREPROCESSOR_CONFIG_FILE}, so there is no image processor or "
            "feature extractor to load. Save one there with save_pretrained(), or point to the folder (or repo id) "
            "that has it."
        )
    return _read_json_object(path)


def _read_json_object(path: str | os.PathLike) -> dict[str, Any]:
    from ..hub import read_json_object  # the one JSON-object reader (clear errors for bad files)

    return read_json_object(path, what="a preprocessor config")
