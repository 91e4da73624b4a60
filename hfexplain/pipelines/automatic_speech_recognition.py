"""automatic-speech-recognition: speech in, text out, through a CTC model (Wav2Vec2) or Whisper.

    "clip.wav" | WAV bytes | array | {"raw": array, "sampling_rate": 16000}
        ─► waveform (samples,) float32, mono, at the feature extractor's rate
        ─► [windows of chunk_length_s seconds, overlapping by stride_length_s]     (long audio, optional)
        ─► feature extractor ─► input_values (1, samples)  |  input_features (1, n_mels, 3000)
        ─► CTC:     model ─► logits (1, frames, vocab) ─► argmax per frame ─► strides cut, windows joined
                    ─► CTC decoding (merge repeats, drop blanks, "|" -> " ")
           Whisper: model.generate ─► transcript ids per window ─► overlapping windows merged ─► decode
        ─► {"text": " He might even have been made amiable himself."}

As transformers' ``AutomaticSpeechRecognitionPipeline`` (5.x), with what it needs and we lack said
plainly:

* **Inputs.** A path to a WAV file, the bytes of one, a NumPy array / torch tensor of samples at
  the feature extractor's rate, a dict ``{"raw" or "array": samples, "sampling_rate": rate}``
  (``datasets``' audio column; an optional ``"stride": (left, right)`` in samples; other keys come
  back in the answer as lists), or a list of these (a list of answers comes back).
  transformers decodes files and bytes with ffmpeg (any format); hfexplain reads **uncompressed
  PCM WAV only** (8-, 16-, 24- or 32-bit integer samples, any number of channels, averaged to mono
  as ``ffmpeg -ac 1`` does) with Python's ``wave`` module. Anything else (MP3, FLAC, float WAV, a
  file that is not audio) is refused with a ValueError saying how to convert it.
* **Channels.** Arrays follow transformers' rule: ``(samples,)`` is mono, ``(channels, samples)``
  with one or two channels is averaged; anything else (``(samples, 2)`` from ``soundfile``) is an
  error saying to transpose or mix down.
* **Sampling rate.** transformers resamples with torchaudio (ffmpeg for files); neither is a
  dependency here, so audio at another rate than the feature extractor's (16 kHz) is refused with
  an error naming the expected rate and a resampling call. An empty clip is refused too.
* **Long audio.** ``chunk_length_s`` cuts the waveform into windows that overlap by
  ``stride_length_s`` on each side (default ``chunk_length_s / 6``; a number or ``[left, right]``).
  CTC (``Wav2Vec2ForCTC``): each window's frame ids lose the frames of their strides, and the rest
  are joined before decoding, so a word cut by a window edge is read whole in the neighbour window.
  Whisper: each window (at most 30 s) is transcribed on its own and consecutive transcripts are
  merged where they overlap best (the longest run of equal tokens, as transformers'
  ``_find_longest_common_sequence``). Whisper given more than 30 s *without* ``chunk_length_s``:
  transformers runs Whisper's long-form sequential decoding, which hfexplain's ``generate`` does
  not have, so this is a NotImplementedError naming ``chunk_length_s=30``.
* **Generation (Whisper).** ``generate_kwargs={"language": "fr", "task": "translate",
  "max_new_tokens": 40}`` or the same as plain keywords. As transformers, the pipeline's own
  defaults are ``num_beams=5`` and ``max_new_tokens=256``, each used only when neither the call nor
  the model's generation config sets it (a config ``max_length`` wins over ``max_new_tokens``).
  CTC models do not generate: generation arguments are refused for them.
* **Timestamps.** CTC: ``return_timestamps="char"`` or ``"word"`` adds ``"chunks": [{"text",
  "timestamp": (start_s, end_s)}]`` from the tokenizer's frame offsets (frame x
  ``inputs_to_logits_ratio`` / sampling rate). Whisper's timestamps need timestamp-token
  generation, which hfexplain's ``generate`` does not have: ``True`` / ``"word"`` raise
  NotImplementedError (``"char"`` is a ValueError, as in transformers).
* ``batch_size`` runs several model rows (windows or inputs) at once; CTC rows are padded with the
  feature extractor's padding value and masked. A padded row's frames past its own audio are cut
  before decoding, so each input reads as it would alone.

``pipe.inspect(audio)`` shows every stage: the waveform (samples, seconds, first values), each
model row's features (shape, first values, stride), the ids (per frame for CTC, per token for
Whisper) and their pieces, and the text.
"""
from __future__ import annotations

