"""zero-shot-image-classification: pick labels for an image that no classifier was trained on, with CLIP.

CLIP embeds images and texts into one space where an image lands near its caption. Turn each
candidate label into a caption, and the nearest caption is the answer:

    "cat.png"  ─► image processor ─► pixel_values (1, 3, H, W) ─► vision tower ─► image embedding ─┐
    ["cat", "dog"] ─► "This is a photo of cat." / "... of dog." ─► tokenizer                        │ cosine
        ─► input_ids (labels, s) ─► text tower ─► one text embedding per label ────────────────────┘ × exp(scale)
        ─► logits_per_image (1, labels) ─► softmax over the labels ─► [{"score", "label"}, ...] best first

As transformers' ``ZeroShotImageClassificationPipeline``: ``candidate_labels`` (a list, or a
comma-separated string) are written into ``hypothesis_template`` (default ``"This is a photo of
{}."``; pass ``"{}"`` when the labels are captions already), the captions are tokenized together
with ``padding=True`` (``tokenizer_kwargs`` override it; padding never changes CLIP's answer: the
text tower is causal and reads each caption at its own end-of-text token), and the scores are the
softmax of ``logits_per_image`` over the labels, sorted best first (ties keep the labels' order).
Images are read as in image classification: a path or PIL image becomes RGB, an array goes as it is.

The model is any model that takes ``input_ids`` and ``pixel_values`` together and returns
``logits_per_image`` (``CLIPModel``, ``BlipModel``). It needs both a tokenizer and an image processor (a
``CLIPProcessor`` holds the two).
"""
from __future__ import annotations

from typing import Any

import torch

from .base import Pipeline, _short
from .image_classification import as_processor_input, check_image, describe_pixels

DEFAULT_TEMPLATE = "This is a photo of {}."


def _check_labels(candidate_labels: Any) -> list[str]:
    if isinstance(candidate_labels, str):
        candidate_labels = [label.strip() for label in candidate_labels.split(",") if label.strip()]
    if not isinstance(candidate_labels, (list, tuple)) or not all(isinstance(x, str) for x in candidate_labels):
        raise TypeError(
            f"candidate_labels must be a list of strings (or one comma-separated string), got "
            f"{_short(candidate_labels, 80)}."
        )
    if not candidate_labels:
        raise ValueError(
            "zero-shot image classification needs at least one candidate label: "
            "pipe(image, candidate_labels=['cat', 'dog'])."
        )
    return list(candidate_labels)


