"""Checkers for lesson 15 (multimodal: BLIP captions and YOLOS boxes on the shapes world).

``check_attention_share(fn)`` checks a learner's measure of where one caption token looks: the
share of its cross-attention that lands on the image patches a shape's box touches::

    def attention_share(pattern, box, patch_size):
        # pattern:    (n,) one caption token's cross-attention over the image positions: [CLS] first,
        #             then the g x g patches row by row (n = 1 + g * g; it sums to 1)
        # box:        (x0, y0, x1, y1) pixels, x1 and y1 exclusive (Scene.boxes_xyxy()'s rows)
        # patch_size: int P, the patches' side in pixels (the image is g * P pixels across)
        # returns:    float, the part of the token's whole attention ([CLS] included in the total)
        #             that falls on the patches the box touches; ValueError for a box that is empty
        #             or reaches outside the image
        ...

A patch (row r, column c) covers pixels r * P .. r * P + P - 1 down and c * P .. c * P + P - 1
across; the box touches it when they share a pixel, so the rows are ``y0 // P`` to
``(y1 - 1) // P`` and the columns ``x0 // P`` to ``(x1 - 1) // P``, both inclusive. Lesson 15
compares that share with the part of the image the patches cover: attention spread evenly would give
each patch 1 / (g * g) of what the patches receive.

How it finds the mistake: it runs ``fn`` on seeded patterns and boxes chosen so that each typical
slip gives a different number (a box whose right edge ends on a patch border, a box wider than it
is tall, boxes on 8- and 16-pixel patches), and when the answer differs it recomputes the answer
with each slip ([CLS] read as the first patch, rows and columns swapped, the exclusive edge read
as inclusive, only the patches wholly inside the box, the share renormalised without [CLS]) and
names the one that reproduces it. Then it checks that boxes that are empty or reach outside the
image are refused with a ``ValueError``. (A fixed 8 x 8 grid fails on the 16-pixel case with a hint.)
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import CheckResult

EXERCISE = "attention_share"

# (grid side g, patch size P, box (x0, y0, x1, y1)): each case trips a different slip
_CASES = (
    (8, 8, (3, 20, 21, 30)),  # wider than tall, edges inside patches: swap and "wholly inside" show
    (8, 8, (16, 8, 32, 24)),  # edges on patch borders: the exclusive x1 / y1 read as inclusive shows
    (4, 16, (5, 40, 30, 64)),  # 16-pixel patches on a 4 x 4 grid, touching the bottom edge
    (8, 8, (40, 0, 64, 9)),  # the top-right corner: the last column, one pixel into the second row
)
# boxes an answer must refuse: empty, or reaching outside the 64 x 64 image of an 8 x 8 grid of 8-pixel patches
_REFUSED = (((10, 10, 10, 20), "is empty (x1 == x0)"), ((50, 20, 70, 30), "reaches outside the 64-pixel image"),
            ((-4, 0, 8, 8), "starts left of the image"))


def make_pattern(grid: int, seed: int = 0) -> torch.Tensor:
    """A seeded (1 + grid * grid,) attention row: positive, summing to 1, with [CLS] given a large share
    (as trained decoders often do) so that forgetting it changes every answer."""
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(1 + grid * grid, generator=generator, dtype=torch.float64) * 1.5
    scores[0] += 3.0  # [CLS] takes a good part of the attention
    return scores.softmax(-1)


def _touched(box, patch_size: int, inclusive: bool = False, inside: bool = False) -> tuple[int, int, int, int]:
    """(first row, last row + 1, first column, last column + 1) of the patches the box touches."""
    x0, y0, x1, y1 = box
    if inside:  # only the patches wholly inside the box
        return -(-y0 // patch_size), y1 // patch_size, -(-x0 // patch_size), x1 // patch_size
    if inclusive:  # x1 and y1 read as the last pixel inside, not one past it
        return y0 // patch_size, y1 // patch_size + 1, x0 // patch_size, x1 // patch_size + 1
    return y0 // patch_size, (y1 - 1) // patch_size + 1, x0 // patch_size, (x1 - 1) // patch_size + 1


def reference(pattern: torch.Tensor, box, patch_size: int) -> float:
    """The correct answer: the share of the whole row on the patches the box touches."""
    grid = math.isqrt(pattern.shape[-1] - 1)
    patches = pattern[1:].reshape(grid, grid)  # (rows, columns), row by row
    r0, r1, c0, c1 = _touched(box, patch_size)
    return float(patches[r0:r1, c0:c1].sum())


def _share(patches: torch.Tensor, span: tuple[int, int, int, int]) -> float:
    """The sum of ``patches`` (rows, columns) over rows span[0]:span[1] and columns span[2]:span[3]."""
    r0, r1, c0, c1 = span
    return float(patches[max(r0, 0):r1, max(c0, 0):c1].sum())


def _mistakes(pattern: torch.Tensor, box, patch_size: int) -> list[tuple[str, Callable[[], float]]]:
    """(explanation, what the answer would be with that mistake)."""
    grid = math.isqrt(pattern.shape[-1] - 1)
    patches = pattern[1:].reshape(grid, grid)  # (rows, columns)
    r0, r1, c0, c1 = _touched(box, patch_size)
    return [
        ("position 0 of the pattern is [CLS], not a patch: the patches are pattern[1:], so patch (r, c) is "
         "pattern[1 + r * g + c]. Reading pattern[:g * g] as the grid shifts every patch by one.",
         lambda: _share(pattern[:-1].reshape(grid, grid), (r0, r1, c0, c1))),
        ("rows and columns are swapped: x (x0, x1) picks the columns and y (y0, y1) the rows, and the grid "
         "pattern[1:].reshape(g, g) is indexed [row, column].",
         lambda: _share(patches, (c0, c1, r0, r1))),
        ("the box's x1 and y1 are exclusive (it spans columns x0 .. x1 - 1): the last column touched is "
         "(x1 - 1) // P, not x1 // P, which adds one patch beyond the box when x1 ends on a patch border.",
         lambda: _share(patches, _touched(box, patch_size, inclusive=True))),
        ("only the patches wholly inside the box are counted: count every patch the box touches (shares at "
         "least one pixel with), rows y0 // P .. (y1 - 1) // P and columns x0 // P .. (x1 - 1) // P.",
         lambda: _share(patches, _touched(box, patch_size, inside=True))),
        ("the share is divided by what the patches get (1 - pattern[0]): keep [CLS] in the total, so the "
         "number is the part of the token's whole attention, comparable across tokens.",
         lambda: reference(pattern, box, patch_size) / float(1 - pattern[0])),
    ]


def _describe(grid: int, patch_size: int, box) -> str:
    return (f"(seen with a pattern of shape ({1 + grid * grid},): [CLS], then {grid} x {grid} patches of "
            f"{patch_size} pixels; box {box})")


def _as_float(got) -> float | None:
    if isinstance(got, torch.Tensor):
        return float(got) if got.numel() == 1 else None
    if isinstance(got, (int, float)) and not isinstance(got, bool):
        return float(got)
    try:  # numpy scalars
        return float(got) if hasattr(got, "item") and getattr(got, "size", 1) == 1 else None
    except (TypeError, ValueError):
        return None


def check_attention_share(fn: Callable) -> CheckResult:
    """Check ``fn(pattern (n,), box (x0, y0, x1, y1), patch_size int) -> float``; never raises on a wrong answer."""
    if not callable(fn):
        return CheckResult(EXERCISE, False, [f"Pass your function itself, got {type(fn).__name__}."])
    for seed, (grid, patch_size, box) in enumerate(_CASES):
        pattern = make_pattern(grid, seed)
        where = _describe(grid, patch_size, box)
        try:
            got = fn(pattern.clone(), box, patch_size)
        except Exception as error:  # noqa: BLE001 - the learner's error is the verdict
            hint = ""
            if grid != 8:
                hint = (f" This image has {grid} x {grid} patches, not 8 x 8: take the side from the pattern, "
                        "g = sqrt(n - 1), rather than fixing it.")
            return CheckResult(EXERCISE, False, [f"Your function raised {type(error).__name__}: {error}.{hint}", where])
        if got is None:
            return CheckResult(EXERCISE, False, ["Your function returned None: did you forget `return`?", where])
        value = _as_float(got)
        if value is None:
            shape = f" of shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else ""
            return CheckResult(EXERCISE, False, [
                f"Your function returned a {type(got).__name__}{shape}; return one number, the share (a float, or "
                "a tensor with one element: sum over the touched patches).", where])
        expected = reference(pattern, box, patch_size)
        if abs(value - expected) <= 1e-6:
            continue
        for explanation, mistake in _mistakes(pattern, box, patch_size):
            wrong = mistake()
            if abs(value - wrong) <= 1e-6 and abs(wrong - expected) > 1e-6:
                return CheckResult(EXERCISE, False, [explanation[0].upper() + explanation[1:], where])
        r0, r1, c0, c1 = _touched(box, patch_size)
        return CheckResult(EXERCISE, False, [
            f"Your share is {value:.4g} but it should be {expected:.4g}, and none of the usual mistakes explains it: "
            f"the box touches the patch rows {r0}..{r1 - 1} and columns {c0}..{c1 - 1}; add up "
            "pattern[1 + r * g + c] over them.", where])
    for box, why in _REFUSED:
        where = f"(box {box} on a 64 x 64 image of 8 x 8 patches of 8 pixels: it {why})"
        try:
            got = fn(make_pattern(8), box, 8)
        except ValueError:
            continue
        except Exception as error:  # noqa: BLE001
            return CheckResult(EXERCISE, False, [
                f"Your function raised {type(error).__name__}: {error}. Check the box first and raise a "
                "ValueError that names it (a bad value, not a bad type).", where])
        return CheckResult(EXERCISE, False, [
            f"Your function returned {got!r} instead of refusing: an empty box, or one reaching outside the image, is "
            "a mistake upstream (a box in the wrong unit, say). Raise a ValueError naming the box and the image size.",
            where])
    return CheckResult(EXERCISE, True, [
        "[CLS] skipped, rows from y and columns from x, the exclusive edges respected, on 8- and 16-pixel patches; "
        "empty and out-of-image boxes are refused."
    ])


__all__ = ["check_attention_share", "make_pattern", "reference"]
