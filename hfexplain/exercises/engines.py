"""Checkers for lesson 16 (engines and speed).

``check_bert_layer(fn)`` checks a learner's BERT encoder layer written in NumPy from the
checkpoint's dict of arrays, the way ``hfexplain.engines.numpy_engine`` runs a checkpoint::

    def bert_layer(w, config, x, attention_mask):
        # w:              {name: float32 array} for one layer, named as in model.safetensors after
        #                 "encoder.layer.{i}.": "attention.self.query.weight" (d, d), ...,
        #                 "intermediate.dense.weight" (m, d), "output.dense.weight" (d, m), "...LayerNorm.bias"
        # config:         config.json as a dict: hidden_size, num_attention_heads, layer_norm_eps, hidden_act
        # x:              (batch, seq, d) float32, the stream entering the layer
        # attention_mask: (batch, seq) int, 1 for real tokens, 0 for padding
        # returns:        (batch, seq, d), the stream leaving the layer
        ...

The reference is hfexplain's PyTorch ``BertLayer`` with those arrays loaded strictly under the
same names. The checker hands ``fn`` a seeded random layer (its two LayerNorms get different
scales and shifts, the MLP is wider than the stream, so nothing lines up by accident) on two
cases: a stream of ordinary size with a padded row, which shows nearly every slip, and a
stream a thousand times smaller, where a LayerNorm's epsilon decides the result. When the
output differs, it recomputes the layer with each typical slip of someone who has just
written GPT-2 (``x @ W`` for nn.Linear weights, a causal mask, pre-norm, the tanh GELU,
GPT-2's epsilon) and of attention in general (the padding mask left out or the wrong way
round, no 1/sqrt(head dim), no head split, the softmax over queries, a missing residual), and
names the one that reproduces it.

Shapes: b=batch, s=sequence, d=hidden size, h=heads, e=d/h, m=intermediate size.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from . import CheckResult

EXERCISE = "BERT layer in NumPy"
ATOL = 1e-4  # float32 through two LayerNorms: a right answer is within ~1e-6
CONFIG = {"model_type": "bert", "hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 48,
          "layer_norm_eps": 1e-12, "hidden_act": "gelu"}  # all-MiniLM-L6-v2's eps and activation

# The arrays of one layer, named as in a BERT checkpoint after "encoder.layer.{i}.", and their shapes.
SHAPES = {
    "attention.self.query.weight": ("d", "d"), "attention.self.query.bias": ("d",),
    "attention.self.key.weight": ("d", "d"), "attention.self.key.bias": ("d",),
    "attention.self.value.weight": ("d", "d"), "attention.self.value.bias": ("d",),
    "attention.output.dense.weight": ("d", "d"), "attention.output.dense.bias": ("d",),
    "attention.output.LayerNorm.weight": ("d",), "attention.output.LayerNorm.bias": ("d",),
    "intermediate.dense.weight": ("m", "d"), "intermediate.dense.bias": ("m",),
    "output.dense.weight": ("d", "m"), "output.dense.bias": ("d",),
    "output.LayerNorm.weight": ("d",), "output.LayerNorm.bias": ("d",),
}


def make_layer_weights(config: dict = CONFIG, seed: int = 0, bias_scale: float = 0.1) -> dict[str, np.ndarray]:
    """One layer's arrays, seeded: projections ~ N(0, 0.3^2) (scores large enough that the scale and the
    masks show), LayerNorm scales around 1 and shifts around 0, different for the two norms, biases
    ~ N(0, bias_scale^2)."""
    rng = np.random.default_rng(seed)
    sizes = {"d": config["hidden_size"], "m": config["intermediate_size"]}
    weights = {}
    for name, dims in SHAPES.items():
        shape = tuple(sizes[dim] for dim in dims)
        if name.endswith("LayerNorm.weight"):
            array = 1.0 + 0.5 * rng.standard_normal(shape)
        elif name.endswith("LayerNorm.bias"):
            array = 0.1 * rng.standard_normal(shape)
        elif name.endswith("bias"):
            array = bias_scale * rng.standard_normal(shape)
        else:
            array = 0.3 * rng.standard_normal(shape)
        weights[name] = array.astype(np.float32)
    return weights


def make_cases(config: dict = CONFIG) -> list[tuple[str, dict, np.ndarray, np.ndarray]]:
    """(description, w, x (b, s, d) float32, attention_mask (b, s) int64) for the two checks."""
    rng = np.random.default_rng(1)
    d = config["hidden_size"]
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=np.int64)  # (2, 5): the second row padded
    x = rng.standard_normal((2, 5, d)).astype(np.float32)
    small = (1e-3 * rng.standard_normal((1, 4, d))).astype(np.float32)
    return [
        (f"a (2, 5, {d}) stream, {config['num_attention_heads']} heads, the second row padded after 3 tokens",
         make_layer_weights(config, seed=0), x, mask),
        # no projection biases, so the first LayerNorm reads a stream of variance ~1e-6 and the epsilon decides
        (f"a (1, 4, {d}) stream of size ~1e-3 and a layer without projection biases, where the LayerNorm's "
         "epsilon matters", make_layer_weights(config, seed=2, bias_scale=0.0), small, np.ones((1, 4), dtype=np.int64)),
    ]


def reference(w: dict, config: dict, x: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """The correct answer: hfexplain's PyTorch BertLayer with ``w`` loaded strictly, (b, s, d) float32."""
    import torch

    from ..layers import build_attention_mask
    from ..models.bert import BertConfig, BertLayer

    bert_config = BertConfig(hidden_size=config["hidden_size"], num_attention_heads=config["num_attention_heads"],
                             intermediate_size=config["intermediate_size"], layer_norm_eps=config["layer_norm_eps"],
                             hidden_act=config["hidden_act"], num_hidden_layers=1, hidden_dropout_prob=0.0,
                             attention_probs_dropout_prob=0.0)
    layer = BertLayer(bert_config, layer_idx=0).eval()
    layer.load_state_dict({name: torch.from_numpy(array) for name, array in w.items()}, strict=True)
    hidden = torch.from_numpy(x)
    mask = build_attention_mask(torch.from_numpy(attention_mask), x.shape[1], x.shape[1], causal=False,
                                dtype=hidden.dtype, device=hidden.device)  # (b, 1, 1, s) additive
    with torch.no_grad():
        out, _ = layer(hidden, mask)
    return out.numpy()


