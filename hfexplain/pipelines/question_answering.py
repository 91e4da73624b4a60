"""question-answering: find the answer to a question as a span of the context.

    question + context ─► [CLS] question [SEP] context [SEP]  (long contexts: several windows)
        ─► model ─► start_logits (s,), end_logits (s,): "the answer starts / ends here"
        ─► softmax over the context tokens plus [CLS] (the "no answer" slot; the question and
           padding are masked out), as transformers 4's pipeline did
        ─► best span: start <= end < start + max_answer_len, score = P(start) * P(end)
        ─► characters of the context through the tokenizer's offsets
        ─► {"score": 0.71, "start": 30, "end": 36, "answer": "Berlin"}

Long contexts are cut into windows of ``max_seq_len`` tokens that overlap by
``doc_stride`` tokens, so an answer split at one window's edge is whole in the next. Each
window proposes its best spans; the best over all windows win.

``handle_impossible_answer=True`` lets the model say "no answer": the [CLS] token's
score P(start=[CLS]) * P(end=[CLS]) competes as the answer ``""`` (start = end = 0).
``align_to_words=True`` (default) widens a span to whole words (an answer starting at
``##gang`` starts at ``wolf``). ``max_question_len`` (default 64) cuts longer questions to
that many tokens, as the original pipeline did.

transformers 5 removed this pipeline; this is the classic algorithm of transformers 4
(``QuestionAnsweringPipeline`` with a fast tokenizer), written out step by step.
"""
from __future__ import annotations

from typing import Any

import torch

from .base import Pipeline, _check_top_k


