"""The Auto registry and loading by folder or Hub repo id, with the errors a learner meets."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from conftest import quiet_transformers
from hubcache import folder_files, make_hub_cache

import hfexplain
from hfexplain import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification
from hfexplain.configuration import PretrainedConfig
from hfexplain.hooks import HookPoint
from hfexplain.modeling import PreTrainedModel
from hfexplain.models.gpt2 import GPT2Config, GPT2LMHeadModel

transformers = quiet_transformers()


@pytest.fixture
def gpt2_folder(tmp_path):
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=60, n_positions=32,
                                     bos_token_id=0, eos_token_id=0)
    ref = transformers.GPT2LMHeadModel(config).eval()
    ref.save_pretrained(tmp_path / "gpt2-tiny")
    return tmp_path / "gpt2-tiny", ref


def test_auto_dispatches_on_model_type(gpt2_folder):
    folder, ref = gpt2_folder
    config = AutoConfig.from_pretrained(folder)
    assert type(config) is GPT2Config and config.n_embd == 32
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert type(model) is GPT2LMHeadModel
    assert type(AutoModel.from_pretrained(folder)).__name__ == "GPT2Model"
    ids = torch.randint(0, 60, (1, 5))
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, ref(ids).logits, atol=1e-5, rtol=0)
    classifier = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3)
    assert classifier.config.num_labels == 3


def test_repo_id_resolves_from_an_offline_cache_with_revisions(tmp_path, gpt2_folder):
    folder, ref = gpt2_folder
    cache = tmp_path / "hub"
    make_hub_cache(cache, "learner/gpt2-tiny", folder_files(folder))
    # a second revision "v1" whose config says 3 labels
    other = tmp_path / "v1"
    ours = GPT2LMHeadModel.from_pretrained(folder)
    ours.config.task_note = "revision v1"
    ours.save_pretrained(other)
    make_hub_cache(cache, "learner/gpt2-tiny", folder_files(other), revision_name="v1")

    model = AutoModelForCausalLM.from_pretrained("learner/gpt2-tiny", cache_dir=cache)
    ids = torch.randint(0, 60, (1, 5))
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, ref(ids).logits, atol=1e-5, rtol=0)
    assert not hasattr(model.config, "task_note")
    v1 = AutoModelForCausalLM.from_pretrained("learner/gpt2-tiny", cache_dir=cache, revision="v1")
    assert v1.config.task_note == "revision v1"


def test_hf_hub_offline_env_in_a_fresh_process(tmp_path, gpt2_folder):
    folder, _ = gpt2_folder
    cache = tmp_path / "hub"
    make_hub_cache(cache, "learner/gpt2-tiny", folder_files(folder))
    code = (
        "from hfexplain import AutoModelForCausalLM\n"
        "m = AutoModelForCausalLM.from_pretrained('learner/gpt2-tiny')\n"
        "print(type(m).__name__)\n"
        "try:\n"
        "    AutoModelForCausalLM.from_pretrained('learner/not-cached')\n"
        "except OSError as e:\n"
        "    print('OSError:', e)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "GPT2LMHeadModel"
    assert lines[1].startswith("OSError:") and "learner/not-cached" in lines[1]


def test_missing_folder_or_repo_is_a_clear_error(tmp_path):
    with pytest.raises(OSError, match="learner/nothing-here"):
        AutoModelForCausalLM.from_pretrained("learner/nothing-here", cache_dir=tmp_path)
    with pytest.raises(OSError, match="neither an existing local folder nor a valid Hub repo id"):
        AutoModelForCausalLM.from_pretrained(str(tmp_path / "no" / "such" / "folder"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(OSError, match="has no file 'config.json'"):
        AutoModelForCausalLM.from_pretrained(tmp_path / "empty")


def test_config_that_is_not_json_is_a_clear_error(tmp_path, gpt2_folder):
    folder, _ = gpt2_folder
    (folder / "config.json").write_text('{"model_type": "gpt2", "n_embd": 32,,}')
    with pytest.raises(OSError, match=r"config\.json' is not valid JSON.*line 1"):
        AutoModelForCausalLM.from_pretrained(folder)
    (folder / "config.json").write_text("[1, 2]")
    with pytest.raises(OSError, match="must be a JSON object"):
        AutoConfig.from_pretrained(folder)


def test_unknown_model_type_names_the_supported_ones(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "mamba9"}')
    with pytest.raises(ValueError, match=r"unknown model_type 'mamba9'.*bert.*gpt2.*llama.*register"):
        AutoConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"n_embd": 4}')
    with pytest.raises(ValueError, match="no 'model_type' key"):
        AutoConfig.from_pretrained(tmp_path)


def test_task_without_a_class_for_the_family(gpt2_folder):
    folder, _ = gpt2_folder
    with pytest.raises(ValueError, match="'gpt2' has no masked-lm model.*bert"):
        hfexplain.AutoModelForMaskedLM.from_pretrained(folder)


def test_corrupted_weights_are_a_clear_error(gpt2_folder):
    folder, _ = gpt2_folder
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match="model.safetensors"):
        AutoModelForCausalLM.from_pretrained(folder)


# -- registering a family of one's own ------------------------------------------------


class ToyConfig(PretrainedConfig):
    model_type = "toy-bigram"

    def __init__(self, vocab_size: int = 20, **kwargs):
        self.vocab_size = vocab_size
        super().__init__(**kwargs)


class ToyBigramModel(PreTrainedModel):
    """The smallest language model: the next token depends only on the current one."""

    config_class = ToyConfig
    base_model_prefix = "bigram"

    def __init__(self, config: ToyConfig):
        super().__init__(config)
        self.table = nn.Embedding(config.vocab_size, config.vocab_size)
        self.hook_logits = HookPoint("logits")
        self.post_init()

    def forward(self, input_ids):
        return self.hook_logits(self.table(input_ids))


def test_register_a_new_family_and_load_it_through_auto(tmp_path):
    hfexplain.register("toy-bigram", ToyConfig, {"base": ToyBigramModel})
    model = AutoModel.from_config(ToyConfig(vocab_size=7))
    model.save_pretrained(tmp_path / "toy")
    again = AutoModel.from_pretrained(tmp_path / "toy")
    assert type(again) is ToyBigramModel
    assert torch.equal(again.table.weight, model.table.weight)
    ids = torch.tensor([[1, 2, 3]])
    _, cache = again.run_with_cache(ids)
    assert cache["logits"].shape == (1, 3, 7)
    with pytest.raises(ValueError, match="already registered; pass exist_ok=True"):
        hfexplain.register("toy-bigram", ToyConfig, {"base": ToyBigramModel})
    with pytest.raises(ValueError, match="model_type = 'other'"):
        hfexplain.register("other", ToyConfig)
