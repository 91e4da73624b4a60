"""TrainingDashboard: watch the loss fall while the Trainer runs, then replay the run.

The dashboard *is* a Trainer callback. Every time the Trainer logs (``on_log``), the new
numbers are added to a plotly FigureWidget that redraws in place:

- **training loss** per logging step (top plot), with **evaluation loss** as a second line;
- **the learning rate** (bottom plot): watch the warmup ramp and the decay the scheduler
  makes;
- other evaluation metrics (``eval_accuracy`` ...) as dotted lines on the top plot's right
  axis, and a status line (step, epoch, latest numbers).

A small run is over in seconds, so once it ends the dashboard can **replay** it: the ▶
button (or the slider) redraws the curves one logged step at a time, on fixed axes.

Each ``train()`` the dashboard is attached to is one *run*. A new run (the training cell run
again) clears the curves and keeps the run before as faded lines with their own legend entry
(the last ``keep_runs`` of them); a run resumed from a checkpoint continues its curve from
the checkpoint's history, without drawing those points twice.

>>> from hfexplain.widgets import TrainingDashboard                                   # doctest: +SKIP
>>> dashboard = TrainingDashboard()                                                 # doctest: +SKIP
>>> dashboard                                  # show it, then in the next cell:    # doctest: +SKIP
>>> Trainer(model, args, train_dataset=train, callbacks=[dashboard]).train()        # doctest: +SKIP

``TrainingDashboard.from_log_history(trainer.state.log_history)`` draws a finished run (or
a ``trainer_state.json`` read back from a checkpoint), ready to replay.
"""
from __future__ import annotations

from hfexplain.training import TrainerCallback

from ._common import Dashboard, escape, figure_widget, guarded, ipywidgets, styled, sync_figure_state

_TRAIN, _EVAL, _LR = 0, 1, 2  # indices of the fixed traces in figure.data
_EARLIER_COLOURS = ("#8fa8d6", "#f0b27a")  # faded train / eval loss of earlier runs


