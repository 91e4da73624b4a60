"""The lesson-08 checkers accept correct answers and name each typical mistake.

Learner answers are written the way a learner would write them (plain torch, one knob per
typical slip), independently of the checker's diagnosis, which looks only at the result.
The checker's top-p reference (hfexplain's TopPLogitsWarper) is itself compared with
transformers' TopPLogitsWarper, and its greedy reference with a plain loop.
"""
from __future__ import annotations

import math

import pytest
import torch

from hfexplain.exercises import CheckResult
from hfexplain.exercises.generation import TOP_P_CASES, check_greedy_generate, check_top_p_filter, top_p_reference

# ------------------------------------------------------------------------------------------
# top-p
# ------------------------------------------------------------------------------------------


def make_top_p(
    descending=True,
    shift="slice",  # "slice" (correct), "roll" (wraps round), "none" (drops the crossing token)
    keep_first=True,
    scatter_back=True,
    fill=-math.inf,
    output="logits",  # "logits", "probs", "log_softmax", "kept_probs"
    in_place=False,
):
    """A learner's nucleus filter, sort-descending-then-cumsum style."""

    def top_p_filter(logits, top_p):
        sorted_logits, sorted_indices = torch.sort(logits, descending=descending)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        drop_sorted = cumulative > top_p
        if shift == "slice":
            drop_sorted[1:] = drop_sorted[:-1].clone()
        elif shift == "roll":
            drop_sorted = torch.roll(drop_sorted, 1)
        if keep_first and shift != "roll":
            drop_sorted[0] = False
        if scatter_back:
            drop = drop_sorted.scatter(0, sorted_indices, drop_sorted)
            base = logits
        else:
            drop, base = drop_sorted, sorted_logits
        if in_place:
            result = base.masked_fill_(drop, fill)
        else:
            result = base.masked_fill(drop, fill)
        if output == "probs":
            return result.softmax(dim=-1)
        if output == "log_softmax":
            return result.log_softmax(dim=-1)
        if output == "kept_probs":
            return logits.softmax(dim=-1).masked_fill(drop, fill)
        return result

    return top_p_filter


