"""hfexplain.heads: the generic task heads, their losses, pooling and input checks.

The LLaMA heads (built only from the generic ones) are compared with transformers through
the shared parity harness; the pieces are tested on their own against hand computations
and transformers' loss functions.
"""
from __future__ import annotations

import pytest
import torch

import parity
from hfexplain import heads
from hfexplain.models.bert import BertConfig, BertForSequenceClassification
from hfexplain.models.llama import (
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForQuestionAnswering,
    LlamaForSequenceClassification,
    LlamaForTokenClassification,
    LlamaModel,
)

LlamaForTokenClassificationOurs = LlamaForTokenClassification

transformers = parity.quiet_transformers()

LLAMA = dict(vocab_size=97, intermediate_size=64, num_hidden_layers=2, pad_token_id=0, max_position_embeddings=64)
LLAMA_CONFIGS = {
    "gqa": dict(LLAMA, hidden_size=32, num_attention_heads=4, num_key_value_heads=2, num_labels=3),
    # head_dim set explicitly, biases on, a classifier dropout, linear RoPE scaling, 5 labels
    "odd": dict(LLAMA, hidden_size=48, num_attention_heads=6, num_key_value_heads=2, head_dim=16, attention_bias=True,
                mlp_bias=True, classifier_dropout=0.3, num_labels=5,
                rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}),
}
QA_CONFIGS = {name: {k: v for k, v in kwargs.items() if k != "num_labels"} for name, kwargs in LLAMA_CONFIGS.items()}
LLAMA_HEADS = [
    (transformers.LlamaForSequenceClassification, LlamaForSequenceClassification),
    (transformers.LlamaForTokenClassification, LlamaForTokenClassification),
]


@pytest.mark.parametrize("reference_class, our_class, config",
                         parity.cases(LLAMA_HEADS, LLAMA_CONFIGS)
                         + parity.cases([(transformers.LlamaForQuestionAnswering, LlamaForQuestionAnswering)],
                                        QA_CONFIGS)
                         + parity.cases([(transformers.LlamaForCausalLM, LlamaForCausalLM)], {"gqa": LLAMA_CONFIGS["gqa"]}))
def test_llama_heads_match_transformers(reference_class, our_class, config, tmp_path):
    report = parity.check_parity(reference_class, our_class, config, tmp_path)
    assert {"embed", "resid_pre", "resid_post", "pattern", "final"} <= set(report.aliases)
    assert report.generated == (our_class is LlamaForCausalLM)


def test_the_harness_catches_a_drifted_head(tmp_path):
    class LlamaForTokenClassification(LlamaForTokenClassificationOurs):  # same name as transformers' class
        def forward(self, *args, **kwargs):
            out = super().forward(*args, **kwargs)
            out.logits = out.logits + 1e-4  # a drift far below what a reader would notice
            return out

    with pytest.raises(AssertionError, match=r"logits: max abs difference 0.0001 > 1e-05"):
        parity.check_parity(transformers.LlamaForTokenClassification, LlamaForTokenClassification,
                            LLAMA_CONFIGS["gqa"], tmp_path)


def test_llama_heads_keep_transformers_names():
    config = LlamaConfig(**QA_CONFIGS["gqa"])
    names = {cls: set(cls(config).state_dict()) for cls in
             (LlamaForSequenceClassification, LlamaForTokenClassification, LlamaForQuestionAnswering)}
    assert {"score.weight", "model.layers.0.self_attn.q_proj.weight"} <= names[LlamaForSequenceClassification]
    assert "score.bias" not in names[LlamaForSequenceClassification]
    assert {"score.weight", "score.bias", "model.norm.weight"} <= names[LlamaForTokenClassification]
    assert {"qa_outputs.weight", "qa_outputs.bias", "transformer.embed_tokens.weight"} <= names[LlamaForQuestionAnswering]
    assert not any(name.startswith("model.") for name in names[LlamaForQuestionAnswering])


def test_causal_lm_checkpoint_into_llama_classifier(tmp_path):
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(**LLAMA_CONFIGS["gqa"])).save_pretrained(tmp_path)
    with pytest.warns(UserWarning, match=r"not used by LlamaForSequenceClassification: \['lm_head.weight'\]"):
        with pytest.warns(UserWarning, match=r"newly initialised: \['score.weight'\]"):
            model = LlamaForSequenceClassification.from_pretrained(tmp_path)
    reference = transformers.LlamaForSequenceClassification.from_pretrained(tmp_path)
    assert torch.equal(model.model.layers[1].mlp.up_proj.weight, reference.model.layers[1].mlp.up_proj.weight)


# -- last-non-pad pooling ------------------------------------------------------------------


