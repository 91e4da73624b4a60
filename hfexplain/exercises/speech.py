"""Checkers for lesson 14 (speech).

``check_ctc_greedy_decode(fn)`` checks a learner's greedy CTC decoding, what turns a
Wav2Vec2ForCTC's frame scores into text::

    def ctc_greedy_decode(logits, vocabulary):
        # logits:     (frames, vocab)  one score per token per frame
        # vocabulary: list of str      vocabulary[id] is the token; "<pad>" is the blank, "|" the word delimiter
        # returns:    str              argmax per frame, repeats merged, blanks dropped, "|" -> " ", stripped
        ...

The reference is the library's :class:`hfexplain.tokenization.Wav2Vec2CTCTokenizer` ``decode`` on the
argmax ids (``tests/test_exercises_speech.py`` checks it against transformers' tokenizer).

How it finds the mistake: it runs ``fn`` on a few seeded grids whose best path is written by
hand (double letters that only a blank keeps apart, letters that last several frames, blanks
and delimiters at both ends, a word delimiter held for several frames), and when the text
differs it recomputes the answer with each *typical* mistake (repeats not merged, blanks
dropped before merging, blanks or delimiters left in, the argmax over the frames, no strip,
the delimiter removed instead of turned into a space) and names the one that reproduces it.
"""
from __future__ import annotations

from collections.abc import Callable
from itertools import groupby

import torch

from . import CheckResult

EXERCISE = "CTC greedy decoding"
BLANK, DELIMITER = "<pad>", "|"
VOCABULARY = [BLANK, "<unk>", DELIMITER, "A", "D", "E", "H", "L", "O", "R", "S", "T", "W"]

# Best paths, one token per frame ("_" is the blank): each case trips a different slip.
_PATHS = (
    "_HH_E_LL_LO||W_ORR_LD_",  # HELLO WORLD: the double L survives only through its blank
    "||SS_EE_EE_D|_A_T_|",  # SEED AT: delimiters and blanks at both ends, a doubled E
    "TT__OO_O||||TT_OO",  # TOO TO: a delimiter held for four frames, long blank runs
)


def _tokens(path: str) -> list[str]:
    return [BLANK if char == "_" else char for char in path]


def make_logits(path: str, seed: int = 0) -> torch.Tensor:
    """(frames, vocab) seeded noise with the path's token 6 units above the rest, frame by frame."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.tensor([VOCABULARY.index(token) for token in _tokens(path)])  # (frames,)
    logits = torch.randn(len(ids), len(VOCABULARY), generator=generator)  # (frames, vocab)
    logits[torch.arange(len(ids)), ids] += 6.0
    return logits


def _tokenizer():
    from ..tokenization import Wav2Vec2CTCTokenizer

    return Wav2Vec2CTCTokenizer(vocab={token: index for index, token in enumerate(VOCABULARY)},
                                pad_token=BLANK, word_delimiter_token=DELIMITER)


def reference(logits: torch.Tensor) -> str:
    """The correct answer: the library's CTC tokenizer on the argmax ids."""
    return _tokenizer().decode(logits.argmax(dim=-1).tolist())


def _decode(logits, *, dim=-1, merge=True, blanks_first=False, drop_blanks=True, delimiter=" ",
            strip=True) -> str | None:
    """Greedy CTC decoding with the knobs the mistakes turn (``None`` where the mistake raises)."""
    best = logits.argmax(dim=dim).tolist()
    if max(best) >= len(VOCABULARY):
        return None  # the argmax over the frames gives frame numbers, some past the vocabulary
    tokens = [VOCABULARY[index] for index in best]
    if blanks_first:
        tokens = [token for token in tokens if token != BLANK]
    if merge:
        tokens = [token for token, _ in groupby(tokens)]
    if drop_blanks:
        tokens = [token for token in tokens if token != BLANK]
    text = "".join(delimiter if token == DELIMITER else token for token in tokens)
    return text.strip() if strip else text


