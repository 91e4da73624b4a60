"""ALBERT parity: hfexplain.models.albert against transformers' ALBERT on the same weights.

Every checkpoint is written by transformers (tiny random configs: odd sizes, embedding_size
narrower and wider than hidden_size, one shared group or several, relu / gelu / gelu_new),
then loaded by both libraries and compared through the shared harness (tests/parity.py):
every head's outputs and loss, every hidden state and attention, the fast path, the aliases,
our save loading in transformers. The tests after it check what is ALBERT's own: groups with
several inner layers, hook points that name the *application* of a shared layer, the
parameter sharing itself, narrow ``inputs_embeds``, and the config errors.
"""
from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

transformers = pytest.importorskip("transformers")

import parity  # noqa: E402

from hfexplain import AutoModel, AutoModelForMaskedLM  # noqa: E402
from hfexplain.models import albert as ha  # noqa: E402

ATOL = 1e-5
VOCAB = 61

SHAPES = {
    # one group shared by all 3 layers (the released checkpoints' layout), E < d
    "shared": dict(embedding_size=10, hidden_size=24, num_hidden_layers=3, num_hidden_groups=1, num_attention_heads=3,
                   intermediate_size=29, hidden_act="gelu_new", type_vocab_size=3),
    # 4 layers in 2 groups (layers 0-1 share group 0, 2-3 share group 1), E > d, relu
    "two_groups": dict(embedding_size=20, hidden_size=12, num_hidden_layers=4, num_hidden_groups=2,
                       num_attention_heads=2, intermediate_size=17, hidden_act="relu", type_vocab_size=2,
                       layer_norm_eps=1e-5),
    # every layer its own group (BERT-like), gelu, one token type
    "unshared": dict(embedding_size=8, hidden_size=20, num_hidden_layers=2, num_hidden_groups=2, num_attention_heads=5,
                     intermediate_size=23, hidden_act="gelu", type_vocab_size=1),
}
COMMON = dict(vocab_size=VOCAB, max_position_embeddings=16)
HEADS = {"AlbertModel": {}, "AlbertForMaskedLM": {}, "AlbertForSequenceClassification": dict(num_labels=3),
         "AlbertForTokenClassification": dict(num_labels=5), "AlbertForQuestionAnswering": {}}
AUTO_CLASSES = {"base": "AutoModel", "masked-lm": "AutoModelForMaskedLM",
                "sequence-classification": "AutoModelForSequenceClassification",
                "token-classification": "AutoModelForTokenClassification",
                "question-answering": "AutoModelForQuestionAnswering"}


@pytest.mark.parametrize("reference_class, our_class, config", [
    case for head, fields in HEADS.items()
    for case in parity.cases([(getattr(transformers, head), getattr(ha, head))],
                             {name: {**COMMON, **shape, **fields} for name, shape in SHAPES.items()})
])
def test_parity_with_transformers(reference_class, our_class, config, tmp_path):
    report = parity.check_parity(reference_class, our_class, config, tmp_path)
    head_alias = {"base": set(), "masked-lm": {"logits"}}.get(report.task, {"class_logits"})
    assert set(report.aliases) & {"logits", "class_logits"} == head_alias
    assert {"embed", "resid_pre", "resid_post", "pattern", "final"} <= set(report.aliases)
    auto = getattr(transformers, AUTO_CLASSES[report.task])  # transformers' Auto class picks our saved class
    assert type(auto.from_pretrained(os.path.join(tmp_path, "ours"))).__name__ == our_class.__name__


# --------------------------------------------------------------------------- ALBERT's own


def _reference(tmp_path, head: str = "AlbertForMaskedLM", **fields):
    config = {**COMMON, **SHAPES["two_groups"], **fields}
    folder, _ = parity.save_reference(getattr(transformers, head), config, tmp_path / "reference")
    theirs = getattr(transformers, head).from_pretrained(folder, attn_implementation="eager").eval()
    ours = getattr(ha, head).from_pretrained(folder)
    return ours, theirs, folder


