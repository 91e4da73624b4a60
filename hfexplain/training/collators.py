"""Data collators: turn a list of examples into one batch of tensors.

A ``DataLoader`` picks ``batch_size`` examples (dicts such as ``{"input_ids": [...],
"label": 1}``) and hands the list to its ``collate_fn``. Tokenized examples have different
lengths, so the collator pads them to the longest one in *this* batch (dynamic padding:
less work than padding everything to the model's maximum), builds the attention mask and
stacks the labels. Language-modelling collators also *make* the labels:

* **masked** (BERT): pick 15% of the tokens; of those, 80% become ``[MASK]``, 10% a random
  token, 10% stay; labels hold the original id at picked positions and -100 elsewhere
  (cross-entropy ignores -100);
* **whole-word masked**: the same, but a word split into pieces (``play ##ing``) is picked or
  left as a whole, so the model cannot guess ``##ing`` from ``play`` next to it;
* **causal** (GPT-2): labels are a copy of ``input_ids`` with padding set to -100; the model
  shifts them by one position itself (position t predicts token t + 1).

Per-token labels need padding too: ``DataCollatorForTokenClassification`` pads them to the
padded ``input_ids`` with -100 (one label per token, NER), ``DataCollatorForSeq2Seq`` to the
longest target (translation, summarization) and asks the model for the ``decoder_input_ids``
(the labels shifted right behind the decoder's start token).

The names, arguments and behaviour follow ``transformers.data.data_collator``. Randomness
(MLM masking) uses torch's global generator, which the Trainer seeds and checkpoints, so a
resumed run masks exactly as an uninterrupted one; ``seed=`` gives the collator its own
generator instead (as transformers' ``seed`` does; a resumed run then starts it afresh).
"""
from __future__ import annotations

import warnings
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


def _drop_text_fields(features: list[dict]) -> None:
    """Remove text columns (strings, lists of words, None) such as a dataset's raw ``text``: ``pad`` takes
    numbers only."""
    text_fields = [key for key, value in features[0].items() if _is_text(value)]
    for feature in features:
        for key in text_fields:
            feature.pop(key, None)


def _is_text(value) -> bool:
    if value is None or isinstance(value, str):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and isinstance(value[0], str)  # a list of words


def _as_list(values) -> list:
    """A row of labels as a plain list (it may come as a list, a tensor or a numpy array)."""
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _pad_row(values: list, length: int, pad_value, side: str) -> list:
    missing = [pad_value] * (length - len(values))
    return values + missing if side == "right" else missing + values


def _padding_strategy(padding) -> str:
    padding = getattr(padding, "value", padding)  # transformers' PaddingStrategy enum
    return {True: "longest", False: "do_not_pad", None: "do_not_pad"}.get(padding, padding)


def _check_return_tensors(return_tensors: str) -> None:
    if return_tensors != "pt":
        raise ValueError(f"hfexplain collators return PyTorch tensors only (return_tensors='pt'), got {return_tensors!r}.")


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
        _check_return_tensors(return_tensors)
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
        _drop_text_fields(features)
        batch = dict(self.tokenizer.pad(features, padding=self.padding, max_length=self.max_length,
                                        pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="pt"))
        for name, values in labels.items():
            batch[name] = _as_tensor(values)
        return _rename_label(batch)


class DataCollatorForTokenClassification:
    """Pad a batch for token classification (NER, POS): one label per token, padded with -100.

    The inputs are padded by ``tokenizer.pad``; the labels (``labels`` or ``label``, a list per
    example, -100 already on the special tokens) are padded to the same length on the
    tokenizer's ``padding_side`` with ``label_pad_token_id``, so the loss skips the padding.

    Args:
        tokenizer: the tokenizer that made the examples (its pad token and padding side).
        padding: ``True``/``"longest"`` (default), ``"max_length"`` or ``False``.
        max_length: the length for ``padding="max_length"``.
        pad_to_multiple_of: round the padded length up.
        label_pad_token_id: the label of padded positions (-100: ignored by cross-entropy).
    """

    def __init__(self, tokenizer, padding: bool | str = True, max_length: int | None = None,
                 pad_to_multiple_of: int | None = None, label_pad_token_id: int = LABEL_PAD_ID,
                 return_tensors: str = "pt"):
        _check_return_tensors(return_tensors)
        self.tokenizer = tokenizer
        self.padding = padding
        self.max_length = max_length
        self.pad_to_multiple_of = pad_to_multiple_of
        self.label_pad_token_id = label_pad_token_id
        self.return_tensors = return_tensors

    def __call__(self, features: Sequence[Mapping]) -> dict[str, torch.Tensor]:
        features = _features_as_dicts(features)
        label_name = "label" if "label" in features[0] else "labels"  # kept as it came, as in transformers
        labels = [_as_list(feature.pop(label_name)) for feature in features] if label_name in features[0] else None
        _drop_text_fields(features)
        batch = dict(self.tokenizer.pad(features, padding=self.padding, max_length=self.max_length,
                                        pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="pt"))
        if labels is None:
            return batch
        length = batch["input_ids"].shape[1]  # (batch, seq) after padding
        for row, values in enumerate(labels):
            if len(values) > length:
                raise ValueError(
                    f"Example {row} has {len(values)} labels but its input_ids are {length} tokens long after "
                    "padding: token classification takes one label per token. Truncate the labels together with "
                    "the text (align them with word_ids() after tokenizing with truncation=True)."
                )
        side = self.tokenizer.padding_side
        batch[label_name] = torch.tensor([_pad_row(values, length, self.label_pad_token_id, side) for values in labels],
                                         dtype=torch.int64)  # (batch, seq)
        return batch


