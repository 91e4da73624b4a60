#!/usr/bin/env bash
# Run every test, offline: unit and parity tests (against transformers), the widget
# tests in a real headless Chromium, and every lesson notebook under nbval (its stored
# outputs must equal a fresh run's).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/python -m pytest tests -q -p no:cacheprovider "$@"
if compgen -G "lessons/*.ipynb" > /dev/null; then
    .venv/bin/python -m pytest -q -p no:cacheprovider --nbval lessons/ \
        --nbval-sanitize-with lessons/sanitize.cfg --nbval-current-env
fi
