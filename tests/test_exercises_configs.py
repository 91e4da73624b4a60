"""Lesson 06's checkers: a toy family registered through Auto, and predicting Auto's choice.

Each checker accepts a correct answer and names the specific mistake in wrong ones. The
quiz's answers are checked against transformers' own Auto classes, not against ourselves.
"""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from conftest import quiet_transformers

from hfexplain import AutoModel, PretrainedConfig, PreTrainedModel
from hfexplain.exercises.configs import AUTO_QUIZ, auto_quiz_truth, check_auto_predictions, check_toy_family


# -- a correct family ---------------------------------------------------------------------


class GoodConfig(PretrainedConfig):
    model_type = "toy-mlp"
    attribute_map = {"hidden_size": "n_embd"}

    def __init__(self, vocab_size: int = 16, n_embd: int = 8, **kwargs):
        self.vocab_size = vocab_size
        self.n_embd = n_embd
        super().__init__(**kwargs)


class GoodModel(PreTrainedModel):
    config_class = GoodConfig

    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.n_embd)
        self.out = nn.Linear(config.n_embd, config.vocab_size)
        self.post_init()

    def forward(self, input_ids):
        return self.out(torch.tanh(self.embed(input_ids)))  # (b, s, v)


def _family(config_attrs=None, model_attrs=None, config_base=GoodConfig, model_base=GoodModel):
    """A variant of the good family: new classes with some attributes replaced."""
    config_class = type("ToyMLPConfig", (config_base,), dict(config_attrs or {}))
    model_attrs = {"config_class": config_class, **(model_attrs or {})}
    model_class = type("ToyMLPModel", (model_base,), model_attrs)
    return config_class, model_class


def _text(result) -> str:
    return "\n".join(result.messages)


def test_a_correct_family_passes_and_really_loads_through_auto(tmp_path):
    config_class, model_class = _family()
    result = check_toy_family(config_class, model_class)
    assert result.passed, str(result)
    # The checker registered it: the family now loads through AutoModel like any other.
    model = model_class(config_class(vocab_size=9, n_embd=4))
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "toy-mlp"
    assert type(AutoModel.from_pretrained(tmp_path)) is model_class


def test_an_output_with_logits_is_accepted():
    class WithOutput(GoodModel):
        def forward(self, input_ids):
            return type("Output", (), {"logits": super().forward(input_ids)})()

    config_class, model_class = _family(model_base=WithOutput)
    assert check_toy_family(config_class, model_class).passed


def test_the_starter_gets_all_three_missing_pieces():
    class StarterConfig(PretrainedConfig):
        model_type = ""

        def __init__(self, vocab_size=16, n_embd=8, **kwargs):
            self.vocab_size = vocab_size
            self.n_embd = n_embd
            super().__init__(**kwargs)

    class StarterModel(GoodModel):
        config_class = PretrainedConfig

    result = check_toy_family(StarterConfig, StarterModel)
    assert not result.passed
    text = _text(result)
    assert "StarterConfig.model_type is empty: set the class attribute model_type = 'toy-mlp'" in text
    assert "StarterModel.config_class is PretrainedConfig, not StarterConfig" in text
    assert "hidden_size raises AttributeError: add attribute_map = {'hidden_size': 'n_embd'}" in text


def test_a_model_type_that_is_not_the_familys():
    result = check_toy_family(*_family({"model_type": "toy_mlp"}))
    assert not result.passed
    assert "model_type is 'toy_mlp', but this family is called 'toy-mlp'" in _text(result)


def test_config_class_of_another_config():
    config_class, model_class = _family()
    model_class.config_class = GoodConfig
    result = check_toy_family(config_class, model_class)
    assert not result.passed
    assert "ToyMLPModel.config_class is GoodConfig, not ToyMLPConfig" in _text(result)


def test_hidden_size_as_a_copy_rather_than_a_mapped_name():
    class CopyConfig(PretrainedConfig):
        model_type = "toy-mlp"

        def __init__(self, vocab_size=16, n_embd=8, **kwargs):
            self.vocab_size = vocab_size
            self.n_embd = n_embd
            self.hidden_size = n_embd  # a second field: the two drift apart
            super().__init__(**kwargs)

    result = check_toy_family(*_family(config_base=CopyConfig))
    assert not result.passed
    assert "setting config.hidden_size did not change config.n_embd" in _text(result)


def test_a_missing_field():
    class NoEmbd(PretrainedConfig):
        model_type = "toy-mlp"
        attribute_map = {"hidden_size": "n_embd"}

        def __init__(self, vocab_size=16, **kwargs):
            self.vocab_size = vocab_size
            super().__init__(**kwargs)

    result = check_toy_family(*_family(config_base=NoEmbd))
    assert "has no field 'n_embd': store it in __init__ (self.n_embd = n_embd)" in _text(result)


def test_init_without_kwargs_breaks_loading_config_json():
    class NoKwargs(PretrainedConfig):
        model_type = "toy-mlp"
        attribute_map = {"hidden_size": "n_embd"}

        def __init__(self, vocab_size=16, n_embd=8):
            self.vocab_size = vocab_size
            self.n_embd = n_embd
            super().__init__()

    result = check_toy_family(*_family(config_base=NoKwargs))
    assert not result.passed
    text = _text(result)
    assert "from_dict(config.to_dict()) raised TypeError" in text
    assert "accept **kwargs and hand them on with super().__init__(**kwargs)" in text


