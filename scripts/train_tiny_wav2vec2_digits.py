"""Train a tiny Wav2Vec2ForCTC from scratch on spoken digit strings that espeak-ng synthesises.

    python scripts/train_tiny_wav2vec2_digits.py --out hfexplain/assets/tiny-wav2vec2-digits --seed 0

"two nine three" spoken by a synthetic voice -> "TWO NINE THREE". Everything is made here, at
training time, on CPU:

    1. data       strings of 1 to 5 digit words ("zero" .. "nine"), each spoken by espeak-ng with a
                  voice (an accent such as en-us, en-gb-scotland, plus a voice variant such as +f3 or
                  +m2), a speed (-s, words per minute) and a pitch (-p, 0-99). espeak-ng writes 22.05 kHz
                  WAV; we resample to 16 kHz by FFT truncation (keep the spectrum below 8 kHz, inverse
                  FFT at the new length: an ideal low-pass resampler, numpy only). The **test voices**
                  (accents and variants listed in TEST_ACCENTS / TEST_VARIANTS) never occur in
                  training: the test score is on voices the model has not heard.
    2. tokenizer  one token per character: <pad> (the CTC blank, id 0), <s>, </s>, <unk>, "|" (the word
                  delimiter, decoded as a space), then the letters of the ten digit words, upper case.
    3. model      Wav2Vec2ForCTC: a 4-layer conv stem (strides 10, 4, 4, 2: a 20 ms hop), a small transformer, a linear head.
    4. training   plain PyTorch loop (AdamW, warm-up + cosine), random batches padded with an attention
                  mask, random gain and a little noise added per batch; CTC loss (mean over the batch).
    5. output     config.json, model.safetensors, preprocessor_config.json, vocab.json,
                  tokenizer_config.json and a README.md model card with the numbers of this run.

Seeded: the strings, voices, speeds, pitches, the split, the initialisation and the batch order all come
from ``--seed``. espeak-ng itself is deterministic for a given version.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import random
import shlex
import subprocess
import sys
import time
import wave
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hfexplain", "assets",
                           "tiny-wav2vec2-digits")
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SAMPLING_RATE = 16_000
ESPEAK_RATE = 22_050
TRAIN_ACCENTS = ("en", "en-us", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan")
TEST_ACCENTS = ("en-029", "en-gb-x-gbcwmd")
TRAIN_VARIANTS = ("", "m1", "m2", "m3", "m4", "m7", "f1", "f2", "f3", "f5")
TEST_VARIANTS = ("m6", "f4")
SPECIALS = ("<pad>", "<s>", "</s>", "<unk>", "|")
N_CHECK = 40  # the first N_CHECK test clips, which tests/test_tiny_wav2vec2.py re-synthesises and re-scores
REAL_CLIP = "/usr/share/pocketsphinx/test/data/tidigits/dhd.2934z.raw"  # 16 kHz 16-bit mono raw, TIDIGITS-style
REAL_TEXT = "TWO NINE THREE FOUR ZERO"  # the "2934z" of its name; z = zero


# ---------------------------------------------------------------------------------------------
# 1. Data
# ---------------------------------------------------------------------------------------------


def resample_fft(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample by FFT truncation: keep the bins below the new Nyquist frequency, invert at the new length.

    (n,) at rate_in -> (round(n * rate_out / rate_in),) at rate_out. The scale n_out / n keeps amplitudes.
    """
    n_in = len(audio)
    n_out = int(round(n_in * rate_out / rate_in))
    spectrum = np.fft.rfft(audio)  # (n_in // 2 + 1,)
    kept = spectrum[: n_out // 2 + 1]  # (n_out // 2 + 1,)
    return (np.fft.irfft(kept, n_out) * (n_out / n_in)).astype(np.float32)


def speak(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """espeak-ng's rendering of ``text`` as float32 samples at 16 kHz, in [-1, 1]."""
    out = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                         check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(out)) as handle:
        rate = handle.getframerate()
        frames = handle.readframes(handle.getnframes())
    audio = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    return resample_fft(audio, rate, SAMPLING_RATE)


def make_specs(n: int, accents, variants, rng: random.Random) -> list[dict]:
    """``n`` random (text, voice, speed, pitch) rows: 1-5 digit words, a voice from the given lists."""
    rows = []
    for _ in range(n):
        words = [rng.choice(DIGITS) for _ in range(rng.randint(1, 5))]
        variant = rng.choice(variants)
        voice = rng.choice(accents) + (f"+{variant}" if variant else "")
        rows.append({"text": " ".join(words), "voice": voice, "speed": rng.randint(120, 240),
                     "pitch": rng.randint(20, 80)})
    return rows


def make_splits(seed: int, n_train: int, n_val: int, n_test: int) -> dict[str, list[dict]]:
    """train (training voices), validation (training voices, for the curve), test (held-out voices)."""
    rng = random.Random(seed)
    return {"train": make_specs(n_train, TRAIN_ACCENTS, TRAIN_VARIANTS, rng),
            "validation": make_specs(n_val, TRAIN_ACCENTS, TRAIN_VARIANTS, rng),
            "test": make_specs(n_test, TEST_ACCENTS, TEST_VARIANTS, rng)}


def synthesise(rows: list[dict], workers: int) -> list[np.ndarray]:
    with ThreadPoolExecutor(max_workers=workers) as pool:  # espeak-ng runs in subprocesses
        return list(pool.map(lambda r: speak(r["text"], r["voice"], r["speed"], r["pitch"]), rows))


def read_real_clip() -> np.ndarray | None:
    if not os.path.isfile(REAL_CLIP):
        return None
    return np.fromfile(REAL_CLIP, dtype="<i2").astype(np.float32) / 32768.0


# ---------------------------------------------------------------------------------------------
# 2. Tokenizer
# ---------------------------------------------------------------------------------------------


LABELS = "letters"  # or "digits": set by --labels


def build_vocab(labels: str | None = None) -> dict[str, int]:
    """letters: the letters of the ten words (TWO -> T, W, O); digits: one label per word ("2")."""
    labels = labels or LABELS
    chars = sorted(set("".join(DIGITS).upper())) if labels == "letters" else [str(d) for d in range(10)]
    return {token: i for i, token in enumerate(list(SPECIALS) + chars)}


def label_text(text: str, labels: str | None = None) -> str:
    """"two nine" -> "TWO NINE" (letters) or "2 9" (digits: each word one CTC label)."""
    if (labels or LABELS) == "letters":
        return text.upper()
    return " ".join(str(DIGITS.index(w)) for w in text.lower().split())


# ---------------------------------------------------------------------------------------------
# 3-4. Model, batches, training, evaluation
# ---------------------------------------------------------------------------------------------


def learning_rate(step: int, *, peak: float, warmup: int, total: int, floor_ratio: float = 0.05) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (floor_ratio + (1.0 - floor_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def collate(clips: list[np.ndarray], feature_extractor, tokenizer=None, texts=None):
    """Normalised, padded ``input_values`` (b, samples) with ``attention_mask``, and CTC labels padded with -100."""
    batch = feature_extractor(clips, sampling_rate=SAMPLING_RATE, padding=True, return_attention_mask=True,
                              return_tensors="pt")
    if texts is None:
        return batch["input_values"], batch["attention_mask"], None
    ids = [tokenizer(t)["input_ids"] for t in texts]
    labels = torch.full((len(ids), max(map(len, ids))), -100, dtype=torch.long)  # (b, u)
    for i, row in enumerate(ids):
        labels[i, : len(row)] = torch.tensor(row)
    return batch["input_values"], batch["attention_mask"], labels


def augment(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random gain, 0-0.25 s of silence on either side, and white noise at 20-40 dB SNR."""
    pad_l, pad_r = rng.integers(0, SAMPLING_RATE // 4, size=2)
    out = np.concatenate([np.zeros(pad_l, np.float32), clip, np.zeros(pad_r, np.float32)])
    out = out * rng.uniform(0.3, 1.5)
    rms = float(np.sqrt(np.mean(clip ** 2)) + 1e-8)
    out = out + rng.normal(0, rms * 10 ** (-rng.uniform(20, 40) / 20), size=out.shape).astype(np.float32)
    return out.astype(np.float32)


@torch.no_grad()
def transcribe(model, feature_extractor, tokenizer, clips: list[np.ndarray], batch_size: int = 32) -> list[str]:
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(clips), batch_size):
        values, mask, _ = collate(clips[start : start + batch_size], feature_extractor)
        logits = model(values, attention_mask=mask).logits  # (b, t, v)
        out += tokenizer.batch_decode(logits.argmax(-1))
    model.train(was_training)
    return [" ".join(t.split()) for t in out]


def edit_distance(a, b) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def scores(predictions: list[str], references: list[str]) -> dict[str, float]:
    return {"exact": sum(p == r for p, r in zip(predictions, references)) / len(references),
            "cer": sum(edit_distance(p, r) for p, r in zip(predictions, references)) / sum(map(len, references)),
            "wer": sum(edit_distance(p.split(), r.split()) for p, r in zip(predictions, references))
            / sum(len(r.split()) for r in references)}


# ---------------------------------------------------------------------------------------------
# 5. The model card
# ---------------------------------------------------------------------------------------------


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def write_model_card(path: str, facts: dict) -> None:
    """README.md with the numbers of this run; everything in it comes from ``facts`` (also saved as facts.json)."""
    global LABELS
    a = facts["args"]
    LABELS = a.get("labels", "letters")
    refs = [label_text(r["text"]) for r in make_splits(facts["seed"], a["n_train"], a["n_val"], a["n_test"])["test"]]
    facts = dict(facts, check_correct=sum(p == r for p, r in zip(facts["test_predictions"][:N_CHECK], refs[:N_CHECK])))
    curve_rows = "\n".join(f"| {r['step']} | {r['train_loss']:.3f} | {pct(r['val_exact'])} | {pct(r['val_cer'])} |"
                           for r in facts["curve"])
    example_rows = "\n".join(f"| `{v}` | {s} | {p} | {ref} | {pred or '(empty)'} | {'yes' if pred == ref else '**no**'} |"
                             for v, s, p, ref, pred in facts["examples"])
    t, c, e = facts["test"], facts["baseline_common"], facts["baseline_empty"]
    real = facts["real_scores"]
    real_line = ("the clip was not found (pocketsphinx test data not installed)" if real is None else
                 f"the model writes **{facts['real_pred'] or '(empty)'!r}** for {label_text(REAL_TEXT)!r} "
                 f"(character error rate {pct(real['cer'])}, word error rate {pct(real['wer'])})")
    card = f"""---
license: apache-2.0
language: [en]
library_name: transformers
pipeline_tag: automatic-speech-recognition
tags: [wav2vec2, ctc, hfexplain, teaching, tiny, digits, synthetic-speech]
---

# tiny-wav2vec2-digits

A {facts['n_params'] / 1e6:.2f}M-parameter `Wav2Vec2ForCTC` trained from scratch by hfexplain's own code on
spoken digit strings that **espeak-ng synthesises** ("two nine three" -> `{label_text("two nine three")}`), one CTC
label per {"character" if LABELS == "letters" else "digit word"}. It is a teaching object: a real trained CTC model whose frames, logits and
blank/character alignments a lesson can look at offline. It does **not** recognise human speech (below).

```python
from hfexplain import pipeline
from hfexplain.assets import tiny_wav2vec2_digits_path

asr = pipeline("automatic-speech-recognition", model=tiny_wav2vec2_digits_path())
asr({{"raw": samples_16khz, "sampling_rate": 16000}})   # {{'text': {label_text("two nine three")!r}}}
```

The folder loads unchanged in `transformers` (`Wav2Vec2ForCTC`, `Wav2Vec2Processor`), with the same logits.

## Data (made at training time)

- **Text**: 1 to 5 words drawn uniformly from zero .. nine (`random.Random({facts['seed']})`).
- **Audio**: `espeak-ng -v VOICE -s SPEED -p PITCH --stdout TEXT` ({facts['espeak'].split(' Data')[0]}), speed
  120-240 words per minute, pitch 20-80; 22.05 kHz output resampled to 16 kHz by FFT truncation (keep the
  spectrum below 8 kHz, inverse FFT at the new length).
- **Voices**: training and validation: accents {', '.join(TRAIN_ACCENTS)} with variants
  {', '.join('+' + v if v else '(none)' for v in TRAIN_VARIANTS)}. **Test: held-out voices**: accents
  {', '.join(TEST_ACCENTS)} with variants {', '.join('+' + v for v in TEST_VARIANTS)}, none of which occurs
  in training.
- **Sizes**: {a['n_train']} training clips, {a['n_val']} validation clips, {a['n_test']} test clips.
- **Augmentation** (training batches only): random gain 0.3-1.5, 0-0.25 s of silence at either end,
  white noise at 20-40 dB SNR.

## Model and training

Wav2Vec2 (`hfexplain/models/wav2vec2.py`, Hugging Face's names): a 4-layer conv stem
({a['conv_dim']}, {a['conv_dim']}, {2 * a['conv_dim']}, {2 * a['conv_dim']} channels, kernels 20/8/4/4, strides 10/4/4/2: one frame per 20 ms),
layer-norm stem and pre-norm ("stable layer norm") transformer, {a['layers']} layers, hidden {a['hidden']},
{a['heads']} heads, feed-forward {a['ffn']}, a 16-tap grouped positional convolution, SpecAugment time masks
(p 0.05, length 5); **{facts['n_params']:,} parameters**, float32.
Vocabulary ({len(build_vocab())} entries): `<pad>` (CTC blank, id 0), `<s>`, `</s>`, `<unk>`, `|` (word delimiter), then
{"the letters of the digit words" if LABELS == "letters" else "the characters 0-9, one per digit word"} (`--labels {LABELS}`). Plain PyTorch loop, batches of clips of similar length (a random run of neighbours in length order): AdamW (lr {a['lr']}, weight decay 0.01), {a['warmup']} warm-up steps then
cosine, batch {a['batch_size']}, gradient clipping 1.0, CTC loss (mean).

On a shared {facts['machine']} machine (other jobs running; torch {facts['torch']}, {a['threads']} threads):
data generation {facts['gen_seconds'] / 60:.1f} min, training {facts['train_minutes']:.1f} min for
{facts['steps_done']} steps, {facts['total_minutes']:.1f} min wall for the whole script,
{facts['cpu_minutes']:.1f} CPU-minutes (this process and its espeak-ng children):

```bash
{facts['command']}
```

## Results

Greedy CTC decoding (argmax per frame, repeats merged, blanks dropped). Exact: the whole string right.

| on the {a['n_test']} held-out-voice test clips | exact sequence | character error rate | word error rate |
|---|---|---|---|
| **this model** | **{pct(t['exact'])}** | {pct(t['cer'])} | {pct(t['wer'])} |
| baseline: always the most common training string ({c and facts['common']!r}) | {pct(c['exact'])} | {pct(c['cer'])} | {pct(c['wer'])} |
| baseline: empty output | {pct(e['exact'])} | {pct(e['cer'])} | {pct(e['wer'])} |

Of these test clips, the first {N_CHECK} of them (small enough for a test to re-synthesise and re-score): {facts['check_correct']} / {N_CHECK} exact.

Training curve (validation: {a['n_val']} clips of *training* voices, unseen strings):

| step | train loss | validation exact | validation CER |
|---|---|---|---|
{curve_rows}

Some test clips:

| voice | speed | pitch | reference | this model | exact |
|---|---|---|---|---|---|
{example_rows}

**Real human speech**: on the one TIDIGITS-style clip with audio in pocketsphinx's test data
(`tidigits/dhd.2934z.raw`, a human saying "two nine three four zero"), {real_line}.
Synthetic voices alone do not make a recogniser of human speech; expect the same on any real recording.

## Limitations

Ten English digit words, espeak-ng voices only, no "oh" for zero, clean audio. Not for any product.

## Licence

Weights and card: Apache-2.0, like hfexplain. The audio was synthesised by espeak-ng (GPL-3.0) at
training time; no espeak-ng code or audio ships here.
"""
    from hfexplain import hub

    hub.write_text_atomically(path, card)


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--n-val", type=int, default=200)
    parser.add_argument("--n-test", type=int, default=300)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--max-train-minutes", type=float, default=14.0,
                        help="stop training early (cosine schedule unchanged) when this much wall time has passed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=150)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ffn", type=int, default=128)
    parser.add_argument("--conv-dim", type=int, default=32)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--labels", choices=("letters", "digits"), default="letters",
                        help="CTC labels: the letters of the words, or one label per digit word")
    args = parser.parse_args(argv)
    for name in ("n_train", "n_val", "n_test", "steps", "threads", "batch_size", "hidden", "layers", "heads",
                 "ffn", "conv_dim"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.hidden % args.heads:
        parser.error(f"--hidden ({args.hidden}) must be divisible by --heads ({args.heads})")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    from hfexplain import hub
    from hfexplain.models.wav2vec2 import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC
    from hfexplain.tokenization.ctc import Wav2Vec2CTCTokenizer

    global LABELS
    LABELS = args.labels
    started, cpu_started = time.time(), time.process_time()
    torch.set_num_threads(args.threads)
    splits = make_splits(args.seed, args.n_train, args.n_val, args.n_test)
    audio = {name: synthesise(rows, args.threads) for name, rows in splits.items()}
    gen_children = os.times()
    gen_seconds = time.time() - started
    print(f"data: {[(k, len(v)) for k, v in audio.items()]} in {gen_seconds:.0f} s; "
          f"mean {np.mean([len(a) for a in audio['train']]) / SAMPLING_RATE:.2f} s per clip", flush=True)

    tokenizer = Wav2Vec2CTCTokenizer(vocab=build_vocab())
    feature_extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True)
    torch.manual_seed(args.seed)
    config = Wav2Vec2Config(
        vocab_size=len(tokenizer), pad_token_id=tokenizer.encoder["<pad>"], hidden_size=args.hidden,
        num_hidden_layers=args.layers, num_attention_heads=args.heads, intermediate_size=args.ffn,
        conv_dim=(args.conv_dim, args.conv_dim, 2 * args.conv_dim, 2 * args.conv_dim), conv_kernel=(20, 8, 4, 4),
        conv_stride=(10, 4, 4, 2), conv_bias=True,
        feat_extract_norm="layer", do_stable_layer_norm=True, num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4, hidden_dropout=0.0, activation_dropout=0.0, attention_dropout=0.0,
        feat_proj_dropout=0.0, final_dropout=0.0, layerdrop=0.0, mask_time_prob=0.05, mask_time_length=5,
        mask_time_min_masks=1, ctc_loss_reduction="mean", ctc_zero_infinity=True,
    )
    model = Wav2Vec2ForCTC(config)
    n_params = model.num_parameters()
    print(f"model: {n_params:,} parameters", flush=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    generator = torch.Generator().manual_seed(args.seed)
    np_rng = np.random.default_rng(args.seed)
    train_texts = [label_text(r["text"]) for r in splits["train"]]
    val_refs = [label_text(r["text"]) for r in splits["validation"]]
    curve, running, seen = [], 0.0, 0
    by_length = sorted(range(len(train_texts)), key=lambda i: len(audio["train"][i]))
    train_started = time.time()
    step = 0
    model.train()
    for step in range(1, args.steps + 1):
        lr = learning_rate(step - 1, peak=args.lr, warmup=args.warmup, total=args.steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        # length buckets: a random run of batch_size neighbours in the length-sorted order (less padding)
        start = int(torch.randint(len(by_length) - args.batch_size + 1, (1,), generator=generator))
        picks = by_length[start : start + args.batch_size]
        values, mask, labels = collate([augment(audio["train"][i], np_rng) for i in picks], feature_extractor,
                                       tokenizer, [train_texts[i] for i in picks])
        loss = model(values, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        running, seen = running + loss.item(), seen + 1
        out_of_time = (time.time() - train_started) / 60 > args.max_train_minutes
        if step % 25 == 0:
            print(f"  step {step}: loss {loss.item():.3f} ({time.time() - started:.0f} s)", flush=True)
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            val = scores(transcribe(model, feature_extractor, tokenizer, audio["validation"]), val_refs)
            curve.append({"step": step, "train_loss": running / seen, "val_exact": val["exact"], "val_cer": val["cer"]})
            print(f"step {step}: loss {running / seen:.3f}, val exact {100 * val['exact']:.1f} %, "
                  f"cer {100 * val['cer']:.1f} % ({time.time() - started:.0f} s)", flush=True)
            running, seen = 0.0, 0
        if out_of_time:
            print(f"stopping at step {step}: --max-train-minutes {args.max_train_minutes} reached", flush=True)
            break
    train_minutes = (time.time() - train_started) / 60

    test_refs = [label_text(r["text"]) for r in splits["test"]]
    test_pred = transcribe(model, feature_extractor, tokenizer, audio["test"])
    test = scores(test_pred, test_refs)
    counts = {}
    for t in train_texts:
        counts[t] = counts.get(t, 0) + 1
    common = max(sorted(counts), key=counts.get)
    baseline_common = scores([common] * len(test_refs), test_refs)
    baseline_empty = scores([""] * len(test_refs), test_refs)
    real = read_real_clip()
    real_pred = transcribe(model, feature_extractor, tokenizer, [real])[0] if real is not None else None
    real_scores = scores([real_pred], [label_text(REAL_TEXT)]) if real is not None else None
    cpu_seconds = time.process_time() - cpu_started + gen_children.children_user + gen_children.children_system
    facts = {
        "seed": args.seed, "n_params": n_params, "gen_seconds": gen_seconds, "train_minutes": train_minutes,
        "steps_done": step, "total_minutes": (time.time() - started) / 60, "cpu_minutes": cpu_seconds / 60,
        "test": test, "baseline_common": baseline_common, "common": common, "baseline_empty": baseline_empty,
        "curve": curve, "test_predictions": test_pred, "real_pred": real_pred, "real_scores": real_scores,
        "examples": [(r["voice"], r["speed"], r["pitch"], ref, pred)
                     for r, ref, pred in zip(splits["test"], test_refs, test_pred)][:12],
        "command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__)] + sys.argv[1:]),
        "args": vars(args), "machine": f"{platform.machine()} {os.cpu_count()}-core", "torch": torch.__version__,
        "espeak": subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip(),
    }
    print(json.dumps({k: facts[k] for k in ("test", "baseline_common", "baseline_empty", "real_pred", "real_scores",
                                            "train_minutes", "total_minutes", "cpu_minutes", "steps_done")},
                     indent=1), flush=True)
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out)
    feature_extractor.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    with open(os.path.join(args.out, "facts.json"), "w") as handle:
        json.dump(facts, handle, indent=1)
    write_model_card(os.path.join(args.out, "README.md"), facts)
    return facts


if __name__ == "__main__":
    main()
