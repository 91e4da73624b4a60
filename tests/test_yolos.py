"""YOLOS parity: hfexplain.models.yolos against transformers' YOLOS on the same weights and images.

Every checkpoint is written by transformers (tiny random configs: 32x32 or 32x48 images, 8x8
patches, hidden 32, 2 layers, 5 detection tokens, with and without the mid-layer position
embeddings), loaded by both libraries and compared: logits, pred_boxes, last_hidden_state,
hidden states and eager attention patterns, the SDPA fast path, the hook aliases, images of
other sizes (the positions are resized: always, in both), save -> transformers strictly. Then
YolosImageProcessor against transformers' YolosImageProcessorPil on varied images,
post_process_object_detection against theirs, the Auto classes, and bad input.
"""
from __future__ import annotations


import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")
PIL_Image = pytest.importorskip("PIL.Image")

import parity  # noqa: E402
import parity_vision  # noqa: E402
import test_vit  # noqa: E402  (its test images)
from test_vit import random_image  # noqa: E402
from transformers.models.yolos.image_processing_pil_yolos import YolosImageProcessorPil  # noqa: E402

import hfexplain  # noqa: E402
from hfexplain.models.yolos import (  # noqa: E402
    YolosConfig,
    YolosForObjectDetection,
    YolosImageProcessor,
    YolosModel,
    get_size_with_aspect_ratio_yolos,
)

parity.quiet_transformers()

TINY = dict(image_size=[32, 32], patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, num_detection_tokens=5, num_labels=3)
CONFIGS = {
    "mid": {**TINY, "use_mid_position_embeddings": True},
    # no mid-layer positions, a grid that is not square (4 x 6 patches), another activation, no q/k/v bias
    "plain_wide": {**TINY, "use_mid_position_embeddings": False, "image_size": [32, 48], "hidden_act": "gelu_new",
                   "qkv_bias": False, "layer_norm_eps": 1e-6},
}
PAIRS = [(transformers.YolosModel, YolosModel), (transformers.YolosForObjectDetection, YolosForObjectDetection)]
OTHER_SIZES = [(40, 56), (27, 19)]  # larger, and smaller than trained and not a multiple of the patch
DIFFS: dict[str, float] = {}


def record(what: str, ours, theirs) -> None:
    DIFFS[what] = max(DIFFS.get(what, 0.0), parity_vision.largest_difference(ours, theirs))


def every_position(output) -> torch.Tensor:
    return torch.ones(output.last_hidden_state.shape[:2], dtype=torch.bool)  # an image has no padding


