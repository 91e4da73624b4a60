"""SentencePiece models (``spiece.model``) read without sentencepiece or protobuf, and ALBERT's pipeline.

A SentencePiece ``.model`` file is one protobuf message, ``ModelProto``. We need four things
from it, and protobuf's wire format is simple enough to read them by hand (``read_spiece_model``):

* the pieces, in id order: ``(piece, score, type)``: type 1 normal, 2 unknown, 3 control
  (``[CLS]``: never produced from text), 4 user-defined (always one piece, never split);
* the trainer's model type (1 = Unigram) and ``unk_id``;
* the normaliser's ``precompiled_charsmap``: the NFKC-like character map SentencePiece applied
  while training, which ``tokenizers``' ``Precompiled`` normaliser replays byte for byte.

``build_albert_backend`` then makes the ``tokenizers`` pipeline that transformers'
``AlbertTokenizer`` makes from the same file::

    normalizer     ``  and '' -> "  ,  NFKD + strip accents (unless keep_accents),  lowercase
                   (if do_lower_case),  the precompiled charsmap
    pre_tokenizer  split on whitespace, then Metaspace: each word gets "▁" in front
    model          Unigram over the pieces' log-probabilities (the most probable segmentation)
    post_processor [CLS] A [SEP]  /  [CLS] A [SEP] B [SEP]  (B with token type 1)
    decoder        Metaspace: "▁" back to spaces

``build_t5_backend`` makes T5's (transformers' ``T5Tokenizer``) from the same reader::

    normalizer     the precompiled charsmap only (T5 keeps case and accents)
    pre_tokenizer  split on whitespace, then Metaspace: each word gets "▁" in front
    model          Unigram over the pieces, then ``extra_ids`` (100) sentinels appended in
                   reverse: ``<extra_id_0>`` is the last id, ``<extra_id_99>`` the first after the pieces
    post_processor A </s>  /  A </s> B </s>  (all token type 0: T5 has no segment embeddings)
    decoder        Metaspace: "▁" back to spaces

The sentinels are special added tokens: a span-corruption input reads
``"The <extra_id_0> walks in <extra_id_1> park"`` and each sentinel stays one id.

``Tokenizer.from_pretrained`` uses these for a folder with ``spiece.model`` and no
``tokenizer.json``: T5's when its ``tokenizer_class`` is ``T5Tokenizer`` (from
``tokenizer_config.json``, an override ``tokenizer_class="T5Tokenizer"``, or a ``config.json``
whose ``model_type`` is ``"t5"``), ALBERT's when it is ALBERT's or nothing says.

Protobuf wire format, the part used here: a message is a run of fields, each a varint key
``(field_number << 3) | wire_type`` and a value: wire type 0 a varint, 1 eight bytes, 2 a varint
length and that many bytes (strings, bytes, sub-messages), 5 four bytes (a float).
"""
from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import NamedTuple

from tokenizers import AddedToken, decoders, normalizers, pre_tokenizers, processors
from tokenizers import Tokenizer as BackendTokenizer
from tokenizers.models import Unigram

SPIECE_FILE = "spiece.model"
_ALBERT_CLASSES = frozenset({"AlbertTokenizer"})
_T5_CLASSES = frozenset({"T5Tokenizer"})

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
UNIGRAM = 1


class SentencePieceModel(NamedTuple):
    """What hfexplain reads from a ``spiece.model``."""

    pieces: list[tuple[str, float, int]]  # (piece, score, type), in id order
    model_type: int  # 1 Unigram, 2 BPE, 3 word, 4 char
    unk_id: int
    precompiled_charsmap: bytes


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field of one message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(data):
            raise ValueError("truncated field")
        yield number, wire, value


