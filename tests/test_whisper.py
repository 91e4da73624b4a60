"""Whisper against transformers on tiny random weights: forward (logits, hidden states, self and
cross patterns), hooks, loss, short-form generation (greedy and beam, cache on and off, forced
language / task / detected language), save/load both ways; the log-mel feature extractor; the
tokenizer's prompt ids and decoding; the processor; and the errors for bad input.

The parity harness is here rather than in tests/parity_seq2seq.py, which feeds token ids to the
encoder: Whisper's encoder reads (b, n_mels, frames) floats, has no padding mask, and its
hidden states end after a final layer_norm (so ``resid_post`` of the last layer is not the last
hidden state; ``final`` is).
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

import parity
from hfexplain.assets import tiny_gpt2_path
from hfexplain.models.whisper import (WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperModel,
                                      WhisperProcessor)
from hfexplain.layers import sinusoids
from hfexplain.tokenization import Tokenizer, WhisperTokenizer
from hfexplain.tokenization.whisper import LANGUAGES

transformers = parity.quiet_transformers()

V = 48  # 0..39 "text" (end-of-text picked among them), then start, languages, tasks, <|notimestamps|> last
START, EN, FR, DE, TRANSLATE, TRANSCRIBE, NO_TIMESTAMPS = 40, 41, 42, 43, 45, 46, 47
CONFIG = dict(vocab_size=V, num_mel_bins=8, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
              decoder_attention_heads=4, encoder_ffn_dim=48, decoder_ffn_dim=48, max_source_positions=10,
              max_target_positions=24, decoder_start_token_id=START, suppress_tokens=[3], pad_token_id=39,
              bos_token_id=39, eos_token_id=39, begin_suppress_tokens=[5, 39])
FRAMES = 2 * CONFIG["max_source_positions"]
WHISPER_GENERATION = dict(lang_to_id={"<|en|>": EN, "<|fr|>": FR, "<|de|>": DE},
                          task_to_id={"translate": TRANSLATE, "transcribe": TRANSCRIBE}, is_multilingual=True,
                          no_timestamps_token_id=NO_TIMESTAMPS)


def features(batch: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, CONFIG["num_mel_bins"], FRAMES, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A perturbed transformers checkpoint whose end-of-text token is one greedy decoding reaches
    mid-way in some rows (picked from an unconstrained run), so padding and EOS are exercised."""
    torch.manual_seed(0)
    model = transformers.WhisperForConditionalGeneration(transformers.WhisperConfig(**CONFIG)).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.2)
    for key, value in WHISPER_GENERATION.items():
        setattr(model.generation_config, key, value)
    model.generation_config._from_model_config = False  # else transformers rebuilds it from config.json on load
    free = model.generate(features(), max_new_tokens=10, suppress_tokens=None, begin_suppress_tokens=None)
    counts = torch.bincount(free[:, 3:].reshape(-1), minlength=V)
    counts[free[0]] = 0  # a token row 0 never produces: row 0 runs to the end, others stop early
    eos = int(counts.argmax())
    assert counts[eos] > 0, free
    for target in (model.config, model.generation_config):
        target.eos_token_id = target.pad_token_id = target.bos_token_id = eos
        target.begin_suppress_tokens = [5, eos]
    path = tmp_path_factory.mktemp("whisper") / "reference"
    model.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def models(folder):
    reference = transformers.WhisperForConditionalGeneration.from_pretrained(folder, attn_implementation="eager")
    return reference.eval(), WhisperForConditionalGeneration.from_pretrained(folder).eval()


def decoder_inputs():
    ids = torch.randint(0, 30, (3, 5), generator=torch.Generator().manual_seed(1))
    ids[:, 0] = START
    mask = torch.ones(3, 5, dtype=torch.long)
    mask[1, -2:] = 0  # a right-padded transcript
    return dict(decoder_input_ids=ids, decoder_attention_mask=mask)


# ------------------------------------------------------------------ the model


@pytest.mark.parametrize("ours_class, theirs_class", [(WhisperForConditionalGeneration,
                                                        transformers.WhisperForConditionalGeneration),
                                                       (WhisperModel, transformers.WhisperModel)])
