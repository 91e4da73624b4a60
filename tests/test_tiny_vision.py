"""The packaged tiny ViT (hfexplain/assets/tiny-vit-digits) and tiny CLIP (tiny-clip-digits), and their cards.

What is checked, and against what (the scripts' full runs are in the cards; no full training here):
* each folder is small, complete, ships as package data, and loads in hfexplain and in transformers
  with the same preprocessing and the same logits;
* the ViT card's held-out accuracy, its two baselines and its per-class rows equal what this test
  measures on the 297 held-out digits (re-split here from the seed in the card);
* the CLIP card's zero-shot accuracy for each held-out caption template equals a re-measurement with
  the processor and ``model(...).logits_per_image`` (no pipeline), in hfexplain and in transformers;
* a few training steps of each script, run twice with one seed, give bitwise identical weights;
* the scripts refuse bad arguments before doing anything.
"""
from __future__ import annotations

import fnmatch
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from training_scripts import load_script
import torch

from hfexplain.assets import tiny_clip_digits_path, tiny_vit_digits_path

from conftest import quiet_transformers

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@pytest.fixture(scope="module")
def vit_script():
    return load_script("train_tiny_vit_digits")


@pytest.fixture(scope="module")
def clip_script():
    return load_script("train_tiny_clip_digits")


