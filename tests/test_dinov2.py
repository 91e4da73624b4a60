"""DINOv2 against transformers on tiny random checkpoints that transformers saved.

tests/parity.py's ``check_parity`` feeds token ids; a vision model takes ``pixel_values``, so
``check_vision_parity`` below runs the same steps on images: strict load, every output field
and hidden state, eager attention patterns, the fast (SDPA) path, the hook aliases, the
position table resized to another (non-square) image size, masked patches, and save ->
transformers loads strictly. Also: the image processor (BitImageProcessor) against
transformers' PIL one, and the errors on bad input.
"""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
import torch

import parity
from hfexplain import AutoImageProcessor, AutoModel, AutoModelForImageClassification
from hfexplain.models.dinov2 import BitImageProcessor, Dinov2Config, Dinov2ForImageClassification, Dinov2Model

transformers = parity.quiet_transformers()
from transformers.models.bit.image_processing_pil_bit import BitImageProcessorPil  # noqa: E402

CONFIGS = {
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, mlp_ratio=2, image_size=32, patch_size=8,
                 layerscale_value=0.5, num_labels=3),
    "swiglu": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=28, patch_size=4,
                   use_swiglu_ffn=True, qkv_bias=False, num_labels=1),
}
PAIRS = [(transformers.Dinov2Model, Dinov2Model), (transformers.Dinov2ForImageClassification,
                                                    Dinov2ForImageClassification)]
# DINOv2's checkpoints on the Hub (facebook/dinov2-small ...) save these preprocessing settings.
DINOV2_PREPROCESSING = dict(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
                            image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])


def pixels(config, height=None, width=None, batch=2, seed=1) -> torch.Tensor:
    size = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, config.num_channels, height or size, width or size, generator=generator)


