"""RoBERTa parity: hfexplain.models.roberta against transformers' RoBERTa on the same weights.

Every checkpoint is written by transformers (tiny random configs: odd sizes, three pad ids so
the position offset ``padding_idx + 1`` moves, one or two token types), loaded by both
libraries and compared through the shared harness (tests/parity.py). Then what is RoBERTa's
own: positions counted from the input's padding, the tokenizer (byte-level BPE with
``<s> ... </s>``, rebuilt from vocab.json + merges.txt or read from tokenizer.json) against
transformers' RobertaTokenizer on the tokenizer tests' texts, the pipelines, and the errors.
"""
from __future__ import annotations

import json
import os
import warnings

import pytest
import torch

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

import parity  # noqa: E402
from test_tokenization import BPE_TEXTS, MINILM_PAIRS, MINILM_TEXTS, assert_same_call  # noqa: E402

from hfexplain import AutoModel, AutoModelForMaskedLM, AutoTokenizer, pipeline  # noqa: E402
from hfexplain.models import roberta as hr  # noqa: E402
from hfexplain.tokenization import Tokenizer  # noqa: E402

ATOL = 1e-5
VOCAB = 61

SHAPES = {
    # one token type as in the real checkpoints, pad id 1 (positions from 2), exact GELU
    "pad1": dict(hidden_size=36, num_attention_heads=3, intermediate_size=37, hidden_act="gelu", type_vocab_size=1,
                 layer_norm_eps=1e-5, max_position_embeddings=12),  # 9 tokens + pad + 1 = 11 rows used
    # pad id 0 (positions from 1), relu, two token types
    "pad0_relu": dict(hidden_size=24, num_attention_heads=2, intermediate_size=29, hidden_act="relu",
                      pad_token_id=0, bos_token_id=2, eos_token_id=3, max_position_embeddings=16),
    # pad id 5 (positions from 6), gelu_new, classifier dropout set
    "pad5_gelu_new": dict(hidden_size=28, num_attention_heads=7, intermediate_size=31, hidden_act="gelu_new",
                          pad_token_id=5, classifier_dropout=0.3, max_position_embeddings=20),
}
HEADS = {"RobertaModel": {}, "RobertaForMaskedLM": {}, "RobertaForSequenceClassification": dict(num_labels=3),
         "RobertaForTokenClassification": dict(num_labels=5), "RobertaForQuestionAnswering": {}}
AUTO_CLASSES = {"base": "AutoModel", "masked-lm": "AutoModelForMaskedLM",
                "sequence-classification": "AutoModelForSequenceClassification",
                "token-classification": "AutoModelForTokenClassification",
                "question-answering": "AutoModelForQuestionAnswering"}


def config_kwargs(shape: str, head: str) -> dict:
    return dict(vocab_size=VOCAB, num_hidden_layers=2, **SHAPES[shape], **HEADS[head])


@pytest.mark.parametrize("reference_class, our_class, config", [
    case for head in HEADS
    for case in parity.cases([(getattr(transformers, head), getattr(hr, head))],
                             {name: config_kwargs(name, head) for name in SHAPES})
])
def test_parity_with_transformers(reference_class, our_class, config, tmp_path):
    report = parity.check_parity(reference_class, our_class, config, tmp_path)
    head_alias = {"base": set(), "masked-lm": {"logits"}}.get(report.task, {"class_logits"})
    assert set(report.aliases) & {"logits", "class_logits"} == head_alias
    assert {"embed", "resid_pre", "resid_post", "pattern", "final"} <= set(report.aliases)
    auto = getattr(transformers, AUTO_CLASSES[report.task])  # transformers' Auto class picks our class back
    assert type(auto.from_pretrained(os.path.join(tmp_path, "ours"))).__name__ == our_class.__name__


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory):
    folder, _ = parity.save_reference(transformers.RobertaModel, config_kwargs("pad5_gelu_new", "RobertaModel"),
                                      tmp_path_factory.mktemp("roberta_base"))
    return folder


