"""Trainer: the training loop of transformers, small enough to read in one sitting.

One optimizer step is

1. take ``per_device_train_batch_size`` examples in a seeded order, collate them into
   tensors, run ``model(**batch)``: the model computes its own loss from ``labels``;
2. ``loss.backward()``; repeat ``gradient_accumulation_steps`` times, adding up gradients;
3. clip the gradient norm to ``max_grad_norm``, ``optimizer.step()`` (AdamW, fused by default),
   ``scheduler.step()`` (warmup then decay), ``optimizer.zero_grad()``;
4. let the callbacks decide whether to log, evaluate, save a checkpoint or stop.

Everything around that loop is about doing it *safely* and *repeatably*:

* **Exact resume.** The data order of epoch ``e`` is ``torch.randperm`` seeded with
  ``seed + e`` (what ``DistributedSampler`` does), so it never depends on what ran before.
  A checkpoint ``checkpoint-N/`` holds the model (``save_pretrained``), the optimizer and
  scheduler states, the random generators' states and ``trainer_state.json``. Resuming loads
  them all and skips the batches already seen in the current epoch (the generators are set
  back once the epoch's loader has drawn its seed, as transformers does), so the run
  continues bit for bit as if it had never stopped.
* **Atomic checkpoints.** A checkpoint is written into ``tmp-checkpoint-N/``, every file is
  flushed to disk (fsync), and only then is the folder renamed to ``checkpoint-N/`` (a rename
  is atomic). A crash mid-save leaves a ``tmp-`` folder that nothing ever loads.
* **Clear failures.** Missing labels, an evaluation strategy without an evaluation set, an
  unwritable ``output_dir`` and a broken checkpoint are refused before the first step; a
  NaN loss stops training at once (no checkpoint is written from NaN weights).
* **Several processes.** Under ``torchrun --nproc_per_node=K`` each process trains on its own
  ``1/K`` slice of every epoch (``DistributedSampler``), ``DistributedDataParallel`` averages
  the gradients, and only process 0 writes checkpoints and logs.

The same run as transformers' Trainer
-------------------------------------
On one process, with the same model, data, seed and arguments, this Trainer takes
``transformers.Trainer``'s steps (tests/test_trainer_parity.py: logged losses and weights
within 1e-5 over 30 steps, with and without gradient accumulation, dropout on or off):

* ``set_seed(args.seed)`` in ``__init__``; the order of epoch ``e`` is ``randperm`` seeded with
  ``seed + e`` (accelerate's ``SeedableRandomSampler``); every pass over a ``DataLoader``
  draws one number from torch's global generator (its workers' base seed), and batches are
  collated one ahead of use, so dropout and a masking collator see the same random stream;
* gradient accumulation divides by ``num_items_in_batch``: a token-mean loss (causal and
  masked LM, token classification, seq2seq) counts the label tokens (not -100) of all the
  step's micro-batches, ``labels[..., 1:]`` for a causal LM; other losses are averaged over
  micro-batches;
* the loss logged is the mean per optimizer step since the last log, unrounded; the learning
  rate logged is the one the step used; ``train()`` returns ``train_runtime``,
  ``train_samples_per_second``, ``train_steps_per_second``, ``train_loss`` and ``epoch`` (the
  final log also holds ``total_flos``); ``evaluate()`` adds ``epoch`` and, when it runs before
  any training, ``eval_model_preparation_time``; ``model.config.use_cache`` is
  ``args.use_cache`` (False) while training.

Differences from transformers' Trainer (deliberate)
---------------------------------------------------
* **GPT-2's token count.** transformers 5.23 shifts labels before counting only for models whose
  class name contains ``ForCausalLM``; ``GPT2LMHeadModel`` is counted unshifted, so its logged
  loss and gradient come out ``(n - 1) / n`` of the mean over the n - 1 predicted tokens (31/32
  for blocks of 32). hfexplain counts the predicted tokens for every causal LM.
* **Accumulating a loss that ignores the count.** transformers 5.23 passes ``num_items_in_batch``
  to every model whose ``forward`` takes ``**kwargs`` and then skips dividing by the
  accumulation steps, even when the model's loss ignores it (BERT's heads compute a plain
  mean: ``BertForSequenceClassification``, ``BertForMaskedLM``): with
  ``gradient_accumulation_steps=k`` its loss and gradient are k times the mean. hfexplain
  divides a masked-LM loss by the step's token count and averages a classifier's
  micro-batch means. (With ``k=1`` both agree, masks and dropout included.)
* **use_cache.** transformers sets ``model.config.use_cache = args.use_cache`` in ``__init__`` and
  leaves it; hfexplain sets it for ``train()`` and restores it afterwards, so ``generate`` after
  training keeps its KV cache.
* **A NaN or inf loss** stops training with an error naming the last good checkpoint
  (transformers logs the average of the previous losses instead and carries on).
* ``on_log`` callbacks receive the log entry with ``step`` in it (the dashboard plots by it).
* **push_to_hub** creates the repository in ``__init__`` (offline: an error before anything is
  written) and uploads synchronously after each save (``hub_strategy``) and in ``save_model``
  / ``push_to_hub``; no model card is drafted.
* **Several processes** shard each epoch with ``DistributedSampler`` (transformers shards
  batches with accelerate); reporting integrations (``report_to``) are refused by name.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import math
import os
import random
import re
import shutil
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from .schedules import get_scheduler
from .arguments import TrainingArguments
from .callbacks import (
    CallbackHandler,
    DefaultFlowCallback,
    EarlyStoppingCallback,
    ProgressCallback,
    TrainerCallback,
    TrainerControl,
    TrainerState,
)
from .collators import DataCollatorWithPadding, default_data_collator

PREFIX_CHECKPOINT_DIR = "checkpoint"
TRAINER_STATE_NAME = "trainer_state.json"
OPTIMIZER_NAME = "optimizer.pt"
SCHEDULER_NAME = "scheduler.pt"
SCALER_NAME = "scaler.pt"
TRAINING_ARGS_NAME = "training_args.json"
_CHECKPOINT_RE = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")


class EvalPrediction(NamedTuple):
    """What ``compute_metrics`` receives: ``predictions`` (logits) and ``label_ids``, numpy arrays."""

    predictions: np.ndarray | tuple
    label_ids: np.ndarray | None


class PredictionOutput(NamedTuple):
    predictions: np.ndarray | tuple
    label_ids: np.ndarray | None
    metrics: dict[str, float]


class TrainOutput(NamedTuple):
    global_step: int
    training_loss: float
    metrics: dict[str, float]


def set_seed(seed: int) -> None:
    """Seed Python's, numpy's and torch's random generators (what ``transformers.set_seed`` does)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def get_last_checkpoint(folder: str) -> str | None:
    """The ``checkpoint-N`` folder with the largest N in ``folder`` (only complete ones), or None.

    Complete means renamed into place: a ``tmp-checkpoint-N`` left by a crash mid-save is
    never returned.
    """
    if not os.path.isdir(folder):
        return None
    steps = [
        (int(match.group(1)), name)
        for name in os.listdir(folder)
        if (match := _CHECKPOINT_RE.match(name))
        and os.path.isfile(os.path.join(folder, name, TRAINER_STATE_NAME))
    ]
    return os.path.join(folder, max(steps)[1]) if steps else None


