"""BART parity: hfexplain.models.bart against transformers' BART on the same weights.

Every checkpoint is written by transformers (tiny random configs: odd sizes, different encoder
and decoder depths and head counts, scaled and unscaled embeddings, gelu and relu, tied and
untied head), loaded by both libraries and compared through tests/parity_seq2seq.py: logits,
every encoder and decoder hidden state, self and cross attentions, the hook vocabulary on both
stacks, labels -> loss, greedy and beam generation with the cache on and off, our save loaded
by transformers. Then what is BART's own: ``shift_tokens_right``, the position offset,
``forced_bos_token_id`` / ``forced_eos_token_id``, the cross k/v cached once, and the errors.
"""
from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

import parity  # noqa: E402
import parity_seq2seq  # noqa: E402

from hfexplain import AutoConfig, AutoModel, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification  # noqa: E402
from hfexplain.layers import EncoderDecoderCache  # noqa: E402
from hfexplain.models import bart as hb  # noqa: E402

SHAPES = {
    # deeper decoder with more heads, scaled embeddings (sqrt(d_model)), exact GELU
    "scaled": dict(vocab_size=61, d_model=16, encoder_layers=2, decoder_layers=3, encoder_attention_heads=2,
                   decoder_attention_heads=4, encoder_ffn_dim=24, decoder_ffn_dim=20, max_position_embeddings=24,
                   scale_embedding=True),
    # odd sizes, relu, 3 heads of 4, one encoder layer
    "odd_relu": dict(vocab_size=53, d_model=12, encoder_layers=1, decoder_layers=2, encoder_attention_heads=3,
                     decoder_attention_heads=2, encoder_ffn_dim=10, decoder_ffn_dim=14, max_position_embeddings=20,
                     activation_function="relu", num_labels=4),
    # an untied head (lm_head saved beside shared)
    "untied": dict(vocab_size=47, d_model=8, encoder_layers=2, decoder_layers=1, encoder_attention_heads=2,
                   decoder_attention_heads=2, encoder_ffn_dim=12, decoder_ffn_dim=12, max_position_embeddings=16,
                   tie_word_embeddings=False),
}
PAIRS = [(transformers.BartForConditionalGeneration, hb.BartForConditionalGeneration),
         (transformers.BartModel, hb.BartModel),
         (transformers.BartForSequenceClassification, hb.BartForSequenceClassification)]
CASES = [pytest.param(ref, ours, shape, id=f"{ours.__name__}-{name}")
         for ref, ours in PAIRS for name, shape in SHAPES.items()
         if not (name == "untied" and ours is not hb.BartForConditionalGeneration)]


@pytest.mark.parametrize("reference_class, our_class, config", CASES)
def test_parity_with_transformers(reference_class, our_class, config, tmp_path):
    report = parity_seq2seq.check_seq2seq_parity(reference_class, our_class, config, tmp_path)
    assert report["differences"]["logits"] <= parity.ATOL
    assert "cross_pattern" in report["aliases"]


@pytest.fixture(scope="module")
def lm_folder(tmp_path_factory):
    parity.quiet_transformers()
    folder, _ = parity.save_reference(transformers.BartForConditionalGeneration, SHAPES["scaled"],
                                      tmp_path_factory.mktemp("bart") / "lm")
    return folder


def _source(config):
    inputs = parity.make_inputs(config, token_types=0)
    return dict(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])


def test_auto_classes_dispatch(lm_folder):
    assert type(AutoConfig.from_pretrained(lm_folder)) is hb.BartConfig
    assert type(AutoModelForSeq2SeqLM.from_pretrained(lm_folder)) is hb.BartForConditionalGeneration
    assert type(AutoModel.from_pretrained(lm_folder)) is hb.BartModel
    with pytest.warns(UserWarning, match="newly initialised") as caught:
        classifier = AutoModelForSequenceClassification.from_pretrained(lm_folder)
    assert type(classifier) is hb.BartForSequenceClassification
    assert not any("not used" in str(w.message) for w in caught)  # final_logits_bias is dropped quietly


