"""Checkers for lesson 00 (the tour) and lesson 01 (tokenization).

* :func:`check_next_token_text` (00): logits -> the text of the most likely next token.
* :func:`check_bpe_word` (01): byte-pair encoding of one word, compared with the Rust
  ``tokenizers`` library on the learner's own trained tokenizer. A wrong answer is replayed
  merge by merge to name the first merge that went wrong.
* :func:`check_pad_batch` (01): padding a batch by hand, with its attention mask.

Each checker calls the learner's function on fixed inputs and returns a
:class:`~hfexplain.exercises.CheckResult`; it never raises on a wrong answer (an exception
inside the learner's function is reported as a message). It raises only when the checker
itself is called wrongly (e.g. with a tokenizer that is not BPE).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import torch

from . import CheckResult, compare_tensors

__all__ = ["check_next_token_text", "check_bpe_word", "check_pad_batch", "bpe_reference_steps", "read_merges"]


def _call(function: Callable, *args, **kwargs):
    """Run the learner's function: ``(result, None)`` or ``(None, message about the exception)``."""
    try:
        return function(*args, **kwargs), None
    except Exception as error:  # noqa: BLE001 - reported to the learner, not swallowed
        return None, f"your function raised {type(error).__name__}: {error}"


# ---------------------------------------------------------------------------------------------
# 00: from logits back to text
# ---------------------------------------------------------------------------------------------


def check_next_token_text(next_token_text: Callable, tokenizer, *, vocab_size: int | None = None) -> CheckResult:
    """Check ``next_token_text(logits, tokenizer) -> str``.

    ``logits`` is (batch=1, seq, vocab), what a causal language model returns. The answer
    is the decoded text of the most likely token at the *last* position: the model's guess
    for what comes after the prompt. The checker feeds seeded random logits in which every
    position, and every axis, has a different winner, so the usual slips (the first
    position, the wrong axis, argmin, an id instead of text) can be told apart.
    """
    name = "next_token_text"
    vocab_size = vocab_size or len(tokenizer)
    generator = torch.Generator().manual_seed(1234)  # a private RNG: the notebook's seed is left alone
    seq = 6
    logits = torch.randn(1, seq, vocab_size, generator=generator)  # (b, s, v)
    # Let a word that starts with a space win at the last position, so that an answer which
    # strips (or otherwise edits) the decoded text is caught.
    for candidate in torch.randperm(vocab_size, generator=generator)[:2000].tolist():
        text = tokenizer.decode([candidate])
        if len(text) > 2 and text[0] == " " and text[1:].isalpha():
            logits[0, -1, candidate] = logits.max() + 1.0
            break

    def decode(ids) -> str:
        return tokenizer.decode([int(index) for index in ids])

    expected = decode([logits[0, -1].argmax()])
    got, error = _call(next_token_text, logits.clone(), tokenizer)
    if error:
        return CheckResult(name, False, [error])
    if got is None:
        return CheckResult(name, False, ["the function returned None: did you forget `return`?"])
    if isinstance(got, str) and got == expected:
        # A second input, to catch an answer that only works by luck.
        logits2 = torch.randn(1, 3, vocab_size, generator=generator)
        got2, error = _call(next_token_text, logits2.clone(), tokenizer)
        expected2 = decode([logits2[0, -1].argmax()])
        if error or got2 != expected2:
            return CheckResult(name, False, [error or f"right on one input but not on another: got {got2!r}, expected {expected2!r}."])
        return CheckResult(name, True, [
            f"checked on made-up logits (seeded random numbers, not the model's): their most likely next token "
            f"is {expected!r}, and your function found it."
        ])

    last_id = int(logits[0, -1].argmax())
    if isinstance(got, torch.Tensor) or isinstance(got, int):
        value = got.tolist() if isinstance(got, torch.Tensor) else got
        if value == last_id or value == [last_id] or value == [[last_id]]:
            return CheckResult(name, False, [
                f"you returned the token id {last_id}, which is the right token; now turn it into text with "
                f"tokenizer.decode([{last_id}]) (it gives {expected!r})."
            ])
        return CheckResult(name, False, [
            f"return the text (a str), not a value of type {type(got).__name__}: decode the id with tokenizer.decode([id])."
        ])
    if not isinstance(got, str):
        return CheckResult(name, False, [f"return the text as a str, got a {type(got).__name__}."])

    slips = [
        (decode([logits[0, 0].argmax()]), "that is the prediction at the FIRST position (index 0). The guess for the token "
         "after the prompt sits at the LAST position: logits[0, -1]."),
        (decode(logits[0].argmax(dim=-1)), "you decoded the most likely token at EVERY position. Position t predicts token "
         "t+1, so only the last position continues the prompt: logits[0, -1].argmax()."),
        (decode([logits[0, -1].argmin()]), "that is the LEAST likely token (argmin); use argmax."),
        (decode([logits[0].argmax(dim=0)[-1]]), "you took argmax over the sequence axis (dim 0 of logits[0]); the vocabulary "
         "is the last axis: take the last position first, then argmax over the vocabulary: logits[0, -1].argmax()."),
    ]
    for text, message in slips:
        if got == text and text != expected:
            return CheckResult(name, False, [f"you returned {got!r}: {message}"])
    if got.strip() == expected.strip():
        return CheckResult(name, False, [
            f"almost: you returned {got!r}, expected {expected!r}; do not strip or change the decoded text "
            "(a leading space is part of the token)."
        ])
    return CheckResult(name, False, [f"you returned {got!r}, expected {expected!r} = tokenizer.decode([logits[0, -1].argmax()])."])