def test_forward_matches_transformers_watched_and_fast(folder, ours_class, theirs_class):
    ours = ours_class.from_pretrained(folder).eval()
    eager = theirs_class.from_pretrained(folder, attn_implementation="eager").eval()
    fast = theirs_class.from_pretrained(folder).eval()
    inputs = dict(input_features=features(), **decoder_inputs())
    real = inputs["decoder_attention_mask"].bool()
    with torch.no_grad():
        actual = ours(**inputs, output_hidden_states=True, output_attentions=True)
        expected = eager(**inputs, output_hidden_states=True, output_attentions=True)
        parity.assert_outputs_match(actual, expected, real)
        parity.assert_outputs_match(ours(**inputs), fast(**inputs), real, what="fast path: ")
    assert len(actual.cross_attentions) == 2 and actual.cross_attentions[0].shape == (3, 4, 5, 10)


def test_hook_aliases_are_the_outputs(models):
    _, ours = models
    inputs = dict(input_features=features(), **decoder_inputs())
    real = inputs["decoder_attention_mask"].bool()
    with torch.no_grad():
        out, cache = ours.run_with_cache(**inputs, output_hidden_states=True, output_attentions=True)
    for stack, hidden, attentions in (("encoder", out.encoder_hidden_states, out.encoder_attentions),
                                      ("decoder", out.decoder_hidden_states, out.decoder_attentions)):
        pick = (lambda t: t) if stack == "encoder" else (lambda t: t[real])
        assert ours.num_hook_layers(stack) == 2
        for layer in range(2):
            parity.assert_close(pick(cache["resid_pre", layer, stack]), pick(hidden[layer]), f"{stack} {layer}")
            parity.assert_close(cache["pattern", layer, stack], attentions[layer], f"{stack} pattern {layer}")
        parity.assert_close(pick(cache["resid_post", 0, stack]), pick(hidden[1]), f"{stack} resid_post 0")
        parity.assert_close(pick(cache["final", None, stack]), pick(hidden[-1]), f"{stack} final")
        # pre-norm: the stream entering the final norm is the sum of what was written into it
        parts = cache.decompose_resid(2, stack)  # (components, b, s, d)
        parity.assert_close(pick(parts.sum(0)), pick(cache["resid_post", 1, stack]), f"{stack} decomposed", 1e-4)
    for layer in range(2):
        parity.assert_close(cache["cross_pattern", layer, "decoder"], out.cross_attentions[layer], "cross")
    parity.assert_close(cache["logits"], out.logits, "logits")
    with pytest.raises(Exception, match="stack"):
        cache["pattern", 0]  # two stacks: the stack must be named
    frames = cache["model.encoder.hook_conv1"]
    assert frames.shape == (3, 32, FRAMES) and cache["model.encoder.hook_conv2"].shape == (3, 32, 10)


def test_labels_give_transformers_loss_and_sinusoids_match(models):
    reference, ours = models
    labels = torch.randint(0, 30, (3, 6), generator=torch.Generator().manual_seed(2))
    labels[0, -2:] = -100
    with torch.no_grad():
        loss, expected = ours(features(), labels=labels).loss, reference(features(), labels=labels).loss
    parity.assert_close(loss, expected, "loss")
    from transformers.models.whisper.modeling_whisper import sinusoids as theirs

    assert torch.equal(sinusoids(1500, 384), theirs(1500, 384))
    assert torch.equal(ours.model.encoder.embed_positions.weight, reference.model.encoder.embed_positions.weight)
    fresh = WhisperModel(ours.config)
    assert torch.equal(fresh.encoder.embed_positions.weight, sinusoids(10, 32))  # initialised as the table


GENERATION_CASES = [
    dict(max_new_tokens=8),  # the language is detected from the audio: [start, <|lang|>, <|notimestamps|>]
    dict(max_new_tokens=8, language="fr", task="translate"),
    dict(max_new_tokens=8, language=["en", "french", "<|de|>"], num_beams=3, length_penalty=0.6),
    dict(max_new_tokens=6, language="de", num_beams=2, early_stopping=True),
    dict(task="transcribe", max_length=12),  # max_length counts new tokens (prompt added)
    dict(),  # the defaults: max_length 20 + prompt, capped at max_target_positions
]


