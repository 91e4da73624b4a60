"""Whisper's tokenizer: GPT-2's byte-level BPE plus the special tokens that steer the decoder."""
from __future__ import annotations

TASK_IDS = ["translate", "transcribe"]
LANGUAGES: dict[str, str] = {"en": "english", "fr": "french"}
TO_LANGUAGE_CODE: dict[str, str] = {name: code for code, name in LANGUAGES.items()}
