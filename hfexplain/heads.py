"""Task heads written once, their losses, and the input checks every bare model shares.

A *head* turns a bare model's hidden states into a task's answer. Most families use the
same few, so they live here once (the idea of transformers 5's ``GenericFor...`` classes,
written our way) and a family file composes them in a few lines::

    class LlamaForSequenceClassification(GenericForSequenceClassification, LlamaPreTrainedModel):
        base_model_class = LlamaModel

The mixin builds ``self.<base_model_prefix> = base_model_class(config)`` and the head's
layer with Hugging Face's attribute name, so checkpoints load strictly:

* ``GenericForSequenceClassification``: one score per label for the whole text, from
  ``score`` (decoders) or ``classifier`` (encoders), read at each row's last non-pad token
  (decoders), the pooler output or the first token (encoders);
* ``GenericForTokenClassification``: ``score`` / ``classifier`` on every token;
* ``GenericForQuestionAnswering``: ``qa_outputs`` (d -> 2), answer start and end scores
  per token.

Each head puts its scores through ``hook_class_logits`` (alias ``class_logits``), *before*
pooling: (b, s, c) for decoders' sequence classification, token classification and QA
(c = 2: start, end), (b, c) for encoders that pool first. The ``logits`` alias stays the
language-modelling heads' (b, s, v).

The losses (``causal_lm_loss`` ... ``question_answering_loss``) are the ones transformers
picks for each task, and ``check_model_inputs`` / ``check_input_ids`` hold the checks that
every bare model runs on its inputs, with errors that name the fix.

Shapes: b=batch, s=sequence, d=hidden size, c=num_labels, v=vocab_size.
"""
from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any, ClassVar

import torch
from torch import nn

from .configuration import PretrainedConfig
from .hooks import HookPoint
from .layers.attention import is_traced
from .outputs import (
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    SequenceClassifierOutputWithPast,
    TokenClassifierOutput,
)

# -- shared input checks ----------------------------------------------------------------


def check_input_ids(input_ids: torch.Tensor, *, max_positions: int | None, vocab_size: int | None = None,
                    past_length: int = 0) -> None:
    """Raise a clear error for input_ids of the wrong type, rank, dtype, length or range."""
    if not isinstance(input_ids, torch.Tensor):
        raise TypeError(
            f"input_ids must be a torch.Tensor, got {type(input_ids).__name__}; "
            "call the tokenizer with return_tensors='pt'."
        )
    if input_ids.dim() != 2:
        raise ValueError(
            f"input_ids must have shape (batch, seq), got rank {input_ids.dim()} {tuple(input_ids.shape)}; "
            "for a single sequence add a batch dimension with input_ids.unsqueeze(0)."
        )
    if input_ids.dtype not in (torch.long, torch.int):
        kind = "integer ids of a type an embedding cannot index" if not input_ids.is_floating_point() else "floats"
        raise TypeError(
            f"input_ids must hold integer token ids as torch.long (or torch.int), got {input_ids.dtype} ({kind}); "
            "convert with input_ids.long(), or pass float vectors as inputs_embeds= instead."
        )
    if input_ids.shape[1] == 0 and past_length == 0:
        raise ValueError(
            f"input_ids has no tokens (shape {tuple(input_ids.shape)}): a model needs at least one token per row. "
            "Check the tokenizer's output (an empty string encodes to no tokens unless special tokens are added)."
        )
    total = past_length + input_ids.shape[1]
    if max_positions is not None and total > max_positions:
        raise ValueError(
            f"the sequence is {total} tokens long ({past_length} cached + {input_ids.shape[1]} new) but the "
            f"model has only {max_positions} positions; truncate the input "
            f"(tokenizer(..., truncation=True, max_length={max_positions}))."
        )
    # While torch traces the model (ONNX export, torch.compile) the ids have no values to check: an
    # out-of-range id then fails in the embedding lookup instead.
    checkable = vocab_size is not None and not is_traced() and input_ids.numel()
    if checkable and (input_ids.min() < 0 or input_ids.max() >= vocab_size):
        raise ValueError(
            f"input_ids hold ids outside the vocabulary [0, {vocab_size}): min {int(input_ids.min())}, "
            f"max {int(input_ids.max())}; was the text encoded with this model's tokenizer?"
        )


