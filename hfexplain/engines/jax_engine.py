"""GPT-2 in JAX: the NumPy forward with ``jnp`` for ``np``, compiled by ``jax.jit``.

``jax.jit`` traces the function once per input *shape* and hands the traced program to XLA,
which fuses and compiles it; later calls with that shape run the compiled code. The first call
is therefore slow (tracing and compiling), the next ones fast. For generation that means a
sequence that grows by one token each step would compile at every step, so ``generate`` pads
the ids to their final length once: with causal attention, the padding on the right changes
no earlier position's logits.

Shapes: b=batch, s=sequence, d=n_embd, h=n_head, e=d/h, v=vocab_size.
"""
from __future__ import annotations

import numpy as np

import jax
import jax.numpy as jnp

from .base import CausalLMEngine
from .checkpoint import check_family, read_config, read_weights
from .numpy_engine import check_gpt2_config

FAMILIES = ("gpt2",)
ACTIVATIONS = {"gelu_new": True, "gelu_pytorch_tanh": True, "gelu": False}  # name -> tanh approximation?


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + eps) * weight + bias


def gpt2_forward(w: dict, input_ids, *, n_layer: int, n_head: int, eps: float, tanh_gelu: bool):
    """GPT-2 logits (b, s, v) for ``input_ids`` (b, s); ``w`` maps the checkpoint's names to arrays."""
    b, s = input_ids.shape
    d = w["wte.weight"].shape[1]
    e = d // n_head
    future = jnp.triu(jnp.ones((s, s), dtype=bool), k=1)  # (s, s)

    x = w["wte.weight"][input_ids] + w["wpe.weight"][:s]  # (b, s, d)
    for i in range(n_layer):  # unrolled while tracing: XLA sees one straight program
        p = f"h.{i}."
        a = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]  # (b, s, 3d)
        q, k, v = (t.reshape(b, s, n_head, e).transpose(0, 2, 1, 3) for t in jnp.split(qkv, 3, axis=-1))  # (b, h, s, e)
        scores = q @ k.transpose(0, 1, 3, 2) / jnp.sqrt(e)  # (b, h, s, s)
        scores = jnp.where(future, jnp.finfo(scores.dtype).min, scores)
        z = jax.nn.softmax(scores, axis=-1) @ v  # (b, h, s, e)
        z = z.transpose(0, 2, 1, 3).reshape(b, s, d)  # (b, s, d)
        x = x + z @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        m = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        m = jax.nn.gelu(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"], approximate=tanh_gelu)  # (b, s, 4d)
        x = x + m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    return x @ w["wte.weight"].T  # (b, s, v)


class JaxGPT2(CausalLMEngine):
    """GPT-2 on JAX (CPU here): ``model(ids)`` compiles once per (b, s), then reuses the program."""

    engine = "jax"

    def __init__(self, config: dict, weights: dict):
        super().__init__(config)
        self.weights = {name: jnp.asarray(array) for name, array in weights.items()}
        static = dict(n_layer=config["n_layer"], n_head=config["n_head"], eps=config["layer_norm_epsilon"],
                      tanh_gelu=ACTIVATIONS[config["activation_function"]])

        def forward(w, input_ids):
            return gpt2_forward(w, input_ids, **static)

        self._forward = jax.jit(forward)

    def forward(self, input_ids: np.ndarray) -> np.ndarray:
        return np.asarray(self._forward(self.weights, input_ids.astype(np.int32)))

    def _greedy(self, input_ids: np.ndarray, max_new_tokens: int) -> np.ndarray:
        b, s = input_ids.shape
        ids = np.zeros((b, s + max_new_tokens), dtype=np.int32)  # one shape for every step: one compile
        ids[:, :s] = input_ids
        for t in range(s, s + max_new_tokens):
            logits = self._forward(self.weights, ids)  # (b, s + n, v); positions >= t are padding
            ids[:, t] = np.asarray(logits[:, t - 1].argmax(-1))
        return ids.astype(np.int64)


def load(folder: str) -> JaxGPT2:
    config = read_config(folder)
    family = check_family(config, "jax", FAMILIES)
    check_gpt2_config(config, "jax")
    if config["activation_function"] not in ACTIVATIONS:
        raise NotImplementedError(
            f"the JAX engine has the activations {sorted(ACTIVATIONS)}, not {config['activation_function']!r}."
        )
    return JaxGPT2(config, read_weights(folder, family))
