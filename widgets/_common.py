"""What every dashboard shares: imports with a clear fix, notices, error guards, HTML export.

A dashboard here is a plain Python object that *holds* an ipywidgets layout (``.widget``)
rather than being one. That keeps its Python API small and free of traitlets, and still lets
a notebook show it (``_repr_mimebundle_`` hands over the widget view) or embed it in a
layout of one's own (``HBox([dashboard.widget, ...])``).

Three rules every dashboard follows:

- **No JavaScript from the network.** Controls are ipywidgets and plots are plotly
  ``FigureWidget`` s (served by their installed Jupyter extensions); exported pages inline
  plotly.js (``include_plotlyjs=True``). Nothing loads from a CDN, so it all works offline.
- **A readable text fallback.** ``text()`` summarises the current state in plain text; it is
  also the ``text/plain`` of the notebook output, so where widgets do not render (a terminal,
  a static notebook viewer) the reader still sees what the dashboard shows. It is
  deterministic (rounded numbers, no random ids), so nbval can compare it.
- **Messages, never tracebacks.** Bad input (empty text, too long a text, a model without
  attention hooks) is explained in the dashboard's notice line; an unexpected error inside a
  callback is caught and shown there too, instead of a traceback in the output area.
"""
from __future__ import annotations

import base64
import copy
import functools
import html
import os
from collections.abc import Callable, Iterable

import numpy as np

_INSTALL_HINT = "Install the widget extras: pip install 'hfexplain[widgets]' (ipywidgets, plotly, anywidget)."

try:
    import ipywidgets
except ImportError as error:  # pragma: no cover - exercised only without the extras
    raise ImportError(f"hfexplain.widgets needs ipywidgets. {_INSTALL_HINT}") from error
import traitlets  # installed with ipywidgets
try:
    import plotly.graph_objects as go
except ImportError as error:  # pragma: no cover
    raise ImportError(f"hfexplain.widgets needs plotly. {_INSTALL_HINT}") from error
try:
    import anywidget  # plotly's FigureWidget is an anywidget; so is our SubmitText
except ImportError as error:  # pragma: no cover
    raise ImportError(f"hfexplain.widgets needs anywidget for plotly's FigureWidget. {_INSTALL_HINT}") from error

from ._browser import DASHBOARD_CLASS, SliderKeys  # noqa: E402  (needs anywidget, checked above)

__all__ = ["ipywidgets", "go", "Dashboard", "Notice", "guarded", "escape", "plotly_text", "write_html_page",
           "STYLE_CSS", "sync_figure_state", "SubmitText", "ENTER_HINT"]

# Pastel colours for token chips; a token and the characters it covers share one colour.
PALETTE = (
    "#cfe8fc",
    "#fde2c4",
    "#d7f5d0",
    "#f8d3e0",
    "#e4dafa",
    "#fff3b0",
    "#cdf1ee",
    "#f3dccb",
)

# One small stylesheet, sent with every HTML the dashboards render (and into exported pages).
STYLE_CSS = """
.hfx-notice { padding: 4px 8px; margin: 2px 0; border-radius: 4px; font-size: 13px; }
.hfx-notice-info { background: #eef5ff; color: #1c3d6e; }
.hfx-notice-warning { background: #fff4d6; color: #6b4a00; }
.hfx-notice-error { background: #fde7e7; color: #8a1c1c; }
.hfx-chips { line-height: 2.1; font-family: monospace; font-size: 13px; }
.hfx-chip { display: inline-block; padding: 0 4px; margin: 1px 2px; border-radius: 4px;
            border: 1px solid rgba(0,0,0,0.15); white-space: pre; line-height: 1.5; }
.hfx-chip sub { color: #555; font-size: 9px; margin-left: 2px; }
.hfx-chip.hfx-special { background: #444 !important; color: #fff; font-weight: bold; }
.hfx-chip.hfx-special sub { color: #ddd; }
.hfx-chip.hfx-cont { margin-left: -1px; border-left: 2px dashed #888; }
.hfx-chip .hfx-prefix { color: #999; }
.hfx-source { font-family: monospace; font-size: 13px; white-space: pre-wrap; word-break: break-all;
              border: 1px solid #ddd; padding: 4px 6px; border-radius: 4px; line-height: 1.7; }
.hfx-counts { font-size: 13px; color: #333; margin: 2px 0; }
.hfx-token-counts { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.hfx-panel-title { font-weight: bold; font-size: 14px; margin: 4px 0 2px 0; }
.hfx-merge-step { font-family: monospace; font-size: 13px; }
.hfx-merge-step .hfx-new { outline: 2px solid #e07000; }
.hfx-muted { color: #777; font-size: 12px; }
.hfx-generated { background: #fff0c2; border-bottom: 2px solid #e0a000; }
.hfx-kv { font-family: monospace; font-size: 12px; }
"""

