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

    @property
    def timestamp_begin(self) -> int:
        """The id of ``<|0.00|>``: every id from here on is a timestamp, 20 ms (``time_precision``) apart."""
        first = self.convert_tokens_to_ids("<|0.00|>")
        return first if first is not None else max(self.all_special_ids) + 1

    def decode(self, token_ids, skip_special_tokens: bool = False, clean_up_tokenization_spaces: bool | None = None,
               output_offsets: bool = False, time_precision: float = 0.02, decode_with_timestamps: bool = False,
               **kwargs: Any):
        """Ids -> text, as transformers' ``WhisperTokenizer.decode``: with ``skip_special_tokens`` a
        previous-text prompt is dropped along with the special tokens; timestamp tokens are dropped
        from the text unless ``decode_with_timestamps`` writes them in (``<|1.08|>``, counted across
        30 s windows); ``output_offsets=True`` returns ``{"text", "offsets"}`` with one
        ``{"text", "timestamp": (start, end)}`` per segment between a pair of timestamps.
        (The English / basic text normalisers are not implemented.)"""
        unsupported = sorted(key for key, value in kwargs.items() if value)
        if unsupported:
            raise NotImplementedError(f"WhisperTokenizer.decode does not implement {unsupported}; use transformers' "
                                      "WhisperTokenizer for text normalisation.")
        raw = _to_list(token_ids)
        batched = isinstance(raw, list) and bool(raw) and isinstance(raw[0], list)
        if output_offsets and batched and len(raw) > 1:
            raise ValueError("output_offsets=True can only process a single input at a time: decode each row alone.")
        token_ids = raw
        # As transformers: the prompt is stripped from one sequence; a batch keeps its prompts' text.
        if skip_special_tokens and isinstance(token_ids, list) and not batched:
            token_ids = self._strip_prompt(token_ids)
        if decode_with_timestamps:
            rows = token_ids if batched else [token_ids]
            texts = [self._decode_with_timestamps(row, skip_special_tokens, time_precision) for row in rows]
            text = texts if batched else texts[0]
        else:
            text = super().decode(token_ids, skip_special_tokens, clean_up_tokenization_spaces)
            text = [TIMESTAMP_PATTERN.sub("", row) for row in text] if isinstance(text, list) \
                else TIMESTAMP_PATTERN.sub("", text)
        if output_offsets:
            return {"text": text, "offsets": self._offsets(raw[0] if batched else raw, time_precision)}
        return text

    def batch_decode(self, sequences, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: bool | None = None, **kwargs: Any) -> list:
        """Each row of a batch, with :meth:`decode`'s options (``decode_with_timestamps=True``...)."""
        decoded = self.decode(sequences, skip_special_tokens, clean_up_tokenization_spaces, **kwargs)
        return [decoded] if isinstance(decoded, (str, dict)) else decoded

    def _is_timestamp(self, token_ids: list[int]) -> list[bool]:
        begin = self.timestamp_begin
        return [token >= begin for token in token_ids]

    def _decode_with_timestamps(self, token_ids: list[int], skip_special_tokens: bool, time_precision: float,
                                segment_size: int = 1500) -> str:
        """Text runs decoded, timestamps written as ``<|t|>``. Times restart at 0.00 in each 30 s
        window (``segment_size`` frames); a timestamp below the last one means a new window: after a
        single closing timestamp the offset grows by a whole window; after a closing pair it grows
        by the pair's time, and that pair's first stamp (with the empty run after it) is dropped,
        as transformers does."""
        begin = self.timestamp_begin
        pieces: list[str | list[int]] = [[]]  # text runs (lists of ids) alternating with "<|t|>" strings
        latest = previous = offset = 0.0
        for i, token in enumerate(token_ids):
            if token < begin:
                pieces[-1].append(token)
                continue
            time = (token - begin) * time_precision
            if time < latest:  # a new 30 s window has started
                closed_by_pair = i >= 2 and token_ids[i - 1] >= begin and token_ids[i - 2] >= begin
                if closed_by_pair:
                    latest = previous
                    offset += previous
                    pieces = pieces[:-2]
                else:
                    offset += time_precision * segment_size
            previous, latest = latest, time
            pieces.extend([f"<|{time + offset:.2f}|>", []])
        return "".join(piece if isinstance(piece, str) else
                       super(WhisperTokenizer, self).decode(piece, skip_special_tokens) if piece else ""
                       for piece in pieces)

    def _offsets(self, token_ids: list[int], time_precision: float, segment_size: int = 1500) -> list[dict]:
        """One ``{"text", "timestamp": (start, end)}`` per segment, as transformers' ``_compute_offsets``.

        A segment runs from a timestamp to the next pair of adjacent timestamps (``<|a|> text <|b|><|b|>``),
        or to the last timestamp; its times are those of its first and last token, plus the length of
        the windows before it (a start below the previous end means a new window)."""
        stamp = self._is_timestamp(token_ids)
        positions = [i for i, is_stamp in enumerate(stamp) if is_stamp]
        cuts = [i for i in range(1, len(token_ids)) if stamp[i - 1] and stamp[i]]
        if not cuts and len(positions) <= 1:
            return []  # no timestamps, or a single one
        if positions[-1] + 1 not in cuts:
            cuts.append(positions[-1] + 1)
        begin = self.timestamp_begin
        offsets, start_of_slice, latest, windows = [], positions[0], 0, 0
        for cut in cuts:
            piece = token_ids[start_of_slice:cut]
            if len(piece) > 1:
                first, last = piece[0] - begin, piece[-1] - begin
                if first < latest:  # the next window has started
                    single_ending = start_of_slice >= 2 and not (stamp[start_of_slice - 2] and stamp[start_of_slice - 1])
                    windows += segment_size if single_ending else latest
                latest = last
                text = TIMESTAMP_PATTERN.sub("", super().decode(piece, False))
                offsets.append({"text": text, "timestamp": (first * time_precision + windows * time_precision,
                                                            last * time_precision + windows * time_precision)})
            start_of_slice = cut
        return offsets

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
