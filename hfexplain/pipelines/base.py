"""The machine every pipeline shares: preprocess -> _forward -> postprocess.

    "I love it"  ──preprocess──►  {input_ids, attention_mask, ...}   tokens as tensors, batch of 1
                 ──_forward────►  {logits, ...}                      the model, under torch.no_grad()
                 ──postprocess─►  [{"label": "POSITIVE", "score": 0.99}]   numbers -> an answer

A task is a subclass that writes those three methods (transformers' names). This base
class does the rest, the same way for every task:

* ``__call__`` accepts one input or a list of inputs (a list gives a list of results);
  task options may be given to :func:`hfexplain.pipeline` (defaults for every call) or
  to the call itself (for that call only).
* **Batching.** ``batch_size=8`` preprocesses inputs one by one, pads their tensors to
  the longest in the batch (``input_ids`` with the tokenizer's pad id, ``attention_mask``
  with 0), runs the model once per batch, and splits the outputs back into rows, so each
  input's ``postprocess`` sees exactly what it would have seen alone.
* Some tasks turn one input into several model rows ("chunks"): question answering makes
  one row per window of a long context, zero-shot classification one row per candidate
  label. Their ``preprocess`` returns a list, and their ``postprocess`` gets the list of
  row outputs back.
* ``inspect(inputs)`` runs one call and returns a :class:`PipelineInspection` with every
  intermediate: tokens, ids, model inputs and outputs, probabilities and the decision the
  postprocessing took. ``print`` it to read the call stage by stage.
* A task head whose weights were *newly initialised* (not in the checkpoint) gives random
  labels. transformers' pipelines run such heads silently (transformers issue #18120);
  here the pipeline warns when it is built.
* **Inputs that are not text.** What turns an input into model rows follows from the
  model's ``main_input_name`` (:data:`PREPROCESSOR_FOR_INPUT`): ``input_ids`` needs the
  ``tokenizer``, ``pixel_values`` an ``image_processor``, ``input_features`` /
  ``input_values`` a ``feature_extractor`` (a ``processor`` can supply any of them). The
  model's forward gets every field of what that preprocessor returned that it accepts.
"""
from __future__ import annotations

import inspect as pyinspect
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from ..models import TASKS

# Which padding value each model-row field gets when rows are batched. Masks say
# "ignore this position" with 0 (attention_mask) or 1 (special_tokens_mask, p_mask).
_PAD_VALUES = {"attention_mask": 0, "token_type_ids": 0, "special_tokens_mask": 1, "p_mask": 1}

# The Auto class that loads a model with each head: the family declarations' task table.
AUTO_CLASS_FOR = TASKS

# The keyword arguments of the model's forward that come from the tokenizer.
_MODEL_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")

# A model's main input -> the preprocessor that makes it (transformers' argument names).
PREPROCESSOR_FOR_INPUT = {
    "input_ids": "tokenizer",
    "pixel_values": "image_processor",
    "input_features": "feature_extractor",
    "input_values": "feature_extractor",
}
_LOADER_HINT = {
    "tokenizer": "hfexplain.AutoTokenizer.from_pretrained(path)",
    "image_processor": "hfexplain.AutoImageProcessor.from_pretrained(path)",
    "feature_extractor": "hfexplain.AutoFeatureExtractor.from_pretrained(path)",
}


def main_input_name(model) -> str:
    """The model's main input (``input_ids`` for text models, ``pixel_values`` for vision ...)."""
    return getattr(model, "main_input_name", "input_ids")


def preprocessor_kind(model) -> str:
    """Which preprocessor the model's main input needs: 'tokenizer', 'image_processor' or 'feature_extractor'."""
    name = main_input_name(model)
    if name not in PREPROCESSOR_FOR_INPUT:
        raise ValueError(
            f"{type(model).__name__}.main_input_name is {name!r}; pipelines know {sorted(PREPROCESSOR_FOR_INPUT)}."
        )
    return PREPROCESSOR_FOR_INPUT[name]