def tiny_llama(cls, **overrides):
    torch.manual_seed(0)
    return cls(LlamaConfig(**{**LLAMA_CONFIGS["gqa"], **overrides})).eval()


def test_last_non_pad_token_picks_the_rightmost_real_token():
    ids = torch.tensor([[5, 6, 7, 0], [0, 0, 5, 6], [5, 0, 6, 0], [0, 0, 0, 0]])  # right, left, holes, all pad
    picked = heads.last_non_pad_token(ids, 0, 4, 4, ids.device)
    assert picked.tolist() == [2, 3, 2, 0]  # as transformers: argmax of position * not_pad
    assert heads.last_non_pad_token(ids[:1], None, 1, 4, ids.device).tolist() == [3]


def test_pooling_reads_the_scores_at_the_last_real_token():
    model = tiny_llama(LlamaForSequenceClassification)
    ids = torch.tensor([[5, 6, 7, 0, 0], [0, 8, 9, 10, 11]])
    with torch.no_grad():
        out, cache = model.run_with_cache(ids, names_filter="class_logits")
    scores = cache["class_logits"]  # (b, s, c)
    assert scores.shape == (2, 5, 3)
    torch.testing.assert_close(out.logits, torch.stack([scores[0, 2], scores[1, 4]]))


def test_no_pad_token_is_an_error_for_a_batch_and_fine_for_one_row():
    model = tiny_llama(LlamaForSequenceClassification, pad_token_id=None)
    ids = torch.randint(1, 97, (2, 5))
    with pytest.raises(ValueError, match=r"without config\.pad_token_id.*Cannot handle batch sizes > 1.*pad_token_id ="):
        model(ids)
    reference = transformers.LlamaForSequenceClassification(transformers.LlamaConfig(**{**LLAMA_CONFIGS["gqa"],
                                                                                    "pad_token_id": None}))
    with pytest.raises(ValueError, match="Cannot handle batch sizes > 1"):
        reference(ids)
    with torch.no_grad():
        out, cache = model.run_with_cache(ids[:1], names_filter="class_logits")
    torch.testing.assert_close(out.logits, cache["class_logits"][:, -1])


def test_inputs_embeds_cannot_see_padding_and_warns():
    model = tiny_llama(LlamaForSequenceClassification)
    embeds = torch.randn(2, 4, 32)
    with pytest.warns(UserWarning, match="will not detect padding tokens in `inputs_embeds`"):
        with torch.no_grad():
            out, cache = model.run_with_cache(inputs_embeds=embeds, names_filter="class_logits")
    torch.testing.assert_close(out.logits, cache["class_logits"][:, -1])


# -- losses against transformers' own loss functions ---------------------------------------


@pytest.mark.parametrize("num_labels, labels", [
    (1, torch.randn(4)),  # regression
    (3, torch.tensor([0, 2, 1, 1])),  # single label
    (3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])),  # multi-label
])
def test_sequence_classification_loss_matches_transformers(num_labels, labels):
    from transformers.loss.loss_utils import ForSequenceClassificationLoss

    logits = torch.randn(4, num_labels)
    ours, theirs = LlamaConfig(num_labels=num_labels), transformers.LlamaConfig(num_labels=num_labels)
    expected = ForSequenceClassificationLoss(labels, logits, theirs)
    torch.testing.assert_close(heads.sequence_classification_loss(logits, labels, ours), expected)
    assert ours.problem_type == theirs.problem_type  # stored the first time, as transformers does
    ours.problem_type = "ranking"
    with pytest.raises(ValueError, match="'ranking' is not a problem type"):
        heads.sequence_classification_loss(logits, labels, ours)


def test_token_classification_and_qa_losses_match_transformers():
    from transformers.loss.loss_utils import ForQuestionAnsweringLoss, ForTokenClassification

    logits = torch.randn(2, 5, 4)
    labels = torch.tensor([[0, 3, 1, -100, -100], [2, 2, 0, 1, -100]])
    expected = ForTokenClassification(logits, labels, transformers.LlamaConfig(num_labels=4))
    torch.testing.assert_close(heads.token_classification_loss(logits, labels), expected)

    start, end = torch.randn(3, 6), torch.randn(3, 6)
    starts, ends = torch.tensor([1, 7, 0]), torch.tensor([2, 9, -3])  # row 1 truncated away, row 2 clamped to 0
    expected = ForQuestionAnsweringLoss(start, end, starts, ends)
    torch.testing.assert_close(heads.question_answering_loss(start, end, starts, ends), expected)
    by_hand = (torch.nn.functional.cross_entropy(start[[0, 2]], torch.tensor([1, 0]))
               + torch.nn.functional.cross_entropy(end[[0, 2]], torch.tensor([2, 0]))) / 2
    torch.testing.assert_close(heads.question_answering_loss(start, end, starts, ends), by_hand)


