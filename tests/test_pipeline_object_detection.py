"""object-detection pipeline against transformers' on the same tiny YOLOS weights, with images given
as a path, a PIL image (RGB, grey, RGBA), a NumPy array or a list; inspect(); bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")
PIL_Image = pytest.importorskip("PIL.Image")

import parity  # noqa: E402
import test_pipelines_vision  # noqa: E402  (its test images)
from transformers.models.yolos.image_processing_pil_yolos import YolosImageProcessorPil  # noqa: E402

import hfexplain  # noqa: E402

parity.quiet_transformers()

LABELS = {0: "cat", 1: "dog", 2: "car"}
TINY = dict(image_size=[32, 32], patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, num_detection_tokens=5, num_labels=3, id2label=LABELS,
            label2id={name: index for index, name in LABELS.items()})


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("detection")
    path, _ = parity.save_reference(transformers.YolosForObjectDetection, TINY, root / "yolos")
    YolosImageProcessorPil(size={"shortest_edge": 32, "longest_edge": 64}).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def pipes(folder):
    return hfexplain.pipeline("object-detection", model=folder), transformers.pipeline("object-detection", model=folder)


def pictures(root) -> list:
    """The image pipelines' test images (a path, PIL RGB, grey and RGBA, a NumPy array), then a wide one."""
    wide = PIL_Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 70, 3), dtype=np.uint8))
    return test_pipelines_vision.images(root) + [wide]


def as_transformers_input(picture):
    return PIL_Image.fromarray(picture) if isinstance(picture, np.ndarray) else picture  # it takes no arrays


def same_detections(ours, theirs, atol=1e-6):
    assert [(row["label"], row["box"]) for row in ours] == [(row["label"], row["box"]) for row in theirs]
    assert all(abs(a["score"] - b["score"]) <= atol for a, b in zip(ours, theirs))


def test_object_detection_matches_transformers(pipes, tmp_path):
    ours, theirs = pipes
    assert type(ours.model).__name__ == type(theirs.model).__name__ == "YolosForObjectDetection"
    images = pictures(tmp_path)
    wide = images[-1]
    everything = theirs(wide, threshold=0.0)
    assert len(everything) == 5 and set(everything[0]) == {"score", "label", "box"}
    middle = sorted(row["score"] for row in everything)[2]  # a threshold that keeps some and drops some
    for picture in images:  # a NumPy array is an hfexplain extra: compared with transformers on its PIL image
        for threshold in (0.0, middle):
            same_detections(ours(picture, threshold=threshold), theirs(as_transformers_input(picture),
                                                                       threshold=threshold))
    kept = ours(wide, threshold=middle)
    assert 0 < len(kept) < 5 and all(row["score"] > middle for row in kept)
    same_detections(ours(wide), theirs(wide))  # the default threshold, 0.5
    batched = ours(images, threshold=0.0)  # a list in, a list of lists out
    expected = theirs([as_transformers_input(picture) for picture in images], threshold=0.0)
    assert len(batched) == len(images)
    for mine, ref in zip(batched, expected):
        same_detections(mine, ref)
    # boxes are in pixels of the original image: x against its width (70), y against its height (40)
    box = ours(wide, threshold=0.0)[0]["box"]
    assert -70 < box["xmin"] <= box["xmax"] < 140 and -40 < box["ymin"] <= box["ymax"] < 80


def test_inspect_shows_the_patch_grid_and_the_detection_tokens(pipes, tmp_path):
    ours, _ = pipes
    picture = pictures(tmp_path)[-1]  # 40 x 70 -> resized to 32 x 48 (multiples of 16, aspect kept)
    inspection = ours.inspect(picture, threshold=0.0)
    assert inspection.output == ours(picture, threshold=0.0)
    assert inspection.model_inputs[0]["pixel_values"].shape == (1, 3, 32, 48)
    assert inspection.details["patch_grid"] == (4, 6) and inspection.details["target_size"] == (40, 70)
    assert "25..29 = the 5 detection tokens" in inspection.details["positions"]
    assert inspection.probabilities.shape == (5, 4) and inspection.details["pred_boxes"].shape == (5, 4)
    assert "'no object'" in inspection.decision and "kept the 5 token(s)" in inspection.decision
    torch.testing.assert_close(inspection.details["scores"].sort(descending=True).values,
                               torch.tensor(sorted((row["score"] for row in inspection.output), reverse=True)))
    cache = ours.inspect(picture, cache="pattern").caches[0]
    assert cache["pattern", 1].shape == (1, 4, 1 + 24 + 5, 1 + 24 + 5)


def test_the_task_is_guessed_and_same_size_images_batch(folder, tmp_path):
    model = hfexplain.AutoModelForObjectDetection.from_pretrained(folder)
    pipe = hfexplain.pipeline(model=model, image_processor=folder)
    assert type(pipe).__name__ == "ObjectDetectionPipeline"
    rng = np.random.default_rng(1)
    same_size = [PIL_Image.fromarray(rng.integers(0, 256, (40, 70, 3), dtype=np.uint8)) for _ in range(3)]
    assert pipe(same_size, batch_size=2, threshold=0.0) == pipe(same_size, threshold=0.0)


def test_bad_inputs_name_the_fix(pipes, folder, tmp_path):
    pipe, _ = pipes
    with pytest.raises(ValueError, match="not an image file .*a string is read as a path"):
        pipe("a photo of a cat")
    with pytest.raises(ValueError, match="not an image file"):
        pipe(str(tmp_path / "missing.png"))
    with pytest.raises(TypeError, match="takes an image .*got dict"):
        pipe({"image": 1})
    for shape in ((10, 10, 2), (5, 10, 12)):
        with pytest.raises(ValueError, match=r"needs 1 \(grey\), 3 \(RGB\) or 4 \(RGBA\) channels"):
            pipe(np.zeros(shape, dtype=np.uint8))
    with pytest.raises(TypeError, match="threshold must be a number"):
        pipe(pictures(tmp_path)[-1], threshold="high")
    images = pictures(tmp_path)[-2:]  # 33 x 31 and 40 x 70: 32 x 32 and 32 x 48 after resizing
    with pytest.raises(ValueError, match="different sizes .*Use batch_size=1"):
        pipe(images, batch_size=2)
    bare = hfexplain.YolosModel(hfexplain.YolosConfig(**TINY))
    with pytest.raises(ValueError, match="needs a model with a object detection head"):
        hfexplain.pipeline("object-detection", model=bare, image_processor=folder)
