"""The automatic-speech-recognition pipeline against transformers' on the same weights.

Tiny random checkpoints saved by transformers (a Wav2Vec2ForCTC with a 12-character vocabulary;
a Whisper with GPT-2's tiny BPE plus Whisper's special tokens, 16 mel bins and 2 s windows) and
the real Whisper tiny.en on one short LibriVox clip. transformers' pipeline reads files with
ffmpeg and resamples with torchaudio, neither installed here: it gets the samples, ours the files.
"""
from __future__ import annotations

import json
import os
import struct
import wave

import numpy as np
import pytest
import torch

import hfexplain
import parity
from hfexplain.assets import tiny_gpt2_path, whisper_tiny_en_path
from hfexplain.pipelines.automatic_speech_recognition import merge_overlapping, read_wav
from hfexplain.tokenization import Tokenizer, WhisperTokenizer
from hfexplain.tokenization.whisper import LANGUAGES

transformers = parity.quiet_transformers()
TASK = "automatic-speech-recognition"
RATE = 16000
CTC_CONFIG = dict(vocab_size=12, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                  conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2), conv_bias=True, num_conv_pos_embeddings=16,
                  num_conv_pos_embedding_groups=2, feat_extract_norm="layer", do_stable_layer_norm=True, pad_token_id=0)
VOCAB = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, "E": 5, "T": 6, "A": 7, "O": 8, "H": 9, "L": 10, "'": 11}


def _perturb(model, seed: int, scale: float) -> None:
    """Move every weight off its initial value, so outputs depend on all of them."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * scale)


def noise(samples: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(samples) * 0.3).astype(np.float32)


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Segments of tones and noise of varied pitch and loudness, so windows of it read differently."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(int(seconds * 4)):
        t = np.arange(RATE // 4) / RATE
        tone = np.sin(2 * np.pi * rng.uniform(100, 3000) * t) * rng.uniform(0.05, 0.6)
        parts.append(tone + rng.standard_normal(t.shape) * rng.uniform(0.0, 0.2))
    return np.concatenate(parts).astype(np.float32)


@pytest.fixture(scope="module")
def ctc_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("asr-ctc")
    torch.manual_seed(0)
    model = transformers.Wav2Vec2ForCTC(transformers.Wav2Vec2Config(**CTC_CONFIG)).eval()
    _perturb(model, 0, 0.3)
    model.save_pretrained(root)
    (root / "vocab.json").write_text(json.dumps(VOCAB))
    tokenizer = transformers.Wav2Vec2CTCTokenizer(str(root / "vocab.json"))
    extractor = transformers.Wav2Vec2FeatureExtractor(return_attention_mask=True)
    transformers.Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(root)
    return str(root)


@pytest.fixture(scope="module")
def whisper_folder(tmp_path_factory):
    """GPT-2's tiny BPE + Whisper's special tokens (no timestamp tokens: the model cannot emit them);
    a multilingual generation config (en, fr, de) with max_length=12, so the pipeline default that
    remains is transformers' num_beams=5."""
    root = tmp_path_factory.mktemp("asr-whisper")
    with open(os.path.join(tiny_gpt2_path(), "tokenizer.json"), encoding="utf-8") as handle:
        source = json.load(handle)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split()) for m in source["model"]["merges"]]
    tokenizer = transformers.WhisperTokenizer(vocab=dict(source["model"]["vocab"]), merges=merges)
    specials = ["<|startoftranscript|>", *[f"<|{code}|>" for code in LANGUAGES], "<|translate|>", "<|transcribe|>",
                "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"]
    tokenizer.add_special_tokens({"additional_special_tokens": specials, "pad_token": "<|endoftext|>"})
    ids = tokenizer.convert_tokens_to_ids
    eot = ids("<|endoftext|>")
    config = transformers.WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=16, d_model=32, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=48, decoder_ffn_dim=48,
        max_source_positions=100, max_target_positions=40, decoder_start_token_id=ids("<|startoftranscript|>"),
        pad_token_id=eot, bos_token_id=eot, eos_token_id=eot, suppress_tokens=[], begin_suppress_tokens=[eot])
    torch.manual_seed(0)
    model = transformers.WhisperForConditionalGeneration(config).eval()
    _perturb(model, 1, 0.5)  # large enough for varied transcripts of random audio
    generation = model.generation_config
    generation.lang_to_id = {f"<|{code}|>": ids(f"<|{code}|>") for code in ("en", "fr", "de")}
    generation.task_to_id = {"translate": ids("<|translate|>"), "transcribe": ids("<|transcribe|>")}
    generation.is_multilingual, generation.no_timestamps_token_id, generation.max_length = True, ids("<|notimestamps|>"), 12
    generation._from_model_config = False  # else transformers rebuilds it from config.json on load
    model.save_pretrained(root)
    extractor = transformers.WhisperFeatureExtractor(feature_size=16, chunk_length=2)  # 2 s windows: 200 frames
    transformers.WhisperProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(root)
    return str(root)


