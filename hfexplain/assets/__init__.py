"""Small files that ship inside the package, so lessons and tests run offline.

``tiny-gpt2-pydoc/`` is a 1.35M-parameter GPT-2 that hfexplain trained with its own code
(``scripts/train_tiny_gpt2.py``) on the Python documentation bundled with CPython. Its
README.md is the model card: data, licence, the exact command, losses and samples.
"""
from __future__ import annotations

import os

TINY_GPT2_DIRNAME = "tiny-gpt2-pydoc"
_ASSETS_DIR = os.path.dirname(os.path.abspath(__file__))


def tiny_gpt2_path() -> str:
    """The folder of the packaged tiny GPT-2: pass it to any ``from_pretrained``.

    >>> from hfexplain import AutoModelForCausalLM, AutoTokenizer   # doctest: +SKIP
    >>> path = tiny_gpt2_path()                                     # doctest: +SKIP
    >>> model = AutoModelForCausalLM.from_pretrained(path)          # doctest: +SKIP
    >>> tok = AutoTokenizer.from_pretrained(path)                   # doctest: +SKIP

    It is a plain folder (config.json, model.safetensors, tokenizer files), so
    ``transformers.AutoModelForCausalLM.from_pretrained(path)`` reads it too.

    Raises:
        FileNotFoundError: the folder is not installed (a build that left out package data).
    """
    path = os.path.join(_ASSETS_DIR, TINY_GPT2_DIRNAME)
    if not os.path.isfile(os.path.join(path, "model.safetensors")):
        raise FileNotFoundError(
            f"the packaged tiny GPT-2 is missing: {path!r} has no model.safetensors. Reinstall hfexplain from "
            "a complete wheel or source tree, or recreate it with: python scripts/train_tiny_gpt2.py --out " + path
        )
    return path


__all__ = ["tiny_gpt2_path", "TINY_GPT2_DIRNAME"]
