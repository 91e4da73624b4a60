"""T5's SentencePiece (Unigram) tokenizer: hfexplain against transformers' T5Tokenizer.

The vocabulary is tests/data/t5-spiece, trained here by scripts/make_t5_spiece.py (T5's layout:
<pad> 0, </s> 1, <unk> 2, at 1,000 pieces; tokenizer.json written by transformers from that
spiece.model, with the 100 <extra_id_N> sentinels appended). Two ways in, each compared with
transformers on the varied text set of tests/test_tokenization.py plus span-corruption inputs
(sentinels), pairs (A </s> B </s>), truncation, offsets, special-token masks and decode:

* ``tokenizer.json`` (nothing but ``tokenizers``);
* ``spiece.model`` alone, rebuilt without sentencepiece or protobuf
  (hfexplain/tokenization/sentencepiece.py, ``build_t5_backend``); transformers needs both for
  it, so those comparisons skip without them.
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys

import pytest

transformers = pytest.importorskip("transformers")

from test_tokenization import BPE_TEXTS, MINILM_PAIRS, MINILM_TEXTS, as_plain, assert_same_call  # noqa: E402

from hfexplain import AutoTokenizer  # noqa: E402
from hfexplain.tokenization import Tokenizer  # noqa: E402
from hfexplain.tokenization.sentencepiece import build_t5_backend, read_spiece_model, sentinel_tokens  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "t5-spiece")
SPIECE = os.path.join(DATA, "spiece.model")
TEXTS = MINILM_TEXTS + BPE_TEXTS + [
    "translate English to German: The house is wonderful.",
    "The <extra_id_0> walks in <extra_id_1> park",  # span corruption: each sentinel one id
    "<extra_id_99>start and end<extra_id_0>",
    "already ends </s> with eos </s>",
    "ÀÉÎÕÜ ñ ç ß Æ œ ＡＢＣ ① ﬁ",  # nmt_nfkc folds the full-width letters, the circled one and the ligature
    "<pad> <unk> in the text",
]
BATCH_CALLS = [
    dict(padding=True),
    dict(padding="max_length", max_length=40, truncation=True, return_tensors="pt"),
    dict(truncation=True, max_length=8),
    dict(padding=True, padding_side="left", return_tensors="pt"),
    dict(padding=True, return_special_tokens_mask=True, return_length=True, return_offsets_mapping=True),
    dict(truncation=True, max_length=10, stride=3, return_overflowing_tokens=True),
    dict(padding=True, return_token_type_ids=True),
]


@pytest.fixture(scope="module")
def ref():
    transformers.logging.set_verbosity_error()
    return transformers.T5Tokenizer.from_pretrained(DATA)


@pytest.fixture(scope="module")
def ours():
    return Tokenizer.from_pretrained(DATA)


@pytest.fixture(scope="module")
def spiece_dir(tmp_path_factory):
    """spiece.model and a config.json saying model_type t5, as a checkpoint folder without tokenizer files."""
    folder = tmp_path_factory.mktemp("t5-spiece-only")
    shutil.copy(SPIECE, folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "t5"}))
    return str(folder)


@pytest.fixture(scope="module")
def ours_from_spiece(spiece_dir):
    return Tokenizer.from_pretrained(spiece_dir)


@pytest.fixture(scope="module")
def ref_from_spiece(spiece_dir):
    pytest.importorskip("sentencepiece")
    pytest.importorskip("google.protobuf")
    transformers.logging.set_verbosity_error()
    return transformers.T5Tokenizer.from_pretrained(spiece_dir)


def check_text_set(mine, theirs, *, same_config: bool = True):
    """Every text, pair and batch call of the set, plus tokenize / decode, equal to transformers."""
    for text in TEXTS:
        assert_same_call(mine, theirs, text, return_offsets_mapping=True, return_special_tokens_mask=True,
                         return_token_type_ids=True, return_length=True)
        assert mine.tokenize(text) == theirs.tokenize(text), text
        ids = theirs(text)["input_ids"]
        for skip in (False, True):
            assert mine.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip), text
    for first, second in MINILM_PAIRS:
        assert_same_call(mine, theirs, first, second, return_offsets_mapping=True, return_token_type_ids=True,
                         return_special_tokens_mask=True)
    # (pairs, max_length) each strategy can meet: pair 0 is 19 + 28 pieces, pair 1 is 1 + 23 (and two </s>)
    for strategy, pairs, max_length in (("longest_first", MINILM_PAIRS, 12), ("only_second", MINILM_PAIRS[:2], 30),
                                        ("only_first", MINILM_PAIRS[:1], 40)):
        assert_same_call(mine, theirs, [p[0] for p in pairs], [p[1] for p in pairs], truncation=strategy,
                         max_length=max_length, padding=True, return_token_type_ids=True)
    for kwargs in BATCH_CALLS:
        assert_same_call(mine, theirs, TEXTS, **kwargs)
    words = [["Hello", "worlds", "😀"], ["Ångström", "<extra_id_0>", "naïve"]]
    mine_words, theirs_words = assert_same_call(mine, theirs, words, is_split_into_words=True, padding=True)
    assert mine_words.word_ids(1) == theirs_words.word_ids(1)
    # labels for a seq2seq model: text_target gives them, each ending in </s>
    labels = assert_same_call(mine, theirs, TEXTS[:3], text_target=TEXTS[3:6], padding=True)[0]["labels"]
    assert all(row[-1] in (mine.eos_token_id, mine.pad_token_id) for row in labels)
    ids = theirs(TEXTS, padding=True)["input_ids"]
    for skip in (False, True):
        assert mine.batch_decode(ids, skip_special_tokens=skip) == theirs.batch_decode(ids, skip_special_tokens=skip)
    assert mine.get_vocab() == theirs.get_vocab()
    assert len(mine) == len(theirs) == 1100 and mine.vocab_size == theirs.vocab_size
    assert mine.all_special_tokens == theirs.all_special_tokens
    assert mine.all_special_ids == theirs.all_special_ids
    assert mine.special_tokens_map == theirs.special_tokens_map
    assert mine.model_input_names == theirs.model_input_names == ["input_ids", "attention_mask"]
    for index in (0, 1, 42, 99):
        sentinel = f"<extra_id_{index}>"
        assert mine.convert_tokens_to_ids(sentinel) == theirs.convert_tokens_to_ids(sentinel) == 1099 - index
    for row in ids:  # the mask a data collator builds: sentinels, </s> and <pad> are special
        assert mine.get_special_tokens_mask(row, already_has_special_tokens=True) == theirs.get_special_tokens_mask(
            row, already_has_special_tokens=True)
    if same_config:  # the shipped tokenizer_config.json says model_max_length 512; spiece.model alone does not
        assert mine.model_max_length == theirs.model_max_length == 512


def test_tokenizer_json_matches_transformers(ours, ref):
    assert type(ref).__name__ == "T5Tokenizer"
    check_text_set(ours, ref)
    # what makes T5's pipeline: </s> appended, no bos, case and accents kept, sentinels whole
    assert ours("Hello")["input_ids"][-1] == ours.eos_token_id == 1
    assert ours.tokenize("Café") != ours.tokenize("cafe")
    assert ours.tokenize("a <extra_id_0> b") == ["▁a", "<extra_id_0>", "▁b"]
    assert any(ours.unk_token_id in row for row in ours(TEXTS)["input_ids"])


def test_spiece_model_alone_matches_transformers(ours_from_spiece, ref_from_spiece):
    check_text_set(ours_from_spiece, ref_from_spiece, same_config=False)


def test_spiece_model_alone_rebuilds_the_shipped_pipeline(ours_from_spiece, ours):
    """Without sentencepiece or protobuf: the same pipeline as transformers' tokenizer.json, piece for piece."""
    check_text_set(ours_from_spiece, ours, same_config=False)
    built = json.loads(ours_from_spiece.backend_tokenizer.to_str())
    shipped = json.loads(ours.backend_tokenizer.to_str())
    for part in ("normalizer", "pre_tokenizer", "post_processor", "decoder", "added_tokens"):
        assert built[part] == shipped[part], part
    assert {k: v for k, v in built["model"].items() if k != "vocab"} == {
        k: v for k, v in shipped["model"].items() if k != "vocab"}
    for (piece, score), (shipped_piece, shipped_score) in zip(built["model"]["vocab"], shipped["model"]["vocab"],
                                                              strict=True):
        assert piece == shipped_piece and abs(score - shipped_score) < 1e-12  # JSON float printing only


