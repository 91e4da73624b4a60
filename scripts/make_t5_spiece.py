"""Train the small T5 SentencePiece vocabulary the tokenizer tests use.

    .venv/bin/python scripts/make_t5_spiece.py                # writes tests/data/t5-spiece/

No package ships T5's real ``spiece.model``, so we train one here with T5's layout (the
vocabulary of google-research/text-to-text-transfer-transformer: Unigram, ``<pad>`` = 0,
``</s>`` = 1, ``<unk>`` = 2, no bos, the default ``nmt_nfkc`` normaliser, cased text), only
smaller: 1,000 pieces instead of 32,000. The 100 ``<extra_id_N>`` sentinels are not in the
file: T5's tokenizer appends them after the pieces (``<extra_id_0>`` last).

    1. text       pydoc_data.topics (CPython's documentation, PSF licence), as is (T5 keeps case),
                  plus a few fixed lines with accents, CJK, Hangul, emoji and French / German
                  words (``EXTRA_LINES``) so those characters get pieces of their own.
    2. train      sentencepiece (a dev extra, see pyproject.toml), one thread, no sampling of the
                  input: the same text and sentencepiece version give the same model.
    3. convert    transformers' ``T5Tokenizer`` reads ``spiece.model`` (it needs sentencepiece and
                  protobuf for that) and writes ``tokenizer.json`` + ``tokenizer_config.json``,
                  which load with nothing but ``tokenizers``.

Output: ``spiece.model``, ``tokenizer.json``, ``tokenizer_config.json`` and a README.md that
records the versions used. The pydoc text differs between Python versions: rerun with the
Python recorded there to get the same bytes. (The same recipe as scripts/make_albert_spiece.py.)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "tests", "data", "t5-spiece")
VOCAB_SIZE = 1000
MODEL_MAX_LENGTH = 512
RUNTIME_KEYS = ("is_local", "local_files_only")

# T5's vocabulary layout (pad 0, eos 1, unk 2, no bos), at a smaller size.
TRAINER_FLAGS = dict(
    model_type="unigram",
    vocab_size=VOCAB_SIZE,
    pad_id=0,
    eos_id=1,
    unk_id=2,
    bos_id=-1,
    pad_piece="<pad>",
    eos_piece="</s>",
    unk_piece="<unk>",
    normalization_rule_name="nmt_nfkc",
    character_coverage=0.99995,
    # Reproducible: read every sentence, in order, on one thread.
    input_sentence_size=0,
    shuffle_input_sentence=False,
    num_threads=1,
)

# Characters and words the documentation lacks.
EXTRA_LINES = [
    "Café déjà vu: naïve façade, Ångström, Øresund.",
    "中文字符和日本語のテキスト、한국어 中文 日本語 한국어",
    "😀 emoji 🎉 and flags here 😀 🎉",
    "UPPER lower MiXeD 123 4.5e-3 $100 #tag @user 1,000 2,500",
    "translate English to German: The house is wonderful. Das Haus ist wunderbar.",
    "translate English to French: two thousand and five. deux mille cinq.",
    "summarize: studies have shown that owning a dog is good for you.",
]


def training_text() -> str:
    from pydoc_data.topics import topics

    lines = []
    for name in sorted(topics):
        lines += [line.strip() for line in topics[name].splitlines() if line.strip()]
    return "\n".join(lines + EXTRA_LINES * 20) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder to write (default: tests/data/t5-spiece)")
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

    # transformers' own conversion: T5Tokenizer from spiece.model, saved as tokenizer.json.
    transformers.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as work:
        with open(os.path.join(work, "spiece.model"), "wb") as f:
            f.write(model_bytes)
        tokenizer = transformers.T5Tokenizer.from_pretrained(work, model_max_length=MODEL_MAX_LENGTH)
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
    readme = f"""# A small T5 SentencePiece vocabulary (test data)

Made by `scripts/make_t5_spiece.py`: T5's vocabulary layout (Unigram; `<pad>` 0, `</s>` 1, `<unk>` 2; no
bos; `nmt_nfkc`) at {VOCAB_SIZE} pieces, trained on CPython's `pydoc_data.topics` (cased, PSF licence) plus
a few fixed lines; `tokenizer.json` and `tokenizer_config.json` written by transformers' `T5Tokenizer`
from that `spiece.model` (which appends the 100 `<extra_id_N>` sentinels: {VOCAB_SIZE + 100} ids in all).

- spiece.model sha256: `{digest}`
- Python {platform.python_version()}, sentencepiece {spm.__version__}, transformers {transformers.__version__}
- training text: {len(text):,} characters

Not T5's real vocabulary (32,000 pieces): the same format and pipeline, for tests.
"""
    hub.write_text_atomically(os.path.join(out, "README.md"), readme)
    print(f"wrote {out}: spiece.model ({len(model_bytes):,} bytes, sha256 {digest[:12]}...), tokenizer.json")


if __name__ == "__main__":
    main()
