"""fill-mask: guess the word hidden behind the tokenizer's mask token.

    "Paris is the [MASK] of France." ─► [CLS] paris is the [MASK] of france . [SEP]
        ─► masked-LM model ─► logits (1, s, vocab) ─► the row at the [MASK] position
        ─► softmax over the vocabulary ─► top_k tokens
        ─► [{"score", "token": id, "token_str": "capital", "sequence": "paris is the capital of france."}]

``targets=["capital", "city"]`` restricts the choice to those words (each must be one
token of the vocabulary; otherwise its first token is used, with a warning). Scores are
still the full-vocabulary probabilities.

Several masks in one text give one list per mask (each mask guessed on its own; the
probabilities are not joint), and ``sequence`` then keeps the special tokens so the
other masks stay visible, as in transformers.

One difference: transformers returns ``pipe(["one text"])`` like ``pipe("one text")``
(a flat list); here a list of inputs always gives a list of results.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch

from .base import Pipeline, _check_text, _check_top_k


class FillMaskPipeline(Pipeline):
    """Predict the token at each mask position of a text."""

    task = "fill-mask"
    model_task = "masked-lm"

    def _check_model_and_tokenizer(self) -> None:
        super()._check_model_and_tokenizer()
        if self.tokenizer.mask_token_id is None:
            raise ValueError(
                "the fill-mask pipeline needs a tokenizer with a mask token (e.g. '[MASK]'), and this one has none; "
                "use the tokenizer the masked-LM model was trained with."
            )

    def _sanitize_parameters(self, top_k: int | None = None, targets: str | list[str] | None = None,
                             tokenizer_kwargs: dict[str, Any] | None = None):
        preprocess_params = {"tokenizer_kwargs": dict(tokenizer_kwargs)} if tokenizer_kwargs else {}
        postprocess_params = {}
        if top_k is not None:
            _check_top_k(top_k)
            postprocess_params["top_k"] = top_k
        if targets is not None:
            postprocess_params["target_ids"] = self.get_target_ids(targets)
        return preprocess_params, {}, postprocess_params

    def get_target_ids(self, targets: str | list[str]) -> list[int]:
        """The vocabulary ids of the target words (the first sub-token of a word not in the vocabulary)."""
        if isinstance(targets, str):
            targets = [targets]
        vocab = self.tokenizer.get_vocab()
        ids = []
        for target in targets:
            token_id = vocab.get(target)
            if token_id is None:
                pieces = self.tokenizer(target, add_special_tokens=False)["input_ids"]
                if not pieces:
                    warnings.warn(f"the target {target!r} gives no token at all; it is ignored.", UserWarning,
                                  stacklevel=4)
                    continue
                token_id = pieces[0]
                warnings.warn(
                    f"the target {target!r} is not a single token of the vocabulary; using its first token "
                    f"{self.tokenizer.convert_ids_to_tokens(token_id)!r} instead.",
                    UserWarning,
                    stacklevel=4,
                )
            if token_id not in ids:
                ids.append(token_id)
        if not ids:
            raise ValueError(
                f"none of the targets {targets!r} is a token the model can predict; pass vocabulary words."
            )
        return ids

    def _check_input(self, item: Any) -> None:
        _check_text(item, self.task)
        mask = self.tokenizer.mask_token
        if str(mask) not in item:
            raise ValueError(
                f"the fill-mask pipeline found no mask token {str(mask)!r} in {item!r}; put it where the word "
                f"to guess should be, e.g. 'Paris is the {mask} of France.'"
            )

    def preprocess(self, inputs: str, tokenizer_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
        encoded = dict(self.tokenizer(inputs, return_tensors="pt", **(tokenizer_kwargs or {})))
        if not (encoded["input_ids"] == self.tokenizer.mask_token_id).any():
            raise ValueError(
                f"no mask token {self.tokenizer.mask_token!r} is left in {inputs!r} after tokenization "
                "(was it truncated away?); keep the mask inside the first model_max_length tokens."
            )
        return encoded

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        logits = self.model(**self._model_kwargs(model_inputs)).logits  # (b, s, v)
        return {"logits": logits, "input_ids": model_inputs["input_ids"]}

    def postprocess(self, model_outputs: dict[str, Any], top_k: int = 5, target_ids: list[int] | None = None,
                    trace: dict | None = None):
        input_ids = model_outputs["input_ids"][0]  # (s,)
        mask_positions = (input_ids == self.tokenizer.mask_token_id).nonzero().flatten()  # (m,)
        probs = torch.softmax(model_outputs["logits"][0, mask_positions].float(), dim=-1)  # (m, v)
        candidates = probs if target_ids is None else probs[:, target_ids]  # (m, v) or (m, targets)
        top_k = min(top_k, candidates.shape[-1])
        values, indices = candidates.topk(top_k, dim=-1)  # (m, top_k)

        single_mask = len(mask_positions) == 1
        keep = input_ids != self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else None
        results = []
        for mask_index, position in enumerate(mask_positions.tolist()):
            row = []
            for score, index in zip(values[mask_index].tolist(), indices[mask_index].tolist()):
                token_id = index if target_ids is None else target_ids[index]
                filled = input_ids.clone()
                filled[position] = token_id
                if keep is not None:
                    filled = filled[keep]  # drop padding
                row.append({
                    "score": score,
                    "token": token_id,
                    "token_str": self.tokenizer.decode([token_id]),
                    # one mask: a clean sentence; several: keep [CLS]/[MASK] ... so the other masks show
                    "sequence": self.tokenizer.decode(filled.tolist(), skip_special_tokens=single_mask),
                })
            results.append(row)
        if trace is not None:
            trace["probabilities"] = probs
            trace["details"]["mask_positions"] = mask_positions.tolist()
            trace["decision"] = (
                f"softmax over the vocabulary at {len(mask_positions)} mask position(s) "
                f"{mask_positions.tolist()}; kept the {top_k} most probable "
                + ("tokens" if target_ids is None else f"of the targets {target_ids}")
                + f": {[[r['token_str'] for r in row] for row in results]}"
            )
        return results[0] if single_mask else results
