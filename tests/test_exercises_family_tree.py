"""The lesson-11 checker accepts a correct local-window mask and names each typical mistake.

The learner answers are written the way a learner would write them (tril/triu, loops),
independently of the checker's catalogue; the reference itself is checked against the
mask transformers' GPT-Neo builds for a local layer.
"""
from __future__ import annotations

import pytest
import torch

from hfexplain.exercises import CheckResult
from hfexplain.exercises.family_tree import check_local_causal_mask, reference


def test_reference_is_transformers_gpt_neo_local_mask():
    from transformers import GPTNeoConfig
    from transformers.models.gpt_neo.modeling_gpt_neo import GPTNeoSelfAttention

    for window in (1, 3, 5):
        config = GPTNeoConfig(hidden_size=8, num_heads=2, num_layers=2, attention_types=[[["global", "local"], 1]],
                              window_size=window, max_position_embeddings=9)
        local = GPTNeoSelfAttention(config, attention_type="local", layer_id=1)
        assert torch.equal(reference(9, window), local.bias[0, 0])


def with_tril(seq_len, window_size):
    ones = torch.ones(seq_len, seq_len, dtype=torch.bool)
    return torch.tril(ones) & ~torch.tril(ones, diagonal=-window_size)


def with_loops(seq_len, window_size):
    mask = torch.zeros(seq_len, seq_len, dtype=torch.bool)
    for q in range(seq_len):
        for k in range(max(0, q - window_size + 1), q + 1):
            mask[q, k] = True
    return mask


@pytest.mark.parametrize("answer", [with_tril, with_loops])
def test_correct_answers_pass(answer):
    result = check_local_causal_mask(answer)
    assert isinstance(result, CheckResult) and result.passed, str(result)
    assert "correct" in str(result)


def too_wide(seq_len, window_size):
    ones = torch.ones(seq_len, seq_len, dtype=torch.bool)
    return torch.tril(ones) & ~torch.tril(ones, diagonal=-window_size - 1)


def looks_ahead(seq_len, window_size):
    ones = torch.ones(seq_len, seq_len, dtype=torch.bool)
    return torch.triu(torch.tril(ones, diagonal=window_size - 1), diagonal=-(window_size - 1))


def from_the_start(seq_len, window_size):
    mask = torch.tril(torch.ones(seq_len, seq_len, dtype=torch.bool))
    mask[:, window_size:] = False
    return mask


def plain_causal(seq_len, window_size):
    return torch.tril(torch.ones(seq_len, seq_len, dtype=torch.bool))


def inverted(seq_len, window_size):
    return ~with_tril(seq_len, window_size)


def transposed(seq_len, window_size):
    return with_tril(seq_len, window_size).T


def as_floats(seq_len, window_size):
    return with_tril(seq_len, window_size).float()


def wrong_shape(seq_len, window_size):
    return with_tril(seq_len, window_size)[None]


def forgets_return(seq_len, window_size):
    with_tril(seq_len, window_size)


def raises(seq_len, window_size):
    return torch.ones(seq_len, seq_len).tril(diagonal=-window_size, oops=True)


def odd(seq_len, window_size):
    mask = with_tril(seq_len, window_size)
    mask[seq_len - 1, 0] = True
    return mask


@pytest.mark.parametrize("answer, words", [
    (too_wide, "one key too wide"),
    (looks_ahead, "looks ahead"),
    (from_the_start, "from the start of the text"),
    (plain_causal, "full causal mask"),
    (inverted, "True and False are swapped"),
    (transposed, "transposed"),
    (as_floats, "return a bool tensor"),
    (wrong_shape, "should be (seq_len, seq_len)"),
    (forgets_return, "forget `return`"),
    (raises, "raised TypeError"),
    (odd, "query 6 and key 0 should be masked"),
    (42, "Pass your function itself"),
])
def test_each_mistake_is_named(answer, words):
    result = check_local_causal_mask(answer)
    assert not result.passed
    assert words in str(result), str(result)
