"""The lesson-10 checker: accepts the linear schedule, names each typical mistake precisely."""
import pytest
import torch

from hfexplain.exercises.training import SETTINGS, check_linear_schedule, reference_linear_schedule


def solution(step, num_warmup_steps, num_training_steps):
    if step < num_warmup_steps:
        return step / max(1, num_warmup_steps)
    return max(0.0, (num_training_steps - step) / max(1, num_training_steps - num_warmup_steps))


@pytest.mark.parametrize("warmup,total", SETTINGS)
def test_reference_matches_transformers(warmup, total):
    transformers = pytest.importorskip("transformers")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = transformers.get_linear_schedule_with_warmup(optimizer, warmup, total)
    for step in range(total + 4):
        assert scheduler.lr_lambdas[0](step) == pytest.approx(reference_linear_schedule(step, warmup, total), abs=1e-12)


def test_accepts_solution():
    result = check_linear_schedule(solution)
    assert result.passed, str(result)
    assert "correct" in str(result)


def test_accepts_hfexplain_scheduler_multiplier():
    from hfexplain.training.schedules import _linear

    assert check_linear_schedule(lambda s, w, t: _linear(s, w, t)).passed


def _result(fn):
    result = check_linear_schedule(fn)
    assert not result.passed
    return str(result)


def test_starter_returning_none():
    assert "returned None" in _result(lambda s, w, t: None)


def test_off_by_one_warmup_start():
    def wrong(s, w, t):
        if s < w:
            return (s + 1) / w
        return solution(s, w, t)
    assert "at step 0 you return 0.25 instead of 0: the warmup ramp is off by one" in _result(wrong)


def test_warmup_ends_one_step_late():
    def wrong(s, w, t):
        if s <= w:
            return s / max(1, w + 1)
        return solution(s, w, t)
    message = _result(wrong)
    assert "during warmup, at step 1" in message or "warmup ends one step late" in message


def test_decay_ignores_warmup_drops_at_end_of_warmup():
    def wrong(s, w, t):
        if s < w:
            return s / w
        return max(0.0, (t - s) / t)
    assert "drops at the end of warmup" in _result(wrong)


def test_never_reaches_zero():
    def wrong(s, w, t):
        if s < w:
            return s / w
        return max(0.0, (t - s + 1) / (t - w + 1))
    assert "never reaches zero" in _result(wrong)


def test_negative_after_the_end():
    def wrong(s, w, t):
        if s < w:
            return s / w
        return (t - s) / max(1, t - w)
    assert "goes negative" in _result(wrong) and "max(0.0" in _result(wrong)


def test_no_decay():
    def wrong(s, w, t):
        return s / w if s < w else 1.0
    assert "stays at 1.0" in _result(wrong)


def test_division_by_zero_without_warmup():
    def wrong(s, w, t):
        if s < w:
            return s / w
        return max(0.0, (t - s) / (t - w))
    # (3, 3): t - w == 0 at the last step
    assert "ZeroDivisionError" in _result(wrong)

    def wrong_warmup(s, w, t):
        if s <= w:
            return s / w
        return solution(s, w, t)
    message = _result(wrong_warmup)
    assert "above 1" in message or "ZeroDivisionError" in message


def test_not_callable_and_raising():
    assert "pass the function itself" in _result(3)

    def broken(s, w, t):
        raise RuntimeError("boom")
    assert "raised RuntimeError: boom" in _result(broken)