def test_position_ids_are_counted_from_the_padding(base_folder):
    pad = 5
    input_ids = torch.tensor([[7, 8, 9, 10], [pad, pad, 7, 8], [7, 8, pad, pad]])
    expected = transformers.models.roberta.modeling_roberta.RobertaEmbeddings.create_position_ids_from_input_ids(
        input_ids, pad)
    assert torch.equal(hr.create_position_ids_from_input_ids(input_ids, pad), expected)
    assert hr.create_position_ids_from_input_ids(input_ids, pad).tolist() == [
        [6, 7, 8, 9], [5, 5, 6, 7], [6, 7, 5, 5]]  # by hand: pad + 1 + index among real tokens; pads get pad

    # So left padding changes nothing at the real tokens (BERT's 0..s-1 positions would shift them).
    ours = hr.RobertaModel.from_pretrained(base_folder)
    short = torch.tensor([[7, 8, 9]])
    padded = torch.tensor([[pad, pad, 7, 8, 9]])
    with torch.no_grad():
        alone = ours(short).last_hidden_state  # (1, 3, d)
        left = ours(padded, attention_mask=torch.tensor([[0, 0, 1, 1, 1]])).last_hidden_state  # (1, 5, d)
    parity.assert_close(left[:, 2:], alone, "left-padded vs unpadded")


def test_inputs_embeds_and_explicit_position_ids_match_transformers(base_folder):
    ours = hr.RobertaModel.from_pretrained(base_folder)
    theirs = transformers.RobertaModel.from_pretrained(base_folder).eval()
    inputs = parity.make_inputs(ours.config, token_types=0)
    embeds = theirs.embeddings.word_embeddings(inputs["input_ids"]).detach() * 1.5  # (b, s, d)
    positions = torch.arange(3, 3 + inputs["input_ids"].shape[1])[None]  # (1, s)
    real = inputs["attention_mask"].bool()
    with torch.no_grad():
        for kwargs in (dict(inputs_embeds=embeds, attention_mask=inputs["attention_mask"]),
                       dict(input_ids=inputs["input_ids"], position_ids=positions),
                       dict(input_ids=inputs["input_ids"])):
            parity.assert_outputs_match(ours(**kwargs), theirs(**kwargs), real if "attention_mask" in kwargs
                                        else torch.ones_like(real), ATOL, what=f"{sorted(kwargs)}: ")


def test_hook_vocabulary_pattern_and_position_hook(base_folder):
    ours = hr.RobertaModel.from_pretrained(base_folder)
    theirs = transformers.RobertaModel.from_pretrained(base_folder, attn_implementation="eager").eval()
    inputs = parity.make_inputs(ours.config, token_types=0)
    with torch.no_grad():
        _, cache = ours.run_with_cache(**inputs)
        ref = theirs(**inputs, output_attentions=True, output_hidden_states=True)
    real = inputs["attention_mask"].bool()[:, None, :, None]  # (b, 1, q, 1)
    for layer in range(ours.config.num_hidden_layers):
        parity.assert_close(cache["pattern", layer] * real, ref.attentions[layer] * real, f"pattern {layer}")
    positions = hr.create_position_ids_from_input_ids(inputs["input_ids"], 5)  # (b, s)
    parity.assert_close(cache["pos_embed"], theirs.embeddings.position_embeddings(positions), "pos_embed")
    with pytest.raises(ValueError, match="no final norm"):  # post-norm, as BERT: the logit lens has nothing to add
        ours.get_final_norm()


def test_masked_lm_head_is_tied_and_auto_classes_dispatch(tmp_path):
    folder, _ = parity.save_reference(transformers.RobertaForMaskedLM, config_kwargs("pad1", "RobertaForMaskedLM"),
                                      tmp_path)
    ours = AutoModelForMaskedLM.from_pretrained(folder)
    assert type(ours) is hr.RobertaForMaskedLM
    assert ours.lm_head.decoder.weight is ours.roberta.embeddings.word_embeddings.weight
    assert ours.lm_head.decoder.bias is ours.lm_head.bias
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert type(AutoModel.from_pretrained(folder)) is hr.RobertaModel
    notes = " ".join(str(warning.message) for warning in seen)  # an MLM checkpoint has no pooler, and an unused head
    assert "newly initialised: ['pooler.dense.bias', 'pooler.dense.weight']" in notes and "lm_head.bias" in notes


