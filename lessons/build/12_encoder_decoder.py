"""Build lessons/12_encoder_decoder.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/12_encoder_decoder.py                 # write and execute
    .venv/bin/python lessons/build/12_encoder_decoder.py --no-execute    # only write
    .venv/bin/python lessons/build/12_encoder_decoder.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "12-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("12_encoder_decoder")
md, code = lesson.md, lesson.code

md("intro", r"""
# 12 · Encoder-decoders: cross-attention and the decoding loop

GPT-2 (lessons 05 and 08) reads and writes **one** stream: the prompt and its continuation
are the same sequence. Translation and summarisation are different: the whole input is
known before the first output word is written, and the output is a *new* text, in another
language or of another length. The original Transformer (Vaswani et al., 2017), and later
BART, Marian and T5, split the work in two:

```
source  "two thousand and five"                       target, one token at a time
   │                                                     "<pad> d e u x ␣ m i l l e ..."
   ▼                                                        │
┌──────────────────────┐                              ┌─────▼──────────────────────────┐
│ ENCODER (like BERT)   │                              │ DECODER (like GPT-2)            │
│ self-attention, both  │   encoder states (b, s, d)   │ causal self-attention           │
│ directions, run ONCE  │ ───────────────────────────► │ CROSS-attention: q from here,   │
└──────────────────────┘   keys and values of every   │   k and v from the encoder      │
                            decoder layer              │ MLP ─► lm_head ─► next token    │
                                                       └────────────────────────────────┘
```

