"""Logits processors: each reshapes the next token's scores, one idea per class.

``processor(input_ids, scores) -> scores``. :func:`build_logits_processors` turns a resolved
:class:`~hfexplain.generation.GenerationConfig` into a :class:`LogitsProcessorList` in
transformers' order, so sampling with the same seed draws the same tokens.

Shapes: b=batch (times beams), s=sequence so far, v=vocabulary.
"""
from __future__ import annotations

import math
import warnings
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



# =====================================================================================
# More filters for sampling: which tokens stay in the draw
# =====================================================================================


def _check_min_tokens_to_keep(min_tokens_to_keep: int) -> int:
    if not _is_int(min_tokens_to_keep) or min_tokens_to_keep < 1:
        raise ValueError(f"min_tokens_to_keep must be an integer >= 1, got {min_tokens_to_keep!r}.")
    return min_tokens_to_keep


def _check_fraction(name: str, value: float, *, zero_ok: bool, one_ok: bool) -> float:
    """A number in (0, 1), with 0 and/or 1 allowed; a ValueError naming ``name`` otherwise."""
    inside = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and \
        (0 <= value if zero_ok else 0 < value) and (value <= 1 if one_ok else value < 1)
    if not inside:
        interval = f"{'[' if zero_ok else '('}0, 1{']' if one_ok else ')'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}.")
    return float(value)


def _keep_best(drop: torch.Tensor, scores: torch.Tensor, min_tokens_to_keep: int) -> torch.Tensor:
    """``drop`` (b, v) with the ``min_tokens_to_keep`` highest scores of each row never dropped."""
    k = min(min_tokens_to_keep, scores.shape[-1])
    kth_best = torch.topk(scores, k).values[:, -1:]  # (b, 1)
    return drop & (scores < kth_best)


class MinPLogitsWarper(LogitsProcessor):
    """Min-p sampling: keep the tokens at least ``min_p`` times as likely as the most likely one.

    The bar moves with the model's confidence: when one token has p=0.9, min_p=0.1 keeps only
    tokens above 0.09; when the best has 0.05, tokens above 0.005 stay. (Applied after the
    temperature, as llama.cpp does.)
    """

    def __init__(self, min_p: float, filter_value: float = -math.inf, min_tokens_to_keep: int = 1):
        self.min_p = _check_fraction("min_p", min_p, zero_ok=True, one_ok=True)
        self.filter_value = filter_value
        self.min_tokens_to_keep = _check_min_tokens_to_keep(min_tokens_to_keep)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        probs = scores.softmax(dim=-1)  # (b, v)
        bar = self.min_p * probs.amax(dim=-1, keepdim=True)  # (b, 1)
        drop = probs < bar
        best = torch.topk(probs, min(self.min_tokens_to_keep, probs.shape[-1])).indices  # (b, k)
        drop = drop.scatter(1, best, False)
        return scores.masked_fill(drop, self.filter_value)

    def _shown_settings(self) -> dict[str, Any]:
        return {"min_p": self.min_p}


class TypicalLogitsWarper(LogitsProcessor):
    """Typical sampling (Meister et al. 2022): keep the tokens whose surprise ``-log p`` is
    closest to the distribution's entropy (its *expected* surprise), until they hold ``mass``.

    The most likely token may be dropped when it is far less surprising than typical text.
    """

    def __init__(self, mass: float = 0.9, filter_value: float = -math.inf, min_tokens_to_keep: int = 1):
        self.mass = _check_fraction("typical_p", mass, zero_ok=False, one_ok=False)
        self.filter_value = filter_value
        self.min_tokens_to_keep = _check_min_tokens_to_keep(min_tokens_to_keep)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        log_probs = F.log_softmax(scores, dim=-1)  # (b, v)
        entropy = -(log_probs * log_probs.exp()).nansum(-1, keepdim=True)  # (b, 1)
        distance = (-log_probs - entropy).abs()  # (b, v): how atypical each token is
        sorted_distance, order = torch.sort(distance)  # (b, v), most typical first
        mass = scores.gather(-1, order).softmax(dim=-1).cumsum(dim=-1)  # (b, v)
        # The last kept token is the first whose running mass reaches `mass`.
        last = (mass < self.mass).sum(dim=1).clamp(max=scores.shape[-1] - 1)  # (b,)
        drop_sorted = sorted_distance > sorted_distance.gather(1, last[:, None])
        drop_sorted[:, : self.min_tokens_to_keep] = False
        drop = drop_sorted.scatter(1, order, drop_sorted)  # back to vocabulary order
        return scores.masked_fill(drop, self.filter_value)

    def _shown_settings(self) -> dict[str, Any]:
        return {"mass": self.mass}


