"""Text generation: from next-token logits to a continuation.

A causal language model only ever answers one question: *given these tokens, how likely
is each token of the vocabulary to come next?* ``generate`` turns that into text by
asking it again and again:

    prompt ─► model ─► logits of the next token ─► logits processors ─► pick a token ─┐
       ▲                                                                                │
       └──────────────────────── append the token, repeat ◄─────────────────────────────┘

The pieces, each small enough to show on its own in a lesson:

* :class:`GenerationConfig` holds the knobs (``max_new_tokens``, ``do_sample``,
  ``temperature``, ``top_k``, ``top_p``, ``num_beams`` ...) with transformers' names, and
  reads/writes the same ``generation_config.json``.
* Logits processors reshape the next-token scores, one idea per class:
  :class:`RepetitionPenaltyLogitsProcessor`, :class:`TemperatureLogitsWarper`,
  :class:`TopKLogitsWarper`, :class:`TopPLogitsWarper` (and the minimum-length ones). A
  :class:`LogitsProcessorList` applies them in the order transformers does, so sampling
  with the same seed draws the same tokens.
* Picking: ``argmax`` (greedy), ``torch.multinomial`` (sampling), or beam search, which
  keeps the ``num_beams`` best partial sequences instead of one.
* The KV cache (:class:`hfexplain.layers.KVCache`) keeps every layer's keys and values,
  so after the prompt each step feeds only the newest token.
* :class:`TextStreamer` prints words as they are produced.
* :func:`explain_generation` (also ``model.generate_steps``) records every step: the
  top candidates before and after each processor, the chosen token, and the cache size.

Left-padded batches work as in transformers: position ids come from the attention mask
(``cumsum - 1``, so each row counts from its first real token) and the mask grows by one
column per step. A sequence that has produced an end-of-sequence token is padded with
``pad_token_id`` until the longest one is done.

Shapes: b=batch (times beams where beams are used), s=sequence so far, n=beams,
v=vocabulary, c=candidates kept per step in beam search.
"""
from __future__ import annotations

import copy
import difflib
import inspect
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from queue import Queue
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .configuration import HUB_KWARGS, write_text_atomically
from .layers import KVCache
from .heads import check_input_ids

GENERATION_CONFIG_NAME = "generation_config.json"

# What ``generate`` uses for a field that neither the call, nor the config passed in, nor
# the model's own generation config sets (transformers' ``_get_default_generation_params``).
GENERATION_DEFAULTS: dict[str, Any] = {
    "max_length": 20,
    "min_length": 0,
    "do_sample": False,
    "use_cache": True,
    "early_stopping": False,
    "num_beams": 1,
    "temperature": 1.0,
    "top_k": 50,
    "top_p": 1.0,
    "repetition_penalty": 1.0,
    "length_penalty": 1.0,
    "num_return_sequences": 1,
    "return_dict_in_generate": False,
}

# Options transformers' generate knows but hfexplain does not implement, with the value
# that means "off". A generation_config.json may carry them; they are kept (and written
# back), and generate refuses only when one is switched on.
UNSUPPORTED_OPTIONS: dict[str, Any] = {
    "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0,
    "encoder_repetition_penalty": 1.0,
    "typical_p": 1.0,
    "epsilon_cutoff": 0.0,
    "eta_cutoff": 0.0,
    "min_p": None,
    "top_h": None,
    "num_beam_groups": 1,
    "diversity_penalty": 0.0,
    "penalty_alpha": None,
    "bad_words_ids": None,
    "sequence_bias": None,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "renormalize_logits": False,
    "remove_invalid_values": False,
    "exponential_decay_length_penalty": None,
    "guidance_scale": None,
    "max_time": None,
    "stop_strings": None,
    "constraints": None,
    "force_words_ids": None,
    "dola_layers": None,
    "prompt_lookup_num_tokens": None,
    "assistant_early_exit": None,
    "use_mtp": None,
    "watermarking_config": None,
    "token_healing": False,
    "output_scores": False,
    "output_logits": False,
    "low_memory": None,
}

# Book-keeping keys of generation_config.json that are not options.
_METADATA_KEYS = ("transformers_version", "_commit_hash", "_original_object_hash")


# =====================================================================================
# GenerationConfig
# =====================================================================================