The model here is real and trained: **tiny-marian-numbers-en-fr**, a 0.25M-parameter
Marian translator that ships with hfexplain (`hfexplain.assets.tiny_translator_path()`; its
model card is the folder's README.md). It translates English number words into French
number words, one character per token.

**Goals**

1. See the three attentions of an encoder-decoder and their shapes.
2. Build cross-attention by hand (queries from the decoder, keys and values from the
   encoder, the *encoder's* padding mask) and check it against the library and transformers.
3. Draw T5's relative position buckets, bidirectional and causal.
4. Write the decoding loop by hand, with a cache whose cross-attention keys and values are
   computed once; get the tokens of `generate` (ours and transformers').
5. Watch which source characters each French character reads, in the AttentionDashboard.
6. Run the translation and summarization pipelines, and say what they can and cannot show.
7. Write cross-attention yourself; a checker names the usual slips.
""")

code("setup", r"""
import math
import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # lessons never touch the network

import plotly.graph_objects as go
import torch
import transformers
from plotly.subplots import make_subplots

from hfexplain import AutoModelForSeq2SeqLM, AutoTokenizer
from hfexplain.assets import tiny_translator_path

torch.manual_seed(0)
torch.set_num_threads(1)  # a model this small runs fastest, and most steadily, on one thread
torch.set_printoptions(precision=3, sci_mode=False)
transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()  # no "Loading weights" bars in the output

path = tiny_translator_path()
tokenizer = AutoTokenizer.from_pretrained(path)
model = AutoModelForSeq2SeqLM.from_pretrained(path).eval()
hf_model = transformers.AutoModelForSeq2SeqLM.from_pretrained(path, attn_implementation="eager").eval()

PREFIX = "translate English to French: "
source = PREFIX + "two thousand and five"
print(f"{type(model).__name__}: {model.num_parameters():,} parameters, {len(tokenizer)} tokens in the vocabulary")
ids = tokenizer(source)["input_ids"]
print(f"the source is {len(ids)} tokens, one per character and '</s>':", tokenizer.convert_ids_to_tokens(ids)[-8:])
""")

# ----------------------------------------------------------------------------------------------
md("three-attentions-intro", r"""
## 1. Why an encoder and a decoder

The encoder reads the source **once**, every character seeing every other (no causal
triangle: the whole source is known). The decoder writes the target left to right, so its
self-attention is causal, as in GPT-2. What is new is the third attention in every decoder
layer: **cross-attention**, whose queries come from the decoder and whose keys and values
come from the encoder's output. It is the only road from the source to the target.

One decoder layer of the translator, as `print(model)` shows it (Hugging Face's names):
""")

code("decoder-layer", r"""
layer = model.model.decoder.layers[0]
for name, child in layer.named_children():
    if not name.startswith("hook_"):
        print(f"{name:<24} {type(child).__name__}")
""")

md("three-attentions-shapes", r"""
Run the model once on the source and its translation (the decoder reads the translation
*teacher-forced*: the start token `<pad>`, then the French characters) and keep the three
attention patterns. Rows are the positions that look (queries), columns the positions
looked at (keys):
""")

code("three-attentions", r"""
encoded = tokenizer([source], return_tensors="pt")
translation_ids = model.generate(**encoded)  # (1, t): <pad> d e u x ... </s>
print("translation:", tokenizer.decode(translation_ids[0], skip_special_tokens=True))

with torch.no_grad():
    _, cache = model.run_with_cache(**encoded, decoder_input_ids=translation_ids,
                                    names_filter=["pattern", "cross_pattern"])
for title, key in [("encoder self-attention", ("pattern", 0, "encoder")),
                   ("decoder self-attention", ("pattern", 0, "decoder")),
                   ("decoder cross-attention", ("cross_pattern", 0, "decoder"))]:
    pattern = cache[key][0, 0]  # (queries, keys) of head 0
    future = bool(pattern.triu(diagonal=1).sum() > 0) if pattern.shape[0] == pattern.shape[1] else "-"
    print(f"{title:<24} {str(tuple(cache[key].shape)):<16} (batch, heads, queries, keys)   looks ahead: {future}")
""")

md("three-attentions-reading", r"""
51 source positions, 17 target positions: the encoder's pattern is 51 × 51 and looks both
ways; the decoder's is 17 × 17 and never looks ahead; cross-attention is **17 × 51**, a
rectangle: every target position reads the whole source.

## 2. Cross-attention by hand

Take a *batch* of two sources of different lengths, so the shorter one is padded. The
encoder's `attention_mask` (1 for a character, 0 for padding) is what hides the padding,
in the encoder and again in every cross-attention: the decoder must not read the padding
either. Nothing else masks cross-attention: there is no triangle.
""")

code("padded-batch", r"""
batch = tokenizer([PREFIX + "seven", PREFIX + "two thousand and five"], return_tensors="pt", padding=True)
targets = model.generate(**batch)  # (2, t): the shorter translation is padded after its </s>
print("source lengths:", batch["attention_mask"].sum(dim=1).tolist(), "of", batch["input_ids"].shape[1])
print("translations:  ", tokenizer.batch_decode(targets, skip_special_tokens=True))

with torch.no_grad():
    _, batch_cache = model.run_with_cache(**batch, decoder_input_ids=targets,
                                    names_filter=[("final", None, "encoder"), "resid_mid", "cross_pattern",
                                                  "cross_attn_out"])
""")

md("by-hand-intro", r"""
Layer 1's cross-attention, `encoder_attn`, reads two tensors: the decoder's stream after
its self-attention sublayer (`resid_mid`, `(b, t, d)`) and the encoder's output (`final` of
the encoder stack, `(b, s, d)`). Queries from the first, keys and values from the second;
then the attention of lesson 03, with the encoder's padding mask as a `(b, 1, 1, s)` mask
that broadcasts over heads and queries:
""")

code("by-hand", r"""
attn = model.model.decoder.layers[1].encoder_attn
heads, head_dim = attn.num_heads, attn.head_dim
decoder_states = batch_cache["resid_mid", 1, "decoder"]  # (b, t, d): the queries come from here
encoder_states = batch_cache["final", None, "encoder"]  # (b, s, d): the keys and values from here
b, t, d = decoder_states.shape
s = encoder_states.shape[1]

with torch.no_grad():
    q = attn.q_proj(decoder_states).view(b, t, heads, head_dim).transpose(1, 2)  # (b, h, t, e)
    k = attn.k_proj(encoder_states).view(b, s, heads, head_dim).transpose(1, 2)  # (b, h, s, e)
    v = attn.v_proj(encoder_states).view(b, s, heads, head_dim).transpose(1, 2)  # (b, h, s, e)
    scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim)  # (b, h, t, s): a rectangle, no triangle
    padding = batch["attention_mask"][:, None, None, :] == 0  # (b, 1, 1, s): True at the source's padding
    scores = scores.masked_fill(padding, torch.finfo(scores.dtype).min)
    pattern = scores.softmax(dim=-1)  # (b, h, t, s): each query's weights over the source
    z = pattern @ v  # (b, h, t, e)
    out = attn.out_proj(z.transpose(1, 2).reshape(b, t, d))  # (b, t, d)

print("q", tuple(q.shape), " k", tuple(k.shape), " scores", tuple(scores.shape), " out", tuple(out.shape))
print("weight on the padding of 'seven':", float(pattern[0, :, :, padding[0, 0, 0]].sum()))
""")

md("by-hand-check-intro", r"""
Now the same numbers three other ways: the library's hook points (what the layer computed
inside the model), the layer itself called with the library's mask helper
(`hfexplain/layers/cross_attention.py`), and transformers' Marian on the same folder
(`output_attentions=True` returns each layer's cross-attention pattern).
""")

code("by-hand-check", r"""
from hfexplain.layers import cross_attention_mask


def max_abs_diff(a, b):
    return f"{float((a - b).abs().max()):.1e}"


with torch.no_grad():
    mask = cross_attention_mask(batch["attention_mask"], s, dtype=torch.float32, device="cpu")  # (b, 1, 1, s)
    layer_out, _ = attn(decoder_states, mask, encoder_states)  # (b, t, d)
    hf_out = hf_model(**batch, decoder_input_ids=targets, output_attentions=True)

checks = [("pattern vs the model's cross_pattern hook", pattern, batch_cache["cross_pattern", 1, "decoder"]),
          ("output  vs the model's cross_attn_out hook", out, batch_cache["cross_attn_out", 1, "decoder"]),
          ("output  vs encoder_attn(..., mask)", out, layer_out),
          ("pattern vs transformers' cross_attentions[1]", pattern, hf_out.cross_attentions[1])]
for title, mine, reference in checks:
    torch.testing.assert_close(mine, reference)  # raises if they differ beyond float32 tolerance
    print(f"{title:<46} max abs diff {max_abs_diff(mine, reference)}")
print("mask from the library:", tuple(mask.shape), "0 for a character,", f"{float(mask.min()):.2e}", "for padding")
""")

md("by-hand-reading", r"""
(The differences are zero or float rounding: the fused and the explicit attention add the
same numbers in a different order.) BART's cross-attention is this same code (Marian's layers
are marked copies of BART's). T5's has other names (`EncDecAttention.q`, `.k`, `.v`, `.o`)
and two changes: it does not divide by $\sqrt{d_{head}}$, and its projections have no bias.

## 3. Positions in T5: buckets, not embeddings

Marian adds sinusoids to the embeddings (lesson 02). T5 adds **nothing** to the embeddings:
each attention score gets a learned bias that depends on the *distance* between the key and
the query, `key position - query position`, sorted into one of 32 buckets. Near distances
get a bucket each, farther ones share buckets that widen logarithmically, and everything
beyond 128 positions shares the last one. The encoder's buckets are **bidirectional** (half
for keys to the left, half for the right); the decoder's self-attention is causal, so all
32 serve the left. (T5's cross-attention has no position bias at all: a decoder query
reaches the source by content.)
""")

code("t5-buckets", r"""
from hfexplain.models.t5 import relative_position_bucket
from transformers.models.t5.modeling_t5 import T5Attention

n = 48
distance = torch.arange(n)[None, :] - torch.arange(n)[:, None]  # (q, k): key position - query position
bidirectional = relative_position_bucket(distance, bidirectional=True, num_buckets=32, max_distance=128)
causal = relative_position_bucket(distance, bidirectional=False, num_buckets=32, max_distance=128)
for ours, flag in ((bidirectional, True), (causal, False)):
    assert torch.equal(ours, T5Attention._relative_position_bucket(distance, bidirectional=flag))
print("both tables equal transformers' T5Attention._relative_position_bucket")

offsets = [-128, -64, -32, -16, -12, -8, -7, -1, 0, 1, 7, 8, 12, 16, 32, 64, 128, 500]
table = torch.tensor(offsets)
print("key - query  ", " ".join(f"{o:>4}" for o in offsets))
print("bidirectional", " ".join(f"{int(x):>4}" for x in relative_position_bucket(table, bidirectional=True)))
print("causal       ", " ".join(f"{int(x):>4}" for x in relative_position_bucket(table, bidirectional=False)))
""")

code("t5-buckets-heatmap", r"""
titles = ("encoder: bidirectional", "decoder: causal (keys to the right: bucket 0, masked)")
figure = make_subplots(rows=1, cols=2, horizontal_spacing=0.12, subplot_titles=titles)
for column, buckets in ((1, bidirectional), (2, causal)):
    figure.add_trace(go.Heatmap(z=buckets.tolist(), colorscale="Viridis", zmin=0, zmax=31,
                                showscale=column == 2, colorbar=dict(title="bucket"),
                                hovertemplate="query %{y}<br>key %{x}<br>bucket %{z}<extra></extra>"),
                     row=1, col=column)
    figure.update_xaxes(title_text="key position", row=1, col=column)
    figure.update_yaxes(title_text="query position", autorange="reversed", row=1, col=column)
figure.update_layout(width=900, height=430, margin=dict(l=40, r=20, t=60, b=40))
figure
""")

md("t5-buckets-reading", r"""
Read a row of the left map: the query's own position is bucket 0, the 7 keys just before
it get buckets 1-7 and the 7 just after it 17-23 (one bucket per distance), and beyond 8
positions the colour changes slowly: distances 8-11 share one bucket, and so on. The bands are parallel to the
diagonal: the bias depends only on the distance, so it holds for texts of any length.

## 4. The decoding loop by hand

`generate` on an encoder-decoder is the greedy loop of lesson 08 with two changes: the
**encoder runs once**, before the loop, and the decoder starts from
`decoder_start_token_id` (Marian's pad token, `<pad>`) instead of continuing a prompt. The
decoder's cache has two parts (`EncoderDecoderCache`): its self-attention keys and values
grow by one position per step, as in GPT-2; its cross-attention keys and values are
projections of the encoder's output, which never changes, so they are computed on the first
step and read back on every later one.

To see that happen, count the calls of the projections with PyTorch forward hooks.
""")

code("loop-by-hand", r"""
from hfexplain.layers import EncoderDecoderCache


def greedy_by_hand(model, input_ids, attention_mask, use_cache=True, max_new_tokens=64):
    '''Greedy decoding of one source, step by step; returns the ids and how often each piece ran.'''
    calls = {"encoder runs": 0, "cross k_proj runs": 0, "self k_proj positions": 0}

    def count(key, positions=False):
        def hook(module, inputs, output):
            calls[key] += output.shape[1] if positions else 1  # output (b, seq, d): seq new positions
        return hook

    hooks = [model.get_encoder().register_forward_hook(count("encoder runs"))]
    for layer in model.model.decoder.layers:
        hooks.append(layer.encoder_attn.k_proj.register_forward_hook(count("cross k_proj runs")))
        hooks.append(layer.self_attn.k_proj.register_forward_hook(count("self k_proj positions", positions=True)))
    try:
        with torch.no_grad():
            encoder_outputs = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)  # once
            ids = torch.tensor([[model.config.decoder_start_token_id]])  # (1, 1): <pad>
            cache = EncoderDecoderCache() if use_cache else None
            for _ in range(max_new_tokens):
                new = ids[:, -1:] if use_cache else ids  # with a cache, only the newest token goes in
                out = model(encoder_outputs=encoder_outputs, attention_mask=attention_mask, decoder_input_ids=new,
                            past_key_values=cache, use_cache=use_cache)
                next_id = out.logits[:, -1].argmax(dim=-1, keepdim=True)  # (1, 1): greedy
                ids = torch.cat([ids, next_id], dim=1)
                if int(next_id) == model.config.eos_token_id:
                    break
    finally:
        for hook in hooks:
            hook.remove()
    return ids, calls, cache


ids, calls, decode_cache = greedy_by_hand(model, encoded["input_ids"], encoded["attention_mask"])
print(tokenizer.decode(ids[0], skip_special_tokens=True), f"({ids.shape[1] - 1} steps)")
print("with the cache:   ", calls)
print("                  ", decode_cache)
ids_no_cache, calls_no_cache, _ = greedy_by_hand(model, encoded["input_ids"], encoded["attention_mask"],
                                                  use_cache=False)
print("without the cache:", calls_no_cache)
print("same tokens either way:", torch.equal(ids, ids_no_cache))
""")

md("loop-reading", r"""
With the cache, the encoder ran once and each decoder layer's cross-attention `k_proj` ran
once (2 layers, 2 calls) for the whole translation; self-attention projected one new
position per step. Without it, every step projects the encoder's 51 states again in both
layers and reruns the decoder over the whole prefix. Same tokens, far less work.

Now the check that matters: the loop is `generate`, in hfexplain and in transformers.
""")

code("loop-vs-generate", r"""
ours = model.generate(**encoded)  # greedy: the folder's generation_config keeps the defaults (no sampling, 1 beam)
theirs = hf_model.generate(**encoded)
print("by hand:                ", ids[0].tolist())
print("hfexplain generate:     ", ours[0].tolist())
print("transformers' generate: ", theirs[0].tolist())
print("all three equal:", torch.equal(ids, ours) and torch.equal(ours, theirs))
""")

# ----------------------------------------------------------------------------------------------
md("translate-intro", r"""
## 5. What the translator reads

A few numbers in one padded batch, through both libraries. The model card lists the two
held-out numbers (of 500) it gets wrong; 31 is one of them: French says *trente et un*.
""")

code("translate-numbers", r"""
numbers = {7: "sept", 31: "trente et un", 80: "quatre-vingts", 1999: "mille neuf cent quatre-vingt-dix-neuf",
           2005: "deux mille cinq"}
english = ["seven", "thirty-one", "eighty", "one thousand, nine hundred and ninety-nine", "two thousand and five"]
numbers_batch = tokenizer([PREFIX + words for words in english], return_tensors="pt", padding=True)
ours = model.generate(**numbers_batch)
theirs = hf_model.generate(**numbers_batch)
translations = tokenizer.batch_decode(ours, skip_special_tokens=True)
for words, (number, reference), french in zip(english, numbers.items(), translations):
    print(f"{number:>5}  {words:<45} -> {french:<40} {'ok' if french == reference else 'expected ' + repr(reference)}")
print("transformers generates the same tokens:", torch.equal(ours, theirs))
""")

md("dashboard-intro", r"""
The AttentionDashboard of lesson 03 works on encoder-decoders too: its **show** menu offers
the encoder's self-attention, the decoder's self-attention and the cross-attention
(decoder queries down, encoder keys across). Give it the source as `text` and the
translation as `decoder_text`; it starts here on the cross-attention of layer 1.

Read a row as "having just written this character, the decoder reads these source
characters to choose the **next** one": the row of `<pad>` (the start) chooses the `d` of
*deux*. Change the head, the layer, or the menu; where widgets do not render, the text
under it gives each row's strongest source character.
""")

code("dashboard", r"""
from hfexplain.widgets import AttentionDashboard

french = tokenizer.decode(translation_ids[0], skip_special_tokens=True)
dashboard = AttentionDashboard(model, tokenizer, source, decoder_text=french, stack="cross", layer=1, head=1)
dashboard
""")

md("static-heatmap-intro", r"""
The same head as a static picture (it is stored in the notebook, so it shows without a
running kernel), then the same pattern summed over the characters of each word: how much
weight the rows that choose a French word's characters put on each English word.
""")

code("static-heatmap", r"""
cross = dashboard.all_patterns["cross"]  # (layers, heads, t, s), from the dashboard's one forward pass
LABELS = {" ": "␣", "<pad>": "start", "</s>": "end"}  # plotly reads "</s>" as an HTML tag
source_chars = [LABELS.get(c, c) for c in dashboard.tokens]
target_chars = [LABELS.get(c, c) for c in dashboard.decoder_tokens]
head_pattern = cross[1, 1]  # (t, s)
figure = go.Figure(go.Heatmap(
    z=head_pattern.numpy().round(2).tolist(), colorscale="Blues", zmin=0, zmax=1,
    hovertemplate="target %{y}<br>source %{x}<br>weight %{z}<extra></extra>"))
figure.update_layout(
    title="cross-attention, layer 1, head 1: target characters (rows) read source characters (columns)",
    width=960, height=520, margin=dict(l=60, r=20, t=50, b=40),
    xaxis=dict(tickvals=list(range(len(source_chars))), ticktext=source_chars, tickangle=0, tickfont=dict(size=10)),
    yaxis=dict(tickvals=list(range(len(target_chars))), ticktext=target_chars, autorange="reversed"))
figure
""")

code("word-alignment", r"""
def spans(chars):
    '''(word, first, last + 1) of each space-separated word of a list of characters.'''
    words, start = [], None
    for i, c in enumerate(chars + ["␣"]):
        if c not in ("␣", "start", "end") and start is None:
            start = i
        elif c in ("␣", "start", "end") and start is not None:
            words.append(("".join(chars[start:i]), start, i))
            start = None
    return words


columns = [("prefix", 0, len(PREFIX))] + [w for w in spans(source_chars) if w[1] >= len(PREFIX)]
print(f"{'':>7}" + "".join(f"{word:>10}" for word, _, _ in columns))
for word, first, last in spans(target_chars):
    rows = head_pattern[first - 1:last - 1]  # (characters, s): the rows that *choose* this word's characters
    weights = [float(rows[:, a:b].sum(dim=1).mean()) for _, a, b in columns]
    print(f"{word:>7}" + "".join(f"{w:>10.2f}" for w in weights))
""")

md("word-alignment-reading", r"""
Among the English words, each French word puts the most weight on the one it translates
(*deux* on *two*, *mille* on *thousand*, *cinq* on *five*), and *and*, which French leaves
out, gets almost none. Much of the rest sits on the prefix, the same for every input, most
of all while the first word is written: a place to park attention when there is nothing to
fetch, as BERT's heads use `[CLS]` (lesson 03).
It is one head of a tiny model, not a word aligner; the other heads share the work
differently (try them in the dashboard).
""")

# ----------------------------------------------------------------------------------------------
md("pipelines-intro", r"""
## 6. Pipelines: translation and summarization

The `translation` and `summarization` pipelines (`hfexplain/pipelines/text2text_generation.py`)
are lesson 09's three stages around this loop: **preprocess** puts the task's prefix before
the text and tokenizes it, **_forward** calls `model.generate`, **postprocess** decodes.
The prefix comes from the model's config (`task_specific_params`), which is why a learner
types only the English words. (transformers 5 removed these pipelines; hfexplain keeps them
as transformers 4.x had them.)
""")

code("translation-pipeline", r"""
from hfexplain import pipeline

print("config.task_specific_params:", model.config.task_specific_params)
translator = pipeline("translation_en_to_fr", model=path)
print(translator(["nine", "four hundred and four", "six thousand and sixty"]))

with warnings.catch_warnings(record=True) as caught:  # plain "translation" picks the config's entry, and says so
    warnings.simplefilter("always")
    plain = pipeline("translation", model=path)
print("warning:", caught[0].message)
print(plain("twelve"))
print(translator.inspect("six"))
""")

md("summarization-intro", r"""
**No summarization model was trained for this project**, and none that installs offline
exists here. The cell below runs the summarization pipeline on the translator's folder only
to show the mechanics: the config has no `summarization` entry, so there is no prefix, the
English sentence goes to the encoder as it is, and the decoder writes what it knows, French
number words. The "summary" is **meaningless**; with a real summarizer (a BART or T5
fine-tuned on news, e.g. `facebook/bart-large-cnn`) the same call returns a summary.
""")

code("summarization-pipeline", r"""
summarizer = pipeline("summarization", model=path)
print("prefix:", repr(summarizer.prefix))
print(summarizer("The cat sat on the mat all day because the sun had warmed it.", max_new_tokens=40))
""")

# ----------------------------------------------------------------------------------------------
md("exercise-intro", r"""
## 7. Your turn: cross-attention as a function

Write `cross_attention(attn, decoder_states, encoder_states, encoder_attention_mask)`: one
decoder layer's cross-attention sublayer, from its module `attn` (with `q_proj`, `k_proj`,
`v_proj`, `out_proj`, `num_heads`, `head_dim`, as in section 2):