class EpsilonLogitsWarper(LogitsProcessor):
    """Epsilon sampling (Hewitt et al. 2022): drop every token with probability below
    ``epsilon``; the ``min_tokens_to_keep`` most likely always stay."""

    def __init__(self, epsilon: float, filter_value: float = -math.inf, min_tokens_to_keep: int = 1):
        self.epsilon = _check_fraction("epsilon_cutoff", epsilon, zero_ok=False, one_ok=False)
        self.filter_value = filter_value
        self.min_tokens_to_keep = _check_min_tokens_to_keep(min_tokens_to_keep)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        drop = scores.softmax(dim=-1) < self.epsilon  # (b, v)
        return scores.masked_fill(_keep_best(drop, scores, self.min_tokens_to_keep), self.filter_value)

    def _shown_settings(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon}


class EtaLogitsWarper(LogitsProcessor):
    """Eta sampling (Hewitt et al. 2022): epsilon sampling whose cutoff shrinks when the
    distribution is spread out: ``eta = min(epsilon, sqrt(epsilon) * exp(-entropy))``."""

    def __init__(self, epsilon: float, filter_value: float = -math.inf, min_tokens_to_keep: int = 1,
                 device: str | torch.device = "cpu"):
        self.epsilon = torch.tensor(_check_fraction("eta_cutoff", epsilon, zero_ok=False, one_ok=False), device=device)
        self.filter_value = filter_value
        self.min_tokens_to_keep = _check_min_tokens_to_keep(min_tokens_to_keep)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        probs = scores.softmax(dim=-1)  # (b, v)
        entropy = torch.distributions.Categorical(logits=scores).entropy()  # (b,)
        epsilon = self.epsilon.to(scores.device)
        eta = torch.minimum(epsilon, epsilon.sqrt() * torch.exp(-entropy))[:, None]  # (b, 1)
        return scores.masked_fill(_keep_best(probs < eta, scores, self.min_tokens_to_keep), self.filter_value)

    def _shown_settings(self) -> dict[str, Any]:
        return {"epsilon": float(self.epsilon)}


class TopHLogitsWarper(LogitsProcessor):
    """Top-H sampling (Potraghloo et al. 2025): among the 100 most likely tokens, keep the most
    likely ones while the entropy they add up to stays within ``top_h`` times the entropy of
    those 100. The most likely token always stays."""

    top_n = 100  # the candidates looked at (transformers' cap)

    def __init__(self, top_h: float, filter_value: float = -math.inf):
        self.top_h = _check_fraction("top_h", top_h, zero_ok=False, one_ok=True)
        self.filter_value = filter_value

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        n = min(self.top_n, scores.shape[-1])
        top_scores, top_ids = torch.topk(scores, n)  # (b, n), most likely first
        candidates = torch.distributions.Categorical(logits=top_scores)
        probs = candidates.probs  # (b, n)
        budget = self.top_h * candidates.entropy()[:, None]  # (b, 1)
        spent = torch.cumsum(-probs * torch.log(probs), dim=-1)  # (b, n) entropy of the first k
        keep_top = spent <= budget
        keep_top[:, 0] = True
        keep = torch.zeros_like(scores, dtype=torch.bool).scatter(1, top_ids, keep_top)  # (b, v)
        return scores.masked_fill(~keep, self.filter_value)

    def _shown_settings(self) -> dict[str, Any]:
        return {"top_h": self.top_h}


# =====================================================================================
# Penalties and constraints on what comes next
# =====================================================================================


