"""Whisper's tokenizer: GPT-2's byte-level BPE plus the special tokens that steer the decoder.

Whisper's ``tokenizer.json`` is a GPT-2 tokenizer (byte-level BPE, ``<|endoftext|>``) with added
tokens after the text vocabulary::

    <|endoftext|> <|startoftranscript|> <|en|> <|zh|> ... (one per language)
    <|translate|> <|transcribe|> <|startoflm|> <|startofprev|> <|nocaptions|> <|notimestamps|>
    <|0.00|> <|0.02|> ... <|30.00|>              (timestamps, 20 ms apart; not special)

The generic :class:`~hfexplain.tokenization.Tokenizer` loads that file as it is. What
:class:`WhisperTokenizer` adds is the *prefix*: the tokens a transcript starts with,
``<|startoftranscript|> <|fr|> <|transcribe|> <|notimestamps|>`` (language and task from
``language=`` / ``task=``, no ``<|notimestamps|>`` with ``predict_timestamps=True``); encoding a
text puts them in front and ``<|endoftext|>`` behind (labels for fine-tuning), and
:meth:`WhisperTokenizer.get_decoder_prompt_ids` gives them as ``(position, id)`` pairs. Decoding
with ``skip_special_tokens=True`` also drops a previous-text prompt (``<|startofprev|> ...``
before ``<|startoftranscript|>``), and timestamp tokens are filtered from the text.
"""
from __future__ import annotations

import re
from typing import Any

from tokenizers import processors

from .tokenizer import Tokenizer, _to_list

TASK_IDS = ["translate", "transcribe"]

# Language code -> name, in the order of the language tokens (<|en|> is the first after <|startoftranscript|>).
LANGUAGES: dict[str, str] = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
    "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
    "nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi",
    "fi": "finnish", "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
    "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
    "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak", "te": "telugu", "fa": "persian",
    "lv": "latvian", "bn": "bengali", "sr": "serbian", "az": "azerbaijani", "sl": "slovenian", "kn": "kannada",
    "et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
    "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer", "sn": "shona",
    "yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan", "ka": "georgian", "be": "belarusian",
    "tg": "tajik", "sd": "sindhi", "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek",
    "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk", "mt": "maltese",
    "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan", "tl": "tagalog", "mg": "malagasy",
    "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala", "ha": "hausa", "ba": "bashkir",
    "jw": "javanese", "su": "sundanese", "yue": "cantonese",
}
# Language name (and a few other names for the same languages) -> code.
TO_LANGUAGE_CODE: dict[str, str] = {
    **{name: code for code, name in LANGUAGES.items()},
    "burmese": "my", "valencian": "ca", "flemish": "nl", "haitian": "ht", "letzeburgesch": "lb",
    "pushto": "ps", "panjabi": "pa", "moldavian": "ro", "moldovan": "ro", "sinhalese": "si", "castilian": "es", "mandarin": "zh",
}
TIMESTAMP_PATTERN = re.compile(r"<\|(\d+\.\d+)\|>")


