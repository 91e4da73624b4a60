"""A family is declared once: hfexplain.models' TASKS and FAMILIES feed every table.

The Auto tables (hfexplain.auto), the lazy exports (``hfexplain.X``) and the pipelines'
task table are all read from the declarations, checked here against the declarations,
against transformers' own tables, and against a family added in a test. Also: the LLaMA
heads through the Auto classes at parity with transformers, the Auto classes of tasks no
family serves yet, and hub.py at the bottom of the imports with the one JSON reader, dtype
parser and shard reader.
"""
from __future__ import annotations

import ast
import json
import os
import pathlib
import re
import subprocess
import sys
import types

import pytest
import torch

import parity
import hfexplain
from hfexplain import auto, configuration, hub, modeling, pipelines
from hfexplain.assets import tiny_gpt2_path
from hfexplain.hooks import HookPoint
from hfexplain.models import FAMILIES, TASKS, Family
from hfexplain.models.gpt2 import GPT2Config, GPT2ForSequenceClassification, GPT2Model, GPT2PreTrainedModel
from hfexplain.models.llama import LlamaForQuestionAnswering

transformers = parity.quiet_transformers()

ROOT = pathlib.Path(__file__).resolve().parents[1]

# One tiny config per declared family, to build every class it declares.
TINY = {
    "gpt2": dict(n_embd=8, n_layer=1, n_head=2, vocab_size=11, n_positions=16),
    "bert": dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16, vocab_size=11,
                 max_position_embeddings=16),
    "llama": dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                  intermediate_size=16, vocab_size=11, max_position_embeddings=16, pad_token_id=0),
    "gpt_neo": dict(hidden_size=8, num_layers=2, num_heads=2, attention_types=[[["global", "local"], 1]],
                    window_size=2, vocab_size=11, max_position_embeddings=16, pad_token_id=0),
    "gptj": dict(n_embd=8, n_layer=1, n_head=2, rotary_dim=2, vocab_size=11, n_positions=16),
    "roberta": dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16, vocab_size=11,
                    max_position_embeddings=18),
    "distilbert": dict(dim=8, n_layers=1, n_heads=2, hidden_dim=16, vocab_size=11, max_position_embeddings=16),
    "albert": dict(embedding_size=6, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16,
                   vocab_size=11, max_position_embeddings=16),
    "bart": dict(d_model=8, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                 encoder_ffn_dim=16, decoder_ffn_dim=16, vocab_size=11, max_position_embeddings=16),
    "marian": dict(d_model=8, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                   encoder_ffn_dim=16, decoder_ffn_dim=16, vocab_size=11, max_position_embeddings=16, pad_token_id=10,
                   decoder_start_token_id=10),
    "t5": dict(d_model=8, d_kv=4, d_ff=16, num_layers=1, num_heads=2, vocab_size=11, decoder_start_token_id=0),
    "wav2vec2": dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16, vocab_size=11,
                     conv_dim=(8,), conv_kernel=(4,), conv_stride=(2,), num_conv_pos_embeddings=4,
                     num_conv_pos_embedding_groups=2, classifier_proj_size=4),
    "whisper": dict(d_model=8, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                    encoder_ffn_dim=16, decoder_ffn_dim=16, vocab_size=11, num_mel_bins=4, max_source_positions=4,
                    max_target_positions=16, pad_token_id=10, bos_token_id=10, eos_token_id=10,
                    decoder_start_token_id=9, begin_suppress_tokens=[10]),
    "vit": dict(image_size=8, patch_size=4, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=16),
    "deit": dict(image_size=8, patch_size=4, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                 intermediate_size=16),
    "clip": dict(text_config=dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                                  vocab_size=11, max_position_embeddings=16, eos_token_id=10, projection_dim=4),
                 vision_config=dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                                    image_size=8, patch_size=4, projection_dim=4), projection_dim=4),
    "clip_text_model": dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                            vocab_size=11, max_position_embeddings=16, eos_token_id=10),
    "clip_vision_model": dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                              image_size=8, patch_size=4),
    "dinov2": dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, image_size=8, patch_size=4),
    "yolos": dict(image_size=[8, 8], patch_size=4, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=16, num_detection_tokens=2),
    "blip": dict(text_config=dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                                  vocab_size=11, max_position_embeddings=16, bos_token_id=10, sep_token_id=3),
                 vision_config=dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                                    image_size=8, patch_size=4), projection_dim=4),
}


