"""A checkpoint is a config and a dict of named arrays: read both without torch.

``model.safetensors`` is a small JSON header (name -> dtype, shape, byte range) followed by the
raw bytes; ``safetensors.numpy.load_file`` turns it into ``{name: np.ndarray}``. Any engine that
can multiply matrices can then run the model: the names say where each array goes.
"""
from __future__ import annotations

import json
import os

import numpy as np

# model_type -> the prefix a task class puts before the bare model's names
# (GPT2LMHeadModel saves "transformer.h.0...", BertForMaskedLM "bert.encoder..."; a bare
# BertModel such as all-MiniLM-L6-v2 saves "encoder..." with no prefix).
BASE_PREFIX = {"gpt2": "transformer.", "bert": "bert."}


class UnsupportedFamilyError(ValueError):
    """A checkpoint of a family (``model_type``) that an engine does not implement."""


def read_config(folder: str) -> dict:
    """``config.json`` of a Hugging Face folder, as a plain dict."""
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{folder!r} has no config.json: pass the folder of a saved model (what save_pretrained writes, "
            "e.g. hfexplain.assets.tiny_gpt2_path())."
        )
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def check_family(config: dict, engine: str, supported: tuple[str, ...]) -> str:
    """The checkpoint's ``model_type``; an :class:`UnsupportedFamilyError` naming what ``engine`` runs otherwise."""
    family = config.get("model_type")
    if family not in supported:
        raise UnsupportedFamilyError(
            f"the {engine!r} engine runs {', '.join(supported)} checkpoints; this one is model_type={family!r}. "
            f"Run it with hfexplain's PyTorch classes (hfexplain.AutoModel.from_pretrained(folder)), or pick an "
            f"engine that implements {family!r}."
        )
    return family


def read_weights(folder: str, family: str) -> dict[str, np.ndarray]:
    """``{name: float32 array}`` of the bare model, the task prefix (``transformer.``, ``bert.``) removed."""
    from safetensors.numpy import load_file

    path = os.path.join(folder, "model.safetensors")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{folder!r} has no model.safetensors (the engines read safetensors files only).")
    prefix = BASE_PREFIX[family]
    weights = {}
    for name, array in load_file(path).items():
        if not np.issubdtype(array.dtype, np.floating):
            continue  # integer buffers saved by old versions (embeddings.position_ids): not weights
        weights[name.removeprefix(prefix)] = array.astype(np.float32)
    return weights
