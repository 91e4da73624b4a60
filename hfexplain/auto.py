"""The Auto registry: ``config.json``'s ``model_type`` picks the classes.

    AutoModelForCausalLM.from_pretrained(path)
        1. read path/config.json            -> {"model_type": "gpt2", ...}
        2. CONFIG_MAPPING["gpt2"]            -> GPT2Config
        3. the task's table for "gpt2"       -> GPT2LMHeadModel
        4. GPT2LMHeadModel.from_pretrained(path, config=config)

The tables name classes by module and class name and import them on first use, so
``import hfexplain`` stays light. ``register`` adds a family of one's own.
"""
from __future__ import annotations

import importlib
import os
from typing import Any

from .configuration import CONFIG_NAME, HUB_KWARGS, PretrainedConfig, load_config_dict

# model_type -> (module under hfexplain.models, config class name)
CONFIG_MAPPING_NAMES: dict[str, tuple[str, str]] = {
    "gpt2": ("gpt2", "GPT2Config"),
    "bert": ("bert", "BertConfig"),
    "llama": ("llama", "LlamaConfig"),
}

# task -> model_type -> class name (in the family's module)
MODEL_MAPPING_NAMES: dict[str, dict[str, str]] = {
    "base": {"gpt2": "GPT2Model", "bert": "BertModel", "llama": "LlamaModel"},
    "causal-lm": {"gpt2": "GPT2LMHeadModel", "llama": "LlamaForCausalLM"},
    "masked-lm": {"bert": "BertForMaskedLM"},
    "sequence-classification": {
        "gpt2": "GPT2ForSequenceClassification",
        "bert": "BertForSequenceClassification",
    },
    "token-classification": {"bert": "BertForTokenClassification"},
    "question-answering": {"bert": "BertForQuestionAnswering"},
}

# Classes registered at run time by ``register`` (model_type -> class).
_REGISTERED_CONFIGS: dict[str, type[PretrainedConfig]] = {}
_REGISTERED_MODELS: dict[str, dict[str, type]] = {task: {} for task in MODEL_MAPPING_NAMES}


def _import_class(model_type: str, class_name: str) -> type:
    module_name = CONFIG_MAPPING_NAMES[model_type][0]
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


def model_class_for(task: str, model_type: str) -> type:
    if model_type in _REGISTERED_MODELS[task]:
        return _REGISTERED_MODELS[task][model_type]
    names = MODEL_MAPPING_NAMES[task]
    if model_type in names:
        return _import_class(model_type, names[model_type])
    config_class_for(model_type)  # raises for a model_type nobody knows
    known = sorted(set(names) | set(_REGISTERED_MODELS[task]))
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
    """Add a family: its config class and, per task, its model classes.

    >>> register("toy", ToyConfig, {"base": ToyModel, "causal-lm": ToyForCausalLM})

    Tasks: base, causal-lm, masked-lm, sequence-classification, token-classification,
    question-answering.
    """
    if getattr(config_class, "model_type", None) != model_type:
        raise ValueError(
            f"{config_class.__name__}.model_type is {getattr(config_class, 'model_type', None)!r}, "
            f"not {model_type!r}; set the class attribute model_type = {model_type!r}."
        )
    if not exist_ok and (model_type in CONFIG_MAPPING_NAMES or model_type in _REGISTERED_CONFIGS):
        raise ValueError(f"model_type {model_type!r} is already registered; pass exist_ok=True to replace it.")
    for task, cls in (models or {}).items():
        if task not in _REGISTERED_MODELS:
            raise ValueError(f"unknown task {task!r}; tasks are {', '.join(_REGISTERED_MODELS)}.")
        if getattr(cls, "config_class", None) is not config_class:
            raise ValueError(f"{cls.__name__}.config_class must be {config_class.__name__} to register it.")
    _REGISTERED_CONFIGS[model_type] = config_class
    for task, cls in (models or {}).items():
        _REGISTERED_MODELS[task][model_type] = cls


class AutoConfig:
    """``AutoConfig.from_pretrained(path_or_repo_id)``: the right config class for ``model_type``."""

    def __init__(self):
        raise TypeError("AutoConfig is not instantiated; use AutoConfig.from_pretrained() or AutoConfig.for_model().")

    @staticmethod
    def for_model(model_type: str, **kwargs: Any) -> PretrainedConfig:
        return config_class_for(model_type)(**kwargs)

    @staticmethod
    def from_pretrained(path_or_repo_id: str | os.PathLike, **kwargs: Any) -> PretrainedConfig:
        from .hub import cached_file

        hub_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in HUB_KWARGS}
        path = cached_file(path_or_repo_id, CONFIG_NAME, **hub_kwargs)
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
        return model_class_for(cls.task, config.model_type)

    @classmethod
    def from_config(cls, config: PretrainedConfig):
        """A freshly initialised model of the right class for ``config``."""
        return cls._class_for_config(config)(config)

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, *, config: PretrainedConfig | None = None,
                        **kwargs: Any):
        """Load the right class for the checkpoint's ``model_type`` (same arguments as
        ``PreTrainedModel.from_pretrained``)."""
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
        if not exist_ok and model_type in _REGISTERED_MODELS[cls.task]:
            raise ValueError(f"{cls.__name__} already has a {model_type!r} model; pass exist_ok=True to replace it.")
        if getattr(model_class, "config_class", None) is not config_class:
            raise ValueError(f"{model_class.__name__}.config_class must be {config_class.__name__} to register it.")
        _REGISTERED_MODELS[cls.task][model_type] = model_class


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


class AutoTokenizer:
    """``AutoTokenizer.from_pretrained(path_or_repo_id)``: hfexplain's Tokenizer over ``tokenizers``.

    Every family here uses a fast ``tokenizer.json`` (or builds one from vocab files), so
    one class serves them all.
    """

    def __init__(self):
        raise TypeError("AutoTokenizer is not instantiated; use AutoTokenizer.from_pretrained().")

    @staticmethod
    def from_pretrained(path_or_repo_id: str | os.PathLike, **kwargs: Any):
        from .tokenization import Tokenizer

        return Tokenizer.from_pretrained(path_or_repo_id, **kwargs)