def read_card(path: str) -> str:
    return (Path(path) / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def digits():
    """(images (1797, 8, 8) uint8, labels), converted here without the scripts' code."""
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_digits()
    return np.rint(data.images * (255.0 / 16.0)).astype(np.uint8), data.target.astype(np.int64)


def split_from_card(card: str, digits, vit_script):
    """(train indices, test indices) from the seed the card names; skip if the bundled digits differ."""
    seed = int(re.search(r"shuffled by `random\.Random\((\d+)\)`", card).group(1))
    images, labels = digits
    if vit_script.data_sha256(images, labels) not in card:
        pytest.skip("this scikit-learn bundles other digits than the card's (its fingerprint differs)")
    train, test = vit_script.split_indices(seed, len(images))
    assert len(test) == 297 and len(train) == 1500 and not set(train) & set(test)
    return np.asarray(train), np.asarray(test)


def as_rgb(images: np.ndarray) -> list:
    from PIL import Image

    return [Image.fromarray(image).convert("RGB") for image in images]


def percent(card: str, row_start: str) -> float:
    match = re.search(r"^\| " + re.escape(row_start) + r"[^|]*\| \**([0-9.]+) %", card, flags=re.M)
    assert match, f"the model card has no row starting with {row_start!r}"
    return float(match.group(1))


# -- the folders --------------------------------------------------------------------------------

FOLDERS = {
    "vit": (tiny_vit_digits_path, ["config.json", "model.safetensors", "preprocessor_config.json", "README.md"]),
    "clip": (tiny_clip_digits_path, ["config.json", "model.safetensors", "preprocessor_config.json", "README.md",
                                     "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]),
}


@pytest.mark.parametrize("name", list(FOLDERS))
def test_folder_is_small_complete_and_ships_as_package_data(name):
    import tomllib

    path_of, files = FOLDERS[name]
    folder = Path(path_of())
    for file in files:
        assert (folder / file).is_file(), file
    assert sum(f.stat().st_size for f in folder.iterdir()) < 10_000_000
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "hfexplain.assets"]
    for file in folder.iterdir():
        relative = f"{folder.name}/{file.name}"
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


@pytest.mark.parametrize("function, message", [
    ("tiny_vit_digits_path", "tiny ViT digit classifier is missing.*train_tiny_vit_digits.py --out"),
    ("tiny_clip_digits_path", "tiny CLIP is missing.*train_tiny_clip_digits.py --out"),
])
def test_missing_asset_is_a_clear_error(tmp_path, monkeypatch, function, message):
    import hfexplain.assets as assets

    monkeypatch.setattr(assets, "_ASSETS_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=message):
        getattr(assets, function)()


# -- the ViT ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vit():
    from hfexplain import AutoImageProcessor, AutoModelForImageClassification

    path = tiny_vit_digits_path()
    return AutoModelForImageClassification.from_pretrained(path).eval(), AutoImageProcessor.from_pretrained(path)


def test_vit_card_accuracy_baselines_and_classes_equal_a_remeasurement(vit, digits, vit_script):
    model, processor = vit
    assert type(model).__name__ == "ViTForImageClassification"
    assert [model.config.id2label[i] for i in range(10)] == list(WORDS)
    card = read_card(tiny_vit_digits_path())
    train, test = split_from_card(card, digits, vit_script)
    images, labels = digits
    pixel_values = processor(as_rgb(images[test]), return_tensors="pt").pixel_values
    assert pixel_values.shape == (297, 3, 32, 32)
    with torch.no_grad():
        predicted = model(pixel_values=pixel_values).logits.argmax(-1).numpy()
    truth = labels[test]
    correct = int((predicted == truth).sum())
    assert f"({correct} / 297)" in card
    assert percent(card, "**this model**") == pytest.approx(100 * correct / 297, abs=0.05)
    # baselines, computed here: the majority training class; 1-nearest neighbour on the raw pixels
    majority = np.bincount(labels[train], minlength=10).argmax()
    assert percent(card, "baseline: always the most frequent") == pytest.approx(100 * (truth == majority).mean(),
                                                                                  abs=0.05)
    distances = ((images[test].reshape(297, 1, 64).astype(float) - images[train].reshape(1, -1, 64)) ** 2).sum(-1)
    knn = (labels[train][distances.argmin(1)] == truth).mean()
    assert percent(card, "baseline: 1-nearest neighbour") == pytest.approx(100 * knn, abs=0.05)
    assert correct / 297 > 0.5 + (truth == majority).mean()  # far above the trivial baseline
    for c in range(10):
        n, k = int((truth == c).sum()), int(((predicted == c) & (truth == c)).sum())
        assert f"| {c} ({WORDS[c]}) | {n} | {k} | {100 * k / n:.1f} % |" in card
    assert f"{model.num_parameters():,} parameters" in card


def test_vit_loads_in_transformers_with_identical_preprocessing_and_logits(vit, digits):
    transformers = quiet_transformers()
    ours, our_processor = vit
    path = tiny_vit_digits_path()
    theirs = transformers.ViTForImageClassification.from_pretrained(path, attn_implementation="eager").eval()
    their_processor = transformers.AutoImageProcessor.from_pretrained(path)
    images = as_rgb(digits[0][:16])
    pixel_values = our_processor(images, return_tensors="pt").pixel_values
    torch.testing.assert_close(pixel_values, their_processor(images, return_tensors="pt").pixel_values,
                               atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(ours(pixel_values=pixel_values).logits, theirs(pixel_values=pixel_values).logits,
                                   atol=1e-5, rtol=1e-5)
    assert theirs.config.id2label[0] == "zero"


# -- the CLIP -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip():
    from hfexplain import CLIPModel, CLIPProcessor

    path = tiny_clip_digits_path()
    return CLIPModel.from_pretrained(path).eval(), CLIPProcessor.from_pretrained(path)


def zero_shot_accuracy(model, processor, images, truth, captions) -> tuple[int, torch.Tensor]:
    inputs = processor(text=captions, images=images, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits_per_image  # (images, 10)
    return int((logits.argmax(-1).numpy() == truth).sum()), logits


def test_clip_card_zero_shot_accuracy_equals_a_remeasurement(clip, digits, vit_script, clip_script):
    model, processor = clip
    card = read_card(tiny_clip_digits_path())
    _, test = split_from_card(card, digits, vit_script)
    images, truth = as_rgb(digits[0][test]), digits[1][test]
    assert len(clip_script.HELD_OUT_TEMPLATES) == 3
    assert not set(clip_script.HELD_OUT_TEMPLATES) & set(clip_script.TRAIN_TEMPLATES)
    scores = []
    for template in clip_script.HELD_OUT_TEMPLATES:
        captions = [clip_script.caption(template, c) for c in range(10)]
        assert WORDS[7] in captions[7] or "7" in captions[7]
        correct, _ = zero_shot_accuracy(model, processor, images, truth, captions)
        assert f'| "{template}" (e.g. "{captions[7]}") | {100 * correct / 297:.1f} % ({correct} / 297) |' in card
        scores.append(correct / 297)
    assert percent(card, "**mean of the 3 held-out templates**") == pytest.approx(100 * np.mean(scores), abs=0.05)
    assert np.mean(scores) > 0.10 + 0.2  # well above chance (the card gives the number)
    assert f"{model.num_parameters():,} parameters" in card


def test_clip_loads_in_transformers_with_identical_tokens_and_logits(clip, digits, clip_script):
    transformers = quiet_transformers()
    ours, our_processor = clip
    path = tiny_clip_digits_path()
    theirs = transformers.CLIPModel.from_pretrained(path, attn_implementation="eager").eval()
    their_processor = transformers.CLIPProcessor.from_pretrained(path)
    assert type(their_processor.tokenizer).__name__ == "CLIPTokenizer"
    captions = [clip_script.caption(t, c) for t in clip_script.HELD_OUT_TEMPLATES[:2] for c in (0, 7, 8)]
    call = dict(text=captions, images=as_rgb(digits[0][:8]), padding=True, return_tensors="pt")
    mine, expected = our_processor(**call), their_processor(**call)
    assert torch.equal(mine["input_ids"], expected["input_ids"])
    assert torch.equal(mine["attention_mask"], expected["attention_mask"])
    torch.testing.assert_close(mine["pixel_values"], expected["pixel_values"], atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        out, ref = ours(**mine), theirs(**expected)
    torch.testing.assert_close(out.logits_per_image, ref.logits_per_image, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.text_embeds, ref.text_embeds, atol=1e-5, rtol=1e-5)


# -- the scripts --------------------------------------------------------------------------------


def run_in_process(script, argv: list[str]):
    threads = torch.get_num_threads()
    try:
        script.main(argv)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("name, extra", [
    ("train_tiny_vit_digits", ["--steps", "4", "--warmup", "1", "--layers", "1"]),
    ("train_tiny_clip_digits", ["--steps", "4", "--warmup", "1", "--text-layers", "1", "--vision-layers", "1"]),
])
def test_same_seed_gives_bitwise_identical_weights(tmp_path, name, extra, digits):
    from safetensors.torch import load_file

    script = load_script(name)
    for folder in ("a", "b"):
        run_in_process(script, ["--out", str(tmp_path / folder), "--seed", "3", "--log-every", "2", *extra])
    first, second = (load_file(tmp_path / folder / "model.safetensors") for folder in ("a", "b"))
    assert first.keys() == second.keys() and len(first) > 10
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    assert "--seed 3" in read_card(str(tmp_path / "a"))


@pytest.mark.parametrize("name", ["train_tiny_vit_digits", "train_tiny_clip_digits"])
@pytest.mark.parametrize("arguments, message", [
    (["--steps", "0"], "--steps must be at least 1"),
    (["--heads", "3"], "must be divisible by --heads"),
    (["--patch-size", "5"], "must divide the image size 32"),
    (["--steps", "10", "--warmup", "11"], "--warmup 11 must be between 0 and --steps 10"),
])
def test_bad_arguments_are_refused_before_anything_is_written(name, arguments, message, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit):
        load_script(name).main(["--out", str(out), *arguments])
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists()
