"""The lesson-13 checker accepts a correct patchify and names each typical mistake.

The learner answers are written the way a learner would write them (F.unfold, a view and a
permute, Tensor.unfold twice, loops), independently of the checker's catalogue; the checker's
reference itself is checked against a ViT's patch embedding (a strided Conv2d).
"""
from __future__ import annotations

import re

import pytest
import torch
from torch.nn import functional as F

from hfexplain.exercises import CheckResult
from hfexplain.exercises.vision import check_patchify, make_pixel_values, reference
from hfexplain.models.vit import ViTConfig, ViTPatchEmbeddings


def test_reference_times_the_conv_weight_is_the_patch_embedding():
    torch.manual_seed(0)
    config = ViTConfig(image_size=(16, 24), patch_size=8, hidden_size=32, num_attention_heads=4, num_channels=3)
    embed = ViTPatchEmbeddings(config)
    pixel_values = make_pixel_values((2, 3, 16, 24))
    weight = embed.projection.weight  # (d, c, P, P)
    by_hand = reference(pixel_values, 8) @ weight.flatten(1).T + embed.projection.bias  # (b, n, d)
    torch.testing.assert_close(by_hand, embed(pixel_values), atol=1e-5, rtol=0)
    # patch 1 is the one right of patch 0 (reading order), flattened channel first
    assert torch.equal(reference(pixel_values, 8)[0, 1], pixel_values[0, :, :8, 8:16].flatten())
    assert torch.equal(reference(pixel_values, 8)[0, 3], pixel_values[0, :, 8:, :8].flatten())


def checked(fn):
    def answer(pixel_values, patch_size):
        batch, channels, height, width = pixel_values.shape
        if height % patch_size or width % patch_size:
            raise ValueError(f"{height}x{width} is not a whole number of {patch_size}x{patch_size} patches")
        return fn(pixel_values, patch_size)
    return answer


@checked
def with_unfold(pixel_values, patch_size):
    return F.unfold(pixel_values, patch_size, stride=patch_size).transpose(1, 2)


@checked
def with_a_view(x, p):
    b, c, h, w = x.shape
    x = x.view(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)  # (b, rows, cols, c, p, p)
    return x.reshape(b, (h // p) * (w // p), c * p * p)


@checked
def with_tensor_unfold(x, p):
    patches = x.unfold(2, p, p).unfold(3, p, p)  # (b, c, rows, cols, p, p)
    return patches.permute(0, 2, 3, 1, 4, 5).flatten(3).flatten(1, 2)


@checked
def with_loops(x, p):
    rows = []
    for i in range(x.shape[2] // p):
        for j in range(x.shape[3] // p):
            rows.append(x[:, :, i * p:(i + 1) * p, j * p:(j + 1) * p].reshape(x.shape[0], -1))
    return torch.stack(rows, dim=1)


@pytest.mark.parametrize("answer", [with_unfold, with_a_view, with_tensor_unfold, with_loops])
def test_correct_answers_pass(answer):
    result = check_patchify(answer)
    assert isinstance(result, CheckResult) and result.passed, str(result)
    assert "correct" in str(result)


@checked
def column_by_column(x, p):
    b, c, h, w = x.shape
    return x.view(b, c, h // p, p, w // p, p).permute(0, 4, 2, 1, 3, 5).reshape(b, -1, c * p * p)


@checked
def channel_last(x, p):  # einops' 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)'
    b, c, h, w = x.shape
    return x.view(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1).reshape(b, -1, c * p * p)


@checked
def patch_transposed(x, p):
    patches = x.unfold(2, p, p).unfold(3, p, p)  # (b, c, rows, cols, p, p)
    return patches.transpose(-1, -2).permute(0, 2, 3, 1, 4, 5).flatten(3).flatten(1, 2)


@checked
def reshape_only(x, p):
    b, c, h, w = x.shape
    return x.reshape(b, (h // p) * (w // p), c * p * p)


@checked
def unfold_untransposed(x, p):
    return F.unfold(x, p, stride=p)


@checked
def height_for_width(x, p):
    b, c, h, w = x.shape
    side = h // p
    return x[..., :h, :h].reshape(b, c, side, p, side, p).permute(0, 2, 4, 1, 3, 5).reshape(b, side * side, -1)


def no_size_check(x, p):
    return F.unfold(x, p, stride=p).transpose(1, 2)  # drops what does not fill a patch


def wrong_error_type(x, p):
    if x.shape[2] % p or x.shape[3] % p:
        raise TypeError("bad size")
    return with_unfold(x, p)


@checked
def drops_batch(x, p):
    return F.unfold(x, p, stride=p).transpose(1, 2)[0]


@checked
def forgets_return(x, p):
    F.unfold(x, p, stride=p).transpose(1, 2)


@checked
def returns_a_list(x, p):
    return F.unfold(x, p, stride=p).transpose(1, 2).tolist()


@checked
def off_by_a_little(x, p):
    return F.unfold(x, p, stride=p).transpose(1, 2) * 1.01


@pytest.mark.parametrize("answer, message", [
    (column_by_column, "column by column.*row by row"),
    (channel_last, "channel last.*einops.*flatten each patch as \\(c, P, P\\)"),
    (patch_transposed, "rows and columns are swapped"),
    (reshape_only, "scrambled.*permute"),
    (unfold_untransposed, "transposed, \\(b, c \\* P \\* P, n\\).*transpose\\(1, 2\\)"),
    (height_for_width, "not square"),
    (no_size_check, "instead of refusing.*ValueError"),
    (wrong_error_type, "raised TypeError.*raise a ValueError"),
    (drops_batch, "batch axis is missing"),
    (forgets_return, "returned None.*return"),
    (returns_a_list, "returned a list.*torch.Tensor"),
    (off_by_a_little, "none of the usual mistakes"),
    (42, "Pass your function itself"),
])
def test_each_mistake_is_named(answer, message):
    result = check_patchify(answer)
    assert not result.passed
    assert any(re.search(message, line) for line in result.messages), str(result)


def test_the_verdict_says_which_input():
    result = check_patchify(column_by_column)
    assert "shape (2, 3, 16, 16) and patch_size 8: a 2 x 2 grid" in str(result)
    assert str(result).startswith("❌ patchify: not yet.")
