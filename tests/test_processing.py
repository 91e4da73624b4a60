"""hfexplain.processing (and the tokenization package split) against transformers.

Every expected value comes from transformers on the same inputs: its ``BatchFeature``, its
``image_transforms`` functions, its PIL image processors (``ViTImageProcessorPil``,
``CLIPImageProcessorPil``), its ``SequenceFeatureExtractor.pad`` and its
``PreTrainedTokenizerFast``. The Auto classes are proven end to end with image processors,
feature extractors and processors written here and registered for a test model_type.
"""
from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")
PIL_Image = pytest.importorskip("PIL.Image")

from tokenizers import Tokenizer as BackendTokenizer  # noqa: E402
from tokenizers import models, pre_tokenizers  # noqa: E402
from transformers import image_transforms as ref_transforms  # noqa: E402
from transformers.feature_extraction_sequence_utils import SequenceFeatureExtractor as RefSequenceFeatureExtractor  # noqa: E402
from transformers.feature_extraction_utils import BatchFeature as RefBatchFeature  # noqa: E402
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil  # noqa: E402
from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil  # noqa: E402

from hfexplain import processing  # noqa: E402
from hfexplain.processing import (  # noqa: E402
    AutoFeatureExtractor,
    AutoImageProcessor,
    AutoProcessor,
    BaseImageProcessor,
    BatchFeature,
    ProcessorMixin,
    SequenceFeatureExtractor,
)
from hfexplain.processing import image_transforms as ours_transforms  # noqa: E402
from hfexplain.models.clip import CLIPImageProcessor  # noqa: E402  (CLIP's defaults, as CLIPImageProcessorPil's)
from hfexplain.processing.auto import unregister  # noqa: E402
from hfexplain.tokenization import Tokenizer  # noqa: E402

from hubcache import folder_files, make_hub_cache  # noqa: E402
import parity  # noqa: E402

RNG = np.random.default_rng(0)


def same(ours, ref, atol: float = 0.0) -> None:
    """Same type family, shape, dtype and values (exact unless atol says otherwise)."""
    if isinstance(ref, torch.Tensor):
        assert isinstance(ours, torch.Tensor) and ours.dtype == ref.dtype and ours.shape == ref.shape
        if ours.is_floating_point() and ours.numel():
            parity.record("same", (ours.double() - ref.double()).abs().max().item())
        torch.testing.assert_close(ours, ref, atol=atol, rtol=0)
    elif isinstance(ref, np.ndarray) and ref.dtype == object:  # a ragged batch: one array per example
        assert isinstance(ours, np.ndarray) and ours.dtype == object and ours.shape == ref.shape
        for mine, theirs in zip(ours, ref):
            same(mine, theirs, atol)
    else:
        ours, ref = np.asarray(ours), np.asarray(ref)
        assert ours.dtype == ref.dtype, (ours.dtype, ref.dtype)
        assert ours.shape == ref.shape, (ours.shape, ref.shape)
        if np.issubdtype(ours.dtype, np.floating) and ours.size:
            parity.record("same", float(np.abs(ours.astype(np.float64) - ref.astype(np.float64)).max()))
        np.testing.assert_allclose(ours, ref, atol=atol, rtol=0)


# ---------------------------------------------------------------------------------------------
# the tokenization package keeps every name where it was
# ---------------------------------------------------------------------------------------------


def test_tokenization_package_keeps_public_names():
    import hfexplain.tokenization as tokenization
    from hfexplain.tokenization import batch_encoding, files, legacy, tokenizer

    for name in (
        "Tokenizer", "PreTrainedTokenizerFast", "BatchEncoding", "build_wordpiece_backend",
        "build_byte_level_bpe_backend", "clean_up_tokenization", "TOKENIZER_FILE", "TOKENIZER_CONFIG_FILE",
        "SPECIAL_TOKENS_MAP_FILE", "ADDED_TOKENS_FILE", "WORDPIECE_VOCAB_FILE", "BPE_VOCAB_FILE", "BPE_MERGES_FILE",
        "VERY_LARGE_INTEGER", "LARGE_INTEGER", "SPECIAL_TOKENS_ATTRIBUTES", "PADDING_STRATEGIES",
        "TRUNCATION_STRATEGIES",
    ):
        assert hasattr(tokenization, name), name
    assert tokenization.Tokenizer is tokenizer.Tokenizer
    assert tokenization.PreTrainedTokenizerFast is tokenizer.PreTrainedTokenizerFast
    assert tokenization.BatchEncoding is batch_encoding.BatchEncoding
    assert tokenization.build_wordpiece_backend is legacy.build_wordpiece_backend
    assert files.TOKENIZER_FILE == "tokenizer.json"
    assert set(tokenization.__all__) <= set(dir(tokenization))


# ---------------------------------------------------------------------------------------------
# BatchFeature
# ---------------------------------------------------------------------------------------------


def feature_data():
    return {
        "pixel_values": torch.randn(2, 3, 4, 4),
        "attention_mask": torch.ones(2, 5, dtype=torch.long),
        "input_ids": torch.arange(10).reshape(2, 5),
        "names": ["a", "b"],
    }