def check_vision_parity(reference_class, our_class, config_kwargs, tmp_path) -> None:
    task = "image-classification" if reference_class.__name__.endswith("ForImageClassification") else "base"
    folder, _ = parity.save_reference(reference_class, config_kwargs, os.path.join(tmp_path, "reference"))
    reference = reference_class.from_pretrained(folder, attn_implementation="eager").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every weight is the checkpoint's
        ours = our_class.from_pretrained(folder)
    config = ours.config
    generator = torch.Generator().manual_seed(2)
    labels = {}
    if task != "base":  # class ids, or floats for regression (num_labels == 1)
        labels["labels"] = (torch.randint(0, config.num_labels, (2,), generator=generator) if config.num_labels > 1
                            else torch.randn(2, generator=generator))

    # The checkpoint's own size, and a non-square one whose positions are resized (bicubic).
    size = config.image_size
    for height, width in ((size, size), (size + 2 * config.patch_size, size - config.patch_size)):
        inputs = dict(pixel_values=pixels(config, height, width))
        real = torch.ones(2, 1 + (height // config.patch_size) * (width // config.patch_size), dtype=torch.bool)
        with torch.no_grad():
            expected = reference(**inputs, **labels, output_hidden_states=True, output_attentions=True)
            actual = ours(**inputs, **labels, output_hidden_states=True, output_attentions=True)
        assert len(actual.hidden_states) == config.num_hidden_layers + 1 and len(actual.attentions) == 2
        if labels:
            assert torch.isfinite(actual.loss)
        parity.assert_outputs_match(actual, expected, real, what=f"{height}x{width}: ")

    # The fast path (nobody watches attention: SDPA) against transformers' default (SDPA) path.
    reference_fast = reference_class.from_pretrained(folder).eval()
    with torch.no_grad():
        plain, plain_expected = ours(**inputs, **labels), reference_fast(**inputs, **labels)
    assert plain.attentions is None and plain.hidden_states is None
    parity.assert_outputs_match(plain, plain_expected, real, what="fast path: ")

    # The hook aliases against transformers' outputs, and the residual stream as a sum of its parts.
    with torch.no_grad():
        output, cache = ours.run_with_cache(**inputs, output_hidden_states=True, output_attentions=True)
        base = reference.base_model
        patches = base.embeddings.patch_embeddings(inputs["pixel_values"])  # (b, n, d)
        tokens = torch.cat([base.embeddings.cls_token.expand(2, -1, -1), patches], dim=1)  # (b, s, d)
        positions = base.embeddings.interpolate_pos_encoding(tokens, height, width)  # (1, s, d)
        expected = reference(**inputs, output_hidden_states=True, output_attentions=True)
    parity.assert_close(cache["embed"], tokens, "alias embed")
    parity.assert_close(cache["pos_embed"], positions, "alias pos_embed")
    for layer in range(config.num_hidden_layers):
        parity.assert_close(cache["resid_pre", layer], expected.hidden_states[layer], f"resid_pre {layer}")
        parity.assert_close(cache["resid_post", layer], expected.hidden_states[layer + 1], f"resid_post {layer}")
        parity.assert_close(cache["pattern", layer], expected.attentions[layer], f"pattern {layer}")
    parity.assert_close(cache.decompose_resid().sum(0), cache["resid_post", config.num_hidden_layers - 1],
                        "embed + pos_embed + attn_out + mlp_out")
    parity.assert_close(cache.apply_final_norm(cache["resid_post", -1]), cache["final"], "apply_final_norm")
    if task == "base":
        parity.assert_close(cache["final"], expected.last_hidden_state, "alias final")
        parity.assert_close(output.pooler_output, expected.last_hidden_state[:, 0], "pooler = normalised [CLS]")
    else:
        parity.assert_close(cache["class_logits"], expected.logits, "alias class_logits")

    # Masked patches (the mask token), as in DINOv2's iBOT objective.
    masked = torch.zeros(2, real.shape[1] - 1, dtype=torch.bool)
    masked[0, ::3], masked[1, 1] = True, True
    with torch.no_grad():
        parity.assert_outputs_match(ours(**inputs, bool_masked_pos=masked) if task == "base" else ours.dinov2(
            **inputs, bool_masked_pos=masked), reference.base_model(**inputs, bool_masked_pos=masked), real,
            what="bool_masked_pos: ")

    # What we save, transformers loads strictly (the keys it writes itself), with the same outputs.
    saved = os.path.join(tmp_path, "ours")
    ours.save_pretrained(saved)
    assert parity.checkpoint_keys(saved) == parity.checkpoint_keys(folder)
    reloaded, info = reference_class.from_pretrained(saved, output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    with torch.no_grad():
        parity.assert_outputs_match(ours(**inputs), reloaded.eval()(**inputs), real, what="saved: ")


@pytest.mark.parametrize("reference_class, our_class, config", parity.cases(PAIRS, CONFIGS))
def test_parity(reference_class, our_class, config, tmp_path):
    check_vision_parity(reference_class, our_class, config, tmp_path)


def test_checkpoint_names_are_transformers_saved_names(tmp_path):
    """HF's names on disk: the split attention/output modules, layer_scale1.lambda1, fused SwiGLU weights_in."""
    keys = parity.checkpoint_keys(parity.save_reference(transformers.Dinov2Model, CONFIGS["swiglu"], tmp_path)[0])
    model_keys = set(Dinov2Model(Dinov2Config(**CONFIGS["swiglu"])).state_dict())
    assert keys == model_keys
    for key in ("embeddings.cls_token", "embeddings.mask_token", "embeddings.position_embeddings",
                "embeddings.patch_embeddings.projection.weight", "encoder.layer.1.attention.attention.query.weight",
                "encoder.layer.0.attention.output.dense.bias", "encoder.layer.0.layer_scale1.lambda1",
                "encoder.layer.0.mlp.weights_in.weight", "encoder.layer.0.norm1.weight", "layernorm.bias"):
        assert key in keys, key
    assert "encoder.layer.0.mlp.fc1.weight" in Dinov2Model(Dinov2Config(**CONFIGS["tiny"])).state_dict()


def test_auto_classes_and_no_mask_token(tmp_path):
    config = Dinov2Config(**CONFIGS["tiny"], use_mask_token=False)
    torch.manual_seed(0)
    model = AutoModelForImageClassification.from_config(config).eval()
    assert type(model) is Dinov2ForImageClassification and type(AutoModel.from_config(config)) is Dinov2Model
    model.save_pretrained(tmp_path)
    reference = transformers.Dinov2ForImageClassification.from_pretrained(tmp_path).eval()
    x = pixels(config)
    with torch.no_grad():
        parity.assert_close(model(x).logits, reference(x).logits, "use_mask_token=False")
    assert "dinov2.embeddings.mask_token" not in parity.checkpoint_keys(tmp_path)


def test_position_interpolation_keeps_the_dtype_and_resizes_in_float32():
    """transformers resizes a half-precision table in float32 and casts back; so do we, bit for bit."""
    config = Dinov2Config(**CONFIGS["tiny"])
    torch.manual_seed(0)
    ours = Dinov2Model(config).to(torch.bfloat16).eval()
    reference = transformers.Dinov2Model(transformers.Dinov2Config(**CONFIGS["tiny"])).to(torch.bfloat16).eval()
    reference.embeddings.load_state_dict(ours.embeddings.state_dict())  # the same table
    embeddings = torch.zeros(1, 1 + 5 * 3, config.hidden_size, dtype=torch.bfloat16)
    mine = ours.embeddings.interpolate_pos_encoding(embeddings, 40, 24)
    theirs = reference.embeddings.interpolate_pos_encoding(embeddings, 40, 24)
    assert mine.dtype == torch.bfloat16 and mine.shape == (1, 16, config.hidden_size)
    assert torch.equal(mine, theirs)
    same_grid = torch.zeros(1, 17, config.hidden_size)
    assert ours.embeddings.interpolate_pos_encoding(same_grid, 32, 32) is ours.embeddings.position_embeddings


def test_bad_inputs_name_the_problem_and_the_fix():
    config = Dinov2Config(**CONFIGS["tiny"])
    model = Dinov2Model(config).eval()
    with pytest.raises(TypeError, match="float tensor.*image processor"):
        model(np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(TypeError, match="float tensor"):
        model(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(batch, channels, height, width\).*unsqueeze\(0\)"):
        model(torch.zeros(3, 32, 32))
    with pytest.raises(ValueError, match="1 channels but the model expects num_channels=3"):
        model(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="smaller than one patch"):
        model(torch.zeros(1, 3, 4, 32))
    with pytest.raises(ValueError, match=r"bool_masked_pos must have shape \(batch, num_patches\) = \(1, 16\)"):
        model(torch.zeros(1, 3, 32, 32), bool_masked_pos=torch.zeros(1, 17, dtype=torch.bool))
    with pytest.raises(ValueError, match="no mask_token.*use_mask_token=True"):
        Dinov2Model(Dinov2Config(**CONFIGS["tiny"], use_mask_token=False))(
            torch.zeros(1, 3, 32, 32), bool_masked_pos=torch.zeros(1, 16, dtype=torch.bool))
    with pytest.raises(ValueError, match="needs pixel_values"):
        model()
    with pytest.raises(ValueError, match="divisible by num_attention_heads"):
        Dinov2Config(hidden_size=30, num_attention_heads=4)
    with pytest.raises(ValueError, match="no larger than image_size"):
        Dinov2Config(image_size=8, patch_size=14)


# ------------------------------------------------------------------ BitImageProcessor


def varied_images():
    from PIL import Image

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (300, 260, 3), dtype=np.uint8)
    return {
        "pil_portrait": Image.fromarray(rgb),
        "pil_landscape": Image.fromarray(rng.integers(0, 256, (230, 400, 3), dtype=np.uint8)),
        "pil_small": Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)),  # upsampled, then cropped
        "pil_gray": Image.fromarray(rng.integers(0, 256, (240, 280), dtype=np.uint8)),
        "pil_rgba": Image.fromarray(rng.integers(0, 256, (250, 256, 4), dtype=np.uint8)),
        "numpy_uint8_hwc": rgb,
        "numpy_float_chw": rng.random((3, 257, 300)).astype(np.float32),
        "torch_uint8_chw": torch.from_numpy(rng.integers(0, 256, (3, 224, 240), dtype=np.uint8)),
    }


@pytest.mark.parametrize("name", list(varied_images()))
def test_bit_image_processor_matches_transformers(name):
    image = varied_images()[name]
    ours = BitImageProcessor(**DINOV2_PREPROCESSING)(image, return_tensors="pt").pixel_values
    theirs = BitImageProcessorPil(**DINOV2_PREPROCESSING)(image, return_tensors="pt").pixel_values
    assert ours.shape == (1, 3, 224, 224)
    parity.assert_close(ours, theirs, f"pixel_values of {name}")


def test_bit_image_processor_defaults_batches_and_auto(tmp_path):
    images = list(varied_images().values())[:3]
    ours = BitImageProcessor()(images, return_tensors="pt").pixel_values  # BiT's own defaults (224, CLIP mean)
    parity.assert_close(ours, BitImageProcessorPil()(images, return_tensors="pt").pixel_values, "defaults")
    mine, theirs = (json.loads(json.dumps(p.to_dict())) for p in (BitImageProcessor(), BitImageProcessorPil()))
    assert mine.pop("image_processor_type") == theirs.pop("image_processor_type") == "BitImageProcessor"
    assert {key: theirs[key] for key in mine} == mine
    # transformers' saved file (DINOv2's settings) -> AutoImageProcessor finds our class
    BitImageProcessorPil(**DINOV2_PREPROCESSING).save_pretrained(tmp_path)
    loaded = AutoImageProcessor.from_pretrained(tmp_path)
    assert type(loaded) is BitImageProcessor and loaded.size == {"shortest_edge": 256}
    parity.assert_close(loaded(images, return_tensors="pt").pixel_values,
                        BitImageProcessorPil(**DINOV2_PREPROCESSING)(images, return_tensors="pt").pixel_values, "auto")
