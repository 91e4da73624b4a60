"""hfexplain: the Hugging Face Transformers factory, opened up.

Readable re-implementations of the Transformers building blocks in PyTorch that keep
Hugging Face's names, load their checkpoints unchanged and expose every intermediate
tensor through named hook points. Heavy parts (model families, tokenizer, image processors
and feature extractors, generation, widgets) are imported on first use, so ``import hfexplain``
stays light.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access)
_LAZY = {
    "PretrainedConfig": "configuration",
    "PreTrainedModel": "modeling",
    "LoadingReport": "modeling",
    "HookPoint": "hooks",
    "ActivationCache": "hooks",
    "AutoConfig": "auto",
    "AutoTokenizer": "auto",
    "AutoModel": "auto",
    "AutoModelForCausalLM": "auto",
    "AutoModelForMaskedLM": "auto",
    "AutoModelForSequenceClassification": "auto",
    "AutoModelForTokenClassification": "auto",
    "AutoModelForQuestionAnswering": "auto",
    "register": "auto",
    "Tokenizer": "tokenization",
    "PreTrainedTokenizerFast": "tokenization",
    "BatchEncoding": "tokenization",
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
    "default_data_collator": "training",
    "EvalPrediction": "training",
    "set_seed": "training",
    "get_last_checkpoint": "training",
    "GenerationConfig": "generation",
    "GenerationMixin": "generation",
    "TextStreamer": "generation",
    "TextIteratorStreamer": "generation",
    "LogitsProcessorList": "generation",
    "explain_generation": "generation",
    "pipeline": "pipelines",
    "PipelineInspection": "pipelines",
    "GPT2Config": "models.gpt2",
    "GPT2Model": "models.gpt2",
    "GPT2LMHeadModel": "models.gpt2",
    "GPT2ForSequenceClassification": "models.gpt2",
    "BertConfig": "models.bert",
    "BertModel": "models.bert",
    "BertForMaskedLM": "models.bert",
    "BertForSequenceClassification": "models.bert",
    "BertForTokenClassification": "models.bert",
    "BertForQuestionAnswering": "models.bert",
    "BertPreTrainedModel": "models.bert",
    "GPT2PreTrainedModel": "models.gpt2",
    "LlamaConfig": "models.llama",
    "LlamaModel": "models.llama",
    "LlamaForCausalLM": "models.llama",
    "LlamaPreTrainedModel": "models.llama",
}

__all__ = sorted(_LAZY)


# Subpackages reachable as attributes (``hfexplain.assets.tiny_gpt2_path()``), imported on first use.
_SUBMODULES = {
    "assets", "exercises", "generation", "hub", "layers", "models", "pipelines", "processing", "tokenization", "training"
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"hfexplain.{name}")
        globals()[name] = module
        return module
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'hfexplain' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hfexplain.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
