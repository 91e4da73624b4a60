"""Lesson 09's checker accepts a correct text-classification postprocess and names what is
wrong with wrong ones (softmax vs sigmoid, unsorted, labels by index, top_k ignored ...)."""
from __future__ import annotations

import torch

from hfexplain.configuration import PretrainedConfig
from hfexplain.exercises.pipelines import check_text_classification_postprocess
from hfexplain.pipelines.text_classification import TextClassificationPipeline


def _scores(logits, config):
    if config.problem_type == "regression":
        return logits
    if config.problem_type == "multi_label_classification" or config.num_labels == 1:
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=-1)


def solution(logits, config, top_k=1):
    scores = _scores(logits, config)
    ranked = scores.argsort(descending=True).tolist()
    kept = ranked if top_k is None else ranked[:top_k]
    return [{"label": config.id2label[i], "score": float(scores[i])} for i in kept]


def test_accepts_the_solution():
    result = check_text_classification_postprocess(solution)
    assert result.passed, str(result)
    assert str(result).startswith("✅")


def test_solution_equals_hfexplain_pipeline_postprocess_independently():
    # the reference the checker uses, checked here against plain torch on another config
    config = PretrainedConfig(id2label={0: "a", 1: "b", 2: "c", 3: "d"})
    pipe = TextClassificationPipeline.__new__(TextClassificationPipeline)
    pipe.model = torch.nn.Module()
    pipe.model.config = config
    logits = torch.tensor([0.1, 2.0, -1.0, 0.7])
    expected = torch.softmax(logits, -1)
    got = pipe.postprocess({"logits": logits[None]}, top_k=None)
    assert [g["label"] for g in got] == ["b", "d", "a", "c"]
    assert abs(got[0]["score"] - float(expected[1])) < 1e-6


def test_starter_returning_none():
    result = check_text_classification_postprocess(lambda logits, config, top_k=1: None)
    assert not result.passed
    assert "forget `return`" in str(result)


def test_always_softmax_is_named():
    def always_softmax(logits, config, top_k=1):
        scores = torch.softmax(logits, dim=-1)
        ranked = scores.argsort(descending=True).tolist()
        kept = ranked if top_k is None else ranked[:top_k]
        return [{"label": config.id2label[i], "score": float(scores[i])} for i in kept]

    text = str(check_text_classification_postprocess(always_softmax))
    assert "scores look like softmax" in text and "use sigmoid" in text and "multi_label_classification" in text
    assert "[3 labels, best only]" not in text  # the softmax cases are right


def test_always_sigmoid_is_named():
    def always_sigmoid(logits, config, top_k=1):
        scores = torch.sigmoid(logits)
        ranked = scores.argsort(descending=True).tolist()
        kept = ranked if top_k is None else ranked[:top_k]
        return [{"label": config.id2label[i], "score": float(scores[i])} for i in kept]

    text = str(check_text_classification_postprocess(always_sigmoid))
    assert "scores look like sigmoid" in text and "use softmax" in text and "scores sum to 1" in text


def test_unsorted_answers():
    def unsorted(logits, config, top_k=1):
        scores = _scores(logits, config)
        return [{"label": config.id2label[i], "score": float(scores[i])} for i in range(len(scores))][:top_k]

    text = str(check_text_classification_postprocess(unsorted))
    assert "not sorted best first" in text
    assert "keep the labels with the highest scores" in text  # top_k=1 cut before sorting


def test_labels_by_index():
    def by_index(logits, config, top_k=1):
        scores = _scores(logits, config)
        ranked = scores.argsort(descending=True).tolist()
        kept = ranked if top_k is None else ranked[:top_k]
        return [{"label": f"LABEL_{i}", "score": float(scores[i])} for i in kept]

    text = str(check_text_classification_postprocess(by_index))
    assert "are class indices: name them with config.id2label[index]" in text


def test_top_k_ignored_and_tensor_scores_and_dict():
    def all_labels(logits, config, top_k=1):
        return solution(logits, config, top_k=None)

    assert "1 answers for top_k=1" not in str(check_text_classification_postprocess(all_labels))
    assert "3 answers for top_k=1, expected 1" in str(check_text_classification_postprocess(all_labels))

    def tensor_scores(logits, config, top_k=1):
        return [{"label": a["label"], "score": torch.tensor(a["score"])} for a in solution(logits, config, top_k)]

    assert "scores must be Python floats" in str(check_text_classification_postprocess(tensor_scores))

    def one_dict(logits, config, top_k=1):
        return solution(logits, config, top_k)[0]

    assert "not a dict" in str(check_text_classification_postprocess(one_dict))


def test_an_exception_is_reported_not_raised():
    def broken(logits, config, top_k=1):
        raise IndexError("boom")

    result = check_text_classification_postprocess(broken)
    assert not result.passed and "raised IndexError: boom" in str(result)