class DataCollatorForSeq2Seq:
    """Pad a batch for sequence-to-sequence training (translation, summarization).

    The inputs are padded by ``tokenizer.pad``; the targets (``labels``, token ids made with
    ``tokenizer(text_target=...)``) are padded separately, to the longest target, with
    ``label_pad_token_id`` (-100). Given ``model=``, the collator also builds
    ``decoder_input_ids`` with ``model.prepare_decoder_input_ids_from_labels`` (the labels shifted
    one place right behind the decoder's start token), so the model need not do it in forward.

    Args:
        tokenizer: the tokenizer that made the examples.
        model: the encoder-decoder being trained (optional).
        padding: ``True``/``"longest"`` (default), ``"max_length"`` (labels too are padded to
            ``max_length``) or ``False``.
        max_length: the length for ``padding="max_length"``.
        pad_to_multiple_of: round the padded lengths (inputs and labels) up.
        label_pad_token_id: the label of padded positions (-100: ignored by cross-entropy).
    """

    def __init__(self, tokenizer, model=None, padding: bool | str = True, max_length: int | None = None,
                 pad_to_multiple_of: int | None = None, label_pad_token_id: int = LABEL_PAD_ID,
                 return_tensors: str = "pt"):
        _check_return_tensors(return_tensors)
        self.tokenizer = tokenizer
        self.model = model
        self.padding = padding
        self.max_length = max_length
        self.pad_to_multiple_of = pad_to_multiple_of
        self.label_pad_token_id = label_pad_token_id
        self.return_tensors = return_tensors

    def __call__(self, features: Sequence[Mapping], return_tensors: str | None = None) -> dict[str, torch.Tensor]:
        _check_return_tensors(return_tensors or self.return_tensors)
        features = _features_as_dicts(features)
        label_name = "label" if "label" in features[0] else "labels"
        labels = [feature.pop(label_name) for feature in features] if label_name in features[0] else None
        if labels is not None and all(values is None for values in labels):
            labels = None  # {"labels": None} rows: nothing to learn from, as in transformers
        _drop_text_fields(features)
        batch = dict(self.tokenizer.pad(features, padding=self.padding, max_length=self.max_length,
                                        pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="pt"))
        if labels is None:
            batch["labels"] = None
            return batch

        labels = [_as_list(values) for values in labels]
        strategy = _padding_strategy(self.padding)
        if strategy != "do_not_pad":
            if strategy == "max_length" and self.max_length is not None:
                length = self.max_length
            else:
                length = max(len(values) for values in labels)
            if self.pad_to_multiple_of is not None:
                length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of  # round up
            side = self.tokenizer.padding_side
            labels = [_pad_row(values, length, self.label_pad_token_id, side) for values in labels]
        lengths = sorted({len(values) for values in labels})
        if len(lengths) > 1:
            raise ValueError(
                f"The labels have different lengths ({lengths[0]} to {lengths[-1]}) and cannot be stacked into "
                f"one tensor: with padding={self.padding!r} (or a max_length shorter than a target) they are not "
                "padded to one length. Use padding=True, or tokenize the targets with truncation=True and the "
                "same max_length."
            )
        batch["labels"] = torch.tensor(labels, dtype=torch.int64)  # (batch, target_len)
        if self.model is not None and hasattr(self.model, "prepare_decoder_input_ids_from_labels"):
            batch["decoder_input_ids"] = self.model.prepare_decoder_input_ids_from_labels(labels=batch["labels"])
        return batch


