"""Wav2Vec2 against transformers on tiny random checkpoints: the model (both feature-encoder norms,
post-norm and stable-layer-norm encoders), CTC and classification heads, the weight-norm names,
the feature extractor, the CTC tokenizer and the processor."""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import hfexplain
from hfexplain.models.wav2vec2 import (
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
    Wav2Vec2ForSequenceClassification,
    Wav2Vec2Model,
    Wav2Vec2Processor,
)
from hfexplain.processing import AutoFeatureExtractor, AutoProcessor
from hfexplain.tokenization import Wav2Vec2CTCTokenizer

import parity

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

ATOL = 1e-5
TINY = dict(vocab_size=12, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2), conv_bias=True,
            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, num_labels=3, classifier_proj_size=8)
VARIANTS = {
    "group-post": dict(feat_extract_norm="group", do_stable_layer_norm=False),
    "group-stable": dict(feat_extract_norm="group", do_stable_layer_norm=True),
    "layer-post": dict(feat_extract_norm="layer", do_stable_layer_norm=False),
    "layer-stable": dict(feat_extract_norm="layer", do_stable_layer_norm=True),
}
VOCAB = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, "E": 5, "T": 6, "A": 7, "O": 8, "H": 9, "L": 10, "'": 11}


def save_reference(reference_class, config_kwargs: dict, folder, seed: int = 0) -> str:
    """A transformers model with every weight moved off its initial value, saved by transformers."""
    torch.manual_seed(seed)
    model = reference_class(transformers.Wav2Vec2Config(**config_kwargs)).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.2)
    model.save_pretrained(folder)
    return os.fspath(folder)


