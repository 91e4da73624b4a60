"""hfexplain's Trainer against transformers' Trainer: the same run, step for step, in one process.

The same checkpoint (a tiny Llama or BERT that transformers initialised and saved), the same
examples, seed and arguments go through ``transformers.Trainer`` and ``hfexplain.training.Trainer``.
The reference is transformers' own log_history and final weights: data order, dropout masks,
optimizer and scheduler steps and the ``num_items_in_batch`` normalisation of gradient
accumulation all have to agree for the numbers to match within 1e-5.
"""
from __future__ import annotations

import os

import pytest
import torch

import hfexplain
from hfexplain.training import Trainer, TrainerCallback, TrainingArguments

from conftest import quiet_transformers


def padded_examples(count: int, seed: int, width: int = 9, vocab: int = 64) -> list[dict]:
    """Causal-LM rows of 3..8 real tokens padded to ``width``: padded labels are -100, so the
    number of label tokens differs from batch to batch (what ``num_items_in_batch`` is for)."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(count):
        length = int(torch.randint(3, width, (1,), generator=generator))
        ids = torch.randint(1, vocab, (length,), generator=generator).tolist()
        pad = width - length
        rows.append({"input_ids": ids + [0] * pad, "attention_mask": [1] * length + [0] * pad,
                     "labels": ids + [-100] * pad})
    return rows


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    transformers = quiet_transformers()
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=16,
                                      pad_token_id=0)
    folder = str(tmp_path_factory.mktemp("tiny-llama"))
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def run_both(tmp_path, theirs_model, ours_model, train, evaluation, **arguments):
    transformers = quiet_transformers()
    theirs = transformers.Trainer(
        theirs_model, transformers.TrainingArguments(str(tmp_path / "theirs"), use_cpu=True, **arguments),
        train_dataset=train, eval_dataset=evaluation,
    )
    theirs_output = theirs.train()
    ours = Trainer(ours_model, TrainingArguments(str(tmp_path / "ours"), **arguments),
                   train_dataset=train, eval_dataset=evaluation)
    ours_output = ours.train()
    return theirs, ours, theirs_output, ours_output


def by_kind(history: list[dict], key: str) -> list[dict]:
    return [logs for logs in history if key in logs]


def max_weight_difference(first: torch.nn.Module, second: torch.nn.Module) -> float:
    theirs, ours = first.state_dict(), second.state_dict()
    assert set(ours) <= set(theirs)
    return max((theirs[name] - ours[name]).abs().max().item() for name in ours)


@pytest.mark.parametrize("accumulation", [1, 3])
def test_causal_lm_run_matches_transformers_over_30_steps(tmp_path, tiny_llama, accumulation):
    transformers = quiet_transformers()
    arguments = dict(max_steps=30, per_device_train_batch_size=4, gradient_accumulation_steps=accumulation,
                     learning_rate=1e-2, warmup_steps=3, weight_decay=0.01, logging_steps=1, eval_strategy="steps",
                     eval_steps=10, save_strategy="no", disable_tqdm=True, seed=3)
    start = hfexplain.LlamaForCausalLM.from_pretrained(tiny_llama)
    theirs, ours, theirs_output, ours_output = run_both(
        tmp_path, transformers.LlamaForCausalLM.from_pretrained(tiny_llama),
        hfexplain.LlamaForCausalLM.from_pretrained(tiny_llama), padded_examples(22, seed=5),
        padded_examples(8, seed=9), **arguments,
    )
    theirs_logs, ours_logs = by_kind(theirs.state.log_history, "loss"), by_kind(ours.state.log_history, "loss")
    assert len(theirs_logs) == len(ours_logs) == 30
    for mine, reference in zip(ours_logs, theirs_logs):
        assert mine.keys() == reference.keys()
        assert mine["step"] == reference["step"] and mine["epoch"] == pytest.approx(reference["epoch"], abs=1e-12)
        assert mine["loss"] == pytest.approx(reference["loss"], abs=1e-5)
        assert mine["grad_norm"] == pytest.approx(reference["grad_norm"], abs=1e-5)
        assert mine["learning_rate"] == pytest.approx(reference["learning_rate"], abs=1e-12)
    theirs_evals, ours_evals = by_kind(theirs.state.log_history, "eval_loss"), by_kind(ours.state.log_history,
                                                                                        "eval_loss")
    assert [logs["step"] for logs in ours_evals] == [logs["step"] for logs in theirs_evals] == [10, 20, 30]
    assert [logs["eval_loss"] for logs in ours_evals] == pytest.approx([logs["eval_loss"] for logs in theirs_evals],
                                                                       abs=1e-5)
    assert ours_evals[0].keys() == theirs_evals[0].keys()
    assert ours_output.training_loss == pytest.approx(theirs_output.training_loss, abs=1e-5)
    assert ours_output.metrics.keys() == theirs_output.metrics.keys()
    assert ours.state.log_history[-1].keys() == theirs.state.log_history[-1].keys()  # the final log keeps total_flos
    assert ours.state.total_flos == theirs.state.total_flos
    assert max_weight_difference(theirs.model, ours.model) < 1e-5
    assert max_weight_difference(start, ours.model) > 1e-3  # and training did move the weights


def test_dropout_masks_and_data_order_match_transformers(tmp_path):
    """The course's fine-tune in miniature: a BERT classifier with dropout, evaluated every epoch.

    Only the same generator state at every dropout call (seeded in Trainer.__init__, one
    base-seed draw per loader iteration) makes these losses agree.
    """
    transformers = quiet_transformers()
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=16, num_labels=2,
                                     hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    folder = str(tmp_path / "bert")
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    ids = torch.randint(1, 50, (16, 8), generator=torch.Generator().manual_seed(3))
    examples = [{"input_ids": row.tolist(), "attention_mask": [1] * 8, "labels": int((row == 7).any())}
                for row in ids]
    theirs, ours, _, _ = run_both(
        tmp_path, transformers.BertForSequenceClassification.from_pretrained(folder),
        hfexplain.BertForSequenceClassification.from_pretrained(folder), examples, examples[:10],
        num_train_epochs=2, per_device_train_batch_size=4, learning_rate=1e-3, logging_steps=1,
        eval_strategy="epoch", save_strategy="no", disable_tqdm=True,
    )
    for key in ("loss", "eval_loss"):
        reference = [logs[key] for logs in by_kind(theirs.state.log_history, key)]
        got = [logs[key] for logs in by_kind(ours.state.log_history, key)]
        assert len(got) == len(reference) >= 2 and got == pytest.approx(reference, abs=1e-5), key
    assert max_weight_difference(theirs.model, ours.model) < 1e-5


def test_accumulation_equals_one_big_batch(tmp_path, tiny_llama):
    """num_items_in_batch: 3 accumulated micro-batches of 2 take the step a batch of 6 takes, even though
    their label-token counts differ (an average of micro-batch means would not)."""
    models = []
    for batch, accumulation in ((6, 1), (2, 3)):
        model = hfexplain.LlamaForCausalLM.from_pretrained(tiny_llama)
        args = TrainingArguments(str(tmp_path / str(batch)), max_steps=4, per_device_train_batch_size=batch,
                                 gradient_accumulation_steps=accumulation, learning_rate=1e-2, save_strategy="no",
                                 disable_tqdm=True, max_grad_norm=0.0)
        Trainer(model, args, train_dataset=padded_examples(24, seed=5)).train()
        models.append(model)
    assert max_weight_difference(*models) < 1e-5


class UseCacheRecorder(TrainerCallback):
    def __init__(self):
        self.seen = []

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        self.seen.append(model.config.use_cache)


def test_use_cache_is_off_while_training_and_restored_after(tmp_path, tiny_llama):
    model = hfexplain.LlamaForCausalLM.from_pretrained(tiny_llama)
    assert model.config.use_cache is True
    recorder = UseCacheRecorder()
    args = TrainingArguments(str(tmp_path), max_steps=2, per_device_train_batch_size=4, save_strategy="no",
                             disable_tqdm=True)
    Trainer(model, args, train_dataset=padded_examples(8, seed=1), callbacks=[recorder]).train()
    assert recorder.seen == [False, False]  # transformers' TrainingArguments.use_cache default
    assert model.config.use_cache is True


def test_evaluate_before_training_reports_the_same_keys_as_transformers(tmp_path, tiny_llama):
    transformers = quiet_transformers()
    examples = padded_examples(6, seed=2)
    theirs = transformers.Trainer(transformers.LlamaForCausalLM.from_pretrained(tiny_llama),
                                  transformers.TrainingArguments(str(tmp_path / "theirs"), use_cpu=True))
    ours = Trainer(hfexplain.LlamaForCausalLM.from_pretrained(tiny_llama), TrainingArguments(str(tmp_path / "ours")))
    reference, got = theirs.evaluate(examples), ours.evaluate(examples)
    assert "eval_model_preparation_time" in got
    assert got.keys() == reference.keys()
    assert got["eval_loss"] == pytest.approx(reference["eval_loss"], abs=1e-5)


# -- TrainingArguments ---------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [{}, dict(eval_strategy="steps"), dict(eval_strategy="steps", logging_steps=7),
                                       dict(eval_strategy="epoch", logging_steps=7)])
def test_report_to_and_eval_steps_defaults_equal_transformers(tmp_path, overrides):
    transformers = quiet_transformers()
    theirs = transformers.TrainingArguments(str(tmp_path), use_cpu=True, **overrides)
    ours = TrainingArguments(str(tmp_path), **overrides)
    assert ours.report_to == theirs.report_to == []
    assert ours.eval_steps == theirs.eval_steps
    assert ours.use_cache == theirs.use_cache and ours.do_eval == theirs.do_eval


SETTERS = [
    ("set_training", dict(learning_rate=1e-4, batch_size=16, weight_decay=0.01, num_epochs=2, max_steps=50,
                          gradient_accumulation_steps=2, seed=7)),
    ("set_evaluate", dict(strategy="steps", steps=25, batch_size=32, loss_only=True)),
    ("set_testing", dict(batch_size=12, loss_only=True)),
    ("set_save", dict(strategy="epoch", steps=100, total_limit=3)),
    ("set_logging", dict(strategy="steps", steps=20, first_step=True)),
    ("set_push_to_hub", dict(model_id="me/tiny", strategy="checkpoint", token="secret", private_repo=True,
                             always_push=True, revision="dev")),
    ("set_optimizer", dict(learning_rate=3e-4, weight_decay=0.1, beta1=0.8, beta2=0.95, epsilon=1e-6)),
    ("set_lr_scheduler", dict(name="cosine", num_epochs=5, max_steps=40, warmup_steps=0.1)),
    ("set_dataloader", dict(train_batch_size=4, eval_batch_size=16, drop_last=True, sampler_seed=11)),
    ("set_dataloader", dict()),
]


@pytest.mark.parametrize("setter, values", SETTERS, ids=[f"{name}-{len(values)}" for name, values in SETTERS])
def test_set_helpers_give_the_arguments_transformers_gives(tmp_path, setter, values):
    transformers = quiet_transformers()
    theirs = getattr(transformers.TrainingArguments(str(tmp_path), use_cpu=True), setter)(**values)
    ours = getattr(TrainingArguments(str(tmp_path), use_cpu=True), setter)(**values)
    assert isinstance(ours, TrainingArguments)
    for field in ours.to_dict():
        if field in ("output_dir", "disable_tqdm") or not hasattr(theirs, field):
            continue  # transformers' disable_tqdm default follows its logging level
        expected = getattr(theirs, field)
        expected = getattr(expected, "value", expected)  # transformers' enums
        if field == "report_to" and expected == "none":
            expected = []  # transformers' set_logging skips the normalisation its __post_init__ does
        assert getattr(ours, field) == expected, field


def test_set_helpers_check_again_and_refuse_what_is_not_implemented(tmp_path):
    with pytest.raises(ValueError, match="per_device_train_batch_size must be a positive integer"):
        TrainingArguments(str(tmp_path)).set_training(batch_size=0)
    with pytest.raises(ValueError, match=r"set_training\(activation_checkpointing=True\) is not implemented"):
        TrainingArguments(str(tmp_path)).set_training(activation_checkpointing=True)
    with pytest.raises(ValueError, match="optim='adafactor' is not implemented"):
        TrainingArguments(str(tmp_path)).set_optimizer(name="adafactor")
    with pytest.raises(ValueError, match="hub_strategy must be one of"):
        TrainingArguments(str(tmp_path), hub_strategy="sometimes")
    chained = TrainingArguments(str(tmp_path)).set_training(learning_rate=1e-4).set_save(strategy="no")
    assert chained.learning_rate == 1e-4 and chained.save_strategy == "no"


def test_hub_token_is_not_written_into_checkpoints(tmp_path):
    args = TrainingArguments(str(tmp_path), hub_token="hf_secret")
    assert "hf_secret" not in args.to_json_string() and args.to_dict()["hub_token"] == "<HUB_TOKEN>"


# -- push_to_hub ---------------------------------------------------------------------------------


def test_push_to_hub_offline_fails_in_init_before_anything_is_written(tmp_path, tiny_llama, monkeypatch):
    from huggingface_hub import constants, errors

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    output_dir = tmp_path / "never-written"
    args = TrainingArguments(str(output_dir), push_to_hub=True, hub_model_id="me/tiny", max_steps=1)
    model = hfexplain.LlamaForCausalLM.from_pretrained(tiny_llama)
    with pytest.raises(errors.OfflineModeIsEnabled, match="push_to_hub=True needs the Hugging Face Hub.*'me/tiny'"):
        Trainer(model, args, train_dataset=padded_examples(4, seed=1))
    assert not output_dir.exists()


def test_push_to_hub_creates_the_repo_and_uploads_through_huggingface_hub(tmp_path, tiny_llama, monkeypatch):
    import huggingface_hub
    from huggingface_hub import constants

    calls = []

    def create_repo(repo_id, token=None, private=None, exist_ok=False):
        calls.append(("create", repo_id, token, private, exist_ok))
        return huggingface_hub.RepoUrl(f"https://huggingface.co/me/{repo_id}")

    def upload_folder(repo_id, folder_path, path_in_repo=None, commit_message=None, token=None, revision=None,
                      allow_patterns=None, ignore_patterns=None):
        calls.append(("upload", repo_id, sorted(os.listdir(folder_path)), path_in_repo, commit_message))

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub, "upload_folder", upload_folder)
    args = TrainingArguments(str(tmp_path / "tiny-run"), push_to_hub=True, hub_strategy="checkpoint", hub_token="t",
                             max_steps=2, save_steps=2, per_device_train_batch_size=4, disable_tqdm=True)
    trainer = Trainer(hfexplain.LlamaForCausalLM.from_pretrained(tiny_llama), args,
                      train_dataset=padded_examples(8, seed=1))
    assert calls == [("create", "tiny-run", "t", None, True)]  # in __init__, before training
    assert trainer.hub_model_id == "me/tiny-run"
    trainer.train()
    uploads = [call for call in calls if call[0] == "upload"]
    assert [call[3] for call in uploads] == [".", "last-checkpoint"]  # after the save at step 2
    assert "model.safetensors" in uploads[0][2] and "optimizer.pt" in uploads[1][2]
    trainer.push_to_hub()
    assert calls[-1][1:3] == ("me/tiny-run", sorted(os.listdir(args.output_dir)))
    assert "model.safetensors" in calls[-1][2] and calls[-1][4] == "End of training"


def test_masking_collator_and_dropout_draw_as_in_transformers(tmp_path):
    """A masked-LM run: the collator draws its masks from torch's generator between dropout calls, so
    the masks agree only if batches are collated at the same moments (one batch ahead, as accelerate)."""
    transformers = quiet_transformers()
    from tokenizers import Tokenizer as RustTokenizer, models, pre_tokenizers

    from hfexplain import Tokenizer
    from hfexplain.training import DataCollatorForLanguageModeling

    vocab = {"[PAD]": 0, "[MASK]": 1, "[UNK]": 2, **{f"w{i}": i for i in range(3, 50)}}
    rust = RustTokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    rust.pre_tokenizer = pre_tokenizers.Whitespace()
    folder = tmp_path / "tokenizer"
    folder.mkdir()
    rust.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text('{"mask_token": "[MASK]", "pad_token": "[PAD]", "unk_token": "[UNK]"}')
    theirs_tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"),
                                                            mask_token="[MASK]", pad_token="[PAD]", unk_token="[UNK]")
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=16, hidden_dropout_prob=0.1,
                                     attention_probs_dropout_prob=0.1)
    transformers.BertForMaskedLM(config).save_pretrained(str(tmp_path / "bert"))
    ids = torch.randint(3, 50, (16, 8), generator=torch.Generator().manual_seed(3))
    examples = [{"input_ids": row.tolist()} for row in ids]
    arguments = dict(max_steps=8, per_device_train_batch_size=4, learning_rate=1e-3, logging_steps=1,
                     save_strategy="no", disable_tqdm=True)
    theirs = transformers.Trainer(
        transformers.BertForMaskedLM.from_pretrained(str(tmp_path / "bert")),
        transformers.TrainingArguments(str(tmp_path / "theirs"), use_cpu=True, **arguments), train_dataset=examples,
        data_collator=transformers.DataCollatorForLanguageModeling(theirs_tokenizer, mlm=True),
    )
    theirs.train()
    ours = Trainer(hfexplain.BertForMaskedLM.from_pretrained(str(tmp_path / "bert")),
                   TrainingArguments(str(tmp_path / "ours"), **arguments), train_dataset=examples,
                   data_collator=DataCollatorForLanguageModeling(Tokenizer.from_pretrained(str(folder)), mlm=True))
    ours.train()
    reference = [logs["loss"] for logs in by_kind(theirs.state.log_history, "loss")]
    got = [logs["loss"] for logs in by_kind(ours.state.log_history, "loss")]
    assert len(got) == len(reference) == 8 and got == pytest.approx(reference, abs=1e-5)
    assert max_weight_difference(theirs.model, ours.model) < 1e-5
