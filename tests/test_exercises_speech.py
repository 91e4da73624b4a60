"""The lesson-14 checker accepts a correct CTC greedy decoding and names each typical mistake.

The learner answers are written the way a learner would write them (loops, groupby, tensor
ops), independently of the checker's catalogue; the checker's reference itself is checked
against transformers' Wav2Vec2CTCTokenizer on the same vocabulary.
"""
from __future__ import annotations

import json
from itertools import groupby

import pytest
import torch

from hfexplain.exercises import CheckResult
from hfexplain.exercises.speech import VOCABULARY, check_ctc_greedy_decode, make_logits, reference

from conftest import quiet_transformers


def test_reference_is_transformers_ctc_tokenizer(tmp_path):
    transformers = quiet_transformers()
    vocab_file = tmp_path / "vocab.json"
    vocab_file.write_text(json.dumps({token: index for index, token in enumerate(VOCABULARY)}))
    theirs = transformers.Wav2Vec2CTCTokenizer(str(vocab_file), pad_token="<pad>", word_delimiter_token="|")
    for seed, path in enumerate(["_HH_E_LL_LO||W_ORR_LD_", "||SS_EE_D|_A_T_|", "A"]):
        logits = make_logits(path, seed=seed)
        assert reference(logits) == theirs.decode(logits.argmax(dim=-1).tolist())
    assert reference(make_logits("_HH_E_LL_LO||W_ORR_LD_")) == "HELLO WORLD"


def with_a_loop(logits, vocabulary):
    text, previous = [], None
    for index in logits.argmax(dim=1).tolist():
        token = vocabulary[index]
        if token != previous and token != "<pad>":
            text.append(" " if token == "|" else token)
        previous = token
    return "".join(text).strip()


def with_tensors(logits, vocabulary):
    best = logits.argmax(-1)
    keep = torch.ones_like(best, dtype=torch.bool)
    keep[1:] = best[1:] != best[:-1]  # the first frame of each run
    tokens = [vocabulary[i] for i in best[keep].tolist() if vocabulary[i] != "<pad>"]
    return "".join(tokens).replace("|", " ").strip()


@pytest.mark.parametrize("answer", [with_a_loop, with_tensors])
def test_correct_answers_pass(answer):
    result = check_ctc_greedy_decode(answer)
    assert isinstance(result, CheckResult) and result.passed, str(result)
    assert "correct" in str(result)


def variant(*, merge=True, order="merge-first", blank=True, delimiter=" ", strip=True, dim=-1, returns="str"):
    """A learner's answer with one thing changed."""
    def answer(logits, vocabulary):
        tokens = [vocabulary[i] for i in logits.argmax(dim=dim).tolist()]
        if order == "blanks-first":
            tokens = [t for t in tokens if t != "<pad>"]
        if merge:
            tokens = [t for t, _ in groupby(tokens)]
        if blank:
            tokens = [t for t in tokens if t != "<pad>"]
        chars = [delimiter if t == "|" else t for t in tokens]
        if returns == "list":
            return chars
        text = "".join(chars)
        return text.strip() if strip else text
    return answer


def forgets_return(logits, vocabulary):
    with_a_loop(logits, vocabulary)


def lower_case(logits, vocabulary):
    return with_a_loop(logits, vocabulary).lower()


def wrong_vocabulary_use(logits, vocabulary):
    return "".join(vocabulary[logits.argmax(dim=-1)])  # a tensor of ids as a list index


@pytest.mark.parametrize("answer, words", [
    (variant(merge=False), "repeats are not merged"),
    (variant(order="blanks-first"), "dropped *before* the repeats are merged"),
    (variant(blank=False), "blanks are left in"),
    (variant(delimiter="|"), "delimiter '|' is left in"),
    (variant(delimiter=""), "words run together"),
    (variant(strip=False), "not stripped"),
    (variant(dim=0), "argmax runs over the frames"),  # frame numbers past the vocabulary: IndexError, hinted
    (variant(returns="list"), "returned a list"),
    (forgets_return, "forget `return`"),
    (lower_case, "None of the usual mistakes"),
    (wrong_vocabulary_use, "raised TypeError"),
    (42, "Pass your function itself"),
])
def test_each_mistake_is_named(answer, words):
    result = check_ctc_greedy_decode(answer)
    assert not result.passed
    assert words in str(result), str(result)
