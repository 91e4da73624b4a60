"""PretrainedConfig: a model's hyper-parameters, read from and written to ``config.json``.

A config is plain data. Each family subclasses it with its own field names (GPT-2's
``n_embd``, BERT's ``hidden_size``) and an ``attribute_map`` so the common names
(``hidden_size``, ``num_attention_heads``, ``num_hidden_layers``) work on every family.
Keys this library does not know are kept and written back unchanged, so a config
survives a round trip through hfexplain.

A config may hold others (``sub_configs``): CLIP's ``CLIPConfig`` keeps a ``text_config`` and a
``vision_config``, written into ``config.json`` as nested objects (each with its own
``model_type``), as transformers writes them. A sub-config class with a ``base_config_key`` also
reads its part of the composite file: ``CLIPTextConfig.from_pretrained(clip_folder)`` reads
``text_config``.

Files are found and written with ``hfexplain.hub``'s helpers (``cached_file``,
``read_json_object``, ``write_text_atomically``); hub imports nothing from here, so the
two modules no longer import each other. ``HUB_KWARGS``, ``dtype_from_name`` and
``write_text_atomically`` stay importable from this module.
"""
from __future__ import annotations

import copy
import json
import math
import os
from typing import Any, ClassVar

import torch

from .hub import HUB_KWARGS, cached_file, dtype_from_name, read_json_object, write_text_atomically

CONFIG_NAME = "config.json"


