"""summarization, translation (translation_xx_to_yy) and text2text-generation against transformers.

transformers 5 has no such pipelines any more, so the reference is what transformers 4.x's
pipelines did, spelled out: ``tokenizer(prefix + text)`` -> ``model.generate(**inputs,
**task_specific_params, **call)`` -> ``tokenizer.batch_decode(skip_special_tokens=True)``, on
the same weights. The checkpoints are tiny random T5 and BART models saved by transformers,
with a vocabulary of 4096 so that the packaged tiny GPT-2 byte-level BPE tokenizer (id 0 is
its ``<|endoftext|>``: BOS, EOS, pad and decoder start) is theirs, copied beside the weights.
"""
from __future__ import annotations

import os
import shutil
import warnings

import pytest
import torch

import parity

import hfexplain
from hfexplain import AutoModelForCausalLM
from hfexplain.assets import tiny_gpt2_path
from hfexplain.pipelines.text2text_generation import (
    SummarizationPipeline,
    Text2TextGenerationPipeline,
    TranslationPipeline,
)

transformers = parity.quiet_transformers()

TEXTS = ["def add(a, b): return a + b", "Return the sum of a list of numbers.", "class Stack: pass"]
TASK_PARAMS = {
    "summarization": {"prefix": "summarize: ", "num_beams": 2, "max_length": 9},
    "translation_en_to_de": {"prefix": "translate English to German: ", "max_length": 8},
    "translation_en_to_fr": {"prefix": "translate English to French: ", "max_length": 7},
}
SPECIAL = dict(pad_token_id=0, eos_token_id=0, decoder_start_token_id=0)
CONFIGS = {
    "t5": (transformers.T5ForConditionalGeneration,
           transformers.T5Config(vocab_size=4096, d_model=32, d_kv=8, d_ff=40, num_heads=2, num_layers=2,
                                 relative_attention_num_buckets=8, dropout_rate=0.0, **SPECIAL,
                                 task_specific_params=TASK_PARAMS)),
    "bart": (transformers.BartForConditionalGeneration,
             transformers.BartConfig(vocab_size=4096, d_model=32, encoder_layers=2, decoder_layers=2,
                                     encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=24,
                                     decoder_ffn_dim=24, max_position_embeddings=64, bos_token_id=0,
                                     forced_eos_token_id=None, prefix="question: ", **SPECIAL,
                                     task_specific_params=TASK_PARAMS)),
}
TASK_KEY = {"text2text-generation": "generated", "summarization": "summary", "translation_en_to_de": "translation"}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """family -> (folder, transformers model, transformers tokenizer)."""
    made = {}
    for family, (reference_class, config) in CONFIGS.items():
        torch.manual_seed(0)
        model = reference_class(config).eval()
        with torch.no_grad():
            for param in model.parameters():  # away from the init, so the outputs differ per input
                param.add_(torch.randn_like(param) * (1.0 if family == "t5" else 0.5))
        folder = str(tmp_path_factory.mktemp(family))
        model.save_pretrained(folder)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(os.path.join(tiny_gpt2_path(), name), folder)
        made[family] = (folder, model, transformers.AutoTokenizer.from_pretrained(folder))
    return made


def reference(model, tokenizer, texts, prefix="", **generate_kwargs):
    """transformers 4.x's pipelines, by hand: (output ids (b, t), decoded texts)."""
    inputs = tokenizer([prefix + text for text in texts], return_tensors="pt", padding=True)
    with torch.no_grad():
        ids = model.generate(**inputs, **generate_kwargs)
    return ids, tokenizer.batch_decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)


def prefix_of(task, family):
    if task == "text2text-generation":
        return "question: " if family == "bart" else ""  # config.prefix when the task has no entry
    return TASK_PARAMS[task]["prefix"]


@pytest.mark.parametrize("family", ["t5", "bart"])
@pytest.mark.parametrize("task", list(TASK_KEY))
@pytest.mark.parametrize("decoding", [dict(num_beams=1), dict(num_beams=3, length_penalty=0.5)],
                         ids=["greedy", "beam"])
