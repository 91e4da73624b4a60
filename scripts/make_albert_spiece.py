"""Train the small ALBERT SentencePiece vocabulary the tokenizer tests use.

    .venv/bin/python scripts/make_albert_spiece.py            # writes tests/data/albert-spiece/

No package ships ALBERT's real ``spiece.model``, so we train one here with ALBERT's own
recipe (the ``spm_train`` flags of google-research/albert's README: Unigram, ``<pad>`` = 0,
``<unk>`` = 1, no bos / eos, ``[CLS]`` ``[SEP]`` ``[MASK]`` as control symbols, a few
punctuation marks as user-defined symbols), only smaller: 1,000 pieces instead of 30,000.

    1. text       pydoc_data.topics (CPython's documentation, PSF licence), lower-cased as ALBERT's
                  tokenizer lower-cases its input, plus a few fixed lines with accents, CJK, Hangul
                  and emoji (``EXTRA_LINES``) so those characters get pieces of their own.
    2. train      sentencepiece (a dev extra, see pyproject.toml), one thread, no sampling of the
                  input: the same text and sentencepiece version give the same model.
    3. convert    transformers' ``AlbertTokenizer`` reads ``spiece.model`` (it needs sentencepiece
                  and protobuf for that) and writes ``tokenizer.json`` + ``tokenizer_config.json``,
                  which load with nothing but ``tokenizers``.

Output: ``spiece.model``, ``tokenizer.json``, ``tokenizer_config.json`` and a README.md that
records the versions used. The pydoc text differs between Python versions: rerun with the
Python recorded there to get the same bytes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "tests", "data", "albert-spiece")
VOCAB_SIZE = 1000
RUNTIME_KEYS = ("is_local", "local_files_only")

# ALBERT's spm_train flags (google-research/albert README), at a smaller vocabulary size.
TRAINER_FLAGS = dict(
    model_type="unigram",
    vocab_size=VOCAB_SIZE,
    pad_id=0,
    unk_id=1,
    eos_id=-1,
    bos_id=-1,
    control_symbols=["[CLS]", "[SEP]", "[MASK]"],
    user_defined_symbols=["(", ")", '"', "-", ".", "–", "£", "€"],
    character_coverage=0.99995,
    # Reproducible: read every sentence, in order, on one thread.
    input_sentence_size=0,
    shuffle_input_sentence=False,
    num_threads=1,
)

# Characters the documentation lacks, so the tests see pieces for them as well as <unk>.
EXTRA_LINES = [
    "cafe deja vu: naive facade, angstrom, oresund.",
    "中文字符和日本語のテキスト、한국어 中文 日本語 한국어",
    "😀 emoji 🎉 and flags here 😀 🎉",
    "upper lower mixed 123 4.5e-3 $100 #tag @user 1,000 2,500",
]


def training_text() -> str:
    from pydoc_data.topics import topics

    lines = []
    for name in sorted(topics):
        lines += [line.strip().lower() for line in topics[name].splitlines() if line.strip()]
    return "\n".join(lines + EXTRA_LINES * 20) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder to write (default: tests/data/albert-spiece)")
    args = parser.parse_args()

    import sentencepiece as spm
    import transformers

    from hfexplain import hub  # atomic writes: a reader sees the old file or the new one

    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    text = training_text()
    spm.set_random_generator_seed(0)
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as work:
        # The model records its input and prefix paths: relative names keep the bytes the same.
        os.chdir(work)
        try:
            with open("corpus.txt", "w", encoding="utf-8") as f:
                f.write(text)
            spm.SentencePieceTrainer.train(input="corpus.txt", model_prefix="spiece", minloglevel=2, **TRAINER_FLAGS)
            with open("spiece.model", "rb") as f:
                model_bytes = f.read()
        finally:
            os.chdir(here)
    hub.write_bytes_atomically(os.path.join(out, "spiece.model"), model_bytes)

    # transformers' own conversion: AlbertTokenizer from spiece.model, saved as tokenizer.json.
    transformers.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as work:
        with open(os.path.join(work, "spiece.model"), "wb") as f:
            f.write(model_bytes)
        tokenizer = transformers.AlbertTokenizer.from_pretrained(work, model_max_length=512)
        tokenizer.save_pretrained(work)
        with open(os.path.join(work, "tokenizer.json"), "rb") as src:
            tokenizer_json = src.read()
        hub.write_bytes_atomically(os.path.join(out, "tokenizer.json"), tokenizer_json)
        with open(os.path.join(work, "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        for key in RUNTIME_KEYS:  # how this run loaded the files (HF_HUB_OFFLINE ...), not how to tokenize
            config.pop(key, None)
        hub.write_text_atomically(os.path.join(out, "tokenizer_config.json"),
                                  json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n")

    digest = hashlib.sha256(model_bytes).hexdigest()
    readme = f"""# A small ALBERT SentencePiece vocabulary (test data)

Made by `scripts/make_albert_spiece.py`: ALBERT's `spm_train` recipe at {VOCAB_SIZE} pieces, trained on
CPython's `pydoc_data.topics` (lower-cased, PSF licence) plus a few fixed lines; `tokenizer.json` and
`tokenizer_config.json` written by transformers' `AlbertTokenizer` from that `spiece.model`.

- spiece.model sha256: `{digest}`
- Python {platform.python_version()}, sentencepiece {spm.__version__}, transformers {transformers.__version__}
- training text: {len(text):,} characters

Not ALBERT's real vocabulary (30,000 pieces): the same format and pipeline, for tests.
"""
    hub.write_text_atomically(os.path.join(out, "README.md"), readme)
    print(f"wrote {out}: spiece.model ({len(model_bytes):,} bytes, sha256 {digest[:12]}...), tokenizer.json")


if __name__ == "__main__":
    main()