class GenerationConfig:
    """The knobs of ``generate``, with transformers' names, read from ``generation_config.json``.

    Every field defaults to ``None``, meaning "not set here": ``generate`` then takes the
    value from the model's own ``generation_config``, and failing that from
    :data:`GENERATION_DEFAULTS` (e.g. ``max_length=20``, ``top_k=50``).

    Length:
        max_new_tokens: how many tokens to add to the prompt (takes precedence).
        max_length: the total length, prompt included (default 20, used only without
            ``max_new_tokens``).
        min_new_tokens, min_length: forbid the end-of-sequence token until this many new
            tokens (or this total length) exist.
    Strategy:
        do_sample: ``False`` picks the most likely token (greedy, or beam search);
            ``True`` draws it at random from the processed distribution.
        num_beams: ``1`` for greedy/sampling; more keeps that many hypotheses (beam search).
        num_return_sequences: sequences returned per prompt (sampling or beam search).
        use_cache: reuse keys/values of earlier positions (default ``True``).
    Reshaping the distribution (applied in this order):
        repetition_penalty: > 1 makes tokens already in the sequence less likely.
        temperature: divides the logits; < 1 sharpens, > 1 flattens (sampling only).
        top_k: keep only the k most likely tokens (sampling only; default 50, 0 = off).
        top_p: keep the smallest set of tokens whose probability adds up to top_p
            (nucleus sampling; sampling only; default 1.0 = off).
    Beam search:
        length_penalty: finished beams are scored ``sum log p / length ** length_penalty``.
        early_stopping: ``True`` stops as soon as ``num_beams`` beams are finished;
            ``False`` (default) stops when no running beam can plausibly beat them;
            ``"never"`` only when none can possibly beat them.
    Special tokens:
        eos_token_id (an int or a list), pad_token_id, bos_token_id.

    Other keys found in a ``generation_config.json`` are kept and written back unchanged.
    """

    def __init__(
        self,
        *,
        max_length: int | None = None,
        max_new_tokens: int | None = None,
        min_length: int | None = None,
        min_new_tokens: int | None = None,
        do_sample: bool | None = None,
        num_beams: int | None = None,
        num_return_sequences: int | None = None,
        use_cache: bool | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
        length_penalty: float | None = None,
        early_stopping: bool | str | None = None,
        eos_token_id: int | list[int] | None = None,
        pad_token_id: int | None = None,
        bos_token_id: int | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict_in_generate: bool | None = None,
        **kwargs: Any,
    ):
        self.max_length = max_length
        self.max_new_tokens = max_new_tokens
        self.min_length = min_length
        self.min_new_tokens = min_new_tokens
        self.do_sample = do_sample
        self.num_beams = num_beams
        self.num_return_sequences = num_return_sequences
        self.use_cache = use_cache
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self.repetition_penalty = repetition_penalty
        self.length_penalty = length_penalty
        self.early_stopping = early_stopping
        self.eos_token_id = eos_token_id
        self.pad_token_id = pad_token_id
        self.bos_token_id = bos_token_id
        self.output_attentions = output_attentions
        self.output_hidden_states = output_hidden_states
        self.return_dict_in_generate = return_dict_in_generate
        # transformers marks a config derived from the model's config.json with this flag.
        self._from_model_config = kwargs.pop("_from_model_config", None)
        for key in _METADATA_KEYS:
            kwargs.pop(key, None)
        for key, value in kwargs.items():  # other keys are kept and written back
            setattr(self, key, value)
        self.validate()

    # -- checks --------------------------------------------------------------------

    def validate(self) -> None:
        """Raise a ValueError for a value no generation can use, saying how to fix it.

        Values that only matter in one mode are checked only in that mode (a
        ``temperature`` of 0 is harmless when ``do_sample`` is off).
        """
        if self.max_new_tokens is not None and (not _is_int(self.max_new_tokens) or self.max_new_tokens < 1):
            raise ValueError(
                f"max_new_tokens must be an integer >= 1, got {self.max_new_tokens!r}; it is how many tokens "
                "to add to the prompt. To score a prompt without generating, call the model: model(input_ids).logits."
            )
        if self.max_length is not None and (not _is_int(self.max_length) or self.max_length < 1):
            raise ValueError(f"max_length must be an integer >= 1, got {self.max_length!r}; prefer max_new_tokens.")
        for name in ("min_new_tokens", "min_length"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 0):
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}.")
        if self.num_beams is not None and (not _is_int(self.num_beams) or self.num_beams < 1):
            raise ValueError(
                f"num_beams must be an integer >= 1, got {self.num_beams!r}: 1 means greedy decoding or sampling, "
                "more than 1 means beam search with that many hypotheses."
            )
        if self.num_return_sequences is not None and (
            not _is_int(self.num_return_sequences) or self.num_return_sequences < 1
        ):
            raise ValueError(f"num_return_sequences must be an integer >= 1, got {self.num_return_sequences!r}.")
        if self.top_p is not None and not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise ValueError(
                f"top_p must be in (0, 1], got {self.top_p!r}: it is the share of probability mass to keep "
                "(e.g. top_p=0.9); top_p=1.0 switches nucleus filtering off."
            )
        if self.top_k is not None and (not _is_int(self.top_k) or self.top_k < 0):
            raise ValueError(
                f"top_k must be an integer >= 0, got {self.top_k!r}: the number of most likely tokens to keep; "
                "0 switches top-k filtering off."
            )
        if self.repetition_penalty is not None and not (
            isinstance(self.repetition_penalty, (int, float)) and self.repetition_penalty > 0
        ):
            raise ValueError(
                f"repetition_penalty must be a number > 0, got {self.repetition_penalty!r}: 1.0 is no penalty, "
                "above 1 discourages repeating tokens (1.2 is a common choice)."
            )
        if self.temperature is not None and not isinstance(self.temperature, (int, float)):
            raise ValueError(f"temperature must be a number, got {self.temperature!r}.")
        if self.do_sample and self.temperature is not None and self.temperature <= 0:
            raise ValueError(
                f"temperature must be > 0 when sampling (do_sample=True), got {self.temperature!r}: the logits "
                "are divided by it. For the always-most-likely token, use greedy decoding: do_sample=False."
            )
        if self.early_stopping not in (None, True, False, "never"):
            raise ValueError(f"early_stopping must be True, False or 'never', got {self.early_stopping!r}.")
        if self.length_penalty is not None and not isinstance(self.length_penalty, (int, float)):
            raise ValueError(f"length_penalty must be a number, got {self.length_penalty!r}.")
        if self.num_return_sequences is not None and self.num_return_sequences > 1:
            beams = self.num_beams or 1
            if beams == 1 and not self.do_sample:
                raise ValueError(
                    f"num_return_sequences={self.num_return_sequences} needs sampling (do_sample=True) or beam "
                    "search (num_beams >= num_return_sequences): greedy decoding has only one answer."
                )
            if beams > 1 and self.num_return_sequences > beams:
                raise ValueError(
                    f"num_return_sequences ({self.num_return_sequences}) must be <= num_beams ({beams}): beam "
                    "search can return only the beams it kept."
                )
        if self.pad_token_id is not None and not _is_int(self.pad_token_id):
            raise ValueError(f"pad_token_id must be an integer, got {self.pad_token_id!r}.")

    # -- dict and JSON -------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every field (set or not) and every extra key, as a JSON-friendly dict."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items() if key not in _METADATA_KEYS}

    def to_diff_dict(self) -> dict[str, Any]:
        """Only the fields that are set (not ``None``): what ``generation_config.json`` holds."""
        return {key: value for key, value in self.to_dict().items() if value is not None}

    def to_json_string(self, use_diff: bool = True) -> str:
        config = self.to_diff_dict() if use_diff else self.to_dict()
        return json.dumps(config, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **overrides: Any) -> "GenerationConfig":
        return cls(**{**config_dict, **overrides})

    def update(self, **kwargs: Any) -> dict[str, Any]:
        """Set the given fields that this config has; return the others unchanged."""
        unused = {}
        for key, value in kwargs.items():
            if hasattr(self, key):
                setattr(self, key, value)
            else:
                unused[key] = value
        self.validate()
        return unused

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GenerationConfig) and self.to_diff_dict() == other.to_diff_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    # -- files ----------------------------------------------------------------------

    def save_pretrained(self, save_directory: str | os.PathLike, config_file_name: str | None = None) -> str:
        """Write ``generation_config.json`` (only the fields that are set), atomically."""
        self.validate()
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise OSError(f"{save_directory!r} is a file; save_pretrained needs a folder path.")
        os.makedirs(save_directory, exist_ok=True)
        path = os.path.join(save_directory, config_file_name or GENERATION_CONFIG_NAME)
        write_text_atomically(path, self.to_json_string())
        return path

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name: str | os.PathLike, config_file_name: str | None = None, **kwargs: Any
    ) -> "GenerationConfig":
        """Read ``generation_config.json`` from a folder or a Hub repo id.

        Accepts the hub arguments (``revision``, ``cache_dir``, ``token``,
        ``local_files_only``, ``subfolder``); other keyword arguments override fields.
        """
        from .hub import cached_file

        hub_kwargs = {key: kwargs.pop(key) for key in list(kwargs) if key in HUB_KWARGS}
        path = cached_file(pretrained_model_name, config_file_name or GENERATION_CONFIG_NAME, **hub_kwargs)
        return cls.from_dict(_read_json_object(path), **kwargs)

    @classmethod
    def from_model_config(cls, model_config) -> "GenerationConfig":
        """The generation settings a model's ``config.json`` carries (special token ids,
        ``use_cache`` ...), as transformers derives them when a checkpoint has no
        ``generation_config.json``."""
        config_dict = model_config.to_dict() if hasattr(model_config, "to_dict") else dict(model_config)
        known = inspect.signature(cls.__init__).parameters
        picked = {key: value for key, value in config_dict.items() if key in known and value is not None}
        return cls(**picked, _from_model_config=True)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_json_object(path: str) -> dict[str, Any]:
    from .hub import read_json_object  # the one JSON-object reader

    return read_json_object(path, what="a generation config")


# =====================================================================================
# Logits processors
# =====================================================================================


