"""DeiT parity: hfexplain.models.deit against transformers' DeiT on the same weights and images.

The three classes (bare, one classifier, the distilled one with a teacher head) through
tests/parity_vision.py; the distillation token's place in the sequence; DeiTImageProcessor
(resize 256 bicubic, centre crop 224) against transformers' DeiTImageProcessorPil; the Auto
classes from a transformers-saved folder, the distilled class picked by ``architectures``; bad input.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")
PIL_Image = pytest.importorskip("PIL.Image")

import parity  # noqa: E402
import parity_vision  # noqa: E402
from transformers.models.deit.image_processing_pil_deit import DeiTImageProcessorPil  # noqa: E402

import hfexplain  # noqa: E402
from hfexplain.models import deit as hd  # noqa: E402
from hfexplain.models.vit import ViTModel  # noqa: E402

parity.quiet_transformers()

TINY = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, num_labels=3)
PAIRS = [
    (transformers.DeiTModel, hd.DeiTModel),
    (transformers.DeiTForImageClassification, hd.DeiTForImageClassification),
    (transformers.DeiTForImageClassificationWithTeacher, hd.DeiTForImageClassificationWithTeacher),
]
DIFFS: dict[str, float] = {}


@pytest.mark.parametrize("reference_class, our_class, config", parity.cases(PAIRS, {"tiny": TINY}))
def test_parity(reference_class, our_class, config, tmp_path):
    parity_vision.check_vision_parity(reference_class, our_class, config, tmp_path, record=DIFFS)


def test_the_distillation_token_is_position_one_and_the_teacher_logits_average_both_heads():
    model = hd.DeiTForImageClassificationWithTeacher(hd.DeiTConfig(**TINY)).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.2)  # DeiT starts its tokens at zero: move them
        out, cache = model.run_with_cache(parity_vision.make_pixel_values(model.config))
    assert isinstance(model.deit, ViTModel)  # a DeiT is a ViT with one more token
    assert cache["embed"].shape[1] == 2 + (32 // 8) ** 2 == model.deit.embeddings.position_embeddings.shape[1]
    torch.testing.assert_close(cache["embed"][:, 1], model.deit.embeddings.distillation_token[0].expand(3, -1))
    final = cache["final"]  # (b, s, d)
    torch.testing.assert_close(out.cls_logits, model.cls_classifier(final[:, 0]))
    torch.testing.assert_close(out.distillation_logits, model.distillation_classifier(final[:, 1]))
    torch.testing.assert_close(out.logits, (out.cls_logits + out.distillation_logits) / 2)
    assert not torch.allclose(out.cls_logits, out.distillation_logits)
    assert list(out.keys()) == ["logits", "cls_logits", "distillation_logits"]


RNG = np.random.default_rng(1)


def images() -> dict:
    return {
        "pil_rgb": PIL_Image.fromarray(RNG.integers(0, 256, (300, 280, 3), dtype=np.uint8)),
        "small": PIL_Image.fromarray(RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)),
        "grey_converted": PIL_Image.fromarray(RNG.integers(0, 256, (40, 50), dtype=np.uint8)).convert("RGB"),
        "uint8_chw": RNG.integers(0, 256, (3, 37, 29), dtype=np.uint8),
        "float_hwc": RNG.random((33, 45, 3)).astype(np.float32),
    }


@pytest.mark.parametrize("settings", [{}, dict(size=40, crop_size=32), dict(crop_size={"height": 50, "width": 12})],
                         ids=["defaults", "tiny", "crop_larger_than_image"])
def test_image_processor_matches_transformers(settings):
    ours, theirs = hd.DeiTImageProcessor(**settings), DeiTImageProcessorPil(**settings)
    for name, image in images().items():
        mine, ref = (p(image, return_tensors="pt").pixel_values for p in (ours, theirs))
        assert mine.shape == ref.shape, (name, mine.shape, ref.shape)
        assert (mine - ref).abs().max().item() <= 1e-5, name
    if not settings:
        assert mine.shape == (1, 3, 224, 224)  # resize 256, crop the centre 224
        defaults = ours.to_dict()
        assert defaults["size"] == {"height": 256, "width": 256} and defaults["crop_size"] == {"height": 224, "width": 224}
        assert defaults["resample"] == 3 and defaults["do_center_crop"] is True


def test_auto_classes_load_a_transformers_folder(tmp_path):
    folder, _ = parity.save_reference(transformers.DeiTForImageClassification, TINY, tmp_path / "ref")
    DeiTImageProcessorPil(size=40, crop_size=32).save_pretrained(folder)
    processor = hfexplain.AutoImageProcessor.from_pretrained(folder)
    model = hfexplain.AutoModelForImageClassification.from_pretrained(folder)
    assert type(processor) is hd.DeiTImageProcessor and type(model) is hd.DeiTForImageClassification
    reference = transformers.DeiTForImageClassification.from_pretrained(folder).eval()
    batch = list(images().values())
    with torch.no_grad():
        ours = model(**processor(batch, return_tensors="pt")).logits
        theirs = reference(**transformers.AutoImageProcessor.from_pretrained(folder)(batch, return_tensors="pt")).logits
    parity.assert_close(ours, theirs, "logits from images")


def test_auto_picks_the_teacher_class_from_architectures_as_transformers_does(tmp_path):
    """transformers lists DeiT's two classifiers in a tuple and picks by config.architectures; so do we."""
    folder, _ = parity.save_reference(transformers.DeiTForImageClassificationWithTeacher, TINY, tmp_path / "ref")
    theirs = transformers.AutoModelForImageClassification.from_pretrained(folder).eval()
    ours, info = hfexplain.AutoModelForImageClassification.from_pretrained(folder, output_loading_info=True)
    assert type(theirs).__name__ == type(ours).__name__ == "DeiTForImageClassificationWithTeacher"
    assert not info["missing_keys"] and not info["unexpected_keys"]
    pixel_values = parity_vision.make_pixel_values(ours.config)
    with torch.no_grad():
        parity.assert_close(ours.eval()(pixel_values).logits, theirs(pixel_values).logits, "teacher logits")
    config = hd.DeiTConfig(**TINY, architectures=["DeiTForImageClassificationWithTeacher"])
    assert type(hfexplain.AutoModelForImageClassification.from_config(config)) is hd.DeiTForImageClassificationWithTeacher
    for architectures in (None, ["DeiTForImageClassification"], ["DeiTModel"]):  # the default otherwise
        config = hd.DeiTConfig(**TINY, architectures=architectures)
        assert type(hfexplain.AutoModelForImageClassification.from_config(config)) is hd.DeiTForImageClassification
    # the image-classification pipeline takes the variant as transformers' does
    classifier = hfexplain.pipeline("image-classification", model=ours, image_processor=hd.DeiTImageProcessor(size=40, crop_size=32))
    assert len(classifier(PIL_Image.new("RGB", (40, 40)), top_k=2)) == 2
    with pytest.raises(ValueError, match="variants for.*declare the default class"):
        hfexplain.models.Family(module="deit", config="DeiTConfig", pretrained_model="DeiTPreTrainedModel",
                                models={"base": "DeiTModel"},
                                variants={"image-classification": ("DeiTForImageClassificationWithTeacher",)})


def test_bad_pixel_values_name_the_fix():
    model = hd.DeiTForImageClassificationWithTeacher(hd.DeiTConfig(**TINY)).eval()
    with pytest.raises(ValueError, match=r"doesn't match model \(32\*32\).*config.image_size.*interpolate_pos_encoding"):
        model(torch.randn(1, 3, 48, 48))
    with pytest.raises(ValueError, match="have 1 channels but this DeiTModel reads 3"):
        model(torch.randn(1, 1, 32, 32))
    with torch.no_grad():
        assert model(torch.randn(1, 3, 48, 40), interpolate_pos_encoding=True).logits.shape == (1, 3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'labels'"):  # inference only, as in transformers
        model(torch.randn(1, 3, 32, 32), labels=torch.tensor([0]))


def test_record_max_abs_differences():
    """Runs last: prints what the parity cases measured (pytest -s shows it)."""
    if not DIFFS:
        pytest.skip("run with the parity cases")
    print("DeiT max abs diffs:", {k: f"{v:.2e}" for k, v in DIFFS.items()})
    assert max(DIFFS.values()) <= parity.ATOL
