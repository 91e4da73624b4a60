"""The encoder-decoder seam of ``generate`` on the toy model of tests/toy_seq2seq.py.

No reference implementation exists for the toy, so ``generate`` is compared with hand
loops that recompute the full forward (no cache) at every step: greedy, sampling with
the same seed, and beam search without EOS (the best ``num_beams`` sums of log-probs at
each step). Also: the encoder runs exactly once per call, the cross-attention keys are
computed once with the cache, cache on and off agree, forced_bos_token_id and
begin_suppress_tokens act where they matter for encoder-decoders, explain_generation
follows generate, and the decoder start and the model's own inputs are checked.
"""
from __future__ import annotations

import pytest
import torch

from hfexplain.generation import GenerationMixin, explain_generation
from hfexplain.layers import EncoderDecoderCache
from hfexplain.outputs import BaseModelOutput
from toy_seq2seq import ToySeq2SeqConfig, ToySeq2SeqForConditionalGeneration

START, EOS, PAD = 1, 2, 0


def _redraw(model, seed: int) -> None:
    """Weights drawn so that the toy's continuations vary and depend on the source: the
    head gets its own matrix (tied to the embedding, a random toy mostly repeats its
    input token), matrices have std 1/sqrt(fan-in), biases 0, norm scales near 1. The
    top two logits then differ by more than 0.02 along the tested continuations, far
    above the 1e-6 by which cache on and off differ."""
    generator = torch.Generator().manual_seed(seed)
    model.lm_head.weight = torch.nn.Parameter(torch.empty_like(model.lm_head.weight))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() == 1 and "weight" in name:
                param.copy_(1 + 0.1 * torch.randn(param.shape, generator=generator))
            elif param.dim() == 1:
                param.zero_()
            else:
                param.copy_(torch.randn(param.shape, generator=generator) / param.shape[-1] ** 0.5)


@pytest.fixture(scope="module")
def model():
    toy = ToySeq2SeqForConditionalGeneration(ToySeq2SeqConfig())
    _redraw(toy, seed=6)
    return toy.eval()


def sources():
    """Two source rows, the second right-padded (an encoder reads both directions)."""
    ids = torch.tensor([[5, 9, 14, 3, 22, 8], [17, 4, 30, 11, PAD, PAD]])
    mask = (ids != PAD).long()
    return ids, mask


def full_logits(model, ids, mask, decoder_ids):
    """The next token's logits, recomputing everything (encoder included) without a cache."""
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids, use_cache=False)
    return out.logits[:, -1, :]  # (b, v)


def hand_greedy(model, ids, mask, steps, eos=EOS, first_step=None):
    """Greedy decoding by hand. ``first_step(scores, step)`` may reshape the scores."""
    decoder_ids = torch.full((ids.shape[0], 1), START)
    running = torch.ones(ids.shape[0], dtype=torch.bool)
    for step in range(steps):
        scores = full_logits(model, ids, mask, decoder_ids)
        if first_step is not None:
            scores = first_step(scores, step)
        token = scores.argmax(-1)  # (b,)
        token = torch.where(running, token, torch.full_like(token, PAD))
        decoder_ids = torch.cat([decoder_ids, token[:, None]], dim=-1)
        if eos is not None:
            running &= token != eos
        if not running.any():
            break
    return decoder_ids


def hand_beams(model, ids, mask, steps, num_beams):
    """Beam search without EOS, by hand, one prompt at a time: keep the ``num_beams``
    highest sums of log-probabilities; return the best sequence."""
    results = []
    for row in range(ids.shape[0]):
        beams = [([START], 0.0)]
        for _ in range(steps):
            candidates = []
            for tokens, score in beams:
                log_probs = full_logits(model, ids[row:row + 1], mask[row:row + 1], torch.tensor([tokens]))
                log_probs = log_probs.log_softmax(-1)[0]
                for token in range(log_probs.shape[0]):
                    candidates.append((tokens + [token], score + float(log_probs[token])))
            beams = sorted(candidates, key=lambda c: -c[1])[:num_beams]
        results.append(beams[0][0])
    return torch.tensor(results)


def count_calls(module):
    calls = []
    handle = module.register_forward_hook(lambda *args: calls.append(1))
    return calls, handle