class TrainingDashboard(Dashboard, TrainerCallback):
    """Live loss / evaluation / learning-rate curves; pass it in ``Trainer(callbacks=[...])``.

    Args:
        title: the run's name (the dashboard's title).
        keep_runs: how many earlier runs stay drawn, faded, when a new ``train()`` starts.
        replay_interval_ms: the pause between two logged steps when the replay plays.

    Drive it from Python: ``replay(step)`` (draw the run up to ``step``; ``None``: all of it),
    ``replay_slider.index``. Read ``history`` (this run's log dicts), ``earlier_runs``,
    ``series(name)``, ``steps()`` and ``figure``.
    """

    title = "Training dashboard"

    def __init__(self, title: str = "training", *, keep_runs: int = 2, replay_interval_ms: int = 300):
        Dashboard.__init__(self)
        if isinstance(keep_runs, bool) or not isinstance(keep_runs, int) or keep_runs < 0:
            raise ValueError(f"keep_runs must be a whole number >= 0 (earlier runs drawn faded), got {keep_runs!r}.")
        if isinstance(replay_interval_ms, bool) or not isinstance(replay_interval_ms, int) or replay_interval_ms < 10:
            raise ValueError(f"replay_interval_ms must be a whole number of milliseconds >= 10, got {replay_interval_ms!r}.")
        self.run_title = title
        self.keep_runs = keep_runs
        self.max_steps: int | None = None
        self.done = False
        self.live = False  # between on_train_begin and on_train_end
        self.history: list[dict] = []  # every log dict of this run, as the Trainer sent it
        self.earlier_runs: list[tuple[int, list[dict]]] = []  # (run number, its history), drawn faded
        self.run_number = 1
        self.shown_step: int | None = None  # replaying: the curves end at this step (None: the whole run)
        self._quiet = False
        self._status = ipywidgets.HTML()
        self._status.add_class("hfx-training-status")
        self.figure = figure_widget(
            width=800, height=460,
            margin=dict(l=10, r=10, t=40, b=40),
            xaxis=dict(title="optimizer step", anchor="y", domain=[0, 0.94]),
            yaxis=dict(title="loss", domain=[0.38, 1.0], rangemode="tozero"),
            yaxis3=dict(title="metric", overlaying="y", side="right", anchor="x", showgrid=False),
            xaxis2=dict(title="optimizer step", anchor="y2", matches="x", domain=[0, 0.94]),
            yaxis2=dict(title="learning rate", domain=[0.0, 0.24], exponentformat="e", rangemode="tozero"),
            legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        )
        self.figure.add_scatter(x=[], y=[], mode="lines+markers", name="train loss", line=dict(color="#1f4e9c"))
        self.figure.add_scatter(x=[], y=[], mode="lines+markers", name="eval loss", line=dict(color="#e07000"))
        self.figure.add_scatter(x=[], y=[], mode="lines", name="learning rate", line=dict(color="#5a9e4b"),
                                xaxis="x2", yaxis="y2")

        # Replay: ▶ steps the slider through the logged steps in the browser; each step redraws.
        self.replay_slider = ipywidgets.SelectionSlider(options=[("0", 0)], description="replay step",
                                                        continuous_update=True, style={"description_width": "initial"},
                                                        layout=ipywidgets.Layout(width="420px"))
        self.replay_slider.add_class("hfx-replay-slider")
        self.play = ipywidgets.Play(value=0, min=0, max=0, step=1, interval=replay_interval_ms, repeat=False,
                                    description="replay the run step by step", show_repeat=False)
        self.play.add_class("hfx-replay-play")
        ipywidgets.jslink((self.play, "value"), (self.replay_slider, "index"))
        self._replay_bar = ipywidgets.HBox([self.play, self.replay_slider])
        self._replay_bar.add_class("hfx-replay")
        self._replay_bar.layout.display = "none"  # shown once there is a finished run to replay
        self.replay_slider.observe(self._on_replay, names="index")

        self._root = ipywidgets.VBox([self.notice.widget, self._status, self._replay_bar, self.figure])
        self._root.add_class("hfx-training-dashboard")
        self._draw()

    @classmethod
    def from_log_history(cls, log_history: list[dict], max_steps: int | None = None) -> TrainingDashboard:
        """A dashboard of a finished run (``trainer.state.log_history``), ready to replay."""
        dashboard = cls()
        dashboard.max_steps = max_steps
        dashboard.history = [dict(logs) for logs in log_history]
        dashboard.done = True
        dashboard._draw()
        return dashboard

    # -- callback events -------------------------------------------------------------------------
    @guarded
    def on_train_begin(self, args, state, control, **kwargs):
        start = [dict(logs) for logs in state.log_history]  # [] or, resumed, the checkpoint's history
        if start and self.history[: len(start)] == start:
            self.history = start  # resumed from a point of this very run: carry on from there
        elif self.history:  # another train(): a new run; the one before stays, faded
            self._archive_run()
            self.history = start
        else:
            self.history = start
        self.max_steps = state.max_steps
        self.notice.clear()
        self.done, self.live, self.shown_step = False, True, None
        self._draw()

    @guarded
    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs:
            self.add_logs(logs)

    @guarded
    def on_train_end(self, args, state, control, **kwargs):
        self.done, self.live = True, False
        self._draw()

    # -- public API ----------------------------------------------------------------------------
    def add_logs(self, logs: dict) -> None:
        """Append one log dict (``{"loss", "learning_rate", "step", ...}`` or ``{"eval_loss", ...}``)."""
        self.history.append(dict(logs))
        if "step" in logs:
            self.shown_step = None  # new numbers: show the whole run
            self._draw()

    def steps(self) -> list[int]:
        """The logged steps of this run, in order (the replay slider's stops)."""
        return sorted({int(logs["step"]) for logs in self.history if "step" in logs})

    def replay(self, step: int | None = None) -> None:
        """Draw the run only up to ``step`` (a logged step; ``None``: the whole run)."""
        steps = self.steps()
        if step is not None and step not in steps:
            raise ValueError(f"step {step!r} was not logged; the logged steps are {steps}.")
        self.shown_step = None if step is None or step == steps[-1] else step
        self._draw()

    def series(self, name: str) -> tuple[list[int], list[float]]:
        """``(steps, values)`` of one curve as drawn: "train loss", "eval loss", "learning rate" or a metric."""
        for trace in self.figure.data:
            if trace.name == name:
                return list(trace.x), list(trace.y)
        raise KeyError(f"no curve named {name!r}; curves: {[trace.name for trace in self.figure.data]}")

    def text(self) -> str:
        lines = [f"TrainingDashboard: {self._status_text()}"]
        if self.notice.message:
            lines.append(f"note: {self.notice.message}")
        for trace in self.figure.data:
            if len(trace.x) and not trace.name.startswith("run "):
                shown = ", ".join(f"{x}: {self._fmt(y)}" for x, y in list(zip(trace.x, trace.y))[-5:])
                lines.append(f"{trace.name} (last {min(5, len(trace.x))} of {len(trace.x)}): {shown}")
        if self.earlier_runs:
            lines.append("earlier runs (faded): " + ", ".join(f"run {number}" for number, _ in self.earlier_runs))
        return "\n".join(lines)

    # -- callbacks -----------------------------------------------------------------------------
    @guarded
    def _on_replay(self, change) -> None:
        if self._quiet:
            return
        steps = self.steps()
        index = self.replay_slider.index
        self.shown_step = None if index is None or index >= len(steps) - 1 else steps[index]
        self._draw(from_replay=True)

    # -- drawing -------------------------------------------------------------------------------
    @staticmethod
    def _is_timing(name: str) -> bool:
        return name.endswith(("_runtime", "_per_second"))

    @staticmethod
    def _fmt(value: float) -> str:
        return f"{value:.3e}" if value and abs(value) < 1e-3 else f"{value:.4f}"

    @staticmethod
    def _rounded(value: float, decimals: int | None = 4) -> float:
        value = float(value)
        return round(value, decimals) if decimals is not None else float(f"{value:.4g}")

    def _curves(self, history: list[dict]) -> dict[str, tuple[list[int], list[float]]]:
        """Every curve of ``history``: name -> (steps, values), in log order."""
        curves: dict[str, tuple[list[int], list[float]]] = {"train loss": ([], []), "eval loss": ([], []),
                                                            "learning rate": ([], [])}

        def add(name, step, value, decimals=4):
            xs, ys = curves.setdefault(name, ([], []))
            xs.append(int(step))
            ys.append(self._rounded(value, decimals))

        for logs in history:
            step = logs.get("step")
            if step is None:
                continue
            if "loss" in logs:
                add("train loss", step, logs["loss"])
            if "learning_rate" in logs:
                add("learning rate", step, logs["learning_rate"], decimals=None)
            if "eval_loss" in logs:
                add("eval loss", step, logs["eval_loss"])
            for name, value in logs.items():
                if name.startswith("eval_") and name != "eval_loss" and not self._is_timing(name):
                    add(name.removeprefix("eval_"), step, value)
        return curves

    def _shown_history(self) -> list[dict]:
        if self.shown_step is None:
            return self.history
        return [logs for logs in self.history if logs.get("step", 0) <= self.shown_step]

    def _archive_run(self) -> None:
        """Keep the current run as faded curves ("run N"), then number the next run."""
        if self.keep_runs:
            self.earlier_runs.append((self.run_number, self.history))
            del self.earlier_runs[: -self.keep_runs]
        self.run_number += 1
        kept = {f"run {number}" for number, _ in self.earlier_runs}
        traces = [trace for trace in self.figure.data
                  if not (trace.legendgroup or "").startswith("run ") or trace.legendgroup in kept]
        if len(traces) != len(self.figure.data):
            self.figure.data = traces  # drop the runs older than keep_runs
        for number, history in self.earlier_runs:
            group = f"run {number}"
            if any(trace.legendgroup == group for trace in self.figure.data):
                continue
            curves = self._curves(history)
            for (curve, colour), first in zip(zip(("train loss", "eval loss"), _EARLIER_COLOURS), (True, False)):
                xs, ys = curves[curve]
                self.figure.add_scatter(x=xs, y=ys, mode="lines", name=f"{group} {curve}", legendgroup=group,
                                        showlegend=first, opacity=0.5, line=dict(color=colour, width=1.5, dash="dash"),
                                        hovertemplate=f"{group} {curve}<br>step %{{x}}: %{{y}}<extra></extra>")
                if first:  # one legend entry per earlier run
                    self.figure.data[-1].name = f"{group} (earlier)"

    def _metric_trace(self, name: str):
        for trace in self.figure.data:
            if trace.name == name:
                return trace
        self.figure.add_scatter(x=[], y=[], mode="lines+markers", name=name, yaxis="y3", line=dict(dash="dot"))
        return self.figure.data[-1]

    def _draw(self, from_replay: bool = False) -> None:
        curves = self._curves(self._shown_history())
        with self.figure.batch_update():  # one message to the browser
            fixed = {"train loss": _TRAIN, "eval loss": _EVAL, "learning rate": _LR}
            for name, (xs, ys) in curves.items():
                trace = self.figure.data[fixed[name]] if name in fixed else self._metric_trace(name)
                trace.update(x=xs, y=ys)
            for trace in self.figure.data[3:]:  # metrics this run does not log (yet)
                if trace.yaxis == "y3" and trace.name not in curves:
                    trace.update(x=[], y=[])
            layout = self.figure.layout
            if self.shown_step is None:  # the whole run: axes follow the data
                layout.xaxis.autorange = layout.yaxis.autorange = layout.yaxis2.autorange = True
            else:  # replaying: fixed axes, so the curves grow into a still frame
                everything = self._curves(self.history)
                steps = self.steps()
                losses = everything["train loss"][1] + everything["eval loss"][1]
                rates = everything["learning rate"][1]
                layout.xaxis.range = [0, max(steps[-1], self.max_steps or 0) + 0.5]
                layout.yaxis.range = [0, 1.05 * max(losses)] if losses else None
                layout.yaxis2.range = [0, 1.1 * max(rates)] if rates and max(rates) > 0 else None
        if not from_replay:  # the browser moved the slider (or ▶ did): setting it back would fight the play
            self._draw_replay_bar()
        self._status.value = styled(f'<div class="hfx-counts">{escape(self._status_text())}</div>')
        # Where the browser loads plotly's widget code after these updates were sent (a run
        # that starts right after the dashboard is shown, on a busy machine), the frontend
        # drops them and would draw an empty figure: keep the synced state complete too.
        sync_figure_state(self.figure)

    def _draw_replay_bar(self) -> None:
        steps = self.steps()
        if self.live or len(steps) < 2:
            self._replay_bar.layout.display = "none"
            return
        options = [(str(step), step) for step in steps]
        index = len(steps) - 1 if self.shown_step is None else steps.index(self.shown_step)
        self._quiet = True  # setting options and index fires _on_replay: it was drawn already
        try:
            if list(self.replay_slider.options) != options:
                self.replay_slider.options = options
            self.replay_slider.index = index
            self.play.max = len(steps) - 1
            self.play.value = index
        finally:
            self._quiet = False
        self._replay_bar.layout.display = "flex"

    def _status_text(self) -> str:
        history = self._shown_history()
        steps = [logs["step"] for logs in history if "step" in logs]
        if not steps:
            return "waiting for the first log (pass this dashboard in Trainer(callbacks=[...]))"
        step = max(steps)
        total = f"/{self.max_steps}" if self.max_steps else ""
        parts = [f"run {self.run_number}"] if self.earlier_runs or self.run_number > 1 else []
        parts.append(f"{'replay: ' if self.shown_step is not None else ''}step {step}{total}")
        epochs = [logs["epoch"] for logs in history if "epoch" in logs]
        if epochs:
            parts.append(f"epoch {epochs[-1]:.2f}")
        for key, label in (("loss", "train loss"), ("eval_loss", "eval loss")):
            values = [logs[key] for logs in history if key in logs]
            if values:
                parts.append(f"{label} {values[-1]:.4f}")
        if self.done and self.shown_step is None:
            parts.append("done")
        return " · ".join(parts)

    def _figures(self) -> list:
        return [self.figure]

    def _html_sections(self) -> list:
        return [self._status.value, self.figure]


__all__ = ["TrainingDashboard"]