@pytest.mark.parametrize(
    "args, kwargs",
    [((torch.float16,), {}), (("cpu",), {}), ((), {"dtype": torch.float64}), (("cpu",), {"dtype": torch.bfloat16})],
)
def test_batch_feature_to_casts_only_floating_tensors(args, kwargs):
    data = feature_data()
    ours = BatchFeature(dict(data)).to(*args, **kwargs)
    ref = RefBatchFeature(dict(data)).to(*args, **kwargs)
    assert set(ours) == set(ref)
    for key in ("pixel_values", "attention_mask", "input_ids"):
        same(ours[key], ref[key])
    assert ours["attention_mask"].dtype == torch.long  # never cast to float
    assert ours["names"] == ["a", "b"]


def test_batch_feature_to_rejects_other_things():
    with pytest.raises(ValueError, match="Attempting to cast a BatchFeature"):
        BatchFeature(feature_data()).to([1, 2])


@pytest.mark.parametrize("tensor_type", ["pt", "np"])
def test_batch_feature_converts_like_transformers(tensor_type):
    arrays = [RNG.standard_normal((3, 4, 4)).astype(np.float32) for _ in range(2)]
    data = {
        "pixel_values": arrays,
        "input_values": [[0.5, 1.5, 2.5], [1.0, 2.0, 3.0]],
        "lengths": [3, 3],
        "tensors": [torch.ones(2), torch.zeros(2)],
        "label": "cat",
    }
    ours = BatchFeature({key: list(value) if isinstance(value, list) else value for key, value in data.items()},
                        tensor_type=tensor_type)
    ref = RefBatchFeature({key: list(value) if isinstance(value, list) else value for key, value in data.items()},
                          tensor_type=tensor_type)
    assert set(ours) == set(ref)
    for key in ("pixel_values", "input_values", "lengths", "tensors"):
        same(ours[key], ref[key])
    assert ours["label"] == "cat"


def test_batch_feature_ragged_lists():
    ragged = {"input_values": [[1.0, 2.0, 3.0], [1.0]]}
    with pytest.raises(ValueError, match="padding=True"):
        BatchFeature(dict(ragged), tensor_type="pt")
    with pytest.raises(ValueError):
        RefBatchFeature(dict(ragged), tensor_type="pt")
    ours = BatchFeature(dict(ragged), tensor_type="np")["input_values"]
    ref = RefBatchFeature(dict(ragged), tensor_type="np")["input_values"]
    assert ours.dtype == ref.dtype == object and ours.shape == ref.shape == (2,)
    assert [row.tolist() for row in ours] == [row.tolist() for row in ref]
    with pytest.raises(ValueError, match="return_tensors='tf' is not supported"):
        BatchFeature(dict(ragged), tensor_type="tf")


def test_batch_feature_is_a_dict_with_attributes_and_pickles():
    features = BatchFeature({"pixel_values": torch.ones(1, 3, 2, 2)}, tensor_type="pt")
    assert isinstance(features, dict) and features.pixel_values is features["pixel_values"]
    with pytest.raises(AttributeError, match="has no field 'input_ids'"):
        features.input_ids
    with pytest.raises(KeyError, match="field name"):
        features[0]
    again = pickle.loads(pickle.dumps(features))
    assert isinstance(again, BatchFeature) and torch.equal(again.pixel_values, features.pixel_values)


# ---------------------------------------------------------------------------------------------
# image transforms, function by function
# ---------------------------------------------------------------------------------------------


def random_image(shape, dtype=np.uint8):
    if dtype == np.uint8:
        return RNG.integers(0, 256, shape, dtype=np.uint8)
    return RNG.random(shape).astype(dtype)


