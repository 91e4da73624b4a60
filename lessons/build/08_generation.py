"""Build lessons/08_generation.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/08_generation.py                 # write and execute
    .venv/bin/python lessons/build/08_generation.py --no-execute    # only write
    .venv/bin/python lessons/build/08_generation.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "08-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("08_generation")
md, code = lesson.md, lesson.code

md("intro", r"""
# 08 · Generation: from next-token scores to text

A causal language model answers exactly one question: *given these tokens, how likely is
each token of the vocabulary to come next?* Everything called "text generation" is a
loop around that answer:

```
prompt ─► model ─► next-token logits ─► logits processors ─► pick a token ─┐
  ▲                                                                         │
  └──────────────────── append the token, ask again ◄───────────────────────┘
```

This lesson opens every box of that loop on a real trained model: the small GPT-2 that
ships with hfexplain (trained on Python's documentation; see its model card).

**Goals**

1. Read the model's **next-token distribution**: a softmax over the last position's logits.
2. Write **greedy decoding** as a loop and see it match `model.generate` and transformers'
   `generate` token for token.
3. Reshape the distribution with **temperature, top-k and top-p** — the same processor
   classes `generate` uses — and write top-p yourself.
4. **Sample** with a seed; cure greedy's loops with a **repetition penalty**; compare with
   **beam search** by sequence log-probability.
5. Open the **KV cache**: what it stores, why feeding one token at a time gives the same
   logits, and how much time it saves.
6. Stream text with `TextStreamer` and explore it all in the **GenerationExplorer**.
""")

code("setup", r"""
import logging
import math
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # lessons never touch the network
logging.getLogger("matplotlib").setLevel(logging.ERROR)  # no "building the font cache" notice on a fresh machine

import matplotlib.pyplot as plt
import torch

from hfexplain import AutoModelForCausalLM, AutoTokenizer
from hfexplain.assets import tiny_gpt2_path
from hfexplain.exercises.generation import check_greedy_generate, check_top_p_filter

torch.manual_seed(0)
torch.set_grad_enabled(False)  # generation only: no gradients needed
torch.set_num_threads(1)  # a model this small runs fastest, and times most steadily, on one thread
torch.set_printoptions(precision=4, sci_mode=False)
plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (12, 3.2)})

path = tiny_gpt2_path()
model = AutoModelForCausalLM.from_pretrained(path)  # returned in eval mode: no dropout
tokenizer = AutoTokenizer.from_pretrained(path)
print(f"{type(model).__name__}: {model.num_parameters():,} parameters, vocabulary of {model.config.vocab_size:,} tokens")
""")

# ----------------------------------------------------------------------------------------------
md("distribution-intro", r"""
## 1. The next-token distribution

