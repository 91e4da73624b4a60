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

Lookups (``hook_name``, ``hook_names``, ``hook_points``, ``hook_stacks``,
``num_hook_layers``, the ``names_filter`` of ``run_with_cache``) read a :class:`HookIndex`
built by one walk of the module tree and rebuilt only when the tree changed (see its
docstring for how a change is noticed), so a lesson that asks for ``cache["pattern", i]`` in
a loop does not walk hundreds of modules every time.
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
    # Speech encoders: what the convolutions make of the raw samples, before the projection to d.
    "conv_features": "(b, t, c)    a speech model's convolutional features (t = frames, c = conv channels)",
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
# The aliases only speech models have (their convolutional front end).
AUDIO_ALIASES = frozenset({"conv_features"})

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
        if result.dtype != output.dtype:  # else the next matmul fails with "mixed dtype", naming no hook
            raise TypeError(
                f"hook {getattr(self.fn, '__name__', self.fn)!r} on {self.hook.name!r} returned a {result.dtype} "
                f"tensor but the activation is {output.dtype}; a replacement must keep the dtype: "
                f"return result.to(activation.dtype)."
            )
        if result.device != output.device:
            raise ValueError(
                f"hook {getattr(self.fn, '__name__', self.fn)!r} on {self.hook.name!r} returned a tensor on "
                f"{result.device} but the activation is on {output.device}; return result.to(activation.device)."
            )
        return result


class _Recorder:
    """A hook that stores the activation it sees in a dict (detached), under ``name``.

    The name is the one the model that runs the cache resolved, not ``hook.name``: a bare
    model inside a task model (``model.bert``) names the same hook point without the prefix.
    """

    def __init__(self, store: dict, name: str, detach: bool, device: torch.device | str | None):
        self.store = store
        self.name = name
        self.detach = detach
        self.device = device

    def __call__(self, tensor: torch.Tensor, hook: HookPoint) -> None:
        saved = tensor.detach() if self.detach else tensor
        if self.device is not None:
            saved = saved.to(self.device)
        self.store[self.name] = saved
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
        then every block's ``attn_out``, ``cross_attn_out`` (in a decoder that reads an encoder)
        and ``mlp_out``. In a pre-norm family (GPT-2, LLaMA, T5)
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
        has_cross = bool(self._model.hook_names("cross_attn_out", stack))  # a decoder that reads an encoder
        for i in range(layer):
            parts.append(self["attn_out", i, stack])
            labels.append(f"{i}_attn_out")
            if has_cross:
                parts.append(self["cross_attn_out", i, stack])
                labels.append(f"{i}_cross_attn_out")
            parts.append(self["mlp_out", i, stack])
            labels.append(f"{i}_mlp_out")
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

# -- the index: one walk of the module tree, reused until the tree changes -----------------

# Bumped by torch whenever any module anywhere registers a submodule (``module.x = child``,
# ``add_module``, ``register_module``, ``ModuleList.append`` / ``__setitem__``, ``ModuleDict``
# ...): torch's documented global registration hook. Building a module bumps it too, so a
# new model in a notebook cell costs every index one rebuild; nothing more.
_tree_version = 0


def _count_registration(module: nn.Module, name: str, submodule: nn.Module | None) -> None:
    global _tree_version
    _tree_version += 1


_registration_handle = torch.nn.modules.module.register_module_module_registration_hook(_count_registration)


