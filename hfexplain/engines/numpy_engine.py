"""GPT-2 and BERT in plain NumPy, reading the same ``model.safetensors`` as the PyTorch classes.

No torch here: the weights are a dict of arrays (``checkpoint.read_weights``), and a forward
pass is embedding lookups, matrix products, layer norms and softmaxes. Compare each line with
``hfexplain/models/gpt2.py`` and ``bert.py``: the names are the checkpoint's.

Shapes: b=batch, s=sequence, d=hidden size, h=heads, e=d/h (head dim), v=vocab_size.
GPT-2 stores its projections as Conv1D, weight (in, out): ``x @ W``. BERT's are nn.Linear,
weight (out, in): ``x @ W.T``.
"""
from __future__ import annotations

import math

import numpy as np

from .base import CausalLMEngine, EncoderEngine
from .checkpoint import check_family, read_config, read_weights

FAMILIES = ("gpt2", "bert")


# ----------------------------------------------------------------------------- the pieces


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    # Python floats (math.sqrt, not np.sqrt) throughout: a NumPy float64 scalar would turn float32 arrays into float64.
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)  # biased, as torch's LayerNorm
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (minus the max first, so exp never overflows)."""
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def erf(x: np.ndarray) -> np.ndarray:
    """NumPy has no erf: Abramowitz & Stegun 7.1.26, within 1.5e-7 of the exact value."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def gelu_tanh(x: np.ndarray) -> np.ndarray:  # "gelu_new", GPT-2's
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def gelu_exact(x: np.ndarray) -> np.ndarray:  # "gelu", BERT's: x * Phi(x)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


ACTIVATIONS = {"gelu_new": gelu_tanh, "gelu_pytorch_tanh": gelu_tanh, "gelu": gelu_exact, "relu": relu}


def activation(name: str):
    if name not in ACTIVATIONS:
        raise NotImplementedError(f"the NumPy engine has the activations {sorted(ACTIVATIONS)}, not {name!r}.")
    return ACTIVATIONS[name]


# ----------------------------------------------------------------------------- GPT-2


def gpt2_forward(w: dict, config: dict, input_ids: np.ndarray) -> np.ndarray:
    """GPT-2 logits (b, s, v) for ``input_ids`` (b, s): the whole model on one screen."""
    b, s = input_ids.shape
    d, h, eps = config["n_embd"], config["n_head"], config["layer_norm_epsilon"]
    e = d // h
    act = activation(config["activation_function"])
    future = np.triu(np.ones((s, s), dtype=bool), k=1)  # (s, s): True where a key is after the query

    x = w["wte.weight"][input_ids] + w["wpe.weight"][:s]  # (b, s, d)
    for i in range(config["n_layer"]):
        p = f"h.{i}."
        a = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)  # (b, s, d)
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]  # (b, s, 3d)
        q, k, v = (t.reshape(b, s, h, e).transpose(0, 2, 1, 3) for t in np.split(qkv, 3, axis=-1))  # (b, h, s, e)
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(e)  # (b, h, s, s)
        scores = np.where(future, np.finfo(scores.dtype).min, scores)  # causal: no peeking ahead
        z = softmax(scores) @ v  # (b, h, s, e)
        z = z.transpose(0, 2, 1, 3).reshape(b, s, d)  # (b, s, d): heads side by side again
        x = x + z @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]  # residual
        m = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)  # (b, s, d)
        m = act(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])  # (b, s, 4d)
        x = x + m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]  # residual
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)  # (b, s, d)
    return x @ w["wte.weight"].T  # (b, s, v): lm_head is tied to wte


# ----------------------------------------------------------------------------- BERT


def bert_forward(w: dict, config: dict, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """BERT's last hidden state (b, s, d); ``attention_mask`` (b, s) is 1 for real tokens, 0 for padding."""
    b, s = input_ids.shape
    d, h, eps = config["hidden_size"], config["num_attention_heads"], config["layer_norm_eps"]
    e = d // h
    act = activation(config["hidden_act"])
    seen = attention_mask.astype(bool)[:, None, None, :]  # (b, 1, 1, s): which keys each query may read

    def linear(x, name):  # nn.Linear: weight (out, in)
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    x = (w["embeddings.word_embeddings.weight"][input_ids]
         + w["embeddings.position_embeddings.weight"][:s]
         + w["embeddings.token_type_embeddings.weight"][0])  # (b, s, d): every token in sentence A
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (linear(x, p + "attention.self." + n).reshape(b, s, h, e).transpose(0, 2, 1, 3)
                   for n in ("query", "key", "value"))  # (b, h, s, e)
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(e)  # (b, h, s, s)
        scores = np.where(seen, scores, np.finfo(scores.dtype).min)  # padding keys are hidden
        pattern = np.where(seen.any(-1, keepdims=True), softmax(scores), 0.0)  # a row that sees nothing: zeros
        z = (pattern @ v).transpose(0, 2, 1, 3).reshape(b, s, d)  # (b, s, d)
        x = layer_norm(x + linear(z, p + "attention.output.dense"),
                       w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
        m = act(linear(x, p + "intermediate.dense"))  # (b, s, m)
        x = layer_norm(x + linear(m, p + "output.dense"),
                       w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)  # post-norm
    return x


# ----------------------------------------------------------------------------- the engine's models


class NumpyGPT2(CausalLMEngine):
    engine = "numpy"

    def __init__(self, config: dict, weights: dict):
        super().__init__(config)
        self.weights = weights

    def forward(self, input_ids: np.ndarray) -> np.ndarray:
        return gpt2_forward(self.weights, self.config, input_ids)


class NumpyBert(EncoderEngine):
    engine = "numpy"

    def __init__(self, config: dict, weights: dict):
        super().__init__(config)
        self.weights = weights

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return bert_forward(self.weights, self.config, input_ids, attention_mask)


def check_gpt2_config(config: dict, engine: str) -> None:
    """The GPT-2 options the array engines leave out, refused by name."""
    for key in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"):
        if config.get(key):
            raise NotImplementedError(f"the {engine!r} engine runs plain GPT-2: {key}=True is not implemented.")
    if config.get("scale_attn_weights") is False:
        raise NotImplementedError(f"the {engine!r} engine scales scores by 1/sqrt(head dim): scale_attn_weights=False is not implemented.")


def load(folder: str):
    config = read_config(folder)
    family = check_family(config, "numpy", FAMILIES)
    if family == "gpt2":
        check_gpt2_config(config, "numpy")
        activation(config["activation_function"])
        return NumpyGPT2(config, read_weights(folder, family))
    activation(config["hidden_act"])
    return NumpyBert(config, read_weights(folder, family))
