"""TokenizerDashboard: watch text turn into tokens as you type.

What it shows, for one tokenizer or several side by side on the same text:

- **chips**: one coloured box per token, with its id underneath; special tokens
  (``[CLS]``, ``<|endoftext|>``) in dark, WordPiece continuations (``##ing``) glued to the
  piece before them;
- **the source text**, each character coloured like the token that covers it (the
  tokenizer's ``offset_mapping``): spaces a token does not cover stay white;
- **counts**: characters, tokens, characters per token (the "compression" of a tokenizer);
- **BPE merges, step by step**: for a byte-pair-encoding tokenizer, pick a word and walk
  through the merges that build its tokens, from single characters (bytes) upwards, each
  step the pair with the lowest rank in the merges list.

>>> from hfexplain import AutoTokenizer                                # doctest: +SKIP
>>> from hfexplain.widgets import TokenizerDashboard                   # doctest: +SKIP
>>> TokenizerDashboard({"BERT": bert_tok, "GPT-2": gpt2_tok}, "Tokenizers split words.")  # doctest: +SKIP
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ._common import PALETTE, Dashboard, escape, guarded, ipywidgets, styled

# Beyond this many tokens the chips would make a very long page: the rest is counted, not drawn.
MAX_CHIPS = 1000


@dataclass
class TokenizedText:
    """One tokenizer's view of one text (what a panel draws).

    ``offsets[i]`` is ``(start, end)``: the characters of the source text token ``i`` covers
    (``(0, 0)`` for special tokens); ``None`` when the tokenizer cannot say.
    """

    text: str
    ids: list[int]
    tokens: list[str]
    special: list[bool]
    offsets: list[tuple[int, int]] | None
    continuation_prefix: str | None = None  # "##" for WordPiece

    @property
    def num_special(self) -> int:
        return sum(self.special)

    @property
    def chars_per_token(self) -> float | None:
        """Characters of text per (non-special) token; ``None`` when there are none."""
        ordinary = len(self.ids) - self.num_special
        return len(self.text) / ordinary if ordinary else None

    def is_continuation(self, index: int) -> bool:
        prefix = self.continuation_prefix
        token = self.tokens[index]
        return bool(prefix) and not self.special[index] and token.startswith(prefix) and token != prefix


@dataclass
class MergeStep:
    """One step of byte-pair encoding for one word.

    ``symbols`` are the pieces after this step; ``merged`` the pair joined to get here
    (``None`` for the starting characters), ``rank`` its line in the merges list (lower
    merges first), ``position`` the index of the new symbol in ``symbols``.
    """

    symbols: list[str]
    merged: tuple[str, str] | None = None
    rank: int | None = None
    position: int | None = None


@dataclass
class BPEModel:
    """The parts of a ``tokenizers.models.BPE`` the step-through needs, read from its JSON."""

    ranks: dict[tuple[str, str], int]
    vocab: dict[str, int]
    continuing_subword_prefix: str = ""
    end_of_word_suffix: str = ""
    unk_token: str | None = None
    byte_fallback: bool = False
    ignore_merges: bool = False
    notes: list[str] = field(default_factory=list)


def _backend_of(tokenizer):
    """The ``tokenizers.Tokenizer`` under a tokenizer object, or ``None``."""
    from tokenizers import Tokenizer as BackendTokenizer

    if isinstance(tokenizer, BackendTokenizer):
        return tokenizer
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return backend if isinstance(backend, BackendTokenizer) else None


def read_bpe_model(backend) -> BPEModel:
    """Read merges, vocabulary and options of a BPE backend (``tokenizers.Tokenizer``).

    The Python ``tokenizers.models.BPE`` object does not expose its merges, but the
    tokenizer's JSON (what ``tokenizer.json`` holds) does: ``model.merges`` is a list of
    pairs, ``["Ġ", "t"]`` (or ``"Ġ t"`` in older files), and a pair's index is its rank.
    """
    model = json.loads(backend.to_str())["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"the tokenizer's model is {model.get('type')}, not BPE: it has no merges to step through.")
    ranks = {}
    for rank, merge in enumerate(model["merges"]):
        pair = tuple(merge.split(" ", 1)) if isinstance(merge, str) else tuple(merge)
        ranks.setdefault(pair, rank)
    notes = []
    if model.get("dropout"):
        notes.append(f"this tokenizer uses BPE dropout ({model['dropout']}): it skips merges at random; the steps show it without dropout.")
    return BPEModel(
        ranks=ranks,
        vocab=model["vocab"],
        continuing_subword_prefix=model.get("continuing_subword_prefix") or "",
        end_of_word_suffix=model.get("end_of_word_suffix") or "",
        unk_token=model.get("unk_token"),
        byte_fallback=bool(model.get("byte_fallback")),
        ignore_merges=bool(model.get("ignore_merges")),
        notes=notes,
    )


def bpe_merge_steps(bpe: BPEModel, word: str) -> list[MergeStep]:
    """Byte-pair encoding of one pre-tokenized word, one merge per step.

    Start from the word's characters (for byte-level BPE each character stands for a
    byte: ``Ġ`` is the space). Then, while some neighbouring pair is in the merges list,
    join the pair with the lowest rank (the leftmost one on a tie). What is left are the
    tokens. This is what ``tokenizers`` does in Rust with a priority queue.
    """
    if bpe.ignore_merges and word in bpe.vocab:
        return [MergeStep(symbols=[word])]
    prefix, suffix = bpe.continuing_subword_prefix, bpe.end_of_word_suffix
    symbols: list[str] = []
    for index, char in enumerate(word):
        symbol = (prefix if index > 0 else "") + char + (suffix if index == len(word) - 1 else "")
        if symbol in bpe.vocab:
            symbols.append(symbol)
        elif bpe.byte_fallback:
            symbols.extend(f"<0x{byte:02X}>" for byte in char.encode("utf-8"))
        elif bpe.unk_token is not None:
            symbols.append(bpe.unk_token)
        else:
            symbols.append(symbol)  # the real tokenizer drops it; keep it visible here
    steps = [MergeStep(symbols=list(symbols))]
    while len(symbols) > 1:
        best = None  # (rank, position)
        for position in range(len(symbols) - 1):
            rank = bpe.ranks.get((symbols[position], symbols[position + 1]))
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, position)
        if best is None:
            break
        rank, position = best
        left, right = symbols[position], symbols[position + 1]
        joined = left + (right[len(prefix):] if prefix and right.startswith(prefix) else right)
        symbols = symbols[:position] + [joined] + symbols[position + 2:]
        steps.append(MergeStep(symbols=list(symbols), merged=(left, right), rank=rank, position=position))
    return steps


class _TokenizerView:
    """Adapts any tokenizer to ``tokenize(text) -> TokenizedText``.

    Takes an hfexplain ``Tokenizer``, a transformers tokenizer, a bare
    ``tokenizers.Tokenizer``, or anything callable as ``tok(text)`` that returns
    ``input_ids`` (offsets are then optional).
    """

    def __init__(self, tokenizer, name: str):
        from tokenizers import Tokenizer as BackendTokenizer

        if isinstance(tokenizer, BackendTokenizer):  # wrap it: our Tokenizer copies it and switches padding off
            from hfexplain.tokenization import Tokenizer

            tokenizer = Tokenizer(tokenizer_object=tokenizer)
        if not callable(tokenizer):
            raise TypeError(
                f"tokenizer {name!r} is a {type(tokenizer).__name__}, which cannot tokenize: pass a tokenizer "
                "(hfexplain.AutoTokenizer.from_pretrained(...), a transformers tokenizer or a tokenizers.Tokenizer)."
            )
        input_names = list(getattr(tokenizer, "model_input_names", None) or ["input_ids"])
        if "input_ids" not in input_names:  # an image processor or feature extractor: it makes no tokens
            raise TypeError(
                f"tokenizer {name!r} is a {type(tokenizer).__name__}, which makes {input_names}, not token ids: "
                "pass a tokenizer (a processor's is processor.tokenizer)."
            )
        self.tokenizer = tokenizer
        self.name = name
        self.backend = _backend_of(tokenizer)
        self.model_type = type(self.backend.model).__name__ if self.backend is not None else None
        prefix = getattr(self.backend.model, "continuing_subword_prefix", None) if self.model_type == "WordPiece" else None
        self.continuation_prefix = prefix or None
        self.has_offsets = True
        self._bpe: BPEModel | None = None

    @property
    def max_length(self) -> int | None:
        length = getattr(self.tokenizer, "model_max_length", None)
        return int(length) if isinstance(length, int) and length < 10**20 else None

    def tokenize(self, text: str) -> TokenizedText:
        with warnings.catch_warnings():  # "longer than model_max_length": we show our own notice
            warnings.simplefilter("ignore")
            encoding = None
            if self.has_offsets:
                try:
                    encoding = self.tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True)
                    if encoding.get("offset_mapping") is None:
                        raise KeyError("offset_mapping")
                except (NotImplementedError, TypeError, ValueError, KeyError):
                    self.has_offsets = False  # e.g. a Python ("slow") tokenizer: no offsets
            if encoding is None:
                encoding = self.tokenizer(text)
        ids = [int(index) for index in _flat(encoding["input_ids"])]
        if hasattr(self.tokenizer, "convert_ids_to_tokens"):
            tokens = [str(token) for token in self.tokenizer.convert_ids_to_tokens(ids)]
        else:
            tokens = [str(index) for index in ids]
        special_mask = encoding.get("special_tokens_mask")
        if special_mask is not None:
            special = [bool(value) for value in _flat(special_mask)]
        else:
            special_ids = set(getattr(self.tokenizer, "all_special_ids", ()) or ())
            special = [index in special_ids for index in ids]
        offsets = None
        if self.has_offsets:
            offsets = [(int(start), int(end)) for start, end in _flat_pairs(encoding["offset_mapping"])]
        return TokenizedText(text, ids, tokens, special, offsets, self.continuation_prefix)

    # -- BPE -----------------------------------------------------------------------------------
    @property
    def is_bpe(self) -> bool:
        return self.model_type == "BPE"

    def bpe(self) -> BPEModel:
        if self._bpe is None:
            self._bpe = read_bpe_model(self.backend)
        return self._bpe

    def words(self, text: str) -> list[str]:
        """The pre-tokenized words of ``text`` (what BPE runs on), in order, without repeats."""
        normalized = self.backend.normalizer.normalize_str(text) if self.backend.normalizer is not None else text
        if self.backend.pre_tokenizer is not None:
            pieces = [piece for piece, _ in self.backend.pre_tokenizer.pre_tokenize_str(normalized)]
        else:
            pieces = [normalized] if normalized else []
        return list(dict.fromkeys(piece for piece in pieces if piece))


def _flat(values):
    """One row of a tokenizer output: a list, a tensor, or a batch of one."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    values = list(values)
    if len(values) == 1 and isinstance(values[0], list):
        return values[0]
    return values


