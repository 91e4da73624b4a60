"""token-classification (alias ner): a label for every token, then grouped into entities.

    "My name is Wolfgang" ─► [CLS] my name is wolf ##gang [SEP] (+ character offsets of each token)
        ─► model ─► logits (1, s, num_labels) ─► softmax per token
        ─► one entity per token: {"entity": "B-PER", "score", "index", "word", "start", "end"}
        ─► aggregation_strategy ─► [{"entity_group": "PER", "score", "word": "wolfgang", "start", "end"}]

Special tokens ([CLS], [SEP], padding) are dropped using the tokenizer's
``special_tokens_mask``; ``start``/``end`` are character positions in the input text
(``text[start:end]`` is what was tagged), taken from the tokenizer's offsets.

``aggregation_strategy`` (transformers' five):

* ``"none"``: one dict per token, key ``entity`` (the B-/I- tag as the model gave it) and
  the token's ``index``.
* ``"simple"``: adjacent tokens whose tags continue one another (``B-PER I-PER``, or the
  same tag without prefix) merge into one ``entity_group`` with the mean score; a new
  ``B-`` starts a new group. Words may be split across groups ("Micro" PER + "soft" ORG).
* ``"first"`` / ``"average"`` / ``"max"``: first make every *word* agree on one tag (the
  tag of its first sub-token; of the averaged scores; of its most confident sub-token),
  then group as "simple". Sub-tokens are told apart from word starts by comparing the
  token's text with the characters it covers (``##gang`` is 6 characters for a 4-letter
  span), which needs a tokenizer with a sub-word prefix such as WordPiece's ``##``.

Entities whose tag (or group) is in ``ignore_labels`` (default ``["O"]``) are dropped.
Inputs longer than the tokenizer's ``model_max_length`` are truncated.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch

from .base import Pipeline

STRATEGIES = ("none", "simple", "first", "average", "max")


class TokenClassificationPipeline(Pipeline):
    """Tag every token of a text (named entities, parts of speech ...)."""

    task = "token-classification"
    model_task = "token-classification"

    def _sanitize_parameters(self, aggregation_strategy: str | None = None, ignore_labels: list[str] | None = None):
        postprocess_params = {}
        if aggregation_strategy is not None:
            strategy = str(getattr(aggregation_strategy, "value", aggregation_strategy)).lower()
            if strategy not in STRATEGIES:
                raise ValueError(
                    f"aggregation_strategy must be one of {', '.join(STRATEGIES)}, got {aggregation_strategy!r}."
                )
            postprocess_params["aggregation_strategy"] = strategy
        if ignore_labels is not None:
            if isinstance(ignore_labels, str) or not all(isinstance(label, str) for label in ignore_labels):
                raise TypeError(f"ignore_labels must be a list of label names such as ['O'], got {ignore_labels!r}.")
            postprocess_params["ignore_labels"] = list(ignore_labels)
        return {}, {}, postprocess_params

    def preprocess(self, sentence: str) -> dict[str, Any]:
        has_limit = self.tokenizer.model_max_length < 10**12  # "no limit" is stored as a huge number
        encoded = self.tokenizer(
            sentence,
            return_tensors="pt",
            truncation=has_limit,
            return_special_tokens_mask=True,
            return_offsets_mapping=True,
        )
        return {**encoded, "sentence": sentence}

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        logits = self.model(**self._model_kwargs(model_inputs)).logits  # (b, s, num_labels)
        return {
            "logits": logits,
            "input_ids": model_inputs["input_ids"],
            "special_tokens_mask": model_inputs["special_tokens_mask"],
            "offset_mapping": model_inputs["offset_mapping"],
            "sentence": model_inputs["sentence"],
        }

    def postprocess(self, model_outputs: dict[str, Any], aggregation_strategy: str = "none",
                    ignore_labels: list[str] | None = None, trace: dict | None = None) -> list[dict[str, Any]]:
        ignore_labels = ["O"] if ignore_labels is None else ignore_labels
        scores = torch.softmax(model_outputs["logits"][0].float(), dim=-1)  # (s, num_labels)
        tokens = self.gather_pre_entities(
            model_outputs["sentence"],
            model_outputs["input_ids"][0].tolist(),
            scores,
            model_outputs["offset_mapping"][0].tolist(),
            model_outputs["special_tokens_mask"][0].tolist(),
            aggregation_strategy,
        )
        if aggregation_strategy in ("none", "simple"):
            entities = [self._token_entity(token) for token in tokens]
        else:
            entities = self.aggregate_words(tokens, aggregation_strategy)
        if aggregation_strategy != "none":
            entities = self.group_entities(entities)
        kept = [
            entity for entity in entities
            if entity.get("entity") not in ignore_labels and entity.get("entity_group") not in ignore_labels
        ]
        if trace is not None:
            trace["probabilities"] = scores
            trace["details"]["tokens"] = [
                {**{k: v for k, v in token.items() if k != "scores"},
                 "label": self._label(int(token["scores"].argmax())), "score": float(token["scores"].max())}
                for token in tokens
            ]
            trace["details"]["entities_before_filtering"] = entities
            tagged = " ".join(f"{token['word']}:{token['label']}" for token in trace["details"]["tokens"])
            trace["decision"] = (
                f"softmax per token, best label each: {tagged}\n"
                f"aggregation_strategy={aggregation_strategy!r} gave {len(entities)} "
                f"entit{'y' if len(entities) == 1 else 'ies'}; dropping labels {ignore_labels} kept {len(kept)}"
            )
        return kept

    # -- from tokens to entities ---------------------------------------------------------

    def gather_pre_entities(self, sentence: str, input_ids: list[int], scores: torch.Tensor,
                            offsets: list[list[int]], special_tokens_mask: list[int],
                            aggregation_strategy: str) -> list[dict[str, Any]]:
        """One record per real token: its text, scores, character span and whether it
        continues the previous word (``is_subword``)."""
        subword_prefix = getattr(self.tokenizer.backend_tokenizer.model, "continuing_subword_prefix", None)
        warned = False
        tokens = []
        for index, token_scores in enumerate(scores):
            if special_tokens_mask[index]:
                continue  # [CLS], [SEP], padding
            word = self.tokenizer.convert_ids_to_tokens(input_ids[index])
            start, end = offsets[index]
            covered = sentence[start:end]
            if subword_prefix:
                # "##gang" covers 4 characters but has 6: the prefix marks a word continuation.
                is_subword = len(word) != len(covered)
            else:
                if aggregation_strategy in ("first", "average", "max") and not warned:
                    warnings.warn(
                        "the tokenizer marks no sub-words (no continuing_subword_prefix), so word boundaries are "
                        "guessed from spaces in the text; prefer aggregation_strategy='simple' for it.",
                        UserWarning,
                        stacklevel=4,
                    )
                    warned = True
                is_subword = start > 0 and " " not in sentence[start - 1 : start + 1]
            if input_ids[index] == self.tokenizer.unk_token_id:
                word, is_subword = covered, False  # show the original characters, not "[UNK]"
            tokens.append(
                {"word": word, "scores": token_scores, "start": start, "end": end, "index": index,
                 "is_subword": is_subword}
            )
        return tokens

    def _token_entity(self, token: dict[str, Any]) -> dict[str, Any]:
        best = int(token["scores"].argmax())
        return {
            "entity": self._label(best),
            "score": float(token["scores"][best]),
            "index": token["index"],
            "word": token["word"],
            "start": token["start"],
            "end": token["end"],
        }

    def aggregate_words(self, tokens: list[dict[str, Any]], strategy: str) -> list[dict[str, Any]]:
        """Merge each word's sub-tokens into one entity, so a word gets a single tag."""
        words, current = [], []
        for token in tokens:
            if current and not token["is_subword"]:
                words.append(self.aggregate_word(current, strategy))
                current = []
            current.append(token)
        if current:
            words.append(self.aggregate_word(current, strategy))
        return words

    def aggregate_word(self, tokens: list[dict[str, Any]], strategy: str) -> dict[str, Any]:
        if strategy == "first":
            scores = tokens[0]["scores"]  # (num_labels,)
        elif strategy == "max":
            scores = max(tokens, key=_top_score)["scores"]
        else:  # average
            scores = torch.stack([token["scores"] for token in tokens]).mean(dim=0)  # (num_labels,)
        best = int(scores.argmax())
        return {
            "entity": self._label(best),
            "score": float(scores[best]),
            "word": self.tokenizer.convert_tokens_to_string([token["word"] for token in tokens]),
            "start": tokens[0]["start"],
            "end": tokens[-1]["end"],
        }

    def group_entities(self, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Merge adjacent entities whose tags continue one another into entity groups."""
        groups, current = [], []
        for entity in entities:
            if current:
                prefix, tag = _split_tag(entity["entity"])
                _, last_tag = _split_tag(current[-1]["entity"])
                if tag != last_tag or prefix == "B":
                    groups.append(self._group(current))
                    current = []
            current.append(entity)
        if current:
            groups.append(self._group(current))
        return groups

    def _group(self, entities: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "entity_group": entities[0]["entity"].split("-", 1)[-1],
            "score": sum(entity["score"] for entity in entities) / len(entities),
            "word": self.tokenizer.convert_tokens_to_string([entity["word"] for entity in entities]),
            "start": entities[0]["start"],
            "end": entities[-1]["end"],
        }


def _top_score(token: dict[str, Any]) -> float:
    return float(token["scores"].max())


def _split_tag(label: str) -> tuple[str, str]:
    """"B-PER" -> ("B", "PER"); "I-PER" -> ("I", "PER"); a tag without prefix counts as a continuation."""
    if label.startswith("B-"):
        return "B", label[2:]
    if label.startswith("I-"):
        return "I", label[2:]
    return "I", label