class QuestionAnsweringPipeline(Pipeline):
    """Extract the answer to a question from a context with a question-answering model."""

    task = "question-answering"
    model_task = "question-answering"
    chunked = True  # one model row per window of the context

    def _sanitize_parameters(self, top_k: int | None = None, doc_stride: int | None = None,
                             max_answer_len: int | None = None, max_seq_len: int | None = None,
                             max_question_len: int | None = None, handle_impossible_answer: bool | None = None,
                             align_to_words: bool | None = None):
        preprocess_params: dict[str, Any] = {}
        for name, value in (("doc_stride", doc_stride), ("max_seq_len", max_seq_len),
                            ("max_question_len", max_question_len)):
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "doc_stride" else 1):
                    raise ValueError(f"{name} must be an integer >= {0 if name == 'doc_stride' else 1}, got {value!r}.")
                preprocess_params[name] = value
        postprocess_params: dict[str, Any] = {}
        if top_k is not None:
            _check_top_k(top_k)
            postprocess_params["top_k"] = top_k
        if max_answer_len is not None:
            _check_top_k(max_answer_len, "max_answer_len")
            postprocess_params["max_answer_len"] = max_answer_len
        if handle_impossible_answer is not None:
            postprocess_params["handle_impossible_answer"] = bool(handle_impossible_answer)
        if align_to_words is not None:
            postprocess_params["align_to_words"] = bool(align_to_words)
        return preprocess_params, {}, postprocess_params

    # -- inputs ------------------------------------------------------------------------

    def __call__(self, *args: Any, question: str | list[str] | None = None, context: str | list[str] | None = None,
                 batch_size: int | None = None, **kwargs: Any):
        """``pipe(question=..., context=...)``, ``pipe(question, context)``, ``pipe({"question": ..., "context": ...})``
        or lists of those (then a list of results comes back)."""
        inputs = self._gather_inputs(args, question, context)
        return super().__call__(inputs, batch_size=batch_size, **kwargs)

    def inspect(self, *args: Any, question: str | None = None, context: str | None = None, cache=None, **kwargs: Any):
        return super().inspect(self._gather_inputs(args, question, context), cache=cache, **kwargs)

    def _gather_inputs(self, args: tuple, question, context):
        """Turn every accepted calling form into one {"question", "context"} dict or a list of them."""
        if question is not None or context is not None:
            if args:
                raise TypeError("pass the question and context either by position or by name, not both.")
            if question is None or context is None:
                raise ValueError("question answering needs both question= and context=.")
            if isinstance(question, list) or isinstance(context, list):
                questions = question if isinstance(question, list) else [question] * len(context)
                contexts = context if isinstance(context, list) else [context] * len(question)
                if len(questions) != len(contexts):
                    raise ValueError(
                        f"got {len(questions)} questions and {len(contexts)} contexts; pass as many of each "
                        "(or a single context for all questions)."
                    )
                return [{"question": q, "context": c} for q, c in zip(questions, contexts)]
            return {"question": question, "context": context}
        if len(args) == 2:
            return self._gather_inputs((), args[0], args[1])
        if len(args) == 1:
            return args[0]
        raise TypeError(
            "question answering takes question= and context= (or a dict {'question': ..., 'context': ...}); "
            f"got {len(args)} positional arguments."
        )

    def _check_input(self, item: Any) -> None:
        if not isinstance(item, dict) or set(item) - {"question", "context"} or len(item) != 2:
            raise ValueError(
                "each question-answering input is a dict {'question': ..., 'context': ...}; got "
                f"{item!r:.80}"
            )
        for key in ("question", "context"):
            value = item[key]
            if not isinstance(value, str):
                raise TypeError(f"the {key} must be a string, got {type(value).__name__}.")
            if not value.strip():
                raise ValueError(
                    f"the {key} is empty: the answer is a span of the context, so both a question and a non-empty "
                    f"context are needed. Pass {key}='...'."
                )

    # -- the three stages --------------------------------------------------------------------

    def preprocess(self, example: dict[str, str], doc_stride: int | None = None, max_seq_len: int | None = None,
                   max_question_len: int = 64) -> list[dict[str, Any]]:
        tokenizer = self.tokenizer
        if max_seq_len is None:
            # 384 as transformers 4 chose, within what the tokenizer and the model's positions allow
            positions = getattr(self.model.config, "max_position_embeddings", None) or tokenizer.model_max_length
            max_seq_len = min(tokenizer.model_max_length, positions, 384)
        if doc_stride is None:
            doc_stride = min(max_seq_len // 2, 128)
        if doc_stride > max_seq_len:
            raise ValueError(f"doc_stride ({doc_stride}) is larger than max_seq_len ({max_seq_len}); lower doc_stride.")

        question, context = example["question"], example["context"]
        question_ids = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        if len(question_ids["input_ids"]) > max_question_len:
            cut = question_ids["offset_mapping"][max_question_len - 1][1]
            question = question[:cut]  # keep the first max_question_len tokens
        question_length = min(len(question_ids["input_ids"]), max_question_len)
        room = max_seq_len - question_length - tokenizer.num_special_tokens_to_add(pair=True)
        if room <= doc_stride:
            raise ValueError(
                f"with max_seq_len={max_seq_len}, a {question_length}-token question and the special tokens leave "
                f"{room} tokens per window for the context, which must be more than doc_stride={doc_stride} "
                "(the overlap between windows). Raise max_seq_len, or lower doc_stride or max_question_len."
            )

        # The question goes first, unless the tokenizer pads on the left (as transformers decides).
        question_first = tokenizer.padding_side == "right"
        encoded = tokenizer(
            question if question_first else context,
            context if question_first else question,
            truncation="only_second" if question_first else "only_first",
            max_length=max_seq_len,
            stride=doc_stride,
            return_token_type_ids=True,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        context_sequence = 1 if question_first else 0
        rows = []
        for window, encoding in enumerate(encoded.encodings):
            # p_mask: 1 where the answer cannot be (question, special tokens), 0 on the context ...
            p_mask = [0 if sequence_id == context_sequence else 1 for sequence_id in encoding.sequence_ids]
            # ... and 0 on [CLS], which stands for "no answer" with handle_impossible_answer.
            for index, token_id in enumerate(encoding.ids):
                if token_id == tokenizer.cls_token_id:
                    p_mask[index] = 0
            row = {
                "input_ids": torch.tensor([encoding.ids]),  # (1, s)
                "attention_mask": torch.tensor([encoding.attention_mask]),  # (1, s)
                "p_mask": torch.tensor([p_mask]),  # (1, s)
                "encoding": encoding,
                "context": context,
                "question_first": question_first,
                "window": window,
            }
            if "token_type_ids" in tokenizer.model_input_names:
                row["token_type_ids"] = torch.tensor([encoding.type_ids])  # (1, s)
            rows.append(row)
        return rows

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        outputs = self.model(**self._model_kwargs(model_inputs))
        carried = {key: model_inputs[key] for key in ("input_ids", "attention_mask", "p_mask", "encoding",
                                                      "context", "question_first", "window")}
        return {"start_logits": outputs.start_logits, "end_logits": outputs.end_logits, **carried}  # (b, s) each

    def postprocess(self, model_outputs: list[dict[str, Any]], top_k: int = 1, handle_impossible_answer: bool = False,
                    max_answer_len: int = 15, align_to_words: bool = True, trace: dict | None = None):
        answers = []
        null_score = None  # the best "no answer" score over the windows
        windows = []
        for output in model_outputs:
            input_ids = output["input_ids"][0]  # (s,)
            # Where may the answer be? On context tokens (p_mask 0) that are not padding.
            allowed = (output["p_mask"][0] == 0) & (output["attention_mask"][0] == 1)  # (s,)
            start_probs = _masked_softmax(output["start_logits"][0].float(), allowed)  # (s,)
            end_probs = _masked_softmax(output["end_logits"][0].float(), allowed)  # (s,)

            cls_positions = (input_ids == self.tokenizer.cls_token_id).nonzero().flatten().tolist()
            cls_index = cls_positions[0] if cls_positions else 0
            if handle_impossible_answer:
                window_null = float(start_probs[cls_index] * end_probs[cls_index])
                null_score = window_null if null_score is None else min(null_score, window_null)
            allowed[cls_index] = False  # [CLS] is never part of a real answer span

            spans = self.best_spans(start_probs, end_probs, allowed, top_k, max_answer_len)
            encoding = output["encoding"]
            sequence_index = 1 if output["question_first"] else 0
            # Tokens moved right by left padding (added by batching) index the unpadded encoding.
            shift = len(input_ids) - len(encoding.ids) if self.tokenizer.padding_side == "left" else 0
            for start, end, score in spans:
                start_char, end_char = _span_to_chars(encoding, start - shift, end - shift, sequence_index,
                                                      align_to_words)
                answers.append(
                    {"score": score, "start": start_char, "end": end_char,
                     "answer": output["context"][start_char:end_char]}
                )
            windows.append({"window": output["window"], "start_probs": start_probs, "end_probs": end_probs,
                            "spans": spans})

        if handle_impossible_answer:
            answers.append({"score": null_score, "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=_score, reverse=True)[:top_k]
        if trace is not None:
            trace["probabilities"] = {"start": [w["start_probs"] for w in windows],
                                      "end": [w["end_probs"] for w in windows]}
            trace["details"]["windows"] = windows
            trace["details"]["null_score"] = null_score
            trace["decision"] = (
                f"softmax of start and end logits over the context tokens of {len(windows)} window(s); spans "
                f"start <= end < start + {max_answer_len} scored P(start) * P(end); best {top_k} kept"
                + (" (with the no-answer score competing)" if handle_impossible_answer else "")
                + f": {[a['answer'] for a in answers]}"
            )
        return answers[0] if len(answers) == 1 else answers

    @staticmethod
    def best_spans(start_probs: torch.Tensor, end_probs: torch.Tensor, allowed: torch.Tensor, top_k: int,
                   max_answer_len: int) -> list[tuple[int, int, float]]:
        """The ``top_k`` spans (start, end, P(start) * P(end)) with both ends on allowed
        tokens, start <= end and at most ``max_answer_len`` tokens."""
        scores = start_probs[:, None] * end_probs[None, :]  # (s, s): row = start, column = end
        length = scores.shape[0]
        starts = torch.arange(length)[:, None]  # (s, 1)
        ends = torch.arange(length)[None, :]  # (1, s)
        valid = (ends >= starts) & (ends - starts < max_answer_len)  # (s, s)
        valid &= allowed[:, None] & allowed[None, :]
        scores = scores.masked_fill(~valid, -1.0)  # (s, s)
        count = min(top_k, int(valid.sum()))
        best = scores.flatten().topk(count).indices.tolist() if count else []
        return [(index // length, index % length, float(scores.flatten()[index])) for index in best]


def _masked_softmax(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Softmax over the allowed positions only; the others get probability 0. (s,) -> (s,)"""
    return torch.softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)


def _span_to_chars(encoding, start: int, end: int, sequence_index: int, align_to_words: bool) -> tuple[int, int]:
    """Token span -> character span of the context (widened to whole words when asked)."""
    if align_to_words:
        start_word, end_word = encoding.token_to_word(start), encoding.token_to_word(end)
        if start_word is not None and end_word is not None:
            start_chars = encoding.word_to_chars(start_word, sequence_index)
            end_chars = encoding.word_to_chars(end_word, sequence_index)
            if start_chars is not None and end_chars is not None:
                return start_chars[0], end_chars[1]
    return encoding.offsets[start][0], encoding.offsets[end][1]


def _score(answer: dict[str, Any]) -> float:
    return answer["score"]
