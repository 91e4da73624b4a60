"""The first seams for encoder-decoders: hook stacks, the cross aliases and EncoderDecoderCache,
on the small encoder-decoder of tests/toy_seq2seq.py."""
import pytest
import torch

from hfexplain.hooks import ALIASES, CROSS_ALIASES, HookPoint
from hfexplain.layers import EncoderDecoderCache
from toy_seq2seq import ToySeq2SeqConfig, ToySeq2SeqForConditionalGeneration


@pytest.fixture
def model():
    torch.manual_seed(0)
    return ToySeq2SeqForConditionalGeneration(ToySeq2SeqConfig()).eval()


def source_batch():
    source = torch.randint(3, 37, (2, 5), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(2, 5, dtype=torch.long)
    mask[1, 3:] = 0  # the second source is padded
    return source, mask


def test_hook_points_know_their_stack_and_reject_unknown_ones():
    assert HookPoint("pattern", 0, "encoder").stack == "encoder"
    assert "stack='decoder'" in repr(HookPoint("cross_pattern", 1, "decoder"))
    with pytest.raises(ValueError, match="unknown hook stack 'encodr'"):
        HookPoint("pattern", 0, "encodr")
    assert {"cross_q", "cross_k", "cross_v", "cross_scores", "cross_pattern", "cross_z", "cross_attn_out",
            "resid_mid_cross"} == set(CROSS_ALIASES)
    assert "class_logits" in ALIASES


def test_both_stacks_and_cross_attention_are_hooked(model):
    stacks = {(hp.alias, hp.layer, hp.stack) for hp in model.hook_points().values()}
    assert ("pattern", 1, "encoder") in stacks and ("pattern", 1, "decoder") in stacks
    assert all(("cross_pattern", i, "decoder") in stacks for i in range(2))
    assert not any(alias in CROSS_ALIASES and stack == "encoder" for alias, _, stack in stacks)


def test_cross_pattern_is_decoder_by_encoder_and_ignores_source_padding(model):
    source, mask = source_batch()
    target = torch.randint(3, 37, (2, 4))
    name = next(n for n, hp in model.hook_points().items() if (hp.alias, hp.layer) == ("cross_pattern", 0))
    out, cache = model.run_with_cache(source, mask, decoder_input_ids=target, names_filter=name)
    pattern = cache[name]
    assert pattern.shape == (2, 2, 4, 5)  # (b, h, q_dec, k_enc)
    assert torch.allclose(pattern.sum(-1), torch.ones(2, 2, 4))
    assert float(pattern[1, :, :, 3:].abs().max()) < 1e-6  # padded source positions get no attention
    fast = model(source, mask, decoder_input_ids=target)  # nobody watches: the fused kernel
    assert torch.allclose(out.logits, fast.logits, atol=1e-6)


def test_decoding_step_by_step_with_the_cache_equals_the_full_pass(model):
    source, mask = source_batch()
    target = torch.randint(3, 37, (2, 4))
    with torch.no_grad():
        full = model(source, mask, decoder_input_ids=target).logits  # (b, t, v)
        encoded = model.get_encoder()(source, mask)
        cache, steps = None, []
        for t in range(target.shape[1]):
            out = model(attention_mask=mask, encoder_outputs=encoded, decoder_input_ids=target[:, t : t + 1],
                        past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            steps.append(out.logits)
    assert isinstance(cache, EncoderDecoderCache)
    assert cache.get_seq_length() == 4 and cache.cross_attention_cache.get_seq_length() == 5
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)


def test_cross_keys_are_stored_once_and_follow_the_beams():
    cache = EncoderDecoderCache()
    key, value = torch.randn(3, 2, 5, 4), torch.randn(3, 2, 5, 4)
    cache.set_cross(key, value, 0)
    assert cache.is_cross_ready(0) and not cache.is_cross_ready(1)
    with pytest.raises(ValueError, match="already cached"):
        cache.set_cross(key, value, 0)
    cache.update(torch.randn(3, 2, 1, 4), torch.randn(3, 2, 1, 4), 0)
    order = torch.tensor([2, 2, 0])
    cache.reorder_cache(order)
    assert torch.equal(cache.get_cross(0)[0], key[order])
    assert cache.get_seq_length() == 1
