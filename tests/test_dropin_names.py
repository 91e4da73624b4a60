"""Names tutorials import from transformers, run unchanged here (issue 16, section 2): the tokenizer
classes, BatchEncoding's word/char maps, and the learning-rate schedules, each against transformers."""
from __future__ import annotations

import pytest
import torch

import hfexplain
from hfexplain.assets import tiny_gpt2_path

transformers = pytest.importorskip("transformers")


@pytest.mark.parametrize("name", ["GPT2Tokenizer", "GPT2TokenizerFast", "PreTrainedTokenizerFast", "BertTokenizer",
                                  "BertTokenizerFast", "LlamaTokenizer", "LlamaTokenizerFast"])
def test_tokenizer_class_names_load_a_folder_as_auto_tokenizer_does(name):
    text = ["def add(a, b):\n    return a + b", "hello  world"]
    ours = getattr(hfexplain, name).from_pretrained(tiny_gpt2_path())
    assert isinstance(ours, hfexplain.PreTrainedTokenizerFast)
    assert type(ours).__name__ in (name, name + "Fast", "Tokenizer")  # PreTrainedTokenizerFast is Tokenizer
    assert ours(text)["input_ids"] == hfexplain.AutoTokenizer.from_pretrained(tiny_gpt2_path())(text)["input_ids"]
    if name.startswith("GPT2") or name == "PreTrainedTokenizerFast":  # transformers reads this folder with these
        assert ours(text)["input_ids"] == getattr(transformers, name).from_pretrained(tiny_gpt2_path())(text)["input_ids"]


def test_batch_encoding_word_and_char_maps_equal_transformers():
    text = ["the quick brown fox", "jumps over"]
    ours = hfexplain.AutoTokenizer.from_pretrained(tiny_gpt2_path())(text)
    theirs = transformers.AutoTokenizer.from_pretrained(tiny_gpt2_path())(text)
    for row in range(2):
        assert ours.words(row) == theirs.word_ids(row) == ours.word_ids(row)
        for word in range(len(text[row].split())):
            assert tuple(ours.word_to_chars(row, word)) == tuple(theirs.word_to_chars(row, word))
    assert tuple(ours.word_to_chars(1)) == tuple(theirs.word_to_chars(1))  # one argument: row 0, word 1


SCHEDULES = [
    ("linear", "get_linear_schedule_with_warmup", dict(num_warmup_steps=3, num_training_steps=20)),
    ("cosine", "get_cosine_schedule_with_warmup", dict(num_warmup_steps=3, num_training_steps=20)),
    ("cosine_with_restarts", "get_cosine_with_hard_restarts_schedule_with_warmup",
     dict(num_warmup_steps=2, num_training_steps=20, num_cycles=3)),
    ("polynomial", "get_polynomial_decay_schedule_with_warmup",
     dict(num_warmup_steps=2, num_training_steps=20, lr_end=1e-4, power=2.0)),
    ("constant", "get_constant_schedule", {}),
    ("constant_with_warmup", "get_constant_schedule_with_warmup", dict(num_warmup_steps=4)),
]


def _learning_rates(make, steps: int = 24) -> list[float]:
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=0.01)
    scheduler = make(optimizer)
    rates = []
    for _ in range(steps):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize("kind, helper, arguments", SCHEDULES, ids=[row[0] for row in SCHEDULES])
def test_schedules_equal_transformers_by_name_and_by_helper(kind, helper, arguments):
    expected = _learning_rates(lambda opt: getattr(transformers, helper)(opt, **arguments))
    assert _learning_rates(lambda opt: getattr(hfexplain, helper)(opt, **arguments)) == pytest.approx(expected, abs=1e-12)
    specific = {k: v for k, v in arguments.items() if k not in ("num_warmup_steps", "num_training_steps")}
    general = {k: v for k, v in arguments.items() if k in ("num_warmup_steps", "num_training_steps")}
    by_name = _learning_rates(lambda opt: hfexplain.get_scheduler(kind, opt, scheduler_specific_kwargs=specific,
                                                                  **general))
    assert by_name == pytest.approx(expected, abs=1e-12)


def test_get_scheduler_names_what_is_missing():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="'linear' schedule needs num_warmup_steps"):
        hfexplain.get_scheduler("linear", optimizer, num_training_steps=10)
    with pytest.raises(ValueError, match="'cosine' schedule needs num_training_steps"):
        hfexplain.get_scheduler("cosine", optimizer, num_warmup_steps=0)
    with pytest.raises(ValueError, match="unknown lr_scheduler_type 'wavy'"):
        hfexplain.get_scheduler("wavy", optimizer, 0, 10)
    with pytest.raises(ValueError, match=r"lr_end \(1.0\) must be smaller than the initial lr \(0.1\)"):
        hfexplain.get_polynomial_decay_schedule_with_warmup(optimizer, 0, 10, lr_end=1.0)


def test_data_collator_with_padding_takes_a_dict_of_columns_as_transformers_does():
    """The course passes a dataset slice (a dict of lists) straight to the collator."""
    tokenizer = hfexplain.AutoTokenizer.from_pretrained(tiny_gpt2_path())
    reference_tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_gpt2_path())
    columns = {"input_ids": [[5, 6, 7], [8, 9]], "attention_mask": [[1, 1, 1], [1, 1]], "label": [0, 1]}
    ours = hfexplain.DataCollatorWithPadding(tokenizer)(columns)
    theirs = transformers.DataCollatorWithPadding(reference_tokenizer)(columns)
    assert set(ours) == set(theirs)
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key
    with pytest.raises(ValueError, match="columns of one length"):
        hfexplain.DataCollatorWithPadding(tokenizer)({"input_ids": [[1], [2]], "label": [0]})


def test_auto_config_reads_a_config_json_path_as_transformers_does(tmp_path):
    import os

    path = os.path.join(tiny_gpt2_path(), "config.json")
    ours, theirs = hfexplain.AutoConfig.from_pretrained(path), transformers.AutoConfig.from_pretrained(path)
    assert (ours.n_embd, ours.n_layer, ours.vocab_size) == (theirs.n_embd, theirs.n_layer, theirs.vocab_size)
    assert hfexplain.GPT2Config.from_pretrained(path).n_head == theirs.n_head
    (tmp_path / "notes.txt").write_text("not a config")
    with pytest.raises(OSError, match="is a file"):
        hfexplain.AutoConfig.from_pretrained(tmp_path / "notes.txt")
