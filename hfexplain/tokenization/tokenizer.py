"""Text -> token ids -> text, over the real ``tokenizers`` library.

A Hugging Face tokenizer is two layers:

1. **The backend** (``tokenizers.Tokenizer``, written in Rust) runs the pipeline
   ``normalizer -> pre_tokenizer -> model -> post_processor`` on one string and gives an
   ``Encoding``: ids, tokens, offsets, word ids, type ids. Its ``decoder`` turns ids back
   into text. ``tokenizer.json`` is this object, saved.
2. **The call semantics** on top (this file): which arguments pad or truncate, which fields
   a model expects (``input_ids``, ``attention_mask``, ``token_type_ids``), special-token
   attributes such as ``tok.pad_token``, batching, tensors, and the config files around
   ``tokenizer.json``. What a call returns, ``BatchEncoding``, is in ``batch_encoding.py``;
   rebuilding a backend from older vocabulary files is in ``legacy.py``.

``Tokenizer`` keeps the names and behaviour of ``transformers``' ``PreTrainedTokenizerFast``
(5.x) for the subset it implements, so ``tok(texts, padding=True, return_tensors="pt")``
reads the same here and there. One rule to remember: **the call decides**. Padding or
truncation baked into a ``tokenizer.json`` (all-MiniLM-L6-v2 ships "pad to 128, truncate at
128") is switched off at load time; each call switches on only what it asks for, and switches
it off again when it is done.
"""
from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from tokenizers import AddedToken
from tokenizers import Encoding
from tokenizers import Tokenizer as BackendTokenizer

from ..hub import cached_file, saving_folder, write_text_atomically
from .batch_encoding import BatchEncoding
from .files import (
    ADDED_TOKENS_FILE,
    BPE_MERGES_FILE,
    BPE_VOCAB_FILE,
    LARGE_INTEGER,
    MODEL_CONFIG_FILE,
    MODEL_TYPE_TOKENIZER_CLASSES,
    PADDING_STRATEGIES,
    SPECIAL_TOKENS_ATTRIBUTES,
    SPECIAL_TOKENS_MAP_FILE,
    TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE,
    TRUNCATION_STRATEGIES,
    VERY_LARGE_INTEGER,
    WORDPIECE_VOCAB_FILE,
    _CLASSES_WITH_TOKEN_TYPE_IDS,
    _PRIVATE_CONFIG_KEYS,
    _as_token,
    _read_json,
)
from .legacy import (
    _BYTE_LEVEL_BPE_CLASSES,
    _CLIP_CLASSES,
    CLIP_SPECIAL_TOKENS,
    _ROBERTA_CLASSES,
    _WORDPIECE_CLASSES,
    ROBERTA_SPECIAL_TOKENS,
    _add_tokens_with_ids,
    build_byte_level_bpe_backend,
    build_clip_backend,
    build_roberta_backend,
    build_wordpiece_backend,
)
from .sentencepiece import _T5_CLASSES, SPIECE_FILE, backend_from_spiece, t5_config_defaults


# ---------------------------------------------------------------------------------------------
# Special-token attributes: tok.pad_token, tok.pad_token_id, ...
# ---------------------------------------------------------------------------------------------


# Config keys that say where a file was when the tokenizer was saved, not how to tokenize.
_FILE_LOCATION_KEYS = ("tokenizer_file", "vocab_file", "merges_file", "special_tokens_map_file")

