"""Pipelines: text in, answer out, every stage on view.

    pipe = hfexplain.pipeline("sentiment-analysis", model="path/or/repo-id")
    pipe("I love this movie")                    # [{'label': 'POSITIVE', 'score': 0.99}]
    print(pipe.inspect("I love this movie"))     # tokens, ids, logits, probabilities, the decision

:func:`pipeline` picks the task's class and loads what is missing: a folder or a Hub
repo id becomes a model of the right ``AutoModelFor*`` class plus its ``AutoTokenizer`` (or, for
a model whose ``main_input_name`` is not ``input_ids``, its image processor / feature extractor).
Each pipeline runs three stages with transformers' names (see ``base.py``):
``preprocess`` (text -> tensors), ``_forward`` (the model) and ``postprocess`` (numbers
-> answer).

Tasks (transformers' names; aliases in brackets). ``PIPELINE_TASKS`` declares them once,
each with the model task (a key of ``hfexplain.models.TASKS``) its model needs; the Auto
class column below (and ``SUPPORTED_TASKS``) is read from ``TASKS``:

=========================  ====================================  ==========================================
task                       model it needs                        answer
=========================  ====================================  ==========================================
text-classification        AutoModelForSequenceClassification    ``[{"label", "score"}]``
  [sentiment-analysis]
token-classification       AutoModelForTokenClassification       ``[{"entity", "score", "index", "word",
  [ner]                                                           "start", "end"}]`` or entity groups
question-answering         AutoModelForQuestionAnswering         ``{"score", "start", "end", "answer"}``
fill-mask                  AutoModelForMaskedLM                  ``[{"score", "token", "token_str", "sequence"}]``
text-generation            AutoModelForCausalLM                  ``[{"generated_text"}]``
feature-extraction         AutoModel (any model)                 nested lists (1, tokens, hidden)
zero-shot-classification   AutoModelForSequenceClassification    ``{"sequence", "labels", "scores"}``
                           (an NLI model)
text2text-generation       AutoModelForSeq2SeqLM                 ``[{"generated_text"}]``
summarization              AutoModelForSeq2SeqLM                 ``[{"summary_text"}]``
translation                AutoModelForSeq2SeqLM                 ``[{"translation_text"}]``
  [translation_xx_to_yy]
image-classification       AutoModelForImageClassification       ``[{"label", "score"}]`` (top 5)
image-feature-extraction   AutoModel (a vision model)            nested lists (1, positions, hidden)
object-detection           AutoModelForObjectDetection           ``[{"score", "label", "box": {"xmin",
                                                                  "ymin", "xmax", "ymax"}}]``
automatic-speech-          AutoModelForCTC or                    ``{"text"}`` (``"chunks"`` with timestamps)
  recognition              AutoModelForSpeechSeq2Seq
zero-shot-image-           AutoModelForZeroShotImage-            ``[{"score", "label"}]`` (all labels)
  classification           Classification (CLIP, BLIP)
image-to-text              AutoModelForImageTextToText (BLIP)    ``[{"generated_text"}]``
visual-question-answering  AutoModelForVisualQuestionAnswering   ``[{"answer"}]``
                           (BLIP)
=========================  ====================================  ==========================================

The three encoder-decoder tasks (``text2text_generation.py``) are transformers 4.x's (5.x
removed them): the prefix and generation defaults come from ``config.task_specific_params``,
and ``translation_en_to_fr`` (any ``translation_XX_to_YY``) names that entry of it.

``image-to-text`` and ``visual-question-answering`` are transformers 4.x's (5.x replaced the first
with ``image-text-to-text`` and dropped the second): arguments and answers as 4.x had them.

A task served by several heads names them all (``("ctc", "speech-seq2seq")`` for speech
recognition, as transformers lists ``AutoModelForCTC`` and ``AutoModelForSpeechSeq2Seq``): a
checkpoint is loaded with the first one its family has.
"""
from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..models import TASKS
from .base import Pipeline, PipelineInspection
from .feature_extraction import mean_pooling, sentence_embeddings, sentence_similarity

