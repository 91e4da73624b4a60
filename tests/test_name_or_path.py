"""config.name_or_path: where a model was loaded from, as transformers records it."""
import json
import os

import torch
from transformers import AutoConfig as HFAutoConfig

from hfexplain import AutoConfig, AutoModelForCausalLM, pipeline
from hfexplain.assets import tiny_gpt2_path
from hfexplain.models.gpt2 import GPT2Config, GPT2LMHeadModel


def test_a_loaded_model_remembers_its_folder_and_a_pipeline_finds_the_tokenizer_there():
    path = tiny_gpt2_path()
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.config.name_or_path == str(path)
    assert AutoConfig.from_pretrained(path).name_or_path == str(path)
    write = pipeline("text-generation", model=model)  # no tokenizer=: it is read from name_or_path
    out = write("def f", max_new_tokens=3, do_sample=False)
    assert out[0]["generated_text"].startswith("def f")


def test_name_or_path_is_not_written_and_the_file_loads_in_transformers(tmp_path):
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=20, n_positions=16))
    assert model.config.name_or_path == ""
    model.save_pretrained(tmp_path / "a")
    written = json.loads((tmp_path / "a" / "config.json").read_text())
    assert "_name_or_path" not in written and "name_or_path" not in written
    reloaded = GPT2LMHeadModel.from_pretrained(tmp_path / "a")
    assert reloaded.config.name_or_path == str(tmp_path / "a")
    reloaded.save_pretrained(tmp_path / "b")  # a loaded model saves without its old path
    assert "_name_or_path" not in json.loads((tmp_path / "b" / "config.json").read_text())
    assert HFAutoConfig.from_pretrained(os.fspath(tmp_path / "b")).n_embd == 8
    # a config.json that transformers wrote with _name_or_path keeps it as the path, not as a field
    data = {**written, "_name_or_path": "someone/elsewhere"}
    config = GPT2Config.from_dict(data)
    assert config.name_or_path == "someone/elsewhere" and "_name_or_path" not in config.to_dict()
    assert torch.equal(reloaded.transformer.wte.weight, model.transformer.wte.weight)
