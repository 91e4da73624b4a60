"""Hook points: a named place for every intermediate tensor.

A ``HookPoint`` is an identity module. Family files put one wherever a tensor worth
looking at exists (q, k, v, attention scores and pattern, residual stream, MLP
activations, logits ...). Because it is a module, its full name is its path in the
model tree (``transformer.h.0.attn.hook_pattern``) and ``print(model)`` shows where it
sits. Nothing is stored and nothing costs anything until someone attaches a hook.

Each hook point may also carry an *alias* from a vocabulary shared by every family
(``embed``, ``resid_pre``, ``q``, ``k``, ``v``, ``scores``, ``pattern``, ``z``,
``attn_out``, ``resid_mid``, ``mlp_pre``, ``mlp_post``, ``mlp_out``, ``resid_post``,
``final``, ``logits``) and a layer index, so ``cache["pattern", 3]`` works the same on
GPT-2, BERT or LLaMA.

A hook function has the signature ``fn(tensor, hook) -> tensor | None``: return
``None`` to only read, or a tensor of the same shape to replace the activation.
"""
from __future__ import annotations

import contextlib
import difflib
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping

import torch
from torch import nn

# The shared vocabulary. Shapes use b=batch, s=sequence, h=heads, d=hidden size,
# e=head dim, m=MLP width, q/k=query/key positions, v=vocabulary.
ALIASES: dict[str, str] = {
    "embed": "(b, s, d)    token embeddings",
    "pos_embed": "(b, s, d)    position embeddings, for families that add them",
    "resid_pre": "(b, s, d)    residual stream entering a block",
    "q": "(b, h, s, e)  queries (after rotary positions where the family uses them)",
    "k": "(b, g, s, e)  keys of the new positions (after rotary); g = kv heads (h unless GQA)",
    "v": "(b, g, s, e)  values of the new positions; g = kv heads (h unless GQA)",
    "scores": "(b, h, q, k)  scaled, masked attention scores before softmax",
    "pattern": "(b, h, q, k)  attention probabilities after softmax",
    "z": "(b, h, s, e)  per-head outputs: pattern @ v",
    "attn_out": "(b, s, d)    attention output after the output projection",
    "resid_mid": "(b, s, d)    residual stream between attention and MLP",
    "mlp_pre": "(b, s, m)    MLP pre-activation",
    "mlp_post": "(b, s, m)    MLP after the activation (gated product for SwiGLU)",
    "mlp_out": "(b, s, d)    MLP output",
    "resid_post": "(b, s, d)    residual stream leaving a block",
    "final": "(b, s, d)    the last hidden state (after the final norm, if any)",
    "logits": "(b, s, v)    the language-modelling head's output (one score per vocabulary entry)",
    "class_logits": "(b, [s,] c)  a task head's scores before pooling (c = labels; per token, or 2 for QA)",
    # Encoder-decoder attention: queries from the decoder, keys and values from the encoder.
    "cross_q": "(b, h, q, e)  cross-attention queries, from the decoder's positions",
    "cross_k": "(b, h, k, e)  cross-attention keys, from the encoder's positions",
    "cross_v": "(b, h, k, e)  cross-attention values, from the encoder's positions",
    "cross_scores": "(b, h, q, k)  scaled, masked cross-attention scores (q = decoder, k = encoder positions)",
    "cross_pattern": "(b, h, q, k)  cross-attention probabilities (q = decoder, k = encoder positions)",
    "cross_z": "(b, h, q, e)  per-head cross-attention outputs: cross_pattern @ cross_v",
    "cross_attn_out": "(b, s, d)    cross-attention output after its output projection",
    "resid_mid_cross": "(b, s, d)    decoder residual stream after cross-attention, before the MLP",
}

# The aliases only encoder-decoders have (their decoder's cross-attention), and the one task heads use.
CROSS_ALIASES = frozenset(name for name in ALIASES if name.startswith("cross_") or name == "resid_mid_cross")
HEAD_ALIASES = frozenset({"logits", "class_logits"})

