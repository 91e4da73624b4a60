"""AttentionDashboard: where each token looks, for any model that speaks the hook vocabulary.

One forward pass with ``model.run_with_cache(names_filter="pattern")`` keeps the attention
pattern of every layer, ``(heads, query, key)`` each: row *q* says how token *q* spreads its
attention over the keys (the row sums to 1). The dashboard draws:

- **the pattern** of one layer and head as a heatmap, with the tokens on both axes;
- **a head view**: tokens in two columns, each query (left) linked to the keys (right) it
  attends to, the stronger the link the darker the line (only each token's strongest links,
  so it stays readable and light at 512 tokens);
- **a model view**: every layer x head at once as small heatmaps; click one to zoom in.

Hovering a cell of the heatmap (or a token of the head view) highlights its row and column
and that token's links. Layer and head sliders pick what is shown.

Only what is on screen goes to the browser: one head's pattern, rounded to 3 decimals and
sent as one binary block, and the model view shrunk to small thumbnails (each cell the
strongest attention in its block). The full ``(layers, heads, seq, seq)`` tensor stays in
Python (``.patterns``). All three views live in one plotly figure, so a change of layer or
head is one message.
The same code serves encoders (BERT: every token sees every token) and decoders
(GPT-2, LLaMA: a causal triangle), because every family names its pattern hook ``pattern``.

A model with several stacks names which one to show. For an encoder-decoder (T5, BART, the
tests' toy seq2seq) a dropdown offers each stack's self-attention and the decoder's
cross-attention (``cross_pattern``: decoder queries down, encoder keys across); the decoder
reads ``decoder_text`` (default: the same text) after its start token. One forward pass keeps
all of them, so switching costs no rerun. ``attention_patterns(..., stack=)`` is the same
choice from Python, and leaving it out on such a model is an error naming the stacks.

An encoder-decoder whose encoder does not read text (Whisper reads a log-mel spectrogram) gets
its encoder input ready-made: ``inputs={"input_features": ...}`` from its processor; the text box
then edits the decoder's text, and the encoder's positions are labelled ``frame`` (audio) or
``patch`` (images). ``encoder_positions=`` keeps only the first positions on screen (Whisper pads
every clip to 1500 frames of 20 ms: pass the clip's own length); kept cross-attention rows then no
longer sum to 1, the rest of their weight is on the positions left out.

**Images.** A vision transformer (ViT, DeiT, DINOv2, CLIP's vision tower) reads an image as a
sequence of patch tokens: the leading learned vectors (``[CLS]``; DeiT adds its distillation
token ``[DIST]``) and then one token per patch, row by row. Give the dashboard the model's image
processor and an image (``AttentionDashboard(vit, image_processor, image)``) and the same views
show patch x patch attention, plus **the picture**: one query token's attention over the patch
grid, drawn over the image exactly as the model saw it (resized, cropped; the processor's
normalisation undone). A query slider picks the query (``[CLS]`` by default); clicking a patch
of the picture picks that patch. Only that query's row goes to the browser on a change (the
grid's few hundred numbers, rounded to 5 decimals: spread over 256 patches, weights are ~0.004);
the picture itself is sent once per image, as a PNG. CLIP (``CLIPModel``: a text and an image,
``AttentionDashboard(clip, processor, "a photo of a cat", image=cat)``) offers both towers in the
stack dropdown: the text tower as the usual token x token view, the vision tower with the picture.
"""
from __future__ import annotations

import base64
import inspect
import io
import warnings

import numpy as np
import torch

from ._browser import RedrawPacer, from_browser
from ._common import (ENTER_HINT, Dashboard, SubmitText, escape, figure_widget, guarded, ipywidgets, plotly_text, styled,
                      heatmap_z)

# The head view draws, for each query, at most this many links, and none weaker than this.
HEAD_VIEW_TOP_K = 6
HEAD_VIEW_MIN_WEIGHT = 0.05
# Link weight bins -> (opacity, width): one plotly trace per bin instead of one line per link.
LINK_BINS = ((0.05, 0.2, 0.15, 1.0), (0.2, 0.4, 0.3, 1.5), (0.4, 0.7, 0.55, 2.5), (0.7, 1.01, 0.85, 3.5))
# Beyond this many tokens the head view hides the token text (hover still shows it).
HEAD_VIEW_MAX_LABELS = 100
# Beyond this many tokens the heatmap's axes carry no token labels (hover still shows them).
TICK_LABELS_MAX = 64
DECIMALS = 3
FIGURE_WIDTH = 960


# The cross-attention view of an encoder-decoder (not a stack: the decoder's cross_pattern hooks).
CROSS = "cross"
# How the encoder's positions are labelled when its input is not text (``inputs=``), by the model's main input.
ENCODER_POSITION_NAMES = {"input_features": "frame", "input_values": "frame", "pixel_values": "patch"}
# The picture's query map is sent with this many decimals (its weights are small: ~1 / patches).
GRID_DECIMALS = 5


def model_inputs(model) -> list[str]:
    """What the dashboard feeds ``model``: ``["input_ids"]`` (text), ``["pixel_values"]`` (a vision
    model) or both (a two-tower model such as CLIP, whose forward takes a text and an image)."""
    if getattr(model, "main_input_name", "input_ids") == "pixel_values":
        return ["pixel_values"]
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return ["input_ids"]
    return ["input_ids", "pixel_values"] if "pixel_values" in parameters and "input_ids" in parameters \
        else ["input_ids"]


def image_views(model) -> list:
    """The views that show an image's patches: every view of a vision model, CLIP's ``"vision"`` stack."""
    views = [view for view, _, _, _ in attention_views(model)]
    inputs = model_inputs(model)
    if inputs == ["pixel_values"]:
        return views
    return [view for view in views if view == "vision"] if "pixel_values" in inputs else []


def attention_views(model) -> list[tuple[str, str, str | None, str]]:
    """What the dashboard can show: ``(view, alias, stack, label)`` for each attention the model hooks.

    A single-stack model has one view (``None``); a multi-stack model one per stack with
    ``pattern`` hooks, in the order of the module tree, and ``"cross"`` where it has cross-attention.
    """
    if not model.hook_stacks():
        return [(None, "pattern", None, "self-attention")]
    points = model.hook_points().values()
    stacks = list(dict.fromkeys(point.stack for point in points if point.alias == "pattern"))
    views = [(stack, "pattern", stack, f"{stack} self-attention") for stack in stacks]
    cross = list(dict.fromkeys(point.stack for point in points if point.alias == "cross_pattern"))
    if cross:
        views.append((CROSS, "cross_pattern", cross[0], f"cross-attention: {cross[0]} queries × encoder keys"))
    return views


