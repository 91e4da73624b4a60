"""GenerationExplorer: generate one token at a time and watch every choice.

A causal language model gives, for the last position, a score (logit) for every token of
the vocabulary. Generation turns those scores into one token, appends it, and asks again.
The explorer shows each piece of that loop:

- **the next-token distribution**: the 20 most likely tokens as bars, the model's own
  probabilities (grey) next to what the logits processors make of them (blue):
  ``TemperatureLogitsWarper`` (divide the logits by T), ``TopKLogitsWarper`` (keep the k
  best), ``TopPLogitsWarper`` (keep the smallest set holding probability p), the same
  classes, in the same order, that ``generate(do_sample=True, ...)`` uses;
- **a button** that appends the greedy token (the most likely one: the processors never
  change which one that is) or a sampled one, and moves on;
- **the KV cache**: after each step the model keeps the keys and values of every position
  so far, per layer, so the next step feeds only the new token. The grid shows which step
  put each position there, and how many bytes it holds.

>>> from hfexplain.widgets import GenerationExplorer                       # doctest: +SKIP
>>> explorer = GenerationExplorer(model, tokenizer, "The meaning of life is")  # doctest: +SKIP
>>> explorer.temperature.value = 0.7; explorer.step(3)                     # doctest: +SKIP
"""
from __future__ import annotations

import math
import warnings

import torch

from hfexplain.generation import GenerationConfig, LogitsProcessorList, build_logits_processors
from hfexplain.layers import KVCache

from ._browser import RedrawPacer, from_browser
from ._common import ENTER_HINT, Dashboard, SubmitText, escape, figure_widget, guarded, ipywidgets, plotly_text, styled
from .attention import TICK_LABELS_MAX, max_positions


def model_generation_problem(model) -> str | None:
    """Why ``model`` cannot generate text (``None`` when it can)."""
    name = type(model).__name__
    main_input = getattr(model, "main_input_name", "input_ids")
    if main_input != "input_ids":  # the explorer's prompt is text; a speech or vision encoder needs its processor
        return (
            f"{name} reads {main_input!r}, not token ids, so a text prompt cannot start its generation here. "
            "Run its processor on the image or audio and call model.generate(**inputs) instead."
        )
    can_generate = getattr(model, "can_generate", None)
    if not callable(model) or not callable(can_generate) or not can_generate():
        return (
            f"{name} cannot generate text: it has no causal language-modelling head. Use a model made for "
            "generation, e.g. hfexplain.AutoModelForCausalLM.from_pretrained(path) (GPT2LMHeadModel, LlamaForCausalLM)."
        )
    return None


def logits_processors(temperature: float, top_k: int, top_p: float) -> LogitsProcessorList:
    """The sampling warpers for these settings, built by the library's own
    :func:`~hfexplain.generation.build_logits_processors` (so in ``generate``'s order;
    neutral ones left out)."""
    config = GenerationConfig(do_sample=True, num_beams=1, temperature=temperature, top_k=top_k, top_p=top_p)
    return build_logits_processors(config, prompt_length=0)


TICK_CHARACTERS = 14  # longest tick label drawn under a rotated axis; the hover shows the whole token
COLORBAR_TICK_PX = 22  # pixels of colour bar per tick label


def tick_label(label: str) -> str:
    """A token label short enough to draw rotated under an axis, its spaces kept visible (as plotly draws it).

    SVG text collapses runs of spaces (an indentation token ``'        '`` would shrink to
    ``' '``), so they become no-break spaces; a label longer than ``TICK_CHARACTERS`` keeps
    its start and an ellipsis, so it is never cut off at the figure's edge.
    """
    if len(label) > TICK_CHARACTERS:
        closing = label[-1] if label[-1] in "'\"" else ""
        label = label[: TICK_CHARACTERS - 1 - len(closing)] + "…" + closing
    return plotly_text(label).replace(" ", "\u00a0")