# -- random generator states ------------------------------------------------------------------


def _rng_state() -> dict:
    numpy_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]),
        "cpu": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _torch_save(obj: Any, path: str) -> None:
    """``torch.save`` through hub's atomic writer (a full disk names the disk and the size needed)."""
    from .. import hub

    hub.write_file_atomically(path, functools.partial(_call_torch_save, obj), size_hint=_tensor_bytes(obj))


def _call_torch_save(obj: Any, path: str) -> None:
    torch.save(obj, path)


def _tensor_bytes(obj: Any) -> int:
    """The bytes of all tensors in a (nested) state dict: about what torch.save writes."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, Mapping):
        return sum(_tensor_bytes(value) for value in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(value) for value in obj)
    return 0


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy() if tensor.is_floating_point() else tensor.detach().cpu().numpy()


def _concat(arrays: list[np.ndarray], padding_index: int = -100) -> np.ndarray:
    """Concatenate batch results along dim 0, padding dim 1 when batches differ in length (token tasks)."""
    if arrays[0].ndim < 2 or all(a.shape[1:] == arrays[0].shape[1:] for a in arrays):
        return np.concatenate(arrays, axis=0)
    longest = max(a.shape[1] for a in arrays)
    padded = []
    for array in arrays:
        widths = [(0, 0), (0, longest - array.shape[1])] + [(0, 0)] * (array.ndim - 2)
        padded.append(np.pad(array, widths, constant_values=padding_index))
    return np.concatenate(padded, axis=0)


_OUTPUT_FIELDS_NOT_PREDICTIONS = ("loss", "hidden_states", "attentions", "past_key_values")

# Tasks whose loss is a mean over label tokens (not -100), and the shift of their labels: a causal
# LM predicts labels[t + 1] at t, so labels[..., 0] is never a target (transformers' counting rule).
_TOKEN_MEAN_TASKS = {"causal-lm": 1, "masked-lm": 0, "token-classification": 0, "seq2seq-lm": 0,
                     "speech-seq2seq": 0}


def _items_rule(model: nn.Module) -> int | None:
    """The label shift of ``model``'s token-mean loss (1 or 0), or None when its loss is not one.

    Read from the registry: the task a hfexplain class is declared for. A model that is not
    registered (any ``nn.Module``) has its micro-batch losses averaged.
    """
    from ..models import FAMILIES

    name = type(model).__name__
    for family in FAMILIES.values():
        for task, class_name in family.models.items():
            if class_name == name:
                return _TOKEN_MEAN_TASKS.get(task)
    return None


def _items_in(labels, shift: int) -> int | None:
    """Label tokens a token-mean loss averages over: entries of ``labels[..., shift:]`` that are not -100."""
    if not isinstance(labels, torch.Tensor) or labels.dim() == 0:
        return None
    return int(labels[..., shift:].ne(-100).sum())


def _look_ahead(loader):
    """Iterate ``loader`` one batch ahead, as accelerate's loader does in transformers' Trainer.

    The next batch is collated before the current one is handed out, so a collator that draws
    random numbers (masking) draws them at the same moments as there.
    """
    iterator = iter(loader)
    try:
        current = next(iterator)
    except StopIteration:
        return
    for following in iterator:
        yield current
        current = following
    yield current


def _speed_metrics(prefix: str, runtime: float, samples: float, steps: int) -> dict[str, float]:
    """``<prefix>_runtime`` (s, 4 decimals), ``_samples_per_second`` and ``_steps_per_second`` (3 decimals)."""
    return {
        f"{prefix}_runtime": round(runtime, 4),
        f"{prefix}_samples_per_second": round(samples / max(runtime, 1e-9), 3),
        f"{prefix}_steps_per_second": round(steps / max(runtime, 1e-9), 3),
    }


class Trainer:
    """Train, evaluate and predict with a hfexplain (or any ``nn.Module``) model.

    Args:
        model: returns an output with ``.loss`` when given ``labels`` (every hfexplain head does).
        args: :class:`TrainingArguments` (default: ``TrainingArguments("trainer_output")``).
        data_collator: list of examples -> batch of tensors. Default: padding with
            ``processing_class`` when it is a tokenizer, else stacking.
        train_dataset, eval_dataset: a ``datasets.Dataset``, a list of dicts, or any
            map-style dataset. Columns the model's ``forward`` does not take are dropped.
        processing_class: the tokenizer; saved into every checkpoint next to the model.
        compute_metrics: ``EvalPrediction -> dict`` of metrics added to evaluations.
        callbacks: extra :class:`TrainerCallback` s (e.g. ``EarlyStoppingCallback``).
        optimizers: ``(optimizer, scheduler)`` to use instead of AdamW + the schedule.
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        args: TrainingArguments | None = None,
        data_collator: Callable | None = None,
        train_dataset=None,
        eval_dataset=None,
        processing_class=None,
        compute_metrics: Callable[[EvalPrediction], dict] | None = None,
        callbacks: list[TrainerCallback] | None = None,
        optimizers: tuple = (None, None),
    ):
        if model is None:
            raise ValueError("Trainer needs a model, e.g. Trainer(model=AutoModelForSequenceClassification...(...)).")
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        self.args = args if args is not None else TrainingArguments("trainer_output")
        if not isinstance(self.args, TrainingArguments):
            raise TypeError(f"args must be a TrainingArguments, got {type(self.args).__name__}.")
        # Seeded here, as transformers does: everything random from now on (the loaders' base seeds,
        # dropout, a masking collator) draws from this one global stream, in the same order.
        set_seed(self.args.seed)
        self.hub_model_id = self._init_hub_repo() if self.args.push_to_hub else None
        if self.args.eval_strategy != "no" and eval_dataset is None:
            raise ValueError(
                f"eval_strategy={self.args.eval_strategy!r} asks for evaluations, but no eval_dataset was given. "
                "Pass eval_dataset=... to the Trainer, or set eval_strategy='no'."
            )
        self.model = model.to(self.args.device)
        self.processing_class = processing_class
        self.compute_metrics = compute_metrics
        if data_collator is None:
            data_collator = (DataCollatorWithPadding(processing_class) if callable(getattr(processing_class, "pad", None))
                             else default_data_collator)
        self.data_collator = data_collator
        self._forward_arguments = set(inspect.signature(_unwrap(model).forward).parameters)
        self.label_names = self.args.label_names or [
            name for name in ("labels", "start_positions", "end_positions") if name in self._forward_arguments
        ] or ["labels"]
        self.train_dataset = self._remove_unused_columns(train_dataset)
        self.eval_dataset = self._remove_unused_columns(eval_dataset)
        self.optimizer, self.lr_scheduler = optimizers
        self.scaler = None
        self.state = TrainerState(epoch=0.0, is_local_process_zero=self.args.local_process_index == 0,
                                  is_world_process_zero=self.args.process_index == 0)  # epoch 0, as transformers
        self.control = TrainerControl()
        self.callback_handler = CallbackHandler([DefaultFlowCallback(), ProgressCallback(), *(callbacks or [])])
        self.control = self.callback_handler.call_event("on_init_end", self.args, self.state, self.control)
        self._wrapped_model: nn.Module = self.model  # the DistributedDataParallel wrapper under torchrun
        self._last_grad_norm: float | None = None
        self._last_learning_rate: float | None = None
        self._trained = False  # evaluate() before any training reports eval_model_preparation_time
        # How the model's loss averages, so accumulated micro-batches add up to the step's loss.
        self._label_shift = _items_rule(_unwrap(model))

    # -- the Hub ---------------------------------------------------------------------------------
    def _init_hub_repo(self) -> str:
        """Create (or find) the Hub repository ``push_to_hub`` uploads to; its id.

        Called by ``__init__``, so a missing network, offline mode or a refused token fails
        before any training and before anything is written.
        """
        import huggingface_hub
        from huggingface_hub import constants

        args = self.args
        repo_id = args.hub_model_id or os.path.basename(os.path.abspath(args.output_dir))
        if constants.HF_HUB_OFFLINE:
            raise huggingface_hub.errors.OfflineModeIsEnabled(
                f"push_to_hub=True needs the Hugging Face Hub to create {repo_id!r}, but offline mode is on "
                "(HF_HUB_OFFLINE=1), so nothing was trained or written. Set push_to_hub=False and upload "
                "output_dir later with huggingface_hub.upload_folder, or unset HF_HUB_OFFLINE (and log in with "
                "`hf auth login` or pass hub_token)."
            )
        if args.process_index != 0:
            return repo_id  # process 0 creates it
        try:
            url = huggingface_hub.create_repo(repo_id, token=args.hub_token, private=args.hub_private_repo,
                                              exist_ok=True)
        except Exception as error:  # noqa: BLE001 - re-raised with the repository and the fix
            raise OSError(
                f"push_to_hub=True could not create the Hub repository {repo_id!r} ({type(error).__name__}: "
                f"{error}); nothing was trained. Check the network and the token (hub_token or `hf auth login`), "
                "or set push_to_hub=False."
            ) from error
        return url.repo_id

    def _upload(self, folder: str, message: str, path_in_repo: str | None = None,
                allow_patterns: list[str] | None = None) -> None:
        import huggingface_hub

        huggingface_hub.upload_folder(
            repo_id=self.hub_model_id, folder_path=folder, path_in_repo=path_in_repo, commit_message=message,
            token=self.args.hub_token, revision=self.args.hub_revision, allow_patterns=allow_patterns,
            ignore_patterns=[f"{PREFIX_CHECKPOINT_DIR}-*", f"tmp-{PREFIX_CHECKPOINT_DIR}-*", ".hfexplain-tmp*",
                             ".write-test-*"] if path_in_repo is None else [".hfexplain-tmp*"],
        )

    def push_to_hub(self, commit_message: str | None = "End of training", blocking: bool = True,
                    token: str | None = None, revision: str | None = None) -> None:
        """Save the model (and tokenizer) into ``output_dir`` and upload it to ``hub_model_id``.

        ``blocking`` is accepted for transformers' signature; hfexplain's uploads always block.
        """
        if token is not None:
            self.args.hub_token = token
        if revision is not None:
            self.args.hub_revision = revision
        if self.hub_model_id is None:
            self.hub_model_id = self._init_hub_repo()
        self.save_model(_internal_call=True)
        if self.state.is_world_process_zero:
            self._upload(self.args.output_dir, commit_message or "End of training")

    def _push_from_checkpoint(self, checkpoint: str) -> None:
        """After each save (hub_strategy != 'end'): the model files to the repository's root, and for
        'checkpoint' / 'all_checkpoints' the whole folder as ``last-checkpoint/`` / ``checkpoint-N/``."""
        strategy = self.args.hub_strategy
        if not self.args.push_to_hub or strategy == "end" or not self.state.is_world_process_zero:
            return
        message = f"Training in progress, step {self.state.global_step}"
        model_files = ["*.json", "*.safetensors", "*.txt", "*.model", "README.md"]
        self._upload(checkpoint, message, path_in_repo=".", allow_patterns=model_files)
        if strategy == "checkpoint":
            self._upload(checkpoint, message, path_in_repo="last-checkpoint")
        elif strategy == "all_checkpoints":
            self._upload(checkpoint, message, path_in_repo=os.path.basename(checkpoint))

    # -- callbacks -------------------------------------------------------------------------------
    def add_callback(self, callback) -> None:
        self.callback_handler.add_callback(callback)

    def remove_callback(self, callback) -> None:
        self.callback_handler.remove_callback(callback)

    def pop_callback(self, callback) -> TrainerCallback | None:
        return self.callback_handler.remove_callback(callback)

    def _event(self, name: str, **kwargs) -> None:
        self.control = self.callback_handler.call_event(
            name, self.args, self.state, self.control, model=self.model, processing_class=self.processing_class,
            optimizer=self.optimizer, lr_scheduler=self.lr_scheduler, **kwargs
        )

    # -- data ------------------------------------------------------------------------------------
    def _kept_columns(self) -> set[str]:
        return self._forward_arguments | set(self.label_names) | {"label", "label_ids"}

    def _remove_unused_columns(self, dataset):
        """Drop the columns ``model.forward`` does not take (``text``, ``idx`` ...), as transformers does.

        A ``datasets.Dataset`` loses them with ``remove_columns``; other datasets (lists of
        dicts) are filtered example by example when batches are collated.
        """
        if dataset is None or not self.args.remove_unused_columns:
            return dataset
        columns = getattr(dataset, "column_names", None)
        if columns is None or not callable(getattr(dataset, "remove_columns", None)):
            return dataset
        kept = self._kept_columns()
        if not kept & set(columns):
            raise ValueError(
                f"No column of the dataset ({columns}) is an argument of {type(_unwrap(self.model)).__name__}.forward "
                f"({sorted(self._forward_arguments)}). Tokenize the text first (dataset.map(tokenize, batched=True)) "
                "so it has input_ids."
            )
        unused = [name for name in columns if name not in kept]
        return dataset.remove_columns(unused) if unused else dataset

    def _collate(self, examples: list) -> dict:
        if self.args.remove_unused_columns and examples and isinstance(examples[0], Mapping):
            kept = self._kept_columns()
            examples = [{k: v for k, v in example.items() if k in kept} for example in examples]
        return self.data_collator(examples)

    def _batches_of_epoch(self, dataset, epoch: int) -> list[list[int]]:
        """The index batches this process trains on in ``epoch``, in order.

        A ``DistributedSampler`` with ``num_replicas`` = number of processes: it shuffles with
        ``torch.randperm`` seeded by ``seed + epoch`` (``data_seed + epoch`` if set) and gives
        process r every K-th index starting at r. With one process this is exactly the order of
        transformers' sampler (accelerate's ``SeedableRandomSampler``: ``randperm`` seeded with
        ``seed + epoch``). No global random state is touched, so the order is the same whether or
        not the run was resumed.
        """
        sampler = torch.utils.data.DistributedSampler(
            dataset, num_replicas=self.args.world_size, rank=self.args.process_index, shuffle=True,
            seed=self.args.seed if self.args.data_seed is None else self.args.data_seed,
            drop_last=self.args.dataloader_drop_last,
        )
        sampler.set_epoch(epoch)
        indices = list(sampler)
        size = self.args.per_device_train_batch_size
        batches = [indices[start:start + size] for start in range(0, len(indices), size)]
        if self.args.dataloader_drop_last and batches and len(batches[-1]) < size:
            batches.pop()
        return batches

    def _dataloader(self, dataset, batches) -> torch.utils.data.DataLoader:
        # No private generator, as in transformers: starting an iteration over the loader draws its
        # workers' base seed from torch's global generator (one draw per epoch, one per evaluation).
        # Dropout then sees the same stream as in transformers, and a resumed run restores the
        # stream after that draw (see train()).
        return torch.utils.data.DataLoader(
            dataset, batch_sampler=batches, collate_fn=self._collate, num_workers=self.args.dataloader_num_workers,
        )

    def get_eval_dataloader(self, eval_dataset=None) -> torch.utils.data.DataLoader:
        dataset = self._remove_unused_columns(eval_dataset) if eval_dataset is not None else self.eval_dataset
        if dataset is None:
            raise ValueError("evaluate() needs an eval_dataset: pass one to the Trainer or to evaluate().")
        size = self.args.per_device_eval_batch_size
        batches = [list(range(start, min(start + size, len(dataset)))) for start in range(0, len(dataset), size)]
        return self._dataloader(dataset, batches)

    # -- optimizer and schedule --------------------------------------------------------------------
    def create_optimizer(self) -> torch.optim.Optimizer:
        """AdamW; no weight decay on biases and normalisation weights (as transformers)."""
        if self.optimizer is None:
            decay, no_decay, seen = [], [], set()
            for module in _unwrap(self.model).modules():
                is_norm = "Norm" in type(module).__name__
                for name, parameter in module.named_parameters(recurse=False):
                    if not parameter.requires_grad or id(parameter) in seen:
                        continue  # tied weights (lm_head = wte) are one parameter: optimise it once
                    seen.add(id(parameter))
                    (no_decay if is_norm or name == "bias" else decay).append(parameter)
            groups = [{"params": decay, "weight_decay": self.args.weight_decay},
                      {"params": no_decay, "weight_decay": 0.0}]
            self.optimizer = torch.optim.AdamW(
                groups, lr=self.args.learning_rate, betas=(self.args.adam_beta1, self.args.adam_beta2),
                eps=self.args.adam_epsilon, fused=self.args.optim == "adamw_torch_fused" or None,
            )
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        if self.lr_scheduler is None:
            self.lr_scheduler = get_scheduler(
                self.args.lr_scheduler_type, optimizer or self.optimizer,
                num_warmup_steps=self.args.get_warmup_steps(num_training_steps), num_training_steps=num_training_steps,
            )
        return self.lr_scheduler

    # -- checks before training -----------------------------------------------------------------------
    def _check_output_dir(self) -> None:
        """Make sure checkpoints can be written: create ``output_dir`` and write a probe file."""
        folder = self.args.output_dir
        try:
            os.makedirs(folder, exist_ok=True)
            probe = os.path.join(folder, f".write-test-{os.getpid()}")
            with open(probe, "w") as handle:
                handle.write("ok")
            os.remove(probe)
        except OSError as error:
            raise OSError(
                f"output_dir {folder!r} is not writable ({type(error).__name__}: {error.strerror or error}); "
                "checkpoints could not be saved. Pick a folder you can write to: TrainingArguments(output_dir=...)."
            ) from None

    def _check_labels(self) -> None:
        """Collate one example and make sure it carries what the loss needs (before any step runs)."""
        if self.train_dataset is None:
            raise ValueError("train() needs a train_dataset: pass Trainer(..., train_dataset=...).")
        if len(self.train_dataset) == 0:
            raise ValueError("train_dataset is empty: there is nothing to train on.")
        with torch.random.fork_rng(devices=[]):  # an MLM collator draws random masks: do not disturb the seed
            python_state = random.getstate()
            batch = self._collate([self.train_dataset[0]])
            random.setstate(python_state)
        missing = [name for name in self.label_names if name not in batch]
        if missing:
            model_name = type(_unwrap(self.model)).__name__
            raise ValueError(
                f"The training batches have no {missing} (they hold {sorted(batch)}), but {model_name} needs "
                f"labels to compute a loss. Add a 'labels' (or 'label') column to the dataset; for language "
                "modelling use DataCollatorForLanguageModeling, which makes the labels from input_ids."
            )

    def _resolve_checkpoint(self, resume_from_checkpoint) -> str | None:
        """The checkpoint folder to resume from, checked file by file before anything is loaded."""
        if resume_from_checkpoint in (None, False):
            return None
        if resume_from_checkpoint is True:
            found = get_last_checkpoint(self.args.output_dir)
            if found is None:
                raise ValueError(
                    f"No valid checkpoint found in output directory ({self.args.output_dir!r}) to resume from. "
                    "Train without resume_from_checkpoint first, or pass the path of a checkpoint-N folder."
                )
            resume_from_checkpoint = found
        path = os.fspath(resume_from_checkpoint)
        if not os.path.isdir(path):
            raise ValueError(
                f"Can't find a valid checkpoint at {path!r}: no such folder. Pass a checkpoint-N folder that "
                f"train() wrote (the latest in output_dir is {get_last_checkpoint(self.args.output_dir)!r})."
            )
        weights = [name for name in ("model.safetensors", "model.safetensors.index.json")
                   if os.path.isfile(os.path.join(path, name))]
        rng_name = "rng_state.pth" if self.args.world_size == 1 else f"rng_state_{self.args.process_index}.pth"
        needed = [TRAINER_STATE_NAME, OPTIMIZER_NAME, SCHEDULER_NAME, rng_name]
        missing = [name for name in needed if not os.path.isfile(os.path.join(path, name))]
        if not weights:
            missing.append("model.safetensors")
        if missing:
            raise ValueError(
                f"The checkpoint {path!r} is incomplete: it lacks {missing}. It may be a partial copy; resume "
                "from another checkpoint-N folder (they are only ever written whole)."
            )
        try:
            TrainerState.load_from_json(os.path.join(path, TRAINER_STATE_NAME))
            self._read_checkpoint_weights(path)
            for name in (OPTIMIZER_NAME, SCHEDULER_NAME, rng_name):
                torch.load(os.path.join(path, name), weights_only=True)
        except Exception as error:  # noqa: BLE001 - re-raised with the file and the fix
            raise ValueError(
                f"The checkpoint {path!r} is corrupt and cannot be resumed from ({type(error).__name__}: {error}). "
                "Resume from an earlier checkpoint-N folder, or start again without resume_from_checkpoint."
            ) from error
        return path

    def _read_checkpoint_weights(self, path: str) -> dict[str, torch.Tensor]:
        """The checkpoint's weights, read as from_pretrained reads them (one file or an index and its
        shards; shard names are checked, overlapping shards refused)."""
        from .. import hub

        files, fmt = hub.resolve_weight_files(path, use_safetensors=True)
        return hub.load_state_dict(files, fmt)

    def _load_checkpoint_into_model(self, path: str) -> None:
        model = _unwrap(self.model)
        state_dict = self._read_checkpoint_weights(path)
        tied = model._tied_targets() if hasattr(model, "_tied_targets") else set()
        result = model.load_state_dict(state_dict, strict=False)
        missing = [key for key in result.missing_keys if key not in tied]
        if missing or result.unexpected_keys:
            raise ValueError(
                f"The checkpoint {path!r} was written for another model: missing {missing[:5]}, unexpected "
                f"{result.unexpected_keys[:5]}. Resume with the same model class and config that wrote it."
            )
        if hasattr(model, "tie_weights"):
            model.tie_weights()

    # -- the training loop ------------------------------------------------------------------------
    def _setup_distributed(self) -> None:
        """Join the process group torchrun set up, and wrap the model in DistributedDataParallel."""
        if self.args.world_size == 1:
            return
        import torch.distributed as dist

        if not dist.is_initialized():
            backend = "nccl" if self.args.device.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend)
        if not isinstance(self._wrapped_model, nn.parallel.DistributedDataParallel):
            device_ids = [self.args.device.index] if self.args.device.type == "cuda" else None
            self._wrapped_model = nn.parallel.DistributedDataParallel(self.model, device_ids=device_ids)

    def _barrier(self) -> None:
        if self.args.world_size > 1:
            torch.distributed.barrier()

    def _autocast(self):
        device_type = self.args.device.type
        if self.args.bf16:
            return torch.autocast(device_type, dtype=torch.bfloat16)
        if self.args.fp16:
            return torch.autocast(device_type, dtype=torch.float16)
        return contextlib.nullcontext()

    def compute_loss(self, model: nn.Module, inputs: dict, return_outputs: bool = False):
        """Run the model on a batch and return its loss (and outputs)."""
        outputs = model(**inputs)
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else getattr(outputs, "loss", None)
        if loss is None:
            keys = list(outputs.keys()) if hasattr(outputs, "keys") else type(outputs).__name__
            raise ValueError(
                f"The model did not return a loss from the inputs, only {keys}; it received {sorted(inputs)}. "
                "Give the batches 'labels' so the model computes its loss."
            )
        return (loss, outputs) if return_outputs else loss

    def train(self, resume_from_checkpoint: str | bool | None = None) -> TrainOutput:
        """Train; ``resume_from_checkpoint`` = a ``checkpoint-N`` path, or True for the latest in ``output_dir``."""
        args = self.args
        checkpoint = self._resolve_checkpoint(resume_from_checkpoint)
        self._check_output_dir()
        self._check_labels()
        self._setup_distributed()
        config = getattr(_unwrap(self.model), "config", None)
        saved_use_cache = getattr(config, "use_cache", None)
        if saved_use_cache is not None:
            config.use_cache = args.use_cache  # a loss needs no KV cache; transformers sets it False too
        try:
            return self._train(checkpoint)
        finally:
            if saved_use_cache is not None:
                config.use_cache = saved_use_cache  # generate() after training has its cache again

    def _train(self, checkpoint: str | None) -> TrainOutput:
        args = self.args
        batches_per_epoch = len(self._batches_of_epoch(self.train_dataset, 0))
        updates_per_epoch = max(1, math.ceil(batches_per_epoch / args.gradient_accumulation_steps))
        if args.max_steps > 0:
            max_steps = args.max_steps
            train_samples = max_steps * args.train_batch_size * args.gradient_accumulation_steps * args.world_size
        else:
            max_steps = math.ceil(args.num_train_epochs * updates_per_epoch)
            train_samples = len(self.train_dataset) * args.num_train_epochs
        num_epochs = math.ceil(max_steps / updates_per_epoch)

        self.create_optimizer()
        self.create_scheduler(max_steps)
        if args.fp16:
            self.scaler = torch.amp.GradScaler("cuda")
        self.state = TrainerState(
            epoch=0.0, max_steps=max_steps, num_train_epochs=num_epochs, logging_steps=args.logging_steps,
            eval_steps=args.eval_steps, save_steps=args.save_steps, train_batch_size=args.train_batch_size,
            is_local_process_zero=args.local_process_index == 0, is_world_process_zero=args.process_index == 0,
        )
        rng_state = None
        if checkpoint is not None:
            self._load_checkpoint_into_model(checkpoint)
            self.optimizer.load_state_dict(torch.load(os.path.join(checkpoint, OPTIMIZER_NAME), weights_only=True))
            self.lr_scheduler.load_state_dict(torch.load(os.path.join(checkpoint, SCHEDULER_NAME), weights_only=True))
            if self.scaler is not None and os.path.isfile(os.path.join(checkpoint, SCALER_NAME)):
                self.scaler.load_state_dict(torch.load(os.path.join(checkpoint, SCALER_NAME), weights_only=True))
            saved = TrainerState.load_from_json(os.path.join(checkpoint, TRAINER_STATE_NAME))
            for name in ("global_step", "epoch", "log_history", "best_metric", "best_global_step",
                         "best_model_checkpoint", "total_flos", "stateful_callbacks"):
                setattr(self.state, name, getattr(saved, name))
            rng_name = "rng_state.pth" if args.world_size == 1 else f"rng_state_{args.process_index}.pth"
            rng_state = torch.load(os.path.join(checkpoint, rng_name), weights_only=True)
        epochs_done, updates_done_in_epoch = divmod(self.state.global_step, updates_per_epoch)

        self.model.train()
        self._trained = True
        self.control._new_training()
        self._event("on_train_begin")

        start_time = time.time()
        start_step = self.state.global_step
        # Losses add up in float32 on the device, as in transformers (drained at each log).
        self._loss_since_log = torch.zeros((), device=args.device)
        self._total_loss, self._last_logged_step = 0.0, self.state.global_step
        for epoch in range(epochs_done, num_epochs):
            if self.control.should_training_stop:
                break
            batches = self._batches_of_epoch(self.train_dataset, epoch)
            steps_in_epoch = len(batches)  # micro-batches: the unit of state.epoch
            skip = updates_done_in_epoch * args.gradient_accumulation_steps if epoch == epochs_done else 0
            micro_step = skip  # micro-batches of this epoch already trained on
            batches = batches[skip:]  # resuming mid-epoch: the skipped batches were trained on already
            if rng_state is not None and skip == 0:
                _set_rng_state(rng_state)  # resuming at an epoch boundary: before this epoch's loader draws
                rng_state = None
            self.control._new_epoch()
            self._event("on_epoch_begin")
            # group the micro-batches into optimizer steps
            groups = [batches[i:i + args.gradient_accumulation_steps]
                      for i in range(0, len(batches), args.gradient_accumulation_steps)]
            loader = _look_ahead(self._dataloader(self.train_dataset, batches))
            for group in groups:
                self._event("on_step_begin")
                micro_batches = [next(loader) for _ in group]
                if rng_state is not None:
                    # Resuming mid-epoch: the streams continue from the checkpoint once the loader has
                    # drawn its base seed and fetched this step's batches (transformers' order).
                    _set_rng_state(rng_state)
                    rng_state = None
                self._optimizer_step(micro_batches)
                micro_step += len(group)
                self.state.global_step += 1
                self.state.epoch = epoch + micro_step / steps_in_epoch
                self.control._new_step()
                self._event("on_step_end")
                if self.control.should_log:
                    self._log_training()
                self._maybe_evaluate_and_save()
                if self.control.should_training_stop or self.control.should_epoch_stop:
                    break
            self._event("on_epoch_end")
            if self.control.should_log:
                self._log_training()
            self._maybe_evaluate_and_save()

        runtime = time.time() - start_time
        steps_run = self.state.global_step - start_step
        self._total_loss += self._loss_since_log.item()
        train_loss = self._total_loss / max(steps_run, 0.001)
        if args.load_best_model_at_end and self.state.best_model_checkpoint is not None:
            self._barrier()
            self._load_checkpoint_into_model(self.state.best_model_checkpoint)
        metrics = _speed_metrics("train", runtime, train_samples * steps_run / max(max_steps, 1), steps_run)
        metrics["total_flos"] = self.state.total_flos
        metrics["train_loss"] = train_loss
        self.log(metrics)  # adds "epoch" to metrics, as transformers' log does
        metrics.pop("total_flos")  # in the log, not in what train() returns (transformers' progress callback pops it)
        self._event("on_train_end")
        return TrainOutput(self.state.global_step, train_loss, metrics)

    def _count_items(self, micro_batches: list[dict]) -> int | None:
        """``num_items_in_batch``: the label tokens the step's loss averages over, or None.

        As transformers counts them: labels that are not -100, over ``labels[..., 1:]`` for a
        causal LM (position 0 is never predicted), over all the step's micro-batches together.
        None for losses that are not a mean over label tokens (a sentence label, CTC, a
        regression): those micro-batch means are averaged instead.
        """
        if self._label_shift is None or not micro_batches or "labels" not in micro_batches[0]:
            return None
        counts = [_items_in(batch["labels"], self._label_shift) for batch in micro_batches]
        return None if any(count is None for count in counts) else sum(counts)

    def _optimizer_step(self, micro_batches: list[dict]) -> float:
        """Forward + backward on each micro-batch, then one clipped optimizer step; returns the step's loss.

        Gradient accumulation: with ``num_items_in_batch`` = N label tokens in the whole step,
        micro-batch i (n_i tokens, mean loss m_i) contributes ``m_i * n_i / N``, so the step's
        gradient is that of the mean over all N tokens (transformers passes N to the model's
        loss, which divides its sum by N). Without a token count each micro-batch contributes
        ``m_i / k`` for k micro-batches.
        """
        args, model = self.args, self._wrapped_model
        num_items = self._count_items(micro_batches)
        pass_items = num_items is not None and "num_items_in_batch" in self._forward_arguments
        distributed = isinstance(model, nn.parallel.DistributedDataParallel)
        total = torch.zeros((), device=args.device)
        for index, batch in enumerate(micro_batches):
            batch = {name: value.to(args.device) if isinstance(value, torch.Tensor) else value
                     for name, value in batch.items()}
            self.state.total_flos += float(self.floating_point_ops(batch))
            items = _items_in(batch["labels"], self._label_shift) if num_items is not None else None
            if items == 0 and not distributed:
                continue  # nothing to predict in this micro-batch: it adds nothing to the step's loss
            if pass_items:
                batch["num_items_in_batch"] = torch.tensor(num_items, device=args.device)
            last = index == len(micro_batches) - 1
            # DDP averages gradients across processes on backward; between accumulation steps skip that.
            sync = model.no_sync() if distributed and not last else contextlib.nullcontext()
            with sync:
                with self._autocast():
                    loss = self.compute_loss(model, batch)
                if not torch.isfinite(loss.detach()):
                    self._stop_on_bad_loss(float(loss.detach()))
                if pass_items:
                    pass  # the model already divided its sum by num_items_in_batch
                elif num_items is not None:
                    loss = loss * (items / num_items)  # its mean over n_i tokens -> its share of the step's mean
                else:
                    loss = loss / len(micro_batches)  # the step's gradient is the mean over its micro-batches
                if self.scaler is not None:
                    self.scaler.scale(loss).backward()
                else:
                    loss.backward()
            total += loss.detach().float()
        self._loss_since_log += total

        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        grad_norm = None
        if args.max_grad_norm:
            grad_norm = float(nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm))
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self._last_learning_rate = self.lr_scheduler.get_last_lr()[0]  # the rate this step used
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self._last_grad_norm = grad_norm
        return float(total)

    def floating_point_ops(self, inputs: dict) -> int:
        """Forward + backward operations of one batch: 6 x tokens x non-embedding parameters (transformers)."""
        model = _unwrap(self.model)
        main_input = getattr(model, "main_input_name", "input_ids")
        if main_input in inputs and callable(getattr(model, "num_parameters", None)):
            return 6 * inputs[main_input].numel() * model.num_parameters(exclude_embeddings=True)
        return 0

    def _stop_on_bad_loss(self, value: float) -> None:
        last = get_last_checkpoint(self.args.output_dir)
        self._event("on_train_end")  # closes the progress bar
        raise FloatingPointError(
            f"The training loss became {value} at step {self.state.global_step + 1} (epoch "
            f"{self.state.epoch or 0:.2f}); training stopped and no checkpoint was written from these weights. "
            f"The last good checkpoint is {last!r}. Lower learning_rate, keep max_grad_norm on, check the data for "
            "NaN/inf labels, or use bf16 instead of fp16; then resume_from_checkpoint from that folder."
        )

    def _log_training(self) -> None:
        """Log the mean loss per optimizer step since the last log (unrounded), grad norm and rate."""
        steps = self.state.global_step - self._last_logged_step
        if steps <= 0:
            return
        loss = self._loss_since_log.item()
        self._loss_since_log.zero_()
        self._total_loss += loss
        self._last_logged_step = self.state.global_step
        logs = {"loss": loss / steps}
        if self._last_grad_norm is not None:
            logs["grad_norm"] = self._last_grad_norm
        logs["learning_rate"] = self._last_learning_rate
        self.log(logs)

    def _maybe_evaluate_and_save(self) -> None:
        if self.control.should_evaluate:
            metrics = self.evaluate()
            self._update_best(metrics)
        if self.control.should_save:
            self._save_checkpoint()
        self.control.should_evaluate = self.control.should_save = self.control.should_log = False

    def _update_best(self, metrics: dict) -> None:
        name = self.args.metric_for_best_model
        if name is None:
            return
        key = name if name.startswith("eval_") else f"eval_{name}"
        if key not in metrics:
            raise KeyError(
                f"metric_for_best_model={name!r} but the evaluation returned only {sorted(metrics)}; "
                "use one of those names (without the 'eval_' prefix is fine)."
            )
        value = metrics[key]
        best = self.state.best_metric
        if best is None or (value > best if self.args.greater_is_better else value < best):
            self.state.best_metric = value
            self.state.best_global_step = self.state.global_step

    def log(self, logs: dict[str, float]) -> None:
        """Add ``epoch`` to ``logs``; append it with ``step`` to ``state.log_history``; fire ``on_log``.

        As in transformers, ``logs`` itself gains ``epoch`` (so the metrics train() and evaluate()
        return carry it). ``on_log`` receives the entry with ``step`` too (the dashboard plots by it).
        """
        if self.state.epoch is not None:
            logs["epoch"] = self.state.epoch
        entry = {**logs, "step": self.state.global_step}
        self.state.log_history.append(entry)
        self._event("on_log", logs=entry)

    # -- checkpoints ----------------------------------------------------------------------------------
    def _save_checkpoint(self) -> None:
        """Write ``checkpoint-N/`` atomically: into ``tmp-checkpoint-N/``, fsync, then one rename.

        The switch is ``hub.saving_folder``'s (one rename, or an exchange when the same step is
        saved twice); every file goes through ``hub.write_file_atomically``, so a full disk is an
        OSError naming the disk, the checkpoint and the size, and leaves no partial checkpoint.
        """
        from .. import hub

        args = self.args
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        final = os.path.join(args.output_dir, name)
        temporary = os.path.join(args.output_dir, f"tmp-{name}")  # one name every process of a run knows
        if self.state.best_global_step == self.state.global_step:
            self.state.best_model_checkpoint = final
        main = self.state.is_world_process_zero
        if main:
            shutil.rmtree(temporary, ignore_errors=True)  # a leftover of an earlier crash
            os.makedirs(temporary)
        self._barrier()
        rng_name = "rng_state.pth" if args.world_size == 1 else f"rng_state_{args.process_index}.pth"
        _torch_save(_rng_state(), os.path.join(temporary, rng_name))  # every process has its own streams
        self._barrier()
        if main:
            with hub.saving_folder(final, staging=temporary, keep_other_files=False, fsync=True):
                _unwrap(self.model).save_pretrained(temporary)
                if callable(getattr(self.processing_class, "save_pretrained", None)):
                    self.processing_class.save_pretrained(temporary)
                _torch_save(self.optimizer.state_dict(), os.path.join(temporary, OPTIMIZER_NAME))
                _torch_save(self.lr_scheduler.state_dict(), os.path.join(temporary, SCHEDULER_NAME))
                if self.scaler is not None:
                    _torch_save(self.scaler.state_dict(), os.path.join(temporary, SCALER_NAME))
                hub.write_text_atomically(os.path.join(temporary, TRAINING_ARGS_NAME), args.to_json_string() + "\n")
                self.state.save_to_json(os.path.join(temporary, TRAINER_STATE_NAME))
            self._rotate_checkpoints()
            self._push_from_checkpoint(final)
        self._barrier()
        self._event("on_save")

    def _rotate_checkpoints(self) -> None:
        """Delete the oldest checkpoints beyond ``save_total_limit`` (never the best one)."""
        limit = self.args.save_total_limit
        if limit is None:
            return
        folder = self.args.output_dir
        found = sorted(
            (int(match.group(1)), os.path.join(folder, name))
            for name in os.listdir(folder) if (match := _CHECKPOINT_RE.match(name))
        )
        paths = [path for _, path in found]
        best = self.state.best_model_checkpoint
        deletable = [path for path in paths[:-1] if path != best]  # keep the newest and the best
        excess = len(paths) - limit
        for path in deletable[:max(excess, 0)]:
            shutil.rmtree(path, ignore_errors=True)

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Save the model (and tokenizer) with ``save_pretrained`` into ``output_dir``.

        With ``push_to_hub=True`` this also uploads them, as in transformers.
        """
        output_dir = output_dir or self.args.output_dir
        if self.state.is_world_process_zero:
            _unwrap(self.model).save_pretrained(output_dir)
            if callable(getattr(self.processing_class, "save_pretrained", None)):
                self.processing_class.save_pretrained(output_dir)
        if self.args.push_to_hub and not _internal_call:
            self.push_to_hub(commit_message="Model save")

    # -- evaluation and prediction --------------------------------------------------------------------
    def prediction_step(self, model: nn.Module, inputs: dict):
        """``(loss, predictions, labels)`` for one batch, without gradients."""
        inputs = {name: value.to(self.args.device) if isinstance(value, torch.Tensor) else value
                  for name, value in inputs.items()}
        has_labels = all(name in inputs for name in self.label_names)
        with torch.no_grad(), self._autocast():
            outputs = model(**inputs)
        loss = getattr(outputs, "loss", None) if has_labels else None
        fields = [value for key, value in outputs.items()
                  if key not in _OUTPUT_FIELDS_NOT_PREDICTIONS and isinstance(value, torch.Tensor)]
        predictions = fields[0] if len(fields) == 1 else tuple(fields)
        labels = None
        if has_labels:
            labels = inputs[self.label_names[0]] if len(self.label_names) == 1 else \
                tuple(inputs[name] for name in self.label_names)
        return loss, predictions, labels

    def _prediction_loop(self, dataset, prefix: str) -> PredictionOutput:
        start = time.time()
        dataloader = self.get_eval_dataloader(dataset)
        model = _unwrap(self.model)
        if not self._trained and not hasattr(self, "model_preparation_time"):
            # transformers times preparing the model when evaluation comes before training; ours
            # needs no preparation (no accelerate wrapper), so this is the time to reach it
            self.model_preparation_time = round(time.time() - start, 4)
        was_training = model.training
        model.eval()
        loss_sum, count, predictions, labels = 0.0, 0, [], []
        try:
            for batch in dataloader:
                loss, batch_predictions, batch_labels = self.prediction_step(model, batch)
                size = len(next(iter(batch.values())))
                if loss is not None:
                    loss_sum += float(loss) * size  # batch means weighted by batch size
                    count += size
                if self.args.prediction_loss_only:
                    continue  # only the loss: no logits kept, no compute_metrics (transformers' option)
                predictions.append(batch_predictions)
                if batch_labels is not None:
                    labels.append(batch_labels)
        finally:
            model.train(was_training)
        runtime = time.time() - start

        def gather(items):
            if not items:
                return None
            if isinstance(items[0], tuple):
                return tuple(_concat([_to_numpy(item[i]) for item in items]) for i in range(len(items[0])))
            return _concat([_to_numpy(item) for item in items])

        all_predictions, all_labels = gather(predictions), gather(labels)
        metrics: dict[str, float] = {}
        if count:
            metrics[f"{prefix}_loss"] = loss_sum / count
        if self.compute_metrics is not None and all_labels is not None:
            for key, value in self.compute_metrics(EvalPrediction(all_predictions, all_labels)).items():
                metrics[key if key.startswith(f"{prefix}_") else f"{prefix}_{key}"] = float(value)
        if hasattr(self, "model_preparation_time"):
            metrics[f"{prefix}_model_preparation_time"] = self.model_preparation_time
        metrics.update(_speed_metrics(prefix, runtime, len(dataset), len(dataloader)))
        return PredictionOutput(all_predictions, all_labels, metrics)

    def evaluate(self, eval_dataset=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        """Loss (and ``compute_metrics``) on the evaluation set; logged and passed to ``on_evaluate``."""
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if dataset is None:
            raise ValueError("evaluate() needs an eval_dataset: pass one to the Trainer or to evaluate().")
        output = self._prediction_loop(self._remove_unused_columns(dataset), metric_key_prefix)
        self.log(output.metrics)  # adds "epoch" during training, as in transformers
        self._event("on_evaluate", metrics=output.metrics)
        return output.metrics

    def predict(self, test_dataset, metric_key_prefix: str = "test") -> PredictionOutput:
        """Predictions (logits as numpy), label ids (if the dataset has labels) and metrics."""
        output = self._prediction_loop(self._remove_unused_columns(test_dataset), metric_key_prefix)
        self._event("on_predict", metrics=output.metrics)
        return output


__all__ = [
    "Trainer", "TrainingArguments", "TrainerState", "TrainerControl", "TrainerCallback", "EarlyStoppingCallback",
    "EvalPrediction", "PredictionOutput", "TrainOutput", "set_seed", "get_last_checkpoint", "get_scheduler",
]