_STYLE_TAG = f"<style>{STYLE_CSS}</style>"


def escape(text: str) -> str:
    """HTML-escape a token or a piece of text (quotes too: it also goes into ``title=""``)."""
    return html.escape(text, quote=True)


def plotly_text(text: str) -> str:
    """A token or label as plotly must receive it to draw it literally.

    plotly reads a few HTML tags in every label, tick and hover text (``<b>``, ``<i>``, ``<s>``,
    ``<br>`` ...): a raw ``</s>`` (the end token of T5, BART, Marian, LLaMA) vanishes and a raw
    ``<s>`` strikes the rest of its label through. HTML entities, which plotly decodes, keep
    them as typed.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def styled(body: str) -> str:
    """An HTML fragment with the dashboards' stylesheet in front (an HTML widget has no <head>)."""
    return _STYLE_TAG + body


class Notice:
    """A one-line message area: information, a warning (e.g. truncation) or an error."""

    def __init__(self):
        self.widget = ipywidgets.HTML(value="")
        self.widget.add_class("hfx-notice-area")
        self.kind: str | None = None
        self.message: str = ""

    def show(self, message: str, kind: str = "info") -> None:
        if kind not in ("info", "warning", "error"):
            raise ValueError(f"notice kind must be 'info', 'warning' or 'error', got {kind!r}")
        self.kind, self.message = kind, message
        self.widget.value = styled(f'<div class="hfx-notice hfx-notice-{kind}">{escape(message)}</div>')

    def clear(self) -> None:
        self.kind, self.message = None, ""
        self.widget.value = ""