def test_inner_groups_count_every_inner_layer_as_a_layer(tmp_path):
    """inner_group_num=2: each of the 4 applications runs 2 layers, so 8 layers, as transformers counts them."""
    parity.quiet_transformers()
    ours, theirs, _ = _reference(tmp_path, inner_group_num=2)
    inputs = parity.make_inputs(ours.config)
    real = inputs["attention_mask"].bool()
    with torch.no_grad():
        expected = theirs(**inputs, output_hidden_states=True, output_attentions=True)
        output, cache = ours.run_with_cache(**inputs, output_hidden_states=True, output_attentions=True)
    assert len(expected.hidden_states) == len(output.hidden_states) == 4 * 2 + 1
    parity.assert_outputs_match(output, expected, real)
    assert ours.num_hook_layers() == 8
    for layer in range(8):
        parity.assert_close(cache["resid_post", layer][real], expected.hidden_states[layer + 1][real],
                            f"resid_post {layer}")
        parity.assert_close(cache["pattern", layer] * real[:, None, :, None],
                            expected.attentions[layer] * real[:, None, :, None], f"pattern {layer}")


def test_shared_layer_hooks_name_the_application(tmp_path):
    """Layers 0 and 1 run the same weights (group 0) but their hook points are distinct and hold
    that application's tensors; an edit at one application changes only from there on."""
    parity.quiet_transformers()
    ours, theirs, _ = _reference(tmp_path, head="AlbertModel")
    encoder = ours.encoder
    assert encoder.albert_layer_groups[0].albert_layers[0] is encoder.albert_layer_groups[0].albert_layers[0]
    assert len(encoder.albert_layer_groups) == 2 and len(encoder.layer_hooks) == 4
    names = [ours.hook_name("pattern", layer) for layer in range(4)]
    assert names == [f"encoder.layer_hooks.{i}.hook_pattern" for i in range(4)]

    inputs = parity.make_inputs(ours.config)
    with torch.no_grad():
        expected = theirs(**inputs, output_attentions=True)
        _, cache = ours.run_with_cache(**inputs, names_filter=["pattern", "q"])
    for layer in range(4):
        parity.assert_close(cache["pattern", layer], expected.attentions[layer], f"pattern {layer}")
    assert not torch.allclose(cache["q", 0], cache["q", 1])  # same weights, different inputs

    # Zero layer 1's attention output: layers 0's activations stay, layer 1's change (same module, other hooks).
    def ablate(tensor, hook):
        return torch.zeros_like(tensor)

    with torch.no_grad():
        _, clean = ours.run_with_cache(**inputs, names_filter=["resid_post"])
        with ours.hooks([(("attn_out", 1), ablate)]):
            _, edited = ours.run_with_cache(**inputs, names_filter=["resid_post"])
    assert torch.equal(clean["resid_post", 0], edited["resid_post", 0])
    assert not torch.allclose(clean["resid_post", 1], edited["resid_post", 1])


def test_weights_are_shared_as_in_transformers(tmp_path):
    parity.quiet_transformers()
    ours, theirs, folder = _reference(tmp_path)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    groups = {key.split(".")[3] for key in parity.checkpoint_keys(folder) if ".albert_layer_groups." in key}
    assert groups == {"0", "1"}  # 2 groups stored for 4 layers
    assert ours.predictions.decoder.weight is ours.albert.embeddings.word_embeddings.weight
    assert ours.predictions.decoder.bias is ours.predictions.bias
    assert ours.albert.embeddings.word_embeddings.weight.shape == (VOCAB, SHAPES["two_groups"]["embedding_size"])


def test_inputs_embeds_are_the_narrow_embeddings(tmp_path):
    parity.quiet_transformers()
    ours, theirs, _ = _reference(tmp_path, head="AlbertModel")
    inputs = parity.make_inputs(ours.config)
    embeds = theirs.embeddings.word_embeddings(inputs["input_ids"]).detach() * 1.5  # (b, s, E)
    with torch.no_grad():
        expected = theirs(inputs_embeds=embeds, attention_mask=inputs["attention_mask"])
        actual = ours(inputs_embeds=embeds, attention_mask=inputs["attention_mask"])
    parity.assert_outputs_match(actual, expected, inputs["attention_mask"].bool())
    with pytest.raises(ValueError, match=r"inputs_embeds must have shape \(batch, seq, 20\)"):
        ours(inputs_embeds=torch.zeros(1, 3, ours.config.hidden_size))


