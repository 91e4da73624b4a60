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

import asyncio
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


def _running_loop():
    """The running event loop (the kernel's, while it handles a message from the browser), or ``None``."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class RedrawPacer:
    """At most one redraw per ``WINDOW_S`` while a slider is dragged or an arrow key is held.

    plotly.js redraws a whole figure for every data update, which takes longer than the Python
    side (~10-50 ms; 100-800 ms of plotly.js on a loaded 2-core machine at 128 tokens): a drag or a
    held key sends values faster than the browser draws them, the updates queue, and the figure
    lags ever further behind the handle. So a value *from the browser* is drawn at once when the
    last redraw is at least ``WINDOW_S`` old; a value that comes sooner waits for the window's end,
    and only the latest of those is drawn (the ones passed over never are). A single key press is
    never delayed. Values set from Python draw at once, as before (a notebook cell or a test sees the
    figure updated when the assignment returns), and so does everything where no event loop runs
    to fire the delayed redraw.

    (Pacing by the browser's own "drawn" report would be better still; plotly 7.1's view sends
    that report for the layout under a name Python does not read, and its trace report fails in
    plotly's own handler, so the window is a fixed time.)
    """

    WINDOW_S = 0.25

    def __init__(self, figure, draw):
        self.figure = figure
        self.draw = draw  # the dashboard's (guarded) redraw
        self.drawn_at: float | None = None  # when the last redraw asked for by the browser went out
        self.stale = False  # a value is waiting for the window's end
        self.skipped = 0  # values passed over (for tests and benchmarks)

    def request(self, browser: bool) -> None:
        """Draw now, or (for a value from the browser within the window) at the window's end."""
        now = time.monotonic()
        loop = _running_loop()
        if browser and loop is not None and self.drawn_at is not None and now - self.drawn_at < self.WINDOW_S:
            if self.stale:
                self.skipped += 1
            else:
                loop.call_later(self.drawn_at + self.WINDOW_S - now, self._release)
            self.stale = True
            return
        self._draw(browser)

    def _release(self) -> None:
        if self.stale:
            self._draw(True)

    def _draw(self, browser: bool) -> None:
        self.stale = False
        self.draw()
        self.drawn_at = time.monotonic() if browser else None