@dataclass
class PipelineInspection:
    """Everything one pipeline call computed, stage by stage.

    Attributes:
        task: the pipeline's task name.
        inputs: what was passed in.
        params: the options each stage ran with (``preprocess``, ``forward``, ``postprocess``).
        tokens: for each model row, its tokens as strings (special tokens included).
        input_ids: for each model row, its token ids.
        model_inputs: for each model row, the tensors the model received.
        model_outputs: for each model row, what ``_forward`` returned (logits ...).
        probabilities: the scores postprocessing computed from the logits (softmax,
            sigmoid ...), as a tensor or a dict of tensors; ``None`` where the task has none.
        decision: in words, how postprocessing turned the scores into the answer.
        output: the pipeline's answer, exactly as a normal call returns it.
        details: task-specific intermediates (entities before grouping, candidate spans,
            generation steps ...).
        caches: for each model row, the :class:`~hfexplain.hooks.ActivationCache` of the
            hook points asked for with ``inspect(..., cache=...)``; empty otherwise.
    """

    task: str
    inputs: Any
    params: dict[str, dict[str, Any]]
    tokens: list[list[str]]
    input_ids: list[list[int]]
    model_inputs: list[dict[str, Any]]
    model_outputs: list[dict[str, Any]]
    probabilities: Any
    decision: str
    output: Any
    details: dict[str, Any] = field(default_factory=dict)
    caches: list[Any] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{self.task}: {_short(self.inputs, 120)}"]
        lines.append(f"1. preprocess  -> {len(self.model_inputs)} model row(s)")
        for row, description in enumerate(self.details.get("pixels") or []):  # images: the tensor, its patch grid
            lines.append(f"   row {row}: {description}")
        for row, (tokens, ids) in enumerate(zip(self.tokens, self.input_ids)):
            lines.append(f"   row {row}: {len(tokens)} tokens {_short(tokens, 160)}")
            lines.append(f"          input_ids {_short(ids, 160)}")
        lines.append("2. _forward    -> " + _describe_outputs(self.model_outputs))
        lines.append("3. postprocess -> " + ("probabilities " if self.probabilities is not None else "")
                     + _describe_probabilities(self.probabilities))
        lines.append("   decision: " + self.decision.replace("\n", "\n   "))
        lines.append(f"output: {_short(self.output, 400)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.__str__()


def _short(value: Any, limit: int) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _describe_outputs(outputs: list[dict[str, Any]]) -> str:
    if not outputs:
        return "nothing"
    parts = []
    for name, value in outputs[0].items():
        if isinstance(value, torch.Tensor):
            parts.append(f"{name} {tuple(value.shape)}")
    rows = f" (x {len(outputs)} rows)" if len(outputs) > 1 else ""
    return ", ".join(parts) + rows


def _describe_probabilities(probabilities: Any) -> str:
    if probabilities is None:
        return "no probabilities (the output is the model's numbers themselves)"
    if isinstance(probabilities, torch.Tensor):
        if probabilities.numel() <= 16:
            return f"{tuple(probabilities.shape)} {[round(v, 4) for v in probabilities.flatten().tolist()]}"
        return f"{tuple(probabilities.shape)}, largest {float(probabilities.max()):.4f}"
    if isinstance(probabilities, dict):
        return "; ".join(f"{name} {_describe_probabilities(value)}" for name, value in probabilities.items())
    if isinstance(probabilities, (list, tuple)):
        return "[" + ", ".join(_describe_probabilities(value) for value in probabilities) + "]"
    return _short(probabilities, 200)


class Pipeline:
    """Base class of every task pipeline.

    Subclasses set ``task`` and ``model_task`` (the Auto table their model comes from,
    e.g. ``"sequence-classification"``; ``None`` accepts any model) and write
    ``_sanitize_parameters``, ``preprocess``, ``_forward`` and ``postprocess``.

    Args:
        model: a loaded model (``hfexplain`` model with the task's head).
        tokenizer: its :class:`~hfexplain.tokenization.Tokenizer` (needed when the model reads ``input_ids``).
        image_processor, feature_extractor: for models that read ``pixel_values`` or
            ``input_features`` / ``input_values`` (see :data:`PREPROCESSOR_FOR_INPUT`).
        processor: a :class:`~hfexplain.processing.ProcessorMixin`; the pieces above that
            are not given are taken from it.
        device: where to run: ``-1`` or ``"cpu"``, ``0`` / ``"cuda:0"``, a ``torch.device``;
            ``None`` leaves the model where it is.
        batch_size: default number of model rows per forward pass (1).
        newly_initialized: names of weights the loader initialised at random (from
            ``from_pretrained(..., output_loading_info=True)``); a warning is given when the
            task needs them.
        **kwargs: task options used as defaults for every call (e.g. ``top_k=2``).
    """

    task: ClassVar[str] = ""
    model_task: ClassVar[str | tuple[str, ...] | None] = None  # key(s) of hfexplain.auto.MODEL_MAPPING_NAMES
    also_needs: ClassVar[tuple[str, ...]] = ()  # preprocessors needed besides the main input's (ASR: "tokenizer")
    chunked: ClassVar[bool] = False  # True when preprocess returns a list of model rows
    padding_side: ClassVar[str | None] = None  # None: the tokenizer's padding_side

    def __init__(self, model, tokenizer=None, *, image_processor=None, feature_extractor=None, processor=None,
                 device=None, batch_size: int | None = None, newly_initialized: list[str] | None = None,
                 **kwargs: Any):
        self.model = model
        self.processor = processor
        # A processor supplies whichever pieces were not passed on their own.
        self.tokenizer = tokenizer if tokenizer is not None else getattr(processor, "tokenizer", None)
        self.image_processor = (
            image_processor if image_processor is not None else getattr(processor, "image_processor", None)
        )
        self.feature_extractor = (
            feature_extractor if feature_extractor is not None else getattr(processor, "feature_extractor", None)
        )
        self._check_model_and_tokenizer()
        self.device = _resolve_device(device, model)
        if device is not None:
            self.model.to(self.device)
        self._batch_size = _check_batch_size(batch_size) if batch_size is not None else 1
        if newly_initialized is None:
            newly_initialized = getattr(model, "_newly_initialized", None)
        self.newly_initialized = list(newly_initialized or [])
        self._warn_if_untrained_head()
        self._preprocess_params, self._forward_params, self._postprocess_params = self._sanitize(kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(task={self.task!r}, model={type(self.model).__name__}, device={self.device})"

    # -- the three stages (each task writes its own) ------------------------------------

    def _sanitize_parameters(self, **kwargs: Any) -> tuple[dict, dict, dict]:
        """Split the task options into (preprocess, forward, postprocess) parameters."""
        raise NotImplementedError

    def preprocess(self, inputs: Any, **preprocess_params: Any):
        """One input -> a dict of tensors with a batch axis of 1 (or a list of them for chunked tasks)."""
        raise NotImplementedError

    def _forward(self, model_inputs: dict[str, Any], **forward_params: Any) -> dict[str, Any]:
        """A (padded) batch of model rows -> the model's outputs (plus what postprocess needs)."""
        raise NotImplementedError

    def postprocess(self, model_outputs, **postprocess_params: Any):
        """The model's outputs for one input -> the answer."""
        raise NotImplementedError

    # -- running -------------------------------------------------------------------------

    def forward(self, model_inputs: dict[str, Any], **forward_params: Any) -> dict[str, Any]:
        """``_forward`` on the pipeline's device, without gradients, in eval mode; outputs on the CPU."""
        was_training = self.model.training
        self.model.eval()  # dropout off: the same input always gives the same answer
        try:
            with torch.no_grad():
                outputs = self._forward(_to_device(model_inputs, self.device), **forward_params)
        finally:
            self.model.train(was_training)
        return _to_device(outputs, torch.device("cpu"))

    def __call__(self, inputs: Any, *, batch_size: int | None = None, **kwargs: Any):
        """Run the pipeline on one input, or on a list of inputs (then a list comes back)."""
        params = self._call_params(kwargs)
        is_list = isinstance(inputs, list)
        items = self._check_inputs(inputs)
        results = self._run(items, self._call_batch_size(batch_size), *params)
        return results if is_list else self._format_single_output(inputs, results[0], kwargs)

    def _call_params(self, kwargs: dict[str, Any]) -> tuple[dict, dict, dict]:
        """This call's options on top of the pipeline's defaults."""
        preprocess_params, forward_params, postprocess_params = self._sanitize(kwargs)
        return (
            {**self._preprocess_params, **preprocess_params},
            {**self._forward_params, **forward_params},
            {**self._postprocess_params, **postprocess_params},
        )

    def _call_batch_size(self, batch_size: int | None) -> int:
        return self._batch_size if batch_size is None else _check_batch_size(batch_size)

    def _check_inputs(self, inputs: Any) -> list:
        """The list of inputs to run; a clear error for an empty one."""
        items = inputs if isinstance(inputs, list) else [inputs]
        if not items:
            raise ValueError(
                f"the {self.task} pipeline got an empty list; pass one input or a list with at least one."
            )
        for item in items:
            self._check_input(item)
        return items

    def _check_input(self, item: Any) -> None:
        """Per-task check of one input (default: a non-empty string)."""
        _check_text(item, self.task)

    def _run(self, items: list, batch_size: int, preprocess_params: dict, forward_params: dict,
             postprocess_params: dict) -> list:
        """preprocess every input, run the model rows in batches, postprocess each input."""
        rows_per_item = []
        for item in items:
            rows = self.preprocess(item, **preprocess_params)
            rows_per_item.append(list(rows) if self.chunked else [rows])
        all_rows = [row for rows in rows_per_item for row in rows]

        row_outputs: list[dict[str, Any]] = []
        for start in range(0, len(all_rows), batch_size):
            batch_rows = all_rows[start : start + batch_size]
            if len(batch_rows) == 1:
                row_outputs.append(self.forward(batch_rows[0], **forward_params))
                continue
            batch, padding_added = self._collate(batch_rows)
            outputs = self.forward(batch, **forward_params)
            row_outputs.extend(self._split(outputs, padding_added))

        results = []
        next_row = 0
        for rows in rows_per_item:
            outputs = row_outputs[next_row : next_row + len(rows)]
            next_row += len(rows)
            results.append(self.postprocess(outputs if self.chunked else outputs[0], **postprocess_params))
        return results

    # -- batching --------------------------------------------------------------------------

    def _collate(self, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[int]]:
        """Pad the rows' tensors to a common length and stack them into one batch.

        Returns the batch and, per row, how many padding positions were added. Tensors of
        shape (1, s, ...) are padded along s on the tokenizer's padding side; other values
        (the original text, a tokenizers Encoding ...) are kept as a list, one per row.
        """
        keys = list(rows[0])
        for row in rows:
            if list(row) != keys:
                raise ValueError(f"cannot batch rows with different fields: {list(row)} != {keys}")
        side = self.padding_side or getattr(self.preprocessor, "padding_side", "right")
        main = self.main_input_name  # input_ids (b, s); input_values (b, samples); pixel_values (b, c, h, w)
        lengths = [row[main].shape[1] if row[main].dim() >= 2 else 1 for row in rows]
        longest = max(lengths)
        if longest != min(lengths) and main == "input_ids" and self.tokenizer.pad_token_id is None:
            raise ValueError(
                "batching pads the inputs to a common length, but the tokenizer has no padding token. Set one, "
                "e.g. pipe.tokenizer.pad_token = pipe.tokenizer.eos_token (what GPT-2 users do), or use batch_size=1."
            )
        batch: dict[str, Any] = {}
        for key in keys:
            values = [row[key] for row in rows]
            if not all(isinstance(value, torch.Tensor) for value in values):
                batch[key] = values  # one Python object per row
                continue
            if values[0].dim() < 2 or all(value.shape[1] == values[0].shape[1] for value in values):
                batch[key] = torch.cat(values, dim=0)  # (b, ...)
                continue
            pad_value = self.tokenizer.pad_token_id if key == "input_ids" else _PAD_VALUES.get(key, 0)
            if key == main and key != "input_ids":  # audio rows: the feature extractor's padding value
                pad_value = getattr(self.feature_extractor, "padding_value", 0.0)
            if key == "token_type_ids":
                pad_value = getattr(self.tokenizer, "pad_token_type_id", 0)
            width = max(value.shape[1] for value in values)
            padded = values[0].new_full((len(values), width, *values[0].shape[2:]), pad_value)  # (b, s, ...)
            for index, value in enumerate(values):
                length = value.shape[1]
                if side == "left":
                    padded[index, width - length :] = value[0]
                else:
                    padded[index, :length] = value[0]
            batch[key] = padded
        return batch, [longest - length for length in lengths]

    def _split(self, outputs: dict[str, Any], padding_added: list[int]) -> list[dict[str, Any]]:
        """The inverse of ``_collate`` for the outputs: one dict per row (tensors keep a batch axis of 1)."""
        rows = []
        for index, added in enumerate(padding_added):
            row = {}
            for key, value in outputs.items():
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == len(padding_added):
                    row[key] = value[index : index + 1]
                elif isinstance(value, list) and len(value) == len(padding_added):
                    row[key] = value[index]
                else:
                    row[key] = value
            rows.append(self._remove_batch_padding(row, added))
        return rows

    def _remove_batch_padding(self, row_outputs: dict[str, Any], added: int) -> dict[str, Any]:
        """Undo the padding batching added to one row's outputs (most tasks ignore padded
        positions anyway, through masks; feature extraction cuts them off)."""
        return row_outputs

    # -- inspect -----------------------------------------------------------------------

    def inspect(self, inputs: Any, *, cache=None, **kwargs: Any):
        """Run one call and return every intermediate as a :class:`PipelineInspection`.

        ``cache`` names hook points to record during the forward pass (an alias such as
        ``"pattern"``, a full name, a list of them; see ``model.hook_names()``); they land
        in ``.caches``, one :class:`~hfexplain.hooks.ActivationCache` per model row.
        A list of inputs gives a list of inspections.

        >>> print(pipe.inspect("I love this movie"))   # doctest: +SKIP
        """
        if isinstance(inputs, list):
            items = self._check_inputs(inputs)
            return [self._inspect_one(item, cache, kwargs) for item in items]
        return self._inspect_one(self._check_inputs(inputs)[0], cache, kwargs)

    def _inspect_one(self, item: Any, cache, kwargs: dict[str, Any]) -> PipelineInspection:
        preprocess_params, forward_params, postprocess_params = self._call_params(dict(kwargs))
        preprocessed = self.preprocess(item, **preprocess_params)
        rows = list(preprocessed) if self.chunked else [preprocessed]
        details: dict[str, Any] = self._inspect_input(item, preprocess_params)
        self._inspection_details(rows, details)
        outputs, caches = [], []
        for row in rows:
            row_output, row_cache = self._inspect_forward(row, forward_params, cache, details)
            outputs.append(row_output)
            caches.append(row_cache)
        trace: dict[str, Any] = {"details": details}
        output = self.postprocess(outputs if self.chunked else outputs[0], **postprocess_params, trace=trace)
        output = self._format_single_output(item, output, kwargs)
        return PipelineInspection(
            task=self.task,
            inputs=item,
            params={"preprocess": preprocess_params, "forward": forward_params, "postprocess": postprocess_params},
            tokens=[self.tokenizer.convert_ids_to_tokens(row["input_ids"][0].tolist()) for row in rows
                    if "input_ids" in row],  # empty for models that read pixels or audio
            input_ids=[row["input_ids"][0].tolist() for row in rows if "input_ids" in row],
            model_inputs=[{k: v for k, v in row.items() if isinstance(v, torch.Tensor)} for row in rows],
            model_outputs=[{k: v for k, v in out.items() if isinstance(v, torch.Tensor)} for out in outputs],
            probabilities=trace.get("probabilities"),
            decision=trace.get("decision", ""),
            output=output,
            details=details,
            caches=[c for c in caches if c is not None],
        )

    def _inspect_input(self, item: Any, preprocess_params: dict[str, Any]) -> dict[str, Any]:
        """The first ``details`` of an inspection, about the input itself (speech: the waveform read)."""
        return {}

    def _inspection_details(self, rows: list[dict[str, Any]], details: dict[str, Any]) -> None:
        """What a task adds to ``inspect().details`` from its model rows (image pipelines: the patch grid)."""

    def _inspect_forward(self, row: dict[str, Any], forward_params: dict, cache, details: dict):
        """One row's forward pass, recording the hook points named in ``cache``."""
        if cache is None:
            return self.forward(row, **forward_params), None
        from ..hooks import ActivationCache

        store: dict[str, torch.Tensor] = {}
        # Names as this model resolves them (a bare model inside a task model has no prefix).
        names = {id(point): name for name, point in self.model.hook_points().items()}

        def record(tensor: torch.Tensor, hook) -> None:
            store[names.get(id(hook), hook.name)] = tensor.detach().cpu()

        with self.model.hooks([(cache, record)]):  # cache: a name, an alias, a list of them (see hooks.py)
            outputs = self.forward(row, **forward_params)
        return outputs, ActivationCache(store, self.model)

    def _format_single_output(self, item: Any, output: Any, call_kwargs: dict[str, Any]) -> Any:
        """What ``__call__`` returns for this single input (tasks with quirks override)."""
        return output

    # -- helpers ---------------------------------------------------------------------------

    @property
    def main_input_name(self) -> str:
        """The model's main input: ``input_ids``, ``pixel_values``, ``input_features`` or ``input_values``."""
        return main_input_name(self.model)

    @property
    def preprocessor(self):
        """What turns one input into model rows for this model: its tokenizer, image processor or feature extractor."""
        return getattr(self, preprocessor_kind(self.model))

    def _check_model_and_tokenizer(self) -> None:
        """A clear error for a model without the task's head, or a missing tokenizer / image processor / ..."""
        model = self.model
        if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
            raise TypeError(
                f"the {self.task} pipeline needs an hfexplain model (e.g. from hfexplain.AutoModel*.from_pretrained), "
                f"got {type(model).__name__}."
            )
        if self.model_task is not None:
            from ..auto import model_class_for

            model_tasks = (self.model_task,) if isinstance(self.model_task, str) else self.model_task
            expected = []
            for model_task in model_tasks:
                try:
                    # the class itself when the family lists it as a variant (DeiT's distilled classifier)
                    expected.append(model_class_for(model_task, model.config.model_type, [type(model).__name__]))
                except ValueError:
                    pass
            if not (any(isinstance(model, cls) for cls in expected) or self._accepts_other_head(model)):
                heads = " or ".join(f"a {name.replace('-', ' ')} head ({AUTO_CLASS_FOR[name]})" for name in model_tasks)
                auto_name = AUTO_CLASS_FOR[model_tasks[0]]
                raise ValueError(
                    f"the {self.task} pipeline needs a model with {heads}, but "
                    f"{type(model).__name__} has none. Load one with hfexplain.{auto_name}.from_pretrained(path)"
                    + (f" (for this family: {' or '.join(cls.__name__ for cls in expected)})." if expected else
                       f"; the {model.config.model_type!r} family has no such head in hfexplain.")
                )
        main_kind = preprocessor_kind(model)
        for kind in dict.fromkeys((main_kind, *self.also_needs)):
            needed = self.tokenizer if kind == "tokenizer" else getattr(self, kind)
            is_usable = callable(getattr(needed, "convert_ids_to_tokens", None)) if kind == "tokenizer" else \
                callable(needed)
            if needed is None or not is_usable:
                article = "an" if kind[0] in "aeiou" else "a"
                reason = f"{type(model).__name__} reads {self.main_input_name!r}" if kind == main_kind else \
                    "it turns the model's output ids into text"
                raise TypeError(
                    f"the {self.task} pipeline needs {article} {kind} ({_LOADER_HINT[kind]}), because "
                    f"{reason}; got {type(needed).__name__}."
                )

    def _accepts_other_head(self, model) -> bool:
        """True for a model that serves the task without being its Auto class's (DeiT's distilled classifier)."""
        return False

    def _sanitize(self, kwargs: dict[str, Any]) -> tuple[dict, dict, dict]:
        """``_sanitize_parameters`` with a clear error for an option the task does not know."""
        accepted = pyinspect.signature(self._sanitize_parameters).parameters
        takes_any = any(p.kind is pyinspect.Parameter.VAR_KEYWORD for p in accepted.values())
        unknown = [key for key in kwargs if key not in accepted]
        if unknown and not takes_any:
            known = ", ".join(name for name in accepted if accepted[name].kind is not pyinspect.Parameter.VAR_KEYWORD)
            raise TypeError(
                f"the {self.task} pipeline does not take {', '.join(map(repr, unknown))}; its options are: {known}."
            )
        return self._sanitize_parameters(**kwargs)

    def _model_kwargs(self, model_inputs: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The preprocessor's outputs that the model's forward accepts (input_ids, attention_mask, pixel_values ...)."""
        accepted = pyinspect.signature(self.model.forward).parameters
        names = [*_MODEL_INPUT_NAMES, self.main_input_name, *getattr(self.preprocessor, "model_input_names", ())]
        return {name: model_inputs[name] for name in dict.fromkeys(names) if name in model_inputs and name in accepted}

    def _label(self, index: int) -> str:
        """The name of class ``index`` from ``config.id2label`` (``LABEL_i`` when it has none)."""
        return self.model.config.id2label.get(int(index), f"LABEL_{int(index)}")

    def _ignores_new_weight(self, name: str) -> bool:
        """True for a newly initialised weight this task does not use (see FeatureExtraction)."""
        return False

    def _warn_if_untrained_head(self) -> None:
        relevant = [name for name in self.newly_initialized if not self._ignores_new_weight(name)]
        if not relevant:
            return
        shown = ", ".join(relevant[:6]) + (" ..." if len(relevant) > 6 else "")
        warnings.warn(
            f"the {self.task} pipeline runs {type(self.model).__name__} whose weights {shown} were not in the "
            "checkpoint and are newly (randomly) initialised, so its predictions are RANDOM, whatever labels "
            "they carry. Fine-tune the model for this task first, or load a checkpoint trained for "
            f"{self.task} (transformers' pipelines run such heads silently: transformers issue #18120).",
            UserWarning,
            stacklevel=4,  # the caller of hfexplain.pipeline(...)
        )


# -- small shared helpers ---------------------------------------------------------------


def _check_text(text: Any, task: str, what: str = "text") -> None:
    if not isinstance(text, str):
        raise TypeError(
            f"the {task} pipeline takes a string or a list of strings, got {type(text).__name__}: {_short(text, 80)}."
        )
    if not text.strip():
        raise ValueError(
            f"the {task} pipeline got an empty {what}; there is nothing to analyse. Pass some text "
            "(and drop empty strings from lists first)."
        )


def _check_top_k(top_k: Any, name: str = "top_k", allow_none: bool = False) -> None:
    if top_k is None and allow_none:
        return
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise TypeError(f"{name} must be an integer >= 1{' or None (all)' if allow_none else ''}, got {top_k!r}.")
    if top_k < 1:
        raise ValueError(
            f"{name} must be >= 1 (how many answers to return), got {top_k}"
            + ("; pass top_k=None for all of them." if allow_none else ".")
        )


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1 (model rows per forward pass), got {batch_size!r}.")
    return batch_size


def _resolve_device(device: Any, model) -> torch.device:
    """``None`` (where the model is), ``-1`` (CPU), ``k`` (cuda:k), a name or a torch.device."""
    if device is None:
        try:
            return next(model.parameters()).device
        except StopIteration:
            return torch.device("cpu")
    if isinstance(device, torch.device):
        return device
    if isinstance(device, bool):
        raise TypeError(f"device must be -1, a GPU index, a name such as 'cpu' or 'cuda:0', or a torch.device; "
                        f"got {device!r}.")
    if isinstance(device, int):
        return torch.device("cpu") if device < 0 else torch.device(f"cuda:{device}")
    if isinstance(device, str):
        return torch.device(device)
    raise TypeError(
        f"device must be -1, a GPU index, a name such as 'cpu' or 'cuda:0', or a torch.device; got {device!r}."
    )


def _to_device(value: Any, device: torch.device) -> Any:
    """Move every tensor inside dicts/lists/tuples to ``device``; leave other values alone."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {key: _to_device(item, device) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_device(item, device) for item in value)
    return value