@pytest.mark.filterwarnings("ignore:Some weights of the checkpoint were not used")
def test_auto_classes_find_albert(tmp_path):
    parity.quiet_transformers()
    _, _, folder = _reference(tmp_path)
    assert type(AutoModelForMaskedLM.from_pretrained(folder)).__name__ == "AlbertForMaskedLM"
    with pytest.warns(UserWarning, match="newly initialised"):  # an MLM checkpoint has no pooler, an MLM head
        assert type(AutoModel.from_pretrained(folder)).__name__ == "AlbertModel"


def test_config_defaults_match_transformers():
    theirs = transformers.AlbertConfig().to_dict()
    ours = ha.AlbertConfig().to_dict()
    for field in ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_hidden_groups",
                  "num_attention_heads", "intermediate_size", "inner_group_num", "hidden_act", "hidden_dropout_prob",
                  "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size", "initializer_range",
                  "layer_norm_eps", "classifier_dropout_prob", "pad_token_id", "bos_token_id", "eos_token_id",
                  "tie_word_embeddings"):
        assert ours[field] == theirs[field], field


# --------------------------------------------------------------------------- bad input


def test_groups_that_do_not_divide_the_layers_are_refused(monkeypatch):
    built = []
    monkeypatch.setattr(ha.AlbertTransformer, "__init__", lambda *a, **k: built.append(1))
    with pytest.raises(ValueError, match=r"num_hidden_groups \(2\) must divide num_hidden_layers \(5\)"):
        ha.AlbertConfig(num_hidden_layers=5, num_hidden_groups=2)
    with pytest.raises(ValueError, match=r"num_hidden_groups \(4\) must divide num_hidden_layers \(2\)"):
        ha.AlbertConfig(num_hidden_layers=2, num_hidden_groups=4)
    with pytest.raises(ValueError, match="num_hidden_groups"):
        ha.AlbertConfig(num_hidden_layers=2, num_hidden_groups=0)
    assert not built  # refused in the config, before any module was built


def test_a_checkpoint_with_bad_groups_is_refused_before_loading(tmp_path):
    config = transformers.AlbertConfig(**COMMON, **SHAPES["two_groups"]).to_dict()
    config["num_hidden_groups"] = 3  # transformers itself would silently pick int(i / (4 / 3))
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"num_hidden_groups \(3\) must divide num_hidden_layers \(4\)"):
        ha.AlbertForMaskedLM.from_pretrained(tmp_path)


def test_other_bad_configs_are_refused():
    with pytest.raises(ValueError, match=r"hidden_size \(10\) must be divisible by num_attention_heads \(3\)"):
        ha.AlbertConfig(hidden_size=10, num_attention_heads=3)
    with pytest.raises(ValueError, match="inner_group_num must be at least 1"):
        ha.AlbertConfig(inner_group_num=0)
    with pytest.raises(TypeError, match="hidden_act must be an activation name"):
        ha.AlbertConfig(hidden_act=torch.nn.GELU())


def test_bad_token_types_are_refused(tmp_path):
    parity.quiet_transformers()
    ours, _, _ = _reference(tmp_path, head="AlbertModel")
    with pytest.raises(ValueError, match="type_vocab_size=2"):
        ours(torch.tensor([[3, 4]]), token_type_ids=torch.tensor([[0, 2]]))


# --------------------------------------------------------------------------- pipelines