def test_the_class_can_come_from_an_argument_or_the_config(spiece_dir, ours_from_spiece, tmp_path):
    shutil.copy(SPIECE, tmp_path)  # no config.json: ALBERT's pipeline by default, which needs [CLS]
    with pytest.raises(OSError, match=r"no piece for \[CLS\].*tokenizer_class=\"T5Tokenizer\""):
        Tokenizer.from_pretrained(tmp_path)
    by_argument = Tokenizer.from_pretrained(tmp_path, tokenizer_class="T5Tokenizer")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "T5Tokenizer"}))
    by_config = AutoTokenizer.from_pretrained(tmp_path)
    for tok in (by_argument, by_config):
        assert tok(TEXTS)["input_ids"] == ours_from_spiece(TEXTS)["input_ids"]


def test_tokenizer_json_with_a_model_config_only(tmp_path):
    """t5-small's layout: tokenizer.json and config.json (model_type "t5"), no tokenizer_config.json.
    The special tokens and the sentinels come from T5Tokenizer's defaults, as in transformers."""
    shutil.copy(os.path.join(DATA, "tokenizer.json"), tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "t5"}))
    transformers.logging.set_verbosity_error()
    ref = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert type(ref).__name__ == "T5Tokenizer"
    check_text_set(AutoTokenizer.from_pretrained(tmp_path), ref, same_config=False)


