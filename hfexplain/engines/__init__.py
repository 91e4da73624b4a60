"""One checkpoint, many engines: the same ``model.safetensors`` run by NumPy, JAX or ONNX Runtime.

A checkpoint is named arrays plus a config. Anything that multiplies matrices can run it:

    >>> from hfexplain import engines                                        # doctest: +SKIP
    >>> from hfexplain.assets import tiny_gpt2_path                           # doctest: +SKIP
    >>> model = engines.load(tiny_gpt2_path(), engine="numpy")               # doctest: +SKIP
    >>> logits = model(np.array([[464, 1351]]))          # (b, s) int -> (b, s, v) float32  # doctest: +SKIP
    >>> model.generate(np.array([[464, 1351]]), max_new_tokens=8)             # doctest: +SKIP

=========  ===============  =====================================================================
engine     families         what runs
=========  ===============  =====================================================================
numpy      gpt2, bert       ``numpy_engine.py``: the forward pass in plain NumPy, no torch
jax        gpt2             ``jax_engine.py``: the same code in ``jax.numpy``, compiled by ``jax.jit``
onnx       gpt2, bert       ``onnx_engine.py``: hfexplain's PyTorch model exported by
                            ``torch.onnx.export``, run by ``onnxruntime``
=========  ===============  =====================================================================

Every model takes ``input_ids`` (b, s) as a NumPy integer array (BERT also ``attention_mask``
(b, s), 1 for tokens and 0 for padding) and returns a NumPy float32 array: GPT-2's logits
(b, s, vocab_size), BERT's last hidden state (b, s, hidden_size). GPT-2 models have
``generate(input_ids, max_new_tokens=...)`` (greedy). All three agree with hfexplain's PyTorch
forward within 1e-4 (fp32) and generate the same tokens (``tests/test_engines.py``).

This package is imported only where it is used (``import hfexplain`` does not load it, nor numpy,
jax or onnxruntime). JAX, onnx, onnxscript and onnxruntime come with ``pip install 'hfexplain[lessons]'``.
"""
from __future__ import annotations

import importlib

from .checkpoint import UnsupportedFamilyError, read_config, read_weights

ENGINES = {"numpy": ("gpt2", "bert"), "jax": ("gpt2",), "onnx": ("gpt2", "bert")}
# engine -> the packages it imports (import name, pip name)
_NEEDS = {"numpy": [("safetensors", "safetensors")], "jax": [("jax", "jax"), ("jaxlib", "jaxlib")],
          "onnx": [("torch", "torch"), ("onnx", "onnx"), ("onnxruntime", "onnxruntime")]}


def require(engine: str) -> None:
    """An ImportError naming the extra to install when ``engine``'s packages are missing."""
    for module, package in _NEEDS[engine]:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ImportError(
                f"the {engine!r} engine needs the {package!r} package, which is not installed: "
                f"pip install 'hfexplain[lessons]' (or pip install {package})."
            ) from error


def load(folder: str, engine: str = "numpy", *, onnx_path: str | None = None, exporter: str = "torchscript",
         opset_version: int | None = None, threads: int | None = None):
    """The checkpoint in ``folder`` (a saved GPT-2 or BERT) as a model of ``engine``.

    ``engine``: "numpy", "jax" or "onnx" (see the table above). The ONNX options: ``onnx_path``
    (reuse that exported file if it exists, else export there; default a temporary file),
    ``exporter`` ("torchscript" or "dynamo", see ``onnx_engine``), ``opset_version`` and
    ``threads`` (onnxruntime's intra-op threads). They are refused for the other engines.

    Raises:
        ValueError: an unknown engine, or ONNX options for another engine.
        UnsupportedFamilyError: the checkpoint's family (model_type) is not one the engine runs.
        ImportError: the engine's packages are not installed (the message names the extra).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {sorted(ENGINES)}, got {engine!r}.")
    onnx_options = {"onnx_path": onnx_path, "exporter": exporter if exporter != "torchscript" else None,
                    "opset_version": opset_version, "threads": threads}
    given = [name for name, value in onnx_options.items() if value is not None]
    if engine != "onnx" and given:
        raise ValueError(f"{', '.join(given)} apply to engine='onnx' only, not to engine={engine!r}.")
    require(engine)
    if engine == "numpy":
        from . import numpy_engine

        return numpy_engine.load(folder)
    if engine == "jax":
        from . import jax_engine

        return jax_engine.load(folder)
    from . import onnx_engine

    return onnx_engine.load(folder, onnx_path=onnx_path, exporter=exporter, opset_version=opset_version,
                            threads=threads)


def export_onnx(folder: str, path: str, *, exporter: str = "torchscript", opset_version: int | None = None) -> str:
    """Export a saved GPT-2 or BERT to an ONNX file (see ``onnx_engine.export_onnx``)."""
    require("onnx")
    from . import onnx_engine

    return onnx_engine.export_onnx(folder, path, exporter=exporter, opset_version=opset_version)


__all__ = ["ENGINES", "UnsupportedFamilyError", "export_onnx", "load", "read_config", "read_weights", "require"]
