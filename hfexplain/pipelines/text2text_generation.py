"""text2text-generation, summarization, translation: text in, new text out, through an encoder-decoder.

    "summarize: " + "The cat sat on the mat all day."       the task's prefix, from the model's config
        ─preprocess─►  input_ids (1, s)                     the source, tokenized once
        ─_forward───►  model.generate(...) -> (1, n, t)     encoder once, decoder token by token
        ─postprocess►  [{"summary_text": "A cat sat."}]     decode, special tokens skipped

transformers 5 removed these three pipelines; they are kept here as transformers 4.x had them
(one module, three classes, as there), with its arguments and answers:

* The answer key is ``<name>_text`` (``generated_text``, ``summary_text``,
  ``translation_text``); ``return_tensors=True`` gives ``<name>_token_ids`` instead (the
  decoder's ids, its start token first, as a tensor). One input gives a list with one record
  per returned sequence; a list of inputs gives one record per input (a list of lists with
  ``num_return_sequences`` > 1).
* **The task's prefix and defaults.** A checkpoint trained for several tasks says so in
  ``config.task_specific_params``: T5's has ``"summarization": {"prefix": "summarize: ",
  "num_beams": 4, "max_length": 200, ...}`` and ``"translation_en_to_de": {"prefix":
  "translate English to German: ", ...}``. The pipeline puts the prefix before every input
  (else ``config.prefix``, else nothing) and uses the other entries as generation defaults
  that the call's own arguments override. The model and its config are not changed.
* ``translation_xx_to_yy`` task names pick that entry (``pipeline("translation_en_to_fr",
  model=t5)``); plain ``translation`` takes the first ``translation_*`` entry of the config,
  with a warning, as transformers did. ``src_lang`` / ``tgt_lang`` reach tokenizers that build
  translation inputs themselves (multilingual ones); others ignore them, as in transformers.
* Every other argument is a generation argument and goes to ``model.generate``
  (``max_new_tokens``, ``num_beams``, ``do_sample``, ``no_repeat_ngram_size`` ...).
  ``batch_size`` pads the sources on the tokenizer's side (encoders read padding through
  the attention mask; the decoder starts fresh for every row).
* ``inspect`` shows the three stages, the prefix, and each decoding step (the top
  candidates and the token picked) through :func:`hfexplain.generation.explain_generation`,
  which follows the decoder of an encoder-decoder (greedy or sampling; beam search is shown
  as its result only).
"""
from __future__ import annotations

import re
import warnings
from typing import Any

import torch

from .base import Pipeline
from .text_generation import _describe_step

RETURN_TYPES = ("text", "tensors")
_TRANSLATION_TASK = re.compile(r"^translation_([^_]+)_to_([^_]+)$")


def translation_languages(task: str) -> tuple[str, str] | None:
    """``"translation_en_to_fr"`` -> ``("en", "fr")``; None for any other name."""
    match = _TRANSLATION_TASK.match(task)
    return (match.group(1), match.group(2)) if match else None


