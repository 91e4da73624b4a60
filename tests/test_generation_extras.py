"""The rest of transformers' generate (issue 16): more sampling filters, biases and
constraints, stopping criteria, classifier-free guidance, the ``return_dict_in_generate``
outputs and ``compute_transition_scores``, each checked against transformers.

Each processor and criterion alone must equal transformers' class of the same name on the
same inputs; ``generate`` with each option must return the same tokens as transformers'
``generate`` on the packaged tiny GPT-2 (a trained model, so the options have something to
change) and, for the encoder options, on the packaged tiny Marian translator. Sampling draws
the same tokens given the same ``torch.manual_seed``.
"""
from __future__ import annotations

import json
import math
import os

import pytest
import torch

from conftest import quiet_transformers
from hfexplain import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer, assets
from hfexplain.generation import (
    EncoderNoRepeatNGramLogitsProcessor,
    EncoderRepetitionPenaltyLogitsProcessor,
    EosTokenCriteria,
    EpsilonLogitsWarper,
    EtaLogitsWarper,
    ExponentialDecayLengthPenalty,
    GenerateBeamDecoderOnlyOutput,
    GenerateBeamEncoderDecoderOutput,
    GenerateDecoderOnlyOutput,
    GenerateEncoderDecoderOutput,
    GenerationConfig,
    InfNanRemoveLogitsProcessor,
    LogitNormalization,
    LogitsProcessorList,
    MaxLengthCriteria,
    MinPLogitsWarper,
    NoBadWordsLogitsProcessor,
    PrefixConstrainedLogitsProcessor,
    SequenceBiasLogitsProcessor,
    StoppingCriteria,
    StoppingCriteriaList,
    StopStringCriteria,
    TopHLogitsWarper,
    TypicalLogitsWarper,
    build_logits_processors,
)

transformers = quiet_transformers()
hf = transformers.generation

PROMPT = "def add(a, b):"


# ------------------------------------------------------------------------------ shared models


@pytest.fixture(scope="module")
def gpt2():
    """(transformers model, hfexplain model, transformers tokenizer, hfexplain tokenizer)."""
    path = assets.tiny_gpt2_path()
    return (transformers.AutoModelForCausalLM.from_pretrained(path).eval(),
            AutoModelForCausalLM.from_pretrained(path).eval(),
            transformers.AutoTokenizer.from_pretrained(path), AutoTokenizer.from_pretrained(path))


@pytest.fixture(scope="module")
def translator():
    path = assets.tiny_translator_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    source = tokenizer(["translate English to French: two thousand and five", "translate English to French: seven"],
                       return_tensors="pt", padding=True)
    return (transformers.AutoModelForSeq2SeqLM.from_pretrained(path).eval(),
            AutoModelForSeq2SeqLM.from_pretrained(path).eval(), dict(source))


def _prompt(tokenizer, batch=False):
    if not batch:
        return {"input_ids": tokenizer(PROMPT, return_tensors="pt").input_ids}
    tokenizer.padding_side = "left"
    return dict(tokenizer([PROMPT, "import os\n"], return_tensors="pt", padding=True))


def _both(reference, ours, inputs, seed=0, **kwargs):
    torch.manual_seed(seed)
    expected = reference.generate(**inputs, **kwargs)
    torch.manual_seed(seed)
    actual = ours.generate(**inputs, **kwargs)
    return expected, actual


# ------------------------------------------------------------------- each processor alone


def _scores(seed, batch=4, vocab=30):
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(batch, vocab, generator=generator) * 3  # (b, v)
    input_ids = torch.randint(0, 5, (batch, 7), generator=generator)  # (b, s) few ids, so n-grams repeat
    return input_ids, scores


def _allowed(batch_id, ids):
    return [int(ids[-1]) % 7, 11, 12 + batch_id]


SOURCE = torch.tensor([[1, 2, 3, 1, 2, 4], [3, 3, 0, 1, 4, 2]])  # (2, 6) an encoder input for 2 prompts


