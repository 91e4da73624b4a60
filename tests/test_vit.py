"""ViT parity: hfexplain.models.vit against transformers' ViT on the same weights and images.

Every checkpoint is written by transformers (tiny random configs: 32x32 images, 8x8 patches,
hidden 32, 2 layers), loaded by both libraries and compared through tests/parity_vision.py
(outputs, hidden states, eager patterns, the SDPA fast path, hook aliases, another image
size with interpolate_pos_encoding, save -> transformers). Then ViTImageProcessor against
transformers' ViTImageProcessorPil (what AutoImageProcessor gives there without torchvision)
on varied images, the Auto classes from a transformers-saved folder, and bad input.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")
PIL_Image = pytest.importorskip("PIL.Image")

import parity  # noqa: E402
import parity_vision  # noqa: E402
from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil  # noqa: E402

import hfexplain  # noqa: E402
from hfexplain.models.vit import ViTConfig, ViTForImageClassification, ViTImageProcessor, ViTModel  # noqa: E402

parity.quiet_transformers()

TINY = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, num_labels=3)
CONFIGS = {
    "tiny": TINY,
    # another activation and pooler, no q/k/v bias, a pooler wider than the stream
    "variant": {**TINY, "hidden_act": "gelu_new", "qkv_bias": False, "pooler_output_size": 40,
                "pooler_act": "relu", "layer_norm_eps": 1e-6},
}
PAIRS = [(transformers.ViTModel, ViTModel), (transformers.ViTForImageClassification, ViTForImageClassification)]
DIFFS: dict[str, float] = {}


@pytest.mark.parametrize("reference_class, our_class, config", parity.cases(PAIRS, CONFIGS))
def test_parity(reference_class, our_class, config, tmp_path):
    parity_vision.check_vision_parity(reference_class, our_class, config, tmp_path, record=DIFFS)


def test_hooks_have_the_shared_names_and_positions_are_cls_then_patches():
    model = ViTModel(ViTConfig(**TINY)).eval()
    assert model.main_input_name == "pixel_values" and model.hook_stacks() == []
    assert model.hook_name("q", 1) == "encoder.layer.1.attention.attention.hook_q"
    assert model.hook_name("embed") == "embeddings.hook_embed"
    assert model.num_hook_layers() == 2
    pixel_values = parity_vision.make_pixel_values(model.config)
    with torch.no_grad():
        _, cache = model.run_with_cache(pixel_values)
    seq = 1 + (32 // 8) ** 2  # [CLS] + 16 patches
    assert cache["embed"].shape == (3, seq, 32) and cache["pattern", 0].shape == (3, 4, seq, seq)
    torch.testing.assert_close(cache["embed"][:, 0], model.embeddings.cls_token[0].expand(3, -1))
    # patch i is the Conv2d over pixels [8r:8r+8, 8c:8c+8], r, c = divmod(i, 4)
    weight, bias = model.embeddings.patch_embeddings.projection.weight, model.embeddings.patch_embeddings.projection.bias
    row, col = divmod(6, 4)
    patch = pixel_values[:, :, 8 * row:8 * row + 8, 8 * col:8 * col + 8]  # (b, c, 8, 8)
    torch.testing.assert_close(cache["embed"][:, 1 + 6], patch.flatten(1) @ weight.flatten(1).T + bias)
    torch.testing.assert_close(model.get_final_norm()(cache["resid_post", 1]), cache["final"])


def test_a_pattern_hook_changes_the_output_like_transformers_head_mask(tmp_path):
    """Zeroing head 1's pattern in layer 0 through a hook = transformers' eager attention with that head's
    weights zeroed (its value projection rows set to zero)."""
    folder, _ = parity.save_reference(transformers.ViTModel, TINY, tmp_path / "ref")
    ours = ViTModel.from_pretrained(folder)
    reference = transformers.ViTModel.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        value = reference.layers[0].attention.v_proj
        value.weight[8:16] = 0  # head 1 of 4, head dim 8
        value.bias[8:16] = 0
        pixel_values = parity_vision.make_pixel_values(ours.config)

        def zero_head(pattern, hook):
            pattern = pattern.clone()
            pattern[:, 1] = 0
            return pattern

        hooked = ours.run_with_hooks(pixel_values, fwd_hooks=[(ours.hook_name("pattern", 0), zero_head)])
        parity.assert_close(hooked.last_hidden_state, reference(pixel_values).last_hidden_state, "hooked")


# ------------------------------------------------------------------ the image processor

RNG = np.random.default_rng(0)


def random_image(shape, dtype=np.uint8):
    if dtype == np.uint8:
        return RNG.integers(0, 256, shape, dtype=np.uint8)
    return RNG.random(shape).astype(dtype)


def varied_images(folder) -> dict:
    """Sizes, grey (L), RGBA, uint8 and float arrays in both channel orders, PIL images, paths, lists."""
    path = os.path.join(folder, "photo.png")
    PIL_Image.fromarray(random_image((27, 41, 3))).save(path)
    return {
        "pil_rgb": PIL_Image.fromarray(random_image((20, 30, 3))),
        "pil_large": PIL_Image.fromarray(random_image((70, 50, 3))),
        "pil_grey": PIL_Image.fromarray(random_image((18, 25))),
        "pil_rgba": PIL_Image.fromarray(random_image((21, 17, 4))),
        "uint8_hwc": random_image((33, 31, 3)),
        "uint8_chw": random_image((3, 16, 24)),
        "float_hwc": random_image((20, 30, 3), np.float32),
        "float64_chw": random_image((3, 12, 40), np.float64),
        "torch_chw": torch.from_numpy(random_image((3, 26, 19))),
        "path": path,
        "list": [PIL_Image.fromarray(random_image((20, 30, 3))), random_image((3, 16, 24)), path],
    }


SETTINGS = {
    "defaults": {},
    "tiny": dict(size={"height": 32, "width": 32}),
    "int_size_bicubic": dict(size=12, resample=3),
    "shortest_edge": dict(size={"shortest_edge": 10}, do_normalize=False),
    "no_resize": dict(do_resize=False, image_mean=[0.2, 0.3, 0.4], image_std=[0.5, 0.6, 0.7]),
    "rgb": dict(size=16, do_convert_rgb=True),
    "raw": dict(size=16, do_normalize=False, do_rescale=False),
}
PROCESSOR_DIFFS: list[float] = []


def one_channel_or_four(image) -> bool:
    return (getattr(image, "mode", None) in ("L", "RGBA"))


@pytest.mark.parametrize("setting", SETTINGS)
def test_image_processor_matches_transformers(setting, tmp_path):
    ours, theirs = ViTImageProcessor(**SETTINGS[setting]), ViTImageProcessorPil(**SETTINGS[setting])
    normalises_rgb = ours.do_normalize and not ours.do_convert_rgb
    compared = 0
    for name, image in varied_images(tmp_path).items():
        if setting == "no_resize" and name in ("list", "pil_large"):
            continue  # images of different sizes do not stack without resizing
        if normalises_rgb and one_channel_or_four(image):
            with pytest.raises(ValueError, match="do_convert_rgb=True"):  # transformers refuses them too
                ours(image)
            with pytest.raises(ValueError, match="mean must have"):
                theirs(image)
            continue
        mine, ref = (p(image, return_tensors="pt").pixel_values for p in (ours, theirs))
        assert mine.dtype == ref.dtype and mine.shape == ref.shape, (name, mine.shape, ref.shape)
        difference = (mine - ref).abs().max().item()
        PROCESSOR_DIFFS.append(difference)
        assert difference <= 1e-5, (setting, name, difference)
        compared += 1
    assert compared >= 6


def test_image_processor_settings_and_per_call_overrides_match(tmp_path):
    image = varied_images(tmp_path)["pil_rgb"]
    ours, theirs = ViTImageProcessor(), ViTImageProcessorPil()
    keys = ("size", "resample", "image_mean", "image_std", "do_resize", "do_rescale", "do_normalize", "rescale_factor")
    ours_dict, theirs_dict = ours.to_dict(), theirs.to_dict()
    for key in keys:
        mine, ref = ours_dict[key], theirs_dict[key]
        assert (list(mine) if isinstance(mine, tuple) else mine) == (list(ref) if isinstance(ref, tuple) else ref), key
    call = dict(size={"height": 9, "width": 14}, do_normalize=False, resample=0)
    mine, ref = ours(image, **call, return_tensors="np").pixel_values, theirs(image, **call, return_tensors="np").pixel_values
    assert mine.shape == (1, 3, 9, 14) and np.abs(mine - ref).max() <= 1e-6


# ------------------------------------------------------------------ Auto classes from a transformers folder


def test_auto_classes_load_a_transformers_folder(tmp_path):
    folder, _ = parity.save_reference(transformers.ViTForImageClassification, TINY, tmp_path / "ref")
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)
    processor = hfexplain.AutoImageProcessor.from_pretrained(folder)
    assert type(processor) is ViTImageProcessor
    model = hfexplain.AutoModelForImageClassification.from_pretrained(folder)
    assert type(model) is ViTForImageClassification
    with pytest.warns(UserWarning, match="pooler.dense.weight|classifier.weight"):  # no pooler; an unused head
        assert type(hfexplain.AutoModel.from_pretrained(folder)) is ViTModel
    assert hfexplain.ViTModel is ViTModel and hfexplain.ViTImageProcessor is ViTImageProcessor
    reference = transformers.ViTForImageClassification.from_pretrained(folder).eval()
    images = list(varied_images(tmp_path).values())[:4]
    images = [image.convert("RGB") if hasattr(image, "convert") else image for image in images]
    with torch.no_grad():
        ours = model(**processor(images, return_tensors="pt")).logits
        theirs = reference(**transformers.AutoImageProcessor.from_pretrained(folder)(images, return_tensors="pt")).logits
    parity.assert_close(ours, theirs, "logits from images")


# ------------------------------------------------------------------ bad input


def test_bad_images_name_the_problem_and_the_fix(tmp_path):
    processor = ViTImageProcessor(size=8)
    with pytest.raises(ValueError, match=r"no image file at 'a cat'.*path of an existing image file, a PIL image"):
        processor("a cat")
    with pytest.raises(ValueError, match="no image file at .*missing.png"):
        processor(str(tmp_path / "missing.png"))
    with pytest.raises(TypeError, match="images must be a PIL image, an image file path.*got dict"):
        processor({"pixels": [1, 2, 3]})
    for shape in ((10, 12, 2), (5, 10, 12)):
        with pytest.raises(ValueError, match=r"needs 1 \(grey\), 3 \(RGB\) or 4 \(RGBA\) channels.*convert\('RGB'\)"):
            processor(random_image(shape))
    with pytest.raises(ValueError, match="this one has 2"):  # the axis said, the count still wrong
        processor(random_image((2, 10, 12)), input_data_format="channels_first")
    with pytest.raises(ValueError, match="is a URL; hfexplain does not download"):
        processor("https://example.com/cat.png")


def test_bad_pixel_values_name_the_fix():
    model = ViTForImageClassification(ViTConfig(**TINY)).eval()
    good = parity_vision.make_pixel_values(model.config)
    with pytest.raises(ValueError, match=r"Input image size \(40\*32\) doesn't match model \(32\*32\).*"
                                         r"config.image_size.*interpolate_pos_encoding=True"):
        model(torch.randn(1, 3, 40, 32))
    with pytest.raises(ValueError, match=r"have 4 channels but this ViTModel reads 3.*convert\('RGB'\)"):
        model(torch.randn(1, 4, 32, 32))
    with pytest.raises(ValueError, match=r"rank 3.*unsqueeze\(0\)"):
        model(good[0])
    with pytest.raises(TypeError, match="raw pixel bytes. Run the image processor"):
        model((good * 100).to(torch.uint8))
    with pytest.raises(TypeError, match="must be a torch.Tensor.*return_tensors='pt'"):
        model(good.numpy())
    with pytest.raises(ValueError, match="smaller than one patch"):
        model(torch.randn(1, 3, 4, 32), interpolate_pos_encoding=True)
    with pytest.raises(ValueError, match="use_mask_token=True"):
        model.vit(good, bool_masked_pos=torch.zeros(3, 16, dtype=torch.bool))
    with pytest.raises(ValueError, match="multiple of patch_size"):
        ViTConfig(image_size=30, patch_size=8)


def test_record_max_abs_differences():
    """Runs last: prints what the parity cases measured (pytest -s shows it)."""
    if not DIFFS or not PROCESSOR_DIFFS:
        pytest.skip("run with the parity cases")
    print("ViT max abs diffs:", {k: f"{v:.2e}" for k, v in DIFFS.items()},
          f"pixel_values: {max(PROCESSOR_DIFFS):.2e} over {len(PROCESSOR_DIFFS)} images")
    assert max(DIFFS.values()) <= parity.ATOL and max(PROCESSOR_DIFFS) <= 1e-5
