"""CLIPTokenizer: CLIP's byte-level BPE, whose tokens mark the *end* of a word.

GPT-2 marks a word's start (``Ġcat``: the space before it); CLIP marks its end (``cat</w>``), and
lower-cases the text and squeezes its whitespace first. The pipeline itself is a plain
``tokenizers`` backend (``tokenizer.json``, or rebuilt from ``vocab.json`` + ``merges.txt`` by
``legacy.build_clip_backend``); what this class adds is transformers' decoding rule: the byte-level
decoder leaves the ``</w>`` markers in (``"a</w>photo</w>"``), and each becomes a space, the
text's ends stripped (``"a photo"``). Every text is wrapped in ``<|startoftext|> ... <|endoftext|>``,
and padding repeats ``<|endoftext|>`` (the HF repos' ``pad_token``), which is why CLIP's text tower
reads each text at the *first* end-of-text token.
"""
from __future__ import annotations

from .legacy import CLIP_END_OF_WORD
from .tokenizer import Tokenizer


class CLIPTokenizer(Tokenizer):
    """``Tokenizer`` with CLIP's decoding; saved as ``CLIPTokenizer`` (a family's declared tokenizer saves its
    own name: ``Tokenizer.saved_tokenizer_class``) so both libraries load it back as one."""

    def _decode_one(self, ids: list, skip_special_tokens: bool, clean_up_tokenization_spaces: bool | None) -> str:
        text = super()._decode_one(ids, skip_special_tokens, clean_up_tokenization_spaces)
        suffix = getattr(self.backend_tokenizer.model, "end_of_word_suffix", None) or CLIP_END_OF_WORD
        return text.replace(suffix, " ").strip()

    def convert_tokens_to_string(self, tokens) -> str:
        return super().convert_tokens_to_string(tokens).replace(CLIP_END_OF_WORD, " ").strip()


__all__ = ["CLIPTokenizer"]
