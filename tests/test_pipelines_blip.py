"""image-to-text and visual-question-answering pipelines (transformers 4.x's, with BLIP) against
transformers' own generate + decode on the same tiny weights, the same images and the same questions:
images as a path, a PIL image (RGB, grey) or an array, batches, beams, prompts, and the errors for a
call without an image or without a question."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import parity
from blip_vocab import write_blip_tokenizer
from test_blip import BLIP

import hfexplain

transformers = parity.quiet_transformers()
PIL_Image = pytest.importorskip("PIL.Image")
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil  # noqa: E402


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("blip_pipelines")
    saved = {}
    for name, reference_class in (("caption", transformers.BlipForConditionalGeneration),
                                  ("vqa", transformers.BlipForQuestionAnswering)):
        folder, _ = parity.save_reference(reference_class, BLIP, root / name, seed=3, perturb=0.6)  # varied texts
        BlipImageProcessorPil(size={"height": 16, "width": 16}).save_pretrained(folder)
        write_blip_tokenizer(root / name)
        saved[name] = folder
    saved["root"] = root
    return saved


@pytest.fixture(scope="module")
def reference(folders):
    """name -> a function image(s) [, question, settings] -> transformers' decoded texts."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(folders["caption"])
    processor = BlipImageProcessorPil.from_pretrained(folders["caption"])
    captioner = transformers.BlipForConditionalGeneration.from_pretrained(folders["caption"]).eval()
    vqa = transformers.BlipForQuestionAnswering.from_pretrained(folders["vqa"]).eval()

    def pixels(image):
        if isinstance(image, str):
            image = PIL_Image.open(image)
        if hasattr(image, "convert"):
            image = image.convert("RGB")
        return processor(image, return_tensors="pt").pixel_values

    def caption(image, prompt=None, **settings):
        text = {}
        if prompt is not None:
            encoded = tokenizer(prompt, return_tensors="pt")
            text = dict(input_ids=encoded.input_ids, attention_mask=encoded.attention_mask)
        ids = captioner.generate(pixel_values=pixels(image), **text, **settings)
        return [tokenizer.decode(row, skip_special_tokens=True) for row in ids]

    def answer(image, question, **settings):
        text = tokenizer(question, return_tensors="pt")
        ids = vqa.generate(input_ids=text.input_ids, attention_mask=text.attention_mask, pixel_values=pixels(image),
                           **settings)
        return [tokenizer.decode(row, skip_special_tokens=True).strip() for row in ids]

    return {"caption": caption, "vqa": answer}


def images(root) -> list:
    rng = np.random.default_rng(0)
    path = str(root / "photo.png")
    PIL_Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(path)
    return [path,
            PIL_Image.fromarray(rng.integers(0, 256, (20, 25, 3), dtype=np.uint8)),
            PIL_Image.fromarray(rng.integers(0, 256, (20, 25), dtype=np.uint8)),  # grey: read as RGB
            rng.integers(0, 256, (33, 31, 3), dtype=np.uint8)]


def test_image_to_text_equals_transformers_generate_and_decode(folders, reference):
    pipe = hfexplain.pipeline(model=folders["caption"])  # the task is read from the model: image-to-text
    assert type(pipe).__name__ == "ImageToTextPipeline" and pipe.task == "image-to-text"
    pictures = images(folders["root"])
    captions = []
    for image in pictures:
        expected = reference["caption"](image, max_new_tokens=6)
        assert pipe(image, max_new_tokens=6) == [{"generated_text": text} for text in expected]
        captions += expected
    assert len(set(captions)) > 1, "the captions should depend on the image"
    batched = pipe(pictures, max_new_tokens=6, batch_size=2)
    assert batched == [[{"generated_text": text}] for text in captions]
    beams = pipe(pictures[1], generate_kwargs={"num_beams": 3, "num_return_sequences": 2, "max_new_tokens": 5})
    assert beams == [{"generated_text": text} for text in
                     reference["caption"](pictures[1], num_beams=3, num_return_sequences=2, max_new_tokens=5)]
    prompted = pipe(images=pictures[0], prompt="a photo of", max_new_tokens=4)
    expected = reference["caption"](pictures[0], prompt="a photo of", max_new_tokens=4)
    assert prompted == [{"generated_text": expected[0]}] and expected[0].startswith("a photo of")
    inspection = pipe.inspect(pictures[1], max_new_tokens=3)
    assert inspection.output == pipe(pictures[1], max_new_tokens=3) and "16x16 pixels" in str(inspection)