# ----------------------------------------------------------------------------- the layer, with knobs


def _layer_norm(x, weight, bias, eps, ddof=0):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True, ddof=ddof)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _softmax(x, axis=-1):
    x = x - x.max(axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis, keepdims=True)


def _gelu(x, kind):
    if kind == "tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    if kind == "relu":
        return np.maximum(x, 0.0)
    from ..engines.numpy_engine import erf

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _bert_layer(w, config, x, attention_mask, *, transpose_attention=True, padding="keys", causal=False,
                scale="head", split_heads=True, softmax_axis=-1, eps=None, ddof=0, norm="post", gelu="exact",
                residual_attention=True, residual_mlp=True, swap_norms=False):
    """A BERT layer in NumPy with the knobs the slips turn (the defaults are right)."""
    b, s, d = x.shape
    h = config["num_attention_heads"] if split_heads else 1
    e = d // h
    eps = config["layer_norm_eps"] if eps is None else eps
    norms = ["attention.output.LayerNorm", "output.LayerNorm"]
    if swap_norms:
        norms.reverse()

    def linear(t, name, transpose=True):
        weight = w[name + ".weight"]
        return t @ (weight.T if transpose else weight) + w[name + ".bias"]

    def norm_(t, which):
        return _layer_norm(t, w[norms[which] + ".weight"], w[norms[which] + ".bias"], eps, ddof)

    a = norm_(x, 0) if norm == "pre" else x
    q, k, v = (linear(a, "attention.self." + n, transpose_attention).reshape(b, s, h, e).transpose(0, 2, 1, 3)
               for n in ("query", "key", "value"))  # (b, h, s, e)
    scores = q @ k.transpose(0, 1, 3, 2)  # (b, h, s, s)
    if scale == "head":
        scores = scores / math.sqrt(e)
    elif scale == "width":
        scores = scores / math.sqrt(d)
    low = np.finfo(np.float32).min
    real = attention_mask.astype(bool)
    if padding == "keys":
        scores = np.where(real[:, None, None, :], scores, low)
    elif padding == "inverted":
        scores = np.where(real[:, None, None, :], low, scores)
    elif padding == "queries":
        scores = np.where(real[:, None, :, None], scores, low)
    if causal:
        scores = np.where(np.triu(np.ones((s, s), dtype=bool), k=1), low, scores)
    z = (_softmax(scores, softmax_axis) @ v).transpose(0, 2, 1, 3).reshape(b, s, d)  # (b, s, d)
    attn = linear(z, "attention.output.dense", transpose_attention)
    if norm == "pre":
        x = x + attn
        m = _gelu(linear(norm_(x, 1), "intermediate.dense"), gelu)  # (b, s, m)
        return x + linear(m, "output.dense")
    x = norm_((x + attn) if residual_attention else attn, 0)
    m = _gelu(linear(x, "intermediate.dense"), gelu)  # (b, s, m)
    out = linear(m, "output.dense")
    return norm_((x + out) if residual_mlp else out, 1)


