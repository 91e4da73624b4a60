"""hfexplain: the Hugging Face Transformers factory, opened up.

Readable re-implementations of the Transformers building blocks in PyTorch that keep
Hugging Face's names, load their checkpoints unchanged and expose every intermediate
tensor through named hook points. Heavy parts (model families, tokenizer, image processors
and feature extractors, generation, widgets) are imported on first use, so ``import hfexplain``
stays light.

The model families' classes (``hfexplain.GPT2Config``, ``hfexplain.LlamaForQuestionAnswering``
...) and the ``AutoModelFor*`` classes are not listed here: they are read from the family
declarations in ``hfexplain.models`` (``FAMILIES`` and ``TASKS``, names only, no torch).
"""
from __future__ import annotations

import importlib

from .models import TASKS as _TASKS
from .models import family_exports as _family_exports

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access); the families' classes and
# the Auto model classes come from hfexplain.models (see _lazy_names).
_LAZY = {
    "PretrainedConfig": "configuration",
    "PreTrainedModel": "modeling",
    "LoadingReport": "modeling",
    "HookPoint": "hooks",
    "ActivationCache": "hooks",
    "AutoConfig": "auto",
    "AutoTokenizer": "auto",
    "register": "auto",
    "Tokenizer": "tokenization",
    "PreTrainedTokenizerFast": "tokenization",
    "BertTokenizer": "tokenization",
    "BertTokenizerFast": "tokenization",
    "GPT2Tokenizer": "tokenization",
    "GPT2TokenizerFast": "tokenization",
    "LlamaTokenizer": "tokenization",
    "LlamaTokenizerFast": "tokenization",
    "BatchEncoding": "tokenization",
    "CharSpan": "tokenization",
    "TokenSpan": "tokenization",
    "BatchFeature": "processing",
    "AutoImageProcessor": "processing",
    "AutoFeatureExtractor": "processing",
    "AutoProcessor": "processing",
    "ProcessorMixin": "processing",
    "BaseImageProcessor": "processing",
    "SequenceFeatureExtractor": "processing",
    "KVCache": "layers",
    "Trainer": "training",
    "TrainingArguments": "training",
    "TrainerCallback": "training",
    "TrainerState": "training",
    "TrainerControl": "training",
    "EarlyStoppingCallback": "training",
    "DataCollatorWithPadding": "training",
    "DataCollatorForLanguageModeling": "training",
    "DataCollatorForTokenClassification": "training",
    "DataCollatorForSeq2Seq": "training",
    "default_data_collator": "training",
    "EvalPrediction": "training",
    "set_seed": "training",
    "get_last_checkpoint": "training",
    "get_scheduler": "training",
    "get_linear_schedule_with_warmup": "training",
    "get_cosine_schedule_with_warmup": "training",
    "get_cosine_with_hard_restarts_schedule_with_warmup": "training",
    "get_polynomial_decay_schedule_with_warmup": "training",
    "get_constant_schedule": "training",
    "get_constant_schedule_with_warmup": "training",
    "GenerationConfig": "generation",
    "GenerationMixin": "generation",
    "TextStreamer": "generation",
    "TextIteratorStreamer": "generation",
    "LogitsProcessorList": "generation",
    "explain_generation": "generation",
    "LogitsProcessor": "generation",
    "MinLengthLogitsProcessor": "generation",
    "MinNewTokensLengthLogitsProcessor": "generation",
    "RepetitionPenaltyLogitsProcessor": "generation",
    "NoRepeatNGramLogitsProcessor": "generation",
    "ForcedBOSTokenLogitsProcessor": "generation",
    "ForcedEOSTokenLogitsProcessor": "generation",
    "SuppressTokensLogitsProcessor": "generation",
    "SuppressTokensAtBeginLogitsProcessor": "generation",
    "TemperatureLogitsWarper": "generation",
    "TopKLogitsWarper": "generation",
    "TopPLogitsWarper": "generation",
    "MinPLogitsWarper": "generation",
    "TypicalLogitsWarper": "generation",
    "EpsilonLogitsWarper": "generation",
    "EtaLogitsWarper": "generation",
    "TopHLogitsWarper": "generation",
    "EncoderRepetitionPenaltyLogitsProcessor": "generation",
    "EncoderNoRepeatNGramLogitsProcessor": "generation",
    "SequenceBiasLogitsProcessor": "generation",
    "NoBadWordsLogitsProcessor": "generation",
    "PrefixConstrainedLogitsProcessor": "generation",
    "ExponentialDecayLengthPenalty": "generation",
    "InfNanRemoveLogitsProcessor": "generation",
    "LogitNormalization": "generation",
    "UnbatchedClassifierFreeGuidanceLogitsProcessor": "generation",
    "StoppingCriteria": "generation",
    "StoppingCriteriaList": "generation",
    "MaxLengthCriteria": "generation",
    "MaxTimeCriteria": "generation",
    "StopStringCriteria": "generation",
    "EosTokenCriteria": "generation",
    "GenerateDecoderOnlyOutput": "generation",
    "GenerateEncoderDecoderOutput": "generation",
    "GenerateBeamDecoderOnlyOutput": "generation",
    "GenerateBeamEncoderDecoderOutput": "generation",
    "pipeline": "pipelines",
    "PipelineInspection": "pipelines",
}


def _lazy_names() -> dict[str, str]:
    """Every lazy public name -> its module: ``_LAZY``, one Auto class per task, each family's classes.
    Read from ``hfexplain.models`` at each call, so a family added there is exported too."""
    return {**_family_exports(), **{name: "auto" for name in _TASKS.values()}, **_LAZY}


__all__ = sorted(_lazy_names())


# Subpackages reachable as attributes (``hfexplain.assets.tiny_gpt2_path()``), imported on first use.
_SUBMODULES = {
    "assets", "engines", "exercises", "generation", "hub", "layers", "models", "pipelines", "processing", "tokenization", "training"
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"hfexplain.{name}")
        globals()[name] = module
        return module
    module_name = _lazy_names().get(name)
    if module_name is None:
        raise AttributeError(f"module 'hfexplain' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hfexplain.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_lazy_names()))
