"""image-classification and image-feature-extraction pipelines against transformers' on the same tiny ViT
and DeiT weights, with images given as a path, a PIL image (RGB, grey, RGBA), a NumPy array or a list."""
from __future__ import annotations

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")
PIL_Image = pytest.importorskip("PIL.Image")

import parity  # noqa: E402
from transformers.models.deit.image_processing_pil_deit import DeiTImageProcessorPil  # noqa: E402
from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil  # noqa: E402

import hfexplain  # noqa: E402

parity.quiet_transformers()

TINY = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, num_labels=7)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("vision")
    vit, _ = parity.save_reference(transformers.ViTForImageClassification, TINY, root / "vit")
    ViTImageProcessorPil(size=32).save_pretrained(vit)
    deit, _ = parity.save_reference(transformers.DeiTForImageClassificationWithTeacher, TINY, root / "deit")
    DeiTImageProcessorPil(size=40, crop_size=32).save_pretrained(deit)
    base, _ = parity.save_reference(transformers.ViTModel, TINY, root / "base")
    ViTImageProcessorPil(size=32).save_pretrained(base)
    return {"vit": vit, "deit": deit, "base": base, "root": root}


def images(root) -> list:
    rng = np.random.default_rng(0)
    path = str(root / "photo.png")
    PIL_Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(path)
    return [
        path,
        PIL_Image.fromarray(rng.integers(0, 256, (20, 25, 3), dtype=np.uint8)),
        PIL_Image.fromarray(rng.integers(0, 256, (20, 25), dtype=np.uint8)),  # grey: read as RGB
        PIL_Image.fromarray(rng.integers(0, 256, (21, 17, 4), dtype=np.uint8)),  # RGBA: read as RGB
        rng.integers(0, 256, (33, 31, 3), dtype=np.uint8),
    ]


def same_answers(ours, theirs, atol=1e-6):
    assert [row["label"] for row in ours] == [row["label"] for row in theirs]
    assert max(abs(a["score"] - b["score"]) for a, b in zip(ours, theirs)) <= atol


@pytest.mark.parametrize("name", ["vit", "deit"])
def test_image_classification_matches_transformers(folders, name):
    if name == "deit":  # the distilled classifier: hfexplain's Auto class gives DeiTForImageClassification
        from hfexplain.models.deit import DeiTForImageClassificationWithTeacher

        model = DeiTForImageClassificationWithTeacher.from_pretrained(folders[name])
        ours = hfexplain.pipeline("image-classification", model=model, image_processor=folders[name])
    else:
        ours = hfexplain.pipeline("image-classification", model=folders[name])
    theirs = transformers.pipeline("image-classification", model=folders[name])
    assert type(ours.model).__name__ == type(theirs.model).__name__
    pictures = images(folders["root"])
    for picture in pictures:
        same_answers(ours(picture), theirs(picture))
    batched, expected = ours(pictures, batch_size=2, top_k=3), theirs(pictures, top_k=3)
    assert len(batched) == len(pictures) and all(len(row) == 3 for row in batched)
    for mine, ref in zip(batched, expected):
        same_answers(mine, ref)
    same_answers(ours(pictures[1], top_k=50, function_to_apply="sigmoid"),
                 theirs(pictures[1], top_k=50, function_to_apply="sigmoid"))
    inspection = ours.inspect(pictures[0])
    assert inspection.model_inputs[0]["pixel_values"].shape == (1, 3, 32, 32)
    assert inspection.output == ours(pictures[0]) and "softmax over 7 labels" in inspection.decision


def test_the_task_is_guessed_from_the_model(folders):
    model = hfexplain.AutoModelForImageClassification.from_pretrained(folders["vit"])
    assert type(hfexplain.pipeline(model=model, image_processor=folders["vit"])).__name__ == "ImageClassificationPipeline"
    bare = hfexplain.AutoModel.from_pretrained(folders["base"])
    assert type(hfexplain.pipeline(model=bare, image_processor=folders["base"])).__name__ == \
        "ImageFeatureExtractionPipeline"