def _processor_pairs():
    """(ours, transformers') with the same arguments; vocab 30 unless the name says otherwise."""
    return {
        "min_p": (MinPLogitsWarper(0.1), hf.MinPLogitsWarper(0.1)),
        "min_p_keep3": (MinPLogitsWarper(0.9, min_tokens_to_keep=3), hf.MinPLogitsWarper(0.9, min_tokens_to_keep=3)),
        "typical": (TypicalLogitsWarper(0.7), hf.TypicalLogitsWarper(0.7)),
        "typical_keep4": (TypicalLogitsWarper(0.2, min_tokens_to_keep=4),
                          hf.TypicalLogitsWarper(0.2, min_tokens_to_keep=4)),
        "epsilon": (EpsilonLogitsWarper(0.02), hf.EpsilonLogitsWarper(0.02)),
        "epsilon_keep2": (EpsilonLogitsWarper(0.5, min_tokens_to_keep=2),
                          hf.EpsilonLogitsWarper(0.5, min_tokens_to_keep=2)),
        "eta": (EtaLogitsWarper(0.05), hf.EtaLogitsWarper(0.05)),
        "top_h": (TopHLogitsWarper(0.4), hf.TopHLogitsWarper(0.4)),
        "top_h_150": (TopHLogitsWarper(0.7), hf.TopHLogitsWarper(0.7)),
        "encoder_repetition": (EncoderRepetitionPenaltyLogitsProcessor(1.5, SOURCE),
                               hf.EncoderRepetitionPenaltyLogitsProcessor(1.5, SOURCE)),
        "encoder_repetition_below_1": (EncoderRepetitionPenaltyLogitsProcessor(0.5, SOURCE),
                                       hf.EncoderRepetitionPenaltyLogitsProcessor(0.5, SOURCE)),
        "encoder_ngram_1": (EncoderNoRepeatNGramLogitsProcessor(1, SOURCE),
                            hf.EncoderNoRepeatNGramLogitsProcessor(1, SOURCE)),
        "encoder_ngram_2": (EncoderNoRepeatNGramLogitsProcessor(2, SOURCE),
                            hf.EncoderNoRepeatNGramLogitsProcessor(2, SOURCE)),
        "encoder_ngram_3": (EncoderNoRepeatNGramLogitsProcessor(3, SOURCE),
                            hf.EncoderNoRepeatNGramLogitsProcessor(3, SOURCE)),
        "sequence_bias": (SequenceBiasLogitsProcessor([[[3], -2.5], [[1, 2], 4.0], [[2, 4, 1], -1.0], [[0, 9], 3.0]]),
                          hf.SequenceBiasLogitsProcessor([[[3], -2.5], [[1, 2], 4.0], [[2, 4, 1], -1.0],
                                                          [[0, 9], 3.0]])),
        "bad_words": (NoBadWordsLogitsProcessor([[4], [1, 3], [2, 2, 7], [9]], eos_token_id=9),
                      hf.NoBadWordsLogitsProcessor([[4], [1, 3], [2, 2, 7], [9]], eos_token_id=9)),
        "prefix": (PrefixConstrainedLogitsProcessor(_allowed, num_beams=2),
                   hf.PrefixConstrainedLogitsProcessor(_allowed, num_beams=2)),
        "decay": (ExponentialDecayLengthPenalty((2, 1.7), [5, 6], 3),
                  hf.ExponentialDecayLengthPenalty((2, 1.7), [5, 6], 3)),
        "decay_not_yet": (ExponentialDecayLengthPenalty((5, 1.7), 5, 3),
                          hf.ExponentialDecayLengthPenalty((5, 1.7), 5, 3)),
        "inf_nan": (InfNanRemoveLogitsProcessor(), hf.InfNanRemoveLogitsProcessor()),
        "normalization": (LogitNormalization(), hf.LogitNormalization()),
    }


@pytest.mark.parametrize("name", list(_processor_pairs()))
def test_each_processor_equals_transformers(name):
    ours, theirs = _processor_pairs()[name]
    vocab = 150 if name == "top_h_150" else 30
    changed = False
    for seed in range(3):
        input_ids, scores = _scores(seed, vocab=vocab)
        if name == "inf_nan":
            scores[0, :3] = torch.tensor([math.nan, math.inf, -math.inf])
        before = scores.clone()
        expected = theirs(input_ids, scores.clone())
        actual = ours(input_ids, scores)
        assert torch.equal(scores.nan_to_num(), before.nan_to_num())  # the input is left as it was
        assert torch.equal(actual, expected), name
        changed |= not torch.equal(actual, before)  # (NaN != NaN: inf_nan counts as changed, as it should)
    # (decay_not_yet checks the length at which the decay has not started: no change is right)
    assert changed != (name == "decay_not_yet"), f"{name}: the comparison would pass trivially"


