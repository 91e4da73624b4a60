"""Checkers for lesson 02 (embeddings and positions).

* :func:`check_sinusoidal_positions`: the sinusoidal position encoding of "Attention Is
  All You Need" (Vaswani et al., 2017), in its interleaved layout:

      PE[p, 2i]     = sin(p / 10000 ** (2i / d))
      PE[p, 2i + 1] = cos(p / 10000 ** (2i / d))        i = 0 .. d/2 - 1

  A wrong answer is compared with the usual slips (sin and cos swapped, sines and cosines
  in two halves, the exponent i/d instead of 2i/d, the column index in the exponent, a
  different base, positions from 1 ...) so the message can name the slip.

The checker never raises on a wrong answer; an exception inside the learner's function
becomes a message.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import CheckResult, compare_tensors

__all__ = ["check_sinusoidal_positions", "sinusoidal_reference"]

BASE = 10_000.0
ATOL = 1e-4  # float32 sin/cos of angles up to ~50 rad, computed in different orders
CASES = ((50, 16), (7, 6))  # (num_positions, dim)


def sinusoidal_reference(
    num_positions: int,
    dim: int,
    *,
    base: float = BASE,
    layout: str = "interleaved",
    first: str = "sin",
    exponent: str = "2i/d",
    multiply: bool = False,
    start: int = 0,
    second: str | None = None,
) -> torch.Tensor:
    """(num_positions, dim) float32 sinusoidal encodings, computed in float64.

    The defaults give the correct encoding. The keyword arguments describe the slips the
    checker recognises: ``layout="halves"`` (all sines, then all cosines), ``first="cos"``
    (sin and cos swapped), ``exponent="i/d"`` or ``"j/d"`` (the pair index without the 2,
    or the column index so a pair's cos gets another frequency), ``exponent="0"`` (one
    frequency for all), ``multiply`` (position times instead of divided by the period
    factor), ``start=1`` (positions counted from 1), ``second`` (the function of odd columns
    when it is not the other of sin/cos, e.g. ``"sin"`` everywhere).
    """
    positions = torch.arange(start, start + num_positions, dtype=torch.float64)[:, None]  # (p, 1)
    functions = {"sin": torch.sin, "cos": torch.cos}
    first_fn = functions[first]
    second_fn = functions[second or ("cos" if first == "sin" else "sin")]
    pairs = torch.arange(dim // 2, dtype=torch.float64)  # (d/2,) the pair index i
    exponents = {"2i/d": 2 * pairs / dim, "i/d": pairs / dim, "0": 0 * pairs, "j/d": 2 * pairs / dim}[exponent]
    factor = base**exponents  # (d/2,)
    angles = positions * factor if multiply else positions / factor  # (p, d/2)
    if exponent == "j/d":  # the odd column 2i+1 gets the exponent (2i+1)/d
        odd_angles = positions / base ** ((2 * pairs + 1) / dim)  # (p, d/2)
    else:
        odd_angles = angles
    if layout == "halves":
        out = torch.cat((first_fn(angles), second_fn(odd_angles)), dim=-1)  # (p, d)
    else:
        out = torch.empty(num_positions, dim, dtype=torch.float64)
        out[:, 0::2] = first_fn(angles)
        out[:, 1::2] = second_fn(odd_angles)
    return out.float()


SLIPS = (
    (dict(first="cos"), "sin and cos are swapped: EVEN columns (0, 2, 4, ...) take sin, ODD columns take cos."),
    (dict(layout="halves"), "you put all the sines in the first half and all the cosines in the second (a layout some "
     "libraries use); this formula interleaves them: out[:, 0::2] = sin(angles), out[:, 1::2] = cos(angles)."),
    (dict(layout="halves", first="cos"), "you put cosines in the first half and sines in the second; this formula "
     "interleaves them: out[:, 0::2] = sin(angles), out[:, 1::2] = cos(angles)."),
    (dict(exponent="i/d"), "wrong frequencies: the exponent is 2i/d with i the PAIR index (0 .. d/2-1), so it runs "
     "over the even numbers 0, 2, 4 ... divided by d; you used i/d (torch.arange(0, dim, 2) / dim is the right one)."),
    (dict(exponent="j/d"), "each sin/cos pair must share ONE frequency: column 2i+1 (cos) uses the same 10000 ** (2i/d) "
     "as column 2i (sin); you used the column's own index j in the exponent (use 2 * (j // 2), or compute the angles "
     "once per pair)."),
    (dict(multiply=True), "you multiplied the position by 10000 ** (2i/d); DIVIDE it: angle = p / 10000 ** (2i/d), "
     "so later pairs turn more slowly."),
    (dict(exponent="0"), "every pair has the same frequency: divide the position by 10000 ** (2i/d), a different "
     "wavelength per pair."),
    (dict(start=1), "positions start at 0: row 0 must be sin(0) = 0 in even columns and cos(0) = 1 in odd columns "
     "(use torch.arange(num_positions))."),
    (dict(second="sin"), "all columns are sines: the odd columns take the cosine of the same angles."),
    (dict(first="cos", second="cos"), "all columns are cosines: the even columns take the sine."),
)


def _estimate_base(got: torch.Tensor, dim: int) -> float | None:
    """If column 2 is sin(p * w) for some w, the base that gives that w (else None)."""
    if dim < 4 or got.shape[0] < 3:
        return None
    value = float(got[1, 2])
    if not -1.0 < value < 1.0:
        return None
    w = math.asin(value)  # assumes the pair-1 angle at p=1 is below pi/2, true for any base > 1
    if w <= 0:
        return None
    positions = torch.arange(got.shape[0], dtype=torch.float64)
    if not torch.allclose(got[:, 2].double(), torch.sin(positions * w), atol=ATOL * 10):
        return None
    return w ** (-dim / 2)


def _first_wrong_column(got: torch.Tensor, expected: torch.Tensor) -> str:
    errors = (got.float() - expected).abs().amax(dim=0)  # (d,)
    column = int(torch.nonzero(errors > ATOL)[0])
    kind = "sin" if column % 2 == 0 else "cos"
    return f"the first wrong column is {column} (pair i = {column // 2}, a {kind} column)."


def check_sinusoidal_positions(sinusoidal_positions: Callable) -> CheckResult:
    """Check ``sinusoidal_positions(num_positions, dim) -> (num_positions, dim)`` float32 tensor."""
    name = "sinusoidal_positions"
    for num_positions, dim in CASES:
        call = f"sinusoidal_positions({num_positions}, {dim})"
        expected = sinusoidal_reference(num_positions, dim)
        try:
            got = sinusoidal_positions(num_positions, dim)
        except Exception as error:  # noqa: BLE001 - reported to the learner
            return CheckResult(name, False, [f"{call} raised {type(error).__name__}: {error}"])
        if got is None:
            return CheckResult(name, False, [f"{call} returned None: did you forget `return`?"])
        if not isinstance(got, torch.Tensor):
            return CheckResult(name, False, [f"{call} should return a torch.Tensor, got {type(got).__name__}."])
        if tuple(got.shape) != tuple(expected.shape):
            if tuple(got.shape) == (dim, num_positions):
                return CheckResult(name, False, [
                    f"{call} has shape {tuple(got.shape)}, i.e. (dim, num_positions); rows are positions: "
                    f"return ({num_positions}, {dim})."
                ])
            return CheckResult(name, False, [f"{call}: " + compare_tensors("the encoding", got, expected)[0]])
        if not got.is_floating_point():
            return CheckResult(name, False, [f"{call} has dtype {got.dtype}; compute in floating point (torch.float32)."])
        if not torch.any(got):
            return CheckResult(name, False, [
                f"{call} is all zeros: fill the even columns 2i with sin(p / 10000 ** (2i/d)) and the odd columns "
                "2i+1 with cos of the same angle."
            ])
        close = torch.allclose(got.detach().double(), expected.double(), atol=ATOL)
        if close and got.dtype != torch.float32:
            return CheckResult(name, False, [
                f"the values are right, but the dtype is {got.dtype}; return torch.float32 (.float()), the dtype of the "
                "embeddings it is added to."
            ])
        if close:
            continue
        got = got.detach()
        for slip, message in SLIPS:
            if torch.allclose(got.double(), sinusoidal_reference(num_positions, dim, **slip).double(), atol=ATOL):
                return CheckResult(name, False, [f"{call}: {message}"])
        base = _estimate_base(got, dim)
        if base is not None and abs(base - BASE) / BASE > 1e-3:
            if torch.allclose(got.double(), sinusoidal_reference(num_positions, dim, base=base).double(), atol=ATOL * 10):
                return CheckResult(name, False, [
                    f"{call}: the layout is right but the frequencies follow the base {base:.4g}; the formula uses "
                    "10000: angle = p / 10000 ** (2i/d)."
                ])
        return CheckResult(name, False, [
            f"{call}: " + compare_tensors("the encoding", got, expected, atol=ATOL)[0] + " " + _first_wrong_column(got, expected)
        ])
    return CheckResult(name, True, [f"matches the formula for every case tried: {CASES} (num_positions, dim)."])
