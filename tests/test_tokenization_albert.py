"""ALBERT's SentencePiece (Unigram) tokenizer: hfexplain against transformers' AlbertTokenizer.

The vocabulary is tests/data/albert-spiece, trained here by scripts/make_albert_spiece.py
(ALBERT's spm_train recipe at 1,000 pieces; tokenizer.json written by transformers from that
spiece.model). Two ways in, each compared with transformers on the varied text set of
tests/test_tokenization.py (accents, emoji, CJK, whitespace runs, pairs, truncation, offsets):

* ``tokenizer.json`` (what hfexplain needs: nothing but ``tokenizers``);
* ``spiece.model`` alone, which hfexplain rebuilds without sentencepiece or protobuf
  (hfexplain/tokenization/sentencepiece.py); transformers needs both for it, so those
  comparisons skip without them.
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

from hfexplain.tokenization import Tokenizer  # noqa: E402
from hfexplain.tokenization.sentencepiece import (  # noqa: E402
    CONTROL,
    UNKNOWN,
    USER_DEFINED,
    build_albert_backend,
    read_spiece_model,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "albert-spiece")
SPIECE = os.path.join(DATA, "spiece.model")
TEXTS = MINILM_TEXTS + BPE_TEXTS + [
    "The capital of [MASK] is Paris.",
    "1,000 people (and 2,500 more) paid £3 or €4 – really.",
    "``quoted'' text   with    runs",
    "ÀÉÎÕÜ ñ ç ß Æ œ",
    "[CLS] already [SEP] here",
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
    return transformers.AlbertTokenizer.from_pretrained(DATA)


@pytest.fixture(scope="module")
def ours():
    return Tokenizer.from_pretrained(DATA)


@pytest.fixture(scope="module")
def spiece_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spiece-only")
    shutil.copy(SPIECE, folder)
    return str(folder)


@pytest.fixture(scope="module")
def ours_from_spiece(spiece_dir):
    return Tokenizer.from_pretrained(spiece_dir)


@pytest.fixture(scope="module")
def ref_from_spiece(spiece_dir):
    pytest.importorskip("sentencepiece")
    pytest.importorskip("google.protobuf")
    transformers.logging.set_verbosity_error()
    return transformers.AlbertTokenizer.from_pretrained(spiece_dir)


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
        assert_same_call(mine, theirs, first, second, return_offsets_mapping=True, return_token_type_ids=True)
    # (pairs, max_length) each strategy can meet: pair 0 is 14 + 24 pieces, pair 1 is 5 + 24
    for strategy, pairs, max_length in (("longest_first", MINILM_PAIRS, 12), ("only_second", MINILM_PAIRS[:2], 25),
                                        ("only_first", MINILM_PAIRS[:1], 35)):
        assert_same_call(mine, theirs, [p[0] for p in pairs], [p[1] for p in pairs], truncation=strategy,
                         max_length=max_length, padding=True, return_token_type_ids=True)
    for kwargs in BATCH_CALLS:
        assert_same_call(mine, theirs, TEXTS, **kwargs)
    words = [["Hello", "worlds", "😀"], ["Ångström", "naïve"]]
    mine_words, theirs_words = assert_same_call(mine, theirs, words, is_split_into_words=True, padding=True)
    assert mine_words.word_ids(1) == theirs_words.word_ids(1)
    assert mine.get_vocab() == theirs.get_vocab()
    assert len(mine) == len(theirs) and mine.vocab_size == theirs.vocab_size
    assert mine.all_special_tokens == theirs.all_special_tokens
    assert mine.all_special_ids == theirs.all_special_ids
    assert mine.special_tokens_map == theirs.special_tokens_map
    assert mine.model_input_names == theirs.model_input_names
    if same_config:  # the shipped tokenizer_config.json says model_max_length 512; spiece.model alone does not
        assert mine.model_max_length == theirs.model_max_length


def test_tokenizer_json_matches_transformers(ours, ref):
    assert type(ref).__name__ == "AlbertTokenizer"
    check_text_set(ours, ref)
    # the text set exercises what makes ALBERT's pipeline: unknown pieces, added pieces, accents stripped
    ids = ours(TEXTS)["input_ids"]
    assert any(ours.unk_token_id in row for row in ids)
    assert "£" in ours.tokenize("it costs £3")  # a user-defined piece: an added token, never split
    assert ours.tokenize("Café") == ours.tokenize("cafe")


def test_spiece_model_alone_matches_transformers(ours_from_spiece, ref_from_spiece):
    check_text_set(ours_from_spiece, ref_from_spiece)


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


def test_reader_agrees_with_sentencepiece():
    spm = pytest.importorskip("sentencepiece")
    processor = spm.SentencePieceProcessor(model_file=SPIECE)
    model = read_spiece_model(SPIECE)
    assert len(model.pieces) == processor.get_piece_size() == 1000
    for index, (piece, score, kind) in enumerate(model.pieces):
        assert piece == processor.id_to_piece(index)
        assert score == pytest.approx(processor.get_score(index), abs=0)
        assert (kind == CONTROL) == processor.is_control(index)
        assert (kind == UNKNOWN) == processor.is_unknown(index)
        assert (kind == USER_DEFINED) == (piece in {"(", ")", '"', "-", ".", "–", "£", "€"})
    assert model.unk_id == processor.unk_id() == 1
    assert model.model_type == 1 and len(model.precompiled_charsmap) > 1000
    # The Unigram segmentation is sentencepiece's own (on text that ALBERT's extra normalisers leave alone).
    backend = build_albert_backend(SPIECE)
    # (Not Hangul: ALBERT's NFKD splits its syllables into jamo before the model sees them.)
    for text in ["the for statement is used to iterate", "comprehensions and generators", "中文 日本語"]:
        assert backend.encode(text, add_special_tokens=False).ids == processor.encode(text)


def test_save_pretrained_from_spiece_loads_in_transformers(ours_from_spiece, ref, tmp_path):
    ours_from_spiece.save_pretrained(tmp_path)
    assert os.path.exists(tmp_path / "tokenizer.json")
    reloaded = transformers.AlbertTokenizer.from_pretrained(tmp_path)
    assert type(reloaded).__name__ == "AlbertTokenizer"
    for text in TEXTS:
        assert as_plain(reloaded(text, return_offsets_mapping=True)) == as_plain(ref(text, return_offsets_mapping=True))
    again = Tokenizer.from_pretrained(tmp_path)
    assert again(TEXTS)["input_ids"] == ours_from_spiece(TEXTS)["input_ids"]


def test_reading_spiece_needs_neither_sentencepiece_nor_protobuf(spiece_dir):
    code = (
        "import sys; sys.modules['sentencepiece'] = None; sys.modules['google'] = None\n"
        "from hfexplain.tokenization import Tokenizer\n"
        f"tok = Tokenizer.from_pretrained({spiece_dir!r})\n"
        "print(tok.tokenize('Hello world'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "▁" in result.stdout


def test_bad_spiece_files_are_refused(tmp_path):
    (tmp_path / "spiece.model").write_bytes(b"\xff\xff\xff")
    with pytest.raises(OSError, match="is not a SentencePiece model"):
        Tokenizer.from_pretrained(tmp_path)
    xlnet = tmp_path / "xlnet"
    xlnet.mkdir()
    shutil.copy(SPIECE, xlnet)
    (xlnet / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "XLNetTokenizer"}))
    with pytest.raises(OSError, match=r"'XLNetTokenizer' is not one whose pipeline we rebuild from spiece.model"):
        Tokenizer.from_pretrained(xlnet)
    # T5's pipeline is rebuilt now (tests/test_tokenization_t5.py): ALBERT's pieces read as T5's have no </s>,
    # which is then added after the 1,000 pieces and 100 sentinels, as transformers' T5Tokenizer adds it
    (xlnet / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "T5Tokenizer"}))
    as_t5 = Tokenizer.from_pretrained(xlnet)
    assert as_t5.eos_token_id == 1100 and as_t5("hello")["input_ids"][-1] == 1100


def test_the_script_makes_the_shipped_files(tmp_path):
    """scripts/make_albert_spiece.py is the recipe: rerun, it writes the same bytes (same Python, same versions)."""
    spm = pytest.importorskip("sentencepiece")
    pytest.importorskip("google.protobuf")
    readme = open(os.path.join(DATA, "README.md"), encoding="utf-8").read()
    made_with = re.search(r"Python (\S+), sentencepiece (\S+), transformers (\S+)", readme).groups()
    if made_with != (platform.python_version(), spm.__version__, transformers.__version__):
        pytest.skip(f"the shipped files were made with {made_with}; the pydoc text and trainer differ elsewhere")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_albert_spiece.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    for name in ("spiece.model", "tokenizer.json", "tokenizer_config.json", "README.md"):
        with open(tmp_path / name, "rb") as made, open(os.path.join(DATA, name), "rb") as shipped:
            assert made.read() == shipped.read(), name