def test_config_defaults_match_transformers():
    ours, theirs = hr.RobertaConfig(), transformers.RobertaConfig()
    for key, value in theirs.to_dict().items():
        if hasattr(ours, key) and key not in ("transformers_version", "architectures", "dtype"):
            assert getattr(ours, key) == value, key
    for key in ("pad_token_id", "bos_token_id", "eos_token_id", "vocab_size", "layer_norm_eps",
                "max_position_embeddings", "type_vocab_size", "classifier_dropout"):
        assert getattr(ours, key) == getattr(theirs, key), key


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("fields, message", [
    (dict(pad_token_id=None), r"pad_token_id must be a token id .*roberta-base uses pad_token_id=1"),
    (dict(pad_token_id=99, vocab_size=50), r"pad_token_id must be a token id in \[0, 50\)"),
    (dict(max_position_embeddings=2), r"max_position_embeddings \(2\) leaves no position.*514"),
    (dict(hidden_size=30, num_attention_heads=4), "must be divisible by num_attention_heads"),
])
def test_bad_configs_are_refused_before_any_weight(fields, message):
    with pytest.raises(ValueError, match=message):
        hr.RobertaConfig(**fields)


def test_bad_configs_unsupported_modes():
    with pytest.raises(NotImplementedError, match="encoder only"):
        hr.RobertaConfig(is_decoder=True)
    with pytest.raises(TypeError, match="activation name"):
        hr.RobertaConfig(hidden_act=torch.nn.GELU())


def test_too_long_input_names_the_offset(base_folder):
    ours = hr.RobertaModel.from_pretrained(base_folder)  # max_position_embeddings=20, pad 5: 14 usable
    ours(torch.full((1, 14), 7))
    with pytest.raises(ValueError, match=r"15 tokens long.*14 positions.*max_position_embeddings - pad_token_id - 1"):
        ours(torch.full((1, 15), 7))
    with pytest.raises(ValueError, match="RoBERTa's tokenizer returns no token_type_ids"):
        ours(torch.full((1, 4), 7), token_type_ids=torch.full((1, 4), 2))


# --------------------------------------------------------------------------- tokenizer


@pytest.fixture(scope="module")
def roberta_bpe(tmp_path_factory):
    """A RoBERTa-style byte-level BPE trained here on CPython's docs: <s> <pad> </s> <unk> <mask> first."""
    from pydoc_data.topics import topics
    from tokenizers import decoders, models, pre_tokenizers, trainers

    lines = [line for topic in sorted(topics) for line in topics[topic].splitlines() if line.strip()][:600]
    backend = tokenizers.Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(lines, trainer)
    legacy = tmp_path_factory.mktemp("roberta_vocab_merges")
    backend.model.save(str(legacy))
    (legacy / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "RobertaTokenizer",
                                                              "model_max_length": 40}))
    return str(legacy)


@pytest.fixture(scope="module")
def roberta_json(roberta_bpe, tmp_path_factory):
    """The same tokenizer as transformers saves it: tokenizer.json + tokenizer_config.json."""
    folder = tmp_path_factory.mktemp("roberta_tokenizer_json")
    transformers.AutoTokenizer.from_pretrained(roberta_bpe).save_pretrained(folder)
    assert os.path.exists(folder / "tokenizer.json")
    return str(folder)