@pytest.mark.parametrize("kwargs", GENERATION_CASES, ids=lambda k: ",".join(k) or "defaults")
def test_generate_matches_transformers(models, kwargs):
    reference, ours = models
    with torch.no_grad():
        expected = reference.generate(features(), **kwargs)
        for use_cache in (True, False):
            actual = ours.generate(features(), use_cache=use_cache, **kwargs)
            assert torch.equal(actual, expected), f"{kwargs} use_cache={use_cache}:\n{actual}\n{expected}"


def test_generate_prompt_detection_and_padding(models):
    reference, ours = models
    config = ours.generation_config
    assert ours.decoder_prompt_ids(config, 3, encoder_outputs=ours.get_encoder()(features()))[:, 0].tolist() == \
        [START] * 3
    detected = ours.detect_language(features())
    assert torch.equal(detected, reference.detect_language(features()))
    assert set(detected.tolist()) <= {EN, FR, DE}
    out = ours.generate(features(), max_new_tokens=10)
    eos = ours.config.eos_token_id
    ended = (out == eos).any(dim=1)
    assert ended.any() and not ended.all(), "the fixture must make some rows stop early (padding exercised)"
    assert not (out == START).any()  # the prompt is not returned


def test_saved_checkpoint_loads_in_transformers_and_back(models, tmp_path):
    _, ours = models
    ours.save_pretrained(tmp_path)
    reloaded, info = transformers.WhisperForConditionalGeneration.from_pretrained(
        tmp_path, attn_implementation="eager", output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    inputs = dict(input_features=features(), **decoder_inputs())
    with torch.no_grad():
        parity.assert_outputs_match(ours(**inputs, output_hidden_states=True),
                                    reloaded.eval()(**inputs, output_hidden_states=True),
                                    inputs["decoder_attention_mask"].bool(), what="saved: ")
    assert torch.equal(reloaded.generate(features(), max_new_tokens=5), ours.generate(features(), max_new_tokens=5))
    again = WhisperForConditionalGeneration.from_pretrained(tmp_path)
    for (key, a), (_, b) in zip(ours.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), key


def test_bad_model_inputs_are_refused_clearly(models):
    _, ours = models
    with pytest.raises(ValueError, match=f"of length {FRAMES} .*but found {FRAMES - 2}.*pad the input mel features"):
        ours(torch.randn(1, 8, FRAMES - 2), decoder_input_ids=torch.tensor([[START]]))
    with pytest.raises(ValueError, match="num_mel_bins=8"):
        ours(torch.randn(1, 80, FRAMES), decoder_input_ids=torch.tensor([[START]]))
    with pytest.raises(TypeError, match="float tensor of log-mel frames"):
        ours(torch.zeros(1, 8, FRAMES, dtype=torch.long), decoder_input_ids=torch.tensor([[START]]))
    with pytest.raises(ValueError, match="decoder_input_ids"):
        ours(features())
    with pytest.raises(NotImplementedError, match="long-form"):
        ours.generate(torch.randn(1, 8, FRAMES * 2))
    with pytest.raises(NotImplementedError, match="return_timestamps"):
        ours.generate(features(), return_timestamps=True)
    with pytest.raises(ValueError, match="Unsupported language: klingon"):
        ours.generate(features(), language="klingon")
    with pytest.raises(ValueError, match=r"<\|ja\|> is not supported by this specific model"):
        ours.generate(features(), language="japanese")
    with pytest.raises(ValueError, match="task should be one of"):
        ours.generate(features(), task="summarize")
    with pytest.raises(ValueError, match="temperature"):
        ours.generate(features(), do_sample=True)
    with pytest.raises(ValueError, match="max_target_positions"):
        ours.generate(features(), max_new_tokens=30)
    english_only = WhisperForConditionalGeneration(ours.config)
    english_only.generation_config.is_multilingual = False
    with pytest.raises(ValueError, match="English-only"):
        english_only.generate(features(), language="en")


# ------------------------------------------------------------------ feature extractor


def clips() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 2) / 16000
    chirp = np.sin(2 * np.pi * (200 + 900 * t) * t) * np.exp(-t) + 0.01 * rng.standard_normal(t.shape)
    return {"noise": (0.1 * rng.standard_normal(16000)).astype(np.float32), "silence": np.zeros(8000, np.float32),
            "clipped": np.clip(3 * rng.standard_normal(5000), -1, 1).astype(np.float32),
            "chirp": chirp.astype(np.float32), "one sample": np.array([0.5], np.float32),
            "31 s": (0.3 * rng.standard_normal(16000 * 31)).astype(np.float32), "float64 list": list(t[:1601] * 0.5)}


