"""``train_new_from_iterator``: the same tokenizer (normaliser, pre-tokeniser, decoder, post-processor,
special tokens) with a vocabulary learned from new text, as in the course's chapter 6.2.

The recipe, in ``tokenizers`` terms:

1. read the backend as JSON and empty its model's vocabulary (BPE's vocab and merges; WordPiece's and
   WordLevel's vocab; Unigram's pieces but its unknown token); set aside the added tokens and the
   post-processor, which name token ids;
2. train that empty model with the trainer of its kind (``BpeTrainer`` ...), given the old special tokens
   (renamed through ``special_tokens_map``) and ``new_special_tokens``, BPE's subword prefix / word
   suffix, and a byte-level alphabet when the pre-tokeniser works on bytes;
3. put the post-processor back with the new ids of its special tokens.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from tokenizers import AddedToken
from tokenizers import Tokenizer as BackendTokenizer
from tokenizers import pre_tokenizers, trainers

_TRAINERS = {"BPE": trainers.BpeTrainer, "WordPiece": trainers.WordPieceTrainer,
             "WordLevel": trainers.WordLevelTrainer, "Unigram": trainers.UnigramTrainer}


def _renamed(token: str, special_tokens_map: Mapping[str, str] | None) -> str:
    return special_tokens_map.get(token, token) if special_tokens_map else token


def _is_byte_level(pre_tokenizer: dict | None) -> bool:
    if not pre_tokenizer:
        return False
    if pre_tokenizer["type"] == "ByteLevel":
        return True
    return pre_tokenizer["type"] == "Sequence" and any(p["type"] == "ByteLevel" for p in pre_tokenizer["pretokenizers"])


def train_backend(backend: BackendTokenizer, text_iterator: Iterable, vocab_size: int, *, length: int | None = None,
                  new_special_tokens: Sequence[str | AddedToken] | None = None,
                  special_tokens_map: Mapping[str, str] | None = None, **trainer_kwargs) -> BackendTokenizer:
    """A new backend of ``backend``'s kind trained on ``text_iterator`` (steps 1-3 above)."""
    spec = json.loads(backend.to_str())
    added_tokens = spec.pop("added_tokens")
    post_processor = spec.pop("post_processor")
    model = spec["model"]
    kind = model["type"]
    if kind not in _TRAINERS:
        raise ValueError(f"train_new_from_iterator trains BPE, WordPiece, WordLevel and Unigram models, not {kind!r}.")

    unk_token = None
    if kind == "BPE":
        model["vocab"], model["merges"] = {}, []
    elif kind == "Unigram":
        if model.get("unk_id") is not None:
            unk_token = _renamed(model["vocab"][model["unk_id"]][0], special_tokens_map)
            model["unk_id"], model["vocab"] = 0, [[unk_token, 0.0]]
    else:
        model["vocab"] = {}
    if model.get("unk_token") is not None:
        model["unk_token"] = _renamed(model["unk_token"], special_tokens_map)
    fresh = BackendTokenizer.from_str(json.dumps(spec))

    special = []
    for token in added_tokens:
        if not token.pop("special", False) and kind != "Unigram":
            continue
        token.pop("id", None)
        token["content"] = _renamed(token["content"], special_tokens_map)
        special.append(AddedToken(**token))
    special.extend(new_special_tokens or ())

    if kind == "BPE":
        for key in ("continuing_subword_prefix", "end_of_word_suffix"):
            if key not in trainer_kwargs and model.get(key) is not None:
                trainer_kwargs[key] = model[key]
    if kind == "Unigram" and unk_token is not None:
        trainer_kwargs["unk_token"] = unk_token
    if _is_byte_level(spec.get("pre_tokenizer")):
        trainer_kwargs["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()
    trainer = _TRAINERS[kind](vocab_size=vocab_size, special_tokens=special, **trainer_kwargs)
    fresh.train_from_iterator(text_iterator, length=length, trainer=trainer)

    if post_processor is None:
        return fresh
    for entry in (post_processor.get("special_tokens") or {}).values():  # TemplateProcessing
        entry["tokens"] = [_renamed(token, special_tokens_map) for token in entry["tokens"]]
        entry["ids"] = [_id_of(fresh, token) for token in entry["tokens"]]
    for key in ("cls", "sep"):  # BertProcessing / RobertaProcessing
        if key in post_processor:
            token = _renamed(post_processor[key][0], special_tokens_map)
            post_processor[key] = [token, _id_of(fresh, token)]
    trained = json.loads(fresh.to_str())
    trained["post_processor"] = post_processor
    return BackendTokenizer.from_str(json.dumps(trained))


def _id_of(backend: BackendTokenizer, token: str) -> int:
    index = backend.token_to_id(token)
    if index is None:
        raise ValueError(f"the post-processor adds {token!r}, which the new vocabulary lacks: pass it in "
                         "new_special_tokens (or map it with special_tokens_map).")
    return index