class PretrainedConfig:
    """Base class of every family's config.

    Common fields (all optional): ``architectures``, ``dtype``, ``num_labels`` /
    ``id2label`` / ``label2id``, ``problem_type``, ``pad_token_id``, ``bos_token_id``,
    ``eos_token_id``, ``tie_word_embeddings``, ``output_hidden_states``,
    ``output_attentions``, ``use_return_dict``, ``is_decoder``.
    """

    model_type: ClassVar[str] = ""
    attribute_map: ClassVar[dict[str, str]] = {}
    # Nested configs: field name -> config class (CLIP: {"text_config": CLIPTextConfig, ...}). Each field
    # takes a config, a dict (as config.json holds it) or None (the class's defaults).
    sub_configs: ClassVar[dict[str, type["PretrainedConfig"]]] = {}
    # The field of a composite config this class reads when given the whole file ("text_config").
    base_config_key: ClassVar[str] = ""

    def __init__(
        self,
        *,
        architectures: list[str] | None = None,
        dtype: str | torch.dtype | None = None,
        torch_dtype: str | torch.dtype | None = None,
        num_labels: int | None = None,
        id2label: dict | None = None,
        label2id: dict | None = None,
        problem_type: str | None = None,
        pad_token_id: int | None = None,
        bos_token_id: int | None = None,
        eos_token_id: int | list[int] | None = None,
        tie_word_embeddings: bool = True,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
        return_dict: bool = True,
        is_decoder: bool = False,
        **kwargs: Any,
    ):
        self.architectures = architectures
        self.dtype = dtype_from_name(dtype if dtype is not None else torch_dtype)
        if id2label is not None:
            id2label = {int(k): v for k, v in id2label.items()}
            if num_labels is not None and num_labels != len(id2label):
                raise ValueError(
                    f"num_labels={num_labels} disagrees with id2label, which has {len(id2label)} entries; "
                    "pass one of them, or make them agree."
                )
        else:
            id2label = {i: f"LABEL_{i}" for i in range(num_labels if num_labels is not None else 2)}
        self.id2label = id2label
        self.label2id = {k: int(v) for k, v in label2id.items()} if label2id else {v: k for k, v in id2label.items()}
        if problem_type not in (None, "regression", "single_label_classification", "multi_label_classification"):
            raise ValueError(
                f"problem_type {problem_type!r} is not supported; use 'regression', "
                "'single_label_classification' or 'multi_label_classification'."
            )
        self.problem_type = problem_type
        self.pad_token_id = pad_token_id
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_id
        self.tie_word_embeddings = tie_word_embeddings
        self.output_hidden_states = output_hidden_states
        self.output_attentions = output_attentions
        self.return_dict = return_dict
        self.is_decoder = is_decoder
        # Where the config was loaded from (set by from_pretrained); never written to config.json.
        self._name_or_path = str(kwargs.pop("name_or_path", kwargs.pop("_name_or_path", "")) or "")
        kwargs.pop("model_type", None)
        kwargs.pop("transformers_version", None)
        for key, sub_class in type(self).sub_configs.items():
            setattr(self, key, _as_sub_config(sub_class, key, kwargs.pop(key, None), type(self).__name__))
        for key, value in kwargs.items():  # unknown keys are kept and written back
            shadowed = getattr(type(self), key, None)
            if callable(shadowed) or isinstance(shadowed, property):
                raise ValueError(
                    f"{type(self).__name__} got a key {key!r}, which would hide its {key!r} "
                    f"{'property' if isinstance(shadowed, property) else 'method'} and break later calls. "
                    "Rename or remove that key in config.json."
                )
            setattr(self, key, value)

    # -- validation ----------------------------------------------------------------

    def validate(self) -> None:
        """Check every hyper-parameter a model is built from, before anything is allocated.

        One pass over the config's fields, by what their names say they are (the families keep
        Hugging Face's names, so the names are reliable):

        * sizes and counts (``vocab_size``, ``n_embd``, ``num_hidden_layers``, ``*_heads``,
          ``*_dim``, ``*_size``, ``*_layers``, ``*_positions``, ``*_embeddings``; lists of them too):
          whole numbers (not strings or floats), at least 1; layer counts and other ``num_*`` /
          ``n_*`` counts at least 0 (a zero-layer model is embed -> unembed, as in transformers);
        * norm epsilons (``*_eps``, ``*_epsilon``): positive finite numbers;
        * probabilities (``*dropout*``, ``*_pdrop``, ``*_prob``): numbers in [0, 1];
        * the width must split evenly over the heads when the family derives the head size
          from it (no ``head_dim`` / ``d_kv`` field).

        Raises:
            ValueError: naming the field, its value and what it must be.
        """
        problems = []
        for key, value in vars(self).items():
            if key.startswith("_") or value is None:
                continue
            problem = _field_problem(key, value)
            if problem:
                problems.append(f"{key}={value!r} {problem}")
        if not problems:
            problems.extend(self._head_split_problems())
        if problems:
            raise ValueError(
                f"{type(self).__name__} is not a model that can be built: " + "; ".join(problems)
                + ". Fix these fields in config.json (or the arguments you passed)."
            )

    def _head_split_problems(self) -> list[str]:
        names = vars(self)
        if any(key in names for key in ("head_dim", "d_kv", "attention_head_size")):
            return []
        width_key = type(self).attribute_map.get("hidden_size", "hidden_size")
        heads_key = type(self).attribute_map.get("num_attention_heads", "num_attention_heads")
        width, heads = names.get(width_key), names.get(heads_key)
        if isinstance(width, int) and isinstance(heads, int) and heads > 0 and width % heads:
            return [f"{width_key}={width} does not split over {heads_key}={heads} heads (each head gets "
                    f"{width_key} / {heads_key} features): choose a multiple of {heads}"]
        return []

    # -- common names ------------------------------------------------------------

    def __setattr__(self, key: str, value: Any) -> None:
        key = type(self).attribute_map.get(key, key)
        super().__setattr__(key, value)

    def __getattr__(self, key: str) -> Any:
        # Only called when normal lookup fails: map a common name to the family's own.
        mapped = type(self).attribute_map.get(key)
        if mapped is not None:
            return getattr(self, mapped)
        raise AttributeError(f"{type(self).__name__} has no attribute {key!r}")

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, value: int) -> None:
        if len(self.id2label) != value:
            self.id2label = {i: f"LABEL_{i}" for i in range(value)}
            self.label2id = {v: k for k, v in self.id2label.items()}

    @property
    def name_or_path(self) -> str:
        """The folder or Hub repo id ``from_pretrained`` read this config from ("" if built in code)."""
        return self._name_or_path

    @name_or_path.setter
    def name_or_path(self, value: str | os.PathLike) -> None:
        self._name_or_path = str(value)

    @property
    def use_return_dict(self) -> bool:
        return self.return_dict

    @property
    def torch_dtype(self) -> torch.dtype | None:
        return self.dtype

    # -- dict and JSON -------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every field, with JSON-friendly values (dtypes as names, label ids as strings)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if key.startswith("_"):
                continue
            if isinstance(value, torch.dtype):
                value = str(value).removeprefix("torch.")
            out[key] = value.to_dict() if isinstance(value, PretrainedConfig) else copy.deepcopy(value)
        out["id2label"] = {str(k): v for k, v in self.id2label.items()}
        out["model_type"] = self.model_type
        return dict(sorted(out.items()))

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **overrides: Any) -> "PretrainedConfig":
        """Build a config from a dict; ``overrides`` replace fields (unknown ones are kept)."""
        stored_labels = config_dict.get("id2label")
        if "num_labels" in overrides and "id2label" not in overrides and stored_labels is not None:
            if len(stored_labels) != overrides["num_labels"]:
                # A new number of labels wins over the stored names, as in transformers: fine-tuning
                # a 3-label checkpoint for 5 labels starts from LABEL_0..LABEL_4.
                config_dict = {k: v for k, v in config_dict.items() if k not in ("id2label", "label2id")}
        declared = config_dict.get("model_type")
        part = config_dict.get(cls.base_config_key) if cls.base_config_key else None
        if declared != cls.model_type and isinstance(part, dict):
            # The whole composite config.json (CLIP's) given to one of its parts: read that part.
            config_dict = part
        config_dict = {**config_dict, **overrides}
        declared = config_dict.get("model_type")
        if cls.model_type and declared and declared != cls.model_type:
            raise ValueError(
                f"this config.json is for model_type {declared!r}, but {cls.__name__} is for "
                f"{cls.model_type!r}; use AutoConfig, or the {declared!r} family's config class."
            )
        return cls(**config_dict)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> "PretrainedConfig":
        return cls.from_dict(load_config_dict(path))

    def save_pretrained(self, save_directory: str | os.PathLike) -> str:
        """Write ``config.json`` into ``save_directory`` (created if needed).

        Atomically (``hub.write_text_atomically``): a reader finds the old file or the new one,
        whole; a symlinked config.json is replaced, never written through."""
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise OSError(f"{save_directory!r} is a file; save_pretrained needs a folder path.")
        path = os.path.join(save_directory, CONFIG_NAME)
        write_text_atomically(path, self.to_json_string())
        return path

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **kwargs: Any) -> "PretrainedConfig":
        """Load ``config.json`` from a folder or a Hub repo id.

        Accepts the hub arguments (``revision``, ``cache_dir``, ``token``,
        ``local_files_only``, ``subfolder``); other keyword arguments override fields.
        """
        hub_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in HUB_KWARGS}
        path = config_file(path_or_repo_id, hub_kwargs)
        config = cls.from_dict(load_config_dict(path), **kwargs)
        config.name_or_path = path_or_repo_id
        return config

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PretrainedConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"