def test_config_defaults_match_transformers():
    ours, theirs = hb.BartConfig(), transformers.BartConfig()
    for key, value in theirs.to_dict().items():
        if hasattr(ours, key) and key not in ("transformers_version", "architectures", "dtype", "id2label",
                                              "label2id"):
            assert getattr(ours, key) == value, key
    assert ours.num_labels == theirs.num_labels == 3
    assert (ours.hidden_size, ours.num_attention_heads, ours.num_hidden_layers) == (1024, 16, 12)


def test_shift_tokens_right_matches_transformers():
    from transformers.models.bart.modeling_bart import shift_tokens_right

    labels = torch.tensor([[5, 6, 7, 2], [8, 2, -100, -100]])
    assert torch.equal(hb.shift_tokens_right(labels, 1, 2), shift_tokens_right(labels, 1, 2))
    assert hb.shift_tokens_right(labels, 1, 2).tolist() == [[2, 5, 6, 7], [2, 8, 2, 1]]  # by hand


def test_positions_read_the_table_with_an_offset_of_two(lm_folder):
    model = hb.BartForConditionalGeneration.from_pretrained(lm_folder)
    ids = torch.tensor([[5, 6, 7]])
    _, cache = model.run_with_cache(input_ids=ids, decoder_input_ids=torch.tensor([[2, 9]]))
    table = model.model.encoder.embed_positions.weight  # (max_position_embeddings + 2, d)
    assert table.shape[0] == model.config.max_position_embeddings + 2
    assert torch.equal(cache["pos_embed", None, "encoder"][0], table[2:5])
    scale = model.config.d_model ** 0.5  # scale_embedding=True
    assert torch.allclose(cache["embed", None, "encoder"], model.model.shared.weight[ids] * scale)


def test_forced_bos_and_eos_tokens_are_honoured(tmp_path):
    """bart-large-cnn's config says forced_bos_token_id=0: the first generated token is <s>. transformers 5
    reads it from generation_config.json only; hfexplain also from the model config, as 4.x did."""
    folder, _ = parity.save_reference(transformers.BartForConditionalGeneration, SHAPES["scaled"], tmp_path / "f")
    reference = transformers.BartForConditionalGeneration.from_pretrained(folder).eval()
    reference.generation_config.forced_bos_token_id = 0
    reference.save_pretrained(folder)  # generation_config.json now carries it
    ours = hb.BartForConditionalGeneration.from_pretrained(folder)
    assert ours.generation_config.forced_bos_token_id == 0 and ours.generation_config.forced_eos_token_id == 2
    source = _source(ours.config)
    for kwargs in (dict(), dict(num_beams=3)):
        expected = reference.generate(**source, max_new_tokens=6, **kwargs)
        actual = ours.generate(**source, max_new_tokens=6, **kwargs)
        assert torch.equal(actual, expected), kwargs
        assert (actual[:, 0] == 2).all() and (actual[:, 1] == 0).all()  # start token, then the forced <s>
        assert ((actual == 2).sum(dim=1) >= 2).all()  # each row reached </s>, forced at max_length at the latest
    (tmp_path / "f" / "generation_config.json").unlink()
    config = hb.BartConfig.from_pretrained(folder)
    config.forced_bos_token_id = 0
    from_config = hb.BartForConditionalGeneration.from_pretrained(folder, config=config)
    assert from_config.generation_config.forced_bos_token_id == 0
    assert torch.equal(from_config.generate(**source, max_new_tokens=6), reference.generate(**source, max_new_tokens=6))


def test_cross_keys_and_values_are_computed_once_per_generate(lm_folder):
    model = hb.BartForConditionalGeneration.from_pretrained(lm_folder)
    seen = []
    handle = model.model.decoder.layers[0].encoder_attn.hook_k.register_forward_hook(
        lambda module, args, output: seen.append(output.shape))
    source = _source(model.config)
    model.generate(**source, max_new_tokens=5, forced_eos_token_id=None, eos_token_id=None)
    handle.remove()
    assert seen == [torch.Size([parity.BATCH, model.config.decoder_attention_heads, parity.SEQ, 4])]
    out = model(**source, decoder_input_ids=torch.full((parity.BATCH, 1), 2), use_cache=True)
    cache = out.past_key_values
    assert isinstance(cache, EncoderDecoderCache)
    assert cache.get_seq_length() == 1 and cache.cross_attention_cache.get_seq_length() == parity.SEQ