def test_filters_keep_what_they_promise():
    probs = torch.tensor([[0.5, 0.3, 0.1, 0.06, 0.04]])
    scores = probs.log()
    kept = MinPLogitsWarper(0.19)(None, scores).isfinite()
    assert kept.tolist() == [[True, True, True, False, False]]  # p >= 0.19 * 0.5
    assert EpsilonLogitsWarper(0.08)(None, scores).isfinite().sum() == 3
    assert TopHLogitsWarper(1.0)(None, scores).isfinite().all()  # the whole entropy budget keeps everything
    assert TopHLogitsWarper(0.01)(None, scores).isfinite().sum() == 1  # the most likely token always stays


# --------------------------------------------------------------------------- stopping criteria


def test_stop_string_criteria_equal_transformers(gpt2):
    _, _, hf_tok, our_tok = gpt2
    text = open(os.path.join(assets.tiny_gpt2_path(), "README.md"), encoding="utf-8").read()[:3000]
    ids = [i for line in text.splitlines(keepends=True) for i in our_tok(line).input_ids]
    windows = torch.tensor([ids[i:i + 12] for i in range(0, len(ids) - 12, 3)])  # (n, 12): many endings
    stops = ["the", "\n", "()", " is", "é"]
    expected = hf.StopStringCriteria(hf_tok, stops)(windows, None)
    actual = StopStringCriteria(our_tok, stops)(windows, None)
    assert torch.equal(actual, expected)
    assert 0 < int(actual.sum()) < len(actual)  # some windows stop, some do not


def test_stopping_criteria_lists_behave_like_transformers():
    ids = torch.tensor([[1, 2, 3], [4, 5, 9]])
    assert torch.equal(EosTokenCriteria([9, 7])(ids, None), hf.EosTokenCriteria([9, 7])(ids, None))
    for length in (2, 3, 4):
        assert torch.equal(MaxLengthCriteria(length)(ids, None), hf.MaxLengthCriteria(length)(ids, None))
    both = StoppingCriteriaList([MaxLengthCriteria(10), EosTokenCriteria(3)])
    assert both(ids, None).tolist() == [True, False] and both.max_length == 10
    with pytest.raises(NotImplementedError, match="subclassed"):
        StoppingCriteria()(ids, None)


class _StopAfterToken(StoppingCriteria):
    """A learner's criterion: stop a row once it holds ``token`` after the prompt."""

    def __init__(self, token, prompt_length):
        self.token, self.prompt_length = token, prompt_length

    def __call__(self, input_ids, scores, **kwargs):
        return (input_ids[:, self.prompt_length:] == self.token).any(dim=-1)


class _TheirStopAfterToken(transformers.StoppingCriteria):
    def __init__(self, token, prompt_length):
        self.token, self.prompt_length = token, prompt_length

    def __call__(self, input_ids, scores, **kwargs):
        return (input_ids[:, self.prompt_length:] == self.token).any(dim=-1)


# ------------------------------------------------------------------- generate, option by option


def _greedy_tokens(gpt2):
    reference, _, hf_tok, _ = gpt2
    inputs = _prompt(hf_tok)
    return reference.generate(**inputs, max_new_tokens=12)[0, inputs["input_ids"].shape[1]:].tolist()