PIPELINE_HEADS = {
    "fill-mask": ("AlbertForMaskedLM", {}),
    "text-classification": ("AlbertForSequenceClassification", dict(id2label={0: "NEGATIVE", 1: "POSITIVE"})),
    "token-classification": ("AlbertForTokenClassification", dict(id2label={0: "O", 1: "B-PER", 2: "I-PER"})),
    "question-answering": ("AlbertForQuestionAnswering", {}),
}
PIPELINE_CALLS = {
    "fill-mask": (["The capital of [MASK] is Paris.", "A [MASK] is playing a guitar."], dict(top_k=3)),
    "text-classification": (["I love this movie.", "Café déjà vu, 😀!", "A man is playing a guitar."],
                            dict(top_k=None)),
    "token-classification": (["Ada Lovelace met Charles Babbage in London."], dict(aggregation_strategy="simple")),
    "question-answering": ([dict(question="Who wrote the notes?",
                                 context="The notes on the engine were written by Ada Lovelace in 1843.")], {}),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("task", list(PIPELINE_HEADS))
def test_pipeline_matches_transformers(task, tmp_path):
    """pipeline(task, model=folder) on an ALBERT checkpoint with the SentencePiece tokenizer of
    tests/data/albert-spiece: the same answers as transformers' pipeline on the same folder."""
    from test_pipelines import assert_same

    from hfexplain import pipeline

    parity.quiet_transformers()
    head, fields = PIPELINE_HEADS[task]
    data = os.path.join(os.path.dirname(__file__), "data", "albert-spiece")
    config = {**SHAPES["shared"], **fields, "vocab_size": 1000, "max_position_embeddings": 64}
    folder, _ = parity.save_reference(getattr(transformers, head), config, tmp_path / "model")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(data, name), folder)
    inputs, kwargs = PIPELINE_CALLS[task]
    ours = pipeline(task, model=folder)
    if task == "question-answering":  # transformers 5 has no QA pipeline: its algorithm, on its model
        from test_pipelines import classic_question_answering

        # That algorithm feeds token types (question 0, context 1): a folder may ask for them.
        config_file = os.path.join(folder, "tokenizer_config.json")
        with open(config_file, encoding="utf-8") as f:
            tokenizer_config = json.load(f)
        tokenizer_config["model_input_names"] = ["input_ids", "token_type_ids", "attention_mask"]
        with open(config_file, "w", encoding="utf-8") as f:
            json.dump(tokenizer_config, f)
        ours = pipeline(task, model=folder)

        model = transformers.AutoModelForQuestionAnswering.from_pretrained(folder).eval()
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        for item in inputs:
            for options in (dict(max_seq_len=64), dict(max_seq_len=24, doc_stride=6, top_k=2)):
                expected = classic_question_answering(model, tokenizer, item["question"], item["context"], **options)
                assert_same(ours(**item, **options), expected)
        return
    theirs = transformers.pipeline(task, model=folder)
    for item in inputs:
        assert_same(ours(item, **kwargs), theirs(item, **kwargs))
    assert_same(ours(inputs, **kwargs), theirs(inputs, **kwargs))


# --------------------------------------------------------------------------- widgets and the residual stream


def test_attention_dashboard_and_residual_stream_on_shared_layers(tmp_path):
    """The attention dashboard shows every application of the shared layers (layers 0 and 1 are
    group 0's weights, 2 and 3 group 1's) with transformers' patterns; the residual stream reads
    per application too."""
    pytest.importorskip("plotly")
    from hfexplain.tokenization import Tokenizer
    from hfexplain.widgets import AttentionDashboard

    parity.quiet_transformers()
    tokenizer = Tokenizer.from_pretrained(os.path.join(os.path.dirname(__file__), "data", "albert-spiece"))
    config = {**SHAPES["two_groups"], "vocab_size": 1000, "max_position_embeddings": 64}
    folder, _ = parity.save_reference(transformers.AlbertModel, config, tmp_path / "model")
    theirs = transformers.AlbertModel.from_pretrained(folder, attn_implementation="eager").eval()
    ours = ha.AlbertModel.from_pretrained(folder)
    text = "A man is playing a guitar."
    encoded = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        expected = theirs(**encoded, output_attentions=True, output_hidden_states=True)
    dash = AttentionDashboard(ours, tokenizer, text, layer=3, head=1)
    assert dash.tokens[0] == "[CLS]" and dash.tokens[-1] == "[SEP]"
    assert dash.patterns.shape[0] == 4
    for layer in range(4):
        parity.assert_close(dash.patterns[layer], expected.attentions[layer][0], f"dashboard layer {layer}")
    with torch.no_grad():
        _, cache = ours.run_with_cache(**encoded)
    stream = cache.accumulated_resid()  # (5, 1, s, d): entering each application, then leaving the last
    for row in range(5):
        parity.assert_close(stream[row], expected.hidden_states[row], f"accumulated_resid {row}")
    with pytest.raises(ValueError, match="post-norm"):
        cache.decompose_resid()
