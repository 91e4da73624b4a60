"""The lesson-03 checker accepts correct attention and names each typical mistake.

The learner answers below are written the way a learner would write them (plain torch),
independently of the checker's own mistake catalogue; the correct ones are also compared
with torch's ``scaled_dot_product_attention`` so the checker's reference is itself checked.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from hfexplain.exercises import CheckResult
from hfexplain.exercises.attention import check_multi_head_attention, reference


def make_attention(
    scale_by="head_dim",
    invert_mask=False,
    use_mask=True,
    softmax_dim=-1,
    transpose_split=True,
    transpose_merge=True,
    split_order="heads_first",
    fill=None,
):
    """A learner's masked multi-head attention with one knob per typical mistake."""

    def attention(q, k, v, mask, num_heads):
        batch, seq, d_model = q.shape
        head_dim = d_model // num_heads

        def split(x):
            if split_order == "heads_first":
                x = x.view(batch, seq, num_heads, head_dim)  # (b, s, h, e)
            elif split_order == "head_dim_first":
                x = x.view(batch, seq, head_dim, num_heads).transpose(2, 3)  # (b, s, h, e)
            else:  # "straight": reshape directly to (b, h, s, e)
                return x.reshape(batch, num_heads, seq, head_dim)
            return x.transpose(1, 2) if transpose_split else x

        q, k, v = split(q), split(k), split(v)
        scores = q @ k.transpose(-2, -1)
        if scale_by == "head_dim":
            scores = scores / math.sqrt(head_dim)
        elif scale_by == "d_model":
            scores = scores / math.sqrt(d_model)
        value = torch.finfo(scores.dtype).min if fill is None else fill
        if use_mask:
            scores = scores.masked_fill(mask if invert_mask else ~mask, value)
        weights = scores.softmax(dim=softmax_dim)
        z = weights @ v
        if transpose_merge and transpose_split:
            z = z.transpose(1, 2)
        return z.reshape(batch, seq, d_model)

    return attention


def test_correct_answer_is_accepted_and_reference_matches_torch_sdpa():
    result = check_multi_head_attention(make_attention())
    assert isinstance(result, CheckResult)
    assert result.passed, str(result)
    assert "✅" in str(result)
    # -inf instead of the most negative float is just as correct when no row is fully masked
    assert check_multi_head_attention(make_attention(fill=float("-inf"))).passed

    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 5, 12) for _ in range(3))
    keep = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    mask = torch.ones(5, 5, dtype=torch.bool).tril()[None, None] & keep[:, None, None, :]  # (b, 1, q, k)
    split = lambda t: t.view(2, 5, 3, 4).transpose(1, 2)  # noqa: E731 - test-local helper
    sdpa = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=mask)
    torch.testing.assert_close(reference(q, k, v, mask, 3), sdpa.transpose(1, 2).reshape(2, 5, 12))


def test_answer_using_torch_sdpa_is_accepted():
    def attention(q, k, v, mask, num_heads):
        b, s, d = q.shape
        split = lambda t: t.view(b, s, num_heads, d // num_heads).transpose(1, 2)  # noqa: E731
        z = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=mask)
        return z.transpose(1, 2).reshape(b, s, d)

    assert check_multi_head_attention(attention).passed


@pytest.mark.parametrize(
    "knobs, expected",
    [
        (dict(scale_by=None), "not scaled"),
        (dict(scale_by="d_model"), "sqrt(d_model)"),
        (dict(invert_mask=True), "wrong way round"),
        (dict(invert_mask=True, fill=float("-inf")), "wrong way round"),
        (dict(use_mask=False), "mask is not applied"),
        (dict(softmax_dim=-2), "softmax runs over the wrong dimension"),
        (dict(transpose_split=False), "transpose is missing after splitting"),
        (dict(transpose_merge=False), "merged without transposing back"),
        (dict(split_order="head_dim_first"), "split the wrong way"),
        (dict(split_order="straight"), "split the wrong way"),
    ],
)
def test_each_typical_mistake_is_named(knobs, expected):
    result = check_multi_head_attention(make_attention(**knobs))
    assert not result.passed
    assert expected in str(result), str(result)
    assert "❌" in str(result)


def test_starter_and_other_wrong_returns_do_not_raise():
    def starter(q, k, v, mask, num_heads):
        ...

    assert "returned nothing" in str(check_multi_head_attention(starter))

    def returns_tuple(q, k, v, mask, num_heads):
        out = make_attention()(q, k, v, mask, num_heads)
        return out, None

    assert "returned a tuple" in str(check_multi_head_attention(returns_tuple))

    def wrong_shape(q, k, v, mask, num_heads):
        b, s, d = q.shape
        return make_attention()(q, k, v, mask, num_heads).view(b, s, num_heads, d // num_heads)

    assert "has shape" in str(check_multi_head_attention(wrong_shape))

    def raises(q, k, v, mask, num_heads):
        return q.view(q.shape[0], num_heads, -1) @ k  # a shape error

    message = str(check_multi_head_attention(raises))
    assert "raised RuntimeError" in message and "head split" in message

    assert "Pass your function" in str(check_multi_head_attention(42))


def test_unrecognised_mistake_gets_the_value_report():
    def off_by_a_bit(q, k, v, mask, num_heads):
        return make_attention()(q, k, v, mask, num_heads) + 0.01

    message = str(check_multi_head_attention(off_by_a_bit))
    assert "different values" in message and "None of the usual mistakes" in message
