"""visual-question-answering: an answer to a question about an image, written by a model that reads
both (BLIP's VQA model).

    "cat.png" ─► image processor ─► pixel_values (1, 3, H, W) ─┐
    "how many cats are there?" ─► tokenizer ─► input_ids (1, s) ┴► model.generate ─► ids (1, n, t)
        ─► decode, special tokens skipped, stripped ─► [{"answer": "two"}]

As transformers 4.x's ``VisualQuestionAnsweringPipeline`` with a model that generates its answer:

* ``pipe(image, question="...")`` gives ``[{"answer": ...}]`` (one record per returned sequence);
  several images with one question, one image with several questions, or lists of both (every
  question for every image, question by question) give a list of those; so does a list of
  ``{"image": ..., "question": ...}`` dicts (one dict alone gives one answer list).
* ``padding=`` / ``truncation=`` go to the tokenizer; ``max_new_tokens=`` and
  ``generate_kwargs={...}`` to ``model.generate`` (hfexplain's additions, as the image-to-text
  pipeline takes them); ``top_k=`` (for classifier VQA models) and ``timeout=`` are accepted and
  have no effect here, as in transformers with a generating model.
* The answer is ``tokenizer.decode(ids, skip_special_tokens=True).strip()``: checked against
  transformers' ``generate`` + ``decode`` on the same weights (tests/test_pipelines_blip.py).
"""
from __future__ import annotations

import os
from typing import Any

from .base import Pipeline, _check_text, _short
from .image_classification import as_processor_input, check_image, describe_pixels
from .image_to_text import describe_generated, generation_arguments, per_input


def _is_image(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike)) or type(value).__module__.startswith("PIL.") or hasattr(value, "ndim")


class VisualQuestionAnsweringPipeline(Pipeline):
    """Answer questions about images with a model that generates the answer (``BlipForQuestionAnswering``)."""

    task = "visual-question-answering"
    model_task = "visual-question-answering"
    also_needs = ("image_processor",)  # the model's main input is the question's input_ids

    def _check_model_and_tokenizer(self) -> None:
        if self.image_processor is None or not callable(self.image_processor):
            raise TypeError(
                f"the {self.task} pipeline needs an image_processor as well as a tokenizer "
                "(hfexplain.AutoImageProcessor.from_pretrained(path), or processor=AutoProcessor.from_pretrained(path)); "
                f"got {type(self.image_processor).__name__}."
            )
        super()._check_model_and_tokenizer()

    def _sanitize_parameters(self, top_k: int | None = None, padding: bool | str | None = None,
                             truncation: bool | str | None = None, timeout: float | None = None,
                             max_new_tokens: int | None = None, generate_kwargs: dict | None = None):
        preprocess_params: dict[str, Any] = {}
        if padding is not None:
            preprocess_params["padding"] = padding
        if truncation is not None:
            preprocess_params["truncation"] = truncation
        return preprocess_params, generation_arguments(max_new_tokens, generate_kwargs), {}

    def __call__(self, image: Any, question: str | list[str] | None = None, **kwargs: Any):
        """``pipe(image, question="...")``; lists of images and/or questions, or ``{"image", "question"}`` dicts."""
        return super().__call__(self._pairs(image, question), **kwargs)

    def inspect(self, image: Any, question: str | list[str] | None = None, *, cache=None, **kwargs: Any):
        return super().inspect(self._pairs(image, question), cache=cache, **kwargs)

    def _pairs(self, image: Any, question: Any):
        """transformers 4.x's pairing of images and questions into {"image", "question"} inputs."""
        images_given = isinstance(image, list) and bool(image) and all(_is_image(item) for item in image)
        questions_given = isinstance(question, list) and bool(question) and all(isinstance(q, str) for q in question)
        if question is None:
            dicts = image if isinstance(image, list) else [image]
            if dicts and all(isinstance(item, dict) for item in dicts):
                return image
            raise ValueError(
                "the visual-question-answering pipeline needs a question about the image: "
                "pipe(image, question='what is in the picture?') (or a list of {'image': ..., 'question': ...} dicts)."
            )
        if _is_image(image) and isinstance(question, str):
            return {"image": image, "question": question}
        if images_given and isinstance(question, str):
            return [{"image": item, "question": question} for item in image]
        if _is_image(image) and questions_given:
            return [{"image": image, "question": q} for q in question]
        if images_given and questions_given:
            return [{"image": item, "question": q} for q in question for item in image]
        raise TypeError(
            f"the visual-question-answering pipeline takes an image (or a list of images) and a question (or a list "
            f"of questions), got {type(image).__name__} and {type(question).__name__}: {_short(question, 80)}."
        )

    def _check_input(self, item: Any) -> None:
        if not isinstance(item, dict) or "image" not in item or "question" not in item:
            raise ValueError(f"each input of the {self.task} pipeline is an image with a question, "
                             f"{{'image': ..., 'question': '...'}}; got {_short(item, 80)}.")
        check_image(item["image"], self.task)
        _check_text(item["question"], self.task, what="question")

    def preprocess(self, inputs: dict[str, Any], padding: bool | str = False,
                   truncation: bool | str = False) -> dict[str, Any]:
        text = self.tokenizer(inputs["question"], return_tensors="pt", padding=padding, truncation=truncation)
        model_inputs = {"input_ids": text["input_ids"], "attention_mask": text["attention_mask"]}  # (1, s)
        model_inputs.update(self.image_processor(as_processor_input(inputs["image"]), return_tensors="pt"))
        return model_inputs  # + pixel_values (1, c, h, w)

    def _forward(self, model_inputs: dict[str, Any], **generate_kwargs: Any) -> dict[str, Any]:
        input_ids = model_inputs["input_ids"]  # (b, s), padded on the tokenizer's side in a batch
        output_ids = self.model.generate(input_ids=input_ids, pixel_values=model_inputs["pixel_values"],
                                         attention_mask=model_inputs.get("attention_mask"), **generate_kwargs)
        return {"output_ids": per_input(output_ids, input_ids.shape[0])}  # (b, n, t)

    def postprocess(self, model_outputs: dict[str, Any], trace: dict | None = None) -> list[dict[str, Any]]:
        records = [{"answer": self.tokenizer.decode(ids.tolist(), skip_special_tokens=True).strip()}
                   for ids in model_outputs["output_ids"][0]]  # n x (t,)
        if trace is not None:
            trace["probabilities"] = None
            trace["decision"] = describe_generated(model_outputs["output_ids"])
        return records

    def _inspection_details(self, rows: list[dict[str, Any]], details: dict[str, Any]) -> None:
        details["pixels"] = [describe_pixels(self.model, row["pixel_values"]) for row in rows]