* `decoder_states` `(batch, t, d)`: the queries come from here;
* `encoder_states` `(batch, s, d)`: the keys and values come from here;
* `encoder_attention_mask` `(batch, s)`: 1 for a source token, 0 for padding;
* return `(batch, t, d)`, what the sublayer adds to the decoder's stream.

The checker, `check_cross_attention`, runs it on small random layers (a short and a long
target, one decoding step with `t = 1`, padded sources) against the library's layer, and
names the usual slips: no scaling, no padding mask, a mask inverted or added as 0/1, a
causal triangle, the softmax over the queries, `out_proj` forgotten, queries and keys swapped.
""")

code("exercise", r'''
from hfexplain.exercises.encoder_decoder import check_cross_attention


def cross_attention(attn, decoder_states, encoder_states, encoder_attention_mask):
    """(batch, t, d): the decoder's queries read the encoder's keys and values."""
    # q from decoder_states, k and v from encoder_states, heads split as (b, h, seq, e);
    # scores (b, h, t, s) / sqrt(head_dim); hide the padding keys; softmax over the keys; ...
    ...


check_cross_attention(cross_attention)
''')

md("typical-slip-note", r"""
A typical slip: everything right, but the padding mask forgotten (the encoder's mask is
easy to leave behind once the encoder has run):
""")

code("typical-slip", r"""
def forgets_the_padding(attn, decoder_states, encoder_states, encoder_attention_mask):
    b, t, d = decoder_states.shape
    s = encoder_states.shape[1]
    q = attn.q_proj(decoder_states).view(b, t, attn.num_heads, attn.head_dim).transpose(1, 2)
    k = attn.k_proj(encoder_states).view(b, s, attn.num_heads, attn.head_dim).transpose(1, 2)
    v = attn.v_proj(encoder_states).view(b, s, attn.num_heads, attn.head_dim).transpose(1, 2)
    pattern = (q @ k.transpose(-1, -2) / math.sqrt(attn.head_dim)).softmax(dim=-1)
    return attn.out_proj((pattern @ v).transpose(1, 2).reshape(b, t, d))


