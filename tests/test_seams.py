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


# -- stack keys --------------------------------------------------------------------------


def test_a_two_stack_model_needs_the_stack_and_never_picks_one_silently(model):
    source, mask = source_batch()
    target = torch.randint(3, 37, (2, 4))
    _, cache = model.run_with_cache(source, mask, decoder_input_ids=target)
    assert model.hook_stacks() == ["decoder", "encoder"]
    with pytest.raises(KeyError, match="'pattern' in stacks 'decoder', 'encoder'; say which one"):
        cache["pattern", 0]
    with pytest.raises(KeyError, match="say which one"):
        model.hook_name("resid_post", -1)
    with pytest.raises(ValueError, match="several stacks"):
        model.num_hook_layers()
    encoder = cache["pattern", 0, "encoder"]
    decoder = cache["pattern", 0, "decoder"]
    assert encoder.shape == (2, 2, 5, 5) and decoder.shape == (2, 2, 4, 4)  # (b, h, q, k) of each stack
    assert model.hook_name("pattern", -1, "encoder") == "encoder.layers.1.self_attn.hook_pattern"
    assert model.hook_name("pattern", 1, stack="decoder") == "decoder_layers.1.self_attn.hook_pattern"
    # an alias that lives in one stack only resolves without it
    assert model.hook_name("cross_pattern", 0) == model.hook_name("cross_pattern", 0, "decoder")
    assert cache["logits"].shape == (2, 4, 37)
    assert torch.equal(cache["final", None, "encoder"], cache["encoder.hook_final"])
    with pytest.raises(KeyError, match="no hook point for alias 'cross_pattern' in stack 'encoder'"):
        model.hook_name("cross_pattern", 0, "encoder")
    with pytest.raises(KeyError, match="no stack 'vision'; its stacks are 'decoder', 'encoder'"):
        cache["pattern", 0, "vision"]
    assert model.num_hook_layers("encoder") == 2
    assert cache.stack("pattern", "decoder").shape == (2, 2, 2, 4, 4)  # (layers, b, h, q, k)
    assert len(model.hook_names("pattern")) == 4 and len(model.hook_names("pattern", stack="encoder")) == 2


def test_names_filter_takes_stack_triples(model):
    source, mask = source_batch()
    target = torch.randint(3, 37, (2, 4))
    _, cache = model.run_with_cache(source, mask, decoder_input_ids=target,
                                    names_filter=[("pattern", 1, "encoder"), ("cross_pattern", 1, "decoder")])
    assert list(cache) == ["encoder.layers.1.self_attn.hook_pattern", "decoder_layers.1.encoder_attn.hook_pattern"]


def test_single_stack_models_need_no_stack(model):
    from hfexplain.models.gpt2 import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=8, n_head=2, vocab_size=20, n_positions=16)).eval()
    _, cache = gpt2.run_with_cache(torch.randint(0, 20, (1, 5)))
    assert gpt2.hook_stacks() == [] and gpt2.num_hook_layers() == 2
    assert torch.equal(cache["pattern", 1], cache["pattern", -1, None])
    with pytest.raises(KeyError, match="single stack: pass no stack"):
        gpt2.hook_name("pattern", 0, "encoder")


def test_caching_everything_warns_once_past_the_threshold(model, monkeypatch):
    import warnings

    import hfexplain.hooks as hooks

    source, mask = source_batch()
    target = torch.randint(3, 37, (2, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, cache = model.run_with_cache(source, mask, decoder_input_ids=target)  # tiny: below 256 MiB
    monkeypatch.setattr(hooks, "CACHE_WARNING_BYTES", cache.nbytes() - 1)
    with pytest.warns(UserWarning, match=r"stored every hook point: \d+ MiB. Pass names_filter="):
        model.run_with_cache(source, mask, decoder_input_ids=target)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.run_with_cache(source, mask, decoder_input_ids=target)  # once per model
        model.run_with_cache(source, mask, decoder_input_ids=target, names_filter="pattern")  # a filter never warns


# -- the residual stream taken apart, against hand computations ---------------------------


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_residual_helpers_equal_hand_computations(family):
    torch.manual_seed(0)
    if family == "gpt2":
        from hfexplain.models.gpt2 import GPT2Config as Config, GPT2LMHeadModel as Model

        config = Config(n_layer=3, n_embd=16, n_head=2, vocab_size=40, n_positions=32)
    else:
        from hfexplain.models.llama import LlamaConfig as Config, LlamaForCausalLM as Model

        config = Config(num_hidden_layers=3, hidden_size=16, num_attention_heads=2, num_key_value_heads=1,
                        intermediate_size=24, vocab_size=40, tie_word_embeddings=False)
    model = Model(config).eval()
    ids = torch.randint(0, 40, (2, 6))
    with torch.no_grad():
        out, cache = model.run_with_cache(ids)

    stream, labels = cache.accumulated_resid(return_labels=True)
    assert labels == ["0_pre", "1_pre", "2_pre", "final_post"]
    assert torch.equal(stream[1], cache["resid_pre", 1]) and torch.equal(stream[-1], cache["resid_post", 2])
    assert cache.accumulated_resid(1).shape == (2, 2, 6, 16)  # (components, b, s, d)

    parts, names = cache.decompose_resid(2, return_labels=True)
    assert names[-2:] == ["1_attn_out", "1_mlp_out"] and ("pos_embed" in names) == (family == "gpt2")
    assert torch.allclose(parts.sum(0), cache["resid_pre", 2], atol=1e-5)
    assert torch.allclose(cache.decompose_resid().sum(0), cache["resid_post", -1], atol=1e-5)

    final = cache.apply_final_norm(cache["resid_post", -1])
    assert torch.allclose(final, cache["final"], atol=1e-6)
    lensed = cache.accumulated_resid(apply_ln=True)  # a logit lens: every layer read through the final norm
    token, other = ids[:, -1:], 7  # (b, 1)
    attrs = cache.logit_attrs(lensed, token)  # (components, b, s)
    logits = out.logits  # (b, s, v)
    assert torch.allclose(attrs[-1], logits.gather(-1, token.expand(2, 6)[..., None])[..., 0], atol=1e-5)
    diff = cache.logit_attrs(lensed[-1:], 5, incorrect_tokens=other)[0]
    assert torch.allclose(diff, logits[..., 5] - logits[..., other], atol=1e-5)


def test_post_norm_and_headless_models_refuse_clearly():
    from hfexplain.models.bert import BertConfig, BertModel

    bert = BertModel(BertConfig(num_hidden_layers=1, hidden_size=8, num_attention_heads=2, intermediate_size=8,
                                vocab_size=30)).eval()
    _, cache = bert.run_with_cache(torch.randint(0, 30, (1, 4)))
    with pytest.raises(ValueError, match="post-norm"):
        cache.decompose_resid()
    with pytest.raises(ValueError, match="no final norm"):
        cache.apply_final_norm(cache["resid_post", 0])
    with pytest.raises(ValueError, match="no unembedding"):
        cache.logit_attrs(cache.accumulated_resid(), 3)