class DataCollatorForLanguageModeling:
    """Pad a batch of token ids and make language-modelling labels.

    Args:
        tokenizer: gives the pad, mask and special tokens.
        mlm: ``True`` for masked language modelling (BERT), ``False`` for causal (GPT-2).
        whole_word_mask: pick whole words rather than tokens (needs ``offset_mapping`` in the
            examples: tokenize with ``return_offsets_mapping=True``). Every piece of a picked word
            becomes the mask token: random replacement is off, as in transformers.
        mlm_probability: the fraction of tokens (words) picked for prediction (0.15).
        mask_replace_prob: of the picked tokens, the fraction replaced by ``[MASK]`` (0.8).
        random_replace_prob: the fraction replaced by a random token (0.1); the rest stay.
        pad_to_multiple_of: round the padded length up.
        seed: draw the masking from the collator's own ``torch.Generator`` seeded with this
            (a DataLoader worker adds its id) instead of torch's global generator.

    Examples may be dicts with ``input_ids`` or plain lists of ids.
    """

    def __init__(self, tokenizer, mlm: bool = True, whole_word_mask: bool = False, mlm_probability: float = 0.15,
                 mask_replace_prob: float = 0.8, random_replace_prob: float = 0.1,
                 pad_to_multiple_of: int | None = None, return_tensors: str = "pt", seed: int | None = None):
        _check_return_tensors(return_tensors)
        if mlm and getattr(tokenizer, "mask_token", None) is None:
            raise ValueError(
                "This tokenizer has no mask token, which masked language modelling needs. "
                "Use mlm=False to train a causal language model (GPT-2 style), or a tokenizer with a [MASK] token."
            )
        if whole_word_mask and not mlm:
            raise ValueError("whole_word_mask=True masks words for masked language modelling: it needs mlm=True.")
        if mlm_probability is None or not 0 <= mlm_probability <= 1:
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
        if whole_word_mask and mask_replace_prob < 1:
            warnings.warn("Whole word masking replaces every picked piece by the mask token (random replacement "
                          "would break the word apart): mask_replace_prob is set to 1.", stacklevel=2)
            mask_replace_prob, random_replace_prob = 1.0, 0.0
        self.tokenizer = tokenizer
        self.mlm = mlm
        self.whole_word_mask = whole_word_mask
        self.mlm_probability = float(mlm_probability)
        self.mask_replace_prob = float(mask_replace_prob)
        self.random_replace_prob = float(random_replace_prob)
        self.pad_to_multiple_of = pad_to_multiple_of
        self.return_tensors = return_tensors
        self.seed = seed
        self.generator = None  # made on the first call, in the process (DataLoader worker) that uses it

    def __call__(self, examples: Sequence[Any]) -> dict[str, torch.Tensor]:
        if self.seed is not None and self.generator is None:
            worker = torch.utils.data.get_worker_info()  # each DataLoader worker masks with its own stream
            self.generator = torch.Generator().manual_seed(self.seed + (worker.id if worker is not None else 0))
        if examples and not isinstance(examples[0], Mapping):
            examples = [{"input_ids": list(example)} for example in examples]
        features = _features_as_dicts(examples)
        _drop_text_fields(features)
        # (start, end) characters per token: pad() leaves them alone, so they are padded here with (0, 0)
        offsets = [_as_list(feature.pop("offset_mapping")) for feature in features] if "offset_mapping" in features[0] else None
        batch = dict(self.tokenizer.pad(features, padding=True, pad_to_multiple_of=self.pad_to_multiple_of,
                                        return_tensors="pt"))
        special_tokens_mask = batch.pop("special_tokens_mask", None)
        if offsets is not None:
            length, side = batch["input_ids"].shape[1], self.tokenizer.padding_side
            offsets = torch.tensor([_pad_row([tuple(pair) for pair in row], length, (0, 0), side) for row in offsets],
                                   dtype=torch.long)  # (batch, seq, 2)
        if self.mlm:
            batch["input_ids"], batch["labels"] = self.torch_mask_tokens(batch["input_ids"], special_tokens_mask,
                                                                         offset_mapping=offsets)
        else:
            labels = batch["input_ids"].clone()  # (batch, seq)
            if "attention_mask" in batch:
                labels[batch["attention_mask"] == 0] = LABEL_PAD_ID
            else:
                labels[labels == self.tokenizer.pad_token_id] = LABEL_PAD_ID
            batch["labels"] = labels
        return batch

    def torch_mask_tokens(self, inputs: torch.Tensor, special_tokens_mask: torch.Tensor | None = None,
                          offset_mapping: torch.Tensor | None = None):
        """Pick, mask and relabel tokens for MLM; returns ``(inputs, labels)``, both (batch, seq)."""
        inputs = inputs.clone()
        labels = inputs.clone()
        if special_tokens_mask is None:
            special_ids = torch.tensor(self.tokenizer.all_special_ids)
            special_tokens_mask = torch.isin(inputs, special_ids)  # [CLS], [SEP], [PAD] are never picked
        special_tokens_mask = torch.as_tensor(special_tokens_mask).bool()
        probability = torch.full(labels.shape, self.mlm_probability)
        if self.whole_word_mask:
            if offset_mapping is None:
                raise ValueError(
                    "whole_word_mask=True finds words from each token's characters: tokenize the examples with "
                    "return_offsets_mapping=True so they carry an 'offset_mapping'."
                )
            word_ids, word_start = word_ids_from_offsets(torch.as_tensor(offset_mapping), special_tokens_mask)
            probability.masked_fill_(~word_start, 0.0)  # a word is drawn once, at its first piece
        else:
            probability.masked_fill_(special_tokens_mask, 0.0)
        picked = torch.bernoulli(probability, generator=self.generator).bool()  # (batch, seq)
        if self.whole_word_mask:
            picked = spread_to_whole_words(picked, word_ids)
        labels[~picked] = LABEL_PAD_ID  # the loss looks only at picked positions

        to_mask = torch.bernoulli(torch.full(labels.shape, self.mask_replace_prob), generator=self.generator).bool()
        to_mask &= picked
        inputs[to_mask] = self.tokenizer.mask_token_id
        if self.mask_replace_prob == 1 or self.random_replace_prob == 0:
            return inputs, labels
        # of what is left, this fraction becomes a random token (0.1 / 0.2 = half with the defaults)
        random_share = self.random_replace_prob / (1 - self.mask_replace_prob)
        to_randomize = torch.bernoulli(torch.full(labels.shape, random_share), generator=self.generator).bool()
        to_randomize &= picked & ~to_mask
        random_tokens = torch.randint(len(self.tokenizer), labels.shape, dtype=torch.long, generator=self.generator)
        inputs[to_randomize] = random_tokens[to_randomize]
        return inputs, labels  # the remaining picked tokens keep their own id