check_cross_attention(forgets_the_padding)
""")

md("solution", r"""
### Solution

Try it yourself first! Then compare with this version.
""")

code("solution-code", r'''
def cross_attention(attn, decoder_states, encoder_states, encoder_attention_mask):
    """(batch, t, d): the decoder's queries read the encoder's keys and values."""
    b, t, d = decoder_states.shape
    s = encoder_states.shape[1]
    q = attn.q_proj(decoder_states).view(b, t, attn.num_heads, attn.head_dim).transpose(1, 2)  # (b, h, t, e)
    k = attn.k_proj(encoder_states).view(b, s, attn.num_heads, attn.head_dim).transpose(1, 2)  # (b, h, s, e)
    v = attn.v_proj(encoder_states).view(b, s, attn.num_heads, attn.head_dim).transpose(1, 2)  # (b, h, s, e)
    scores = q @ k.transpose(-1, -2) / math.sqrt(attn.head_dim)  # (b, h, t, s)
    padding = encoder_attention_mask[:, None, None, :] == 0  # (b, 1, 1, s)
    pattern = scores.masked_fill(padding, torch.finfo(scores.dtype).min).softmax(dim=-1)  # (b, h, t, s)
    z = pattern @ v  # (b, h, t, e)
    return attn.out_proj(z.transpose(1, 2).reshape(b, t, d))  # (b, t, d)


check_cross_attention(cross_attention)
''')

md("solution-on-translator-intro", r"""
And on the trained translator: your function on layer 1 of section 2's padded batch gives
what the model computed.
""")

code("solution-on-translator", r"""
with torch.no_grad():
    mine = cross_attention(attn, decoder_states, encoder_states, batch["attention_mask"])  # (2, t, d)
