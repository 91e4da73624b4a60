"""zero-shot-classification: pick labels the model was never trained on, through NLI.

A natural-language-inference (NLI) model reads a *premise* and a *hypothesis* and says
whether the premise entails, is neutral to, or contradicts the hypothesis. Turn each
candidate label into a hypothesis, and entailment becomes classification:

    "The match went to extra time"  +  "This example is sports."    ─► entailment logit 3.1
                                    +  "This example is politics."  ─► entailment logit -1.2
        ─► softmax of the entailment logits over the labels
        ─► {"labels": ["sports", "politics"], "scores": [...]}

One model row per candidate label (``candidate_labels``, a list or a comma-separated
string), each built from ``hypothesis_template`` (default ``"This example is {}."``).
With ``multi_label=True`` (or a single label) every label is judged on its own: softmax of
(contradiction, entailment) logits per label, so several labels can score high.

The entailment class is the label of ``config.label2id`` whose name starts with
"entail"; the contradiction class, as transformers picks it, is class 0 (or the last class
when entailment is class 0). A model without an "entail..." label cannot do this task, so
it is refused (transformers only logs a warning and uses the last class).
"""
from __future__ import annotations

from typing import Any

import torch

from .base import Pipeline, _check_text


class ZeroShotClassificationPipeline(Pipeline):
    """Classify texts into labels given at call time, with an NLI model."""

    task = "zero-shot-classification"
    model_task = "sequence-classification"
    chunked = True  # one model row per candidate label

    def _check_model_and_tokenizer(self) -> None:
        super()._check_model_and_tokenizer()
        if self.entailment_id == -1:
            raise ValueError(
                f"zero-shot classification reads the 'entailment' logit of an NLI model, but no label of "
                f"config.label2id {dict(self.model.config.label2id)} starts with 'entail'. Use an NLI checkpoint, or "
                "name the labels: model.config.id2label = {0: 'entailment', 1: 'neutral', 2: 'contradiction'} "
                "(and label2id)."
            )

    @property
    def entailment_id(self) -> int:
        for label, index in self.model.config.label2id.items():
            if label.lower().startswith("entail"):
                return int(index)
        return -1

    @property
    def contradiction_id(self) -> int:
        # transformers' rule (it does not look at the names): class 0, or the last class if
        # entailment is class 0. With (entailment, neutral, contradiction) that is class 2.
        return self.model.config.num_labels - 1 if self.entailment_id == 0 else 0

    def _sanitize_parameters(self, candidate_labels: str | list[str] | None = None,
                             hypothesis_template: str | None = None, multi_label: bool | None = None):
        preprocess_params = {}
        if candidate_labels is not None:
            if isinstance(candidate_labels, str):
                candidate_labels = [label.strip() for label in candidate_labels.split(",") if label.strip()]
            preprocess_params["candidate_labels"] = list(candidate_labels)
        if hypothesis_template is not None:
            if hypothesis_template.format("LABEL") == hypothesis_template:
                raise ValueError(
                    f"hypothesis_template {hypothesis_template!r} has no '{{}}' where the label goes; "
                    "write it like 'This example is {}.'"
                )
            preprocess_params["hypothesis_template"] = hypothesis_template
        postprocess_params = {"multi_label": bool(multi_label)} if multi_label is not None else {}
        return preprocess_params, {}, postprocess_params

    def __call__(self, sequences: str | list[str], *args: Any, **kwargs: Any):
        """``pipe(text, candidate_labels=[...])``; the labels may also come second: ``pipe(text, [...])``."""
        if len(args) == 1 and "candidate_labels" not in kwargs:
            kwargs["candidate_labels"] = args[0]
        elif args:
            raise TypeError(f"unexpected extra arguments {args!r}; pass candidate_labels=[...] by name.")
        return super().__call__(sequences, **kwargs)

    def inspect(self, sequences: str | list[str], *args: Any, cache=None, **kwargs: Any):
        if len(args) == 1 and "candidate_labels" not in kwargs:
            kwargs["candidate_labels"] = args[0]
        return super().inspect(sequences, cache=cache, **kwargs)

    def preprocess(self, sequence: str, candidate_labels: list[str] | None = None,
                   hypothesis_template: str = "This example is {}.") -> list[dict[str, Any]]:
        if not candidate_labels:
            raise ValueError(
                "zero-shot classification needs at least one candidate label: "
                "pipe(text, candidate_labels=['sports', 'politics'])."
            )
        has_limit = self.tokenizer.model_max_length < 10**12
        rows = []
        for label in candidate_labels:
            hypothesis = hypothesis_template.format(label)
            # Truncate the premise only ("only_first"), so the hypothesis always survives.
            encoded = self.tokenizer(
                sequence, hypothesis, return_tensors="pt", truncation="only_first" if has_limit else False
            )
            rows.append({**encoded, "candidate_label": label, "sequence": sequence})
        return rows

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        logits = self.model(**self._model_kwargs(model_inputs)).logits  # (b, num_labels)
        return {"logits": logits, "candidate_label": model_inputs["candidate_label"],
                "sequence": model_inputs["sequence"]}

    def postprocess(self, model_outputs: list[dict[str, Any]], multi_label: bool = False,
                    trace: dict | None = None) -> dict[str, Any]:
        labels = [output["candidate_label"] for output in model_outputs]
        logits = torch.cat([output["logits"].float() for output in model_outputs])  # (labels, num_classes)
        if multi_label or len(labels) == 1:
            pair = logits[:, [self.contradiction_id, self.entailment_id]]  # (labels, 2)
            scores = torch.softmax(pair, dim=-1)[:, 1]  # (labels,): P(entailment) against contradiction
            how = "each label alone: softmax of (contradiction, entailment) logits"
        else:
            scores = torch.softmax(logits[:, self.entailment_id], dim=-1)  # (labels,): labels compete
            how = "softmax of the entailment logits across the labels"
        order = sorted(range(len(labels)), key=lambda index: -float(scores[index]))
        result = {
            "sequence": model_outputs[0]["sequence"],
            "labels": [labels[index] for index in order],
            "scores": [float(scores[index]) for index in order],
        }
        if trace is not None:
            trace["probabilities"] = scores
            trace["details"]["entailment_logits"] = logits[:, self.entailment_id]
            trace["details"]["candidate_labels"] = labels
            trace["decision"] = f"{how}; labels sorted by score: {result['labels']}"
        return result

    def _check_input(self, item: Any) -> None:
        _check_text(item, self.task)