def guarded(method: Callable) -> Callable:
    """Wrap a callback so an unexpected error shows in the dashboard's notice line.

    ipywidgets and plotly call observers and click handlers outside any cell; an exception
    there would land as a traceback in the output area (or only in the browser's log). The
    dashboard says what went wrong instead and stays usable.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as error:  # noqa: BLE001 - shown to the user, not swallowed
            self.notice.show(f"{type(error).__name__}: {error}", kind="error")
            return None

    return wrapper


class Dashboard:
    """Base class: ``.widget`` to display or embed, ``text()`` as the plain-text fallback,
    ``to_html(path)`` for a standalone page."""

    title = "dashboard"

    def __init__(self):
        self.notice = Notice()
        self._root: ipywidgets.Widget | None = None  # the layout; subclasses build it

    # -- what subclasses provide -------------------------------------------------------------
    def text(self) -> str:
        """A plain-text summary of what the dashboard shows now."""
        raise NotImplementedError

    def _figures(self) -> list:
        """The plotly FigureWidgets inside the layout."""
        return []

    def _html_sections(self) -> list:
        """Pieces of the exported page: HTML strings and plotly figures, in order."""
        raise NotImplementedError

    # -- display -------------------------------------------------------------------------------
    @property
    def widget(self) -> ipywidgets.Widget:
        """The ipywidgets layout, to display or to put in a layout of your own.

        A plotly FigureWidget draws a new view from the state it had when it was last
        *displayed*; inside our layout it is never displayed by itself, so hand it its
        current traces and layout first (what its own ``_repr_mimebundle_`` does).
        """
        for figure in self._figures():
            figure._repr_mimebundle_()
        if self._root is not None and DASHBOARD_CLASS not in self._root._dom_classes:  # once per layout
            # arrow keys reach the sliders in every frontend (Notebook 7 too): see _browser.py
            self._root.add_class(DASHBOARD_CLASS)
            self._root.children = (*self._root.children, SliderKeys())
        return self._root

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
        bundle["text/plain"] = self.text()
        return bundle

    def __repr__(self) -> str:
        return self.text()

    # -- export --------------------------------------------------------------------------------
    def to_html(self, path: str | os.PathLike) -> str:
        """Write a standalone HTML page of the current state (plotly.js inlined, no CDN).

        The page opens offline in any browser: instructors can put it on a slide or a web
        page. It is a snapshot: the sliders of the live dashboard are not in it, but the
        plots keep plotly's own zoom and hover. Returns the path written.
        """
        return write_html_page(path, self.title, self._html_sections(), summary=self.text())


def write_html_page(path: str | os.PathLike, title: str, sections: Iterable, summary: str = "") -> str:
    """Write ``sections`` (HTML strings and plotly figures) as one self-contained page.

    The first figure carries the whole plotly.js bundle inline (``include_plotlyjs=True``,
    about 4.6 MB); later figures reuse it. No ``<script src=...>`` is written, so the page
    needs no network.
    """
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"cannot write {path!r}: the folder {parent!r} does not exist; create it first.")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>body {{ font-family: sans-serif; margin: 16px; }}{STYLE_CSS}</style>",
        "</head><body>",
        f"<h2>{escape(title)}</h2>",
    ]
    plotly_included = False
    for section in sections:
        if isinstance(section, go.Figure | go.FigureWidget):
            figure = go.Figure(section)  # a static copy: no widget state, no kernel
            parts.append(
                figure.to_html(full_html=False, include_plotlyjs=not plotly_included, config={"displaylogo": False})
            )
            plotly_included = True
        else:
            parts.append(str(section))
    if summary:
        parts.append(f'<details><summary>Text summary</summary><pre>{escape(summary)}</pre></details>')
    parts.append("</body></html>")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(parts))
    return path


def heatmap_z(values, decimals: int | None = None) -> np.ndarray:
    """A 2-D float array as a heatmap's ``z``: rounded float64 (short JSON numbers), NaN as ``None``.

    It goes to the browser as JSON numbers, not as one of plotly's binary "typed array" specs
    (``{"dtype": "f4", "bdata": ...}``), which would be smaller: plotly.js decodes a 2-D spec
    into row *views* of one buffer, and after every redraw the FigureWidget sends its changed
    traces back to Python, where ipywidgets serialises each view as its whole buffer, rows x
    the whole array: 8 MB from the browser on every layer change of a 128-token dashboard,
    115 MB when it is first drawn, and past Chromium's 512 MiB limit at 512 tokens (which
    killed the browser test's driver). Plain numbers are not sent back at all. The price is
    on the Python side: ~15 ms per update at 128 tokens, ~145 ms at 512 (was 8 / 21).
    ``decimals`` rounds first (hover shows what was rounded); NaN cells are sent as ``null``
    and plotly leaves them blank.
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"heatmap_z takes a 2-D array (rows, columns), got shape {array.shape}")
    if decimals is not None:
        array = np.round(array, decimals)
    missing = np.isnan(array)
    if missing.any():
        array = array.astype(object)
        array[missing] = None
    return array


def from_typed_array(spec) -> np.ndarray:
    """What a heatmap's ``z`` holds (``heatmap_z``'s array, nested lists, or plotly's binary
    ``{"dtype", "bdata", "shape"}`` spec) as a float array, ``None`` cells as NaN."""
    if isinstance(spec, dict) and "bdata" in spec:
        shape = tuple(int(part) for part in str(spec["shape"]).split(","))
        return np.frombuffer(base64.b64decode(spec["bdata"]), dtype="<f4").reshape(shape).astype(np.float64)
    array = np.array(spec, dtype=object)
    return np.where(array == None, np.nan, array).astype(np.float64)  # noqa: E711 (elementwise)


