"""Hook points: names, aliases, caching only what is asked, replacing activations, cleanup."""
from __future__ import annotations

import pickle
import copy

import pytest
import torch

from hfexplain.hooks import ALIASES, CROSS_ALIASES, ActivationCache, HookPoint
from hfexplain.models.gpt2 import GPT2Config, GPT2LMHeadModel, GPT2Model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=3, n_head=4, vocab_size=50, n_positions=16)).eval()


@pytest.fixture
def ids():
    return torch.randint(0, 50, (2, 6))


def test_every_alias_resolves_on_every_layer(model):
    per_layer = {"resid_pre", "q", "k", "v", "scores", "pattern", "z", "attn_out", "resid_mid", "mlp_pre", "mlp_post",
                 "mlp_out", "resid_post"}
    for alias in per_layer:
        names = {model.hook_name(alias, layer) for layer in range(3)}
        assert len(names) == 3
        assert model.hook_name(alias, -1) == model.hook_name(alias, 2)
    for alias in ("embed", "pos_embed", "final", "logits"):
        assert model.hook_name(alias) in model.hook_names()
    # the rest of the vocabulary belongs to encoder-decoders (cross-attention) and classification heads
    assert set(per_layer) | {"embed", "pos_embed", "final", "logits"} == set(ALIASES) - CROSS_ALIASES - {"class_logits"}
    assert model.hook_name("pattern", 0) == "transformer.h.0.attn.hook_pattern"
    # names are module paths, visible in print(model)
    assert "(hook_pattern): HookPoint(alias='pattern', layer=0)" in repr(model)


def test_hook_names_follow_the_module_tree_in_a_bare_model():
    bare = GPT2Model(GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=10, n_positions=8))
    assert bare.hook_name("resid_post", 0) == "h.0.hook_resid_post"
    assert bare.hook_name("final") == "hook_final"


def test_cache_stores_only_what_is_asked(model, ids):
    _, everything = model.run_with_cache(ids)
    assert len(everything) == len(model.hook_names())
    _, some = model.run_with_cache(ids, names_filter=["pattern", ("resid_post", 1), "transformer.hook_embed"])
    expected = {model.hook_name("pattern", i) for i in range(3)} | {
        model.hook_name("resid_post", 1), "transformer.hook_embed"}
    assert set(some) == expected
    assert some.nbytes() < everything.nbytes()
    with pytest.raises(KeyError, match="was not cached.*Widen the filter"):
        some["mlp_out", 0]
    _, by_predicate = model.run_with_cache(ids, names_filter=lambda name: name.endswith("hook_z"))
    assert len(by_predicate) == 3


def test_cache_shapes_and_keys(model, ids):
    out, cache = model.run_with_cache(ids)
    assert isinstance(cache, ActivationCache)
    assert cache["pattern", 0].shape == (2, 4, 6, 6)
    assert cache["q", 1].shape == cache["z", 1].shape == (2, 4, 6, 8)
    assert cache["mlp_pre", 2].shape == (2, 6, 128)
    assert torch.equal(cache["logits"], out.logits)
    assert cache.stack("resid_post").shape == (3, 2, 6, 32)
    torch.testing.assert_close(cache["pattern", 0].sum(-1), torch.ones(2, 4, 6))
    # the residual stream adds up: resid_post = resid_mid + mlp_out = resid_pre + attn_out + mlp_out
    torch.testing.assert_close(
        cache["resid_post", 1], cache["resid_pre", 1] + cache["attn_out", 1] + cache["mlp_out", 1], atol=1e-6, rtol=0
    )
    assert ("pattern", 0) in cache and ("nonsense", 0) not in cache


def test_replacing_an_activation_patches_the_forward(model, ids):
    """Activation patching: put run B's residual stream into run A at layer 1 -> A's logits become B's."""
    other = torch.randint(0, 50, (2, 6))
    with torch.no_grad():
        target, cache_b = model.run_with_cache(other, names_filter=("resid_pre", 1))
        name = model.hook_name("resid_pre", 1)

        def patch(tensor, hook):
            assert hook.name == name
            return cache_b[name]

        patched = model.run_with_hooks(ids, fwd_hooks=[(name, patch)])
        clean = model(ids)
    torch.testing.assert_close(patched.logits, target.logits, atol=1e-5, rtol=0)
    assert not torch.allclose(clean.logits, target.logits)


