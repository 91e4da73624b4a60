"""Learning-rate schedules, as transformers' ``get_scheduler`` and its ``get_*_schedule*`` helpers make them.

Each schedule is a multiplier of the optimizer's learning rate at step ``s`` (a ``LambdaLR``), with
``w`` warmup steps and ``T`` training steps:

    linear                  s/w during warmup, then (T - s) / (T - w) down to 0
    cosine                  s/w, then 0.5 * (1 + cos(pi * 2c * progress)), c = 0.5 cycles
    cosine_with_restarts    s/w, then 0.5 * (1 + cos(pi * ((c * progress) mod 1))), c = 1 cycle
    polynomial              s/w, then (lr - lr_end) * (1 - progress) ** power + lr_end, over lr
    constant                1
    constant_with_warmup    s/w, then 1

with ``progress = (s - w) / (T - w)``. Module-level functions (no lambdas), so a scheduler pickles and
its state saves with a Trainer checkpoint.
"""
from __future__ import annotations

import functools
import math

import torch


def _warming(step: int, warmup: int) -> float:
    return step / max(1, warmup)


def _linear(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return _warming(step, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def _cosine(step: int, warmup: int, total: int, num_cycles: float = 0.5) -> float:
    if step < warmup:
        return _warming(step, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * num_cycles * 2.0 * progress)))


def _cosine_with_restarts(step: int, warmup: int, total: int, num_cycles: int = 1) -> float:
    if step < warmup:
        return _warming(step, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    if progress >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((num_cycles * progress) % 1.0))))


def _polynomial(step: int, warmup: int, total: int, lr_init: float, lr_end: float = 1e-7,
                power: float = 1.0) -> float:
    if step < warmup:
        return _warming(step, warmup)
    if step > total:
        return lr_end / lr_init
    remaining = 1 - (step - warmup) / (total - warmup)
    return ((lr_init - lr_end) * remaining ** power + lr_end) / lr_init


def _constant(step: int, warmup: int, total: int) -> float:
    return 1.0


def _constant_with_warmup(step: int, warmup: int, total: int) -> float:
    return _warming(step, warmup) if step < warmup else 1.0


SCHEDULES = {"linear": _linear, "cosine": _cosine, "cosine_with_restarts": _cosine_with_restarts,
             "polynomial": _polynomial, "constant": _constant, "constant_with_warmup": _constant_with_warmup}


def get_scheduler(name, optimizer: torch.optim.Optimizer, num_warmup_steps: int | None = None,
                  num_training_steps: int | None = None, scheduler_specific_kwargs: dict | None = None):
    """A ``LambdaLR`` for ``name`` (one of ``SCHEDULES``; transformers' ``SchedulerType`` values work too).

    As in transformers, every schedule but ``constant`` needs ``num_warmup_steps``, and those that
    decay need ``num_training_steps``; ``scheduler_specific_kwargs`` passes ``num_cycles``
    (cosine ones) or ``lr_end`` / ``power`` (polynomial).
    """
    name = getattr(name, "value", name)  # an enum member
    if name not in SCHEDULES:
        raise ValueError(f"unknown lr_scheduler_type {name!r}; choose one of {sorted(SCHEDULES)}.")
    extra = dict(scheduler_specific_kwargs or {})
    if name != "constant" and num_warmup_steps is None:
        raise ValueError(f"the {name!r} schedule needs num_warmup_steps; pass it (0 for no warmup).")
    if name not in ("constant", "constant_with_warmup") and num_training_steps is None:
        raise ValueError(f"the {name!r} schedule needs num_training_steps; pass the total number of optimizer steps.")
    if name == "polynomial":
        lr_init = optimizer.defaults["lr"]
        lr_end = extra.get("lr_end", 1e-7)
        if not lr_init > lr_end:
            raise ValueError(f"lr_end ({lr_end}) must be smaller than the initial lr ({lr_init}).")
        extra["lr_init"] = lr_init
    multiplier = functools.partial(SCHEDULES[name], warmup=num_warmup_steps or 0, total=num_training_steps or 0,
                                   **extra)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)


def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps):
    return get_scheduler("linear", optimizer, num_warmup_steps, num_training_steps)


def get_cosine_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps, num_cycles: float = 0.5):
    return get_scheduler("cosine", optimizer, num_warmup_steps, num_training_steps, {"num_cycles": num_cycles})


def get_cosine_with_hard_restarts_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps,
                                                       num_cycles: int = 1):
    return get_scheduler("cosine_with_restarts", optimizer, num_warmup_steps, num_training_steps,
                         {"num_cycles": num_cycles})


def get_polynomial_decay_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps,
                                              lr_end: float = 1e-7, power: float = 1.0):
    return get_scheduler("polynomial", optimizer, num_warmup_steps, num_training_steps,
                         {"lr_end": lr_end, "power": power})


def get_constant_schedule(optimizer):
    return get_scheduler("constant", optimizer)


def get_constant_schedule_with_warmup(optimizer, num_warmup_steps):
    return get_scheduler("constant_with_warmup", optimizer, num_warmup_steps)


__all__ = [
    "SCHEDULES",
    "get_constant_schedule",
    "get_constant_schedule_with_warmup",
    "get_cosine_schedule_with_warmup",
    "get_cosine_with_hard_restarts_schedule_with_warmup",
    "get_linear_schedule_with_warmup",
    "get_polynomial_decay_schedule_with_warmup",
    "get_scheduler",
]
