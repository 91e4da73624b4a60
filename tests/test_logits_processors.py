"""The processors encoder-decoders need (issue 10): each equals transformers' class of the
same name on random scores, and ``generate`` with each option is token-identical to
transformers' generate on the tiny GPT-2 and LLaMA of tests/test_generation.py.

(The toy encoder-decoder's use of forced_bos_token_id and begin_suppress_tokens is tested
against a hand loop in tests/test_generation_seq2seq.py.)
"""
from __future__ import annotations

import pytest
import torch

from conftest import quiet_transformers
from hfexplain.generation import (
    ForcedBOSTokenLogitsProcessor,
    ForcedEOSTokenLogitsProcessor,
    GenerationConfig,
    NoRepeatNGramLogitsProcessor,
    SuppressTokensAtBeginLogitsProcessor,
    SuppressTokensLogitsProcessor,
    UNSUPPORTED_OPTIONS,
    build_logits_processors,
)
from test_generation import PAD, VOCAB, _build, both, eos_that_occurs, prompts

transformers = quiet_transformers()


# ------------------------------------------------------------------------- each processor alone


def _random_case(seed: int, seq: int):
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(4, 20, generator=generator) * 3  # (b, v)
    # A small vocabulary for the ids so that n-grams repeat.
    input_ids = torch.randint(0, 4, (4, seq), generator=generator)  # (b, s)
    return input_ids, scores


def _processor_pairs():
    from transformers.generation import logits_process as hf

    return [
        (NoRepeatNGramLogitsProcessor(1), hf.NoRepeatNGramLogitsProcessor(1)),
        (NoRepeatNGramLogitsProcessor(2), hf.NoRepeatNGramLogitsProcessor(2)),
        (NoRepeatNGramLogitsProcessor(3), hf.NoRepeatNGramLogitsProcessor(3)),
        (ForcedBOSTokenLogitsProcessor(7), hf.ForcedBOSTokenLogitsProcessor(7)),
        (ForcedEOSTokenLogitsProcessor(6, [3, 9]), hf.ForcedEOSTokenLogitsProcessor(6, [3, 9])),
        (ForcedEOSTokenLogitsProcessor(6, 3), hf.ForcedEOSTokenLogitsProcessor(6, 3)),
        (SuppressTokensLogitsProcessor([0, 5, 19]), hf.SuppressTokensLogitsProcessor([0, 5, 19])),
        (SuppressTokensAtBeginLogitsProcessor([1, 2], 5), hf.SuppressTokensAtBeginLogitsProcessor([1, 2], 5)),
        (SuppressTokensAtBeginLogitsProcessor([1, 2], 1), hf.SuppressTokensAtBeginLogitsProcessor([1, 2], 1)),
    ]


@pytest.mark.parametrize("seq", [1, 2, 5, 9])
def test_each_new_processor_equals_transformers(seq):
    for index, (ours, theirs) in enumerate(_processor_pairs()):
        input_ids, scores = _random_case(seed=10 * seq + index, seq=seq)
        before = scores.clone()
        expected = theirs(input_ids, scores.clone())
        actual = ours(input_ids, scores)
        assert torch.equal(actual, expected), f"{ours!r} at seq={seq}"
        assert torch.equal(scores, before), f"{ours!r} changed its input"


def test_new_processors_by_hand():
    scores = torch.zeros(1, 6)
    # n-gram size 2 over [1, 2, 1]: the prefix is (1,), and (1, 2) occurred: 2 is banned.
    banned = NoRepeatNGramLogitsProcessor(2)(torch.tensor([[1, 2, 1]]), scores)
    assert torch.isinf(banned[0]).tolist() == [False, False, True, False, False, False]
    # size 3 over [1, 2, 3, 1, 2]: prefix (1, 2) was followed by 3.
    banned = NoRepeatNGramLogitsProcessor(3)(torch.tensor([[1, 2, 3, 1, 2]]), scores)
    assert torch.isinf(banned[0]).nonzero().flatten().tolist() == [3]
    forced = ForcedBOSTokenLogitsProcessor(4)(torch.tensor([[0]]), scores)
    assert forced[0].tolist() == [-float("inf")] * 4 + [0.0, -float("inf")]
    assert torch.equal(ForcedBOSTokenLogitsProcessor(4)(torch.tensor([[0, 1]]), scores), scores)  # only at step 1
    last = ForcedEOSTokenLogitsProcessor(4, 5)(torch.tensor([[0, 1, 2]]), scores)  # length 3 = max_length - 1
    assert torch.isfinite(last[0]).nonzero().flatten().tolist() == [5]
    assert torch.isinf(SuppressTokensLogitsProcessor([1, 3])(None, scores)[0]).nonzero().flatten().tolist() == [1, 3]
    begin = SuppressTokensAtBeginLogitsProcessor([2], begin_index=2)
    assert torch.isinf(begin(torch.tensor([[0, 1]]), scores)[0, 2])
    assert torch.equal(begin(torch.tensor([[0, 1, 2]]), scores), scores)