OPTIONS = {  # name -> (generate kwargs, sampled?)
    "min_p": ({"min_p": 0.2, "top_k": 0}, True),
    "typical_p": ({"typical_p": 0.5}, True),
    "epsilon_cutoff": ({"epsilon_cutoff": 0.05, "top_k": 0}, True),
    "eta_cutoff": ({"eta_cutoff": 0.01, "top_k": 0}, True),
    "top_h": ({"top_h": 0.3, "top_k": 0}, True),
    "guidance_sampled": ({"guidance_scale": 1.5}, True),
    "guidance": ({"guidance_scale": 2.0}, False),
    "exponential_decay": ({"exponential_decay_length_penalty": (2, 3.0)}, False),
    "encoder_no_repeat_ngram_size": ({"encoder_no_repeat_ngram_size": 1}, False),
    "encoder_repetition_penalty": ({"encoder_repetition_penalty": 0.3}, False),
    "no_repeat_ngram_size": ({"no_repeat_ngram_size": 1}, False),
    "renormalize_and_clean": ({"renormalize_logits": True, "remove_invalid_values": True, "top_k": 5}, True),
}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_each_option_matches_transformers(gpt2, name):
    reference, ours, hf_tok, _ = gpt2
    kwargs, sampled = OPTIONS[name]
    inputs = _prompt(hf_tok, batch=True)
    expected, actual = _both(reference, ours, inputs, seed=3, max_new_tokens=12, do_sample=sampled, **kwargs)
    assert torch.equal(actual, expected), name
    # the option took effect (else the comparison would not test it)
    torch.manual_seed(3)
    plain = ours.generate(**inputs, max_new_tokens=12, do_sample=sampled,
                          **{k: v for k, v in kwargs.items() if k == "top_k"})
    assert not torch.equal(plain, actual) or name == "renormalize_and_clean"


def test_token_lists_bias_and_constraints_match_transformers(gpt2):
    reference, ours, hf_tok, _ = gpt2
    inputs = _prompt(hf_tok)
    greedy = _greedy_tokens(gpt2)
    settings = [
        {"bad_words_ids": [[greedy[0]], greedy[2:4]]},
        {"sequence_bias": [[[greedy[1]], -20.0], [greedy[3:5], -30.0]]},
        {"prefix_allowed_tokens_fn": lambda batch_id, ids: [int(ids[-1]) + 1, 198, 262, 13]},
    ]
    for setting, modes in zip(settings, [((False, 1), (True, 1), (False, 3)), ((False, 1), (False, 3)),
                                         ((False, 1), (True, 1))]):
        for sampled, beams in modes:
            expected, actual = _both(reference, ours, inputs, seed=1, max_new_tokens=12, do_sample=sampled,
                                     num_beams=beams, **setting)
            assert torch.equal(actual, expected), (setting, sampled, beams)
        assert actual[0, inputs["input_ids"].shape[1]:].tolist() != greedy


def test_bad_words_are_never_generated(gpt2):
    _, ours, hf_tok, _ = gpt2
    greedy = _greedy_tokens(gpt2)
    torch.manual_seed(0)
    out = ours.generate(**_prompt(hf_tok), max_new_tokens=30, do_sample=True, bad_words_ids=[[t] for t in greedy[:3]])
    assert not set(out[0, 7:].tolist()) & set(greedy[:3])


def test_stop_strings_and_custom_criteria_match_transformers(gpt2):
    reference, ours, hf_tok, our_tok = gpt2
    inputs = _prompt(hf_tok, batch=True)
    torch.manual_seed(0)
    expected = reference.generate(**inputs, max_new_tokens=30, stop_strings=["\n", "("], tokenizer=hf_tok,
                                  pad_token_id=0)
    torch.manual_seed(0)
    actual = ours.generate(**inputs, max_new_tokens=30, stop_strings=["\n", "("], tokenizer=our_tok, pad_token_id=0)
    assert torch.equal(actual, expected) and actual.shape[1] < inputs["input_ids"].shape[1] + 30
    token = _greedy_tokens(gpt2)[4]
    n = inputs["input_ids"].shape[1]
    expected = reference.generate(**inputs, max_new_tokens=20,
                                  stopping_criteria=transformers.StoppingCriteriaList([_TheirStopAfterToken(token, n)]))
    actual = ours.generate(**inputs, max_new_tokens=20, stopping_criteria=[_StopAfterToken(token, n)])
    assert torch.equal(actual, expected)
    assert not torch.equal(actual, ours.generate(**inputs, max_new_tokens=20))  # the first row stopped early
    with pytest.raises(ValueError, match="tokenizer=tokenizer"):
        ours.generate(**inputs, max_new_tokens=3, stop_strings="\n")


def test_guidance_with_a_negative_prompt_matches_transformers(gpt2):
    reference, ours, hf_tok, _ = gpt2
    inputs = _prompt(hf_tok)
    negative = hf_tok("import", return_tensors="pt").input_ids
    expected, actual = _both(reference, ours, inputs, max_new_tokens=10, guidance_scale=1.5,
                             negative_prompt_ids=negative)
    assert torch.equal(actual, expected)
    plain = ours.generate(**inputs, max_new_tokens=10, guidance_scale=1.5)
    assert not torch.equal(plain, actual)


