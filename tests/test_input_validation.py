"""Values that used to slip through (issue 19, item 10), each refused with a message naming the fix:
ids of a dtype an embedding cannot index, zero tokens, negative positions, special ids outside the
vocabulary in generate, NaN logits in greedy and beam search, and ids a tokenizer does not have."""
from __future__ import annotations

import pytest
import torch

from hfexplain import AutoTokenizer
from hfexplain.assets import tiny_gpt2_path
from hfexplain.models.bert import BertConfig, BertModel
from hfexplain.models.gpt2 import GPT2Config, GPT2LMHeadModel


@pytest.fixture(scope="module")
def gpt2():
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(n_embd=8, n_head=2, n_layer=1, n_positions=16, vocab_size=11)).eval()


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int8])
def test_ids_of_a_dtype_an_embedding_cannot_index_are_named(gpt2, dtype):
    with pytest.raises(TypeError, match=rf"torch.long \(or torch.int\), got {dtype}.*input_ids.long\(\)"):
        gpt2(torch.tensor([[3, 200 % 11]], dtype=dtype))


def test_int32_ids_work_as_long(gpt2):
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        torch.testing.assert_close(gpt2(ids.int()).logits, gpt2(ids).logits)


def test_zero_tokens_are_named(gpt2):
    with pytest.raises(ValueError, match=r"input_ids has no tokens \(shape \(1, 0\)\)"):
        gpt2(torch.zeros((1, 0), dtype=torch.long))
    bert = BertModel(BertConfig(hidden_size=8, num_attention_heads=2, intermediate_size=16, vocab_size=11,
                                num_hidden_layers=1, max_position_embeddings=16))
    with pytest.raises(ValueError, match="inputs_embeds has no positions"):
        bert(inputs_embeds=torch.zeros(2, 0, 8))


def test_negative_position_ids_are_named(gpt2):
    with pytest.raises(ValueError, match=r"position_ids hold -1: positions count from 0.*cumsum"):
        gpt2(torch.tensor([[1, 2]]), position_ids=torch.tensor([[-1, 0]]))


def test_generate_refuses_a_padding_id_the_model_does_not_have_before_any_step(gpt2):
    """After a row's EOS, generate feeds padding back into the model: an id outside its vocabulary
    used to fail mid-generation with an error blaming the tokenizer."""
    with pytest.raises(ValueError, match=r"generation_config.pad_token_id=50 is not a token of this model.*11 ids"):
        gpt2.generate(torch.tensor([[1, 2]]), max_new_tokens=2, eos_token_id=3, pad_token_id=50)
    gpt2.generate(torch.tensor([[1, 2]]), max_new_tokens=2, eos_token_id=50256, pad_token_id=50)  # EOS never comes


@pytest.mark.parametrize("num_beams", [1, 3])
def test_nan_logits_from_a_hook_stop_generation_instead_of_picking_ids(gpt2, num_beams):
    def poison(logits, hook):
        return torch.full_like(logits, float("nan"))

    with gpt2.hooks(fwd_hooks=[(gpt2.hook_name("logits"), poison)]):
        with pytest.raises(ValueError, match="next-token logits hold NaN.*hook"):
            gpt2.generate(torch.tensor([[1, 2]]), max_new_tokens=3, num_beams=num_beams, pad_token_id=0,
                          eos_token_id=3)


def test_decode_refuses_ids_outside_the_vocabulary():
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_path())
    size = len(tokenizer)
    assert tokenizer.decode([5, 6]) == tokenizer.decode([5]) + tokenizer.decode([6])
    for bad in ([5, size], [-1, 5]):
        with pytest.raises(ValueError, match=rf"outside this tokenizer's vocabulary \[0, {size}\)"):
            tokenizer.decode(bad)


@pytest.mark.parametrize("token_types", [torch.tensor([[20, 0]]), torch.tensor([[-1, 0]])])
def test_gpt2_token_types_outside_its_table_are_named(gpt2, token_types):
    with pytest.raises(ValueError, match=r"token_type_ids hold values in .* vocab_size=11 rows"):
        gpt2(torch.tensor([[1, 2]]), token_type_ids=token_types)