@pytest.mark.parametrize("which", ["vocab_merges", "tokenizer_json"])
def test_tokenizer_matches_transformers(which, roberta_bpe, roberta_json):
    folder = roberta_bpe if which == "vocab_merges" else roberta_json
    ours, ref = AutoTokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(folder)
    assert type(ref).__name__ == "RobertaTokenizer"
    assert ours.special_tokens_map == ref.special_tokens_map
    assert ours.model_input_names == ref.model_input_names == ["input_ids", "attention_mask"]
    assert ours.get_vocab() == ref.get_vocab()
    texts = MINILM_TEXTS + BPE_TEXTS + ["Paris is the <mask> of France.", "<s>already</s> wrapped"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the long text is over model_max_length 
        for text in texts:  # accents, emoji, CJK, whitespace runs, code, special tokens in the text
            mine, _ = assert_same_call(ours, ref, text, return_offsets_mapping=True, return_special_tokens_mask=True)
            assert ours.decode(mine["input_ids"]) == ref.decode(mine["input_ids"])
            assert ours.tokenize(text) == ref.tokenize(text)
    firsts, seconds = [a for a, _ in MINILM_PAIRS], [b for _, b in MINILM_PAIRS]
    assert_same_call(ours, ref, firsts, seconds, return_offsets_mapping=True, padding=True)  # <s> A </s></s> B </s>
    for strategy, length in (("longest_first", 12), ("only_second", 24)):
        assert_same_call(ours, ref, firsts, seconds, truncation=strategy, max_length=length, padding="max_length",
                         return_tensors="pt")
    assert_same_call(ours, ref, texts, padding=True, truncation=True, return_tensors="pt")  # model_max_length 40
    ids = ref(texts, padding=True)["input_ids"]
    for skip in (False, True):
        assert ours.batch_decode(ids, skip_special_tokens=skip) == ref.batch_decode(ids, skip_special_tokens=skip)


def test_tokenizer_add_prefix_space_and_save_round_trip(roberta_bpe, tmp_path):
    ours = Tokenizer.from_pretrained(roberta_bpe, add_prefix_space=True, model_max_length=512)
    ref = transformers.AutoTokenizer.from_pretrained(roberta_bpe, add_prefix_space=True, model_max_length=512)
    words = [["Hello", "world"], ["déjà", "vu", "😀"]]
    assert_same_call(ours, ref, words, is_split_into_words=True, return_offsets_mapping=True, padding=True)
    ours.save_pretrained(tmp_path)
    again = transformers.AutoTokenizer.from_pretrained(tmp_path)
    texts = MINILM_TEXTS
    assert_same_call(Tokenizer.from_pretrained(tmp_path), again, texts, padding=True, return_offsets_mapping=True)
    assert_same_call(ours, again, texts, padding=True)


def test_tokenizer_without_its_special_tokens_in_the_vocab(roberta_bpe, tmp_path):
    for name in ("vocab.json", "merges.txt"):
        with open(os.path.join(roberta_bpe, name), encoding="utf-8") as src:
            (tmp_path / name).write_text(src.read(), encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "RobertaTokenizer",
                                                                "cls_token": "<cls>"}))
    with pytest.raises(OSError, match=r"no cls_token '<cls>'.*tokenizer_config\.json"):
        Tokenizer.from_pretrained(tmp_path)


# --------------------------------------------------------------------------- pipelines


@pytest.fixture(scope="module")
def pipeline_folders(roberta_json, tmp_path_factory):
    """One checkpoint per task, saved by transformers beside the RoBERTa tokenizer (600 tokens)."""
    shape = dict(vocab_size=600, hidden_size=32, num_attention_heads=4, intermediate_size=37, num_hidden_layers=2,
                 max_position_embeddings=66, type_vocab_size=1)
    heads = {"fill-mask": ("RobertaForMaskedLM", {}),
             "text-classification": ("RobertaForSequenceClassification",
                                     dict(id2label={0: "NEGATIVE", 1: "NEUTRAL", 2: "POSITIVE"})),
             "token-classification": ("RobertaForTokenClassification",
                                      dict(id2label={0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"})),
             "question-answering": ("RobertaForQuestionAnswering", {})}
    folders = {}
    tokenizer = transformers.AutoTokenizer.from_pretrained(roberta_json)
    for task, (name, fields) in heads.items():
        folder, _ = parity.save_reference(getattr(transformers, name), {**shape, **fields},
                                          tmp_path_factory.mktemp(task), perturb=0.5)
        tokenizer.save_pretrained(folder)
        folders[task] = folder
    return folders


def assert_same(ours, theirs, where="output"):
    """Same structure and keys; floats within 1e-5 (scores), everything else equal."""
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs), f"{where}: keys {list(ours)} != {list(theirs)}"
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), f"{where}: {ours} != {theirs}"
        for index, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{index}]")
    elif isinstance(theirs, float) or type(theirs).__module__ == "numpy":
        assert abs(float(ours) - float(theirs)) <= ATOL, f"{where}: {ours} != {theirs}"
    else:
        assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"