def test_beam_sampling_matches_transformers_over_64_tokens(gpt2):
    reference, ours, hf_tok, _ = gpt2
    inputs = _prompt(hf_tok)
    expected, actual = _both(reference, ours, inputs, seed=7, do_sample=True, num_beams=4, max_new_tokens=64)
    assert actual.shape[1] == inputs["input_ids"].shape[1] + 64
    assert torch.equal(actual, expected)


# ------------------------------------------------------------------- return_dict_in_generate


def _assert_same_tuple(ours, theirs, atol=1e-5):
    assert len(ours) == len(theirs)
    for mine, their in zip(ours, theirs):
        assert mine.shape == their.shape
        assert torch.allclose(mine, their, atol=atol, rtol=0, equal_nan=True)


@pytest.mark.parametrize("sampled", [False, True])
def test_output_scores_and_logits_match_transformers(gpt2, sampled):
    reference, ours, hf_tok, _ = gpt2
    inputs = _prompt(hf_tok, batch=True)
    kwargs = dict(max_new_tokens=6, do_sample=sampled, top_k=20, return_dict_in_generate=True, output_scores=True,
                  output_logits=True)
    expected, actual = _both(reference, ours, inputs, **kwargs)
    assert isinstance(actual, GenerateDecoderOnlyOutput) and type(expected).__name__ == type(actual).__name__
    assert torch.equal(actual.sequences, expected.sequences)
    _assert_same_tuple(actual.scores, expected.scores)
    _assert_same_tuple(actual.logits, expected.logits)
    assert actual.past_key_values is not None and actual.attentions is None
    for normalize in (False, True):
        mine = ours.compute_transition_scores(actual.sequences, actual.scores, normalize_logits=normalize)
        theirs = reference.compute_transition_scores(expected.sequences, expected.scores, normalize_logits=normalize)
        assert torch.allclose(mine, theirs, atol=1e-5, rtol=0, equal_nan=True)
    # without output_* only the sequences
    plain = ours.generate(**inputs, max_new_tokens=6, return_dict_in_generate=True)
    assert plain.scores is None and plain.logits is None and torch.equal(plain.sequences, actual.sequences) != sampled


def test_beam_output_matches_transformers_and_rebuilds_sequence_scores(gpt2):
    reference, ours, hf_tok, _ = gpt2
    inputs = _prompt(hf_tok, batch=True)
    kwargs = dict(max_new_tokens=8, num_beams=3, num_return_sequences=2, length_penalty=0.7,
                  return_dict_in_generate=True, output_scores=True, output_logits=True, eos_token_id=198)
    expected, actual = _both(reference, ours, inputs, **kwargs)
    assert isinstance(actual, GenerateBeamDecoderOnlyOutput)
    assert torch.equal(actual.sequences, expected.sequences)
    assert torch.equal(actual.beam_indices, expected.beam_indices)
    assert torch.allclose(actual.sequences_scores, expected.sequences_scores, atol=1e-5, rtol=0)
    _assert_same_tuple(actual.scores, expected.scores)
    _assert_same_tuple(actual.logits, expected.logits)
    mine = ours.compute_transition_scores(actual.sequences, actual.scores, actual.beam_indices)
    theirs = reference.compute_transition_scores(expected.sequences, expected.scores, expected.beam_indices)
    assert torch.allclose(mine, theirs, atol=1e-5, rtol=0)
    lengths = (actual.beam_indices >= 0).sum(dim=1)
    assert torch.allclose(mine.sum(dim=1) / lengths**0.7, actual.sequences_scores, atol=1e-4)


def test_attentions_and_hidden_states_match_transformers(gpt2):
    _, ours, hf_tok, _ = gpt2
    reference = transformers.AutoModelForCausalLM.from_pretrained(assets.tiny_gpt2_path(),
                                                                  attn_implementation="eager").eval()
    inputs = _prompt(hf_tok)
    kwargs = dict(max_new_tokens=3, return_dict_in_generate=True, output_attentions=True, output_hidden_states=True)
    expected, actual = _both(reference, ours, inputs, **kwargs)
    assert len(actual.attentions) == len(expected.attentions) == 3
    for mine, theirs in zip(actual.attentions + actual.hidden_states, expected.attentions + expected.hidden_states):
        _assert_same_tuple(mine, theirs)