def test_output_equals_transformers_generate(checkpoints, family, task, decoding):
    folder, model, tokenizer = checkpoints[family]
    pipe = hfexplain.pipeline(task, model=folder)
    prefix = prefix_of(task, family)
    assert pipe.prefix == prefix
    key = TASK_KEY[task]
    call = dict(decoding, max_new_tokens=6)
    # one at a time (as transformers' batch_size=1), then the three as one padded batch
    for batch_size, groups in ((1, [[text] for text in TEXTS]), (3, [TEXTS])):
        expected_texts, expected_ids = [], []
        for group in groups:
            ids, decoded = reference(model, tokenizer, group, prefix, **call)
            expected_ids.extend(ids)
            expected_texts.extend(decoded)
        got = pipe(TEXTS, batch_size=batch_size, **call)
        assert got == [{f"{key}_text": text} for text in expected_texts]
        got_ids = pipe(TEXTS, batch_size=batch_size, return_tensors=True, **call)
        for record, ids in zip(got_ids, expected_ids):
            assert list(record) == [f"{key}_token_ids"]
            assert record[f"{key}_token_ids"].tolist() == ids.tolist()
    if task == "text2text-generation":  # (a long prefix can make a random model answer all alike)
        assert len({tuple(ids.tolist()) for ids in expected_ids}) == 3, "the checkpoint answers inputs alike"


@pytest.mark.parametrize("family", ["t5", "bart"])
def test_task_defaults_from_config_and_call_overrides(checkpoints, family):
    folder, model, tokenizer = checkpoints[family]
    summarize = hfexplain.pipeline("summarization", model=folder)
    assert summarize.task_defaults == {"num_beams": 2, "max_length": 9}
    _, expected = reference(model, tokenizer, TEXTS[:1], "summarize: ", num_beams=2, max_length=9)
    assert summarize(TEXTS[0]) == [{"summary_text": expected[0]}]
    _, expected = reference(model, tokenizer, TEXTS[:1], "summarize: ", num_beams=1, max_length=5,
                            no_repeat_ngram_size=2)
    assert summarize(TEXTS[0], num_beams=1, max_length=5, no_repeat_ngram_size=2) == [{"summary_text": expected[0]}]
    # defaults given to pipeline(...) apply to every call, under the call's own
    short = hfexplain.pipeline("summarization", model=folder, max_length=4)
    _, expected = reference(model, tokenizer, TEXTS[:1], "summarize: ", num_beams=2, max_length=4)
    assert short(TEXTS[0]) == [{"summary_text": expected[0]}]
    # the model's config is not changed by the pipeline
    assert getattr(summarize.model.config, "num_beams", None) in (None, 1)


def test_translation_task_names_pick_their_entry(checkpoints):
    folder, model, tokenizer = checkpoints["t5"]
    to_fr = hfexplain.pipeline("translation_en_to_fr", model=folder)
    assert isinstance(to_fr, TranslationPipeline) and to_fr.task == "translation_en_to_fr"
    assert to_fr.prefix == "translate English to French: " and to_fr.task_defaults == {"max_length": 7}
    _, expected = reference(model, tokenizer, TEXTS[:1], "translate English to French: ", max_length=7)
    assert to_fr(TEXTS[0]) == [{"translation_text": expected[0]}]
    assert to_fr._preprocess_params == {"src_lang": "en", "tgt_lang": "fr"}
    with pytest.warns(UserWarning, match="translation_en_to_de"):
        plain = hfexplain.pipeline("translation", model=folder)
    assert plain.task == "translation_en_to_de" and plain.prefix == "translate English to German: "
    with pytest.raises(KeyError, match="translation_XX_to_YY"):
        hfexplain.pipeline("translation_en", model=folder)
    with pytest.raises(ValueError, match="translation_XX_to_YY"):
        TranslationPipeline(to_fr.model, to_fr.tokenizer, task="translate-to-french")