def test_a_field_stored_as_a_constant():
    class Fixed(GoodConfig):
        def __init__(self, vocab_size=16, n_embd=8, **kwargs):
            super().__init__(vocab_size=16, n_embd=n_embd, **kwargs)

    result = check_toy_family(*_family(config_base=Fixed))
    assert not result.passed
    assert "fields did not survive to_dict -> from_dict: vocab_size (passed 11, read back 16)" in _text(result)


def test_a_model_without_parameters():
    class NoParams(PreTrainedModel):
        def __init__(self, config):
            super().__init__(config)
            self.vocab_size = config.vocab_size

        def forward(self, input_ids):
            return torch.zeros(*input_ids.shape, self.vocab_size)

    result = check_toy_family(*_family(model_base=NoParams))
    assert not result.passed
    assert "has no parameters: create its layers as modules" in _text(result)


def test_hidden_states_instead_of_logits():
    class Hidden(GoodModel):
        def forward(self, input_ids):
            return torch.tanh(self.embed(input_ids))  # (b, s, n_embd): the head is missing

    result = check_toy_family(*_family(model_base=Hidden))
    assert not result.passed
    assert "logits of shape (batch, seq, vocab_size) = (2, 4, 11); got (2, 4, 6)" in _text(result)


def test_a_forward_that_raises_is_reported_not_raised():
    class Broken(GoodModel):
        def forward(self, input_ids):
            return self.out(input_ids)  # integer ids straight into a Linear

    result = check_toy_family(*_family(model_base=Broken))
    assert not result.passed
    assert "model(input_ids) raised RuntimeError" in _text(result)


def test_a_plain_tensor_attribute_does_not_round_trip():
    class PlainTensor(GoodModel):
        def __init__(self, config):
            super().__init__(config)
            self.offset = torch.randn(config.vocab_size)  # not an nn.Parameter: save_pretrained skips it

        def forward(self, input_ids):
            return super().forward(input_ids) + self.offset

    result = check_toy_family(*_family(model_base=PlainTensor))
    assert not result.passed
    text = _text(result)
    assert "the reloaded model's logits has the right shape but different values" in text
    assert "a plain tensor attribute (not an nn.Parameter or a registered buffer) is not saved" in text


def test_wrong_arguments_are_a_verdict_not_an_exception():
    result = check_toy_family("ToyMLPConfig", GoodModel)
    assert not result.passed and "subclass of hfexplain.PretrainedConfig" in _text(result)
    result = check_toy_family(GoodConfig, nn.Linear)
    assert not result.passed and "subclass of hfexplain.PreTrainedModel" in _text(result)


# -- the Auto quiz --------------------------------------------------------------------------


def test_quiz_truth_agrees_with_transformers(tmp_path):
    """What hfexplain's Auto picks is what transformers' Auto picks for the same config.json."""
    transformers = quiet_transformers()
    expected = {}
    for case, (auto_name, config_dict) in AUTO_QUIZ.items():
        folder = tmp_path / f"case_{case}"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(config_dict))
        try:
            config = transformers.AutoConfig.from_pretrained(folder)
            mapping = getattr(transformers, auto_name)._model_mapping
            expected[case] = mapping[type(config)].__name__
        except (ValueError, KeyError):
            expected[case] = "ValueError"
    assert expected == {"a": "GPT2LMHeadModel", "b": "GPT2Model", "c": "BertForSequenceClassification",
                        "d": "LlamaForCausalLM", "e": "ValueError", "f": "ValueError"}
    assert auto_quiz_truth() == expected


def test_quiz_accepts_the_right_answers_as_strings_or_classes():
    from hfexplain import GPT2LMHeadModel

    answers = auto_quiz_truth()
    assert check_auto_predictions(answers).passed
    answers["a"] = GPT2LMHeadModel
    answers["e"] = ValueError
    assert check_auto_predictions(answers).passed


def test_quiz_starter_asks_for_every_prediction():
    result = check_auto_predictions({case: ... for case in AUTO_QUIZ})
    assert not result.passed
    assert result.messages[0] == "0 of 6 right."
    assert "no prediction yet for a, b, c, d, e, f" in _text(result)


def test_quiz_explains_each_wrong_prediction():
    answers = auto_quiz_truth()
    answers.update(b="GPT2LMHeadModel", d="GPT2LMHeadModel", f="BertModel", c="bertforsequenceclassification")
    result = check_auto_predictions(answers)
    assert not result.passed
    text = _text(result)
    assert result.messages[0] == "2 of 6 right."
    assert "b: you said 'GPT2LMHeadModel', but AutoModel gives GPT2Model: the Auto class picks the task" in text
    assert "d: you said 'GPT2LMHeadModel', but AutoModelForCausalLM gives LlamaForCausalLM: model_type decides" in text
    assert "f: you said 'BertModel', but AutoModel gives ValueError: this config.json has no model_type key" in text
    assert "c: right class, but it is spelled 'BertForSequenceClassification'" in text


def test_quiz_rejects_odd_input_with_a_verdict():
    assert "should be a dict" in _text(check_auto_predictions(["GPT2Model"]))
    result = check_auto_predictions({**auto_quiz_truth(), "z": "GPT2Model"})
    assert not result.passed and "unknown cases ['z']" in _text(result)
    result = check_auto_predictions({**auto_quiz_truth(), "a": 3})
    assert not result.passed and "a: give the class name as a string, got 3." in _text(result)


@pytest.mark.parametrize("case", sorted(AUTO_QUIZ))
def test_every_quiz_case_has_an_explanation(case):
    answers = auto_quiz_truth()
    answers[case] = "NotAClass"
    result = check_auto_predictions(answers)
    assert f"{case}: you said 'NotAClass', but {AUTO_QUIZ[case][0]} gives {auto_quiz_truth()[case]}: " in _text(result)