def check_token_type_ids(token_type_ids: torch.Tensor | None, table_size: int, field: str, shape: tuple) -> None:
    """Token types index a table (BERT's ``type_vocab_size`` rows; GPT-2's reuse of ``wte``): ids outside
    it, or a shape other than the tokens', get a message instead of torch's bare ``IndexError``."""
    if token_type_ids is None:
        return
    if tuple(token_type_ids.shape) != tuple(shape):
        raise ValueError(f"token_type_ids must have the tokens' shape {tuple(shape)}, got {tuple(token_type_ids.shape)}.")
    if token_type_ids.numel():
        low, high = int(token_type_ids.min()), int(token_type_ids.max())
        if low < 0 or high >= table_size:
            raise ValueError(
                f"token_type_ids hold values in [{low}, {high}] but this model's token-type table has {field}="
                f"{table_size} rows (ids 0..{table_size - 1}); use a tokenizer made for this checkpoint, or leave "
                "token_type_ids out."
            )


def check_model_inputs(
    input_ids: torch.Tensor | None,
    inputs_embeds: torch.Tensor | None,
    *,
    vocab_size: int | None,
    hidden_size: int,
    position_ids: torch.Tensor | None = None,
    past_length: int = 0,
    max_positions: int | None = None,
    positions_field: str = "max_position_embeddings",
    family: str = "the model",
) -> tuple[int, int]:
    """The checks every bare model runs first; returns ``(batch, seq)`` of the new tokens.

    * exactly one of ``input_ids`` (b, s) integer ids and ``inputs_embeds`` (b, s, d) floats;
    * ``input_ids`` inside the vocabulary (``check_input_ids``);
    * ``position_ids`` shaped (b, s) or (1, s);
    * for families with learned absolute positions (``max_positions`` set): no position
      past the last one learned (``positions_field`` names the config field in the error).
    """
    if (input_ids is None) == (inputs_embeds is None):
        got = "both" if input_ids is not None else "neither"
        raise ValueError(
            f"pass exactly one of input_ids or inputs_embeds (got {got}): token ids from the tokenizer, "
            "or vectors you made yourself."
        )
    if input_ids is not None:
        check_input_ids(input_ids, max_positions=None, vocab_size=vocab_size, past_length=past_length)
        batch, seq = input_ids.shape
    else:
        if not isinstance(inputs_embeds, torch.Tensor) or not inputs_embeds.is_floating_point():
            what = inputs_embeds.dtype if isinstance(inputs_embeds, torch.Tensor) else type(inputs_embeds).__name__
            raise TypeError(
                f"inputs_embeds must be a float tensor of vectors, got {what}; token ids go in input_ids= instead."
            )
        if inputs_embeds.dim() != 3 or inputs_embeds.shape[-1] != hidden_size:
            raise ValueError(
                f"inputs_embeds must have shape (batch, seq, {hidden_size}), got {tuple(inputs_embeds.shape)}."
            )
        batch, seq = inputs_embeds.shape[:2]

    if inputs_embeds is not None and seq == 0 and past_length == 0:
        raise ValueError(f"inputs_embeds has no positions (shape {tuple(inputs_embeds.shape)}): pass at least one.")
    if position_ids is not None:
        if position_ids.dim() != 2 or position_ids.shape[-1] != seq or position_ids.shape[0] not in (1, batch):
            raise ValueError(
                f"position_ids must have shape ({batch}, {seq}) or (1, {seq}), one position per new token; got "
                f"{tuple(position_ids.shape)}. For one sequence add a batch dim: position_ids.unsqueeze(0)."
            )
        if position_ids.is_floating_point() or position_ids.dtype == torch.bool:
            raise TypeError(f"position_ids must be integers (torch.long), got {position_ids.dtype}.")
        if position_ids.numel() and int(position_ids.min()) < 0:
            raise ValueError(
                f"position_ids hold {int(position_ids.min())}: positions count from 0. For a left-padded batch use "
                "(attention_mask.cumsum(-1) - 1).clamp(min=0), as generate does."
            )
    if max_positions is None:
        return batch, seq
    truncate = f"truncate the input (tokenizer(..., truncation=True, max_length={max_positions}))."
    learned = f"{family} has {max_positions} positions: it learned only {max_positions} ({positions_field})"
    if position_ids is not None:
        if position_ids.numel() and int(position_ids.max()) >= max_positions:
            raise ValueError(f"position_ids go up to {int(position_ids.max())} but {learned}; {truncate}")
    elif past_length + seq > max_positions:
        raise ValueError(
            f"the sequence is {past_length + seq} tokens long ({past_length} cached + {seq} new) but {learned}; "
            f"{truncate}"
        )
    return batch, seq


# -- losses -------------------------------------------------------------------------------


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Next-token cross-entropy: position t predicts labels[t + 1]; -100 labels are ignored."""
    logits = logits.float()
    shifted = nn.functional.pad(labels, (0, 1), value=ignore_index)[..., 1:]  # (b, s)
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), shifted.reshape(-1).to(logits.device), ignore_index=ignore_index
    )


def masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Cross-entropy at the positions whose label is not -100 (the masked ones)."""
    logits = logits.float()
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).to(logits.device), ignore_index=ignore_index
    )


