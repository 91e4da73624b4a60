"""BART's byte-level BPE tokenizer: hfexplain against transformers' BartTokenizer.

BART's tokenizer is RoBERTa's (GPT-2's byte-level BPE with ``<s> A </s>`` and
``<s> A </s></s> B </s>``; transformers 5 makes ``BartTokenizer`` an alias of
``RobertaTokenizer``). The vocabulary is trained here on CPython's docs with BART's layout
(``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3, ``<mask>`` last, as in facebook/bart-base's
vocab.json). Three ways in, each compared with transformers on the text set of
tests/test_tokenization.py (accents, emoji, CJK, whitespace runs, code, special tokens in the
text, pairs, truncation, offsets, special-token masks, decode):

* ``vocab.json`` + ``merges.txt`` + a ``tokenizer_config.json`` naming ``BartTokenizer``;
* ``vocab.json`` + ``merges.txt`` + a checkpoint's ``config.json`` (``model_type`` "bart"), no
  tokenizer config, as facebook/bart-base without its tokenizer.json;
* the ``tokenizer.json`` transformers saves from the first.
"""
from __future__ import annotations

import json
import os
import warnings

import pytest

tokenizers = pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")

from test_tokenization import BPE_TEXTS, MINILM_PAIRS, MINILM_TEXTS, as_plain, assert_same_call  # noqa: E402

from hfexplain import AutoTokenizer  # noqa: E402
from hfexplain.tokenization import Tokenizer  # noqa: E402

TEXTS = MINILM_TEXTS + BPE_TEXTS + [
    "UN Chief Says There Is No <mask> in Syria",  # BART's fill-mask example
    "<s>already</s> wrapped <pad> and <unk>",
    " a leading space",
]
BATCH_CALLS = [
    dict(padding=True),
    dict(padding=True, truncation=True, return_tensors="pt"),  # model_max_length 40
    dict(padding="max_length", max_length=48, truncation=True, return_tensors="pt"),
    dict(truncation=True, max_length=8),
    dict(padding=True, padding_side="left", return_tensors="pt"),
    dict(padding=True, return_special_tokens_mask=True, return_length=True, return_offsets_mapping=True),
    dict(truncation=True, max_length=10, stride=3, return_overflowing_tokens=True),
    dict(padding=True, return_token_type_ids=True),
]


def bart_vocab_files(folder):
    """A byte-level BPE with BART's special-token layout, as vocab.json + merges.txt in ``folder``."""
    from pydoc_data.topics import topics
    from tokenizers import decoders, models, pre_tokenizers, trainers

    lines = [line for topic in sorted(topics) for line in topics[topic].splitlines() if line.strip()][:600]
    backend = tokenizers.Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(lines, trainer)
    backend.model.save(str(folder))
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    vocab["<mask>"] = len(vocab)  # BART's <mask> is the last id of its vocab.json
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    return len(vocab)


@pytest.fixture(scope="module")
def bart_vocab(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bart_vocab_merges")
    bart_vocab_files(folder)
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BartTokenizer",
                                                              "model_max_length": 40}))
    return str(folder)


@pytest.fixture(scope="module")
def bart_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bart_checkpoint")
    size = bart_vocab_files(folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "bart", "vocab_size": size}))
    return str(folder)


@pytest.fixture(scope="module")
def bart_json(bart_vocab, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bart_tokenizer_json")
    transformers.logging.set_verbosity_error()
    transformers.BartTokenizer.from_pretrained(bart_vocab).save_pretrained(folder)
    assert os.path.exists(folder / "tokenizer.json")
    return str(folder)


def check_text_set(mine, theirs):
    assert mine.special_tokens_map == theirs.special_tokens_map
    assert mine.all_special_tokens == theirs.all_special_tokens and mine.all_special_ids == theirs.all_special_ids
    assert mine.model_input_names == theirs.model_input_names == ["input_ids", "attention_mask"]
    assert mine.get_vocab() == theirs.get_vocab() and len(mine) == len(theirs)
    assert mine.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]) == [0, 1, 2, 3, len(mine) - 1]
    assert mine.model_max_length == theirs.model_max_length
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # texts over model_max_length
        for text in TEXTS:
            assert_same_call(mine, theirs, text, return_offsets_mapping=True, return_special_tokens_mask=True,
                             return_length=True)
            assert mine.tokenize(text) == theirs.tokenize(text), text
            ids = theirs(text)["input_ids"]
            for skip in (False, True):
                assert mine.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip)
            assert mine.get_special_tokens_mask(ids, already_has_special_tokens=True) == \
                theirs.get_special_tokens_mask(ids, already_has_special_tokens=True)
        firsts, seconds = [a for a, _ in MINILM_PAIRS], [b for _, b in MINILM_PAIRS]
        for first, second in MINILM_PAIRS:  # <s> A </s></s> B </s>, all token type 0
            assert_same_call(mine, theirs, first, second, return_offsets_mapping=True, return_token_type_ids=True,
                             return_special_tokens_mask=True)
        # pair 0 is 18 + 28 pieces, pair 3 is 10 + 9, and four special tokens around them
        for strategy, length in (("longest_first", 12), ("only_second", 24), ("only_first", 40)):
            pairs = slice(None) if strategy != "only_first" else slice(0, 1)
            assert_same_call(mine, theirs, firsts[pairs], seconds[pairs], truncation=strategy, max_length=length,
                             padding="max_length", return_tensors="pt")
        for kwargs in BATCH_CALLS:
            assert_same_call(mine, theirs, TEXTS, **kwargs)
        words = [["Hello", "world"], ["déjà", "vu", "😀"]]
        mine_words, theirs_words = assert_same_call(mine, theirs, words, is_split_into_words=True, padding=True)
        assert mine_words.word_ids(1) == theirs_words.word_ids(1)
        # a summarisation batch: labels from text_target, each row <s> ... </s>
        labels = assert_same_call(mine, theirs, TEXTS[:4], text_target=TEXTS[4:8], padding=True,
                                  truncation=True)[0]["labels"]
        assert all(row[0] == mine.bos_token_id for row in labels)
        ids = theirs(TEXTS, padding=True)["input_ids"]
        for skip in (False, True):
            assert mine.batch_decode(ids, skip_special_tokens=skip) == theirs.batch_decode(
                ids, skip_special_tokens=skip)