# ---------------------------------------------------------------------------------------------
# 01: the BPE merge loop for one word
# ---------------------------------------------------------------------------------------------


def _backend_of(tokenizer):
    """The ``tokenizers.Tokenizer`` under an hfexplain/transformers tokenizer, or the object itself."""
    from tokenizers import Tokenizer as BackendTokenizer

    if isinstance(tokenizer, BackendTokenizer):
        return tokenizer
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if isinstance(backend, BackendTokenizer):
        return backend
    raise TypeError(
        f"pass a tokenizers.Tokenizer (or an hfexplain/transformers tokenizer built on one), got {type(tokenizer).__name__}."
    )


def read_merges(tokenizer) -> list[tuple[str, str]]:
    """The merges list of a BPE tokenizer, best (rank 0) first, read from its JSON.

    The Python ``tokenizers.models.BPE`` object does not expose its merges, but
    ``tokenizer.to_str()`` (the text of ``tokenizer.json``) has them as ``model.merges``.
    """
    model = json.loads(_backend_of(tokenizer).to_str())["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"this tokenizer's model is {model.get('type')}, not BPE: it has no merges. Pass the BPE tokenizer.")
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix") or model.get("dropout"):
        raise ValueError(
            "this exercise expects a plain byte-level BPE (no continuing_subword_prefix, end_of_word_suffix or dropout); "
            "pass the byte-level BPE trained in the lesson."
        )
    return [tuple(merge.split(" ", 1)) if isinstance(merge, str) else tuple(merge) for merge in model["merges"]]


def bpe_reference_steps(word: str, merges: Sequence[tuple[str, str]]) -> list[tuple[list[str], tuple[str, str] | None, int | None]]:
    """Byte-pair encoding of one word, one merge per step: ``[(symbols, merged_pair, rank), ...]``.

    The rule ``tokenizers`` applies: start from the characters; while some pair of
    neighbours is in the merges list, join the pair with the LOWEST rank (leftmost on a
    tie). The first entry is the starting characters (pair and rank ``None``).
    """
    ranks = {}
    for rank, pair in enumerate(merges):
        ranks.setdefault(tuple(pair), rank)
    symbols = list(word)
    steps = [(list(symbols), None, None)]
    while len(symbols) > 1:
        best = None  # (rank, position)
        for position in range(len(symbols) - 1):
            rank = ranks.get((symbols[position], symbols[position + 1]))
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, position)
        if best is None:
            break
        rank, position = best
        pair = (symbols[position], symbols[position + 1])
        symbols = symbols[:position] + [pair[0] + pair[1]] + symbols[position + 2:]
        steps.append((list(symbols), pair, rank))
    return steps