# pipeline task -> (module in this package, pipeline class, the model task(s) of hfexplain.models.TASKS).
# The one declaration of the pipelines; the Auto class that loads each one's model comes from TASKS.
PIPELINE_TASKS: dict[str, tuple[str, str, str | tuple[str, ...]]] = {
    "text-classification": ("text_classification", "TextClassificationPipeline", "sequence-classification"),
    "token-classification": ("token_classification", "TokenClassificationPipeline", "token-classification"),
    "question-answering": ("question_answering", "QuestionAnsweringPipeline", "question-answering"),
    "fill-mask": ("fill_mask", "FillMaskPipeline", "masked-lm"),
    "text-generation": ("text_generation", "TextGenerationPipeline", "causal-lm"),
    "feature-extraction": ("feature_extraction", "FeatureExtractionPipeline", "base"),
    "zero-shot-classification": ("zero_shot_classification", "ZeroShotClassificationPipeline", "sequence-classification"),
    "text2text-generation": ("text2text_generation", "Text2TextGenerationPipeline", "seq2seq-lm"),
    "summarization": ("text2text_generation", "SummarizationPipeline", "seq2seq-lm"),
    "translation": ("text2text_generation", "TranslationPipeline", "seq2seq-lm"),
    "image-classification": ("image_classification", "ImageClassificationPipeline", "image-classification"),
    "image-feature-extraction": ("image_feature_extraction", "ImageFeatureExtractionPipeline", "base"),
    "object-detection": ("object_detection", "ObjectDetectionPipeline", "object-detection"),
    "automatic-speech-recognition": ("automatic_speech_recognition", "AutomaticSpeechRecognitionPipeline",
                                     ("ctc", "speech-seq2seq")),
    "zero-shot-image-classification": ("zero_shot_image_classification", "ZeroShotImageClassificationPipeline",
                                       "zero-shot-image-classification"),
    "image-to-text": ("image_to_text", "ImageToTextPipeline", "image-to-text"),
    "visual-question-answering": ("visual_question_answering", "VisualQuestionAnsweringPipeline",
                                  "visual-question-answering"),
}


class _SupportedTasks(Mapping):
    """``task -> (module, pipeline class, Auto class name)``: ``PIPELINE_TASKS`` with the Auto class
    read from ``hfexplain.models.TASKS`` (the shape this table always had; a tuple of names for a
    task several heads serve)."""

    def __getitem__(self, task: str) -> tuple[str, str, str | tuple[str, ...]]:
        module_name, class_name, model_task = PIPELINE_TASKS[task]
        if isinstance(model_task, tuple):
            return (module_name, class_name, tuple(TASKS[name] for name in model_task))
        return (module_name, class_name, TASKS[model_task])

    def __iter__(self) -> Iterator[str]:
        return iter(PIPELINE_TASKS)

    def __len__(self) -> int:
        return len(PIPELINE_TASKS)

    def __repr__(self) -> str:
        return repr(dict(self))


# task -> (module in this package, pipeline class, Auto class that loads its model)
SUPPORTED_TASKS: Mapping[str, tuple[str, str, str]] = _SupportedTasks()
TASK_ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}

# The end of a model class name -> the task its head serves (to guess a missing task).
_HEAD_SUFFIXES = (
    ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "token-classification"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForImageClassification", "image-classification"),
    ("ForImageClassificationWithTeacher", "image-classification"),
    ("ForObjectDetection", "object-detection"),
    ("ForCTC", "automatic-speech-recognition"),
    ("ForMaskedLM", "fill-mask"),
    ("ForCausalLM", "text-generation"),
    ("LMHeadModel", "text-generation"),
    ("ForConditionalGeneration", "text2text-generation"),
    ("MTModel", "translation"),
    ("Model", "feature-extraction"),
)


def supported_tasks() -> list[str]:
    """The task names :func:`pipeline` accepts (aliases included)."""
    return sorted(SUPPORTED_TASKS) + sorted(TASK_ALIASES)


def _table_task(task: str) -> str:
    """The ``PIPELINE_TASKS`` entry of a task name: ``translation_XX_to_YY`` -> ``translation``."""
    return "translation" if re.match(r"^translation_[^_]+_to_[^_]+$", task) else task


def check_task(task: str) -> str:
    """The canonical name of ``task`` (resolving aliases; ``translation_XX_to_YY`` stays as
    it is); KeyError listing the supported ones."""
    task = TASK_ALIASES.get(task, task)
    if _table_task(task) not in SUPPORTED_TASKS:
        aliases = ", ".join(f"{alias} -> {name}" for alias, name in TASK_ALIASES.items())
        raise KeyError(
            f"Unknown task {task!r}; hfexplain's pipelines support {', '.join(sorted(SUPPORTED_TASKS))} "
            f"(aliases: {aliases}; translation_XX_to_YY for translation)."
        )
    return task


def pipeline_class(task: str) -> type[Pipeline]:
    module_name, class_name, _ = SUPPORTED_TASKS[_table_task(check_task(task))]
    return getattr(importlib.import_module(f"{__name__}.{module_name}"), class_name)