@pytest.mark.parametrize("shape, fmt", [((5, 7, 3), "channels_last"), ((3, 5, 7), "channels_first"), ((1, 6, 4), None)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_rescale_and_normalize_match(shape, fmt, dtype):
    image = random_image(shape, dtype)
    for data_format in (None, "channels_first", "channels_last"):
        same(
            ours_transforms.rescale(image, 1 / 255, data_format=data_format, input_data_format=fmt),
            ref_transforms.rescale(image, 1 / 255, data_format=data_format, input_data_format=fmt),
        )
    channels = 1 if 1 in shape[:1] else 3
    for mean, std in ((0.5, 0.25), ([0.1, 0.2, 0.3][:channels], [0.9, 0.8, 0.7][:channels])):
        for data_format in (None, "channels_first"):
            same(
                ours_transforms.normalize(image, mean, std, data_format=data_format, input_data_format=fmt),
                ref_transforms.normalize(image, mean, std, data_format=data_format, input_data_format=fmt),
            )


def test_normalize_wrong_number_of_channels():
    with pytest.raises(ValueError, match="mean must have 3 elements"):
        ours_transforms.normalize(random_image((3, 4, 4)), [0.5, 0.5], [0.5, 0.5, 0.5])


@pytest.mark.parametrize("shape, fmt", [((9, 13, 3), "channels_last"), ((3, 9, 13), "channels_first"), ((1, 9, 13), None)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("resample", [0, 2, 3])
@pytest.mark.parametrize("size", [(4, 6), (16, 11)])
def test_resize_matches(shape, fmt, dtype, resample, size):
    image = random_image(shape, dtype)  # float32 images are in [0, 1]: they go through PIL as bytes
    for data_format in (None, "channels_first", "channels_last"):
        same(
            ours_transforms.resize(image, size, resample=resample, data_format=data_format, input_data_format=fmt),
            ref_transforms.resize(image, size, resample=resample, data_format=data_format, input_data_format=fmt),
        )


def test_resize_refuses_floats_pil_cannot_hold():
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        ours_transforms.resize(random_image((3, 4, 4), np.float32) * 3 - 1, (2, 2))


@pytest.mark.parametrize("shape, fmt", [((9, 12, 3), "channels_last"), ((3, 9, 12), "channels_first")])
@pytest.mark.parametrize("size", [(4, 5), (9, 12), (11, 4), (14, 15), (3, 13)])
def test_center_crop_matches(shape, fmt, size):
    image = random_image(shape, np.float32)
    for data_format in (None, "channels_first", "channels_last"):
        same(
            ours_transforms.center_crop(image, size, data_format=data_format, input_data_format=fmt),
            ref_transforms.center_crop(image, size, data_format=data_format, input_data_format=fmt),
        )


def test_channel_order_and_output_sizes_match():
    image = random_image((2, 5, 7, 3))
    for target in ("channels_first", "channels_last"):
        same(
            ours_transforms.to_channel_dimension_format(image, target),
            ref_transforms.to_channel_dimension_format(image, target),
        )
    tensor = torch.from_numpy(random_image((5, 7, 3)))
    same(ours_transforms.to_channel_dimension_format(tensor, "channels_first"),
         ref_transforms.to_channel_dimension_format(tensor, "channels_first"))
    chw = random_image((3, 20, 30))
    for size, square, max_size in ((8, False, None), (8, True, None), ((5, 6), True, None), (10, False, 12), ([7], False, None)):
        assert ours_transforms.get_resize_output_image_size(chw, size, square, max_size) == \
            ref_transforms.get_resize_output_image_size(chw, size, square, max_size)
    for image_size, size, max_size in (((20, 30), 8, None), ((30, 20), 8, 10), ((25, 25), 25, None), ((10, 40), 5, 12)):
        assert ours_transforms.get_size_with_aspect_ratio(image_size, size, max_size) == \
            ref_transforms.get_size_with_aspect_ratio(image_size, size, max_size)


def test_channel_axis_that_cannot_be_guessed_is_a_clear_error():
    with pytest.raises(ValueError, match="input_data_format"):
        ours_transforms.infer_channel_dimension_format(random_image((5, 7, 6)))
    with pytest.raises(ValueError, match="3 dimensions"):
        ours_transforms.infer_channel_dimension_format(random_image((5, 7)))


# ---------------------------------------------------------------------------------------------
# BaseImageProcessor: the whole pipeline, against transformers' PIL image processors
# ---------------------------------------------------------------------------------------------


class ViTImageProcessor(BaseImageProcessor):
    """ViT's defaults, as transformers' ViTImageProcessorPil sets them."""

    resample = 2
    image_mean = processing.IMAGENET_STANDARD_MEAN
    image_std = processing.IMAGENET_STANDARD_STD
    size = {"height": 224, "width": 224}
    do_resize = True
    do_rescale = True
    do_normalize = True


def image_inputs():
    hwc = random_image((20, 30, 3))
    return {
        "pil_rgb": PIL_Image.fromarray(hwc),
        "pil_gray": PIL_Image.fromarray(random_image((18, 25))),
        "pil_rgba": PIL_Image.fromarray(random_image((21, 17, 4))),
        "numpy_hwc": hwc,
        "numpy_chw": random_image((3, 16, 24)),
        "torch_chw": torch.from_numpy(random_image((3, 26, 19))),
        "float_hwc": random_image((20, 30, 3), np.float32),
    }


@pytest.mark.parametrize("name", ["pil_rgb", "numpy_hwc", "numpy_chw", "torch_chw", "float_hwc"])
def test_vit_like_pipeline_matches(name):
    image = image_inputs()[name]
    settings = {"size": {"height": 12, "width": 10}}
    if name == "float_hwc":
        settings["do_rescale"] = False  # already in [0, 1]
    ours = ViTImageProcessor(**settings)(image, return_tensors="pt")
    ref = ViTImageProcessorPil(**settings)(image, return_tensors="pt")
    assert set(ours) == set(ref) == {"pixel_values"}
    same(ours.pixel_values, ref.pixel_values, atol=1e-6)


@pytest.mark.parametrize("name", ["pil_rgb", "pil_gray", "pil_rgba", "numpy_hwc", "torch_chw"])
def test_clip_like_pipeline_matches(name):
    image = image_inputs()[name]
    settings = {"size": {"shortest_edge": 14}, "crop_size": {"height": 12, "width": 12}}
    same(
        CLIPImageProcessor(**settings)(image, return_tensors="pt").pixel_values,
        CLIPImageProcessorPil(**settings)(image, return_tensors="pt").pixel_values,
        atol=1e-6,
    )


def test_batches_and_per_call_settings_match():
    inputs = image_inputs()
    images = [inputs["pil_rgb"], inputs["numpy_hwc"], inputs["torch_chw"]]
    call = {"size": {"height": 8, "width": 9}, "do_normalize": False, "resample": 0}
    ours = ViTImageProcessor()(images, return_tensors="pt", **call)
    ref = ViTImageProcessorPil()(images, return_tensors="pt", **call)
    same(ours.pixel_values, ref.pixel_values, atol=1e-6)
    assert ours.pixel_values.shape == (3, 3, 8, 9)
    batch = np.stack([random_image((3, 10, 10)) for _ in range(2)])  # (b, c, h, w)
    same(ViTImageProcessor()(batch, size=6, return_tensors="np").pixel_values,
         ViTImageProcessorPil()(list(batch), size=6, return_tensors="np").pixel_values, atol=1e-6)
    # without return_tensors: a list of (c, h, w) arrays, as in transformers
    listed = ViTImageProcessor()(images, **call).pixel_values
    assert isinstance(listed, list) and all(isinstance(image, np.ndarray) for image in listed)


def test_image_processor_settings_match_transformers_to_dict():
    ours = ViTImageProcessor(size=32).to_dict()
    ref = ViTImageProcessorPil(size=32).to_dict()
    assert ours.pop("image_processor_type") == ref.pop("image_processor_type") == "ViTImageProcessor"
    assert ours == json.loads(json.dumps(ref))
    ours = CLIPImageProcessor().to_dict()
    ref = CLIPImageProcessorPil().to_dict()
    ours.pop("image_processor_type"), ref.pop("image_processor_type")
    assert ours == json.loads(json.dumps(ref))


def test_image_processor_errors_name_the_problem():
    processor = ViTImageProcessor()
    with pytest.raises(TypeError, match="unexpected argument\\(s\\) \\['do_flip'\\]"):
        processor(random_image((3, 8, 8)), do_flip=True)
    with pytest.raises(ValueError, match="do_normalize=True needs image_mean and image_std"):
        BaseImageProcessor(do_normalize=True)(random_image((3, 8, 8)))
    gray = image_inputs()["pil_gray"]  # one channel, three means: transformers refuses it too
    with pytest.raises(ValueError, match="1 channel.*image_mean has 3 values.*do_convert_rgb=True"):
        processor(gray)
    with pytest.raises(ValueError, match="mean must have 1 elements"):
        ViTImageProcessorPil()(gray)
    with pytest.raises(ValueError, match="no image file at 'cat.png'"):  # a string is a path (as in transformers)
        processor("cat.png")
    with pytest.raises(ValueError, match="size must have one of these sets of keys"):
        ViTImageProcessor(size={"h": 3})


# ---------------------------------------------------------------------------------------------
# preprocessor_config.json: save, load, Hub cache, and transformers reading what we write
# ---------------------------------------------------------------------------------------------


def test_round_trip_keeps_unknown_keys(tmp_path):
    processor = ViTImageProcessor(size={"height": 10, "width": 12}, my_own_setting=[1, 2], do_normalize=False)
    [path] = processor.save_pretrained(tmp_path)
    assert os.path.basename(path) == "preprocessor_config.json"
    saved = json.loads(open(path).read())
    assert saved["image_processor_type"] == "ViTImageProcessor" and saved["my_own_setting"] == [1, 2]
    loaded = ViTImageProcessor.from_pretrained(tmp_path)
    assert loaded == processor and loaded.to_dict() == processor.to_dict()
    assert ViTImageProcessor.from_dict(processor.to_dict()).to_dict() == processor.to_dict()
    assert ViTImageProcessor.from_pretrained(path).my_own_setting == [1, 2]  # a JSON file path works too
    assert ViTImageProcessor.from_pretrained(tmp_path, do_normalize=True).do_normalize is True  # overrides win


def test_transformers_reads_what_we_save_and_we_read_what_it_saves(tmp_path):
    image = image_inputs()["pil_rgb"]
    ViTImageProcessor(size={"height": 10, "width": 12}).save_pretrained(tmp_path / "ours")
    ref = ViTImageProcessorPil.from_pretrained(tmp_path / "ours")
    assert ref.size.height == 10 and ref.size.width == 12
    ViTImageProcessorPil(size={"height": 7, "width": 9}, image_mean=[0.1, 0.2, 0.3]).save_pretrained(tmp_path / "ref")
    ours = ViTImageProcessor.from_pretrained(tmp_path / "ref")
    same(ours(image, return_tensors="pt").pixel_values,
         ViTImageProcessorPil.from_pretrained(tmp_path / "ref")(image, return_tensors="pt").pixel_values, atol=1e-6)


def test_loading_through_the_hub_cache_offline(tmp_path):
    ViTImageProcessor(size=8).save_pretrained(tmp_path / "saved")
    cache = tmp_path / "cache"
    make_hub_cache(cache, "org/tiny-vit", folder_files(tmp_path / "saved"))
    loaded = ViTImageProcessor.from_pretrained("org/tiny-vit", cache_dir=cache)
    assert loaded.size == {"height": 8, "width": 8}
    with pytest.raises(OSError, match="not in the cache"):
        ViTImageProcessor.from_pretrained("org/missing", cache_dir=cache)
    (tmp_path / "empty").mkdir()
    with pytest.raises(OSError, match="has no preprocessor_config.json"):
        ViTImageProcessor.from_pretrained(tmp_path / "empty")


# ---------------------------------------------------------------------------------------------
# SequenceFeatureExtractor.pad against transformers'
# ---------------------------------------------------------------------------------------------


class OursAudio(SequenceFeatureExtractor):
    model_input_names = ["input_values", "attention_mask"]


class RefAudio(RefSequenceFeatureExtractor):
    model_input_names = ["input_values", "attention_mask"]


class OursFrames(SequenceFeatureExtractor):
    model_input_names = ["input_features", "attention_mask"]


class RefFrames(RefSequenceFeatureExtractor):
    model_input_names = ["input_features", "attention_mask"]


def sequences(kind: str, feature_size: int):
    lengths = (5, 9, 3)
    rows = [RNG.standard_normal((n, feature_size) if feature_size > 1 else (n,)) for n in lengths]
    if kind == "lists":
        return [row.tolist() for row in rows]
    if kind == "float32":
        return [row.astype(np.float32) for row in rows]
    return [torch.from_numpy(row.astype(np.float32)) for row in rows]


PAD_CASES = [
    {},
    {"padding": "max_length", "max_length": 12},
    {"padding": "longest", "pad_to_multiple_of": 4},
    {"padding": "max_length", "max_length": 4, "truncation": True},
    {"padding": True, "max_length": 6, "truncation": True, "pad_to_multiple_of": 4},
    {"padding": False},
    {"return_attention_mask": False},
    {"return_tensors": "pt"},
    {"return_tensors": "np", "padding": "max_length", "max_length": 10},
]


@pytest.mark.parametrize("kind", ["lists", "float32", "torch"])
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("case", range(len(PAD_CASES)))
@pytest.mark.parametrize("feature_size", [1, 4])
def test_pad_matches_transformers(kind, side, case, feature_size):
    kwargs = PAD_CASES[case]
    ours_class, ref_class, key = (OursAudio, RefAudio, "input_values") if feature_size == 1 else (
        OursFrames, RefFrames, "input_features")
    settings = dict(feature_size=feature_size, sampling_rate=16000, padding_value=-1.5, padding_side=side)
    data = sequences(kind, feature_size)
    try:
        ref = ref_class(**settings).pad({key: list(data)}, **kwargs)
    except ValueError:  # unpadded tensors cannot be stacked: transformers refuses, and so must we
        with pytest.raises(ValueError, match="padding=True"):
            ours_class(**settings).pad({key: list(data)}, **kwargs)
        return
    ours = ours_class(**settings).pad({key: list(data)}, **kwargs)
    assert set(ours) == set(ref)
    for name in ref:
        if isinstance(ref[name], list):  # no padding: one array per example
            assert isinstance(ours[name], list) and len(ours[name]) == len(ref[name])
            for mine, theirs in zip(ours[name], ref[name]):
                same(mine, theirs)
        else:
            same(ours[name], ref[name])


def test_pad_takes_a_list_of_examples_like_a_collate_function():
    examples = [{"input_values": row, "label": index} for index, row in enumerate(sequences("float32", 1))]
    ours = OursAudio(feature_size=1, sampling_rate=16000, padding_value=0.0).pad(examples, return_tensors="pt")
    ref = RefAudio(feature_size=1, sampling_rate=16000, padding_value=0.0).pad(examples, return_tensors="pt")
    for name in ("input_values", "attention_mask", "label"):
        same(ours[name], ref[name])


def test_pad_errors_name_the_fix():
    extractor = OursAudio(feature_size=1, sampling_rate=16000, padding_value=0.0)
    data = {"input_values": sequences("float32", 1)}
    with pytest.raises(ValueError, match="padding='max_length' needs max_length"):
        extractor.pad(data, padding="max_length")
    with pytest.raises(ValueError, match="truncation=True needs max_length"):
        extractor.pad(data, truncation=True)
    with pytest.raises(ValueError, match="needs the field 'input_values'"):
        extractor.pad({"audio": [[0.0]]})
    with pytest.raises(ValueError, match="padding='sideways' is not valid"):
        extractor.pad(data, padding="sideways")
    with pytest.raises(ValueError, match="padding_side must be"):
        OursAudio(feature_size=1, sampling_rate=16000, padding_value=0.0, padding_side="up")
    extractor.padding_value = None
    with pytest.raises(ValueError, match="no padding_value"):
        extractor.pad(data)


# ---------------------------------------------------------------------------------------------
# Auto classes and processors, end to end with classes registered for a test model_type
# ---------------------------------------------------------------------------------------------


class ToyFeatureExtractor(SequenceFeatureExtractor):
    """A feature extractor whose features are the samples themselves, scaled (a stand-in for Wav2Vec2's)."""

    model_input_names = ["input_values", "attention_mask"]

    def __init__(self, feature_size=1, sampling_rate=16000, padding_value=0.0, scale=1.0, **settings):
        super().__init__(feature_size=feature_size, sampling_rate=sampling_rate, padding_value=padding_value, **settings)
        self.scale = scale

    def __call__(self, raw_speech, sampling_rate=None, return_tensors=None, padding=True):
        if sampling_rate is not None and sampling_rate != self.sampling_rate:
            raise ValueError(f"this extractor takes {self.sampling_rate} Hz audio, got {sampling_rate}.")
        rows = [np.asarray(row, dtype=np.float32) * self.scale for row in raw_speech]
        return self.pad({"input_values": rows}, padding=padding, return_tensors=return_tensors)


class ToyVisionProcessor(ProcessorMixin):
    attributes = ["image_processor", "tokenizer"]


def tiny_tokenizer() -> Tokenizer:
    words = ["[PAD]", "[UNK]", "a", "photo", "of", "cat", "dog", "two"]
    backend = BackendTokenizer(models.WordLevel({word: i for i, word in enumerate(words)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return Tokenizer(backend, pad_token="[PAD]", unk_token="[UNK]")


@pytest.fixture()
def toy_types():
    """Register the test classes under model_type 'toy-vision' / 'toy-audio'; removed afterwards."""
    processing.register_image_processor("toy-vision", ViTImageProcessor)
    processing.register_processor("toy-vision", ToyVisionProcessor)
    processing.register_feature_extractor("toy-audio", ToyFeatureExtractor)
    yield
    unregister("image processor", "toy-vision")
    unregister("processor", "toy-vision")
    unregister("feature extractor", "toy-audio")


def write_config(folder, model_type: str) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as handle:
        json.dump({"model_type": model_type}, handle)


class UnknownImageProcessor(ViTImageProcessor):
    """A class no table lists (the vision families list their own: ViT, DeiT ...)."""


def test_tables_are_the_declarations_and_unknown_types_say_what_is_supported(tmp_path):
    from hfexplain.models import FAMILIES

    for table, field in ((processing.IMAGE_PROCESSOR_MAPPING_NAMES, "image_processor"),
                         (processing.FEATURE_EXTRACTOR_MAPPING_NAMES, "feature_extractor"),
                         (processing.PROCESSOR_MAPPING_NAMES, "processor")):
        assert dict(table) == {t: (f.module, getattr(f, field)) for t, f in FAMILIES.items() if getattr(f, field)}
    assert processing.IMAGE_PROCESSOR_MAPPING_NAMES["clip"] == ("clip", "CLIPImageProcessor")
    assert processing.FEATURE_EXTRACTOR_MAPPING_NAMES["whisper"] == ("whisper", "WhisperFeatureExtractor")
    assert processing.PROCESSOR_MAPPING_NAMES["wav2vec2"] == ("wav2vec2", "Wav2Vec2Processor")
    assert processing.IMAGE_PROCESSOR_MAPPING_NAMES["dinov2"] == ("dinov2", "BitImageProcessor")
    UnknownImageProcessor().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="'UnknownImageProcessor'.*Supported: .*ViTImageProcessor.*register_image_processor"):
        AutoImageProcessor.from_pretrained(tmp_path)
    with pytest.raises(TypeError, match="not instantiated"):
        AutoProcessor()


def test_auto_image_processor_dispatches_by_saved_type(tmp_path, toy_types):
    image = image_inputs()["pil_rgb"]
    original = ViTImageProcessor(size={"height": 6, "width": 5}, image_mean=[0.2, 0.3, 0.4])
    original.save_pretrained(tmp_path)
    loaded = AutoImageProcessor.from_pretrained(tmp_path)
    assert type(loaded) is ViTImageProcessor and loaded.to_dict() == original.to_dict()
    same(loaded(image, return_tensors="pt").pixel_values, original(image, return_tensors="pt").pixel_values)
    # transformers' own file ("ViTImageProcessor" too) dispatches to the registered class
    ViTImageProcessorPil(size={"height": 4, "width": 4}).save_pretrained(tmp_path / "ref")
    from_ref = AutoImageProcessor.from_pretrained(tmp_path / "ref")
    assert type(from_ref) is ViTImageProcessor
    same(from_ref(image, return_tensors="pt").pixel_values,
         ViTImageProcessorPil(size={"height": 4, "width": 4})(image, return_tensors="pt").pixel_values, atol=1e-6)
    with pytest.raises(ValueError, match="already has a image processor"):
        processing.register_image_processor("toy-vision", CLIPImageProcessor)


def test_auto_image_processor_falls_back_to_model_type_and_old_names(tmp_path, toy_types):
    settings = ViTImageProcessor(size=5).to_dict()
    del settings["image_processor_type"]
    write_config(tmp_path / "by_type", "toy-vision")
    with open(tmp_path / "by_type" / "preprocessor_config.json", "w") as handle:
        json.dump(settings, handle)
    assert type(AutoImageProcessor.from_pretrained(tmp_path / "by_type")) is ViTImageProcessor
    write_config(tmp_path / "other", "toy-other")
    with open(tmp_path / "other" / "preprocessor_config.json", "w") as handle:
        json.dump(settings, handle)
    with pytest.raises(ValueError, match="model_type 'toy-other' has no image processor"):
        AutoImageProcessor.from_pretrained(tmp_path / "other")
    (tmp_path / "old").mkdir()
    with open(tmp_path / "old" / "preprocessor_config.json", "w") as handle:
        json.dump({**settings, "feature_extractor_type": "ViTFeatureExtractor"}, handle)
    assert type(AutoImageProcessor.from_pretrained(tmp_path / "old")) is ViTImageProcessor


def test_auto_feature_extractor_end_to_end(tmp_path, toy_types):
    extractor = ToyFeatureExtractor(scale=2.0, padding_side="left")
    extractor.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "preprocessor_config.json").read_text())["feature_extractor_type"] == "ToyFeatureExtractor"
    loaded = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert type(loaded) is ToyFeatureExtractor and loaded.to_dict() == extractor.to_dict()
    audio = [RNG.standard_normal(n).astype(np.float32) for n in (4, 7)]
    out = loaded(audio, return_tensors="pt")
    same(out.input_values, extractor(audio, return_tensors="pt").input_values)
    assert out.input_values[0, :3].tolist() == [0.0, 0.0, 0.0]  # padded on the left
    torch.testing.assert_close(out.input_values[0, 3:], torch.from_numpy(audio[0] * 2.0))
    assert type(AutoProcessor.from_pretrained(tmp_path)) is ToyFeatureExtractor  # no tokenizer: the extractor


def test_processor_merges_its_pieces_and_matches_transformers_pieces(tmp_path):
    tokenizer = tiny_tokenizer()
    processor = ToyVisionProcessor(ViTImageProcessor(size=8), tokenizer)
    images = [image_inputs()["pil_rgb"], image_inputs()["numpy_hwc"]]
    texts = ["a photo of a cat", "two dog"]
    out = processor(images=images, text=texts, padding=True, return_tensors="pt", do_normalize=False)
    assert set(out) == {"input_ids", "attention_mask", "pixel_values"}
    tokenizer.save_pretrained(tmp_path)
    ref_tokens = transformers.PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / "tokenizer.json"), pad_token="[PAD]")(
        texts, padding=True, return_tensors="pt"
    )
    same(out.input_ids, ref_tokens["input_ids"])
    same(out.attention_mask, ref_tokens["attention_mask"])
    same(out.pixel_values, ViTImageProcessorPil(size=8)(images, do_normalize=False, return_tensors="pt").pixel_values,
         atol=1e-6)
    assert processor.model_input_names == ["pixel_values", "input_ids", "attention_mask"]
    assert processor.batch_decode(out.input_ids, skip_special_tokens=True) == tokenizer.batch_decode(
        out.input_ids, skip_special_tokens=True
    )
    only_text = processor(text="a cat")
    assert set(only_text) == {"input_ids", "attention_mask"}
    explicit = processor(images=images[0], images_kwargs={"size": 4}, return_tensors="pt")
    assert explicit.pixel_values.shape == (1, 3, 4, 4)


def test_processor_save_and_auto_processor_load(tmp_path, toy_types):
    processor = ToyVisionProcessor(ViTImageProcessor(size=8), tiny_tokenizer())
    processor.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "preprocessor_config.json").read_text())["processor_class"] == "ToyVisionProcessor"
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["processor_class"] == "ToyVisionProcessor"
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert type(loaded) is ToyVisionProcessor
    assert type(loaded.image_processor) is ViTImageProcessor and isinstance(loaded.tokenizer, Tokenizer)
    image = image_inputs()["pil_rgb"]
    ours, again = (p(images=image, text="a cat", return_tensors="pt") for p in (processor, loaded))
    for name in ours:
        same(again[name], ours[name])
    # loading the image processor alone drops processor_class (it names the holder, not a setting)
    assert "processor_class" not in AutoImageProcessor.from_pretrained(tmp_path).to_dict()
    # through the Hub cache, offline
    make_hub_cache(tmp_path / "cache", "org/toy-vision", folder_files(tmp_path))
    assert type(AutoProcessor.from_pretrained("org/toy-vision", cache_dir=tmp_path / "cache")) is ToyVisionProcessor