class HookIndex:
    """Everything the hook lookups need, from one walk of the module tree.

    - ``points``: full name -> HookPoint, in the order of the tree;
    - ``by_key``: (alias, layer, stack) -> full name (layer and stack ``None`` where they do not apply);
    - ``by_alias``: alias -> full names; ``alias_stacks``: alias -> the stacks it lives in;
    - ``stacks``: the named stacks; ``layers``: stack -> number of blocks (the key ``None`` in a
      single-stack model); ``layers_all``: blocks over every stack.

    **When it is rebuilt.** The index is valid while the tree it was built from is unchanged.
    Additions and replacements anywhere in the tree (``model.transformer.h[0] = block``,
    ``set_input_embeddings``, ``ModuleList.append``) go through torch's module registration,
    which bumps ``_tree_version``. Removals (``del module.child``, ``del blocks[3]``,
    ``ModuleList.pop``) announce nothing in torch, but each shrinks a container's ``_modules``
    or swaps it for a new dict (``ModuleList.insert`` grows it): ``is_current`` compares the
    size and identity of every container's ``_modules`` with what the walk saw, a flat loop
    over the few modules that have children (39 of 324 in GPT-2), not a walk. Only writing
    into a private ``_modules`` dict directly, over an existing key, goes unseen: call
    ``model.refresh_hook_index()`` after that.
    """

    def __init__(self, root: nn.Module):
        self.version = _tree_version  # read before the walk: a change during it means stale
        self.points: dict[str, HookPoint] = {}
        self._containers: list[tuple[nn.Module, dict, int]] = []  # (module, its _modules, their count)
        for name, module in root.named_modules():
            if module._modules:
                self._containers.append((module, module._modules, len(module._modules)))
            if isinstance(module, HookPoint):
                self.points[name] = module
        self.by_key: dict[tuple, str] = {}
        self.by_alias: dict[str | None, list[str]] = {}
        self.by_alias_stack: dict[tuple, list[str]] = {}
        self.by_stack: dict[str | None, list[str]] = {}
        self.alias_stacks: dict[str, list[str | None]] = {}
        self.per_layer: set[tuple] = set()  # (alias, stack) pairs with a hook point per block
        stacks: set[str] = set()
        self.layers: dict[str | None, int] = {}  # stack (None in a single-stack model) -> blocks
        self.layers_all = 0  # blocks over every stack: what a model with one stack has
        for name, point in self.points.items():
            self.by_key[(point.alias, point.layer, point.stack)] = name  # a duplicate key: the last one wins
            self.by_alias.setdefault(point.alias, []).append(name)
            self.by_alias_stack.setdefault((point.alias, point.stack), []).append(name)
            self.by_stack.setdefault(point.stack, []).append(name)
            if point.stack is not None:
                stacks.add(point.stack)
            if point.layer is not None:
                self.per_layer.add((point.alias, point.stack))
                self.layers[point.stack] = max(self.layers.get(point.stack, 0), point.layer + 1)
                self.layers_all = max(self.layers_all, point.layer + 1)
        for alias, stack in self.by_alias_stack:
            self.alias_stacks.setdefault(alias, []).append(stack)
        for alias, found in self.alias_stacks.items():
            found.sort(key=str)
        self.stacks = sorted(stacks)

    def is_current(self) -> bool:
        """True while the module tree is the one this index was built from (see the class docstring)."""
        if self.version != _tree_version:
            return False
        for module, children, count in self._containers:
            if module._modules is not children or len(children) != count:
                return False
        return True


