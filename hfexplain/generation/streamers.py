"""Streamers: what ``generate(streamer=...)`` hands each new token to.

:class:`TextStreamer` prints whole words as they are produced; :class:`TextIteratorStreamer`
hands the text to an iterator (run ``generate`` in a thread).
"""
from __future__ import annotations

from queue import Queue
from typing import Any

import torch


class BaseStreamer:
    """What ``generate(streamer=...)`` talks to: ``put(token_ids)`` with the prompt first,
    then each new token; ``end()`` once at the end."""

    def put(self, value: torch.Tensor) -> None:
        raise NotImplementedError

    def end(self) -> None:
        raise NotImplementedError


class TextStreamer(BaseStreamer):
    """Print the text as it is generated, a whole word at a time.

    Args:
        tokenizer: anything with ``decode(ids, **decode_kwargs) -> str`` (hfexplain's
            ``Tokenizer`` or a transformers tokenizer).
        skip_prompt: do not print the prompt.
        **decode_kwargs: passed to ``decode`` (e.g. ``skip_special_tokens=True``).

    Why whole words: a token can be half a word or half a UTF-8 character, and the
    decoded text of a partial sequence can change when the next token arrives. So the
    streamer decodes everything since the last line break and prints only up to the
    last space; at a newline (or a CJK character, which stands alone) it prints all of
    it, and ``end()`` flushes the rest followed by a newline.
    """

    def __init__(self, tokenizer, skip_prompt: bool = False, **decode_kwargs: Any):
        if tokenizer is None:
            raise ValueError(
                f"{type(self).__name__} needs a tokenizer to turn token ids into text; pass the model's "
                "tokenizer, e.g. TextStreamer(AutoTokenizer.from_pretrained(path))."
            )
        if not callable(getattr(tokenizer, "decode", None)):
            raise TypeError(
                f"{type(self).__name__} needs a tokenizer with a decode() method, got {type(tokenizer).__name__}."
            )
        self.tokenizer = tokenizer
        self.skip_prompt = skip_prompt
        self.decode_kwargs = decode_kwargs
        self.token_cache: list[int] = []  # tokens since the last line break
        self.print_len = 0  # characters of their text already printed
        self.next_tokens_are_prompt = True

    def put(self, value: torch.Tensor) -> None:
        if value.dim() > 1 and value.shape[0] > 1:
            raise ValueError(
                f"{type(self).__name__} only supports batch size 1 (got {value.shape[0]} rows); generate one "
                "prompt at a time to stream it."
            )
        if value.dim() > 1:
            value = value[0]
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
        self.token_cache.extend(value.tolist())
        text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
        if text.endswith("\n"):  # a line is complete: print it and start afresh
            printable = text[self.print_len :]
            self.token_cache = []
            self.print_len = 0
        elif text and _is_cjk(ord(text[-1])):  # CJK characters are words of their own
            printable = text[self.print_len :]
            self.print_len += len(printable)
        else:  # print up to the last space: the last word may still change
            printable = text[self.print_len : text.rfind(" ") + 1]
            self.print_len += len(printable)
        self.on_finalized_text(printable)

    def end(self) -> None:
        printable = ""
        if self.token_cache:
            text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
            printable = text[self.print_len :]
        self.token_cache = []
        self.print_len = 0
        self.next_tokens_are_prompt = True
        self.on_finalized_text(printable, stream_end=True)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        """Print ``text``; subclasses send it elsewhere (a widget, a queue)."""
        print(text, flush=True, end=None if stream_end else "")


class TextIteratorStreamer(TextStreamer):
    """Like :class:`TextStreamer`, but hands the text to an iterator instead of printing.

    Run ``generate`` in a thread and iterate over the streamer in the caller (a widget's
    callback, a web handler); the iteration ends when generation does. ``timeout``
    (seconds) raises ``queue.Empty`` if no text arrives in time.
    """

    def __init__(self, tokenizer, skip_prompt: bool = False, timeout: float | None = None, **decode_kwargs: Any):
        super().__init__(tokenizer, skip_prompt, **decode_kwargs)
        self.text_queue: Queue = Queue()
        self.stop_signal = None
        self.timeout = timeout

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        self.text_queue.put(text, timeout=self.timeout)
        if stream_end:
            self.text_queue.put(self.stop_signal, timeout=self.timeout)

    def __iter__(self):
        return self

    def __next__(self) -> str:
        value = self.text_queue.get(timeout=self.timeout)
        if value is self.stop_signal:
            raise StopIteration
        return value


def _is_cjk(codepoint: int) -> bool:
    """True for code points of the CJK Unified Ideographs blocks (Chinese characters)."""
    return (
        0x4E00 <= codepoint <= 0x9FFF
        or 0x3400 <= codepoint <= 0x4DBF
        or 0x20000 <= codepoint <= 0x2A6DF
        or 0x2A700 <= codepoint <= 0x2B73F
        or 0x2B740 <= codepoint <= 0x2B81F
        or 0x2B820 <= codepoint <= 0x2CEAF
        or 0xF900 <= codepoint <= 0xFAFF
        or 0x2F800 <= codepoint <= 0x2FA1F
    )