# ------------------------------------------------------------------------- greedy, sampling, beams


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_equals_hand_loop(model, use_cache):
    ids, mask = sources()
    expected = hand_greedy(model, ids, mask, steps=8)
    actual = model.generate(ids, attention_mask=mask, max_new_tokens=8, use_cache=use_cache)
    assert torch.equal(actual, expected)
    assert bool((actual[:, 0] == START).all())  # decoder sequences, start token included


def test_greedy_without_eos_runs_to_max_new_tokens(model):
    ids, mask = sources()
    expected = hand_greedy(model, ids, mask, steps=10, eos=None)
    actual = model.generate(ids, attention_mask=mask, max_new_tokens=10, eos_token_id=None)
    assert actual.shape == (2, 11) and torch.equal(actual, expected)


def test_sampling_equals_hand_loop_with_the_same_seed(model):
    ids, mask = sources()
    torch.manual_seed(3)
    decoder_ids = torch.full((2, 1), START)
    for _ in range(6):
        probs = (full_logits(model, ids, mask, decoder_ids) / 0.8).softmax(-1)
        decoder_ids = torch.cat([decoder_ids, torch.multinomial(probs, 1)], dim=-1)
    torch.manual_seed(3)
    actual = model.generate(ids, attention_mask=mask, max_new_tokens=6, do_sample=True, temperature=0.8, top_k=0,
                            eos_token_id=None)
    assert torch.equal(actual, decoder_ids)


@pytest.mark.parametrize("use_cache", [True, False])
def test_beam_search_equals_hand_beams(model, use_cache):
    ids, mask = sources()
    expected = hand_beams(model, ids, mask, steps=5, num_beams=3)
    actual = model.generate(ids, attention_mask=mask, max_new_tokens=5, num_beams=3, eos_token_id=None,
                            use_cache=use_cache)
    assert torch.equal(actual, expected)


@pytest.mark.parametrize("settings", [
    dict(num_beams=3),
    dict(num_beams=4, num_return_sequences=2, length_penalty=0.5),
    dict(do_sample=True, num_return_sequences=3),
    dict(do_sample=True, num_beams=2),
])
def test_cache_on_and_off_agree(model, settings):
    ids, mask = sources()
    results = []
    for use_cache in (True, False):
        torch.manual_seed(4)
        results.append(model.generate(ids, attention_mask=mask, max_new_tokens=9, use_cache=use_cache, **settings))
    assert torch.equal(results[0], results[1])
    rows = 2 * settings.get("num_return_sequences", 1)
    assert results[0].shape[0] == rows


# ------------------------------------------------------------------------- the encoder runs once


@pytest.mark.parametrize("settings", [dict(), dict(use_cache=False), dict(num_beams=3),
                                      dict(do_sample=True, num_return_sequences=2)])
def test_encoder_runs_exactly_once(model, settings):
    ids, mask = sources()
    calls, handle = count_calls(model.get_encoder())
    try:
        out = model.generate(ids, attention_mask=mask, max_new_tokens=6, eos_token_id=None, **settings)
    finally:
        handle.remove()
    assert len(calls) == 1
    assert out.shape[1] == 7


def test_cross_keys_are_computed_once_with_the_cache(model):
    ids, mask = sources()
    cross_k = model.decoder_layers[0].encoder_attn.k_proj
    for use_cache, expected_calls in ((True, 1), (False, 6)):
        calls, handle = count_calls(cross_k)
        try:
            model.generate(ids, attention_mask=mask, max_new_tokens=6, eos_token_id=None, use_cache=use_cache)
        finally:
            handle.remove()
        assert len(calls) == expected_calls


def test_step_inputs_feed_decoder_ids_and_the_encoder_output(model):
    ids, mask = sources()
    encoded = model.get_encoder()(ids, mask)
    cache = EncoderDecoderCache()
    decoder_ids = torch.tensor([[START, 7, 8], [START, 9, 10]])
    first = model.prepare_inputs_for_generation(decoder_ids, cache, mask, encoder_outputs=encoded)
    assert set(first) == {"decoder_input_ids", "encoder_outputs", "attention_mask", "past_key_values", "use_cache"}
    assert torch.equal(first["decoder_input_ids"], decoder_ids) and first["attention_mask"] is mask
    model(**first)  # fills the cache with 3 decoder positions
    later = model.prepare_inputs_for_generation(torch.cat([decoder_ids, decoder_ids[:, -1:]], 1), cache, mask,
                                                encoder_outputs=encoded)
    assert later["decoder_input_ids"].tolist() == [[8], [10]]  # only what the cache has not seen