class Text2TextGenerationPipeline(Pipeline):
    """Turn a text into another text with an encoder-decoder (T5, BART, Marian ...).

    Args:
        task: the name this pipeline answers to when it is not the class's own (e.g.
            ``"translation_en_to_fr"``); it is the key read in ``config.task_specific_params``.
        (the rest as :class:`~hfexplain.pipelines.base.Pipeline`)
    """

    task = "text2text-generation"
    model_task = "seq2seq-lm"
    return_name = "generated"  # the answer key is return_name + "_text" / "_token_ids"

    def __init__(self, model, tokenizer=None, *, task: str | None = None, **kwargs: Any):
        if task is not None:
            self.task = task
        super().__init__(model, tokenizer, **kwargs)
        self.prefix, self.task_defaults = self._task_specific_params()

    def _check_model_and_tokenizer(self) -> None:
        """The base checks, with the fix spelled out for a decoder-only model (GPT-2 given to summarization)."""
        try:
            super()._check_model_and_tokenizer()
        except ValueError as error:
            if getattr(self.model.config, "is_encoder_decoder", False):
                raise
            raise ValueError(
                f"the {self.task} pipeline needs an encoder-decoder model (T5, BART, Marian ...: "
                f"AutoModelForSeq2SeqLM), but {type(self.model).__name__} is decoder-only. Load an encoder-decoder "
                "checkpoint with hfexplain.AutoModelForSeq2SeqLM.from_pretrained(path), or continue a prompt with "
                "this model through pipeline('text-generation', model=...)."
            ) from error

    def _task_specific_params(self) -> tuple[str, dict[str, Any]]:
        """(prefix, generation defaults) for this task from ``config.task_specific_params``."""
        config = self.model.config
        every_task = getattr(config, "task_specific_params", None) or {}
        params = dict(every_task.get(self.task) or {})
        prefix = params.pop("prefix", None)
        if prefix is None:
            prefix = getattr(config, "prefix", None)
        return prefix or "", params

    # -- the three stages ----------------------------------------------------------------

    def _sanitize_parameters(self, return_tensors: bool | None = None, return_text: bool | None = None,
                             return_type: str | None = None, clean_up_tokenization_spaces: bool | None = None,
                             truncation: bool | str | None = None, stop_sequence: str | None = None,
                             **generate_kwargs: Any):
        preprocess_params: dict[str, Any] = {}
        if truncation is not None:
            preprocess_params["truncation"] = truncation
        if stop_sequence is not None:  # transformers 4.x: its first token ends the generation
            stop_ids = self.tokenizer.encode(stop_sequence, add_special_tokens=False)
            if len(stop_ids) > 1:
                warnings.warn(f"stop_sequence {stop_sequence!r} is {len(stop_ids)} tokens; only its first one "
                              "stops the generation, as in transformers.", UserWarning, stacklevel=4)
            generate_kwargs["eos_token_id"] = stop_ids[0]
        postprocess_params: dict[str, Any] = {}
        # As transformers 4.x: return_tensors decides; return_text is accepted and has no effect.
        if return_tensors is not None and return_type is None:
            return_type = "tensors" if return_tensors else "text"
        if return_type is not None:
            if return_type not in RETURN_TYPES:
                raise ValueError(f"return_type must be one of {RETURN_TYPES}, got {return_type!r}.")
            postprocess_params["return_type"] = return_type
        if clean_up_tokenization_spaces is not None:
            postprocess_params["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        return preprocess_params, generate_kwargs, postprocess_params

    def preprocess(self, text: str, truncation: bool | str | None = None, **translation_params: Any) -> dict:
        """Prefix + text -> ``input_ids`` / ``attention_mask`` (1, s); ``token_type_ids`` dropped."""
        tokenizer_kwargs = {} if truncation is None else {"truncation": truncation}
        encoded = dict(self.tokenizer(self.prefix + text, return_tensors="pt", **tokenizer_kwargs))
        encoded.pop("token_type_ids", None)
        return encoded

    def generate_kwargs(self, generate_kwargs: dict[str, Any]) -> dict[str, Any]:
        """The task's defaults (``task_specific_params``), under the call's own arguments; the
        tokenizer's pad id when neither nor the model's generation config gives one."""
        merged = {**self.task_defaults, **generate_kwargs}
        generation_config = getattr(self.model, "generation_config", None)
        model_pad = getattr(generation_config, "pad_token_id", None)
        if "pad_token_id" not in merged and model_pad is None and self.tokenizer.pad_token_id is not None:
            merged["pad_token_id"] = self.tokenizer.pad_token_id
        return merged

    def _forward(self, model_inputs: dict[str, Any], **generate_kwargs: Any) -> dict[str, Any]:
        input_ids = model_inputs["input_ids"]  # (b, s), padded on the tokenizer's side in a batch
        output_ids = self.model.generate(input_ids=input_ids, attention_mask=model_inputs.get("attention_mask"),
                                         **self.generate_kwargs(generate_kwargs))  # (b * n, t)
        in_batch = input_ids.shape[0]
        output_ids = output_ids.reshape(in_batch, output_ids.shape[0] // in_batch, output_ids.shape[-1])  # (b, n, t)
        return {"output_ids": output_ids}

    def postprocess(self, model_outputs: dict[str, Any], return_type: str = "text",
                    clean_up_tokenization_spaces: bool = False, trace: dict | None = None) -> list[dict[str, Any]]:
        records = []
        for output_ids in model_outputs["output_ids"][0]:  # n x (t,)
            if return_type == "tensors":
                records.append({f"{self.return_name}_token_ids": output_ids})
            else:
                text = self.tokenizer.decode(output_ids.tolist(), skip_special_tokens=True,
                                             clean_up_tokenization_spaces=clean_up_tokenization_spaces)
                records.append({f"{self.return_name}_text": text})
        if trace is not None:
            steps = trace["details"].get("steps")
            intro = (f"prefix {self.prefix!r} put before the input" if self.prefix else "no prefix") + \
                    (f"; task defaults {self.task_defaults}" if self.task_defaults else "")
            if steps:
                trace["probabilities"] = torch.tensor([step.token_prob for step in steps])
                lines = [_describe_step(step) for step in steps]
            else:
                trace["probabilities"] = None
                lines = [f"model.generate returned {model_outputs['output_ids'].shape[1]} sequence(s) of "
                         f"{model_outputs['output_ids'].shape[-1]} decoder tokens (start token included)"]
            trace["decision"] = "\n".join([intro, *lines, "decoded with skip_special_tokens=True"])
        return records

    def __call__(self, inputs: Any, **kwargs: Any):
        """One text -> a list of records; a list of texts -> one record each (lists with several sequences)."""
        result = super().__call__(inputs, **kwargs)
        if isinstance(inputs, list) and all(len(records) == 1 for records in result):
            return [records[0] for records in result]
        return result

    # -- inspect -----------------------------------------------------------------------

    def _inspect_forward(self, row: dict[str, Any], forward_params: dict, cache, details: dict):
        """Generate while recording each decoder step (greedy or sampling, one sequence)."""
        kwargs = self.generate_kwargs(dict(forward_params))
        details["prefix"] = self.prefix
        one_sequence = kwargs.get("num_beams", 1) == 1 and kwargs.get("num_return_sequences", 1) == 1
        if cache is not None or not one_sequence:
            return super()._inspect_forward(row, forward_params, cache, details)
        from ..generation import explain_generation

        was_training = self.model.training
        self.model.eval()
        try:
            input_ids = row["input_ids"].to(self.device)  # (1, s)
            attention_mask = row.get("attention_mask")
            if attention_mask is not None:
                attention_mask = attention_mask.to(self.device)  # (1, s)
            steps = explain_generation(self.model, input_ids, attention_mask, tokenizer=self.tokenizer, **kwargs)
            start = self.model._decoder_start_token_id(self.model._resolve_generation_config(None, dict(kwargs)))
        finally:
            self.model.train(was_training)
        details["steps"] = steps
        output_ids = torch.tensor([[start, *(step.token_id for step in steps)]])  # (1, 1 + new)
        return {"output_ids": output_ids[:, None]}, None  # (1, 1, 1 + new)


class SummarizationPipeline(Text2TextGenerationPipeline):
    """Summarize texts: ``[{"summary_text": ...}]``. T5 reads the prefix ``"summarize: "`` from its config."""

    task = "summarization"
    return_name = "summary"


class TranslationPipeline(Text2TextGenerationPipeline):
    """Translate texts: ``[{"translation_text": ...}]``.

    ``task="translation_en_to_de"`` (what ``pipeline("translation_en_to_de", ...)`` passes)
    reads that entry of ``config.task_specific_params`` (T5's prefix "translate English to
    German: "); plain ``"translation"`` takes the config's first ``translation_*`` entry.
    """

    task = "translation"
    return_name = "translation"

    def __init__(self, model, tokenizer=None, *, task: str | None = None, **kwargs: Any):
        if task in (None, "translation"):
            every_task = getattr(getattr(model, "config", None), "task_specific_params", None) or {}
            named = [key for key in every_task if key.startswith("translation")]
            if named:
                task = named[0]
                warnings.warn(f'"translation" task was used, instead of "translation_XX_to_YY", defaulting to '
                              f'"{task}" (from config.task_specific_params).', UserWarning, stacklevel=3)
        elif translation_languages(task) is None:
            raise ValueError(f"a translation task is 'translation' or 'translation_XX_to_YY' (e.g. "
                             f"'translation_en_to_fr'), got {task!r}.")
        super().__init__(model, tokenizer, task=task, **kwargs)

    def _sanitize_parameters(self, src_lang: str | None = None, tgt_lang: str | None = None, **kwargs: Any):
        preprocess_params, forward_params, postprocess_params = super()._sanitize_parameters(**kwargs)
        if src_lang is None and tgt_lang is None:
            languages = translation_languages(self.task)
            if languages is not None:
                src_lang, tgt_lang = languages
        if src_lang is not None:
            preprocess_params["src_lang"] = src_lang
        if tgt_lang is not None:
            preprocess_params["tgt_lang"] = tgt_lang
        return preprocess_params, forward_params, postprocess_params

    def preprocess(self, text: str, truncation: bool | str | None = None, src_lang: str | None = None,
                   tgt_lang: str | None = None) -> dict:
        build = getattr(self.tokenizer, "_build_translation_inputs", None)
        if callable(build):  # multilingual tokenizers mark the languages themselves
            encoded = dict(build(text, return_tensors="pt", truncation=truncation or False, src_lang=src_lang,
                                 tgt_lang=tgt_lang))
            encoded.pop("token_type_ids", None)
            return encoded
        return super().preprocess(text, truncation=truncation)