_SIZE_SUFFIXES = ("_size", "_dim", "_layers", "_heads", "_positions", "_embeddings", "_channels", "_bins")
_SIZE_NAMES = {"vocab_size", "n_embd", "n_layer", "n_head", "n_positions", "n_ctx", "n_inner", "d_model", "d_ff",
               "d_kv", "dim", "hidden_dim", "n_layers", "n_heads", "window_size", "rotary_dim", "patch_size",
               "image_size"}
_LAYER_COUNTS = {"n_layer", "n_layers", "num_layers", "num_hidden_layers"}


def _field_problem(key: str, value: Any) -> str | None:
    """What is wrong with one config field, judged by its name; None when nothing is (or it is not ours to judge)."""
    if isinstance(value, bool):
        return None if not _is_size_name(key) else "must be a whole number, not a bool"
    if _is_size_name(key):
        values = value if isinstance(value, (list, tuple)) else [value]
        if isinstance(value, (list, tuple)) and not all(isinstance(item, (int, float)) for item in value):
            return None  # names or a nested structure (GPT-Neo's attention_layers / _types): the family checks it
        # counts may be 0 (a zero-layer transformer is embed -> unembed); sizes and head counts may not
        is_count = key.startswith(("num_", "n_")) and key not in _SIZE_NAMES
        lowest = 0 if is_count or key in _LAYER_COUNTS or key.endswith("_layers") else 1
        for item in values:
            if isinstance(item, bool) or not isinstance(item, int):
                return f"must be a whole number (got a {type(item).__name__})"
            if item < lowest:
                return f"must be at least {lowest}"
        return None
    if key.endswith(("_eps", "_epsilon")) or key == "eps":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number (got a {type(value).__name__})"
        if not math.isfinite(value) or value <= 0:
            return "must be a positive finite number"
        return None
    if "dropout" in key or key.endswith(("_pdrop", "_prob")):
        if isinstance(value, (list, tuple, dict, str)) or isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a probability between 0 and 1 (got a {type(value).__name__})"
        if not 0 <= value <= 1:
            return "must be a probability between 0 and 1"
    return None


