"""Checkers for lesson 13 (vision transformers).

``check_patchify(fn)`` checks a learner's patchify, the step that turns an image into the
sequence a Vision Transformer reads::

    def patchify(pixel_values, patch_size):
        # pixel_values: (b, c, H, W)      a batch of images
        # patch_size:   int P             H and W must be multiples of P, else ValueError
        # returns:      (b, n, c * P * P) n = (H / P) * (W / P) patches in reading order (row by row),
        #                                 each flattened channel first, then its rows, then its columns
        ...

That layout is the one the patch embedding's ``Conv2d`` uses: its weight (d, c, P, P) flattens to
(d, c * P * P) in the same (channel, row, column) order, so ``patchify(x, P) @ weight.flatten(1).T
+ bias`` is ``ViTPatchEmbeddings(x)``. The reference is ``torch.nn.functional.unfold`` with kernel
and stride P, transposed to (b, n, c * P * P) (``tests/test_exercises_vision.py`` checks it against
a ViT's patch embedding).

How it finds the mistake: it runs ``fn`` on seeded images whose sizes trip different slips (a
square image, a wide one whose grid is 2 x 3, a batch of three colour channels, one channel) and,
when the answer differs, recomputes it with each *typical* mistake (patches read column by column,
pixels flattened channel last as in ``einops``' ``(p1 p2 c)``, rows and columns swapped inside a
patch, a reshape with no permute, the result transposed, the height used for the width) and names
the one that reproduces it. Then it checks that an image that is not a whole number of patches is
refused with a ``ValueError`` rather than silently cut.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from . import CheckResult

EXERCISE = "patchify"

# (batch, channels, height, width), patch size: each case trips a different slip
_CASES = (
    ((2, 3, 16, 16), 8),  # square, 2 x 2 grid
    ((1, 3, 16, 24), 8),  # wide: 2 rows of 3 patches (a height-for-width slip shows here)
    ((3, 3, 12, 8), 4),  # tall: 3 rows of 2 patches, a batch of three
    ((2, 1, 6, 9), 3),  # one channel, 2 x 3 grid of 3 x 3 patches
)
# sizes that are not a whole number of patches: the function must raise ValueError
_NOT_WHOLE = (((1, 3, 20, 16), 8), ((1, 3, 16, 18), 8))


def make_pixel_values(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """Seeded (b, c, H, W) floats, every value different, so any reordering shows."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=generator)


def reference(pixel_values: torch.Tensor, patch_size: int) -> torch.Tensor:
    """The correct answer: (b, n, c * P * P), patches row by row, each flattened as (c, P, P)."""
    columns = F.unfold(pixel_values, kernel_size=patch_size, stride=patch_size)  # (b, c * P * P, n)
    return columns.transpose(1, 2)  # (b, n, c * P * P)


