"""What the dashboards need from the page itself: arrow keys that reach their sliders, and redraws
paced to what the browser can draw (``RedrawPacer``).

ipywidgets' sliders (noUiSlider) move by one step on ArrowLeft / ArrowRight (Up / Down, Home,
End, PageUp, PageDown too) once their handle has focus. Whether the key gets there depends on
the frontend: JupyterLab reads its keyboard shortcuts as the key event bubbles up, after the
handle has taken it; Notebook 7 reads them in the capture phase, before the handle sees the key,
and has command-mode shortcuts on those very keys (ArrowRight: "move to the heading below",
Up / Down: "select the cell above / below"). There a learner's arrow key moved the notebook's
cursor, not the slider. Lumino, the toolkit under both frontends, skips an element marked
``data-lm-suppress-shortcuts``: a hidden widget in every dashboard (``SliderKeys``) marks a
focused slider handle inside a dashboard that way for those keys only, from a ``keydown``
listener on the window (capture phase, so before Lumino's on the document). Every other key,
and every slider outside the dashboards, keeps the frontend's shortcuts.
"""
from __future__ import annotations

import time

import anywidget

# The class every dashboard's root carries (Dashboard.widget adds it); the listener looks for it.
DASHBOARD_CLASS = "hfx-dashboard"
SLIDER_KEYS = ("ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown")

_ESM = """
const KEYS = new Set(%(keys)s);
function render({ el }) {
  el.style.display = "none";
  if (window.__hfxSliderKeys) return;  // one listener for every dashboard on the page
  window.__hfxSliderKeys = true;
  window.addEventListener("keydown", (event) => {
    const target = event.target;
    if (!(target instanceof Element) || !target.classList.contains("noUi-handle")
        || !target.closest(".%(root)s")) return;
    if (KEYS.has(event.key)) target.setAttribute("data-lm-suppress-shortcuts", "true");
    else target.removeAttribute("data-lm-suppress-shortcuts");
  }, true);
}
export default { render };
""" % {"keys": list(SLIDER_KEYS).__repr__().replace("'", '"'), "root": DASHBOARD_CLASS}


class SliderKeys(anywidget.AnyWidget):
    """An invisible widget whose script lets arrow keys reach the dashboards' sliders (see the module)."""

    _esm = _ESM


def from_browser(widget, name: str = "value") -> bool:
    """Whether the change of ``widget.name`` being observed now came from the page (a drag, a key press).

    ipywidgets applies a value sent by the browser under a property lock on that name; a value
    set from Python (``slider.value = 3``) is not locked.
    """
    return name in getattr(widget, "_property_lock", {})


class RedrawPacer:
    """Latest-wins pacing of a figure's redraws while a slider is dragged or a key is held.

    plotly.js redraws a whole figure for every data update, which takes longer than the Python side
    (~10-50 ms): a drag or a held arrow key sends values faster than the browser draws them, the
    updates queue, and the figure lags ever further behind the handle. The browser reports each
    update it has drawn (plotly's ``_js2py_layoutDelta``, carrying the update's ``layout_edit_id``).
    While the newest update is not reported drawn, a new value *from the browser* only marks the
    figure stale; when the report comes, the figure is drawn once, with the latest values (the ones
    passed over are never drawn). Values set from Python draw at once, as before (a notebook cell
    or a test sees the figure updated when the assignment returns). ``STALE_S``: a report that
    never comes (the view was closed) holds nothing back for longer.
    """

    STALE_S = 1.0

    def __init__(self, figure, draw):
        self.figure = figure
        self.draw = draw  # the dashboard's (guarded) redraw
        self.sent_at: float | None = None  # when an update the browser has not reported drawn went out
        self.stale = False  # a value came while the browser was drawing: draw once it is done
        self.skipped = 0  # values passed over (for tests and benchmarks)
        figure.observe(self._on_drawn, names="_js2py_layoutDelta")

    def request(self, browser: bool) -> None:
        """Draw now, or (for a value from the browser while it still draws the last one) when it is done."""
        if browser and self.sent_at is not None and time.monotonic() - self.sent_at < self.STALE_S:
            if self.stale:
                self.skipped += 1
            self.stale = True
            return
        self._draw(browser)

    def _draw(self, browser: bool) -> None:
        self.stale = False
        before = self.figure._last_layout_edit_id
        self.draw()
        sent = self.figure._last_layout_edit_id != before  # nothing changed: no update, no report to wait for
        self.sent_at = time.monotonic() if (browser and sent) else None

    def _on_drawn(self, change) -> None:
        report = change["new"]
        if not report or report.get("layout_edit_id") != self.figure._last_layout_edit_id:
            return  # an older update's report (or plotly clearing the trait)
        self.sent_at = None
        if self.stale:
            self._draw(True)