def _flat_pairs(values):
    """The offsets of one row: a list of (start, end), possibly inside a batch of one."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    values = list(values)
    if len(values) == 1 and isinstance(values[0], list) and values[0] and isinstance(values[0][0], list | tuple):
        return values[0]
    return values


def _default_name(tokenizer, index: int) -> str:
    path = str(getattr(tokenizer, "name_or_path", "") or "")
    name = path.rstrip("/").split("/")[-1]
    if name in ("", "model"):  # all-MiniLM's package folder is called "model"
        parts = [part for part in path.rstrip("/").split("/") if part]
        name = parts[-2] if len(parts) > 1 and name == "model" else ""
    return name or f"tokenizer {index}"


def chips_html(tokenized: TokenizedText, limit: int = MAX_CHIPS) -> str:
    """Coloured token chips, id underneath; special and continuation tokens marked."""
    parts = ['<div class="hfx-chips">']
    for index, (token_id, token) in enumerate(zip(tokenized.ids[:limit], tokenized.tokens[:limit])):
        classes = ["hfx-chip"]
        label = escape(token)
        if tokenized.special[index]:
            classes.append("hfx-special")
            kind = "special token"
        elif tokenized.is_continuation(index):
            classes.append("hfx-cont")
            prefix = tokenized.continuation_prefix
            label = f'<span class="hfx-prefix">{escape(prefix)}</span>{escape(token[len(prefix):])}'
            kind = f"continues the word before ({prefix})"
        else:
            kind = "token"
        where = ""
        if tokenized.offsets is not None and not tokenized.special[index]:
            start, end = tokenized.offsets[index]
            where = f" · characters {start}-{end}: {tokenized.text[start:end]!r}"
        title = escape(f"#{index} {kind} · id {token_id}{where}")
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<span class="{" ".join(classes)}" style="background:{colour}" title="{title}" '
            f'data-token-index="{index}">{label}<sub>{token_id}</sub></span>'
        )
    if len(tokenized.ids) > limit:
        parts.append(f'<span class="hfx-muted"> … and {len(tokenized.ids) - limit} more tokens</span>')
    parts.append("</div>")
    return "".join(parts)


def source_html(tokenized: TokenizedText, limit: int = MAX_CHIPS) -> str:
    """The source text, each character on the colour of the token that covers it."""
    text = tokenized.text
    if tokenized.offsets is None:
        return f'<div class="hfx-source">{escape(text)}</div>'
    owner = [None] * len(text)  # character -> index of the first token covering it
    for index, (start, end) in enumerate(tokenized.offsets[:limit]):
        if tokenized.special[index]:
            continue
        for position in range(start, min(end, len(text))):
            if owner[position] is None:
                owner[position] = index
    parts = ['<div class="hfx-source">']
    position = 0
    while position < len(text):
        index = owner[position]
        run_end = position + 1
        while run_end < len(text) and owner[run_end] == index:
            run_end += 1
        piece = escape(text[position:run_end])
        if index is None:
            parts.append(piece)
        else:
            colour = PALETTE[index % len(PALETTE)]
            title = escape(f"token #{index}: {tokenized.tokens[index]} (id {tokenized.ids[index]})")
            parts.append(f'<span style="background:{colour}" title="{title}" data-token-index="{index}">{piece}</span>')
        position = run_end
    parts.append("</div>")
    return "".join(parts)


def counts_text(tokenized: TokenizedText, short: bool = False) -> str:
    """"36 characters · 11 tokens (2 special) · 3.27 characters per token" (``short``: "... · 3.27 chars/token",
    to stay on one line in a narrow panel)."""
    per_token = tokenized.chars_per_token
    unit = "chars/token" if short else "characters per token"
    ratio = f"{per_token:.2f} {unit}" if per_token is not None else f"no {unit} yet"
    return (
        f"{len(tokenized.text)} characters · {len(tokenized.ids)} tokens "
        f"({tokenized.num_special} special) · {ratio}"
    )


class TokenizerDashboard(Dashboard):
    """Tokenize a text live, with one panel per tokenizer side by side.

    Args:
        tokenizers: one tokenizer, a list of them, or a dict ``{name: tokenizer}``.
        text: the starting text (edit it in the text box, or with ``set_text``).
        names: panel titles for a list of tokenizers (default: their folder names).

    Attributes to drive it from Python: ``text_box`` (the ``Textarea``), ``merge_word``
    and ``merge_step`` (the BPE step-through controls), ``results`` (the
    ``TokenizedText`` of each panel, in order) and ``merge_steps`` (the steps shown).
    """

    title = "Tokenizer dashboard"

    def __init__(self, tokenizers, text: str = "", *, names: Sequence[str] | None = None):
        super().__init__()
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}.")
        if isinstance(tokenizers, Mapping):
            named = list(tokenizers.items())
        else:
            if not isinstance(tokenizers, list | tuple):
                tokenizers = [tokenizers]
            if not tokenizers:
                raise ValueError("TokenizerDashboard needs at least one tokenizer.")
            if names is not None and len(names) != len(tokenizers):
                raise ValueError(f"got {len(names)} names for {len(tokenizers)} tokenizers: pass one name per tokenizer.")
            named = [
                (names[index] if names is not None else _default_name(tok, index), tok)
                for index, tok in enumerate(tokenizers)
            ]
        self.views = [_TokenizerView(tok, str(name)) for name, tok in named]
        self.results: list[TokenizedText] = []
        self.merge_steps: list[MergeStep] = []
        self._quiet = False  # True while the dashboard itself sets controls

        self.text_box = ipywidgets.Textarea(
            value=text,
            placeholder="Type some text…",
            continuous_update=True,
            layout=ipywidgets.Layout(width="100%", height="70px"),
        )
        self.text_box.add_class("hfx-tokenizer-input")
        self._panels = []  # (title, chips, source) HTML widgets of each tokenizer
        panel_boxes = []
        for view in self.views:
            parts = (ipywidgets.HTML(), ipywidgets.HTML(), ipywidgets.HTML())
            self._panels.append(parts)
            box = ipywidgets.VBox(
                list(parts), layout=ipywidgets.Layout(flex="1 1 0", min_width="260px", margin="0 8px 0 0")
            )
            box.add_class("hfx-tokenizer-panel")
            panel_boxes.append(box)
        panels = ipywidgets.Box(
            panel_boxes, layout=ipywidgets.Layout(display="flex", flex_flow="row wrap", width="100%")
        )

        # BPE step-through: only for tokenizers whose model is BPE.
        self._bpe_views = [view for view in self.views if view.is_bpe]
        self.merge_tokenizer = ipywidgets.Dropdown(
            options=[(view.name, index) for index, view in enumerate(self._bpe_views)],
            description="tokenizer",
        )
        self.merge_word = ipywidgets.Dropdown(options=[], description="word")
        self.merge_step = ipywidgets.IntSlider(value=0, min=0, max=0, description="merge step")
        self.merge_step.add_class("hfx-merge-slider")
        self._merge_html = ipywidgets.HTML()
        merge_controls = [self.merge_word, self.merge_step]
        if len(self._bpe_views) > 1:
            merge_controls.insert(0, self.merge_tokenizer)
        self._merge_box = ipywidgets.VBox(
            [
                ipywidgets.HTML(styled('<div class="hfx-panel-title">BPE merges, one step at a time</div>')),
                ipywidgets.HBox(merge_controls),
                self._merge_html,
            ],
            layout=ipywidgets.Layout(display="flex" if self._bpe_views else "none"),
        )

        self._root = ipywidgets.VBox([self.text_box, self.notice.widget, panels, self._merge_box])
        self._root.add_class("hfx-tokenizer-dashboard")

        self.text_box.observe(self._on_text, names="value")
        self.merge_tokenizer.observe(self._on_merge_tokenizer, names="value")
        self.merge_word.observe(self._on_merge_word, names="value")
        self.merge_step.observe(self._on_merge_step, names="value")
        self._refresh()

    # -- public API ----------------------------------------------------------------------------
    def set_text(self, text: str) -> None:
        """Replace the text (as if typed): every panel updates."""
        self.text_box.value = text

    @property
    def current_text(self) -> str:
        return self.text_box.value

    def text(self) -> str:
        lines = [f"TokenizerDashboard: {len(self.current_text)} characters: {self.current_text[:200]!r}"]
        if self.notice.message:
            lines.append(f"note: {self.notice.message}")
        for view, result in zip(self.views, self.results):
            lines.append(f"[{view.name}] {counts_text(result)}")
            shown = []
            for index in range(min(len(result.ids), 60)):
                mark = "*" if result.special[index] else ""
                where = ""
                if result.offsets is not None and not result.special[index]:
                    where = "@{}:{}".format(*result.offsets[index])
                shown.append(f"{result.tokens[index]}{mark}({result.ids[index]}{where})")
            more = f" … +{len(result.ids) - 60}" if len(result.ids) > 60 else ""
            lines.append("  " + " ".join(shown) + more)
        if self.merge_steps:
            lines.append(f"BPE merges of {self.merge_word.value!r}:")
            for number, step in enumerate(self.merge_steps[: self.merge_step.value + 1]):
                how = "start" if step.merged is None else f"merge {step.merged[0]!r}+{step.merged[1]!r} (rank {step.rank})"
                lines.append(f"  {number:>2} {how}: {' '.join(step.symbols)}")
        return "\n".join(lines)

    # -- callbacks -----------------------------------------------------------------------------
    @guarded
    def _on_text(self, change) -> None:
        self._refresh()

    @guarded
    def _on_merge_tokenizer(self, change) -> None:
        if not self._quiet:
            self._refresh_words()

    @guarded
    def _on_merge_word(self, change) -> None:
        if not self._quiet:
            self._refresh_merges(keep_step=False)

    @guarded
    def _on_merge_step(self, change) -> None:
        if not self._quiet:
            self._draw_merges()

    # -- drawing -------------------------------------------------------------------------------
    def _refresh(self) -> None:
        text = self.current_text
        notes = []
        self.results = []
        for view, (title, chips, source) in zip(self.views, self._panels):
            result = view.tokenize(text)
            self.results.append(result)
            badge = f" · {view.model_type}" if view.model_type else ""
            title.value = styled(
                f'<div class="hfx-panel-title">{escape(view.name)}<span class="hfx-muted">{escape(badge)}</span></div>'
                f'<div class="hfx-counts hfx-token-counts" title="{escape(counts_text(result))}">'
                f'{escape(counts_text(result, short=True))}</div>'
            )
            chips.value = styled(chips_html(result))
            legend = ""
            if result.continuation_prefix and any(result.is_continuation(i) for i in range(len(result.ids))):
                legend = (
                    f'<div class="hfx-muted">{escape(result.continuation_prefix)} marks a piece that continues the '
                    "word before it (WordPiece): dashed left edge.</div>"
                )
            source.value = styled(legend + source_html(result))
            if not view.has_offsets:
                notes.append(
                    f"{view.name}: this tokenizer gives no character offsets (offset_mapping), so the source text "
                    "is not highlighted. A fast tokenizer (tokenizer.json, e.g. hfexplain.AutoTokenizer) has them."
                )
            limit = view.max_length
            if limit is not None and len(result.ids) > limit:
                notes.append(
                    f"{view.name}: {len(result.ids)} tokens, more than this tokenizer's model_max_length ({limit}): "
                    f"a model would need tokenizer(text, truncation=True) and would see only the first {limit}."
                )
            if len(result.ids) > MAX_CHIPS:
                notes.append(f"{view.name}: showing the first {MAX_CHIPS} of {len(result.ids)} tokens.")
        if not text.strip():
            notes.insert(0, "Type some text above to see it tokenized." + (" (Only special tokens so far.)" if any(r.ids for r in self.results) else ""))
        if notes:
            self.notice.show(" ".join(notes), kind="warning" if text.strip() else "info")
        else:
            self.notice.clear()
        self._refresh_words()

    def _merge_view(self) -> _TokenizerView | None:
        if not self._bpe_views:
            return None
        return self._bpe_views[self.merge_tokenizer.value or 0]

    def _refresh_words(self) -> None:
        view = self._merge_view()
        if view is None:
            return
        words = view.words(self.current_text)
        previous = self.merge_word.value
        self._quiet = True  # setting options fires observers: we redraw once, below
        try:
            self.merge_word.options = words
            if previous in words:
                self.merge_word.value = previous
            elif words:
                self.merge_word.value = max(words, key=len)  # the longest word has the most merges to show
            else:
                self.merge_word.value = None
        finally:
            self._quiet = False
        self._refresh_merges(keep_step=previous in words)

    def _refresh_merges(self, keep_step: bool) -> None:
        view = self._merge_view()
        word = self.merge_word.value
        self.merge_steps = bpe_merge_steps(view.bpe(), word) if (view is not None and word) else []
        last = max(len(self.merge_steps) - 1, 0)
        step = min(self.merge_step.value, last) if keep_step else last
        self._quiet = True
        try:
            self.merge_step.max = last
            self.merge_step.value = step
        finally:
            self._quiet = False
        self._draw_merges()

    def _draw_merges(self) -> None:
        if not self.merge_steps:
            self._merge_html.value = styled('<div class="hfx-muted">Type a word to see its merges.</div>')
            return
        view = self._merge_view()
        current = self.merge_step.value
        rows = []
        for number, step in enumerate(self.merge_steps[: current + 1]):
            chips = []
            for position, symbol in enumerate(step.symbols):
                new = " hfx-new" if number == current and position == step.position else ""
                colour = PALETTE[position % len(PALETTE)]
                chips.append(f'<span class="hfx-chip{new}" style="background:{colour}">{escape(symbol)}</span>')
            if step.merged is None:
                how = "characters (bytes) of the word"
            else:
                how = f"merge {escape(step.merged[0])} + {escape(step.merged[1])} (rank {step.rank})"
            weight = "bold" if number == current else "normal"
            rows.append(
                f'<div class="hfx-merge-step" style="font-weight:{weight}">{number:>2}. {"".join(chips)} '
                f'<span class="hfx-muted">{how}</span></div>'
            )
        if current == len(self.merge_steps) - 1:
            rows.append('<div class="hfx-muted">No pair left in the merges list: these are the tokens.</div>')
        notes = "".join(f'<div class="hfx-muted">{escape(note)}</div>' for note in view.bpe().notes)
        hint = '<div class="hfx-muted">Ġ stands for a space, Ċ for a newline (byte-level BPE).</div>'
        self._merge_html.value = styled(notes + "".join(rows) + hint)

    def _html_sections(self) -> list:
        sections = [styled("")]
        if self.notice.message:
            sections.append(self.notice.widget.value)
        sections.append(f'<div class="hfx-source">{escape(self.current_text)}</div>')
        for view, result in zip(self.views, self.results):
            sections.append(
                f'<div class="hfx-panel-title">{escape(view.name)}</div>'
                f'<div class="hfx-counts">{escape(counts_text(result))}</div>'
                + chips_html(result)
                + source_html(result)
            )
        if self.merge_steps:
            sections.append(
                f'<div class="hfx-panel-title">BPE merges of {escape(repr(self.merge_word.value))}</div>'
                + self._merge_html.value
            )
        return sections