@pytest.mark.parametrize("reference_class, our_class, config", parity.cases(PAIRS, CONFIGS))
def test_parity(reference_class, our_class, config, tmp_path):
    folder, _ = parity.save_reference(reference_class, config, tmp_path / "reference")
    reference = reference_class.from_pretrained(folder, attn_implementation="eager").eval()
    ours = our_class.from_pretrained(folder)
    assert type(ours).__name__ == type(reference).__name__
    height, width = config["image_size"]
    pixel_values = parity_vision.make_pixel_values(ours.config, height, width)
    layers = ours.config.num_hidden_layers

    with torch.no_grad():
        expected = reference(pixel_values, output_hidden_states=True, output_attentions=True)
        actual, cache = ours.run_with_cache(pixel_values, output_hidden_states=True, output_attentions=True)
    assert len(actual.hidden_states) == layers + 1 and len(actual.attentions) == layers
    parity.assert_outputs_match(actual, expected, every_position(expected))
    record("outputs, hidden states, patterns", actual, expected)
    seq = 1 + (height // 8) * (width // 8) + 5
    assert actual.last_hidden_state.shape == (3, seq, 32)
    if hasattr(expected, "pred_boxes"):
        assert actual.logits.shape == (3, 5, 4) and actual.pred_boxes.shape == (3, 5, 4)
        assert (actual.pred_boxes > 0).all() and (actual.pred_boxes < 1).all()  # sigmoid boxes
        parity.assert_close(cache["class_logits"], expected.logits, "alias class_logits")

    # hooks: resid_post = hidden_states[i + 1]; resid_pre adds the mid-layer positions; pattern = eager attentions
    for layer in range(layers):
        parity.assert_close(cache["resid_post", layer], expected.hidden_states[layer + 1], f"resid_post {layer}")
        parity.assert_close(cache["pattern", layer], expected.attentions[layer], f"pattern {layer}")
    parity.assert_close(cache["resid_pre", 0], expected.hidden_states[0], "resid_pre 0")
    mid_name = ("" if isinstance(ours, YolosModel) else "vit.") + "encoder.hook_mid_pos_embed"
    if ours.config.use_mid_position_embeddings:
        reference_mid = reference.base_model.encoder.interpolation.mid_position_embeddings  # transformers 5's name
        parity.assert_close(cache[mid_name], reference_mid, "mid positions")
        parity.assert_close(cache["resid_pre", 1], expected.hidden_states[1] + reference_mid[0], "resid_pre 1")
    else:
        parity.assert_close(cache["resid_pre", 1], expected.hidden_states[1], "resid_pre 1")
    parity.assert_close(cache["final"], expected.last_hidden_state, "alias final")

    # the fast path (nobody watches attention: SDPA) against transformers' default
    reference_fast = reference_class.from_pretrained(folder).eval()
    with torch.no_grad():
        plain, plain_expected = ours(pixel_values), reference_fast(pixel_values)
    assert plain.attentions is None and plain.hidden_states is None
    parity.assert_outputs_match(plain, plain_expected, every_position(plain_expected), what="fast path: ")
    record("fast path", plain, plain_expected)

    # other sizes: the (initial and mid-layer) positions are resized to the new patch grid
    for size in OTHER_SIZES:
        other = parity_vision.make_pixel_values(ours.config, *size, seed=2)
        with torch.no_grad():
            resized, resized_expected = (model(other, output_hidden_states=True, output_attentions=True)
                                         for model in (ours, reference))
        parity.assert_outputs_match(resized, resized_expected, every_position(resized_expected), what=f"{size}: ")
        record("other image sizes", resized, resized_expected)
        assert resized.last_hidden_state.shape[1] == 1 + (size[0] // 8) * (size[1] // 8) + 5

    # ours, saved, loads in transformers strictly (through its in-memory renaming of the mid positions), and back
    parity_vision.check_saved_loads_in_transformers(ours, reference_class, folder, tmp_path / "ours", pixel_values)

def test_positions_detection_tokens_and_the_resized_grid():
    torch.manual_seed(0)
    model = YolosForObjectDetection(YolosConfig(**{**TINY, "image_size": [32, 48]})).eval()
    with torch.no_grad():
        for parameter in (model.vit.embeddings.position_embeddings, model.vit.embeddings.detection_tokens,
                          model.vit.encoder.mid_position_embeddings):
            parameter.normal_()
    assert model.hook_stacks() == [] and model.num_hook_layers() == 2
    assert model.hook_name("pos_embed") == "vit.embeddings.hook_pos_embed"
    pixel_values = parity_vision.make_pixel_values(model.config, 40, 56)  # a 5 x 7 grid instead of 4 x 6
    with torch.no_grad():
        _, cache = model.run_with_cache(pixel_values)
    n = 5 * 7
    embeddings = model.vit.embeddings
    assert cache["embed"].shape == (3, 1 + n + 5, 32)
    torch.testing.assert_close(cache["embed"][:, 0], embeddings.cls_token[0].expand(3, -1))  # [CLS] first
    torch.testing.assert_close(cache["embed"][:, -5:], embeddings.detection_tokens.expand(3, -1, -1))  # D last
    positions = cache["pos_embed"]  # (1, s, d): [CLS]'s and the detection tokens' rows kept, patches resized
    torch.testing.assert_close(positions[:, 0], embeddings.position_embeddings[:, 0])
    torch.testing.assert_close(positions[:, -5:], embeddings.position_embeddings[:, -5:])
    grid = embeddings.position_embeddings[0, 1:-5].T.reshape(1, 32, 4, 6)  # (1, d, 4, 6) learned grid
    resized = torch.nn.functional.interpolate(grid, size=(5, 7), mode="bicubic", align_corners=False)
    torch.testing.assert_close(positions[0, 1:-5], resized[0].flatten(1).T)
    assert cache["vit.encoder.hook_mid_pos_embed"].shape == (1, 1, 1 + n + 5, 32)  # (L-1, 1, s, d)
    mid = cache["vit.encoder.hook_mid_pos_embed"]
    torch.testing.assert_close(cache["resid_pre", 1], cache["resid_post", 0] + mid[0])
    assert cache["hook_pred_boxes"].shape == (3, 5, 4)


# ------------------------------------------------------------------ the image processor

def varied_images(folder) -> dict:
    """ViT's test images (sizes, grey, RGBA, uint8 and float arrays in both channel orders, PIL, a path, a list)
    and a tall one."""
    return {**test_vit.varied_images(folder), "pil_tall": PIL_Image.fromarray(random_image((70, 25, 3)))}


SETTINGS = {
    "shortest_longest": dict(size={"shortest_edge": 32, "longest_edge": 64}),
    "int_size_bicubic": dict(size=24, max_size=64, resample=3),
    "exact": dict(size={"height": 20, "width": 36}, image_mean=[0.2, 0.3, 0.4], image_std=[0.5, 0.6, 0.7]),
    "max_hw_no_pad": dict(size={"max_height": 40, "max_width": 30}, do_pad=False),
    "pad_size_rgb": dict(size={"shortest_edge": 16, "longest_edge": 96}, pad_size={"height": 50, "width": 60},
                         do_convert_rgb=True),
    "raw": dict(size={"shortest_edge": 16, "longest_edge": 64}, do_normalize=False, do_rescale=False),
}
PROCESSOR_DIFFS: list[float] = []


def assert_same_batch(ours, theirs, what):
    assert list(ours) == list(theirs), (what, list(ours), list(theirs))  # pixel_mask where transformers has one
    for key in ours:
        assert ours[key].dtype == theirs[key].dtype and ours[key].shape == theirs[key].shape, (what, key)
        difference = (ours[key].double() - theirs[key].double()).abs().max().item()
        PROCESSOR_DIFFS.append(difference)
        assert difference <= 1e-5, (what, key, difference)


@pytest.mark.parametrize("setting", SETTINGS)
def test_image_processor_matches_transformers(setting, tmp_path):
    ours, theirs = YolosImageProcessor(**SETTINGS[setting]), YolosImageProcessorPil(**SETTINGS[setting])
    normalises_rgb = ours.do_normalize and not ours.do_convert_rgb
    images = varied_images(tmp_path)
    compared = []
    for name, image in images.items():
        if name == "list" and not ours.do_pad:
            continue  # images of different sizes do not stack without padding
        if normalises_rgb and getattr(image, "mode", None) in ("L", "RGBA"):
            with pytest.raises(ValueError, match="do_convert_rgb=True"):  # transformers refuses them too
                ours(image)
            with pytest.raises(ValueError, match="mean must have"):
                theirs(image)
            continue
        assert_same_batch(ours(image, return_tensors="pt"), theirs(image, return_tensors="pt"), (setting, name))
        compared.append(image)
    assert len(compared) >= 8
    if ours.do_pad:  # a batch of different sizes: padded to the largest, pixel_mask marks the real pixels
        batch = [compared[0], compared[1], compared[4]]
        mine, ref = ours(batch, return_tensors="pt"), theirs(batch, return_tensors="pt")
        assert_same_batch(mine, ref, (setting, "batch"))
        assert mine["pixel_mask"].dtype == torch.int64 and 0 < mine["pixel_mask"].float().mean() <= 1


def test_default_sizes_settings_and_what_is_saved_match(tmp_path):
    image = varied_images(tmp_path)["pil_rgb"]
    ours, theirs = YolosImageProcessor(), YolosImageProcessorPil()
    assert_same_batch(ours(image, return_tensors="pt"), theirs(image, return_tensors="pt"), "defaults")
    assert ours(image, return_tensors="pt")["pixel_values"].shape == (1, 3, 800, 1200)
    ours_dict = ours.to_dict()
    for key, ref in theirs.to_dict().items():
        ref = getattr(ref, "value", ref)
        assert ours_dict[key] == (list(ref) if isinstance(ref, tuple) else ref), key
    # what we save, transformers' AutoImageProcessor loads and runs the same way (and ours loads back)
    YolosImageProcessor(size={"shortest_edge": 32, "longest_edge": 48}).save_pretrained(tmp_path / "ours")
    loaded = transformers.AutoImageProcessor.from_pretrained(tmp_path / "ours")
    back = hfexplain.AutoImageProcessor.from_pretrained(tmp_path / "ours")
    assert type(back) is YolosImageProcessor
    assert_same_batch(back(image, return_tensors="pt"), loaded(image, return_tensors="pt"), "saved")
    # per-call overrides
    call = dict(size={"height": 9, "width": 14}, do_normalize=False, resample=0, do_pad=False)
    assert_same_batch(ours(image, **call, return_tensors="pt"), theirs(image, **call, return_tensors="pt"), "call")


@pytest.mark.parametrize("image_size, size", [((480, 640), 800), ((700, 300), 800), ((123, 456), 60),
                                              ((600, 800), 600), ((300, 1900), 800), ((37, 37), 37)])
def test_aspect_ratio_sizes_are_yolos_own(image_size, size):
    from transformers.models.yolos.image_processing_pil_yolos import get_size_with_aspect_ratio_yolos as theirs

    assert get_size_with_aspect_ratio_yolos(image_size, size, 1333) == theirs(image_size, size, 1333)
    assert all(side % 16 == 0 for side in get_size_with_aspect_ratio_yolos(image_size, size, 1333))


def test_post_process_object_detection_matches_transformers():
    generator = torch.Generator().manual_seed(0)
    outputs = transformers.models.yolos.modeling_yolos.YolosObjectDetectionOutput(
        logits=torch.randn(2, 7, 4, generator=generator) * 2, pred_boxes=torch.rand(2, 7, 4, generator=generator))
    ours, theirs = YolosImageProcessor(), YolosImageProcessorPil()
    for threshold in (0.0, 0.4, 0.6, 1.0):
        for target_sizes in (None, [(30, 50), (64, 20)], torch.tensor([[30, 50], [64, 20]], dtype=torch.int32)):
            mine = ours.post_process_object_detection(outputs, threshold, target_sizes)
            ref = theirs.post_process_object_detection(outputs, threshold, target_sizes)
            for row, expected in zip(mine, ref):
                assert row.keys() == expected.keys()
                for key in row:
                    assert row[key].dtype == expected[key].dtype and torch.equal(row[key], expected[key]), key
    kept = ours.post_process_object_detection(outputs, 0.4)
    assert 0 < sum(len(row["scores"]) for row in kept) < 14  # the threshold keeps some and drops some
    corners = ours.post_process_object_detection(outputs, 0.0, [(10, 100)] * 2)[0]["boxes"]
    cx, cy, w, h = outputs.pred_boxes[0].unbind(-1)
    torch.testing.assert_close(corners[:, 0], (cx - w / 2) * 100)
    torch.testing.assert_close(corners[:, 3], (cy + h / 2) * 10)


# ------------------------------------------------------------------ Auto classes from a transformers folder


def test_auto_classes_load_a_transformers_folder(tmp_path):
    folder, _ = parity.save_reference(transformers.YolosForObjectDetection, TINY, tmp_path / "ref")
    YolosImageProcessorPil(size={"shortest_edge": 32, "longest_edge": 64}).save_pretrained(folder)
    processor = hfexplain.AutoImageProcessor.from_pretrained(folder)
    assert type(processor) is YolosImageProcessor
    model = hfexplain.AutoModelForObjectDetection.from_pretrained(folder)
    assert type(model) is YolosForObjectDetection
    with pytest.warns(UserWarning, match="pooler.dense|class_labels_classifier"):  # no pooler; unused heads
        assert type(hfexplain.AutoModel.from_pretrained(folder)) is YolosModel
    assert hfexplain.YolosForObjectDetection is YolosForObjectDetection
    assert hfexplain.YolosImageProcessor is YolosImageProcessor
    reference = transformers.YolosForObjectDetection.from_pretrained(folder).eval()
    images = [image for image in varied_images(tmp_path).values() if getattr(image, "mode", "RGB") == "RGB"][:4]
    their_processor = transformers.AutoImageProcessor.from_pretrained(folder)
    with torch.no_grad():
        inputs = processor(images, return_tensors="pt")
        assert set(inputs) == {"pixel_values", "pixel_mask"}
        ours = model(pixel_values=inputs["pixel_values"])  # YOLOS takes no pixel_mask (nor does transformers')
        expected = reference(**their_processor(images, return_tensors="pt"))
    parity.assert_close(ours.logits, expected.logits, "logits from images")
    parity.assert_close(ours.pred_boxes, expected.pred_boxes, "boxes from images")


# ------------------------------------------------------------------ bad input


def test_bad_images_name_the_problem_and_the_fix(tmp_path):
    processor = YolosImageProcessor(size={"shortest_edge": 16, "longest_edge": 32})
    with pytest.raises(ValueError, match="no image file at .*missing.png.*path of an existing image file"):
        processor(str(tmp_path / "missing.png"))
    with pytest.raises(TypeError, match="images must be a PIL image, an image file path.*got dict"):
        processor({"pixels": [1, 2, 3]})
    for shape in ((10, 12, 2), (5, 10, 12)):
        with pytest.raises(ValueError, match=r"needs 1 \(grey\), 3 \(RGB\) or 4 \(RGBA\) channels.*convert\('RGB'\)"):
            processor(random_image(shape))
    image = random_image((20, 30, 3))
    with pytest.raises(NotImplementedError, match="annotations .*issue 15"):
        processor(image, annotations={"image_id": 0, "annotations": []})
    with pytest.raises(ValueError, match=r"pad_size \(10, 30\) is smaller than an image of 16x16 after resizing"):
        processor(image, pad_size={"height": 10, "width": 30})
    with pytest.raises(ValueError, match="pad_size must be a dict with 'height' and 'width'"):
        YolosImageProcessor(pad_size=30)
    with pytest.raises(ValueError, match="multiple of 16. Use a shortest_edge of at least 16"):
        YolosImageProcessor(size={"shortest_edge": 8, "longest_edge": 32})(image)
    with pytest.raises(ValueError, match="add 'longest_edge'"):  # transformers refuses a shortest_edge alone too
        processor(image, size=20)
    with pytest.raises(ValueError, match="as many target sizes|one \\(height, width\\) per image"):
        processor.post_process_object_detection({"logits": torch.zeros(2, 3, 4), "pred_boxes": torch.zeros(2, 3, 4)},
                                                target_sizes=[(10, 10)])


def test_bad_model_input_names_the_fix():
    model = YolosForObjectDetection(YolosConfig(**TINY)).eval()
    good = parity_vision.make_pixel_values(model.config)
    with pytest.raises(ValueError, match=r"have 4 channels but this YolosModel reads 3.*convert\('RGB'\)"):
        model(torch.randn(1, 4, 32, 32))
    with pytest.raises(ValueError, match=r"rank 3.*unsqueeze\(0\)"):
        model(good[0])
    with pytest.raises(TypeError, match="raw pixel bytes. Run the image processor"):
        model((good * 100).to(torch.uint8))
    with pytest.raises(ValueError, match="smaller than one patch"):
        model(torch.randn(1, 3, 4, 32))
    with pytest.raises(ValueError, match="multiple of patch_size"):
        YolosConfig(image_size=[30, 32], patch_size=8)
    with pytest.raises(ValueError, match="num_detection_tokens must be a whole number >= 1"):
        YolosConfig(**{**TINY, "num_detection_tokens": 0})
    with pytest.raises(ValueError, match="divisible by num_attention_heads"):
        YolosConfig(**{**TINY, "num_attention_heads": 5})


def test_record_max_abs_differences():
    """Runs last: prints what the parity cases measured (pytest -s shows it)."""
    if not DIFFS or not PROCESSOR_DIFFS:
        pytest.skip("run with the parity cases")
    print("YOLOS max abs diffs:", {k: f"{v:.2e}" for k, v in DIFFS.items()},
          f"processor: {max(PROCESSOR_DIFFS):.2e} over {len(PROCESSOR_DIFFS)} tensors")
    assert max(DIFFS.values()) <= parity.ATOL and max(PROCESSOR_DIFFS) <= 1e-5
