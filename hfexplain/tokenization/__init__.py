"""Text -> token ids -> text, over the real ``tokenizers`` library.

A Hugging Face tokenizer is two layers: **the backend** (``tokenizers.Tokenizer``, written in
Rust; ``tokenizer.json`` is this object, saved) runs ``normalizer -> pre_tokenizer -> model ->
post_processor`` on a string, and **the call semantics** on top (padding, truncation, which
fields a model expects, special-token attributes, the config files) keep the names and
behaviour of transformers' ``PreTrainedTokenizerFast``. The rooms:

```
tokenization/
  tokenizer.py        PreTrainedTokenizerFast: loading, saving, __call__, pad, decode, special-token
                      attributes (tok.pad_token, tok.pad_token_id, ...); Tokenizer, its subclass that
                      AutoTokenizer gives (model inputs from the family a folder names), and the named
                      classes (BertTokenizerFast, GPT2TokenizerFast, ...) with their families' defaults
  batch_encoding.py   BatchEncoding: what a call returns (a dict + the backend Encodings); CharSpan, TokenSpan
  legacy.py           rebuilding a backend from vocab.txt (WordPiece) or vocab.json + merges.txt
                      (byte-level BPE: GPT-2's, or RoBERTa's and BART's with <s> ... </s>) when a
                      folder has no tokenizer.json
  files.py            file names, strategy names, which classes return token_type_ids, config readers,
                      config.json's model_type -> tokenizer class (for folders with no tokenizer config)
  clip.py             CLIPTokenizer: a Tokenizer whose decode turns CLIP's end-of-word ``</w>`` into spaces
                      (AutoTokenizer picks it from tokenizer_class or config.json's model_type)
  ctc.py              Wav2Vec2CTCTokenizer: a character vocabulary (vocab.json) in plain Python; decoding
                      merges repeated frame ids, drops the blank (pad) and turns "|" into spaces.
                      AutoTokenizer picks it from tokenizer_config.json's tokenizer_class
  sentencepiece.py    reading spiece.model without sentencepiece or protobuf, and the Unigram
                      pipelines rebuilt from it (as legacy.py does for vocab.txt): ALBERT's, and T5's
                      (A </s>, the <extra_id_N> sentinels appended after the pieces)
```

Where the next tokenizers go (one module each, subclassing or wrapping ``Tokenizer``):

- Other SentencePiece families (XLNet, mBART, Marian's two vocabularies): with a
  ``tokenizer.json`` they already load through ``Tokenizer``; ``sentencepiece.py``'s reader gives
  their pieces, their pipelines differ.
- ``whisper.py``: ``WhisperTokenizer`` (GPT-2's byte-level BPE plus language, task and timestamp
  special tokens; the decoder prompt ids and decoding with timestamps).

Non-text inputs (pixels, audio features) go through :mod:`hfexplain.processing`, whose
processors hold one of these tokenizers next to an image processor or feature extractor.
Every name below stays importable as ``from hfexplain.tokenization import X``.
"""
from __future__ import annotations

from .batch_encoding import BatchEncoding, CharSpan, TokenSpan
from .clip import CLIPTokenizer
from .ctc import Wav2Vec2CTCTokenizer, Wav2Vec2CTCTokenizerOutput
from .files import (
    ADDED_TOKENS_FILE,
    BPE_MERGES_FILE,
    BPE_VOCAB_FILE,
    LARGE_INTEGER,
    PADDING_STRATEGIES,
    SPECIAL_TOKENS_ATTRIBUTES,
    SPECIAL_TOKENS_MAP_FILE,
    TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE,
    TRUNCATION_STRATEGIES,
    VERY_LARGE_INTEGER,
    WORDPIECE_VOCAB_FILE,
)
from .legacy import build_byte_level_bpe_backend, build_clip_backend, build_roberta_backend, build_wordpiece_backend
from .sentencepiece import SPIECE_FILE, build_albert_backend, build_t5_backend, read_spiece_model, sentinel_tokens
from .tokenizer import (
    BertTokenizer,
    BertTokenizerFast,
    GPT2Tokenizer,
    GPT2TokenizerFast,
    LlamaTokenizer,
    LlamaTokenizerFast,
    PreTrainedTokenizerFast,
    Tokenizer,
    clean_up_tokenization,
)
from .whisper import WhisperTokenizer

__all__ = [
    "WhisperTokenizer",
    "ADDED_TOKENS_FILE",
    "BPE_MERGES_FILE",
    "BPE_VOCAB_FILE",
    "BatchEncoding",
    "CharSpan",
    "CLIPTokenizer",
    "LARGE_INTEGER",
    "PADDING_STRATEGIES",
    "PreTrainedTokenizerFast",
    "BertTokenizer",
    "BertTokenizerFast",
    "GPT2Tokenizer",
    "GPT2TokenizerFast",
    "LlamaTokenizer",
    "LlamaTokenizerFast",
    "SPECIAL_TOKENS_ATTRIBUTES",
    "SPECIAL_TOKENS_MAP_FILE",
    "SPIECE_FILE",
    "TOKENIZER_CONFIG_FILE",
    "TOKENIZER_FILE",
    "TRUNCATION_STRATEGIES",
    "TokenSpan",
    "Tokenizer",
    "VERY_LARGE_INTEGER",
    "Wav2Vec2CTCTokenizer",
    "Wav2Vec2CTCTokenizerOutput",
    "WORDPIECE_VOCAB_FILE",
    "build_albert_backend",
    "build_byte_level_bpe_backend",
    "build_clip_backend",
    "build_roberta_backend",
    "build_t5_backend",
    "build_wordpiece_backend",
    "clean_up_tokenization",
    "read_spiece_model",
    "sentinel_tokens",
]