_WRONG_DIM = ("the argmax runs over the frames (dim=0): take the best *token* of every frame, "
              "logits.argmax(dim=-1), one id per frame.")


def _mistakes(logits) -> list[tuple[str, str | None]]:
    """(explanation, what the answer would be with that mistake)."""
    return [
        ("the repeats are not merged: a letter lasts several frames (H H E is one H, one E). Merge runs of the "
         "same token first (itertools.groupby), then drop the blanks.", _decode(logits, merge=False)),
        ("the blanks are dropped *before* the repeats are merged, so every double letter is lost (HELLO "
         "becomes HELO): the blank between two Ls is what says they are two. Merge repeats first, then drop "
         "the blanks.", _decode(logits, blanks_first=True)),
        (f"the blanks are left in: {BLANK!r} is CTC's blank ('no new character here'); drop it after merging "
         "the repeats.", _decode(logits, drop_blanks=False)),
        (f"the word delimiter {DELIMITER!r} is left in: it stands for the space between words, so turn it into "
         "' '.", _decode(logits, delimiter=DELIMITER)),
        (f"the word delimiter {DELIMITER!r} is removed, so the words run together: turn it into a space ' ' "
         "instead.", _decode(logits, delimiter="")),
        ("the text is not stripped: a delimiter in the first or last frames leaves a space at the start or "
         "the end; strip() the result, as the tokenizer does.", _decode(logits, strip=False)),
        (_WRONG_DIM, _decode(logits, dim=0)),
    ]


def check_ctc_greedy_decode(fn: Callable) -> CheckResult:
    """Check ``fn(logits (frames, vocab), vocabulary list) -> str``; never raises on a wrong answer."""
    if not callable(fn):
        return CheckResult(EXERCISE, False, [f"Pass your function itself, got {type(fn).__name__}."])
    for case, path in enumerate(_PATHS):
        logits = make_logits(path, seed=case)
        expected = reference(logits)
        where = (f"(seen with logits of shape {tuple(logits.shape)} whose best path is "
                 f"{' '.join(token.replace(BLANK, '_') for token in _tokens(path))}; expected {expected!r})")
        try:
            got = fn(logits.clone(), list(VOCABULARY))
        except Exception as error:  # noqa: BLE001 - the learner's error is the verdict
            hint = f" Perhaps {_WRONG_DIM}" if isinstance(error, IndexError) else ""
            return CheckResult(EXERCISE, False, [
                f"Your function raised {type(error).__name__}: {error}. logits is a (frames, vocab) tensor and "
                f"vocabulary a list of str: vocabulary[int(i)] for each i in logits.argmax(dim=-1).{hint}", where])
        if got is None:
            return CheckResult(EXERCISE, False, ["Your function returned None: did you forget `return`?", where])
        if isinstance(got, (list, tuple)):
            return CheckResult(EXERCISE, False, [
                f"Your function returned a {type(got).__name__}; return the text as one str, e.g. "
                "''.join(characters).", where])
        if not isinstance(got, str):
            return CheckResult(EXERCISE, False, [f"Your function returned a {type(got).__name__}; return a str.",
                                                 where])
        if got == expected:
            continue
        for explanation, answer in _mistakes(logits):
            if got == answer:
                return CheckResult(EXERCISE, False, [explanation[0].upper() + explanation[1:], where])
        return CheckResult(EXERCISE, False, [
            f"Your function returned {got!r}. None of the usual mistakes explains it; the steps are: argmax over "
            "the vocabulary per frame, merge repeats, drop the blanks, '|' -> ' ', strip.", where])
    return CheckResult(EXERCISE, True, [
        "matches Wav2Vec2CTCTokenizer.decode on double letters, long runs, and blanks and delimiters at the ends."
    ])


__all__ = ["VOCABULARY", "check_ctc_greedy_decode", "make_logits", "reference"]