import io
import os
import wave
from collections import defaultdict
from typing import Any

import numpy as np
import torch

from .base import Pipeline, _short

# transformers' pipeline defaults for generation (used only where the call and the model's generation config are silent).
GENERATION_DEFAULTS = {"max_new_tokens": 256, "num_beams": 5}
# Values transformers' GenerationConfig has by default, which its to_diff_dict leaves out (so they count as "not set").
_GENERATION_CONFIG_DEFAULTS = {"num_beams": 1, "max_length": 20}
WAV_HINT = ("hfexplain reads uncompressed PCM WAV files (8, 16, 24 or 32-bit integer samples) with Python's wave "
            "module; it has no ffmpeg. Convert the file first (e.g. `ffmpeg -i clip.mp3 -ac 1 -ar 16000 clip.wav`), "
            "or decode it yourself and pass {'raw': samples, 'sampling_rate': rate}.")


# -- reading audio ---------------------------------------------------------------------------------


def read_wav(source: str | os.PathLike | bytes) -> tuple[np.ndarray, int]:
    """A WAV file (path or bytes) -> (float32 mono samples in [-1, 1), sampling rate).

    Integer PCM of 8 (unsigned), 16, 24 or 32 bits, as ffmpeg turns it into floats (divided by
    2 ** (bits - 1)); several channels are averaged into one (``ffmpeg -ac 1``).

    Raises:
        ValueError: not a WAV file, or a WAV encoding the ``wave`` module cannot read (float, compressed).
    """
    what = "the bytes given" if isinstance(source, bytes) else repr(os.fspath(source))
    try:
        with wave.open(io.BytesIO(source) if isinstance(source, bytes) else os.fspath(source), "rb") as handle:
            rate, width, channels = handle.getframerate(), handle.getsampwidth(), handle.getnchannels()
            frames = handle.readframes(handle.getnframes())
    except (wave.Error, EOFError) as error:
        raise ValueError(f"{what} is not audio that hfexplain can read ({error}). {WAV_HINT}") from error
    if width == 1:
        samples = (np.frombuffer(frames, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        raw = np.frombuffer(frames, dtype=np.uint8).reshape(-1, 3).astype(np.int32)  # (n, 3) little-endian bytes
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        samples = (np.where(value >= 1 << 23, value - (1 << 24), value) / float(1 << 23)).astype(np.float32)
    elif width == 4:
        samples = (np.frombuffer(frames, dtype="<i4") / float(1 << 31)).astype(np.float32)
    else:
        raise ValueError(f"{what} holds {8 * width}-bit samples. {WAV_HINT}")
    samples = samples.reshape(-1, channels)  # (samples, channels): WAV interleaves the channels
    return (samples.mean(axis=1) if channels > 1 else samples[:, 0]).astype(np.float32), rate


def to_mono(audio: np.ndarray) -> np.ndarray:
    """transformers' rule: (samples,) as it is; (channels, samples) with 1 or 2 channels averaged; else an error."""
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise ValueError(f"the automatic-speech-recognition pipeline takes mono audio (samples,) or (channels, samples), "
                         f"got an array of shape {tuple(audio.shape)}.")
    if audio.shape[0] > 2:
        raise ValueError(
            f"the automatic-speech-recognition pipeline reads axis 0 of a 2-D array as channels, and the array of shape "
            f"{tuple(audio.shape)} would have {audio.shape[0]}. A (samples, channels) array (what soundfile.read and "
            "scipy.io.wavfile.read return) must be transposed first (audio.T); with more than 2 channels, mix it down "
            "to mono yourself (e.g. audio.mean(axis=1))."
        )
    return audio.mean(axis=0)


def rescale_stride(stride: tuple[int, int, int], ratio: float) -> tuple[int, int, int]:
    """(samples, left, right) in audio samples -> the same in model frames (ratio = frames per sample)."""
    total, left, right = stride
    frames = int(round(total * ratio))
    return frames, int(round(left / total * frames)), int(round(right / total * frames))


def chunk_windows(length: int, chunk_len: int, stride_left: int, stride_right: int):
    """(start, end, stride) of each window over ``length`` samples, as transformers' ``chunk_iter``:
    windows of ``chunk_len`` samples starting every ``chunk_len - stride_left - stride_right``; the
    first window has no left stride, the last no right one; a window no longer than its left stride
    (all context, nothing new) is skipped."""
    step = chunk_len - stride_left - stride_right
    for start in range(0, length, step):
        end = start + chunk_len
        is_last = end >= length
        size = min(end, length) - start
        stride = (size, 0 if start == 0 else stride_left, 0 if is_last else stride_right)
        if size > stride[1]:
            yield start, min(end, length), stride
        if is_last:
            break


def merge_overlapping(sequences: list[list[int]]) -> list[int]:
    """Join token sequences of overlapping windows, as transformers' ``_find_longest_common_sequence``.

    For each next sequence, every way of sliding it against the end of what is kept so far is
    scored by the fraction of aligned tokens that are equal (plus a tiny bonus for longer
    overlaps); the best alignment with more than one equal token wins, else the sequences are
    simply joined. In the overlap the left sequence is trusted for its first half, the right one
    for the second.
    """
    left = list(sequences[0])
    merged: list[int] = []
    for right in sequences[1:]:
        best, best_span = 0.0, (len(left), len(left), 0, 0)
        for shift in range(1, len(left) + len(right)):
            left_start, left_stop = max(0, len(left) - shift), min(len(left), len(left) + len(right) - shift)
            right_start, right_stop = max(0, shift - len(left)), min(len(right), shift)
            matches = sum(a == b for a, b in zip(left[left_start:left_stop], right[right_start:right_stop]))
            score = matches / shift + shift / 10000.0
            if matches > 1 and score > best:
                best, best_span = score, (left_start, left_stop, right_start, right_stop)
        left_start, left_stop, right_start, right_stop = best_span
        merged.extend(left[: (left_start + left_stop) // 2])
        left = list(right[(right_start + right_stop) // 2 :])
    return merged + left


# -- the pipeline ----------------------------------------------------------------------------------


class AutomaticSpeechRecognitionPipeline(Pipeline):
    """Transcribe speech with a CTC model (``Wav2Vec2ForCTC`` + its CTC tokenizer and feature
    extractor) or Whisper (``WhisperForConditionalGeneration`` + ``WhisperProcessor``'s pieces).

    >>> asr = hfexplain.pipeline("automatic-speech-recognition", model=whisper_tiny_en_path())  # doctest: +SKIP
    >>> asr("clip.wav")                                     # doctest: +SKIP
    {'text': ' He might even have been made amiable himself.'}
    """

    task = "automatic-speech-recognition"
    model_task = ("ctc", "speech-seq2seq")
    also_needs = ("tokenizer",)
    chunked = True  # preprocess gives one model row per window (one row without chunk_length_s)

    def __init__(self, model, tokenizer=None, **kwargs: Any):
        is_seq2seq = bool(getattr(getattr(model, "config", None), "is_encoder_decoder", False))
        # transformers' names: "seq2seq_whisper" (the only speech seq2seq family here) or "ctc".
        self.type = "seq2seq_whisper" if is_seq2seq else "ctc"
        super().__init__(model, tokenizer, **kwargs)

    # -- options -------------------------------------------------------------------------------

    def _sanitize_parameters(self, chunk_length_s: float | None = None, stride_length_s=None,
                             return_timestamps: bool | str | None = None, return_language: bool | None = None,
                             generate_kwargs: dict[str, Any] | None = None, ignore_warning: bool | None = None,
                             decoder_kwargs: dict[str, Any] | None = None, **more_generate_kwargs: Any):
        preprocess_params: dict[str, Any] = {}
        if chunk_length_s is not None:
            preprocess_params["chunk_length_s"] = self._check_chunk_length(chunk_length_s)
        if stride_length_s is not None:
            preprocess_params["stride_length_s"] = _check_strides(stride_length_s)
        forward_params = {**(generate_kwargs or {}), **more_generate_kwargs}
        if forward_params and self.type == "ctc":
            raise ValueError(
                f"{type(self.model).__name__} is a CTC model: it reads every frame in one forward pass and does not "
                f"generate, so the generation arguments {sorted(forward_params)} do not apply. Drop them (they are "
                "for Whisper)."
            )
        if decoder_kwargs is not None:
            raise NotImplementedError("decoder_kwargs are for pyctcdecode's language-model decoder, which hfexplain does "
                                      "not have; CTC output is decoded greedily (argmax per frame).")
        if return_language:
            if self.type != "seq2seq_whisper":
                raise ValueError("Only Whisper can return language for now.")
            raise NotImplementedError("return_language is not implemented: hfexplain's Whisper generate returns the "
                                      "transcript without its prompt. Pass generate_kwargs={'language': ...} instead.")
        postprocess_params: dict[str, Any] = {}
        if return_timestamps is not None and return_timestamps is not False:
            self._check_timestamps(return_timestamps)
            postprocess_params["return_timestamps"] = return_timestamps
        return preprocess_params, forward_params, postprocess_params

    def _check_chunk_length(self, chunk_length_s: Any) -> float:
        if isinstance(chunk_length_s, bool) or not isinstance(chunk_length_s, (int, float)) or chunk_length_s < 0:
            raise ValueError(f"chunk_length_s must be a number of seconds > 0 (0 means no chunking), got "
                             f"{chunk_length_s!r}.")
        window = getattr(self.feature_extractor, "chunk_length", None)
        if self.type == "seq2seq_whisper" and window is not None and chunk_length_s > window:
            raise ValueError(
                f"chunk_length_s={chunk_length_s} is longer than Whisper's {window} s window (feature_extractor."
                f"chunk_length): the feature extractor would cut every window to {window} s and lose the rest. Use "
                f"chunk_length_s={window} or less."
            )
        return chunk_length_s

    def _check_timestamps(self, return_timestamps: Any) -> None:
        if self.type == "ctc":
            if return_timestamps not in ("char", "word"):
                raise ValueError("CTC can either predict character level timestamps, or word level timestamps. "
                                 "Set `return_timestamps='char'` or `return_timestamps='word'` as required.")
            return
        if return_timestamps == "char":
            raise ValueError("Whisper cannot return `char` timestamps, only word level or segment level timestamps. "
                             "Use `return_timestamps='word'` or `return_timestamps=True` respectively.")
        raise NotImplementedError(
            f"return_timestamps={return_timestamps!r} needs Whisper's timestamp tokens (generated under their logits "
            "processor) or its cross-attention alignment, which hfexplain's Whisper generate does not implement. "
            "Transcribe without timestamps, or use a CTC model with return_timestamps='word'."
        )

    # -- inputs ----------------------------------------------------------------------------------

    def _check_input(self, item: Any) -> None:
        if isinstance(item, (str, os.PathLike)):
            if str(item).startswith(("http://", "https://")):
                raise ValueError(f"the {self.task} pipeline got the URL {str(item)!r}; hfexplain downloads nothing. "
                                 "Save the audio and pass its path.")
            if not os.path.isfile(item):
                raise ValueError(f"the {self.task} pipeline got {_short(str(item), 80)}, which is not a file (a string "
                                 "is read as the path of an audio file). Pass the path of a WAV file, or the samples.")
            return
        if isinstance(item, dict):
            if "sampling_rate" not in item or not ("raw" in item or "array" in item):
                raise ValueError(
                    "When passing a dictionary to AutomaticSpeechRecognitionPipeline, the dict needs to contain a "
                    '"raw" key containing the numpy array or torch tensor representing the audio and a "sampling_rate" '
                    f"key, containing the sampling_rate associated with that array; got the keys {sorted(item)}."
                )
            return
        if isinstance(item, (bytes, np.ndarray, torch.Tensor)):
            return
        raise TypeError(
            f"the {self.task} pipeline takes audio: a path to a WAV file, its bytes, a NumPy array or torch tensor of "
            "samples, a dict {'raw': samples, 'sampling_rate': rate}, or a list of those; got "
            f"{type(item).__name__}: {_short(item, 80)}."
        )

    def read_audio(self, item: Any) -> tuple[np.ndarray, tuple[int, int] | None, dict[str, Any]]:
        """One input -> (mono float samples at the feature extractor's rate, stride in samples or None, extra keys)."""
        expected_rate = self.feature_extractor.sampling_rate
        stride, extra = None, {}
        if isinstance(item, (str, os.PathLike, bytes)):
            audio, rate = read_wav(item)
        elif isinstance(item, dict):
            item = dict(item)
            stride = item.pop("stride", None)
            audio = item.pop("raw", None)
            if audio is None:
                item.pop("path", None)  # datasets' audio column: the file it came from, not needed
                audio = item.pop("array")
            rate = item.pop("sampling_rate")
            extra = item
        else:
            audio, rate = item, expected_rate
        if isinstance(audio, torch.Tensor):
            audio = audio.detach().cpu().numpy()
        audio = np.asarray(audio)
        if not (np.issubdtype(audio.dtype, np.floating) or np.issubdtype(audio.dtype, np.integer)):
            raise TypeError(f"audio samples must be numbers, got an array of {audio.dtype}.")
        audio = to_mono(audio)
        if audio.size == 0:
            raise ValueError("the audio is empty (0 samples): there is nothing to transcribe. Pass at least one sample "
                             "(and drop empty clips from lists first).")
        if rate != expected_rate:
            raise ValueError(
                f"the audio is sampled at {rate} Hz, but {type(self.feature_extractor).__name__} expects "
                f"{expected_rate} Hz (what the model was trained on). hfexplain does not resample (transformers does, "
                "with torchaudio, which is not a dependency here): resample first, e.g. torchaudio.functional.resample("
                f"torch.from_numpy(audio), {rate}, {expected_rate}) or librosa.resample(audio, orig_sr={rate}, "
                f"target_sr={expected_rate})."
            )
        if stride is not None:
            if len(stride) != 2 or stride[0] + stride[1] > audio.shape[0]:
                raise ValueError(f"stride must be (left, right) samples adding up to at most the audio's "
                                 f"{audio.shape[0]} samples, got {stride!r}.")
            stride = (audio.shape[0], int(stride[0]), int(stride[1]))
        return audio, stride, extra

    # -- the three stages ----------------------------------------------------------------------

    def preprocess(self, inputs: Any, chunk_length_s: float = 0, stride_length_s=None) -> list[dict[str, Any]]:
        """One input -> one model row per window: features, attention mask, stride (samples) and extra keys."""
        audio, stride, extra = self.read_audio(inputs)
        extractor = self.feature_extractor
        if not chunk_length_s:
            limit = getattr(extractor, "n_samples", None)
            if self.type == "seq2seq_whisper" and limit is not None and audio.shape[0] > limit:
                raise NotImplementedError(
                    f"the audio is {audio.shape[0] / extractor.sampling_rate:.1f} s long, more than Whisper's "
                    f"{limit / extractor.sampling_rate:g} s window. transformers then runs Whisper's long-form "
                    "(sequential) decoding, which hfexplain's Whisper generate does not implement: pass "
                    "chunk_length_s=30 to transcribe overlapping 30 s windows and merge them."
                )
            return [self._row(audio, stride, extra)]
        if stride_length_s is None:
            stride_length_s = chunk_length_s / 6
        left_s, right_s = (stride_length_s, stride_length_s) if isinstance(stride_length_s, (int, float)) \
            else stride_length_s
        align_to = self._align_to
        rate = extractor.sampling_rate
        chunk_len = int(round(chunk_length_s * rate / align_to) * align_to)
        stride_left = int(round(left_s * rate / align_to) * align_to)
        stride_right = int(round(right_s * rate / align_to) * align_to)
        if chunk_len <= stride_left + stride_right:
            raise ValueError(
                f"Chunk length must be superior to stride length: chunk_length_s={chunk_length_s} is {chunk_len} "
                f"samples, the strides {stride_left} + {stride_right}; each window needs new audio between its "
                "strides. Pass a smaller stride_length_s (default chunk_length_s / 6)."
            )
        return [self._row(audio[start:end], window_stride, extra)
                for start, end, window_stride in chunk_windows(audio.shape[0], chunk_len, stride_left, stride_right)]

    def _row(self, audio: np.ndarray, stride, extra: dict[str, Any]) -> dict[str, Any]:
        extractor = self.feature_extractor
        features = dict(extractor(audio, sampling_rate=extractor.sampling_rate, return_tensors="pt",
                                  return_attention_mask=True))  # input_values (1, n) | input_features (1, m, 3000)
        if self.model.dtype != torch.float32:
            features[self.main_input_name] = features[self.main_input_name].to(self.model.dtype)
        return {**features, "stride": stride, "extra": extra}

    @property
    def _align_to(self) -> int:
        """Audio samples per model frame (CTC: ``inputs_to_logits_ratio``; 1 for Whisper, which reads whole windows)."""
        return getattr(self.model.config, "inputs_to_logits_ratio", 1)

    def generate_kwargs(self, generate_kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's generation arguments plus transformers' pipeline defaults (``num_beams=5``,
        ``max_new_tokens=256``, the tokenizer's pad id) for those neither the call nor the model's
        generation config sets; a ``max_length`` there keeps ``max_new_tokens`` out."""
        config = self.model.generation_config.to_diff_dict()
        config = {key: value for key, value in config.items() if _GENERATION_CONFIG_DEFAULTS.get(key) != value}
        already = {**config, **generate_kwargs}
        defaults = dict(GENERATION_DEFAULTS)
        if self.tokenizer.pad_token_id is not None:
            defaults["pad_token_id"] = self.tokenizer.pad_token_id
        added = {key: value for key, value in defaults.items()
                 if key not in already and not (key == "max_new_tokens" and "max_length" in already)}
        return {**generate_kwargs, **added}

    def _forward(self, model_inputs: dict[str, Any], **generate_kwargs: Any) -> dict[str, Any]:
        main = self.main_input_name
        attention_mask = model_inputs.get("attention_mask")  # (b, samples) | (b, 3000)
        outputs = {"stride": model_inputs["stride"], "extra": model_inputs["extra"]}
        if self.type == "seq2seq_whisper":
            tokens = self.model.generate(model_inputs[main], attention_mask=attention_mask,
                                         **self.generate_kwargs(generate_kwargs))  # (b, n): the transcripts
            return {"tokens": tokens, **outputs}
        logits = self.model(**{main: model_inputs[main], "attention_mask": attention_mask}).logits  # (b, frames, v)
        lengths = attention_mask.sum(-1) if attention_mask is not None else \
            torch.full((logits.shape[0],), model_inputs[main].shape[-1])
        frames = self.model._get_feat_extract_output_lengths(lengths)  # (b,) frames of each row's own audio
        strides = outputs["stride"]
        ratio = 1 / self._align_to
        if isinstance(strides, list):  # a batch: one stride (or None) per row
            outputs["stride"] = [None if s is None else rescale_stride(s, ratio) for s in strides]
        elif strides is not None:
            outputs["stride"] = rescale_stride(strides, ratio)
        return {"logits": logits, "tokens": logits.argmax(dim=-1), "frames": frames.tolist(), **outputs}  # tokens (b, frames)

    def _remove_batch_padding(self, row_outputs: dict[str, Any], added: int) -> dict[str, Any]:
        """A CTC row padded for batching (and not windowed: strides cut windows) loses its padding frames."""
        if self.type == "ctc" and added and row_outputs.get("stride") is None:
            frames = int(row_outputs["frames"])
            row_outputs = {**row_outputs, "tokens": row_outputs["tokens"][:, :frames],
                           "logits": row_outputs["logits"][:, :frames]}
        return row_outputs

    def postprocess(self, model_outputs: list[dict[str, Any]], return_timestamps: bool | str | None = None,
                    trace: dict | None = None) -> dict[str, Any]:
        optional: dict[str, Any] = {}
        if self.type == "seq2seq_whisper":
            special = set(self.tokenizer.all_special_ids)
            timestamp_begin = self.tokenizer.convert_tokens_to_ids("<|notimestamps|>") + 1
            pieces = [[t for t in out["tokens"][0].tolist() if t not in special and t < timestamp_begin]
                      for out in model_outputs]
            pieces = [piece for piece in pieces if piece]  # a window with no words adds nothing
            ids = merge_overlapping(pieces) if pieces else []
            text = self.tokenizer.decode(ids)
        else:
            kept = []
            for out in model_outputs:
                row = out["tokens"][0]  # (frames,)
                if out.get("stride") is not None:
                    total, left, right = out["stride"]
                    row = row[left : total - right]  # the window's own frames, without its context strides
                kept.append(row)
            ids = torch.cat(kept).tolist()
            text = self.tokenizer.decode(ids)
            if return_timestamps:
                offsets = self.tokenizer.decode(ids, output_char_offsets=return_timestamps == "char",
                                                output_word_offsets=return_timestamps == "word")
                rate = self.feature_extractor.sampling_rate
                optional["chunks"] = [
                    {"text": item[return_timestamps], "timestamp": (item["start_offset"] * self._align_to / rate,
                                                                    item["end_offset"] * self._align_to / rate)}
                    for item in offsets[f"{return_timestamps}_offsets"]]
        extra = defaultdict(list)
        for out in model_outputs:
            for key, value in out["extra"].items():
                extra[key].append(value)
        if trace is not None:
            self._trace(trace, model_outputs, ids, text)
        return {"text": text, **optional, **extra}

    # -- inspect -------------------------------------------------------------------------------

    def _inspect_input(self, item: Any, preprocess_params: dict[str, Any]) -> dict[str, Any]:
        audio, _, _ = self.read_audio(item)
        return {"waveform": audio, "sampling_rate": self.feature_extractor.sampling_rate, "rows": []}

    def _inspect_forward(self, row: dict[str, Any], forward_params: dict, cache, details: dict):
        features = row[self.main_input_name]
        details["rows"].append({"name": self.main_input_name, "shape": tuple(features.shape),
                                "first": [round(v, 4) for v in features.flatten()[:6].tolist()],
                                "stride": row.get("stride")})
        return super()._inspect_forward(row, forward_params, cache, details)

    def _trace(self, trace: dict, model_outputs: list[dict[str, Any]], ids: list[int], text: str) -> None:
        details = trace["details"]
        audio, rate = details["waveform"], details["sampling_rate"]
        lines = [f"waveform: {audio.shape[0]} samples at {rate} Hz ({audio.shape[0] / rate:.2f} s), mono, first "
                 f"values {[round(v, 4) for v in audio[:6].tolist()]}"]
        for index, row in enumerate(details["rows"]):
            stride = f", stride (samples, left, right) {row['stride']}" if row["stride"] is not None else ""
            lines.append(f"features: row {index}: {row['name']} {row['shape']}, first values {row['first']}{stride}")
        per_row = [out["tokens"][0].tolist() for out in model_outputs]
        details["token_ids"] = per_row
        details["token_pieces"] = [self.tokenizer.convert_ids_to_tokens(row) for row in per_row]
        if self.type == "seq2seq_whisper":
            for index, (row, pieces) in enumerate(zip(per_row, details["token_pieces"])):
                lines.append(f"tokens: row {index}: generate gave {len(row)} ids {_short(row, 160)}")
                lines.append(f"        pieces {_short(pieces, 200)}")
            lines.append(f"merged: {len(ids)} ids without special or timestamp tokens"
                         + (" (overlapping windows joined where they agree)" if len(per_row) > 1 else ""))
            trace["probabilities"] = None
        else:
            logits = torch.cat([out["logits"][0] for out in model_outputs])  # (frames, v)
            trace["probabilities"] = logits.softmax(-1).max(-1).values  # (frames,): how sure each frame's argmax is
            lines.append(f"tokens: {len(ids)} frames kept; argmax ids {_short(ids, 160)}")
            lines.append(f"        pieces {_short(self.tokenizer.convert_ids_to_tokens(ids), 200)}")
            lines.append("CTC decoding: merge repeated ids, drop the blank (pad), word delimiter -> space")
        lines.append(f"text: {text!r}")
        details["text"] = text
        trace["decision"] = "\n".join(lines)


def _check_strides(stride_length_s: Any):
    values = [stride_length_s] if isinstance(stride_length_s, (int, float)) else list(stride_length_s)
    if len(values) != (1 if isinstance(stride_length_s, (int, float)) else 2) or any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0
                                        for v in values):
        raise ValueError(f"stride_length_s must be seconds >= 0, one number or [left, right], got {stride_length_s!r}.")
    return stride_length_s