def test_auto_processor_unknown_class_and_text_only_fallback(tmp_path, toy_types):
    ToyVisionProcessor(ViTImageProcessor(size=8), tiny_tokenizer()).save_pretrained(tmp_path / "vision")
    unregister("processor", "toy-vision")
    with pytest.raises(ValueError, match="processor 'ToyVisionProcessor'.*Supported: .*CLIPProcessor, Wav2Vec2Processor, WhisperProcessor"):
        AutoProcessor.from_pretrained(tmp_path / "vision")
    tiny_tokenizer().save_pretrained(tmp_path / "text")
    write_config(tmp_path / "text", "gpt2")
    assert isinstance(AutoProcessor.from_pretrained(tmp_path / "text"), Tokenizer)  # text-only: the tokenizer
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ValueError, match="has no processor, tokenizer"):
        AutoProcessor.from_pretrained(tmp_path / "nothing")


def test_processor_arguments_are_checked():
    with pytest.raises(ValueError, match="needs 2 pieces"):
        ToyVisionProcessor(ViTImageProcessor())
    with pytest.raises(TypeError, match="unexpected argument 'feature_extractor'"):
        ToyVisionProcessor(ViTImageProcessor(), tiny_tokenizer(), feature_extractor=None)
    processor = ToyVisionProcessor(ViTImageProcessor(), tiny_tokenizer())
    with pytest.raises(ValueError, match="needs some input"):
        processor()
    with pytest.raises(ValueError, match="holds no feature_extractor"):
        processor(audio=[[0.0]])