def test_vocab_and_merges_match_transformers(bart_vocab):
    ours, ref = Tokenizer.from_pretrained(bart_vocab), transformers.BartTokenizer.from_pretrained(bart_vocab)
    assert ours.model_max_length == 40
    check_text_set(ours, ref)


def test_checkpoint_folder_without_tokenizer_config(bart_checkpoint):
    """facebook/bart-base's layout (no tokenizer_config.json): config.json's model_type names BART."""
    ours, ref = AutoTokenizer.from_pretrained(bart_checkpoint), transformers.AutoTokenizer.from_pretrained(
        bart_checkpoint)
    assert type(ref).__name__ in ("BartTokenizer", "RobertaTokenizer")
    check_text_set(ours, ref)
    assert ours("hi")["input_ids"][0] == 0  # <s>, not GPT-2's bare BPE


def test_tokenizer_json_matches_transformers(bart_json):
    ours, ref = Tokenizer.from_pretrained(bart_json), transformers.AutoTokenizer.from_pretrained(bart_json)
    check_text_set(ours, ref)


def test_tokenizer_json_with_a_model_config_only(bart_json, tmp_path):
    """facebook/bart-base's layout: tokenizer.json and config.json (model_type "bart"), no tokenizer_config.json.
    The special tokens come from BartTokenizer's defaults, as in transformers."""
    (tmp_path / "tokenizer.json").write_text(open(os.path.join(bart_json, "tokenizer.json"), encoding="utf-8").read(),
                                             encoding="utf-8")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bart"}))
    ours, ref = AutoTokenizer.from_pretrained(tmp_path), transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert ours.bos_token == "<s>" and ours.mask_token == "<mask>"
    check_text_set(ours, ref)


def test_save_pretrained_loads_in_transformers(bart_vocab, tmp_path):
    ours = Tokenizer.from_pretrained(bart_vocab)
    ours.save_pretrained(tmp_path)
    again, ref = transformers.AutoTokenizer.from_pretrained(tmp_path), transformers.BartTokenizer.from_pretrained(
        bart_vocab)
    kwargs = dict(padding=True, truncation=True, return_offsets_mapping=True, return_special_tokens_mask=True)
    assert as_plain(again(TEXTS, **kwargs)) == as_plain(ref(TEXTS, **kwargs))
    assert Tokenizer.from_pretrained(tmp_path)(TEXTS, **kwargs)["input_ids"] == ref(TEXTS, **kwargs)["input_ids"]


def test_special_tokens_mask_needs_a_built_sequence(bart_vocab):
    ours = Tokenizer.from_pretrained(bart_vocab)
    with pytest.raises(NotImplementedError, match="already_has_special_tokens=True"):
        ours.get_special_tokens_mask([5, 6])
    with pytest.raises(ValueError, match="second sequence"):
        ours.get_special_tokens_mask([0, 5, 2], [6], already_has_special_tokens=True)


def test_bart_vocabulary_without_its_mask_token(bart_vocab, tmp_path):
    for name in ("vocab.json", "merges.txt"):
        (tmp_path / name).write_text(open(os.path.join(bart_vocab, name), encoding="utf-8").read(), encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BartTokenizer",
                                                                "sep_token": "<sep>"}))
    with pytest.raises(OSError, match=r"no sep_token '<sep>'.*tokenizer_config\.json"):
        Tokenizer.from_pretrained(tmp_path)