def _merge_by(word: str, ranks: dict, choose) -> list[str]:
    """Merge until nothing applies, picking the pair with ``choose(candidates)`` (a wrong strategy)."""
    symbols = list(word)
    for _ in range(len(word)):
        candidates = [
            (ranks[(symbols[i], symbols[i + 1])], i) for i in range(len(symbols) - 1) if (symbols[i], symbols[i + 1]) in ranks
        ]
        if not candidates:
            break
        _, position = choose(candidates)
        symbols = symbols[:position] + [symbols[position] + symbols[position + 1]] + symbols[position + 2:]
    return symbols


def _boundaries(pieces: Sequence[str]) -> set[int]:
    """Character offsets where one piece ends and the next starts."""
    offsets, total = set(), 0
    for piece in pieces[:-1]:
        total += len(piece)
        offsets.add(total)
    return offsets


def _diagnose_word(word: str, got, merges: Sequence[tuple[str, str]], expected: list[str]) -> str:
    """One precise sentence about why ``got`` is not the BPE of ``word``."""
    shown = f"For the word {word!r}, tokenizers gives {expected}"
    if got is None:
        return "the function returned None: did you forget `return symbols`?"
    if isinstance(got, str):
        return f"return a list of str (the pieces), not one str. {shown}."
    if not isinstance(got, (list, tuple)) or not all(isinstance(piece, str) for piece in got):
        return f"return a list of str (the pieces), got {type(got).__name__} {got!r:.80}. {shown}."
    got = list(got)
    if "".join(got) != word:
        return (
            f"your pieces {got} join to {''.join(got)!r}, not to the word {word!r}: a merge must replace the two "
            "neighbours by left + right and keep every other symbol in place."
        )
    ranks = {}
    for rank, pair in enumerate(merges):
        ranks.setdefault(tuple(pair), rank)
    steps = bpe_reference_steps(word, merges)
    if got == list(word) and len(steps) > 1:
        pair, rank = steps[1][1], steps[1][2]
        return (
            f"no merge was applied to {word!r}: you returned its characters. The first merge is {pair[0]!r} + {pair[1]!r} "
            f"(rank {rank}); keep merging the best-ranked neighbouring pair until none is left. {shown}."
        )
    strategies = [
        (_merge_by(word, ranks, lambda c: min(c, key=lambda rank_pos: rank_pos[1])),
         "you merged the LEFTMOST pair that has a rule; BPE merges the pair with the LOWEST rank (learned first) "
         "wherever it is in the word."),
        (_merge_by(word, ranks, lambda c: max(c)),
         "you merged the pair with the HIGHEST rank first; rank 0 is the first merge learned and the best: "
         "take the minimum rank."),
    ]
    for pieces, message in strategies:
        if got == pieces:
            return f"{message} {shown}, you gave {got}."
    for number, (symbols, _, _) in enumerate(steps[1:-1], start=1):
        if got == symbols:
            next_pair, next_rank = steps[number + 1][1], steps[number + 1][2]
            return (
                f"you stopped after {number} merge(s) of {word!r}, but {next_pair[0]!r} + {next_pair[1]!r} (rank {next_rank}) "
                f"still applies: loop until no neighbouring pair is in the merges list. {shown}."
            )
    # Replay the reference merges: the first one whose new symbol your answer cuts through.
    got_cuts = _boundaries(got)
    previous_spans: set[tuple[int, int]] = set()
    for symbols, pair, rank in steps:
        spans, offset = set(), 0  # (start, end) characters of each symbol
        for symbol in symbols:
            spans.add((offset, offset + len(symbol)))
            offset += len(symbol)
        for begin, end in spans - previous_spans if pair is not None else ():
            if any(begin < cut < end for cut in got_cuts):
                return (
                    f"{shown}, you gave {got}. The first merge your answer misses is "
                    f"{pair[0]!r} + {pair[1]!r} -> {pair[0] + pair[1]!r} (rank {rank})."
                )
        previous_spans = spans
    # Every reference merge is there: the answer merged something extra.
    expected_cuts = _boundaries(expected)
    offset = 0
    for piece in got:
        inside = [cut for cut in expected_cuts if offset < cut < offset + len(piece)]
        if inside:
            cut = inside[0] - offset
            left, right = piece[:cut], piece[cut:]
            why = f"the pair has rank {ranks[(left, right)]}" if (left, right) in ranks else "that pair is not in the merges list"
            return (
                f"{shown}, you gave {got}: you joined {left!r} + {right!r} into {piece!r}, which tokenizers does not "
                f"do here ({why}). Only merge pairs from the merges list, one at a time."
            )
        offset += len(piece)
    return f"{shown}, you gave {got}."


