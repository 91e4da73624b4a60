"""PreTrainedModel: the base every family's model classes share.

It knows how to

* build a model from a config and initialise its weights (``post_init``),
* tie the output embedding to the input embedding (``tie_weights``),
* load a checkpoint from a folder or a Hub repo id (``from_pretrained``), matching
  Hugging Face's parameter names one to one and reporting what did not match,
* write a checkpoint that ``transformers`` loads (``save_pretrained``),
* find and drive its hook points (``run_with_cache``, ``run_with_hooks``; see hooks.py).

Loading a checkpoint into a model of another task works as in transformers: a base
checkpoint (``h.0.attn...``) loads into a model with a head (``transformer.h.0.attn...``)
and the other way round; weights of a head the checkpoint does not have are freshly
initialised and named in a warning; weights of a head the model does not have are
listed as unused. A wrong shape, or a weight the checkpoint *should* have had, is an
error: silently training on random weights is the worst outcome for a learner.

Loading does not initialise what the checkpoint overwrites. ``from_pretrained`` builds the
module tree with every ``torch.nn.init`` function switched off (so ``nn.Linear`` and the
families' ``_init_weights`` leave their fresh ``torch.empty`` memory alone; buffers such as
rotary frequencies or sinusoid tables are computed as usual, since they are not drawn with
``nn.init``), then makes each checkpoint tensor the model's parameter itself
(``load_state_dict(assign=True)``: no copy; safetensors tensors are memory-mapped, copied
on write) and last runs ``_init_weights`` for the weights the checkpoint lacked, with
``nn.init`` touching only those. The global random generator is therefore left exactly as
it was when the checkpoint has every weight, and when a head is new it draws exactly what
transformers draws, in the same order: after ``torch.manual_seed(0)`` both libraries give
a new classifier the same values. ``Model(config)`` and ``from_config`` initialise
everything, as before.
"""
from __future__ import annotations

import contextlib
import functools
import errno
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from . import hub
from .configuration import PretrainedConfig
from .hub import HUB_KWARGS, dtype_from_name
from .hooks import HookedMixin

logger = logging.getLogger("hfexplain")


class LoadingReport(dict):
    """What ``from_pretrained`` found: ``missing_keys``, ``unexpected_keys``,
    ``mismatched_keys`` (name, checkpoint shape, model shape) and ``newly_initialized``."""

    def __str__(self) -> str:
        lines = []
        for field in ("newly_initialized", "missing_keys", "unexpected_keys", "mismatched_keys"):
            if self.get(field):
                lines.append(f"{field}: {self[field]}")
        return "\n".join(lines) or "all weights matched"