def model_support_problem(model, inputs=None) -> str | None:
    """Why ``model`` cannot feed the dashboard (``None`` when it can); ``inputs``: ready-made encoder inputs."""
    name = type(model).__name__
    main_input = getattr(model, "main_input_name", "input_ids")
    is_encoder_decoder = getattr(getattr(model, "config", None), "is_encoder_decoder", False)
    if main_input not in ("input_ids", "pixel_values") and not (inputs is not None and is_encoder_decoder):
        # the dashboard tokenizes text or runs an image processor (image=); audio needs its processor
        fix = ("pass them as inputs= (e.g. inputs=processor(audio, sampling_rate=16000, return_tensors='pt')) and "
               "the decoder's text as text" if is_encoder_decoder else
               "then call model.run_with_cache(**inputs) and read cache['pattern', layer] (add the stack for models "
               "with several)")
        return (
            f"{name} reads {main_input!r}, not token ids, and this dashboard feeds it text through a tokenizer (or "
            f"an image through an image processor). Run its feature extractor yourself, {fix}."
        )
    if not callable(getattr(model, "run_with_cache", None)) or not callable(getattr(model, "hook_points", None)):
        return (
            f"{name} has no hook points, so its attention patterns cannot be read. Load the checkpoint with "
            "hfexplain instead (hfexplain.AutoModel.from_pretrained(path)): every hfexplain family exposes "
            "its patterns as the 'pattern' hook."
        )
    if not any(point.alias == "pattern" for point in model.hook_points().values()):
        return (
            f"{name} has no attention hook points (alias 'pattern'), so there is no attention pattern to show. "
            "Give its attention layers a HookPoint('pattern', layer) on the softmax output, as the GPT-2, BERT "
            "and LLaMA files in hfexplain.models do."
        )
    stacks = model.hook_stacks()
    two_towers = model_inputs(model) == ["input_ids", "pixel_values"]
    if len(stacks) > 1 and not _is_encoder_decoder(model) and not two_towers:
        return (
            f"{name} has several stacks ({', '.join(map(repr, stacks))}) that read different inputs, and the "
            "dashboard does not know what to feed each: it shows one text or vision model, an encoder-decoder, or "
            "a text + image model (CLIP). For this one, read the patterns from run_with_cache: "
            "cache['pattern', layer, stack]."
        )
    return None


def _is_encoder_decoder(model) -> bool:
    return bool(getattr(getattr(model, "config", None), "is_encoder_decoder", False))


def max_positions(model, tokenizer, max_tokens: int | None = None) -> int | None:
    """The most tokens the model (and the tokenizer's model_max_length) take, or ``None``."""
    limits = []
    config = getattr(model, "config", None)
    config = getattr(config, "text_config", None) or config  # a two-tower model: its text tower's limit
    for field in ("max_position_embeddings", "n_positions"):
        value = getattr(config, field, None)
        if isinstance(value, int) and value > 0:
            limits.append(value)
            break
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tokenizer_limit, int) and 0 < tokenizer_limit < 10**20:
        limits.append(tokenizer_limit)
    if max_tokens is not None:
        limits.append(int(max_tokens))
    return min(limits) if limits else None


def tokenize_for_model(tokenizer, text: str, limit: int | None):
    """``(input_ids (1, s), attention_mask (1, s), tokens, full_length)`` with truncation to ``limit``."""
    with warnings.catch_warnings():  # "sequence longer than model_max_length": we say it ourselves
        warnings.simplefilter("ignore")
        full_length = len(tokenizer(text)["input_ids"])
        if limit is not None and full_length > limit:
            encoded = tokenizer(text, truncation=True, max_length=limit)
        else:
            encoded = tokenizer(text)
    ids = list(encoded["input_ids"])
    mask = list(encoded.get("attention_mask") or [1] * len(ids))
    tokens = [str(token) for token in tokenizer.convert_ids_to_tokens(ids)]
    return torch.tensor([ids]), torch.tensor([mask]), tokens, full_length


def decoder_inputs(model, tokenizer, text: str, limit: int | None):
    """An encoder-decoder's decoder input for ``text``: ``(ids (1, t), mask (1, t), tokens)``, starting
    with the model's ``decoder_start_token_id`` (as transformers' ``shift_tokens_right`` does)."""
    ids, mask, tokens, _ = tokenize_for_model(tokenizer, text, limit)
    start = getattr(model.config, "decoder_start_token_id", None)
    if start is not None and (not tokens or int(ids[0, 0]) != start):
        ids = torch.cat([torch.tensor([[start]]), ids], dim=1)  # (1, 1 + t)
        mask = torch.cat([torch.ones(1, 1, dtype=mask.dtype), mask], dim=1)
        tokens = [str(tokenizer.convert_ids_to_tokens([start])[0])] + tokens
        if limit is not None:
            ids, mask, tokens = ids[:, :limit], mask[:, :limit], tokens[:limit]
    return ids, mask, tokens


def all_attention_patterns(model, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                           decoder_input_ids: torch.Tensor | None = None, *, inputs: dict | None = None,
                           encoder_positions: int | None = None) -> dict:
    """Every view's patterns for one sequence, from one forward pass: ``{view: (layers, heads, q, k)}``, float32.

    Views as in :func:`attention_views`. The model runs in eval mode (no dropout) without
    gradients; only the pattern hooks are stored. ``inputs`` (a dict of encoder inputs, e.g.
    ``{"input_features": (1, 80, 3000)}``, or a vision model's ``{"pixel_values": (1, 3, h, w)}``)
    replaces ``input_ids`` and ``attention_mask``, or comes with them (CLIP reads both);
    ``encoder_positions`` keeps the first encoder positions (keys of the encoder's and the cross
    view, queries of the encoder's).
    """
    views = attention_views(model)
    extra = {}
    if _is_encoder_decoder(model):  # the decoder needs its input
        if decoder_input_ids is None:
            raise ValueError(f"{type(model).__name__} is an encoder-decoder: pass decoder_input_ids too.")
        extra = dict(decoder_input_ids=decoder_input_ids)
    encoder_inputs = {} if input_ids is None else dict(input_ids=input_ids, attention_mask=attention_mask)
    encoder_inputs.update(inputs or {})
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            _, cache = model.run_with_cache(**encoder_inputs, **extra,
                                            names_filter=sorted({alias for _, alias, _, _ in views}))
    finally:
        model.train(was_training)
    points = model.hook_points()
    decoder_stack = next((stack for view, _, stack, _ in views if view == CROSS), None)
    patterns = {}
    for view, alias, stack, _ in views:
        layers = sorted((point.layer, name) for name, point in points.items()
                        if point.alias == alias and point.stack == stack)
        pattern = torch.stack([cache[name][0].float() for _, name in layers])  # (layers, heads, q, k)
        if encoder_positions is not None and view != decoder_stack:  # the encoder's positions, cut
            keep = slice(0, encoder_positions)
            pattern = pattern[..., keep] if view == CROSS else pattern[..., keep, keep]  # (l, h, q, k')
        patterns[view] = pattern.contiguous()
    return patterns


def attention_patterns(model, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None, *,
                       stack: str | None = None, decoder_input_ids: torch.Tensor | None = None,
                       inputs: dict | None = None) -> torch.Tensor:
    """Every layer's attention pattern for one sequence: ``(layers, heads, q, k)``, float32.

    A model with several stacks needs ``stack``: one of its stacks, or ``"cross"`` for the
    decoder's cross-attention (q = decoder, k = encoder positions).
    """
    views = {view: label for view, _, _, label in attention_views(model)}
    if stack not in views:
        if None in views:
            raise ValueError(f"{type(model).__name__} has a single stack: call attention_patterns without stack=.")
        raise ValueError(
            f"{type(model).__name__} has several stacks: pass stack= one of "
            f"{', '.join(map(repr, views))} ({'; '.join(f'{v!r}: {label}' for v, label in views.items())})."
        )
    return all_attention_patterns(model, input_ids, attention_mask, decoder_input_ids, inputs=inputs)[stack]


