"""Rebuilding a backend from the older vocabulary files, when a folder has no ``tokenizer.json``.

``vocab.txt`` gives BERT's WordPiece pipeline, ``vocab.json`` + ``merges.txt`` GPT-2's
byte-level BPE (and RoBERTa's and BART's: the same BPE with ``<s> A </s></s> B </s>`` around the text;
and CLIP's: lower-cased, split by its own regex, ``</w>`` at each word's end); ``added_tokens.json`` (or the config's ``added_tokens_decoder``) puts added
tokens back on their saved ids. SentencePiece's ``spiece.model`` (ALBERT, T5) is rebuilt in
``sentencepiece.py``; other families need a ``tokenizer.json``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from tokenizers import AddedToken, Regex, decoders, normalizers, pre_tokenizers, processors
from tokenizers import Tokenizer as BackendTokenizer
from tokenizers.models import BPE, WordPiece

from .files import SPECIAL_TOKENS_ATTRIBUTES, _as_token, _read_json

# Without tokenizer.json we rebuild the pipeline ourselves, which we only know how to do for
# these families (a RobertaTokenizer has GPT-2's vocab.json + merges.txt, but adds <s> ... </s>).
_WORDPIECE_CLASSES = frozenset(
    {
        "BertTokenizer",
        "DistilBertTokenizer",
        "ElectraTokenizer",
        "LayoutLMTokenizer",
        "MobileBertTokenizer",
        "SqueezeBertTokenizer",
        "ConvBertTokenizer",
    }
)
_BYTE_LEVEL_BPE_CLASSES = frozenset({"GPT2Tokenizer", "RobertaTokenizer", "BartTokenizer", "CLIPTokenizer"})
# Of those, the ones that wrap the text in <s> ... </s> (RobertaTokenizer's defaults, in transformers' order).
# BART's tokenizer is RoBERTa's (transformers 5 makes BartTokenizer an alias of RobertaTokenizer).
_ROBERTA_CLASSES = frozenset({"RobertaTokenizer", "BartTokenizer"})
ROBERTA_SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                          "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}

_CLIP_CLASSES = frozenset({"CLIPTokenizer"})
# CLIPTokenizer's defaults: <|endoftext|> ends the text, pads it and stands for unknown text.
CLIP_SPECIAL_TOKENS = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                       "pad_token": "<|endoftext|>"}
# CLIP's split (from OpenAI's simple_tokenizer): its special tokens, English contractions, runs of
# letters, single digits, runs of other non-space characters. Whitespace is dropped.
CLIP_SPLIT_PATTERN = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
CLIP_END_OF_WORD = "</w>"


def build_wordpiece_backend(
    vocab_file: str,
    *,
    do_lower_case: bool = True,
    strip_accents: bool | None = None,
    tokenize_chinese_chars: bool = True,
    unk_token: str = "[UNK]",
    cls_token: str = "[CLS]",
    sep_token: str = "[SEP]",
) -> BackendTokenizer:
    """The BERT pipeline from a ``vocab.txt`` (one token per line; the line number is its id).

    normalizer: clean control characters, space around CJK characters, lower-case (and strip
    accents when lower-casing, unless ``strip_accents`` says otherwise); pre-tokenizer: split on
    whitespace and punctuation; model: greedy longest-match WordPiece with ``##`` continuations;
    post-processor: ``[CLS] A [SEP]`` and ``[CLS] A [SEP] B [SEP]`` with token type 0 for A and 1 for B.
    """
    vocab: dict[str, int] = {}
    try:
        with open(vocab_file, encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                vocab[line.rstrip("\n")] = index
    except UnicodeDecodeError as err:
        raise OSError(
            f"{vocab_file!r} is not UTF-8 text ({err.reason} at byte {err.start}): a vocab.txt holds one token per "
            "line in UTF-8. It is corrupted: download it again, or save the tokenizer again with save_pretrained()."
        ) from err
    for name, token in (("unk_token", unk_token), ("cls_token", cls_token), ("sep_token", sep_token)):
        if token not in vocab:
            raise OSError(
                f"{vocab_file} has no {name} {token!r}. Name the right token in tokenizer_config.json "
                f"(e.g. \"{name}\": \"...\") or pass {name}=... to from_pretrained()."
            )
    backend = BackendTokenizer(WordPiece(vocab, unk_token=unk_token, continuing_subword_prefix="##"))
    backend.normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=tokenize_chinese_chars,
        strip_accents=strip_accents,
        lowercase=do_lower_case,
    )
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece(prefix="##")
    backend.post_processor = processors.TemplateProcessing(
        single=f"{cls_token}:0 $A:0 {sep_token}:0",
        pair=f"{cls_token}:0 $A:0 {sep_token}:0 $B:1 {sep_token}:1",
        special_tokens=[(cls_token, vocab[cls_token]), (sep_token, vocab[sep_token])],
    )
    return backend


def build_byte_level_bpe_backend(
    vocab_file: str, merges_file: str, *, add_prefix_space: bool = False
) -> BackendTokenizer:
    """The GPT-2 pipeline from ``vocab.json`` (token -> id) and ``merges.txt`` (merge rules, best first).

    pre-tokenizer: GPT-2's regex split, then every byte mapped to a printable character (a
    space becomes ``Ġ``), so no text is ever unknown; model: byte-pair merges; decoder: the
    byte mapping undone. No special tokens are added around the text (GPT-2 adds none).
    """
    backend = BackendTokenizer(BPE.from_file(vocab_file, merges_file, fuse_unk=False))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    backend.decoder = decoders.ByteLevel()
    # Adds nothing; only marks the second text of a pair with token type 1.
    backend.post_processor = processors.TemplateProcessing(single="$A:0", pair="$A:0 $B:1", special_tokens=[])
    return backend


def build_roberta_backend(
    vocab_file: str,
    merges_file: str,
    *,
    add_prefix_space: bool = False,
    trim_offsets: bool = True,
    cls_token: str = "<s>",
    sep_token: str = "</s>",
) -> BackendTokenizer:
    """RoBERTa's pipeline from ``vocab.json`` + ``merges.txt``: GPT-2's byte-level BPE, then
    ``<s> A </s>`` for one text and ``<s> A </s></s> B </s>`` for a pair (all token type 0).

    The post-processor (``RobertaProcessing``) also trims the spaces the byte-level split keeps at
    the front of a token out of its offsets (``trim_offsets``), as transformers' RobertaTokenizer.
    """
    backend = build_byte_level_bpe_backend(vocab_file, merges_file, add_prefix_space=add_prefix_space)
    ids = _wrapping_token_ids(backend, vocab_file, "RoBERTa", cls_token=cls_token, sep_token=sep_token)
    backend.post_processor = processors.RobertaProcessing(
        (sep_token, ids["sep_token"]), (cls_token, ids["cls_token"]),
        trim_offsets=trim_offsets, add_prefix_space=add_prefix_space,
    )
    return backend


def build_clip_backend(
    vocab_file: str,
    merges_file: str,
    *,
    bos_token: str = "<|startoftext|>",
    eos_token: str = "<|endoftext|>",
    unk_token: str = "<|endoftext|>",
) -> BackendTokenizer:
    """CLIP's pipeline from ``vocab.json`` + ``merges.txt`` (what transformers' CLIPTokenizer builds).

    normalizer: Unicode NFC, every run of whitespace to one space, lower-case; pre-tokenizer: CLIP's
    regex split (``CLIP_SPLIT_PATTERN``), then GPT-2's byte mapping; model: byte-pair merges where
    the last symbol of a word carries ``</w>`` (so ``cat`` inside a word and ``cat</w>`` at its end
    are different tokens, and decoding turns each ``</w>`` back into a space); post-processor:
    ``<|startoftext|> A <|endoftext|>`` (``<|startoftext|> A <|endoftext|><|endoftext|> B
    <|endoftext|>`` for a pair, RoBERTa's template).
    """
    backend = BackendTokenizer(BPE.from_file(vocab_file, merges_file, continuing_subword_prefix="",
                                             end_of_word_suffix=CLIP_END_OF_WORD, fuse_unk=False,
                                             unk_token=unk_token))
    backend.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CLIP_SPLIT_PATTERN), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    backend.decoder = decoders.ByteLevel()
    ids = _wrapping_token_ids(backend, vocab_file, "CLIP", bos_token=bos_token, eos_token=eos_token)
    backend.post_processor = processors.RobertaProcessing(
        (eos_token, ids["eos_token"]), (bos_token, ids["bos_token"]), trim_offsets=False, add_prefix_space=False,
    )
    return backend


def _wrapping_token_ids(backend: BackendTokenizer, vocab_file: str, family: str, **tokens: str) -> dict[str, int]:
    """The ids of the tokens a post-processor puts around every text (name -> id); a clear error for one
    the vocabulary lacks."""
    ids = {}
    for name, token in tokens.items():
        ids[name] = backend.token_to_id(token)
        if ids[name] is None:
            raise OSError(
                f"{vocab_file} has no {name} {token!r}: {family} puts it around every text. Name the right token in "
                f"tokenizer_config.json (e.g. \"{name}\": \"...\") or pass {name}=... to from_pretrained()."
            )
    return ids


def _add_tokens_with_ids(backend: BackendTokenizer, config: dict, added_tokens_file: str | None, where) -> None:
    """Restore added tokens listed next to a vocabulary file, checking each lands on its saved id.

    tokenizer_config.json's ``added_tokens_decoder`` ({"30522": {"content": "<new>", ...}}) and
    the older ``added_tokens.json`` ({"<new>": 30522}) both say which id each token had.
    """
    wanted: dict[int, AddedToken] = {}
    for index, fields in (config.get("added_tokens_decoder") or {}).items():
        wanted[int(index)] = _as_token(fields) if isinstance(fields, Mapping) else AddedToken(str(fields))
    special = {str(_as_token(config.get(name))) for name in SPECIAL_TOKENS_ATTRIBUTES if config.get(name)}
    for content, index in _read_json(added_tokens_file).items():
        is_special = content in special
        wanted.setdefault(int(index), AddedToken(content, special=is_special, normalized=not is_special))
    for index, token in sorted(wanted.items()):
        if token.special:
            backend.add_special_tokens([token])
        else:
            backend.add_tokens([token])
        if backend.token_to_id(token.content) != index:
            raise OSError(
                f"the added token {token.content!r} of {os.fspath(where)!r} should have id {index}, but the "
                f"vocabulary gives it {backend.token_to_id(token.content)}: the vocabulary and the added tokens "
                "do not belong together. Re-save the tokenizer with save_pretrained()."
            )