# ------------------------------------------------------------------ the declarations themselves


def test_every_declared_family_has_a_tiny_config_here():
    assert set(TINY) == set(FAMILIES), "add a tiny config for the new family to TINY"


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_every_declared_class_imports_and_is_what_auto_returns(model_type):
    family = FAMILIES[model_type]
    module = __import__(f"hfexplain.models.{family.module}", fromlist=["_"])
    config_class = getattr(module, family.config)
    base_class = getattr(module, family.pretrained_model)
    assert config_class.model_type == model_type
    assert auto.config_class_for(model_type) is config_class is getattr(hfexplain, family.config)
    assert issubclass(base_class, modeling.PreTrainedModel) and base_class.config_class is config_class
    assert getattr(hfexplain, family.pretrained_model) is base_class
    config = config_class(**TINY[model_type])
    for task, class_name in family.models.items():
        model_class = getattr(module, class_name)
        assert issubclass(model_class, base_class), f"{class_name} does not derive from {family.pretrained_model}"
        assert auto.model_class_for(task, model_type) is model_class
        assert getattr(hfexplain, class_name) is model_class
        model = auto.auto_model_class(task).from_config(config)
        assert type(model) is model_class
        # the stacks the family declares are the stacks its hook points say they live in
        stacks = {m.stack for m in model.modules() if isinstance(m, HookPoint)}
        assert stacks and stacks <= set(family.hook_stacks), (class_name, stacks, family.hook_stacks)


def test_families_name_only_known_tasks_and_are_read_only():
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['chat'\]"):
        Family(module="x", config="XConfig", pretrained_model="XPreTrainedModel", models={"chat": "XForChat"})
    with pytest.raises(TypeError):
        FAMILIES["gpt2"].models["masked-lm"] = "GPT2ForMaskedLM"  # a read-only view
    with pytest.raises(AttributeError, match="a Family is frozen"):
        FAMILIES["gpt2"].module = "gpt3"
    assert FAMILIES["gpt2"] == Family("gpt2", "GPT2Config", "GPT2PreTrainedModel", dict(FAMILIES["gpt2"].models))
    assert FAMILIES["gpt2"] != FAMILIES["bert"]


def test_import_hfexplain_stays_light():
    code = "import sys, hfexplain; print(sorted(m for m in ('dataclasses', 'inspect', 'torch') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def test_the_declarations_module_is_names_only():
    source = (ROOT / "hfexplain" / "models" / "__init__.py").read_text()
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(source))
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"torch", "transformers", "safetensors", "huggingface_hub", "tokenizers"}
    code = "import sys, hfexplain, hfexplain.models; print(sorted(m for m in ('torch', 'hfexplain.auto') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


# ------------------------------------------------------------------ the tables read the declarations


def test_auto_tables_are_the_declarations():
    # The first families, spelled out; every family (the cousins too) read from its declaration.
    first = {"gpt2": ("gpt2", "GPT2Config"), "bert": ("bert", "BertConfig"), "llama": ("llama", "LlamaConfig")}
    assert {t: auto.CONFIG_MAPPING_NAMES[t] for t in first} == first
    assert dict(auto.CONFIG_MAPPING_NAMES) == {t: (f.module, f.config) for t, f in FAMILIES.items()}
    assert list(auto.MODEL_MAPPING_NAMES) == list(TASKS)
    assert {t: auto.MODEL_MAPPING_NAMES["question-answering"][t] for t in ("bert", "llama")} == {
        "bert": "BertForQuestionAnswering", "llama": "LlamaForQuestionAnswering"}
    for task in TASKS:
        assert auto.MODEL_MAPPING_NAMES[task] == {t: f.models[task] for t, f in FAMILIES.items() if task in f.models}