class LogitsProcessor:
    """Base class: ``processor(input_ids, scores) -> scores``.

    ``input_ids`` (b, s) is everything so far (prompt and generated tokens); ``scores``
    (b, v) are the next token's logits (log-probabilities in beam search). A processor
    returns new scores and leaves its input unchanged, so each stage can be shown.
    """

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={value!r}" for key, value in self._shown_settings().items())
        return f"{type(self).__name__}({shown})"

    def _shown_settings(self) -> dict[str, Any]:
        return {}


class LogitsProcessorList(list):
    """A list of processors applied one after the other.

    ``trace``: pass a list to receive ``(processor, scores)`` after each processor, to
    show how every stage reshapes the distribution.
    """

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, trace: list | None = None) -> torch.Tensor:
        for processor in self:
            scores = processor(input_ids, scores)
            if trace is not None:
                trace.append((processor, scores))
        return scores


class RepetitionPenaltyLogitsProcessor(LogitsProcessor):
    """Make tokens that already occur in the sequence less likely (CTRL, Keskar et al. 2019).

    A seen token's score is divided by ``penalty`` if positive and multiplied by it if
    negative, so with ``penalty > 1`` it always moves down. Each token is penalised once,
    however often it occurs. The prompt counts; left padding does not
    (``prompt_ignore_length``: leading positions to skip, an int or one per row).
    """

    def __init__(self, penalty: float, prompt_ignore_length: int | torch.Tensor | None = None):
        if not isinstance(penalty, (int, float)) or penalty <= 0:
            raise ValueError(f"penalty must be a number > 0, got {penalty!r} (1.0 means no penalty).")
        self.penalty = float(penalty)
        self.prompt_ignore_length = prompt_ignore_length

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        vocab = scores.shape[-1]
        if isinstance(self.prompt_ignore_length, int):
            input_ids = input_ids[:, self.prompt_ignore_length :]
        elif isinstance(self.prompt_ignore_length, torch.Tensor):
            # Send ignored positions to an extra column ``vocab`` that is dropped at the end.
            positions = torch.arange(input_ids.shape[1], device=input_ids.device)  # (s,)
            skip = positions[None, :] < self.prompt_ignore_length.to(input_ids.device)[:, None]  # (b, s)
            input_ids = input_ids.masked_fill(skip, vocab)
        input_ids = input_ids.clamp(max=vocab)  # ids the head cannot produce go to the extra column too
        padded = F.pad(scores, (0, 1))  # (b, v + 1)
        seen = torch.gather(padded, 1, input_ids)  # (b, s): the score of each token already present
        seen = torch.where(seen < 0, seen * self.penalty, seen / self.penalty)
        return padded.scatter(1, input_ids, seen)[:, :vocab]  # (b, v)

    def _shown_settings(self) -> dict[str, Any]:
        return {"penalty": self.penalty}


class MinLengthLogitsProcessor(LogitsProcessor):
    """Forbid end-of-sequence tokens while the whole sequence is shorter than ``min_length``."""

    def __init__(self, min_length: int, eos_token_id: int | list[int] | torch.Tensor):
        self.min_length = min_length
        self.eos_token_id = torch.as_tensor(eos_token_id).reshape(-1)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[-1] >= self.min_length:
            return scores.clone()
        return _forbid(scores, self.eos_token_id)

    def _shown_settings(self) -> dict[str, Any]:
        return {"min_length": self.min_length}


class MinNewTokensLengthLogitsProcessor(LogitsProcessor):
    """Forbid end-of-sequence tokens until ``min_new_tokens`` tokens follow the prompt."""

    def __init__(self, prompt_length_to_skip: int, min_new_tokens: int, eos_token_id: int | list[int] | torch.Tensor):
        self.prompt_length_to_skip = prompt_length_to_skip
        self.min_new_tokens = min_new_tokens
        self.eos_token_id = torch.as_tensor(eos_token_id).reshape(-1)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[-1] - self.prompt_length_to_skip >= self.min_new_tokens:
            return scores.clone()
        return _forbid(scores, self.eos_token_id)

    def _shown_settings(self) -> dict[str, Any]:
        return {"min_new_tokens": self.min_new_tokens}


def _forbid(scores: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
    """Set the scores of ``token_ids`` to -inf (probability 0)."""
    vocab_ids = torch.arange(scores.shape[-1], device=scores.device)  # (v,)
    banned = torch.isin(vocab_ids, token_ids.to(scores.device))  # (v,)
    return torch.where(banned, -math.inf, scores)


class TemperatureLogitsWarper(LogitsProcessor):
    """Divide the logits by ``temperature``: < 1 sharpens the distribution, > 1 flattens it.

    softmax(z / T): as T -> 0 all the mass goes to the most likely token (greedy); as
    T grows the distribution approaches uniform.
    """

    def __init__(self, temperature: float):
        if not isinstance(temperature, (int, float)) or temperature <= 0:
            raise ValueError(
                f"temperature must be a number > 0, got {temperature!r}; for greedy decoding use do_sample=False."
            )
        self.temperature = float(temperature)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores / self.temperature

    def _shown_settings(self) -> dict[str, Any]:
        return {"temperature": self.temperature}


class TopKLogitsWarper(LogitsProcessor):
    """Keep the ``top_k`` highest-scoring tokens; every other token gets ``filter_value``
    (-inf, i.e. probability 0). Ties with the k-th score are kept."""

    def __init__(self, top_k: int, filter_value: float = -math.inf, min_tokens_to_keep: int = 1):
        if not _is_int(top_k) or top_k <= 0:
            raise ValueError(f"top_k must be an integer > 0, got {top_k!r}.")
        self.top_k = max(top_k, min_tokens_to_keep)
        self.filter_value = filter_value

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        k = min(self.top_k, scores.shape[-1])
        kth_best = torch.topk(scores, k).values[:, -1:]  # (b, 1)
        return scores.masked_fill(scores < kth_best, self.filter_value)

    def _shown_settings(self) -> dict[str, Any]:
        return {"top_k": self.top_k}


class TopPLogitsWarper(LogitsProcessor):
    """Nucleus sampling (Holtzman et al. 2019): keep the smallest set of most likely
    tokens whose probabilities add up to at least ``top_p``; drop the rest.

    Computed from the unlikely end: sort ascending, accumulate probability, and drop
    tokens while the accumulated mass is still <= 1 - top_p.
    """

    def __init__(self, top_p: float, filter_value: float = -math.inf, min_tokens_to_keep: int = 1):
        top_p = float(top_p)
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p!r}.")
        self.top_p = top_p
        self.filter_value = filter_value
        self.min_tokens_to_keep = min_tokens_to_keep

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        sorted_scores, order = torch.sort(scores, descending=False)  # (b, v), least likely first
        tail_mass = sorted_scores.softmax(dim=-1).cumsum(dim=-1)  # (b, v)
        drop_sorted = tail_mass <= (1 - self.top_p)
        drop_sorted[:, -self.min_tokens_to_keep :] = False  # always keep the most likely
        drop = drop_sorted.scatter(1, order, drop_sorted)  # back to vocabulary order
        return scores.masked_fill(drop, self.filter_value)

    def _shown_settings(self) -> dict[str, Any]:
        return {"top_p": self.top_p}