def _signed(value: int) -> int:
    """An int32 field as protobuf stores a negative one (ten-byte two's complement varint)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def read_spiece_model(path: str | os.PathLike) -> SentencePieceModel:
    """Read a SentencePiece ``.model`` file (a ``ModelProto``) with no protobuf library."""
    with open(path, "rb") as f:
        data = f.read()
    pieces: list[tuple[str, float, int]] = []
    model_type, unk_id, charsmap = UNIGRAM, 0, b""  # protobuf defaults
    try:
        for number, _wire, value in _fields(data):
            if number == 1:  # repeated SentencePiece pieces = 1
                piece, score, kind = "", 0.0, NORMAL
                for field, _, item in _fields(value):
                    if field == 1:
                        piece = item.decode("utf-8")
                    elif field == 2:
                        score = struct.unpack("<f", item)[0]
                    elif field == 3:
                        kind = item
                pieces.append((piece, score, kind))
            elif number == 2:  # TrainerSpec trainer_spec = 2
                for field, _, item in _fields(value):
                    if field == 3:
                        model_type = item
                    elif field == 40:
                        unk_id = _signed(item)
            elif number == 3:  # NormalizerSpec normalizer_spec = 3
                for field, _, item in _fields(value):
                    if field == 2:
                        charsmap = bytes(item)
    except (ValueError, UnicodeDecodeError, struct.error) as error:
        raise OSError(
            f"{os.fspath(path)!r} is not a SentencePiece model ({error}); spiece.model must be the file "
            "sentencepiece's trainer wrote (a ModelProto)."
        ) from None
    if not pieces:
        raise OSError(f"{os.fspath(path)!r} holds no SentencePiece pieces; is it a SentencePiece .model file?")
    return SentencePieceModel(pieces, model_type, unk_id, charsmap)


def build_albert_backend(
    spiece_file: str | os.PathLike,
    *,
    do_lower_case: bool = True,
    keep_accents: bool = False,
    add_prefix_space: bool = True,
    cls_token: str = "[CLS]",
    sep_token: str = "[SEP]",
) -> BackendTokenizer:
    """ALBERT's ``tokenizers`` pipeline from its ``spiece.model`` (see the module docstring).

    Control pieces (``[CLS]``, ``[SEP]``, ``[MASK]``) become special added tokens and
    user-defined pieces plain added tokens, both matched before normalisation, as transformers'
    conversion makes them.
    """
    spm = read_spiece_model(spiece_file)
    if spm.model_type != UNIGRAM:
        raise OSError(
            f"{os.fspath(spiece_file)!r} is a SentencePiece model of type {spm.model_type}, not Unigram (1): "
            "ALBERT's tokenizer is a Unigram model. Use the spiece.model that came with the checkpoint."
        )
    backend = BackendTokenizer(Unigram([(piece, score) for piece, score, _ in spm.pieces], unk_id=spm.unk_id,
                                       byte_fallback=False))
    steps = [normalizers.Replace("``", '"'), normalizers.Replace("''", '"')]
    if not keep_accents:
        steps += [normalizers.NFKD(), normalizers.StripAccents()]
    if do_lower_case:
        steps.append(normalizers.Lowercase())
    if spm.precompiled_charsmap:
        steps.append(normalizers.Precompiled(spm.precompiled_charsmap))
    backend.normalizer = normalizers.Sequence(steps)
    scheme = "always" if add_prefix_space else "never"
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme)]
    )
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=scheme)

    for piece, _score, kind in spm.pieces:
        if kind in (UNKNOWN, CONTROL):
            backend.add_special_tokens([AddedToken(piece, special=True, normalized=False)])
        elif kind == USER_DEFINED:
            backend.add_tokens([AddedToken(piece, special=False, normalized=False)])
    cls_id, sep_id = backend.token_to_id(cls_token), backend.token_to_id(sep_token)
    if cls_id is None or sep_id is None:
        missing = [token for token, index in ((cls_token, cls_id), (sep_token, sep_id)) if index is None]
        raise OSError(
            f"{os.fspath(spiece_file)!r} has no piece for {', '.join(missing)}: it is not an ALBERT vocabulary."
        )
    backend.post_processor = processors.TemplateProcessing(
        single=f"{cls_token}:0 $A:0 {sep_token}:0",
        pair=f"{cls_token}:0 $A:0 {sep_token}:0 $B:1 {sep_token}:1",
        special_tokens=[(cls_token, cls_id), (sep_token, sep_id)],
    )
    return backend


def sentinel_tokens(extra_ids: int) -> list[str]:
    """T5's span-corruption sentinels, ``<extra_id_0>`` ... ``<extra_id_{extra_ids - 1}>``."""
    return [f"<extra_id_{index}>" for index in range(extra_ids)]