class EncoderRepetitionPenaltyLogitsProcessor(LogitsProcessor):
    """The repetition penalty turned around, for tokens of the *encoder's input* (the source of
    a summary; a decoder-only model's prompt): ``penalty > 1`` makes them *more* likely, which
    keeps a summary close to its text (less hallucination); ``< 1`` less likely."""

    def __init__(self, penalty: float, encoder_input_ids: torch.Tensor):
        if not isinstance(penalty, (int, float)) or isinstance(penalty, bool) or not penalty > 0:
            raise ValueError(f"penalty must be a number > 0, got {penalty!r} (1.0 is no penalty).")
        self.penalty = 1 / float(penalty)  # applied like a repetition penalty of 1 / penalty
        self.encoder_input_ids = encoder_input_ids  # (batch, source)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        source = self.encoder_input_ids.to(scores.device)
        if scores.shape[0] > source.shape[0]:  # one copy per beam / sample
            source = source.repeat_interleave(scores.shape[0] // source.shape[0], dim=0)  # (b, source)
        seen = torch.gather(scores, 1, source)  # (b, source)
        seen = torch.where(seen < 0, seen * self.penalty, seen / self.penalty)
        return scores.scatter(1, source, seen)

    def _shown_settings(self) -> dict[str, Any]:
        return {"penalty": 1 / self.penalty}


class EncoderNoRepeatNGramLogitsProcessor(LogitsProcessor):
    """Forbid the decoder to copy any n-gram of size ``encoder_ngram_size`` from the
    encoder's input: when the last n-1 tokens equal the start of a source n-gram, the token
    that ended it is banned. (Padding in the source counts as tokens, as in transformers.)"""

    def __init__(self, encoder_ngram_size: int, encoder_input_ids: torch.Tensor):
        if not _is_int(encoder_ngram_size) or encoder_ngram_size <= 0:
            raise ValueError(f"encoder_ngram_size must be an integer > 0, got {encoder_ngram_size!r}.")
        self.ngram_size = encoder_ngram_size
        if encoder_input_ids.dim() == 1:
            encoder_input_ids = encoder_input_ids[None, :]
        self.encoder_input_ids = encoder_input_ids  # (batch, source)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        n, vocab = self.ngram_size, scores.shape[-1]
        source = self.encoder_input_ids.to(scores.device)
        if source.shape[1] < n or input_ids.shape[1] < n - 1:  # no source n-gram, or no prefix yet
            return scores.clone()
        source = source.repeat_interleave(scores.shape[0] // source.shape[0], dim=0)  # (b, source)
        windows = source.unfold(1, n, 1)  # (b, w, n): every source n-gram
        prefix = input_ids[:, input_ids.shape[1] - (n - 1):]  # (b, n-1)
        matches = (windows[:, :, : n - 1] == prefix[:, None, :]).all(dim=-1)  # (b, w)
        ends = torch.where(matches, windows[:, :, -1].clamp(max=vocab), vocab)  # (b, w); vocab = spare column
        banned = torch.zeros((scores.shape[0], vocab + 1), dtype=torch.bool, device=scores.device)
        banned.scatter_(1, ends, True)
        return scores.masked_fill(banned[:, :vocab], -math.inf)

    def _shown_settings(self) -> dict[str, Any]:
        return {"encoder_ngram_size": self.ngram_size}


class SequenceBiasLogitsProcessor(LogitsProcessor):
    """Add a bias to the score of each token that would complete a given token sequence.

    ``sequence_bias``: ``[[[ids], bias], ...]`` (or ``{(ids...): bias}``). A one-token
    sequence is biased at every step; a longer one only when the sequence so far ends with
    all of it but its last token (then that last token gets the bias). Biases add up.
    """

    def __init__(self, sequence_bias: list | dict):
        self.sequence_bias = _sequence_bias_dict(sequence_bias)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        vocab = scores.shape[-1]
        too_large = sorted({t for ids in self.sequence_bias for t in ids if t >= vocab})
        if too_large:
            raise ValueError(
                f"sequence_bias / bad_words_ids name token ids {too_large} but the model's vocabulary has {vocab} "
                f"ids [0, {vocab}): use ids of this model's tokenizer."
            )
        bias = torch.zeros_like(scores)  # (b, v)
        for ids, value in self.sequence_bias.items():
            *prefix, last = ids
            if len(prefix) > input_ids.shape[1]:  # longer than the text so far: it cannot complete
                continue
            if prefix:
                wanted = torch.tensor(prefix, device=input_ids.device)  # (p,)
                completes = (input_ids[:, input_ids.shape[1] - len(prefix):] == wanted).all(dim=-1)  # (b,)
            else:
                completes = torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            bias[:, last] += torch.where(completes, value, 0.0).to(bias.dtype)
        return scores + bias

    def _shown_settings(self) -> dict[str, Any]:
        return {"sequence_bias": {ids: value for ids, value in self.sequence_bias.items()}}


class NoBadWordsLogitsProcessor(SequenceBiasLogitsProcessor):
    """Never generate the token sequences ``bad_words_ids``: a bias of -inf on the token that
    would complete one. (A bad "word" that is just an EOS token is ignored, so generation
    can still end.) Get the ids with ``tokenizer([" word"], add_special_tokens=False).input_ids``."""

    def __init__(self, bad_words_ids: list[list[int]], eos_token_id: int | list[int] | torch.Tensor | None = None):
        if not isinstance(bad_words_ids, (list, tuple)) or not bad_words_ids or not all(
            isinstance(ids, (list, tuple)) and ids and all(_is_int(t) and t >= 0 for t in ids) for ids in bad_words_ids
        ):
            raise ValueError(f"bad_words_ids must be a non-empty list of lists of token ids, got {bad_words_ids!r}.")
        eos = _as_id_list(eos_token_id)
        self.bad_words_ids = [list(ids) for ids in bad_words_ids if not (len(ids) == 1 and ids[0] in eos)]
        super().__init__({tuple(ids): -math.inf for ids in self.bad_words_ids} or {})

    def _shown_settings(self) -> dict[str, Any]:
        return {"bad_words_ids": self.bad_words_ids}


def _sequence_bias_dict(sequence_bias: list | dict) -> dict[tuple[int, ...], float]:
    """``[[[ids], bias], ...]`` or ``{(ids...): bias}`` -> ``{(ids...): bias}``, checked."""
    pairs = list(sequence_bias.items()) if isinstance(sequence_bias, dict) else sequence_bias
    if not isinstance(pairs, (list, tuple)) or not all(
        isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], (list, tuple)) and len(pair[0]) > 0
        and all(_is_int(t) and t >= 0 for t in pair[0]) and isinstance(pair[1], float) for pair in pairs
    ):
        raise ValueError(
            f"sequence_bias must be a list of [token ids, float bias] pairs, got {sequence_bias!r}; "
            "e.g. [[[1425], -10.0], [[262, 3290], 2.0]]."
        )
    return {tuple(ids): bias for ids, bias in pairs}


