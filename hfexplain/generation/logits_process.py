"""Logits processors: each reshapes the next token's scores, one idea per class.

``processor(input_ids, scores) -> scores``. :func:`build_logits_processors` turns a resolved
:class:`~hfexplain.generation.GenerationConfig` into a :class:`LogitsProcessorList` in
transformers' order, so sampling with the same seed draws the same tokens.

Shapes: b=batch (times beams), s=sequence so far, v=vocabulary.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .configuration_utils import GenerationConfig, _is_int


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


class NoRepeatNGramLogitsProcessor(LogitsProcessor):
    """Forbid every token that would repeat an n-gram of size ``ngram_size`` already in the
    sequence (the prompt included), as in fairseq.

    The next token completes an n-gram whose first n-1 tokens are the sequence's last
    n-1. So: find every earlier window of n tokens that starts with those n-1, and ban
    the token that ended it. ``ngram_size=1`` bans every token already present.
    """

    def __init__(self, ngram_size: int):
        if not _is_int(ngram_size) or ngram_size <= 0:
            raise ValueError(f"ngram_size must be an integer > 0, got {ngram_size!r} (e.g. 3; 0 in a config means off).")
        self.ngram_size = ngram_size

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        n = self.ngram_size
        seq, vocab = input_ids.shape[1], scores.shape[-1]
        if seq < n:  # no complete n-gram yet
            return scores.clone()
        prefix = input_ids[:, seq - (n - 1) :]  # (b, n-1): the n-gram the next token would complete
        windows = input_ids.unfold(1, n, 1)  # (b, seq - n + 1, n): every n-gram so far
        matches = (windows[:, :, : n - 1] == prefix[:, None, :]).all(dim=-1)  # (b, w) starts like the prefix
        # The token that ended a matching window is banned; other windows point at a spare column.
        ends = torch.where(matches, windows[:, :, -1].clamp(max=vocab), vocab)  # (b, w)
        banned = torch.zeros((scores.shape[0], vocab + 1), dtype=torch.bool, device=scores.device)  # (b, v + 1)
        banned.scatter_(1, ends, True)
        return scores.masked_fill(banned[:, :vocab], -math.inf)

    def _shown_settings(self) -> dict[str, Any]:
        return {"ngram_size": self.ngram_size}


class ForcedBOSTokenLogitsProcessor(LogitsProcessor):
    """Make ``bos_token_id`` the first generated token: at the first step (the sequence
    holds only the decoder's start token) every other token gets -inf, it gets 0.
    Encoder-decoders use it to pick e.g. the target language of a translation."""

    def __init__(self, bos_token_id: int):
        if not _is_int(bos_token_id) or bos_token_id < 0:
            raise ValueError(f"bos_token_id must be a token id (an integer >= 0), got {bos_token_id!r}.")
        self.bos_token_id = bos_token_id

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[-1] != 1:
            return scores.clone()
        forced = torch.full_like(scores, -math.inf)  # (b, v)
        forced[:, self.bos_token_id] = 0
        return forced

    def _shown_settings(self) -> dict[str, Any]:
        return {"bos_token_id": self.bos_token_id}


class ForcedEOSTokenLogitsProcessor(LogitsProcessor):
    """Make the last token (the one that reaches ``max_length``) an end-of-sequence token:
    at that step every other token gets -inf, the EOS id(s) get 0."""

    def __init__(self, max_length: int, eos_token_id: int | list[int] | torch.Tensor):
        self.max_length = max_length
        self.eos_token_id = torch.as_tensor(eos_token_id).reshape(-1)
        if self.eos_token_id.is_floating_point() or bool((self.eos_token_id < 0).any()):
            raise ValueError(f"eos_token_id must be token ids (integers >= 0), got {eos_token_id!r}.")

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[-1] != self.max_length - 1:
            return scores.clone()
        forced = torch.full_like(scores, -math.inf)  # (b, v)
        forced[:, self.eos_token_id.to(scores.device)] = 0
        return forced

    def _shown_settings(self) -> dict[str, Any]:
        return {"max_length": self.max_length, "eos_token_id": self.eos_token_id.tolist()}


class SuppressTokensLogitsProcessor(LogitsProcessor):
    """Never generate ``suppress_tokens``: their scores are -inf at every step."""

    def __init__(self, suppress_tokens: list[int] | torch.Tensor):
        self.suppress_tokens = torch.as_tensor(list(suppress_tokens), dtype=torch.long)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return _forbid(scores, self.suppress_tokens)

    def _shown_settings(self) -> dict[str, Any]:
        return {"suppress_tokens": self.suppress_tokens.tolist()}


class SuppressTokensAtBeginLogitsProcessor(LogitsProcessor):
    """Forbid ``begin_suppress_tokens`` as the first generated token only: at the step
    where the sequence is ``begin_index`` tokens long (Whisper uses it so that a
    transcript does not start with a blank or an end-of-text)."""

    def __init__(self, begin_suppress_tokens: list[int] | torch.Tensor, begin_index: int):
        self.begin_suppress_tokens = torch.as_tensor(list(begin_suppress_tokens), dtype=torch.long)
        self.begin_index = begin_index

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[-1] != self.begin_index:
            return scores.clone()
        return _forbid(scores, self.begin_suppress_tokens)

    def _shown_settings(self) -> dict[str, Any]:
        return {"begin_suppress_tokens": self.begin_suppress_tokens.tolist(), "begin_index": self.begin_index}


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

    First those that change *which* tokens may come (repetition penalty, no repeated
    n-grams, minimum length, forced first/last tokens, suppressed tokens), then any
    ``extra`` processors of the caller, then, only when sampling, the "warpers" that
    reshape the distribution: temperature, top-k, top-p. The order matters: top-p
    measures mass *after* the temperature was applied.

    ``prompt_length``: the length of what the loop extends (the prompt; for an
    encoder-decoder, the decoder's start). ``attention_mask``: its padding, if any.
    ``config.max_length`` must be resolved already (the forced EOS token needs it).
    """
    processors = LogitsProcessorList()
    eos = _as_id_list(config.eos_token_id)
    if config.repetition_penalty is not None and config.repetition_penalty != 1.0:
        # Left padding is not part of the text: skip each row's leading pad positions.
        ignore = None
        if attention_mask is not None:
            ignore = (attention_mask != 0).int().argmax(dim=1)  # (b,) index of the first real token
        processors.append(RepetitionPenaltyLogitsProcessor(config.repetition_penalty, prompt_ignore_length=ignore))
    if config.no_repeat_ngram_size:
        processors.append(NoRepeatNGramLogitsProcessor(config.no_repeat_ngram_size))
    if eos and config.min_length:
        processors.append(MinLengthLogitsProcessor(config.min_length, eos))
    if eos and config.min_new_tokens:
        processors.append(MinNewTokensLengthLogitsProcessor(prompt_length, config.min_new_tokens, eos))
    if config.forced_bos_token_id is not None:
        processors.append(ForcedBOSTokenLogitsProcessor(config.forced_bos_token_id))
    if config.forced_eos_token_id is not None:
        processors.append(ForcedEOSTokenLogitsProcessor(config.max_length, config.forced_eos_token_id))
    if config.suppress_tokens is not None:
        processors.append(SuppressTokensLogitsProcessor(config.suppress_tokens))
    if config.begin_suppress_tokens is not None:
        # The first generated token, unless a forced BOS token takes that place (then the second).
        begin_index = prompt_length
        if prompt_length == 1 and config.forced_bos_token_id is not None:
            begin_index += 1
        processors.append(SuppressTokensAtBeginLogitsProcessor(config.begin_suppress_tokens, begin_index))
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