def figure_widget(**layout) -> go.FigureWidget:
    """An empty FigureWidget with a compact layout (callers add the traces)."""
    base = dict(margin=dict(l=10, r=10, t=40, b=10), template="plotly_white")
    base.update(layout)
    return go.FigureWidget(layout=base)


class CountingComm:
    """A stand-in for the kernel's comm that measures what a widget sends to the browser.

    STYLE.md asks widget payloads to stay small; this is how the tests and
    ``benchmarks/widgets.py`` check it. Install it before any widget exists
    (``ipywidgets``' ``comm.create_comm = CountingComm``); each message is serialised as
    the kernel would (JSON plus binary buffers) and its size appended to ``CountingComm.sent``.
    """

    sent: list[int] = []

    def __init__(self, **kwargs):
        from jupyter_client.session import json_packer

        self._pack = json_packer
        self.comm_id = kwargs.get("comm_id") or f"comm-{id(self)}"
        self._count(kwargs.get("data"), kwargs.get("buffers"))

    def _count(self, data, buffers) -> None:
        size = len(self._pack(data or {})) + sum(len(memoryview(buffer).cast("B")) for buffer in buffers or ())
        CountingComm.sent.append(size)

    def send(self, data=None, metadata=None, buffers=None) -> None:
        self._count(data, buffers)

    def on_msg(self, callback) -> None:
        pass

    def on_close(self, callback) -> None:
        pass

    def close(self, *args, **kwargs) -> None:
        pass


def sync_figure_state(figure: go.FigureWidget) -> None:
    """Make a FigureWidget's synced state (``_widget_data`` / ``_widget_layout``) hold its current traces and layout.

    plotly sends each change as a one-off message (restyle, relayout) that only plotly's own
    code in the browser applies. The browser loads that code (a 4.7 MiB bundle) *after* the
    widget appears; messages that arrive before it is loaded are lost, and the figure is drawn
    from the state synced last. A dashboard updated straight after it is shown (a training run
    in the next cell) would then stay empty. Setting the state as well (what plotly does when a
    figure is displayed) costs one more message, and any view drawn later starts from the truth.
    """
    figure._widget_layout = copy.deepcopy(figure._layout_obj._props)
    figure._widget_data = copy.deepcopy(figure._data)


_SUBMIT_TEXT_ESM = """
function render({ model, el }) {
  const box = document.createElement("textarea");
  box.className = "hfx-submit-text widget-input";
  box.placeholder = model.get("placeholder");
  box.value = model.get("value");
  box.spellcheck = false;
  box.style.cssText = "width: 100%; height: 100%; box-sizing: border-box; resize: vertical; font: inherit;" +
    "padding: 4px 6px; border: 1px solid #9e9e9e; border-radius: 2px;";
  const submit = () => {
    if (box.value !== model.get("value")) {
      model.set("value", box.value);
      model.save_changes();
    }
  };
  box.addEventListener("keydown", (event) => {
    event.stopPropagation();  // typing here must not reach the notebook's shortcuts (Shift+Enter runs a cell)
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();  // Enter submits; Shift+Enter types a new line
      submit();
    }
  });
  box.addEventListener("blur", submit);
  const onValue = () => { if (box.value !== model.get("value")) box.value = model.get("value"); };
  const onPlaceholder = () => { box.placeholder = model.get("placeholder"); };
  model.on("change:value", onValue);
  model.on("change:placeholder", onPlaceholder);
  el.appendChild(box);
  return () => { model.off("change:value", onValue); model.off("change:placeholder", onPlaceholder); };
}
export default { render };
"""


class SubmitText(anywidget.AnyWidget):
    """A text box whose ``value`` changes when the reader presses **Enter** (or leaves the box).

    ``ipywidgets.Textarea(continuous_update=False)`` only sends its text when it loses focus,
    and Enter types a new line into the text (a ``"\\n"`` token in a prompt). Here Enter
    submits and **Shift+Enter** types a new line, for the texts where one matters (a code
    prompt). Set ``value`` from Python as on any widget; observers see each submitted text once.
    """

    _esm = _SUBMIT_TEXT_ESM
    value = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("").tag(sync=True)


ENTER_HINT = "press Enter to run it (Shift+Enter: a new line)"
