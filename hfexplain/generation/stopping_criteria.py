"""Stopping criteria: when does a row stop growing?

``criterion(input_ids, scores) -> (b,) bool``: True for each row that is done. ``generate``
builds a :class:`StoppingCriteriaList` (as transformers' ``_get_stopping_criteria`` does:
maximum length, maximum time, stop strings, end-of-sequence tokens, then the caller's own),
asks it after every new token, and pads a finished row until all rows are done. In beam
search the list is asked about every candidate: one that is done joins the finished pool.

Shapes: b=batch (times beams or candidates), s=sequence so far.
"""
from __future__ import annotations

import time
from typing import Any

import torch

from .configuration_utils import _is_int


class StoppingCriteria:
    """Base class: ``criterion(input_ids, scores, **kwargs) -> (b,) bool`` (True = stop).

    ``input_ids`` (b, s) is everything so far; ``scores`` the tuple of per-step scores when
    ``generate`` collects them (``return_dict_in_generate=True, output_scores=True``),
    else ``None``.
    """

    def __call__(self, input_ids: torch.Tensor, scores: tuple[torch.Tensor, ...] | None, **kwargs: Any) -> torch.Tensor:
        raise NotImplementedError("StoppingCriteria needs to be subclassed: write __call__(input_ids, scores)")

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={value!r}" for key, value in self._shown_settings().items())
        return f"{type(self).__name__}({shown})"

    def _shown_settings(self) -> dict[str, Any]:
        return {}


class StoppingCriteriaList(list):
    """Criteria asked together: a row is done as soon as any criterion says so."""

    def __call__(self, input_ids: torch.Tensor, scores: tuple[torch.Tensor, ...] | None, **kwargs: Any) -> torch.Tensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)  # (b,)
        for criterion in self:
            done = done | _as_row_flags(criterion(input_ids, scores, **kwargs), input_ids, criterion)
        return done

    @property
    def max_length(self) -> int | None:
        """The ``max_length`` of the first :class:`MaxLengthCriteria` in the list, if any."""
        return next((c.max_length for c in self if isinstance(c, MaxLengthCriteria)), None)


def _as_row_flags(flags, input_ids: torch.Tensor, criterion) -> torch.Tensor:
    """A criterion's answer as (b,) bool; a plain True/False counts for every row."""
    if isinstance(flags, bool):
        return torch.full((input_ids.shape[0],), flags, dtype=torch.bool, device=input_ids.device)
    if not isinstance(flags, torch.Tensor) or flags.numel() != input_ids.shape[0]:
        raise TypeError(
            f"{type(criterion).__name__} must return a bool tensor with one value per row ({input_ids.shape[0]}), "
            f"got {flags!r}."
        )
    return flags.reshape(-1).to(device=input_ids.device, dtype=torch.bool)


class MaxLengthCriteria(StoppingCriteria):
    """Stop every row once the sequence (prompt included, for decoder-only models) holds
    ``max_length`` tokens. ``max_position_embeddings`` is kept for transformers' signature."""

    def __init__(self, max_length: int, max_position_embeddings: int | None = None):
        if not _is_int(max_length) or max_length < 1:
            raise ValueError(f"max_length must be an integer >= 1, got {max_length!r}.")
        self.max_length = max_length
        self.max_position_embeddings = max_position_embeddings

    def __call__(self, input_ids: torch.Tensor, scores=None, **kwargs: Any) -> torch.Tensor:
        done = input_ids.shape[1] >= self.max_length
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

    def _shown_settings(self) -> dict[str, Any]:
        return {"max_length": self.max_length}


class MaxTimeCriteria(StoppingCriteria):
    """Stop every row once ``max_time`` seconds have passed since ``initial_timestamp``
    (by default: when the criterion was made, i.e. when ``generate`` started)."""

    def __init__(self, max_time: float, initial_timestamp: float | None = None):
        self.max_time = max_time
        self.initial_timestamp = time.time() if initial_timestamp is None else initial_timestamp

    def __call__(self, input_ids: torch.Tensor, scores=None, **kwargs: Any) -> torch.Tensor:
        done = time.time() - self.initial_timestamp > self.max_time
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

    def _shown_settings(self) -> dict[str, Any]:
        return {"max_time": self.max_time}


class EosTokenCriteria(StoppingCriteria):
    """Stop a row when its last token is an end-of-sequence token (any of ``eos_token_id``)."""

    def __init__(self, eos_token_id: int | list[int] | torch.Tensor):
        self.eos_token_id = torch.as_tensor(eos_token_id, dtype=torch.long).reshape(-1)

    def __call__(self, input_ids: torch.Tensor, scores=None, **kwargs: Any) -> torch.Tensor:
        return torch.isin(input_ids[:, -1], self.eos_token_id.to(input_ids.device))

    def _shown_settings(self) -> dict[str, Any]:
        return {"eos_token_id": self.eos_token_id.tolist()}


