"""Marian parity: hfexplain.models.marian against transformers' Marian on the same weights.

Checkpoints written by transformers (tiny random configs: odd d_model so the sine/cosine split
is uneven, scaled and unscaled embeddings, swish as in opus-mt, one shared vocabulary or two),
compared through tests/parity_seq2seq.py: logits, every hidden state, self and cross attentions,
the hook vocabulary on both stacks, labels -> loss, greedy and beam generation with the cache on
and off, our save loaded by transformers. Then what changed since BART: the sinusoid table (by
hand), no embedding norm, the decoder starting at the pad token, and the errors.
"""
from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

import parity  # noqa: E402
import parity_seq2seq  # noqa: E402

from hfexplain import AutoModel, AutoModelForSeq2SeqLM  # noqa: E402
from hfexplain.models import marian as hm  # noqa: E402

SHAPES = {
    # the opus-mt recipe in miniature: scaled embeddings, swish, pad = decoder start = last id
    "opus": dict(vocab_size=59, d_model=16, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                 decoder_attention_heads=2, encoder_ffn_dim=24, decoder_ffn_dim=20, max_position_embeddings=24,
                 scale_embedding=True, activation_function="swish", pad_token_id=58, decoder_start_token_id=58),
    # odd d_model (5 sine, 4 cosine columns), unscaled, gelu, deeper decoder
    "odd": dict(vocab_size=41, d_model=9, encoder_layers=1, decoder_layers=3, encoder_attention_heads=3,
                decoder_attention_heads=3, encoder_ffn_dim=10, decoder_ffn_dim=14, max_position_embeddings=20,
                pad_token_id=40, decoder_start_token_id=40),
    # two vocabularies: the head is tied to the decoder's own table
    "two_vocabs": dict(vocab_size=45, decoder_vocab_size=37, share_encoder_decoder_embeddings=False, d_model=8,
                       encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                       encoder_ffn_dim=12, decoder_ffn_dim=12, max_position_embeddings=16, pad_token_id=36,
                       decoder_start_token_id=36),
}
PAIRS = [(transformers.MarianMTModel, hm.MarianMTModel), (transformers.MarianModel, hm.MarianModel)]
CASES = [pytest.param(ref, ours, shape, id=f"{ours.__name__}-{name}")
         for ref, ours in PAIRS for name, shape in SHAPES.items()]


@pytest.mark.parametrize("reference_class, our_class, config", CASES)
def test_parity_with_transformers(reference_class, our_class, config, tmp_path):
    report = parity_seq2seq.check_seq2seq_parity(reference_class, our_class, config, tmp_path)
    assert report["differences"]["logits"] <= parity.ATOL


@pytest.fixture(scope="module")
def mt_folder(tmp_path_factory):
    parity.quiet_transformers()
    folder, _ = parity.save_reference(transformers.MarianMTModel, SHAPES["opus"],
                                      tmp_path_factory.mktemp("marian") / "mt")
    return folder


def test_sinusoid_table_by_hand_and_against_transformers():
    from transformers.models.marian.modeling_marian import MarianSinusoidalPositionalEmbedding as Theirs

    table = hm.sinusoidal_table(7, 5)  # (positions, dim): 3 sine columns, 2 cosine columns
    p, i = 4, 1
    assert torch.isclose(table[p, i], torch.tensor(torch.sin(torch.tensor(p / 10000 ** (2 * i / 5))).item()))
    assert torch.isclose(table[p, 3 + i], torch.tensor(torch.cos(torch.tensor(p / 10000 ** (2 * i / 5))).item()))
    assert torch.equal(table[0, :3], torch.zeros(3)) and torch.equal(table[0, 3:], torch.ones(2))
    for dim in (8, 9):
        assert torch.allclose(hm.sinusoidal_table(30, dim), Theirs(30, dim).create_weight(), atol=1e-7)


def test_no_embedding_norm_and_the_decoder_starts_at_pad(mt_folder):
    model = AutoModelForSeq2SeqLM.from_pretrained(mt_folder)
    assert type(model) is hm.MarianMTModel and type(AutoModel.from_pretrained(mt_folder)) is hm.MarianModel
    assert not any("layernorm_embedding" in name for name, _ in model.named_parameters())
    ids = torch.tensor([[5, 6, 7, 0]])
    _, cache = model.run_with_cache(input_ids=ids, decoder_input_ids=torch.tensor([[58, 9]]))
    scale = model.config.d_model ** 0.5
    expected = model.model.shared.weight[ids] * scale + hm.sinusoidal_table(4, model.config.d_model)
    assert torch.allclose(cache["resid_pre", 0, "encoder"], expected, atol=1e-6)  # the stream, with no norm
    out = model.generate(ids, max_new_tokens=3)
    assert out[0, 0].item() == model.config.pad_token_id == model.config.decoder_start_token_id


def test_positions_are_not_saved_by_the_translator(mt_folder, tmp_path):
    model = hm.MarianMTModel.from_pretrained(mt_folder)
    assert not model.model.encoder.embed_positions.weight.requires_grad
    model.save_pretrained(tmp_path)
    assert not any("embed_positions" in key for key in parity.checkpoint_keys(tmp_path))
    assert torch.equal(model.model.decoder.embed_positions.weight, hm.sinusoidal_table(24, 16))


def test_config_defaults_match_transformers():
    ours, theirs = hm.MarianConfig(), transformers.MarianConfig()
    for key, value in theirs.to_dict().items():
        if hasattr(ours, key) and key not in ("transformers_version", "architectures", "dtype", "id2label",
                                              "label2id"):
            assert getattr(ours, key) == value, key


@pytest.mark.parametrize("fields, message", [
    (dict(d_model=10, encoder_attention_heads=2, decoder_attention_heads=4), r"d_model \(10\) must be divisible by decoder_attention_heads"),
    (dict(vocab_size=50, decoder_vocab_size=40), "share_encoder_decoder_embeddings=False for two"),
])
def test_bad_configs_are_refused_before_any_weight(fields, message):
    with pytest.raises(ValueError, match=message):
        hm.MarianConfig(**fields)


def test_bad_inputs_are_named(mt_folder):
    model = hm.MarianMTModel.from_pretrained(mt_folder)
    limit = model.config.max_position_embeddings
    with pytest.raises(ValueError, match=rf"Marian's decoder has {limit} positions"):
        model(input_ids=torch.tensor([[5, 6]]), decoder_input_ids=torch.full((1, limit + 1), 5))
    with pytest.raises(ValueError, match=r"labels must have shape \(1, 2\), like decoder_input_ids"):
        model(input_ids=torch.tensor([[5, 6]]), decoder_input_ids=torch.tensor([[58, 5]]), labels=torch.tensor([[5]]))
    with pytest.raises(ValueError, match="pass decoder_input_ids"):
        model.model(input_ids=torch.tensor([[5, 6]]))
    model.config.decoder_start_token_id = None
    with pytest.raises(ValueError, match=r"config\.decoder_start_token_id is None"):
        model(input_ids=torch.tensor([[5, 6]]), labels=torch.tensor([[5, 6]]))