def pipeline(
    task: str | None = None,
    model: Any = None,
    tokenizer: Any = None,
    *,
    image_processor: Any = None,
    feature_extractor: Any = None,
    processor: Any = None,
    device: Any = None,
    batch_size: int | None = None,
    model_kwargs: dict[str, Any] | None = None,
    revision: str | None = None,
    token: str | bool | None = None,
    **kwargs: Any,
) -> Pipeline:
    """Build a pipeline for ``task``, as ``transformers.pipeline`` does.

    Args:
        task: one of :func:`supported_tasks` (``"sentiment-analysis"`` is
            ``"text-classification"``, ``"ner"`` is ``"token-classification"``). ``None``
            guesses it from the model's class (``BertForTokenClassification`` -> ner).
        model: a loaded hfexplain model with the task's head, or a folder / Hub repo id,
            which is then loaded with the task's ``AutoModelFor*`` class (offline, the repo
            must be in the Hugging Face cache). Required: hfexplain downloads no default model.
        tokenizer: a :class:`~hfexplain.tokenization.Tokenizer`, or a folder / repo id; by
            default the one stored with the model.
        image_processor, feature_extractor, processor: the same for models that do not read
            text (transformers' argument names). Which one is loaded by default follows from the
            model's ``main_input_name``: ``input_ids`` -> tokenizer, ``pixel_values`` -> image
            processor, ``input_features`` / ``input_values`` -> feature extractor; a
            ``processor`` (object, folder or repo id) supplies the pieces not given.
        device: ``-1``/``"cpu"``, a GPU index or ``"cuda:0"``, or a ``torch.device``.
        batch_size: model rows per forward pass (inputs are padded to a common length).
        model_kwargs: extra arguments for ``from_pretrained`` (e.g. ``{"dtype": "float32"}``); the
            Hub ones (``cache_dir``, ``local_files_only``, ``subfolder``) also apply to the tokenizer.
        revision, token: passed to the Hub when loading.
        **kwargs: task options used by every call (``top_k=3``, ``aggregation_strategy="simple"``,
            ``max_new_tokens=20`` ...).

    Raises:
        KeyError: unknown task (the message lists the supported ones).
        ValueError: no model, or a model without the head the task needs.
    """
    if model is None:
        raise ValueError(
            f"pipeline({task!r}) needs model=: a loaded model, a folder written by save_pretrained, or a Hub repo id "
            "(hfexplain does not download default models). For example: pipeline('sentiment-analysis', "
            "model='distilbert/distilbert-base-uncased-finetuned-sst-2-english')."
        )
    from ..configuration import HUB_KWARGS

    hub_kwargs = {key: value for key, value in (("revision", revision), ("token", token)) if value is not None}
    # Where files come from (cache_dir, local_files_only ...) applies to the tokenizer too, as in transformers.
    tokenizer_kwargs = {**{k: v for k, v in (model_kwargs or {}).items() if k in HUB_KWARGS}, **hub_kwargs}
    if task is None:
        task = _infer_task(model, **tokenizer_kwargs)
    task = check_task(task)
    if _table_task(task) != task:  # translation_en_to_fr: the pipeline reads that task's config entry
        kwargs["task"] = task

    newly_initialized = None
    if isinstance(model, (str, os.PathLike)):
        from .. import auto

        path = model
        auto_name = _auto_class_name(task, path, tokenizer_kwargs)
        try:
            model, report = getattr(auto, auto_name).from_pretrained(
                path, output_loading_info=True, **hub_kwargs, **(model_kwargs or {})
            )
        except ValueError as error:
            if "has no" not in str(error) or "model in hfexplain" not in str(error):
                raise
            raise ValueError(
                f"the {task} pipeline loads its model with {auto_name}, and {error} Pick a checkpoint of a family "
                "that has that head."
            ) from error
        newly_initialized = report["newly_initialized"]
        source = path
    elif model_kwargs:
        raise ValueError(
            "model_kwargs apply only when the pipeline loads the model (model given as a path or repo id)."
        )
    else:
        source = None

    pieces = _load_preprocessors(
        model, source, tokenizer=tokenizer, image_processor=image_processor, feature_extractor=feature_extractor,
        processor=processor, hub_kwargs=tokenizer_kwargs, also=pipeline_class(task).also_needs,
    )
    return pipeline_class(task)(
        model, device=device, batch_size=batch_size, newly_initialized=newly_initialized, **pieces, **kwargs
    )


def _auto_class_name(task: str, path: Any, hub_kwargs: dict[str, Any]) -> str:
    """The Auto class that loads ``task``'s model from ``path``: the task's one, or, for a task several
    heads serve, the first of them that the checkpoint's family has (read from its config.json)."""
    _, _, model_tasks = PIPELINE_TASKS[_table_task(task)]
    if isinstance(model_tasks, str):
        return TASKS[model_tasks]
    from ..auto import AutoConfig
    from ..models import FAMILIES

    family = FAMILIES.get(AutoConfig.from_pretrained(path, **hub_kwargs).model_type)
    served = [name for name in model_tasks if family is not None and name in family.models]
    return TASKS[(served or list(model_tasks))[0]]