# -- composing a head ------------------------------------------------------------------------


def test_a_head_without_base_model_class_says_what_to_set():
    class Headless(heads.GenericForTokenClassification, LlamaModel.__mro__[1]):  # LlamaPreTrainedModel
        pass

    with pytest.raises(TypeError, match="must set base_model_class"):
        Headless(LlamaConfig(**LLAMA_CONFIGS["gqa"]))


def test_an_input_the_bare_model_does_not_take_is_named():
    model = tiny_llama(LlamaForTokenClassification)
    ids = torch.randint(1, 97, (1, 4))
    with pytest.raises(TypeError, match=r"got token_type_ids=\.\.\., but LlamaModel takes no token_type_ids"):
        model(ids, token_type_ids=torch.zeros_like(ids))


def test_qa_needs_two_labels():
    with pytest.raises(ValueError, match=r"LlamaForQuestionAnswering .*num_labels must be 2, got 3"):
        LlamaForQuestionAnswering(LlamaConfig(**LLAMA_CONFIGS["gqa"]))


def test_encoder_pooling_uses_the_pooler_and_dropout():
    config = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=20, num_labels=2, classifier_dropout=0.5)
    model = BertForSequenceClassification(config).eval()
    assert model.dropout.p == 0.5 and model.classifier.bias is not None
    ids = torch.randint(1, 30, (2, 5))
    with torch.no_grad():
        out = model(ids)
        pooled = model.bert(ids).pooler_output  # (b, d)
    torch.testing.assert_close(out.logits, model.classifier(pooled))


# -- the shared input checks ------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(input_ids=None, inputs_embeds=None), ValueError, r"exactly one of input_ids or inputs_embeds \(got neither\)"),
    (dict(input_ids=torch.ones(1, 3, dtype=torch.long), inputs_embeds=torch.zeros(1, 3, 8)), ValueError,
     r"exactly one of input_ids or inputs_embeds \(got both\)"),
    (dict(input_ids=None, inputs_embeds=torch.zeros(1, 3, 8, dtype=torch.long)), TypeError,
     r"inputs_embeds must be a float tensor.*input_ids= instead"),
    (dict(input_ids=None, inputs_embeds=torch.zeros(3, 8)), ValueError, r"inputs_embeds must have shape \(batch, seq, 8\)"),
    (dict(input_ids=torch.ones(2, 3, dtype=torch.long), inputs_embeds=None, position_ids=torch.arange(3)), ValueError,
     r"position_ids must have shape \(2, 3\) or \(1, 3\)"),
    (dict(input_ids=torch.ones(1, 3, dtype=torch.long), inputs_embeds=None, max_positions=4, past_length=2),
     ValueError, r"5 tokens long \(2 cached \+ 3 new\) but Toy has 4 positions: it learned only 4 \(n_ctx\).*max_length=4"),
    (dict(input_ids=torch.ones(1, 3, dtype=torch.long), inputs_embeds=None, max_positions=4,
          position_ids=torch.tensor([[2, 3, 4]])), ValueError, r"position_ids go up to 4 but Toy has 4 positions"),
    (dict(input_ids=torch.tensor([[1, 10]]), inputs_embeds=None), ValueError, r"outside the vocabulary \[0, 10\)"),
])
def test_check_model_inputs_names_the_problem(kwargs, error, message):
    kwargs = dict(kwargs)
    ids, embeds = kwargs.pop("input_ids"), kwargs.pop("inputs_embeds")
    with pytest.raises(error, match=message):
        heads.check_model_inputs(ids, embeds, vocab_size=10, hidden_size=8, positions_field="n_ctx", family="Toy",
                                 **kwargs)


def test_check_model_inputs_returns_batch_and_length():
    assert heads.check_model_inputs(torch.ones(2, 5, dtype=torch.long), None, vocab_size=10, hidden_size=8,
                                    max_positions=5) == (2, 5)
    assert heads.check_model_inputs(None, torch.zeros(3, 4, 8), vocab_size=10, hidden_size=8,
                                    position_ids=torch.arange(4)[None]) == (3, 4)


def test_modeling_does_not_import_heads():
    """Arrows point one way: layers <- modeling <- heads <- generation <- models."""
    import hfexplain.modeling

    source = open(hfexplain.modeling.__file__).read()
    assert "heads" not in source.split('"""', 2)[2].split("class ")[0]  # no import of heads
    assert not hasattr(hfexplain.modeling, "check_input_ids")
