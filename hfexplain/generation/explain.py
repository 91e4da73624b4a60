"""The step-by-step view: :func:`explain_generation` records every step of ``generate``.

For each new token, a :class:`GenerationStep` holds the top candidates of the raw logits and
after each logits processor (:class:`ProcessorStage`), the token picked, its probability, and
the KV cache's size.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .configuration_utils import GenerationConfig, _is_int
from .streamers import BaseStreamer
from .utils import _check_can_generate


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
    search). With the same seed, the tokens are those ``generate`` returns. On an
    encoder-decoder, ``input_ids`` is the source and the steps follow the decoder
    (``position`` counts from its start token; the cache sizes are the decoder's
    positions and the bytes of self- and cross-attention keys and values).

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