def _grid(pixel_values, patch_size):
    """(b, c, rows, P, cols, P) view of the image."""
    batch, channels, height, width = pixel_values.shape
    return pixel_values.reshape(batch, channels, height // patch_size, patch_size, width // patch_size, patch_size)


def _patchify(pixel_values, patch_size, *, order=(0, 2, 4, 1, 3, 5)) -> torch.Tensor:
    """patchify with the axes of the (b, c, rows, P, cols, P) view put in ``order`` before flattening."""
    batch = pixel_values.shape[0]
    grid = _grid(pixel_values, patch_size).permute(*order)  # (b, ., ., ., ., .)
    return grid.reshape(batch, grid.shape[1] * grid.shape[2], -1)  # (b, n, c * P * P)


def _mistakes(pixel_values, patch_size) -> list[tuple[str, Callable[[], torch.Tensor]]]:
    """(explanation, how the answer would come out with that mistake)."""
    batch, channels, height, width = pixel_values.shape
    return [
        ("the patches come column by column (down the first column, then the next): ViT reads them in reading "
         "order, row by row, so patch 1 is the one to the right of patch 0. Put the rows axis before the columns "
         "axis when you permute: (b, rows, cols, c, P, P).",
         lambda: _patchify(pixel_values, patch_size, order=(0, 4, 2, 1, 3, 5))),
        ("each patch is flattened channel last, (P, P, c) as einops' 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)' "
         "does: the patch embedding's Conv2d weight (d, c, P, P) flattens channel first, so flatten each patch "
         "as (c, P, P) for patchify(x) @ weight.flatten(1).T to equal the convolution.",
         lambda: _patchify(pixel_values, patch_size, order=(0, 2, 4, 3, 5, 1))),
        ("inside each patch, rows and columns are swapped (each P x P block is transposed): keep the pixel-row "
         "axis before the pixel-column axis, (c, P_row, P_col).",
         lambda: _patchify(pixel_values, patch_size, order=(0, 2, 4, 1, 5, 3))),
        ("the values are in the right tensor but scrambled: a reshape straight to (b, n, c * P * P) does not move "
         "the patch axes together. View the image as (b, c, rows, P, cols, P), permute to (b, rows, cols, c, P, P), "
         "then reshape.",
         lambda: pixel_values.reshape(batch, -1, channels * patch_size * patch_size)),
        ("the result is transposed, (b, c * P * P, n), as F.unfold returns it: the sequence axis comes first, "
         "so .transpose(1, 2) it to (b, n, c * P * P).",
         lambda: reference(pixel_values, patch_size).transpose(1, 2)),
    ]


def _describe(shape, patch_size) -> str:
    batch, channels, height, width = shape
    return (f"(seen with pixel_values of shape {shape} and patch_size {patch_size}: a {height // patch_size} x "
            f"{width // patch_size} grid, expected shape ({batch}, {(height // patch_size) * (width // patch_size)}, "
            f"{channels * patch_size * patch_size}))")


def _compare(got, expected, pixel_values, patch_size, where) -> CheckResult | None:
    if got is None:
        return CheckResult(EXERCISE, False, ["Your function returned None: did you forget `return`?", where])
    if not isinstance(got, torch.Tensor):
        return CheckResult(EXERCISE, False, [f"Your function returned a {type(got).__name__}; return a torch.Tensor "
                                             "of shape (b, n, c * P * P).", where])
    got = got.detach()
    for explanation, mistake in _mistakes(pixel_values, patch_size):
        try:
            wrong = mistake()
        except RuntimeError:
            continue
        if tuple(got.shape) == tuple(wrong.shape) and torch.equal(got.to(wrong.dtype), wrong) \
                and not (tuple(wrong.shape) == tuple(expected.shape) and torch.equal(wrong, expected)):
            return CheckResult(EXERCISE, False, [explanation[0].upper() + explanation[1:], where])
    if tuple(got.shape) != tuple(expected.shape):
        batch, channels, height, width = pixel_values.shape
        hint = ""
        if got.dim() == 2 and tuple(got.shape) == tuple(expected.shape[1:]):
            hint = " The batch axis is missing: keep it first, one sequence per image."
        elif got.numel() == expected.numel() and height != width:
            hint = " This image is not square: use its height for the rows and its width for the columns."
        elif got.numel() != expected.numel() and height != width:
            hint = (" This image is not square: the grid has H / P rows and W / P columns; is the height used for "
                    "the width?")
        return CheckResult(EXERCISE, False, [f"The result has shape {tuple(got.shape)}.{hint}", where])
    if not got.is_floating_point():
        return CheckResult(EXERCISE, False, [f"The result has dtype {got.dtype}; keep the pixels' float dtype.", where])
    if not torch.equal(got.to(expected.dtype), expected):
        diff = (got.to(expected.dtype) - expected).abs()
        if float(diff.max()) <= 1e-6:
            return None  # the same numbers up to rounding (a matmul with an identity, say)
        return CheckResult(EXERCISE, False, [
            "The shape is right but the values are not where they should be, and none of the usual mistakes "
            "explains it: sequence position 1 + i is the patch in row i // cols, column i % cols, flattened as "
            "(channel, pixel row, pixel column).", where])
    return None


def check_patchify(fn: Callable) -> CheckResult:
    """Check ``fn(pixel_values (b, c, H, W), patch_size int) -> (b, n, c * P * P)``; never raises on a wrong answer."""
    if not callable(fn):
        return CheckResult(EXERCISE, False, [f"Pass your function itself, got {type(fn).__name__}."])
    for seed, (shape, patch_size) in enumerate(_CASES):
        pixel_values = make_pixel_values(shape, seed=seed)
        where = _describe(shape, patch_size)
        try:
            got = fn(pixel_values.clone(), patch_size)
        except Exception as error:  # noqa: BLE001 - the learner's error is the verdict
            hint = ""
            if shape[2] != shape[3]:
                hint = " This image is not square (height != width): the grid has H / P rows and W / P columns."
            return CheckResult(EXERCISE, False, [
                f"Your function raised {type(error).__name__}: {error}.{hint}", where])
        verdict = _compare(got, reference(pixel_values, patch_size), pixel_values, patch_size, where)
        if verdict is not None:
            return verdict
    for shape, patch_size in _NOT_WHOLE:
        height, width = shape[2:]
        where = (f"(pixel_values of shape {shape} with patch_size {patch_size}: {height} x {width} is not a whole "
                 f"number of {patch_size} x {patch_size} patches)")
        try:
            got = fn(make_pixel_values(shape), patch_size)
        except ValueError:
            continue
        except Exception as error:  # noqa: BLE001
            return CheckResult(EXERCISE, False, [
                f"Your function raised {type(error).__name__}: {error}. Check the sizes first and raise a "
                "ValueError that names them (a bad value, not a bad type), before any reshaping.", where])
        shown = f"a tensor of shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else type(got).__name__
        return CheckResult(EXERCISE, False, [
            f"Your function returned {shown} instead of refusing: the rows or columns that do not fill a patch "
            "would be lost (F.unfold and a strided Conv2d drop them silently). Raise a ValueError naming the "
            "height, width and patch size, as ViT's image-size check does.", where])
    return CheckResult(EXERCISE, True, [
        "row-major patches flattened as (c, P, P), on square, wide, tall and one-channel images; sizes that are "
        "not whole patches are refused."
    ])


__all__ = ["check_patchify", "make_pixel_values", "reference"]
