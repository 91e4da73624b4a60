"""feature-extraction: the model's hidden states themselves, one vector per token.

    "A man is playing a guitar." ─► [CLS] a man is playing a guitar . [SEP]
        ─► base model ─► last_hidden_state (1, s, d) ─► nested lists [[[...d floats] x s]]

No head and no decision: the output is the first tensor the model returns (the last
hidden state for a bare model). ``return_tensors=True`` gives the tensor (1, s, d) instead of
nested lists.

**Sentence embeddings** (what sentence-transformers does for all-MiniLM-L6-v2): average
the token vectors, ignoring padding (*mean pooling*), then compare two sentences by the
cosine of the angle between their vectors: 1 = same direction, 0 = unrelated.
:func:`mean_pooling`, :func:`sentence_similarity` and ``pipe.similarity(a, b)`` do that.

One difference: with ``batch_size > 1`` transformers returns each text's vectors padded
to the longest text of its batch (the padding positions' vectors included); here the
padding batching added is cut off again, so a text's output never depends on its batch.
"""
from __future__ import annotations

import re
from typing import Any

import torch

from .base import Pipeline, _check_text


class FeatureExtractionPipeline(Pipeline):
    """Return the hidden states of any model, and compare sentences by mean-pooled embeddings."""

    task = "feature-extraction"
    model_task = None  # any model

    def _sanitize_parameters(self, truncation: bool | str | None = None, tokenize_kwargs: dict[str, Any] | None = None,
                             return_tensors: bool | None = None):
        tokenize_kwargs = dict(tokenize_kwargs or {})
        if truncation is not None:
            if "truncation" in tokenize_kwargs:
                raise ValueError("truncation is given twice (as an argument and in tokenize_kwargs); pass it once.")
            tokenize_kwargs["truncation"] = truncation
        postprocess_params = {"return_tensors": return_tensors} if return_tensors is not None else {}
        return tokenize_kwargs, {}, postprocess_params

    def _ignores_new_weight(self, name: str) -> bool:
        # The output is the last hidden state; BERT's pooler (absent from MLM checkpoints) is not used.
        return re.search(r"(^|\.)pooler\.", name) is not None

    def preprocess(self, inputs: str, **tokenize_kwargs: Any) -> dict[str, Any]:
        return dict(self.tokenizer(inputs, return_tensors="pt", **tokenize_kwargs))

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        outputs = self.model(**self._model_kwargs(model_inputs))
        features = outputs[0]  # (b, s, d): last_hidden_state (or a head's logits), as transformers takes [0]
        return {"features": features, "attention_mask": model_inputs.get("attention_mask")}

    def _remove_batch_padding(self, row_outputs: dict[str, Any], added: int) -> dict[str, Any]:
        if not added:
            return row_outputs
        side = self.padding_side or self.tokenizer.padding_side
        trimmed = {}
        for name, value in row_outputs.items():
            if isinstance(value, torch.Tensor) and value.dim() >= 2:
                value = value[:, added:] if side == "left" else value[:, : value.shape[1] - added]  # (1, s, ...)
            trimmed[name] = value
        return trimmed

    def postprocess(self, model_outputs: dict[str, Any], return_tensors: bool = False, trace: dict | None = None):
        features = model_outputs["features"]  # (1, s, d)
        if trace is not None:
            trace["probabilities"] = None
            trace["decision"] = (
                f"none: the output is the model's first output, {tuple(features.shape)} "
                "(one vector per token, special tokens included)"
            )
        return features if return_tensors else features.tolist()

    def similarity(self, text_a: str, text_b: str, **tokenize_kwargs: Any) -> float:
        """Cosine similarity of two texts' mean-pooled embeddings (see :func:`sentence_similarity`)."""
        return sentence_similarity(self.model, self.tokenizer, text_a, text_b, **tokenize_kwargs)


def mean_pooling(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average each row's token vectors over its real tokens (padding excluded).

    last_hidden_state (b, s, d), attention_mask (b, s) -> (b, d)
    """
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)  # (b, s, 1)
    summed = (last_hidden_state * mask).sum(dim=1)  # (b, d)
    counts = mask.sum(dim=1).clamp(min=1e-9)  # (b, 1)
    return summed / counts


def sentence_embeddings(model, tokenizer, texts: str | list[str], *, normalize: bool = True,
                        **tokenize_kwargs: Any) -> torch.Tensor:
    """Mean-pooled (and by default L2-normalised) embeddings of texts: (n, d).

    This is what sentence-transformers computes for all-MiniLM-L6-v2: the model's last
    hidden state, averaged over real tokens, divided by its length.
    """
    texts = [texts] if isinstance(texts, str) else list(texts)
    for text in texts:
        _check_text(text, "sentence-embedding")
    encoded = tokenizer(texts, padding=True, return_tensors="pt", **tokenize_kwargs)
    model_inputs = {name: encoded[name].to(model.device) for name in ("input_ids", "attention_mask", "token_type_ids")
                    if name in encoded}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            hidden = model(**model_inputs)[0]  # (n, s, d)
    finally:
        model.train(was_training)
    pooled = mean_pooling(hidden, model_inputs["attention_mask"]).cpu()  # (n, d)
    return torch.nn.functional.normalize(pooled, dim=-1) if normalize else pooled


def sentence_similarity(model, tokenizer, text_a: str, text_b: str, **tokenize_kwargs: Any) -> float:
    """Cosine similarity of two texts' mean-pooled embeddings, in [-1, 1].

    >>> sentence_similarity(model, tokenizer, "A man is playing a guitar.",
    ...                     "Someone is strumming a guitar.")       # doctest: +SKIP
    0.7185...  (all-MiniLM-L6-v2)
    """
    embeddings = sentence_embeddings(model, tokenizer, [text_a, text_b], normalize=True, **tokenize_kwargs)  # (2, d)
    return float(embeddings[0] @ embeddings[1])