# run_with_cache() with no names_filter warns (once per model) when the cache grows past this.
CACHE_WARNING_BYTES = 256 * 2**20

# Stack names a multi-stack model may use; single-stack models use None.
STACKS = ("encoder", "decoder", "text", "vision")


class HookPoint(nn.Module):
    """An identity module that marks an intermediate tensor.

    Args:
        alias: the shared-vocabulary name of this tensor, or ``None``.
        layer: the block index for per-layer tensors, ``None`` otherwise.
        stack: which stack of a multi-stack model this sits in (``"encoder"`` /
            ``"decoder"``, ``"text"`` / ``"vision"``); ``None`` in single-stack models.
    """

    def __init__(self, alias: str | None = None, layer: int | None = None, stack: str | None = None):
        super().__init__()
        if alias is not None and alias not in ALIASES:
            raise ValueError(f"unknown hook alias {alias!r}; known: {', '.join(ALIASES)}")
        if stack is not None and stack not in STACKS:
            raise ValueError(f"unknown hook stack {stack!r}; known: {', '.join(STACKS)}")
        self.alias = alias
        self.layer = layer
        self.stack = stack
        self.name: str | None = None  # set to the full module path by the model

    @property
    def is_watched(self) -> bool:
        """True when some hook reads or replaces this tensor."""
        return bool(self._forward_hooks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def extra_repr(self) -> str:
        if self.alias is None:
            return ""
        text = f"alias={self.alias!r}" + (f", layer={self.layer}" if self.layer is not None else "")
        return text + (f", stack={self.stack!r}" if self.stack is not None else "")


class _CallHook:
    """Adapts ``fn(tensor, hook)`` to torch's ``module(input, output)`` forward hook.

    It checks that a replacement keeps the activation's shape, so a mistake is named
    where it happens instead of surfacing as a shape error three layers later.
    """

    def __init__(self, fn: Callable, hook: HookPoint):
        self.fn = fn
        self.hook = hook

    def __call__(self, module: nn.Module, inputs: tuple, output: torch.Tensor):
        result = self.fn(output, hook=self.hook)
        if result is None:
            return None
        if not isinstance(result, torch.Tensor):
            raise TypeError(
                f"hook {getattr(self.fn, '__name__', self.fn)!r} on {self.hook.name!r} returned "
                f"{type(result).__name__}; return a tensor to replace the activation, or None to leave it."
            )
        if result.shape != output.shape:
            raise ValueError(
                f"hook {getattr(self.fn, '__name__', self.fn)!r} on {self.hook.name!r} returned shape "
                f"{tuple(result.shape)} but the activation has shape {tuple(output.shape)}; "
                "a replacement must keep the shape."
            )
        return result


class _Recorder:
    """A hook that stores the activation it sees in a dict (detached)."""

    def __init__(self, store: dict, detach: bool, device: torch.device | str | None):
        self.store = store
        self.detach = detach
        self.device = device

    def __call__(self, tensor: torch.Tensor, hook: HookPoint) -> None:
        saved = tensor.detach() if self.detach else tensor
        if self.device is not None:
            saved = saved.to(self.device)
        self.store[hook.name] = saved
        return None


class ActivationCache(Mapping):
    """The activations one forward pass produced, by full hook name.

    Keys: a full name (``"transformer.h.0.attn.hook_pattern"``), an ``(alias, layer)``
    pair (``cache["pattern", 0]``) or an alias for tensors outside the blocks
    (``cache["logits"]``). Negative layers count from the end.
    """

    def __init__(self, activations: dict[str, torch.Tensor], model: "HookedMixin"):
        self._data = activations
        self._model = model

    def _key(self, key) -> str:
        if isinstance(key, str) and key in self._data:
            return key
        if isinstance(key, tuple):
            if len(key) not in (2, 3):
                raise KeyError(
                    f"{key!r}: use (alias, layer), or (alias, layer, stack) on a model with several stacks "
                    "(layer None for aliases outside the blocks, e.g. ('final', None, 'encoder'))."
                )
            return self._model.hook_name(*key)
        if isinstance(key, str):
            return self._model.hook_name(key)
        raise KeyError(key)

    def __getitem__(self, key) -> torch.Tensor:
        name = self._key(key)
        if name not in self._data:
            raise KeyError(
                f"{name!r} was not cached; run_with_cache(names_filter=...) stored only "
                f"{len(self._data)} tensors. Widen the filter to include it."
            )
        return self._data[name]

    def __contains__(self, key) -> bool:
        try:
            return self._key(key) in self._data
        except (KeyError, ValueError):
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def stack(self, alias: str, stack: str | None = None) -> torch.Tensor:
        """All layers' tensors for one alias (of one ``stack`` in a multi-stack model),
        stacked on a new first dim: (layers, ...)."""
        layers = self._model.num_hook_layers(stack)
        return torch.stack([self[alias, layer, stack] for layer in range(layers)])

    # -- the residual stream, taken apart (TransformerLens' helpers, for a logit lens) ----------

    def _boundary(self, layer: int | None, stack: str | None) -> tuple[int, int]:
        n_layers = self._model.num_hook_layers(stack)
        layer = n_layers if layer is None else (layer + n_layers + 1 if layer < 0 else layer)
        if not 0 <= layer <= n_layers:
            raise ValueError(f"layer {layer} is out of range: use 0..{n_layers} (or None for the final stream).")
        return layer, n_layers

    def _resid_at(self, layer: int, n_layers: int, stack: str | None) -> torch.Tensor:
        """The residual stream entering block ``layer`` (leaving the last block when layer == n_layers)."""
        if layer < n_layers:
            return self["resid_pre", layer, stack]
        return self["resid_post", n_layers - 1, stack]

    def accumulated_resid(self, layer: int | None = None, stack: str | None = None, apply_ln: bool = False,
                          return_labels: bool = False):
        """The residual stream at every block boundary up to ``layer``: (layer + 1, b, s, d).

        Row i is the stream entering block i; with ``layer=None`` the last row is the stream
        leaving the last block. ``apply_ln=True`` passes each row through the model's final
        norm (:meth:`apply_final_norm`), which is what a logit lens reads.
        """
        layer, n_layers = self._boundary(layer, stack)
        rows = [self._resid_at(i, n_layers, stack) for i in range(layer + 1)]
        labels = [f"{i}_pre" if i < n_layers else "final_post" for i in range(layer + 1)]
        stacked = torch.stack(rows)  # (components, b, s, d)
        if apply_ln:
            stacked = self.apply_final_norm(stacked, stack)
        return (stacked, labels) if return_labels else stacked

    def decompose_resid(self, layer: int | None = None, stack: str | None = None, return_labels: bool = False):
        """What each part wrote into the residual stream before block ``layer``: (components, b, s, d).

        Components: the embeddings (``embed``, ``pos_embed`` where the family adds positions),
        then every block's ``attn_out`` and ``mlp_out``. In a pre-norm family (GPT-2, LLaMA)
        they sum to the stream itself (``accumulated_resid(layer)[-1]``); post-norm families
        (BERT) normalise the sum inside each block, so they refuse.
        """
        if not getattr(self._model, "_residual_stream_is_a_sum", True):
            raise ValueError(
                f"{type(self._model).__name__} normalises its residual stream inside every block (post-norm), so "
                "the stream is not the sum of its parts; use accumulated_resid() instead."
            )
        layer, n_layers = self._boundary(layer, stack)
        parts, labels = [], []
        for alias in ("embed", "pos_embed"):
            if self._model.hook_names(alias, stack):
                parts.append(self[alias, None, stack])
                labels.append(alias)
        for i in range(layer):
            parts += [self["attn_out", i, stack], self["mlp_out", i, stack]]
            labels += [f"{i}_attn_out", f"{i}_mlp_out"]
        shape = torch.broadcast_shapes(*(p.shape for p in parts))
        stacked = torch.stack([p.expand(shape) for p in parts])  # (components, b, s, d)
        return (stacked, labels) if return_labels else stacked

    def apply_final_norm(self, residual: torch.Tensor, stack: str | None = None) -> torch.Tensor:
        """The model's final norm (GPT-2's ``ln_f``, LLaMA's ``norm``) applied to any residual tensor
        (..., d), computing its own statistics: ``apply_final_norm(cache["resid_post", -1])`` is
        ``cache["final"]``."""
        return self._model.get_final_norm(stack)(residual)

    def logit_attrs(self, residual_stack: torch.Tensor, tokens, incorrect_tokens=None) -> torch.Tensor:
        """How much each component pushes the logit of ``tokens`` (minus ``incorrect_tokens``'):
        the dot product with the unembedding direction(s). (components, ...) -> (components, ...).

        ``residual_stack`` is (components, b, s, d), already normalised (e.g.
        ``accumulated_resid(apply_ln=True)``); ``tokens`` is a token id or a tensor of ids
        broadcastable to (b, s). Applied to the normalised final stream this is the model's logit.
        """
        head = self._model.get_output_embeddings()
        if head is None:
            raise ValueError(f"{type(self._model).__name__} has no unembedding (no language-modelling head).")
        unembed = head.weight  # (v, d)
        tokens = torch.as_tensor(tokens, device=unembed.device)
        directions = unembed[tokens]  # (..., d)
        if incorrect_tokens is not None:
            directions = directions - unembed[torch.as_tensor(incorrect_tokens, device=unembed.device)]
        return (residual_stack * directions.to(residual_stack.dtype)).sum(-1)

    def nbytes(self) -> int:
        """Memory held by the cached tensors in bytes, each tensor counted once.

        One tensor can sit under two names (a block's ``resid_post`` is the next block's
        ``resid_pre``), so tensors are told apart by where their data lives.
        """
        distinct = {(t.data_ptr(), t.dtype, tuple(t.shape)): t for t in self._data.values()}
        return sum(t.numel() * t.element_size() for t in distinct.values())

    def __repr__(self) -> str:
        return f"ActivationCache({len(self)} tensors, {self.nbytes() / 2**20:.1f} MiB)"


def _is_alias_pair(value) -> bool:
    """(alias, layer) or (alias, layer, stack)."""
    return isinstance(value, tuple) and len(value) in (2, 3) and isinstance(value[0], str) and (
        value[1] is None or isinstance(value[1], int)
    ) and (len(value) == 2 or value[2] is None or isinstance(value[2], str))


NamesFilter = str | Iterable[str] | Callable[[str], bool] | None


class HookedMixin:
    """Hook-point access for a model: names, aliases, caching and temporary hooks.

    Mixed into ``PreTrainedModel``; it only relies on ``nn.Module.named_modules``.
    """

    def _name_hook_points(self) -> None:
        for name, module in self.named_modules():
            if isinstance(module, HookPoint):
                module.name = name

    def hook_points(self) -> dict[str, HookPoint]:
        """Every hook point, by full name, in forward order of definition."""
        return {name: m for name, m in self.named_modules() if isinstance(m, HookPoint)}

    def hook_names(self, alias: str | None = None, stack: str | None = None) -> list[str]:
        """The full names of every hook point, or of those with an ``alias`` and/or in a ``stack``."""
        if stack is not None:
            self._check_stack(stack)
        return [name for name, hp in self.hook_points().items()
                if (alias is None or hp.alias == alias) and (stack is None or hp.stack == stack)]

    def get_final_norm(self, stack: str | None = None) -> nn.Module:
        """The norm a family applies after its last block (``_final_norm`` names it on the bare model)."""
        base = getattr(self, "base_model", self)
        name = getattr(base, "_final_norm", None)
        if isinstance(name, dict):
            name = name.get(stack)
        if not name:
            raise ValueError(
                f"{type(self).__name__} has no final norm after its last block"
                + (f" in stack {stack!r}" if stack else "") + " (e.g. BERT is post-norm), so there is nothing to apply."
            )
        return base.get_submodule(name)

    def hook_stacks(self) -> list[str]:
        """The stacks this model's hook points name (``[]`` for a single-stack model)."""
        return sorted({hp.stack for hp in self.hook_points().values() if hp.stack is not None})

    def _check_stack(self, stack: str) -> None:
        stacks = self.hook_stacks()
        if stack not in stacks:
            have = f"its stacks are {', '.join(map(repr, stacks))}" if stacks else "it has a single stack: pass no stack"
            raise KeyError(f"{type(self).__name__} has no stack {stack!r}; {have}.")

    def num_hook_layers(self, stack: str | None = None) -> int:
        """How many blocks carry hook points (in ``stack``, for a model with several stacks)."""
        if stack is not None:
            self._check_stack(stack)
        else:
            counts = {s: self.num_hook_layers(s) for s in self.hook_stacks()}
            if len(counts) > 1:
                raise ValueError(
                    f"{type(self).__name__} has several stacks ({', '.join(f'{s!r}: {n} layers' for s, n in counts.items())}); "
                    "say which one: num_hook_layers('encoder')."
                )
        layers = [hp.layer for hp in self.hook_points().values()
                  if hp.layer is not None and (stack is None or hp.stack == stack)]
        return max(layers) + 1 if layers else 0

    def hook_name(self, alias: str, layer: int | None = None, stack: str | None = None) -> str:
        """The full hook name for an alias of the shared vocabulary (and a layer, and a stack).

        >>> model.hook_name("pattern", 0)
        'transformer.h.0.attn.hook_pattern'
        >>> seq2seq.hook_name("pattern", 0, "encoder")   # a model with several stacks names the stack

        In a model with several stacks, an alias that lives in more than one of them
        needs the stack; one that lives in only one (``cross_pattern`` in the decoder,
        ``logits``) resolves without it.
        """
        if alias not in ALIASES:
            close = difflib.get_close_matches(alias, ALIASES, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(f"{alias!r} is not a hook alias.{hint} Known aliases: {', '.join(ALIASES)}.")
        all_points = self.hook_points()
        points = [hp for hp in all_points.values() if hp.alias == alias]
        names = {id(hp): name for name, hp in all_points.items()}
        if not points:
            raise KeyError(f"{type(self).__name__} has no hook point for alias {alias!r}.")
        if stack is not None:
            self._check_stack(stack)
            points = [hp for hp in points if hp.stack == stack]
            if not points:
                raise KeyError(f"{type(self).__name__} has no hook point for alias {alias!r} in stack {stack!r}.")
        else:
            stacks = sorted({hp.stack for hp in points}, key=str)
            if len(stacks) > 1:
                example = f"({alias!r}, {layer if layer is not None else 0}, {stacks[0]!r})"
                raise KeyError(
                    f"{type(self).__name__} has {alias!r} in stacks {', '.join(map(repr, stacks))}; say which one, "
                    f"e.g. cache[{example}] or model.hook_name({alias!r}, {layer}, stack={stacks[0]!r})."
                )
            stack = stacks[0]
        matches = {hp.layer: names[id(hp)] for hp in points}
        per_layer = any(key is not None for key in matches)
        if per_layer and layer is None:
            raise KeyError(f"alias {alias!r} is per layer: pass a layer, e.g. ({alias!r}, 0).")
        if not per_layer:
            if layer is not None:
                raise KeyError(f"alias {alias!r} is not per layer: use it without a layer index.")
            return matches[None]
        n_layers = 1 + max(hp.layer for hp in all_points.values() if hp.layer is not None and hp.stack == stack)
        index = layer + n_layers if layer < 0 else layer
        if index not in matches:
            where = f" in stack {stack!r}" if stack is not None else ""
            raise KeyError(
                f"layer {layer} is out of range for alias {alias!r}: the model has {n_layers} layers{where}."
            )
        return matches[index]

    def _resolve_hook_names(self, names_filter: NamesFilter) -> list[str]:
        """Turn a filter (name, alias, list of those, regex-free predicate) into full names."""
        points = self.hook_points()
        if names_filter is None:
            return list(points)
        if callable(names_filter):
            return [name for name in points if names_filter(name)]
        if isinstance(names_filter, str) or _is_alias_pair(names_filter):
            names_filter = [names_filter]
        chosen: list[str] = []
        for item in names_filter:
            if isinstance(item, tuple):
                chosen.append(self.hook_name(*item))
            elif item in points:
                chosen.append(item)
            elif item in ALIASES:
                found = [name for name, hp in points.items() if hp.alias == item]
                if not found:
                    raise KeyError(f"{type(self).__name__} has no hook point for alias {item!r}.")
                chosen.extend(found)
            elif isinstance(item, str):
                raise KeyError(self._unknown_hook_message(item))
            else:
                raise TypeError(
                    f"cannot use {item!r} to pick hook points; use a full name, an alias, an (alias, layer) "
                    "pair, a list of those, or a function of the full name."
                )
        return chosen

    def _unknown_hook_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.hook_names(), n=3, cutoff=0.6)
        if not close:  # compare the last parts too: "h.0.attn.hook_patern" vs full names
            tail = {re.sub(r"^.*?\.(?=h\.|layer\.|layers\.)", "", n): n for n in self.hook_names()}
            close = [tail[t] for t in difflib.get_close_matches(name, tail, n=3, cutoff=0.6)]
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        return (
            f"{name!r} is not a hook point of {type(self).__name__}.{hint} "
            "See model.hook_names() for all of them, or use an alias with model.hook_name(alias, layer)."
        )

    @contextlib.contextmanager
    def hooks(self, fwd_hooks: Iterable[tuple] = ()) -> Iterator["HookedMixin"]:
        """Attach ``(name_or_filter, fn)`` hooks for the duration of a ``with`` block.

        The hooks are removed when the block ends, also when the forward raised.
        """
        handles = []
        try:
            for target, fn in fwd_hooks:
                points = self.hook_points()
                for name in self._resolve_hook_names(target):
                    handles.append(points[name].register_forward_hook(_CallHook(fn, points[name])))
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def run_with_hooks(self, *args, fwd_hooks: Iterable[tuple] = (), **kwargs):
        """Run a forward pass with temporary hooks; returns the model's output."""
        with self.hooks(fwd_hooks):
            return self(*args, **kwargs)

    def run_with_cache(
        self,
        *args,
        names_filter: NamesFilter = None,
        device: torch.device | str | None = None,
        detach: bool = True,
        **kwargs,
    ):
        """Run a forward pass and keep the activations; returns ``(output, ActivationCache)``.

        ``names_filter`` picks what to store: a full name, an alias (all layers), an
        ``(alias, layer)`` pair, a list of those, or a predicate on full names. Only
        what is asked for is stored; the default stores everything.
        """
        store: dict[str, torch.Tensor] = {}
        recorder = _Recorder(store, detach, device)
        names = self._resolve_hook_names(names_filter)
        with self.hooks([(name, recorder) for name in names]):
            output = self(*args, **kwargs)
        ordered = {name: store[name] for name in names if name in store}
        cache = ActivationCache(ordered, self)
        if names_filter is None and not getattr(self, "_warned_cache_size", False):
            size = cache.nbytes()
            if size > CACHE_WARNING_BYTES:
                self._warned_cache_size = True  # once per model: a lesson loop should not repeat it
                warnings.warn(
                    f"run_with_cache() stored every hook point: {size / 2**20:.0f} MiB. Pass names_filter= to keep "
                    "only what you look at, e.g. names_filter='pattern' or [('resid_post', -1)].",
                    UserWarning,  # not ResourceWarning: Python hides those by default
                    stacklevel=2,
                )
        return output, cache
