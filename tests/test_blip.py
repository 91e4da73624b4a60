"""BLIP against transformers: the captioner, the VQA model and the contrastive model (logits, losses,
hidden states and attentions of both stacks, cross-attention, hooks), their generation (greedy and beam,
with and without a prompt, cache on and off), saves that transformers loads, the nested config, the
image processor and the processor, and the errors for bad input.

Every expected value comes from transformers 5.23 on the same tiny random weights (saved by
transformers, perturbed away from their initial values) and the same inputs.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch

import parity
from blip_vocab import DEC, PAD, SEP, VOCAB, write_blip_tokenizer
from hfexplain.models.blip import (
    BlipConfig,
    BlipForConditionalGeneration,
    BlipForQuestionAnswering,
    BlipImageProcessor,
    BlipModel,
    BlipProcessor,
    BlipTextConfig,
)

transformers = parity.quiet_transformers()
PIL_Image = pytest.importorskip("PIL.Image")
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil  # noqa: E402

TEXT = dict(vocab_size=len(VOCAB), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=24, bos_token_id=DEC, sep_token_id=SEP, pad_token_id=PAD, projection_dim=16,
            label_smoothing=0.1)
VISION = dict(image_size=16, patch_size=8, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
              num_attention_heads=4)
BLIP = dict(text_config=TEXT, vision_config=VISION, projection_dim=16)
POSITIONS = (16 // 8) ** 2 + 1  # [CLS] + a 2 x 2 grid
CLASSES = {"caption": (transformers.BlipForConditionalGeneration, BlipForConditionalGeneration),
           "vqa": (transformers.BlipForQuestionAnswering, BlipForQuestionAnswering),
           "itc": (transformers.BlipModel, BlipModel)}
MAX_DIFF: dict[str, float] = {}  # the largest difference seen per comparison (printed with -s)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """name -> (transformers' model, ours, the folder transformers saved)."""
    root = tmp_path_factory.mktemp("blip")
    built = {}
    for name, (reference_class, our_class) in CLASSES.items():
        folder, _ = parity.save_reference(reference_class, BLIP, root / name)
        reference = reference_class.from_pretrained(folder, attn_implementation="eager").eval()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # every weight is the checkpoint's: nothing new, nothing unused
            ours = our_class.from_pretrained(folder)
        built[name] = (reference, ours, folder)
    yield built
    print("\nBLIP parity, max abs differences:", {k: f"{v:.2g}" for k, v in sorted(MAX_DIFF.items())})


def close(actual, expected, what, real=None):
    if real is not None:
        actual, expected = parity._at_real_tokens(actual, real), parity._at_real_tokens(expected, real)
    parity.assert_close(actual, expected, what)
    MAX_DIFF[what] = max(MAX_DIFF.get(what, 0.0), (actual.float() - expected.float()).abs().max().item())


def pixels(count=2, size=16, seed=1):
    return torch.randn(count, 3, size, size, generator=torch.Generator().manual_seed(seed))


def texts():
    """Two texts as the tokenizer gives them ([CLS] ... [SEP]), the second right-padded by 2."""
    ids = torch.randint(5, DEC, (2, 7), generator=torch.Generator().manual_seed(2))
    ids[:, 0], ids[:, -1] = VOCAB.index("[CLS]"), SEP
    mask = torch.ones_like(ids)
    ids[1, 4], ids[1, 5:], mask[1, 5:] = SEP, PAD, 0
    return ids, mask


# ------------------------------------------------------------------ the captioner


def test_captioner_logits_loss_and_both_stacks_match(models):
    reference, ours, _ = models["caption"]
    ids, mask = texts()
    labels = ids.masked_fill(mask == 0, -100)
    inputs = dict(pixel_values=pixels(), input_ids=ids, attention_mask=mask, labels=labels)
    with torch.no_grad():
        expected = reference(**inputs, output_hidden_states=True, output_attentions=True)
        actual = ours(**inputs, output_hidden_states=True, output_attentions=True)
    real = mask.bool()
    close(actual.logits, expected.logits, "caption logits", real)
    close(actual.loss, expected.loss, "caption loss (label smoothing 0.1)")
    assert ours.text_decoder.label_smoothing == 0.1 and actual.loss > 0
    for field in ("image_embeds", "last_hidden_state"):
        close(getattr(actual, field), getattr(expected, field), f"caption {field}")
    assert len(actual.hidden_states) == 3 and len(actual.attentions) == 2  # the vision tower's
    for i in range(3):
        close(actual.hidden_states[i], expected.hidden_states[i], "vision hidden_states")
    for i in range(2):
        close(actual.attentions[i], expected.attentions[i], "vision attentions")

    # the text decoder: hidden states, causal self-attention and cross-attention to the image
    image = expected.last_hidden_state
    with torch.no_grad():
        text_expected = reference.text_decoder(input_ids=ids, attention_mask=mask, encoder_hidden_states=image,
                                               output_hidden_states=True, output_attentions=True)
        text_actual = ours.text_decoder(ids, mask, encoder_hidden_states=image, output_hidden_states=True,
                                        output_attentions=True)
    assert len(text_actual.hidden_states) == 3 and len(text_actual.cross_attentions) == 2
    for i in range(3):
        close(text_actual.hidden_states[i], text_expected.hidden_states[i], "text hidden_states", real)
    for i in range(2):
        close(text_actual.attentions[i], text_expected.attentions[i], "text attentions", real)
        close(text_actual.cross_attentions[i], text_expected.cross_attentions[i], "text cross_attentions", real)
        assert text_actual.cross_attentions[i].shape == (2, 4, 7, POSITIONS)

    # the fast path (nobody watches attention: SDPA) against the same reference
    with torch.no_grad():
        fast = ours(**inputs)
    assert fast.attentions is None and fast.hidden_states is None
    close(fast.logits, expected.logits, "caption logits, fast path", real)


def test_captions_are_token_identical_greedy_and_beam(models):
    reference, ours, _ = models["caption"]
    images = pixels()
    runs = [dict(max_new_tokens=7), dict(max_new_tokens=7, num_beams=3),
            dict(max_new_tokens=6, num_beams=3, num_return_sequences=2, length_penalty=0.5),
            dict(max_new_tokens=5, repetition_penalty=1.3, no_repeat_ngram_size=2)]
    for settings in runs:
        expected = reference.generate(pixel_values=images, **settings)
        for use_cache in (True, False):
            actual = ours.generate(images, use_cache=use_cache, **settings)
            assert torch.equal(actual, expected), (settings, use_cache, actual, expected)
    assert (expected[:, 0] == DEC).all()  # the decoder starts at bos ([DEC])
    # a prompt as the tokenizer gives it: [CLS] is made [DEC], the last [SEP] dropped, the prompt returned
    ids, _ = texts()
    prompt = ids[:1, :5].clone().repeat(2, 1)
    prompt[:, -1] = SEP
    for settings in (dict(max_new_tokens=5), dict(max_new_tokens=5, num_beams=2)):
        expected = reference.generate(pixel_values=images, input_ids=prompt.clone(), **settings)
        actual = ours.generate(images, input_ids=prompt, **settings)
        assert torch.equal(actual, expected), (settings, actual, expected)
    assert prompt[0, 0] == VOCAB.index("[CLS]"), "generate must not write into the caller's prompt"
    assert torch.equal(actual[:, 1:4], prompt[:, 1:4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "using the default max_length"
        assert torch.equal(ours.generate(images[:1]), reference.generate(pixel_values=images[:1]))


def test_saves_load_in_transformers(models, tmp_path):
    ids, mask = texts()
    for name, (reference, ours, folder) in models.items():
        saved = tmp_path / name
        ours.save_pretrained(saved)
        assert parity.checkpoint_keys(saved) == parity.checkpoint_keys(folder), name
        reloaded, info = type(reference).from_pretrained(saved, attn_implementation="eager", output_loading_info=True)
        assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), (name, info)
        assert reloaded.config.text_config.encoder_hidden_size == 32
        with torch.no_grad():
            if name == "caption":
                close(ours(pixels(), ids, mask).logits, reloaded.eval()(pixels(), ids, mask).logits, "saved", mask.bool())
            elif name == "itc":
                close(ours(ids, pixels(), mask).logits_per_image, reloaded.eval()(ids, pixels(), mask).logits_per_image,
                      "saved")
            else:
                assert torch.equal(ours.generate(ids, pixels(), mask, max_new_tokens=4),
                                   reloaded.eval().generate(input_ids=ids, pixel_values=pixels(), attention_mask=mask,
                                                            max_new_tokens=4))
        again = type(ours).from_pretrained(saved)
        for (key, a), (_, b) in zip(ours.state_dict().items(), again.state_dict().items()):
            assert torch.equal(a, b), f"{name}: {key} changed in a save/load round trip"


# ------------------------------------------------------------------ visual question answering


def test_vqa_answers_and_loss_match(models):
    reference, ours, _ = models["vqa"]
    ids, mask = texts()
    answers = torch.randint(5, DEC, (2, 4), generator=torch.Generator().manual_seed(3))
    answers[:, 0] = DEC
    with torch.no_grad():
        expected = reference(input_ids=ids, pixel_values=pixels(), attention_mask=mask, labels=answers,
                             output_hidden_states=True)
        actual = ours(ids, pixels(), attention_mask=mask, labels=answers, output_hidden_states=True)
    close(actual.loss, expected.loss, "vqa loss")
    close(actual.image_embeds, expected.image_embeds, "vqa image_embeds")
    for i in range(3):
        close(actual.hidden_states[i], expected.hidden_states[i], "vision hidden_states")
    # the question encoder reads the image (bidirectional, with cross-attention)
    with torch.no_grad():
        image = expected.last_hidden_state
        image_mask = torch.ones(image.shape[:2], dtype=torch.long)
        question_expected = reference.text_encoder(input_ids=ids, attention_mask=mask, encoder_hidden_states=image,
                                                   encoder_attention_mask=image_mask, output_attentions=True)
        question_actual = ours.text_encoder(ids, mask, encoder_hidden_states=image, encoder_attention_mask=image_mask,
                                            output_attentions=True)
    close(question_actual.last_hidden_state, question_expected.last_hidden_state, "question states", mask.bool())
    for i in range(2):
        close(question_actual.attentions[i], question_expected.attentions[i], "question attentions", mask.bool())
        close(question_actual.cross_attentions[i], question_expected.cross_attentions[i], "question cross_attentions",
              mask.bool())
    for settings in (dict(max_new_tokens=6), dict(max_new_tokens=6, num_beams=3),
                     dict(max_new_tokens=5, num_beams=2, num_return_sequences=2)):
        expected_ids = reference.generate(input_ids=ids, pixel_values=pixels(), attention_mask=mask, **settings)
        for use_cache in (True, False):
            actual_ids = ours.generate(ids, pixels(), attention_mask=mask, use_cache=use_cache, **settings)
            assert torch.equal(actual_ids, expected_ids), (settings, use_cache, actual_ids, expected_ids)
    assert (actual_ids[:, 0] == DEC).all()


# ------------------------------------------------------------------ image-text contrast


def test_contrastive_model_matches(models):
    reference, ours, _ = models["itc"]
    ids, mask = texts()
    images = pixels(3)
    with torch.no_grad():
        expected = reference(input_ids=ids, pixel_values=images, attention_mask=mask, output_hidden_states=True,
                             output_attentions=True)
        actual = ours(ids, images, mask, output_hidden_states=True, output_attentions=True)
    assert actual.logits_per_image.shape == (3, 2)
    for field in ("logits_per_image", "logits_per_text", "text_embeds", "image_embeds"):
        close(getattr(actual, field), getattr(expected, field), f"itc {field}")
    parity.assert_outputs_match(actual.text_model_output, expected.text_model_output, mask.bool(), what="text: ")
    parity.assert_outputs_match(actual.vision_model_output, expected.vision_model_output,
                                torch.ones(3, POSITIONS, dtype=torch.bool), what="vision: ")
    pair = pixels(2)
    with torch.no_grad():
        close(ours(ids, pair, mask, return_loss=True).loss,
              reference(input_ids=ids, pixel_values=pair, attention_mask=mask, return_loss=True).loss, "itc loss")
        close(ours.get_text_features(ids, mask).pooler_output,
              reference.get_text_features(input_ids=ids, attention_mask=mask).pooler_output, "text features")
        close(ours.get_image_features(pair).pooler_output, reference.get_image_features(pixel_values=pair).pooler_output,
              "image features")
        close(ours.get_multimodal_features(ids, pair, mask),
              reference.get_multimodal_features(input_ids=ids, pixel_values=pair, attention_mask=mask),
              "multimodal features")
        resized = pixels(2, size=24, seed=4)  # the position grid interpolated, both libraries the same way
        close(ours.get_image_features(resized, interpolate_pos_encoding=True).pooler_output,
              reference.get_image_features(pixel_values=resized, interpolate_pos_encoding=True).pooler_output,
              "interpolate_pos_encoding")


# ------------------------------------------------------------------ hooks


def test_hooks_name_each_stack(models):
    reference, ours, _ = models["caption"]
    ids, mask = texts()
    with torch.no_grad():
        expected = reference(pixel_values=pixels(), input_ids=ids, attention_mask=mask, output_attentions=True)
        text_expected = reference.text_decoder(input_ids=ids, attention_mask=mask,
                                               encoder_hidden_states=expected.last_hidden_state, output_attentions=True)
        _, cache = ours.run_with_cache(pixels(), ids, mask, names_filter=lambda name: True)
    assert ours.hook_stacks() == ["text", "vision"]
    real = mask.bool()
    for layer in range(2):
        close(cache["pattern", layer, "vision"], expected.attentions[layer], "alias vision pattern")
        close(cache["pattern", layer, "text"], text_expected.attentions[layer], "alias text pattern", real)
        close(cache["cross_pattern", layer], text_expected.cross_attentions[layer], "alias cross_pattern", real)
    close(cache["final", None, "vision"], expected.last_hidden_state, "alias vision final")
    close(cache["logits"], expected.logits, "alias logits", real)
    close(ours.get_final_norm("vision")(cache["resid_post", 1, "vision"]), expected.last_hidden_state,
          "vision final norm")
    with pytest.raises(KeyError, match="say which one"):
        cache["pattern", 0]
    vqa = models["vqa"][1]
    assert vqa.hook_stacks() == ["decoder", "text", "vision"]
    assert vqa.hook_name("cross_pattern", 0, "decoder").startswith("text_decoder.")
    assert vqa.hook_name("cross_pattern", 0, "text").startswith("text_encoder.")


# ------------------------------------------------------------------ config, preprocessing


def test_config_nests_and_round_trips(models, tmp_path):
    config = BlipConfig(**BLIP)
    assert isinstance(config.text_config, BlipTextConfig) and config.text_config.encoder_hidden_size == 32
    assert BlipConfig(vision_config=dict(hidden_size=48, num_attention_heads=4)).text_config.encoder_hidden_size == 48
    folder = models["caption"][2]
    ours = BlipConfig.from_pretrained(folder)
    theirs = transformers.BlipConfig.from_pretrained(folder)
    assert ours.text_config.sep_token_id == theirs.text_config.sep_token_id == SEP
    assert ours.text_config.label_smoothing == 0.1 and ours.image_text_hidden_size == theirs.image_text_hidden_size
    assert BlipTextConfig.from_pretrained(folder).bos_token_id == DEC  # a part read from the whole file
    ours.save_pretrained(tmp_path)
    again = transformers.BlipConfig.from_pretrained(tmp_path)
    assert again.text_config.to_dict()["encoder_hidden_size"] == 32 and again.vision_config.patch_size == 8


def test_image_processor_and_processor_match_transformers(tmp_path):
    rng = np.random.default_rng(0)
    images = [PIL_Image.fromarray(rng.integers(0, 256, (30, 22, 3), dtype=np.uint8)),
              PIL_Image.fromarray(rng.integers(0, 256, (19, 25), dtype=np.uint8))]  # grey: made RGB
    ours, theirs = BlipImageProcessor(), BlipImageProcessorPil()
    expected = theirs(images, return_tensors="pt").pixel_values
    actual = ours(images, return_tensors="pt").pixel_values
    assert actual.shape == (2, 3, 384, 384)
    close(actual, expected, "image processor")
    theirs.save_pretrained(tmp_path)
    write_blip_tokenizer(tmp_path)
    processor = BlipProcessor.from_pretrained(tmp_path)
    reference = transformers.BlipProcessor.from_pretrained(tmp_path)
    mine = processor(images=images[0], text="a photo of two cats", return_tensors="pt")
    ref = reference(images=images[0], text="a photo of two cats", return_tensors="pt")
    assert sorted(mine) == sorted(ref) == ["attention_mask", "input_ids", "pixel_values"]  # no token types
    assert mine["input_ids"].tolist() == ref["input_ids"].tolist()
    close(mine["pixel_values"], ref["pixel_values"], "processor pixels")
    caption = [DEC, *mine["input_ids"][0, 1:-1].tolist(), SEP, PAD]
    assert processor.decode(caption, skip_special_tokens=True) == reference.decode(caption, skip_special_tokens=True) \
        == "a photo of two cats"


# ------------------------------------------------------------------ bad input


def test_bad_input_is_named_before_any_work(models):
    captioner, vqa, itc = models["caption"][1], models["vqa"][1], models["itc"][1]
    ids, mask = texts()
    with pytest.raises(ValueError, match="BLIP reads an image: pass pixel_values"):
        captioner.generate(input_ids=ids)
    with pytest.raises(ValueError, match="trained on 16x16.*interpolate_pos_encoding=True"):
        captioner.generate(pixels(size=24))
    with pytest.raises(ValueError, match="2 prompts but there are 3 images"):
        captioner.generate(pixels(3), input_ids=ids)
    with pytest.raises(ValueError, match="to write a caption call model.generate"):
        captioner(pixels())
    with pytest.raises(ValueError, match="needs the question: input_ids"):
        vqa.generate(pixel_values=pixels())
    with pytest.raises(ValueError, match="labels= .*or decoder_input_ids"):
        vqa(ids, pixels())
    with pytest.raises(ValueError, match="-100"):
        vqa(ids, pixels(), labels=ids.masked_fill(mask == 0, -100))
    with pytest.raises(ValueError, match="needs input_ids and pixel_values; pixel_values missing"):
        itc(ids)
    with pytest.raises(ValueError, match="the two widths must match"):
        BlipForQuestionAnswering(BlipConfig(text_config=dict(TEXT, hidden_size=16), vision_config=VISION))
    with pytest.raises(ValueError, match="label_smoothing must be a number in"):
        BlipTextConfig(label_smoothing=1.5)
    decoder = captioner.text_decoder
    with pytest.raises(ValueError, match=r"rank 3 with one row per prompt \(1\)"):
        decoder.generate(torch.tensor([[DEC]]), encoder_hidden_states=torch.zeros(2, 5, 32), max_new_tokens=2)
    with pytest.raises(ValueError, match=r"encoder_hidden_states must be \(batch, positions, 32\)"):
        decoder(torch.tensor([[DEC]]), encoder_hidden_states=torch.zeros(1, 5, 8))
    from hfexplain import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_embd=8, n_layer=1, n_head=2, vocab_size=11, n_positions=16))
    with pytest.raises(ValueError, match="has no cross-attention inputs"):
        gpt2.generate(torch.tensor([[1]]), encoder_hidden_states=torch.zeros(1, 5, 8), max_new_tokens=2)