DEFAULT_BPE_TEXT = "The interpreter raises an exception when the iterator is exhausted; see the for statement."


def check_bpe_word(bpe_word: Callable, tokenizer, words: Sequence[str] | None = None) -> CheckResult:
    """Check ``bpe_word(word, merges) -> list[str]`` against the real ``tokenizers`` BPE.

    ``tokenizer`` is a trained byte-level BPE (a ``tokenizers.Tokenizer`` or a tokenizer
    built on one). ``merges`` passed to the learner's function is its merges list, best
    first. ``words`` are pre-tokenized words (``"Ġexception"``); by default the words of a
    fixed sentence, pre-tokenized by the tokenizer itself. The expected pieces come from
    ``tokenizer.model.tokenize(word)``: the Rust implementation, not our replay.
    """
    name = "bpe_word"
    backend = _backend_of(tokenizer)
    merges = read_merges(backend)
    if words is None:
        words = [piece for piece, _ in backend.pre_tokenizer.pre_tokenize_str(DEFAULT_BPE_TEXT)]
    wrong = []
    for word in words:
        expected = [token.value for token in backend.model.tokenize(word)]
        got, error = _call(bpe_word, word, [tuple(pair) for pair in merges])
        if error:
            return CheckResult(name, False, [f"on the word {word!r}, {error}"])
        if got is None or not isinstance(got, (list, tuple)) or list(got) != expected:
            wrong.append(_diagnose_word(word, got, merges, expected))
    if wrong:
        messages = wrong[:1]
        if len(wrong) > 1:
            messages.append(f"{len(wrong)} of {len(words)} words differ from tokenizers; fix the first one and check again.")
        return CheckResult(name, False, messages)
    return CheckResult(name, True, [f"all {len(words)} words split exactly as tokenizers splits them."])


# ---------------------------------------------------------------------------------------------
# 01: padding and the attention mask, by hand
# ---------------------------------------------------------------------------------------------


def _reference_padding(sequences: Sequence[Sequence[int]], pad_token_id: int, padding_side: str):
    longest = max(len(row) for row in sequences)
    ids, mask = [], []
    for row in sequences:
        missing = longest - len(row)
        if padding_side == "right":
            ids.append(list(row) + [pad_token_id] * missing)
            mask.append([1] * len(row) + [0] * missing)
        else:
            ids.append([pad_token_id] * missing + list(row))
            mask.append([0] * missing + [1] * len(row))
    return torch.tensor(ids, dtype=torch.long), torch.tensor(mask, dtype=torch.long)


PAD_BATCH_CASES = (
    ([[5, 6, 7, 8], [9, 10], [11, 12, 13]], 0, "right"),
    ([[5, 6, 7, 8], [9, 10], [11, 12, 13]], 0, "left"),
    ([[21, 22], [23, 24, 25, 26, 27]], 3, "right"),
    ([[21, 22], [23, 24, 25, 26, 27]], 3, "left"),
)


