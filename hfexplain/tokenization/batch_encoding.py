"""BatchEncoding: what a tokenizer call returns.

A dict of model inputs (``input_ids``, ``attention_mask``, ...) with attribute access, the
backend ``tokenizers.Encoding`` of each row for alignment questions (``word_ids``,
``char_to_token``, ``token_to_chars``), and ``convert_to_tensors`` / ``to(device)``.
Non-text inputs return its sibling, :class:`hfexplain.processing.BatchFeature`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from tokenizers import Encoding


class CharSpan(NamedTuple):
    """Characters ``text[start:end]`` of the input text (what a token or a word covers)."""

    start: int
    end: int


class TokenSpan(NamedTuple):
    """Tokens ``tokens[start:end]`` of an encoded row (the pieces of a word)."""

    start: int
    end: int


class BatchEncoding(dict):
    """The output of a tokenizer call: a dict of model inputs plus the backend ``Encoding`` s.

    ``enc["input_ids"]`` and ``enc.input_ids`` are the same list (or tensor). Because it is a
    dict, ``model(**enc)`` passes every field as a keyword argument. The kept ``Encoding``
    objects answer alignment questions: which token came from which word (``word_ids``) or
    character (``char_to_token``), which text a token covers (``token_to_chars``).

    An integer index gives the backend ``Encoding`` of that batch row: ``enc[0].tokens``.
    """

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        encoding: Encoding | Sequence[Encoding] | None = None,
        tensor_type: str | None = None,
        prepend_batch_axis: bool = False,
        n_sequences: int | None = None,
    ):
        super().__init__(data or {})
        if isinstance(encoding, Encoding):
            encoding = [encoding]
        self._encodings = list(encoding) if encoding is not None else None
        if n_sequences is None and self._encodings:
            n_sequences = self._encodings[0].n_sequences
        self._n_sequences = n_sequences
        self.convert_to_tensors(tensor_type, prepend_batch_axis=prepend_batch_axis)

    # -- dict with attribute access -----------------------------------------------------------
    def __getattr__(self, name: str):
        if name.startswith("__") or name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"this BatchEncoding has no field {name!r}; it has {sorted(self.keys())}"
            ) from None

    def __getitem__(self, key):
        if isinstance(key, str):
            return super().__getitem__(key)
        if isinstance(key, int):
            if self._encodings is None:
                raise KeyError(
                    "an integer index gives the backend Encoding of a batch row, and this BatchEncoding has "
                    "none (it was not made by a tokenizer call). Index it with a field name such as 'input_ids'."
                )
            return self._encodings[key]
        if isinstance(key, slice):
            return {name: value[key] for name, value in self.items()}
        raise KeyError(f"index a BatchEncoding with a field name (str), a batch row (int) or a slice, not {key!r}")

    def __repr__(self) -> str:
        return dict.__repr__(self)  # printed as the dict it is, as transformers' BatchEncoding prints

    # -- alignment, through the backend Encodings ---------------------------------------------
    @property
    def encodings(self) -> list[Encoding] | None:
        """The backend ``tokenizers.Encoding`` of each row (``None`` when not made by a call)."""
        return self._encodings

    @property
    def n_sequences(self) -> int | None:
        """1 for single texts, 2 for (text, text_pair) inputs, None when unknown."""
        return self._n_sequences

    @property
    def is_fast(self) -> bool:
        return self._encodings is not None

    def _encoding(self, batch_index: int, method: str) -> Encoding:
        if self._encodings is None:
            raise ValueError(
                f"{method}() needs the backend Encodings, which only the output of a tokenizer call has "
                "(not the output of pad() or a dict you built)."
            )
        return self._encodings[batch_index]

    def tokens(self, batch_index: int = 0) -> list[str]:
        """The token strings of row ``batch_index``, padding included."""
        return self._encoding(batch_index, "tokens").tokens

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token, the index of the word it came from (``None`` for special and pad tokens)."""
        return self._encoding(batch_index, "word_ids").word_ids

    def words(self, batch_index: int = 0) -> list[int | None]:
        """The older name of :meth:`word_ids` (transformers keeps it, deprecated)."""
        return self.word_ids(batch_index)

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token, 0 (first text), 1 (text_pair) or ``None`` (special and pad tokens)."""
        return self._encoding(batch_index, "sequence_ids").sequence_ids

    @staticmethod
    def _split_index(batch_or_index: int, index: int | None) -> tuple[int, int]:
        # transformers' convention: f(i) means row 0, index i; f(b, i) means row b, index i.
        return (0, batch_or_index) if index is None else (batch_or_index, index)

    def _token(self, batch_or_token_index: int, token_index: int | None, method: str) -> tuple[Encoding, int]:
        """The row's Encoding and a token index, counted from the row's end when negative (-1: last token)."""
        batch_index, token_index = self._split_index(batch_or_token_index, token_index)
        encoding = self._encoding(batch_index, method)
        return encoding, token_index + len(encoding) if token_index < 0 else token_index

    def char_to_token(self, batch_or_char_index: int, char_index: int | None = None, sequence_index: int = 0):
        """Index of the token covering a character of the input text (``None`` for e.g. a space)."""
        batch_index, char_index = self._split_index(batch_or_char_index, char_index)
        return self._encoding(batch_index, "char_to_token").char_to_token(char_index, sequence_index)

    def char_to_word(self, batch_or_char_index: int, char_index: int | None = None, sequence_index: int = 0):
        """Index of the word covering a character of the input text."""
        batch_index, char_index = self._split_index(batch_or_char_index, char_index)
        return self._encoding(batch_index, "char_to_word").char_to_word(char_index, sequence_index)

    def token_to_chars(self, batch_or_token_index: int, token_index: int | None = None) -> CharSpan | None:
        """``CharSpan(start, end)``: the characters of the text a token covers (``None`` for special tokens)."""
        encoding, token_index = self._token(batch_or_token_index, token_index, "token_to_chars")
        span = encoding.token_to_chars(token_index)
        return CharSpan(*span) if span is not None else None

    def token_to_word(self, batch_or_token_index: int, token_index: int | None = None):
        """Index of the word a token belongs to (``None`` for special tokens)."""
        encoding, token_index = self._token(batch_or_token_index, token_index, "token_to_word")
        return encoding.token_to_word(token_index)

    def token_to_sequence(self, batch_or_token_index: int, token_index: int | None = None):
        """0 if a token comes from the first text, 1 from the ``text_pair`` (``None`` for special tokens)."""
        encoding, token_index = self._token(batch_or_token_index, token_index, "token_to_sequence")
        return encoding.token_to_sequence(token_index)

    def word_to_chars(self, batch_or_word_index: int, word_index: int | None = None,
                      sequence_index: int = 0) -> CharSpan | None:
        """``CharSpan(start, end)``: the characters of the text a word covers."""
        batch_index, word_index = self._split_index(batch_or_word_index, word_index)
        span = self._encoding(batch_index, "word_to_chars").word_to_chars(word_index, sequence_index)
        return CharSpan(*span) if span is not None else None

    def word_to_tokens(self, batch_or_word_index: int, word_index: int | None = None,
                       sequence_index: int = 0) -> TokenSpan | None:
        """``TokenSpan(start, end)``: the tokens of a word (``None`` when truncation dropped them)."""
        batch_index, word_index = self._split_index(batch_or_word_index, word_index)
        span = self._encoding(batch_index, "word_to_tokens").word_to_tokens(word_index, sequence_index)
        return TokenSpan(*span) if span is not None else None

    # -- tensors ------------------------------------------------------------------------------
    def convert_to_tensors(self, tensor_type: str | None = None, prepend_batch_axis: bool = False) -> BatchEncoding:
        """Turn every list field into a ``torch.Tensor`` (``"pt"``) or ``numpy.ndarray`` (``"np"``)."""
        if tensor_type is None:
            return self
        tensor_type = getattr(tensor_type, "value", tensor_type)  # accept transformers' TensorType enum
        if tensor_type == "pt":
            import torch

            def as_tensor(value):
                return torch.tensor(value, dtype=torch.long if _is_empty(value) else None)

            def is_tensor(value):
                return torch.is_tensor(value)

        elif tensor_type == "np":
            import numpy as np

            def as_tensor(value):
                return np.asarray(value, dtype=np.int64 if _is_empty(value) else None)

            def is_tensor(value):
                return isinstance(value, np.ndarray)

        else:
            raise ValueError(f"return_tensors={tensor_type!r} is not supported: use 'pt' (PyTorch), 'np' or None.")

        for name, value in self.items():
            if is_tensor(value):
                continue
            if prepend_batch_axis:
                value = [value]
            lengths = _row_lengths(value)
            if len(set(lengths)) > 1:
                raise ValueError(
                    f"Unable to create a tensor from {name!r}: its rows have different lengths "
                    f"({min(lengths)} to {max(lengths)} tokens). Pass padding=True (and truncation=True for "
                    "texts longer than the model takes) so every row has the same length, or leave "
                    "return_tensors=None to get lists."
                )
            self[name] = as_tensor(value)
        return self

    def to(self, device, *, non_blocking: bool = False) -> BatchEncoding:
        """Move every tensor field to ``device`` (PyTorch only); returns ``self``."""
        for name, value in self.items():
            if hasattr(value, "to") and callable(value.to):
                self[name] = value.to(device=device, non_blocking=non_blocking)
        return self

    def __reduce__(self):
        # Pickle (e.g. for DataLoader workers) without the unpicklable-by-default extras.
        return (BatchEncoding, (dict(self), self._encodings, None, False, self._n_sequences))


def _is_empty(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_is_empty(item) for item in value)
    return False


def _row_lengths(value) -> list[int]:
    """Lengths of the rows of a list of lists (an empty list when ``value`` is not nested)."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(row, (list, tuple)) for row in value):
        return [len(row) for row in value]
    return []

