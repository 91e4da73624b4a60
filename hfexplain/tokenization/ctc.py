"""Wav2Vec2CTCTokenizer: a character vocabulary for CTC speech models, in plain Python.

A CTC model (``Wav2Vec2ForCTC``) scores every audio frame over a small vocabulary: the letters,
an apostrophe, a *word delimiter* ``|`` standing for the space, ``<unk>``, and the **blank**,
which is the pad token ``<pad>``. ``vocab.json`` is that table (token -> id). There is nothing
for the ``tokenizers`` library to learn or merge, so this class is a dict lookup::

    encode:  "HELLO WORLD" -> H E L L O | W O R L D -> ids
    decode:  frame ids     -> merge runs of the same id -> drop blanks -> "|" becomes " "

    frames:  H H E <pad> L L <pad> L O O | W ...
    merged:  H   E <pad> L   <pad> L O   | W ...   (a blank between two L's keeps them apart)
    text:    "HELL" "O" " " "W" ...

The behaviour is transformers' ``Wav2Vec2CTCTokenizer`` (5.x), tested against it:

* Multi-character vocabulary entries (``<pad>``, ``<s>``, ``</s>``, ``<unk>``) are matched whole
  in the text, longest first, and swallow the whitespace around them; everything else is split
  into characters, with each space turned into the delimiter. ``do_lower_case=True`` upper-cases
  the text first (the vocabulary is upper case) and lower-cases decoded text.
* Special tokens the vocabulary lacks (``<s>``, ``</s>``, ``<unk>``) get the next ids, as
  transformers adds them; a vocabulary without its pad token has no blank, and is refused.
* ``decode(skip_special_tokens=True)`` drops ``<s>``, ``</s>``, ``<unk>``, ``<pad>`` but never the
  delimiter; ``output_char_offsets`` / ``output_word_offsets`` say which frames each character
  or word came from (frame index x ``inputs_to_logits_ratio`` / sampling rate = seconds).

Files: ``vocab.json`` and ``tokenizer_config.json`` (``tokenizer_class: "Wav2Vec2CTCTokenizer"``,
which is how ``AutoTokenizer`` picks this class), readable by transformers.
"""
from __future__ import annotations

import json
import os
import re
from itertools import groupby
from typing import Any

from ..hub import cached_file
from .batch_encoding import BatchEncoding
from .files import SPECIAL_TOKENS_MAP_FILE, TOKENIZER_CONFIG_FILE, VERY_LARGE_INTEGER, _as_token, _read_json

VOCAB_FILE = "vocab.json"
_HUB_ARGUMENTS = ("revision", "cache_dir", "token", "local_files_only", "subfolder")
_SPECIAL_NAMES = ("bos_token", "eos_token", "unk_token", "pad_token")


class Wav2Vec2CTCTokenizerOutput(dict):
    """``decode(..., output_char_offsets=True)``: ``text``, ``char_offsets``, ``word_offsets``.

    A dict with attribute access; as transformers' output, a field that is None is not a key.
    """

    FIELDS = ("text", "char_offsets", "word_offsets")

    def __init__(self, data=None, **fields):
        super().__init__({key: value for key, value in {**dict(data or {}), **fields}.items() if value is not None})

    def __getattr__(self, name: str):
        if name in self:
            return self[name]
        if name in self.FIELDS:
            return None
        raise AttributeError(name)