class _SpecialToken:
    """``tok.pad_token``: the token string (or None); setting it changes which token plays that role."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, tok, owner=None):
        if tok is None:
            return self
        value = tok._special_tokens.get(self.name)
        return None if value is None else str(value)

    def __set__(self, tok, value):
        if value is not None and not isinstance(value, (str, AddedToken)):
            raise ValueError(
                f"{self.name} must be a string (or tokenizers.AddedToken), got {type(value).__name__}; "
                f"to set it from an id, assign {self.name}_id instead."
            )
        tok._special_tokens[self.name] = value


class _SpecialTokenId:
    """``tok.pad_token_id``: the id of that special token in the vocabulary (or None)."""

    def __init__(self, token_attribute: str):
        self.token_attribute = token_attribute

    def __get__(self, tok, owner=None):
        if tok is None:
            return self
        token = getattr(tok, self.token_attribute)
        return None if token is None else tok.convert_tokens_to_ids(token)

    def __set__(self, tok, value):
        if value is None:
            setattr(tok, self.token_attribute, None)
            return
        token = tok.convert_ids_to_tokens(int(value))
        if token is None:
            raise ValueError(
                f"{self.token_attribute}_id={value} is not an id of this vocabulary (0 to {len(tok) - 1})."
            )
        setattr(tok, self.token_attribute, token)


# ---------------------------------------------------------------------------------------------
# The tokenizer
# ---------------------------------------------------------------------------------------------


class PreTrainedTokenizerFast:
    """A ``tokenizers.Tokenizer`` with the call semantics of transformers' ``PreTrainedTokenizerFast``.

    >>> tok = Tokenizer.from_pretrained(path)                          # doctest: +SKIP
    >>> enc = tok(["a short text", "a longer text here"], padding=True, return_tensors="pt")  # doctest: +SKIP
    >>> enc.input_ids.shape, enc.attention_mask                        # doctest: +SKIP

    ``backend_tokenizer`` is the Rust ``tokenizers.Tokenizer`` underneath: look at its
    ``normalizer``, ``pre_tokenizer``, ``model``, ``post_processor`` and ``decoder``.

    This class is transformers' generic one: loaded with ``PreTrainedTokenizerFast.from_pretrained``
    it returns ``input_ids`` and ``attention_mask`` unless the folder's config lists other
    ``model_input_names``. :class:`Tokenizer`, below, what ``AutoTokenizer`` gives, also reads
    which family the folder names (a BERT folder returns ``token_type_ids``), as the family's
    class does in transformers; the named classes (``BertTokenizerFast``...) bring their
    family's defaults (special tokens, model inputs), as transformers' classes do.
    """

    SPECIAL_TOKENS_ATTRIBUTES = SPECIAL_TOKENS_ATTRIBUTES
    # What a folder without "model_input_names" in its config returns; None: decided by the family the
    # folder names (Tokenizer, AutoTokenizer's class).
    default_model_input_names: tuple[str, ...] | None = ("input_ids", "attention_mask")
    # The special tokens a class sets when neither the caller nor the folder names them (BERT's [CLS] ...).
    default_special_tokens: dict[str, str] = {}
    @property
    def saved_tokenizer_class(self) -> str:
        """The ``tokenizer_class`` that :meth:`save_pretrained` writes into ``tokenizer_config.json``.

        A subclass that a family declares as its tokenizer (``Family.tokenizer`` in
        ``hfexplain.models``, e.g. ``WhisperTokenizer``) writes its own name, so ``AutoTokenizer``
        (here, and transformers') gives that class back; the common class writes
        ``PreTrainedTokenizerFast``, transformers' class for a plain ``tokenizer.json``.
        """
        from ..models import FAMILIES

        name = type(self).__name__
        declared = {family.tokenizer for family in FAMILIES.values()} - {None, "Tokenizer"}
        return name if name in declared else "PreTrainedTokenizerFast"

    bos_token = _SpecialToken()
    eos_token = _SpecialToken()
    unk_token = _SpecialToken()
    sep_token = _SpecialToken()
    pad_token = _SpecialToken()
    cls_token = _SpecialToken()
    mask_token = _SpecialToken()
    bos_token_id = _SpecialTokenId("bos_token")
    eos_token_id = _SpecialTokenId("eos_token")
    unk_token_id = _SpecialTokenId("unk_token")
    sep_token_id = _SpecialTokenId("sep_token")
    pad_token_id = _SpecialTokenId("pad_token")
    cls_token_id = _SpecialTokenId("cls_token")
    mask_token_id = _SpecialTokenId("mask_token")

    def __init__(
        self,
        tokenizer_object: BackendTokenizer | None = None,
        *,
        tokenizer_file: str | os.PathLike | None = None,
        bos_token: str | AddedToken | None = None,
        eos_token: str | AddedToken | None = None,
        unk_token: str | AddedToken | None = None,
        sep_token: str | AddedToken | None = None,
        pad_token: str | AddedToken | None = None,
        cls_token: str | AddedToken | None = None,
        mask_token: str | AddedToken | None = None,
        additional_special_tokens: Sequence[str | AddedToken] | None = None,
        model_max_length: int | None = None,
        padding_side: str | None = None,
        truncation_side: str | None = None,
        model_input_names: Sequence[str] | None = None,
        clean_up_tokenization_spaces: bool = False,
        name_or_path: str = "",
        **init_kwargs,
    ):
        """Wrap a backend: pass a ``tokenizers.Tokenizer`` (it is copied) or a ``tokenizer.json`` path.

        ``init_kwargs`` are other ``tokenizer_config.json`` entries (``do_lower_case``,
        ``chat_template`` ...): they are kept and written back by ``save_pretrained``.
        """
        if (tokenizer_object is None) == (tokenizer_file is None):
            raise ValueError(
                "Tokenizer() needs exactly one of tokenizer_object= (a tokenizers.Tokenizer) or "
                "tokenizer_file= (a tokenizer.json path). "
                "To load a folder or Hub repo, use Tokenizer.from_pretrained()."
            )
        if tokenizer_object is not None:
            if not isinstance(tokenizer_object, BackendTokenizer):
                raise TypeError(
                    f"tokenizer_object must be a tokenizers.Tokenizer, got {type(tokenizer_object).__name__}."
                )
            backend = BackendTokenizer.from_str(tokenizer_object.to_str())  # a copy: we change its settings
        else:
            backend = _backend_from_file(os.fspath(tokenizer_file))

        # Padding/truncation saved in the file become defaults for the *side* only; the call decides the rest.
        baked_padding, baked_truncation = backend.padding, backend.truncation
        backend.no_padding()
        backend.no_truncation()
        self._backend = backend

        self.name_or_path = os.fspath(name_or_path)
        self.init_kwargs = {key: value for key, value in init_kwargs.items() if key not in _PRIVATE_CONFIG_KEYS}
        self.model_max_length = VERY_LARGE_INTEGER if model_max_length is None else int(model_max_length)
        self.padding_side = padding_side or (baked_padding or {}).get("direction", "right")
        self.truncation_side = truncation_side or (baked_truncation or {}).get("direction", "right")
        self.model_input_names = list(model_input_names or self.default_model_input_names or ("input_ids", "attention_mask"))
        self.clean_up_tokenization_spaces = bool(clean_up_tokenization_spaces)
        self.pad_token_type_id = (baked_padding or {}).get("pad_type_id", 0)
        self._warned_too_long = False

        self._special_tokens: dict[str, str | AddedToken | None] = {}
        named = {
            "bos_token": bos_token,
            "eos_token": eos_token,
            "unk_token": unk_token,
            "sep_token": sep_token,
            "pad_token": pad_token,
            "cls_token": cls_token,
            "mask_token": mask_token,
        }
        if pad_token is None and baked_padding:  # the pad token a tokenizer.json pads with, as in transformers
            named["pad_token"] = baked_padding.get("pad_token")
        for name, value in named.items():
            setattr(self, name, _as_token(value if value is not None else self.default_special_tokens.get(name)))
        self._additional_special_tokens = [_as_token(token) for token in additional_special_tokens or ()]
        self._register_special_tokens()

    def _register_special_tokens(self) -> None:
        """Make every special token an *added* special token of the backend, as transformers does.

        An added token is matched before the model runs (``[CLS]`` is never split into
        ``[``, ``cl``, ``##s``...), and a special one is dropped by ``decode(skip_special_tokens=True)``.
        Tokens missing from the vocabulary get new ids at the end.
        """
        already_added = {token.content for token in self._backend.get_added_tokens_decoder().values()}
        to_add = []
        for value in [*self._special_tokens.values(), *self._additional_special_tokens]:
            if value is None or str(value) in already_added:
                continue
            token = value if isinstance(value, AddedToken) else AddedToken(value, special=True, normalized=False)
            to_add.append(token)
            already_added.add(str(value))
        if to_add:
            self._backend.add_special_tokens(to_add)

    def train_new_from_iterator(self, text_iterator, vocab_size: int, length: int | None = None,
                                new_special_tokens=None, special_tokens_map: dict[str, str] | None = None,
                                **trainer_kwargs) -> Tokenizer:
        """A tokenizer like this one (same normaliser, pre-tokeniser, post-processor, special tokens and
        settings) with a vocabulary of ``vocab_size`` learned from ``text_iterator`` (an iterator of texts
        or of lists of texts), as transformers' method of the same name (the course's chapter 6.2).
        ``special_tokens_map`` renames special tokens (``{"[CLS]": "<cls>"}``); ``trainer_kwargs`` go to
        the ``tokenizers`` trainer (``min_frequency`` ...). The recipe is in ``tokenization/training.py``."""
        from .training import train_backend

        backend = train_backend(self._backend, text_iterator, vocab_size, length=length,
                                new_special_tokens=new_special_tokens, special_tokens_map=special_tokens_map,
                                **trainer_kwargs)
        renamed = {}
        for name, value in self._special_tokens.items():
            if value is not None:
                text = special_tokens_map.get(str(value), str(value)) if special_tokens_map else str(value)
                renamed[name] = text
        additional = [special_tokens_map.get(str(t), str(t)) if special_tokens_map else t
                      for t in self._additional_special_tokens]
        return type(self)(
            backend, **renamed, additional_special_tokens=additional or None,
            model_max_length=self.model_max_length, padding_side=self.padding_side,
            truncation_side=self.truncation_side, model_input_names=self.model_input_names,
            clean_up_tokenization_spaces=self.clean_up_tokenization_spaces, **self.init_kwargs,
        )

    # -- loading --------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        path_or_repo_id: str | os.PathLike,
        *,
        revision: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        token: str | bool | None = None,
        local_files_only: bool = False,
        subfolder: str = "",
        **overrides,
    ) -> Tokenizer:
        """Load a tokenizer from a local folder or a Hub repo id (through ``huggingface_hub``'s cache).

        Reads ``tokenizer.json`` when there is one; otherwise rebuilds the pipeline from
        ``vocab.txt`` (BERT's WordPiece), ``vocab.json`` + ``merges.txt`` (GPT-2's byte-level
        BPE; RoBERTa's and BART's with ``<s> ... </s>``; CLIP's) or ``spiece.model`` (ALBERT's or T5's
        SentencePiece). ``tokenizer_config.json`` and ``special_tokens_map.json`` give the special tokens,
        ``model_max_length``, ``padding_side``... ``overrides`` (e.g. ``padding_side="left"``,
        ``pad_token="<|endoftext|>"``) win over the files. Where no tokenizer file names the class, a
        checkpoint's ``config.json`` does (its ``model_type``), as in transformers' ``AutoTokenizer``.
        """
        where = dict(
            subfolder=subfolder,
            revision=revision,
            cache_dir=cache_dir,
            token=token,
            local_files_only=local_files_only,
            required=False,
        )

        def find(filename: str) -> str | None:
            return cached_file(path_or_repo_id, filename, **where)

        tokenizer_file = find(TOKENIZER_FILE)
        config = _read_json(find(TOKENIZER_CONFIG_FILE))
        # special_tokens_map.json wins over the same keys in tokenizer_config.json (as in transformers).
        config.update(_read_json(find(SPECIAL_TOKENS_MAP_FILE)))
        # Where the files were on the machine that saved them (older Hub repos keep "tokenizer_file":
        # "/home/.../tokenizer.json"): the files are the ones found here, as in transformers.
        for key in _FILE_LOCATION_KEYS:
            config.pop(key, None)
        config.update(overrides)

        tokenizer_class = config.get("tokenizer_class")
        if isinstance(tokenizer_class, str):
            tokenizer_class = tokenizer_class.removesuffix("Fast")

        if tokenizer_class is None:
            # No tokenizer file names the family: a checkpoint's config.json may (its model_type), as
            # transformers' AutoTokenizer reads it (facebook/bart-base and t5-small ship no tokenizer_config.json).
            model_type = _read_json(find(MODEL_CONFIG_FILE)).get("model_type")
            tokenizer_class = MODEL_TYPE_TOKENIZER_CLASSES.get(model_type)
            config.setdefault("tokenizer_class", tokenizer_class)

        family = None  # which pipeline we rebuild when there is no tokenizer.json
        if tokenizer_file is not None:
            backend = _backend_from_file(tokenizer_file)
            # The class's own defaults for the special tokens the files leave out (RoBERTa's and BART's
            # <s> ... </s>, T5's </s> and sentinels), as the transformers class would fill them in.
            if tokenizer_class in _ROBERTA_CLASSES:
                for name, default in ROBERTA_SPECIAL_TOKENS.items():
                    config.setdefault(name, default)
            elif tokenizer_class in _CLIP_CLASSES:
                for name, default in CLIP_SPECIAL_TOKENS.items():
                    config.setdefault(name, default)
            elif tokenizer_class in _T5_CLASSES:
                t5_config_defaults(config)
        elif (spiece_file := find(SPIECE_FILE)) is not None:  # ALBERT's or T5's SentencePiece (sentencepiece.py)
            family = "sentencepiece"
            backend = backend_from_spiece(spiece_file, config, tokenizer_class, path_or_repo_id)
            _add_tokens_with_ids(backend, config, find(ADDED_TOKENS_FILE), path_or_repo_id)
        else:
            vocab_txt = find(WORDPIECE_VOCAB_FILE)
            vocab_json = find(BPE_VOCAB_FILE) if vocab_txt is None else None
            merges_txt = find(BPE_MERGES_FILE) if vocab_json is not None else None
            if vocab_txt is None and vocab_json is None:
                is_folder = os.path.isdir(os.fspath(path_or_repo_id))
                raise OSError(
                    f"Can't load a tokenizer from {os.fspath(path_or_repo_id)!r}"
                    f"{' (subfolder ' + repr(subfolder) + ')' if subfolder else ''}: it has none of "
                    f"{TOKENIZER_FILE}, {WORDPIECE_VOCAB_FILE}, or {BPE_VOCAB_FILE} + {BPE_MERGES_FILE} "
                    f"(or ALBERT's {SPIECE_FILE}). "
                    + (
                        "Save a tokenizer into that folder with save_pretrained(), "
                        "or point to the folder that has these files."
                        if is_folder
                        else "Check the folder path or repo id; offline (HF_HUB_OFFLINE=1), "
                        "the repo must already be in the cache."
                    )
                )
            if vocab_json is not None and merges_txt is None:
                raise OSError(
                    f"{os.fspath(path_or_repo_id)!r} has {BPE_VOCAB_FILE} but no {BPE_MERGES_FILE}: a byte-level BPE "
                    f"tokenizer needs both (or a {TOKENIZER_FILE}). Copy {BPE_MERGES_FILE} next to {BPE_VOCAB_FILE}."
                )
            family = "wordpiece" if vocab_txt is not None else "byte_level_bpe"
            known = _WORDPIECE_CLASSES if family == "wordpiece" else _BYTE_LEVEL_BPE_CLASSES
            if tokenizer_class not in (None, "PreTrainedTokenizer") and tokenizer_class not in known:
                raise OSError(
                    f"{os.fspath(path_or_repo_id)!r} has no {TOKENIZER_FILE}, and its tokenizer_class "
                    f"{config['tokenizer_class']!r} is not one whose pipeline we can rebuild from "
                    f"{'vocab.txt' if family == 'wordpiece' else 'vocab.json + merges.txt'} "
                    f"(we know {sorted(known)}). Create a {TOKENIZER_FILE} once with transformers: "
                    "AutoTokenizer.from_pretrained(path).save_pretrained(path)."
                )
            if family == "wordpiece":
                # BertTokenizer's defaults.
                for name, default in (("unk_token", "[UNK]"), ("sep_token", "[SEP]"), ("pad_token", "[PAD]"),
                                      ("cls_token", "[CLS]"), ("mask_token", "[MASK]")):
                    config.setdefault(name, default)
                backend = build_wordpiece_backend(
                    vocab_txt,
                    do_lower_case=config.get("do_lower_case", True),
                    strip_accents=config.get("strip_accents"),
                    tokenize_chinese_chars=config.get("tokenize_chinese_chars", True),
                    unk_token=str(_as_token(config["unk_token"])),
                    cls_token=str(_as_token(config["cls_token"])),
                    sep_token=str(_as_token(config["sep_token"])),
                )
            elif tokenizer_class in _CLIP_CLASSES:
                for name, default in CLIP_SPECIAL_TOKENS.items():  # CLIPTokenizer's defaults
                    config.setdefault(name, default)
                backend = build_clip_backend(
                    vocab_json, merges_txt, bos_token=str(_as_token(config["bos_token"])),
                    eos_token=str(_as_token(config["eos_token"])), unk_token=str(_as_token(config["unk_token"])),
                )
            elif tokenizer_class in _ROBERTA_CLASSES:
                for name, default in ROBERTA_SPECIAL_TOKENS.items():  # RobertaTokenizer's defaults
                    config.setdefault(name, default)
                backend = build_roberta_backend(
                    vocab_json, merges_txt, add_prefix_space=config.get("add_prefix_space", False),
                    trim_offsets=config.get("trim_offsets", True),
                    cls_token=str(_as_token(config["cls_token"])), sep_token=str(_as_token(config["sep_token"])),
                )
            else:
                # GPT2Tokenizer's defaults: one token plays unk, bos and eos; no pad token.
                for name in ("unk_token", "bos_token", "eos_token"):
                    config.setdefault(name, "<|endoftext|>")
                backend = build_byte_level_bpe_backend(
                    vocab_json, merges_txt, add_prefix_space=config.get("add_prefix_space", False)
                )
            _add_tokens_with_ids(backend, config, find(ADDED_TOKENS_FILE), path_or_repo_id)

        if "model_input_names" not in config and cls.default_model_input_names is not None:
            config["model_input_names"] = list(cls.default_model_input_names)
        if "model_input_names" not in config:
            uses_token_types = tokenizer_class in _CLASSES_WITH_TOKEN_TYPE_IDS or (
                tokenizer_class is None and family == "wordpiece"
            )
            config["model_input_names"] = (
                ["input_ids", "token_type_ids", "attention_mask"]
                if uses_token_types
                else ["input_ids", "attention_mask"]
            )
        if "additional_special_tokens" not in config and "extra_special_tokens" in config:
            extra = config.pop("extra_special_tokens")
            config["additional_special_tokens"] = list(extra.values()) if isinstance(extra, Mapping) else extra
        if config.get("tokenizer_class") is None and family is not None:
            config["tokenizer_class"] = {"wordpiece": "BertTokenizer", "byte_level_bpe": "GPT2Tokenizer",
                                         "sentencepiece": "AlbertTokenizer"}[family]

        named_arguments = {
            *SPECIAL_TOKENS_ATTRIBUTES,
            "additional_special_tokens",
            "model_max_length",
            "padding_side",
            "truncation_side",
            "model_input_names",
            "clean_up_tokenization_spaces",
        }
        arguments = {key: value for key, value in config.items() if key in named_arguments}
        kept = {
            key: value
            for key, value in config.items()
            if key not in named_arguments and key not in ("name_or_path", "tokenizer_object")
        }
        return cls(backend, name_or_path=os.fspath(path_or_repo_id), **arguments, **kept)

    # -- saving ---------------------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | os.PathLike) -> tuple[str, ...]:
        """Write ``tokenizer.json``, ``tokenizer_config.json`` and ``special_tokens_map.json``.

        The folder loads back here and in transformers' ``AutoTokenizer``. The config names the
        class ``PreTrainedTokenizerFast`` (the transformers class that reads ``tokenizer.json``
        as is), or, for a family's own subclass (:attr:`saved_tokenizer_class`, e.g.
        ``WhisperTokenizer``), that class, so ``AutoTokenizer`` in either library gives it back;
        and it lists ``model_input_names``, so both libraries return the same fields.

        The three files land in one ``hub.saving_folder`` step: a reader, or a process killed
        at any moment (or a disk that fills up), finds the old tokenizer or the new one, whole;
        symlinked files (a Hub cache snapshot) are replaced, never written through.
        """
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise NotADirectoryError(
                f"save_pretrained() needs a folder, but {save_directory!r} is a file. Pass a folder path."
            )

        special_tokens_map = {name: str(value) for name, value in self._special_tokens.items() if value is not None}
        config = dict(self.init_kwargs)
        config.update(special_tokens_map)
        if self._additional_special_tokens:
            config["additional_special_tokens"] = [str(token) for token in self._additional_special_tokens]
        config.update(
            model_max_length=self.model_max_length,
            padding_side=self.padding_side,
            truncation_side=self.truncation_side,
            model_input_names=list(self.model_input_names),
            clean_up_tokenization_spaces=self.clean_up_tokenization_spaces,
            tokenizer_class=self.saved_tokenizer_class,
        )

        tokenizer_path = os.path.join(save_directory, TOKENIZER_FILE)
        config_path = os.path.join(save_directory, TOKENIZER_CONFIG_FILE)
        special_path = os.path.join(save_directory, SPECIAL_TOKENS_MAP_FILE)
        with saving_folder(save_directory):
            # to_str(pretty=True) is what backend.save() writes; padding and truncation are always off on it.
            write_text_atomically(tokenizer_path, self._backend.to_str(pretty=True))
            write_text_atomically(config_path, json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
            write_text_atomically(
                special_path, json.dumps(special_tokens_map, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            )
        return (config_path, special_path, tokenizer_path)

    # -- vocabulary -----------------------------------------------------------------------------
    @property
    def backend_tokenizer(self) -> BackendTokenizer:
        """The ``tokenizers.Tokenizer`` doing the work (normalizer, pre_tokenizer, model, post_processor, decoder)."""
        return self._backend

    @property
    def is_fast(self) -> bool:
        return True

    @property
    def vocab_size(self) -> int:
        """Size of the base vocabulary, without added tokens (``len(tok)`` counts them)."""
        return self._backend.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        return self._backend.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        """token -> id for the whole vocabulary, added tokens included."""
        return self._backend.get_vocab(with_added_tokens=True)

    @property
    def vocab(self) -> dict[str, int]:
        return self.get_vocab()

    @property
    def added_tokens_decoder(self) -> dict[int, AddedToken]:
        return self._backend.get_added_tokens_decoder()

    def get_added_vocab(self) -> dict[str, int]:
        return {token.content: index for index, token in sorted(self.added_tokens_decoder.items())}

    @property
    def padding_side(self) -> str:
        """``"right"`` (encoders) or ``"left"`` (batched generation with decoders: the last real token must be last)."""
        return self._padding_side

    @padding_side.setter
    def padding_side(self, value: str) -> None:
        if value not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left', got {value!r}.")
        self._padding_side = value

    @property
    def truncation_side(self) -> str:
        """``"right"`` drops tokens from the end, ``"left"`` from the start."""
        return self._truncation_side

    @truncation_side.setter
    def truncation_side(self, value: str) -> None:
        if value not in ("right", "left"):
            raise ValueError(f"truncation_side must be 'right' or 'left', got {value!r}.")
        self._truncation_side = value

    @property
    def additional_special_tokens(self) -> list[str]:
        """Special tokens beyond the named ones (skipped by ``decode(skip_special_tokens=True)``)."""
        return [str(token) for token in self._additional_special_tokens]

    @additional_special_tokens.setter
    def additional_special_tokens(self, tokens: Sequence[str | AddedToken]) -> None:
        self._additional_special_tokens = [_as_token(token) for token in tokens]

    extra_special_tokens = additional_special_tokens  # transformers 5 name

    @property
    def additional_special_tokens_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self.additional_special_tokens)

    @property
    def special_tokens_map(self) -> dict[str, str]:
        """``{"pad_token": "[PAD]", ...}`` for the named special tokens that are set."""
        return {name: str(value) for name, value in self._special_tokens.items() if value is not None}

    @property
    def all_special_tokens(self) -> list[str]:
        """Every special token string once, named ones first."""
        tokens: list[str] = []
        for value in [*self._special_tokens.values(), *self._additional_special_tokens]:
            if value is not None and str(value) not in tokens:
                tokens.append(str(value))
        return tokens

    @property
    def all_special_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self.all_special_tokens)

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int] | None:
        """Token string(s) -> id(s); a token not in the vocabulary gives ``unk_token_id``."""
        if isinstance(tokens, str):
            index = self._backend.token_to_id(tokens)
            if index is None and self.unk_token is not None and tokens != self.unk_token:
                return self._backend.token_to_id(self.unk_token)
            return index
        return [self.convert_tokens_to_ids(token) for token in tokens]

    def convert_ids_to_tokens(self, ids: int | Sequence[int], skip_special_tokens: bool = False):
        """Id(s) -> token string(s), e.g. ``[101, 7592]`` -> ``["[CLS]", "hello"]``."""
        if isinstance(ids, int) or (hasattr(ids, "ndim") and ids.ndim == 0):
            return self._backend.id_to_token(int(ids))
        skip = set(self.all_special_ids) if skip_special_tokens else set()
        return [self._backend.id_to_token(int(index)) for index in _to_list(ids) if int(index) not in skip]

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """Join token strings into text with the backend's decoder (undoes ``##`` or ``Ġ``)."""
        decoder = self._backend.decoder
        return decoder.decode(list(tokens)) if decoder is not None else " ".join(tokens)

    def get_special_tokens_mask(
        self, token_ids_0: Sequence[int], token_ids_1: Sequence[int] | None = None,
        already_has_special_tokens: bool = False,
    ) -> list[int]:
        """1 for each special id of an already-built sequence, 0 for the text's own (what data collators
        use to keep special tokens out of masking). For a text still to be built, call the tokenizer
        with ``return_special_tokens_mask=True``: the post-processor knows where it adds them."""
        if not already_has_special_tokens:
            raise NotImplementedError(
                f"{type(self).__name__}.get_special_tokens_mask works on sequences that already hold their special "
                "tokens: pass already_has_special_tokens=True, or call the tokenizer with "
                "return_special_tokens_mask=True."
            )
        if token_ids_1 is not None:
            raise ValueError(
                "You should not supply a second sequence if the provided sequence of ids is already formatted "
                "with special tokens for the model."
            )
        special = set(self.all_special_ids)
        return [1 if int(index) in special else 0 for index in _to_list(token_ids_0)]

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """How many tokens the post-processor adds around one text (or a pair): 2 (3) for BERT, 0 for GPT-2."""
        return self._backend.num_special_tokens_to_add(pair)

    def add_tokens(
        self, new_tokens: str | AddedToken | Sequence[str | AddedToken], special_tokens: bool = False
    ) -> int:
        """Add whole tokens to the vocabulary (never split); returns how many were new.

        New ids come after the current ones: resize the model's embeddings to ``len(tok)``.
        """
        if not new_tokens:
            return 0
        if isinstance(new_tokens, (str, AddedToken)):
            new_tokens = [new_tokens]
        for token in new_tokens:
            if not isinstance(token, (str, AddedToken)):
                raise TypeError(f"add_tokens() takes strings or tokenizers.AddedToken, got {type(token).__name__}.")
        if special_tokens:
            return self._backend.add_special_tokens(list(new_tokens))
        return self._backend.add_tokens(list(new_tokens))

    def add_special_tokens(
        self, special_tokens_dict: Mapping[str, Any], replace_additional_special_tokens: bool = True
    ) -> int:
        """Set named special tokens (``{"pad_token": "[PAD]"}``) and add them to the vocabulary if new.

        Also takes ``"additional_special_tokens"`` (or transformers 5's ``"extra_special_tokens"``): a list.
        Returns how many tokens were new.
        """
        allowed = (*SPECIAL_TOKENS_ATTRIBUTES, "additional_special_tokens", "extra_special_tokens")
        for key, value in special_tokens_dict.items():  # check everything before changing anything
            if key not in allowed:
                raise ValueError(f"{key!r} is not a special-token name. Use one of {list(allowed)}.")
            if key in ("additional_special_tokens", "extra_special_tokens"):
                if isinstance(value, (str, AddedToken)) or not all(isinstance(t, (str, AddedToken)) for t in value):
                    raise ValueError(f"{key} must be a list of strings or AddedTokens, got {value!r}.")
            elif not isinstance(value, (str, AddedToken)):
                raise ValueError(f"{key} must be a string or AddedToken, got {type(value).__name__}.")

        to_add: list[AddedToken] = []
        for key, value in special_tokens_dict.items():
            if key in ("additional_special_tokens", "extra_special_tokens"):
                tokens = [
                    t if isinstance(t, AddedToken) else AddedToken(t, special=True, normalized=False) for t in value
                ]
                if replace_additional_special_tokens:
                    self._additional_special_tokens = list(tokens)
                else:
                    known = set(self.additional_special_tokens)
                    self._additional_special_tokens.extend(t for t in tokens if str(t) not in known)
                to_add.extend(tokens)
            else:
                token = value if isinstance(value, AddedToken) else AddedToken(value, special=True, normalized=False)
                setattr(self, key, token)
                to_add.append(token)
        return self._backend.add_special_tokens(to_add) if to_add else 0

    # -- encoding -------------------------------------------------------------------------------
    def _padding_truncation_strategies(
        self, padding, truncation, max_length: int | None, pad_to_multiple_of: int | None
    ) -> tuple[str, str, int | None]:
        """Turn the call's arguments into (padding strategy, truncation strategy, max_length).

        The rules of transformers: ``max_length`` alone switches truncation on; ``True`` means
        ``"longest"`` / ``"longest_first"``; a strategy that needs a length and gets none uses
        ``model_max_length`` (or is dropped when the model has no limit).
        """
        if max_length is not None and padding is False and truncation is None:
            truncation = "longest_first"

        padding = getattr(padding, "value", padding)  # accept transformers' PaddingStrategy enum
        if padding is True:
            padding_strategy = "longest"
        elif padding is False or padding is None:
            padding_strategy = "do_not_pad"
        elif padding in PADDING_STRATEGIES:
            padding_strategy = padding
        else:
            raise ValueError(
                f"padding={padding!r} is not valid. Use True, False, or one of {list(PADDING_STRATEGIES)}."
            )

        truncation = getattr(truncation, "value", truncation)
        if truncation is True:
            truncation_strategy = "longest_first"
        elif truncation is False or truncation is None:
            truncation_strategy = "do_not_truncate"
        elif truncation in TRUNCATION_STRATEGIES:
            truncation_strategy = truncation
        else:
            raise ValueError(
                f"truncation={truncation!r} is not valid. Use True, False, or one of {list(TRUNCATION_STRATEGIES)}."
            )

        if max_length is None:
            has_limit = self.model_max_length <= LARGE_INTEGER
            if padding_strategy == "max_length":
                if has_limit:
                    max_length = self.model_max_length
                else:
                    padding_strategy = "do_not_pad"
            if truncation_strategy != "do_not_truncate":
                if has_limit:
                    max_length = self.model_max_length
                else:
                    truncation_strategy = "do_not_truncate"

        if padding_strategy != "do_not_pad" and (self.pad_token is None or self.pad_token_id is None):
            raise ValueError(
                "Asking to pad but the tokenizer does not have a padding token. Set one, e.g. "
                "`tokenizer.pad_token = tokenizer.eos_token` (what GPT-2 users do), or add a new one with "
                "`tokenizer.add_special_tokens({'pad_token': '[PAD]'})` (then resize the model's embeddings)."
            )
        if (
            truncation_strategy != "do_not_truncate"
            and padding_strategy != "do_not_pad"
            and pad_to_multiple_of is not None
            and max_length is not None
            and max_length % pad_to_multiple_of != 0
        ):
            raise ValueError(
                f"Truncation and padding are both on, but the truncation length ({max_length}) is not a multiple "
                f"of pad_to_multiple_of ({pad_to_multiple_of}). Pick a max_length that is."
            )
        return padding_strategy, truncation_strategy, max_length

    @contextmanager
    def _backend_settings(
        self,
        padding_strategy: str,
        truncation_strategy: str,
        max_length: int | None,
        stride: int,
        pad_to_multiple_of: int | None,
        padding_side: str | None,
    ):
        """Switch the backend's padding/truncation on for one call, and off again afterwards."""
        side = padding_side or self.padding_side
        if side not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left', got {side!r}.")
        if truncation_strategy != "do_not_truncate":
            self._backend.enable_truncation(
                max_length, stride=stride, strategy=truncation_strategy, direction=self.truncation_side
            )
        if padding_strategy != "do_not_pad":
            self._backend.enable_padding(
                direction=side,
                pad_id=self.pad_token_id,
                pad_type_id=self.pad_token_type_id,
                pad_token=self.pad_token,
                length=max_length if padding_strategy == "max_length" else None,  # None: the longest in the batch
                pad_to_multiple_of=pad_to_multiple_of,
            )
        try:
            yield
        finally:
            self._backend.no_truncation()
            self._backend.no_padding()

    def __call__(
        self,
        text=None,
        text_pair=None,
        *,
        text_target=None,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
    ) -> BatchEncoding:
        """Tokenize one text, a pair, a batch of texts or a batch of pairs.

        - ``tok("a text")`` -> flat lists: ``{"input_ids": [...], "attention_mask": [...]}``
        - ``tok("question", "context")`` -> one pair (BERT: ``[CLS] q [SEP] c [SEP]``, token types 0/1)
        - ``tok(["a", "b c"])`` or ``tok(["q1", "q2"], ["c1", "c2"])`` or ``tok([("q1", "c1"), ...])``
          -> one list per row.

        ``padding=True`` pads to the longest row, ``"max_length"`` to ``max_length``;
        ``truncation=True`` cuts rows to ``max_length`` (default ``model_max_length``).
        ``return_tensors="pt"`` gives PyTorch tensors of shape ``(batch, seq)``.
        ``text_target`` (seq2seq) tokenizes targets too and returns their ids as ``labels``.
        """
        if text is None and text_target is None:
            raise ValueError("Pass some text to tokenize: tokenizer(text) or tokenizer(text, text_pair).")
        strategies = self._padding_truncation_strategies(padding, truncation, max_length, pad_to_multiple_of)
        options = dict(
            add_special_tokens=add_special_tokens,
            strategies=strategies,
            stride=stride,
            is_split_into_words=is_split_into_words,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            return_tensors=return_tensors,
            return_token_type_ids=return_token_type_ids,
            return_attention_mask=return_attention_mask,
            return_overflowing_tokens=return_overflowing_tokens,
            return_special_tokens_mask=return_special_tokens_mask,
            return_offsets_mapping=return_offsets_mapping,
            return_length=return_length,
        )
        if text is None:
            return self._encode(text_target, None, **options)
        encoded = self._encode(text, text_pair, **options)
        if text_target is not None:
            encoded["labels"] = self._encode(text_target, None, **options)["input_ids"]
        return encoded

    def _encode(
        self,
        text,
        text_pair,
        *,
        add_special_tokens: bool,
        strategies: tuple[str, str, int | None],
        stride: int,
        is_split_into_words: bool,
        pad_to_multiple_of: int | None,
        padding_side: str | None,
        return_tensors: str | None,
        return_token_type_ids: bool | None,
        return_attention_mask: bool | None,
        return_overflowing_tokens: bool,
        return_special_tokens_mask: bool,
        return_offsets_mapping: bool,
        return_length: bool,
    ) -> BatchEncoding:
        padding_strategy, truncation_strategy, max_length = strategies
        inputs, is_batched = _batch_inputs(text, text_pair, is_split_into_words)

        with self._backend_settings(
            padding_strategy, truncation_strategy, max_length, stride, pad_to_multiple_of, padding_side
        ):
            try:
                encodings = self._backend.encode_batch(
                    inputs, add_special_tokens=add_special_tokens, is_pretokenized=is_split_into_words
                )
            except Exception as error:  # the Rust side raises plain Exception, e.g. for impossible truncation
                if "truncat" in str(error).lower():
                    raise ValueError(
                        f"Cannot truncate to max_length={max_length} with truncation={truncation_strategy!r}: {error}. "
                        "Use a larger max_length, or truncation='longest_first' for pairs."
                    ) from error
                raise

        if return_token_type_ids is None:
            return_token_type_ids = "token_type_ids" in self.model_input_names
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names

        # Each input row gives its Encoding plus, when asked, the overflowing windows as extra rows.
        rows: list[Encoding] = []
        overflow_to_sample_mapping: list[int] = []
        for sample_index, encoding in enumerate(encodings):
            windows = [encoding, *encoding.overflowing] if return_overflowing_tokens else [encoding]
            rows.extend(windows)
            overflow_to_sample_mapping.extend([sample_index] * len(windows))

        data: dict[str, list] = {"input_ids": [row.ids for row in rows]}
        if return_token_type_ids:
            data["token_type_ids"] = [row.type_ids for row in rows]
        if return_attention_mask:
            data["attention_mask"] = [row.attention_mask for row in rows]
        if return_special_tokens_mask:
            data["special_tokens_mask"] = [row.special_tokens_mask for row in rows]
        if return_offsets_mapping:
            data["offset_mapping"] = [row.offsets for row in rows]
        if return_length:
            data["length"] = [len(row.ids) for row in rows]
        if return_overflowing_tokens:
            data["overflow_to_sample_mapping"] = overflow_to_sample_mapping

        if max_length is None and truncation_strategy == "do_not_truncate":
            self._warn_if_too_long(data["input_ids"])

        # A single text gives flat lists, as in transformers (tensors keep the batch axis of 1;
        # `length`, one number per row, stays a list of one).
        if not is_batched and return_tensors is None and not return_overflowing_tokens:
            data = {name: value[0] if isinstance(value[0], list) else value for name, value in data.items()}
        return BatchEncoding(data, rows, tensor_type=return_tensors)

    def _warn_if_too_long(self, rows: list[list[int]]) -> None:
        longest = max((len(row) for row in rows), default=0)
        if longest > self.model_max_length and not self._warned_too_long:
            self._warned_too_long = True
            warnings.warn(
                f"Token indices sequence length is longer than the specified maximum sequence length for this model "
                f"({longest} > {self.model_max_length}). Running this sequence through the model will result in "
                "indexing errors; pass truncation=True to cut it.",
                stacklevel=3,
            )

    def encode(
        self,
        text,
        text_pair=None,
        *,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        padding_side: str | None = None,
        return_tensors: str | None = None,
    ):
        """Just the ids: ``tok.encode("hi there")`` -> ``[101, 7632, 2045, 102]``."""
        return self(
            text,
            text_pair,
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            stride=stride,
            is_split_into_words=is_split_into_words,
            padding_side=padding_side,
            return_tensors=return_tensors,
        )["input_ids"]

    def tokenize(self, text: str, pair: str | None = None, add_special_tokens: bool = False) -> list[str]:
        """The token strings of one text (no special tokens by default): ``["hello", "world", "##s"]``."""
        return self(text, pair, add_special_tokens=add_special_tokens).tokens()

    def pad(
        self,
        encoded_inputs,
        padding: bool | str = True,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
    ) -> BatchEncoding:
        """Pad already-tokenized examples (what a data collator does for each batch).

        Takes a list of dicts (``[{"input_ids": [...], "label": 1}, ...]``), a dict of lists,
        or one example. ``input_ids`` get ``pad_token_id``, ``attention_mask`` 0,
        ``token_type_ids`` ``pad_token_type_id`` and ``special_tokens_mask`` 1; other fields
        (labels) are left as they are. Tensor inputs give tensors back.
        """
        if isinstance(encoded_inputs, (list, tuple)) and encoded_inputs and isinstance(encoded_inputs[0], Mapping):
            encoded_inputs = {key: [example[key] for example in encoded_inputs] for key in encoded_inputs[0]}
        if not isinstance(encoded_inputs, Mapping):
            raise ValueError(
                "pad() takes a dict of features or a list of such dicts (e.g. a list of tokenizer outputs), "
                f"got {type(encoded_inputs).__name__}."
            )
        main_input = self.model_input_names[0]
        if main_input not in encoded_inputs:
            raise ValueError(
                f"pad() needs the field {main_input!r} in its input, but got only {list(encoded_inputs.keys())}."
            )
        features = dict(encoded_inputs)
        if return_tensors is None and _holds_tensors(features[main_input]):
            return_tensors = "pt" if _holds_torch(features[main_input]) else "np"
        features = {name: _to_list(value) for name, value in features.items()}

        padding_strategy, _, max_length = self._padding_truncation_strategies(padding, False, max_length, None)
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names

        ids = features[main_input]
        single_example = not ids or not isinstance(ids[0], (list, tuple))
        if single_example:
            features = {name: [value] for name, value in features.items()}
            ids = features[main_input]

        if padding_strategy == "longest":
            target = max((len(row) for row in ids), default=0)
        elif padding_strategy == "max_length":
            target = max_length
        else:
            target = None
        if target is not None and pad_to_multiple_of is not None and target % pad_to_multiple_of != 0:
            target = (target // pad_to_multiple_of + 1) * pad_to_multiple_of

        side = padding_side or self.padding_side
        pad_values = {
            main_input: self.pad_token_id,
            "attention_mask": 0,
            "token_type_ids": self.pad_token_type_id,
            "special_tokens_mask": 1,
        }
        if return_attention_mask and "attention_mask" not in features:
            features["attention_mask"] = [[1] * len(row) for row in ids]
        padded: dict[str, list] = {name: list(value) for name, value in features.items()}
        for row_index, row in enumerate(ids):
            missing = 0 if target is None else max(target - len(row), 0)
            if not missing:
                continue
            for name, pad_value in pad_values.items():
                if name not in padded:
                    continue
                values = list(padded[name][row_index])
                padded[name][row_index] = (
                    values + [pad_value] * missing if side == "right" else [pad_value] * missing + values
                )
        if single_example:
            padded = {name: value[0] for name, value in padded.items()}
        return BatchEncoding(padded, tensor_type=return_tensors)

    # -- decoding -------------------------------------------------------------------------------
    def decode(
        self,
        token_ids,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
    ) -> str | list[str]:
        """Ids -> text with the backend's decoder; a batch (list of lists, 2-D tensor) gives a list of texts.

        ``skip_special_tokens=True`` drops ``[CLS]``, ``[PAD]``, ``<|endoftext|>``...
        ``clean_up_tokenization_spaces`` (default: the config's value, else False) removes the
        space before punctuation (``"hello , world"`` -> ``"hello, world"``); as in transformers it
        is never applied to BPE tokenizers, where it would eat real spaces.
        """
        if isinstance(token_ids, Mapping):
            token_ids = token_ids["input_ids"]
        token_ids = _to_list(token_ids)
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        if not isinstance(token_ids, list):
            raise TypeError(
                f"decode() takes token ids (an int, a list of ints, a list of lists or a tensor), got "
                f"{type(token_ids).__name__}. To turn text into ids, call the tokenizer."
            )
        if token_ids and isinstance(token_ids[0], list):
            return [self._decode_one(row, skip_special_tokens, clean_up_tokenization_spaces) for row in token_ids]
        return self._decode_one(token_ids, skip_special_tokens, clean_up_tokenization_spaces)

    def _decode_one(self, ids: list, skip_special_tokens: bool, clean_up_tokenization_spaces: bool | None) -> str:
        if not all(isinstance(index, int) and not isinstance(index, bool) for index in ids):
            bad = next(index for index in ids if not isinstance(index, int) or isinstance(index, bool))
            raise TypeError(
                f"decode() takes integer token ids, but got {bad!r} ({type(bad).__name__}). "
                "To turn text into ids, call the tokenizer; to join token strings, use convert_tokens_to_string()."
            )
        size = self._backend.get_vocab_size(with_added_tokens=True)
        unknown = [index for index in ids if not 0 <= index < size]
        if unknown:  # the backend drops unknown ids silently and overflows on negative ones
            raise ValueError(
                f"decode() got id(s) {unknown[:5]} outside this tokenizer's vocabulary [0, {size}): were they made "
                "by another tokenizer, or by a model whose vocabulary is larger than its tokenizer's?"
            )
        text = self._backend.decode(ids, skip_special_tokens=skip_special_tokens)
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        if clean_up_tokenization_spaces and type(self._backend.model).__name__ != "BPE":
            text = clean_up_tokenization(text)
        return text

    def batch_decode(
        self, sequences, skip_special_tokens: bool = False, clean_up_tokenization_spaces: bool | None = None
    ) -> list[str]:
        """Decode each row of a batch: ``tok.batch_decode(generated_ids, skip_special_tokens=True)``."""
        decoded = self.decode(sequences, skip_special_tokens, clean_up_tokenization_spaces)
        return [decoded] if isinstance(decoded, str) else decoded

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name_or_path={self.name_or_path!r}, vocab_size={self.vocab_size}, "
            f"len={len(self)}, model_max_length={self.model_max_length}, padding_side={self.padding_side!r}, "
            f"truncation_side={self.truncation_side!r}, special_tokens={self.special_tokens_map})"
        )


class Tokenizer(PreTrainedTokenizerFast):
    """The tokenizer ``AutoTokenizer`` gives for most families: :class:`PreTrainedTokenizerFast` whose
    ``from_pretrained`` also reads which family a folder names (``tokenizer_class``, or config.json's
    ``model_type``) to decide the model inputs, as the family's own transformers class would:
    a BERT folder returns ``token_type_ids``, a GPT-2 folder does not."""

    default_model_input_names = None


# The class names tutorials import (``BertTokenizer.from_pretrained(path)``, ``GPT2TokenizerFast``, ...).
# Each loads a folder's files as AutoTokenizer does, with its family's defaults where the folder (or the
# caller, e.g. ``BertTokenizerFast(tokenizer_object=backend)`` in the course's chapter 6.8) names none, as
# transformers' classes do. transformers' slow (Python) tokenizers are the same pipelines run by `tokenizers` here.
class BertTokenizerFast(Tokenizer):
    """Loads a BERT WordPiece folder (``tokenizer.json``, or ``vocab.txt``) as :class:`Tokenizer` does."""

    default_model_input_names = ("input_ids", "token_type_ids", "attention_mask")
    default_special_tokens = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                              "mask_token": "[MASK]"}


class GPT2TokenizerFast(Tokenizer):
    """Loads a GPT-2 byte-level BPE folder (``tokenizer.json``, or ``vocab.json`` + ``merges.txt``)."""

    default_model_input_names = ("input_ids", "attention_mask")
    default_special_tokens = {"unk_token": "<|endoftext|>", "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}


class LlamaTokenizerFast(Tokenizer):
    """Loads a LLaMA folder's ``tokenizer.json`` as :class:`Tokenizer` does."""

    default_model_input_names = ("input_ids", "attention_mask")


BertTokenizer = BertTokenizerFast
GPT2Tokenizer = GPT2TokenizerFast
LlamaTokenizer = LlamaTokenizerFast


def _backend_from_file(path: str) -> BackendTokenizer:
    """``tokenizers.Tokenizer.from_file``, with its bare ``Exception`` turned into an OSError naming the file."""
    try:
        return BackendTokenizer.from_file(path)
    except Exception as err:  # the Rust side raises a bare Exception ("EOF while parsing ...")
        raise OSError(
            f"{path!r} could not be read as a tokenizer.json ({err}). It is corrupted or truncated (e.g. by an "
            "interrupted download or save), or written by a newer tokenizers version: download it again, or save "
            "the tokenizer again with save_pretrained()."
        ) from err


def clean_up_tokenization(text: str) -> str:
    """Undo the spaces a word-level decoder leaves before punctuation and English contractions."""
    for spaced, joined in (
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ):
        text = text.replace(spaced, joined)
    return text


# ---------------------------------------------------------------------------------------------
# Helpers for inputs
# ---------------------------------------------------------------------------------------------


def _is_text(value, is_split_into_words: bool) -> bool:
    if is_split_into_words:
        return isinstance(value, (list, tuple)) and all(isinstance(word, str) for word in value)
    return isinstance(value, str)


def _batch_inputs(text, text_pair, is_split_into_words: bool) -> tuple[list, bool]:
    """Check the call's text arguments and turn them into the list ``encode_batch`` takes.

    Returns ``(inputs, is_batched)``; each input is a text or a ``(text, text_pair)`` tuple.
    """
    expected = (
        "a list of words (one example), or a list of such lists (a batch)"
        if is_split_into_words
        else "a str (one text), a list of str (a batch), or a list of (str, str) pairs (a batch of pairs)"
    )
    if _is_text(text, is_split_into_words):
        if text_pair is not None and not _is_text(text_pair, is_split_into_words):
            raise ValueError(f"text_pair must be the same kind of input as text ({expected}), got {text_pair!r}.")
        return [text if text_pair is None else (text, text_pair)], False

    if not isinstance(text, (list, tuple)):
        raise ValueError(f"text must be {expected}; got {type(text).__name__}.")
    if len(text) == 0:
        raise ValueError("text is an empty list: pass at least one text to tokenize.")
    if text_pair is not None:
        if isinstance(text_pair, str) or not isinstance(text_pair, (list, tuple)):
            raise TypeError(
                "when text is a batch (a list), text_pair must be a list of the same length, "
                f"got {type(text_pair).__name__}."
            )
        if len(text_pair) != len(text):
            raise ValueError(
                f"batch length of text ({len(text)}) does not match batch length of text_pair ({len(text_pair)})."
            )
        rows = list(zip(text, text_pair))
    else:
        rows = list(text)

    for index, row in enumerate(rows):
        is_pair = (
            isinstance(row, (list, tuple))
            and len(row) == 2
            and all(_is_text(part, is_split_into_words) for part in row)
        )
        if _is_text(row, is_split_into_words):
            continue
        if is_pair:
            rows[index] = tuple(row)
            continue
        raise ValueError(f"text must be {expected}; item {index} of the batch is {type(row).__name__}: {row!r:.80}")
    return rows, True


def _to_list(value):
    """Tensors and arrays -> Python lists/ints; lists pass through (their tensor items converted)."""
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_to_list(item) for item in value]
    return value


def _holds_tensors(value) -> bool:
    if isinstance(value, (list, tuple)):
        return bool(value) and _holds_tensors(value[0])
    return hasattr(value, "tolist") and hasattr(value, "shape")


def _holds_torch(value) -> bool:
    if isinstance(value, (list, tuple)):
        return _holds_torch(value[0])
    return type(value).__module__.startswith("torch")
