"""The lesson-02 checker: accepts a right sinusoidal encoding, names each usual slip.

The checker's reference is itself checked against transformers' own sinusoidal table
(DistilBERT's ``create_sinusoidal_embeddings``) and a plain-Python loop over the formula.
"""
from __future__ import annotations

import math

import pytest
import torch

from hfexplain.exercises.positions import check_sinusoidal_positions, sinusoidal_reference


def solution(num_positions, dim):
    positions = torch.arange(num_positions, dtype=torch.float32)[:, None]  # (p, 1)
    inv_freq = 1.0 / 10000 ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim)  # (d/2,)
    angles = positions * inv_freq  # (p, d/2)
    out = torch.zeros(num_positions, dim)
    out[:, 0::2] = torch.sin(angles)
    out[:, 1::2] = torch.cos(angles)
    return out


@pytest.mark.parametrize("num_positions, dim", [(50, 16), (7, 6), (128, 64)])
def test_reference_equals_transformers_table(num_positions, dim):
    modeling_distilbert = pytest.importorskip("transformers.models.distilbert.modeling_distilbert")
    table = torch.empty(num_positions, dim)
    modeling_distilbert.create_sinusoidal_embeddings(num_positions, dim, table)
    torch.testing.assert_close(sinusoidal_reference(num_positions, dim), table, atol=1e-6, rtol=0)


def test_reference_equals_the_formula_written_as_a_loop():
    num_positions, dim = 9, 8
    for p in range(num_positions):
        for j in range(dim):
            angle = p / 10000 ** (2 * (j // 2) / dim)
            value = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert abs(float(sinusoidal_reference(num_positions, dim)[p, j]) - value) < 1e-6


def test_accepts_the_solution():
    result = check_sinusoidal_positions(solution)
    assert result.passed, str(result)
    assert str(result).startswith("✅ sinusoidal_positions: correct.")


def test_accepts_a_numpy_style_loop_answer():
    def loop(num_positions, dim):
        out = torch.zeros(num_positions, dim)
        for p in range(num_positions):
            for i in range(dim // 2):
                angle = p / 10000 ** (2 * i / dim)
                out[p, 2 * i], out[p, 2 * i + 1] = math.sin(angle), math.cos(angle)
        return out

    assert check_sinusoidal_positions(loop).passed


def _slip(**how):
    return lambda num_positions, dim: sinusoidal_reference(num_positions, dim, **how)


@pytest.mark.parametrize(
    "answer, message",
    [
        (_slip(first="cos"), "sin and cos are swapped"),
        (_slip(layout="halves"), "all the sines in the first half"),
        (_slip(layout="halves", first="cos"), "cosines in the first half"),
        (_slip(exponent="i/d"), "you used i/d"),
        (_slip(exponent="j/d"), "must share ONE frequency"),
        (_slip(multiply=True), "DIVIDE it"),
        (_slip(exponent="0"), "every pair has the same frequency"),
        (_slip(start=1), "positions start at 0"),
        (_slip(second="sin"), "all columns are sines"),
        (_slip(base=1000.0), "base 1000"),
        (_slip(base=500.0), "base 500"),
        (lambda p, d: solution(p, d).T, "i.e. (dim, num_positions)"),
        (lambda p, d: solution(p, d)[None], "has shape (1, 50, 16) but should have (50, 16)"),
        (lambda p, d: solution(p, d).double(), "the dtype is torch.float64"),
        (lambda p, d: solution(p, d).tolist(), "should return a torch.Tensor, got list"),
        (lambda p, d: None, "returned None"),
        (lambda p, d: solution(p, d).long(), "dtype torch.int64"),
        (lambda p, d: torch.zeros(p, d), "is all zeros"),
    ],
)
def test_rejects_each_slip_with_its_message(answer, message):
    result = check_sinusoidal_positions(answer)
    assert not result.passed
    assert message in str(result), str(result)


def test_unknown_mistake_points_at_the_first_wrong_column():
    def off_in_one_column(num_positions, dim):
        out = solution(num_positions, dim)
        out[:, 5] += 0.5
        return out

    result = check_sinusoidal_positions(off_in_one_column)
    assert not result.passed
    assert "the first wrong column is 5 (pair i = 2, a cos column)" in str(result), str(result)


def test_an_exception_in_the_answer_is_reported_not_raised():
    def broken(num_positions, dim):
        raise NotImplementedError("not written yet")

    result = check_sinusoidal_positions(broken)
    assert not result.passed
    assert "raised NotImplementedError: not written yet" in str(result)


def test_the_starter_gets_a_not_yet():
    def starter(num_positions, dim):
        ...

    assert str(check_sinusoidal_positions(starter)).startswith("❌ sinusoidal_positions: not yet.")