@pytest.fixture(scope="module")
def ctc_pipes(ctc_folder):
    return hfexplain.pipeline(TASK, model=ctc_folder), transformers.pipeline(TASK, model=ctc_folder)


@pytest.fixture(scope="module")
def whisper_pipes(whisper_folder):
    return hfexplain.pipeline(TASK, model=whisper_folder), transformers.pipeline(TASK, model=whisper_folder)


def write_wav(path, samples: np.ndarray, rate: int = RATE, width: int = 2) -> None:
    """Integer PCM of ``width`` bytes, (samples,) or (samples, channels), with the standard library."""
    frames = np.atleast_2d(samples.T).T  # (samples, channels)
    scale = 2 ** (8 * width - 1)
    ints = np.clip(np.round(frames * scale), -scale, scale - 1).astype(np.int64).reshape(-1)
    if width == 1:
        data = (ints + 128).astype(np.uint8).tobytes()  # 8-bit WAV is unsigned
    else:
        data = b"".join(int(v).to_bytes(width, "little", signed=True) for v in ints)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(frames.shape[1])
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(data)


# ------------------------------------------------------------------ CTC


def test_ctc_matches_transformers_arrays_dicts_lists_batches(ctc_pipes):
    ours, theirs = ctc_pipes
    assert type(ours.model).__name__ == "Wav2Vec2ForCTC" and ours.type == "ctc"
    clips = [noise(900), noise(1600, 1), noise(2400, 2)]
    expected = theirs(clips)
    assert ours(clips) == expected
    # Batched, each row reads as it does alone: the frames of its batch padding are cut before decoding
    # (transformers decodes them too when nothing is windowed, so its batched text can grow: " O O" here).
    for batch_size in (2, 3):
        assert ours(clips, batch_size=batch_size) == expected, batch_size
    assert ours(clips[0]) == theirs(clips[0]) == ours(torch.from_numpy(clips[0]))
    assert ours({"raw": clips[1], "sampling_rate": RATE}) == theirs({"raw": clips[1], "sampling_rate": RATE})
    row = {"array": clips[2], "sampling_rate": RATE, "path": "x.wav", "id": 7}  # datasets' audio column + a field
    expected = theirs(dict(row))
    assert ours(dict(row)) == expected and expected["id"] == [7] and "path" not in expected
    strided = {"raw": clips[2], "sampling_rate": RATE, "stride": (400, 300)}  # context samples left out of the text
    assert ours(dict(strided)) == theirs(dict(strided)) != ours(clips[2])
    stereo = np.stack([clips[1], noise(1600, 5)])  # (channels, samples): averaged, as transformers does
    assert ours(stereo) == theirs(stereo) == ours(stereo.mean(axis=0))


def test_ctc_chunked_long_audio_and_timestamps_match_transformers(ctc_pipes):
    ours, theirs = ctc_pipes
    long = noise(8000, 3)  # 0.5 s, in windows of 0.1 s (1600 samples, 160 frames)
    for kwargs in (dict(chunk_length_s=0.1), dict(chunk_length_s=0.1, stride_length_s=[0.02, 0.01], batch_size=3),
                   dict(chunk_length_s=0.07, stride_length_s=0.01, batch_size=2)):
        actual = ours(long, **kwargs)
        assert actual == theirs(long, **kwargs), kwargs
        assert actual != ours(long), "chunking changed nothing: the test would not see the stitching"
    for kwargs in (dict(return_timestamps="char"), dict(return_timestamps="word"),
                   dict(return_timestamps="word", chunk_length_s=0.1)):
        actual = ours(noise(2400, 4), **kwargs)
        assert actual == theirs(noise(2400, 4), **kwargs), kwargs
        assert actual["chunks"] and all(start <= end for start, end in (c["timestamp"] for c in actual["chunks"]))


