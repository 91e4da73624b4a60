"""Data collators: turn a list of examples into one batch of tensors.

A ``DataLoader`` picks ``batch_size`` examples (dicts such as ``{"input_ids": [...],
"label": 1}``) and hands the list to its ``collate_fn``. Tokenized examples have different
lengths, so the collator pads them to the longest one in *this* batch (dynamic padding:
less work than padding everything to the model's maximum), builds the attention mask and
stacks the labels. Language-modelling collators also *make* the labels:

* **masked** (BERT): pick 15% of the tokens; of those, 80% become ``[MASK]``, 10% a random
  token, 10% stay; labels hold the original id at picked positions and -100 elsewhere
  (cross-entropy ignores -100);
* **causal** (GPT-2): labels are a copy of ``input_ids`` with padding set to -100; the model
  shifts them by one position itself (position t predicts token t + 1).

The names, arguments and behaviour follow ``transformers.data.data_collator``. Randomness
(MLM masking) uses torch's global generator, which the Trainer seeds and checkpoints, so a
resumed run masks exactly as an uninterrupted one.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

LABEL_PAD_ID = -100  # cross_entropy(ignore_index=-100) skips these positions


def _features_as_dicts(features: Sequence[Any]) -> list[dict]:
    if isinstance(features, Mapping):  # a batch slice, column by column (dataset[:8]): one dict per example
        columns = {key: list(values) for key, values in features.items()}
        lengths = {len(values) for values in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"a dict of columns needs columns of one length, got lengths {sorted(lengths)}.")
        features = [{key: values[row] for key, values in columns.items()} for row in range(lengths.pop())]
    if not isinstance(features, Sequence) or not features:
        raise ValueError(f"a collator takes a non-empty list of examples, got {type(features).__name__}.")
    if not isinstance(features[0], Mapping):
        raise TypeError(
            f"a collator takes examples as dicts (e.g. tokenizer outputs with 'input_ids'), got "
            f"{type(features[0]).__name__}."
        )
    return [dict(feature) for feature in features]


def _as_tensor(values: list) -> torch.Tensor:
    if isinstance(values[0], torch.Tensor):
        return torch.stack(values)
    if isinstance(values[0], float):
        return torch.tensor(values, dtype=torch.float32)
    return torch.tensor(values)


def _rename_label(batch: dict) -> dict:
    """``label`` / ``label_ids`` columns become ``labels``, the name model forwards take."""
    for old in ("label", "label_ids"):
        if old in batch:
            batch["labels"] = batch.pop(old)
    return batch


def default_data_collator(features: Sequence[Mapping]) -> dict[str, torch.Tensor]:
    """Stack examples that already have equal lengths (no padding); ``label`` -> ``labels``."""
    features = _features_as_dicts(features)
    batch = {}
    for key in features[0]:
        values = [feature[key] for feature in features]
        if values[0] is None or isinstance(values[0], str):
            continue  # text columns the model does not take
        batch[key] = _as_tensor(values)
    return _rename_label(batch)


class DataCollatorWithPadding:
    """Pad each batch to its longest example with ``tokenizer.pad``.

    Args:
        tokenizer: the tokenizer that made the examples (its pad token and padding side).
        padding: ``True``/``"longest"`` (default), ``"max_length"`` or ``False``.
        max_length: the length for ``padding="max_length"``.
        pad_to_multiple_of: round the padded length up (tensor cores like multiples of 8).
    """

    def __init__(self, tokenizer, padding: bool | str = True, max_length: int | None = None,
                 pad_to_multiple_of: int | None = None, return_tensors: str = "pt"):
        if return_tensors != "pt":
            raise ValueError(f"hfexplain collators return PyTorch tensors only (return_tensors='pt'), got {return_tensors!r}.")
        self.tokenizer = tokenizer
        self.padding = padding
        self.max_length = max_length
        self.pad_to_multiple_of = pad_to_multiple_of
        self.return_tensors = return_tensors

    def __call__(self, features: Sequence[Mapping]) -> dict[str, torch.Tensor]:
        features = _features_as_dicts(features)
        # pad() leaves fields it does not know alone; labels are per example, so keep them aside.
        labels = {}
        for name in ("label", "labels", "label_ids"):
            if name in features[0]:
                labels[name] = [feature.pop(name) for feature in features]
        text_fields = [key for key, value in features[0].items() if isinstance(value, str) or value is None]
        for feature in features:
            for key in text_fields:
                feature.pop(key)
        batch = dict(self.tokenizer.pad(features, padding=self.padding, max_length=self.max_length,
                                        pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="pt"))
        for name, values in labels.items():
            batch[name] = _as_tensor(values)
        return _rename_label(batch)


class DataCollatorForLanguageModeling:
    """Pad a batch of token ids and make language-modelling labels.

    Args:
        tokenizer: gives the pad, mask and special tokens.
        mlm: ``True`` for masked language modelling (BERT), ``False`` for causal (GPT-2).
        mlm_probability: the fraction of tokens picked for prediction (0.15).
        mask_replace_prob: of the picked tokens, the fraction replaced by ``[MASK]`` (0.8).
        random_replace_prob: the fraction replaced by a random token (0.1); the rest stay.
        pad_to_multiple_of: round the padded length up.

    Examples may be dicts with ``input_ids`` or plain lists of ids.
    """

    def __init__(self, tokenizer, mlm: bool = True, mlm_probability: float = 0.15, mask_replace_prob: float = 0.8,
                 random_replace_prob: float = 0.1, pad_to_multiple_of: int | None = None, return_tensors: str = "pt"):
        if return_tensors != "pt":
            raise ValueError(f"hfexplain collators return PyTorch tensors only (return_tensors='pt'), got {return_tensors!r}.")
        if mlm and getattr(tokenizer, "mask_token", None) is None:
            raise ValueError(
                "This tokenizer has no mask token, which masked language modelling needs. "
                "Use mlm=False to train a causal language model (GPT-2 style), or a tokenizer with a [MASK] token."
            )
        if not 0 <= mlm_probability <= 1:
            raise ValueError(f"mlm_probability must be in [0, 1], got {mlm_probability!r}.")
        if mask_replace_prob < 0 or random_replace_prob < 0 or mask_replace_prob + random_replace_prob > 1:
            raise ValueError(
                "mask_replace_prob and random_replace_prob must be >= 0 and add up to at most 1, got "
                f"{mask_replace_prob} and {random_replace_prob}."
            )
        if getattr(tokenizer, "pad_token_id", None) is None:
            raise ValueError(
                "This tokenizer has no pad token, so batches of different lengths cannot be padded. "
                "GPT-2 has none by default: set tokenizer.pad_token = tokenizer.eos_token first."
            )
        self.tokenizer = tokenizer
        self.mlm = mlm
        self.mlm_probability = mlm_probability
        self.mask_replace_prob = mask_replace_prob
        self.random_replace_prob = random_replace_prob
        self.pad_to_multiple_of = pad_to_multiple_of
        self.return_tensors = return_tensors

    def __call__(self, examples: Sequence[Any]) -> dict[str, torch.Tensor]:
        if examples and not isinstance(examples[0], Mapping):
            examples = [{"input_ids": list(example)} for example in examples]
        features = _features_as_dicts(examples)
        for feature in features:
            for key in [k for k, v in feature.items() if isinstance(v, str) or v is None]:
                feature.pop(key)
        batch = dict(self.tokenizer.pad(features, padding=True, pad_to_multiple_of=self.pad_to_multiple_of,
                                        return_tensors="pt"))
        special_tokens_mask = batch.pop("special_tokens_mask", None)
        if self.mlm:
            batch["input_ids"], batch["labels"] = self.torch_mask_tokens(batch["input_ids"], special_tokens_mask)
        else:
            labels = batch["input_ids"].clone()  # (batch, seq)
            if "attention_mask" in batch:
                labels[batch["attention_mask"] == 0] = LABEL_PAD_ID
            else:
                labels[labels == self.tokenizer.pad_token_id] = LABEL_PAD_ID
            batch["labels"] = labels
        return batch

    def torch_mask_tokens(self, inputs: torch.Tensor, special_tokens_mask: torch.Tensor | None = None):
        """Pick, mask and relabel tokens for MLM; returns ``(inputs, labels)``, both (batch, seq)."""
        inputs = inputs.clone()
        labels = inputs.clone()
        if special_tokens_mask is None:
            special_ids = torch.tensor(self.tokenizer.all_special_ids)
            special_tokens_mask = torch.isin(inputs, special_ids)  # [CLS], [SEP], [PAD] are never picked
        probability = torch.full(labels.shape, self.mlm_probability)
        probability.masked_fill_(special_tokens_mask.bool(), 0.0)
        picked = torch.bernoulli(probability).bool()  # (batch, seq)
        labels[~picked] = LABEL_PAD_ID  # the loss looks only at picked positions

        to_mask = torch.bernoulli(torch.full(labels.shape, self.mask_replace_prob)).bool() & picked
        inputs[to_mask] = self.tokenizer.mask_token_id
        if self.mask_replace_prob == 1 or self.random_replace_prob == 0:
            return inputs, labels
        # of what is left, this fraction becomes a random token (0.1 / 0.2 = half with the defaults)
        random_share = self.random_replace_prob / (1 - self.mask_replace_prob)
        to_randomize = torch.bernoulli(torch.full(labels.shape, random_share)).bool() & picked & ~to_mask
        random_tokens = torch.randint(len(self.tokenizer), labels.shape, dtype=torch.long)
        inputs[to_randomize] = random_tokens[to_randomize]
        return inputs, labels  # the remaining picked tokens keep their own id


__all__ = ["DataCollatorWithPadding", "DataCollatorForLanguageModeling", "default_data_collator"]
