"""text-generation: continue a prompt with a causal language model.

    "The cat" ─► ids ─► model.generate(...) ─► prompt ids + new ids ─► decode the new ids
        ─► [{"generated_text": "The cat sat on the mat"}]

Everything the pipeline does not know is a generation argument and goes to
``model.generate`` (``max_new_tokens``, ``do_sample``, ``temperature``, ``top_k``, ``top_p``,
``num_beams``, ``num_return_sequences``, ``repetition_penalty`` ...; see
:mod:`hfexplain.generation`). Like transformers' pipeline, when neither the call nor the
model's generation config sets them, it generates ``max_new_tokens=256`` tokens by
*sampling* with ``temperature=0.7`` (so the output changes from run to run); pass
``do_sample=False`` for greedy decoding.

``return_full_text=False`` returns only the new text; ``return_tensors=True`` the token
ids (``generated_token_ids``). Batches are padded on the left, so that every row's last
token is a real one and the new tokens line up; a tokenizer without a padding token
(GPT-2's) needs one for that: ``pipe.tokenizer.pad_token = pipe.tokenizer.eos_token``.
``inspect`` records every decoding step (top candidates, the token picked) through
:func:`hfexplain.generation.explain_generation`.
"""
from __future__ import annotations

from typing import Any

import torch

from .base import Pipeline

RETURN_TYPES = ("tensors", "new_text", "full_text")

# transformers' defaults for the text-generation pipeline (used where nothing else sets them).
PIPELINE_GENERATION_DEFAULTS = {"max_new_tokens": 256, "do_sample": True, "temperature": 0.7}
_SAMPLING_ONLY = ("temperature", "top_k", "top_p")


