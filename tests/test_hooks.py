"""Hook points: names, aliases, caching only what is asked, replacing activations, cleanup."""
from __future__ import annotations

import pickle
import copy

import pytest
import torch

from hfexplain.hooks import ALIASES, AUDIO_ALIASES, CROSS_ALIASES, ActivationCache, HookPoint
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
    # the rest of the vocabulary belongs to encoder-decoders (cross-attention), classification heads and speech models
    assert set(per_layer) | {"embed", "pos_embed", "final", "logits"} == (
        set(ALIASES) - CROSS_ALIASES - AUDIO_ALIASES - {"class_logits"})
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


def test_hook_returning_another_dtype_is_named(model, ids):
    def to_float64(tensor, hook):
        return tensor.double()

    with pytest.raises(TypeError, match=r"'to_float64' on 'transformer.h.0.hook_resid_pre' returned a torch.float64 "
                                        r"tensor but the activation is torch.float32.*keep the dtype"):
        model.run_with_hooks(ids, fwd_hooks=[(("resid_pre", 0), to_float64)])
    assert all(not hp._forward_hooks for hp in model.hook_points().values())


@pytest.mark.parametrize("names_filter", [5, 2.5, object()])
def test_names_filter_of_another_type_names_what_is_accepted(model, ids, names_filter):
    with pytest.raises(TypeError, match=r"names_filter must be None .*a full hook name or an alias \(str\), an "
                                        r"\(alias, layer\) pair, a list of those, or a function.*got "):
        model.run_with_cache(ids, names_filter=names_filter)


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


# -- the lookup index: one walk, kept in step with the module tree -------------------------


def _walk(model) -> dict:
    """What the lookups must answer, computed by hand from a fresh walk of the tree."""
    from hfexplain.hooks import HookPoint

    points = {name: m for name, m in torch.nn.Module.named_modules(model) if isinstance(m, HookPoint)}
    keys = {(hp.alias, hp.layer, hp.stack): name for name, hp in points.items() if hp.alias is not None}
    return dict(points=points, keys=keys, stacks=sorted({hp.stack for hp in points.values() if hp.stack}))


def _four_families():
    from hfexplain.models.bert import BertConfig, BertForMaskedLM
    from hfexplain.models.llama import LlamaConfig, LlamaForCausalLM
    from toy_seq2seq import ToySeq2SeqConfig, ToySeq2SeqForConditionalGeneration

    torch.manual_seed(0)
    return {
        "gpt2": GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=3, n_head=2, vocab_size=30, n_positions=16)),
        "bert": BertForMaskedLM(BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                           intermediate_size=20, max_position_embeddings=16)),
        "llama": LlamaForCausalLM(LlamaConfig(vocab_size=30, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                              num_key_value_heads=1, intermediate_size=24)),
        "toy-seq2seq": ToySeq2SeqForConditionalGeneration(ToySeq2SeqConfig()),
    }


@pytest.mark.parametrize("family", ["gpt2", "bert", "llama", "toy-seq2seq"])
def test_index_answers_what_a_walk_of_the_tree_answers(family):
    model = _four_families()[family]
    truth = _walk(model)
    assert model.hook_points() == truth["points"]
    assert list(model.hook_points()) == list(truth["points"])  # the tree's order
    assert all(hp.name == name for name, hp in truth["points"].items())
    assert model.hook_stacks() == truth["stacks"]
    stacks = truth["stacks"] or [None]
    for stack in stacks:
        layered = [layer for (_, layer, s) in truth["keys"] if layer is not None and s == stack]
        if stack is not None or len(stacks) == 1:
            assert model.num_hook_layers(stack) == max(layered) + 1
        for alias in ALIASES:
            expected = [name for name, hp in truth["points"].items() if hp.alias == alias and hp.stack == stack]
            if stack is not None:
                assert model.hook_names(alias, stack) == expected
    for alias in ALIASES:
        assert model.hook_names(alias) == [name for name, hp in truth["points"].items() if hp.alias == alias]
    for (alias, layer, stack), name in truth["keys"].items():
        # a stack is only needed where the alias lives in several; passing it always works
        assert model.hook_name(alias, layer, stack) == name
        needs_stack = len({s for (a, _, s) in truth["keys"] if a == alias}) > 1
        if not needs_stack:
            assert model.hook_name(alias, layer) == name
        if layer is not None:
            n = max(l for (a, l, s) in truth["keys"] if l is not None and s == stack) + 1
            assert model.hook_name(alias, layer - n, stack) == name  # negative layers count from the end
    with pytest.raises(KeyError, match="out of range"):
        model.hook_name("pattern", 99, truth["stacks"][0] if truth["stacks"] else None)