_SHAPES_HINT = ("Two slips give this: a weight used as stored, x @ W (nn.Linear stores weight as (out_features, "
                "in_features), so BERT's projections are x @ W.T + b; GPT-2's Conv1D is the one stored (in, out), "
                "used as x @ W), or heads not merged back to (b, s, d) before attention.output.dense.")


def _mistakes(w, config, x, mask) -> list[tuple[str, np.ndarray]]:
    """(explanation, the output with that slip) for the typical slips."""
    eps = config["layer_norm_eps"]
    slips = [
        ("the attention's four projections (query, key, value, attention.output.dense) use W as stored, x @ W. "
         "They are square, so nothing fails, but nn.Linear stores weight as (out, in): x @ W.T + b.",
         dict(transpose_attention=False)),
        ("the padding mask is not applied: padding keys must be hidden from every query (scores -> a large "
         "negative number where attention_mask[:, None, None, :] == 0, before the softmax).", dict(padding="none")),
        ("the padding mask is the wrong way round: attention_mask is 1 for real tokens and 0 for padding, so "
         "hide the keys where it is 0.", dict(padding="inverted")),
        ("the padding mask hides padded *queries* (rows) instead of padded *keys* (columns): index it as "
         "attention_mask[:, None, None, :] so it broadcasts over the key axis.", dict(padding="queries")),
        ("a causal mask is applied: BERT is bidirectional, every token reads every real token, before and after "
         "it. Only padding is hidden (the causal mask is GPT-2's).", dict(causal=True)),
        ("the scores are not divided by sqrt(head dim): scores = q @ k^T / sqrt(e), e = hidden_size / "
         "num_attention_heads.", dict(scale="none")),
        ("the scores are divided by sqrt(hidden_size); the scale is sqrt(head dim), e = hidden_size / "
         "num_attention_heads.", dict(scale="width")),
        ("the heads are not split: q, k and v must be reshaped (b, s, h, e) and transposed to (b, h, s, e), so "
         "each head attends on its own, then merged back to (b, s, d).", dict(split_heads=False)),
        ("the softmax runs over the queries (axis -2): each query's weights over the keys must sum to 1, "
         "softmax over the last axis.", dict(softmax_axis=-2)),
        ("the LayerNorms use GPT-2's epsilon 1e-5: read it from the config, config['layer_norm_eps'] "
         f"({eps:g} here, as in all-MiniLM-L6-v2).", dict(eps=1e-5)),
        ("the variance is the unbiased one (ddof=1): LayerNorm divides by d, x.var(-1) (NumPy's default).",
         dict(ddof=1)),
        ("the layer is pre-norm (GPT-2's x + attn(LN(x))): BERT is post-norm, x = LN(x + attn(x)), then "
         "x = LN(x + mlp(x)), with attention.output.LayerNorm after the attention and output.LayerNorm after the MLP.",
         dict(norm="pre")),
        ("the two LayerNorms are swapped: attention.output.LayerNorm follows the attention, output.LayerNorm "
         "follows the MLP.", dict(swap_norms=True)),
        ("the GELU is GPT-2's tanh approximation: BERT's hidden_act is 'gelu', the exact x * Phi(x) = "
         "0.5 * x * (1 + erf(x / sqrt(2))) (NumPy has no erf: hfexplain.engines.numpy_engine.erf is one).",
         dict(gelu="tanh")),
        ("the MLP's activation is ReLU: BERT's hidden_act is 'gelu', 0.5 * x * (1 + erf(x / sqrt(2))).",
         dict(gelu="relu")),
        ("the residual around the attention is missing: the first LayerNorm reads x + attention(x), not the "
         "attention's output alone.", dict(residual_attention=False)),
        ("the residual around the MLP is missing: the second LayerNorm reads x + mlp(x), not the MLP's output "
         "alone.", dict(residual_mlp=False)),
    ]
    return [(text, _bert_layer(w, config, x, mask, **knobs)) for text, knobs in slips]


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.isfinite(a).all()) and float(np.abs(a - b).max()) <= ATOL