def test_output_shapes_and_return_options(checkpoints):
    folder, model, tokenizer = checkpoints["t5"]
    pipe = hfexplain.pipeline("text2text-generation", model=folder)
    assert isinstance(pipe, Text2TextGenerationPipeline)
    # several sequences: one input -> a list of them; a list of inputs -> a list of lists
    ids, expected = reference(model, tokenizer, TEXTS[:1], num_beams=3, num_return_sequences=2, max_new_tokens=5)
    one = pipe(TEXTS[0], num_beams=3, num_return_sequences=2, max_new_tokens=5)
    assert one == [{"generated_text": text} for text in expected]
    many = pipe(TEXTS[:2], num_beams=3, num_return_sequences=2, max_new_tokens=5)
    assert len(many) == 2 and many[0] == one and all(len(records) == 2 for records in many)
    # return_text=False alone changes nothing (as in transformers 4.x); return_tensors decides
    assert pipe(TEXTS[0], return_text=False, max_new_tokens=5) == pipe(TEXTS[0], max_new_tokens=5)
    tensors = pipe(TEXTS[0], return_tensors=True, return_text=True, max_new_tokens=5)
    assert list(tensors[0]) == ["generated_token_ids"] and isinstance(tensors[0]["generated_token_ids"], torch.Tensor)
    assert tensors[0]["generated_token_ids"][0].item() == 0  # the decoder's start token comes first
    with pytest.raises(ValueError, match="return_type"):
        pipe(TEXTS[0], return_type="full_text")
    # stop_sequence: its first token ends the generation (transformers 4.x), via eos_token_id
    first = pipe(TEXTS[0], return_tensors=True, max_new_tokens=5)[0]["generated_token_ids"]
    stop = tokenizer.decode([first[2].item()])
    ids, expected = reference(model, tokenizer, TEXTS[:1], eos_token_id=first[2].item(), max_new_tokens=5)
    assert ids.shape[1] == 3 and pipe(TEXTS[0], stop_sequence=stop, max_new_tokens=5) == [{"generated_text": expected[0]}]


def test_inspect_shows_stages_prefix_and_decoding_steps(checkpoints):
    folder, model, tokenizer = checkpoints["t5"]
    summarize = hfexplain.pipeline("summarization", model=folder)
    inspection = summarize.inspect(TEXTS[0], num_beams=1, max_length=6)
    ids, expected = reference(model, tokenizer, TEXTS[:1], "summarize: ", num_beams=1, max_length=6)
    assert inspection.output == [{"summary_text": expected[0]}]
    assert inspection.input_ids[0] == tokenizer("summarize: " + TEXTS[0])["input_ids"]
    steps = inspection.details["steps"]
    assert [step.token_id for step in steps] == ids[0, 1:].tolist()
    assert inspection.details["prefix"] == "summarize: "
    assert inspection.probabilities.shape == (len(steps),)
    text = str(inspection)
    for line in ("1. preprocess", "2. _forward", "3. postprocess", "prefix 'summarize: '", "step 0: picked"):
        assert line in text
    # beam search: the result only (explain_generation follows one sequence)
    beams = summarize.inspect(TEXTS[0])
    assert beams.output == summarize(TEXTS[0]) and "steps" not in beams.details


def test_task_inferred_from_the_class(checkpoints):
    folder, _, _ = checkpoints["bart"]
    assert isinstance(hfexplain.pipeline(model=folder), Text2TextGenerationPipeline)
    assert type(hfexplain.pipeline("summarization", model=folder)) is SummarizationPipeline


def test_causal_lm_given_to_summarization_names_the_fix(checkpoints):
    with pytest.raises(ValueError, match="AutoModelForSeq2SeqLM"):
        hfexplain.pipeline("summarization", model=tiny_gpt2_path())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        causal = AutoModelForCausalLM.from_pretrained(tiny_gpt2_path())
    tokenizer = hfexplain.AutoTokenizer.from_pretrained(tiny_gpt2_path())
    with pytest.raises(ValueError, match=r"summarization pipeline needs .*encoder-decoder.*text-generation"):
        hfexplain.pipeline("summarization", model=causal, tokenizer=tokenizer)
    pipe = hfexplain.pipeline("translation_en_to_de", model=checkpoints["t5"][0])
    with pytest.raises(TypeError, match="string"):
        pipe(42)
    with pytest.raises(ValueError, match="empty"):
        pipe("  ")
