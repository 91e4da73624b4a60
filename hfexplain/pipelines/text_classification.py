"""text-classification (alias sentiment-analysis): one label for a whole text.

    "I love it" ─► [CLS] i love it [SEP] ─► model ─► logits (1, num_labels)
                ─► softmax / sigmoid / nothing ─► scores ─► best label(s) from config.id2label

Which function turns logits into scores (``function_to_apply``), as transformers decides:

* ``problem_type == "regression"``                      -> none (the logit *is* the answer)
* ``"multi_label_classification"`` or one label          -> sigmoid (each label on its own)
* ``"single_label_classification"`` or several labels    -> softmax (labels compete, scores sum to 1)

Output shapes (transformers 5):

* ``pipe("text")``                -> ``[{"label": ..., "score": ...}]``   (the best label, in a list)
* ``pipe(["a", "b"])``            -> ``[{...}, {...}]``                    (the best label per text)
* ``pipe("text", top_k=2)``       -> ``[{...}, {...}]``                    (the 2 best, best first)
* ``pipe("text", top_k=None)``    -> every label, best first
* ``pipe(["a", "b"], top_k=2)``   -> ``[[{...}, {...}], [{...}, {...}]]``
* ``pipe({"text": "a", "text_pair": "b"})`` classifies a pair and returns the dict alone.

One difference: transformers wraps the single-text result in one more list when
``top_k`` was given to ``pipeline()`` rather than to the call (a known quirk of its
``_legacy`` flag); here ``top_k`` means the same wherever it is given.
"""
from __future__ import annotations

from typing import Any

import torch

from .base import Pipeline, _check_text, _check_top_k


class _Best:
    """The default ``top_k``: only the best label, as one dict (transformers' "legacy" output)."""

    def __repr__(self) -> str:
        return "'best label only'"


BEST = _Best()
FUNCTIONS = ("softmax", "sigmoid", "none")


def default_function(config) -> str:
    """transformers' choice of function_to_apply from config.problem_type / num_labels (image
    classification shares it)."""
    if config.problem_type == "regression":
        return "none"
    if config.problem_type == "multi_label_classification" or config.num_labels == 1:
        return "sigmoid"
    return "softmax"


def apply_function(logits: torch.Tensor, function: str) -> torch.Tensor:
    """(num_labels,) logits -> scores: softmax, sigmoid or the logits themselves ("none")."""
    logits = logits.float()
    if function == "softmax":
        return torch.softmax(logits, dim=-1)
    if function == "sigmoid":
        return torch.sigmoid(logits)
    return logits


class TextClassificationPipeline(Pipeline):
    """Classify texts (or text pairs) with a sequence-classification model."""

    task = "text-classification"
    model_task = "sequence-classification"

    def _sanitize_parameters(self, function_to_apply: str | None = None, top_k: Any = BEST,
                             truncation: bool | str | None = None, max_length: int | None = None):
        preprocess_params = {}
        if truncation is not None:
            preprocess_params["truncation"] = truncation
        if max_length is not None:
            preprocess_params["max_length"] = max_length
        postprocess_params = {}
        if top_k is not BEST:
            _check_top_k(top_k, allow_none=True)
            postprocess_params["top_k"] = top_k
        if function_to_apply is not None:
            function_to_apply = getattr(function_to_apply, "value", function_to_apply)  # transformers' enum
            if str(function_to_apply).lower() not in FUNCTIONS:
                raise ValueError(
                    f"function_to_apply must be one of {', '.join(FUNCTIONS)}, got {function_to_apply!r}."
                )
            postprocess_params["function_to_apply"] = str(function_to_apply).lower()
        return preprocess_params, {}, postprocess_params

    def _check_input(self, item: Any) -> None:
        if isinstance(item, dict):
            if "text" not in item:
                raise ValueError(
                    f"a dict input needs the keys 'text' (and optionally 'text_pair'), got {sorted(item)}."
                )
            _check_text(item["text"], self.task)
            if item.get("text_pair") is not None:
                _check_text(item["text_pair"], self.task, "text_pair")
            return
        if isinstance(item, (list, tuple)):
            raise ValueError(
                "to classify a pair of texts, pass a dict {'text': ..., 'text_pair': ...} (or a list of such dicts), "
                "not a list or tuple."
            )
        _check_text(item, self.task)

    def preprocess(self, inputs, **tokenizer_kwargs) -> dict[str, Any]:
        if isinstance(inputs, dict):
            pair = inputs.get("text_pair")
            return dict(self.tokenizer(inputs["text"], pair, return_tensors="pt", **tokenizer_kwargs))
        return dict(self.tokenizer(inputs, return_tensors="pt", **tokenizer_kwargs))

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        outputs = self.model(**self._model_kwargs(model_inputs))
        return {"logits": outputs.logits}  # (b, num_labels)

    def default_function(self) -> str:
        """transformers' choice of function_to_apply from config.problem_type / num_labels."""
        return default_function(self.model.config)

    def postprocess(self, model_outputs: dict[str, Any], function_to_apply: str | None = None, top_k: Any = BEST,
                    trace: dict | None = None):
        function = function_to_apply or self.default_function()
        scores = apply_function(model_outputs["logits"][0], function)  # (num_labels,)

        if top_k is BEST:
            best = int(scores.argmax())
            result = {"label": self._label(best), "score": float(scores[best])}
            decision = f"{function} over {len(scores)} labels; the highest score wins: {result['label']}"
        else:
            ranked = sorted(range(len(scores)), key=lambda index: -float(scores[index]))
            kept = ranked if top_k is None else ranked[:top_k]
            result = [{"label": self._label(index), "score": float(scores[index])} for index in kept]
            decision = (f"{function} over {len(scores)} labels; sorted by score, kept "
                        f"{'all' if top_k is None else f'the top {top_k}'}: {[r['label'] for r in result]}")
        if trace is not None:
            trace["probabilities"] = scores
            trace["decision"] = decision
            trace["details"]["function_to_apply"] = function
            trace["details"]["labels"] = [self._label(index) for index in range(len(scores))]
        return result

    def _format_single_output(self, item: Any, output: Any, call_kwargs: dict[str, Any]) -> Any:
        # transformers returns the best label of a single *string* inside a list.
        if isinstance(item, str) and isinstance(output, dict):
            return [output]
        return output
