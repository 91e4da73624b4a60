"""What every engine's model shares: the input checks, and greedy generation for GPT-2.

Shapes: b=batch, s=sequence, n=new tokens, v=vocab_size, d=hidden size.
"""
from __future__ import annotations

import numpy as np


def check_ids(input_ids, *, vocab_size: int, max_positions: int, attention_mask=None) -> tuple[np.ndarray, np.ndarray | None]:
    """``input_ids`` (b, s) as int64, ``attention_mask`` (b, s) as int64 or None; clear errors before any work."""
    input_ids = np.asarray(input_ids)
    if input_ids.ndim != 2:
        raise ValueError(
            f"input_ids must have shape (batch, seq), got {input_ids.shape}; for one sequence use ids[None]."
        )
    if not np.issubdtype(input_ids.dtype, np.integer):
        raise TypeError(f"input_ids must be integer token ids, got dtype {input_ids.dtype}; convert with .astype(np.int64).")
    if input_ids.shape[1] == 0:
        raise ValueError(f"input_ids has no tokens (shape {input_ids.shape}): pass at least one per row.")
    if input_ids.shape[1] > max_positions:
        raise ValueError(f"the sequence is {input_ids.shape[1]} tokens long but the model has {max_positions} positions.")
    if input_ids.min() < 0 or input_ids.max() >= vocab_size:
        raise ValueError(
            f"input_ids hold ids outside the vocabulary [0, {vocab_size}): min {input_ids.min()}, max {input_ids.max()}."
        )
    if attention_mask is not None:
        attention_mask = np.asarray(attention_mask)
        if attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"attention_mask must have the shape of input_ids {input_ids.shape}, got {attention_mask.shape}."
            )
        attention_mask = attention_mask.astype(np.int64)
    return input_ids.astype(np.int64), attention_mask


class EngineModel:
    """A model run by an engine: ``model(input_ids)`` returns a NumPy array.

    Attributes: ``family`` (the checkpoint's model_type), ``engine`` ("numpy", "jax", "onnx"),
    ``config`` (config.json as a dict).
    """

    family = ""
    engine = ""

    def __init__(self, config: dict):
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}(family={self.family!r}, engine={self.engine!r})"


class CausalLMEngine(EngineModel):
    """GPT-2: ``model(input_ids)`` -> logits (b, s, v); ``generate`` continues greedily."""

    family = "gpt2"

    def __call__(self, input_ids) -> np.ndarray:
        input_ids, _ = check_ids(input_ids, vocab_size=self.config["vocab_size"], max_positions=self.config["n_positions"])
        return self.forward(input_ids)

    def forward(self, input_ids: np.ndarray) -> np.ndarray:  # (b, s) int64 -> (b, s, v) float32
        raise NotImplementedError

    def generate(self, input_ids, max_new_tokens: int = 20) -> np.ndarray:
        """Greedy decoding: append the most likely next token ``max_new_tokens`` times -> (b, s + n).

        No KV cache: each step reads the whole sequence again (simple, and what an exported graph
        without cache inputs allows). No stopping at an end-of-text token: exactly n new tokens.
        """
        if not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}.")
        input_ids, _ = check_ids(input_ids, vocab_size=self.config["vocab_size"], max_positions=self.config["n_positions"])
        total = input_ids.shape[1] + max_new_tokens
        if total > self.config["n_positions"]:
            raise ValueError(
                f"{input_ids.shape[1]} prompt + {max_new_tokens} new tokens = {total} > the model's "
                f"{self.config['n_positions']} positions; ask for fewer new tokens."
            )
        return self._greedy(input_ids, max_new_tokens)

    def _greedy(self, input_ids: np.ndarray, max_new_tokens: int) -> np.ndarray:
        ids = input_ids
        for _ in range(max_new_tokens):
            next_ids = self.forward(ids)[:, -1].argmax(-1)  # (b,)
            ids = np.concatenate([ids, next_ids[:, None]], axis=1)  # (b, s + 1)
        return ids


class EncoderEngine(EngineModel):
    """BERT: ``model(input_ids, attention_mask=None)`` -> last hidden state (b, s, d)."""

    family = "bert"

    def __call__(self, input_ids, attention_mask=None) -> np.ndarray:
        input_ids, attention_mask = check_ids(
            input_ids, vocab_size=self.config["vocab_size"], max_positions=self.config["max_position_embeddings"],
            attention_mask=attention_mask,
        )
        if attention_mask is None:
            attention_mask = np.ones_like(input_ids)  # (b, s): every token is real
        return self.forward(input_ids, attention_mask)

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError
