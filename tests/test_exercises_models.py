"""The lesson-05 checker accepts the right parameter formula and names the part that is off.

The checker's truth (parameters counted on a meta-device model) is compared with
transformers' ``num_parameters`` and with GPT-2 small's published 124,439,808.
"""
from __future__ import annotations

import pytest
import torch

from hfexplain.exercises.models import PARTS, check_gpt2_parameter_counts, counted_parts
from hfexplain.models.gpt2 import GPT2Config


def formula(config, **slips):
    """A learner's formula; each keyword turns on one typical slip."""
    d, layers, vocab, positions = config.n_embd, config.n_layer, config.vocab_size, config.n_positions
    inner = config.n_inner if config.n_inner is not None else 4 * d
    if slips.get("ignore_n_inner"):
        inner = 4 * d
    embeddings = vocab * d + (0 if slips.get("no_positions") else positions * d)
    attention_biases = 0 if slips.get("no_attn_bias") else 3 * d + d
    attention = layers * (d * 3 * d + d * d + attention_biases)
    mlp = layers * (d * inner + inner + inner * d + d)
    norms = (2 * layers + (0 if slips.get("no_ln_f") else 1)) * (d if slips.get("no_norm_bias") else 2 * d)
    tied = config.tie_word_embeddings
    head = 0 if tied else vocab * d
    if slips.get("head_twice"):
        head = vocab * d
    if slips.get("no_untied_head"):
        head = 0
    return {"embeddings": embeddings, "attention": attention, "mlp": mlp, "layer_norms": norms, "lm_head": head}


def test_correct_formula_is_accepted():
    result = check_gpt2_parameter_counts(formula)
    assert result.passed, str(result)
    assert "124,439,808" in str(result)


def test_counted_truth_matches_transformers_and_gpt2_small():
    transformers = pytest.importorskip("transformers")
    assert sum(counted_parts(GPT2Config()).values()) == 124_439_808  # GPT-2 small, as published
    for kwargs in (
        dict(vocab_size=4096, n_positions=256, n_embd=128, n_layer=4, n_head=4),
        dict(vocab_size=1000, n_positions=64, n_embd=48, n_layer=3, n_head=6, n_inner=100, tie_word_embeddings=False),
    ):
        with torch.device("meta"):
            reference = transformers.GPT2LMHeadModel(transformers.GPT2Config(**kwargs))
        assert sum(counted_parts(GPT2Config(**kwargs)).values()) == reference.num_parameters()


@pytest.mark.parametrize(
    "slip, part, reason",
    [
        ("no_positions", "embeddings", "position embeddings wpe"),
        ("no_attn_bias", "attention", "biases are missing"),
        ("no_ln_f", "layer_norms", "ln_f"),
        ("no_norm_bias", "layer_norms", "weight *and* a bias"),
        ("head_twice", "lm_head", "tied head is counted twice"),
        ("ignore_n_inner", "mlp", "config.n_inner"),
        ("no_untied_head", "lm_head", "tie_word_embeddings=False"),
    ],
)
def test_each_slip_names_its_part(slip, part, reason):
    result = check_gpt2_parameter_counts(lambda config: formula(config, **{slip: True}))
    message = str(result)
    assert not result.passed
    assert f"'{part}' is " in message and reason in message, message
    # the parts that are right are said to be right
    assert "Correct: " in message or slip in ("no_untied_head", "ignore_n_inner")


def test_wrong_return_types_do_not_raise():
    def starter(config):
        ...

    assert "returned nothing" in str(check_gpt2_parameter_counts(starter))

    def starter_dict(config):
        return {"embeddings": ..., "attention": ..., "mlp": ..., "layer_norms": ..., "lm_head": ...}

    assert "Fill in a formula for 'embeddings'" in str(check_gpt2_parameter_counts(starter_dict))
    halves = lambda config: {k: v + 0.5 for k, v in formula(config).items()}  # noqa: E731
    assert "should be whole numbers" in str(check_gpt2_parameter_counts(halves))
    assert "Return a dict" in str(check_gpt2_parameter_counts(lambda config: 5))
    partial = lambda config: {k: v for k, v in formula(config).items() if k != "mlp"}  # noqa: E731
    assert "'mlp'" in str(check_gpt2_parameter_counts(partial))
    assert "raised AttributeError" in str(check_gpt2_parameter_counts(lambda config: {"x": config.hidden}))
    assert set(PARTS) == {"embeddings", "attention", "mlp", "layer_norms", "lm_head"}