class Wav2Vec2CTCTokenizer:
    """Characters <-> ids for CTC, with the pad token as the blank.

    >>> tok = Wav2Vec2CTCTokenizer.from_pretrained(path)       # doctest: +SKIP
    >>> tok("HELLO WORLD").input_ids                           # doctest: +SKIP
    >>> tok.batch_decode(logits.argmax(-1))                    # doctest: +SKIP
    """

    model_input_names = ["input_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file: str | os.PathLike | None = None,
        *,
        vocab: dict[str, int] | None = None,
        bos_token: str = "<s>",
        eos_token: str = "</s>",
        unk_token: str = "<unk>",
        pad_token: str = "<pad>",
        word_delimiter_token: str = "|",
        replace_word_delimiter_char: str = " ",
        do_lower_case: bool = False,
        target_lang: str | None = None,
        model_max_length: int | None = None,
        padding_side: str = "right",
        clean_up_tokenization_spaces: bool = False,
        name_or_path: str = "",
        **init_kwargs: Any,
    ):
        if (vocab_file is None) == (vocab is None):
            raise ValueError("Wav2Vec2CTCTokenizer() needs exactly one of vocab_file= (a vocab.json path) or vocab= "
                             "(a dict token -> id). To load a folder or Hub repo, use from_pretrained().")
        if vocab is None:
            vocab = _read_json(os.fspath(vocab_file))
        self.vocab = dict(vocab)  # as saved: nested {lang: {token: id}} for multilingual vocabularies
        if target_lang is not None:
            if target_lang not in self.vocab or not isinstance(self.vocab[target_lang], dict):
                raise ValueError(f"target_lang {target_lang!r} is not in this vocabulary; it has "
                                 f"{sorted(k for k, v in self.vocab.items() if isinstance(v, dict))}.")
            encoder = self.vocab[target_lang]
        else:
            encoder = self.vocab
        if any(isinstance(value, dict) for value in encoder.values()):
            raise ValueError("this vocab.json holds one vocabulary per language; pass target_lang= to pick one, "
                             f"e.g. target_lang={next(k for k, v in encoder.items() if isinstance(v, dict))!r}.")
        pad_token, unk_token = str(_as_token(pad_token)), str(_as_token(unk_token))
        if pad_token not in encoder:
            raise ValueError(
                f"this CTC vocabulary has no pad token {pad_token!r}, which CTC uses as its blank (the 'no "
                "character here' label, usually id 0). Add it to vocab.json, or name the vocabulary's blank with "
                "pad_token=..."
            )
        self.encoder: dict[str, int] = {str(token): int(index) for token, index in encoder.items()}
        self.decoder: dict[int, str] = {index: token for token, index in self.encoder.items()}
        self.bos_token = None if bos_token is None else str(_as_token(bos_token))
        self.eos_token = None if eos_token is None else str(_as_token(eos_token))
        self.unk_token = unk_token
        self.pad_token = pad_token
        self.word_delimiter_token = word_delimiter_token
        self.replace_word_delimiter_char = replace_word_delimiter_char
        self.do_lower_case = bool(do_lower_case)
        self.target_lang = target_lang
        self.model_max_length = VERY_LARGE_INTEGER if model_max_length is None else int(model_max_length)
        if padding_side not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}.")
        self.padding_side = padding_side
        self.clean_up_tokenization_spaces = bool(clean_up_tokenization_spaces)
        self.name_or_path = os.fspath(name_or_path)
        self.init_kwargs = {key: value for key, value in init_kwargs.items()
                            if key not in ("added_tokens_decoder", "backend", "tokenizer_class", "vocab_file")}

        # Special tokens missing from the vocabulary get the next ids (in transformers' order).
        self.added_tokens_encoder: dict[str, int] = {}
        for token in (self.bos_token, self.eos_token, self.unk_token, self.word_delimiter_token):
            if token is not None and token not in self.encoder and token not in self.added_tokens_encoder:
                self.added_tokens_encoder[token] = len(self.encoder) + len(self.added_tokens_encoder)
        # Matched whole in the text before splitting into characters (longest first).
        whole = [token for token in [*self.encoder, *self.added_tokens_encoder] if len(token) > 1]
        whole += [token for token in self.all_special_tokens if token not in whole]
        self._strips = {token for token in self.encoder if len(token) > 1}  # these swallow surrounding whitespace
        self._whole_tokens = sorted(whole, key=len, reverse=True)
        self._split_pattern = re.compile("(" + "|".join(map(re.escape, self._whole_tokens)) + ")") if whole else None

    # -- loading and saving -------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **kwargs: Any) -> Wav2Vec2CTCTokenizer:
        """Read ``vocab.json`` and ``tokenizer_config.json`` from a folder or Hub repo; keyword arguments
        other than the hub ones (``revision``, ``cache_dir``, ...) override the saved settings."""
        where = {key: kwargs.pop(key) for key in list(kwargs) if key in _HUB_ARGUMENTS}

        def find(filename: str) -> str | None:
            return cached_file(path_or_repo_id, filename, required=False, **where)

        vocab_path = find(VOCAB_FILE)
        if vocab_path is None:
            raise OSError(f"{os.fspath(path_or_repo_id)!r} has no {VOCAB_FILE}, the CTC tokenizer's character "
                          "vocabulary. Save one there with save_pretrained(), or point to the folder that has it.")
        settings = _read_json(find(TOKENIZER_CONFIG_FILE))
        settings.update(_read_json(find(SPECIAL_TOKENS_MAP_FILE)))
        settings.update(kwargs)
        settings.pop("name_or_path", None)
        return cls(vocab_path, name_or_path=os.fspath(path_or_repo_id), **settings)

    def save_pretrained(self, save_directory: str | os.PathLike) -> tuple[str, ...]:
        """Write ``vocab.json`` and ``tokenizer_config.json`` (both libraries load the folder)."""
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise NotADirectoryError(f"save_pretrained() needs a folder, but {save_directory!r} is a file.")
        os.makedirs(save_directory, exist_ok=True)
        config = dict(self.init_kwargs)
        config.update(
            bos_token=self.bos_token, eos_token=self.eos_token, unk_token=self.unk_token, pad_token=self.pad_token,
            word_delimiter_token=self.word_delimiter_token, replace_word_delimiter_char=self.replace_word_delimiter_char,
            do_lower_case=self.do_lower_case, target_lang=self.target_lang, model_max_length=self.model_max_length,
            padding_side=self.padding_side, clean_up_tokenization_spaces=self.clean_up_tokenization_spaces,
            tokenizer_class="Wav2Vec2CTCTokenizer",
        )
        vocab_path = os.path.join(save_directory, VOCAB_FILE)
        config_path = os.path.join(save_directory, TOKENIZER_CONFIG_FILE)
        with open(vocab_path, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(self.vocab, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        with open(config_path, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        return (config_path, vocab_path)

    # -- the vocabulary ------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.decoder)

    def __len__(self) -> int:
        return len(self.encoder) + len(self.added_tokens_encoder)

    def get_vocab(self) -> dict[str, int]:
        return {**self.encoder, **self.added_tokens_encoder}

    @property
    def all_special_tokens(self) -> list[str]:
        tokens = [self.bos_token, self.eos_token, self.unk_token, self.pad_token, self.word_delimiter_token]
        return list(dict.fromkeys(token for token in tokens if token is not None))

    @property
    def all_special_ids(self) -> list[int]:
        return [self.convert_tokens_to_ids(token) for token in self.all_special_tokens]

    def _token_id(self, token: str | None) -> int | None:
        if token is None:
            return None
        if token in self.encoder:
            return self.encoder[token]
        return self.added_tokens_encoder.get(token)

    @property
    def pad_token_id(self) -> int:
        return self._token_id(self.pad_token)

    @property
    def unk_token_id(self) -> int | None:
        return self._token_id(self.unk_token)

    @property
    def bos_token_id(self) -> int | None:
        return self._token_id(self.bos_token)

    @property
    def eos_token_id(self) -> int | None:
        return self._token_id(self.eos_token)

    @property
    def word_delimiter_token_id(self) -> int | None:
        return self._token_id(self.word_delimiter_token)

    def convert_tokens_to_ids(self, tokens: str | list[str]) -> int | list[int]:
        """Token(s) -> id(s); a character outside the vocabulary becomes ``unk_token``'s id."""
        if isinstance(tokens, str):
            found = self._token_id(tokens)
            return self.unk_token_id if found is None else found
        return [self.convert_tokens_to_ids(token) for token in tokens]

    def convert_ids_to_tokens(self, ids: int | list[int], skip_special_tokens: bool = False) -> str | list[str]:
        """Id(s) -> token(s); an unknown id becomes ``unk_token``."""
        added = {index: token for token, index in self.added_tokens_encoder.items()}
        if isinstance(ids, int):
            return self.decoder.get(ids, added.get(ids, self.unk_token))
        special = set(self.all_special_ids) if skip_special_tokens else set()
        return [self.decoder.get(int(i), added.get(int(i), self.unk_token)) for i in ids if int(i) not in special]

    # -- encoding ------------------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        """Whole multi-character tokens first (they swallow the whitespace next to them), then characters."""
        if not isinstance(text, str):
            raise TypeError(f"tokenize() takes a string, got {type(text).__name__}.")
        pieces = self._split_pattern.split(text) if self._split_pattern is not None else [text]
        # pieces alternate: text, token, text, token, ..., text
        for i in range(1, len(pieces), 2):
            if pieces[i] in self._strips:
                pieces[i - 1] = pieces[i - 1].rstrip()
                pieces[i + 1] = pieces[i + 1].lstrip()
        tokens: list[str] = []
        for i, piece in enumerate(pieces):
            if i % 2:
                tokens.append(piece)
            elif piece:
                if self.do_lower_case:
                    piece = piece.upper()
                tokens.extend(piece.replace(" ", self.word_delimiter_token))
        return tokens

    def __call__(
        self,
        text: str | list[str],
        padding: bool | str = False,
        truncation: bool = False,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
    ) -> BatchEncoding:
        """Text (or a batch of texts) -> ``input_ids`` and ``attention_mask`` (no special tokens added)."""
        if isinstance(text, (list, tuple)):
            if not all(isinstance(item, str) for item in text):
                raise TypeError("a batch of texts must be a list of strings.")
            batch = [self.convert_tokens_to_ids(self.tokenize(item)) for item in text]
        elif isinstance(text, str):
            batch = [self.convert_tokens_to_ids(self.tokenize(text))]
        else:
            raise TypeError(f"Wav2Vec2CTCTokenizer() takes a string or a list of strings, got {type(text).__name__}.")
        if truncation:
            if max_length is None:
                raise ValueError("truncation=True needs max_length: tok(text, truncation=True, max_length=N).")
            batch = [ids[:max_length] for ids in batch]
        encoded = self._pad_ids(batch, padding, max_length, pad_to_multiple_of, return_attention_mask)
        single = not isinstance(text, (list, tuple))
        if single:  # one text: flat lists, (1, n) tensors
            encoded = {key: value[0] for key, value in encoded.items()}
        return BatchEncoding(encoded, tensor_type=return_tensors, prepend_batch_axis=single)

    def _pad_ids(self, batch: list[list[int]], padding, max_length, pad_to_multiple_of, return_attention_mask) -> dict:
        if padding is True or padding == "longest":
            target = max((len(ids) for ids in batch), default=0)
        elif padding == "max_length":
            if max_length is None:
                raise ValueError("padding='max_length' needs max_length.")
            target = max_length
        elif padding in (False, None, "do_not_pad"):
            target = None
        else:
            raise ValueError(f"padding={padding!r} is not valid. Use True, False, 'longest', 'max_length' or 'do_not_pad'.")
        if target is not None and pad_to_multiple_of:
            target = -(-target // pad_to_multiple_of) * pad_to_multiple_of
        input_ids, masks = [], []
        for ids in batch:
            missing = max(0, target - len(ids)) if target is not None else 0
            pads, ones = [self.pad_token_id] * missing, [1] * len(ids)
            if self.padding_side == "right":
                input_ids.append(list(ids) + pads)
                masks.append(ones + [0] * missing)
            else:
                input_ids.append(pads + list(ids))
                masks.append([0] * missing + ones)
        encoded = {"input_ids": input_ids}
        if return_attention_mask is None or return_attention_mask:
            encoded["attention_mask"] = masks
        return encoded

    def pad(self, encoded_inputs, padding: bool | str = True, max_length: int | None = None,
            pad_to_multiple_of: int | None = None, return_attention_mask: bool | None = None,
            return_tensors: str | None = None) -> BatchEncoding:
        """Pad already-encoded rows (``{"input_ids": [[...], ...]}`` or a list of such dicts) with the pad id."""
        if isinstance(encoded_inputs, (list, tuple)):
            encoded_inputs = {"input_ids": [row["input_ids"] for row in encoded_inputs]}
        rows = [list(getattr(row, "tolist", lambda: row)()) for row in encoded_inputs["input_ids"]]
        padded = self._pad_ids(rows, padding, max_length, pad_to_multiple_of, return_attention_mask)
        return BatchEncoding(padded, tensor_type=return_tensors)

    # -- decoding ------------------------------------------------------------------------------------
    def decode(
        self,
        token_ids,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        output_char_offsets: bool = False,
        output_word_offsets: bool = False,
        group_tokens: bool = True,
        spaces_between_special_tokens: bool = False,
    ) -> str | Wav2Vec2CTCTokenizerOutput:
        """Frame ids (t,) -> text: merge repeats (``group_tokens``), drop blanks, delimiter -> space."""
        token_ids = _as_id_list(token_ids)
        tokens = self.convert_ids_to_tokens(token_ids)
        if skip_special_tokens:
            special = set(self.all_special_tokens) - {self.word_delimiter_token}
            tokens = [token for token in tokens if token not in special]
        if group_tokens:
            runs = [(token, len(list(run))) for token, run in groupby(tokens)]  # (token, how many frames)
        else:
            runs = [(token, 1) for token in tokens]
        chars = [self.replace_word_delimiter_char if token == self.word_delimiter_token else token
                 for token, _ in runs if token != self.pad_token]
        text = (" " if spaces_between_special_tokens else "").join(chars).strip()
        if self.do_lower_case:
            text = text.lower()
        clean = self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces
        if clean:
            from .tokenizer import clean_up_tokenization

            text = clean_up_tokenization(text)
        if not (output_char_offsets or output_word_offsets):
            return text
        char_offsets, start = [], 0
        for token, count in runs:  # frame spans of the kept characters
            if token != self.pad_token:
                char = self.replace_word_delimiter_char if token == self.word_delimiter_token else token
                char_offsets.append({"char": char, "start_offset": start, "end_offset": start + count})
            start += count
        word_offsets = _word_offsets(char_offsets, self.replace_word_delimiter_char) if output_word_offsets else None
        return Wav2Vec2CTCTokenizerOutput(text=text, char_offsets=char_offsets if output_char_offsets else None,
                                          word_offsets=word_offsets)

    def batch_decode(self, sequences, **kwargs: Any) -> list[str] | Wav2Vec2CTCTokenizerOutput:
        """``decode`` for each row of (b, t) ids; with offsets, one output whose fields are lists."""
        if hasattr(sequences, "tolist"):
            sequences = sequences.tolist()
        decoded = [self.decode(row, **kwargs) for row in sequences]
        if decoded and isinstance(decoded[0], Wav2Vec2CTCTokenizerOutput):
            return Wav2Vec2CTCTokenizerOutput({key: [row[key] for row in decoded] for key in decoded[0]})
        return decoded

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name_or_path={self.name_or_path!r}, vocab_size={self.vocab_size}, "
                f"pad_token={self.pad_token!r} (the blank), word_delimiter_token={self.word_delimiter_token!r})")


def _as_id_list(token_ids) -> list[int]:
    if hasattr(token_ids, "tolist"):  # torch / NumPy
        token_ids = token_ids.tolist()
    if isinstance(token_ids, int):
        return [token_ids]
    if token_ids and isinstance(token_ids[0], (list, tuple)):
        raise ValueError("decode() takes one sequence of ids (t,); use batch_decode() for a batch (b, t).")
    return [int(i) for i in token_ids]


def _word_offsets(char_offsets: list[dict], delimiter: str) -> list[dict]:
    """Group character spans into words at the delimiter character."""
    words: list[dict] = []
    for offset in char_offsets:
        if offset["char"] == delimiter:
            words.append(None)  # a word boundary
        elif words and words[-1] is not None:
            words[-1]["word"] += offset["char"]
            words[-1]["end_offset"] = offset["end_offset"]
        else:
            words.append({"word": offset["char"], "start_offset": offset["start_offset"],
                          "end_offset": offset["end_offset"]})
    return [word for word in words if word is not None]


__all__ = ["Wav2Vec2CTCTokenizer", "Wav2Vec2CTCTokenizerOutput", "VOCAB_FILE"]