@pytest.fixture(scope="module")
def extractors():
    return transformers.WhisperFeatureExtractor(), WhisperFeatureExtractor()


SMOOTH = ("chirp", "440 Hz tone", "float64 list")  # high bins at the float32 noise floor (see below)


def test_log_mel_features_match_transformers(extractors):
    """Against transformers' NumPy path (what it runs without torch): 1e-6 on every clip. Against its
    default torch path (a float32 STFT): 1e-5 on noise, clipping, silence, long and one-sample clips;
    smooth signals (a tone, a chirp, a ramp) have bins near the float32 noise floor, where that path
    is itself up to 2.4e-5 from transformers' NumPy path, so 3e-5 there."""
    theirs, ours = extractors
    assert np.abs(ours.mel_filters - theirs.mel_filters).max() == 0.0
    tone = np.sin(np.arange(24000) * 2 * np.pi * 440 / 16000).astype(np.float32)
    for name, clip in {**clips(), "440 Hz tone": tone}.items():
        expected = theirs(clip, sampling_rate=16000, return_tensors="np").input_features
        actual = ours(clip, sampling_rate=16000, return_tensors="np").input_features
        assert actual.shape == expected.shape == (1, 80, 3000) and actual.dtype == np.float32, name
        padded = np.zeros((1, 480000), np.float32)
        padded[0, : min(len(clip), 480000)] = np.asarray(clip, np.float32)[:480000]
        numpy_path = theirs._np_extract_fbank_features(padded, "cpu")
        tolerance = 3e-5 if name in SMOOTH else 1e-5
        assert parity.record(f"log-mel {name}", np.abs(actual - expected).max()) < tolerance, name
        assert np.abs(actual - numpy_path).max() < 1e-6, name


def test_batches_padding_masks_and_128_mels_match_transformers(extractors):
    theirs, ours = extractors
    batch = [clip for clip in clips().values()][:4]
    for kwargs in (dict(padding="longest", return_attention_mask=True), dict(return_attention_mask=True),
                   dict(padding="longest", do_normalize=True), dict(padding="longest", pad_to_multiple_of=480)):
        expected = theirs(batch, sampling_rate=16000, return_tensors="np", **kwargs)
        actual = ours(batch, sampling_rate=16000, return_tensors="np", **kwargs)
        assert sorted(actual.keys()) == sorted(expected.keys()), kwargs
        for key in expected:
            assert actual[key].shape == expected[key].shape, (kwargs, key)
            assert parity.record(f"batch {key}", np.abs(actual[key] - expected[key]).max()) < 3e-5, (kwargs, key)  # the chirp: see above
    short = [clip for clip in batch if len(clip) < 16000 * 2]
    theirs128, ours128 = transformers.WhisperFeatureExtractor(feature_size=128, chunk_length=2), \
        WhisperFeatureExtractor(feature_size=128, chunk_length=2)
    expected = theirs128(short, sampling_rate=16000, return_tensors="pt").input_features
    actual = ours128(short, sampling_rate=16000, return_tensors="pt").input_features
    assert isinstance(actual, torch.Tensor) and actual.shape == expected.shape == (len(short), 128, 200)
    parity.assert_close(actual, expected, "128 mels")


def test_feature_extractor_files_round_trip_with_transformers(extractors, tmp_path):
    theirs, ours = extractors
    theirs.save_pretrained(tmp_path / "theirs")
    loaded = WhisperFeatureExtractor.from_pretrained(tmp_path / "theirs")
    assert loaded.to_dict() == ours.to_dict() and "mel_filters" not in json.loads(loaded.to_json_string())
    ours.save_pretrained(tmp_path / "ours")
    back = transformers.WhisperFeatureExtractor.from_pretrained(tmp_path / "ours")
    assert back.n_samples == theirs.n_samples and back.feature_size == 80