def ctc_loss(logits: torch.Tensor, labels: torch.Tensor, logit_lengths: torch.Tensor, *, blank: int,
             reduction: str = "mean", zero_infinity: bool = False, ignore_index: int = -100) -> torch.Tensor:
    """Connectionist temporal classification, as transformers' ``ForCTCLoss``.

    ``logits`` (b, t, v) score every frame; ``labels`` (b, u) are the target ids, padded with
    ``ignore_index`` or ``blank`` (a CTC target never holds the blank); ``logit_lengths`` (b,) say
    how many frames of each row are real. The loss sums, over every frame-level path that
    collapses to the target (merge repeats, drop blanks), the path's probability.
    """
    labels = labels.to(logits.device)
    real = (labels != ignore_index) & (labels != blank)  # (b, u)
    log_probs = torch.log_softmax(logits, dim=-1, dtype=torch.float32).transpose(0, 1)  # (t, b, v)
    with torch.backends.cudnn.flags(enabled=False):  # cuDNN's kernel has other length limits
        return nn.functional.ctc_loss(log_probs, labels.masked_select(real), logit_lengths, real.sum(-1),
                                      blank=blank, reduction=reduction, zero_infinity=zero_infinity)


def sequence_classification_loss(logits: torch.Tensor, labels: torch.Tensor, config: PretrainedConfig) -> torch.Tensor:
    """Regression (MSE), single-label (cross-entropy) or multi-label (BCE) loss, as transformers picks it.

    ``logits`` are the pooled (b, c) scores. The choice is stored in ``config.problem_type``
    the first time, as transformers does.
    """
    num_labels = config.num_labels
    labels = labels.to(logits.device)
    if config.problem_type is None:
        if num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    if config.problem_type == "regression":
        if num_labels == 1:
            return nn.functional.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
        return nn.functional.mse_loss(logits, labels.to(logits.dtype))
    if config.problem_type == "single_label_classification":
        return nn.functional.cross_entropy(logits.view(-1, num_labels), labels.view(-1))
    if config.problem_type == "multi_label_classification":
        return nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    raise ValueError(
        f"config.problem_type={config.problem_type!r} is not a problem type; use 'regression', "
        "'single_label_classification' or 'multi_label_classification' (or None to infer it from the labels)."
    )