# ---------------------------------------------------------------------------- encoder-decoder


def test_encoder_options_on_the_translator_match_transformers(translator):
    reference, ours, source = translator
    for setting in ({"encoder_no_repeat_ngram_size": 2}, {"encoder_repetition_penalty": 0.5},
                    {"encoder_no_repeat_ngram_size": 2, "num_beams": 3}):
        expected, actual = _both(reference, ours, source, max_new_tokens=12, **setting)
        assert torch.equal(actual, expected), setting
        plain = ours.generate(**source, max_new_tokens=12, num_beams=setting.get("num_beams", 1))
        assert actual.shape != plain.shape or not torch.equal(actual, plain), setting


def test_encoder_decoder_outputs_match_transformers(translator):
    reference, ours, source = translator
    for beams, output_class in ((1, GenerateEncoderDecoderOutput), (2, GenerateBeamEncoderDecoderOutput)):
        kwargs = dict(max_new_tokens=10, num_beams=beams, return_dict_in_generate=True, output_scores=True,
                      output_logits=True)
        expected, actual = _both(reference, ours, source, **kwargs)
        assert isinstance(actual, output_class) and type(expected).__name__ == output_class.__name__
        assert torch.equal(actual.sequences, expected.sequences)
        _assert_same_tuple(actual.scores, expected.scores)
        _assert_same_tuple(actual.logits, expected.logits)
        if beams > 1:
            assert torch.equal(actual.beam_indices, expected.beam_indices)
            assert torch.allclose(actual.sequences_scores, expected.sequences_scores, atol=1e-5, rtol=0)
        mine = ours.compute_transition_scores(actual.sequences, actual.scores, getattr(actual, "beam_indices", None))
        theirs = reference.compute_transition_scores(expected.sequences, expected.scores,
                                                     getattr(expected, "beam_indices", None))
        assert torch.allclose(mine, theirs, atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------------- order


def test_processors_come_in_transformers_order(gpt2):
    reference, ours, _, _ = gpt2
    kwargs = dict(guidance_scale=1.5, sequence_bias=[[[5], 1.0]], encoder_repetition_penalty=1.2,
                  repetition_penalty=1.1, no_repeat_ngram_size=2, encoder_no_repeat_ngram_size=2,
                  bad_words_ids=[[7]], min_length=3, forced_bos_token_id=1, forced_eos_token_id=0,
                  remove_invalid_values=True, exponential_decay_length_penalty=(2, 1.1), suppress_tokens=[9],
                  begin_suppress_tokens=[8], do_sample=True, temperature=0.7, top_h=0.5, top_k=10, top_p=0.9,
                  min_p=0.1, typical_p=0.9, epsilon_cutoff=0.01, eta_cutoff=0.01, renormalize_logits=True,
                  eos_token_id=0, max_length=20)
    prompt = torch.tensor([[3, 4, 5]])
    theirs = reference._get_logits_processor(
        transformers.GenerationConfig(**kwargs, _eos_token_tensor=torch.tensor([0])), input_ids_seq_length=3,
        encoder_input_ids=prompt, prefix_allowed_tokens_fn=_allowed, logits_processor=[], device="cpu",
    )
    config = GenerationConfig(**kwargs, num_beams=1)
    mine = build_logits_processors(config, prompt_length=3, encoder_input_ids=prompt,
                                   prefix_allowed_tokens_fn=_allowed, model=ours)
    assert [type(p).__name__ for p in mine] == [type(p).__name__ for p in theirs]
    assert isinstance(mine, LogitsProcessorList)


# ---------------------------------------------------------------------------------- bad values


@pytest.mark.parametrize("kwargs, message", [
    ({"min_p": -0.1}, r"min_p must be a number in \[0, 1\]"),
    ({"min_p": 1.5}, r"min_p must be a number in \[0, 1\]"),
    ({"typical_p": 0.0}, r"typical_p must be a number in \(0, 1\]"),
    ({"typical_p": 1.2}, r"typical_p must be a number in \(0, 1\]"),
    ({"epsilon_cutoff": 1.0}, r"epsilon_cutoff must be a number in \[0, 1\)"),
    ({"eta_cutoff": -1e-3}, r"eta_cutoff must be a number in \[0, 1\)"),
    ({"top_h": 0}, r"top_h must be a number in \(0, 1\]"),
    ({"top_h": float("nan")}, r"top_h must be a number"),
    ({"encoder_no_repeat_ngram_size": -1}, "encoder_no_repeat_ngram_size must be an integer >= 0"),
    ({"encoder_repetition_penalty": 0.0}, "encoder_repetition_penalty must be a number > 0"),
    ({"guidance_scale": -2.0}, "guidance_scale must be a number > 0"),
    ({"bad_words_ids": [5, 6]}, "bad_words_ids must be a non-empty list of lists"),
    ({"bad_words_ids": [[]]}, "bad_words_ids must be a non-empty list of lists"),
    ({"sequence_bias": [[[5], 2]]}, r"sequence_bias must be a non-empty list of \[token ids, float bias\]"),
    ({"sequence_bias": {(5,): "big"}}, "sequence_bias must be"),
    ({"exponential_decay_length_penalty": (1.5, 2.0)}, r"exponential_decay_length_penalty must be \(start, factor\)"),
    ({"stop_strings": ""}, "stop_strings must be a non-empty string"),
    ({"stop_strings": ["ok", 3]}, "stop_strings must be"),
    ({"max_time": -1}, "max_time must be a number of seconds >= 0"),
    ({"output_scores": "yes"}, "output_scores must be True or False"),
])
def test_bad_values_are_refused_before_generating(gpt2, kwargs, message):
    _, ours, hf_tok, _ = gpt2
    with pytest.raises(ValueError, match=message):
        GenerationConfig(**kwargs)
    with pytest.raises(ValueError, match=message):
        ours.generate(**_prompt(hf_tok), max_new_tokens=2, do_sample=True, **kwargs)


def test_bad_processor_arguments():
    with pytest.raises(ValueError, match="min_tokens_to_keep"):
        MinPLogitsWarper(0.1, min_tokens_to_keep=0)
    with pytest.raises(ValueError, match="typical_p"):
        TypicalLogitsWarper(1.0)  # 1.0 means "off": the warper itself needs a cut
    with pytest.raises(ValueError, match="vocabulary has 30"):
        SequenceBiasLogitsProcessor([[[31], 1.0]])(*_scores(0))
    with pytest.raises(ValueError, match="no allowed token"):
        PrefixConstrainedLogitsProcessor(lambda batch_id, ids: [], 1)(*_scores(0))
    with pytest.raises(TypeError, match="must be a function"):
        PrefixConstrainedLogitsProcessor([1, 2], 1)


def test_guidance_is_refused_on_an_encoder_decoder(translator):
    _, ours, source = translator
    with pytest.raises(ValueError, match="encoder-decoder"):
        ours.generate(**source, max_new_tokens=2, guidance_scale=1.5)


# ------------------------------------------------------------------- GenerationConfig files


def test_generation_config_from_another_file_name(tmp_path):
    GenerationConfig(top_k=7, do_sample=True).save_pretrained(tmp_path, config_file_name="creative.json")
    theirs = transformers.GenerationConfig.from_pretrained(tmp_path, "creative.json")
    mine = GenerationConfig.from_pretrained(tmp_path, "creative.json")
    assert mine.top_k == theirs.top_k == 7
    assert GenerationConfig.from_pretrained(tmp_path, config_file_name="creative.json").do_sample is True
    with pytest.raises(OSError, match=r"config_file_name='creative.json'"):
        GenerationConfig.from_pretrained(tmp_path)


def test_generation_config_return_unused_kwargs_like_transformers(tmp_path):
    (tmp_path / "generation_config.json").write_text(json.dumps({"top_k": 7, "max_new_tokens": 5}))
    mine, unused = GenerationConfig.from_pretrained(tmp_path, top_k=3, foo=False, return_unused_kwargs=True)
    theirs, their_unused = transformers.GenerationConfig.from_pretrained(tmp_path, top_k=3, foo=False,
                                                                         return_unused_kwargs=True)
    assert (mine.top_k, mine.max_new_tokens, mine.foo) == (theirs.top_k, theirs.max_new_tokens, theirs.foo)
    assert unused == their_unused
    assert not hasattr(mine, "return_unused_kwargs")
    config, unused = GenerationConfig.from_dict({"top_p": 0.5}, return_unused_kwargs=True)
    assert config.top_p == 0.5 and unused == {}