def _load_preprocessors(model: Any, source: Any, *, hub_kwargs: dict[str, Any], also: tuple[str, ...] = (),
                        **given: Any) -> dict[str, Any]:
    """The tokenizer / image processor / feature extractor / processor the pipeline gets.

    Objects are used as given; folders and repo ids are loaded with their Auto class; a
    processor supplies the pieces not given; and the piece the model's ``main_input_name``
    needs (and the ones the task ``also`` needs: a speech recognizer decodes with a tokenizer),
    if still missing, come from where the model was loaded.
    """
    from ..auto import AutoTokenizer
    from ..processing import AutoFeatureExtractor, AutoImageProcessor, AutoProcessor, ProcessorMixin
    from .base import preprocessor_kind

    processor = given.pop("processor")
    if isinstance(processor, (str, os.PathLike)):
        processor = AutoProcessor.from_pretrained(processor, **hub_kwargs)
    if processor is not None and not isinstance(processor, ProcessorMixin):
        # AutoProcessor gives a text-only model its tokenizer (an image-only one its image processor ...).
        kind = _kind_of(processor)
        if given[kind] is None:
            given[kind] = processor
        processor = None
    for name in ("tokenizer", "image_processor", "feature_extractor"):
        if given[name] is None and processor is not None:
            given[name] = getattr(processor, name, None)
    for needed in dict.fromkeys((preprocessor_kind(model), *also)):
        if given[needed] is None:
            given[needed] = source if source is not None else _stored_tokenizer_path(model, needed)
    loaders = {
        "tokenizer": AutoTokenizer,
        "image_processor": AutoImageProcessor,
        "feature_extractor": AutoFeatureExtractor,
    }
    for name, value in given.items():
        if isinstance(value, (str, os.PathLike)):
            given[name] = loaders[name].from_pretrained(value, **hub_kwargs)
    return {**given, "processor": processor}


def _kind_of(preprocessor: Any) -> str:
    from ..processing import FeatureExtractionMixin, ImageProcessingMixin

    if isinstance(preprocessor, ImageProcessingMixin):
        return "image_processor"
    if isinstance(preprocessor, FeatureExtractionMixin):
        return "feature_extractor"
    return "tokenizer"


def _infer_task(model: Any, **hub_kwargs: Any) -> str:
    """Guess the task from the model's class name (or the checkpoint's ``architectures``)."""
    if isinstance(model, (str, os.PathLike)):
        from ..auto import AutoConfig

        config = AutoConfig.from_pretrained(model, **hub_kwargs)
        names = list(getattr(config, "architectures", None) or [])
    else:
        names = [type(model).__name__]
    reads_pixels = getattr(model, "main_input_name", None) == "pixel_values"
    from ..models import FAMILIES

    # Whisper's head is a ...ForConditionalGeneration, as BART's: the family's speech-seq2seq model says it hears.
    speech_seq2seq = {family.models.get("speech-seq2seq") for family in FAMILIES.values()} - {None}
    # BLIP's captioner is a ...ForConditionalGeneration too, and its VQA model a ...ForQuestionAnswering.
    by_family_head = {family.models[task]: task for family in FAMILIES.values()
                      for task in ("image-to-text", "visual-question-answering") if task in family.models}
    for name in names:
        if name in speech_seq2seq:
            return "automatic-speech-recognition"
        if name in by_family_head:
            return by_family_head[name]
        for suffix, task in _HEAD_SUFFIXES:
            if name.endswith(suffix):
                return "image-feature-extraction" if reads_pixels and task == "feature-extraction" else task
    raise ValueError(
        f"cannot tell the task from {names or 'the checkpoint (its config.json has no architectures)'}; pass it, "
        f"e.g. pipeline('text-classification', model=...). Tasks: {', '.join(supported_tasks())}."
    )


def _stored_tokenizer_path(model: Any, kind: str = "tokenizer") -> str:
    """The folder / repo a loaded model came from, to find its tokenizer (or image processor ...)."""
    config = getattr(model, "config", None)
    for attribute in ("name_or_path", "_name_or_path"):
        path = getattr(config, attribute, None) if config is not None else None
        if path:
            return path
    if kind == "tokenizer":
        raise ValueError(
            f"no tokenizer given, and the {type(model).__name__} object does not say where it was loaded from; "
            "pass tokenizer= (a Tokenizer, or the folder / repo id it is stored in)."
        )
    raise ValueError(
        f"no {kind} given, and the {type(model).__name__} object does not say where it was loaded from; "
        f"pass {kind}= (the object, or the folder / repo id it is stored in) or processor=."
    )


__all__ = [
    "pipeline",
    "Pipeline",
    "PipelineInspection",
    "SUPPORTED_TASKS",
    "PIPELINE_TASKS",
    "TASK_ALIASES",
    "supported_tasks",
    "check_task",
    "pipeline_class",
    "mean_pooling",
    "sentence_embeddings",
    "sentence_similarity",
]
