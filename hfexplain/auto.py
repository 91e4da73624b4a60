"""The Auto registry: ``config.json``'s ``model_type`` picks the classes.

    AutoModelForCausalLM.from_pretrained(path)
        1. read path/config.json            -> {"model_type": "gpt2", ...}
        2. CONFIG_MAPPING_NAMES["gpt2"]      -> ("gpt2", "GPT2Config")  -> GPT2Config
        3. the task's table for "gpt2"       -> GPT2LMHeadModel
        4. GPT2LMHeadModel.from_pretrained(path, config=config)

The tables are not written here: they are read from the family declarations in
``hfexplain.models`` (``FAMILIES``: one entry per family; ``TASKS``: one Auto class per
task), so ``CONFIG_MAPPING_NAMES`` and ``MODEL_MAPPING_NAMES`` are read-only views that
always show what ``FAMILIES`` says now. They name classes by module and class name and
import them on first use, so ``import hfexplain`` stays light. ``register`` adds a family
of one's own at run time, without editing ``FAMILIES``.

A task of ``TASKS`` that no family serves (none now; a new task starts that way) still has its
Auto class: using it says so, and how to register a family.
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from . import models as _models
from .configuration import PretrainedConfig, config_file, load_config_dict
from .hub import HUB_KWARGS


class _ConfigMappingNames(Mapping):
    """``model_type -> (module under hfexplain.models, config class name)``, read from ``FAMILIES``."""

    def __getitem__(self, model_type: str) -> tuple[str, str]:
        family = _models.FAMILIES[model_type]
        return (family.module, family.config)

    def __iter__(self) -> Iterator[str]:
        return iter(_models.FAMILIES)

    def __len__(self) -> int:
        return len(_models.FAMILIES)

    def __repr__(self) -> str:
        return repr(dict(self))


class _ModelMappingNames(Mapping):
    """``task -> {model_type: model class name}``, one table per task of ``TASKS``, read from ``FAMILIES``."""

    def __getitem__(self, task: str) -> dict[str, str]:
        if task not in _models.TASKS:
            raise KeyError(task)
        return {model_type: family.models[task] for model_type, family in _models.FAMILIES.items()
                if task in family.models}

    def __iter__(self) -> Iterator[str]:
        return iter(_models.TASKS)

    def __len__(self) -> int:
        return len(_models.TASKS)

    def __repr__(self) -> str:
        return repr(dict(self))


# model_type -> (module under hfexplain.models, config class name)
CONFIG_MAPPING_NAMES: Mapping[str, tuple[str, str]] = _ConfigMappingNames()

# task -> model_type -> class name (in the family's module)
MODEL_MAPPING_NAMES: Mapping[str, dict[str, str]] = _ModelMappingNames()

# Classes registered at run time by ``register`` (model_type -> class).
_REGISTERED_CONFIGS: dict[str, type[PretrainedConfig]] = {}
_REGISTERED_MODELS: dict[str, dict[str, type]] = {task: {} for task in _models.TASKS}


def _import_class(model_type: str, class_name: str) -> type:
    module_name = _models.FAMILIES[model_type].module
    module = importlib.import_module(f"hfexplain.models.{module_name}")
    return getattr(module, class_name)


def supported_model_types() -> list[str]:
    return sorted(set(CONFIG_MAPPING_NAMES) | set(_REGISTERED_CONFIGS))


def config_class_for(model_type: str) -> type[PretrainedConfig]:
    """The config class registered for a ``model_type``; a clear error for unknown ones."""
    if model_type in _REGISTERED_CONFIGS:
        return _REGISTERED_CONFIGS[model_type]
    if model_type in CONFIG_MAPPING_NAMES:
        return _import_class(model_type, CONFIG_MAPPING_NAMES[model_type][1])
    raise ValueError(
        f"unknown model_type {model_type!r}; hfexplain supports {', '.join(supported_model_types())}. "
        "Register a new family with hfexplain.register(model_type, ConfigClass, ...)."
    )


def _check_task(task: str) -> None:
    """A task of ``TASKS`` that some family (declared or registered) serves; else a clear error."""
    if task not in _models.TASKS:
        raise ValueError(f"unknown task {task!r}; tasks are {', '.join(_models.TASKS)}.")
    if not MODEL_MAPPING_NAMES[task] and not _REGISTERED_MODELS.get(task):
        raise ValueError(
            f"no family registered for task {task!r} yet; {_models.TASKS[task]} is ready, but no family in "
            f"hfexplain ({', '.join(supported_model_types())}) has a {task} model. A family declares one in "
            f"hfexplain.models.FAMILIES, or register your own: hfexplain.register(model_type, ConfigClass, "
            f"{{{task!r}: ModelClass}})."
        )


def model_class_for(task: str, model_type: str, architectures: list[str] | None = None) -> type:
    """The class that serves ``task`` for ``model_type``; a clear error where there is none.

    ``architectures`` (a checkpoint's ``config.architectures``) picks one of the family's
    ``variants`` for the task when it names one, as transformers picks from its tuples (a distilled
    DeiT checkpoint gets ``DeiTForImageClassificationWithTeacher``); otherwise the default class.
    """
    _check_task(task)
    if model_type in _REGISTERED_MODELS.get(task, {}):
        return _REGISTERED_MODELS[task][model_type]
    names = MODEL_MAPPING_NAMES[task]
    if model_type in names:
        variants = _models.FAMILIES[model_type].variants.get(task, ())
        named = [name for name in architectures or () if name in variants]
        return _import_class(model_type, named[0] if named else names[model_type])
    config_class_for(model_type)  # raises for a model_type nobody knows
    known = sorted(set(names) | set(_REGISTERED_MODELS.get(task, {})))
    raise ValueError(
        f"model_type {model_type!r} has no {task} model in hfexplain; {task} is available for: "
        f"{', '.join(known)}."
    )


def register(
    model_type: str,
    config_class: type[PretrainedConfig],
    models: dict[str, type] | None = None,
    *,
    exist_ok: bool = False,
) -> None:
    """Add a family at run time: its config class and, per task, its model classes.

    >>> register("toy", ToyConfig, {"base": ToyModel, "causal-lm": ToyForCausalLM})

    Tasks are the keys of ``hfexplain.models.TASKS`` (base, causal-lm, masked-lm,
    sequence-classification, token-classification, question-answering, seq2seq-lm, ...).
    A family that ships with hfexplain is declared in ``hfexplain.models.FAMILIES`` instead.
    """
    if getattr(config_class, "model_type", None) != model_type:
        raise ValueError(
            f"{config_class.__name__}.model_type is {getattr(config_class, 'model_type', None)!r}, "
            f"not {model_type!r}; set the class attribute model_type = {model_type!r}."
        )
    if not exist_ok and (model_type in CONFIG_MAPPING_NAMES or model_type in _REGISTERED_CONFIGS):
        raise ValueError(f"model_type {model_type!r} is already registered; pass exist_ok=True to replace it.")
    for task, cls in (models or {}).items():
        if task not in _models.TASKS:
            raise ValueError(f"unknown task {task!r}; tasks are {', '.join(_models.TASKS)}.")
        if getattr(cls, "config_class", None) is not config_class:
            raise ValueError(f"{cls.__name__}.config_class must be {config_class.__name__} to register it.")
    _REGISTERED_CONFIGS[model_type] = config_class
    for task, cls in (models or {}).items():
        _REGISTERED_MODELS.setdefault(task, {})[model_type] = cls


class AutoConfig:
    """``AutoConfig.from_pretrained(path_or_repo_id)``: the right config class for ``model_type``."""

    def __init__(self):
        raise TypeError("AutoConfig is not instantiated; use AutoConfig.from_pretrained() or AutoConfig.for_model().")

    @staticmethod
    def for_model(model_type: str, **kwargs: Any) -> PretrainedConfig:
        return config_class_for(model_type)(**kwargs)

    @staticmethod
    def from_pretrained(path_or_repo_id: str | os.PathLike, **kwargs: Any) -> PretrainedConfig:
        hub_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in HUB_KWARGS}
        path = config_file(path_or_repo_id, hub_kwargs)  # a folder, a repo id, or a config .json file
        config_dict = load_config_dict(path)
        model_type = config_dict.get("model_type")
        if not model_type:
            raise ValueError(
                f"{path!r} has no 'model_type' key, so AutoConfig cannot tell the family; add it, or load with "
                "the family's config class directly."
            )
        config = config_class_for(model_type).from_dict(config_dict, **kwargs)
        config.name_or_path = path_or_repo_id
        return config

    @staticmethod
    def register(model_type: str, config_class: type[PretrainedConfig], exist_ok: bool = False) -> None:
        """Register a config class for a new ``model_type`` (transformers' spelling)."""
        register(model_type, config_class, exist_ok=exist_ok)


class _AutoModel:
    """Shared logic of the AutoModel* classes; ``task`` names the table."""

    task: str = "base"

    def __init__(self):
        raise TypeError(f"{type(self).__name__} is not instantiated; use .from_pretrained() or .from_config().")

    @classmethod
    def _class_for_config(cls, config: PretrainedConfig) -> type:
        return model_class_for(cls.task, config.model_type, getattr(config, "architectures", None))

    @classmethod
    def from_config(cls, config: PretrainedConfig):
        """A freshly initialised model of the right class for ``config``."""
        _check_task(cls.task)
        return cls._class_for_config(config)(config)

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, *, config: PretrainedConfig | None = None,
                        **kwargs: Any):
        """Load the right class for the checkpoint's ``model_type`` (same arguments as
        ``PreTrainedModel.from_pretrained``)."""
        _check_task(cls.task)  # a task no family serves yet fails before any file is read
        if config is None:
            hub_kwargs = {k: kwargs[k] for k in HUB_KWARGS if k in kwargs}
            config_fields = {k: kwargs.pop(k) for k in list(kwargs) if k not in _LOAD_ARGS}
            config = AutoConfig.from_pretrained(path_or_repo_id, **hub_kwargs, **config_fields)
        return cls._class_for_config(config).from_pretrained(path_or_repo_id, config=config, **kwargs)

    @classmethod
    def register(cls, config_class: type[PretrainedConfig], model_class: type, exist_ok: bool = False) -> None:
        model_type = config_class.model_type
        if model_type not in _REGISTERED_CONFIGS and model_type not in CONFIG_MAPPING_NAMES:
            register(model_type, config_class)
        if not exist_ok and model_type in _REGISTERED_MODELS.get(cls.task, {}):
            raise ValueError(f"{cls.__name__} already has a {model_type!r} model; pass exist_ok=True to replace it.")
        if getattr(model_class, "config_class", None) is not config_class:
            raise ValueError(f"{model_class.__name__}.config_class must be {config_class.__name__} to register it.")
        _REGISTERED_MODELS.setdefault(cls.task, {})[model_type] = model_class


_LOAD_ARGS = {
    *HUB_KWARGS,
    "dtype",
    "torch_dtype",
    "use_safetensors",
    "allow_pickle",
    "ignore_mismatched_sizes",
    "output_loading_info",
    "generation_config",
}


class AutoModel(_AutoModel):
    task = "base"


class AutoModelForCausalLM(_AutoModel):
    task = "causal-lm"


class AutoModelForMaskedLM(_AutoModel):
    task = "masked-lm"


class AutoModelForSequenceClassification(_AutoModel):
    task = "sequence-classification"


class AutoModelForTokenClassification(_AutoModel):
    task = "token-classification"


class AutoModelForQuestionAnswering(_AutoModel):
    task = "question-answering"


class AutoModelForSeq2SeqLM(_AutoModel):
    task = "seq2seq-lm"


class AutoModelForImageClassification(_AutoModel):
    task = "image-classification"


class AutoModelForObjectDetection(_AutoModel):
    task = "object-detection"


class AutoModelForCTC(_AutoModel):
    task = "ctc"


class AutoModelForSpeechSeq2Seq(_AutoModel):
    task = "speech-seq2seq"


class AutoModelForAudioClassification(_AutoModel):
    task = "audio-classification"


class AutoModelForZeroShotImageClassification(_AutoModel):
    """Models that embed images and texts in one space (CLIP): the zero-shot-image-classification pipeline's."""

    task = "zero-shot-image-classification"


class AutoModelForImageTextToText(_AutoModel):
    """Models that write text about an image (BLIP's captioner): the image-to-text pipeline's."""

    task = "image-to-text"


class AutoModelForVisualQuestionAnswering(_AutoModel):
    """Models that answer a question about an image (BLIP's VQA model)."""

    task = "visual-question-answering"


def auto_model_class(task: str) -> type[_AutoModel]:
    """The Auto class that loads ``task``'s models, by its name in ``TASKS`` (``"ctc"`` -> AutoModelForCTC)."""
    if task not in _models.TASKS:
        raise ValueError(f"unknown task {task!r}; tasks are {', '.join(_models.TASKS)}.")
    return globals()[_models.TASKS[task]]


class AutoTokenizer:
    """``AutoTokenizer.from_pretrained(path_or_repo_id)``: the tokenizer class the folder names.

    Most families use hfexplain's ``Tokenizer`` over ``tokenizers`` (a ``tokenizer.json``, or one
    rebuilt from vocab files). A family whose declaration names another class (``Family.tokenizer``,
    e.g. Wav2Vec2's ``Wav2Vec2CTCTokenizer`` in ``hfexplain.tokenization``) gets it when the folder's
    ``tokenizer_config.json`` says ``tokenizer_class`` is that class, or, when it names none,
    when config.json's ``model_type`` is that family's.
    """

    def __init__(self):
        raise TypeError("AutoTokenizer is not instantiated; use AutoTokenizer.from_pretrained().")

    @staticmethod
    def from_pretrained(path_or_repo_id: str | os.PathLike, **kwargs: Any):
        from . import tokenization

        cls = AutoTokenizer.class_for(path_or_repo_id, **kwargs)
        return (cls or tokenization.Tokenizer).from_pretrained(path_or_repo_id, **kwargs)

    @staticmethod
    def class_for(path_or_repo_id: str | os.PathLike, **kwargs: Any) -> type | None:
        """The family tokenizer class a folder asks for, or None for the common ``Tokenizer``."""
        from . import tokenization
        from .hub import cached_file, read_json_object

        family_classes = {family.tokenizer for family in _models.FAMILIES.values()} - {None, "Tokenizer"}
        if not family_classes:
            return None
        where = {key: kwargs[key] for key in ("revision", "cache_dir", "token", "local_files_only", "subfolder")
                 if key in kwargs}

        def read(filename: str) -> dict:
            path = cached_file(path_or_repo_id, filename, required=False, **where)
            return read_json_object(path, what="a tokenizer file") if path is not None else {}

        name = kwargs.get("tokenizer_class") or read("tokenizer_config.json").get("tokenizer_class")
        if name is None:
            family = _models.FAMILIES.get(read("config.json").get("model_type"))
            name = family.tokenizer if family is not None else None
        if isinstance(name, str) and name.removesuffix("Fast") in family_classes:
            return getattr(tokenization, name.removesuffix("Fast"))
        return None
