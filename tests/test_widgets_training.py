"""TrainingDashboard across runs: a second train() starts a new run, a resumed run continues its
curve, the synced figure state always holds what is drawn, and a finished run replays step by step."""
from __future__ import annotations

import os

import pytest
import torch

pytest.importorskip("ipywidgets", reason="needs the widget extras")
pytest.importorskip("plotly", reason="needs the widget extras")

from hfexplain import BertConfig, BertForSequenceClassification  # noqa: E402
from hfexplain.training import Trainer, TrainerCallback, TrainingArguments  # noqa: E402
from hfexplain.widgets import TrainingDashboard  # noqa: E402


def tiny_bert() -> BertForSequenceClassification:
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                    num_attention_heads=2, intermediate_size=32,
                                                    max_position_embeddings=16))


def examples(count: int = 8) -> list[dict]:
    ids = torch.randint(1, 50, (count, 6), generator=torch.Generator().manual_seed(3))
    return [{"input_ids": row.tolist(), "attention_mask": [1] * 6, "label": int((row == 7).any())} for row in ids]


def train(tmp_path, dashboard, name="out", resume=None, **overrides):
    values = dict(output_dir=str(tmp_path / name), max_steps=4, per_device_train_batch_size=4, learning_rate=1e-3,
                  logging_steps=1, save_steps=2, disable_tqdm=True, seed=1, eval_strategy="steps", eval_steps=2)
    values.update(overrides)
    trainer = Trainer(tiny_bert(), TrainingArguments(**values), train_dataset=examples(), eval_dataset=examples(4),
                      callbacks=[dashboard])
    trainer.train(resume_from_checkpoint=resume)
    return trainer


def test_a_second_train_starts_a_new_run_and_keeps_the_first_faded(tmp_path):
    dashboard = TrainingDashboard()
    first = train(tmp_path, dashboard, "a")
    first_curve = dashboard.series("train loss")
    second = train(tmp_path, dashboard, "b", learning_rate=3e-3)
    steps, losses = dashboard.series("train loss")
    assert steps == [1, 2, 3, 4]  # not 1..4, 1..4 with a line drawn back from 4 to 1
    assert losses == [round(logs["loss"], 4) for logs in second.state.log_history if "loss" in logs]
    assert dashboard.series("eval loss")[0] == [2, 4]
    assert dashboard.series("run 1 (earlier)") == first_curve  # the first run, faded, one legend entry
    assert dashboard.series("run 1 eval loss")[0] == [2, 4]
    earlier = [trace for trace in dashboard.figure.data if trace.legendgroup == "run 1"]
    assert [trace.showlegend for trace in earlier] == [True, False] and all(trace.opacity < 1 for trace in earlier)
    text = dashboard.text()
    assert text.startswith("TrainingDashboard: run 2 · step 4/4 · epoch 2.00") and "done" in text
    assert "earlier runs (faded): run 1" in text
    assert len(first.state.log_history) == len(dashboard.history)
    # a third and a fourth run: only the last keep_runs=2 earlier runs stay
    train(tmp_path, dashboard, "c", max_steps=2, eval_strategy="no")
    train(tmp_path, dashboard, "d", max_steps=2, eval_strategy="no")
    groups = {trace.legendgroup for trace in dashboard.figure.data if trace.legendgroup}
    assert groups == {"run 2", "run 3"} and [number for number, _ in dashboard.earlier_runs] == [2, 3]


def test_a_resumed_run_continues_its_curve_without_repeating_the_checkpoint(tmp_path):
    straight = TrainingDashboard()
    train(tmp_path, straight, "straight")
    checkpoint = os.path.join(tmp_path, "straight", "checkpoint-2")
    # the same dashboard, resumed from step 2 of the run it drew: the curve goes on from there
    trainer = train(tmp_path, straight, "straight", resume=checkpoint)
    assert straight.series("train loss")[0] == [1, 2, 3, 4]
    assert straight.earlier_runs == [] and "run 2" not in straight.text()
    assert [logs.get("step") for logs in straight.history] == [logs.get("step") for logs in trainer.state.log_history]
    # a new dashboard on a resumed run draws the checkpoint's history first, once
    fresh = TrainingDashboard()
    train(tmp_path, fresh, "straight", resume=checkpoint)
    assert fresh.series("train loss") == straight.series("train loss")
    assert fresh.series("eval loss")[0] == [2, 4]