def check_divisible(name: str, value: Any, by_name: str, by: Any, why: str) -> None:
    """A family config's "``name`` splits evenly over ``by_name``" rule (a width over heads), checked
    after both are known to be whole numbers of at least 1, so a bad value gets its own message
    rather than a ``ZeroDivisionError`` or a ``TypeError`` from ``%``."""
    problems = [f"{key}={item!r} {problem}" for key, item in ((name, value), (by_name, by))
                if (problem := _field_problem(key, item) or ("must be at least 1" if item == 0 else None))]
    if problems:
        raise ValueError("; ".join(problems) + ". Fix these fields in config.json (or the arguments you passed).")
    if value % by:
        raise ValueError(f"{name} ({value}) must be divisible by {by_name} ({by}): {why}")


def _is_size_name(key: str) -> bool:
    if key in _SIZE_NAMES:
        return True
    if key.startswith(("num_", "n_")) and not key.endswith(("_id", "_ids", "_labels")):
        return True
    return key.endswith(_SIZE_SUFFIXES) and not key.startswith(("use_", "is_", "add_", "do_", "tie_", "share_",
                                                                  "scale_", "output_", "return_"))
def _as_sub_config(sub_class: type[PretrainedConfig], key: str, value: Any, owner: str) -> PretrainedConfig:
    """A nested config field from what was passed: a config (kept), a dict (read) or None (defaults)."""
    if value is None:
        return sub_class()
    if isinstance(value, sub_class):
        return value
    if isinstance(value, dict):
        return sub_class.from_dict(value)
    raise TypeError(
        f"{owner}'s {key} must be a {sub_class.__name__}, a dict of its fields or None (its defaults); "
        f"got {type(value).__name__}."
    )


def config_file(path_or_repo_id: str | os.PathLike, hub_kwargs: dict[str, Any]) -> str:
    """The config.json of a folder or Hub repo id, or the JSON file itself when given one (as transformers'
    ``from_pretrained("path/to/config.json")`` allows)."""
    if os.path.isfile(path_or_repo_id) and os.fspath(path_or_repo_id).endswith(".json"):
        return os.fspath(path_or_repo_id)
    return cached_file(path_or_repo_id, CONFIG_NAME, **hub_kwargs)


def load_config_dict(path: str | os.PathLike) -> dict[str, Any]:
    """Read a config.json; a file that is not a JSON object is a clear error."""
    return read_json_object(path, what="a config", fix="Fix the file, or save the config again with save_pretrained().")


__all__ = ["CONFIG_NAME", "HUB_KWARGS", "PretrainedConfig", "dtype_from_name", "load_config_dict",
           "write_text_atomically"]
