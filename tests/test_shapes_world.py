"""The synthetic shapes world (hfexplain.data.shapes) and mAP@0.5 (hfexplain.metrics).

Checked from the pictures, not from the generator's own bookkeeping: each box is exactly the
bounding box of the pixels painted in that shape's colour; every painted pixel lies in a box;
captions name the shapes and relations that the box centres show; the same seed gives the same
pixels; edits re-render; bad input is refused. mAP on hand-made predictions with APs worked out
by hand.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from hfexplain.data.shapes import (
    BACKGROUND,
    COLOURS,
    KINDS,
    Scene,
    Shape,
    ShapesDataset,
    detection_collator,
    generate_scene,
    make_scenes,
    to_hf_dataset,
)
from hfexplain.metrics import box_iou, mean_average_precision

SCENES = make_scenes(60, seed=5)


def colour_mask(pixels: np.ndarray, colour: str) -> np.ndarray:
    return (pixels == np.array(COLOURS[colour], dtype=np.uint8)).all(-1)


def test_boxes_enclose_exactly_the_painted_pixels():
    counts = set()
    for scene in SCENES:
        pixels = scene.pixels()
        boxes = scene.boxes_xyxy()
        counts.add(len(scene.shapes))
        painted = ~(pixels == np.array(BACKGROUND, dtype=np.uint8)).all(-1)
        covered = np.zeros_like(painted)
        for shape, (x0, y0, x1, y1) in zip(scene.shapes, boxes):
            inside = np.zeros_like(painted)
            inside[y0:y1, x0:x1] = True
            mine = colour_mask(pixels, shape.colour) & inside
            rows, cols = np.nonzero(mine)
            assert (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1) == (x0, y0, x1, y1)
            assert not covered[inside].any(), "generated shapes never overlap"
            covered |= inside
        assert not (painted & ~covered).any(), "a painted pixel outside every box"
        # the normalised boxes are the same boxes, as YOLOS's labels take them
        size = scene.image_size
        cx, cy, w, h = scene.boxes().T
        np.testing.assert_allclose(np.stack([(cx - w / 2), (cy - h / 2), (cx + w / 2), (cy + h / 2)], 1) * size,
                                   boxes, atol=1e-5)
        assert ((scene.boxes() >= 0) & (scene.boxes() <= 1)).all()
        assert [KINDS[i] for i in scene.class_labels()] == [shape.kind for shape in scene.shapes]
    assert counts == {1, 2, 3}


CAPTION = re.compile(r"a (small|large) (\w+) (circle|square|triangle)")


def test_captions_follow_the_positions():
    for scene in SCENES:
        caption = scene.caption()
        named = CAPTION.findall(caption)
        assert named == [(s.size, s.colour, s.kind) for s in scene.shapes]
        centres = [((x0 + x1) / 2, (y0 + y1) / 2) for x0, y0, x1, y1 in scene.boxes_xyxy()]
        relations = re.findall(r"(above|below|to the left of|to the right of) (?:a|the)", caption)
        assert len(relations) == len(scene.shapes) - 1
        for index, relation in enumerate(relations):
            a, b = centres[index + 1 if index else 0], centres[0 if index else 1]
            dx, dy = a[0] - b[0], a[1] - b[1]
            expected = {"above": dy < 0, "below": dy > 0, "to the left of": dx < 0, "to the right of": dx > 0}
            assert expected[relation], (caption, centres)
            vertical = relation in ("above", "below")
            assert (abs(dy) >= abs(dx)) == vertical, (caption, centres)
    two = Scene((Shape("circle", "red", (20, 10), "small"), Shape("square", "blue", (22, 40), "small")))
    assert two.caption() == "a small red circle above a small blue square"
    assert two.replace_shape(0, center=(50, 38)).caption() == "a small red circle to the right of a small blue square"


def test_same_seed_same_scene_and_other_seeds_differ():
    again = make_scenes(60, seed=5)
    assert again == SCENES
    assert all(np.array_equal(a.pixels(), b.pixels()) for a, b in zip(again[:5], SCENES[:5]))
    assert make_scenes(3, seed=5) == SCENES[:3]  # scene i does not depend on count
    other = make_scenes(60, seed=6)
    assert sum(a == b for a, b in zip(other, SCENES)) == 0
    assert generate_scene(11, image_size=96) == generate_scene(11, image_size=96)


def test_edit_and_render_again():
    scene = Scene((Shape("triangle", "green", (32, 32), "large", 20),), image_size=64)
    image = scene.render()
    assert image.size == (64, 64) and image.mode == "RGB"
    recoloured = scene.replace_shape(0, colour="yellow", kind="circle")
    assert colour_mask(recoloured.pixels(), "yellow").sum() > colour_mask(scene.pixels(), "green").sum()
    assert recoloured.caption() == "a large yellow circle" and scene.caption() == "a large green triangle"
    square = Scene((Shape("square", "blue", (10, 10), "small", 8),))
    assert square.boxes_xyxy().tolist() == [[6, 6, 14, 14]]  # pixels 6..13: centres 6.5..13.5 within 10 +- 4
    smaller = scene.replace_shape(0, size="small")
    assert smaller.shapes[0].extent == 10.0  # the small size's default extent


def test_dataset_builders_and_collator():
    dataset = ShapesDataset(4, seed=2)
    example = dataset[1]
    assert set(example) == {"image", "caption", "boxes", "boxes_xyxy", "class_labels"}
    assert example["caption"] == make_scenes(2, seed=2)[1].caption()
    torch = pytest.importorskip("torch")
    batch = detection_collator([{"pixel_values": torch.zeros(3, 8, 8), "labels": {
        "boxes": e["boxes"], "class_labels": e["class_labels"]}} for e in (dataset[0], dataset[1])])
    assert batch["pixel_values"].shape == (2, 3, 8, 8)
    assert [len(t["class_labels"]) for t in batch["labels"]] == [len(dataset.scenes[i].shapes) for i in (0, 1)]
    with pytest.raises(KeyError, match="a 'labels' dict .* example 0 has \\['boxes', 'pixel_values'\\]"):
        detection_collator([{"pixel_values": torch.zeros(3, 8, 8), "boxes": dataset[0]["boxes"]}])
    assert torch.equal(batch["labels"][1]["boxes"], torch.from_numpy(example["boxes"]))
    pytest.importorskip("datasets")
    table = to_hf_dataset(dataset.scenes)
    assert table.num_rows == 4 and table[1]["caption"] == example["caption"]
    assert table[1]["boxes_xyxy"] == example["boxes_xyxy"].tolist()
    assert np.array_equal(np.asarray(table[1]["image"]), np.asarray(example["image"]))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"kind must be one of \('circle', 'square', 'triangle'\), got 'star'"):
        Shape("star", "red", (10, 10))
    with pytest.raises(ValueError, match="colour must be one of"):
        Shape("circle", "purple", (10, 10))
    with pytest.raises(ValueError, match="size must be one of"):
        Shape("circle", "red", (10, 10), "huge")
    with pytest.raises(ValueError, match="center must be \\(x, y\\)"):
        Shape("circle", "red", (10,))
    with pytest.raises(ValueError, match="extent must be a number of pixels >= 1"):
        Shape("circle", "red", (10, 10), "small", 0)
    with pytest.raises(ValueError, match="reaches outside the 64x64 image.*at least extent/2 = 10"):
        Scene((Shape("circle", "red", (5, 30), "large", 20),))
    with pytest.raises(ValueError, match="image_size must be a whole number of pixels >= 16"):
        Scene((), image_size=8)
    with pytest.raises(TypeError, match="sequence of Shape"):
        Scene(("circle",))
    with pytest.raises(ValueError, match="1 <= min_shapes <= max_shapes <= 3"):
        generate_scene(0, max_shapes=4)
    with pytest.raises(TypeError, match="seed must be an int or a string"):
        generate_scene(1.5)
    with pytest.raises(ValueError, match="count must be a whole number >= 0"):
        make_scenes(-1)
    with pytest.raises(IndexError, match="this scene has 1 shapes"):
        Scene((Shape("circle", "red", (20, 20)),)).replace_shape(3, colour="blue")
    with pytest.raises(ValueError, match="either count .* or scenes"):
        ShapesDataset()


# --------------------------------------------------------------------------- mAP by hand


def prediction(boxes, labels, scores):
    return {"boxes": np.array(boxes, dtype=float).reshape(-1, 4), "labels": np.array(labels), "scores": np.array(scores)}


def target(boxes, labels):
    return {"boxes": np.array(boxes, dtype=float).reshape(-1, 4), "labels": np.array(labels)}


A, B, C = [0, 0, 10, 10], [20, 20, 30, 30], [40, 0, 50, 10]


def test_map_on_hand_made_predictions():
    perfect = mean_average_precision([prediction([A, B], [0, 0], [0.9, 0.8])], [target([A, B], [0, 0])])
    assert perfect["map"] == 1.0 and perfect["num_targets"] == {0: 2}

    # hit (0.9), miss (0.8), hit (0.7): precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> AP = 1/2 * 1 + 1/2 * 2/3
    ranked = mean_average_precision([prediction([A, C, B], [0, 0, 0], [0.9, 0.8, 0.7])], [target([A, B], [0, 0])])
    assert ranked["per_class"][0] == pytest.approx(0.5 + 0.5 * 2 / 3)

    # a second box on one object is a false positive; the other class has no prediction: AP 0
    duplicate = mean_average_precision(
        [prediction([A, A], [0, 0], [0.9, 0.8]), prediction([], [], [])],
        [target([A], [0]), target([C], [1])])
    assert duplicate["per_class"] == {0: 1.0, 1: 0.0} and duplicate["map"] == 0.5

    # IoU exactly 0.5 counts; just under does not; the right class is needed
    half = [0, 0, 10, 20]  # holds A: IoU 100 / 200
    assert box_iou(np.array([half]), np.array([A]))[0, 0] == 0.5
    assert mean_average_precision([prediction([half], [0], [1.0])], [target([A], [0])])["map"] == 1.0
    under = [0, 0, 10, 20.5]
    assert mean_average_precision([prediction([under], [0], [1.0])], [target([A], [0])])["map"] == 0.0
    assert mean_average_precision([prediction([A], [1], [1.0])], [target([A], [0])])["per_class"] == {0: 0.0}

    # boxes over two images, scores interleaved: hit .9 (img 0), miss .6 (img 1), hit .5 (img 1), 3 targets
    # precision 1, 1/2, 2/3 at recall 1/3, 1/3, 2/3 -> AP = 1/3 * 1 + 1/3 * 2/3
    spread = mean_average_precision(
        [prediction([A], [0], [0.9]), prediction([C, B], [0, 0], [0.6, 0.5])],
        [target([A, [60, 60, 70, 70]], [0, 0]), target([B], [0])])
    assert spread["per_class"][0] == pytest.approx(1 / 3 + 1 / 3 * 2 / 3)

    with pytest.raises(ValueError, match="one of each per image"):
        mean_average_precision([prediction([A], [0], [1.0])], [])
    with pytest.raises(ValueError, match=r"x1 >= x0 .*Convert them to corners"):
        mean_average_precision([prediction([[5, 5, 2, 2]], [0], [1.0])], [target([A], [0])])
    with pytest.raises(ValueError, match="has no \\['scores'\\]"):
        mean_average_precision([target([A], [0])], [target([A], [0])])
