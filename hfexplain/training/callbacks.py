"""Trainer state, control flags and callbacks.

The Trainer's loop is fixed; what varies between runs (when to log, evaluate, save, stop;
what to draw) is decided by *callbacks*: objects whose ``on_<event>`` methods the loop calls
at fixed points. Each gets ``(args, state, control, **kwargs)``:

* ``state`` (:class:`TrainerState`) says where training is (``global_step``, ``epoch``,
  ``log_history``, best metric so far); it is saved as ``trainer_state.json`` in every
  checkpoint;
* ``control`` (:class:`TrainerControl`) holds flags a callback may set
  (``should_log``, ``should_evaluate``, ``should_save``, ``should_training_stop``) that the
  loop acts on right after the event;
* the keyword arguments carry the objects of the moment (``model``, ``optimizer``,
  ``metrics`` for ``on_evaluate``, ``logs`` for ``on_log``).

Events, in the order the loop fires them: ``on_init_end``, ``on_train_begin``,
``on_epoch_begin``, ``on_step_begin``, ``on_step_end``, ``on_log``, ``on_evaluate``,
``on_save``, ``on_epoch_end``, ``on_train_end`` (and ``on_predict`` after ``predict``).
Names and signatures follow ``transformers.trainer_callback``.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainerState:
    """Where training stands; written as ``trainer_state.json`` into each checkpoint."""

    epoch: float | None = None
    global_step: int = 0
    max_steps: int = 0
    num_train_epochs: int = 0
    logging_steps: float = 500
    eval_steps: float = 500
    save_steps: float = 500
    train_batch_size: int | None = None
    log_history: list[dict[str, float]] = field(default_factory=list)
    best_metric: float | None = None
    best_global_step: int | None = None
    best_model_checkpoint: str | None = None
    total_flos: float = 0
    is_local_process_zero: bool = True
    is_world_process_zero: bool = True
    stateful_callbacks: dict[str, dict] = field(default_factory=dict)

    def save_to_json(self, json_path: str) -> None:
        from ..hub import write_text_atomically

        write_text_atomically(json_path, json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load_from_json(cls, json_path: str) -> TrainerState:
        from ..hub import read_json_object

        data = read_json_object(json_path, what="a trainer state",
                                fix="Resume from another checkpoint-N folder, or train without resuming.")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass
class TrainerControl:
    """Flags that callbacks set and the training loop obeys (and then resets)."""

    should_training_stop: bool = False
    should_epoch_stop: bool = False
    should_save: bool = False
    should_evaluate: bool = False
    should_log: bool = False

    def _new_training(self) -> None:
        self.should_training_stop = False

    def _new_epoch(self) -> None:
        self.should_epoch_stop = False

    def _new_step(self) -> None:
        self.should_save = False
        self.should_evaluate = False
        self.should_log = False


class TrainerCallback:
    """Base class: override the events you need; each may return a new ``control``."""

    def on_init_end(self, args, state, control, **kwargs): ...
    def on_train_begin(self, args, state, control, **kwargs): ...
    def on_train_end(self, args, state, control, **kwargs): ...
    def on_epoch_begin(self, args, state, control, **kwargs): ...
    def on_epoch_end(self, args, state, control, **kwargs): ...
    def on_step_begin(self, args, state, control, **kwargs): ...
    def on_step_end(self, args, state, control, **kwargs): ...
    def on_evaluate(self, args, state, control, **kwargs): ...
    def on_predict(self, args, state, control, **kwargs): ...
    def on_save(self, args, state, control, **kwargs): ...
    def on_log(self, args, state, control, **kwargs): ...


class CallbackHandler:
    """Calls every callback's method for an event, in order, passing the trainer's objects."""

    def __init__(self, callbacks: list[TrainerCallback]):
        self.callbacks: list[TrainerCallback] = []
        for callback in callbacks:
            self.add_callback(callback)

    def add_callback(self, callback) -> None:
        callback = callback() if isinstance(callback, type) else callback
        if not isinstance(callback, TrainerCallback):
            raise TypeError(
                f"callbacks must be TrainerCallback instances (or classes), got {type(callback).__name__}; "
                "subclass hfexplain.training.TrainerCallback and override the events you need."
            )
        self.callbacks.append(callback)

    def remove_callback(self, callback) -> TrainerCallback | None:
        for existing in self.callbacks:
            if existing is callback or (isinstance(callback, type) and isinstance(existing, callback)):
                self.callbacks.remove(existing)
                return existing
        return None

    def call_event(self, event: str, args, state, control, **kwargs) -> TrainerControl:
        for callback in self.callbacks:
            result = getattr(callback, event)(args, state, control, **kwargs)
            if result is not None:  # a callback may hand back a (modified) control
                control = result
        return control


def _every(step: int, interval: float, max_steps: int) -> bool:
    """True at every ``interval``-th step; a float interval below 1 is a fraction of ``max_steps``."""
    if interval < 1:
        interval = math.ceil(interval * max_steps)
    return step % int(interval) == 0


class DefaultFlowCallback(TrainerCallback):
    """Decides when to log, evaluate and save from the ``*_strategy`` / ``*_steps`` arguments."""

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if step == 1 and args.logging_first_step and args.logging_strategy != "no":
            control.should_log = True
        if args.logging_strategy == "steps" and _every(step, args.logging_steps, state.max_steps):
            control.should_log = True
        if args.eval_strategy == "steps" and _every(step, args.eval_steps, state.max_steps):
            control.should_evaluate = True
        if args.save_strategy == "steps" and _every(step, args.save_steps, state.max_steps):
            control.should_save = True
        if step >= state.max_steps:
            control.should_training_stop = True
            if args.save_strategy != "no":
                control.should_save = True  # the end of training always gets a checkpoint
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        if args.logging_strategy == "epoch":
            control.should_log = True
        if args.eval_strategy == "epoch":
            control.should_evaluate = True
        if args.save_strategy == "epoch":
            control.should_save = True
        return control


class ProgressCallback(TrainerCallback):
    """A tqdm progress bar over optimizer steps (only on the main process); logs show as its postfix."""

    def __init__(self):
        self.bar = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero and not args.disable_tqdm:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="train", dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is not None and logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class EarlyStoppingCallback(TrainerCallback):
    """Stop when ``args.metric_for_best_model`` has not improved for ``early_stopping_patience`` evaluations.

    "Improved" means better than the best so far by more than ``early_stopping_threshold``
    (in the direction ``args.greater_is_better`` gives). Its counter is saved in each
    checkpoint (``trainer_state.json`` -> ``stateful_callbacks``), so a resumed run stops
    where an uninterrupted one would.
    """

    def __init__(self, early_stopping_patience: int = 1, early_stopping_threshold: float = 0.0):
        if early_stopping_patience < 1:
            raise ValueError(f"early_stopping_patience must be >= 1, got {early_stopping_patience!r}.")
        self.early_stopping_patience = early_stopping_patience
        self.early_stopping_threshold = early_stopping_threshold
        self.early_stopping_patience_counter = 0
        self.best: float | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        if args.metric_for_best_model is None:
            raise ValueError(
                "EarlyStoppingCallback needs a metric to watch: set TrainingArguments(metric_for_best_model=...) "
                "(e.g. 'eval_loss' or 'accuracy') or load_best_model_at_end=True (which watches the loss)."
            )
        if args.eval_strategy == "no":
            raise ValueError(
                "EarlyStoppingCallback needs evaluations: set eval_strategy='steps' or 'epoch' and an eval_dataset."
            )
        saved = state.stateful_callbacks.get(type(self).__name__)
        if saved:  # resuming: carry on counting where the checkpoint left off
            self.early_stopping_patience_counter = saved["patience_counter"]
            self.best = saved["best"]

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        name = args.metric_for_best_model
        key = name if name.startswith("eval_") else f"eval_{name}"
        if metrics is None or key not in metrics:
            raise KeyError(
                f"EarlyStoppingCallback watches {key!r}, but the evaluation returned only {sorted(metrics or {})}; "
                "fix metric_for_best_model or make compute_metrics return it."
            )
        value = metrics[key]
        better = (
            self.best is None
            or (args.greater_is_better and value > self.best + self.early_stopping_threshold)
            or (not args.greater_is_better and value < self.best - self.early_stopping_threshold)
        )
        if better:
            self.best = value
            self.early_stopping_patience_counter = 0
        else:
            self.early_stopping_patience_counter += 1
        if self.early_stopping_patience_counter >= self.early_stopping_patience:
            control.should_training_stop = True
        state.stateful_callbacks[type(self).__name__] = {
            "patience_counter": self.early_stopping_patience_counter, "best": self.best
        }
        return control


__all__ = [
    "TrainerState", "TrainerControl", "TrainerCallback", "CallbackHandler", "DefaultFlowCallback",
    "ProgressCallback", "EarlyStoppingCallback",
]