def check_bert_layer(fn: Callable) -> CheckResult:
    """Check ``fn(w, config, x, attention_mask) -> (b, s, d)``; never raises on a wrong answer."""
    if not callable(fn):
        return CheckResult(EXERCISE, False, [f"Pass your function itself, got {type(fn).__name__}."])
    config = dict(CONFIG)
    for description, w, x, mask in make_cases(config):
        where = f"(seen with {description})"
        expected = reference(w, config, x, mask)
        try:
            got = fn({name: array.copy() for name, array in w.items()}, dict(config), x.copy(), mask.copy())
        except Exception as error:  # noqa: BLE001 - the learner's error is the verdict
            hint = f" {_SHAPES_HINT}" if isinstance(error, ValueError) and (
                "matmul" in str(error) or "shapes" in str(error) or "aligned" in str(error)) else ""
            if isinstance(error, KeyError):
                hint = (f" The names are the checkpoint's after 'encoder.layer.{{i}}.': {', '.join(list(w)[:3])}, ...; "
                        "config has hidden_size, num_attention_heads, layer_norm_eps, hidden_act.")
            return CheckResult(EXERCISE, False, [f"Your function raised {type(error).__name__}: {error}.{hint}", where])
        if got is None:
            return CheckResult(EXERCISE, False, ["Your function returned None: did you forget `return`?", where])
        if not isinstance(got, np.ndarray):
            return CheckResult(EXERCISE, False, [
                f"Your function returned a {type(got).__name__}; return a NumPy array (the engines run without torch).",
                where])
        if got.shape != expected.shape:
            hint = ""
            if got.ndim == 4:
                hint = " Merge the heads back: (b, h, s, e) -> transpose to (b, s, h, e) -> reshape to (b, s, d)."
            elif got.size == expected.size:
                hint = " The same number of values in another order: check your transposes and reshapes."
            return CheckResult(EXERCISE, False, [
                f"Your output has shape {got.shape} but should have {expected.shape} (batch, seq, hidden).{hint}", where])
        if not np.issubdtype(got.dtype, np.floating):
            return CheckResult(EXERCISE, False, [f"Your output has dtype {got.dtype}; it should be float32.", where])
        if _close(got, expected):
            continue
        if not np.isfinite(got).all():
            return CheckResult(EXERCISE, False, [
                "Your output contains NaN or inf: a softmax over a row whose keys are all hidden with -inf (is the "
                "mask the wrong way round?), or an overflow. Fill hidden scores with np.finfo(np.float32).min.",
                where])
        for explanation, answer in _mistakes(w, config, x, mask):
            if _close(got, answer) and not _close(answer, expected):
                return CheckResult(EXERCISE, False, [explanation[0].upper() + explanation[1:], where])
        diff = np.abs(got.astype(np.float64) - expected)
        index = tuple(int(i) for i in np.unravel_index(diff.argmax(), diff.shape))
        return CheckResult(EXERCISE, False, [
            f"Your output differs from BertLayer's by up to {diff.max():.3g} (at {index}: got {got[index]:.4f}, "
            f"expected {expected[index]:.4f}), and none of the usual slips explains it. The steps: q, k, v = "
            "x @ W.T + b, split into heads; scores / sqrt(e), padding keys hidden; softmax; merge heads; "
            "x = LN1(x + dense(z)); x = LN2(x + output(gelu(intermediate(x)))).", where])
    return CheckResult(EXERCISE, True, [
        "matches hfexplain's BertLayer (post-norm, exact GELU, padding hidden, layer_norm_eps from the config) on "
        "a padded batch and on a tiny stream."
    ])


__all__ = ["CONFIG", "SHAPES", "check_bert_layer", "make_cases", "make_layer_weights", "reference"]