class GenerationExplorer(Dashboard):
    """Step through generation with ``model`` from ``prompt``.

    Args:
        model: a causal language model (``GPT2LMHeadModel``, ``LlamaForCausalLM``...).
        tokenizer: its tokenizer.
        prompt: where to start (edit it in the box and press Enter: the explorer restarts from it; Shift+Enter
            types a new line into the prompt).
        top_n: how many tokens the bar chart shows.
        temperature, top_k, top_p, do_sample, seed: starting settings (sliders and toggles).

    Drive it from Python: ``temperature.value``, ``top_k.value``, ``top_p.value``,
    ``decoding.value`` (``"greedy"`` / ``"sample"``), ``step(n)``, ``reset()``. Read
    ``ids`` (prompt + generated token ids), ``distribution()`` (model and processed
    probabilities), ``past_key_values`` (the ``KVCache``), ``figure`` (the plotly FigureWidget) and
    its traces ``model_bars`` / ``processed_bars`` (the distribution) and ``cache_view`` (the KV cache).
    """

    title = "Generation explorer"

    def __init__(
        self,
        model,
        tokenizer,
        prompt: str = "",
        *,
        top_n: int = 20,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        do_sample: bool = False,
        seed: int = 0,
    ):
        super().__init__()
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}.")
        if top_n < 1:
            raise ValueError(f"top_n must be at least 1 (how many bars to draw), got {top_n}.")
        self.model = model
        self.tokenizer = tokenizer
        self.top_n = top_n
        self.problem = model_generation_problem(model)
        self.limit = max_positions(model, tokenizer)
        self.ids: list[int] = []
        self.prompt_length = 0
        self.past_key_values: KVCache | None = None
        self.uses_cache = True
        self.logits: torch.Tensor | None = None  # (v,) next-token logits
        self.cache_added_at: list[int] = []  # for each cached position: the step that added it (0 = prompt)
        self.chosen: list[tuple[int, float]] = []  # (token id, its probability) of each step
        self._generator = torch.Generator().manual_seed(seed)

        self.prompt_box = SubmitText(
            value=prompt,
            placeholder=f"Type a prompt, then {ENTER_HINT}…",
            layout=ipywidgets.Layout(width="100%", height="50px"),
        )
        self.prompt_box.add_class("hfx-prompt-input")
        wide = {"description_width": "initial"}
        self.temperature = ipywidgets.FloatSlider(value=temperature, min=0.05, max=3.0, step=0.05,
                                                  description="temperature", style=wide)
        self.temperature.add_class("hfx-temperature-slider")
        self.top_k = ipywidgets.IntSlider(value=top_k, min=0, max=100, description="top-k (0: off)", style=wide)
        self.top_k.add_class("hfx-topk-slider")
        self.top_p = ipywidgets.FloatSlider(value=top_p, min=0.05, max=1.0, step=0.01, description="top-p (1: off)",
                                            style=wide)
        self.top_p.add_class("hfx-topp-slider")
        self.decoding = ipywidgets.ToggleButtons(options=["greedy", "sample"], value="sample" if do_sample else "greedy",
                                                 style={"button_width": "80px"})
        self.seed = ipywidgets.IntText(value=seed, description="seed", layout=ipywidgets.Layout(width="140px"),
                                       style={"description_width": "40px"})
        self.next_button = ipywidgets.Button(description="Append next token", button_style="primary", icon="plus",
                                             layout=ipywidgets.Layout(width="auto"))
        self.next_button.add_class("hfx-next-button")
        self.reset_button = ipywidgets.Button(description="Restart from prompt", icon="undo",
                                              layout=ipywidgets.Layout(width="auto"))
        self._text_html = ipywidgets.HTML()
        self._text_html.add_class("hfx-generated-text")
        self._kv_html = ipywidgets.HTML()
        self._kv_html.add_class("hfx-kv-summary")

        # One FigureWidget (plotly ships its widget bundle once per figure): the next-token
        # bars on top (axes x, y), the KV cache grid below (x2, y2).
        self.figure = figure_widget(
            width=900,
            barmode="group",
            margin=dict(l=10, r=10, t=70, b=40),
            xaxis=dict(type="category", tickangle=-45, title="next token", automargin=True),
            yaxis=dict(title="probability", rangemode="tozero"),
            xaxis2=dict(type="category", tickangle=-45, title="position", anchor="y2", automargin=True),
            yaxis2=dict(title="layer", autorange="reversed", dtick=1, anchor="x2"),
            legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
            annotations=[
                dict(text="", x=0, xanchor="left", xref="paper", y=1, yanchor="bottom", yref="paper", yshift=26,
                     showarrow=False, font=dict(size=14)),
                dict(text="", x=0, xanchor="left", xref="paper", y=0, yanchor="bottom", yref="paper",
                     showarrow=False, font=dict(size=13)),
            ],
        )
        self.figure.add_bar(x=[], y=[], name="model (temperature 1)", marker_color="#b8b8b8",
                            hovertemplate="%{x}: %{y:.2%}<extra>model</extra>")
        self.figure.add_bar(x=[], y=[], name="after temperature · top-k · top-p", marker_color="#1f4e9c",
                            hovertemplate="%{x}: %{y:.2%}<extra>processed</extra>")
        self.figure.add_heatmap(z=[], colorscale="Viridis", showscale=True, xgap=1, ygap=1, xaxis="x2", yaxis="y2",
                                name="KV cache", colorbar=dict(title="step", thickness=10, dtick=1, x=1.0, y=0,
                                                               yanchor="bottom"),
                                hovertemplate="layer %{y}, %{x}<br>added at step %{z}<extra></extra>")
        self.model_bars, self.processed_bars, self.cache_view = self.figure.data

        controls = ipywidgets.VBox([
            ipywidgets.HBox([self.temperature, self.top_k, self.top_p]),
            ipywidgets.HBox([self.decoding, self.seed, self.next_button, self.reset_button]),
        ])
        if self.problem is not None:
            self.notice.show(self.problem, kind="error")
            self._root = ipywidgets.VBox([self.notice.widget])
        else:
            self._root = ipywidgets.VBox(
                [self.prompt_box, self.notice.widget, self._text_html, controls, self._kv_html, self.figure]
            )
        self._root.add_class("hfx-generation-explorer")

        # a drag or a held key on a slider: the browser draws the latest settings, none queue up
        self._pacer = RedrawPacer(self.figure, self._paced_draw)
        self.prompt_box.observe(self._on_prompt, names="value")
        for control in (self.temperature, self.top_k, self.top_p, self.decoding):
            control.observe(self._on_settings, names="value")
        self.seed.observe(self._on_seed, names="value")
        self.next_button.on_click(self._on_next)
        self.reset_button.on_click(self._on_reset)
        if self.problem is None:
            self._guarded_reset()

    # -- public API ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Start again from the prompt (the KV cache is emptied and refilled with the prompt)."""
        self._guarded_reset()

    def step(self, count: int = 1) -> list[int]:
        """Append ``count`` tokens (greedy or sampled, as the toggle says); returns their ids."""
        added = []
        for _ in range(count):
            if not self._can_step():
                break
            added.append(self._append_next())
        self._draw()
        return added

    def processors(self) -> LogitsProcessorList:
        """The warpers the sliders ask for (temperature, then top-k, then top-p)."""
        return logits_processors(float(self.temperature.value), int(self.top_k.value), float(self.top_p.value))

    def distribution(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(model_probs, processed_probs)`` for the next token, each ``(vocab,)``."""
        if self.logits is None:
            raise ValueError("there is no next-token distribution yet: give the explorer a prompt.")
        scores = self.logits[None]  # (1, v)
        processed = self.processors()(torch.tensor([self.ids]), scores)  # (1, v)
        return torch.softmax(scores[0], dim=-1), torch.softmax(processed[0], dim=-1)

    def text(self) -> str:
        if self.problem is not None:
            return f"GenerationExplorer: {self.problem}"
        settings = (
            f"{self.decoding.value} · temperature {self.temperature.value:g} · "
            f"top-k {self.top_k.value or 'off'} · top-p {self.top_p.value if self.top_p.value < 1 else 'off'}"
        )
        lines = [f"GenerationExplorer: {type(self.model).__name__} · {settings}"]
        if self.notice.message:
            lines.append(f"note: {self.notice.message}")
        if self.logits is None:
            return "\n".join(lines)
        prompt = self._decode(self.ids[: self.prompt_length])
        generated = self._decode(self.ids[self.prompt_length:])
        lines.append(
            f"text: {prompt!r} + {generated!r} ({self.prompt_length} prompt tokens, "
            f"{len(self.ids) - self.prompt_length} generated)"
        )
        model_probs, processed = self.distribution()
        shown = min(10, self.top_n)
        lines.append(f"next token, top {shown} (processed probability, model probability):")
        for rank, token_id in enumerate(torch.topk(self.logits, min(shown, self.logits.numel())).indices.tolist()):
            lines.append(
                f"  {rank + 1:>2}. {self._token_text(token_id)!r:<16} {float(processed[token_id]):.3f}  "
                f"({float(model_probs[token_id]):.3f})"
            )
        lines.append(self._kv_summary())
        return "\n".join(lines)

    # -- callbacks -----------------------------------------------------------------------------
    @guarded
    def _on_prompt(self, change) -> None:
        self._reset()

    @guarded
    def _on_reset(self, button) -> None:
        self._reset()

    @guarded
    def _on_settings(self, change) -> None:
        self._pacer.request(browser=from_browser(change["owner"]))

    @guarded
    def _paced_draw(self) -> None:
        self._draw()

    @guarded
    def _on_seed(self, change) -> None:
        self._generator.manual_seed(int(self.seed.value))

    @guarded
    def _on_next(self, button) -> None:
        self.step(1)

    @guarded
    def _guarded_reset(self) -> None:
        self._reset()

    # -- work ----------------------------------------------------------------------------------
    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids) if ids else ""

    def _token_text(self, token_id: int) -> str:
        """One token as text; a lone byte of a longer character decodes to "\ufffd", so show its
        vocabulary entry instead (byte-level BPE: e.g. "\u00e2")."""
        text = self._decode([token_id])
        if "\ufffd" in text and callable(getattr(self.tokenizer, "convert_ids_to_tokens", None)):
            return str(self.tokenizer.convert_ids_to_tokens([token_id])[0])
        return text

    def _reset(self) -> None:
        self.notice.clear()
        self._generator.manual_seed(int(self.seed.value))
        prompt = self.prompt_box.value
        with warnings.catch_warnings():  # "longer than model_max_length": said below, in the notice
            warnings.simplefilter("ignore")
            ids = list(self.tokenizer(prompt)["input_ids"]) if prompt else []
        notes = []
        if not ids:
            bos = getattr(self.tokenizer, "bos_token_id", None)
            if bos is None:
                self.ids, self.logits, self.past_key_values, self.cache_added_at, self.chosen = [], None, None, [], []
                self.notice.show(
                    "Type a prompt: the model predicts the token after the text, so it needs at least one token "
                    "(and this tokenizer has no beginning-of-sequence token to start from).",
                    kind="info",
                )
                self._draw()
                return
            ids = [bos]
            notes.append(f"Empty prompt: starting from the beginning-of-sequence token {self.tokenizer.bos_token!r}.")
        if self.limit is not None and len(ids) > self.limit - 1:
            notes.append(
                f"The prompt has {len(ids)} tokens but {type(self.model).__name__} takes at most {self.limit} "
                f"positions: keeping its last {self.limit - 1} tokens (truncated) to leave room for one more."
            )
            ids = ids[-(self.limit - 1):]
        self.ids = ids
        self.prompt_length = len(ids)
        self.chosen = []
        self.past_key_values = None
        self.uses_cache = True
        self.logits = self._forward(torch.tensor([ids]))
        self.cache_added_at = [0] * len(ids)
        if not self.uses_cache:
            notes.append("This model keeps no KV cache: every step runs the whole sequence again.")
        if notes:
            self.notice.show(" ".join(notes), kind="warning" if "truncated" in " ".join(notes) else "info")
        self._draw()

    def _forward(self, new_ids: torch.Tensor) -> torch.Tensor:
        """Run the model on ``new_ids`` (1, n) with the cache; return the last position's logits (v,)."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                if self.uses_cache:
                    try:
                        output = self.model(new_ids, past_key_values=self.past_key_values, use_cache=True)
                    except TypeError:  # a forward without a cache: recompute each step
                        self.uses_cache = False
                        output = self.model(torch.tensor([self.ids]))
                    else:
                        self.past_key_values = getattr(output, "past_key_values", None)
                        if not isinstance(self.past_key_values, KVCache):
                            self.uses_cache, self.past_key_values = False, None
                else:
                    output = self.model(torch.tensor([self.ids]))
        finally:
            self.model.train(was_training)
        logits = getattr(output, "logits", None)
        if logits is None:
            raise ValueError(f"{type(self.model).__name__} returned no logits: it cannot predict the next token.")
        return logits[0, -1].float()  # (v,)

    def _can_step(self) -> bool:
        return self.logits is not None and (self.limit is None or len(self.ids) < self.limit)

    def _append_next(self) -> int:
        _, processed = self.distribution()
        if self.decoding.value == "greedy":
            token = int(torch.argmax(self.logits))
        else:
            token = int(torch.multinomial(processed, 1, generator=self._generator))
        self.chosen.append((token, float(processed[token])))
        self.ids.append(token)
        step = len(self.chosen)
        if self.limit is not None and len(self.ids) >= self.limit:
            # No position left for another token: keep the text, stop here (the bars keep the
            # distribution this last token came from).
            self.notice.show(
                f"Reached {type(self.model).__name__}'s limit of {self.limit} positions: restart from the prompt to go on.",
                kind="warning",
            )
            return token
        self.logits = self._forward(torch.tensor([[token]]) if self.uses_cache else torch.tensor([self.ids]))
        self.cache_added_at.append(step)
        return token

    # -- drawing -------------------------------------------------------------------------------
    def _labels(self, ids: list[int]) -> list[str]:
        labels, seen = [], set()
        for token_id in ids:
            label = repr(self._token_text(token_id))
            if label in seen:  # two byte pieces can decode to the same text
                label = f"{label} ·{token_id}"
            seen.add(label)
            labels.append(label)
        return labels

    def _kv_summary(self) -> str:
        cache = self.past_key_values
        if cache is None or len(cache) == 0:
            return "KV cache: none" + ("" if self.uses_cache else " (this model recomputes every step)")
        batch, heads, positions, dims = cache.keys[0].shape  # (b, kv heads, seq, head dim)
        floats = 2 * len(cache) * batch * heads * positions * dims
        return (
            f"KV cache: {len(cache)} layers × (key, value) × {heads} heads × {positions} positions × {dims} dims "
            f"= {floats:,} numbers, {cache.nbytes() / 1024:.1f} KiB"
        )

    def _draw(self) -> None:
        can_step = self._can_step()
        self.next_button.disabled = not can_step
        if self.logits is None:
            self._text_html.value = ""
            with self.figure.batch_update():
                for trace in self.figure.data:
                    trace.update(x=[], y=[])
                self.cache_view.z = []
                for annotation in self.figure.layout.annotations:
                    annotation.text = ""
            self._kv_html.value = ""
            return
        prompt_html = escape(self._decode(self.ids[: self.prompt_length]))
        generated = []
        for token_id, probability in self.chosen:
            generated.append(
                f'<span class="hfx-generated" title="{escape(f"id {token_id}, probability {probability:.3f}")}">'
                f"{escape(self._token_text(token_id))}</span>"
            )
        hint = (
            "Greedy picks the most likely token: temperature, top-k and top-p change the bars but not that choice. "
            "Switch to sample to let them matter."
            if self.decoding.value == "greedy"
            else "Sampling draws from the blue bars (seeded: restart to replay)."
        )
        self._text_html.value = styled(
            f'<div class="hfx-source">{prompt_html}{"".join(generated)}</div><div class="hfx-muted">{escape(hint)}</div>'
        )

        model_probs, processed = self.distribution()
        top = torch.topk(self.logits, min(self.top_n, self.logits.numel())).indices.tolist()  # same order for both
        raw_labels, raw_positions = self._labels(top), self._labels_for_positions()
        labels = [plotly_text(label) for label in raw_labels]  # as plotly draws them literally
        kept = int((processed > 0).sum())
        layers = len(self.past_key_values) if self.past_key_values is not None else 0
        self._kv_html.value = styled(f'<div class="hfx-kv">{escape(self._kv_summary())}</div>')
        bars, gap, grid = 300, 170, max(110, 28 * layers + 30)  # pixel heights of the two plots and between
        plot = bars + gap + grid
        with self.figure.batch_update():  # one message
            self.model_bars.update(x=labels, y=[round(float(model_probs[i]), 4) for i in top])
            self.processed_bars.update(x=labels, y=[round(float(processed[i]), 4) for i in top])
            positions = [plotly_text(label) for label in raw_positions]
            self.cache_view.update(z=[list(self.cache_added_at) for _ in range(layers)], x=positions,
                                   y=list(range(layers)))
            layout = self.figure.layout
            # a label per cached position until they would overlap (hover names them): plotly.js
            # measures and places every label again on each redraw
            layout.xaxis2.showticklabels = layout.xaxis2.automargin = len(self.cache_added_at) <= TICK_LABELS_MAX
            layout.xaxis.update(tickvals=labels, ticktext=[tick_label(label) for label in raw_labels])
            layout.xaxis2.update(tickvals=positions, ticktext=[tick_label(label) for label in raw_positions])
            steps, room = max(self.cache_added_at) + 1, max(2, grid // COLORBAR_TICK_PX)  # tick labels that fit
            self.cache_view.colorbar.dtick = max(1, math.ceil(steps / room))
            layout.height = plot + layout.margin.t + layout.margin.b
            layout.yaxis.domain = [(grid + gap) / plot, 1]
            layout.yaxis2.domain = [0, grid / plot]
            self.cache_view.colorbar.len = grid / plot
            layout.annotations[0].text = (
                f"next token after {len(self.ids)} tokens: {kept} of {self.logits.numel()} tokens can be picked"
            )
            layout.annotations[1].text = (
                f"KV cache: {len(self.cache_added_at)} positions × {layers} layers (colour: the step that added it)"
            )
            layout.annotations[1].y = grid / plot

    def _labels_for_positions(self) -> list[str]:
        cached = self.ids[: len(self.cache_added_at)]
        return [f"{position} {self._token_text(token_id)!r}" for position, token_id in enumerate(cached)]

    def _figures(self) -> list:
        return [self.figure]

    # -- export --------------------------------------------------------------------------------
    def _html_sections(self) -> list:
        sections = [styled("")]
        if self.notice.message:
            sections.append(self.notice.widget.value)
        if self.logits is None:
            return sections
        sections += [self._text_html.value, self._kv_html.value, self.figure]
        return sections