def test_visual_question_answering_equals_transformers_generate_and_decode(folders, reference):
    pipe = hfexplain.pipeline(model=folders["vqa"])  # the task is read from the model
    assert type(pipe).__name__ == "VisualQuestionAnsweringPipeline"
    pictures = images(folders["root"])[:3]
    questions = ["how many cats are there?", "what color is the sofa?"]
    answers = []
    for image in pictures:
        expected = reference["vqa"](image, questions[0], max_new_tokens=5)
        assert pipe(image, question=questions[0], max_new_tokens=5) == [{"answer": text} for text in expected]
        answers.append(expected[0])
    assert len(set(answers)) > 1, "the answers should depend on the image"
    # several images, one question; one image, several questions; every question for every image
    assert pipe(pictures, question=questions[0], max_new_tokens=5) == [[{"answer": a}] for a in answers]
    per_question = [reference["vqa"](pictures[0], q, max_new_tokens=5)[0] for q in questions]
    assert pipe(pictures[0], questions, max_new_tokens=5) == [[{"answer": a}] for a in per_question]
    grid = pipe(pictures[:2], questions, max_new_tokens=5)
    assert [row[0]["answer"] for row in grid] == [reference["vqa"](image, q, max_new_tokens=5)[0]
                                                  for q in questions for image in pictures[:2]]
    assert pipe({"image": pictures[1], "question": questions[1]}, max_new_tokens=5) == \
        [{"answer": reference["vqa"](pictures[1], questions[1], max_new_tokens=5)[0]}]
    beams = pipe(pictures[2], question=questions[1], generate_kwargs={"num_beams": 3, "max_new_tokens": 4})
    assert beams == [{"answer": reference["vqa"](pictures[2], questions[1], num_beams=3, max_new_tokens=4)[0]}]


def test_bad_input_is_named_before_any_work(folders):
    captioner = hfexplain.pipeline("image-to-text", model=folders["caption"])
    vqa = hfexplain.pipeline("visual-question-answering", model=folders["vqa"])
    image = images(folders["root"])[1]
    with pytest.raises(ValueError, match=r"needs an image to caption: pipe\('photo.png'\)"):
        captioner()
    with pytest.raises(ValueError, match="not an image file"):
        captioner("a photo of a cat")
    with pytest.raises(ValueError, match="prompt must be a single string"):
        captioner(image, prompt=["a", "b"])
    with pytest.raises(ValueError, match="max_new_tokens is given both"):
        captioner(image, max_new_tokens=3, generate_kwargs={"max_new_tokens": 4})
    with pytest.raises(ValueError, match=r"needs a question about the image: pipe\(image, question="):
        vqa(image)
    with pytest.raises(ValueError, match="got an empty question"):
        vqa(image, question="  ")
    with pytest.raises(ValueError, match=r"needs a model with a image to text head \(AutoModelForImageTextToText\)"):
        hfexplain.pipeline("image-to-text", model=vqa.model, tokenizer=vqa.tokenizer,
                           image_processor=vqa.image_processor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the default max_length
        assert isinstance(captioner(image)[0]["generated_text"], str)
    # the model itself: a captioning call without an image, and a question-less VQA call
    with pytest.raises(ValueError, match="BLIP reads an image: pass pixel_values"):
        captioner.model.generate(input_ids=torch.tensor([[2, 3]]))
    with pytest.raises(ValueError, match="needs the question: input_ids"):
        vqa.model.generate(pixel_values=torch.zeros(1, 3, 16, 16))


def test_zero_shot_image_classification_with_blips_contrastive_model(folders):
    folder, _ = parity.save_reference(transformers.BlipModel, BLIP, folders["root"] / "itc", seed=3, perturb=0.6)
    BlipImageProcessorPil(size={"height": 16, "width": 16}).save_pretrained(folder)
    write_blip_tokenizer(folders["root"] / "itc")
    pipe = hfexplain.pipeline("zero-shot-image-classification", model=folder)
    image, labels = images(folders["root"])[1], ["cat", "dog", "sofa"]
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    text = tokenizer([f"a photo of {label}." for label in labels], padding=True, return_tensors="pt")
    pixels = BlipImageProcessorPil.from_pretrained(folder)(image, return_tensors="pt").pixel_values
    with torch.no_grad():
        logits = transformers.BlipModel.from_pretrained(folder).eval()(
            input_ids=text.input_ids, attention_mask=text.attention_mask, pixel_values=pixels).logits_per_image[0]
    scores = logits.softmax(-1)
    expected = sorted(zip(scores.tolist(), labels), key=lambda pair: -pair[0])
    actual = pipe(image, candidate_labels=labels, hypothesis_template="a photo of {}.")
    assert [row["label"] for row in actual] == [label for _, label in expected]
    assert max(abs(row["score"] - score) for row, (score, _) in zip(actual, expected)) < 1e-5