# ------------------------------------------------------------------------- options that matter here


def test_forced_bos_token_equals_hand_loop(model):
    ids, mask = sources()

    def force_first(scores, step):
        if step == 0:
            forced = torch.full_like(scores, -float("inf"))
            forced[:, 13] = 0
            return forced
        return scores

    expected = hand_greedy(model, ids, mask, steps=6, first_step=force_first)
    for settings in (dict(), dict(num_beams=1, use_cache=False)):
        actual = model.generate(ids, attention_mask=mask, max_new_tokens=6, forced_bos_token_id=13, **settings)
        assert torch.equal(actual, expected)
    assert actual[:, 1].tolist() == [13, 13]


def _banned_at(step_to_ban, banned):
    def ban(scores, step):
        if step == step_to_ban:
            scores = scores.clone()
            scores[:, banned] = -float("inf")
        return scores
    return ban


def test_begin_suppress_tokens_equals_hand_loop(model):
    ids, mask = sources()
    plain = model.generate(ids, attention_mask=mask, max_new_tokens=6)
    first_tokens = sorted(set(plain[:, 1].tolist()))  # what greedy starts with: now forbidden
    expected = hand_greedy(model, ids, mask, steps=6, first_step=_banned_at(0, first_tokens))
    actual = model.generate(ids, attention_mask=mask, max_new_tokens=6, begin_suppress_tokens=first_tokens)
    assert torch.equal(actual, expected)
    assert not torch.equal(actual, plain)


def test_begin_suppress_after_a_forced_bos_acts_on_the_second_token(model):
    ids, mask = sources()
    forced = model.generate(ids, attention_mask=mask, max_new_tokens=6, forced_bos_token_id=13)
    second = sorted(set(forced[:, 2].tolist()))

    def force_then_ban(scores, step):
        if step == 0:
            out = torch.full_like(scores, -float("inf"))
            out[:, 13] = 0
            return out
        return _banned_at(1, second)(scores, step)

    expected = hand_greedy(model, ids, mask, steps=6, first_step=force_then_ban)
    actual = model.generate(ids, attention_mask=mask, max_new_tokens=6, forced_bos_token_id=13,
                            begin_suppress_tokens=second)
    assert torch.equal(actual, expected)
    assert not set(actual[:, 2].tolist()) & set(second)


def test_forced_eos_and_no_repeat_on_the_decoder(model):
    ids, mask = sources()
    out = model.generate(ids, attention_mask=mask, max_new_tokens=5, forced_eos_token_id=EOS, eos_token_id=None)
    assert out[:, -1].tolist() == [EOS, EOS]
    out = model.generate(ids, attention_mask=mask, max_new_tokens=20, no_repeat_ngram_size=1, eos_token_id=None)
    for row in out.tolist():
        assert len(row) == len(set(row))  # the decoder's own sequence (start token included), not the source


# ------------------------------------------------------------------------- explain_generation


def test_explain_generation_follows_generate(model):
    ids, mask = sources()
    steps = explain_generation(model, ids[:1], attention_mask=mask[:1], max_new_tokens=5, top_n=3)
    expected = model.generate(ids[:1], attention_mask=mask[:1], max_new_tokens=5)
    assert [s.token_id for s in steps] == expected[0, 1:].tolist()[: len(steps)]
    assert [s.kv_cache_positions for s in steps] == list(range(1, len(steps) + 1))  # decoder positions
    assert steps[0].position == 1  # after the decoder's start token
    first = full_logits(model, ids[:1], mask[:1], torch.tensor([[START]])).softmax(-1)[0].topk(3)
    assert steps[0].stages[0].top_ids == first.indices.tolist()
    assert steps[0].stages[0].top_probs == pytest.approx(first.values.tolist(), abs=1e-6)
    assert steps[0].kv_cache_bytes > 0


# ------------------------------------------------------------------------- the decoder's start, bad input