def test_image_feature_extraction_matches_transformers(folders):
    ours = hfexplain.pipeline("image-feature-extraction", model=folders["base"])
    theirs = transformers.pipeline("image-feature-extraction", model=folders["base"])
    for picture in images(folders["root"])[:2]:
        mine, ref = ours(picture, return_tensors=True), theirs(picture, return_tensors=True)
        assert mine.shape == ref.shape == (1, 17, 32)
        parity.assert_close(mine, ref, "features")
        parity.assert_close(torch.tensor(ours(picture, pool=True)), theirs(picture, pool=True, return_tensors=True),
                            "pooled")
    resized = ours(images(folders["root"])[1], image_processor_kwargs={"do_normalize": False}, return_tensors=True)
    assert not torch.allclose(resized, mine)
    without_pooler = hfexplain.ViTModel(hfexplain.ViTConfig(**TINY), add_pooling_layer=False).eval()
    no_pool = hfexplain.pipeline("image-feature-extraction", model=without_pooler, image_processor=folders["base"])
    with pytest.raises(ValueError, match="pool=True needs a pooled output.*add_pooling_layer=False"):
        no_pool(images(folders["root"])[1], pool=True)


def test_bad_inputs_name_the_fix(folders, tmp_path):
    pipe = hfexplain.pipeline("image-classification", model=folders["vit"])
    with pytest.raises(ValueError, match="not an image file .*a string is read as a path"):
        pipe("a photo of a cat")
    with pytest.raises(ValueError, match="not an image file"):
        pipe(str(tmp_path / "missing.png"))
    with pytest.raises(TypeError, match="takes an image .*got dict"):
        pipe({"image": 1})
    with pytest.raises(ValueError, match="downloads nothing"):
        pipe("https://example.com/cat.png")
    with pytest.raises(ValueError, match=r"needs 1 \(grey\), 3 \(RGB\) or 4 \(RGBA\) channels"):
        pipe(np.zeros((10, 10, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        pipe(images(folders["root"])[1], top_k=0)
    bare = hfexplain.AutoModel.from_pretrained(folders["base"])
    with pytest.raises(ValueError, match="needs a model with a image classification head"):
        hfexplain.pipeline("image-classification", model=bare, image_processor=folders["base"])


# ------------------------------------------------------------------ zero-shot image classification (CLIP)


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    """A tiny CLIP saved by transformers with its processor (the test BPE of test_clip.py, 32 x 32 images)."""
    import json

    from clip_vocab import write_clip_vocab
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    root = tmp_path_factory.mktemp("zero_shot")
    vocab = write_clip_vocab(root)
    size = len(json.loads((vocab / "vocab.json").read_text()))  # ... <|startoftext|>, <|endoftext|>
    text = dict(vocab_size=size, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=24, projection_dim=16, bos_token_id=size - 2, eos_token_id=size - 1)
    vision = dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                  num_attention_heads=4, projection_dim=16)
    folder, _ = parity.save_reference(transformers.CLIPModel, dict(text_config=text, vision_config=vision,
                                                                   projection_dim=16), root / "clip", perturb=0.5)
    transformers.CLIPProcessor(image_processor=CLIPImageProcessorPil(size=32, crop_size=32),
                               tokenizer=transformers.CLIPTokenizer.from_pretrained(vocab)).save_pretrained(folder)
    return folder


LABELS = ["cat", "dog", "a lovely photograph of the sea", "fox"]


def test_zero_shot_image_classification_matches_transformers(clip_folder, folders):
    ours = hfexplain.pipeline("zero-shot-image-classification", model=clip_folder)
    theirs = transformers.pipeline("zero-shot-image-classification", model=clip_folder)
    assert type(ours.model).__name__ == "CLIPModel" and type(ours.image_processor).__name__ == "CLIPImageProcessor"
    pictures = images(folders["root"])
    as_pil = [PIL_Image.fromarray(p) if isinstance(p, np.ndarray) else p for p in pictures]  # theirs reads no arrays
    for picture, pil in zip(pictures, as_pil):
        mine, ref = ours(picture, candidate_labels=LABELS), theirs(pil, candidate_labels=LABELS)
        assert [list(row) for row in mine] == [["score", "label"]] * 4  # transformers' keys, in its order
        same_answers(mine, ref)
        assert abs(sum(row["score"] for row in mine) - 1) < 1e-6 and mine[0]["score"] > mine[-1]["score"] + 0.01
    template = dict(candidate_labels=LABELS[:3], hypothesis_template="a photo of two {}s")
    expected = theirs(as_pil, **template)
    for batch_size in (1, 2):
        batched = ours(pictures, batch_size=batch_size, **template)
        assert len(batched) == len(pictures)
        for mine, ref in zip(batched, expected):
            same_answers(mine, ref)
    same_answers(ours(pictures[1], "cat, dog ,fox"), theirs(pictures[1], candidate_labels=["cat", "dog", "fox"]))
    padded = dict(padding="max_length", max_length=24)  # padding never moves CLIP's answer (causal, read at eos)
    same_answers(ours(pictures[1], candidate_labels=LABELS, tokenizer_kwargs=padded),
                 theirs(as_pil[1], candidate_labels=LABELS))
    assert ours(pictures[1], candidate_labels=["cat"]) == [{"score": 1.0, "label": "cat"}]  # one label: softmax of one
    processor = hfexplain.AutoProcessor.from_pretrained(clip_folder)
    built = hfexplain.pipeline("zero-shot-image-classification", model=ours.model, processor=processor,
                               candidate_labels=LABELS)
    same_answers(built(pictures[0]), theirs(pictures[0], candidate_labels=LABELS))

    inspection = ours.inspect(pictures[0], candidate_labels=LABELS)
    assert inspection.output == ours(pictures[0], candidate_labels=LABELS)
    assert inspection.details["captions"][0] == "This is a photo of cat."
    assert len(inspection.details["caption_tokens"]) == 4 and inspection.probabilities.shape == (4,)
    text = str(inspection)
    assert "32x32 pixels / 8x8 patches -> 4x4 grid = 16 patch tokens + 1 leading" in text and "= 17 tokens" in text
    assert "pixel_values (1, 3, 32, 32) float32: mean" in text and "input_ids (4, " in text


def test_zero_shot_image_bad_input_is_named_before_any_work(clip_folder, folders, monkeypatch):
    pipe = hfexplain.pipeline("zero-shot-image-classification", model=clip_folder)
    picture = images(folders["root"])[1]
    monkeypatch.setattr(pipe, "preprocess", None)  # any work would fail differently
    for labels in (None, [], ""):
        with pytest.raises(ValueError, match="needs (at least one candidate label|candidate labels)"):
            pipe(picture, candidate_labels=labels)
    with pytest.raises(ValueError, match="needs candidate labels"):
        pipe(picture)
    with pytest.raises(TypeError, match="candidate_labels must be a list of strings"):
        pipe(picture, candidate_labels=[1, 2])
    with pytest.raises(ValueError, match="has no '{}' where the label goes"):
        pipe(picture, candidate_labels=LABELS, hypothesis_template="a photo")
    with pytest.raises(ValueError, match="not an image file"):
        pipe("a photo of a cat", candidate_labels=LABELS)
    model = hfexplain.AutoModel.from_pretrained(clip_folder)
    with pytest.raises(TypeError, match="needs an image_processor as well as a tokenizer"):
        type(pipe)(model, tokenizer=pipe.tokenizer)
    vit = hfexplain.AutoModelForImageClassification.from_pretrained(folders["vit"])
    with pytest.raises(ValueError, match="zero shot image classification head"):
        hfexplain.pipeline("zero-shot-image-classification", model=vit, image_processor=folders["vit"])


def test_image_pipelines_inspect_the_patch_grid(folders):
    vit = hfexplain.pipeline("image-classification", model=folders["vit"])
    text = str(vit.inspect(images(folders["root"])[0]))
    assert "1. preprocess  -> 1 model row(s)" in text and "4x4 grid = 16 patch tokens + 1 leading" in text
    from hfexplain.models.deit import DeiTForImageClassificationWithTeacher

    deit = hfexplain.pipeline("image-classification", image_processor=folders["deit"],
                              model=DeiTForImageClassificationWithTeacher.from_pretrained(folders["deit"]))
    assert "16 patch tokens + 2 leading ([CLS] ...) = 18 tokens" in str(deit.inspect(images(folders["root"])[1]))
    features = hfexplain.pipeline("image-feature-extraction", model=folders["base"])
    inspection = features.inspect(images(folders["root"])[1])
    assert "= 17 tokens" in str(inspection) and len(inspection.output[0]) == 17  # the grid is the output's length
