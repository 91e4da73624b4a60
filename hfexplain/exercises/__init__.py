"""Checkers for the lessons' "your turn" exercises.

A checker runs the learner's answer on fixed inputs, compares it with a reference and
says *precisely* what is wrong (a wrong shape, a missing scale, a mask applied the wrong
way round), rather than just "incorrect". It never raises on a wrong answer: it returns a
:class:`CheckResult` that prints as a short verdict, so a notebook keeps running and
nbval can compare the message.

One module per lesson holds that lesson's checkers (``hfexplain.exercises.attention`` ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class CheckResult:
    """The verdict of one checker: ``passed`` and the reasons, printable in a notebook."""

    exercise: str
    passed: bool
    messages: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        head = f"✅ {self.exercise}: correct." if self.passed else f"❌ {self.exercise}: not yet."
        return "\n".join([head, *(f"   - {m}" for m in self.messages)])

    __repr__ = __str__

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython display
        printer.text(str(self))


def compare_tensors(name: str, got, expected: torch.Tensor, *, atol: float = 1e-5) -> list[str]:
    """Reasons why ``got`` differs from ``expected`` (empty when they agree).

    Checks, in order: is it a tensor, its shape (and whether a transpose or a missing
    dimension would fix it), its dtype family, then values (max difference and where).
    """
    if got is None:
        return [f"{name} is None: the function returned nothing (did you forget `return`?)."]
    if not isinstance(got, torch.Tensor):
        return [f"{name} should be a torch.Tensor, got {type(got).__name__}."]
    if tuple(got.shape) != tuple(expected.shape):
        hint = ""
        if got.dim() == expected.dim() and sorted(got.shape) == sorted(expected.shape):
            hint = " The same sizes in another order: is a transpose or permute missing or extra?"
        elif got.numel() == expected.numel():
            hint = " Same number of elements: check your view/reshape."
        return [f"{name} has shape {tuple(got.shape)} but should have {tuple(expected.shape)}.{hint}"]
    if got.is_floating_point() != expected.is_floating_point():
        return [f"{name} has dtype {got.dtype}, expected a {'float' if expected.is_floating_point() else 'integer'} dtype."]
    got = got.detach().to(expected.dtype)
    if torch.isnan(got).any() and not torch.isnan(expected).any():
        return [f"{name} contains NaN: a softmax over a row with only -inf, or a division by zero?"]
    diff = (got - expected).abs()
    if float(diff.max()) > atol:
        index = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0])
        return [
            f"{name} has the right shape but different values: max difference {float(diff.max()):.3g} at "
            f"index {index} (got {float(got[index]):.4f}, expected {float(expected[index]):.4f})."
        ]
    return []


__all__ = ["CheckResult", "compare_tensors"]
