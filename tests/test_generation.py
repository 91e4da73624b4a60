"""hfexplain.generation against transformers' generate, on the same weights.

Tiny random GPT-2 and LLaMA models are built and saved by transformers (weights redrawn
at a larger scale so next-token distributions are peaked, not near-uniform ties), then
loaded by hfexplain. Greedy decoding and beam search must return the same token ids;
sampling with the same torch seed must draw the same tokens (same processors, same
order, same ``torch.multinomial`` calls). Single prompts and left-padded batches, KV
cache on and off. Then generation_config.json both ways, the streamer against
transformers' streamer, the step-by-step view, and every bad input.
"""
from __future__ import annotations

import json
import math
import os

import pytest
import torch

from conftest import quiet_transformers
from hfexplain import AutoModelForCausalLM
from hfexplain.generation import (
    GenerationConfig,
    GenerationMixin,
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TextIteratorStreamer,
    TextStreamer,
    TopKLogitsWarper,
    TopPLogitsWarper,
    build_logits_processors,
    explain_generation,
)
from hfexplain.models.gpt2 import GPT2LMHeadModel, GPT2Model
from hfexplain.models.llama import LlamaForCausalLM

transformers = quiet_transformers()

VOCAB = 300  # room for a byte-level BPE (256 bytes + specials + merges) in the streamer tests
N_POSITIONS = 48
PAD = 0