def test_zero_ablating_every_head_leaves_only_the_bias(model, ids):
    def zero(tensor, hook):
        return torch.zeros_like(tensor)

    with torch.no_grad(), model.hooks([("z", zero)]):
        _, cache = model.run_with_cache(ids, names_filter=("attn_out", 0))
    bias = model.transformer.h[0].attn.c_proj.bias
    torch.testing.assert_close(cache["attn_out", 0], bias.expand(2, 6, 32))


def test_hooks_are_removed_even_when_the_forward_raises(model, ids):
    calls = []

    def record(tensor, hook):
        calls.append(hook.name)

    with pytest.raises(ValueError):
        model.run_with_hooks(torch.zeros(1, 17, dtype=torch.long), fwd_hooks=[("resid_pre", record)])
    assert all(not hp._forward_hooks for hp in model.hook_points().values())
    model(ids)
    assert calls == []


def test_watching_the_pattern_switches_to_the_explicit_path(model, ids):
    hook = model.transformer.h[0].attn.hook_pattern
    assert not hook.is_watched
    with model.hooks([("transformer.h.0.attn.hook_pattern", lambda_free_reader)]):
        assert hook.is_watched
    assert not hook.is_watched


def lambda_free_reader(tensor, hook):
    return None


def test_unknown_hook_name_suggests_near_matches(model, ids):
    with pytest.raises(KeyError, match=r"Did you mean 'transformer\.h\.0\.attn\.hook_pattern'"):
        model.run_with_hooks(ids, fwd_hooks=[("transformer.h.0.attn.hook_patern", lambda_free_reader)])
    with pytest.raises(KeyError, match=r"Did you mean 'pattern'"):
        model.hook_name("patern", 0)
    with pytest.raises(KeyError, match="out of range.*3 layers"):
        model.hook_name("pattern", 7)
    with pytest.raises(KeyError, match="is per layer"):
        model.hook_name("pattern")


def test_hook_returning_the_wrong_shape_is_named(model, ids):
    def shrink(tensor, hook):
        return tensor[:, :1]

    with pytest.raises(ValueError, match=r"returned shape \(2, 1, 32\).*\(2, 6, 32\).*keep the shape"):
        model.run_with_hooks(ids, fwd_hooks=[(("resid_pre", 0), shrink)])
    assert all(not hp._forward_hooks for hp in model.hook_points().values())

    def not_a_tensor(tensor, hook):
        return "oops"

    with pytest.raises(TypeError, match="returned str"):
        model.run_with_hooks(ids, fwd_hooks=[(("resid_pre", 0), not_a_tensor)])


def test_models_pickle_and_deepcopy(model, ids):
    clone = copy.deepcopy(model)
    restored = pickle.loads(pickle.dumps(model))
    with torch.no_grad():
        torch.testing.assert_close(clone(ids).logits, model(ids).logits)
        torch.testing.assert_close(restored(ids).logits, model(ids).logits)


def test_hookpoint_rejects_unknown_alias():
    with pytest.raises(ValueError, match="unknown hook alias 'resid'"):
        HookPoint("resid")


def test_cache_size_counts_shared_tensors_once(model, ids):
    _, cache = model.run_with_cache(ids, names_filter=[("resid_post", 0), ("resid_pre", 1)])
    assert cache["resid_post", 0].data_ptr() == cache["resid_pre", 1].data_ptr()
    assert cache.nbytes() == cache["resid_post", 0].numel() * 4


def test_bare_model_cannot_generate():
    bare = GPT2Model(GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=10, n_positions=8))
    with pytest.raises(TypeError, match="GPT2Model has no language-modelling head.*AutoModelForCausalLM"):
        bare.generate(torch.zeros(1, 2, dtype=torch.long), max_new_tokens=2)