class ZeroShotImageClassificationPipeline(Pipeline):
    """Score an image against labels given at call time, with CLIP."""

    task = "zero-shot-image-classification"
    model_task = "zero-shot-image-classification"
    also_needs = ("image_processor",)  # CLIPModel's main input is input_ids: the tokenizer comes anyway

    def _check_model_and_tokenizer(self) -> None:
        if self.image_processor is None or not callable(self.image_processor):  # before the base's generic words
            raise TypeError(
                f"the {self.task} pipeline needs an image_processor as well as a tokenizer "
                "(hfexplain.AutoImageProcessor.from_pretrained(path), or processor=AutoProcessor.from_pretrained(path)); "
                f"got {type(self.image_processor).__name__}."
            )
        super()._check_model_and_tokenizer()  # the model's task, and the tokenizer (CLIP reads input_ids first)

    def _sanitize_parameters(self, candidate_labels: str | list[str] | None = None,
                             hypothesis_template: str | None = None, tokenizer_kwargs: dict | None = None):
        preprocess_params: dict[str, Any] = {}
        if candidate_labels is not None:
            preprocess_params["candidate_labels"] = _check_labels(candidate_labels)
        if hypothesis_template is not None:
            if not isinstance(hypothesis_template, str) or "{}" not in hypothesis_template:
                raise ValueError(
                    f"hypothesis_template {hypothesis_template!r} has no '{{}}' where the label goes; write it like "
                    "'This is a photo of {}.' (or '{}' when the labels are captions already)."
                )
            preprocess_params["hypothesis_template"] = hypothesis_template
        if tokenizer_kwargs is not None:
            preprocess_params["tokenizer_kwargs"] = dict(tokenizer_kwargs)
        return preprocess_params, {}, {}

    def __call__(self, image, *args: Any, **kwargs: Any):
        """``pipe(image, candidate_labels=[...])``; the labels may also come second: ``pipe(image, [...])``."""
        kwargs = self._labels_argument(args, kwargs)
        return super().__call__(image, **kwargs)

    def inspect(self, image, *args: Any, cache=None, **kwargs: Any):
        kwargs = self._labels_argument(args, kwargs)
        return super().inspect(image, cache=cache, **kwargs)

    def _labels_argument(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The labels given second, and the clear error for none at all, before any image is read."""
        if len(args) == 1 and "candidate_labels" not in kwargs:
            kwargs = {**kwargs, "candidate_labels": args[0]}
        elif args:
            raise TypeError(f"unexpected extra arguments {_short(args, 80)}; pass candidate_labels=[...] by name.")
        if kwargs.get("candidate_labels") is None and "candidate_labels" not in self._preprocess_params:
            raise ValueError(
                "zero-shot image classification needs candidate labels: pipe(image, candidate_labels=['cat', 'dog'])."
            )
        return kwargs

    def _check_input(self, item: Any) -> None:
        check_image(item, self.task)

    def preprocess(self, image, candidate_labels: list[str] | None = None, hypothesis_template: str = DEFAULT_TEMPLATE,
                   tokenizer_kwargs: dict | None = None) -> dict[str, Any]:
        labels = _check_labels(candidate_labels if candidate_labels is not None else [])
        inputs = dict(self.image_processor(as_processor_input(image), return_tensors="pt"))  # pixel_values (1, c, h, w)
        captions = [hypothesis_template.format(label) for label in labels]
        text = self.tokenizer(captions, return_tensors="pt", **{"padding": True, **(tokenizer_kwargs or {})})
        # The captions stay one object (not tensors) so that batching images never stacks them.
        inputs["text_inputs"] = {name: text[name] for name in ("input_ids", "attention_mask") if name in text}
        inputs["candidate_labels"] = labels
        inputs["captions"] = captions
        return inputs

    def _collate(self, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[int]]:
        """Images of one size stack into (b, c, h, w); the captions stay one object per image."""
        batch = {key: [row[key] for row in rows] for key in rows[0]}
        batch["pixel_values"] = torch.cat(batch["pixel_values"], dim=0)  # (b, c, h, w)
        return batch, [0] * len(rows)

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        pixel_values = model_inputs["pixel_values"]  # (b, c, h, w)
        texts = model_inputs["text_inputs"]
        texts = texts if isinstance(texts, list) else [texts]  # one per image of the batch
        first = texts[0]
        if all(all(torch.equal(t[key], first[key]) for key in first) for t in texts):
            logits = self.model(**first, pixel_values=pixel_values).logits_per_image  # (b, labels)
        else:  # images of one batch with different labels: one forward pass each
            logits = [self.model(**t, pixel_values=pixel_values[i : i + 1]).logits_per_image[0]
                      for i, t in enumerate(texts)]
        return {"logits": logits, "candidate_labels": model_inputs["candidate_labels"]}

    def postprocess(self, model_outputs: dict[str, Any], trace: dict | None = None) -> list[dict[str, Any]]:
        labels = model_outputs["candidate_labels"]
        logits = model_outputs["logits"]
        logits = logits[0] if logits.dim() == 2 else logits  # (labels,)
        scores = logits.float().softmax(dim=-1)  # (labels,): the captions compete for the image
        order = sorted(range(len(labels)), key=lambda index: -float(scores[index]))  # stable: ties keep input order
        result = [{"score": float(scores[index]), "label": labels[index]} for index in order]
        if trace is not None:
            trace["probabilities"] = scores
            trace["details"]["logits_per_image"] = logits
            trace["details"]["candidate_labels"] = labels
            trace["decision"] = (f"softmax of logits_per_image (exp(logit_scale) x cosine) over {len(labels)} "
                                 f"captions; sorted by score: {[row['label'] for row in result]}")
        return result

    def _inspection_details(self, rows: list[dict[str, Any]], details: dict[str, Any]) -> None:
        row = rows[0]
        details["captions"] = row["captions"]
        details["caption_tokens"] = [self.tokenizer.convert_ids_to_tokens(ids.tolist())
                                     for ids in row["text_inputs"]["input_ids"]]  # (labels, s), padded
        shape = tuple(row["text_inputs"]["input_ids"].shape)
        captions = "".join(f"\n          caption {index}: {_short(tokens, 140)}"
                           for index, tokens in enumerate(details["caption_tokens"]))
        details["pixels"] = [describe_pixels(self.model, row["pixel_values"])
                             + f"\n          input_ids {shape}: one caption per candidate label" + captions]