def test_decoder_start_token_comes_from_the_generation_config_then_the_model(model):
    ids, mask = sources()
    out = model.generate(ids, attention_mask=mask, max_new_tokens=2, decoder_start_token_id=7)
    assert out[:, 0].tolist() == [7, 7]
    config = ToySeq2SeqConfig(decoder_start_token_id=None, bos_token_id=None)
    bare = ToySeq2SeqForConditionalGeneration(config).eval()
    with pytest.raises(ValueError, match="decoder_start_token_id.*generate\\(\\.\\.\\., decoder_start_token_id=ID\\)"):
        bare.generate(ids, max_new_tokens=2)
    bare.config.decoder_start_token_id = 4  # the model config, when the generation config has none
    assert bare.generate(ids, max_new_tokens=2)[:, 0].tolist() == [4, 4]


def test_encoder_decoder_needs_a_source(model):
    with pytest.raises(ValueError, match="encoder-decoder: generate\\(\\) needs input_ids, the source"):
        model.generate(max_new_tokens=2)


def test_decoder_length_is_capped_by_its_positions(model):
    ids, mask = sources()
    limit = model.config.max_positions
    with pytest.raises(ValueError, match=f"learned only {limit}"):
        model.generate(ids, attention_mask=mask, max_new_tokens=limit)
    assert model.generate(ids, attention_mask=mask, max_new_tokens=limit - 1, eos_token_id=None).shape == (2, limit)


# ------------------------------------------------------------------------- decoder-only: the model's own inputs


class _NoPositionsLM(GenerationMixin, torch.nn.Module):
    """A decoder-only LM whose forward takes no position_ids (nor logits_to_keep):
    ``generate`` must not pass them."""

    def __init__(self, inner):
        torch.nn.Module.__init__(self)
        self.config = inner.config
        self.generation_config = inner.generation_config
        self.inner = inner

    def get_output_embeddings(self):
        return self.inner.get_output_embeddings()

    def forward(self, input_ids, past_key_values=None, attention_mask=None, use_cache=None):
        return self.inner(input_ids=input_ids, past_key_values=past_key_values, attention_mask=attention_mask,
                          use_cache=use_cache)


def test_a_forward_without_position_ids_still_generates(tmp_path):
    from test_generation import _build, prompts

    _, gpt2 = _build("gpt2", str(tmp_path))
    wrapped = _NoPositionsLM(gpt2).eval()
    ids, mask = prompts(batch=False)
    expected = gpt2.generate(ids, max_new_tokens=6)
    assert torch.equal(wrapped.generate(ids, max_new_tokens=6), expected)
    assert torch.equal(wrapped.generate(ids, max_new_tokens=6, num_beams=2), gpt2.generate(ids, max_new_tokens=6,
                                                                                          num_beams=2))
    batch, batch_mask = prompts(batch=True)
    inputs = wrapped.prepare_inputs_for_generation(batch, None, batch_mask)
    assert "position_ids" not in inputs and "logits_to_keep" not in inputs
    assert wrapped.generate(batch, attention_mask=batch_mask, max_new_tokens=3, pad_token_id=PAD).shape == (3, 9)
    assert wrapped.generation_position_limit() is None  # the default: no learned table declared


def test_decoder_only_step_inputs_count_positions_from_the_mask(tmp_path):
    from test_generation import _build, prompts

    _, gpt2 = _build("gpt2", str(tmp_path))
    ids, mask = prompts(batch=True)
    inputs = gpt2.prepare_inputs_for_generation(ids, None, mask)
    assert inputs["position_ids"][1].tolist() == [0, 0, 0, 0, 1, 2]  # row 1 has three pad positions
    assert inputs["logits_to_keep"] == 1 and inputs["use_cache"] is False
    assert gpt2.prepare_inputs_for_generation(ids, None, None).keys() == {
        "input_ids", "attention_mask", "past_key_values", "use_cache", "logits_to_keep"}
    assert gpt2.generation_position_limit() == gpt2.config.n_positions


def test_expanded_encoder_output_keeps_its_type():
    from hfexplain.generation.utils import _repeat_rows

    out = BaseModelOutput(last_hidden_state=torch.arange(6.0).view(2, 3, 1), hidden_states=(torch.zeros(2),))
    repeated = _repeat_rows(out, 2)
    assert isinstance(repeated, BaseModelOutput)
    assert repeated.last_hidden_state[:, 0, 0].tolist() == [0.0, 0.0, 3.0, 3.0]
    assert repeated.hidden_states is out.hidden_states
