#!/usr/bin/env bash
# Run every test: unit and parity tests (against transformers), offline.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m pytest tests -q -p no:cacheprovider "$@"