TEXT = "The for statement is used to iterate over the elements of a sequence."
CALLS = {
    "fill-mask": [dict(inputs="The for <mask> is used to iterate."), dict(inputs="A <mask> day.", top_k=3)],
    "text-classification": [dict(inputs=TEXT), dict(inputs=[TEXT, "Hello world"], top_k=None)],
    "token-classification": [dict(inputs=TEXT), dict(inputs=TEXT, aggregation_strategy="simple")],
}


@pytest.mark.parametrize("task", list(CALLS))
def test_pipelines_match_transformers(task, pipeline_folders):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = pipeline(task, model=pipeline_folders[task])
        theirs = transformers.pipeline(task, model=pipeline_folders[task])
    assert type(ours.model).__name__ == type(theirs.model).__name__
    for call in CALLS[task]:
        assert_same(ours(**call), theirs(**call), f"{task} {call}")


def reference_answers(folder, question, context, top_k=1, max_answer_len=15):
    """Extractive QA by hand with transformers' model and tokenizer (transformers 5 has no QA pipeline):
    softmax of start/end logits over <s> and the context tokens, span score P(start) * P(end) for
    start <= end < start + max_answer_len, widened to whole words."""
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(folder).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    encoded = tokenizer(question, context, return_offsets_mapping=True)
    with torch.no_grad():
        out = model(input_ids=torch.tensor([encoded["input_ids"]]))
    context_tokens = [i for i, s in enumerate(encoded.sequence_ids(0)) if s == 1]
    candidates = [0] + context_tokens
    p_start = out.start_logits[0].double()[candidates].softmax(-1)
    p_end = out.end_logits[0].double()[candidates].softmax(-1)
    where = {token: index for index, token in enumerate(candidates)}
    spans = sorted(((float(p_start[where[a]] * p_end[where[b]]), a, b) for a in context_tokens
                    for b in context_tokens if a <= b < a + max_answer_len), reverse=True)[:top_k]
    answers = []
    for score, a, b in spans:
        first = encoded.word_to_chars(0, encoded.token_to_word(0, a), sequence_index=1)
        last = encoded.word_to_chars(0, encoded.token_to_word(0, b), sequence_index=1)
        answers.append({"score": score, "start": first.start, "end": last.end, "answer": context[first.start:last.end]})
    return answers[0] if top_k == 1 else answers


def test_question_answering_pipeline_matches_a_hand_computation(pipeline_folders):
    folder = pipeline_folders["question-answering"]
    ours = pipeline("question-answering", model=folder)
    for question, top_k in (("What is used to iterate?", 1), ("What is used?", 3)):
        assert_same(ours(question=question, context=TEXT, top_k=top_k), reference_answers(folder, question, TEXT, top_k))


def test_attention_dashboard_shows_transformers_patterns(pipeline_folders):
    widgets = pytest.importorskip("hfexplain.widgets", reason="needs the widget extras")
    from hfexplain.widgets._common import from_typed_array

    folder = pipeline_folders["fill-mask"]
    ours = hr.RobertaForMaskedLM.from_pretrained(folder)
    theirs = transformers.RobertaForMaskedLM.from_pretrained(folder, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    dash = widgets.AttentionDashboard(ours, tokenizer, TEXT, layer=1, head=2)
    assert dash.tokens[0] == "<s>" and dash.tokens[-1] == "</s>"
    with torch.no_grad():
        reference = theirs(**tokenizer(TEXT, return_tensors="pt"), output_attentions=True).attentions
    z = from_typed_array(dash.heatmap.z)
    assert z.shape == tuple(reference[1][0, 2].shape)
    assert abs(z - reference[1][0, 2].numpy()).max() <= 5e-4 + 1e-6  # the widget sends float16