def test_auto_tables_agree_with_transformers_own():
    from transformers.models.auto import configuration_auto, modeling_auto

    theirs = {
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
    assert set(theirs) == set(TASKS)
    for task, table in auto.MODEL_MAPPING_NAMES.items():
        for model_type, class_name in table.items():
            listed = theirs[task][model_type]  # a name, or a tuple of names (DeiT's two classifiers): the first
            assert (listed[0] if isinstance(listed, tuple) else listed) == class_name, (task, model_type)
    for model_type, (_module, class_name) in auto.CONFIG_MAPPING_NAMES.items():
        assert configuration_auto.CONFIG_MAPPING_NAMES[model_type] == class_name
    for task, auto_name in TASKS.items():
        assert hasattr(transformers, auto_name), auto_name  # transformers' own Auto class names


def test_every_task_has_its_auto_class_everywhere():
    for task, auto_name in TASKS.items():
        auto_class = getattr(auto, auto_name)
        assert auto_class.task == task and auto.auto_model_class(task) is auto_class
        assert getattr(hfexplain, auto_name) is auto_class and auto_name in hfexplain.__all__
    with pytest.raises(ValueError, match="unknown task 'chat'; tasks are base, causal-lm"):
        auto.auto_model_class("chat")


def test_lazy_exports_keep_every_name_and_add_the_llama_heads():
    before = {  # what hfexplain exported before the registry (kept, each from the same module)
        "GPT2Config": "models.gpt2", "GPT2Model": "models.gpt2", "GPT2LMHeadModel": "models.gpt2",
        "GPT2ForSequenceClassification": "models.gpt2", "GPT2PreTrainedModel": "models.gpt2",
        "BertConfig": "models.bert", "BertModel": "models.bert", "BertForMaskedLM": "models.bert",
        "BertForSequenceClassification": "models.bert", "BertForTokenClassification": "models.bert",
        "BertForQuestionAnswering": "models.bert", "BertPreTrainedModel": "models.bert",
        "LlamaConfig": "models.llama", "LlamaModel": "models.llama", "LlamaForCausalLM": "models.llama",
        "LlamaPreTrainedModel": "models.llama", "AutoModel": "auto", "AutoModelForCausalLM": "auto",
        "AutoModelForMaskedLM": "auto", "AutoModelForSequenceClassification": "auto",
        "AutoModelForTokenClassification": "auto", "AutoModelForQuestionAnswering": "auto",
        "PretrainedConfig": "configuration", "PreTrainedModel": "modeling", "AutoConfig": "auto",
        "AutoTokenizer": "auto", "register": "auto", "pipeline": "pipelines", "Trainer": "training",
    }
    exports = hfexplain._lazy_names()
    for name, module in before.items():
        assert exports[name] == module, name
        assert name in hfexplain.__all__ and name in dir(hfexplain)
    for name in ("LlamaForSequenceClassification", "LlamaForTokenClassification", "LlamaForQuestionAnswering"):
        assert exports[name] == "models.llama" and name in hfexplain.__all__
    assert hfexplain.LlamaForQuestionAnswering is LlamaForQuestionAnswering
    with pytest.raises(AttributeError, match="no attribute 'LlamaForMaskedLM'"):
        hfexplain.LlamaForMaskedLM


def test_pipeline_tables_read_the_tasks():
    assert set(pipelines.SUPPORTED_TASKS) == set(pipelines.PIPELINE_TASKS)
    for task, (module_name, class_name, model_task) in pipelines.PIPELINE_TASKS.items():
        # a task several heads serve (speech recognition: CTC or seq2seq) names all their Auto classes
        auto_names = TASKS[model_task] if isinstance(model_task, str) else tuple(TASKS[name] for name in model_task)
        assert pipelines.SUPPORTED_TASKS[task] == (module_name, class_name, auto_names)
        pipeline_class = pipelines.pipeline_class(task)
        assert pipeline_class.__name__ == class_name
        # the pipeline class checks its model against the same task (feature-extraction takes any model)
        assert pipeline_class.model_task in (model_task, None)
    assert pipelines.SUPPORTED_TASKS["fill-mask"] == ("fill_mask", "FillMaskPipeline", "AutoModelForMaskedLM")
    from hfexplain.pipelines.base import AUTO_CLASS_FOR

    assert all(TASKS[task] == name for task, name in AUTO_CLASS_FOR.items())  # base.py's copy agrees


# ------------------------------------------------------------------ a family added in one place


class ToyRegConfig(GPT2Config):
    model_type = "toyreg"


class ToyRegPreTrainedModel(GPT2PreTrainedModel):
    config_class = ToyRegConfig


class ToyRegModel(GPT2Model):
    config_class = ToyRegConfig


class ToyRegForSequenceClassification(GPT2ForSequenceClassification):
    config_class = ToyRegConfig


class ToyRegForSeq2SeqLM(GPT2Model):  # stands in for an encoder-decoder: only the table matters here
    config_class = ToyRegConfig


@pytest.fixture
def toy_family(monkeypatch):
    """A family declared the way a new family file does it: a module under hfexplain.models and one entry."""
    module = types.ModuleType("hfexplain.models.toyreg")
    for cls in (ToyRegConfig, ToyRegPreTrainedModel, ToyRegModel, ToyRegForSequenceClassification, ToyRegForSeq2SeqLM):
        setattr(module, cls.__name__, cls)
    monkeypatch.setitem(sys.modules, "hfexplain.models.toyreg", module)
    monkeypatch.setitem(FAMILIES, "toyreg", Family(
        module="toyreg", config="ToyRegConfig", pretrained_model="ToyRegPreTrainedModel",
        models={"base": "ToyRegModel", "sequence-classification": "ToyRegForSequenceClassification",
                "seq2seq-lm": "ToyRegForSeq2SeqLM"},
    ))
    for name in ("ToyRegConfig", "ToyRegModel"):  # hfexplain caches an export once read
        monkeypatch.delitem(vars(hfexplain), name, raising=False)
    yield module
    for name in list(vars(hfexplain)):
        if name.startswith("ToyReg"):
            delattr(hfexplain, name)


def test_a_family_added_to_families_shows_up_in_auto_exports_and_pipelines(toy_family, tmp_path):
    # 1. the Auto tables and classes
    assert auto.CONFIG_MAPPING_NAMES["toyreg"] == ("toyreg", "ToyRegConfig")
    assert auto.MODEL_MAPPING_NAMES["seq2seq-lm"]["toyreg"] == "ToyRegForSeq2SeqLM"
    assert "toyreg" in auto.supported_model_types()
    config = ToyRegConfig(n_embd=8, n_layer=1, n_head=2, n_positions=16, vocab_size=4096, num_labels=2)
    assert type(hfexplain.AutoModelForSeq2SeqLM.from_config(config)) is ToyRegForSeq2SeqLM  # the room is filled
    # 2. the lazy exports
    assert hfexplain.ToyRegModel is ToyRegModel and hfexplain.ToyRegConfig is ToyRegConfig
    assert {"ToyRegForSequenceClassification", "ToyRegPreTrainedModel"} <= set(dir(hfexplain))
    # 3. the pipelines: a folder of this family loads through the task's Auto class and runs
    torch.manual_seed(0)
    model = hfexplain.AutoModelForSequenceClassification.from_config(config).eval()
    assert type(model) is ToyRegForSequenceClassification
    model.save_pretrained(tmp_path / "toy")
    hfexplain.AutoTokenizer.from_pretrained(tiny_gpt2_path()).save_pretrained(tmp_path / "toy")
    assert json.loads((tmp_path / "toy" / "config.json").read_text())["model_type"] == "toyreg"
    from_folder = hfexplain.pipeline("text-classification", model=tmp_path / "toy")
    assert type(from_folder.model) is ToyRegForSequenceClassification
    in_memory = hfexplain.pipeline(model=model, tokenizer=tmp_path / "toy")  # task guessed from the class name
    text = "A function returns a value."
    assert from_folder(text, top_k=None) == in_memory(text, top_k=None)
    assert {row["label"] for row in in_memory(text, top_k=None)} == {"LABEL_0", "LABEL_1"}


def test_a_task_added_to_the_tables_reaches_the_pipelines(monkeypatch):
    monkeypatch.setitem(TASKS, "masked-lm", "AutoModelForMaskedLM")  # same value: the table is read each time
    monkeypatch.setitem(pipelines.PIPELINE_TASKS, "toy-task", ("fill_mask", "FillMaskPipeline", "masked-lm"))
    assert pipelines.SUPPORTED_TASKS["toy-task"] == ("fill_mask", "FillMaskPipeline", "AutoModelForMaskedLM")
    assert "toy-task" in pipelines.supported_tasks()


# ------------------------------------------------------------------ tasks no family serves yet
# Every task of TASKS has a family now; a new task starts without one. The test takes one task's
# families out of FAMILIES (and the registered ones) to see that room empty again.


@pytest.fixture
def task_without_family(monkeypatch):
    task = "object-detection"
    for model_type, family in list(FAMILIES.items()):
        if task in family.models:
            monkeypatch.delitem(FAMILIES, model_type)
    monkeypatch.setattr(auto, "_REGISTERED_MODELS", {name: {} for name in TASKS})
    assert auto.MODEL_MAPPING_NAMES[task] == {}
    return task


@pytest.fixture
def gpt2_folder(tmp_path):
    torch.manual_seed(0)
    config = transformers.GPT2Config(**TINY["gpt2"])
    transformers.GPT2Model(config).save_pretrained(tmp_path / "gpt2")
    return tmp_path / "gpt2"


def test_auto_classes_without_a_family_say_so(task_without_family, gpt2_folder, tmp_path):
    task = task_without_family
    auto_class = getattr(hfexplain, TASKS[task])
    message = rf"no family registered for task '{task}' yet; {TASKS[task]} is ready.*hfexplain.register"
    with pytest.raises(ValueError, match=message):
        auto_class.from_pretrained(gpt2_folder)
    with pytest.raises(ValueError, match=message):
        auto_class.from_pretrained(tmp_path / "does-not-exist")  # before any file is looked for
    with pytest.raises(ValueError, match=message):
        auto_class.from_config(GPT2Config(**TINY["gpt2"]))
    with pytest.raises(ValueError, match=message):
        auto.model_class_for(task, "gpt2")
    with pytest.raises(TypeError, match="not instantiated"):
        auto_class()


def test_registering_a_model_for_a_new_task_fills_its_room(monkeypatch):
    monkeypatch.setattr(auto, "_REGISTERED_CONFIGS", {})
    monkeypatch.setattr(auto, "_REGISTERED_MODELS", {task: {} for task in TASKS})
    hfexplain.register("toyreg", ToyRegConfig, {"ctc": ToyRegForSeq2SeqLM})
    model = hfexplain.AutoModelForCTC.from_config(ToyRegConfig(**TINY["gpt2"]))
    assert type(model) is ToyRegForSeq2SeqLM
    with pytest.raises(ValueError, match="'gpt2' has no ctc model in hfexplain; ctc is available for: .*toyreg"):
        auto.model_class_for("ctc", "gpt2")


# ------------------------------------------------------------------ LLaMA heads through the Auto classes

LLAMA = dict(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, pad_token_id=0, max_position_embeddings=64)


@pytest.mark.parametrize("auto_name, reference_name, fields", [
    ("AutoModelForSequenceClassification", "LlamaForSequenceClassification", ["logits"]),
    ("AutoModelForTokenClassification", "LlamaForTokenClassification", ["logits"]),
    ("AutoModelForQuestionAnswering", "LlamaForQuestionAnswering", ["start_logits", "end_logits"]),
])
def test_llama_heads_load_through_auto_at_parity(auto_name, reference_name, fields, tmp_path):
    reference_class = getattr(transformers, reference_name)
    num_labels = {} if "QuestionAnswering" in reference_name else {"num_labels": 3}
    folder, _ = parity.save_reference(reference_class, {**LLAMA, **num_labels}, tmp_path / "ref")
    reference = reference_class.from_pretrained(folder).eval()
    ours = getattr(hfexplain, auto_name).from_pretrained(folder).eval()
    assert type(ours) is getattr(hfexplain, reference_name)
    assert type(ours).__module__ == "hfexplain.models.llama"
    inputs = parity.make_inputs(ours.config)  # padded on both sides
    with torch.no_grad():
        expected, got = reference(**inputs), ours(**inputs)
    real = inputs["attention_mask"].bool()
    for field in fields:
        want, have = getattr(expected, field), getattr(got, field)
        assert have.shape == want.shape
        if have.dim() == 3 or field != "logits":  # per-token scores: compare where there are tokens
            want, have = want[real], have[real]
        torch.testing.assert_close(have, want, atol=1e-5, rtol=0)


# ------------------------------------------------------------------ hub at the bottom


def test_hub_imports_nothing_of_ours():
    tree = ast.parse((ROOT / "hfexplain" / "hub.py").read_text())
    ours = [node.module or "." for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("hfexplain"))]
    ours += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names if alias.name.startswith("hfexplain")]
    assert ours == []