def word_ids_from_offsets(offset_mapping: torch.Tensor, special_tokens_mask: torch.Tensor):
    """Which word each token belongs to, from its characters (transformers' whole-word rule).

    A token starts a new word when it is not special and either does not touch the previous
    token's characters (a space between them) or follows a special token; ``##ing`` touches
    ``play``. Returns ``(word_ids, word_start)``, both (batch, seq): ids count words from 1 in
    each row, 0 marks special and pad tokens.
    """
    starts, ends = offset_mapping[..., 0], offset_mapping[..., 1]  # (batch, seq) each
    previous_end = ends.roll(1, dims=1)
    previous_end[:, 0] = -1  # the first token follows nothing
    previous_special = special_tokens_mask.roll(1, dims=1)
    previous_special[:, 0] = False
    word_start = ~special_tokens_mask & ((starts != previous_end) | previous_special)  # (batch, seq)
    word_ids = word_start.long().cumsum(dim=1).masked_fill(special_tokens_mask, 0)  # (batch, seq)
    return word_ids, word_start


def spread_to_whole_words(picked: torch.Tensor, word_ids: torch.Tensor) -> torch.Tensor:
    """(batch, seq) picked tokens -> (batch, seq) every token of a word that has a picked token."""
    rows = torch.arange(picked.shape[0]).unsqueeze(1).expand_as(picked)  # (batch, seq)
    picked_words = torch.zeros(picked.shape[0], picked.shape[1] + 1, dtype=torch.bool)  # (batch, words + 1)
    picked_words[rows[picked], word_ids[picked]] = True
    picked_words[:, 0] = False  # id 0: special tokens, never a word
    return picked_words.gather(1, word_ids)  # (batch, seq)


__all__ = [
    "DataCollatorForLanguageModeling",
    "DataCollatorForSeq2Seq",
    "DataCollatorForTokenClassification",
    "DataCollatorWithPadding",
    "default_data_collator",
]