Training documents started with `<|endoftext|>`, so we start the prompt the same way
(the model card's samples do too). The model returns logits for **every** position,
`(batch, sequence, vocabulary)`; the scores at the **last** position are its guess for the
token that comes next. A softmax turns them into probabilities.
""")

code("next-token-distribution", r"""
prompt = tokenizer.bos_token + "The list"  # Change it: "A function", "An exception is", "The for statement"
batch = tokenizer(prompt, return_tensors="pt")  # input_ids and attention_mask, (1, s) each
input_ids = batch["input_ids"]
print("tokens:", [tokenizer.decode([i]) for i in input_ids[0].tolist()], "ids:", input_ids[0].tolist())

logits = model(**batch).logits  # (1, s, vocabulary)
next_logits = logits[0, -1]  # (vocabulary,) the guess for the token after the prompt
probs = next_logits.softmax(dim=-1)  # (vocabulary,)
print("logits", tuple(logits.shape), "-> next-token logits", tuple(next_logits.shape),
      "-> probabilities summing to", round(float(probs.sum()), 4))

top = probs.topk(10)
for rank, (p, token_id) in enumerate(zip(top.values.tolist(), top.indices.tolist()), start=1):
    print(f"{rank:>2}. {tokenizer.decode([token_id])!r:<8} id {token_id:>4}   {p:.4f}  {'█' * round(p * 80)}")
entropy = float(-(probs * probs.log()).sum())
print(f"the top 10 hold {float(top.values.sum()):.1%} of the probability; the other {probs.numel() - 10:,} share the rest")
print(f"entropy {entropy:.2f} nats: as uncertain as a fair choice among {math.exp(entropy):.0f} tokens")
""")

md("greedy-intro", r"""
" of" is the favourite, but with only a quarter of the probability: the model spreads its
bets. Every generation strategy below is a different answer to *which token do we take
from this distribution?*

## 2. Greedy decoding: always the most likely token

The simplest answer: take the `argmax`, append it, ask again. Lesson 00 wrote this loop
once; write it again as a function (a warm-up, optional: the solution follows).

### Your turn (warm-up): greedy decoding in a loop

`greedy_generate(model, input_ids, max_new_tokens)` takes `input_ids` of shape `(1, s)`
and returns `(1, s + max_new_tokens)`: the prompt followed by the new tokens. Each step:
run the model on everything so far, take the argmax of the **last** position's logits,
append it with `torch.cat`.
""")

code("greedy-exercise", r"""
def greedy_generate(model, input_ids, max_new_tokens):
    ...  # TODO: loop max_new_tokens times: model(ids).logits -> argmax at the last position -> append
""")

code("greedy-check", r"""
check_greedy_generate(greedy_generate, model, input_ids, max_new_tokens=8, tokenizer=tokenizer)
""")

md("greedy-solution", r"""
### Solution

Try it yourself first!
""")

code("greedy-solution-code", r"""
def greedy_generate(model, input_ids, max_new_tokens):
    ids = input_ids  # (1, s)
    for _ in range(max_new_tokens):
        next_logits = model(ids).logits[0, -1]  # (vocabulary,): the whole sequence is read again each step
        next_id = next_logits.argmax().view(1, 1)  # (1, 1) the most likely token
        ids = torch.cat([ids, next_id], dim=1)  # (1, s + 1)
    return ids

check_greedy_generate(greedy_generate, model, input_ids, max_new_tokens=8, tokenizer=tokenizer)
""")

md("generate-note", r"""
`model.generate(..., do_sample=False)` is the same loop (plus a KV cache, section 7, and
stopping at `<|endoftext|>`). And since hfexplain runs the same checkpoint with the same
math, transformers' `generate` picks the same tokens too.
""")

code("generate-vs-transformers", r"""
import transformers

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()  # no "Loading weights" bar in the output
hf_model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()

by_hand = greedy_generate(model, input_ids, 30)
ours = model.generate(**batch, max_new_tokens=30, do_sample=False)
theirs = hf_model.generate(**batch, max_new_tokens=30, do_sample=False, pad_token_id=tokenizer.pad_token_id)
print(repr(tokenizer.decode(by_hand[0], skip_special_tokens=True)))
print("hfexplain generate == your loop:   ", torch.equal(ours, by_hand))
print("transformers generate == your loop:", torch.equal(theirs, by_hand))
""")

md("processors-intro", r"""
Greedy decoding of a small model falls into a **loop**: "the target is the target is …".
Once a phrase has been produced, the context makes the same phrase most likely again. The
next sections reshape the distribution so other tokens get a chance.

## 3. Reshaping the distribution: logits processors

`generate` passes the next-token logits through a list of small classes, each with one
idea. They take `(input_ids, scores)` — the tokens so far and the scores, one row per
sequence, `(batch, vocabulary)` — and return new scores. Apply each one alone to the same
distribution:

* `TemperatureLogitsWarper(T)` divides the logits by `T`: `T < 1` sharpens, `T > 1` flattens.
* `TopKLogitsWarper(k)` keeps the `k` highest scores and sets the others to `-inf`
  (probability 0).
* `TopPLogitsWarper(p)` keeps the smallest set of most likely tokens whose probabilities
  add up to at least `p` (the "nucleus"), `-inf` for the rest.
""")

code("temperature", r"""
from hfexplain.generation import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

scores = next_logits[None]  # (1, vocabulary): processors take a batch of rows

def show(name, new_scores):
    new_probs = new_scores[0].softmax(dim=-1)  # (vocabulary,)
    top = new_probs.topk(4)
    kept = int((new_probs > 0).sum())
    tops = "  ".join(f"{tokenizer.decode([i])!r} {p:.3f}" for p, i in zip(top.values.tolist(), top.indices.tolist()))
    print(f"{name:<42} {kept:>5} tokens possible | {tops}")

show("model (no processor)", scores)
for processor in (TemperatureLogitsWarper(0.5), TemperatureLogitsWarper(1.5), TopKLogitsWarper(5), TopPLogitsWarper(0.7)):
    show(repr(processor), processor(input_ids, scores))
""")

md("temperature-note", r"""
Temperature never removes a token; it moves probability between them (the order stays the
same, so the greedy choice never changes). Top-k and top-p remove the tail and renormalise
what is left: after top-k 5, " of" rises from a quarter to almost half. What a processor
returns are still **logits**, with `-inf` for the removed tokens:
""")

code("top-k", r"""
filtered = TopKLogitsWarper(5)(input_ids, scores)[0]  # (vocabulary,)
print("kept logits:", filtered[torch.isfinite(filtered)])
print("removed:", int(torch.isinf(filtered).sum()), "tokens at", float(filtered.min()))
print("the input is unchanged (a new tensor is returned):", torch.equal(scores[0], next_logits))

for temperature in (0.25, 0.5, 1.0, 1.5, 3.0):
    p = TemperatureLogitsWarper(temperature)(input_ids, scores)[0].softmax(dim=-1)
    h = float(-(p * p.clamp_min(1e-30).log()).sum())
    print(f"temperature {temperature:<4}: top token {float(p.max()):.3f}, like a fair choice among {math.exp(h):6.1f} tokens")
""")

md("bars-note", r"""
The same four processors as bars: grey is the model's distribution, blue what the
processor makes of it (the 12 most likely tokens):
""")

code("processor-bars", r"""
top12 = next_logits.topk(12).indices  # (12,) the same tokens in every panel
labels = [repr(tokenizer.decode([i])) for i in top12.tolist()]
model_probs = probs[top12].numpy()
panels = [("temperature 0.5", TemperatureLogitsWarper(0.5)), ("temperature 1.5", TemperatureLogitsWarper(1.5)),
          ("top-k 5", TopKLogitsWarper(5)), ("top-p 0.7", TopPLogitsWarper(0.7))]
fig, axes = plt.subplots(1, len(panels), sharey=True, figsize=(12, 4))
for ax, (title, processor) in zip(axes, panels):
    processed = processor(input_ids, scores)[0].softmax(dim=-1)[top12].numpy()
    ax.bar(range(12), model_probs, width=0.8, color="#c8c8c8", label="model")
    ax.bar(range(12), processed, width=0.45, color="#1f4e9c", label="processed")
    ax.set_xticks(range(12), labels, rotation=90, fontsize=9)
    ax.set_title(title)
axes[0].legend()
axes[0].set_ylabel("probability")
plt.tight_layout()
plt.show()
""")

md("top-p-intro", r"""
### How top-p decides

Sort the probabilities from the most likely, add them up, and stop at the first token
whose running total reaches `p`. That token is **in** the set: it is the smallest set whose
mass reaches `p`. With `p = 0.7` here:
""")

code("top-p-by-hand", r"""
sorted_probs, sorted_ids = probs.sort(descending=True)
running = sorted_probs.cumsum(dim=-1)  # (vocabulary,) mass of each token and all more likely ones
crossing = int((running < 0.7).sum())  # the rank at which the running total reaches 0.7
for rank in [0, 1, 2, None, *range(crossing - 2, crossing + 3)]:
    if rank is None:
        print("   ...")
        continue
    token = tokenizer.decode([int(sorted_ids[rank])])
    verdict = "kept" if rank <= crossing else "dropped"
    arrow = "  <- reaches 0.7: the last token kept" if rank == crossing else ""
    print(f"{rank + 1:>3}. {token!r:<12} p={float(sorted_probs[rank]):.3f}   running total {float(running[rank]):.3f}   {verdict}{arrow}")
print("TopPLogitsWarper(0.7) keeps", int(torch.isfinite(TopPLogitsWarper(0.7)(input_ids, scores)).sum()), "tokens")
""")

md("top-p-exercise-intro", r"""
### Your turn: top-p (nucleus) filtering

Write `top_p_filter(logits, top_p)` for **one** logits vector of shape `(vocabulary,)`:
return a new tensor with the same logits for the smallest set of most likely tokens whose
probabilities add up to at least `top_p`, and `float("-inf")` everywhere else. The most
likely token is always kept, even when it alone has more than `top_p`.

Useful: `torch.sort(x, descending=True)` returns `(values, indices)`; `.softmax(dim=-1)`,
`.cumsum(dim=-1)`; `mask.scatter(0, indices, mask)` puts a sorted mask back in vocabulary
order; `logits.masked_fill(mask, value)`. The checker compares with `TopPLogitsWarper`
and says what is off.
""")

code("top-p-exercise", r"""
def top_p_filter(logits, top_p):
    ...  # TODO: sort, softmax, running total, mask the tokens outside the nucleus with -inf
""")

code("top-p-check", r"""
check_top_p_filter(top_p_filter)
""")

md("top-p-solution", r"""
### Solution

Try it yourself first! Common slips the checker names: keeping the tokens whose own
probability is above `p`, dropping the token that crosses `p`, losing the most likely
token when it alone exceeds `p`, sorting ascending, and returning probabilities instead
of logits.
""")

code("top-p-solution-code", r"""
def top_p_filter(logits, top_p):
    sorted_logits, sorted_ids = torch.sort(logits, descending=True)  # (v,) most likely first
    sorted_probs = sorted_logits.softmax(dim=-1)  # (v,)
    before = sorted_probs.cumsum(dim=-1) - sorted_probs  # (v,) mass of the tokens more likely than each one
    drop_sorted = before >= top_p  # those already reach p without it
    drop = drop_sorted.scatter(0, sorted_ids, drop_sorted)  # (v,) back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))

check_top_p_filter(top_p_filter)
""")

md("top-p-rule-note", r"""
"Drop a token when the tokens more likely than it already reach `p`" keeps the crossing
token and never drops the first (nothing comes before it). On the real distribution it
agrees with the class:
""")

code("top-p-vs-warper", r"""
yours, theirs = top_p_filter(next_logits, 0.7), TopPLogitsWarper(0.7)(input_ids, scores)[0]
print("same as TopPLogitsWarper(0.7):", torch.equal(yours, theirs), "-", int(torch.isfinite(yours).sum()), "tokens kept")
""")

# ----------------------------------------------------------------------------------------------
md("sampling-intro", r"""
## 4. Sampling, with a seed

Sampling draws the next token at random **from** the processed distribution
(`torch.multinomial`). `generate(do_sample=True, temperature=..., top_k=..., top_p=...)`
builds a `LogitsProcessorList` in a fixed order — temperature, then top-k, then top-p
(top-p measures the mass *after* temperature) — and draws from its softmax. The draws come
from torch's random generator, so a seed makes them repeatable.
""")

code("sampling", r"""
processors = LogitsProcessorList([TemperatureLogitsWarper(0.8), TopKLogitsWarper(20), TopPLogitsWarper(0.9)])
final = processors(input_ids, scores)  # (1, vocabulary)
torch.manual_seed(0)
draws = torch.multinomial(final.softmax(dim=-1), num_samples=12, replacement=True)  # (1, 12) twelve draws of the next token
print(int(torch.isfinite(final).sum()), "tokens possible; 12 draws:", [tokenizer.decode([i]) for i in draws[0].tolist()])

settings = dict(max_new_tokens=30, do_sample=True, temperature=0.8, top_k=20, top_p=0.9)
for seed in (0, 0, 1):
    torch.manual_seed(seed)
    sample = model.generate(**batch, **settings)
    print(f"seed {seed}:", repr(tokenizer.decode(sample[0], skip_special_tokens=True)))

torch.manual_seed(0)
ours = model.generate(**batch, **settings)
torch.manual_seed(0)
theirs = hf_model.generate(**batch, **settings, pad_token_id=tokenizer.pad_token_id)
print("transformers draws the same tokens from the same seed:", torch.equal(ours, theirs))
""")

md("same-seed-note", r"""
Same seed, same text; another seed, another text. Because hfexplain applies the
processors in transformers' order and calls the random generator the same way, the two
libraries draw the *same* tokens.

`explain_generation` (also `model.generate_steps`) runs the same loop and records every
step: the top candidates after each processor, the token picked and its probability, and
the KV cache's size.
""")

code("explain-generation", r"""
from hfexplain.generation import explain_generation

torch.manual_seed(0)
steps = explain_generation(model, input_ids, max_new_tokens=3, do_sample=True, temperature=0.8, top_k=20, top_p=0.9,
                           top_n=3, tokenizer=tokenizer)
for step in steps:
    print(f"step {step.step}: picked {step.token!r} (probability {step.token_prob:.3f}); "
          f"cache holds {step.kv_cache_positions} positions")
    for stage in step.stages:
        tops = ", ".join(f"{t!r} {p:.3f}" for t, p in zip(stage.top_tokens, stage.top_probs))
        print(f"    {stage.name:<42} {stage.kept:>5} possible | {tops}")
""")

# ----------------------------------------------------------------------------------------------
md("repetition-intro", r"""
## 5. Repetition penalty: breaking the loop

`RepetitionPenaltyLogitsProcessor(penalty)` makes every token that already occurs in the
sequence less likely: its logit is divided by `penalty` if positive, multiplied if negative
(so it always goes down). Look at the distribution in the middle of greedy's loop:
""")

code("repetition-penalty", r"""
from hfexplain.generation import RepetitionPenaltyLogitsProcessor

looping = by_hand[:, :18]  # prompt + the first greedy tokens, in the loop
print(repr(tokenizer.decode(looping[0], skip_special_tokens=True)))
loop_scores = model(looping).logits[:, -1]  # (1, vocabulary)
penalised = RepetitionPenaltyLogitsProcessor(1.3)(looping, loop_scores)
seen = set(looping[0].tolist())
for name, s in (("before", loop_scores), ("after penalty 1.3", penalised)):
    top = s[0].softmax(dim=-1).topk(4)
    pairs = zip(top.values.tolist(), top.indices.tolist())
    print(f"{name:<18}", "  ".join(f"{tokenizer.decode([i])!r}{'*' if i in seen else ''} {p:.3f}" for p, i in pairs))
print("(* = already in the text)")
""")

md("penalty-note", r"""
The penalty is part of greedy decoding too (it changes which token is the argmax). A small
measure of looping: the share of distinct 3-token windows in the generated text (1.0 =
no window repeats).
""")

code("distinct-trigrams", r"""
def distinct_trigrams(ids, start):
    new = ids[0, start:].tolist()
    windows = [tuple(new[i:i + 3]) for i in range(len(new) - 2)]
    return len(set(windows)) / len(windows)

prompt_length = input_ids.shape[1]
for penalty in (1.0, 1.2, 1.5):
    out = model.generate(**batch, max_new_tokens=40, do_sample=False, repetition_penalty=penalty)
    text = tokenizer.decode(out[0, prompt_length:])
    print(f"penalty {penalty}: distinct 3-grams {distinct_trigrams(out, prompt_length):.2f}  {text!r}")
theirs = hf_model.generate(**batch, max_new_tokens=40, do_sample=False, repetition_penalty=1.5,
                           pad_token_id=tokenizer.pad_token_id)
print("transformers, penalty 1.5, same tokens:", torch.equal(out, theirs))
""")

md("beam-intro", r"""
The loop is gone, at a price: a penalty also pushes down words a sentence genuinely needs
again (" the", quotes). Sampling (section 4) is the other common cure.

## 6. Beam search: keeping several candidates

Greedy commits to one token per step. **Beam search** (`num_beams=n`) keeps the `n` most
probable partial sequences; each step, every beam proposes every token, and the `n` best
totals survive. The score is the sum of the tokens' log-probabilities. Let us compute that
sum ourselves from one forward pass over each finished sequence:
""")

code("beam-search", r"""
def sequence_logprob(sequences, prompt_length):
    log_probs = model(sequences).logits.log_softmax(dim=-1)  # (n, s, vocabulary)
    # position t predicts token t + 1: the log-probability the model gave each actual next token
    picked = log_probs[:, :-1].gather(-1, sequences[:, 1:, None])[..., 0]  # (n, s - 1)
    return picked[:, prompt_length - 1:].sum(dim=-1)  # (n,) only the generated tokens count

greedy = model.generate(**batch, max_new_tokens=12, do_sample=False)
beams = model.generate(**batch, max_new_tokens=12, do_sample=False, num_beams=4, num_return_sequences=4)
print(f"greedy  {float(sequence_logprob(greedy, prompt_length)[0]):8.3f}  {tokenizer.decode(greedy[0, prompt_length:])!r}")
for rank, (score, beam) in enumerate(zip(sequence_logprob(beams, prompt_length).tolist(), beams), start=1):
    print(f"beam {rank}  {score:8.3f}  {tokenizer.decode(beam[prompt_length:])!r}")
theirs = hf_model.generate(**batch, max_new_tokens=12, do_sample=False, num_beams=4, num_return_sequences=4,
                           pad_token_id=tokenizer.pad_token_id)
print("transformers returns the same 4 beams:", torch.equal(beams, theirs))
""")

md("beams-note", r"""
All four beams are more probable than greedy's text: after "… of the target list" greedy
took " is" (the best single step) and paid for it later; beam search kept the
alternatives alive. Yet the beams
loop just as much. The most *probable* text is not the most *interesting*: that is why
open-ended generation usually samples, and beam search is used where one right answer
exists (translation, summarisation).

## 7. The KV cache

In the greedy loop of section 2, step `t` runs the model over all `t` tokens again, though
only the last one is new. Attention is the only place where positions meet, and what an
earlier position contributes there is its **key** and **value** (lesson 03). So the model
keeps every layer's keys and values — the **KV cache**, `past_key_values` — and each step
feeds just the new token.

### What it stores
""")

code("kv-cache-store", r"""
out = model(**batch, use_cache=True)
cache = out.past_key_values
print(cache)
for layer, (keys, values) in enumerate(zip(cache.keys, cache.values)):
    print(f"layer {layer}: keys {tuple(keys.shape)}, values {tuple(values.shape)}  (batch, heads, positions, head_dim)")

config = model.config
per_position = 2 * config.n_layer * config.n_embd * 4  # keys + values, every layer, heads × head_dim = n_embd, 4-byte floats
print(f"{cache.nbytes():,} bytes = {cache.get_seq_length()} positions × {per_position:,} bytes per position")
print(f"a full context of {config.n_positions} positions: {config.n_positions * per_position / 2**20:.2f} MiB")
gpt2_small = 2 * 12 * 768 * 4 * 1024  # keys + values, 12 layers, width 768, 4 bytes, 1,024 positions
print(f"the same for GPT-2 small at 1,024 positions: {gpt2_small / 2**20:.0f} MiB per sequence")
""")

md("same-logits-intro", r"""
### One token at a time gives the same logits

Feed the prompt once with `use_cache=True`, then each later token **alone** together with
the cache. The logits must be those of one forward pass over the whole sequence.
""")

code("same-logits", r"""
full_logits = model(greedy).logits  # (1, s, vocabulary): every position at once, no cache

out = model(greedy[:, :prompt_length], use_cache=True)  # the prompt fills the cache
cache = out.past_key_values
step_logits = [out.logits[:, -1]]
for position in range(prompt_length, greedy.shape[1]):
    out = model(greedy[:, position:position + 1], past_key_values=cache, use_cache=True)  # (1, 1): only the new token
    step_logits.append(out.logits[:, -1])
cached_logits = torch.stack(step_logits, dim=1)  # (1, new + 1, vocabulary)

print("the cache now holds", cache.get_seq_length(), "positions; one new token per call")
same = torch.allclose(cached_logits, full_logits[:, prompt_length - 1:], atol=1e-5)  # position t predicts t + 1
print("one token at a time == full forward, within 1e-5:", same)
""")

md("saves-intro", r"""
### What it saves

Without the cache, step `t` processes `t` positions; with it, one. Time 200 new tokens
both ways (`use_cache` is a `generate` argument). Timings vary from machine to machine
and run to run; the count of positions processed does not.
""")

code("cache-timing", r"""
new_tokens = 200
model.generate(**batch, max_new_tokens=5, do_sample=False)  # warm-up: the first call pays one-off costs

start = time.perf_counter()
with_cache = model.generate(**batch, max_new_tokens=new_tokens, do_sample=False, use_cache=True)
seconds_with = time.perf_counter() - start
start = time.perf_counter()
without_cache = model.generate(**batch, max_new_tokens=new_tokens, do_sample=False, use_cache=False)
seconds_without = time.perf_counter() - start

print(f"with the cache:    took {seconds_with:.3f} s")
print(f"without the cache: took {seconds_without:.3f} s")
print(f"the cache makes generation {seconds_without / seconds_with:.1f}x faster")
print("same tokens either way:", torch.equal(with_cache, without_cache))
positions_with = prompt_length + new_tokens - 1
positions_without = sum(range(prompt_length, prompt_length + new_tokens))
print(f"positions run through the model: {positions_with:,} with the cache, {positions_without:,} without")
""")

md("streaming-intro", r"""
The saving grows with the length: the work without a cache grows with the *square* of the
sequence length. On a model this small, fixed per-call costs (Python, small matrix
multiplications) hide part of it; on a large model the cache is what makes generation
practical, and its memory (above) becomes the limit.

## 8. Streaming the text: `TextStreamer`

Chat interfaces show words as they arrive. `generate(streamer=...)` hands the streamer the
prompt, then each new token; `TextStreamer` prints **whole words**: a token can be half a
word, so it holds text back until a space or line break confirms the word is complete.
""")

code("text-streamer", r"""
from hfexplain.generation import TextStreamer

streamer = TextStreamer(tokenizer, skip_special_tokens=True)
_ = model.generate(**batch, max_new_tokens=30, do_sample=False, repetition_penalty=1.5, streamer=streamer)
""")

md("collect-note", r"""
To see the pieces, subclass it and collect them instead of printing (`on_finalized_text`
is the one method to override). An empty piece means "nothing certain yet":
""")

code("collector", r"""
class Collector(TextStreamer):
    def __init__(self, tokenizer):
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.pieces = []

    def on_finalized_text(self, text, stream_end=False):
        self.pieces.append(text)

collector = Collector(tokenizer)
_ = model.generate(**batch, max_new_tokens=12, do_sample=False, repetition_penalty=1.5, streamer=collector)
print(collector.pieces)
""")

# ----------------------------------------------------------------------------------------------
md("explorer-intro", r"""
## 9. Explore: the GenerationExplorer

The explorer steps through generation one token at a time: the grey bars are the model's
probabilities, the blue ones what temperature, top-k and top-p make of them; the button
appends a greedy or a sampled token; the grid below shows the KV cache growing, position
by position and layer by layer. Things to try:

* In **greedy** mode, move the sliders: the bars change, the chosen token never does.
* Switch to **sample**, set temperature 1.5 and top-p 1: watch the text fall apart; then
  top-p 0.5.
* Restart with the same seed: the same "random" text comes back.
* Edit the prompt and press Enter: the explorer starts again from it (Shift+Enter types a
  new line into the prompt, for code).

Where widgets do not render, the text below it says the same.
""")

code("explorer", r"""
from hfexplain.widgets import GenerationExplorer

explorer = GenerationExplorer(model, tokenizer, "The list", temperature=0.8, top_p=0.9, do_sample=True, seed=0)
explorer.step(5)
explorer
""")

# ----------------------------------------------------------------------------------------------
md("summary", r"""
## Summary

* A causal LM gives logits for the next token at the **last** position; a softmax makes them
  a distribution. Generation is a loop: pick a token, append it, ask again.
* **Greedy** takes the argmax: deterministic, identical in your loop, `model.generate` and
  transformers' `generate` — and prone to loops.
* **Logits processors** reshape the scores and return logits (`-inf` = removed):
  temperature divides, top-k keeps `k` tokens, top-p keeps the smallest set reaching mass
  `p` (the crossing token included, the top token always). `generate` applies them in
  a fixed order: repetition penalty, temperature, top-k, top-p.
* **Sampling** draws from the processed distribution; `torch.manual_seed` makes it
  repeatable, and hfexplain draws the same tokens as transformers.
* A **repetition penalty** breaks greedy loops; **beam search** finds more probable
  sequences, which are not necessarily better text.
* The **KV cache** keeps each layer's keys and values, `(batch, heads, positions,
  head_dim)`; feeding one token at a time gives the same logits as a full forward, much
  faster, at a memory cost that grows with the context.
* `TextStreamer` prints whole words as they are produced.

This closes the factory tour: tokenizer, embeddings, attention, blocks, models, configs,
checkpoints and now generation — each rebuilt by hand and checked against transformers.
""")


if __name__ == "__main__":
    lesson.main()