def test_bad_processor_arguments():
    with pytest.raises(ValueError, match="ngram_size must be an integer > 0"):
        NoRepeatNGramLogitsProcessor(0)
    with pytest.raises(ValueError, match="bos_token_id must be a token id"):
        ForcedBOSTokenLogitsProcessor(-1)
    with pytest.raises(ValueError, match="eos_token_id must be token ids"):
        ForcedEOSTokenLogitsProcessor(5, [-2])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(no_repeat_ngram_size=-1), "no_repeat_ngram_size must be an integer >= 0"),
        (dict(no_repeat_ngram_size=1.5), "no_repeat_ngram_size must be an integer >= 0"),
        (dict(suppress_tokens=5), "suppress_tokens must be a list of token ids"),
        (dict(begin_suppress_tokens=[1, "a"]), "begin_suppress_tokens must be a list of token ids"),
        (dict(forced_eos_token_id=[2, -1]), "forced_eos_token_id must be a list of token ids"),
        (dict(forced_bos_token_id="0"), "forced_bos_token_id must be a token id"),
        (dict(decoder_start_token_id=-3), "decoder_start_token_id must be a token id"),
    ],
)
def test_generation_config_rejects_bad_new_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GenerationConfig(**kwargs)


def test_new_options_are_no_longer_listed_as_unsupported():
    for name in ("forced_bos_token_id", "forced_eos_token_id", "suppress_tokens", "begin_suppress_tokens",
                 "no_repeat_ngram_size", "length_penalty", "min_new_tokens"):
        assert name not in UNSUPPORTED_OPTIONS


def test_build_places_new_processors_in_transformers_order():
    config = GenerationConfig(
        do_sample=True, temperature=0.5, top_k=10, top_p=1.0, repetition_penalty=1.2, no_repeat_ngram_size=2,
        min_new_tokens=2, forced_bos_token_id=3, forced_eos_token_id=2, suppress_tokens=[4],
        begin_suppress_tokens=[5], eos_token_id=2, num_beams=1, max_length=12,
    )
    processors = build_logits_processors(config, prompt_length=1)
    assert [type(p).__name__ for p in processors] == [
        "RepetitionPenaltyLogitsProcessor", "NoRepeatNGramLogitsProcessor", "MinNewTokensLengthLogitsProcessor",
        "ForcedBOSTokenLogitsProcessor", "ForcedEOSTokenLogitsProcessor", "SuppressTokensLogitsProcessor",
        "SuppressTokensAtBeginLogitsProcessor", "TemperatureLogitsWarper", "TopKLogitsWarper",
    ]
    assert processors[3].bos_token_id == 3 and processors[4].max_length == 12
    assert processors[6].begin_index == 2  # a forced BOS takes the first place: suppression moves to the second
    assert build_logits_processors(config, prompt_length=4)[6].begin_index == 4


# ------------------------------------------------------------------------- generate against transformers


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def pair(request, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp(request.param + "-processors"))
    reference, ours = _build(request.param, folder)
    return reference, ours


def _greedy_tokens(reference, ids, mask, n=8):
    """What the reference generates without the option: tokens the options can then hit."""
    with torch.no_grad():
        out = reference.generate(ids, attention_mask=mask, max_new_tokens=n, do_sample=False, eos_token_id=None,
                                 pad_token_id=PAD)
    return out[:, ids.shape[1]:]


OPTION_CASES = ["no_repeat_ngram_size", "suppress_tokens", "begin_suppress_tokens", "forced_eos_token_id",
                "forced_bos_token_id", "min_new_tokens", "length_penalty"]