def check_pad_batch(pad_batch: Callable) -> CheckResult:
    """Check ``pad_batch(sequences, pad_token_id, padding_side) -> (input_ids, attention_mask)``.

    Pad every list of ids to the longest one with ``pad_token_id``, on the right or the
    left, and return two (batch, longest) ``torch.long`` tensors: the ids and the mask
    (1 = a real token the model should attend to, 0 = padding), as a tokenizer call with
    ``padding=True, return_tensors="pt"`` does.
    """
    name = "pad_batch"
    for sequences, pad_id, side in PAD_BATCH_CASES:
        call = f"pad_batch({sequences}, pad_token_id={pad_id}, padding_side={side!r})"
        expected_ids, expected_mask = _reference_padding(sequences, pad_id, side)
        got, error = _call(pad_batch, [list(row) for row in sequences], pad_id, side)
        if error:
            return CheckResult(name, False, [f"{call}: {error}"])
        if got is None:
            return CheckResult(name, False, ["the function returned None: return (input_ids, attention_mask)."])
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return CheckResult(name, False, [f"return two tensors, (input_ids, attention_mask); got {type(got).__name__}."])
        ids, mask = got
        for label, value in (("input_ids", ids), ("attention_mask", mask)):
            if not isinstance(value, torch.Tensor):
                return CheckResult(name, False, [f"{label} should be a torch.Tensor, got {type(value).__name__} "
                                                 "(torch.tensor(rows) turns a list of equal-length lists into one)."])
        if ids.numel() == 0:
            return CheckResult(name, False, [
                f"{call}: input_ids is empty: append one padded row per sequence to input_ids, and its mask to "
                "attention_mask."
            ])
        if ids.dim() == 2 and ids.shape[0] == len(sequences) and ids.shape[1] != expected_ids.shape[1]:
            return CheckResult(name, False, [
                f"{call}: input_ids has {ids.shape[1]} columns; pad to the LONGEST sequence of the batch "
                f"({expected_ids.shape[1]} tokens)."
            ])
        if ids.shape != expected_ids.shape:
            return CheckResult(name, False, [f"{call}: " + compare_tensors("input_ids", ids, expected_ids)[0]])
        if ids.dtype != torch.long:
            return CheckResult(name, False, [f"input_ids has dtype {ids.dtype}; token ids are torch.long (int64), "
                                             "what nn.Embedding expects."])
        if not torch.equal(ids, expected_ids):
            other_side = "left" if side == "right" else "right"
            if torch.equal(ids, _reference_padding(sequences, pad_id, other_side)[0]):
                return CheckResult(name, False, [
                    f"{call}: you padded on the {other_side}; padding_side={side!r} puts the pad tokens on the {side}."
                ])
            real = expected_mask.bool()
            if torch.equal(ids[real], expected_ids[real]):
                used = sorted(set(ids[~real].tolist()))
                return CheckResult(name, False, [
                    f"{call}: the padding positions hold {used}, but they should hold pad_token_id={pad_id}."
                ])
            return CheckResult(name, False, [f"{call}: " + compare_tensors("input_ids", ids, expected_ids)[0]])
        if not isinstance(mask, torch.Tensor) or mask.shape != expected_mask.shape:
            return CheckResult(name, False, [f"{call}: " + compare_tensors("attention_mask", mask, expected_mask)[0]])
        if mask.dtype != torch.long:
            return CheckResult(name, False, [f"attention_mask has dtype {mask.dtype}; use torch.long (0 and 1), as "
                                             "tokenizers return it."])
        if torch.equal(mask, 1 - expected_mask):
            return CheckResult(name, False, [
                f"{call}: the mask is the wrong way round: 1 marks a REAL token (attend to it), 0 marks padding."
            ])
        other_side = "left" if side == "right" else "right"
        if torch.equal(mask, _reference_padding(sequences, pad_id, other_side)[1]):
            return CheckResult(name, False, [
                f"{call}: the ids are padded on the {side} but the mask's zeros are on the {other_side}: "
                "the mask must have its 0s exactly where the pad tokens are."
            ])
        if torch.equal(mask, torch.ones_like(expected_mask)):
            return CheckResult(name, False, [f"{call}: the mask is all ones; padding positions must get 0."])
        problems = compare_tensors("attention_mask", mask, expected_mask)
        if problems:
            return CheckResult(name, False, [f"{call}: " + problems[0]])
    return CheckResult(name, True, ["right and left padding, ids and masks, as a tokenizer makes them."])