def test_wav_files_and_bytes_are_read_as_ffmpeg_would(ctc_pipes, tmp_path):
    ours, theirs = ctc_pipes
    clip = np.clip(noise(1600, 6), -0.9, 0.9)  # away from full scale, where the top code clips
    write_wav(tmp_path / "mono.wav", clip)
    ints = np.clip(np.round(clip * 32768), -32768, 32767).astype(np.int16)
    samples = ints.astype(np.float32) / 32768.0  # what ffmpeg gives for 16-bit PCM
    assert ours(str(tmp_path / "mono.wav")) == theirs(samples)
    assert ours((tmp_path / "mono.wav").read_bytes()) == theirs(samples)  # bytes of a file, and a PathLike too
    assert ours(tmp_path / "mono.wav") == ours([str(tmp_path / "mono.wav")])[0]
    both = np.stack([clip, -clip * 0.5], axis=1)  # (samples, 2) interleaved in the file
    write_wav(tmp_path / "stereo.wav", both)
    audio, rate = read_wav(tmp_path / "stereo.wav")
    as_ints = np.clip(np.round(both * 32768), -32768, 32767).astype(np.float32)  # (samples, 2)
    np.testing.assert_allclose(audio, as_ints.mean(axis=1) / 32768, atol=1e-7)
    assert rate == RATE and audio.dtype == np.float32
    for width, step in ((1, 1 / 128), (3, 2.0 ** -23), (4, 2.0 ** -31)):
        write_wav(tmp_path / f"w{width}.wav", clip, width=width)
        audio, _ = read_wav(tmp_path / f"w{width}.wav")
        assert np.abs(audio - clip).max() <= step / 2 * 1.01, width  # within half a quantisation step


# ------------------------------------------------------------------ Whisper


def test_whisper_matches_transformers_with_generation_options(whisper_pipes):
    ours, theirs = whisper_pipes
    assert ours.type == "seq2seq_whisper" and isinstance(ours.tokenizer, WhisperTokenizer)
    # transformers' pipeline defaults: num_beams=5 (the config sets pad_token_id, and max_length keeps max_new_tokens out)
    assert ours.generate_kwargs({}) == {"num_beams": 5}
    assert ours.generate_kwargs({"max_length": 9}) == {"max_length": 9, "num_beams": 5}
    clips = [speechlike(0.5), noise(3000), noise(20000, 3) * 3]
    expected = theirs(clips)
    assert ours(clips) == expected and len({row["text"] for row in expected}) == 3
    assert ours(clips, batch_size=2) == theirs(clips, batch_size=2)
    for kwargs in (dict(generate_kwargs={"language": "fr", "task": "translate"}), dict(max_new_tokens=4, num_beams=1),
                   dict(generate_kwargs={"language": "german"}, max_new_tokens=6)):
        assert ours(clips[1], **kwargs) == theirs(clips[1], **kwargs), kwargs


def test_whisper_chunked_long_audio_matches_transformers(whisper_pipes):
    ours, theirs = whisper_pipes
    long = noise(80000, 3)  # 5 s, windows of at most 2 s
    for kwargs in (dict(chunk_length_s=2, num_beams=1), dict(chunk_length_s=1.5, stride_length_s=[0.3, 0.2],
                                                              batch_size=2, num_beams=1)):
        assert ours(long, **kwargs) == theirs(long, **kwargs), kwargs


def test_merge_of_overlapping_windows_matches_transformers():
    from transformers.models.whisper.tokenization_whisper import _find_longest_common_sequence

    rng = np.random.default_rng(0)
    for trial in range(40):
        text = rng.integers(0, 6 if trial % 2 else 40, size=30).tolist()
        windows, start = [], 0
        while start < len(text):
            size = int(rng.integers(4, 12))
            window = text[start : start + size]
            if rng.random() < 0.3 and window:
                window[int(rng.integers(len(window)))] = 99  # a misheard token in the overlap
            windows.append(window)
            start += max(1, size - int(rng.integers(0, 4)))
        assert merge_overlapping(windows) == _find_longest_common_sequence(windows), windows
    assert merge_overlapping([[1, 2, 3, 4], [3, 4, 5, 6]]) == [1, 2, 3, 4, 5, 6]


@pytest.fixture(scope="module")
def tiny_en():
    try:
        return whisper_tiny_en_path()
    except FileNotFoundError:
        pytest.skip("the converted Whisper tiny.en is not here: run bash scripts/setup.sh")


LIBRIVOX = "/usr/share/pocketsphinx/test/data/librivox"
SHORT_CLIP = "sense_and_sensibility_01_austen_64kb-0930"  # 3.3 s: "he might even have been made amiable himself"