def build_logits_processors(
    config: GenerationConfig,
    *,
    prompt_length: int,
    attention_mask: torch.Tensor | None = None,
    extra: list | None = None,
) -> LogitsProcessorList:
    """The processors a (fully resolved) config asks for, in transformers' order.

    First those that change *which* tokens may come (repetition penalty, minimum
    length), then any ``extra`` processors of the caller, then, only when sampling, the
    "warpers" that reshape the distribution: temperature, top-k, top-p. The order
    matters: top-p measures mass *after* the temperature was applied.
    """
    processors = LogitsProcessorList()
    eos = _as_id_list(config.eos_token_id)
    if config.repetition_penalty is not None and config.repetition_penalty != 1.0:
        # Left padding is not part of the text: skip each row's leading pad positions.
        ignore = None
        if attention_mask is not None:
            ignore = (attention_mask != 0).int().argmax(dim=1)  # (b,) index of the first real token
        processors.append(RepetitionPenaltyLogitsProcessor(config.repetition_penalty, prompt_ignore_length=ignore))
    if eos and config.min_length:
        processors.append(MinLengthLogitsProcessor(config.min_length, eos))
    if eos and config.min_new_tokens:
        processors.append(MinNewTokensLengthLogitsProcessor(prompt_length, config.min_new_tokens, eos))
    processors.extend(extra or [])
    if config.do_sample:
        # Beam sampling must keep a non-EOS continuation for every beam.
        keep = len(eos) + 1 if config.num_beams > 1 else 1
        if config.temperature is not None and config.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(config.temperature))
        if config.top_k is not None and config.top_k != 0:
            processors.append(TopKLogitsWarper(config.top_k, min_tokens_to_keep=keep))
        if config.top_p is not None and config.top_p < 1.0:
            processors.append(TopPLogitsWarper(config.top_p, min_tokens_to_keep=keep))
    return processors


def _as_id_list(token_ids: int | list[int] | torch.Tensor | None) -> list[int]:
    if token_ids is None:
        return []
    if isinstance(token_ids, torch.Tensor):
        return [int(t) for t in token_ids.reshape(-1)]
    if isinstance(token_ids, int):
        return [token_ids]
    return [int(t) for t in token_ids]


# =====================================================================================
# Streamers
# =====================================================================================


class BaseStreamer:
    """What ``generate(streamer=...)`` talks to: ``put(token_ids)`` with the prompt first,
    then each new token; ``end()`` once at the end."""

    def put(self, value: torch.Tensor) -> None:
        raise NotImplementedError

    def end(self) -> None:
        raise NotImplementedError


class TextStreamer(BaseStreamer):
    """Print the text as it is generated, a whole word at a time.

    Args:
        tokenizer: anything with ``decode(ids, **decode_kwargs) -> str`` (hfexplain's
            ``Tokenizer`` or a transformers tokenizer).
        skip_prompt: do not print the prompt.
        **decode_kwargs: passed to ``decode`` (e.g. ``skip_special_tokens=True``).

    Why whole words: a token can be half a word or half a UTF-8 character, and the
    decoded text of a partial sequence can change when the next token arrives. So the
    streamer decodes everything since the last line break and prints only up to the
    last space; at a newline (or a CJK character, which stands alone) it prints all of
    it, and ``end()`` flushes the rest followed by a newline.
    """

    def __init__(self, tokenizer, skip_prompt: bool = False, **decode_kwargs: Any):
        if tokenizer is None:
            raise ValueError(
                f"{type(self).__name__} needs a tokenizer to turn token ids into text; pass the model's "
                "tokenizer, e.g. TextStreamer(AutoTokenizer.from_pretrained(path))."
            )
        if not callable(getattr(tokenizer, "decode", None)):
            raise TypeError(
                f"{type(self).__name__} needs a tokenizer with a decode() method, got {type(tokenizer).__name__}."
            )
        self.tokenizer = tokenizer
        self.skip_prompt = skip_prompt
        self.decode_kwargs = decode_kwargs
        self.token_cache: list[int] = []  # tokens since the last line break
        self.print_len = 0  # characters of their text already printed
        self.next_tokens_are_prompt = True

    def put(self, value: torch.Tensor) -> None:
        if value.dim() > 1 and value.shape[0] > 1:
            raise ValueError(
                f"{type(self).__name__} only supports batch size 1 (got {value.shape[0]} rows); generate one "
                "prompt at a time to stream it."
            )
        if value.dim() > 1:
            value = value[0]
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
        self.token_cache.extend(value.tolist())
        text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
        if text.endswith("\n"):  # a line is complete: print it and start afresh
            printable = text[self.print_len :]
            self.token_cache = []
            self.print_len = 0
        elif text and _is_cjk(ord(text[-1])):  # CJK characters are words of their own
            printable = text[self.print_len :]
            self.print_len += len(printable)
        else:  # print up to the last space: the last word may still change
            printable = text[self.print_len : text.rfind(" ") + 1]
            self.print_len += len(printable)
        self.on_finalized_text(printable)

    def end(self) -> None:
        printable = ""
        if self.token_cache:
            text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
            printable = text[self.print_len :]
        self.token_cache = []
        self.print_len = 0
        self.next_tokens_are_prompt = True
        self.on_finalized_text(printable, stream_end=True)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        """Print ``text``; subclasses send it elsewhere (a widget, a queue)."""
        print(text, flush=True, end=None if stream_end else "")


class TextIteratorStreamer(TextStreamer):
    """Like :class:`TextStreamer`, but hands the text to an iterator instead of printing.

    Run ``generate`` in a thread and iterate over the streamer in the caller (a widget's
    callback, a web handler); the iteration ends when generation does. ``timeout``
    (seconds) raises ``queue.Empty`` if no text arrives in time.
    """

    def __init__(self, tokenizer, skip_prompt: bool = False, timeout: float | None = None, **decode_kwargs: Any):
        super().__init__(tokenizer, skip_prompt, **decode_kwargs)
        self.text_queue: Queue = Queue()
        self.stop_signal = None
        self.timeout = timeout

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        self.text_queue.put(text, timeout=self.timeout)
        if stream_end:
            self.text_queue.put(self.stop_signal, timeout=self.timeout)

    def __iter__(self):
        return self

    def __next__(self) -> str:
        value = self.text_queue.get(timeout=self.timeout)
        if value is self.stop_signal:
            raise StopIteration
        return value


def _is_cjk(codepoint: int) -> bool:
    """True for code points of the CJK Unified Ideographs blocks (Chinese characters)."""
    return (
        0x4E00 <= codepoint <= 0x9FFF
        or 0x3400 <= codepoint <= 0x4DBF
        or 0x20000 <= codepoint <= 0x2A6DF
        or 0x2A700 <= codepoint <= 0x2B73F
        or 0x2B740 <= codepoint <= 0x2B81F
        or 0x2B820 <= codepoint <= 0x2CEAF
        or 0xF900 <= codepoint <= 0xFAFF
        or 0x2F800 <= codepoint <= 0x2FA1F
    )


# =====================================================================================
# The step-by-step view
# =====================================================================================


@dataclass
class ProcessorStage:
    """The next-token distribution at one stage of one step.

    ``name`` is ``"logits"`` for the model's raw output, else the processor that was
    just applied (e.g. ``"TopKLogitsWarper(top_k=5)"``). ``top_ids``/``top_probs``: the
    most probable tokens and their probabilities (softmax of this stage's scores).
    ``kept``: how many tokens still have a probability above 0.
    """

    name: str
    top_ids: list[int]
    top_probs: list[float]
    kept: int
    top_tokens: list[str] | None = None