class PrefixConstrainedLogitsProcessor(LogitsProcessor):
    """Allow only the tokens ``prefix_allowed_tokens_fn(batch_id, sequence)`` returns (a
    list of ids) for each row; everything else gets -inf. Used to generate from a grammar
    or a list of names (De Cao et al. 2021). If every allowed token of every beam of a
    prompt is already -inf, the allowed ones are forced with score 0."""

    def __init__(self, prefix_allowed_tokens_fn, num_beams: int):
        if not callable(prefix_allowed_tokens_fn):
            raise TypeError(
                f"prefix_allowed_tokens_fn must be a function (batch_id, input_ids) -> list of allowed token ids, "
                f"got {type(prefix_allowed_tokens_fn).__name__}."
            )
        self.prefix_allowed_tokens_fn = prefix_allowed_tokens_fn
        self.num_beams = num_beams

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        allowed = torch.full_like(scores, -math.inf)  # (b, v): 0 where allowed
        batch = input_ids.shape[0] // self.num_beams
        for row in range(input_ids.shape[0]):
            tokens = self.prefix_allowed_tokens_fn(row // self.num_beams, input_ids[row])
            if len(tokens) == 0:
                raise ValueError(
                    f"prefix_allowed_tokens_fn returned no allowed token for batch id {row // self.num_beams} "
                    "(the constraint cannot be met); return at least one token id, e.g. the EOS token."
                )
            allowed[row, tokens] = 0
        constrained = scores + allowed
        stuck = constrained.amax(dim=-1).isneginf().view(batch, -1).all(dim=-1)  # (batch,)
        stuck = stuck.repeat_interleave(self.num_beams)[:, None]  # (b, 1)
        return torch.where(stuck, allowed, constrained)

    def _shown_settings(self) -> dict[str, Any]:
        return {"prefix_allowed_tokens_fn": getattr(self.prefix_allowed_tokens_fn, "__name__", "fn")}


class ExponentialDecayLengthPenalty(LogitsProcessor):
    """After ``start_index`` new tokens, make the EOS token exponentially more likely:
    at ``k`` tokens past the start its score moves up by ``|score| * (decay_factor ** k - 1)``,
    so texts end near a length without a hard cut."""

    def __init__(self, exponential_decay_length_penalty: tuple[int, float],
                 eos_token_id: int | list[int] | torch.Tensor, input_ids_seq_length: int):
        start, factor = exponential_decay_length_penalty
        self.regulation_start = start + input_ids_seq_length  # a sequence length
        self.regulation_factor = factor
        self.eos_token_id = torch.as_tensor(_as_id_list(eos_token_id), dtype=torch.long)
        if self.eos_token_id.numel() == 0 or bool((self.eos_token_id < 0).any()):
            raise ValueError(f"eos_token_id must be token ids (integers >= 0), got {eos_token_id!r}.")

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        length = input_ids.shape[-1]
        if length <= self.regulation_start:
            return scores
        eos = self.eos_token_id.to(scores.device)
        eos_scores = scores[:, eos]  # (b, e)
        boost = eos_scores.abs() * (pow(self.regulation_factor, length - self.regulation_start) - 1)
        boost = boost.masked_fill(~torch.isfinite(eos_scores), 0.0)  # a forbidden EOS stays forbidden
        penalties = torch.zeros_like(scores)
        penalties[:, eos] = boost
        return scores + penalties

    def _shown_settings(self) -> dict[str, Any]:
        return {"regulation_start": self.regulation_start, "regulation_factor": self.regulation_factor}


class InfNanRemoveLogitsProcessor(LogitsProcessor):
    """Replace NaN scores by 0 and +-inf by the largest/smallest finite float, so that the
    pick never fails (a workaround: it hides where the NaN came from)."""

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        finfo = torch.finfo(scores.dtype)
        cleaned = torch.where(scores != scores, 0.0, scores)
        cleaned = torch.where(scores == math.inf, finfo.max, cleaned)
        return torch.where(scores == -math.inf, finfo.min, cleaned)


class LogitNormalization(LogitsProcessor):
    """Log-softmax the scores again after the other processors (``renormalize_logits``):
    beam search adds them up as log-probabilities, which processors may have left unnormalised."""

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores.log_softmax(dim=-1)


class UnbatchedClassifierFreeGuidanceLogitsProcessor(LogitsProcessor):
    """Classifier-free guidance for language models (Sanchez et al. 2023).

    A second, *unconditional* branch runs the same model on ``unconditional_ids`` (a negative
    prompt; by default just the prompt's last token) and is extended with every generated
    token. The scores become ``uncond + guidance_scale * (cond - uncond)`` in log-probabilities:
    ``guidance_scale > 1`` pushes towards what the prompt adds over the unconditional branch.
    The branch keeps its own KV cache (``use_cache``).
    """

    def __init__(self, guidance_scale: float, model, unconditional_ids: torch.Tensor | None = None,
                 unconditional_attention_mask: torch.Tensor | None = None, use_cache: bool = True):
        self.guidance_scale = guidance_scale
        self.model = model
        self.unconditional_ids = unconditional_ids  # (b, u) or None: the prompt's last token
        self.unconditional_attention_mask = unconditional_attention_mask
        self.use_cache = use_cache
        self.past_key_values = None
        self.first_pass = True

    def _unconditional_logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        if self.first_pass:
            if self.unconditional_ids is None:
                self.unconditional_ids = input_ids[:, -1:]  # (b, 1)
            if self.unconditional_attention_mask is None:
                self.unconditional_attention_mask = torch.ones_like(self.unconditional_ids, dtype=torch.long)
            ids, mask = self.unconditional_ids, self.unconditional_attention_mask
            self.first_pass = False
        else:  # the branch follows the generated tokens
            newest = input_ids[:, -1:]  # (b, 1)
            mask = torch.cat([self.unconditional_attention_mask, torch.ones_like(newest, dtype=torch.long)], dim=1)
            ids = newest if self.use_cache else torch.cat([self.unconditional_ids, newest], dim=1)
            self.unconditional_ids, self.unconditional_attention_mask = ids, mask
        outputs = self.model(ids, attention_mask=mask, use_cache=self.use_cache, past_key_values=self.past_key_values)
        self.past_key_values = getattr(outputs, "past_key_values", None)
        return outputs.logits[:, -1].float()  # (b, v)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores = F.log_softmax(scores, dim=-1)
        if self.guidance_scale == 1:
            return scores
        unconditional = F.log_softmax(self._unconditional_logits(input_ids), dim=-1)
        return self.guidance_scale * (scores - unconditional) + unconditional

    def _shown_settings(self) -> dict[str, Any]:
        return {"guidance_scale": self.guidance_scale}


def build_logits_processors(
    config: GenerationConfig,
    *,
    prompt_length: int,
    attention_mask: torch.Tensor | None = None,
    extra: list | None = None,
    encoder_input_ids: torch.Tensor | None = None,
    prefix_allowed_tokens_fn=None,
    model=None,
    negative_prompt_ids: torch.Tensor | None = None,
    negative_prompt_attention_mask: torch.Tensor | None = None,
) -> LogitsProcessorList:
    """The processors a (fully resolved) config asks for, in transformers' order.

    First those that change *which* tokens may come: classifier-free guidance, sequence
    biases, the (encoder) repetition penalties, no repeated (encoder) n-grams, bad words,
    minimum length, the prefix constraint, forced first/last tokens, NaN removal, the
    length decay, suppressed tokens. Then the caller's ``extra`` processors (one of the
    same class as a built-in replaces it, in its place, as in transformers). Then, only
    when sampling, the "warpers" that reshape the distribution: temperature, top-h, top-k,
    top-p, min-p, typical, epsilon, eta. Last, re-normalisation. The order matters: top-p
    measures mass *after* the temperature was applied.

    ``prompt_length``: the length of what the loop extends (the prompt; for an
    encoder-decoder, the decoder's start). ``attention_mask``: its padding, if any.
    ``encoder_input_ids`` (batch, source): the encoder's input (a decoder-only model's
    prompt) for the encoder penalties. ``model``: the model, for classifier-free guidance.
    ``config.max_length`` must be resolved already (the forced EOS token needs it).
    """
    processors = LogitsProcessorList()
    eos = _as_id_list(config.eos_token_id)
    has_source = encoder_input_ids is not None and encoder_input_ids.dim() == 2 and \
        not bool((encoder_input_ids < 0).any())
    if config.guidance_scale is not None and config.guidance_scale != 1:
        processors.append(UnbatchedClassifierFreeGuidanceLogitsProcessor(
            config.guidance_scale, model, unconditional_ids=negative_prompt_ids,
            unconditional_attention_mask=negative_prompt_attention_mask, use_cache=bool(config.use_cache),
        ))
    if config.sequence_bias is not None:
        processors.append(SequenceBiasLogitsProcessor(config.sequence_bias))
    for name in ("encoder_repetition_penalty", "encoder_no_repeat_ngram_size"):
        if getattr(config, name) not in (None, 0, 1.0) and not has_source:
            warnings.warn(f"{name} needs the encoder's input ids (input_ids=...); it is ignored here.", UserWarning,
                          stacklevel=4)
    if config.encoder_repetition_penalty is not None and config.encoder_repetition_penalty != 1.0 and has_source:
        processors.append(EncoderRepetitionPenaltyLogitsProcessor(config.encoder_repetition_penalty, encoder_input_ids))
    if config.repetition_penalty is not None and config.repetition_penalty != 1.0:
        # Left padding is not part of the text: skip each row's leading pad positions.
        ignore = None
        if attention_mask is not None:
            ignore = (attention_mask != 0).int().argmax(dim=1)  # (b,) index of the first real token
        processors.append(RepetitionPenaltyLogitsProcessor(config.repetition_penalty, prompt_ignore_length=ignore))
    if config.no_repeat_ngram_size:
        processors.append(NoRepeatNGramLogitsProcessor(config.no_repeat_ngram_size))
    if config.encoder_no_repeat_ngram_size and has_source:
        processors.append(EncoderNoRepeatNGramLogitsProcessor(config.encoder_no_repeat_ngram_size, encoder_input_ids))
    if config.bad_words_ids is not None:
        processors.append(NoBadWordsLogitsProcessor(config.bad_words_ids, eos or None))
    if eos and config.min_length:
        processors.append(MinLengthLogitsProcessor(config.min_length, eos))
    if eos and config.min_new_tokens:
        processors.append(MinNewTokensLengthLogitsProcessor(prompt_length, config.min_new_tokens, eos))
    if prefix_allowed_tokens_fn is not None:
        processors.append(PrefixConstrainedLogitsProcessor(prefix_allowed_tokens_fn, config.num_beams))
    if config.forced_bos_token_id is not None:
        processors.append(ForcedBOSTokenLogitsProcessor(config.forced_bos_token_id))
    if config.forced_eos_token_id is not None:
        processors.append(ForcedEOSTokenLogitsProcessor(config.max_length, config.forced_eos_token_id))
    if config.remove_invalid_values:
        processors.append(InfNanRemoveLogitsProcessor())
    if config.exponential_decay_length_penalty is not None:
        if not eos:
            raise ValueError("exponential_decay_length_penalty makes the EOS token more likely, but no "
                             "eos_token_id is set; pass eos_token_id=... (e.g. tokenizer.eos_token_id).")
        processors.append(ExponentialDecayLengthPenalty(config.exponential_decay_length_penalty, eos, prompt_length))
    if config.suppress_tokens is not None:
        processors.append(SuppressTokensLogitsProcessor(config.suppress_tokens))
    if config.begin_suppress_tokens is not None:
        # The first generated token, unless a forced BOS token takes that place (then the second).
        begin_index = prompt_length
        if prompt_length == 1 and config.forced_bos_token_id is not None:
            begin_index += 1
        processors.append(SuppressTokensAtBeginLogitsProcessor(config.begin_suppress_tokens, begin_index))
    processors = _merge_custom(processors, extra or [])
    if config.do_sample:
        # Beam sampling must keep a non-EOS continuation for every beam.
        keep = len(eos) + 1 if config.num_beams > 1 else 1
        if config.temperature is not None and config.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(config.temperature))
        if config.top_h is not None:
            processors.append(TopHLogitsWarper(config.top_h))
        if config.top_k is not None and config.top_k != 0:
            processors.append(TopKLogitsWarper(config.top_k, min_tokens_to_keep=keep))
        if config.top_p is not None and config.top_p < 1.0:
            processors.append(TopPLogitsWarper(config.top_p, min_tokens_to_keep=keep))
        if config.min_p is not None:
            processors.append(MinPLogitsWarper(config.min_p, min_tokens_to_keep=keep))
        if config.typical_p is not None and config.typical_p < 1.0:
            processors.append(TypicalLogitsWarper(config.typical_p, min_tokens_to_keep=keep))
        if config.epsilon_cutoff is not None and 0.0 < config.epsilon_cutoff < 1.0:
            processors.append(EpsilonLogitsWarper(config.epsilon_cutoff, min_tokens_to_keep=keep))
        if config.eta_cutoff is not None and 0.0 < config.eta_cutoff < 1.0:
            processors.append(EtaLogitsWarper(config.eta_cutoff, min_tokens_to_keep=keep))
    if config.renormalize_logits:
        processors.append(LogitNormalization())
    return processors


def _merge_custom(built: LogitsProcessorList, custom: list) -> LogitsProcessorList:
    """The built-in processors with the caller's: a custom processor of the same class as a
    built-in one takes its place; the others follow, in the caller's order (transformers'
    ``_merge_criteria_processor_list``; also used for stopping criteria)."""
    merged = type(built)()
    for default in built:
        merged.append(next((mine for mine in custom if type(mine) is type(default)), default))
    merged.extend(mine for mine in custom if mine not in merged)
    return merged


def _as_id_list(token_ids: int | list[int] | torch.Tensor | None) -> list[int]:
    if token_ids is None:
        return []
    if isinstance(token_ids, torch.Tensor):
        return [int(t) for t in token_ids.reshape(-1)]
    if isinstance(token_ids, int):
        return [token_ids]
    return [int(t) for t in token_ids]
