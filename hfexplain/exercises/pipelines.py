"""Checker for lesson 09's exercise: the postprocess stage of text-classification.

The learner writes ``postprocess(logits, config, top_k=1)``: one text's logits
``(num_labels,)`` and the model's config -> ``[{"label": ..., "score": ...}, ...]``, the
``top_k`` best labels, best first (``top_k=None``: all of them). The reference is
hfexplain's own :meth:`TextClassificationPipeline.postprocess`, run on the same logits and
config; the checker then says what differs in words: a sigmoid where a softmax belongs
(or the reverse), scores left unsorted, labels named by their index instead of
``config.id2label``, ``top_k`` ignored ...
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch

from ..configuration import PretrainedConfig
from . import CheckResult

EXERCISE = "text-classification postprocess"


def _reference(logits: torch.Tensor, config: PretrainedConfig, top_k: int | None) -> list[dict[str, Any]]:
    """hfexplain's pipeline postprocess, without a model or tokenizer around it."""
    from ..pipelines.text_classification import TextClassificationPipeline

    pipe = TextClassificationPipeline.__new__(TextClassificationPipeline)  # only the postprocess stage is used
    pipe.model = _ConfigOnly(config)
    return pipe.postprocess({"logits": logits[None]}, top_k=top_k)  # logits (1, num_labels)


class _ConfigOnly(torch.nn.Module):
    """Stands in for the model: postprocess reads nothing but ``model.config``."""

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        self.config = config


def _cases() -> list[tuple[str, torch.Tensor, PretrainedConfig, int | None]]:
    sentiment = {0: "NEGATIVE", 1: "NEUTRAL", 2: "POSITIVE"}
    topics = {0: "sports", 1: "politics", 2: "music", 3: "science"}
    return [
        ("3 labels, best only", torch.tensor([0.3, -1.2, 2.1]), PretrainedConfig(id2label=sentiment), 1),
        ("3 labels, top_k=None", torch.tensor([1.5, 0.2, -0.7]), PretrainedConfig(id2label=sentiment), None),
        ("multi-label, top_k=2", torch.tensor([-2.0, 0.5, 1.0, 3.0]),
         PretrainedConfig(id2label=topics, problem_type="multi_label_classification"), 2),
        ("one label", torch.tensor([-0.8]), PretrainedConfig(id2label={0: "toxic"}), 1),
    ]


def _describe(config: PretrainedConfig) -> str:
    return f"num_labels={config.num_labels}, problem_type={config.problem_type!r}"


def _diagnose(got: Any, expected: list[dict[str, Any]], logits: torch.Tensor, config: PretrainedConfig,
              top_k: int | None, case: str) -> list[str]:
    """Why ``got`` differs from ``expected`` (empty when it agrees)."""
    where = f"[{case}]"
    if got is None:
        return [f"{where} postprocess returned None: did you forget `return`?"]
    if isinstance(got, dict):
        return [f"{where} return a list of dicts (even for one label: [{{'label': ..., 'score': ...}}]), not a dict."]
    if not isinstance(got, list) or not all(isinstance(item, dict) for item in got):
        return [f"{where} return a list of dicts {{'label': ..., 'score': ...}}, got {type(got).__name__}."]
    for item in got:
        if set(item) != {"label", "score"}:
            return [f"{where} each answer must have exactly the keys 'label' and 'score', got {sorted(item)}."]
    if len(got) != len(expected):
        wanted = "every label" if top_k is None else f"the {top_k} best"
        return [f"{where} {len(got)} answers for top_k={top_k}, expected {len(expected)} ({wanted})."]
    for item in got:
        if isinstance(item["score"], torch.Tensor):
            return [f"{where} scores must be Python floats: use float(tensor) or .item()."]
        if not isinstance(item["score"], float):
            return [f"{where} scores must be Python floats, got {type(item['score']).__name__}."]

    labels = [item["label"] for item in got]
    names = set(config.id2label.values())
    if not all(label in names for label in labels):
        index_like = all(isinstance(label, int) or str(label).replace("LABEL_", "").isdigit() for label in labels)
        if index_like:
            return [f"{where} labels {labels} are class indices: name them with config.id2label[index] "
                    f"(this model's labels: {sorted(names)})."]
        return [f"{where} labels {labels} are not among config.id2label's names {sorted(names)}."]

    # Which function produced the scores? Compare each label's score with every candidate.
    label_index = {name: index for index, name in config.id2label.items()}
    candidates = {"softmax": torch.softmax(logits, -1), "sigmoid": torch.sigmoid(logits), "none": logits}
    function_used = None
    for name, scores in candidates.items():
        if all(math.isclose(item["score"], float(scores[label_index[item["label"]]]), abs_tol=1e-5) for item in got):
            function_used = name
            break
    function_wanted = _reference_function(config)
    if function_used != function_wanted:
        why = {
            "softmax": "several labels of a single-label problem compete, so softmax (scores sum to 1)",
            "sigmoid": ("a multi_label_classification problem scores each label on its own"
                        if config.problem_type == "multi_label_classification"
                        else "a single label scores yes/no on its own"),
            "none": "a regression model's logit is the answer",
        }[function_wanted]
        used = f"{function_used}" if function_used else "neither softmax, sigmoid nor the raw logits"
        return [f"{where} {_describe(config)}: the scores look like {used}, but {why}: use {function_wanted}."]

    scores = [item["score"] for item in got]
    if scores != sorted(scores, reverse=True):
        return [f"{where} answers are not sorted best first: scores {[round(s, 4) for s in scores]}."]
    if labels != [item["label"] for item in expected]:
        return [f"{where} labels {labels}, expected {[item['label'] for item in expected]}: "
                "keep the labels with the highest scores."]
    return []


def _reference_function(config: PretrainedConfig) -> str:
    if config.problem_type == "regression":
        return "none"
    if config.problem_type == "multi_label_classification" or config.num_labels == 1:
        return "sigmoid"
    return "softmax"


def check_text_classification_postprocess(postprocess: Callable) -> CheckResult:
    """Check ``postprocess(logits, config, top_k=1) -> [{"label", "score"}, ...]``.

    Runs it on several logits/configs (softmax over 3 labels, ``top_k=None``, a
    multi-label problem, a single label) and compares with hfexplain's
    ``TextClassificationPipeline.postprocess``.
    """
    messages: list[str] = []
    for case, logits, config, top_k in _cases():
        expected = _reference(logits, config, top_k)
        try:
            got = postprocess(logits.clone(), config, top_k=top_k)
        except Exception as error:  # a wrong answer must not stop the notebook
            messages.append(f"[{case}] postprocess raised {type(error).__name__}: {error}")
            continue
        messages.extend(_diagnose(got, expected, logits, config, top_k, case))
    if not messages:
        return CheckResult(EXERCISE, True, ["softmax/sigmoid by problem_type and num_labels, id2label names, "
                                            "best first, top_k: the same answers as hfexplain's pipeline."])
    return CheckResult(EXERCISE, False, messages)


__all__ = ["check_text_classification_postprocess"]