def test_real_whisper_tiny_en_transcribes_a_librivox_clip_as_transformers(tiny_en, whisper_bench):
    wav = os.path.join(LIBRIVOX, SHORT_CLIP + ".wav")
    if not os.path.isfile(wav):
        pytest.skip("no LibriVox clips: Debian's pocketsphinx-testdata is not installed (scripts/setup_audio.sh)")
    ours = hfexplain.pipeline(TASK, model=tiny_en)
    theirs = transformers.pipeline(TASK, model=tiny_en)
    audio, _ = read_wav(wav)
    actual = ours(wav)  # defaults as transformers': beam search with 5 beams, the config's max_length
    assert actual == theirs(audio)
    # benchmarks/results/whisper-tiny-en.json: pipeline WER 0.000 on this clip (0.056 on all five, as transformers)
    assert whisper_bench.word_error_rate(["he might even have been made amiable himself"], [actual["text"]]) == 0.0


# ------------------------------------------------------------------ inspect, loading, errors


def test_inspect_shows_waveform_features_tokens_and_text(ctc_pipes, whisper_pipes):
    ctc, _ = ctc_pipes
    clip = noise(1600, 7)
    inspection = ctc.inspect(clip)
    text = str(inspection)
    assert inspection.output == ctc(clip) and "1. preprocess  -> 1 model row(s)" in text
    assert "waveform: 1600 samples at 16000 Hz (0.10 s)" in text and "input_values (1, 1600)" in text
    frames = len(inspection.details["token_ids"][0])
    assert inspection.probabilities.shape == (frames,) and f"tokens: {frames} frames kept" in text
    assert f"text: {inspection.output['text']!r}" in text and inspection.model_outputs[0]["logits"].shape[:2] == \
        (1, frames)
    whisper, _ = whisper_pipes
    inspection = whisper.inspect(speechlike(3.0), chunk_length_s=2, num_beams=1)
    text = str(inspection)
    assert "2 model row(s)" in text and text.count("input_features (1, 16, 200)") == 2
    assert "row 1: generate gave" in text and "windows joined" in text
    pieces = inspection.details["token_pieces"][0]
    assert pieces == whisper.tokenizer.convert_ids_to_tokens(inspection.details["token_ids"][0])
    assert inspection.output == whisper(speechlike(3.0), chunk_length_s=2, num_beams=1)
    cached = whisper.inspect(speechlike(1.0), cache="cross_pattern", num_beams=1)
    assert cached.caches and cached.caches[0]["cross_pattern", 0, "decoder"].shape[-1] == 100  # 100 encoder frames


def test_pipeline_infers_the_task_and_loads_tokenizer_and_feature_extractor(ctc_folder, whisper_folder):
    for folder, model_class, tokenizer_class in ((ctc_folder, "Wav2Vec2ForCTC", "Wav2Vec2CTCTokenizer"),
                                                 (whisper_folder, "WhisperForConditionalGeneration", "WhisperTokenizer")):
        pipe = hfexplain.pipeline(model=folder)  # the task from the checkpoint's architectures
        assert pipe.task == TASK and type(pipe.model).__name__ == model_class
        assert type(pipe.tokenizer).__name__ == tokenizer_class and pipe.feature_extractor is not None
        loaded = hfexplain.pipeline(TASK, model=type(pipe.model).from_pretrained(folder))  # from where it was loaded
        assert type(loaded.tokenizer).__name__ == tokenizer_class
    with pytest.warns(UserWarning, match="not used"):  # the CTC head, left out of a bare encoder
        encoder = hfexplain.AutoModel.from_pretrained(ctc_folder)
    with pytest.raises(ValueError, match="ctc head.*or a speech seq2seq head"):
        hfexplain.pipeline(TASK, model=encoder, tokenizer=pipe.tokenizer, feature_extractor=pipe.feature_extractor)
    with pytest.raises(TypeError, match="needs a tokenizer.*output ids into text"):
        type(pipe)(pipe.model, feature_extractor=pipe.feature_extractor)


def test_a_family_tokenizer_round_trips_through_auto_tokenizer(whisper_folder, tmp_path):
    tokenizer = WhisperTokenizer.from_pretrained(whisper_folder)
    tokenizer.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["tokenizer_class"] == "WhisperTokenizer"
    assert type(hfexplain.AutoTokenizer.from_pretrained(tmp_path)) is WhisperTokenizer
    assert type(transformers.AutoTokenizer.from_pretrained(tmp_path)).__name__ == "WhisperTokenizer"
    assert Tokenizer.from_pretrained(tiny_gpt2_path()).saved_tokenizer_class == "PreTrainedTokenizerFast"
    from hfexplain import tokenization
    from hfexplain.models import FAMILIES

    for name in {family.tokenizer for family in FAMILIES.values()} - {None, "Tokenizer"}:
        cls = getattr(tokenization, name)
        if issubclass(cls, Tokenizer):  # every family subclass saves its own name
            assert cls.saved_tokenizer_class.fget(object.__new__(cls)) == name