# ---------------------------------------------------------------------------------------------
# pipelines take what the model's main input needs
# ---------------------------------------------------------------------------------------------

from hfexplain.configuration import PretrainedConfig  # noqa: E402
from hfexplain.pipelines import base as pipeline_base  # noqa: E402


class ToyPixelModel(torch.nn.Module):
    """Reads pixel_values (b, c, h, w): mean over space, then a linear layer -> logits (b, 3)."""

    main_input_name = "pixel_values"

    def __init__(self, name_or_path: str = ""):
        super().__init__()
        self.config = PretrainedConfig(num_labels=3, name_or_path=name_or_path)
        self.classifier = torch.nn.Linear(3, 3)

    def forward(self, pixel_values):
        return {"logits": self.classifier(pixel_values.mean(dim=(2, 3)))}  # (b, c) -> (b, 3)


class ToyAudioModel(torch.nn.Module):
    """Reads input_values (b, samples) and attention_mask: the masked mean, times a weight."""

    main_input_name = "input_values"

    def __init__(self):
        super().__init__()
        self.config = PretrainedConfig(num_labels=1)
        self.weight = torch.nn.Parameter(torch.tensor(2.0))

    def forward(self, input_values, attention_mask=None):
        mask = torch.ones_like(input_values) if attention_mask is None else attention_mask.to(input_values.dtype)
        return {"logits": self.weight * (input_values * mask).sum(-1, keepdim=True) / mask.sum(-1, keepdim=True)}