def test_feature_extractor_refuses_bad_audio(extractors):
    _, ours = extractors
    with pytest.raises(ValueError, match="sampled with 16000 and not 44100.*[Rr]esample"):
        ours(np.zeros(100, np.float32), sampling_rate=44100)
    with pytest.raises(ValueError, match=r"mono audio.*audio.mean\(axis=1\)"):
        ours(np.zeros((1000, 2), np.float32), sampling_rate=16000)  # (samples, channels)
    with pytest.raises(ValueError, match="mono audio"):
        ours([np.zeros((2, 100)), np.zeros((2, 100))], sampling_rate=16000)  # stereo clips in a batch
    with pytest.raises(ValueError, match="Only mono-channel"):
        ours(np.zeros((2, 2, 100), np.float32), sampling_rate=16000)
    with pytest.raises(ValueError, match="empty"):
        ours(np.zeros(0, np.float32), sampling_rate=16000)
    with pytest.raises(ValueError, match="empty list"):
        ours([], sampling_rate=16000)
    with pytest.warns(UserWarning, match="sampling_rate"):
        ours(np.zeros(10, np.float32))


# ------------------------------------------------------------------ tokenizer and processor


@pytest.fixture(scope="module")
def tokenizer_folder(tmp_path_factory):
    """A Whisper tokenizer as transformers saves one: GPT-2's tiny BPE plus Whisper's special tokens."""
    from tokenizers import AddedToken

    source = json.loads(open(os.path.join(tiny_gpt2_path(), "tokenizer.json")).read())
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split()) for m in source["model"]["merges"]]
    tokenizer = transformers.WhisperTokenizer(vocab=dict(source["model"]["vocab"]), merges=merges)
    specials = ["<|startoftranscript|>", *[f"<|{code}|>" for code in LANGUAGES], "<|translate|>", "<|transcribe|>",
                "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"]
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    tokenizer.add_tokens([AddedToken(f"<|{i * 0.02:.2f}|>", special=False, normalized=False) for i in range(1501)])
    tokenizer.set_prefix_tokens()
    path = tmp_path_factory.mktemp("whisper-tokenizer")
    tokenizer.save_pretrained(path)
    return str(path)


def test_tokenizer_prompt_ids_encoding_and_decoding_match_transformers(tokenizer_folder):
    theirs = transformers.WhisperTokenizer.from_pretrained(tokenizer_folder)
    ours = WhisperTokenizer.from_pretrained(tokenizer_folder)
    for kwargs in (dict(), dict(language="french", task="transcribe"), dict(language="de", task="translate",
                                                                           no_timestamps=False), dict(task="translate")):
        assert ours.get_decoder_prompt_ids(**kwargs) == theirs.get_decoder_prompt_ids(**kwargs), kwargs
        assert ours.prefix_tokens == theirs.prefix_tokens
        texts = ["the cat sat", "Hello there, world!"]
        assert ours(texts).input_ids == theirs(texts).input_ids, kwargs
    ids = theirs.convert_tokens_to_ids
    prompt = [ids("<|startofprev|>")] + theirs(" earlier", add_special_tokens=False).input_ids
    sequence = prompt + theirs("hello world, 2 times").input_ids + [ids("<|0.02|>")]
    for skip in (False, True):
        assert ours.decode(sequence, skip_special_tokens=skip) == theirs.decode(sequence, skip_special_tokens=skip)
        batch = [sequence, sequence[len(prompt):]]
        assert ours.batch_decode(batch, skip_special_tokens=skip) == theirs.batch_decode(batch, skip_special_tokens=skip)
    assert ours.decode(sequence, skip_special_tokens=True) == "hello world, 2 times"
    generic = Tokenizer.from_pretrained(tokenizer_folder)  # the generic class reads the same file
    assert generic.decode(sequence[len(prompt):-1], skip_special_tokens=True) == "hello world, 2 times"
    with pytest.raises(ValueError, match="Unsupported language: elvish"):
        ours.get_decoder_prompt_ids(language="elvish")
    with pytest.raises(ValueError, match="not a Whisper tokenizer"):
        WhisperTokenizer.from_pretrained(tiny_gpt2_path())  # GPT-2's files: no Whisper special tokens