def _redraw(model, seed: int) -> None:
    """Larger random weights than transformers' init (std 0.02), so the logits are spread out."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() == 1 and "weight" in name:  # norm scales stay near 1
                param.copy_(1 + 0.1 * torch.randn(param.shape, generator=generator))
            else:
                param.copy_(0.3 * torch.randn(param.shape, generator=generator))


def _build(kind: str, folder: str):
    if kind == "gpt2":
        config = transformers.GPT2Config(
            vocab_size=VOCAB, n_positions=N_POSITIONS, n_embd=32, n_layer=2, n_head=4, bos_token_id=1, eos_token_id=2,
        )
        reference = transformers.GPT2LMHeadModel(config)
        ours_class = GPT2LMHeadModel
    else:
        config = transformers.LlamaConfig(
            vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=N_POSITIONS, bos_token_id=1, eos_token_id=2,
        )
        reference = transformers.LlamaForCausalLM(config)
        ours_class = LlamaForCausalLM
    _redraw(reference, seed=1 if kind == "gpt2" else 2)
    reference.eval()
    reference.save_pretrained(folder)
    return reference, ours_class.from_pretrained(folder)


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def pair(request, tmp_path_factory):
    """(transformers model, hfexplain model, folder) for one family, same weights."""
    folder = str(tmp_path_factory.mktemp(request.param))
    reference, ours = _build(request.param, folder)
    return reference, ours, folder


@pytest.fixture(scope="module")
def gpt2_pair(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("gpt2-only"))
    reference, ours = _build("gpt2", folder)
    return reference, ours, folder


def prompts(batch: bool):
    """A prompt (1, 6), or a left-padded batch of three rows of lengths 6, 3 and 5."""
    generator = torch.Generator().manual_seed(7)
    ids = torch.randint(3, VOCAB, (3 if batch else 1, 6), generator=generator)
    mask = torch.ones_like(ids)
    if batch:
        mask[1, :3] = 0
        mask[2, :1] = 0
        ids[mask == 0] = PAD
    return ids, mask


def eos_that_occurs(reference, ids, mask) -> int:
    """A token the reference's greedy continuation of row 0 produces early, used as EOS so
    that rows finish at different steps (and get padded)."""
    with torch.no_grad():
        out = reference.generate(ids, attention_mask=mask, max_new_tokens=6, do_sample=False, eos_token_id=None,
                                 pad_token_id=PAD)
    return int(out[0, ids.shape[1] + 2])


def both(reference, ours, ids, mask, seed=None, **kwargs):
    """Generate with both libraries (same seed when sampling)."""
    if seed is not None:
        torch.manual_seed(seed)
    with torch.no_grad():
        expected = reference.generate(ids, attention_mask=mask, **kwargs)
    if seed is not None:
        torch.manual_seed(seed)
    actual = ours.generate(ids, attention_mask=mask, **kwargs)
    return expected, actual


# ------------------------------------------------------------------------- greedy


@pytest.mark.parametrize("use_cache", [True, False])
@pytest.mark.parametrize("batch", [False, True])
def test_greedy_matches_transformers(pair, batch, use_cache):
    reference, ours, _ = pair
    ids, mask = prompts(batch)
    expected, actual = both(reference, ours, ids, mask, max_new_tokens=10, do_sample=False, use_cache=use_cache,
                            pad_token_id=PAD)
    assert actual.dtype == torch.long and actual.shape == (ids.shape[0], ids.shape[1] + 10)
    assert torch.equal(actual, expected)


def test_greedy_stops_at_eos_and_pads_finished_rows(pair):
    reference, ours, _ = pair
    ids, mask = prompts(batch=True)
    eos = eos_that_occurs(reference, ids, mask)
    for use_cache in (True, False):
        expected, actual = both(reference, ours, ids, mask, max_new_tokens=12, eos_token_id=eos, pad_token_id=PAD,
                                use_cache=use_cache)
        assert torch.equal(actual, expected)
    new = actual[0, ids.shape[1]:].tolist()
    stop = new.index(eos)
    assert new[stop + 1:] and all(t == PAD for t in new[stop + 1:])  # row 0 finished early, then padding


def test_greedy_without_attention_mask_infers_padding(pair):
    reference, ours, _ = pair
    ids, _ = prompts(batch=True)
    with torch.no_grad():
        expected = reference.generate(ids, max_new_tokens=6, pad_token_id=PAD)
    assert torch.equal(ours.generate(ids, max_new_tokens=6, pad_token_id=PAD), expected)


def test_generate_from_bos_only(pair):
    reference, ours, _ = pair
    with torch.no_grad():
        expected = reference.generate(max_new_tokens=5)
    assert torch.equal(ours.generate(max_new_tokens=5), expected)


def test_default_max_length_warns_like_transformers(pair):
    reference, ours, _ = pair
    ids, _ = prompts(batch=False)
    with pytest.warns(UserWarning, match="max_new_tokens"):
        actual = ours.generate(ids)
    with torch.no_grad(), pytest.warns(UserWarning):
        expected = reference.generate(ids)
    assert torch.equal(actual, expected)  # 20 new tokens


# ------------------------------------------------------------------------- beam search


BEAM_SETTINGS = {
    "default": dict(num_beams=3),
    "early_stop_short": dict(num_beams=3, early_stopping=True, length_penalty=-0.5),
    "never_long": dict(num_beams=4, early_stopping="never", length_penalty=2.0, num_return_sequences=2),
    "penalised": dict(num_beams=2, repetition_penalty=1.5),
}


BEAM_CASES = [(name, True) for name in BEAM_SETTINGS] + [("default", False)]  # (setting, padded batch?)


@pytest.mark.parametrize("setting, batch", BEAM_CASES)
def test_beam_search_matches_transformers(pair, setting, batch):
    reference, ours, _ = pair
    ids, mask = prompts(batch)
    eos = eos_that_occurs(reference, ids, mask)  # so that beams finish at different lengths
    for use_cache in (True, False):
        expected, actual = both(reference, ours, ids, mask, max_new_tokens=9, eos_token_id=eos, pad_token_id=PAD,
                                use_cache=use_cache, **BEAM_SETTINGS[setting])
        assert actual.shape == expected.shape
        assert torch.equal(actual, expected)


def test_beam_search_without_eos_matches_transformers(pair):
    reference, ours, _ = pair
    ids, mask = prompts(batch=True)
    expected, actual = both(reference, ours, ids, mask, max_new_tokens=7, num_beams=3, eos_token_id=None,
                            pad_token_id=PAD)
    assert torch.equal(actual, expected)


# ------------------------------------------------------------------------- sampling


SAMPLE_SETTINGS = {
    "plain": dict(),  # top_k=50 by default, as in transformers
    "temperature": dict(temperature=0.6, top_k=0),
    "top_k": dict(top_k=5),
    "top_p": dict(top_p=0.7, top_k=0),
    "everything": dict(temperature=1.3, top_k=20, top_p=0.9, repetition_penalty=1.4),
    "several_per_prompt": dict(num_return_sequences=3, top_k=8),
}


SAMPLE_CASES = [(name, True) for name in SAMPLE_SETTINGS] + [("everything", False)]  # (setting, padded batch?)


@pytest.mark.parametrize("setting, batch", SAMPLE_CASES)
def test_sampling_with_same_seed_draws_same_tokens(pair, setting, batch):
    reference, ours, _ = pair
    ids, mask = prompts(batch)
    expected, actual = both(reference, ours, ids, mask, seed=1234, do_sample=True, max_new_tokens=12,
                            pad_token_id=PAD, **SAMPLE_SETTINGS[setting])
    assert torch.equal(actual, expected)
    # and the draws do depend on the seed (the test would pass trivially otherwise)
    torch.manual_seed(99)
    other = ours.generate(ids, attention_mask=mask, do_sample=True, max_new_tokens=12, pad_token_id=PAD,
                          **SAMPLE_SETTINGS[setting])
    assert not torch.equal(other, actual)


def test_beam_sampling_matches_transformers(pair):
    reference, ours, _ = pair
    ids, mask = prompts(batch=True)
    expected, actual = both(reference, ours, ids, mask, seed=5, do_sample=True, num_beams=3, top_k=10,
                            max_new_tokens=8, pad_token_id=PAD)
    assert torch.equal(actual, expected)


def test_sampling_uses_the_checkpoint_generation_config(tmp_path):
    """Defaults in generation_config.json (do_sample, top_k, temperature) drive generate."""
    folder = str(tmp_path)
    reference, _ = _build("gpt2", folder)
    reference.generation_config = transformers.GenerationConfig(
        do_sample=True, top_k=7, temperature=0.8, max_new_tokens=9, bos_token_id=1, eos_token_id=2, pad_token_id=PAD
    )
    reference.save_pretrained(folder)
    ours = AutoModelForCausalLM.from_pretrained(folder)
    assert isinstance(ours, GPT2LMHeadModel)
    assert ours.generation_config.top_k == 7 and ours.generation_config.do_sample is True
    ids, mask = prompts(batch=True)
    expected, actual = both(reference, ours, ids, mask, seed=11)
    assert expected.shape[1] == ids.shape[1] + 9
    assert torch.equal(actual, expected)
    # a generation_config passed to from_pretrained replaces the file's
    override = GPT2LMHeadModel.from_pretrained(folder, generation_config=GenerationConfig(max_new_tokens=3))
    assert override.generation_config.top_k is None
    assert override.generate(ids, attention_mask=mask, pad_token_id=PAD).shape[1] == ids.shape[1] + 3


# ------------------------------------------------------------------------- processors, one at a time


def test_each_processor_equals_transformers():
    from transformers.generation import logits_process as hf

    generator = torch.Generator().manual_seed(3)
    scores = torch.randn(4, 50, generator=generator) * 3
    input_ids = torch.randint(0, 50, (4, 9), generator=generator)
    ignore = torch.tensor([0, 2, 5, 1])
    cases = [
        (TemperatureLogitsWarper(0.7), hf.TemperatureLogitsWarper(0.7)),
        (TopKLogitsWarper(6), hf.TopKLogitsWarper(6)),
        (TopPLogitsWarper(0.8), hf.TopPLogitsWarper(0.8)),
        (TopPLogitsWarper(0.3, min_tokens_to_keep=3), hf.TopPLogitsWarper(0.3, min_tokens_to_keep=3)),
        (RepetitionPenaltyLogitsProcessor(1.3), hf.RepetitionPenaltyLogitsProcessor(1.3)),
        (RepetitionPenaltyLogitsProcessor(1.3, prompt_ignore_length=ignore),
         hf.RepetitionPenaltyLogitsProcessor(1.3, prompt_ignore_length=ignore)),
    ]
    for ours, theirs in cases:
        before = scores.clone()
        assert torch.equal(ours(input_ids, scores), theirs(input_ids, scores.clone())), repr(ours)
        assert torch.equal(scores, before)  # inputs are left unchanged


def test_processor_effects_by_hand():
    """Independent arithmetic: what each processor must do to a small distribution."""
    scores = torch.tensor([[2.0, 1.0, 0.0, -1.0, -3.0]])
    probs = scores.softmax(-1)[0].tolist()  # ~[0.64, 0.23, 0.09, 0.03, 0.004]
    kept = TopKLogitsWarper(2)(None, scores)
    assert torch.isinf(kept[0, 2:]).all() and torch.equal(kept[0, :2], scores[0, :2])
    # top-p 0.8: 0.64 < 0.8, 0.64 + 0.23 >= 0.8 -> keep two tokens
    assert probs[0] < 0.8 <= probs[0] + probs[1]
    assert torch.isfinite(TopPLogitsWarper(0.8)(None, scores)[0]).tolist() == [True, True, False, False, False]
    assert torch.allclose(TemperatureLogitsWarper(2.0)(None, scores), scores / 2)
    penalised = RepetitionPenaltyLogitsProcessor(2.0)(torch.tensor([[0, 3, 0]]), scores)
    assert penalised[0].tolist() == [1.0, 1.0, 0.0, -2.0, -3.0]  # positive halved, negative doubled, once each


def test_processors_come_in_transformers_order():
    config = GenerationConfig(do_sample=True, temperature=0.5, top_k=10, top_p=0.9, repetition_penalty=1.2,
                              num_beams=1, eos_token_id=2, min_new_tokens=3)
    processors = build_logits_processors(config, prompt_length=4)
    assert isinstance(processors, LogitsProcessorList)
    assert [type(p).__name__ for p in processors] == [
        "RepetitionPenaltyLogitsProcessor", "MinNewTokensLengthLogitsProcessor",
        "TemperatureLogitsWarper", "TopKLogitsWarper", "TopPLogitsWarper",
    ]
    greedy = build_logits_processors(GenerationConfig(do_sample=False, temperature=0.5, top_k=10, num_beams=1),
                                     prompt_length=4)
    assert len(greedy) == 0  # warpers only apply when sampling


def test_min_new_tokens_matches_transformers(pair):
    reference, ours, _ = pair
    ids, mask = prompts(batch=True)
    eos = eos_that_occurs(reference, ids, mask)
    expected, actual = both(reference, ours, ids, mask, max_new_tokens=8, min_new_tokens=5, eos_token_id=eos,
                            pad_token_id=PAD)
    assert torch.equal(actual, expected)
    assert eos not in actual[:, ids.shape[1]:ids.shape[1] + 5].tolist()[0]


# ------------------------------------------------------------------------- generation_config.json


def test_generation_config_json_round_trip_with_transformers(tmp_path):
    theirs = transformers.GenerationConfig(max_new_tokens=7, do_sample=True, top_k=12, top_p=0.85, temperature=0.9,
                                           repetition_penalty=1.1, eos_token_id=[2, 5], pad_token_id=0,
                                           no_repeat_ngram_size=0)
    theirs.save_pretrained(tmp_path / "theirs")
    ours = GenerationConfig.from_pretrained(tmp_path / "theirs")
    assert (ours.max_new_tokens, ours.top_k, ours.top_p, ours.eos_token_id) == (7, 12, 0.85, [2, 5])
    ours.save_pretrained(tmp_path / "ours")
    written = json.loads((tmp_path / "ours" / "generation_config.json").read_text())
    original = json.loads((tmp_path / "theirs" / "generation_config.json").read_text())
    original.pop("transformers_version")
    assert written == original  # same keys, same values
    again = transformers.GenerationConfig.from_pretrained(tmp_path / "ours")
    unversioned = {"transformers_version": None}
    assert again.to_diff_dict() | unversioned == theirs.to_diff_dict() | unversioned


def test_model_save_writes_generation_config_like_transformers(pair, tmp_path):
    reference, ours, folder = pair
    # Derived from config.json exactly as transformers derives it.
    expected = json.loads(open(os.path.join(folder, "generation_config.json")).read())
    expected.pop("transformers_version")
    assert ours.generation_config.to_diff_dict() == expected
    ours.generation_config.top_k = 4
    ours.save_pretrained(tmp_path)
    loaded = type(reference).from_pretrained(tmp_path)
    assert loaded.generation_config.top_k == 4
    assert loaded.generation_config.eos_token_id == reference.generation_config.eos_token_id
    reloaded = type(ours).from_pretrained(tmp_path)
    assert reloaded.generation_config == ours.generation_config
    ours.generation_config.top_k = None


def test_from_model_config_equals_transformers():
    config = transformers.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=1, n_head=4, bos_token_id=3,
                                     eos_token_id=4, pad_token_id=5)
    ours = GenerationConfig.from_model_config(GPT2LMHeadModel(_our_gpt2_config(config)).config)
    theirs = transformers.GenerationConfig.from_model_config(config).to_diff_dict()
    theirs.pop("transformers_version")
    assert ours.to_diff_dict() == theirs


def _our_gpt2_config(hf_config):
    from hfexplain.models.gpt2 import GPT2Config

    fields = {k: v for k, v in hf_config.to_dict().items() if k not in ("transformers_version",)}
    return GPT2Config.from_dict(fields)


# ------------------------------------------------------------------------- streaming


@pytest.fixture(scope="module")
def tokenizers_pair():
    """A byte-level BPE trained here with VOCAB tokens, as hfexplain's and transformers' tokenizer."""
    from pydoc_data.topics import topics
    from tokenizers import Tokenizer as Backend
    from tokenizers import decoders, models, pre_tokenizers, trainers

    from hfexplain.tokenization import Tokenizer

    backend = Backend(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    text = [line for value in list(topics.values())[:40] for line in value.splitlines() if line.strip()]
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(text, trainer)
    assert backend.get_vocab_size() == VOCAB
    ours = Tokenizer(backend, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    theirs = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>",
                                                  pad_token="<pad>")
    return ours, theirs


@pytest.mark.parametrize("skip_prompt", [False, True])
def test_text_streamer_prints_what_transformers_prints(gpt2_pair, tokenizers_pair, capsys, skip_prompt):
    reference, ours, _ = gpt2_pair
    our_tok, their_tok = tokenizers_pair
    ids = torch.tensor([our_tok.encode("The print function and the")])
    ids = ids.clamp(max=VOCAB - 1)
    capsys.readouterr()
    tokens = ours.generate(ids, max_new_tokens=15, streamer=TextStreamer(our_tok, skip_prompt=skip_prompt))
    printed = capsys.readouterr().out
    with torch.no_grad():
        reference.generate(ids, max_new_tokens=15, streamer=transformers.TextStreamer(their_tok,
                                                                                     skip_prompt=skip_prompt))
    assert printed == capsys.readouterr().out
    shown = tokens[0, ids.shape[1]:] if skip_prompt else tokens[0]
    assert printed == our_tok.decode(shown.tolist()) + "\n"


def test_streamer_prints_on_word_boundaries(capsys):
    """Fed token by token, the streamer holds back a word until a space follows it."""

    class Letters:
        def decode(self, ids, **kwargs):
            return "".join(chr(i) for i in ids)

    class Collecting(TextStreamer):
        def on_finalized_text(self, text, stream_end=False):
            chunks.append(text)

    chunks = []
    streamer = Collecting(Letters())
    for char in "hi there\nyou":
        streamer.put(torch.tensor([[ord(char)]]))
    streamer.end()
    assert [c for c in chunks if c] == ["hi ", "there\n", "you"]


def test_text_iterator_streamer_yields_the_text(gpt2_pair, tokenizers_pair):
    _, ours, _ = gpt2_pair
    our_tok, _ = tokenizers_pair
    ids = torch.tensor([[5, 6, 7]])
    streamer = TextIteratorStreamer(our_tok, skip_prompt=True, timeout=5)
    tokens = ours.generate(ids, max_new_tokens=8, streamer=streamer)
    assert "".join(streamer) == our_tok.decode(tokens[0, 3:].tolist())


# ------------------------------------------------------------------------- step-by-step view


def test_steps_follow_greedy_and_distributions_sum_to_one(pair):
    reference, ours, _ = pair
    ids, mask = prompts(batch=False)
    steps = explain_generation(ours, ids, max_new_tokens=6, top_n=VOCAB, repetition_penalty=1.3)
    with torch.no_grad():
        expected = reference.generate(ids, max_new_tokens=6, repetition_penalty=1.3)
    assert [s.token_id for s in steps] == expected[0, ids.shape[1]:].tolist()
    for step in steps:
        assert [stage.name for stage in step.stages] == ["logits", "RepetitionPenaltyLogitsProcessor(penalty=1.3)"]
        for stage in step.stages:
            assert math.isclose(sum(stage.top_probs), 1.0, abs_tol=1e-5)  # all VOCAB tokens shown
            assert stage.top_probs == sorted(stage.top_probs, reverse=True)
        assert step.token_id == step.final.top_ids[0]  # greedy picks the most probable
        assert math.isclose(step.token_prob, step.final.top_probs[0], rel_tol=1e-6)


def test_steps_record_each_processor_and_the_kv_cache(pair):
    reference, ours, _ = pair
    ids, _ = prompts(batch=False)
    torch.manual_seed(21)
    steps = ours.generate_steps(ids, max_new_tokens=5, do_sample=True, temperature=0.5, top_k=4, top_p=0.9,
                                top_n=8)
    torch.manual_seed(21)
    with torch.no_grad():
        expected = reference.generate(ids, max_new_tokens=5, do_sample=True, temperature=0.5, top_k=4, top_p=0.9)
    assert [s.token_id for s in steps] == expected[0, ids.shape[1]:].tolist()

    config = ours.config
    layers = config.num_hidden_layers
    kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = config.hidden_size // config.num_attention_heads
    for i, step in enumerate(steps):
        names = [stage.name.split("(")[0] for stage in step.stages]
        assert names == ["logits", "TemperatureLogitsWarper", "TopKLogitsWarper", "TopPLogitsWarper"]
        assert step.stages[0].kept == VOCAB and step.stages[2].kept == 4 and step.stages[3].kept <= 4
        assert step.stages[2].top_probs[4:] == [0.0] * 4
        assert math.isclose(sum(step.stages[2].top_probs), 1, rel_tol=1e-5)
        assert step.token_id in step.final.top_ids[: step.final.kept]
        positions = ids.shape[1] + i  # everything fed so far
        assert step.position == positions and step.kv_cache_positions == positions
        assert step.kv_cache_bytes == 2 * layers * kv_heads * positions * head_dim * 4  # keys + values, fp32

    no_cache = explain_generation(ours, ids, max_new_tokens=2, use_cache=False)
    assert [s.kv_cache_bytes for s in no_cache] == [0, 0]


def test_steps_show_token_text(gpt2_pair, tokenizers_pair):
    _, ours, _ = gpt2_pair
    our_tok, _ = tokenizers_pair
    steps = explain_generation(ours, torch.tensor([[5, 6, 7]]), max_new_tokens=3, tokenizer=our_tok, top_n=3)
    for step in steps:
        assert step.token == our_tok.decode([step.token_id])
        assert step.stages[0].top_tokens == [our_tok.decode([i]) for i in step.stages[0].top_ids]


# ------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_new_tokens=0), "max_new_tokens must be an integer >= 1"),
        (dict(max_new_tokens=-3), "max_new_tokens must be an integer >= 1"),
        (dict(max_new_tokens=3, do_sample=True, top_p=0.0), r"top_p must be in \(0, 1\]"),
        (dict(max_new_tokens=3, do_sample=True, top_p=1.5), r"top_p must be in \(0, 1\]"),
        (dict(max_new_tokens=3, do_sample=True, temperature=0.0), "must be > 0 when sampling.*do_sample=False"),
        (dict(max_new_tokens=3, do_sample=True, temperature=-1.0), "temperature must be > 0"),
        # NaN passes every < and > test as False: it used to reach torch.multinomial
        (dict(max_new_tokens=3, do_sample=True, temperature=float("nan")), "temperature must be a finite number"),
        (dict(max_new_tokens=3, do_sample=True, temperature=float("inf")), "temperature must be a finite number"),
        (dict(max_new_tokens=3, do_sample=True, top_p=float("nan")), r"top_p must be in \(0, 1\]"),
        (dict(max_new_tokens=3, repetition_penalty=float("nan")), "repetition_penalty must be a number > 0"),
        (dict(max_new_tokens=3, repetition_penalty=float("inf")), "repetition_penalty must be a number > 0"),
        (dict(max_new_tokens=3, num_beams=0), "num_beams must be an integer >= 1"),
        (dict(max_new_tokens=3, top_k=-1), "top_k must be an integer >= 0"),
        (dict(max_new_tokens=3, repetition_penalty=0.0), "repetition_penalty must be a number > 0"),
        (dict(max_new_tokens=3, num_return_sequences=2), "needs sampling"),
        (dict(max_new_tokens=3, num_beams=2, num_return_sequences=3), r"must be <= num_beams"),
        (dict(max_new_tokens=3, early_stopping="soon"), "early_stopping must be"),
        (dict(max_new_tokens=3, max_new_token=3), "did you mean 'max_new_tokens'"),
        (dict(max_length=4), "leaves no room"),
    ],
)
def test_bad_generation_options(gpt2_pair, kwargs, message):
    _, ours, _ = gpt2_pair
    with pytest.raises(ValueError, match=message):
        ours.generate(torch.tensor([[5, 6, 7, 8, 9]]), **kwargs)


def test_greedy_temperature_zero_is_allowed(gpt2_pair):
    _, ours, _ = gpt2_pair
    assert ours.generate(torch.tensor([[5, 6]]), max_new_tokens=2, temperature=0.0).shape == (1, 4)


def test_prompt_without_room_in_the_context_window(gpt2_pair):
    _, ours, _ = gpt2_pair
    ids = torch.full((1, N_POSITIONS - 3), 5)
    with pytest.raises(ValueError, match=rf"needs {N_POSITIONS + 1} positions.*learned only {N_POSITIONS}.*at most 3"):
        ours.generate(ids, max_new_tokens=4)
    assert ours.generate(ids, max_new_tokens=3).shape == (1, N_POSITIONS)  # exactly fits


def test_only_learned_positions_limit_the_length(pair):
    """GPT-2 has a position table of n_positions rows; LLaMA's rotary positions have no table."""
    _, ours, _ = pair
    ids = torch.full((1, N_POSITIONS - 2), 5)
    if isinstance(ours, GPT2LMHeadModel):
        with pytest.raises(ValueError, match="context window"):
            ours.generate(ids, max_new_tokens=4)
    else:
        assert ours.generate(ids, max_new_tokens=4).shape == (1, N_POSITIONS + 2)