def top_p_like_transformers(logits, top_p):
    """The ascending formulation (drop while the unlikely tail holds at most 1 - p)."""
    sorted_logits, sorted_indices = torch.sort(logits, descending=False)
    tail = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    drop_sorted = tail <= 1 - top_p
    drop_sorted[-1] = False
    drop = drop_sorted.scatter(0, sorted_indices, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def top_p_with_a_loop(logits, top_p):
    """Plain Python: walk down the tokens by probability until the total reaches p."""
    probs = logits.softmax(dim=-1).tolist()
    order = sorted(range(len(probs)), key=lambda i: -probs[i])
    keep, total = set(), 0.0
    for token in order:
        keep.add(token)
        total += probs[token]
        if total >= top_p:
            break
    result = logits.clone()
    for token in range(len(probs)):
        if token not in keep:
            result[token] = float("-inf")
    return result


def verdict(fn) -> str:
    result = check_top_p_filter(fn)
    assert isinstance(result, CheckResult)
    assert not result.passed, str(result)
    assert "❌" in str(result)
    return str(result)


def test_reference_equals_transformers_top_p_warper():
    from transformers.generation.logits_process import TopPLogitsWarper as TheirTopP

    for _, logits, top_p in TOP_P_CASES:
        theirs = TheirTopP(top_p)(torch.zeros((1, 1), dtype=torch.long), logits[None].clone())[0]
        assert torch.equal(top_p_reference(logits, top_p), theirs)
    # the cases exercise what they claim: 4 tokens needed, the top token alone, a larger nucleus
    kept = [int(torch.isfinite(top_p_reference(logits, p)).sum()) for _, logits, p in TOP_P_CASES]
    assert kept == [4, 1, 27]


@pytest.mark.parametrize("fn", [make_top_p(), top_p_like_transformers, top_p_with_a_loop],
                         ids=["descending", "ascending", "loop"])
def test_correct_answers_are_accepted(fn):
    result = check_top_p_filter(fn)
    assert result.passed, str(result)
    assert "✅" in str(result) and "TopPLogitsWarper" in str(result)


def test_a_very_negative_fill_is_accepted_with_a_note():
    result = check_top_p_filter(make_top_p(fill=-1e9))
    assert result.passed, str(result)
    assert "-1e+09 rather than float('-inf')" in str(result)


def test_tokens_above_p():
    def above_p(logits, top_p):
        return logits.masked_fill(logits.softmax(dim=-1) <= top_p, float("-inf"))

    message = verdict(above_p)
    assert "own probability is above top_p" in message and "add up" in message
    assert "case 1" in message


def test_one_token_short_without_the_shift():
    message = verdict(make_top_p(shift="none"))
    assert "One token short: you kept 3 token(s) with total probability 0.67" in message
    assert "shift that mask right" in message


def test_top_token_not_protected():
    # right on case 1 (the top token is below p there), wrong when the top token alone is above p
    message = verdict(make_top_p(keep_first=False))
    assert "Every token was removed" in message and "probability 0.82, more than top_p=0.75" in message
    assert "case 2" in message


def test_roll_removes_the_top_token():
    message = verdict(make_top_p(shift="roll"))
    assert "most likely token (id 3, probability 0.31) was removed" in message
    assert "torch.roll" in message


def test_sorted_ascending():
    message = verdict(make_top_p(descending=False, shift="none", keep_first=False))
    assert "*least* likely" in message and "descending=True" in message


def test_left_in_sorted_order():
    message = verdict(make_top_p(scatter_back=False))
    assert "sorted (descending) order, not in vocabulary order" in message


def test_probabilities_instead_of_logits():
    message = verdict(make_top_p(output="probs"))
    assert "returned probabilities" in message and "instead of logits" in message
    message = verdict(make_top_p(output="kept_probs"))
    assert "hold probabilities instead of their logits" in message


def test_log_softmax_shift_is_named():
    message = verdict(make_top_p(output="log_softmax"))
    assert "shifted by" in message and "log_softmax" in message


def test_zero_instead_of_minus_inf():
    message = verdict(make_top_p(fill=0.0))
    assert "got 0 instead of -inf" in message and "share probability" in message


def test_nothing_removed_and_one_minus_p():
    assert "Nothing was removed" in verdict(lambda logits, top_p: logits.clone())

    def one_minus_p(logits, top_p):
        return make_top_p()(logits, 1 - top_p)

    message = verdict(one_minus_p)
    assert "1 - top_p = 0.30 rather than top_p = 0.7" in message


def test_in_place_change_of_the_input():
    message = verdict(make_top_p(in_place=True))
    assert "changed the logits it was given" in message and "masked_fill" in message


def test_shapes_errors_and_non_answers():
    assert "returned nothing" in verdict(lambda logits, top_p: None)
    assert "shape (1, 10)" in verdict(lambda logits, top_p: make_top_p()(logits, top_p)[None])
    assert "returned a tuple" in verdict(lambda logits, top_p: (make_top_p()(logits, top_p), None))
    assert "token ids" in verdict(lambda logits, top_p: torch.sort(logits, descending=True).indices)

    def broken(logits, top_p):
        return torch.sort(logits, dim=1)

    message = verdict(broken)
    assert "Your function raised IndexError" in message and "(vocab,)" in message
    assert "NaN" in verdict(lambda logits, top_p: logits * torch.tensor(float("nan")))
    assert not check_top_p_filter("not a function").passed


# ------------------------------------------------------------------------------------------
# greedy loop
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_lm():
    from hfexplain import AutoModelForCausalLM, AutoTokenizer
    from hfexplain.assets import tiny_gpt2_path

    path = tiny_gpt2_path()
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    ids = tokenizer("<|endoftext|>The list", return_tensors="pt")["input_ids"]
    return model, tokenizer, ids


def make_greedy(position=-1, append=True, return_new_only=False, steps_delta=0, sample=False, flat=False):
    def greedy_generate(model, input_ids, max_new_tokens):
        ids = input_ids
        with torch.no_grad():
            for _ in range(max_new_tokens + steps_delta):
                logits = model(ids if append else input_ids).logits[0, position]  # (v,)
                if sample:
                    next_id = torch.multinomial(logits.softmax(-1), 1, generator=torch.Generator().manual_seed(3))
                else:
                    next_id = logits.argmax()
                ids = torch.cat([ids, next_id.view(1, 1)], dim=1)  # (1, s + 1)
        if return_new_only:
            return ids[:, input_ids.shape[1]:]
        return ids[0] if flat else ids

    return greedy_generate


def test_greedy_reference_is_a_plain_loop(tiny_lm):
    model, tokenizer, ids = tiny_lm
    loop = make_greedy()(model, ids, 8)
    assert torch.equal(loop, model.generate(ids, max_new_tokens=8, do_sample=False))
    result = check_greedy_generate(make_greedy(), model, ids, max_new_tokens=8, tokenizer=tokenizer)
    assert result.passed, str(result)


def test_greedy_mistakes_are_named(tiny_lm):
    model, tokenizer, ids = tiny_lm

    def check(fn) -> str:
        result = check_greedy_generate(fn, model, ids, max_new_tokens=8, tokenizer=tokenizer)
        assert not result.passed, str(result)
        return str(result)

    assert "returned only them" in check(make_greedy(return_new_only=True))
    assert "keep the batch dimension" in check(make_greedy(flat=True))
    assert "asks for 8 new tokens" in check(make_greedy(steps_delta=-1))
    assert "first position (logits[0, 0])" in check(make_greedy(position=0))
    assert "Every step picked the same token" in check(make_greedy(append=False))
    assert "Python list" in check(lambda model, input_ids, n: make_greedy()(model, input_ids, n)[0].tolist())
    assert "New token" in check(make_greedy(sample=True)) and "differs" in check(make_greedy(sample=True))
    assert "raised ZeroDivisionError" in check(lambda model, input_ids, n: 1 / 0)
    with pytest.raises(ValueError, match=r"input_ids of shape \(1, prompt\)"):
        check_greedy_generate(make_greedy(), model, ids[0])