class PreTrainedModel(nn.Module, HookedMixin):
    """Base class for every family's models.

    Class attributes a family sets:
        config_class: its config class.
        base_model_prefix: the attribute that holds the bare model in task models
            (``"transformer"`` for GPT-2, ``"bert"`` for BERT, ``"model"`` for LLaMA).
        _tied_weights_keys: {target: source} parameters shared when
            ``config.tie_word_embeddings`` is true (e.g. lm_head <- wte).
        _keys_to_ignore_on_load_unexpected: regexes of checkpoint keys to drop
            silently (buffers old checkpoints saved, such as GPT-2's ``attn.bias``).
        _keys_optional_in_checkpoint: regexes of base-model weights a checkpoint may
            legitimately lack (BERT's pooler, absent from MLM checkpoints); they are
            initialised and named in the warning instead of raising.
    """

    config_class: ClassVar[type[PretrainedConfig]] = PretrainedConfig
    base_model_prefix: ClassVar[str] = ""
    main_input_name: ClassVar[str] = "input_ids"
    _tied_weights_keys: ClassVar[dict[str, str]] = {}
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = []
    _keys_optional_in_checkpoint: ClassVar[list[str]] = []

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        if not isinstance(config, PretrainedConfig):
            raise TypeError(
                f"{type(self).__name__} needs a config object, got {type(config).__name__}; "
                f"build one with {self.config_class.__name__}(...) or AutoConfig.from_pretrained(...)."
            )
        config.validate()  # every size, epsilon and probability, before a single weight is allocated
        self.config = config

    # -- construction --------------------------------------------------------------

    def post_init(self) -> None:
        """Initialise weights, tie embeddings and give every hook point its name.

        Called at the end of each model's ``__init__``.
        """
        self.apply(self._init_weights_once)
        self.tie_weights()
        self._name_hook_points()

    def _init_weights_once(self, module: nn.Module) -> None:
        # A task model's post_init runs after its bare model's: modules initialised there
        # (everything but the new head) are not drawn a second time.
        if getattr(module, "_is_initialized", False):
            return
        self._init_weights(module)
        module._is_initialized = True

    def _init_weights(self, module: nn.Module) -> None:
        """Family-specific initialisation; the default matches BERT/GPT-2 conventions.

        Draw with ``torch.nn.init`` functions (``nn.init.normal_(module.weight, ...)``): when
        ``from_pretrained`` initialises the weights a checkpoint lacked, those functions are
        made to leave the loaded tensors alone, so an ``_init_weights`` that reaches into a
        child (GPT-2's scaled ``c_proj``) cannot overwrite a loaded weight.
        """
        std = getattr(self.config, "initializer_range", 0.02)
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def tie_weights(self) -> None:
        """Make each ``_tied_weights_keys`` target share its source's parameter."""
        if not getattr(self.config, "tie_word_embeddings", True):
            return
        for target, source in self._tied_weights_keys.items():
            if not _has_parameter(self, target) or not _has_parameter(self, source):
                continue
            module_path, _, name = target.rpartition(".")
            setattr(self.get_submodule(module_path), name, self.get_parameter(source))

    def _tied_targets(self) -> set[str]:
        """The parameter names that are copies of another (not saved, not 'missing')."""
        if not getattr(self.config, "tie_word_embeddings", True):
            return set()
        return {t for t in self._tied_weights_keys if _has_parameter(self, t)}

    @property
    def base_model(self) -> nn.Module:
        return getattr(self, self.base_model_prefix, self)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def get_input_embeddings(self) -> nn.Module:
        base = self.base_model
        if base is self:
            raise NotImplementedError(f"{type(self).__name__} must define get_input_embeddings")
        return base.get_input_embeddings()

    def get_output_embeddings(self) -> nn.Module | None:
        return None

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Number of distinct parameters (tied ones counted once)."""
        params = {id(p): p for p in self.parameters()}
        if exclude_embeddings:
            for module in self.modules():
                if isinstance(module, nn.Embedding):
                    params.pop(id(module.weight), None)
        return sum(p.numel() for p in params.values())

    def generate(self, *args, **kwargs):
        """Only models with a language-modelling head generate; they override this."""
        raise TypeError(
            f"{type(self).__name__} has no language-modelling head, so it cannot generate text; load the "
            "checkpoint with AutoModelForCausalLM.from_pretrained(...) to get one."
        )

    # -- loading -------------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *,
        config: PretrainedConfig | None = None,
        revision: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        token: str | bool | None = None,
        local_files_only: bool = False,
        subfolder: str = "",
        dtype: str | torch.dtype | None = None,
        torch_dtype: str | torch.dtype | None = None,
        use_safetensors: bool | None = None,
        allow_pickle: bool = False,
        ignore_mismatched_sizes: bool = False,
        output_loading_info: bool = False,
        **config_overrides: Any,
    ):
        """Load a model from a local folder or a Hub repo id.

        Args:
            pretrained_model_name_or_path: a folder written by ``save_pretrained`` (ours or
                transformers') or a Hub repo id such as ``"gpt2"`` (resolved through
                ``huggingface_hub``: its cache, ``HF_HUB_OFFLINE=1`` and tokens apply).
            config: use this config instead of the checkpoint's ``config.json``.
            revision, cache_dir, token, local_files_only, subfolder: passed to the Hub.
            dtype / torch_dtype: ``"auto"`` (default: the config's ``dtype``, else the
                checkpoint's), or a torch dtype / name such as ``"float32"``.
            use_safetensors: require (True) safetensors weights.
            allow_pickle: allow pickled ``pytorch_model.bin`` weights (read with
                ``weights_only=True``). Off by default: unpickling can run code.
            ignore_mismatched_sizes: re-initialise weights whose shape differs (e.g. a
                classifier with another number of labels) instead of raising.
            output_loading_info: also return a :class:`LoadingReport`.
            **config_overrides: config fields to change, e.g. ``num_labels=3``.
        """
        hub_kwargs = dict(
            revision=revision, cache_dir=cache_dir, token=token, local_files_only=local_files_only, subfolder=subfolder
        )
        if config is None:
            config = cls.config_class.from_pretrained(pretrained_model_name_or_path, **hub_kwargs, **config_overrides)
        else:
            if not isinstance(config, PretrainedConfig):
                raise TypeError(f"config must be a PretrainedConfig, got {type(config).__name__}.")
            for key, value in config_overrides.items():
                setattr(config, key, value)
        files, fmt = hub.resolve_weight_files(
            pretrained_model_name_or_path, use_safetensors=use_safetensors, allow_pickle=allow_pickle, **hub_kwargs
        )
        state_dict = hub.load_state_dict(files, fmt)

        requested = dtype if dtype is not None else torch_dtype
        target_dtype = _resolve_dtype(requested if requested is not None else "auto", config, state_dict)

        config.name_or_path = pretrained_model_name_or_path  # as transformers: pipelines find the tokenizer by it
        # Shapes first, on the meta device: a config that disagrees with the checkpoint (vocab_size 1e8,
        # 20,000 layers) is named before a byte is allocated or a module initialised.
        _check_layer_counts(config, state_dict)
        shell = cls._build_on_meta(config)
        if shell is not None:
            shell._plan_load(state_dict, ignore_mismatched_sizes)
            del shell
        model = cls._build_uninitialised(config)
        report = model._load_checkpoint(state_dict, ignore_mismatched_sizes=ignore_mismatched_sizes, dtype=target_dtype)
        model.to(target_dtype)  # what the checkpoint did not provide (new heads, buffers) follows
        model.config.dtype = target_dtype
        model.eval()  # as transformers: a loaded model starts in inference mode (no dropout)
        if output_loading_info:
            return model, report
        return model

    @classmethod
    def _build_uninitialised(cls, config: PretrainedConfig) -> "PreTrainedModel":
        """``cls(config)`` without drawing a single random number: every weight is left as
        ``torch.empty`` memory, for the checkpoint to replace. Buffers are computed as usual.

        ``fork_rng`` is a second guard: a module that draws in its constructor without
        ``nn.init`` (``nn.Parameter(torch.randn(...))``) still leaves the global generator alone.
        """
        with torch.random.fork_rng(devices=[]), _init_functions_skip(lambda tensor: True):
            return cls(config)

    def _initialize_missing(self, keys: list[str]) -> None:
        """Run ``_init_weights`` where the checkpoint left weights out, touching only those.

        Every module on the way from the root to a missing weight gets its family's
        ``_init_weights`` (children before parents, the order of ``nn.Module.apply`` and of
        transformers' ``initialize_weights``), with the ``nn.init`` functions made to skip
        every tensor that was loaded. So the random draws are exactly those transformers makes
        for the same missing weights.
        """
        if not keys:
            return
        fresh = set()  # storages of the weights to initialise (nn.init may be given w or w.data)
        on_the_way = {""}  # module paths from the root to each missing weight
        for key in keys:
            fresh.add(_storage_of(self._parameter_or_buffer(key)))
            parts = key.split(".")[:-1]
            on_the_way.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))

        def visit(path: str, module: nn.Module, owner: PreTrainedModel) -> None:
            if isinstance(module, PreTrainedModel):
                owner = module  # a sub-model initialises its own modules (as transformers' smart_apply)
            for name, child in module.named_children():
                child_path = f"{path}.{name}" if path else name
                if child_path in on_the_way:
                    visit(child_path, child, owner)
            owner._init_weights(module)

        with torch.no_grad(), _init_functions_skip(lambda tensor: _storage_of(tensor) not in fresh):
            visit("", self, self)

    def _parameter_or_buffer(self, key: str) -> torch.Tensor:
        module_path, _, name = key.rpartition(".")
        module = self.get_submodule(module_path)
        tensor = module._parameters.get(name, module._buffers.get(name))
        if tensor is None:
            raise AttributeError(f"{type(self).__name__} has no parameter or buffer {key!r}")
        return tensor

    def _align_prefix(self, state_dict: dict[str, torch.Tensor], expected: set[str]) -> dict[str, torch.Tensor]:
        """Rename checkpoint keys between 'bare model' and 'model with a head' layouts."""
        prefix = self.base_model_prefix
        if not prefix:
            return state_dict
        model_has_prefix = any(k.startswith(prefix + ".") for k in expected)
        aligned = {}
        for key, tensor in state_dict.items():
            if model_has_prefix and key not in expected and f"{prefix}.{key}" in expected:
                key = f"{prefix}.{key}"  # bare checkpoint -> model with a head
            elif not model_has_prefix and key.startswith(prefix + ".") and key[len(prefix) + 1 :] in expected:
                key = key[len(prefix) + 1 :]  # checkpoint with a head -> bare model
            aligned[key] = tensor
        return aligned

    def _is_head_key(self, key: str) -> bool:
        """True for weights outside the bare model, or ones a checkpoint may lack."""
        prefix = self.base_model_prefix
        outside_base = bool(prefix) and hasattr(self, prefix) and not key.startswith(prefix + ".")
        optional = any(re.search(pattern, key) for pattern in self._keys_optional_in_checkpoint)
        return outside_base or optional

    def _plan_load(self, state_dict: dict[str, torch.Tensor], ignore_mismatched_sizes: bool):
        """Compare the checkpoint with this model by name and shape, changing nothing:
        ``(usable, missing, mismatched, unexpected)``. Raises for shapes that differ (unless
        ``ignore_mismatched_sizes``) and for weights every checkpoint of the class has. It needs
        only shapes, so ``from_pretrained`` runs it first on a model built on the meta device."""
        own = self.state_dict()
        tied = self._tied_targets()
        expected = set(own) - tied
        state_dict = self._align_prefix(state_dict, set(own))
        unexpected, mismatched, usable = [], [], {}
        for key, tensor in state_dict.items():
            if key in tied:
                continue  # e.g. an lm_head.weight saved beside the embedding it is tied to
            if key not in expected:
                if not any(re.search(p, key) for p in self._keys_to_ignore_on_load_unexpected):
                    unexpected.append(key)
                continue
            if tuple(tensor.shape) != tuple(own[key].shape):
                mismatched.append((key, tuple(tensor.shape), tuple(own[key].shape)))
                continue
            usable[key] = tensor
        missing = sorted(expected - set(usable) - {m[0] for m in mismatched})

        name = type(self).__name__
        if mismatched and not ignore_mismatched_sizes:
            details = "; ".join(f"{k}: checkpoint {a}, model {b}" for k, a, b in mismatched[:8])
            more = f" (and {len(mismatched) - 8} more)" if len(mismatched) > 8 else ""
            raise ValueError(
                f"{len(mismatched)} weight(s) have a different shape in the checkpoint than in {name}: {details}{more}. "
                "Check that the config matches the checkpoint, or pass ignore_mismatched_sizes=True to "
                "re-initialise them (e.g. a classifier with another number of labels)."
            )
        should_have = [k for k in missing if not self._is_head_key(k)]
        if should_have:
            shown = ", ".join(should_have[:8]) + (" ..." if len(should_have) > 8 else "")
            raise ValueError(
                f"the checkpoint lacks {len(should_have)} weight(s) that every {name} checkpoint has: {shown}. "
                "The file may be truncated or from another architecture (or the config asks for more layers "
                "than the checkpoint holds); re-download or re-save it, or fix the config."
            )
        return usable, missing, mismatched, unexpected

    @classmethod
    def _build_on_meta(cls, config: PretrainedConfig) -> "PreTrainedModel | None":
        """``cls(config)`` on the meta device: shapes only, no memory, no random draws. None for a
        family whose constructor needs real data (it is then checked after the real build)."""
        try:
            with torch.device("meta"), torch.random.fork_rng(devices=[]), _init_functions_skip(lambda tensor: True):
                return cls(config)
        except Exception:  # noqa: BLE001 - e.g. a buffer computed with NumPy; the real build checks the same
            return None

    def _load_checkpoint(self, state_dict: dict[str, torch.Tensor], *, ignore_mismatched_sizes: bool,
                         dtype: torch.dtype | None = None) -> LoadingReport:
        """Make the checkpoint's tensors the model's own (cast to ``dtype`` where floating),
        initialise what it lacks, report the rest. Errors are raised before anything changes."""
        own = self.state_dict()
        usable, missing, mismatched, unexpected = self._plan_load(state_dict, ignore_mismatched_sizes)
        name = type(self).__name__

        # assign=True: the loaded tensor becomes the parameter (requires_grad stays the model's), no copy.
        self.load_state_dict(_ready_to_assign(usable, own, dtype), strict=False, assign=True)
        self.tie_weights()

        new = missing + [m[0] for m in mismatched]
        self._initialize_missing(new)
        self._newly_initialized = list(new)  # pipelines warn when they run such an untrained head
        if new:
            warnings.warn(
                f"Some weights of {name} were not in the checkpoint and are newly initialised: {new}. "
                "You should probably TRAIN this model on a downstream task before using it for predictions.",
                stacklevel=3,
            )
        if unexpected:
            warnings.warn(
                f"Some weights of the checkpoint were not used by {name}: {unexpected}. This is expected when "
                "the checkpoint was trained for another task (e.g. a masked-LM head loaded into a classifier).",
                stacklevel=3,
            )
        return LoadingReport(
            missing_keys=missing, unexpected_keys=unexpected, mismatched_keys=mismatched, newly_initialized=new
        )

    # -- saving --------------------------------------------------------------------

    def save_pretrained(self, save_directory: str | os.PathLike, is_main_process: bool = True,
                        state_dict: dict[str, torch.Tensor] | None = None, *, max_shard_size: int | str = "5GB",
                        safe_serialization: bool = True, save_function: Callable | None = None) -> None:
        """Write ``config.json`` and ``model.safetensors`` (sharded above ``max_shard_size``).

        As in transformers: ``is_main_process=False`` (the other ranks of a distributed run) writes
        nothing; ``state_dict`` saves those tensors instead of the model's own (e.g.
        ``accelerator.get_state_dict(model)``); ``save_function`` (the course's
        ``save_function=accelerator.save``) is accepted and not used, since safetensors writes
        the files, as transformers 5 does.

        Tied copies (``lm_head.weight`` when tied to the embedding) are not written, as
        transformers does. Everything is checked before the first byte is written.

        The whole save (weights, config.json, generation_config.json) is one
        ``hub.saving_folder`` step: a reader, or a process killed at any moment, finds the old
        folder or the new one, whole; files of the folder this save does not write (a
        tokenizer's) are kept, symlinks among them are replaced rather than written through,
        and temporaries of earlier killed saves are removed. Where the folder cannot be
        swapped in one step (not Linux, a mount point, the working directory inside it) the
        files switch one by one, the weights last: a reader then finds the old weights or the
        new ones, whole, but may pair them with the other version's config for that moment.
        See hfexplain/hub.py, "Saving atomically".
        """
        if not safe_serialization:
            raise ValueError("hfexplain only writes safetensors; pickled weights are unsafe to share.")
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise OSError(f"{save_directory!r} is a file; save_pretrained needs a folder path.")
        tied = self._tied_targets()
        if state_dict is None:
            state_dict = self.state_dict()
        elif not isinstance(state_dict, Mapping) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
            raise TypeError("save_pretrained(state_dict=...) takes a dict of parameter names to tensors, as "
                            "model.state_dict() returns it.")
        state_dict = {k: v.detach().contiguous() for k, v in state_dict.items() if k not in tied}
        if not is_main_process:
            return
        if os.path.isdir(save_directory) and not os.access(save_directory, os.W_OK):
            raise PermissionError(
                errno.EACCES, f"cannot write to {save_directory!r}: permission denied. Pick a writable folder."
            )
        self.config.architectures = [type(self).__name__]
        self.config.dtype = self.dtype
        with hub.saving_folder(save_directory):  # everything below lands in one step
            hub.save_state_dict(state_dict, save_directory, max_shard_size=max_shard_size, metadata={"format": "pt"})
            self.config.save_pretrained(save_directory)
            self._save_extra_files(save_directory)

    def _save_extra_files(self, save_directory: str) -> None:
        """Hook for subclasses that write more (e.g. generation_config.json)."""


# Every in-place initialiser of torch.nn.init (nn.Linear, nn.Embedding, ... call them through the module).
_INIT_FUNCTIONS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
                   "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
                   "sparse_")


@contextlib.contextmanager
def _init_functions_skip(skip: Callable[[torch.Tensor], bool]) -> Iterator[None]:
    """While active, each ``torch.nn.init`` function returns a tensor for which ``skip(tensor)``
    holds untouched (no values written, no random numbers drawn).

    It replaces the functions in the ``torch.nn.init`` module, as transformers' ``no_init_weights``
    does, so it holds for every caller in this process while it lasts (loading is not thread-safe).
    """
    originals = {name: getattr(nn.init, name) for name in _INIT_FUNCTIONS if hasattr(nn.init, name)}

    def guarded(original: Callable) -> Callable:
        @functools.wraps(original)
        def initialiser(tensor, *args, **kwargs):
            return tensor if skip(tensor) else original(tensor, *args, **kwargs)

        return initialiser

    for name, original in originals.items():
        setattr(nn.init, name, guarded(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(nn.init, name, original)


def _storage_of(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage().data_ptr()


def _ready_to_assign(usable: dict[str, torch.Tensor], own: dict[str, torch.Tensor],
                     dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    """The checkpoint tensors as the model will own them: floating ones in ``dtype`` (the others
    in the model's dtype), contiguous, and never two sharing memory (a pickled checkpoint may
    store tied weights as views of one storage; a model that does not tie them must not share
    them). A safetensors tensor already in the right dtype passes through as it is, uncopied."""
    ready, seen = {}, set()
    cast = sorted(key for key, tensor in usable.items()
                  if own[key].is_floating_point() and not (tensor.is_floating_point() or tensor.is_complex()))
    if cast:
        warnings.warn(
            f"{len(cast)} weight(s) are stored as integers in the checkpoint but are floating-point in the model "
            f"({', '.join(cast[:5])}{' ...' if len(cast) > 5 else ''}): they are cast to float as they load. A "
            "quantised or corrupted file? Re-save the model in floating point if that was not intended.",
            stacklevel=4,
        )
    for key, tensor in usable.items():
        wanted = dtype if dtype is not None and own[key].is_floating_point() else own[key].dtype
        tensor = tensor.to(wanted).contiguous()
        if tensor.numel() and _storage_of(tensor) in seen:
            tensor = tensor.clone()
        seen.add(_storage_of(tensor))
        ready[key] = tensor
    return ready


_NUMBERED_BLOCK = re.compile(r"^(.*?)\.(\d+)\.")


def _check_layer_counts(config: PretrainedConfig, state_dict: dict[str, torch.Tensor]) -> None:
    """A config that asks for far more layers than the checkpoint holds (20,000 for a 12-layer file)
    would spend minutes building modules (even on the meta device) before the comparison by name
    fails: refuse it at once. Only absurd counts are judged here (more than 64 layers, and more
    than twice the largest numbered block list in the file), so ALBERT's one shared layer group
    applied 12 times, or a checkpoint with fewer layers than its config by design, still reach the
    exact check by name."""
    counts = {}
    for key in state_dict:
        match = _NUMBERED_BLOCK.match(key)
        if match:
            counts[match.group(1)] = max(counts.get(match.group(1), 0), int(match.group(2)) + 1)
    held = max(counts.values(), default=0)
    for field, value in vars(config).items():
        is_layers = field.endswith("_layers") or field in ("n_layer", "n_layers", "num_layers")
        if is_layers and isinstance(value, int) and not isinstance(value, bool) and value > max(64, 2 * held):
            raise ValueError(
                f"config.{field}={value} asks for {value} layers, but the checkpoint holds at most {held} numbered "
                f"blocks: the config does not belong to these weights. Fix {field} in config.json (or the "
                "arguments you passed)."
            )


def _has_parameter(module: nn.Module, name: str) -> bool:
    try:
        module.get_parameter(name)
        return True
    except AttributeError:
        return False


def _resolve_dtype(requested: Any, config: PretrainedConfig, state_dict: dict[str, torch.Tensor]) -> torch.dtype:
    requested = dtype_from_name(requested)
    if requested == "auto":
        if isinstance(config.dtype, torch.dtype):
            return config.dtype
        for tensor in state_dict.values():
            if tensor.is_floating_point():
                return tensor.dtype
        return torch.float32
    return requested


__all__ = ["PreTrainedModel", "LoadingReport", "HUB_KWARGS"]