def build_t5_backend(
    spiece_file: str | os.PathLike,
    *,
    extra_ids: int = 100,
    eos_token: str = "</s>",
) -> BackendTokenizer:
    """T5's ``tokenizers`` pipeline from its ``spiece.model`` (see the module docstring).

    The file's unknown and control pieces (``<unk>``, ``<pad>``, ``</s>``) and the ``extra_ids``
    sentinels appended after them become special added tokens, matched before normalisation; an
    ``eos_token`` that is none of them is added after the sentinels.
    """
    spm = read_spiece_model(spiece_file)
    if spm.model_type != UNIGRAM:
        raise OSError(
            f"{os.fspath(spiece_file)!r} is a SentencePiece model of type {spm.model_type}, not Unigram (1): "
            "T5's tokenizer is a Unigram model. Use the spiece.model that came with the checkpoint."
        )
    if extra_ids < 0:
        raise ValueError(f"extra_ids must be >= 0 (T5 uses 100), got {extra_ids}.")
    sentinels = sentinel_tokens(extra_ids)[::-1]  # <extra_id_0> gets the last id
    vocab = [(piece, score) for piece, score, _ in spm.pieces] + [(token, 0.0) for token in sentinels]
    backend = BackendTokenizer(Unigram(vocab, unk_id=spm.unk_id, byte_fallback=False))
    if spm.precompiled_charsmap:
        backend.normalizer = normalizers.Precompiled(spm.precompiled_charsmap)
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")

    specials = [piece for piece, _score, kind in spm.pieces if kind in (UNKNOWN, CONTROL)] + sentinels
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in specials])
    if backend.token_to_id(eos_token) is None:  # an eos_token the file lacks gets the next id, as in transformers
        backend.add_special_tokens([AddedToken(eos_token, special=True, normalized=False)])
    eos_id = backend.token_to_id(eos_token)
    backend.post_processor = processors.TemplateProcessing(
        single=f"$A:0 {eos_token}:0", pair=f"$A:0 {eos_token}:0 $B:0 {eos_token}:0",
        special_tokens=[(eos_token, eos_id)],
    )
    return backend


def t5_additional_special_tokens(config: dict, extra_ids: int, control_pieces: list[str]) -> list:
    """The sentinels T5's tokenizer lists as additional special tokens (after the file's control pieces,
    ``<pad>`` and ``</s>``, as transformers' conversion lists them), checked as transformers checks them."""
    given = config.get("additional_special_tokens")
    if given is None:
        return control_pieces + sentinel_tokens(extra_ids)
    given = list(given)
    named = [token for token in given if "<extra_id_" in str(token)]
    if not named:
        return given + sentinel_tokens(extra_ids)
    if extra_ids > 0 and len(named) != extra_ids:
        raise ValueError(
            f"Both extra_ids ({extra_ids}) and additional_special_tokens ({given}) are given to the T5 tokenizer, "
            f"and the additional_special_tokens hold {len(named)} <extra_id_N> sentinels, not {extra_ids}. List all "
            "of them, or none (they are then added), or set extra_ids to their number."
        )
    return given


def albert_special_tokens(spiece_file: str | os.PathLike) -> list[AddedToken]:
    """The control and user-defined pieces, as transformers lists them in ``extra_special_tokens``."""
    spm = read_spiece_model(spiece_file)
    return [AddedToken(piece, special=kind == CONTROL, normalized=False)
            for piece, _score, kind in spm.pieces if kind in (CONTROL, USER_DEFINED)]


