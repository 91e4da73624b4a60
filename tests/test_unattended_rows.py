"""A query that may look at no key at all (an all-zero attention mask, or a left-padding
position whose causal window holds only padding) attends to nothing: its attention output is
zero and its pattern row all zeros, in the fast path and the watched path alike, as in
transformers' default (SDPA) attention. Filling such a row with the most negative value instead
makes it attend uniformly to every key, future positions included; logits then differed from
transformers' by up to 7.95 (GPT-2) and hidden states by 4.82 (BERT).
"""
from __future__ import annotations

import pytest
import torch

import parity
from hfexplain.layers import attend, build_attention_mask
from hfexplain.models.bart import BartForConditionalGeneration
from hfexplain.models.bert import BertModel
from hfexplain.models.albert import AlbertModel
from hfexplain.models.distilbert import DistilBertModel
from hfexplain.models.gpt2 import GPT2LMHeadModel
from hfexplain.models.gpt_neo import GPTNeoForCausalLM
from hfexplain.models.gptj import GPTJForCausalLM
from hfexplain.models.llama import LlamaForCausalLM
from hfexplain.models.marian import MarianMTModel
from hfexplain.models.roberta import RobertaModel
from hfexplain.models.t5 import T5ForConditionalGeneration

transformers = parity.quiet_transformers()

CASES = [
    pytest.param("GPT2LMHeadModel", GPT2LMHeadModel, dict(n_embd=32, n_layer=2, n_head=4, vocab_size=50, n_positions=16),
                 id="gpt2"),
    pytest.param("BertModel", BertModel, dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                              intermediate_size=64, vocab_size=50), id="bert"),
    pytest.param("LlamaForCausalLM", LlamaForCausalLM, dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                            num_key_value_heads=2, intermediate_size=64, vocab_size=50),
                 id="llama"),
    pytest.param("GPTNeoForCausalLM", GPTNeoForCausalLM, dict(hidden_size=32, num_layers=2, num_heads=4, vocab_size=50,
                                                              attention_types=[[["global", "local"], 1]], window_size=2,
                                                              max_position_embeddings=16), id="gpt_neo"),
    pytest.param("GPTJForCausalLM", GPTJForCausalLM, dict(n_embd=32, n_layer=2, n_head=4, rotary_dim=4, vocab_size=50,
                                                          n_positions=16), id="gptj"),
    pytest.param("RobertaModel", RobertaModel, dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                    intermediate_size=64, vocab_size=50), id="roberta"),
    pytest.param("DistilBertModel", DistilBertModel, dict(dim=32, n_layers=2, n_heads=4, hidden_dim=64, vocab_size=50),
                 id="distilbert"),
    pytest.param("AlbertModel", AlbertModel, dict(hidden_size=32, embedding_size=16, num_hidden_layers=2,
                                                  num_attention_heads=4, intermediate_size=64, vocab_size=50),
                 id="albert"),
]


def _batch():
    ids = torch.randint(3, 50, (3, 6), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[0] = 0          # a sequence with no real token at all
    mask[1, :3] = 0      # left padding: the first three queries see only padding (causal)
    mask[2, 4:] = 0      # right padding
    return ids, mask


@pytest.mark.parametrize("reference_name, our_class, config", CASES)
def test_decoder_and_encoder_rows_that_see_nothing_match_transformers(reference_name, our_class, config, tmp_path):
    reference_class = getattr(transformers, reference_name)
    torch.manual_seed(0)
    reference = reference_class(reference_class.config_class(**config)).eval()
    reference.save_pretrained(tmp_path)
    ours = our_class.from_pretrained(tmp_path).eval()
    ids, mask = _batch()
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=mask)[0]
        fast = ours(input_ids=ids, attention_mask=mask)[0]
        watched = ours(input_ids=ids, attention_mask=mask, output_attentions=True)
    torch.testing.assert_close(fast, expected, atol=1e-5, rtol=0)  # every position, padding included
    torch.testing.assert_close(watched[0], expected, atol=1e-5, rtol=0)
    assert all(torch.isfinite(pattern).all() for pattern in watched.attentions)
    first = watched.attentions[0]  # (b, h, q, k)
    if our_class is GPTJForCausalLM:
        torch.testing.assert_close(first[0], torch.full_like(first[0], 1 / 6))  # uniform over every key
    elif our_class is GPTNeoForCausalLM:  # uniform over the keys causality allows
        allowed = torch.tril(torch.ones(6, 6))
        torch.testing.assert_close(first[0], (allowed / allowed.sum(-1, keepdim=True)).expand_as(first[0]))
    else:
        assert torch.count_nonzero(first[0]) == 0, "a sequence with no real token attends to nothing"
    if our_class in (GPT2LMHeadModel, LlamaForCausalLM):
        assert torch.count_nonzero(first[1, :, :3]) == 0, "left-padding queries that see only padding attend to nothing"
    torch.testing.assert_close(first[2].sum(-1), torch.ones(first.shape[1], 6))  # rows that see keys sum to 1


@pytest.mark.parametrize("family", ["t5", "bart", "marian"])
def test_encoder_decoder_with_an_empty_source_matches_transformers(family, tmp_path):
    torch.manual_seed(0)
    if family == "t5":
        reference = transformers.T5ForConditionalGeneration(transformers.T5Config(
            vocab_size=50, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, decoder_start_token_id=0))
        ours_class = T5ForConditionalGeneration
    else:
        sizes = dict(vocab_size=50, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                     decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=32)
        if family == "bart":
            reference = transformers.BartForConditionalGeneration(transformers.BartConfig(**sizes))
            ours_class = BartForConditionalGeneration
        else:
            reference = transformers.MarianMTModel(transformers.MarianConfig(**sizes, decoder_start_token_id=2,
                                                                             pad_token_id=2))
            ours_class = MarianMTModel
    reference.eval().save_pretrained(tmp_path)
    ours = ours_class.from_pretrained(tmp_path).eval()
    ids, mask = _batch()
    decoder = ids[:, :4].clone()
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder).logits
        fast = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder).logits
        watched = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder, output_attentions=True)
    torch.testing.assert_close(fast, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(watched.logits, expected, atol=1e-5, rtol=0)
    cross = watched.cross_attentions[0][0]  # (h, t, s) of the empty source
    if family == "t5":  # transformers adds T5's bias to a float mask: uniform over the source
        torch.testing.assert_close(cross, torch.full_like(cross, 1 / 6))
    else:
        assert torch.count_nonzero(cross) == 0, "no source token: cross-attention reads nothing"


def test_attend_gives_zero_output_and_pattern_for_a_row_that_sees_nothing():
    generator = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 2, 3, 4, generator=generator) for _ in range(3))
    mask = build_attention_mask(torch.tensor([[0, 0, 0], [1, 1, 0]]), 3, 3, causal=True, dtype=torch.float32,
                                device=torch.device("cpu"))  # (2, 1, 3, 3)
    fast, _ = attend(q, k, v, mask, scale=0.5)
    watched, pattern = attend(q, k, v, mask, scale=0.5, need_weights=True)
    assert torch.equal(fast[0], torch.zeros_like(fast[0])) and torch.equal(watched[0], torch.zeros_like(watched[0]))
    assert torch.equal(pattern[0], torch.zeros_like(pattern[0]))
    torch.testing.assert_close(fast, watched)
    # a row that sees at least one key keeps the finite most-negative fill (softmax stays exact)
    assert torch.isfinite(mask[1]).all()