def test_streamer_needs_a_tokenizer():
    with pytest.raises(ValueError, match="needs a tokenizer"):
        TextStreamer(None)
    with pytest.raises(TypeError, match="decode"):
        TextStreamer(object())


def test_streamer_must_be_a_streamer_and_not_with_beams(gpt2_pair, tokenizers_pair):
    _, ours, _ = gpt2_pair
    our_tok, _ = tokenizers_pair
    with pytest.raises(TypeError, match=r"put\(\) and end\(\)"):
        ours.generate(torch.tensor([[5, 6]]), max_new_tokens=2, streamer=our_tok)
    with pytest.raises(ValueError, match="beam search"):
        ours.generate(torch.tensor([[5, 6]]), max_new_tokens=2, num_beams=2, streamer=TextStreamer(our_tok))
    with pytest.raises(ValueError, match="batch size 1"):
        ours.generate(torch.tensor([[5, 6], [7, 8]]), max_new_tokens=2, streamer=TextStreamer(our_tok))


def test_generate_needs_a_language_modelling_head(gpt2_pair):
    _, ours, _ = gpt2_pair
    bare = GPT2Model(ours.config)
    with pytest.raises(TypeError, match="GPT2Model has no language-modelling head.*AutoModelForCausalLM"):
        GenerationMixin.generate(bare, torch.tensor([[5, 6]]), max_new_tokens=2)
    with pytest.raises(TypeError, match="GPT2Model has no language-modelling head.*AutoModelForCausalLM"):
        explain_generation(bare, torch.tensor([[5, 6]]))