def thumbnails(patterns: torch.Tensor, size: int) -> tuple[np.ndarray, int]:
    """The model view: all ``(layer, head)`` patterns shrunk to ``size x size`` and tiled.

    Each thumbnail cell is the *strongest* attention inside its block of query x key
    positions (max pooling), so thin structures (a diagonal, one column) stay visible.
    Tiles are separated by one empty (NaN) row and column. Returns the grid (rows follow
    layers, columns follow heads) and the tile pitch (``size + 1``).
    """
    layers, heads, queries, keys = patterns.shape
    size = min(size, queries, keys)
    pooled = torch.nn.functional.adaptive_max_pool2d(patterns.reshape(layers * heads, 1, queries, keys), size)
    pooled = pooled.reshape(layers, heads, size, size)  # (l, h, t, t)
    tiles = torch.full((layers, heads, size + 1, size + 1), float("nan"))
    tiles[:, :, :size, :size] = pooled
    grid = tiles.permute(0, 2, 1, 3).reshape(layers * (size + 1), heads * (size + 1))  # (l*(t+1), h*(t+1))
    return grid[:-1, :-1].double().numpy(), size + 1


def split_preprocessors(tokenizer, image_processor=None):
    """``(tokenizer, image_processor)`` from what was passed: a processor (CLIPProcessor) gives both, an
    image processor passed where the tokenizer goes is taken as the image processor."""
    from hfexplain.processing import ImageProcessingMixin, ProcessorMixin

    if isinstance(tokenizer, ProcessorMixin):
        image_processor = image_processor if image_processor is not None else getattr(tokenizer, "image_processor", None)
        tokenizer = getattr(tokenizer, "tokenizer", None)
    elif isinstance(tokenizer, ImageProcessingMixin):
        tokenizer, image_processor = None, tokenizer if image_processor is None else image_processor
    return tokenizer, image_processor


def picture_of(pixel_values: torch.Tensor, image_processor) -> np.ndarray:
    """The image as the model saw it: ``pixel_values`` (1, c, h, w) with the processor's normalisation and
    rescaling undone, as (h, w, 3) uint8 (grey repeated to three channels)."""
    values = pixel_values[0].double().numpy()  # (c, h, w)
    channels = values.shape[0]
    if getattr(image_processor, "do_normalize", False):
        mean = np.broadcast_to(np.asarray(image_processor.image_mean, dtype=np.float64), (channels,))
        std = np.broadcast_to(np.asarray(image_processor.image_std, dtype=np.float64), (channels,))
        values = values * std[:, None, None] + mean[:, None, None]
    if getattr(image_processor, "do_rescale", False):
        values = values / image_processor.rescale_factor
    elif values.max() <= 1.0:  # floats in [0, 1] that were never rescaled
        values = values * 255.0
    values = np.clip(np.round(values), 0, 255).astype(np.uint8).transpose(1, 2, 0)  # (h, w, c)
    return np.repeat(values, 3, axis=2) if channels == 1 else values[..., :3]


def png_data_uri(picture: np.ndarray) -> str:
    """An (h, w, 3) uint8 picture as a ``data:image/png;base64,...`` URI (what plotly's Image trace shows)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def patch_tokens(model, tokens: int, rows: int, columns: int) -> list[str]:
    """Names of a vision transformer's positions: the leading learned vectors, then ``(row,col)`` per patch."""
    leading = tokens - rows * columns
    if leading < 0:
        raise ValueError(f"the pattern has {tokens} positions, fewer than the {rows}x{columns} patch grid.")
    has_distillation = any(hasattr(module, "distillation_token") for module in model.modules())
    names = ["[CLS]"] + (["[DIST]"] if has_distillation else [])
    names += [f"[REG{index}]" for index in range(leading - len(names))]  # register tokens, if any
    return names[:leading] + [f"({row},{column})" for row in range(rows) for column in range(columns)]