@dataclass
class GenerationStep:
    """One step of generation: what the model proposed, what the processors made of it,
    which token was picked, and what the KV cache holds afterwards."""

    step: int  # 0 for the first new token
    position: int  # index of the new token in the full sequence
    stages: list[ProcessorStage]  # "logits" first, then one per processor
    token_id: int  # the token that was picked
    token_prob: float  # its probability under the final (processed) distribution
    kv_cache_positions: int  # positions held in the cache after this step (0 without a cache)
    kv_cache_bytes: int  # bytes held by the cache's keys and values
    token: str | None = None  # the token's text, when a tokenizer was given

    @property
    def final(self) -> ProcessorStage:
        """The distribution the token was picked from."""
        return self.stages[-1]


class _StepRecorder:
    """Turns what the decoding loop sees at each step into :class:`GenerationStep` records."""

    def __init__(self, top_n: int, tokenizer=None):
        self.top_n = top_n
        self.tokenizer = tokenizer
        self.steps: list[GenerationStep] = []

    def _text(self, token_id: int) -> str | None:
        return None if self.tokenizer is None else self.tokenizer.decode([token_id])

    def _stage(self, name: str, scores: torch.Tensor) -> ProcessorStage:
        probs = torch.softmax(scores[0].float(), dim=-1)  # (v,)
        top = torch.topk(probs, min(self.top_n, probs.shape[-1]))
        ids = top.indices.tolist()
        return ProcessorStage(
            name=name,
            top_ids=ids,
            top_probs=top.values.tolist(),
            kept=int((probs > 0).sum()),
            top_tokens=None if self.tokenizer is None else [self._text(i) for i in ids],
        )

    def record(self, input_ids: torch.Tensor, raw: torch.Tensor, trace: list, token: int, cache) -> None:
        stages = [self._stage("logits", raw)] + [self._stage(repr(p), scores) for p, scores in trace]
        final_scores = trace[-1][1] if trace else raw
        token_prob = float(torch.softmax(final_scores[0].float(), dim=-1)[token])
        self.steps.append(
            GenerationStep(
                step=len(self.steps),
                position=input_ids.shape[1],
                stages=stages,
                token_id=token,
                token_prob=token_prob,
                kv_cache_positions=cache.get_seq_length() if cache is not None else 0,
                kv_cache_bytes=cache.nbytes() if cache is not None else 0,
                token=self._text(token),
            )
        )


# =====================================================================================
# GenerationMixin
# =====================================================================================


@dataclass
class _Prepared:
    """Everything a decoding loop needs, after the arguments were checked and resolved."""

    config: GenerationConfig
    input_ids: torch.Tensor  # (b, s) prompt, rows repeated for beams / return sequences
    attention_mask: torch.Tensor | None  # (b, s); None when nothing is padded
    position_ids: torch.Tensor  # (b|1, s)
    processors: LogitsProcessorList
    eos_token_ids: torch.Tensor | None  # (e,)
    pad_token_id: int | None
    prompt_length: int
    extra_forward_args: dict = field(default_factory=dict)


