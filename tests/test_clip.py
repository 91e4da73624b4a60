"""CLIP against transformers: the model (both towers, their projections, the temperature, the loss),
its nested config, its tokenizer, its image processor and its processor.

Every expected value comes from transformers on the same tiny random weights (saved by
transformers, perturbed away from their initial values) or the same inputs.
"""
from __future__ import annotations

import json
import os
import shutil
import warnings

import numpy as np
import pytest
import torch

import parity
import hfexplain
from clip_vocab import write_clip_vocab
from hfexplain.configuration import PretrainedConfig
from hfexplain.models.clip import (
    CLIPConfig,
    CLIPForImageClassification,
    CLIPImageProcessor,
    CLIPModel,
    CLIPProcessor,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPVisionConfig,
    CLIPVisionModel,
    CLIPVisionModelWithProjection,
)
from hfexplain.tokenization import CLIPTokenizer, Tokenizer

transformers = parity.quiet_transformers()
PIL_Image = pytest.importorskip("PIL.Image")
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil  # noqa: E402

BOS, EOS = 97, 98
TEXT = dict(vocab_size=99, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=16, projection_dim=16, bos_token_id=BOS, eos_token_id=EOS)
VISION = dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
              num_attention_heads=4, projection_dim=16)
CLIP = dict(text_config=TEXT, vision_config=VISION, projection_dim=16)
PATCHES = (32 // 8) ** 2 + 1  # [CLS] + a 4 x 4 grid


@pytest.fixture(scope="module")
def reference_folder(tmp_path_factory):
    folder, _ = parity.save_reference(transformers.CLIPModel, CLIP, tmp_path_factory.mktemp("clip") / "ref")
    return folder


@pytest.fixture(scope="module")
def models(reference_folder):
    reference = transformers.CLIPModel.from_pretrained(reference_folder, attn_implementation="eager").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every weight is the checkpoint's: nothing new, nothing unused
        ours = CLIPModel.from_pretrained(reference_folder)
    return reference, ours


def text_inputs():
    """Three texts as the CLIP tokenizer gives them (bos ... eos, padded with eos), one left-padded."""
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(3, BOS, (3, 9), generator=generator)
    mask = torch.ones(3, 9, dtype=torch.long)
    ids[:, 0] = BOS
    ids[0, -1] = EOS
    ids[1, 5:] = EOS  # right padding repeats eos: the text is read at the first one
    mask[1, 6:] = 0
    ids[2, :2], ids[2, 2], ids[2, -1] = 1, BOS, EOS  # left padding with pad_token_id
    mask[2, :2] = 0
    return dict(input_ids=ids, attention_mask=mask)


def pixels(count=2, size=32):
    return torch.randn(count, 3, size, size, generator=torch.Generator().manual_seed(2))


def test_clip_matches_transformers_logits_embeddings_hidden_states_and_patterns(models):
    reference, ours = models
    inputs = dict(**text_inputs(), pixel_values=pixels())
    with torch.no_grad():
        expected = reference(**inputs, output_attentions=True, output_hidden_states=True)
        actual = ours(**inputs, output_attentions=True, output_hidden_states=True)
    assert actual.logits_per_image.shape == (2, 3) and actual.logits_per_text.shape == (3, 2)
    for field in ("logits_per_image", "logits_per_text", "text_embeds", "image_embeds"):
        parity.assert_close(getattr(actual, field), getattr(expected, field), field)
    real_text = inputs["attention_mask"].bool()
    parity.assert_outputs_match(actual.text_model_output, expected.text_model_output, real_text, what="text: ")
    every_patch = torch.ones(2, PATCHES, dtype=torch.bool)
    parity.assert_outputs_match(actual.vision_model_output, expected.vision_model_output, every_patch, what="vision: ")
    assert len(actual.text_model_output.attentions) == len(actual.vision_model_output.hidden_states) - 1 == 2
    # the learned temperature: logits are exp(logit_scale) times the cosines
    cosines = actual.image_embeds @ actual.text_embeds.t()
    parity.assert_close(actual.logits_per_image, cosines * ours.logit_scale.exp(), "temperature")

    # the fast path (nobody watches attention: SDPA) against transformers' default (SDPA) path
    fast_reference = transformers.CLIPModel.from_pretrained(reference.config.name_or_path).eval()
    with torch.no_grad():
        fast, fast_expected = ours(**inputs), fast_reference(**inputs)
    assert fast.text_model_output.attentions is None
    for field in ("logits_per_image", "text_embeds", "image_embeds"):
        parity.assert_close(getattr(fast, field), getattr(fast_expected, field), f"fast path {field}")


def test_features_and_contrastive_loss_match(models):
    reference, ours = models
    text, images = text_inputs(), pixels()
    with torch.no_grad():
        for mine, theirs in ((ours.get_text_features(**text), reference.get_text_features(**text)),
                             (ours.get_image_features(images), reference.get_image_features(images))):
            assert mine.pooler_output.shape[-1] == 16  # projected into the shared space
            parity.assert_close(mine.pooler_output, theirs.pooler_output, "features")
        pair = {key: value[:2] for key, value in text.items()}
        actual = ours(**pair, pixel_values=images, return_loss=True)
        expected = reference(**pair, pixel_values=images, return_loss=True)
    parity.assert_close(actual.loss, expected.loss, "contrastive loss")
    assert actual.loss > 0 and ours(**pair, pixel_values=images).loss is None
    ours(**pair, pixel_values=images, return_loss=True).loss.backward()  # the temperature learns too
    assert ours.logit_scale.grad is not None and ours.logit_scale.grad.abs() > 0
    ours.zero_grad()


def test_hooks_tell_the_two_stacks_apart(models):
    reference, ours = models
    inputs = dict(**text_inputs(), pixel_values=pixels())
    with torch.no_grad():
        expected = reference(**inputs, output_attentions=True, output_hidden_states=True)
        _, cache = ours.run_with_cache(**inputs, names_filter=lambda name: True)
    assert ours.hook_stacks() == ["text", "vision"]
    real = inputs["attention_mask"].bool()
    text_out, vision_out = expected.text_model_output, expected.vision_model_output
    for layer in range(2):
        parity.assert_close(cache["pattern", layer, "text"] * real[:, None, :, None],
                            text_out.attentions[layer] * real[:, None, :, None], f"text pattern {layer}")
        parity.assert_close(cache["pattern", layer, "vision"], vision_out.attentions[layer], f"vision pattern {layer}")
        parity.assert_close(cache["resid_pre", layer, "text"][real], text_out.hidden_states[layer][real], "text resid")
        parity.assert_close(cache["resid_pre", layer, "vision"], vision_out.hidden_states[layer], "vision resid")
    assert cache["pattern", 0, "text"].shape == (3, 4, 9, 9)
    assert cache["pattern", 0, "vision"].shape == (2, 4, PATCHES, PATCHES)
    parity.assert_close(cache["final", None, "text"][real], text_out.last_hidden_state[real], "text final")
    parity.assert_close(cache["final", None, "vision"], vision_out.last_hidden_state, "vision final")
    embedded = reference.text_model.embeddings.token_embedding(inputs["input_ids"])
    parity.assert_close(cache["embed", None, "text"], embedded, "text embed")
    # the text tower's logit lens: its final norm applied to the last block's output is "final"
    parity.assert_close(cache.apply_final_norm(cache["resid_post", -1, "text"], "text"), cache["final", None, "text"],
                        "final norm")
    assert ours.hook_name("pattern", 1, "vision") == "vision_model.encoder.layers.1.self_attn.hook_pattern"
    with pytest.raises(KeyError, match="in stacks 'text', 'vision'; say which one"):
        cache["pattern", 0]
    with pytest.raises(ValueError, match="several stacks .*'text': 2 layers.*'vision': 2 layers"):
        ours.num_hook_layers()
    with pytest.raises(KeyError, match="has no stack 'encoder'; its stacks are 'text', 'vision'"):
        ours.hook_name("pattern", 0, "encoder")
    # a tower alone has one stack: the layer is enough
    _, tower_cache = ours.text_model.run_with_cache(**text_inputs(), names_filter="pattern")
    torch.testing.assert_close(tower_cache["pattern", 0], cache["pattern", 0, "text"], atol=0, rtol=0)
    assert ours.vision_model.hook_stacks() == ["vision"] and ours.vision_model.num_hook_layers() == 2


def test_save_loads_strictly_in_transformers(models, reference_folder, tmp_path):
    _, ours = models
    ours.save_pretrained(tmp_path / "ours")
    assert parity.checkpoint_keys(tmp_path / "ours") == parity.checkpoint_keys(reference_folder)
    saved = json.loads((tmp_path / "ours" / "config.json").read_text())
    assert saved["model_type"] == "clip" and saved["text_config"]["model_type"] == "clip_text_model"
    reloaded, info = transformers.CLIPModel.from_pretrained(tmp_path / "ours", output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    assert reloaded.config.text_config.eos_token_id == EOS and reloaded.config.vision_config.patch_size == 8
    inputs = dict(**text_inputs(), pixel_values=pixels())
    with torch.no_grad():
        parity.assert_close(ours(**inputs).logits_per_image, reloaded.eval()(**inputs).logits_per_image, "saved")
    auto = hfexplain.AutoModelForZeroShotImageClassification.from_pretrained(tmp_path / "ours")
    assert type(auto) is CLIPModel and type(hfexplain.AutoModel.from_pretrained(tmp_path / "ours")) is CLIPModel


def test_towers_alone_and_with_projection_match(reference_folder, tmp_path):
    text, images = text_inputs(), pixels()
    # a tower read out of the whole CLIP checkpoint, as Stable Diffusion reads its text encoder
    for ours_class, theirs_class, inputs in ((CLIPTextModel, transformers.CLIPTextModel, text),
                                             (CLIPVisionModel, transformers.CLIPVisionModel,
                                              dict(pixel_values=images))):
        with pytest.warns(UserWarning, match="not used by"):  # the other tower's weights
            ours = ours_class.from_pretrained(reference_folder)
        theirs = theirs_class.from_pretrained(reference_folder).eval()
        with torch.no_grad():
            parity.assert_close(ours(**inputs).pooler_output, theirs(**inputs).pooler_output, ours_class.__name__)
    # with their projection, from their own transformers checkpoints (the tower sits under text_model.*)
    for ours_class, theirs_class, config, inputs, field in (
            (CLIPTextModelWithProjection, transformers.CLIPTextModelWithProjection, TEXT, text, "text_embeds"),
            (CLIPVisionModelWithProjection, transformers.CLIPVisionModelWithProjection, VISION,
             dict(pixel_values=images), "image_embeds")):
        folder, _ = parity.save_reference(theirs_class, config, tmp_path / field)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ours = ours_class.from_pretrained(folder)
        theirs = theirs_class.from_pretrained(folder).eval()
        with torch.no_grad():
            parity.assert_close(getattr(ours(**inputs), field), getattr(theirs(**inputs), field), field)
        ours.save_pretrained(tmp_path / f"{field}-ours")
        assert parity.checkpoint_keys(tmp_path / f"{field}-ours") == parity.checkpoint_keys(folder)
    # a checkpoint of the bare text tower in transformers 5's layout (no prefix) round-trips
    folder, _ = parity.save_reference(transformers.CLIPTextModel, TEXT, tmp_path / "bare")
    ours = CLIPTextModel.from_pretrained(folder)
    ours.save_pretrained(tmp_path / "bare-ours")
    assert parity.checkpoint_keys(tmp_path / "bare-ours") == parity.checkpoint_keys(folder)
    assert type(hfexplain.AutoModel.from_pretrained(folder)) is CLIPTextModel


def test_image_classification_head_matches_transformers(tmp_path):
    """transformers' CLIPForImageClassification: the mean of the vision tower's patch states -> classifier."""
    folder, _ = parity.save_reference(transformers.CLIPForImageClassification, {**CLIP, "num_labels": 5},
                                      tmp_path / "classifier")
    reference = transformers.CLIPForImageClassification.from_pretrained(folder, attn_implementation="eager").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every weight is the checkpoint's (there is no text tower in it)
        ours = hfexplain.AutoModelForImageClassification.from_pretrained(folder)
    assert type(ours) is CLIPForImageClassification and ours.hook_stacks() == ["vision"]
    images, labels = pixels(3), torch.tensor([0, 4, 2])
    with torch.no_grad():
        expected = reference(images, labels=labels, output_attentions=True, output_hidden_states=True)
        actual = ours(images, labels=labels, output_attentions=True, output_hidden_states=True)
        _, cache = ours.run_with_cache(images, names_filter=["class_logits", "final"])
    assert actual.logits.shape == (3, 5)
    parity.assert_outputs_match(actual, expected, torch.ones(3, PATCHES, dtype=torch.bool))
    diff = (actual.logits - expected.logits).abs().max().item()
    assert diff <= 1e-5 and abs(actual.loss.item() - expected.loss.item()) <= 1e-5, diff
    parity.assert_close(cache["class_logits"], expected.logits, "class_logits hook")
    by_hand = ours.classifier(cache["final"][:, 1:].mean(dim=1))  # the patches' mean, [CLS] left out
    parity.assert_close(by_hand, expected.logits, "mean of the patch states")
    ours.save_pretrained(tmp_path / "ours")
    assert parity.checkpoint_keys(tmp_path / "ours") == parity.checkpoint_keys(folder)
    reloaded, info = transformers.CLIPForImageClassification.from_pretrained(tmp_path / "ours", output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    with torch.no_grad():
        parity.assert_close(ours(images).logits, reloaded.eval()(images).logits, "saved")


def test_eos_rules_and_other_image_sizes(tmp_path):
    # eos_token_id == 2 (configs saved before transformers' fix): each text is read at its largest id
    legacy = {**TEXT, "eos_token_id": 2, "bos_token_id": 0}
    folder, _ = parity.save_reference(transformers.CLIPTextModel, legacy, tmp_path / "legacy")
    ours, theirs = CLIPTextModel.from_pretrained(folder), transformers.CLIPTextModel.from_pretrained(folder).eval()
    ids = torch.randint(3, 90, (2, 7), generator=torch.Generator().manual_seed(3))
    ids[0, 4] = 98
    with torch.no_grad():
        parity.assert_close(ours(ids).pooler_output, theirs(ids).pooler_output, "legacy eos pooling")
        parity.assert_close(ours(ids).pooler_output[0], ours(ids).last_hidden_state[0, 4], "read at the largest id")
    # interpolate_pos_encoding: a 40 x 40 image (a 5 x 5 grid where the positions learned 4 x 4)
    folder, _ = parity.save_reference(transformers.CLIPVisionModel, VISION, tmp_path / "vision")
    ours, theirs = CLIPVisionModel.from_pretrained(folder), transformers.CLIPVisionModel.from_pretrained(folder).eval()
    big = pixels(1, 40)
    with torch.no_grad():
        mine, expected = ours(big, interpolate_pos_encoding=True), theirs(big, interpolate_pos_encoding=True)
    assert mine.last_hidden_state.shape == (1, 26, 32)
    parity.assert_close(mine.last_hidden_state, expected.last_hidden_state, "interpolated positions")


def test_bad_input_is_named_before_any_work(models):
    _, ours = models
    text, images = text_inputs(), pixels()
    with pytest.raises(ValueError, match="get_text_features needs input_ids.*CLIP tokenizer"):
        ours.get_text_features(attention_mask=text["attention_mask"])
    with pytest.raises(ValueError, match="get_image_features needs pixel_values"):
        ours.get_image_features()
    with pytest.raises(ValueError, match="needs input_ids and pixel_values; pixel_values missing.*get_text_features"):
        ours(**text)
    with pytest.raises(ValueError, match="4 channels but the model takes 3.*RGB"):
        ours(**text, pixel_values=torch.randn(2, 4, 32, 32))
    with pytest.raises(ValueError, match="the image is 48x40 but the model was trained on 32x32.*interpolate_pos_enc"):
        ours.get_image_features(torch.randn(1, 3, 48, 40))
    with pytest.raises(ValueError, match="float tensor of shape \\(batch, 3, height, width\\).*unsqueeze"):
        ours.get_image_features(torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match=r"float tensor.*torch.uint8"):
        ours.get_image_features(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    no_eos = text["input_ids"].clone()
    no_eos[0, -1] = 5
    with pytest.raises(ValueError, match=r"row\(s\) \[0\] of input_ids hold no end-of-text token \(eos_token_id=98\)"):
        ours.get_text_features(no_eos)
    with pytest.raises(ValueError, match="pairs text j with image j, but there are 3 texts and 2 images"):
        ours(**text, pixel_values=images, return_loss=True)
    with pytest.raises(ValueError, match="model has only 16 positions"):
        ours.get_text_features(torch.full((1, 17), EOS))


# ------------------------------------------------------------------ configs


def test_nested_config_round_trips_with_transformers(reference_folder, tmp_path):
    ours = CLIPConfig.from_pretrained(reference_folder)
    assert isinstance(ours.text_config, CLIPTextConfig) and isinstance(ours.vision_config, CLIPVisionConfig)
    assert ours.text_config.eos_token_id == EOS and ours.vision_config.image_size == 32 and ours.projection_dim == 16
    assert hfexplain.AutoConfig.from_pretrained(reference_folder) == ours
    ours.save_pretrained(tmp_path)
    theirs = transformers.CLIPConfig.from_pretrained(tmp_path)
    reference = transformers.CLIPConfig.from_pretrained(reference_folder)
    for part in ("text_config", "vision_config"):
        for key, value in getattr(reference, part).to_diff_dict().items():
            if key != "transformers_version":
                assert getattr(getattr(theirs, part), key) == value, (part, key)
    assert theirs.logit_scale_init_value == reference.logit_scale_init_value
    # one part of the composite file, read by that part's class (CLIPTextModel.from_pretrained(clip) needs it)
    assert CLIPTextConfig.from_pretrained(reference_folder) == ours.text_config
    assert CLIPVisionConfig.from_pretrained(reference_folder, patch_size=16).patch_size == 16
    # built in code: configs, dicts or the defaults, and a copy keeps them apart
    built = CLIPConfig(text_config=CLIPTextConfig(**TEXT), vision_config=VISION)
    assert (built.text_config, built.vision_config) == (ours.text_config, ours.vision_config)
    assert CLIPConfig().text_config == CLIPTextConfig()
    assert CLIPConfig.from_dict(json.loads(built.to_json_string())) == built
    with pytest.raises(TypeError, match="CLIPConfig's vision_config must be a CLIPVisionConfig, a dict of its fields"):
        CLIPConfig(vision_config=CLIPTextConfig())
    with pytest.raises(ValueError, match="model_type 'clip_vision_model', but CLIPTextConfig is for 'clip_text_model'"):
        CLIPConfig(text_config={"model_type": "clip_vision_model"})
    with pytest.raises(ValueError, match="image_size \\(30\\) must be a multiple of patch_size \\(8\\)"):
        CLIPVisionConfig(image_size=30, patch_size=8)


def test_sub_configs_are_generic():
    """Any family can nest configs the same way (the base class does the work)."""

    class PartConfig(PretrainedConfig):
        model_type = "part"

        def __init__(self, width: int = 4, **kwargs):
            self.width = width
            super().__init__(**kwargs)

    class WholeConfig(PretrainedConfig):
        model_type = "whole"
        sub_configs = {"left": PartConfig, "right": PartConfig}

    whole = WholeConfig(left={"width": 7})
    assert whole.left.width == 7 and whole.right.width == 4
    written = whole.to_dict()
    assert written["left"]["width"] == 7 and written["left"]["model_type"] == "part"
    assert WholeConfig.from_dict(written) == whole and WholeConfig.from_dict(written).left is not whole.left


# ------------------------------------------------------------------ the tokenizer

SENTENCES = [
    "a photo of a cat",
    "A Photo OF a CAT",
    "Hello, world! (really?) -- yes...",
    "12345 and 3.14 or 1,000,000",
    "café naïve résumé — 東京 😀",
    "  lots   of\tspace\n here  ",
    "it's they're I'll we've she'd you'm",
    "",
    "words <|endoftext|> around a special token",
]


@pytest.fixture(scope="module")
def clip_vocab_folder(tmp_path_factory):
    return write_clip_vocab(tmp_path_factory.mktemp("clip_vocab"))



def _same_tokenization(ours, theirs, texts=SENTENCES):
    for padding in (True, False):
        mine, expected = ours(texts, padding=padding), theirs(texts, padding=padding)
        assert mine["input_ids"] == expected["input_ids"]
        assert mine["attention_mask"] == expected["attention_mask"]
        assert set(mine) == set(expected) == {"input_ids", "attention_mask"}
    ids = theirs(texts, padding=True)["input_ids"]
    assert ours.batch_decode(ids) == theirs.batch_decode(ids)
    assert ours.batch_decode(ids, skip_special_tokens=True) == theirs.batch_decode(ids, skip_special_tokens=True)
    assert ours.decode(ids[0]) == theirs.decode(ids[0])
    truncated = dict(truncation=True, max_length=6, padding="max_length")
    assert ours(texts, **truncated)["input_ids"] == theirs(texts, **truncated)["input_ids"]
    pair = ("a photo", "of a cat")
    assert ours(*pair)["input_ids"] == theirs(*pair)["input_ids"]
    assert ours.tokenize(texts[2]) == theirs.tokenize(texts[2])
    assert ours.convert_tokens_to_string(ours.tokenize("a photo of")) == "a photo of"


def test_clip_tokenizer_matches_transformers(clip_vocab_folder, tmp_path):
    theirs = transformers.CLIPTokenizer(vocab=str(clip_vocab_folder / "vocab.json"),
                                        merges=str(clip_vocab_folder / "merges.txt"))
    theirs.save_pretrained(tmp_path / "fast")  # tokenizer.json + tokenizer_config.json, as the Hub repos hold
    ours = hfexplain.AutoTokenizer.from_pretrained(tmp_path / "fast")
    assert type(ours) is CLIPTokenizer
    assert (ours.bos_token, ours.eos_token, ours.pad_token) == ("<|startoftext|>", "<|endoftext|>", "<|endoftext|>")
    assert ours.pad_token_id == ours.eos_token_id == theirs.eos_token_id
    assert ours.tokenize("a photo") == ["a</w>", "photo</w>"]
    _same_tokenization(ours, theirs)
    # the plain Tokenizer reads the same tokenizer.json but keeps the byte-level decoder's </w> markers
    plain = Tokenizer.from_pretrained(tmp_path / "fast")
    assert plain("a photo")["input_ids"] == ours("a photo")["input_ids"] and "</w>" in plain.decode(ours.encode("a"))
    # ours saved: transformers reads a CLIPTokenizer back, and so do we
    ours.save_pretrained(tmp_path / "ours")
    assert json.loads((tmp_path / "ours" / "tokenizer_config.json").read_text())["tokenizer_class"] == "CLIPTokenizer"
    again = transformers.AutoTokenizer.from_pretrained(tmp_path / "ours")
    assert type(again).__name__ == "CLIPTokenizer"
    _same_tokenization(hfexplain.AutoTokenizer.from_pretrained(tmp_path / "ours"), again)


def test_clip_tokenizer_rebuilt_from_vocab_and_merges(clip_vocab_folder, tmp_path):
    ours = hfexplain.AutoTokenizer.from_pretrained(clip_vocab_folder)  # no tokenizer.json: rebuilt here
    assert type(ours) is CLIPTokenizer
    theirs = transformers.CLIPTokenizer.from_pretrained(clip_vocab_folder)
    _same_tokenization(ours, theirs)
    # a checkpoint folder naming no tokenizer class: config.json's model_type says CLIP
    folder = tmp_path / "typed"
    folder.mkdir()
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(clip_vocab_folder / name, folder / name)
    (folder / "config.json").write_text(json.dumps({"model_type": "clip"}))
    assert type(hfexplain.AutoTokenizer.from_pretrained(folder)) is CLIPTokenizer
    assert hfexplain.AutoTokenizer.from_pretrained(folder)("A Cat!")["input_ids"] == theirs("A Cat!")["input_ids"]


# ------------------------------------------------------------------ the image processor and the processor


def _images():
    generator = np.random.default_rng(0)

    def draw(shape, dtype=np.uint8):
        if dtype == np.uint8:
            return generator.integers(0, 256, shape, dtype=np.uint8)
        return generator.random(shape, dtype=np.float32)

    return {
        "pil_rgb": PIL_Image.fromarray(draw((37, 53, 3))),
        "pil_gray": PIL_Image.fromarray(draw((40, 30))),
        "pil_rgba": PIL_Image.fromarray(draw((30, 41, 4))),
        "pil_large": PIL_Image.fromarray(draw((300, 260, 3))),
        "uint8_hwc": draw((45, 33, 3)),
        "uint8_chw": draw((3, 29, 50)),
        "float_hwc": draw((36, 36, 3), np.float32),
        "torch_chw": torch.from_numpy(draw((3, 31, 27))),
    }


@pytest.mark.parametrize("name", list(_images()))
def test_image_processor_matches_transformers(name):
    image = _images()[name]
    settings = {"do_rescale": False} if name == "float_hwc" else {}
    expected = CLIPImageProcessorPil(**settings)(image, return_tensors="pt").pixel_values
    actual = CLIPImageProcessor(**settings)(image, return_tensors="pt").pixel_values
    assert actual.shape == expected.shape == (1, 3, 224, 224)
    parity.assert_close(actual, expected, name)
    small = {"size": {"shortest_edge": 20}, "crop_size": {"height": 18, "width": 16}, **settings}
    parity.assert_close(CLIPImageProcessor(**small)(image, return_tensors="pt").pixel_values,
                        CLIPImageProcessorPil(**small)(image, return_tensors="pt").pixel_values, f"{name} small")


def test_image_processor_settings_and_files_round_trip(tmp_path):
    ours, theirs = CLIPImageProcessor(), CLIPImageProcessorPil()
    mine, expected = ours.to_dict(), theirs.to_dict()
    assert mine.pop("image_processor_type") == "CLIPImageProcessor"
    expected.pop("image_processor_type")
    assert mine == json.loads(json.dumps(expected))
    theirs.save_pretrained(tmp_path / "theirs")
    loaded = hfexplain.AutoImageProcessor.from_pretrained(tmp_path / "theirs")
    assert type(loaded) is CLIPImageProcessor and loaded.to_dict() == ours.to_dict()
    CLIPImageProcessor(crop_size=32, size=40).save_pretrained(tmp_path / "ours")
    back = transformers.AutoImageProcessor.from_pretrained(tmp_path / "ours")
    assert type(back).__name__.startswith("CLIPImageProcessor") and back.crop_size == {"height": 32, "width": 32}
    image = _images()["pil_rgb"]
    parity.assert_close(hfexplain.AutoImageProcessor.from_pretrained(tmp_path / "ours")(image, return_tensors="pt")
                        .pixel_values, back(image, return_tensors="pt").pixel_values, "saved settings")


def test_processor_round_trips_with_transformers(clip_vocab_folder, tmp_path):
    tokenizer = transformers.CLIPTokenizer.from_pretrained(clip_vocab_folder)
    theirs = transformers.CLIPProcessor(image_processor=CLIPImageProcessorPil(crop_size=32, size=32),
                                        tokenizer=tokenizer)
    theirs.save_pretrained(tmp_path / "theirs")
    ours = hfexplain.AutoProcessor.from_pretrained(tmp_path / "theirs")
    assert type(ours) is CLIPProcessor
    assert type(ours.tokenizer) is CLIPTokenizer and type(ours.image_processor) is CLIPImageProcessor
    images = [_images()["pil_rgb"], _images()["uint8_hwc"]]
    call = dict(text=["a photo of a cat", "A DOG, sitting."], images=images, padding=True, return_tensors="pt")
    mine, expected = ours(**call), theirs(**call)
    assert set(mine) == set(expected) == {"input_ids", "attention_mask", "pixel_values"}
    for key in expected:
        parity.assert_close(mine[key], expected[key], key)
    ours.save_pretrained(tmp_path / "ours")
    back = transformers.AutoProcessor.from_pretrained(tmp_path / "ours")
    assert type(back).__name__ == "CLIPProcessor" and type(back.tokenizer).__name__ == "CLIPTokenizer"
    again = back(**call)
    for key in expected:
        parity.assert_close(again[key], expected[key], f"saved {key}")
    assert ours.batch_decode(mine["input_ids"], skip_special_tokens=True) == ["a photo of a cat", "a dog , sitting ."]
