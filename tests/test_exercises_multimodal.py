"""The lesson-15 checker accepts a correct attention share and names each typical mistake.

The learner answers are written the way a learner would write them (a reshaped grid and slices,
a loop over the patches with their pixel ranges, a mask painted pixel by pixel), independently of
the checker's catalogue; the checker's reference itself is checked against a pixel-level count on a
real shapes scene.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from hfexplain.data.shapes import generate_scene
from hfexplain.exercises import CheckResult
from hfexplain.exercises.multimodal import check_attention_share, make_pattern, reference


def refusing(fn):
    def answer(pattern, box, patch_size):
        x0, y0, x1, y1 = box
        side = math.isqrt(pattern.shape[0] - 1) * patch_size
        if not (0 <= x0 < x1 <= side and 0 <= y0 < y1 <= side):
            raise ValueError(f"box {box} is empty or outside the {side}x{side} image")
        return fn(pattern, box, patch_size)
    return answer


@refusing
def with_slices(pattern, box, p):
    g = math.isqrt(pattern.shape[0] - 1)
    grid = pattern[1:].reshape(g, g)
    x0, y0, x1, y1 = box
    return grid[y0 // p:(y1 - 1) // p + 1, x0 // p:(x1 - 1) // p + 1].sum().item()


@refusing
def with_a_loop(pattern, box, p):
    g = math.isqrt(len(pattern) - 1)
    x0, y0, x1, y1 = box
    total = 0.0
    for index in range(g * g):
        row, col = divmod(index, g)
        if row * p < y1 and y0 < (row + 1) * p and col * p < x1 and x0 < (col + 1) * p:  # they share a pixel
            total += float(pattern[1 + index])
    return total


@refusing
def with_a_pixel_mask(pattern, box, p):
    g = math.isqrt(len(pattern) - 1)
    painted = np.zeros((g * p, g * p), dtype=bool)
    x0, y0, x1, y1 = box
    painted[y0:y1, x0:x1] = True
    touched = painted.reshape(g, p, g, p).any(axis=(1, 3))  # (rows, cols)
    return pattern[1:][torch.from_numpy(touched.reshape(-1))].sum()  # a one-element tensor


def test_reference_counts_the_patches_a_shape_touches():
    scene = generate_scene(3)  # a real scene: check against the pixels themselves
    pattern = make_pattern(8)
    for box in scene.boxes_xyxy().tolist():
        painted = np.zeros((64, 64), dtype=bool)
        painted[box[1]:box[3], box[0]:box[2]] = True
        touched = painted.reshape(8, 8, 8, 8).any(axis=(1, 3)).reshape(-1)  # (64,) patches row by row
        assert math.isclose(reference(pattern, box, 8), float(pattern[1:][torch.from_numpy(touched)].sum()),
                            abs_tol=1e-12)
    assert math.isclose(reference(pattern, (0, 0, 64, 64), 8), 1 - float(pattern[0]), abs_tol=1e-12)
    assert math.isclose(reference(pattern, (8, 0, 16, 8), 8), float(pattern[2]), abs_tol=1e-12)  # patch (0, 1)


@pytest.mark.parametrize("answer", [with_slices, with_a_loop, with_a_pixel_mask])
def test_correct_answers_pass(answer):
    result = check_attention_share(answer)
    assert isinstance(result, CheckResult) and result.passed, str(result)
    assert "correct" in str(result)


@refusing
def cls_as_a_patch(pattern, box, p):
    g = math.isqrt(pattern.shape[0] - 1)
    grid = pattern[:g * g].reshape(g, g)
    x0, y0, x1, y1 = box
    return grid[y0 // p:(y1 - 1) // p + 1, x0 // p:(x1 - 1) // p + 1].sum().item()


@refusing
def rows_from_x(pattern, box, p):
    g = math.isqrt(pattern.shape[0] - 1)
    grid = pattern[1:].reshape(g, g)
    x0, y0, x1, y1 = box
    return grid[x0 // p:(x1 - 1) // p + 1, y0 // p:(y1 - 1) // p + 1].sum().item()


@refusing
def inclusive_edge(pattern, box, p):
    g = math.isqrt(pattern.shape[0] - 1)
    grid = pattern[1:].reshape(g, g)
    x0, y0, x1, y1 = box
    return grid[y0 // p:y1 // p + 1, x0 // p:x1 // p + 1].sum().item()


@refusing
def wholly_inside(pattern, box, p):
    g = math.isqrt(pattern.shape[0] - 1)
    x0, y0, x1, y1 = box
    total = 0.0
    for row in range(g):
        for col in range(g):
            if y0 <= row * p and (row + 1) * p <= y1 and x0 <= col * p and (col + 1) * p <= x1:
                total += float(pattern[1 + row * g + col])
    return total


@refusing
def renormalised(pattern, box, p):
    return with_slices(pattern, box, p) / float(pattern[1:].sum())


@refusing
def fixed_grid(pattern, box, p):
    grid = pattern[1:].reshape(8, 8)
    x0, y0, x1, y1 = box
    return grid[y0 // p:(y1 - 1) // p + 1, x0 // p:(x1 - 1) // p + 1].sum().item()


def no_box_check(pattern, box, p):
    g = math.isqrt(pattern.shape[0] - 1)
    grid = pattern[1:].reshape(g, g)
    x0, y0, x1, y1 = box
    return grid[y0 // p:(y1 - 1) // p + 1, x0 // p:(x1 - 1) // p + 1].sum().item()


def wrong_error_type(pattern, box, p):
    if box[2] > 64 or box[0] < 0 or box[2] <= box[0]:
        raise IndexError("bad box")
    return with_slices(pattern, box, p)


@refusing
def per_patch_shares(pattern, box, p):
    g = math.isqrt(pattern.shape[0] - 1)
    x0, y0, x1, y1 = box
    return pattern[1:].reshape(g, g)[y0 // p:(y1 - 1) // p + 1, x0 // p:(x1 - 1) // p + 1]  # not summed


@refusing
def forgets_return(pattern, box, p):
    with_slices(pattern, box, p)


@refusing
def off_by_a_little(pattern, box, p):
    return with_slices(pattern, box, p) * 1.01


@pytest.mark.parametrize("answer, message", [
    (cls_as_a_patch, r"Position 0 of the pattern is \[CLS\].*pattern\[1:\]"),
    (rows_from_x, "Rows and columns are swapped"),
    (inclusive_edge, r"exclusive.*\(x1 - 1\) // P"),
    (wholly_inside, "wholly inside.*touches"),
    (renormalised, r"divided by what the patches get.*keep \[CLS\]"),
    (fixed_grid, r"4 x 4 patches, not 8 x 8.*sqrt\(n - 1\)"),
    (no_box_check, "instead of refusing.*ValueError"),
    (wrong_error_type, "raised IndexError.*raise a ValueError"),
    (per_patch_shares, "returned a Tensor of shape.*one number"),
    (forgets_return, "returned None.*return"),
    (off_by_a_little, "none of the usual mistakes.*rows 2..3 and columns 0..2"),
    ("attention_share", "Pass your function itself"),
])
def test_each_mistake_is_named(answer, message):
    result = check_attention_share(answer)
    assert not result.passed
    assert any(re.search(message, line) for line in result.messages), str(result)


def test_the_verdict_says_which_input():
    result = check_attention_share(rows_from_x)
    assert "pattern of shape (65,): [CLS], then 8 x 8 patches of 8 pixels; box (3, 20, 21, 30)" in str(result)
    assert str(result).startswith("❌ attention_share: not yet.")