class AttentionDashboard(Dashboard):
    """Attention patterns of ``model`` on ``text``, one layer and head at a time.

    Args:
        model: an hfexplain model (any family with ``pattern`` hook points: GPT-2, BERT, LLaMA...).
        tokenizer: its tokenizer.
        text: the text to look at (edit it in the text box and press Enter to rerun; Shift+Enter types a new line).
        layer, head: where to start.
        max_tokens: show at most this many tokens (default: what the model takes).
        thumbnail: side of each model-view thumbnail, in cells.
        stack: for a model with several stacks, what to show first: a stack (``"encoder"``,
            ``"decoder"``, CLIP's ``"text"`` / ``"vision"``) or ``"cross"`` (default: the first stack).
        decoder_text: an encoder-decoder's decoder input (default: ``text``).
        inputs: an encoder-decoder's encoder inputs, ready-made by its processor, for a model that does
            not read text (Whisper: ``{"input_features": (1, 80, 3000)}``); ``text`` is then the
            decoder's text (the text box edits it).
        encoder_positions: with ``inputs``, show only the first this many encoder positions.
        image: for a model that reads images: a path, a PIL image or an array (for a vision-only
            model it may also come third, in place of ``text``). ``tokenizer`` is then its image
            processor (or a processor holding a tokenizer and an image processor, for CLIP);
            ``image_processor=`` says it by name.
        query: the query token whose attention the picture shows (default 0: ``[CLS]``).

    Drive it from Python: ``layer_slider.value``, ``head_slider.value``, ``stack_dropdown.value``,
    ``query_slider.value``, ``set_text(...)``, ``set_image(...)``, ``highlight(query, key)``,
    ``select(layer, head)``. On an image: ``grid`` (the patch grid's rows and columns),
    ``patch_size``, ``picture`` (the (h, w, 3) image as the model saw it), ``query_map()`` (the
    query's attention over the grid) and the figure's traces ``picture_trace`` (the image) and
    ``picture_heatmap`` (the grid over it). Read ``patterns`` (all
    layers of the shown stack, a tensor), ``tokens`` (the text's), ``decoder_tokens``,
    ``query_labels`` / ``key_labels`` (the shown axes), ``figure`` (the one plotly FigureWidget)
    and its traces ``heatmap``, ``link_traces``, ``query_tokens`` / ``key_tokens``,
    ``query_links`` / ``key_links``, ``model_view``.
    """

    title = "Attention dashboard"

    def __init__(
        self,
        model,
        tokenizer=None,
        text="",
        *,
        layer: int = 0,
        head: int = 0,
        max_tokens: int | None = None,
        thumbnail: int = 24,
        stack: str | None = None,
        decoder_text: str | None = None,
        inputs: dict | None = None,
        encoder_positions: int | None = None,
        image=None,
        image_processor=None,
        query: int = 0,
    ):
        super().__init__()
        tokenizer, image_processor = split_preprocessors(tokenizer, image_processor)
        reads = model_inputs(model) if isinstance(model, torch.nn.Module) else ["input_ids"]
        if reads == ["pixel_values"] and not isinstance(text, str) and image is None:
            text, image = "", text  # a vision model: the input comes third, as a text would
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}.")
        if decoder_text is not None and not isinstance(decoder_text, str):
            raise TypeError(f"decoder_text must be a str, got {type(decoder_text).__name__}.")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}.")
        if inputs is not None:
            if not hasattr(inputs, "keys") or not inputs:
                raise TypeError(f"inputs must be a dict of the encoder's tensors (e.g. what the processor returns, "
                                f"{{'input_features': ...}}), got {type(inputs).__name__}.")
            if not getattr(getattr(model, "config", None), "is_encoder_decoder", False):
                raise ValueError(f"inputs= is for an encoder-decoder whose encoder reads features (Whisper); "
                                 f"{type(model).__name__} is not one: give it text.")
            main_input = getattr(model, "main_input_name", "input_ids")
            if main_input not in inputs:
                raise ValueError(f"inputs has {sorted(inputs)} but {type(model).__name__} reads {main_input!r}: "
                                 "pass what its processor returns.")
            if len(inputs[main_input]) != 1:
                raise ValueError(f"inputs[{main_input!r}] holds {len(inputs[main_input])} examples; the dashboard "
                                 f"shows one: pass inputs[{main_input!r}][i:i + 1].")
            if decoder_text is not None:
                if text:
                    raise ValueError("with inputs=, the text is the decoder's: pass it as text or as decoder_text, "
                                     "not both.")
                text, decoder_text = decoder_text, None
        if encoder_positions is not None:
            if inputs is None:
                raise ValueError("encoder_positions= goes with inputs= (an encoder that reads features); for text, "
                                 "use max_tokens=.")
            if isinstance(encoder_positions, bool) or not isinstance(encoder_positions, int) or encoder_positions < 1:
                raise ValueError(f"encoder_positions must be a whole number >= 1, got {encoder_positions!r}.")
        if isinstance(query, bool) or not isinstance(query, int) or query < 0:
            raise ValueError(f"query must be a token position >= 0 (0 is [CLS]), got {query!r}.")
        self.inputs = None if inputs is None else dict(inputs)
        self.encoder_positions = encoder_positions
        self.model = model
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.image = image
        self._reads = reads
        self.max_tokens = max_tokens
        self.thumbnail = thumbnail
        self.patterns: torch.Tensor | None = None  # (layers, heads, q, k) of the shown stack
        self.all_patterns: dict = {}  # view -> (layers, heads, q, k), from one forward pass
        self.tokens: list[str] = []  # the text's tokens (the encoder's, in an encoder-decoder)
        self.decoder_tokens: list[str] = []
        self.query_labels: list[str] = []  # unique axis labels: "token ·index"
        self.key_labels: list[str] = []
        self.focus: tuple[int | None, int | None] = (None, None)  # highlighted (query, key)
        self.image_tokens: list[str] = []  # the image's positions: [CLS] ..., then (row,col) per patch
        self.picture: np.ndarray | None = None  # (h, w, 3) uint8, the image as the model saw it
        self.grid: tuple[int, int] | None = None  # the patch grid (rows, columns)
        self.patch_size: tuple[int, int] | None = None
        self.problem = model_support_problem(model, self.inputs) or self._preprocessor_problem()
        self.views = attention_views(model) if self.problem is None else [(None, "pattern", None, "")]
        self._image_views = image_views(model) if self.problem is None else []
        choices = [view for view, _, _, _ in self.views]
        if stack is not None and stack not in choices:
            if None in choices:
                raise ValueError(f"{type(model).__name__} has a single stack: leave stack= out.")
            raise ValueError(f"{type(model).__name__} has no stack {stack!r}: choose one of {', '.join(map(repr, choices))}.")
        self.decoder_text = decoder_text
        # the stack that reads the decoder input: the one with cross-attention
        self._decoder_stack = next((stack for view, _, stack, _ in self.views if view == CROSS), "decoder")
        self._pitch = 1
        self._quiet = False
        self._picture_sent = False  # whether the figure holds the current picture (sent once per image)

        self.text_box = SubmitText(
            value=text,
            placeholder=f"Type some text, then {ENTER_HINT}…",
            layout=ipywidgets.Layout(width="100%", height="60px"),
        )
        self.text_box.add_class("hfx-attention-input")
        self.layer_slider = ipywidgets.IntSlider(value=0, min=0, max=0, description="layer")
        self.layer_slider.add_class("hfx-layer-slider")
        self.head_slider = ipywidgets.IntSlider(value=0, min=0, max=0, description="head")
        self.head_slider.add_class("hfx-head-slider")
        self.stack_dropdown = ipywidgets.Dropdown(
            options=[(label, view) for view, _, _, label in self.views], value=stack if stack is not None else choices[0],
            description="show",
        )
        self.stack_dropdown.add_class("hfx-stack-dropdown")
        self.query_slider = ipywidgets.IntSlider(value=0, min=0, max=0, description="query")
        self.query_slider.add_class("hfx-query-slider")
        controls = [self.layer_slider, self.head_slider]
        if len(choices) > 1:  # several stacks: say which one
            controls.insert(0, self.stack_dropdown)
        if self._image_views:  # the picture shows one query's attention: which one
            controls.append(self.query_slider)

        # One FigureWidget holds the three views (each FigureWidget ships plotly's 4.7 MiB
        # widget bundle to the browser once, and one figure means one message per update):
        # the heatmap (axes x, y), the head view (x2, y2) beside it, rows aligned with the
        # heatmap's rows, and the model view (x3, y3) below.
        self.figure = figure_widget(
            width=FIGURE_WIDTH,
            showlegend=False,
            hovermode="closest",
            margin=dict(l=10, r=10, t=40, b=40),
            xaxis=dict(type="category", title="key (attended to)", tickangle=-45, domain=[0, 0.56], automargin=True),
            yaxis=dict(type="category", title="query (attending)", autorange="reversed", automargin=True),
            xaxis2=dict(visible=False, range=[-1.3, 2.3], domain=[0.7, 1.0], fixedrange=True),
            yaxis2=dict(visible=False, anchor="x2"),
            xaxis3=dict(title="head", showgrid=False, zeroline=False, domain=[0, 1], anchor="y3"),
            yaxis3=dict(title="layer", showgrid=False, zeroline=False, anchor="x3"),
            annotations=[
                dict(text="", x=0, xanchor="left", xref="paper", y=1, yanchor="bottom", yref="paper",
                     showarrow=False, font=dict(size=14)),
                dict(text="", x=0.7, xanchor="left", xref="paper", y=1, yanchor="bottom", yref="paper",
                     showarrow=False, font=dict(size=14)),
                dict(text="model view: every layer × head (click one to zoom in)", x=0, xanchor="left",
                     xref="paper", y=0, yanchor="bottom", yref="paper", showarrow=False, font=dict(size=13)),
            ],
        )
        self.figure.add_heatmap(
            z=[], x=[], y=[], colorscale="Blues", zmin=0, zmax=1, name="pattern",
            hovertemplate="query %{y}<br>key %{x}<br>weight %{z:.3f}<extra></extra>",
            colorbar=dict(thickness=12, x=0.57, xanchor="left", y=1, yanchor="top", len=0.5),
        )
        for low, high, opacity, width in LINK_BINS:  # head view: links binned by weight
            self.figure.add_scatter(
                x=[], y=[], mode="lines", hoverinfo="skip", opacity=opacity, xaxis="x2", yaxis="y2",
                line=dict(color="#1f4e9c", width=width), name=f"weight {low:.2f}-{min(high, 1):.2f}",
            )
        self.figure.add_scatter(  # links of the highlighted query (orange) ...
            x=[], y=[], mode="lines", hoverinfo="skip", xaxis="x2", yaxis="y2",
            line=dict(color="#e07000", width=2.5), name="from query",
        )
        self.figure.add_scatter(  # ... and into the highlighted key (green)
            x=[], y=[], mode="lines", hoverinfo="skip", xaxis="x2", yaxis="y2",
            line=dict(color="#2a9d3a", width=2.5), name="into key",
        )
        self.figure.add_scatter(
            x=[], y=[], mode="markers+text", textposition="middle left", name="queries", xaxis="x2", yaxis="y2",
            marker=dict(size=7, color="#1f4e9c"), hovertemplate="query %{hovertext}<extra></extra>",
        )
        self.figure.add_scatter(
            x=[], y=[], mode="markers+text", textposition="middle right", name="keys", xaxis="x2", yaxis="y2",
            marker=dict(size=7, color="#1f4e9c"), hovertemplate="key %{hovertext}<extra></extra>",
        )
        self.figure.add_heatmap(z=[], colorscale="Blues", zmin=0, zmax=1, showscale=False, hoverinfo="none",
                                xaxis="x3", yaxis="y3", name="model view")
        self.picture_trace = self.picture_heatmap = None  # the picture's traces, for models that read images
        if self._image_views:  # the picture where the head view would be (x4, y4), square pixels
            self.figure.layout.xaxis4 = dict(visible=False, domain=[0.66, 1.0], anchor="y4", constrain="domain")
            self.figure.layout.yaxis4 = dict(visible=False, anchor="x4", autorange="reversed", scaleanchor="x4",
                                             constrain="domain", constraintoward="top")
            self.figure.add_image(source=None, xaxis="x4", yaxis="y4", hoverinfo="skip", name="image")
            self.figure.add_heatmap(
                z=[], xaxis="x4", yaxis="y4", colorscale="Inferno", zmin=0, opacity=0.6, showscale=False,
                name="query attention over the patches", hovertemplate="weight %{z:.4f}<extra></extra>",
            )
        traces = self.figure.data
        self.heatmap = traces[0]  # the pattern of the chosen layer and head
        self.link_traces = traces[1: 1 + len(LINK_BINS)]
        self.query_links, self.key_links = traces[1 + len(LINK_BINS)], traces[2 + len(LINK_BINS)]
        self.query_tokens, self.key_tokens = traces[3 + len(LINK_BINS)], traces[4 + len(LINK_BINS)]
        self.model_view = traces[5 + len(LINK_BINS)]
        if self._image_views:
            self.picture_trace, self.picture_heatmap = traces[6 + len(LINK_BINS)], traces[7 + len(LINK_BINS)]
            self.picture_heatmap.on_click(self._on_picture_click)

        # a drag or a held key on the layer / head slider: the browser draws the latest value, none queue up
        self._pacer = RedrawPacer(self.figure, self._paced_selection)
        self.heatmap.on_hover(self._on_heatmap_hover)
        self.query_tokens.on_hover(self._on_token_hover)
        self.key_tokens.on_hover(self._on_token_hover)
        self.model_view.on_click(self._on_model_view_click)

        if self.problem is not None:
            self.notice.show(self.problem, kind="error")
            self._root = ipywidgets.VBox([self.notice.widget])
        else:
            text_box = [self.text_box] if "input_ids" in self._reads else []  # a vision model reads no text
            self._root = ipywidgets.VBox(
                [*text_box, self.notice.widget, ipywidgets.HBox(controls), self.figure]
            )
        self._root.add_class("hfx-attention-dashboard")
        if self._image_views:
            self._root.add_class("hfx-attention-picture")  # a dashboard that draws an image
        self._start: tuple[int, int] | None = (layer, head)  # applied once the model has run
        self._start_query = query
        self.text_box.observe(self._on_text, names="value")
        self.layer_slider.observe(self._on_select, names="value")
        self.head_slider.observe(self._on_select, names="value")
        self.query_slider.observe(self._on_query, names="value")
        self.stack_dropdown.observe(self._on_stack, names="value")
        if self.problem is None:
            self._on_text(None)  # the first run, guarded like every later one

    # -- public API ----------------------------------------------------------------------------
    @property
    def layer(self) -> int:
        return self.layer_slider.value

    @property
    def head(self) -> int:
        return self.head_slider.value

    @property
    def stack(self) -> str | None:
        """What is shown: a stack name, ``"cross"``, or ``None`` in a single-stack model."""
        return self.stack_dropdown.value

    @property
    def labels(self) -> list[str]:
        """The key axis' labels (the same as the query axis' in self-attention)."""
        return self.key_labels

    @property
    def num_layers(self) -> int:
        return 0 if self.patterns is None else self.patterns.shape[0]

    @property
    def num_heads(self) -> int:
        return 0 if self.patterns is None else self.patterns.shape[1]

    @property
    def query(self) -> int:
        """The query token the picture shows (0: ``[CLS]``)."""
        return self.query_slider.value

    def set_text(self, text: str) -> None:
        """Replace the text and rerun the model."""
        self.text_box.value = text

    def set_image(self, image) -> None:
        """Replace the image (a path, a PIL image or an array) and rerun the model."""
        self.image = image
        self._on_text(None)

    def query_map(self, layer: int | None = None, head: int | None = None, query: int | None = None) -> torch.Tensor:
        """One query's attention over the patches, as the grid ``(rows, columns)`` (default: the shown
        layer, head and query): its pattern row with the leading tokens left out, row by row."""
        if self.grid is None or not self._is_image_view():
            raise ValueError("the shown view is not an image's: pick a vision model's view (stack_dropdown).")
        row = self.pattern(layer, head)[self.query if query is None else query]  # (n,)
        rows, columns = self.grid
        return row[row.shape[0] - rows * columns:].reshape(rows, columns)  # (rows, columns)

    def select(self, layer: int, head: int) -> None:
        """Show one layer and head (what clicking the model view does)."""
        self._quiet = True
        try:
            self.layer_slider.value = layer
            self.head_slider.value = head
        finally:
            self._quiet = False
        self._draw_selection()

    def pattern(self, layer: int | None = None, head: int | None = None) -> torch.Tensor:
        """The full-precision ``(query, key)`` pattern of a layer and head (default: the shown one)."""
        if self.patterns is None:
            raise ValueError("there is no pattern yet: give the dashboard some text (set_text).")
        return self.patterns[self.layer if layer is None else layer, self.head if head is None else head]

    def highlight(self, query: int | None = None, key: int | None = None) -> None:
        """Highlight a query row and a key column (what hovering does); ``None`` clears."""
        for name, value, count in (("query", query, len(self.query_labels)), ("key", key, len(self.key_labels))):
            if value is not None and not 0 <= value < count:
                raise IndexError(f"{name} {value} is out of range: there are {count} {name} tokens (0 to {count - 1}).")
        self.focus = (query, key)
        self._draw_focus()

    def text(self) -> str:
        if self.problem is not None:
            return f"AttentionDashboard: {self.problem}"
        if self.patterns is None:
            return "AttentionDashboard: " + (self.notice.message or "no text yet.")
        queries, keys = self._axes()
        shown = "" if self.stack is None else f" · {self._view_label()}"
        lines = [
            f"AttentionDashboard: {type(self.model).__name__}{shown} · {self.num_layers} layers × {self.num_heads} heads · "
            f"{len(queries)} tokens" + ("" if keys is queries else f" × {len(keys)} keys")
        ]
        if self.notice.message:
            lines.append(f"note: {self.notice.message}")
        if self._is_image_view():
            lines.extend(self._picture_summary())
        lines.append(f"layer {self.layer}, head {self.head}: each token, the key it attends to most, and the weight")
        pattern = self.pattern()
        for query in range(min(len(queries), 40)):
            key = int(pattern[query].argmax())
            lines.append(
                f"  {query:>3} {queries[query]!s:<14} -> {key:>3} {keys[key]!s:<14} "
                f"({float(pattern[query, key]):.3f})"
            )
        if len(queries) > 40:
            lines.append(f"  … {len(queries) - 40} more tokens")
        return "\n".join(lines)

    # -- callbacks -----------------------------------------------------------------------------
    @guarded
    def _on_text(self, change) -> None:
        self._run()

    @guarded
    def _on_select(self, change) -> None:
        if not self._quiet:
            self._pacer.request(browser=from_browser(change["owner"]))

    @guarded
    def _paced_selection(self) -> None:
        self._draw_selection()

    @guarded
    def _on_query(self, change) -> None:
        if self._quiet or self.patterns is None or not self._is_image_view():
            return
        with self.figure.batch_update():  # the grid's numbers and the frames: one small message
            self._draw_query_map()
            self._set_focus(np.round(self.pattern().double().numpy(), DECIMALS))

    @guarded
    def _on_picture_click(self, trace, points, state) -> None:
        """A click on the picture: that patch becomes the query."""
        if not points.xs or self.grid is None:
            return
        (patch_h, patch_w), (rows, columns) = self.patch_size, self.grid
        row = min(max(int((points.ys[0] + 0.5) // patch_h), 0), rows - 1)
        column = min(max(int((points.xs[0] + 0.5) // patch_w), 0), columns - 1)
        self.query_slider.value = len(self.image_tokens) - rows * columns + row * columns + column

    @guarded
    def _on_stack(self, change) -> None:
        if self.all_patterns:
            self._show(self.layer, self.head)

    @guarded
    def _on_heatmap_hover(self, trace, points, state) -> None:
        if not points.xs:
            return
        # the heatmap holds the labels as plotly draws them (plotly_text); accept the plain ones too
        rows = {form: position for position, label in enumerate(self.query_labels)
                for form in (label, plotly_text(label))}
        columns = {form: position for position, label in enumerate(self.key_labels)
                   for form in (label, plotly_text(label))}
        self.highlight(rows.get(points.ys[0]), columns.get(points.xs[0]))

    @guarded
    def _on_token_hover(self, trace, points, state) -> None:
        if points.point_inds:
            token = int(points.point_inds[0])
            if self.query_labels is self.key_labels:  # self-attention: the token's row and column
                self.highlight(token, token)
            elif trace is self.query_tokens:
                self.highlight(token, None)
            else:
                self.highlight(None, token)

    @guarded
    def _on_model_view_click(self, trace, points, state) -> None:
        if not points.xs or self.patterns is None:
            return
        layer = min(int(round(points.ys[0])) // self._pitch, self.num_layers - 1)
        head = min(int(round(points.xs[0])) // self._pitch, self.num_heads - 1)
        self.select(layer, head)

    # -- work ----------------------------------------------------------------------------------
    def _is_image_view(self) -> bool:
        return bool(self._image_views) and self.stack in self._image_views

    def _preprocessor_problem(self) -> str | None:
        """What is missing to feed the model: its tokenizer, its image processor."""
        name = type(self.model).__name__
        if "pixel_values" in self._reads and not callable(self.image_processor):
            return (f"{name} reads images: pass its image processor (hfexplain.AutoImageProcessor.from_pretrained(path)"
                    ", or a processor holding it) as the second argument or image_processor=, and the image as image=.")
        if "input_ids" in self._reads and not callable(getattr(self.tokenizer, "convert_ids_to_tokens", None)):
            return f"{name} reads text: pass its tokenizer (hfexplain.AutoTokenizer.from_pretrained(path)) second."
        return None

    def _axes(self) -> tuple[list[str], list[str]]:
        """The tokens down (queries) and across (keys) of the shown view."""
        if self._is_image_view():
            return self.image_tokens, self.image_tokens
        if self.stack == CROSS:
            return self.decoder_tokens, self.tokens
        if self.stack is not None and self.stack == self._decoder_stack:
            return self.decoder_tokens, self.decoder_tokens
        return self.tokens, self.tokens

    def _view_label(self) -> str:
        return next(label for view, _, _, label in self.views if view == self.stack)

    def _clear(self) -> None:
        self.patterns, self.all_patterns, self.tokens, self.decoder_tokens = None, {}, [], []
        self.query_labels, self.key_labels = [], []
        self.image_tokens, self.picture, self.grid = [], None, None

    def _empty(self, message: str) -> None:
        self._clear()
        self.notice.show(message, kind="info")
        self._clear_figures()

    def _pixel_values(self) -> torch.Tensor:
        """The image through the image processor: (1, c, h, w); also the picture and the patch grid."""
        from hfexplain.pipelines.image_classification import as_processor_input, check_image, patch_grid

        check_image(self.image, "image", who="AttentionDashboard(image=...)")
        pixel_values = self.image_processor(as_processor_input(self.image), return_tensors="pt")["pixel_values"]
        grid = patch_grid(self.model, *pixel_values.shape[-2:])
        self.picture = picture_of(pixel_values, self.image_processor)
        self._picture_sent = False  # a new picture: the next draw sends it
        self.grid, self.patch_size = grid["grid"], grid["patch_size"]
        return pixel_values  # (1, c, h, w)

    def _run(self) -> None:
        self.focus = (None, None)
        if "input_ids" not in self._reads:  # a vision model: the image alone
            if self.image is None:
                return self._empty("Give the dashboard an image: AttentionDashboard(model, image_processor, image), "
                                   "or set_image(image).")
            self._clear()
            pixel_values = self._pixel_values()
            self.all_patterns = all_attention_patterns(self.model, inputs={"pixel_values": pixel_values})
            self.notice.clear()
            return self._show_first()
        if "pixel_values" in self._reads and self.image is None:
            return self._empty(f"{type(self.model).__name__} compares a text with an image: pass image= too "
                               "(or set_image(image)).")
        text = self.text_box.value
        if not text.strip():
            self._clear()
            self.notice.show("Type some text above to see where each token looks.", kind="info")
            self._clear_figures()
            return
        limit = max_positions(self.model, self.tokenizer, self.max_tokens)
        if self.inputs is None:
            input_ids, attention_mask, tokens, full_length = tokenize_for_model(self.tokenizer, text, limit)
            if not tokens:
                self._clear()
                self.notice.show("The tokenizer gives no tokens for this text: type some more.", kind="info")
                self._clear_figures()
                return
            decoder_text = text if self.decoder_text is None else self.decoder_text
        else:  # the encoder's input is ready-made; the text box holds the decoder's text
            input_ids = attention_mask = tokens = full_length = None
            decoder_text = text
        decoder_ids, self.decoder_tokens = None, []
        if _is_encoder_decoder(self.model):  # the decoder reads decoder_text after its start token
            decoder_ids, _, self.decoder_tokens = decoder_inputs(self.model, self.tokenizer, decoder_text, limit)
        inputs = self.inputs
        if "pixel_values" in self._reads:  # a text and an image (CLIP)
            inputs = {**(inputs or {}), "pixel_values": self._pixel_values()}
        self.all_patterns = all_attention_patterns(self.model, input_ids, attention_mask, decoder_ids,
                                                   inputs=inputs, encoder_positions=self.encoder_positions)
        if tokens is None:  # one label per encoder position: frames of audio, patches of an image
            kind = ENCODER_POSITION_NAMES.get(getattr(self.model, "main_input_name", ""), "position")
            tokens = [kind] * int(self.all_patterns[self.views[0][0]].shape[-1])  # the encoder's keys
            full_length = len(tokens)
        self.tokens = tokens
        if full_length > len(tokens):
            self.notice.show(
                f"The text has {full_length} tokens, but {type(self.model).__name__} takes at most {limit}: "
                f"showing the first {len(tokens)} (truncated).",
                kind="warning",
            )
        else:
            self.notice.clear()
        self._show_first()

    def _show_first(self) -> None:
        start_layer, start_head = self._start or (self.layer, self.head)
        self._start = None
        self._show(start_layer, start_head)

    def _show(self, start_layer: int, start_head: int) -> None:
        """Draw the chosen view of the patterns the last run kept (a stack change needs no rerun)."""
        self.patterns = self.all_patterns[self.stack]
        if self._image_views:
            self._set_image_tokens()
        queries, keys = self._axes()
        self.query_labels = [f"{token} ·{index}" for index, token in enumerate(queries)]
        self.key_labels = self.query_labels if keys is queries else [f"{token} ·{index}" for index, token in enumerate(keys)]
        self.focus = (None, None)
        self._quiet = True
        try:
            self.layer_slider.max = self.num_layers - 1
            self.head_slider.max = self.num_heads - 1
            self.layer_slider.value = min(max(start_layer, 0), self.num_layers - 1)
            self.head_slider.value = min(max(start_head, 0), self.num_heads - 1)
            if self._is_image_view():
                self.query_slider.max = len(self.image_tokens) - 1
                query = self.query if self._start_query is None else self._start_query
                self.query_slider.value = min(query, len(self.image_tokens) - 1)
                self._start_query = None
        finally:
            self._quiet = False
        self.query_slider.layout.display = None if self._is_image_view() else "none"
        with self.figure.batch_update():  # one message for the new text
            self._draw_tokens()
            self._draw_model_view()
            self._draw_picture()
            self._draw_selection()

    def _picture_summary(self) -> list[str]:
        """text(): the patch grid and where the shown query looks on it."""
        (height, width), (patch_h, patch_w), (rows, columns) = self.picture.shape[:2], self.patch_size, self.grid
        leading = len(self.image_tokens) - rows * columns
        grid = self.query_map()
        strongest = torch.argsort(grid.flatten(), descending=True, stable=True)[:5].tolist()
        spots = ", ".join(f"({index // columns},{index % columns}) {float(grid.flatten()[index]):.4f}"
                          for index in strongest)
        return [
            f"image {height}x{width} / patch {patch_h}x{patch_w} -> {rows}x{columns} grid = {rows * columns} patches "
            f"+ {leading} leading ({', '.join(self.image_tokens[:leading])})",
            f"layer {self.layer}, head {self.head}, query {self.image_tokens[self.query]}: "
            f"{float(grid.sum()):.3f} of its attention on the patches; strongest (row,col): {spots}",
        ]

    def _set_image_tokens(self) -> None:
        """The image's position names, from the vision view's pattern and the patch grid."""
        if self.grid is None:
            return
        vision = self.all_patterns[self._image_views[0]]  # (layers, heads, n, n)
        self.image_tokens = patch_tokens(self.model, vision.shape[-1], *self.grid)

    def _draw_picture(self) -> None:
        """The image (sent once per image) and the axes around it; hidden in a text view."""
        if self.picture_trace is None:
            return
        shown = self._is_image_view() and self.picture is not None
        layout = self.figure.layout
        layout.xaxis2.visible = False
        self.picture_trace.visible = self.picture_heatmap.visible = shown
        for trace in (*self.link_traces, self.query_links, self.key_links, self.query_tokens, self.key_tokens):
            trace.visible = not shown  # the picture takes the head view's place
        if not shown:
            return
        height, width = self.picture.shape[:2]
        (patch_h, patch_w), (rows, columns) = self.patch_size, self.grid
        if not self._picture_sent or self.picture_trace.source is None:  # once per image, not per stack switch
            self.picture_trace.source = png_data_uri(self.picture)
            self._picture_sent = True
        # the grid's cells sit on the patches: cell (r, c) covers pixels [c*P, (c+1)*P) x [r*P, (r+1)*P)
        self.picture_heatmap.update(x0=(patch_w - 1) / 2, dx=patch_w, y0=(patch_h - 1) / 2, dy=patch_h)
        layout.xaxis4.range = [-0.5, width - 0.5]
        layout.yaxis4.range = [height - 0.5, -0.5]

    def _clear_figures(self) -> None:
        with self.figure.batch_update():
            self.heatmap.update(z=[], x=[], y=[])
            for trace in (*self.link_traces, self.query_links, self.key_links, self.query_tokens, self.key_tokens):
                trace.update(x=[], y=[])
            self.model_view.z = []
            if self.picture_trace is not None:
                self.picture_trace.source = None
                self.picture_heatmap.z = []

            self.figure.layout.shapes = ()
            self.figure.layout.annotations[0].text = ""
            self.figure.layout.annotations[1].text = ""

    def _draw_tokens(self) -> None:
        """What depends only on the tokens: labels, the head view's token columns, the sizes."""
        queries, keys = self._axes()
        count = max(len(queries), len(keys))
        show_text = count <= HEAD_VIEW_MAX_LABELS
        layout = self.figure.layout
        # pixel heights: the pattern grows with the text, the model view keeps square-ish tiles
        top = int(min(860, max(420, 14 * count + 160)))
        gap = 150
        bottom = int(min(640, max(160, 0.8 * FIGURE_WIDTH * self.num_layers / max(self.num_heads, 1))))
        plot = top + gap + bottom
        layout.height = plot + layout.margin.t + layout.margin.b
        layout.yaxis.domain = [(bottom + gap) / plot, 1]
        layout.yaxis2.domain = [(bottom + gap) / plot, 1]
        layout.yaxis3.domain = [0, bottom / plot]
        if self.picture_trace is not None:
            layout.yaxis4.domain = [(bottom + gap) / plot, 1]

        layout.annotations[2].y = bottom / plot
        self.heatmap.colorbar.len = top / plot
        # plotly_text: a raw "</s>" or "<s>" would be read as an HTML tag and vanish
        self.heatmap.update(x=[plotly_text(label) for label in self.key_labels],
                            y=[plotly_text(label) for label in self.query_labels])
        # one label per row: beyond TICK_LABELS_MAX rows they overlap (hover names the tokens), and
        # plotly.js measures and places every label again on each redraw (the slowest part of one)
        layout.xaxis.showticklabels = layout.xaxis.automargin = count <= TICK_LABELS_MAX
        layout.yaxis.showticklabels = layout.yaxis.automargin = count <= TICK_LABELS_MAX
        layout.yaxis2.range = [count - 0.5, -0.5]  # the heatmap's rows, top to bottom
        for trace, column, tokens, labels in ((self.query_tokens, 0, queries, self.query_labels),
                                              (self.key_tokens, 1, keys, self.key_labels)):
            trace.update(x=[column] * len(tokens), y=list(range(len(tokens))),
                         text=[plotly_text(token) for token in tokens] if show_text else None,
                         hovertext=[plotly_text(label) for label in labels],
                         mode="markers+text" if show_text else "markers")

    def _draw_model_view(self) -> None:
        grid, pitch = thumbnails(self.patterns, self.thumbnail)
        self._pitch = pitch
        size = pitch - 1
        centers = [index * pitch + (size - 1) / 2 for index in range(max(self.num_layers, self.num_heads))]
        self.model_view.z = heatmap_z(grid, DECIMALS)
        self.figure.layout.xaxis3.update(
            tickvals=centers[: self.num_heads], ticktext=[str(head) for head in range(self.num_heads)],
            range=[-0.5, self.num_heads * pitch - 1.5],
        )
        self.figure.layout.yaxis3.update(
            tickvals=centers[: self.num_layers], ticktext=[str(layer) for layer in range(self.num_layers)],
            range=[self.num_layers * pitch - 1.5, -0.5],
        )

    def _draw_selection(self) -> None:
        """Send the chosen head: its pattern, its head-view links, the model-view frame (one message)."""
        if self.patterns is None:
            return
        pattern = np.round(self.pattern().double().numpy(), DECIMALS)  # (q, k), what the browser gets
        with self.figure.batch_update():
            self.heatmap.z = heatmap_z(pattern)
            shown = "" if self.stack is None else f" ({self._view_label()})"
            self.figure.layout.annotations[0].text = f"layer {self.layer}, head {self.head}: attention pattern{shown}"
            self.figure.layout.annotations[1].text = f"head view: layer {self.layer}, head {self.head}"
            picture = self._is_image_view()
            segments = [([], []) for _ in LINK_BINS] if picture else _link_segments(pattern)  # the picture instead
            for trace, (xs, ys) in zip(self.link_traces, segments):
                trace.update(x=xs, y=ys)
            if picture:
                self._draw_query_map()
            self._set_focus(pattern)

    def _draw_query_map(self) -> None:
        """The query's row over the patch grid (a few hundred numbers: the only thing a query change sends)."""
        grid = np.round(self.query_map().double().numpy(), GRID_DECIMALS)  # (rows, columns)
        self.picture_heatmap.z = heatmap_z(grid)
        self.picture_heatmap.zmax = max(float(grid.max()), 1e-6)  # the map's own range: weights are ~1 / patches
        label = self.image_tokens[self.query]
        rows, columns = self.grid
        share = float(grid.sum())  # the rest went to the leading tokens
        self.figure.layout.annotations[1].text = f"query {label} over the {rows}x{columns} patches ({share:.0%})"

    def _draw_focus(self) -> None:
        if self.patterns is None:
            return
        pattern = np.round(self.pattern().double().numpy(), DECIMALS)
        with self.figure.batch_update():
            self._set_focus(pattern)

    def _set_focus(self, pattern: np.ndarray) -> None:
        """Row and column frames on the heatmap, the focused links, the model-view frame."""
        query, key = self.focus
        rows, columns = pattern.shape  # (q, k)
        shapes = []
        if query is not None:
            shapes.append(dict(type="rect", xref="x", yref="y", x0=-0.5, x1=columns - 0.5, y0=query - 0.5,
                               y1=query + 0.5, line=dict(color="#e07000", width=2)))
        if key is not None:
            shapes.append(dict(type="rect", xref="x", yref="y", x0=key - 0.5, x1=key + 0.5, y0=-0.5,
                               y1=rows - 0.5, line=dict(color="#2a9d3a", width=2)))
        if self._is_image_view() and self.grid is not None:
            rows_, columns_ = self.grid
            patch = self.query - (len(self.image_tokens) - rows_ * columns_)
            if patch >= 0:  # a patch is the query: frame it on the picture
                (patch_h, patch_w), (row, column) = self.patch_size, divmod(patch, columns_)
                shapes.append(dict(type="rect", xref="x4", yref="y4", x0=column * patch_w - 0.5,
                                   x1=(column + 1) * patch_w - 0.5, y0=row * patch_h - 0.5,
                                   y1=(row + 1) * patch_h - 0.5, line=dict(color="#00d0ff", width=2)))
        pitch, size = self._pitch, self._pitch - 1
        shapes.append(dict(
            type="rect", xref="x3", yref="y3", line=dict(color="#e07000", width=2),
            x0=self.head * pitch - 1, x1=self.head * pitch + size, y0=self.layer * pitch - 1, y1=self.layer * pitch + size,
        ))
        self.figure.layout.shapes = tuple(shapes)

        out_x, out_y, in_x, in_y = [], [], [], []
        if query is not None:
            for target in range(columns):
                if pattern[query, target] >= 0.01:
                    out_x += [0, 1, None]
                    out_y += [query, target, None]
        if key is not None:
            for source in range(rows):
                if pattern[source, key] >= 0.01:
                    in_x += [0, 1, None]
                    in_y += [source, key, None]
        self.query_links.update(x=out_x, y=out_y)
        self.key_links.update(x=in_x, y=in_y)
        sizes = [7] * columns
        if query is not None:  # key markers grow with the weight the query gives them
            sizes = [7 + 16 * float(pattern[query, target]) for target in range(columns)]
        self.key_tokens.marker.size = sizes

    def _figures(self) -> list:
        return [self.figure]

    # -- export --------------------------------------------------------------------------------
    def _html_sections(self) -> list:
        sections = [styled("")]
        if self.notice.message:
            sections.append(self.notice.widget.value)
        if self.patterns is None:
            return sections
        sections.append(
            f'<div class="hfx-counts">{escape(type(self.model).__name__)}'
            + ("" if self.stack is None else f" · {escape(self._view_label())}")
            + f' · {self.num_layers} layers × '
            f"{self.num_heads} heads · {len(self.query_labels)} tokens · layer {self.layer}, head {self.head}</div>"
            f'<div class="hfx-source">{escape(self.text_box.value)}</div>'
        )
        sections.append(self.figure)
        return sections


def _link_segments(pattern: np.ndarray) -> list[tuple[list, list]]:
    """Head-view links, grouped by weight bin: ``[(xs, ys), ...]`` with ``None`` between segments.

    Each query keeps its ``HEAD_VIEW_TOP_K`` strongest keys at or above
    ``HEAD_VIEW_MIN_WEIGHT``: at most ``6 * seq`` links in four traces, not ``seq**2`` lines.
    """
    count = pattern.shape[0]
    keep = min(HEAD_VIEW_TOP_K, pattern.shape[1])
    strongest = np.argsort(-pattern, axis=1, kind="stable")[:, :keep]  # (q, keep)
    segments = [([], []) for _ in LINK_BINS]
    for query in range(count):
        for key in strongest[query]:
            weight = pattern[query, key]
            if weight < HEAD_VIEW_MIN_WEIGHT:
                break
            for bin_index, (low, high, _, _) in enumerate(LINK_BINS):
                if low <= weight < high:
                    xs, ys = segments[bin_index]
                    xs += [0, 1, None]
                    ys += [query, int(key), None]
                    break
    return segments
