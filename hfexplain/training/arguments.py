"""TrainingArguments: every knob of a training run, in one declarative dataclass.

The field names, defaults and meanings are those of ``transformers.TrainingArguments`` for
the subset we implement, so a script written against one runs against the other. Everything
is checked in ``__post_init__``: a wrong value fails when the arguments are built, with a
message that names the problem and the fix, long before the first training step.

The main groups:

* **how long**: ``num_train_epochs``, or ``max_steps`` (> 0 wins over epochs);
* **how big a step**: ``per_device_train_batch_size`` examples per forward pass, times
  ``gradient_accumulation_steps`` passes per optimizer step, times the number of processes;
* **the optimizer**: AdamW with ``learning_rate``, ``weight_decay`` (not on biases and norm
  weights), ``adam_beta1/2``, ``adam_epsilon``, gradients clipped to ``max_grad_norm``;
* **the schedule**: ``warmup_steps`` (an int, or a float below 1 meaning a fraction of all
  steps; ``warmup_ratio`` is the older spelling), then ``lr_scheduler_type``;
* **when to log / evaluate / save**: ``*_strategy`` is ``"no"``, ``"steps"`` (every
  ``*_steps`` optimizer steps) or ``"epoch"``;
* **precision**: ``bf16`` (autocast to bfloat16, CPU or GPU) or ``fp16`` (CUDA only, with a
  gradient scaler).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field

import torch

STRATEGIES = ("no", "steps", "epoch")
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup")
REPORTERS = ("none", "all", "tensorboard", "wandb")


@dataclass
class TrainingArguments:
    """The arguments of a :class:`~hfexplain.training.Trainer` run (transformers' names and defaults).

    >>> args = TrainingArguments("out", max_steps=20, per_device_train_batch_size=8, learning_rate=1e-3)
    >>> args.train_batch_size
    8
    """

    output_dir: str = "trainer_output"
    # how long
    num_train_epochs: float = 3.0
    max_steps: int = -1
    # batches
    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    # optimizer
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    # schedule
    lr_scheduler_type: str = "linear"
    warmup_steps: float = 0
    warmup_ratio: float | None = None
    # logging / evaluation / saving
    logging_strategy: str = "steps"
    logging_steps: float = 500
    logging_first_step: bool = False
    eval_strategy: str = "no"
    eval_steps: float | None = None
    save_strategy: str = "steps"
    save_steps: float = 500
    save_total_limit: int | None = None
    load_best_model_at_end: bool = False
    metric_for_best_model: str | None = None
    greater_is_better: bool | None = None
    # reproducibility and hardware
    seed: int = 42
    bf16: bool = False
    fp16: bool = False
    use_cpu: bool = False
    dataloader_num_workers: int = 0
    dataloader_drop_last: bool = False
    remove_unused_columns: bool = True
    label_names: list[str] | None = None
    disable_tqdm: bool = False
    report_to: str | list[str] = "none"

    def __post_init__(self) -> None:
        if self.output_dir is None or not str(self.output_dir):
            raise ValueError("output_dir must be a folder path where checkpoints go, e.g. TrainingArguments('out').")
        self.output_dir = os.fspath(self.output_dir)
        self._check_positive_ints()
        self._check_schedule()
        self._check_strategies()
        self._check_best_model()
        self._check_precision()
        self._check_report_to()

    # -- checks ----------------------------------------------------------------------------------
    def _check_positive_ints(self) -> None:
        for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if not isinstance(self.max_steps, int) or (self.max_steps < 1 and self.max_steps != -1) or self.max_steps == 0:
            raise ValueError(
                f"max_steps must be a positive integer (or -1 to train for num_train_epochs), got {self.max_steps!r}."
            )
        if self.max_steps == -1 and not self.num_train_epochs > 0:
            raise ValueError(
                f"num_train_epochs must be > 0 when max_steps is -1, got {self.num_train_epochs!r}; "
                "set num_train_epochs=1 or max_steps=N."
            )
        if self.learning_rate < 0 or not math.isfinite(self.learning_rate):
            raise ValueError(f"learning_rate must be a finite number >= 0, got {self.learning_rate!r}.")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}.")
        if self.max_grad_norm is not None and self.max_grad_norm < 0:
            raise ValueError(f"max_grad_norm must be >= 0 (0 or None: no clipping), got {self.max_grad_norm!r}.")
        if self.dataloader_num_workers < 0:
            raise ValueError(f"dataloader_num_workers must be >= 0, got {self.dataloader_num_workers!r}.")
        if self.save_total_limit is not None and self.save_total_limit < 1:
            raise ValueError(
                f"save_total_limit must be None (keep every checkpoint) or >= 1, got {self.save_total_limit!r}."
            )

    def _check_schedule(self) -> None:
        if self.lr_scheduler_type not in SCHEDULERS:
            raise ValueError(
                f"lr_scheduler_type {self.lr_scheduler_type!r} is not supported; choose one of {list(SCHEDULERS)}."
            )
        if self.warmup_ratio is not None:
            if self.warmup_steps:
                raise ValueError(
                    "warmup_steps and warmup_ratio are both set; give only one (warmup_steps=0.1 also means 10% "
                    "of the steps, as in transformers 5)."
                )
            if not 0 <= self.warmup_ratio < 1:
                raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}.")
        if self.warmup_steps < 0 or (isinstance(self.warmup_steps, float) and not self.warmup_steps.is_integer()
                                     and self.warmup_steps >= 1):
            raise ValueError(
                f"warmup_steps must be an integer >= 0 (a number of steps) or a float in [0, 1) (a fraction of "
                f"the training steps), got {self.warmup_steps!r}."
            )

    def _check_strategies(self) -> None:
        for name in ("logging_strategy", "eval_strategy", "save_strategy"):
            value = getattr(self, name)
            value = getattr(value, "value", value)  # accept an enum with .value, as transformers does
            if value not in STRATEGIES:
                raise ValueError(f"{name} must be one of {list(STRATEGIES)}, got {value!r}.")
            setattr(self, name, value)
        if self.eval_steps is None:
            self.eval_steps = self.logging_steps  # transformers' default
        for name in ("logging_steps", "eval_steps", "save_steps"):
            value = getattr(self, name)
            strategy = getattr(self, name.replace("_steps", "_strategy"))
            if strategy == "steps" and not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} must be > 0 when {name.replace('_steps', '_strategy')}='steps', got {value!r}.")
            if isinstance(value, float) and value > 1 and not value.is_integer():
                raise ValueError(
                    f"{name} must be an integer number of steps (or a float below 1: a fraction of the training "
                    f"steps), got {value!r}."
                )

    def _check_best_model(self) -> None:
        if self.load_best_model_at_end:
            if self.eval_strategy == "no":
                raise ValueError(
                    "load_best_model_at_end=True needs evaluations to compare checkpoints; set eval_strategy "
                    "('steps' or 'epoch') and give the Trainer an eval_dataset."
                )
            if self.save_strategy != self.eval_strategy:
                raise ValueError(
                    f"load_best_model_at_end=True needs save_strategy to match eval_strategy (a checkpoint for "
                    f"every evaluation), got save_strategy={self.save_strategy!r} and "
                    f"eval_strategy={self.eval_strategy!r}."
                )
            if self.eval_strategy == "steps" and self.save_steps % self.eval_steps != 0:
                raise ValueError(
                    f"load_best_model_at_end=True needs save_steps to be a multiple of eval_steps, got "
                    f"save_steps={self.save_steps} and eval_steps={self.eval_steps}."
                )
            if self.metric_for_best_model is None:
                self.metric_for_best_model = "loss"
        if self.metric_for_best_model is not None and self.greater_is_better is None:
            self.greater_is_better = self.metric_for_best_model.removeprefix("eval_") not in ("loss",)

    def _check_precision(self) -> None:
        if self.bf16 and self.fp16:
            raise ValueError("bf16 and fp16 are both set; pick one mixed-precision mode.")
        if self.fp16 and (self.use_cpu or not torch.cuda.is_available()):
            raise ValueError(
                "fp16=True needs a CUDA GPU (float16 autocast with a gradient scaler), and none is available; "
                "on CPU use bf16=True instead, or leave both off for float32."
            )

    def _check_report_to(self) -> None:
        report = [self.report_to] if isinstance(self.report_to, str) else list(self.report_to or ["none"])
        for name in report:
            if name not in REPORTERS:
                raise ValueError(f"report_to {name!r} is not supported; choose from {list(REPORTERS)}.")
        if any(name not in ("none",) for name in report):
            raise ValueError(
                f"report_to={self.report_to!r}: hfexplain writes its logs to trainer.state.log_history and the "
                "progress bar only; use report_to='none' and read state.log_history (or add a callback)."
            )
        self.report_to = report

    # -- derived values --------------------------------------------------------------------------
    @property
    def world_size(self) -> int:
        """Number of training processes (``WORLD_SIZE``, set by torchrun)."""
        return int(os.environ.get("WORLD_SIZE", "1"))

    @property
    def process_index(self) -> int:
        return int(os.environ.get("RANK", "0"))

    @property
    def local_process_index(self) -> int:
        return int(os.environ.get("LOCAL_RANK", "0"))

    @property
    def train_batch_size(self) -> int:
        """Examples per forward pass on this process."""
        return self.per_device_train_batch_size

    @property
    def eval_batch_size(self) -> int:
        return self.per_device_eval_batch_size

    @property
    def device(self) -> torch.device:
        if self.use_cpu or not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device("cuda", self.local_process_index)

    def get_warmup_steps(self, num_training_steps: int) -> int:
        """Warmup in optimizer steps: an integer as given, a float in [0, 1) as a fraction of all steps."""
        if self.warmup_ratio is not None:
            return math.ceil(num_training_steps * self.warmup_ratio)
        if isinstance(self.warmup_steps, float) and self.warmup_steps < 1:
            return math.ceil(num_training_steps * self.warmup_steps)
        return int(self.warmup_steps)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)