print("yours vs the model's cross_attn_out of layer 1: max abs diff",
      max_abs_diff(mine, batch_cache["cross_attn_out", 1, "decoder"]))
""")

# ----------------------------------------------------------------------------------------------
md("summary", r"""
## Summary

* An encoder-decoder reads the source once with a bidirectional **encoder** and writes the
  target with a causal **decoder**; in every decoder layer, **cross-attention** takes its
  queries from the decoder and its keys and values from the encoder's output. Its pattern
  is a `(t, s)` rectangle, masked only by the source's padding.
* T5 has no position embeddings: a learned bias per bucket of `key - query`, exact for near
  distances, logarithmic for far ones, bidirectional in the encoder and causal in the decoder.
* `generate` runs the encoder once and the decoder step by step; the cache grows the
  self-attention keys and values by one position per step and computes the cross-attention
  keys and values once. The loop by hand gives `generate`'s tokens, in hfexplain and transformers.
* The translation and summarization pipelines are prefix + tokenize → `generate` → decode;
  they are only as good as the model: the translator translates numbers, and nothing else.

Next: open `hfexplain/layers/cross_attention.py` and `hfexplain/models/marian.py`
(`MarianAttention`, `MarianDecoderLayer`); then `hfexplain/models/t5.py` for what T5 does differently.
""")


if __name__ == "__main__":
    lesson.main()