class WhisperTokenizer(Tokenizer):
    """The Whisper tokenizer: a :class:`Tokenizer` whose encodings start with Whisper's prefix.

    ``language`` ("french", "fr"), ``task`` ("transcribe" / "translate") and
    ``predict_timestamps`` choose the prefix (:attr:`prefix_tokens`); they are saved in
    ``tokenizer_config.json`` as transformers saves them.
    """

    def __init__(self, *args: Any, language: str | None = None, task: str | None = None,
                 predict_timestamps: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.language = language
        self.task = task
        self.predict_timestamps = predict_timestamps
        vocab = self.get_vocab()
        for name in ("<|startoftranscript|>", "<|notimestamps|>"):
            if name not in vocab:
                raise ValueError(
                    f"this tokenizer has no {name} token, so it is not a Whisper tokenizer; load the tokenizer.json of "
                    "a Whisper checkpoint (openai/whisper-*), or use Tokenizer for plain GPT-2 BPE."
                )
        self.set_prefix_tokens()

    # -- the prefix ------------------------------------------------------------------------------
    def set_prefix_tokens(self, language: str | None = None, task: str | None = None,
                          predict_timestamps: bool | None = None) -> None:
        """Change language / task / timestamps; encodings then start with the new prefix."""
        self.language = language if language is not None else self.language
        self.task = task if task is not None else self.task
        self.predict_timestamps = predict_timestamps if predict_timestamps is not None else self.predict_timestamps
        prefix = self.prefix_tokens
        names = self.convert_ids_to_tokens(prefix)
        eos, eos_id = self.eos_token, self.eos_token_id
        template = " ".join(f"{name}:0" for name in names)
        self.backend_tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{template} $A:0 {eos}:0", pair=f"{template} $A:0 $B:1 {eos}:1",
            special_tokens=[(eos, eos_id), *zip(names, prefix)])
        for key in ("language", "task", "predict_timestamps"):
            self.init_kwargs[key] = getattr(self, key)

    @property
    def prefix_tokens(self) -> list[int]:
        """``[<|startoftranscript|>, <|lang|>?, <|task|>?, <|notimestamps|>?]`` for the current settings."""
        start = self.convert_tokens_to_ids("<|startoftranscript|>")
        bos_sequence = [start]
        if self.language is not None:
            code = language_code(self.language)
            bos_sequence.append(start + 1 + list(LANGUAGES).index(code))
        if self.task is not None:
            if self.task not in TASK_IDS:
                raise ValueError(f"Unsupported task: {self.task}. Task should be in: {TASK_IDS}")
            bos_sequence.append(self.convert_tokens_to_ids(f"<|{self.task}|>"))
        if not self.predict_timestamps:
            bos_sequence.append(self.convert_tokens_to_ids("<|notimestamps|>"))
        return bos_sequence

    def get_decoder_prompt_ids(self, task: str | None = None, language: str | None = None,
                               no_timestamps: bool = True) -> list[tuple[int, int]]:
        """The prefix after ``<|startoftranscript|>`` as ``(position, id)`` pairs (the old
        ``forced_decoder_ids`` format): ``[(1, <|fr|>), (2, <|transcribe|>), (3, <|notimestamps|>)]``.
        Like transformers, this also makes them the tokenizer's prefix."""
        self.set_prefix_tokens(task=task, language=language, predict_timestamps=not no_timestamps)
        return [(rank + 1, token) for rank, token in enumerate(self.prefix_tokens[1:])]

    # -- decoding --------------------------------------------------------------------------------
    def timestamp_ids(self, time_precision: float = 0.02) -> list[int | None]:
        """The ids of ``<|0.00|>``, ``<|0.02|>`` ... ``<|30.00|>``."""
        return self.convert_tokens_to_ids([f"<|{i * time_precision:.2f}|>" for i in range(1501)])

    def decode(self, token_ids, skip_special_tokens: bool = False, clean_up_tokenization_spaces: bool | None = None,
               **kwargs: Any):
        """Ids -> text, as transformers' ``WhisperTokenizer.decode``: with ``skip_special_tokens`` a
        previous-text prompt is dropped along with the special tokens; timestamp tokens never show.
        (``output_offsets`` / ``decode_with_timestamps`` / normalizers are not implemented.)"""
        unsupported = sorted(key for key, value in kwargs.items() if value)
        if unsupported:
            raise NotImplementedError(f"WhisperTokenizer.decode does not implement {unsupported}; use transformers "
                                      "for timestamps, offsets and text normalisation.")
        token_ids = _to_list(token_ids)
        # As transformers: the prompt is stripped from one sequence; a batch keeps its prompts' text.
        if skip_special_tokens and isinstance(token_ids, list) and not (token_ids and isinstance(token_ids[0], list)):
            token_ids = self._strip_prompt(token_ids)
        text = super().decode(token_ids, skip_special_tokens, clean_up_tokenization_spaces)
        if isinstance(text, list):
            return [TIMESTAMP_PATTERN.sub("", row) for row in text]
        return TIMESTAMP_PATTERN.sub("", text)

    def _strip_prompt(self, token_ids: list) -> list:
        """Drop ``<|startofprev|> ...`` up to ``<|startoftranscript|>`` (or everything, if it never comes)."""
        prompt = self.convert_tokens_to_ids("<|startofprev|>")
        start = self.convert_tokens_to_ids("<|startoftranscript|>")
        if not token_ids or prompt is None or token_ids[0] != prompt:
            return token_ids
        return token_ids[token_ids.index(start):] if start in token_ids else []


def language_code(language: str) -> str:
    """"French" / "fr" -> "fr", or a ValueError listing what is supported."""
    lowered = language.lower()
    if lowered in TO_LANGUAGE_CODE:
        return TO_LANGUAGE_CODE[lowered]
    if lowered in LANGUAGES:
        return lowered
    is_code = len(lowered) == 2
    raise ValueError(f"Unsupported language: {language}. Language should be one of: "
                     f"{list(LANGUAGES) if is_code else list(TO_LANGUAGE_CODE)}.")


__all__ = ["LANGUAGES", "TASK_IDS", "TO_LANGUAGE_CODE", "WhisperTokenizer", "language_code"]