class TextGenerationPipeline(Pipeline):
    """Complete prompts with a causal language model."""

    task = "text-generation"
    model_task = "causal-lm"
    padding_side = "left"

    def _sanitize_parameters(self, return_full_text: bool | None = None, return_tensors: bool | None = None,
                             return_text: bool | None = None, clean_up_tokenization_spaces: bool | None = None,
                             skip_special_tokens: bool | None = None, truncation: bool | str | None = None,
                             max_length: int | None = None, add_special_tokens: bool | None = None,
                             **generate_kwargs: Any):
        preprocess_params = {}
        if truncation is not None:
            preprocess_params["truncation"] = truncation
        if add_special_tokens is not None:
            preprocess_params["add_special_tokens"] = add_special_tokens
        if max_length is not None:
            preprocess_params["max_length"] = max_length  # as transformers: it truncates the prompt ...
            generate_kwargs["max_length"] = max_length  # ... and bounds the total length

        return_type = None
        if return_full_text is not None:
            if return_text is not None:
                raise ValueError("return_text and return_full_text cannot be used together; pick return_full_text.")
            if return_tensors is not None:
                raise ValueError("return_full_text and return_tensors cannot be used together: tensors have no text.")
            return_type = "full_text" if return_full_text else "new_text"
        elif return_tensors is not None:
            if return_text is not None:
                raise ValueError("return_text and return_tensors cannot be used together; pick one.")
            return_type = "tensors" if return_tensors else "full_text"
        elif return_text is not None:
            return_type = "full_text" if return_text else "tensors"
        postprocess_params: dict[str, Any] = {}
        if return_type is not None:
            postprocess_params["return_type"] = return_type
        if clean_up_tokenization_spaces is not None:
            postprocess_params["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        if skip_special_tokens is not None:
            postprocess_params["skip_special_tokens"] = skip_special_tokens
        return preprocess_params, generate_kwargs, postprocess_params

    def _check_input(self, item: Any) -> None:
        if isinstance(item, dict) or (isinstance(item, list) and item and isinstance(item[0], dict)):
            raise TypeError(
                "chat messages ({'role': ..., 'content': ...}) need a chat template, which hfexplain does not "
                "implement; pass the prompt as a plain string."
            )
        if not isinstance(item, str):
            raise TypeError(f"the text-generation pipeline takes a prompt string or a list of them, got "
                            f"{type(item).__name__}.")
        # An empty prompt is allowed: generation then starts from the BOS token, as in transformers.

    def preprocess(self, prompt_text: str, **tokenizer_kwargs: Any) -> dict[str, Any]:
        encoded = dict(self.tokenizer(prompt_text, return_tensors="pt", **tokenizer_kwargs))
        return {**encoded, "prompt_text": prompt_text}

    def generate_kwargs(self, generate_kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's generation arguments plus the pipeline's defaults for what nobody set.

        "Set" means: in the call (or in ``pipeline(...)``), or in ``model.generation_config``.
        The sampling defaults (temperature) apply only when sampling.
        """
        generation_config = getattr(self.model, "generation_config", None)
        already_set = {**(generation_config.to_diff_dict() if generation_config is not None else {}),
                       **generate_kwargs}
        added = {
            key: value for key, value in PIPELINE_GENERATION_DEFAULTS.items()
            if key not in already_set and not (key == "max_new_tokens" and "max_length" in already_set)
        }
        if not {**already_set, **added}.get("do_sample"):
            added = {key: value for key, value in added.items() if key not in _SAMPLING_ONLY}
        if self.tokenizer.pad_token_id is not None and "pad_token_id" not in generate_kwargs:
            added["pad_token_id"] = self.tokenizer.pad_token_id
        return {**generate_kwargs, **added}

    def _forward(self, model_inputs: dict[str, Any], **generate_kwargs: Any) -> dict[str, Any]:
        input_ids = model_inputs["input_ids"]  # (b, s), left-padded in a batch
        attention_mask = model_inputs.get("attention_mask")
        if input_ids.shape[1] == 0:  # empty prompt: generate starts from the BOS token
            sequences = self.model.generate(**self.generate_kwargs(generate_kwargs))
            in_batch = 1
        else:
            sequences = self.model.generate(input_ids=input_ids, attention_mask=attention_mask,
                                            **self.generate_kwargs(generate_kwargs))
            in_batch = input_ids.shape[0]
        out_batch = sequences.shape[0]
        generated = sequences.reshape(in_batch, out_batch // in_batch, sequences.shape[-1])  # (b, n, s + new)
        return {"generated_sequence": generated, "input_ids": input_ids, "prompt_text": model_inputs["prompt_text"]}

    def postprocess(self, model_outputs: dict[str, Any], return_type: str = "full_text",
                    clean_up_tokenization_spaces: bool | None = None, skip_special_tokens: bool | None = None,
                    trace: dict | None = None) -> list[dict[str, Any]]:
        sequences = model_outputs["generated_sequence"][0].tolist()  # n x (s + new)
        prompt_length = model_outputs["input_ids"].shape[-1]  # padding included: it is in the sequences too
        prompt_text = model_outputs["prompt_text"]
        skip_special_tokens = True if skip_special_tokens is None else skip_special_tokens
        records = []
        for sequence in sequences:
            if return_type == "tensors":
                records.append({"generated_token_ids": sequence})
                continue
            new_text = self.tokenizer.decode(sequence[prompt_length:], skip_special_tokens=skip_special_tokens,
                                             clean_up_tokenization_spaces=clean_up_tokenization_spaces)
            records.append({"generated_text": prompt_text + new_text if return_type == "full_text" else new_text})
        if trace is not None:
            steps = trace["details"].get("steps")
            if steps:
                trace["probabilities"] = torch.tensor([step.token_prob for step in steps])
                trace["decision"] = "\n".join(_describe_step(step) for step in steps)
            else:
                trace["probabilities"] = None
                trace["decision"] = (f"model.generate returned {len(sequences[0]) - prompt_length} token(s) after the "
                                     f"{prompt_length}-token prompt, per sequence")
        return records

    def _inspect_forward(self, row: dict[str, Any], forward_params: dict, cache, details: dict):
        """Generate while recording each step (greedy or sampling, one sequence)."""
        kwargs = self.generate_kwargs(dict(forward_params))
        one_sequence = kwargs.get("num_beams", 1) == 1 and kwargs.get("num_return_sequences", 1) == 1
        if cache is not None or not one_sequence or row["input_ids"].shape[1] == 0:
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
        finally:
            self.model.train(was_training)
        details["steps"] = steps
        new_ids = torch.tensor([[step.token_id for step in steps]], dtype=row["input_ids"].dtype)  # (1, new)
        sequence = torch.cat([row["input_ids"], new_ids], dim=1)  # (1, s + new)
        return {"generated_sequence": sequence[:, None], "input_ids": row["input_ids"],
                "prompt_text": row["prompt_text"]}, None


def _describe_step(step) -> str:
    """One line per generation step: the token picked and the candidates it was picked from."""
    candidates = step.final.top_tokens or step.final.top_ids
    shown = [(candidate, round(prob, 3)) for candidate, prob in zip(candidates, step.final.top_probs)]
    return f"step {step.step}: picked {step.token!r} (p={step.token_prob:.3f}) among {shown}"