class HookedMixin:
    """Hook-point access for a model: names, aliases, caching and temporary hooks.

    Mixed into ``PreTrainedModel``; it only relies on ``nn.Module.named_modules`` (one walk,
    kept as a :class:`HookIndex` in ``self.__dict__["_hook_index"]``).
    """

    def _name_hook_points(self) -> None:
        """Give every hook point its full name (the model's ``post_init`` calls this) and index them."""
        index = self.refresh_hook_index()
        for name, point in index.points.items():
            point.name = name

    def refresh_hook_index(self) -> HookIndex:
        """Walk the module tree and rebuild the lookup index (done by itself when the tree changes).

        A hook point that arrived since (a replaced block) gets its full name; one that
        already carries a longer name ending in this path keeps it: it is named from an
        enclosing model (``bert.encoder...`` seen from ``BertForMaskedLM``).
        """
        index = HookIndex(self)
        for name, point in index.points.items():
            if point.name != name and not (point.name or "").endswith("." + name):
                point.name = name
        self.__dict__["_hook_index"] = index  # a plain attribute, not a module or parameter
        return index

    def _hooks_index(self) -> HookIndex:
        index = self.__dict__.get("_hook_index")
        if index is None or not index.is_current():
            index = self.refresh_hook_index()
        return index

    def hook_points(self) -> dict[str, HookPoint]:
        """Every hook point, by full name, in forward order of definition."""
        return dict(self._hooks_index().points)

    def hook_names(self, alias: str | None = None, stack: str | None = None) -> list[str]:
        """The full names of every hook point, or of those with an ``alias`` and/or in a ``stack``."""
        index = self._hooks_index()
        if stack is not None:
            self._check_stack(stack)
        if alias is None:
            return list(index.points) if stack is None else list(index.by_stack.get(stack, ()))
        if stack is None:
            return list(index.by_alias.get(alias, ()))
        return list(index.by_alias_stack.get((alias, stack), ()))

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
        return list(self._hooks_index().stacks)

    def _check_stack(self, stack: str) -> None:
        stacks = self._hooks_index().stacks
        if stack not in stacks:
            have = f"its stacks are {', '.join(map(repr, stacks))}" if stacks else "it has a single stack: pass no stack"
            raise KeyError(f"{type(self).__name__} has no stack {stack!r}; {have}.")

    def num_hook_layers(self, stack: str | None = None) -> int:
        """How many blocks carry hook points (in ``stack``, for a model with several stacks)."""
        index = self._hooks_index()
        if stack is not None:
            self._check_stack(stack)
            return index.layers.get(stack, 0)
        if len(index.stacks) > 1:
            counts = {s: index.layers.get(s, 0) for s in index.stacks}
            raise ValueError(
                f"{type(self).__name__} has several stacks ({', '.join(f'{s!r}: {n} layers' for s, n in counts.items())}); "
                "say which one: num_hook_layers('encoder')."
            )
        return index.layers_all

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
        index = self._hooks_index()
        stacks = index.alias_stacks.get(alias)
        if not stacks:
            raise KeyError(f"{type(self).__name__} has no hook point for alias {alias!r}.")
        if stack is not None:
            self._check_stack(stack)
            if stack not in stacks:
                raise KeyError(f"{type(self).__name__} has no hook point for alias {alias!r} in stack {stack!r}.")
        else:
            if len(stacks) > 1:
                example = f"({alias!r}, {layer if layer is not None else 0}, {stacks[0]!r})"
                raise KeyError(
                    f"{type(self).__name__} has {alias!r} in stacks {', '.join(map(repr, stacks))}; say which one, "
                    f"e.g. cache[{example}] or model.hook_name({alias!r}, {layer}, stack={stacks[0]!r})."
                )
            stack = stacks[0]
        per_layer = (alias, stack) in index.per_layer
        if per_layer and layer is None:
            raise KeyError(f"alias {alias!r} is per layer: pass a layer, e.g. ({alias!r}, 0).")
        if not per_layer:
            if layer is not None:
                raise KeyError(f"alias {alias!r} is not per layer: use it without a layer index.")
            return index.by_key[(alias, None, stack)]
        n_layers = index.layers[stack]
        name = index.by_key.get((alias, layer + n_layers if layer < 0 else layer, stack))
        if name is None:
            where = f" in stack {stack!r}" if stack is not None else ""
            raise KeyError(
                f"layer {layer} is out of range for alias {alias!r}: the model has {n_layers} layers{where}."
            )
        return name

    def _resolve_hook_names(self, names_filter: NamesFilter) -> list[str]:
        """Turn a filter (name, alias, list of those, regex-free predicate) into full names."""
        index = self._hooks_index()
        points = index.points
        if names_filter is None:
            return list(points)
        if callable(names_filter):
            return [name for name in points if names_filter(name)]
        if isinstance(names_filter, str) or _is_alias_pair(names_filter):
            names_filter = [names_filter]
        if not isinstance(names_filter, Iterable):
            raise TypeError(
                f"names_filter must be None (everything), a full hook name or an alias (str), an (alias, layer) "
                f"pair, a list of those, or a function of the full name; got {type(names_filter).__name__} "
                f"{names_filter!r}."
            )
        chosen: list[str] = []
        for item in names_filter:
            if isinstance(item, tuple):
                chosen.append(self.hook_name(*item))
            elif item in points:
                chosen.append(item)
            elif item in ALIASES:
                found = index.by_alias.get(item)
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
                names = self._resolve_hook_names(target)
                points = self._hooks_index().points
                for name in names:
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
        names = self._resolve_hook_names(names_filter)
        with self.hooks([(name, _Recorder(store, name, detach, device)) for name in names]):
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