def test_segmentation_agrees_with_sentencepiece():
    spm = pytest.importorskip("sentencepiece")
    processor = spm.SentencePieceProcessor(model_file=SPIECE)
    model = read_spiece_model(SPIECE)
    assert len(model.pieces) == processor.get_piece_size() == 1000
    assert [model.pieces[i][0] for i in range(3)] == ["<pad>", "</s>", "<unk>"] and model.unk_id == 2
    backend = build_t5_backend(SPIECE)
    for text in ["The for statement is used to iterate", "Café déjà vu", "中文 日本語 한국어", "ＡＢＣ ① ﬁ"]:
        assert backend.encode(text, add_special_tokens=False).ids == processor.encode(text), text
        assert backend.encode(text).ids == processor.encode(text) + [processor.eos_id()]


def test_extra_ids_layout(tmp_path):
    """By hand: extra_ids sentinels after the pieces, <extra_id_0> last; none with extra_ids=0."""
    shutil.copy(SPIECE, tmp_path)
    five = Tokenizer.from_pretrained(tmp_path, tokenizer_class="T5Tokenizer", extra_ids=5)
    assert len(five) == 1005
    assert [five.convert_tokens_to_ids(token) for token in sentinel_tokens(5)] == [1004, 1003, 1002, 1001, 1000]
    assert five.additional_special_tokens == ["<pad>", "</s>"] + sentinel_tokens(5)  # control pieces first
    assert five("a <extra_id_4> b")["input_ids"][1:2] == [1000]
    none = Tokenizer.from_pretrained(tmp_path, tokenizer_class="T5Tokenizer", extra_ids=0)
    assert len(none) == 1000 and none.additional_special_tokens == ["<pad>", "</s>"]
    extra = Tokenizer.from_pretrained(tmp_path, tokenizer_class="T5Tokenizer", extra_ids=2,
                                      additional_special_tokens=["<sep>"])
    assert extra.additional_special_tokens == ["<sep>", "<extra_id_0>", "<extra_id_1>"]
    assert extra.convert_tokens_to_ids("<sep>") == 1002  # added after the sentinels