class GenerationMixin:
    """Adds ``generate`` (and ``generate_steps``) to models with a language-modelling head.

    Mixed in first by causal-LM classes (``class GPT2LMHeadModel(GenerationMixin,
    GPT2PreTrainedModel)``). It relies only on the model's ``forward`` contract:
    ``forward(input_ids, past_key_values=KVCache, attention_mask, position_ids,
    use_cache, logits_to_keep) -> output with .logits and .past_key_values``.
    """

    def __init__(self, config, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        self.generation_config = GenerationConfig.from_model_config(config)

    @classmethod
    def can_generate(cls) -> bool:
        return True

    # -- loading and saving the generation config -------------------------------------

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, generation_config: GenerationConfig | None = None,
                        **kwargs):
        """Load the model (see ``PreTrainedModel.from_pretrained``), then its
        ``generation_config.json`` if the checkpoint has one; otherwise the generation
        settings come from ``config.json`` (``GenerationConfig.from_model_config``)."""
        loaded = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        model = loaded[0] if isinstance(loaded, tuple) else loaded
        if generation_config is not None:
            model.generation_config = copy.deepcopy(generation_config)
        else:
            from .hub import cached_file

            hub_kwargs = {key: kwargs[key] for key in HUB_KWARGS if kwargs.get(key) is not None}
            path = cached_file(pretrained_model_name_or_path, GENERATION_CONFIG_NAME, required=False, **hub_kwargs)
            if path is not None:
                model.generation_config = GenerationConfig.from_dict(_read_json_object(path))
        return loaded

    def _save_extra_files(self, save_directory: str) -> None:
        super()._save_extra_files(save_directory)
        self.generation_config.save_pretrained(save_directory)

    # -- generate ------------------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        *,
        generation_config: GenerationConfig | None = None,
        streamer: BaseStreamer | None = None,
        logits_processor: list | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Continue the prompt; returns token ids (b, prompt + new) as transformers does.

        Args:
            input_ids: (b, s) prompt ids; left-pad a batch (``padding_side="left"``).
                ``None`` starts from ``bos_token_id``.
            attention_mask: (b, s) 1 for real tokens, 0 for padding. Without it, padding
                is inferred from ``pad_token_id`` when that differs from the EOS token.
            generation_config: a :class:`GenerationConfig` to start from instead of
                ``model.generation_config``.
            streamer: e.g. ``TextStreamer(tokenizer)``; receives the prompt, then each token.
            logits_processor: extra processors, applied after the built-in ones and
                before temperature/top-k/top-p.
            **kwargs: any :class:`GenerationConfig` field, e.g. ``max_new_tokens=20,
                do_sample=True, top_p=0.9, num_beams=4``.

        Greedy decoding when ``do_sample=False`` and ``num_beams=1``; sampling when
        ``do_sample=True``; beam search when ``num_beams > 1``.
        """
        _check_can_generate(self)
        prepared = self._prepare_generation(
            input_ids, attention_mask, generation_config, logits_processor, streamer, kwargs
        )
        if prepared.config.num_beams > 1:
            return self._beam_search(prepared)
        return self._sample(prepared, streamer)

    def generate_steps(self, input_ids: torch.Tensor | None = None, **kwargs: Any) -> list[GenerationStep]:
        """Generate while recording every step; see :func:`explain_generation`."""
        return explain_generation(self, input_ids, **kwargs)

    # -- preparation ----------------------------------------------------------------------

    def _resolve_generation_config(self, generation_config: GenerationConfig | None, kwargs: dict) -> GenerationConfig:
        """Merge, highest priority first: the call's kwargs, ``generation_config``, the
        model's ``generation_config``, :data:`GENERATION_DEFAULTS`."""
        if generation_config is not None and not isinstance(generation_config, GenerationConfig):
            raise TypeError(
                f"generation_config must be a GenerationConfig, got {type(generation_config).__name__}; "
                "pass the options as keyword arguments instead, e.g. generate(ids, max_new_tokens=20)."
            )
        config = copy.deepcopy(generation_config) if generation_config is not None else GenerationConfig()
        own = getattr(self, "generation_config", None) or GenerationConfig.from_model_config(self.config)
        for source in (own.to_dict(), GENERATION_DEFAULTS):
            for key, value in source.items():
                if getattr(config, key, None) is None:
                    setattr(config, key, copy.deepcopy(value))

        unknown = [key for key in kwargs if not hasattr(config, key) and key not in UNSUPPORTED_OPTIONS]
        if unknown:
            options = [name for name in vars(config) if not name.startswith("_")]
            hints = [f"{key!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(key, options, 1))
                     else repr(key) for key in unknown]
            raise ValueError(
                f"generate() got argument(s) it does not know: {', '.join(hints)}. Pass GenerationConfig fields "
                f"such as max_new_tokens, do_sample, temperature, top_k, top_p, num_beams, eos_token_id."
            )
        for key, value in kwargs.items():
            setattr(config, key, value)
        # A max_length from the call (not max_new_tokens) decides the length, as in transformers.
        if "max_length" in kwargs and "max_new_tokens" not in kwargs:
            config.max_new_tokens = None
        config.validate()

        switched_on = {key: getattr(config, key) for key, off in UNSUPPORTED_OPTIONS.items()
                       if getattr(config, key, off) not in (None, off)}
        if config.return_dict_in_generate:
            switched_on["return_dict_in_generate"] = True
        if switched_on:
            raise NotImplementedError(
                f"hfexplain's generate does not implement {switched_on}; unset these options (also in "
                "model.generation_config), or use transformers for them. For per-step scores, use "
                "explain_generation(model, input_ids)."
            )
        return config

    def _prepare_generation(self, input_ids, attention_mask, generation_config, logits_processor, streamer,
                            kwargs) -> _Prepared:
        """Check everything and build the tensors the loops need, before any forward pass."""
        config = self._resolve_generation_config(generation_config, kwargs)
        eos = _as_id_list(config.eos_token_id)
        pad = config.pad_token_id if config.pad_token_id is not None else (eos[0] if eos else None)
        device = next(self.parameters()).device

        if streamer is not None:
            if not (callable(getattr(streamer, "put", None)) and callable(getattr(streamer, "end", None))):
                raise TypeError(
                    f"streamer must have put() and end() methods (e.g. TextStreamer(tokenizer)), "
                    f"got {type(streamer).__name__}."
                )
            if config.num_beams > 1:
                raise ValueError(
                    "a streamer cannot be used with beam search: the best beam is known only at the end. "
                    "Use num_beams=1 to stream."
                )

        # 1. The prompt.
        if input_ids is None:
            if config.bos_token_id is None:
                raise ValueError(
                    "generate() needs input_ids (a tokenized prompt) or a bos_token_id to start from; pass "
                    "input_ids=tokenizer(text, return_tensors='pt').input_ids."
                )
            input_ids = torch.full((1, 1), config.bos_token_id, dtype=torch.long, device=device)
        vocab_size = getattr(self.config, "vocab_size", None)
        check_input_ids(input_ids, max_positions=None, vocab_size=vocab_size)
        input_ids = input_ids.to(device=device, dtype=torch.long)
        batch, prompt_length = input_ids.shape
        if prompt_length == 0:
            raise ValueError("input_ids is empty (0 tokens); give generate() at least one token to continue.")

        # 2. How long to generate.
        default_length = "max_length" not in kwargs and getattr(self.generation_config, "max_length", None) is None \
            and (generation_config is None or generation_config.max_length is None)
        n_positions = self._learned_position_limit()
        if config.max_new_tokens is not None:
            config.max_length = prompt_length + config.max_new_tokens
        elif default_length:
            warnings.warn(
                f"Using the default max_length ({config.max_length}) to limit the length; set max_new_tokens "
                "to say how many tokens to generate.",
                UserWarning,
                stacklevel=3,
            )
            config.max_length = config.max_length + prompt_length
            limit = getattr(self.config, "max_position_embeddings", None)
            if limit is not None:
                config.max_length = min(config.max_length, limit)
        if prompt_length >= config.max_length:
            raise ValueError(
                f"the prompt is {prompt_length} tokens long but max_length is {config.max_length}, which leaves "
                "no room for new tokens; set max_new_tokens (the number of tokens to add) instead."
            )
        if n_positions is not None and config.max_length > n_positions:
            raise ValueError(
                f"the prompt ({prompt_length} tokens) plus {config.max_length - prompt_length} new tokens needs "
                f"{config.max_length} positions, but {type(self).__name__} learned only {n_positions} "
                f"(its context window). Lower max_new_tokens to at most {n_positions - prompt_length}, or "
                f"shorten the prompt (tokenizer(..., truncation=True, max_length=...))."
            )

        # 3. Which positions are padding, and the position of every token.
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
            if config.pad_token_id is not None and config.pad_token_id not in eos and \
                    bool((input_ids == config.pad_token_id).any()):
                attention_mask = (input_ids != config.pad_token_id).long()  # padding inferred from the pad id
        else:
            if not isinstance(attention_mask, torch.Tensor) or attention_mask.shape != input_ids.shape:
                shape = tuple(attention_mask.shape) if isinstance(attention_mask, torch.Tensor) else attention_mask
                raise ValueError(
                    f"attention_mask must be a tensor shaped like input_ids {tuple(input_ids.shape)}, got {shape}; "
                    "pass the tokenizer's output as is: model.generate(**tokenizer(texts, return_tensors='pt', "
                    "padding=True))."
                )
            attention_mask = attention_mask.to(device=device, dtype=torch.long)
        if batch > 1 and bool((attention_mask[:, -1] == 0).any()):
            warnings.warn(
                "the batch is right-padded: new tokens would follow the padding. Pad on the left for "
                "generation (tokenizer.padding_side = 'left').",
                UserWarning,
                stacklevel=3,
            )
        position_ids = (attention_mask.cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)  # (b, s)
        if bool(attention_mask.bool().all()):
            attention_mask = None  # nothing is padded: the causal mask is enough

        # 4. One row per hypothesis: beams, or several samples per prompt.
        copies = max(config.num_beams, config.num_return_sequences)
        if copies > 1:
            input_ids = input_ids.repeat_interleave(copies, dim=0)  # (b * copies, s)
            position_ids = position_ids.repeat_interleave(copies, dim=0)
            if attention_mask is not None:
                attention_mask = attention_mask.repeat_interleave(copies, dim=0)

        processors = build_logits_processors(
            config, prompt_length=prompt_length, attention_mask=attention_mask, extra=logits_processor
        )
        eos_tensor = torch.tensor(eos, dtype=torch.long, device=device) if eos else None
        extra = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(self.forward).parameters else {}
        return _Prepared(config, input_ids, attention_mask, position_ids, processors, eos_tensor, pad,
                         prompt_length, extra)

    def _learned_position_limit(self) -> int | None:
        """The size of a learned position table (GPT-2's ``wpe``), or None for models whose
        positions are computed (rotary, sinusoidal) and have no hard limit."""
        for name, module in self.named_modules():
            if isinstance(module, nn.Embedding) and name.rsplit(".", 1)[-1] in (
                "wpe", "position_embeddings", "embed_positions"
            ):
                return module.num_embeddings
        return None

    def _next_token_logits(self, input_ids, attention_mask, position_ids, cache, prepared: _Prepared) -> torch.Tensor:
        """One forward pass; returns the next token's logits (b, v) in float32.

        With a cache, only the positions the cache has not seen are fed (the whole
        prompt on the first call, then one token); without, the whole sequence again.
        """
        new = input_ids.shape[1] - (cache.get_seq_length() if cache is not None else 0)
        outputs = self(
            input_ids=input_ids[:, -new:],
            past_key_values=cache,
            attention_mask=attention_mask,
            position_ids=position_ids[:, -new:],
            use_cache=cache is not None,
            **prepared.extra_forward_args,
        )
        return outputs.logits[:, -1, :].to(dtype=torch.float32, copy=True)  # (b, v)

    # -- greedy decoding and sampling -----------------------------------------------------

    def _sample(self, prepared: _Prepared, streamer=None, recorder: _StepRecorder | None = None) -> torch.Tensor:
        """Greedy decoding (argmax) or multinomial sampling, one token per step."""
        config = prepared.config
        input_ids, attention_mask, position_ids = prepared.input_ids, prepared.attention_mask, prepared.position_ids
        eos, pad = prepared.eos_token_ids, prepared.pad_token_id
        cache = KVCache() if config.use_cache else None
        unfinished = torch.ones(input_ids.shape[0], dtype=torch.long, device=input_ids.device)  # (b,) 1 = running
        if streamer is not None:
            streamer.put(input_ids.cpu())

        while True:
            logits = self._next_token_logits(input_ids, attention_mask, position_ids, cache, prepared)  # (b, v)
            trace = [] if recorder is not None else None
            scores = prepared.processors(input_ids, logits, trace=trace)  # (b, v)
            if config.do_sample:
                probs = F.softmax(scores, dim=-1)  # (b, v)
                next_tokens = torch.multinomial(probs, num_samples=1).squeeze(1)  # (b,)
            else:
                next_tokens = torch.argmax(scores, dim=-1)  # (b,)
            if eos is not None:  # a finished row keeps receiving padding
                next_tokens = next_tokens * unfinished + pad * (1 - unfinished)
            if recorder is not None:
                recorder.record(input_ids, logits, trace, int(next_tokens[0]), cache)

            input_ids = torch.cat([input_ids, next_tokens[:, None]], dim=-1)  # (b, s + 1)
            done = torch.full_like(unfinished, input_ids.shape[1] >= config.max_length, dtype=torch.bool)
            if eos is not None:
                done |= torch.isin(next_tokens, eos)
            unfinished = unfinished & ~done
            if streamer is not None:
                streamer.put(next_tokens.cpu())
            if unfinished.max() == 0:
                break
            # The new token sits one position after the last; the mask gains a column.
            position_ids = torch.cat([position_ids, position_ids[:, -1:] + 1], dim=-1)  # (b, s + 1)
            if attention_mask is not None:
                attention_mask = torch.cat([attention_mask, attention_mask.new_ones((attention_mask.shape[0], 1))], -1)

        if streamer is not None:
            streamer.end()
        return input_ids

    # -- beam search ---------------------------------------------------------------------

    def _beam_search(self, prepared: _Prepared) -> torch.Tensor:
        """Keep the ``num_beams`` most probable partial sequences per prompt.

        Each step, every running beam proposes every token; the sum of log-probabilities
        ranks all ``num_beams * vocab`` candidates. The best ``c`` candidates (``c`` =
        2 x beams, more with several EOS ids) are kept so that, even if some of them end
        here, ``num_beams`` can continue. Candidates that end (EOS, or max_length) among
        the top ``num_beams`` join the *finished* pool, scored
        ``sum log p / new_length ** length_penalty``; the pool keeps its best
        ``num_beams``. The search stops at max_length, when ``early_stopping=True`` and
        every pool is full, or when no running beam can beat its pool any more.

        The bookkeeping follows transformers' vectorised beam search step for step, so
        the same weights return the same sequences.
        """
        config = prepared.config
        eos = prepared.eos_token_ids
        num_beams, max_length = config.num_beams, config.max_length
        length_penalty, early_stopping = config.length_penalty, config.early_stopping
        flat_ids = prepared.input_ids  # (b * n, s)
        batch = flat_ids.shape[0] // num_beams
        prompt_length = cur_len = flat_ids.shape[1]
        device = flat_ids.device
        n_eos = eos.shape[0] if eos is not None else 0
        n_candidates = max(2, 1 + n_eos) * num_beams
        is_top_beam = torch.arange(n_candidates, device=device) < num_beams  # (c,) the first n candidates
        # Unused slots show the pad id (transformers' `pad or eos[0]`, so a pad id of 0 reads as unset).
        pad = prepared.pad_token_id
        fill = (pad if pad else int(eos[0])) if eos is not None else -1

        # Running beams and the finished pool, with room for every position up to max_length.
        running = torch.full((batch, num_beams, max_length), fill, dtype=torch.long, device=device)  # (b, n, L)
        running[:, :, :cur_len] = flat_ids.view(batch, num_beams, cur_len)
        finished = running.clone()  # (b, n, L)
        # Start with one live beam per prompt (the others are copies, scored -1e9, so the
        # first step does not pick the same token n times).
        running_scores = torch.zeros((batch, num_beams), device=device)  # (b, n) sum of log-probs
        running_scores[:, 1:] = -1e9
        finished_scores = torch.full((batch, num_beams), -1e9, device=device)  # (b, n) length-normalised
        is_finished = torch.zeros((batch, num_beams), dtype=torch.bool, device=device)  # (b, n) pool slot used
        can_improve = torch.ones((batch, 1), dtype=torch.bool, device=device)  # (b, 1)
        # For each generated position, the flat row (beam) the token was appended to; -1 = none yet.
        running_origin = torch.full((batch, num_beams, max_length - cur_len), -1, dtype=torch.long, device=device)
        finished_origin = running_origin.clone()

        cache = KVCache() if config.use_cache else None
        attention_mask, position_ids = prepared.attention_mask, prepared.position_ids
        while True:
            logits = self._next_token_logits(flat_ids, attention_mask, position_ids, cache, prepared)  # (b*n, v)
            vocab = logits.shape[-1]
            log_probs = F.log_softmax(logits, dim=-1)
            log_probs = prepared.processors(flat_ids, log_probs)  # (b*n, v)
            totals = log_probs.view(batch, num_beams, vocab) + running_scores[:, :, None]  # (b, n, v)
            totals = totals.view(batch, num_beams * vocab)  # (b, n*v)

            # a. The best candidates over all beams (or sampled ones, for beam sampling).
            if config.do_sample:
                picked = torch.multinomial(F.softmax(totals, dim=-1), num_samples=n_candidates)  # (b, c)
                cand_scores = torch.gather(totals, 1, picked)
            else:
                cand_scores, picked = torch.topk(totals, n_candidates)  # (b, c)
            cand_beam = picked // vocab  # (b, c) which beam each candidate extends
            cand_token = picked % vocab  # (b, c) with which token
            cand_seqs = _take_beams(running, cand_beam)  # (b, c, L)
            cand_seqs[:, :, cur_len] = cand_token
            cand_origin = _take_beams(running_origin, cand_beam)  # (b, c, L - prompt)
            row_offset = torch.arange(batch, device=device)[:, None] * num_beams  # (b, 1) first flat row of a prompt
            cand_origin[:, :, cur_len - prompt_length] = cand_beam + row_offset

            # b. Which candidates end here.
            cand_ends = torch.full_like(cand_beam, cur_len + 1 >= max_length, dtype=torch.bool)  # (b, c)
            if eos is not None:
                cand_ends |= torch.isin(cand_token, eos)

            # c. The best candidates that do not end keep running.
            alive_scores = cand_scores + cand_ends.float() * -1e9
            keep = torch.topk(alive_scores, num_beams).indices  # (b, n)
            running = _take_beams(cand_seqs, keep)
            running_scores = _take_beams(alive_scores, keep)
            running_origin = _take_beams(cand_origin, keep)

            # d. Ending candidates among the top n enter the finished pool if they beat it.
            new_scores = cand_scores / ((cur_len + 1 - prompt_length) ** length_penalty)
            pool_full = is_finished.all(dim=-1, keepdim=True) & (early_stopping is True)  # (b, 1)
            new_scores = new_scores + pool_full.float() * -1e9
            new_scores = new_scores + (~can_improve).float() * -1e9
            enters = cand_ends & is_top_beam[None, :]  # (b, c)
            new_scores = new_scores + (~enters) * -1e9
            merged_scores = torch.cat([finished_scores, new_scores], dim=1)  # (b, n + c)
            best = torch.topk(merged_scores, num_beams).indices  # (b, n)
            finished = _take_beams(torch.cat([finished, cand_seqs], dim=1), best)
            finished_scores = _take_beams(merged_scores, best)
            finished_origin = _take_beams(torch.cat([finished_origin, cand_origin], dim=1), best)
            is_finished = _take_beams(torch.cat([is_finished, enters], dim=1), best)

            # e. The cache follows the beams: row i now continues the row it was copied from.
            if cache is not None:
                cache.reorder_cache(running_origin[:, :, cur_len - prompt_length].reshape(-1))
            cur_len += 1

            # f. Could a running beam still beat the worst finished one?
            if early_stopping == "never" and length_penalty > 0.0:
                best_length = max_length - prompt_length  # it may grow until max_length
            else:
                best_length = cur_len - prompt_length
            best_running = running_scores[:, :1] / (best_length**length_penalty)  # (b, 1)
            worst_finished = torch.where(is_finished, finished_scores.min(dim=1, keepdim=True).values, -1e9)  # (b, n)
            can_improve = can_improve & (best_running > worst_finished).any(dim=-1, keepdim=True)

            all_pools_full = bool(is_finished.all()) and early_stopping is True
            if not bool(can_improve.any()) or all_pools_full or bool(cand_ends.all()):
                break
            flat_ids = running[:, :, :cur_len].reshape(batch * num_beams, cur_len)  # (b*n, s)
            position_ids = torch.cat([position_ids, position_ids[:, -1:] + 1], dim=-1)
            if attention_mask is not None:
                attention_mask = torch.cat([attention_mask, attention_mask.new_ones((attention_mask.shape[0], 1))], -1)

        # The best num_return_sequences of each pool, cut to the longest one returned.
        keep_n = config.num_return_sequences
        sequences = finished[:, :keep_n].reshape(batch * keep_n, max_length)
        origins = finished_origin[:, :keep_n].reshape(batch * keep_n, -1)
        generated = int((origins >= 0).sum(dim=1).max())
        return sequences[:, : prompt_length + generated]