def test_lookups_walk_the_tree_only_the_first_time(monkeypatch):
    model = GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=2, n_head=2, vocab_size=30, n_positions=16)).eval()
    model.__dict__.pop("_hook_index")  # as if nothing had looked yet
    walks = []
    original = torch.nn.Module.named_modules

    def counting(self, *args, **kwargs):
        if self is model:  # a walk recurses through every submodule: count the walks, not the steps
            walks.append(type(self).__name__)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "named_modules", counting)
    ids = torch.randint(0, 30, (1, 5))
    for _ in range(3):
        for layer in range(2):
            model.hook_name("pattern", layer)
        model.hook_names("resid_post")
        model.hook_points()
        model.hook_stacks()
        model.num_hook_layers()
        _, cache = model.run_with_cache(ids, names_filter=["pattern", ("resid_post", -1)])
        cache["pattern", 1]
        cache.stack("pattern")
    assert walks == ["GPT2LMHeadModel"]
    model.refresh_hook_index()  # by hand: one more
    assert len(walks) == 2


def test_index_follows_a_replaced_block_and_new_hook_points():
    from hfexplain.hooks import HookPoint
    from hfexplain.models.gpt2 import GPT2Block

    torch.manual_seed(0)
    config = GPT2Config(n_embd=16, n_layer=3, n_head=2, vocab_size=30, n_positions=16)
    model = GPT2LMHeadModel(config).eval()
    old = model.hook_points()["transformer.h.0.attn.hook_pattern"]
    fresh = GPT2Block(config, layer_idx=0).eval()
    model.transformer.h[0] = fresh  # ModuleList.__setitem__: a registration
    point = model.hook_points()["transformer.h.0.attn.hook_pattern"]
    assert point is fresh.attn.hook_pattern and point is not old
    assert point.name == "transformer.h.0.attn.hook_pattern"  # named where it now sits
    seen = []
    handle = point.register_forward_hook(lambda module, args, output: seen.append(output))
    try:
        _, cache = model.run_with_cache(torch.randint(0, 30, (1, 5)), names_filter=("pattern", 0))
    finally:
        handle.remove()
    assert torch.equal(cache["pattern", 0], seen[0])  # the new block's pattern, under the old name

    model.lm_head.hook_probe = HookPoint()  # a hook point under a leaf module
    model.transformer.h[2].mlp.hook_extra = HookPoint("mlp_out", 3)
    assert "lm_head.hook_probe" in model.hook_names() and model.hook_points()["lm_head.hook_probe"].name == "lm_head.hook_probe"
    assert model.num_hook_layers() == 4 and model.hook_name("mlp_out", 3) == "transformer.h.2.mlp.hook_extra"

    model.transformer.set_input_embeddings(torch.nn.Embedding(31, 16))  # a new embedding table: still right
    assert model.hook_name("embed") == "transformer.hook_embed"


def test_index_follows_deletions():
    model = GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=3, n_head=2, vocab_size=30, n_positions=16)).eval()
    from hfexplain.hooks import HookPoint

    model.lm_head.hook_probe = HookPoint()
    assert "lm_head.hook_probe" in model.hook_names()
    del model.lm_head.hook_probe  # Module.__delattr__: torch announces nothing
    assert "lm_head.hook_probe" not in model.hook_names()

    del model.transformer.h[2]  # ModuleList.__delitem__: a smaller, new _modules dict
    assert model.num_hook_layers() == 2
    assert model.hook_name("pattern", -1) == "transformer.h.1.attn.hook_pattern"
    with pytest.raises(KeyError, match="layer 2 is out of range for alias 'pattern': the model has 2 layers"):
        model.hook_name("pattern", 2)
    model.transformer.h.pop(1)
    assert model.num_hook_layers() == 1 and len(model.hook_names("pattern")) == 1
    _, cache = model.run_with_cache(torch.randint(0, 30, (1, 4)))
    assert set(cache) == set(model.hook_names())


def test_a_bare_model_inside_a_task_model_caches_under_its_own_names():
    from hfexplain.models.bert import BertConfig, BertForMaskedLM

    model = BertForMaskedLM(BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                       intermediate_size=20, max_position_embeddings=16)).eval()
    ids = torch.randint(1, 30, (1, 5))
    _, inner = model.bert.run_with_cache(ids, names_filter="pattern")
    assert list(inner) == ["encoder.layer.0.attention.self.hook_pattern"]
    _, outer = model.run_with_cache(ids, names_filter="pattern")
    assert torch.equal(inner["pattern", 0], outer["pattern", 0])
    # the hook point keeps the name the outer model gave it (what print(model) and hook functions show)
    assert model.hook_points()["bert.encoder.layer.0.attention.self.hook_pattern"].name.startswith("bert.")