class ToyImagePipeline(pipeline_base.Pipeline):
    task = "toy-image-classification"

    def _check_input(self, item):
        pass  # images, not text

    def _sanitize_parameters(self):
        return {}, {}, {}

    def preprocess(self, image):
        return dict(self.image_processor(image, return_tensors="pt"))

    def _forward(self, model_inputs):
        return {"logits": self.model(**self._model_kwargs(model_inputs))["logits"]}

    def postprocess(self, model_outputs, trace=None):
        return model_outputs["logits"][0].tolist()


class ToyAudioPipeline(ToyImagePipeline):
    task = "toy-audio"

    def preprocess(self, audio):
        return dict(self.feature_extractor([audio], return_tensors="pt"))


@pytest.fixture()
def toy_tasks(monkeypatch):
    from hfexplain import pipelines

    classes = {"toy-image-classification": ToyImagePipeline, "toy-audio": ToyAudioPipeline}
    for task in classes:
        monkeypatch.setitem(pipelines.PIPELINE_TASKS, task, ("unused", "unused", "base"))
    monkeypatch.setattr(pipelines, "pipeline_class", lambda task: classes[task])
    return pipelines.pipeline


def test_pipeline_loads_the_image_processor_a_pixel_model_needs(tmp_path, toy_types, toy_tasks):
    ViTImageProcessor(size=6).save_pretrained(tmp_path)
    model = ToyPixelModel(name_or_path=str(tmp_path))  # where it "was loaded from"
    pipe = toy_tasks("toy-image-classification", model=model)
    assert type(pipe.image_processor) is ViTImageProcessor and pipe.tokenizer is None
    assert pipe.preprocessor is pipe.image_processor and pipe.main_input_name == "pixel_values"
    images = [image_inputs()["pil_rgb"], image_inputs()["numpy_chw"], image_inputs()["torch_chw"]]
    with torch.no_grad():
        expected = model(ViTImageProcessorPil(size=6)(images, return_tensors="pt").pixel_values)["logits"]
    torch.testing.assert_close(torch.tensor(pipe(images, batch_size=2)), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.tensor(pipe(images[0])), expected[0], atol=1e-6, rtol=0)
    inspection = pipe.inspect(images[0])
    assert inspection.tokens == [] and inspection.model_inputs[0]["pixel_values"].shape == (1, 3, 6, 6)


