"""scripts/train_tiny_wav2vec2_digits.py, the pieces that run without training: the FFT resampler,
the seeded split with held-out voices, the vocabulary and the argument checks.

No checkpoint ships from this script yet (the run in benchmarks/results/wav2vec2-digits-training.md
did not reach a useful held-out score), so there is no model to re-measure here.
"""
from __future__ import annotations

import numpy as np
import pytest
from training_scripts import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("train_tiny_wav2vec2_digits")


def test_vocabulary_has_the_blank_first_and_every_letter_of_the_digit_words(script):
    vocab = script.build_vocab()
    assert vocab["<pad>"] == 0 and vocab["|"] == 4
    assert set("".join(script.DIGITS).upper()) <= set(vocab)
    assert sorted(vocab.values()) == list(range(len(vocab)))


# -- the training script ----------------------------------------------------------------------


def test_fft_resampler_keeps_a_tone_and_its_length(script):
    t = np.arange(22050) / 22050  # one second
    out = script.resample_fft(np.sin(2 * np.pi * 440 * t).astype(np.float32), 22050, 16000)
    assert out.shape == (16000,)
    expected = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    assert np.abs(out - expected).max() < 1e-3


@pytest.mark.parametrize("bad", [["--steps", "0"], ["--heads", "5"], ["--n-test", "-1"]])
def test_script_refuses_bad_arguments(script, bad, capsys):
    with pytest.raises(SystemExit):
        script.parse_args(bad)
    assert "must be" in capsys.readouterr().err


def test_split_is_seeded_and_test_voices_are_held_out(script):
    a = script.make_splits(0, 50, 5, 20)
    assert a == script.make_splits(0, 50, 5, 20) and a != script.make_splits(1, 50, 5, 20)
    train_voices = {r["voice"] for r in a["train"] + a["validation"]}
    assert not train_voices & {r["voice"] for r in a["test"]}
    assert all(1 <= len(r["text"].split()) <= 5 for part in a.values() for r in part)
