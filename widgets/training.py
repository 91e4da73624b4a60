"""TrainingDashboard: watch the loss fall while the Trainer runs.

The dashboard *is* a Trainer callback. Every time the Trainer logs (``on_log``), the new
numbers are appended to a plotly FigureWidget that redraws in place:

- **training loss** per logging step (top plot), with **evaluation loss** as a second line;
- **the learning rate** (bottom plot): watch the warmup ramp and the decay the scheduler
  makes;
- other evaluation metrics (``eval_accuracy`` ...) as dotted lines on the top plot's right
  axis, and a status line (step, epoch, latest numbers).

>>> from hfexplain.widgets import TrainingDashboard                                   # doctest: +SKIP
>>> dashboard = TrainingDashboard()                                                 # doctest: +SKIP
>>> dashboard                                  # show it, then in the next cell:    # doctest: +SKIP
>>> Trainer(model, args, train_dataset=train, callbacks=[dashboard]).train()        # doctest: +SKIP

``TrainingDashboard.from_log_history(trainer.state.log_history)`` draws a finished run (or
a ``trainer_state.json`` read back from a checkpoint).
"""
from __future__ import annotations

from hfexplain.training import TrainerCallback

from ._common import Dashboard, escape, figure_widget, guarded, ipywidgets, styled

_TRAIN, _EVAL, _LR = 0, 1, 2  # indices of the fixed traces in figure.data


class TrainingDashboard(Dashboard, TrainerCallback):
    """Live loss / evaluation / learning-rate curves; pass it in ``Trainer(callbacks=[...])``."""

    title = "Training dashboard"

    def __init__(self, title: str = "training"):
        Dashboard.__init__(self)
        self.run_title = title
        self.max_steps: int | None = None
        self.done = False
        self.history: list[dict] = []  # every log dict received, as the Trainer sent it
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
        self._root = ipywidgets.VBox([self.notice.widget, self._status, self.figure])
        self._root.add_class("hfx-training-dashboard")
        self._draw_status()

    @classmethod
    def from_log_history(cls, log_history: list[dict], max_steps: int | None = None) -> TrainingDashboard:
        """A dashboard of a finished run (``trainer.state.log_history``)."""
        dashboard = cls()
        dashboard.max_steps = max_steps
        for logs in log_history:
            dashboard.add_logs(logs)
        return dashboard

    # -- callback events -------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        self.max_steps = state.max_steps
        if state.log_history and not self.history:  # resumed: draw what came before the checkpoint
            for logs in state.log_history:
                self.add_logs(logs)
        self.notice.clear()
        self.done = False
        self._draw_status()

    @guarded
    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs:
            self.add_logs(logs)

    def on_train_end(self, args, state, control, **kwargs):
        self.done = True
        self._draw_status()

    # -- public API ----------------------------------------------------------------------------
    def add_logs(self, logs: dict) -> None:
        """Append one log dict (``{"loss", "learning_rate", "step", ...}`` or ``{"eval_loss", ...}``)."""
        logs = dict(logs)
        self.history.append(logs)
        step = logs.get("step")
        if step is None:
            return
        with self.figure.batch_update():
            if "loss" in logs:
                self._append(self.figure.data[_TRAIN], step, logs["loss"])
            if "learning_rate" in logs:
                self._append(self.figure.data[_LR], step, logs["learning_rate"], decimals=None)
            if "eval_loss" in logs:
                self._append(self.figure.data[_EVAL], step, logs["eval_loss"])
            for name, value in logs.items():
                if name.startswith("eval_") and name != "eval_loss" and not self._is_timing(name):
                    self._append(self._metric_trace(name), step, value)
        self._draw_status()

    def series(self, name: str) -> tuple[list[int], list[float]]:
        """``(steps, values)`` of one curve as drawn: "train loss", "eval loss", "learning rate" or a metric."""
        for trace in self.figure.data:
            if trace.name == name:
                return list(trace.x), list(trace.y)
        raise KeyError(f"no curve named {name!r}; curves: {[trace.name for trace in self.figure.data]}")

    def text(self) -> str:
        lines = [f"TrainingDashboard: {self._status_text(self.done)}"]
        if self.notice.message:
            lines.append(f"note: {self.notice.message}")
        for trace in self.figure.data:
            if len(trace.x):
                shown = ", ".join(f"{x}: {self._fmt(y)}" for x, y in list(zip(trace.x, trace.y))[-5:])
                lines.append(f"{trace.name} (last {min(5, len(trace.x))} of {len(trace.x)}): {shown}")
        return "\n".join(lines)

    # -- drawing -------------------------------------------------------------------------------
    @staticmethod
    def _is_timing(name: str) -> bool:
        return name.endswith(("_runtime", "_per_second"))

    @staticmethod
    def _fmt(value: float) -> str:
        return f"{value:.3e}" if value and abs(value) < 1e-3 else f"{value:.4f}"

    @staticmethod
    def _append(trace, step: int, value: float, decimals: int | None = 4) -> None:
        value = float(value)
        trace.x = (*trace.x, int(step))
        trace.y = (*trace.y, round(value, decimals) if decimals is not None else float(f"{value:.4g}"))

    def _metric_trace(self, name: str):
        label = name.removeprefix("eval_")
        for trace in self.figure.data:
            if trace.name == label:
                return trace
        self.figure.add_scatter(x=[], y=[], mode="lines+markers", name=label, yaxis="y3",
                                line=dict(dash="dot"))
        return self.figure.data[-1]

    def _status_text(self, done: bool = False) -> str:
        steps = [logs["step"] for logs in self.history if "step" in logs]
        if not steps:
            return "waiting for the first log (pass this dashboard in Trainer(callbacks=[...]))"
        step = max(steps)
        total = f"/{self.max_steps}" if self.max_steps else ""
        parts = [f"step {step}{total}"]
        epochs = [logs["epoch"] for logs in self.history if "epoch" in logs]
        if epochs:
            parts.append(f"epoch {epochs[-1]:.2f}")
        for key, label in (("loss", "train loss"), ("eval_loss", "eval loss")):
            values = [logs[key] for logs in self.history if key in logs]
            if values:
                parts.append(f"{label} {values[-1]:.4f}")
        if done:
            parts.append("done")
        return " · ".join(parts)

    def _draw_status(self) -> None:
        self._status.value = styled(f'<div class="hfx-counts">{escape(self._status_text(self.done))}</div>')

    def _figures(self) -> list:
        return [self.figure]

    def _html_sections(self) -> list:
        return [self._status.value, self.figure]


__all__ = ["TrainingDashboard"]