def test_pipeline_takes_image_processor_and_processor_arguments(tmp_path, toy_types, toy_tasks):
    ViTImageProcessor(size=5).save_pretrained(tmp_path / "images")
    pipe = toy_tasks("toy-image-classification", model=ToyPixelModel(), image_processor=str(tmp_path / "images"))
    assert pipe.image_processor.size == {"height": 5, "width": 5}
    ToyVisionProcessor(ViTImageProcessor(size=4), tiny_tokenizer()).save_pretrained(tmp_path / "processor")
    pipe = toy_tasks("toy-image-classification", model=ToyPixelModel(), processor=str(tmp_path / "processor"))
    assert type(pipe.processor) is ToyVisionProcessor
    assert pipe.image_processor is pipe.processor.image_processor and pipe.tokenizer is pipe.processor.tokenizer
    with pytest.raises(ValueError, match="no image_processor given"):
        toy_tasks("toy-image-classification", model=ToyPixelModel())
    with pytest.raises(TypeError, match="needs an image_processor .*AutoImageProcessor.*reads 'pixel_values'"):
        ToyImagePipeline(ToyPixelModel(), tiny_tokenizer())


def test_audio_rows_are_batched_with_the_extractors_padding(toy_tasks):
    extractor = ToyFeatureExtractor(padding_value=7.0)  # a masked model must not see the padding value
    pipe = toy_tasks("toy-audio", model=ToyAudioModel(), feature_extractor=extractor)
    clips = [RNG.standard_normal(n).astype(np.float32) for n in (3, 8, 5)]
    alone = [pipe(clip) for clip in clips]
    batched = pipe(clips, batch_size=3)
    torch.testing.assert_close(torch.tensor(batched), torch.tensor(alone), atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.tensor(alone)[:, 0], torch.tensor([2 * clip.mean() for clip in clips]),
                               atol=1e-5, rtol=0)