# AlbertTokenizer's defaults, for a folder whose config does not name them.
ALBERT_DEFAULTS = {"bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "<unk>", "sep_token": "[SEP]",
                   "pad_token": "<pad>", "cls_token": "[CLS]", "mask_token": "[MASK]"}
# T5Tokenizer's: no bos, cls, sep or mask token.
T5_DEFAULTS = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}


def t5_config_defaults(config: dict, spiece_file: str | os.PathLike | None = None) -> None:
    """Fill ``config`` as ``T5Tokenizer`` would: its special tokens, ``extra_ids`` (100) and the sentinels
    as additional special tokens (checked against ``extra_ids``; after ``spiece_file``'s control pieces)."""
    for name, default in T5_DEFAULTS.items():
        config.setdefault(name, default)
    extra_ids = int(config.get("extra_ids", 100))
    config["extra_ids"] = extra_ids
    if "additional_special_tokens" not in config and "extra_special_tokens" in config:
        extra = config.pop("extra_special_tokens")
        config["additional_special_tokens"] = list(extra.values()) if isinstance(extra, dict) else list(extra)
    control = [] if spiece_file is None else [
        piece for piece, _score, kind in read_spiece_model(spiece_file).pieces if kind == CONTROL]
    config["additional_special_tokens"] = t5_additional_special_tokens(config, extra_ids, control)


def backend_from_spiece(spiece_file: str, config: dict, tokenizer_class: str | None, where) -> BackendTokenizer:
    """For ``Tokenizer.from_pretrained``: the backend of a folder that has ``spiece.model`` and no
    ``tokenizer.json``: T5's pipeline for ``T5Tokenizer``, ALBERT's for ``AlbertTokenizer`` or no
    class. Fills ``config`` with that family's special-token defaults where it is silent."""
    known = _ALBERT_CLASSES | _T5_CLASSES
    if tokenizer_class not in (None, "PreTrainedTokenizer") and tokenizer_class not in known:
        raise OSError(
            f"{os.fspath(where)!r} has {SPIECE_FILE} but no tokenizer.json, and its tokenizer_class "
            f"{tokenizer_class!r} is not one whose pipeline we rebuild from {SPIECE_FILE} (we know "
            f"{sorted(known)}). Create a tokenizer.json once with transformers (it needs sentencepiece "
            "and protobuf for this): AutoTokenizer.from_pretrained(path).save_pretrained(path)."
        )
    if tokenizer_class in _T5_CLASSES:
        t5_config_defaults(config, spiece_file)
        return build_t5_backend(spiece_file, extra_ids=config["extra_ids"], eos_token=str(config["eos_token"]))
    for name, default in ALBERT_DEFAULTS.items():
        config.setdefault(name, default)
    if "additional_special_tokens" not in config and "extra_special_tokens" not in config:
        config["additional_special_tokens"] = albert_special_tokens(spiece_file)
    try:
        return build_albert_backend(
            spiece_file,
            do_lower_case=config.get("do_lower_case", True),
            keep_accents=config.get("keep_accents", False),
            add_prefix_space=config.get("add_prefix_space", True),
            cls_token=str(config["cls_token"]),
            sep_token=str(config["sep_token"]),
        )
    except OSError as error:
        if tokenizer_class is None and "</s>" in {piece for piece, _, _ in read_spiece_model(spiece_file).pieces}:
            raise OSError(
                f"{error} It has a '</s>' piece: if it is T5's, say so with tokenizer_class=\"T5Tokenizer\" "
                "(in tokenizer_config.json, or as an argument to from_pretrained)."
            ) from None
        raise


__all__ = ["SPIECE_FILE", "SentencePieceModel", "read_spiece_model", "build_albert_backend",
           "albert_special_tokens", "build_t5_backend", "sentinel_tokens", "backend_from_spiece"]
