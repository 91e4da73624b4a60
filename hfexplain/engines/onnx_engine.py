"""hfexplain's GPT-2 and BERT exported to ONNX (``torch.onnx.export``) and run in ONNX Runtime.

An ONNX file is the forward pass written down as a graph of standard operators (MatMul,
Softmax, LayerNormalization, ...) with the weights stored beside it as initializers. Any runtime
that implements the operators can run it, with no Python model code and no torch.

The graphs (dynamic ``batch`` and ``sequence`` axes, so one file takes any shape):

    GPT-2   inputs  input_ids       int64   (batch, sequence)
            outputs logits          float32 (batch, sequence, vocab_size)
    BERT    inputs  input_ids       int64   (batch, sequence)
                    attention_mask  int64   (batch, sequence)   1 = token, 0 = padding
            outputs last_hidden_state float32 (batch, sequence, hidden_size)

GPT-2's graph has no KV-cache inputs: ``generate`` feeds the whole sequence at every step.

Which exporter. torch 2.13 has two. ``exporter="torchscript"`` (the default here) is the
legacy tracer, ``torch.onnx.export(..., dynamo=False)``: it runs the model once on example
inputs and records what ran (value-dependent Python branches are fixed at that point; hfexplain
takes its general path while being traced, see ``layers/attention.py``). It needs only ``onnx``
and exports the tiny models here in 1-5 s. ``exporter="dynamo"``, torch's default since 2.9, goes
through ``torch.export`` and writes the graph with ``onnxscript``: a cleaner graph (about a third
of the nodes for the tiny GPT-2: fused Gemm and LayerNormalization, no Shape/Gather chains) but
5-10x slower to export on this project's 2-core machines (10-30 s per model), and torch warns that
the legacy exporter will go. Both give the same numbers (``benchmarks/engines.py`` checks both).
"""
from __future__ import annotations

import os
import tempfile
import warnings

import numpy as np

from .base import CausalLMEngine, EncoderEngine
from .checkpoint import check_family, read_config

FAMILIES = ("gpt2", "bert")
EXPORTERS = ("torchscript", "dynamo")
MIN_OPSET = {"torchscript": 14, "dynamo": 18}  # scaled_dot_product_attention needs 14; the dynamo exporter 18+
INPUT_NAMES = {"gpt2": ["input_ids"], "bert": ["input_ids", "attention_mask"]}
OUTPUT_NAMES = {"gpt2": ["logits"], "bert": ["last_hidden_state"]}
AXES = {0: "batch", 1: "sequence"}


def _graph_module(folder: str, family: str):
    """hfexplain's model wrapped so that the graph's inputs and outputs are plain tensors."""
    import torch

    if family == "gpt2":
        from ..models.gpt2 import GPT2LMHeadModel

        class GPT2Logits(torch.nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, input_ids):  # (b, s) -> (b, s, v)
                return self.model(input_ids, use_cache=False).logits

        return GPT2Logits(GPT2LMHeadModel.from_pretrained(folder).eval())

    from ..models.bert import BertModel

    class BertHidden(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):  # (b, s), (b, s) -> (b, s, d)
            return self.model(input_ids, attention_mask=attention_mask).last_hidden_state

    with warnings.catch_warnings():
        # A BertForMaskedLM checkpoint has no pooler; the graph reads last_hidden_state only, so it is never used.
        warnings.filterwarnings("ignore", message=r"Some weights of BertModel were not in the checkpoint.*'pooler")
        return BertHidden(BertModel.from_pretrained(folder).eval())


def check_export_options(exporter: str, opset_version: int | None) -> None:
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter must be one of {EXPORTERS}, got {exporter!r}.")
    if opset_version is not None:
        import onnx

        newest = onnx.defs.onnx_opset_version()
        low = MIN_OPSET[exporter]
        if not isinstance(opset_version, int) or not low <= opset_version <= newest:
            raise ValueError(
                f"opset_version={opset_version!r} is not supported by the {exporter!r} exporter here: pass an integer "
                f"from {low} to {newest} (the onnx package's newest), or None for torch's default."
            )
    if exporter == "dynamo":
        try:
            import onnxscript  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "exporter='dynamo' writes its graph with onnxscript, which is not installed: "
                "pip install 'hfexplain[lessons]' (or use exporter='torchscript')."
            ) from error


def export_onnx(folder: str, path: str, *, exporter: str = "torchscript", opset_version: int | None = None) -> str:
    """Export the checkpoint in ``folder`` (GPT-2 -> logits, BERT -> last hidden state) to ``path``.

    Options are checked before anything is loaded: ``exporter`` "torchscript" or "dynamo" (see the
    module docstring), ``opset_version`` None or a supported ONNX opset. Returns ``path``.
    """
    config = read_config(folder)
    family = check_family(config, "onnx", FAMILIES)
    check_export_options(exporter, opset_version)
    import torch

    module = _graph_module(folder, family)
    example = torch.ones(2, 3, dtype=torch.long)  # (b, s); neither 1, so no axis is fixed at 1 while tracing
    args = (example,) if family == "gpt2" else (example, torch.ones_like(example))
    names = INPUT_NAMES[family]
    with warnings.catch_warnings():
        # The legacy exporter announces its deprecation, and the tracer warns at each Python-level
        # branch on a shape; the parity tests check the graph instead.
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            torch.onnx.export(
                module, args, path, input_names=names, output_names=OUTPUT_NAMES[family],
                dynamic_axes={name: AXES for name in names + OUTPUT_NAMES[family]},
                opset_version=opset_version, dynamo=False,
            )
        else:
            dims = {"batch": torch.export.Dim("batch"), "sequence": torch.export.Dim("sequence")}
            torch.onnx.export(
                module, args, path, input_names=names, output_names=OUTPUT_NAMES[family],
                dynamic_shapes={name: {0: dims["batch"], 1: dims["sequence"]} for name in names},
                opset_version=opset_version, dynamo=True, external_data=False, verbose=False,
            )
    return path


class _OnnxSession:
    """One onnxruntime session on the CPU, and what its graph is called."""

    def __init__(self, path: str, threads: int | None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.path = path
        self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]


class OnnxGPT2(_OnnxSession, CausalLMEngine):
    engine = "onnx"

    def __init__(self, config: dict, path: str, threads: int | None = None):
        CausalLMEngine.__init__(self, config)
        _OnnxSession.__init__(self, path, threads)

    def forward(self, input_ids: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input_ids": input_ids})[0]


class OnnxBert(_OnnxSession, EncoderEngine):
    engine = "onnx"

    def __init__(self, config: dict, path: str, threads: int | None = None):
        EncoderEngine.__init__(self, config)
        _OnnxSession.__init__(self, path, threads)

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]


def load(folder: str, *, onnx_path: str | None = None, exporter: str = "torchscript",
         opset_version: int | None = None, threads: int | None = None):
    """An ONNX Runtime model of ``folder``: ``onnx_path`` if that file exists, else a fresh export
    (to ``onnx_path``, or to a temporary folder that lives as long as the model)."""
    config = read_config(folder)
    family = check_family(config, "onnx", FAMILIES)
    check_export_options(exporter, opset_version)
    temporary = None
    if onnx_path is None:
        temporary = tempfile.TemporaryDirectory(prefix="hfexplain-onnx-")
        onnx_path = os.path.join(temporary.name, "model.onnx")
    if not os.path.isfile(onnx_path):
        export_onnx(folder, onnx_path, exporter=exporter, opset_version=opset_version)
    model = (OnnxGPT2 if family == "gpt2" else OnnxBert)(config, onnx_path, threads)
    model._temporary = temporary  # removed with the model
    return model