def audio_batch(seed: int = 1):
    """Two clips: 400 samples, and 290 real samples right-padded with zeros to 400."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.randn(2, 400, generator=generator)
    mask = torch.ones(2, 400, dtype=torch.long)
    mask[1, 290:] = 0
    return values.masked_fill(mask == 0, 0.0), mask


def max_diff(ours, theirs) -> float:
    return parity.record("max_diff", (ours - theirs).abs().max().item())


@pytest.fixture(scope="module")
def ctc_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("w2v2")
    return {name: save_reference(transformers.Wav2Vec2ForCTC, {**TINY, **variant}, root / name)
            for name, variant in VARIANTS.items()}


# ------------------------------------------------------------------ the model


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_ctc_parity_logits_hidden_states_patterns_loss(variant, ctc_folders):
    folder = ctc_folders[variant]
    ours, report = Wav2Vec2ForCTC.from_pretrained(folder, output_loading_info=True)
    assert not report["missing_keys"] and not report["unexpected_keys"]
    fast = transformers.Wav2Vec2ForCTC.from_pretrained(folder).eval()
    eager = transformers.Wav2Vec2ForCTC.from_pretrained(folder, attn_implementation="eager").eval()
    values, mask = audio_batch()
    labels = torch.tensor([[5, 6, 6, 7, -100], [9, 10, -100, -100, -100]])
    with torch.no_grad():
        mine = ours(values, attention_mask=mask, labels=labels, output_hidden_states=True, output_attentions=True)
        ref = eager(values, attention_mask=mask, labels=labels, output_hidden_states=True, output_attentions=True)
        assert max_diff(ours(values, attention_mask=mask).logits, fast(values, attention_mask=mask).logits) < ATOL
        assert max_diff(ours(values).logits, fast(values).logits) < ATOL  # no mask
    assert max_diff(mine.logits, ref.logits) < ATOL
    assert abs(mine.loss.item() - ref.loss.item()) < 1e-4 * max(1.0, abs(ref.loss.item()))
    assert len(mine.hidden_states) == len(ref.hidden_states) == TINY["num_hidden_layers"] + 1
    for i, (a, b) in enumerate(zip(mine.hidden_states, ref.hidden_states)):
        assert max_diff(a, b) < ATOL, f"hidden state {i}"
    for i, (a, b) in enumerate(zip(mine.attentions, ref.attentions)):
        assert max_diff(a, b) < ATOL, f"attention {i}"

    # hook points agree with the outputs: patterns, layer boundaries, the final state, the logits
    with torch.no_grad():
        out, cache = ours.run_with_cache(values, attention_mask=mask)
    for i in range(TINY["num_hidden_layers"]):
        assert max_diff(cache["pattern", i], ref.attentions[i]) < ATOL
        assert max_diff(cache["resid_pre", i], ref.hidden_states[i]) < ATOL
    assert max_diff(cache["logits"], ref.logits) < ATOL
    frames = ref.logits.shape[1]
    assert cache["conv_features"].shape == (2, frames, TINY["conv_dim"][-1])
    assert cache["embed"][1, -3:].abs().max() == 0  # padded frames are zeroed before the encoder
    if VARIANTS[variant]["do_stable_layer_norm"]:
        assert max_diff(ours.wav2vec2.get_final_norm()(cache["resid_post", -1]), cache["final"]) < ATOL
        parts = cache.decompose_resid(layer=1)
        assert max_diff(parts.sum(0), cache["resid_pre", 1]) < 1e-4  # pre-norm: the stream is the sum
    else:
        with pytest.raises(ValueError, match="post-norm"):
            cache.decompose_resid()


def test_base_model_parity_and_masked_frames(ctc_folders):
    folder = ctc_folders["layer-stable"]
    with pytest.warns(UserWarning, match="not used by Wav2Vec2Model.*lm_head"):
        ours = Wav2Vec2Model.from_pretrained(folder)
    theirs = transformers.Wav2Vec2Model.from_pretrained(folder).eval()
    values, mask = audio_batch(seed=3)
    frames = ours._get_feat_extract_output_lengths(400)
    mask_time = torch.zeros(2, frames, dtype=torch.bool)
    mask_time[0, 3:7] = True
    with torch.no_grad():
        a = ours(values, attention_mask=mask, mask_time_indices=mask_time)
        b = theirs(values, attention_mask=mask, mask_time_indices=mask_time)
    assert max_diff(a.last_hidden_state, b.last_hidden_state) < ATOL
    assert max_diff(a.extract_features, b.extract_features) < ATOL
    assert ours._get_feat_extract_output_lengths(torch.tensor([400, 290])).tolist() == \
        theirs._get_feat_extract_output_lengths(torch.tensor([400, 290])).tolist()


@pytest.mark.parametrize("reduction, zero_infinity", [("mean", False), ("sum", True)])
def test_ctc_loss_options_match(reduction, zero_infinity, ctc_folders):
    folder = ctc_folders["group-post"]
    overrides = dict(ctc_loss_reduction=reduction, ctc_zero_infinity=zero_infinity)
    ours = Wav2Vec2ForCTC.from_pretrained(folder, **overrides)
    theirs = transformers.Wav2Vec2ForCTC.from_pretrained(folder, **overrides).eval()
    values, mask = audio_batch()
    too_long = torch.full((2, 60), 5)  # more labels than frames: an infinite loss unless zero_infinity
    too_long[:, ::2] = 6
    for labels in (torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0]]), too_long):  # padded with the blank id here
        with torch.no_grad():
            a = ours(values, attention_mask=mask, labels=labels).loss
            b = theirs(values, attention_mask=mask, labels=labels).loss
        assert torch.equal(torch.isinf(a), torch.isinf(b))
        if torch.isfinite(b):
            assert abs(a.item() - b.item()) < 1e-4 * max(1.0, abs(b.item()))


@pytest.mark.parametrize("weighted", [False, True])
def test_sequence_classification_parity(weighted, tmp_path):
    kwargs = {**TINY, **VARIANTS["layer-stable" if weighted else "group-post"], "use_weighted_layer_sum": weighted}
    folder = save_reference(transformers.Wav2Vec2ForSequenceClassification, kwargs, tmp_path / "cls")
    ours = hfexplain.AutoModelForAudioClassification.from_pretrained(folder)
    assert type(ours) is Wav2Vec2ForSequenceClassification
    theirs = transformers.Wav2Vec2ForSequenceClassification.from_pretrained(folder).eval()
    values, mask = audio_batch()
    labels = torch.tensor([2, 0])
    for attention_mask in (mask, None):
        with torch.no_grad():
            a = ours(values, attention_mask=attention_mask, labels=labels)
            b = theirs(values, attention_mask=attention_mask, labels=labels)
        assert max_diff(a.logits, b.logits) < ATOL
        assert abs(a.loss.item() - b.loss.item()) < ATOL
        assert a.hidden_states is None  # asked for by the weighted sum, not by the caller
    with torch.no_grad():
        out, cache = ours.run_with_cache(values, attention_mask=mask)
        reference = theirs(values, attention_mask=mask).logits
    assert cache["class_logits"].shape == (2, TINY["num_labels"])
    assert max_diff(cache["class_logits"], reference) < ATOL


def test_saved_checkpoint_loads_strictly_in_transformers_and_auto(ctc_folders, tmp_path):
    folder = ctc_folders["group-stable"]
    ours = hfexplain.AutoModelForCTC.from_pretrained(folder)
    assert type(ours) is Wav2Vec2ForCTC
    ours.save_pretrained(tmp_path / "ours")
    assert set(load_file(os.path.join(tmp_path / "ours", "model.safetensors"))) == \
        set(load_file(os.path.join(folder, "model.safetensors")))  # the parametrisation names transformers writes
    theirs, info = transformers.Wav2Vec2ForCTC.from_pretrained(tmp_path / "ours", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    values, mask = audio_batch()
    with torch.no_grad():
        assert max_diff(ours(values, attention_mask=mask).logits, theirs.eval()(values, attention_mask=mask).logits) < ATOL


def test_old_weight_g_weight_v_names_load(ctc_folders, tmp_path):
    folder = ctc_folders["layer-post"]
    weights = load_file(os.path.join(folder, "model.safetensors"))
    old = {key.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1",
                                                                                  "weight_v"): value
           for key, value in weights.items()}
    assert any(key.endswith("pos_conv_embed.conv.weight_g") for key in old)
    os.makedirs(tmp_path / "old")
    save_file(old, os.path.join(tmp_path / "old", "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(folder, "config.json")) as src, open(tmp_path / "old" / "config.json", "w") as dst:
        dst.write(src.read())
    ours, report = Wav2Vec2ForCTC.from_pretrained(tmp_path / "old", output_loading_info=True)
    assert not report["missing_keys"] and not report["unexpected_keys"]
    theirs = transformers.Wav2Vec2ForCTC.from_pretrained(folder).eval()
    values, _ = audio_batch()
    with torch.no_grad():
        assert max_diff(ours(values).logits, theirs(values).logits) < ATOL


def test_bad_model_inputs_and_configs_say_what_to_do(ctc_folders):
    model = Wav2Vec2ForCTC.from_pretrained(ctc_folders["group-post"])
    values, mask = audio_batch()
    with pytest.raises(ValueError, match=r"add a batch axis: input_values\[None\]"):
        model(values[0])
    with pytest.raises(ValueError, match="mix stereo down"):
        model(values[:, None])
    with pytest.raises(TypeError, match="float samples"):
        model((values * 1000).long())
    with pytest.raises(ValueError, match="fewer than the 20 the feature encoder needs"):
        model(values[:, :10])
    with pytest.raises(ValueError, match="one entry per sample"):
        model(values, attention_mask=mask[:, :100])
    short = mask.clone()
    short[1, 5:] = 0
    with pytest.raises(ValueError, match=r"row\(s\) \[1\].*receptive field"):
        model(values, attention_mask=short)
    with pytest.raises(ValueError, match="Label values must be <= vocab_size: 12"):
        model(values, labels=torch.tensor([[3, 12]]).expand(2, 2))
    with pytest.raises(ValueError, match="same length"):
        Wav2Vec2Config(conv_dim=(16, 16), conv_stride=(5,), conv_kernel=(10, 3))
    with pytest.raises(ValueError, match="'group', 'layer'"):
        Wav2Vec2Config(feat_extract_norm="batch")
    with pytest.raises(NotImplementedError, match="no adapters"):
        Wav2Vec2Config(add_adapter=True)


# ------------------------------------------------------------------ the feature extractor


def varied_audio():
    rng = np.random.default_rng(0)
    return [
        np.zeros(300, np.float32),  # silence
        np.clip(rng.normal(size=500) * 3, -1, 1).astype(np.float32),  # clipping
        rng.normal(size=120),  # float64
        (rng.normal(size=200) * 3000).astype(np.int16),  # int16 PCM
    ]


@pytest.mark.parametrize("call", [
    dict(), dict(padding=True), dict(padding=True, return_attention_mask=True),
    dict(padding="max_length", max_length=600, return_attention_mask=True), dict(padding=True, pad_to_multiple_of=64),
    dict(padding="max_length", max_length=150, truncation=True, return_attention_mask=True),
])
@pytest.mark.parametrize("mask_by_default", [False, True])
def test_feature_extractor_matches_transformers(call, mask_by_default):
    ours = Wav2Vec2FeatureExtractor(return_attention_mask=mask_by_default)
    theirs = transformers.Wav2Vec2FeatureExtractor(return_attention_mask=mask_by_default)
    a, b = ours(varied_audio(), sampling_rate=16000, **call), theirs(varied_audio(), sampling_rate=16000, **call)
    assert ("attention_mask" in a) == ("attention_mask" in b)
    assert len(a["input_values"]) == len(b["input_values"])
    for x, y in zip(a["input_values"], b["input_values"]):
        assert x.dtype == np.float32 and x.shape == np.shape(y)
        assert parity.record("features", np.abs(x - np.asarray(y, np.float64)).max()) < 1e-5
    if "attention_mask" in a:
        assert all(np.array_equal(x, y) for x, y in zip(a["attention_mask"], b["attention_mask"]))


def test_feature_extractor_single_clip_tensors_and_files(tmp_path):
    clip = [0.1, -0.2, 0.3] * 50
    a = Wav2Vec2FeatureExtractor()(clip, sampling_rate=16000, return_tensors="pt")
    b = transformers.Wav2Vec2FeatureExtractor()(clip, sampling_rate=16000, return_tensors="pt")
    assert a["input_values"].shape == (1, 150) and max_diff(a["input_values"], b["input_values"]) < 1e-5
    Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=True).save_pretrained(tmp_path)
    loaded = transformers.AutoFeatureExtractor.from_pretrained(tmp_path)
    assert type(loaded).__name__ == "Wav2Vec2FeatureExtractor" and loaded.return_attention_mask and not loaded.do_normalize
    back = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert type(back) is Wav2Vec2FeatureExtractor and back.do_normalize is False


def test_feature_extractor_bad_inputs():
    extractor = Wav2Vec2FeatureExtractor()
    with pytest.raises(ValueError, match=r"16000 Hz.*got sampling_rate=44100.*resample"):
        extractor(np.zeros(100), sampling_rate=44100)
    with pytest.raises(ValueError, match=r"\(samples, channels\).*mean\(axis=1\)"):
        extractor(np.zeros((1000, 2)), sampling_rate=16000)
    with pytest.raises(ValueError, match="clip 1 has shape .*mono"):
        extractor([np.zeros(100), np.zeros((2, 100))], sampling_rate=16000)
    with pytest.raises(ValueError, match="Only mono-channel"):
        extractor(np.zeros((2, 2, 100)), sampling_rate=16000)
    with pytest.raises(ValueError, match="raw_speech is empty"):
        extractor([], sampling_rate=16000)
    with pytest.raises(ValueError, match="clip 1 is empty"):
        extractor([np.zeros(10), np.zeros(0)], sampling_rate=16000)


# ------------------------------------------------------------------ the tokenizer and the processor


@pytest.fixture
def vocab_folder(tmp_path):
    folder = tmp_path / "tok"
    transformers.Wav2Vec2CTCTokenizer(_write_vocab(tmp_path, VOCAB)).save_pretrained(folder)
    return folder


def _write_vocab(folder, vocab) -> str:
    path = os.path.join(folder, "vocab.json")
    with open(path, "w") as handle:
        json.dump(vocab, handle)
    return path


TEXTS = ["HELLO THAT", "hello  that", " HE<unk> LO ", "HE <unk>LO", "<s>HALO</s>", "XYZ", "", "A|B", "<pad><pad>"]
IDS = [[1, 9, 9, 5, 0, 4, 4, 6, 2, 0, 0], [9, 9, 5, 0, 10, 4, 6, 3, 3, 0, 10, 10], [0, 0, 0], [11, 11, 4, 7, 99]]


@pytest.mark.parametrize("lower", [False, True])
def test_ctc_tokenizer_matches_transformers(lower, vocab_folder):
    ours = Wav2Vec2CTCTokenizer.from_pretrained(vocab_folder, do_lower_case=lower)
    theirs = transformers.Wav2Vec2CTCTokenizer.from_pretrained(vocab_folder, do_lower_case=lower)
    for text in TEXTS:
        assert ours.tokenize(text) == theirs.tokenize(text), text
        assert ours(text).input_ids == theirs(text).input_ids, text
    batch_a = ours(TEXTS[:3], padding=True, return_tensors="pt")
    batch_b = theirs(TEXTS[:3], padding=True, return_tensors="pt")
    assert torch.equal(batch_a["input_ids"], batch_b["input_ids"])
    assert torch.equal(batch_a["attention_mask"], batch_b["attention_mask"])
    options = [{}, dict(skip_special_tokens=True), dict(group_tokens=False), dict(output_char_offsets=True),
               dict(output_word_offsets=True), dict(output_char_offsets=True, output_word_offsets=True)]
    for kwargs in options:
        for row in IDS:
            same(ours.decode(row, **kwargs), theirs.decode(row, **kwargs))
        rows = torch.tensor([IDS[0], IDS[1][:11]])  # (2, t) as argmax over logits gives
        same(ours.batch_decode(rows, **kwargs), theirs.batch_decode(rows, **kwargs))
    assert ours.pad_token_id == theirs.pad_token_id == 0 and ours.word_delimiter_token_id == 4
    assert len(ours) == len(theirs) and ours.get_vocab() == theirs.get_vocab()


def same(ours, theirs) -> None:
    if isinstance(ours, (str, list)):
        assert ours == theirs
        return
    assert set(ours) == set(theirs.keys())
    for key in ours:
        assert ours[key] == theirs[key], key


def test_ctc_tokenizer_files_auto_and_bad_vocabularies(vocab_folder, tmp_path):
    tok = hfexplain.AutoTokenizer.from_pretrained(vocab_folder)  # tokenizer_config.json names the class
    assert type(tok) is Wav2Vec2CTCTokenizer
    tok.save_pretrained(tmp_path / "ours")
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path / "ours")
    assert type(theirs).__name__ == "Wav2Vec2CTCTokenizer" and theirs("HALO THE").input_ids == tok("HALO THE").input_ids
    # no tokenizer_config.json: config.json's model_type picks the family's tokenizer
    os.makedirs(tmp_path / "bare")
    _write_vocab(tmp_path / "bare", VOCAB)
    with open(tmp_path / "bare" / "config.json", "w") as handle:
        json.dump({"model_type": "wav2vec2"}, handle)
    assert type(hfexplain.AutoTokenizer.from_pretrained(tmp_path / "bare")) is Wav2Vec2CTCTokenizer
    # special tokens missing from the vocabulary get the next ids, as in transformers
    small = {"<pad>": 0, "|": 1, "A": 2, "B": 3}
    path = _write_vocab(tmp_path, small)
    assert Wav2Vec2CTCTokenizer(path).get_vocab() == transformers.Wav2Vec2CTCTokenizer(path).get_vocab()
    with pytest.raises(ValueError, match="no pad token '<pad>'.*blank"):
        Wav2Vec2CTCTokenizer(vocab={"|": 0, "A": 1})
    with pytest.raises(ValueError, match="target_lang"):
        Wav2Vec2CTCTokenizer(vocab={"eng": {"<pad>": 0, "A": 1}})
    with pytest.raises(ValueError, match="batch_decode"):
        tok.decode([[1, 2], [3, 4]])


def test_processor_round_trip_and_labels(vocab_folder, tmp_path):
    processor = Wav2Vec2Processor(Wav2Vec2FeatureExtractor(return_attention_mask=True),
                                  Wav2Vec2CTCTokenizer.from_pretrained(vocab_folder))
    processor.save_pretrained(tmp_path / "proc")
    loaded = AutoProcessor.from_pretrained(tmp_path / "proc")
    assert type(loaded) is Wav2Vec2Processor and type(loaded.tokenizer) is Wav2Vec2CTCTokenizer
    theirs = transformers.AutoProcessor.from_pretrained(tmp_path / "proc")
    assert type(theirs).__name__ == "Wav2Vec2Processor"
    audio = varied_audio()[:2]
    a = loaded(audio=audio, text=["HELLO", "THAT"], sampling_rate=16000, padding=True, return_tensors="pt")
    b = theirs(audio=audio, text=["HELLO", "THAT"], sampling_rate=16000, padding=True, return_tensors="pt")
    assert max_diff(a["input_values"], b["input_values"]) < 1e-5
    assert torch.equal(a["labels"], b["labels"]) and torch.equal(a["attention_mask"], b["attention_mask"])
    assert loaded.batch_decode([[9, 9, 5, 0, 10, 0, 10, 8]]) == ["HELLO"]
    with pytest.raises(ValueError, match="needs audio="):
        loaded()
