"""Checkers for lesson 10 (the Trainer): the linear warmup + decay learning-rate schedule.

The learner writes ``linear_schedule(step, num_warmup_steps, num_training_steps)``: the
*multiplier* of the base learning rate at optimizer step ``step`` (what ``LambdaLR`` calls
with ``last_epoch``). The schedule of transformers' ``get_linear_schedule_with_warmup`` (and
of ``hfexplain.training.get_scheduler("linear", ...)``) is

* warmup, ``step < num_warmup_steps``: ``step / num_warmup_steps`` (0 at step 0, rising);
* decay, afterwards: ``(num_training_steps - step) / (num_training_steps - num_warmup_steps)``,
  1 at the end of warmup and exactly 0 at ``num_training_steps``;
* never below 0 (steps after the end stay at 0), and no division by zero when there is no
  warmup.

The checker evaluates the answer at every step of a few (warmup, total) settings and names
the first place it goes wrong: the warmup ramp off by one, a drop at the end of warmup, a
decay that never reaches zero, negative values after the end ...
"""
from __future__ import annotations

import math

from . import CheckResult

# (num_warmup_steps, num_training_steps) settings the answer is run on
SETTINGS = ((4, 12), (0, 6), (3, 3), (10, 100))
AFTER_END = 3  # also ask for a few steps past num_training_steps


def reference_linear_schedule(step: int, num_warmup_steps: int, num_training_steps: int) -> float:
    """The reference multiplier (the same numbers as transformers' ``get_linear_schedule_with_warmup``)."""
    if step < num_warmup_steps:
        return step / max(1, num_warmup_steps)
    return max(0.0, (num_training_steps - step) / max(1, num_training_steps - num_warmup_steps))


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _diagnose(values: dict[int, float], warmup: int, total: int) -> str | None:
    """The first mistake in ``values`` (step -> multiplier) for one setting, in words; None if right."""
    expected = {step: reference_linear_schedule(step, warmup, total) for step in values}
    wrong = [step for step in sorted(values) if not math.isclose(values[step], expected[step], abs_tol=1e-6)]
    if not wrong:
        return None
    where = f"with num_warmup_steps={warmup}, num_training_steps={total}"
    first = wrong[0]
    got, want = values[first], expected[first]
    if first >= total:
        if got < 0:
            return (f"{where}: at step {first} (after the end) you return {_fmt(got)}: the decay goes negative. "
                    "Clamp it: max(0.0, ...).")
        if first == total:
            return (f"{where}: at the last step ({total}) you return {_fmt(got)}, but the schedule must reach exactly "
                    "0 there: decay over num_training_steps - num_warmup_steps steps, i.e. "
                    "(num_training_steps - step) / (num_training_steps - num_warmup_steps).")
        return f"{where}: after the end (step {first}) you return {_fmt(got)} instead of 0."
    if first < warmup:
        if first == 0 and got > 0:
            return (f"{where}: at step 0 you return {_fmt(got)} instead of 0: the warmup ramp is off by one. The "
                    f"multiplier at step s is s / num_warmup_steps (0, 1/{warmup}, 2/{warmup}, ...), not (s + 1) / ....")
        if math.isclose(got, 1.0) and first == warmup - 1:
            return (f"{where}: warmup reaches 1.0 at step {first}, one step early: it should reach 1.0 at step "
                    f"{warmup} (use `step < num_warmup_steps` for the warmup branch and divide by num_warmup_steps).")
        return (f"{where}: during warmup, at step {first} you return {_fmt(got)} instead of {_fmt(want)} "
                f"(= {first} / {warmup}). The ramp is step / num_warmup_steps.")
    # the decay region: warmup <= first < total
    if first == warmup and got < 1 and warmup > 0:
        if math.isclose(got, (total - warmup) / max(1, total)):
            return (f"{where}: at the end of warmup (step {warmup}) you return {_fmt(got)} instead of 1.0: the decay "
                    "divides by num_training_steps, so the rate drops at the end of warmup. Divide by "
                    "(num_training_steps - num_warmup_steps) so the decay starts from 1.")
        if math.isclose(got, (warmup - 1) / warmup) or math.isclose(got, warmup / (warmup + 1)):
            return (f"{where}: at step {warmup} you return {_fmt(got)} instead of 1.0: the warmup ends one step late "
                    "(off by one). Warmup is `step < num_warmup_steps`; from step num_warmup_steps on the multiplier "
                    "is 1 and decays.")
        return f"{where}: at the end of warmup (step {warmup}) the multiplier should be 1.0, you return {_fmt(got)}."
    if warmup > 0 and first == warmup and got > 1:
        return (f"{where}: at step {warmup} you return {_fmt(got)}, above 1: the warmup branch runs one step too "
                "long. Use `step < num_warmup_steps`.")
    if all(math.isclose(values[step], 1.0) for step in range(max(warmup, 0), total) if step in values):
        return (f"{where}: after warmup the multiplier stays at 1.0; it should decay linearly to 0 at "
                f"step {total}.")
    if warmup == 0 and math.isnan(got):
        return f"{where}: you return NaN at step {first}: guard the division with max(1, ...)."
    late = [step for step in wrong if step >= total]
    if late and values[total] > 0 and values.get(total - 1, 0) > 0:
        return (f"{where}: the decay never reaches zero: at step {total} you return {_fmt(values[total])}. The "
                "decay is (num_training_steps - step) / (num_training_steps - num_warmup_steps).")
    return (f"{where}: during the decay, at step {first} you return {_fmt(got)} instead of {_fmt(want)} "
            f"(= ({total} - {first}) / ({total} - {warmup})).")


def check_linear_schedule(fn) -> CheckResult:
    """Check ``fn(step, num_warmup_steps, num_training_steps) -> float`` against the linear schedule."""
    name = "linear warmup + decay schedule"
    if not callable(fn):
        return CheckResult(name, False, [f"pass the function itself, got {type(fn).__name__}."])
    for warmup, total in SETTINGS:
        values: dict[int, float] = {}
        for step in range(total + AFTER_END + 1):
            try:
                value = fn(step, warmup, total)
            except ZeroDivisionError:
                hint = " With num_warmup_steps=0 (no warmup) guard the division: max(1, num_warmup_steps)." \
                    if warmup == 0 else " Guard each division with max(1, ...)."
                return CheckResult(name, False, [
                    f"ZeroDivisionError at step {step} with num_warmup_steps={warmup}, "
                    f"num_training_steps={total}.{hint}"])
            except Exception as error:  # noqa: BLE001 - a learner's bug becomes a message, never a crash
                return CheckResult(name, False, [
                    f"your function raised {type(error).__name__}: {error} (step={step}, "
                    f"num_warmup_steps={warmup}, num_training_steps={total})."])
            if value is None:
                return CheckResult(name, False, [
                    "the function returned None: it should return the multiplier (a float) — did you forget "
                    "`return`?"])
            if hasattr(value, "item"):
                value = value.item()
            if not isinstance(value, (int, float)):
                return CheckResult(name, False, [
                    f"the function should return a number (the multiplier of the learning rate), got "
                    f"{type(value).__name__}."])
            values[step] = float(value)
        problem = _diagnose(values, warmup, total)
        if problem is not None:
            return CheckResult(name, False, [problem])
    return CheckResult(name, True, [
        "it matches get_linear_schedule_with_warmup at every step of " + ", ".join(
            f"(warmup {w}, total {t})" for w, t in SETTINGS) + "."])


__all__ = ["check_linear_schedule", "reference_linear_schedule"]