class StopStringCriteria(StoppingCriteria):
    """Stop a row as soon as its text ends in one of ``stop_strings``.

    "Ends in" means: the stop string occurs in the text of the last tokens and the
    occurrence reaches into the newest token (it may run past the string's end: for "stop",
    the tokens ["st", "opera"] match; ["stop", "at"] does not, since dropping "at" leaves
    the match whole; the check after "stop" already caught it). Each token's text is read
    once from the tokenizer: for a byte-level BPE (GPT-2) the raw bytes it stands for, so a
    stop string can end in the middle of a multi-byte character.

    transformers precomputes a table of where each token may sit inside each stop string,
    so that the check is pure tensor work; here the check walks back over the last tokens
    in Python, which reads more simply and decides the same.
    """

    def __init__(self, tokenizer, stop_strings: str | list[str]):
        if isinstance(stop_strings, str):
            stop_strings = [stop_strings]
        if not stop_strings or not all(isinstance(text, str) and text for text in stop_strings):
            raise ValueError(f"stop_strings must be non-empty strings, got {stop_strings!r}.")
        if tokenizer is None or not callable(getattr(tokenizer, "get_vocab", None)):
            raise ValueError(
                "stop strings need the model's tokenizer to read tokens as text: pass generate(..., stop_strings=..., "
                "tokenizer=tokenizer)."
            )
        self.stop_strings = tuple(stop_strings)
        self.token_bytes = _token_bytes(tokenizer)  # id -> the bytes that token stands for
        self.stop_bytes = tuple(text.encode("utf-8") for text in self.stop_strings)
        self.longest = max(len(stop) for stop in self.stop_bytes)

    def __call__(self, input_ids: torch.Tensor, scores=None, **kwargs: Any) -> torch.Tensor:
        done = [self._row_ends_in_a_stop_string(row) for row in input_ids[:, -self.longest:].tolist()]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def _row_ends_in_a_stop_string(self, ids: list[int]) -> bool:
        newest = self.token_bytes.get(ids[-1], b"")
        for stop in self.stop_bytes:
            # Enough text before the newest token for a match that ends just inside it.
            tail, k = newest, len(ids) - 1
            while len(tail) - len(newest) < len(stop) - 1 and k > 0:
                k -= 1
                tail = self.token_bytes.get(ids[k], b"") + tail
            start_of_newest = len(tail) - len(newest)
            at = tail.find(stop)
            while at != -1:
                if at + len(stop) > start_of_newest:  # the match reaches into the newest token
                    return True
                at = tail.find(stop, at + 1)
        return False

    def _shown_settings(self) -> dict[str, Any]:
        return {"stop_strings": list(self.stop_strings)}


def _token_bytes(tokenizer) -> dict[int, bytes]:
    """What each token of the vocabulary stands for, as bytes.

    A byte-level BPE writes each byte as one printable character (GPT-2's ``Ġ`` for a
    space): map them back. Any other vocabulary: let the tokenizer turn the token into
    text after a fixed prefix, and keep what follows the prefix, so that a leading space
    ("▁the", "Ġthe") is kept and nothing else is added.
    """
    vocab = tokenizer.get_vocab()
    byte_of = {char: byte for byte, char in _bytes_to_unicode().items()}
    byte_level = _is_byte_level(tokenizer)
    prefix = "abcdef"
    prefix_tokens = None
    table = {}
    for token, index in vocab.items():
        if byte_level and all(char in byte_of for char in token):
            table[index] = bytes(byte_of[char] for char in token)
            continue
        if prefix_tokens is None:
            prefix_tokens = tokenizer.convert_ids_to_tokens(tokenizer(prefix, add_special_tokens=False)["input_ids"])
        text = tokenizer.convert_tokens_to_string(list(prefix_tokens) + [token])
        table[index] = text[text.index(prefix) + len(prefix):].encode("utf-8") if prefix in text else \
            text.encode("utf-8")
    return table


def _is_byte_level(tokenizer) -> bool:
    """Whether the tokenizer's decoder is byte-level (GPT-2, RoBERTa, Llama 3 ...)."""
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    decoder = getattr(backend, "decoder", None)
    if decoder is None:
        return False
    if type(decoder).__name__ == "ByteLevel":
        return True
    state = getattr(decoder, "__getstate__", lambda: None)()
    if isinstance(state, bytes):
        state = state.decode("utf-8", errors="replace")
    return isinstance(state, str) and '"ByteLevel"' in state and '"ByteFallback"' not in state


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table: each byte 0..255 as one printable character (printable bytes as
    themselves, the others shifted to code points from 256 on)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    table, shifted = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + shifted)
            shifted += 1
    return table
