"""Checkers for lesson 08 (generation).

* :func:`check_top_p_filter`: nucleus (top-p) filtering of one logits vector, compared
  with :class:`hfexplain.generation.TopPLogitsWarper`::

      def top_p_filter(logits, top_p):
          # logits: (vocab,) the next token's scores
          # returns: (vocab,) the same logits for the smallest set of most likely tokens
          #          whose probabilities add up to at least top_p; float("-inf") elsewhere
          ...

* :func:`check_greedy_generate`: greedy decoding written as a loop, compared with
  ``model.generate(..., do_sample=False)``::

      def greedy_generate(model, input_ids, max_new_tokens):
          # input_ids: (1, prompt) ; returns (1, prompt + max_new_tokens)
          ...

How the top-p checker finds the mistake: rather than replaying a list of wrong programs,
it looks at *which* tokens the answer kept and compares that set with the right one. The
typical slips each leave a recognisable trace: no token kept at all (the tokens "above p"
were kept, or the most likely token was not protected), one token short (the token that
crosses p was dropped), the least likely tokens kept (sorted ascending), the most likely
token missing, the result left in sorted order, probabilities instead of logits, 0 instead
of ``-inf``. The first case is built so that each of these gives a different answer.

Both checkers call the learner's function on fixed inputs and return a
:class:`~hfexplain.exercises.CheckResult`; they never raise on a wrong answer.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import CheckResult, compare_tensors
from ..generation import TopPLogitsWarper

__all__ = ["check_top_p_filter", "check_greedy_generate", "top_p_reference", "TOP_P_CASES"]

TOP_P_EXERCISE = "top-p (nucleus) filtering"
GREEDY_EXERCISE = "greedy decoding loop"

# Token positions of the first two cases are shuffled so that vocabulary order differs from
# probability order (an answer left in sorted order, or one that drops "the first entries",
# is then visibly wrong).
_CASE1_PROBS = (0.31, 0.21, 0.15, 0.11, 0.08, 0.05, 0.04, 0.03, 0.015, 0.005)  # most likely first
_CASE1_SLOTS = (3, 7, 0, 9, 5, 1, 8, 2, 6, 4)  # vocabulary id of the 1st, 2nd, ... most likely token
_CASE2_PROBS = (0.82, 0.08, 0.05, 0.03, 0.02)
_CASE2_SLOTS = (2, 0, 4, 1, 3)
_LOGIT_OFFSET = 3.0  # logits = log p + 3: some above 1, some negative, so they cannot pass for probabilities


def _case_logits(probs: tuple[float, ...], slots: tuple[int, ...]) -> torch.Tensor:
    logits = torch.empty(len(probs))
    for prob, slot in zip(probs, slots):
        logits[slot] = math.log(prob) + _LOGIT_OFFSET
    return logits  # (v,)


def _random_case() -> torch.Tensor:
    generator = torch.Generator().manual_seed(8)  # a private RNG: the notebook's seed is left alone
    return torch.randn(64, generator=generator) * 1.5  # (v,)


# (description, logits (v,), top_p). The first case needs four tokens and has no single token
# above p; in the second the most likely token alone is above p; the third is a larger,
# unstructured vocabulary. No running total lies within 1e-3 of p, so float rounding never
# decides a token.
TOP_P_CASES: tuple[tuple[str, torch.Tensor, float], ...] = (
    (
        "10 logits whose most likely tokens have probabilities 0.31, 0.21, 0.15, 0.11, ...",
        _case_logits(_CASE1_PROBS, _CASE1_SLOTS),
        0.7,
    ),
    ("5 logits where the most likely token alone has probability 0.82", _case_logits(_CASE2_PROBS, _CASE2_SLOTS), 0.75),
    ("64 random logits", _random_case(), 0.9),
)


def top_p_reference(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """The right answer for a (v,) logits vector: what ``TopPLogitsWarper(top_p)`` returns."""
    no_ids = torch.zeros((1, 0), dtype=torch.long)  # the warper ignores the tokens so far
    return TopPLogitsWarper(top_p)(no_ids, logits[None])[0]  # (v,)


def _fmt(values) -> str:
    return ", ".join(f"{float(v):.2f}" for v in values)


def _nucleus_facts(logits: torch.Tensor, top_p: float) -> str:
    """A sentence that walks through the right answer on this case."""
    probs = logits.softmax(dim=-1)
    sorted_probs = probs.sort(descending=True).values
    running = sorted_probs.cumsum(dim=-1)
    keep = int((torch.isfinite(top_p_reference(logits, top_p))).sum())
    shown = min(len(sorted_probs), keep + 1)
    return (
        f"Sorted from most likely, the probabilities are {_fmt(sorted_probs[:shown])}, ... with running totals "
        f"{_fmt(running[:shown])}, ...: the first {keep} token(s) are the smallest set that reaches top_p={top_p} "
        f"(total {float(running[keep - 1]):.2f})."
    )


def _call(function: Callable, *args):
    try:
        return function(*args), None
    except Exception as error:  # noqa: BLE001 - the learner's error is the verdict
        return None, f"Your function raised {type(error).__name__}: {error}"


def check_top_p_filter(fn: Callable) -> CheckResult:
    """Check ``fn(logits, top_p) -> filtered logits``; never raises on a wrong answer."""
    if not callable(fn):
        return CheckResult(TOP_P_EXERCISE, False, [f"pass your function itself, got {type(fn).__name__}."])
    notes: list[str] = []
    for number, (description, logits, top_p) in enumerate(TOP_P_CASES, start=1):
        where = f"(seen on case {number}: {description}, top_p={top_p})"
        given = logits.clone()
        got, error = _call(fn, given, top_p)
        if error is not None:
            hint = ""
            if "dimension" in error or "index" in error.lower():
                hint = (
                    " The input is one vector of shape (vocab,): sort it with torch.sort(logits, descending=True) "
                    "along its only dimension (dim=-1)."
                )
            return CheckResult(TOP_P_EXERCISE, False, [error + "." + hint, where])
        problems = _diagnose_top_p(got, logits, top_p)
        note = None
        if problems and problems[0].startswith("note: "):  # right, with a remark
            note, problems = problems[0][len("note: "):], []
        if not problems and not torch.equal(given, logits):
            problems = [
                "The result is right, but your function changed the logits it was given (an in-place "
                "operation such as masked_fill_ or logits[...] = ...). A logits processor returns a new tensor "
                "and leaves its input alone, so every stage can still be looked at: use logits.masked_fill(...) "
                "or work on logits.clone()."
            ]
        if problems:
            problems[0] = problems[0][0].upper() + problems[0][1:]
            return CheckResult(TOP_P_EXERCISE, False, [*problems, where])
        if note is not None:
            notes.append(note)
    messages = ["matches hfexplain's TopPLogitsWarper (the class generate uses) on all 3 cases."]
    messages += sorted(set(notes))
    return CheckResult(TOP_P_EXERCISE, True, messages)


def _diagnose_top_p(got, logits: torch.Tensor, top_p: float) -> list[str]:
    """Reasons the answer is wrong ([] when right; ["note: ..."] when right with a remark)."""
    expected = top_p_reference(logits, top_p)  # (v,)
    vocab = logits.shape[-1]
    if isinstance(got, tuple):
        return ["Your function returned a tuple; return only the filtered logits, a tensor of shape (vocab,)."]
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (1, vocab):
        return [
            f"The result has shape {tuple(got.shape)} but the input was {tuple(logits.shape)}: return the same "
            "shape as the input (drop the batch dimension you added, e.g. result[0] or .squeeze(0))."
        ]
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(expected.shape):
        return compare_tensors("the result", got, expected)  # not a tensor, or the wrong shape
    if not got.is_floating_point():
        return [
            f"The result has dtype {got.dtype}: did you return token ids (e.g. the sorted indices) instead of "
            "logits? Return the logits vector itself, with float('-inf') where a token is dropped."
        ]
    got = got.detach().float()
    # allclose treats -inf == -inf as equal (a plain difference would give NaN there)
    if torch.allclose(got, expected, atol=1e-5):
        return []
    if torch.isnan(got).any():
        return [
            "The result contains NaN. Typical causes: subtracting -inf from -inf, multiplying -inf by 0 (a 0/1 "
            "mask times the logits), or a softmax over a row of -inf only. Use logits.masked_fill(drop, "
            "float('-inf')) to drop tokens."
        ]

    probs = logits.softmax(dim=-1)  # (v,)
    order = probs.argsort(descending=True)  # (v,) token ids, most likely first
    expected_kept = torch.isfinite(expected)
    facts = _nucleus_facts(logits, top_p)

    # Left in sorted order?
    for name, sorted_order in (("descending", order), ("ascending", order.flip(0))):
        if torch.allclose(got, expected[sorted_order], atol=1e-5) and not torch.allclose(got, expected, atol=1e-5):
            return [
                f"The result is in sorted ({name}) order, not in vocabulary order: entry i must stay the score of "
                "token i. Map the mask back to vocabulary order before using it (drop = drop_sorted.scatter(0, "
                "sorted_indices, drop_sorted)), then logits.masked_fill(drop, float('-inf'))."
            ]

    dropped = torch.isneginf(got) | (got <= -1e4)  # (v,) what the answer removed
    if not dropped.any():
        return _nothing_dropped(got, logits, probs, expected, expected_kept, top_p, facts)

    kept = ~dropped
    if torch.equal(kept, expected_kept):
        if torch.allclose(got[kept], logits[kept], atol=1e-5):
            if not torch.isneginf(got[dropped]).all():
                value = float(got[dropped & ~torch.isneginf(got)][0])
                return [
                    f"note: the dropped tokens hold {value:.3g} rather than float('-inf'). Sampling gives them "
                    "probability 0 either way; TopPLogitsWarper uses -inf (its filter_value)."
                ]
            return []
        shift = got[kept] - logits[kept]
        if torch.allclose(shift, shift[0].expand_as(shift), atol=1e-4):
            return [
                f"The right tokens are kept, but their values are all shifted by {float(shift[0]):.3g} (a "
                "log_softmax?). Sampling would draw the same tokens, but a logits warper only removes tokens: leave "
                "the kept logits exactly as they were and put float('-inf') at the others; the softmax after the "
                "last processor renormalises."
            ]
        if torch.allclose(got[kept], probs[kept], atol=1e-5) or torch.allclose(
            got[kept], probs[kept] / probs[kept].sum(), atol=1e-5
        ):
            return [
                "The right tokens are kept, but they hold probabilities instead of their logits. Keep the logits "
                "unchanged (logits.masked_fill(drop, float('-inf'))); the softmax comes later, in the sampler."
            ]
        worst = int((got[kept] - logits[kept]).abs().argmax())
        token = int(torch.nonzero(kept)[worst])
        return [
            "The right tokens are kept (good), but their values changed: keep the original logits of the kept "
            f"tokens unchanged and only put float('-inf') at the dropped ones (token {token}: got "
            f"{float(got[token]):.4f}, its logit is {float(logits[token]):.4f})."
        ]

    n_kept, n_expected = int(kept.sum()), int(expected_kept.sum())
    top_token = int(order[0])
    top_prob = float(probs[top_token])
    if n_kept == 0:
        if top_prob > top_p:
            return [
                f"Every token was removed. Here the most likely token alone has probability {top_prob:.2f}, more "
                f"than top_p={top_p}, and your mask dropped it too. The nucleus always contains at least the most "
                "likely token: if you remove the tokens whose running total exceeds p, shift that mask right by one "
                "position (so the token that crosses p stays) and never remove the first one."
            ]
        if not (probs > top_p).any():
            return [
                f"Every token was removed. Did you keep only the tokens whose own probability is above top_p? No "
                f"single token here has more than {top_p} (the largest has {top_prob:.2f}). Keep the smallest set of "
                "most likely tokens whose probabilities *add up* to top_p: sort descending, then a cumulative sum. "
                + facts
            ]
        return ["Every token was removed (all -inf): the nucleus is never empty. " + facts]

    if torch.equal(kept, probs > top_p) or torch.equal(kept, probs >= top_p):
        return [
            "You kept the tokens whose own probability is above top_p, instead of the smallest set of most likely "
            f"tokens whose probabilities add up to top_p. {facts}"
        ]
    rank_of = torch.empty_like(order)
    rank_of[order] = torch.arange(vocab)  # (v,) 0 = most likely
    least_likely = torch.zeros_like(kept)
    least_likely[order[vocab - n_kept:]] = True  # the n_kept least likely tokens
    if torch.equal(kept, least_likely):
        return [
            f"You kept the {n_kept} *least* likely token(s): the nucleus is made of the most likely ones. Sort in "
            "descending order (torch.sort(logits, descending=True)) so the running total starts from the most "
            "likely token."
        ]
    if not bool(kept[top_token]):
        return [
            f"The most likely token (id {top_token}, probability {top_prob:.2f}) was removed; it must always stay. "
            "If you shifted the mask right with torch.roll, the last entry wrapped round to the front: set the "
            "first entry of the sorted mask to False (keep) after shifting, or shift with drop[1:] = drop[:-1].clone()."
        ]
    kept_ranks = rank_of[kept]
    if int(kept_ranks.max()) + 1 != n_kept:  # not the n_kept most likely tokens
        worst_kept = int(order[int(kept_ranks.max())])
        best_dropped = int(order[int(rank_of[dropped].min())])
        return [
            f"You kept token {worst_kept} (probability {float(probs[worst_kept]):.3f}) but dropped the more likely "
            f"token {best_dropped} (probability {float(probs[best_dropped]):.3f}): the nucleus is always the most "
            "likely tokens, taken in descending order of probability. " + facts
        ]

    kept_mass = float(probs[kept].sum())
    confused = top_p_reference(logits, round(1 - top_p, 6)) if 0 < 1 - top_p < 1 else None
    if confused is not None and torch.equal(kept, torch.isfinite(confused)) and n_kept != n_expected:
        return [
            f"You kept {n_kept} token(s) with total probability {kept_mass:.2f}: the smallest set reaching "
            f"1 - top_p = {1 - top_p:.2f} rather than top_p = {top_p}. top_p is the mass to *keep*. " + facts
        ]
    if n_kept == n_expected - 1:
        return [
            f"One token short: you kept {n_kept} token(s) with total probability {kept_mass:.2f}, which does not "
            f"reach top_p={top_p}. The token whose probability makes the running total cross p belongs to the set "
            "(the smallest set whose mass *reaches* p). If you remove where cumsum > p, shift that mask right by "
            "one position so the crossing token stays. " + facts
        ]
    if n_kept > n_expected:
        return [
            f"You kept {n_kept} tokens (total probability {kept_mass:.2f}), but {n_expected} already reach "
            f"top_p={top_p}: keep the *smallest* such set. A token is dropped when the tokens more likely than it "
            "already add up to p. " + facts
        ]
    return [f"You kept {n_kept} token(s) (total probability {kept_mass:.2f}) but should keep {n_expected}. " + facts]


def _nothing_dropped(got, logits, probs, expected, expected_kept, top_p, facts) -> list[str]:
    """Diagnose an answer with no -inf (nor very negative) entry."""
    n_expected = int(expected_kept.sum())
    if torch.allclose(got, logits, atol=1e-5):
        return [
            f"Nothing was removed: the result equals the input. Put float('-inf') at every token outside the "
            f"nucleus (here all but {n_expected}). " + facts
        ]
    expected_probs = torch.softmax(expected, dim=-1)
    zeroed_probs = probs.masked_fill(~expected_kept, 0)  # the right tokens' probabilities, not renormalised
    if torch.allclose(got, expected_probs, atol=1e-5) or torch.allclose(got, zeroed_probs, atol=1e-5):
        return [
            "You returned probabilities (the right tokens, the others at 0) instead of logits. Return logits: keep "
            "the kept tokens' logits unchanged and put float('-inf') at the others; the sampler applies the softmax "
            "afterwards (and other processors may run before it)."
        ]
    if bool(((got >= 0) & (got <= 1)).all()) and float(got.sum()) <= 1.0 + 1e-4:
        return [
            f"The result looks like probabilities (all between 0 and 1, summing to {float(got.sum()):.2f}) rather "
            "than logits. Return the logits, with float('-inf') at the dropped tokens."
        ]
    zero_filled = logits.masked_fill(~expected_kept, 0.0)
    if torch.allclose(got, zero_filled, atol=1e-5) or (
        torch.allclose(got[expected_kept], logits[expected_kept], atol=1e-5) and (got[~expected_kept] == 0).all()
    ):
        share = float(torch.softmax(zero_filled, dim=-1)[~expected_kept].sum())
        return [
            "The dropped tokens got 0 instead of -inf. A logit of 0 is not 'removed': after the softmax those "
            f"tokens still share probability {share:.2f} here. Fill them with float('-inf')."
        ]
    return [
        "No token got -inf: every token can still be sampled. Put float('-inf') at the tokens outside the nucleus. "
        + facts
    ]


# ---------------------------------------------------------------------------------------------
# the optional exercise: greedy decoding by hand
# ---------------------------------------------------------------------------------------------


def _greedy_reference(model, input_ids: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    # eos_token_id=None: exactly max_new_tokens tokens, as the hand-written loop produces. The
    # explicit mask says every prompt token is real: without an EOS id, generate would otherwise
    # take a leading <|endoftext|> (also GPT-2's pad id) for padding.
    return model.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=max_new_tokens,
                          do_sample=False, eos_token_id=None)


def _first_position_loop(model, input_ids: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    ids = input_ids
    with torch.no_grad():
        for _ in range(max_new_tokens):
            next_id = model(ids).logits[0, 0].argmax().view(1, 1)  # the mistake: position 0
            ids = torch.cat([ids, next_id], dim=1)
    return ids


def check_greedy_generate(fn: Callable, model, input_ids: torch.Tensor, max_new_tokens: int = 8,
                          tokenizer=None) -> CheckResult:
    """Check ``fn(model, input_ids, max_new_tokens) -> (1, prompt + max_new_tokens)`` ids.

    The answer must equal ``model.generate(input_ids, max_new_tokens=..., do_sample=False)``
    (run without stopping at the end-of-sequence token, like a plain loop). Give the
    ``tokenizer`` to see tokens as text in the messages. Never raises on a wrong answer.
    """
    if not callable(fn):
        return CheckResult(GREEDY_EXERCISE, False, [f"pass your function itself, got {type(fn).__name__}."])
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.shape[0] != 1:
        raise ValueError(
            "check_greedy_generate needs input_ids of shape (1, prompt), e.g. "
            "tokenizer(text, return_tensors='pt')['input_ids']."
        )

    def show(token_id: int) -> str:
        return f"{token_id} {tokenizer.decode([token_id])!r}" if tokenizer is not None else str(token_id)

    prompt = input_ids.shape[1]
    expected = _greedy_reference(model, input_ids, max_new_tokens)  # (1, prompt + n)
    got, error = _call(fn, model, input_ids.clone(), max_new_tokens)
    if error is not None:
        return CheckResult(GREEDY_EXERCISE, False, [error + "."])
    if isinstance(got, (list, tuple)) and len(got) > 0 and all(isinstance(x, int) for x in got):
        got_ids = list(got)
        hint = "the right ids, " if got_ids == expected[0].tolist() else ""
        return CheckResult(GREEDY_EXERCISE, False, [
            f"You returned a Python list ({hint}{len(got_ids)} ids); return a tensor of shape (1, prompt + new), "
            "e.g. torch.tensor([ids]), as model.generate does."
        ])
    if isinstance(got, torch.Tensor) and got.dtype == torch.long:
        if tuple(got.shape) == (1, max_new_tokens) and torch.equal(got, expected[:, prompt:]):
            return CheckResult(GREEDY_EXERCISE, False, [
                "The new tokens are right, but you returned only them: return the prompt followed by the new tokens "
                f"(1, {prompt} + {max_new_tokens}), as generate does (torch.cat along dim=1)."
            ])
        if got.dim() == 1 and torch.equal(got, expected[0]):
            return CheckResult(GREEDY_EXERCISE, False, [
                f"The ids are right, but the result has shape {tuple(got.shape)}: keep the batch dimension, "
                f"{tuple(expected.shape)} (e.g. next_id.view(1, 1) before torch.cat)."
            ])
        if got.dim() == 2 and got.shape[0] == 1 and got.shape[1] != expected.shape[1]:
            made = got.shape[1] - prompt
            return CheckResult(GREEDY_EXERCISE, False, [
                f"The result has {got.shape[1]} ids: {prompt} prompt + {made} new, but max_new_tokens="
                f"{max_new_tokens} asks for {max_new_tokens} new tokens. Loop exactly max_new_tokens times, "
                "appending one token each time."
            ])
    problems = compare_tensors("the result", got, expected, atol=0)
    if not problems:
        return CheckResult(GREEDY_EXERCISE, True, [
            f"token-identical to model.generate(..., do_sample=False) for {max_new_tokens} new tokens."
        ])
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(expected.shape) or got.is_floating_point():
        if isinstance(got, torch.Tensor) and got.is_floating_point() and tuple(got.shape) == tuple(expected.shape):
            return CheckResult(GREEDY_EXERCISE, False, [
                f"The result has dtype {got.dtype}: token ids are integers (torch.long). Did you append a "
                "probability or a logit instead of argmax's index?"
            ])
        problems[0] = problems[0][0].upper() + problems[0][1:]
        return CheckResult(GREEDY_EXERCISE, False, problems)
    if not torch.equal(got[:, :prompt], input_ids):
        return CheckResult(GREEDY_EXERCISE, False, [
            "The first ids are not the prompt: the result must start with input_ids unchanged, followed by the new "
            "tokens."
        ])
    new_got, new_expected = got[0, prompt:].tolist(), expected[0, prompt:].tolist()
    if max_new_tokens > 1 and len(set(new_got)) == 1 and new_got[0] == new_expected[0] and new_got != new_expected:
        return CheckResult(GREEDY_EXERCISE, False, [
            f"Every step picked the same token ({show(new_got[0])}): the first pick is right, but the next "
            "forward pass must see it. Append each new token to the ids (ids = torch.cat([ids, next_id], dim=1)) "
            "and run the model on the longer sequence."
        ])
    if torch.equal(got, _first_position_loop(model, input_ids, max_new_tokens)):
        return CheckResult(GREEDY_EXERCISE, False, [
            "You took the logits of the first position (logits[0, 0]). The guess for the *next* token sits at the "
            "last position: logits[0, -1].argmax()."
        ])
    step = next(i for i, (a, b) in enumerate(zip(new_got, new_expected)) if a != b)
    return CheckResult(GREEDY_EXERCISE, False, [
        f"New token {step + 1} differs: you chose {show(new_got[step])}, the most likely token is "
        f"{show(new_expected[step])}. Greedy decoding takes the argmax of the last position's logits "
        "(model(ids).logits[0, -1].argmax()) at every step; no sampling, no other position."
    ])
