"""Bad hyper-parameters are named before anything is built: one validation pass per config
(``PretrainedConfig.validate``, run by every model's constructor, so from_pretrained too), and
the families' "width splits over the heads" rules through ``check_divisible``."""
from __future__ import annotations

import json

import pytest
import torch

from hfexplain import AutoModelForCausalLM
from hfexplain.configuration import PretrainedConfig
from hfexplain.models.bert import BertConfig, BertModel
from hfexplain.models.gpt2 import GPT2Config, GPT2LMHeadModel

SMALL = dict(n_embd=8, n_head=2, n_layer=1, n_positions=8, vocab_size=11)


@pytest.mark.parametrize("change, message", [
    (dict(n_layer=-1), "n_layer=-1 must be at least 0"),
    (dict(n_head=0), "n_head=0 must be at least 1"),
    (dict(vocab_size=-5), "vocab_size=-5 must be at least 1"),
    (dict(n_embd="32"), "n_embd='32' must be a whole number"),
    (dict(n_positions=8.0), "n_positions=8.0 must be a whole number"),
    (dict(layer_norm_epsilon="x"), "layer_norm_epsilon='x' must be a number"),
    (dict(layer_norm_epsilon=0.0), "layer_norm_epsilon=0.0 must be a positive finite number"),
    (dict(attn_pdrop=1.5), "attn_pdrop=1.5 must be a probability between 0 and 1"),
    (dict(n_embd=10, n_head=4), "n_embd (10) must be divisible by n_head (4)"),
])
def test_bad_sizes_are_named_before_anything_is_built(change, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GPT2LMHeadModel(GPT2Config(**{**SMALL, **change}))


def test_a_zero_layer_model_is_embed_then_unembed():
    model = GPT2LMHeadModel(GPT2Config(**{**SMALL, "n_layer": 0}))
    assert len(model.transformer.h) == 0
    assert model(torch.tensor([[1, 2]])).logits.shape == (1, 2, 11)


def test_bert_names_its_own_fields():
    with pytest.raises(ValueError, match="num_attention_heads=0 must be at least 1"):
        BertConfig(hidden_size=8, num_attention_heads=0)
    with pytest.raises(ValueError, match="hidden_dropout_prob=-0.1 must be a probability"):
        BertModel(BertConfig(hidden_size=8, num_attention_heads=2, intermediate_size=16, vocab_size=11,
                             num_hidden_layers=1, hidden_dropout_prob=-0.1))


def test_a_key_that_would_hide_a_method_is_refused():
    with pytest.raises(ValueError, match="'to_dict', which would hide its 'to_dict' method"):
        GPT2Config(**SMALL, to_dict=True)
    with pytest.raises(ValueError, match="'num_labels'.*property|would hide its 'use_return_dict' property"):
        PretrainedConfig(use_return_dict=False)


def test_from_pretrained_refuses_a_huge_vocabulary_string_before_allocating(tmp_path):
    GPT2LMHeadModel(GPT2Config(**SMALL)).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["vocab_size"] = "100000000"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="vocab_size='100000000' must be a whole number"):
        AutoModelForCausalLM.from_pretrained(tmp_path)


@pytest.mark.parametrize("change, message", [
    (dict(vocab_size=100_000_000), r"transformer.wte.weight: checkpoint \(11, 8\), model \(100000000, 8\)"),
    (dict(n_layer=20_000), r"config.n_layer=20000 asks for 20000 layers, but the checkpoint holds at most 1"),
    (dict(n_layer=3), r"the checkpoint lacks 24 weight\(s\) that every GPT2LMHeadModel checkpoint has"),
])
def test_a_config_that_disagrees_with_the_checkpoint_is_named_before_the_model_is_built(change, message, tmp_path,
                                                                                      monkeypatch):
    """Shapes are compared on a model built on the meta device (no memory, no initialisation), and
    absurd layer counts before even that: the real model is never built."""
    GPT2LMHeadModel(GPT2Config(**SMALL)).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, **change}))

    def never(*args, **kwargs):
        raise AssertionError("the real model was built before the checkpoint was compared with the config")

    monkeypatch.setattr(GPT2LMHeadModel, "_build_uninitialised", classmethod(never))
    with pytest.raises(ValueError, match=message):
        AutoModelForCausalLM.from_pretrained(tmp_path)


def test_integer_weights_for_a_float_model_load_with_a_warning(tmp_path):
    from safetensors.torch import load_file, save_file

    GPT2LMHeadModel(GPT2Config(**SMALL)).save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    weights["transformer.wte.weight"] = torch.arange(88, dtype=torch.int32).reshape(11, 8)
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    with pytest.warns(UserWarning, match=r"1 weight\(s\) are stored as integers.*transformer.wte.weight"):
        model = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert model.transformer.wte.weight.dtype == torch.float32
    assert torch.equal(model.transformer.wte.weight, torch.arange(88.0).reshape(11, 8))