def test_hook_cross_pattern_equals_transformers_cross_attentions(lm_folder):
    reference = transformers.BartForConditionalGeneration.from_pretrained(lm_folder, attn_implementation="eager")
    model = hb.BartForConditionalGeneration.from_pretrained(lm_folder)
    source = _source(model.config)
    decoder = torch.tensor([[2, 7, 9], [2, 5, 5], [2, 8, 3]])
    with torch.no_grad():
        expected = reference(**source, decoder_input_ids=decoder, output_attentions=True).cross_attentions
    _, cache = model.run_with_cache(**source, decoder_input_ids=decoder)
    for layer in range(model.config.decoder_layers):
        parity.assert_close(cache["cross_pattern", layer, "decoder"], expected[layer], f"cross_pattern {layer}")
    assert cache["cross_pattern", 0, "decoder"][1, :, :, -3:].abs().max() == 0  # row 1's padded source


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("fields, message", [
    (dict(d_model=10, encoder_attention_heads=4), r"d_model \(10\) must be divisible by encoder_attention_heads"),
    (dict(d_model=12, encoder_attention_heads=3, decoder_attention_heads=5), "decoder_attention_heads"),
    (dict(max_position_embeddings=0), "max_position_embeddings must be >= 1"),
])
def test_bad_configs_are_refused_before_any_weight(fields, message):
    with pytest.raises(ValueError, match=message):
        hb.BartConfig(**fields)


def test_decoder_input_longer_than_the_positions_is_named(lm_folder):
    model = hb.BartForConditionalGeneration.from_pretrained(lm_folder)
    limit = model.config.max_position_embeddings
    with pytest.raises(ValueError, match=rf"{limit + 1} tokens long .*BART's decoder has {limit} positions"):
        model(input_ids=torch.tensor([[5, 6]]), decoder_input_ids=torch.full((1, limit + 1), 5))
    with pytest.raises(ValueError, match=rf"learned only {limit}.*max_new_tokens"):
        model.generate(torch.tensor([[5, 6]]), max_new_tokens=limit)


def test_labels_of_the_wrong_shape_are_named(lm_folder):
    model = hb.BartForConditionalGeneration.from_pretrained(lm_folder)
    source = torch.tensor([[5, 6, 7]])
    with pytest.raises(ValueError, match=r"labels must have shape \(1, 3\), like decoder_input_ids"):
        model(input_ids=source, decoder_input_ids=torch.tensor([[2, 5, 6]]), labels=torch.tensor([[5, 6]]))
    with pytest.raises(ValueError, match=r"labels must have shape \(batch, target_length\)"):
        model(input_ids=source, labels=torch.tensor([5, 6, 2]))


def test_missing_decoder_start_token_id_names_the_config_field(lm_folder):
    model = hb.BartForConditionalGeneration.from_pretrained(lm_folder)
    model.config.decoder_start_token_id = None
    with pytest.raises(ValueError, match=r"config\.decoder_start_token_id is None"):
        model(input_ids=torch.tensor([[5, 6, 7]]), labels=torch.tensor([[5, 6]]))
    model.config.bos_token_id = None
    model.generation_config.decoder_start_token_id = None
    model.generation_config.bos_token_id = None
    with pytest.raises(ValueError, match="decoder_start_token_id"):
        model.generate(torch.tensor([[5, 6, 7]]), max_new_tokens=2)


def test_classifier_needs_the_same_number_of_eos_per_row(tmp_path):
    folder, _ = parity.save_reference(transformers.BartForSequenceClassification, SHAPES["odd_relu"], tmp_path / "c")
    model = hb.BartForSequenceClassification.from_pretrained(folder)
    with pytest.raises(ValueError, match=r"same number \(>= 1\) of </s> tokens.*\[1, 0\]"):
        model(input_ids=torch.tensor([[5, 6, 2], [5, 6, 7]]))
