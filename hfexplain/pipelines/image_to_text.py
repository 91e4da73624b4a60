"""image-to-text: a caption for an image, written by a model that reads it (BLIP).

    "cat.png" / PIL image / array ─► (RGB) ─► image processor ─► pixel_values (1, 3, H, W)
        [prompt "a picture of" ─► tokenizer ─► input_ids (1, s)]
        ─► model.generate(pixel_values, input_ids) ─► ids (1, n, t): start token, prompt, caption
        ─► decode, special tokens skipped ─► [{"generated_text": "a picture of two cats"}]

transformers 5 folded this task into ``image-text-to-text`` (chat-style prompts for multimodal
LLMs); it is kept here as transformers 4.x had it, with its arguments and answer:

* ``pipe(image)`` gives ``[{"generated_text": ...}]`` (one record per returned sequence), a list
  of images a list of those. Images are read as in image classification (a path or PIL image
  becomes RGB; an array goes to the image processor as it is). ``images=`` is the old name of
  the first argument.
* ``prompt="a picture of"`` conditions the caption (BLIP continues it, and the text returned
  starts with it, as the model's ids do). ``max_new_tokens=`` and ``generate_kwargs={...}`` go to
  ``model.generate`` (not both holding ``max_new_tokens``); without them the model's generation
  config decides the length. ``timeout=`` (for URLs in transformers) is accepted; hfexplain
  opens no URL.
* The caption is ``tokenizer.decode(ids, skip_special_tokens=True)`` of everything ``generate``
  returned, as transformers 4.x did: checked against transformers' ``generate`` + ``decode`` on
  the same weights (tests/test_pipelines_blip.py).
"""
from __future__ import annotations

from typing import Any

import torch

from .base import Pipeline, _short
from .image_classification import as_processor_input, check_image, describe_pixels


def generation_arguments(max_new_tokens: int | None, generate_kwargs: dict | None) -> dict[str, Any]:
    """transformers 4.x's two ways of passing generation settings to an image pipeline, merged."""
    settings: dict[str, Any] = {}
    if max_new_tokens is not None:
        settings["max_new_tokens"] = max_new_tokens
    if generate_kwargs is not None:
        if not isinstance(generate_kwargs, dict):
            raise TypeError(f"generate_kwargs must be a dict of generate() arguments (e.g. {{'num_beams': 3}}), got "
                            f"{type(generate_kwargs).__name__}.")
        if max_new_tokens is not None and "max_new_tokens" in generate_kwargs:
            raise ValueError("max_new_tokens is given both as an argument and inside generate_kwargs; pass it once.")
        settings.update(generate_kwargs)
    return settings


def per_input(output_ids: torch.Tensor, rows: int) -> torch.Tensor:
    """generate's (rows * n, t) ids -> (rows, n, t): the n returned sequences of each model row."""
    return output_ids.reshape(rows, output_ids.shape[0] // rows, output_ids.shape[-1])


def describe_generated(output_ids: torch.Tensor) -> str:
    return (f"model.generate returned {output_ids.shape[1]} sequence(s) of {output_ids.shape[-1]} ids (the decoder's "
            "start token first); decoded with skip_special_tokens=True")


class ImageToTextPipeline(Pipeline):
    """Caption images with a model that writes text about an image (``BlipForConditionalGeneration``)."""

    task = "image-to-text"
    model_task = "image-to-text"
    also_needs = ("tokenizer",)  # the model reads pixel_values; its ids are turned into text

    def _sanitize_parameters(self, max_new_tokens: int | None = None, generate_kwargs: dict | None = None,
                             prompt: str | None = None, timeout: float | None = None):
        preprocess_params: dict[str, Any] = {}
        if prompt is not None:
            if not isinstance(prompt, str):
                raise ValueError(f"prompt must be a single string (one prompt conditions each caption), got "
                                 f"{type(prompt).__name__}: {_short(prompt, 80)}.")
            preprocess_params["prompt"] = prompt
        return preprocess_params, generation_arguments(max_new_tokens, generate_kwargs), {}

    def __call__(self, inputs: Any = None, **kwargs: Any):
        """``pipe(image)`` or ``pipe([image, ...])``; ``images=`` is accepted for the first argument."""
        if "images" in kwargs:
            if inputs is not None:
                raise ValueError("pass the image(s) once: as the first argument or as images=, not both.")
            inputs = kwargs.pop("images")
        if inputs is None:
            raise ValueError(
                "the image-to-text pipeline needs an image to caption: pipe('photo.png'), pipe(pil_image) or "
                "pipe([image, ...])."
            )
        return super().__call__(inputs, **kwargs)

    def _check_input(self, item: Any) -> None:
        check_image(item, self.task)

    def preprocess(self, image, prompt: str | None = None) -> dict[str, Any]:
        inputs = dict(self.image_processor(as_processor_input(image), return_tensors="pt"))  # pixel_values (1, c, h, w)
        if prompt is not None:
            text = self.tokenizer(prompt, return_tensors="pt")  # [CLS] prompt [SEP]: generate makes [CLS] the bos
            inputs.update(input_ids=text["input_ids"], attention_mask=text["attention_mask"])  # (1, s)
        return inputs

    def _forward(self, model_inputs: dict[str, Any], **generate_kwargs: Any) -> dict[str, Any]:
        pixel_values = model_inputs["pixel_values"]  # (b, c, h, w)
        output_ids = self.model.generate(pixel_values, input_ids=model_inputs.get("input_ids"),
                                         attention_mask=model_inputs.get("attention_mask"), **generate_kwargs)
        return {"output_ids": per_input(output_ids, pixel_values.shape[0])}  # (b, n, t)

    def postprocess(self, model_outputs: dict[str, Any], trace: dict | None = None) -> list[dict[str, Any]]:
        records = [{"generated_text": self.tokenizer.decode(ids.tolist(), skip_special_tokens=True)}
                   for ids in model_outputs["output_ids"][0]]  # n x (t,)
        if trace is not None:
            trace["probabilities"] = None
            trace["decision"] = describe_generated(model_outputs["output_ids"])
            trace["details"]["output_tokens"] = [self.tokenizer.convert_ids_to_tokens(ids.tolist())
                                                 for ids in model_outputs["output_ids"][0]]
        return records

    def _inspection_details(self, rows: list[dict[str, Any]], details: dict[str, Any]) -> None:
        details["pixels"] = [describe_pixels(self.model, row["pixel_values"]) for row in rows]