def _option(name, generated, eos):
    """The option's setting, chosen so that it changes the reference's greedy output."""
    if name == "no_repeat_ngram_size":
        return {"no_repeat_ngram_size": 1}  # every token at most once (the prompt counts)
    if name == "suppress_tokens":
        return {"suppress_tokens": sorted({int(t) for t in generated[:, :3].flatten()})}
    if name == "begin_suppress_tokens":
        return {"begin_suppress_tokens": sorted({int(t) for t in generated[:, 0]})}
    if name == "forced_eos_token_id":
        return {"forced_eos_token_id": 5}
    if name == "forced_bos_token_id":
        return {"forced_bos_token_id": 9}  # acts only after a one-token prompt (see the test)
    if name == "min_new_tokens":
        return {"min_new_tokens": 5}
    return {"length_penalty": 3.0, "num_beams": 3}


@pytest.mark.parametrize("strategy", ["greedy", "beams", "sample"])
@pytest.mark.parametrize("name", OPTION_CASES)
def test_generate_with_each_option_matches_transformers(pair, name, strategy):
    reference, ours = pair
    ids, mask = prompts(batch=True)
    if name == "forced_bos_token_id":
        ids, mask = ids[:, -1:], mask[:, -1:]  # the forced token is the first after a one-token sequence
    eos = eos_that_occurs(reference, ids, mask) if name in ("min_new_tokens", "length_penalty") else 2
    option = _option(name, _greedy_tokens(reference, ids, mask), eos)
    # These random models rarely repeat themselves within 8 tokens: give the n-gram ban room to act.
    n_new = 30 if name == "no_repeat_ngram_size" else 8
    plain = dict(max_new_tokens=n_new, eos_token_id=eos, pad_token_id=PAD)
    if strategy == "beams":
        plain.update(num_beams=3)
    elif strategy == "sample":
        plain.update(do_sample=True, top_k=0)
    settings = {**plain, **option}
    for use_cache in (True, False):
        seed = 11 if strategy == "sample" else None
        expected, actual = both(reference, ours, ids, mask, seed=seed, use_cache=use_cache, **settings)
        assert actual.shape == expected.shape, (name, strategy)
        assert torch.equal(actual, expected), (name, strategy, use_cache)
    # The option matters: without it, transformers gives something else.
    if strategy == "greedy" and name != "length_penalty":
        without, _ = both(reference, ours, ids, mask, **plain)
        assert not torch.equal(without, expected), f"{name} had no effect; pick a setting that changes the output"


def test_each_option_takes_effect(pair):
    """Properties any correct implementation has, independent of transformers."""
    reference, ours = pair
    ids, mask = prompts(batch=True)
    new = ours.generate(ids, attention_mask=mask, max_new_tokens=10, no_repeat_ngram_size=2, pad_token_id=PAD,
                        eos_token_id=None)
    for row, row_mask in zip(new.tolist(), mask):
        real = row[int(row_mask.argmax()):]  # from the first real token
        bigrams = list(zip(real, real[1:]))
        assert len(bigrams) == len(set(bigrams)), row
    forced = ours.generate(ids, attention_mask=mask, max_new_tokens=6, forced_eos_token_id=7, eos_token_id=None,
                           pad_token_id=PAD)
    assert forced[:, -1].tolist() == [7, 7, 7]
    one = ours.generate(torch.tensor([[5]]), max_new_tokens=3, forced_bos_token_id=11, eos_token_id=None)
    assert one[0, 1] == 11
    suppressed = ours.generate(ids, attention_mask=mask, max_new_tokens=6, suppress_tokens=list(range(VOCAB // 2)),
                               eos_token_id=None, pad_token_id=PAD)
    assert bool((suppressed[:, ids.shape[1]:] >= VOCAB // 2).all())


# ------------------------------------------------------------------------- the widget uses the same function


def test_generation_explorer_builds_its_processors_with_the_library(monkeypatch):
    pytest.importorskip("ipywidgets")
    from hfexplain.widgets import generation as widget

    settings = [(0.7, 5, 0.9), (1.0, 0, 1.0), (2.0, 0, 0.5)]
    shown = [[repr(p) for p in widget.logits_processors(*s)] for s in settings]
    assert shown == [
        ["TemperatureLogitsWarper(temperature=0.7)", "TopKLogitsWarper(top_k=5)", "TopPLogitsWarper(top_p=0.9)"],
        [],
        ["TemperatureLogitsWarper(temperature=2.0)", "TopPLogitsWarper(top_p=0.5)"],
    ]
    calls = []

    def spy(config, **kwargs):
        calls.append(config)
        return build_logits_processors(config, **kwargs)

    monkeypatch.setattr(widget, "build_logits_processors", spy)
    widget.logits_processors(0.5, 3, 1.0)
    assert len(calls) == 1 and calls[0].do_sample and calls[0].top_k == 3
