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
  ``optim="adamw_torch_fused"`` (the default, as in transformers) runs it as one fused kernel;
* **the schedule**: ``warmup_steps`` (an int, or a float below 1 meaning a fraction of all
  steps; ``warmup_ratio`` is the older spelling), then ``lr_scheduler_type``;
* **when to log / evaluate / save**: ``*_strategy`` is ``"no"``, ``"steps"`` (every
  ``*_steps`` optimizer steps) or ``"epoch"``;
* **precision**: ``bf16`` (autocast to bfloat16, CPU or GPU) or ``fp16`` (CUDA only, with a
  gradient scaler);
* **the Hub**: ``push_to_hub=True`` creates ``hub_model_id`` (default: the name of
  ``output_dir``) on the Hub when the Trainer is built and uploads the model through
  ``huggingface_hub`` (``hub_strategy`` says when); offline, the Trainer refuses at once.

The ``set_training`` / ``set_evaluate`` / ``set_testing`` / ``set_save`` / ``set_logging`` /
``set_push_to_hub`` / ``set_optimizer`` / ``set_lr_scheduler`` / ``set_dataloader`` helpers
are transformers' (same names, arguments and defaults); each returns the arguments, checked
again, so they chain: ``TrainingArguments("out").set_training(learning_rate=1e-4).set_save("no")``.
A helper argument that selects something hfexplain does not implement (another optimizer,
activation checkpointing) is refused by name rather than ignored.
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
HUB_STRATEGIES = ("end", "every_save", "checkpoint", "all_checkpoints")
OPTIMIZERS = ("adamw_torch", "adamw_torch_fused")  # torch.optim.AdamW, the second with fused=True


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
    report_to: str | list[str] | None = "none"
    # what the run is for (informational, as in transformers; set_training/set_evaluate/set_testing set them)
    do_train: bool = False
    do_eval: bool = False
    do_predict: bool = False
    # the model during training, and the data order
    optim: str = "adamw_torch_fused"  # transformers' default with torch >= 2.8
    use_cache: bool = False  # model.config.use_cache while training (no KV cache is needed for a loss)
    data_seed: int | None = None  # seed of the shuffling (default: seed)
    prediction_loss_only: bool = False
    # the Hub
    push_to_hub: bool = False
    hub_model_id: str | None = None
    hub_strategy: str = "every_save"
    hub_token: str | None = None
    hub_private_repo: bool | None = None
    hub_always_push: bool = False
    hub_revision: str | None = None

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
        self._check_hub()
        if self.optim not in OPTIMIZERS:
            raise ValueError(
                f"optim={self.optim!r} is not implemented in hfexplain, only {list(OPTIMIZERS)} (torch.optim.AdamW); "
                "for another optimizer pass Trainer(optimizers=(optimizer, scheduler))."
            )
        if self.eval_strategy != "no":
            self.do_eval = True  # as transformers

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
        if self.eval_strategy == "steps" and not self.eval_steps:
            self.eval_steps = self.logging_steps  # transformers' default: evaluate as often as it logs
        for name in ("logging_steps", "eval_steps", "save_steps"):
            value = getattr(self, name)
            strategy = getattr(self, name.replace("_steps", "_strategy"))
            if strategy == "steps" and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                            and value > 0):
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
            self.greater_is_better = not self.metric_for_best_model.endswith("loss")  # transformers' rule

    def _check_precision(self) -> None:
        if self.bf16 and self.fp16:
            raise ValueError("bf16 and fp16 are both set; pick one mixed-precision mode.")
        if self.fp16 and (self.use_cpu or not torch.cuda.is_available()):
            raise ValueError(
                "fp16=True needs a CUDA GPU (float16 autocast with a gradient scaler), and none is available; "
                "on CPU use bf16=True instead, or leave both off for float32."
            )

    def _check_report_to(self) -> None:
        """``"none"`` (the default) becomes ``[]`` as in transformers; integrations are refused by name."""
        report = [self.report_to] if isinstance(self.report_to, str) else list(self.report_to or [])
        for name in report:
            if name not in REPORTERS:
                raise ValueError(f"report_to {name!r} is not supported; choose from {list(REPORTERS)}.")
        if any(name != "none" for name in report):
            raise ValueError(
                f"report_to={self.report_to!r}: hfexplain writes its logs to trainer.state.log_history and the "
                "progress bar only; use report_to='none' and read state.log_history (or add a callback)."
            )
        self.report_to = []

    def _check_hub(self) -> None:
        strategy = getattr(self.hub_strategy, "value", self.hub_strategy)
        if strategy not in HUB_STRATEGIES:
            raise ValueError(f"hub_strategy must be one of {list(HUB_STRATEGIES)}, got {strategy!r}.")
        self.hub_strategy = strategy
        if self.hub_model_id is not None and (not isinstance(self.hub_model_id, str) or not self.hub_model_id
                                              or self.hub_model_id.count("/") > 1):
            raise ValueError(
                f"hub_model_id must be a repository name ('my-model') or 'namespace/my-model', got "
                f"{self.hub_model_id!r}."
            )

    # -- transformers' grouped setters ----------------------------------------------------------
    # Same names, arguments and defaults as transformers.TrainingArguments.set_*; each sets the
    # fields, runs the checks of __post_init__ again and returns the arguments (so calls chain).

    def _refuse(self, helper: str, **unsupported) -> None:
        for name, (value, default) in unsupported.items():
            if value != default:
                raise ValueError(
                    f"{helper}({name}={value!r}) is not implemented in hfexplain's Trainer; leave {name} at "
                    f"{default!r}."
                )

    def _recheck(self) -> TrainingArguments:
        self.__post_init__()
        return self

    def set_training(self, learning_rate: float = 5e-5, batch_size: int = 8, weight_decay: float = 0,
                     num_epochs: float = 3, max_steps: int = -1, gradient_accumulation_steps: int = 1, seed: int = 42,
                     activation_checkpointing: bool = False, gradient_checkpointing: bool | None = None
                     ) -> TrainingArguments:
        """The basic training arguments; sets ``do_train=True``."""
        self._refuse("set_training", activation_checkpointing=(activation_checkpointing, False),
                     gradient_checkpointing=(gradient_checkpointing or False, False))
        self.do_train = True
        self.learning_rate, self.per_device_train_batch_size, self.weight_decay = learning_rate, batch_size, weight_decay
        self.num_train_epochs, self.max_steps = num_epochs, max_steps
        self.gradient_accumulation_steps, self.seed = gradient_accumulation_steps, seed
        return self._recheck()

    def set_evaluate(self, strategy: str = "no", steps: int = 500, batch_size: int = 8,
                     accumulation_steps: int | None = None, delay: float | None = None, loss_only: bool = False
                     ) -> TrainingArguments:
        """When to evaluate and with what batch size; ``do_eval`` follows the strategy."""
        self._refuse("set_evaluate", accumulation_steps=(accumulation_steps, None), delay=(delay, None))
        strategy = getattr(strategy, "value", strategy)
        if strategy == "steps" and steps == 0:
            raise ValueError("Setting `strategy` as 'steps' requires a positive value for `steps`.")
        self.eval_strategy, self.eval_steps, self.per_device_eval_batch_size = strategy, steps, batch_size
        self.do_eval = strategy != "no"
        self.prediction_loss_only = loss_only
        return self._recheck()

    def set_testing(self, batch_size: int = 8, loss_only: bool = False) -> TrainingArguments:
        """Arguments for ``predict`` on a held-out set; sets ``do_predict=True``."""
        self.do_predict = True
        self.per_device_eval_batch_size, self.prediction_loss_only = batch_size, loss_only
        return self._recheck()

    def set_save(self, strategy: str = "steps", steps: int = 500, total_limit: int | None = None,
                 on_each_node: bool = False) -> TrainingArguments:
        """When to write checkpoints and how many to keep."""
        self._refuse("set_save", on_each_node=(on_each_node, False))
        strategy = getattr(strategy, "value", strategy)
        if strategy == "steps" and steps == 0:
            raise ValueError("Setting `strategy` as 'steps' requires a positive value for `steps`.")
        self.save_strategy, self.save_steps, self.save_total_limit = strategy, steps, total_limit
        return self._recheck()

    def set_logging(self, strategy: str = "steps", steps: int = 500, report_to: str | list[str] = "none",
                    level: str = "passive", first_step: bool = False, nan_inf_filter: bool = False,
                    on_each_node: bool = False, replica_level: str = "passive") -> TrainingArguments:
        """When to log; hfexplain logs to ``state.log_history`` and the progress bar (``report_to='none'``)."""
        self._refuse("set_logging", level=(level, "passive"), nan_inf_filter=(nan_inf_filter, False),
                     on_each_node=(on_each_node, False), replica_level=(replica_level, "passive"))
        strategy = getattr(strategy, "value", strategy)
        if strategy == "steps" and steps == 0:
            raise ValueError("Setting `strategy` as 'steps' requires a positive value for `steps`.")
        self.logging_strategy, self.logging_steps, self.report_to = strategy, steps, report_to
        self.logging_first_step = first_step
        return self._recheck()

    def set_push_to_hub(self, model_id: str, strategy: str = "every_save", token: str | None = None,
                        private_repo: bool | None = None, always_push: bool = False, revision: str | None = None
                        ) -> TrainingArguments:
        """Push to the Hub repository ``model_id`` (``hub_strategy`` = ``strategy``); sets ``push_to_hub=True``."""
        self.push_to_hub, self.hub_model_id, self.hub_strategy = True, model_id, strategy
        self.hub_token, self.hub_private_repo = token, private_repo
        self.hub_always_push, self.hub_revision = always_push, revision
        return self._recheck()

    def set_optimizer(self, name: str = "adamw_torch", learning_rate: float = 5e-5, weight_decay: float = 0,
                      beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8, args: str | None = None
                      ) -> TrainingArguments:
        """The optimizer and its hyper-parameters (hfexplain builds ``torch.optim.AdamW``, fused or not)."""
        self._refuse("set_optimizer", args=(args, None))
        self.optim = getattr(name, "value", name)
        self.learning_rate, self.weight_decay = learning_rate, weight_decay
        self.adam_beta1, self.adam_beta2, self.adam_epsilon = beta1, beta2, epsilon
        return self._recheck()

    def set_lr_scheduler(self, name: str = "linear", num_epochs: float = 3.0, max_steps: int = -1,
                         warmup_steps: float = 0) -> TrainingArguments:
        """The learning-rate schedule and the length of training it spans."""
        self.lr_scheduler_type = getattr(name, "value", name)
        self.num_train_epochs, self.max_steps, self.warmup_steps = num_epochs, max_steps, warmup_steps
        return self._recheck()

    def set_dataloader(self, train_batch_size: int = 8, eval_batch_size: int = 8, drop_last: bool = False,
                       num_workers: int = 0, pin_memory: bool = True, persistent_workers: bool = False,
                       prefetch_factor: int | None = None, multiprocessing_context: str | None = None,
                       in_order: bool = True, auto_find_batch_size: bool = False, ignore_data_skip: bool = False,
                       sampler_seed: int | None = None) -> TrainingArguments:
        """Batch sizes, workers and the shuffling seed (``data_seed``) of the data loaders."""
        self._refuse("set_dataloader", persistent_workers=(persistent_workers, False),
                     prefetch_factor=(prefetch_factor, None), multiprocessing_context=(multiprocessing_context, None),
                     in_order=(in_order, True), auto_find_batch_size=(auto_find_batch_size, False),
                     ignore_data_skip=(ignore_data_skip, False))
        # pin_memory only speeds up copies to a GPU; hfexplain's loaders do not pin, whatever it says
        self.per_device_train_batch_size, self.per_device_eval_batch_size = train_batch_size, eval_batch_size
        self.dataloader_drop_last, self.dataloader_num_workers, self.data_seed = drop_last, num_workers, sampler_seed
        return self._recheck()

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
        """The fields as a dict; a Hub token is written as ``"<HUB_TOKEN>"`` (checkpoints must not hold it)."""
        values = dataclasses.asdict(self)
        if values["hub_token"] is not None:
            values["hub_token"] = "<HUB_TOKEN>"
        return values

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)