def test_bad_inputs_are_refused_clearly(ctc_pipes, whisper_pipes, tmp_path):
    ctc, _ = ctc_pipes
    whisper, _ = whisper_pipes
    (tmp_path / "notes.txt").write_text("not audio at all")
    with pytest.raises(ValueError, match="is not audio that hfexplain can read.*PCM WAV.*ffmpeg -i"):
        ctc(str(tmp_path / "notes.txt"))
    with pytest.raises(ValueError, match="the bytes given is not audio"):
        ctc(b"ID3\x03 an mp3 header")
    float_wav = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 3, 1, RATE, RATE * 4, 4, 32) \
        + b"data" + struct.pack("<I", 0)  # IEEE float: not something the wave module reads
    with pytest.raises(ValueError, match="not audio that hfexplain can read"):
        ctc(float_wav)
    with pytest.raises(ValueError, match="not a file"):
        ctc(str(tmp_path / "missing.wav"))
    with pytest.raises(ValueError, match="downloads nothing"):
        ctc("https://example.com/a.wav")
    with pytest.raises(ValueError, match=r"would have 1600.*transpose.*audio\.T"):
        ctc(np.zeros((1600, 2), np.float32))  # (samples, channels)
    with pytest.raises(ValueError, match="mono audio"):
        ctc(np.zeros((1, 2, 100), np.float32))
    with pytest.raises(ValueError, match="empty"):
        ctc(np.zeros(0, np.float32))
    with pytest.raises(ValueError, match=r"sampled at 44100 Hz.*expects 16000 Hz.*resample"):
        ctc({"raw": noise(441), "sampling_rate": 44100})
    write_wav(tmp_path / "8k.wav", noise(800), rate=8000)
    with pytest.raises(ValueError, match="sampled at 8000 Hz.*16000"):
        whisper(str(tmp_path / "8k.wav"))
    with pytest.raises(ValueError, match='"raw" key'):
        ctc({"audio": noise(100)})
    with pytest.raises(TypeError, match="takes audio"):
        ctc(3.5)
    with pytest.raises(ValueError, match="empty list"):
        ctc([])
    with pytest.raises(NotImplementedError, match=r"long-form.*chunk_length_s=30"):
        whisper(speechlike(2.5))  # longer than this model's 2 s window
    with pytest.raises(ValueError, match="longer than Whisper's 2 s window"):
        whisper(speechlike(1.0), chunk_length_s=3)
    with pytest.raises(ValueError, match="Chunk length must be superior to stride length"):
        ctc(noise(4000), chunk_length_s=0.1, stride_length_s=0.05)
    with pytest.raises(ValueError, match="stride_length_s must be"):
        ctc(noise(4000), chunk_length_s=0.1, stride_length_s=[-1, 0])
    with pytest.raises(ValueError, match=r"stride_length_s must be.*\[left, right\]"):
        ctc(noise(4000), chunk_length_s=0.1, stride_length_s=[0.01])
    with pytest.raises(ValueError, match="Set `return_timestamps='char'` or `return_timestamps='word'`"):
        ctc(noise(1000), return_timestamps=True)
    with pytest.raises(ValueError, match="Whisper cannot return `char` timestamps"):
        whisper(speechlike(1.0), return_timestamps="char")
    for value in (True, "word"):
        with pytest.raises(NotImplementedError, match="timestamp tokens"):
            whisper(speechlike(1.0), return_timestamps=value)
    with pytest.raises(ValueError, match=r"CTC model.*does not generate.*\['max_new_tokens'\]"):
        ctc(noise(1000), max_new_tokens=5)
    with pytest.raises(ValueError, match="Only Whisper can return language"):
        ctc(noise(1000), return_language=True)
    with pytest.raises(ValueError, match="stride must be"):
        ctc({"raw": noise(100), "sampling_rate": RATE, "stride": (80, 80)})


@pytest.fixture(scope="module")
def whisper_bench():
    """benchmarks/whisper_tiny_en.py (its word error rate), loaded by path."""
    import importlib.util
    import sys

    path = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "whisper_tiny_en.py")
    spec = importlib.util.spec_from_file_location("whisper_tiny_en_bench", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