def _check_can_generate(model) -> None:
    """Generation needs next-token logits, i.e. a language-modelling head."""
    get_head = getattr(model, "get_output_embeddings", None)
    head = get_head() if callable(get_head) else None
    if head is None or not isinstance(model, GenerationMixin):
        raise TypeError(
            f"{type(model).__name__} has no language-modelling head, so it cannot predict the next token "
            "and cannot generate. Load a causal LM instead: AutoModelForCausalLM.from_pretrained(...) "
            "(e.g. GPT2LMHeadModel rather than GPT2Model)."
        )


def _take_beams(tensor: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Pick along dim 1: (b, m, ...) and (b, k) indices -> (b, k, ...)."""
    while indices.dim() < tensor.dim():
        indices = indices.unsqueeze(-1)
    return torch.take_along_dim(tensor, indices, dim=1)


# =====================================================================================
# explain_generation
# =====================================================================================


def explain_generation(
    model,
    input_ids: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
    *,
    top_n: int = 5,
    tokenizer=None,
    generation_config: GenerationConfig | None = None,
    streamer: BaseStreamer | None = None,
    logits_processor: list | None = None,
    **kwargs: Any,
) -> list[GenerationStep]:
    """Generate like ``model.generate`` and return a record of every step.

    For each new token a :class:`GenerationStep` holds the ``top_n`` most probable
    tokens of the raw logits and after each logits processor (so a lesson can watch
    temperature flatten, top-k cut and top-p trim the distribution), the token that was
    picked and its probability, and the KV cache's size (positions and bytes) after the
    step. Give a ``tokenizer`` to see the tokens as text too.

    One prompt at a time (input_ids of shape (1, s)), greedy or sampling (not beam
    search). With the same seed, the tokens are those ``generate`` returns.

    >>> steps = explain_generation(model, ids, max_new_tokens=5, do_sample=True, top_k=10)  # doctest: +SKIP
    >>> [(s.token, round(s.token_prob, 3), s.kv_cache_positions) for s in steps]          # doctest: +SKIP
    """
    _check_can_generate(model)
    if not _is_int(top_n) or top_n < 1:
        raise ValueError(f"top_n must be an integer >= 1 (how many candidates to show), got {top_n!r}.")
    if tokenizer is not None and not callable(getattr(tokenizer, "decode", None)):
        raise TypeError(f"tokenizer must have a decode() method, got {type(tokenizer).__name__}.")
    with torch.no_grad():
        prepared = model._prepare_generation(input_ids, attention_mask, generation_config, logits_processor,
                                             streamer, kwargs)
        if prepared.config.num_beams > 1:
            raise ValueError(
                "explain_generation follows a single sequence, so it does not support beam search; use "
                "num_beams=1 (greedy or sampling)."
            )
        if prepared.input_ids.shape[0] != 1:
            raise ValueError(
                f"explain_generation follows one sequence, but the input has {prepared.input_ids.shape[0]} rows; "
                "pass a single prompt (input_ids of shape (1, seq)) and num_return_sequences=1."
            )
        recorder = _StepRecorder(top_n, tokenizer)
        model._sample(prepared, streamer, recorder)
    return recorder.steps


__all__ = [
    "GenerationConfig",
    "GenerationMixin",
    "GenerationStep",
    "ProcessorStage",
    "LogitsProcessor",
    "LogitsProcessorList",
    "RepetitionPenaltyLogitsProcessor",
    "MinLengthLogitsProcessor",
    "MinNewTokensLengthLogitsProcessor",
    "TemperatureLogitsWarper",
    "TopKLogitsWarper",
    "TopPLogitsWarper",
    "build_logits_processors",
    "BaseStreamer",
    "TextStreamer",
    "TextIteratorStreamer",
    "explain_generation",
    "GENERATION_DEFAULTS",
]