def test_the_synced_figure_state_holds_every_update():
    """The browser draws a late view from ``_widget_data``; restyle messages sent before plotly's
    code loaded there are lost (the blank plot of lesson 10), so the state must be complete."""
    dashboard = TrainingDashboard()
    _ = dashboard.widget  # shown: the state is synced once here
    for step in range(1, 5):
        dashboard.add_logs({"loss": 5.0 - step, "learning_rate": 1e-3, "epoch": step / 2, "step": step})
    dashboard.add_logs({"eval_loss": 3.5, "eval_accuracy": 0.5, "step": 4})
    synced = {trace.get("name"): trace for trace in dashboard.figure._widget_data}
    assert synced["train loss"]["x"] == [1, 2, 3, 4] and synced["train loss"]["y"] == [4.0, 3.0, 2.0, 1.0]
    assert synced["eval loss"]["x"] == [4] and synced["accuracy"]["y"] == [0.5]
    assert len(dashboard.figure._widget_data) == len(dashboard.figure.data)


def test_a_finished_run_replays_step_by_step():
    history = [{"loss": 6.0 - step / 2, "learning_rate": step * 1e-4, "epoch": step / 4, "step": step}
               for step in range(2, 13, 2)]
    history.insert(3, {"eval_loss": 5.5, "eval_runtime": 0.1, "step": 6})
    dashboard = TrainingDashboard.from_log_history(history, max_steps=12)
    assert dashboard._replay_bar.layout.display == "flex"
    assert [value for _, value in dashboard.replay_slider.options] == [2, 4, 6, 8, 10, 12]
    assert dashboard.replay_slider.index == 5 and dashboard.play.max == 5
    dashboard.replay_slider.index = 2  # what the ▶ button does in the browser, one stop at a time
    assert dashboard.series("train loss")[0] == [2, 4, 6] and dashboard.series("eval loss")[0] == [6]
    assert dashboard.text().startswith("TrainingDashboard: replay: step 6/12 · epoch 1.50")
    layout = dashboard.figure.layout
    assert list(layout.xaxis.range) == [0, 12.5] and list(layout.yaxis.range) == [0, pytest.approx(5.775)]
    dashboard.replay(None)
    assert dashboard.series("train loss")[0] == [2, 4, 6, 8, 10, 12] and dashboard.replay_slider.index == 5
    assert layout.xaxis.autorange is True and "done" in dashboard.text()
    with pytest.raises(ValueError, match="step 5 was not logged; the logged steps are"):
        dashboard.replay(5)


def test_the_replay_bar_hides_while_a_run_is_live(tmp_path):
    dashboard = TrainingDashboard()
    seen = []

    class Spy(TrainerCallback):  # a second callback after the dashboard: the bar's state at every log
        def on_log(self, args, state, control, logs=None, **kwargs):
            seen.append(dashboard._replay_bar.layout.display)

    values = dict(output_dir=str(tmp_path / "out"), max_steps=4, per_device_train_batch_size=4, logging_steps=1,
                  save_strategy="no", disable_tqdm=True)
    Trainer(tiny_bert(), TrainingArguments(**values), train_dataset=examples(), callbacks=[dashboard, Spy()]).train()
    assert set(seen) == {"none"} and dashboard._replay_bar.layout.display == "flex"


@pytest.mark.parametrize("kwargs, message", [
    (dict(keep_runs=-1), "keep_runs must be a whole number >= 0"),
    (dict(replay_interval_ms=0), "replay_interval_ms must be a whole number of milliseconds >= 10"),
])
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainingDashboard(**kwargs)
