"""The files around a tokenizer and the tables read from them.

File names as transformers spells them, the strategy names a call accepts, which tokenizer
classes return ``token_type_ids`` by default, which config keys are never saved back, and the
two readers every loader uses: ``_read_json`` (a config file, or ``{}`` when it is missing) and
``_as_token`` (a special token as a config file writes it).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokenizers import AddedToken

from ..hub import read_json_object

# File names, as transformers uses them.
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"
ADDED_TOKENS_FILE = "added_tokens.json"
WORDPIECE_VOCAB_FILE = "vocab.txt"
BPE_VOCAB_FILE = "vocab.json"
BPE_MERGES_FILE = "merges.txt"

# A checkpoint folder's config.json "model_type" -> the tokenizer class transformers' AutoTokenizer
# picks for it, for a folder whose tokenizer_config.json names none (facebook/bart-base ships none).
MODEL_TYPE_TOKENIZER_CLASSES = {
    "albert": "AlbertTokenizer",
    "bart": "BartTokenizer",
    "bert": "BertTokenizer",
    "clip": "CLIPTokenizer",
    "gpt2": "GPT2Tokenizer",
    "roberta": "RobertaTokenizer",
    "t5": "T5Tokenizer",
}
MODEL_CONFIG_FILE = "config.json"

# "No limit": the model_max_length of a tokenizer whose config does not say.
VERY_LARGE_INTEGER = int(1e30)
LARGE_INTEGER = int(1e20)

SPECIAL_TOKENS_ATTRIBUTES = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)

PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")

# Which inputs the model's forward() takes decides whether a call returns token_type_ids by
# default. transformers (5.x) records it per tokenizer class (`model_input_names`); these are
# the classes whose list has "token_type_ids". Everything else returns input_ids + attention_mask.
_CLASSES_WITH_TOKEN_TYPE_IDS = frozenset(
    {
        "BertTokenizer",
        "ConvBertTokenizer",
        "ElectraTokenizer",
        "LayoutLMTokenizer",
        "MobileBertTokenizer",
        "SqueezeBertTokenizer",
        "DPRContextEncoderTokenizer",
        "DPRQuestionEncoderTokenizer",
        "DebertaTokenizer",
        "DebertaV2Tokenizer",
        "FNetTokenizer",
        "MarkupLMTokenizer",
        "CanineTokenizer",
        "LayoutLMv2Tokenizer",
        "TapasTokenizer",
    }
)
# Config keys that describe where files were, not how to tokenize: never saved back.
_PRIVATE_CONFIG_KEYS = (
    "name_or_path",
    "tokenizer_file",
    "vocab_file",
    "merges_file",
    "special_tokens_map_file",
    "added_tokens_decoder",
    "tokenizer_class",
    "add_bos_token",
    "add_eos_token",
)


def _as_token(value: Any) -> str | AddedToken | None:
    """A special token from a config file: a string, or a dict such as {"content": "[PAD]", "lstrip": false}."""
    if value is None or isinstance(value, (str, AddedToken)):
        return value
    if isinstance(value, Mapping) and "content" in value:
        fields = {key: item for key, item in value.items() if key != "__type"}
        fields.setdefault("special", True)
        return AddedToken(**fields)
    raise TypeError(f"a special token must be a string or a dict with 'content', got {value!r}")


def _read_json(path: str | None) -> dict:
    if path is None:
        return {}
    return read_json_object(path, what="a tokenizer file")