def test_bad_extra_ids_are_refused(tmp_path):
    shutil.copy(SPIECE, tmp_path)
    with pytest.raises(ValueError, match=r"extra_ids \(5\).*hold 1 <extra_id_N> sentinels, not 5"):
        Tokenizer.from_pretrained(tmp_path, tokenizer_class="T5Tokenizer", extra_ids=5,
                                  additional_special_tokens=["<extra_id_0>"])
    with pytest.raises(ValueError, match="must include the extra_ids tokens"):  # transformers refuses it too
        transformers.T5Tokenizer.from_pretrained(DATA, extra_ids=5, additional_special_tokens=["<extra_id_0>"])
    with pytest.raises(ValueError, match="extra_ids must be >= 0"):
        Tokenizer.from_pretrained(tmp_path, tokenizer_class="T5Tokenizer", extra_ids=-1)


def test_an_eos_token_the_file_lacks(spiece_dir):
    """Added after the sentinels, and appended to every text, as transformers does."""
    ours = Tokenizer.from_pretrained(spiece_dir, eos_token="<eos>")
    assert ours.convert_tokens_to_ids("<eos>") == 1100 and ours("a b")["input_ids"][-1] == 1100
    pytest.importorskip("sentencepiece")
    pytest.importorskip("google.protobuf")
    ref = transformers.T5Tokenizer.from_pretrained(spiece_dir, eos_token="<eos>")
    for text, pair in MINILM_PAIRS:
        assert_same_call(ours, ref, text, pair, return_special_tokens_mask=True)
    assert ours.all_special_tokens == ref.all_special_tokens and len(ours) == len(ref)


def test_save_pretrained_from_spiece_loads_in_transformers(ours_from_spiece, ref, tmp_path):
    ours_from_spiece.save_pretrained(tmp_path)
    reloaded = transformers.AutoTokenizer.from_pretrained(tmp_path)
    kwargs = dict(padding=True, return_offsets_mapping=True, return_special_tokens_mask=True)
    assert as_plain(reloaded(TEXTS, **kwargs)) == as_plain(ref(TEXTS, **kwargs))
    assert reloaded.all_special_tokens == ref.all_special_tokens
    again = Tokenizer.from_pretrained(tmp_path)
    assert again(TEXTS)["input_ids"] == ours_from_spiece(TEXTS)["input_ids"]
    assert again.all_special_tokens == ours_from_spiece.all_special_tokens


def test_reading_spiece_needs_neither_sentencepiece_nor_protobuf(spiece_dir):
    code = (
        "import sys; sys.modules['sentencepiece'] = None; sys.modules['google'] = None\n"
        "from hfexplain.tokenization import Tokenizer\n"
        f"tok = Tokenizer.from_pretrained({spiece_dir!r})\n"
        "print(tok('The <extra_id_0> park').input_ids)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "1099" in result.stdout and result.stdout.strip().endswith("1]")


def test_the_script_makes_the_shipped_files(tmp_path):
    """scripts/make_t5_spiece.py is the recipe: rerun, it writes the same bytes (same Python, same versions)."""
    spm = pytest.importorskip("sentencepiece")
    pytest.importorskip("google.protobuf")
    readme = open(os.path.join(DATA, "README.md"), encoding="utf-8").read()
    made_with = re.search(r"Python (\S+), sentencepiece (\S+), transformers (\S+)", readme).groups()
    if made_with != (platform.python_version(), spm.__version__, transformers.__version__):
        pytest.skip(f"the shipped files were made with {made_with}; the pydoc text and trainer differ elsewhere")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_t5_spiece.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    for name in ("spiece.model", "tokenizer.json", "tokenizer_config.json", "README.md"):
        with open(tmp_path / name, "rb") as made, open(os.path.join(DATA, name), "rb") as shipped:
            assert made.read() == shipped.read(), name
