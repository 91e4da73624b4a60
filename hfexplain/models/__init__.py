"""One file per family (its config, its module tree, its task heads), declared here once.

This module is the registry's source of truth, and it holds names only (no torch import):

* ``TASKS``: task key -> the Auto class that loads a model for it (``"causal-lm"`` ->
  ``"AutoModelForCausalLM"``). A task no family serves would still have its Auto class, which
  says so when used (every task has a family now; ``object-detection`` was the last, YOLOS).
* ``FAMILIES``: ``model_type`` (as in ``config.json``) -> :class:`Family`, which names the
  family's module under ``hfexplain.models``, its config class, its model class per task,
  its preprocessing classes and the stacks its hook points live in.

Everything else reads these two tables: ``hfexplain.auto`` (``CONFIG_MAPPING_NAMES``,
``MODEL_MAPPING_NAMES`` and the ``AutoModelFor*`` classes), the lazy exports of
``hfexplain/__init__.py`` (``hfexplain.LlamaForQuestionAnswering``) and the pipelines' task
table. A new family writes ``models/<name>.py`` and one entry here::

    "t5": Family(
        module="t5", config="T5Config", pretrained_model="T5PreTrainedModel",
        models={"base": "T5Model", "seq2seq-lm": "T5ForConditionalGeneration"},
        tokenizer="Tokenizer", hook_stacks=("encoder", "decoder"),
    ),
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# task key -> Auto class name (in hfexplain.auto). The keys are hfexplain's; the class names transformers'.
TASKS: dict[str, str] = {
    "base": "AutoModel",
    "causal-lm": "AutoModelForCausalLM",
    "masked-lm": "AutoModelForMaskedLM",
    "sequence-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "question-answering": "AutoModelForQuestionAnswering",
    "seq2seq-lm": "AutoModelForSeq2SeqLM",
    "speech-seq2seq": "AutoModelForSpeechSeq2Seq",
    "image-classification": "AutoModelForImageClassification",
    "ctc": "AutoModelForCTC",
    "audio-classification": "AutoModelForAudioClassification",  # one label per clip (Wav2Vec2)
    # an image against candidate captions (CLIP): a model that embeds both, not a head
    "zero-shot-image-classification": "AutoModelForZeroShotImageClassification",
    "object-detection": "AutoModelForObjectDetection",  # boxes and their classes (YOLOS)
    # text written about an image (BLIP's captions); transformers 5 names the Auto class image-text-to-text
    "image-to-text": "AutoModelForImageTextToText",
    "visual-question-answering": "AutoModelForVisualQuestionAnswering",  # an answer to a question about an image
}


class Family:
    """One model family, by name: every class is a string, imported only when first used.

    Attributes:
        module: the family's module under ``hfexplain.models`` (``"gpt2"`` -> ``hfexplain.models.gpt2``).
        config: its ``PretrainedConfig`` subclass (``"GPT2Config"``).
        pretrained_model: its ``PreTrainedModel`` subclass, the base of its model classes.
        models: task key (of ``TASKS``) -> model class name.
        tokenizer: the class in ``hfexplain.tokenization`` that reads its tokenizer files, or None.
        image_processor, feature_extractor, processor: the same for non-text inputs
            (class names in ``hfexplain.processing``), None where the family has none.
        hook_stacks: the stacks its hook points live in: ``(None,)`` for one stack,
            ``("encoder", "decoder")`` or ``("text", "vision")`` for several.
        variants: task key -> other classes that serve that task, picked when a checkpoint's
            ``config.architectures`` names one (transformers lists them in a tuple after the
            default, as DeiT's distilled classifier); ``models[task]`` stays the default.

    A frozen record (setting an attribute raises, ``models`` is a read-only view). It is written
    out rather than a ``@dataclass(frozen=True)`` because ``dataclasses`` imports ``inspect``,
    which would make ``import hfexplain`` about 7x slower.
    """

    __slots__ = ("module", "config", "pretrained_model", "models", "tokenizer", "image_processor",
                 "feature_extractor", "processor", "hook_stacks", "variants")

    def __init__(
        self,
        module: str,
        config: str,
        pretrained_model: str,
        models: Mapping[str, str] | None = None,
        tokenizer: str | None = "Tokenizer",
        image_processor: str | None = None,
        feature_extractor: str | None = None,
        processor: str | None = None,
        hook_stacks: tuple[str | None, ...] = (None,),
        variants: Mapping[str, tuple[str, ...]] | None = None,
    ):
        models = dict(models or {})
        variants = {task: tuple(names) for task, names in (variants or {}).items()}
        unknown = sorted(set(models) - set(TASKS))
        if unknown:
            raise ValueError(f"Family {module!r} names unknown task(s) {unknown}; tasks are {', '.join(TASKS)}.")
        if set(variants) - set(models):
            raise ValueError(f"Family {module!r} has variants for {sorted(set(variants) - set(models))}, a task "
                             "with no model in `models`; declare the default class there first.")
        values = dict(module=module, config=config, pretrained_model=pretrained_model,
                      models=MappingProxyType(models), tokenizer=tokenizer, image_processor=image_processor,
                      feature_extractor=feature_extractor, processor=processor, hook_stacks=tuple(hook_stacks),
                      variants=MappingProxyType(variants))
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"a Family is frozen; declare a new one instead of setting {name!r}.")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Family):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # models is a mapping: a Family is compared, not hashed

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__
                           if name not in ("models", "variants"))
        return f"Family({fields}, models={dict(self.models)!r}, variants={dict(self.variants)!r})"

    def class_names(self) -> list[str]:
        """Every class of the family's module this entry names: config, base class, models, and its
        image processor / feature extractor / processor (they live in the family's module too)."""
        preprocessors = [name for name in (self.image_processor, self.feature_extractor, self.processor) if name]
        variants = [name for names in self.variants.values() for name in names]
        names = [self.config, self.pretrained_model, *self.models.values(), *variants, *preprocessors]
        return list(dict.fromkeys(names))  # in order, each once


FAMILIES: dict[str, Family] = {
    "gpt2": Family(
        module="gpt2",
        config="GPT2Config",
        pretrained_model="GPT2PreTrainedModel",
        models={
            "base": "GPT2Model",
            "causal-lm": "GPT2LMHeadModel",
            "sequence-classification": "GPT2ForSequenceClassification",
        },
    ),
    "bert": Family(
        module="bert",
        config="BertConfig",
        pretrained_model="BertPreTrainedModel",
        models={
            "base": "BertModel",
            "masked-lm": "BertForMaskedLM",
            "sequence-classification": "BertForSequenceClassification",
            "token-classification": "BertForTokenClassification",
            "question-answering": "BertForQuestionAnswering",
        },
    ),
    "llama": Family(
        module="llama",
        config="LlamaConfig",
        pretrained_model="LlamaPreTrainedModel",
        models={
            "base": "LlamaModel",
            "causal-lm": "LlamaForCausalLM",
            "sequence-classification": "LlamaForSequenceClassification",
            "token-classification": "LlamaForTokenClassification",
            "question-answering": "LlamaForQuestionAnswering",
        },
    ),
    "gpt_neo": Family(
        module="gpt_neo",
        config="GPTNeoConfig",
        pretrained_model="GPTNeoPreTrainedModel",
        models={
            "base": "GPTNeoModel",
            "causal-lm": "GPTNeoForCausalLM",
            "sequence-classification": "GPTNeoForSequenceClassification",
        },
    ),
    "gptj": Family(
        module="gptj",
        config="GPTJConfig",
        pretrained_model="GPTJPreTrainedModel",
        models={
            "base": "GPTJModel",
            "causal-lm": "GPTJForCausalLM",
            "sequence-classification": "GPTJForSequenceClassification",
            "question-answering": "GPTJForQuestionAnswering",
        },
    ),
    "roberta": Family(
        module="roberta",
        config="RobertaConfig",
        pretrained_model="RobertaPreTrainedModel",
        models={
            "base": "RobertaModel",
            "masked-lm": "RobertaForMaskedLM",
            "sequence-classification": "RobertaForSequenceClassification",
            "token-classification": "RobertaForTokenClassification",
            "question-answering": "RobertaForQuestionAnswering",
        },
    ),
    "distilbert": Family(
        module="distilbert",
        config="DistilBertConfig",
        pretrained_model="DistilBertPreTrainedModel",
        models={
            "base": "DistilBertModel",
            "masked-lm": "DistilBertForMaskedLM",
            "sequence-classification": "DistilBertForSequenceClassification",
            "token-classification": "DistilBertForTokenClassification",
            "question-answering": "DistilBertForQuestionAnswering",
        },
    ),
    "albert": Family(
        module="albert",
        config="AlbertConfig",
        pretrained_model="AlbertPreTrainedModel",
        models={
            "base": "AlbertModel",
            "masked-lm": "AlbertForMaskedLM",
            "sequence-classification": "AlbertForSequenceClassification",
            "token-classification": "AlbertForTokenClassification",
            "question-answering": "AlbertForQuestionAnswering",
        },
    ),
    "bart": Family(
        module="bart",
        config="BartConfig",
        pretrained_model="BartPreTrainedModel",
        models={
            "base": "BartModel",
            "seq2seq-lm": "BartForConditionalGeneration",
            "sequence-classification": "BartForSequenceClassification",
        },
        hook_stacks=("encoder", "decoder"),
    ),
    "marian": Family(
        module="marian",
        config="MarianConfig",
        pretrained_model="MarianPreTrainedModel",
        models={"base": "MarianModel", "seq2seq-lm": "MarianMTModel"},
        hook_stacks=("encoder", "decoder"),
    ),
    "t5": Family(
        module="t5",
        config="T5Config",
        pretrained_model="T5PreTrainedModel",
        models={"base": "T5Model", "seq2seq-lm": "T5ForConditionalGeneration"},
        hook_stacks=("encoder", "decoder"),
    ),
    "wav2vec2": Family(
        module="wav2vec2",
        config="Wav2Vec2Config",
        pretrained_model="Wav2Vec2PreTrainedModel",
        models={
            "base": "Wav2Vec2Model",
            "ctc": "Wav2Vec2ForCTC",
            # transformers files it under audio classification, not (text) sequence classification
            "audio-classification": "Wav2Vec2ForSequenceClassification",
        },
        tokenizer="Wav2Vec2CTCTokenizer",
        feature_extractor="Wav2Vec2FeatureExtractor",
        processor="Wav2Vec2Processor",
    ),
    "whisper": Family(
        module="whisper",
        config="WhisperConfig",
        pretrained_model="WhisperPreTrainedModel",
        models={"base": "WhisperModel", "speech-seq2seq": "WhisperForConditionalGeneration"},
        tokenizer="WhisperTokenizer",
        feature_extractor="WhisperFeatureExtractor",
        processor="WhisperProcessor",
        hook_stacks=("encoder", "decoder"),
    ),
    "vit": Family(
        module="vit",
        config="ViTConfig",
        pretrained_model="ViTPreTrainedModel",
        models={"base": "ViTModel", "image-classification": "ViTForImageClassification"},
        tokenizer=None,
        image_processor="ViTImageProcessor",
    ),
    "deit": Family(
        module="deit",
        config="DeiTConfig",
        pretrained_model="DeiTPreTrainedModel",
        models={"base": "DeiTModel", "image-classification": "DeiTForImageClassification"},
        variants={"image-classification": ("DeiTForImageClassificationWithTeacher",)},  # distilled checkpoints
        tokenizer=None,
        image_processor="DeiTImageProcessor",
    ),
    "clip": Family(
        module="clip",
        config="CLIPConfig",
        pretrained_model="CLIPPreTrainedModel",
        models={"base": "CLIPModel", "zero-shot-image-classification": "CLIPModel",
                "image-classification": "CLIPForImageClassification"},
        tokenizer="CLIPTokenizer",
        image_processor="CLIPImageProcessor",
        processor="CLIPProcessor",
        hook_stacks=("text", "vision"),
    ),
    # CLIP's towers alone (a folder saved from CLIPTextModel / CLIPVisionModel): each is its own base class.
    "clip_text_model": Family(
        module="clip",
        config="CLIPTextConfig",
        pretrained_model="CLIPTextModel",
        models={"base": "CLIPTextModel"},
        tokenizer="CLIPTokenizer",
        hook_stacks=("text",),
    ),
    "clip_vision_model": Family(
        module="clip",
        config="CLIPVisionConfig",
        pretrained_model="CLIPVisionModel",
        models={"base": "CLIPVisionModel"},
        tokenizer=None,
        image_processor="CLIPImageProcessor",
        hook_stacks=("vision",),
    ),
    "dinov2": Family(
        module="dinov2",
        config="Dinov2Config",
        pretrained_model="Dinov2PreTrainedModel",
        models={"base": "Dinov2Model", "image-classification": "Dinov2ForImageClassification"},
        tokenizer=None,
        image_processor="BitImageProcessor",
    ),
    "yolos": Family(
        module="yolos",
        config="YolosConfig",
        pretrained_model="YolosPreTrainedModel",
        models={"base": "YolosModel", "object-detection": "YolosForObjectDetection"},
        tokenizer=None,
        image_processor="YolosImageProcessor",
    ),
    "blip": Family(
        module="blip",
        config="BlipConfig",
        pretrained_model="BlipPreTrainedModel",
        models={"base": "BlipModel", "image-to-text": "BlipForConditionalGeneration",
                "visual-question-answering": "BlipForQuestionAnswering",
                "zero-shot-image-classification": "BlipModel"},
        image_processor="BlipImageProcessor",
        processor="BlipProcessor",
        hook_stacks=("text", "vision", "decoder"),  # "decoder": the VQA model's answer writer
    ),
}


def family_exports() -> dict[str, str]:
    """Public class name -> module under ``hfexplain`` (``"GPT2Config"`` -> ``"models.gpt2"``), read
    from ``FAMILIES`` now (so a family added at run time is exported too)."""
    exports: dict[str, str] = {}
    for family in FAMILIES.values():
        for name in family.class_names():
            exports[name] = f"models.{family.module}"
    return exports


__all__ = ["TASKS", "Family", "FAMILIES", "family_exports"]