def test_text_pipelines_keep_loading_their_tokenizer_also_through_processor():
    from hfexplain import pipeline
    from hfexplain.assets import tiny_gpt2_path

    default = pipeline("text-generation", model=tiny_gpt2_path(), do_sample=False, max_new_tokens=4)
    through_processor = pipeline("text-generation", model=tiny_gpt2_path(), processor=tiny_gpt2_path(),
                                 do_sample=False, max_new_tokens=4)
    assert isinstance(through_processor.tokenizer, Tokenizer) and through_processor.processor is None
    assert through_processor("The list") == default("The list")


def test_widgets_say_when_a_model_does_not_read_text():
    pytest.importorskip("ipywidgets")
    pytest.importorskip("plotly")
    from hfexplain.widgets.attention import model_support_problem
    from hfexplain.widgets.generation import model_generation_problem
    from hfexplain.widgets.tokens import TokenizerDashboard

    # the attention dashboard reads images too now (patch attention): what stops it is the missing hooks
    assert "has no hook points" in model_support_problem(ToyPixelModel())
    assert "reads 'input_values', not token ids" in model_generation_problem(ToyAudioModel())
    with pytest.raises(TypeError, match="makes \\['pixel_values'\\], not token ids"):
        TokenizerDashboard({"vit": ViTImageProcessor()}, "text")