def test_bad_prompts_and_masks(gpt2_pair):
    _, ours, _ = gpt2_pair
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        ours.generate([[5, 6]], max_new_tokens=2)
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        ours.generate(torch.tensor([5, 6]), max_new_tokens=2)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        ours.generate(torch.tensor([[5, VOCAB + 3]]), max_new_tokens=2)
    with pytest.raises(ValueError, match="attention_mask must be a tensor shaped like input_ids"):
        ours.generate(torch.tensor([[5, 6]]), attention_mask=torch.ones(1, 3), max_new_tokens=2)
    with pytest.warns(UserWarning, match="right-padded"):
        ours.generate(torch.tensor([[5, 6], [7, PAD]]), attention_mask=torch.tensor([[1, 1], [1, 0]]),
                      max_new_tokens=1, pad_token_id=PAD)


def test_unimplemented_options_are_refused(gpt2_pair):
    _, ours, _ = gpt2_pair
    with pytest.raises(NotImplementedError, match="num_beam_groups"):
        ours.generate(torch.tensor([[5, 6]]), max_new_tokens=2, num_beams=4, num_beam_groups=2)
    # switched off, the same option is fine (checkpoints often carry it)
    assert ours.generate(torch.tensor([[5, 6]]), max_new_tokens=2, num_beam_groups=1).shape == (1, 4)


def test_explain_generation_refuses_batches_and_beams(gpt2_pair):
    _, ours, _ = gpt2_pair
    with pytest.raises(ValueError, match="pass a single prompt"):
        explain_generation(ours, torch.tensor([[5, 6], [7, 8]]), max_new_tokens=2)
    with pytest.raises(ValueError, match="num_beams=1"):
        explain_generation(ours, torch.tensor([[5, 6]]), max_new_tokens=2, num_beams=2)


def test_generation_config_rejects_bad_values_when_built(gpt2_pair):
    _, ours, _ = gpt2_pair
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        GenerationConfig(top_p=2.0)
    with pytest.raises(ValueError, match="temperature must be > 0 when sampling"):
        GenerationConfig(do_sample=True, temperature=0)
    with pytest.raises(TypeError, match="must be a GenerationConfig"):
        ours.generate(torch.tensor([[5, 6]]), generation_config={"max_new_tokens": 2})