@pytest.mark.parametrize("first", ["hfexplain.hub", "hfexplain.configuration"])
def test_hub_and_configuration_import_in_either_order_without_a_cycle(first):
    code = (
        f"import sys, importlib; importlib.import_module({first!r})\n"
        "print(sorted(name for name in sys.modules if name.startswith('hfexplain.')))\n"
        "import hfexplain.configuration, hfexplain.hub\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    loaded = ast.literal_eval(result.stdout.strip())  # the hfexplain modules the first import loaded
    assert first in loaded
    if first == "hfexplain.hub":
        assert "hfexplain.configuration" not in loaded and "hfexplain.modeling" not in loaded


def test_one_dtype_parser_one_json_reader_one_set_of_hub_kwargs():
    assert configuration.dtype_from_name is hub.dtype_from_name is modeling.dtype_from_name
    assert configuration.HUB_KWARGS is hub.HUB_KWARGS is modeling.HUB_KWARGS
    assert configuration.write_text_atomically is hub.write_text_atomically
    assert hub.dtype_from_name("torch.bfloat16") is torch.bfloat16 and hub.dtype_from_name("auto") == "auto"
    with pytest.raises(ValueError, match="'float99' is not a torch dtype name"):
        GPT2Config(dtype="float99")
    with pytest.raises(TypeError, match="a dtype is a torch.dtype or its name, got int"):
        hub.dtype_from_name(16)
    import inspect

    from hfexplain import generation
    import hfexplain.generation.configuration_utils  # noqa: F401
    from hfexplain.tokenization import files as tokenization_files

    assert "json.load" not in (ROOT / "hfexplain" / "configuration.py").read_text()
    assert "read_json_object(" in inspect.getsource(generation.configuration_utils._read_json_object)  # hub's reader
    assert tokenization_files.read_json_object is hub.read_json_object
    for package in ("tokenization", "processing", "generation"):  # their modules read JSON through hub's reader only
        for module in (ROOT / "hfexplain" / package).glob("*.py"):
            assert "json.load(" not in module.read_text(), module


def test_read_json_object(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": 1}')
    assert hub.read_json_object(path) == {"a": 1}
    path.write_text('{"a": 1,,}')
    with pytest.raises(OSError, match=r"x\.json' is not valid JSON \(Expecting .* at line 1, column 9\)"):
        hub.read_json_object(path)
    path.write_text("[1, 2]")
    with pytest.raises(OSError, match="holds a JSON list, but a widget must be a JSON object"):
        hub.read_json_object(path, what="a widget")
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(OSError, match="is not valid JSON .*not UTF-8"):
        hub.read_json_object(path)


def test_every_reader_uses_the_shared_json_reader(tmp_path):
    """A config, a generation config and a tokenizer config that hold a JSON list each say so."""
    from hfexplain.generation import GenerationConfig

    folder = tmp_path / "m"
    hfexplain.AutoModelForCausalLM.from_pretrained(tiny_gpt2_path()).save_pretrained(folder)
    hfexplain.AutoTokenizer.from_pretrained(tiny_gpt2_path()).save_pretrained(folder)
    for name, load, what in [
        ("generation_config.json", lambda: GenerationConfig.from_pretrained(folder), "a generation config"),
        ("tokenizer_config.json", lambda: hfexplain.AutoTokenizer.from_pretrained(folder), "a tokenizer file"),
        ("config.json", lambda: hfexplain.AutoConfig.from_pretrained(folder), "a config"),
    ]:
        original = (folder / name).read_text()
        (folder / name).write_text("[]")
        with pytest.raises(OSError, match=rf"{name}' holds a JSON list, but {what} must be a JSON object"):
            load()
        (folder / name).write_text(original)


# ------------------------------------------------------------------ one shard reader, shard names refused


@pytest.mark.parametrize("shard", [
    "../model.safetensors", "..", ".", "", "sub/model-00001-of-00002.safetensors",
    "sub\\model.safetensors", "/tmp/model.safetensors", "C:model.safetensors", 7,
])
def test_shard_names_outside_the_folder_are_refused(tmp_path, shard):
    index = {"metadata": {}, "weight_map": {"a.weight": "model-00001-of-00001.safetensors", "b.weight": shard}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match=rf"names the shard {re.escape(repr(shard))}, which is not a "
                                         "plain file name.*same folder as its index"):
        hub.resolve_weight_files(tmp_path)
    with pytest.raises(OSError):  # still an OSError for callers that catch loading errors
        hub.resolve_weight_files(tmp_path)


def _trainer(tmp_path):
    from hfexplain.training import Trainer, TrainingArguments

    model = GPT2Model(GPT2Config(**TINY["gpt2"]))
    return model, Trainer(model=model, args=TrainingArguments(output_dir=os.fspath(tmp_path / "out")))


def test_the_trainer_reads_checkpoints_with_hubs_reader(tmp_path):
    model, trainer = _trainer(tmp_path)
    state = {key: value.clone() for key, value in model.state_dict().items()}
    files = hub.save_state_dict(state, tmp_path / "sharded", max_shard_size="2KB")
    assert len(files) > 2  # shards and their index
    loaded = trainer._read_checkpoint_weights(os.fspath(tmp_path / "sharded"))
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)

    index_path = tmp_path / "sharded" / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    index["weight_map"][next(iter(index["weight_map"]))] = "../../elsewhere.safetensors"
    index_path.write_text(json.dumps(index))
    with pytest.raises(ValueError, match="'../../elsewhere.safetensors', which is not a plain file name"):
        trainer._read_checkpoint_weights(os.fspath(tmp_path / "sharded"))


def test_a_family_that_declares_an_image_processor_feeds_auto_image_processor(monkeypatch, tmp_path):
    from hfexplain.processing import BaseImageProcessor
    from hfexplain.processing import auto as processing_auto

    class ToyRegImageProcessor(BaseImageProcessor):
        pass

    module = types.ModuleType("hfexplain.models.toyvis")
    module.ToyRegConfig, module.ToyRegImageProcessor = ToyRegConfig, ToyRegImageProcessor
    module.ToyRegPreTrainedModel = ToyRegPreTrainedModel
    monkeypatch.setitem(sys.modules, "hfexplain.models.toyvis", module)
    assert "toyvis" not in processing_auto.IMAGE_PROCESSOR_MAPPING_NAMES
    monkeypatch.setitem(FAMILIES, "toyvis", Family(
        module="toyvis", config="ToyRegConfig", pretrained_model="ToyRegPreTrainedModel", models={},
        tokenizer=None, image_processor="ToyRegImageProcessor",
    ))
    assert processing_auto.IMAGE_PROCESSOR_MAPPING_NAMES["toyvis"] == ("toyvis", "ToyRegImageProcessor")
    assert "toyvis" not in processing_auto.FEATURE_EXTRACTOR_MAPPING_NAMES
    # saved with its class name -> found by name; saved without one -> found by config.json's model_type
    ToyRegImageProcessor(size=6).save_pretrained(tmp_path / "named")
    loaded = hfexplain.AutoImageProcessor.from_pretrained(tmp_path / "named")
    assert type(loaded) is ToyRegImageProcessor and loaded.size == ToyRegImageProcessor(size=6).size
    (tmp_path / "typed").mkdir()
    (tmp_path / "typed" / "config.json").write_text(json.dumps({"model_type": "toyvis"}))
    (tmp_path / "typed" / "preprocessor_config.json").write_text(json.dumps({"do_resize": False}))
    assert type(hfexplain.AutoImageProcessor.from_pretrained(tmp_path / "typed")) is ToyRegImageProcessor