def token_classification_loss(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Cross-entropy per token over (b, s, c) logits; tokens labelled -100 (padding, sub-words) are skipped."""
    logits = logits.float()
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).to(logits.device), ignore_index=ignore_index
    )


def question_answering_loss(start_logits: torch.Tensor, end_logits: torch.Tensor, start_positions: torch.Tensor,
                            end_positions: torch.Tensor) -> torch.Tensor:
    """Mean of the start and end cross-entropies over (b, s) scores.

    An answer cut off by truncation points past the end of the sequence: its position is
    clamped to ``s`` and that index is ignored by the loss, as transformers does.
    """
    seq = start_logits.shape[1]
    start_positions = start_positions.reshape(-1).clamp(0, seq).to(start_logits.device)  # (b,)
    end_positions = end_positions.reshape(-1).clamp(0, seq).to(end_logits.device)  # (b,)
    start_loss = nn.functional.cross_entropy(start_logits, start_positions, ignore_index=seq)
    end_loss = nn.functional.cross_entropy(end_logits, end_positions, ignore_index=seq)
    return (start_loss + end_loss) / 2


# -- pooling ------------------------------------------------------------------------------


def last_non_pad_token(input_ids: torch.Tensor | None, pad_token_id: int | None, batch: int, seq: int,
                       device: torch.device, model_name: str = "the model") -> torch.Tensor:
    """Index (b,) of each row's rightmost token that is not padding, as transformers picks it.

    Works for left and right padding alike. Without ``config.pad_token_id`` a batch of one
    reads its last position and a larger batch is an error; with ``inputs_embeds`` the
    padding cannot be seen, so the last position is read (with a warning), as in transformers.
    """
    if pad_token_id is None:
        if batch != 1:
            raise ValueError(
                f"{model_name} cannot find the last token of a padded batch without config.pad_token_id "
                "(transformers: 'Cannot handle batch sizes > 1 if no padding token is defined'); set it, e.g. "
                "model.config.pad_token_id = tokenizer.pad_token_id, or pass one sequence at a time."
            )
        return torch.full((batch,), seq - 1, device=device)
    if input_ids is None:
        warnings.warn(
            f"{model_name} will not detect padding tokens in `inputs_embeds`: it reads each row's last position. "
            "Results may be unexpected if using padding tokens in conjunction with `inputs_embeds`.",
            stacklevel=3,
        )
        return torch.full((batch,), seq - 1, device=device)
    positions = torch.arange(seq, device=device)  # (s,)
    not_pad = (input_ids != pad_token_id).to(device, torch.long)  # (b, s)
    return (positions * not_pad).argmax(-1)  # (b,)


# -- the heads ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _forward_arguments(module_class: type) -> frozenset[str]:
    return frozenset(inspect.signature(module_class.forward).parameters)


class _TaskHead:
    """What every generic head shares: the bare model it wraps, and calling it.

    A family's head class sets ``base_model_class`` (its bare model, e.g. ``LlamaModel``)
    and, when the bare model needs them, ``base_model_kwargs`` (BERT's heads without a
    pooler: ``{"add_pooling_layer": False}``). The bare model lands in
    ``self.<base_model_prefix>`` (``model`` for LLaMA, ``transformer`` for GPT-2, ``bert``).
    """

    base_model_class: ClassVar[type[nn.Module]]
    base_model_kwargs: ClassVar[dict[str, Any]] = {}

    def _build_base_model(self, config: PretrainedConfig) -> None:
        if not hasattr(type(self), "base_model_class"):
            raise TypeError(
                f"{type(self).__name__} must set base_model_class = <the family's bare model class> "
                "(e.g. LlamaModel) so the generic head knows what to wrap."
            )
        setattr(self, self.base_model_prefix, self.base_model_class(config, **self.base_model_kwargs))

    def _run_base_model(self, **inputs: Any):
        """Call the bare model with the inputs that were given (``None`` ones left out)."""
        base = getattr(self, self.base_model_prefix)
        given = {name: value for name, value in inputs.items() if value is not None}
        accepted = _forward_arguments(type(base))
        for name in given:
            if name not in accepted:
                raise TypeError(
                    f"{type(self).__name__} got {name}=..., but {type(base).__name__} takes no {name}; leave it out "
                    f"(a tokenizer made for this checkpoint does not return it)."
                )
        return base(**given)

    def _dropout_probability(self, config: PretrainedConfig) -> float:
        """``classifier_dropout`` if set, else the family's hidden dropout, else 0.1 (transformers' rule)."""
        for field in ("classifier_dropout", "hidden_dropout", "hidden_dropout_prob"):
            value = getattr(config, field, None)
            if value is not None:
                return value
        return 0.1


class GenericForSequenceClassification(_TaskHead):
    """One score per label for a whole text.

    Class attributes a family sets (defaults: a decoder, as LLaMA and GPT-2):
        pooling: ``"last"`` scores every position, then reads each row's last non-pad
            token (decoders: only that token has seen the whole text); ``"pooler"`` reads
            the bare model's ``pooler_output`` (BERT); ``"first"`` reads the first token.
        classifier_name: the layer's attribute, HF's name: ``"score"`` or ``"classifier"``.
        classifier_bias: whether that layer has a bias (decoders: no).
        classifier_dropout: dropout before the layer (encoders: yes; see ``_dropout_probability``).
    """

    pooling: ClassVar[str] = "last"
    classifier_name: ClassVar[str] = "score"
    classifier_bias: ClassVar[bool] = False
    classifier_dropout: ClassVar[bool] = False

    def __init__(self, config: PretrainedConfig):
        super().__init__(config)
        if self.pooling not in ("last", "pooler", "first"):
            raise ValueError(f"pooling must be 'last', 'pooler' or 'first', got {self.pooling!r}.")
        self.num_labels = config.num_labels
        self._build_base_model(config)
        if self.classifier_dropout:
            self.dropout = nn.Dropout(self._dropout_probability(config))
        setattr(self, self.classifier_name, nn.Linear(config.hidden_size, config.num_labels, bias=self.classifier_bias))
        self.hook_class_logits = HookPoint("class_logits")  # (b, s, c) for "last", (b, c) otherwise
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        *,
        past_key_values: Any = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> SequenceClassifierOutput | SequenceClassifierOutputWithPast:
        """``labels`` (b,): class ids (cross-entropy), floats with num_labels == 1 (regression),
        or (b, num_labels) floats (multi-label); see ``config.problem_type``."""
        outputs = self._run_base_model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
            position_ids=position_ids, past_key_values=past_key_values, inputs_embeds=inputs_embeds,
            use_cache=use_cache, output_attentions=output_attentions, output_hidden_states=output_hidden_states,
        )
        classifier = getattr(self, self.classifier_name)
        hidden = outputs.last_hidden_state  # (b, s, d)
        if self.pooling == "last":
            logits = self.hook_class_logits(classifier(hidden))  # (b, s, c): a score at every position
            batch, seq = logits.shape[:2]
            last = last_non_pad_token(input_ids, self.config.pad_token_id, batch, seq, logits.device,
                                      type(self).__name__)  # (b,)
            pooled = logits[torch.arange(batch, device=logits.device), last]  # (b, c)
        else:
            summary = outputs.pooler_output if self.pooling == "pooler" else hidden[:, 0]  # (b, d)
            if self.classifier_dropout:
                summary = self.dropout(summary)
            pooled = self.hook_class_logits(classifier(summary))  # (b, c)
        loss = sequence_classification_loss(pooled, labels, self.config) if labels is not None else None
        fields = dict(loss=loss, logits=pooled, hidden_states=outputs.hidden_states, attentions=outputs.attentions)
        if hasattr(outputs, "past_key_values"):  # a decoder: hand its cache back, as transformers does
            return SequenceClassifierOutputWithPast(**fields, past_key_values=outputs.past_key_values)
        return SequenceClassifierOutput(**fields)


class GenericForTokenClassification(_TaskHead):
    """A score per label for every token (named entities, part-of-speech tags).

    Class attributes a family sets: ``classifier_name`` (``"score"`` as transformers' generic
    head, ``"classifier"`` for BERT-style encoders); the layer has a bias unless the config
    says ``token_classification_bias=False``, and a dropout before it (``_dropout_probability``).
    """

    classifier_name: ClassVar[str] = "score"

    def __init__(self, config: PretrainedConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self._build_base_model(config)
        self.dropout = nn.Dropout(self._dropout_probability(config))
        bias = getattr(config, "token_classification_bias", True)
        setattr(self, self.classifier_name, nn.Linear(config.hidden_size, config.num_labels, bias=bias))
        self.hook_class_logits = HookPoint("class_logits")  # (b, s, c)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        *,
        past_key_values: Any = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> TokenClassifierOutput:
        """``labels`` (b, s): a class id per token, -100 for tokens to skip (padding, sub-words)."""
        outputs = self._run_base_model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
            position_ids=position_ids, past_key_values=past_key_values, inputs_embeds=inputs_embeds,
            use_cache=use_cache, output_attentions=output_attentions, output_hidden_states=output_hidden_states,
        )
        classifier = getattr(self, self.classifier_name)
        logits = self.hook_class_logits(classifier(self.dropout(outputs.last_hidden_state)))  # (b, s, c)
        loss = token_classification_loss(logits, labels) if labels is not None else None
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class GenericForQuestionAnswering(_TaskHead):
    """Extractive question answering: for each token, a score for "the answer starts here"
    and one for "the answer ends here" (``qa_outputs``: d -> 2)."""

    def __init__(self, config: PretrainedConfig):
        super().__init__(config)
        if config.num_labels != 2:
            raise ValueError(
                f"{type(self).__name__} scores a start and an end per token, so config.num_labels must be 2, "
                f"got {config.num_labels}; leave num_labels at its default."
            )
        self.num_labels = config.num_labels
        self._build_base_model(config)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.hook_class_logits = HookPoint("class_logits")  # (b, s, 2): start and end scores
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        *,
        past_key_values: Any = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> QuestionAnsweringModelOutput:
        """``start_positions`` / ``end_positions`` (b,): token index of the answer's first and
        last token. Positions outside the sequence are ignored by the loss (as in transformers)."""
        outputs = self._run_base_model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
            position_ids=position_ids, past_key_values=past_key_values, inputs_embeds=inputs_embeds,
            output_attentions=output_attentions, output_hidden_states=output_hidden_states,
        )
        logits = self.hook_class_logits(self.qa_outputs(outputs.last_hidden_state))  # (b, s, 2)
        start_logits = logits[..., 0].contiguous()  # (b, s)
        end_logits = logits[..., 1].contiguous()  # (b, s)
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = question_answering_loss(start_logits, end_logits, start_positions, end_positions)
        return QuestionAnsweringModelOutput(
            loss=loss,
            start_logits=start_logits,
            end_logits=end_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


__all__ = [
    "GenericForSequenceClassification",
    "GenericForTokenClassification",
    "GenericForQuestionAnswering",
    "check_model_inputs",
    "check_input_ids",
    "causal_lm_loss",
    "masked_lm_loss",
    "ctc_loss",
    "sequence_classification_loss",
    "token_classification_loss",
    "question_answering_loss",
    "last_non_pad_token",
]