def test_timestamps_decoding_and_offsets_match_transformers(tokenizer_folder):
    """Segments ``<|a|> text <|b|>``, pairs ``<|b|><|b|>`` between them, and new 30 s windows (a time
    below the last one) after a closing pair and after a single closing stamp: the text with
    timestamps written in, and the offsets, equal to transformers' for every option."""
    theirs = transformers.WhisperTokenizer.from_pretrained(tokenizer_folder)
    ours = WhisperTokenizer.from_pretrained(tokenizer_folder)
    ids = theirs.convert_tokens_to_ids

    def words(text):
        return theirs(text, add_special_tokens=False).input_ids

    def stamp(seconds):
        return ids(f"<|{seconds:.2f}|>")

    start = [ids("<|startoftranscript|>")]
    prompt = [ids("<|startofprev|>")] + words(" before")
    sequences = {
        "one segment": start + [stamp(0.0)] + words(" the cat sat") + [stamp(1.5)],
        "pairs": start + [stamp(0.0)] + words(" one two") + [stamp(1.0), stamp(1.0)] + words(" three")
        + [stamp(2.4), stamp(2.4)] + words(" four") + [stamp(3.0)],
        "new window after a pair": [stamp(0.0)] + words(" a") + [stamp(28.0), stamp(28.0)] + words(" b")
        + [stamp(29.5), stamp(0.5)] + words(" c") + [stamp(1.0)],
        "new window after a single stamp": [stamp(0.0)] + words(" x") + [stamp(29.0)] + [stamp(0.2)]
        + words(" y") + [stamp(0.8)],
        "prompt first": prompt + start + [stamp(0.0)] + words(" hi") + [stamp(0.4)],
        "no timestamps": start + words(" plain text") + [ids("<|endoftext|>")],
        "one stamp": start + words(" lonely") + [stamp(2.0)],
    }
    for name, sequence in sequences.items():
        for skip in (False, True):
            for options in (dict(decode_with_timestamps=True), dict(output_offsets=True),
                            dict(output_offsets=True, decode_with_timestamps=True, time_precision=0.04), dict()):
                expected = theirs.decode(sequence, skip_special_tokens=skip, **options)
                assert ours.decode(sequence, skip_special_tokens=skip, **options) == expected, (name, skip, options)
    batch = [sequences["pairs"], sequences["new window after a pair"]]
    assert ours.batch_decode(batch, decode_with_timestamps=True) == theirs.batch_decode(batch, decode_with_timestamps=True)
    assert "<|29.50|>" in ours.decode(sequences["new window after a pair"], decode_with_timestamps=True)
    assert ours.decode(sequences["pairs"], output_offsets=True)["offsets"][1] == {"text": " three", "timestamp": (1.0, 2.4)}
    with pytest.raises(ValueError, match="single input"):
        ours.decode(batch, output_offsets=True)
    with pytest.raises(NotImplementedError, match="normalisation"):
        ours.decode(sequences["pairs"], normalize=True)


def test_processor_matches_transformers_and_round_trips(tokenizer_folder, extractors, tmp_path):
    theirs_fe, ours_fe = extractors
    theirs = transformers.WhisperProcessor(theirs_fe, transformers.WhisperTokenizer.from_pretrained(tokenizer_folder))
    ours = WhisperProcessor(ours_fe, WhisperTokenizer.from_pretrained(tokenizer_folder))
    audio = clips()["noise"]
    expected = theirs(audio=audio, text="a chirp", sampling_rate=16000, return_tensors="pt")
    actual = ours(audio, text="a chirp", sampling_rate=16000, return_tensors="pt")
    assert sorted(actual.keys()) == sorted(expected.keys()) == ["input_features", "labels"]
    assert torch.equal(actual["labels"], expected["labels"])
    parity.assert_close(actual["input_features"], expected["input_features"], "processor features")
    assert ours.get_decoder_prompt_ids(language="en") == theirs.get_decoder_prompt_ids(language="en")
    ours.save_pretrained(tmp_path)
    again = WhisperProcessor.from_pretrained(tmp_path)
    assert isinstance(again.tokenizer, WhisperTokenizer) and again.feature_extractor == ours_fe
    from hfexplain.processing import AutoFeatureExtractor, AutoProcessor

    auto = AutoProcessor.from_pretrained(tmp_path)
    assert type(auto) is WhisperProcessor and isinstance(auto.tokenizer, WhisperTokenizer)
    assert type(AutoFeatureExtractor.from_pretrained(tmp_path)) is WhisperFeatureExtractor
    reloaded = transformers.WhisperProcessor.from_pretrained(tmp_path)
    assert reloaded.tokenizer("a chirp").input_ids == again.tokenizer("a chirp").input_ids
    with pytest.raises(ValueError, match="either an `audio` or `text`"):
        ours()
