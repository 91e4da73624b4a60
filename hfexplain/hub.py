"""Name-or-path -> local files, and state dicts <-> safetensors files.

A model is found by a *name or path*, exactly as in ``transformers``:

* a local folder (what ``save_pretrained`` wrote) is read directly;
* anything else is a Hub repo id (``"gpt2"``, ``"org/name"``), resolved by
  ``huggingface_hub`` through its cache. Revisions, tokens, ``cache_dir=``,
  ``local_files_only=True`` and ``HF_HUB_OFFLINE=1`` all behave as they do in
  ``transformers``, because it is the same code doing the work. Nothing here speaks
  HTTP by itself.

The Hub cache (``~/.cache/huggingface/hub`` unless ``HF_HUB_CACHE`` or ``cache_dir=``
says otherwise) keeps one folder per repo::

    models--ORG--NAME/
      blobs/<hash>                       each file's bytes, stored once
      snapshots/<40-hex commit>/<file>   the repo as of one commit (symlinks to blobs)
      refs/main                          the commit that the branch "main" points to

Offline, a branch or tag name is turned into a commit through ``refs/``, and the
file is looked up in that commit's snapshot.

The weight files, with the names ``transformers`` uses::

    model.safetensors                     all weights in one file (preferred)
    model-00001-of-00003.safetensors ...  the same, cut into shards when too big,
    model.safetensors.index.json          ... plus an index: {"metadata": {"total_size": bytes},
                                              "weight_map": {"param.name": "shard file"}}
    pytorch_model.bin (+ .index.json)     the old pickled format

A safetensors file is an 8-byte header length, a JSON header (name -> dtype, shape,
byte offsets) and the raw bytes: reading it cannot run code. A ``.bin`` file is a
Python pickle, and unpickling can run arbitrary code hidden in the file, so pickled
weights are refused unless the caller passes ``allow_pickle=True``, and even then
they are read with ``torch.load(weights_only=True)``.

This module sits at the bottom of the library: it imports nothing from hfexplain, and
the other modules take their shared file helpers from it (``HUB_KWARGS``,
``read_json_object``, ``write_text_atomically``, ``dtype_from_name``).
"""
from __future__ import annotations

import json
import ntpath
import os
import pickle
import re
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from huggingface_hub import constants as hub_constants
from huggingface_hub import errors as hub_errors
from huggingface_hub import hf_hub_download, split_torch_state_dict_into_shards
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file as save_safetensors_file

SAFE_WEIGHTS_NAME = "model.safetensors"
SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
WEIGHTS_NAME = "pytorch_model.bin"
WEIGHTS_INDEX_NAME = "pytorch_model.bin.index.json"

# Every file save_state_dict may have written: removed when a new save replaces them.
_SAFETENSORS_FILE_RE = re.compile(r"model(-\d{5}-of-\d{5})?\.safetensors|model\.safetensors\.index\.json")


# The keyword arguments that say where files come from; every from_pretrained passes them on.
HUB_KWARGS = ("revision", "cache_dir", "token", "local_files_only", "subfolder")


class UnsafeShardNameError(ValueError, OSError):
    """A shard index names a file outside its folder (``../x``, ``a/b``, an absolute path).

    A ValueError (the index's content is refused) and, like every other broken-index
    error here, an OSError."""


# --------------------------------------------------------------------------- small file helpers


def read_json_object(
    path: str | os.PathLike,
    what: str = "this file",
    fix: str = "Fix the file, or save it again with save_pretrained().",
) -> dict[str, Any]:
    """Read a JSON file that must hold an object (config.json, generation_config.json, an index ...).

    Invalid JSON, text that is not UTF-8, or JSON that is not an object is an ``OSError``
    naming the file, where the error is, ``what`` the file should have been ("a config")
    and ``fix``, what to do about it.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as err:
        raise OSError(
            f"{path!r} is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}). {fix}"
        ) from err
    except UnicodeDecodeError as err:
        raise OSError(f"{path!r} is not valid JSON (it is not UTF-8 text: {err.reason}). {fix}") from err
    if not isinstance(data, dict):
        raise OSError(f"{path!r} holds a JSON {type(data).__name__}, but {what} must be a JSON object. {fix}")
    return data


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Write to a temporary file beside ``path`` and rename it over ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600; a saved model is for sharing
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def dtype_from_name(value: str | torch.dtype | None) -> torch.dtype | str | None:
    """``"float16"`` / ``"torch.float16"`` / ``torch.float16`` -> ``torch.float16``; None and "auto" stay."""
    if value is None or isinstance(value, torch.dtype) or value == "auto":
        return value
    if not isinstance(value, str):
        raise TypeError(f"a dtype is a torch.dtype or its name, got {type(value).__name__}.")
    dtype = getattr(torch, value.removeprefix("torch."), None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"{value!r} is not a torch dtype name; use e.g. 'float32', 'bfloat16' or torch.float16.")
    return dtype


# --------------------------------------------------------------------------- finding files


def cached_file(
    path_or_repo_id: str | os.PathLike,
    filename: str,
    *,
    subfolder: str = "",
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    required: bool = True,
) -> str | None:
    """Return the local path of ``filename`` from a folder or a Hub repo.

    A local folder is read directly. Anything else is treated as a Hub repo id and
    resolved by ``huggingface_hub.hf_hub_download`` (its cache, ``HF_HUB_OFFLINE=1``,
    ``revision`` and ``token`` all apply).

    With ``required=False`` a file the repo does not have gives ``None``, also offline
    when the revision is cached but lacks that file. Everything else is an ``OSError``
    that says what to do: no such folder or repo, a revision that does not exist,
    or (offline) a repo or revision that was never downloaded.
    """
    path_or_repo_id = os.fspath(path_or_repo_id)
    name_in_repo = f"{subfolder}/{filename}" if subfolder else filename

    if os.path.isdir(path_or_repo_id):
        path = os.path.join(path_or_repo_id, subfolder, filename)
        if os.path.isfile(path):
            return path
        if required:
            raise OSError(
                f"{path_or_repo_id!r} is a folder but has no file {name_in_repo!r}. "
                "Check the folder, or save a model there with save_pretrained() first."
            )
        return None
    if os.path.isfile(path_or_repo_id):
        raise OSError(
            f"{path_or_repo_id!r} is a file; pass the folder that contains it (with its config.json) instead."
        )

    try:
        return hf_hub_download(
            repo_id=path_or_repo_id,
            filename=filename,
            subfolder=subfolder or None,
            revision=revision,
            cache_dir=os.fspath(cache_dir) if cache_dir is not None else None,
            token=token,
            local_files_only=local_files_only,
        )
    except hub_errors.HFValidationError as err:
        raise OSError(
            f"{path_or_repo_id!r} is neither an existing local folder nor a valid Hub repo id "
            "(expected 'name' or 'org/name'). Check the path or the spelling."
        ) from err
    except hub_errors.GatedRepoError as err:  # a subclass of RepositoryNotFoundError: test it first
        raise OSError(
            f"{path_or_repo_id!r} is a gated Hub repo. Accept its conditions on its Hub page, "
            "then pass token= (or log in with `hf auth login`)."
        ) from err
    except hub_errors.RepositoryNotFoundError as err:
        raise OSError(
            f"{path_or_repo_id!r} is not a local folder and no Hub repo of that name was found. "
            "Check the spelling, or pass token= for a private repo."
        ) from err
    except hub_errors.RevisionNotFoundError as err:
        raise OSError(
            f"revision {revision!r} does not exist for {path_or_repo_id!r}. "
            "Pass an existing branch, tag or commit id."
        ) from err
    except hub_errors.LocalEntryNotFoundError as err:
        # The Hub could not be asked (offline, local_files_only=True, no network) and the
        # cache does not have the file. Say which of the three cases it is.
        return _not_in_cache(
            path_or_repo_id, name_in_repo, revision, cache_dir, local_files_only, required, err
        )
    except hub_errors.EntryNotFoundError as err:  # the Hub answered: the repo has no such file
        if required:
            raise OSError(f"the Hub repo {path_or_repo_id!r} has no file {name_in_repo!r}.") from err
        return None


def _not_in_cache(repo_id, name_in_repo, revision, cache_dir, local_files_only, required, err) -> None:
    """Explain a file that could not be downloaded and is not cached (or return None if optional)."""
    if hub_constants.HF_HUB_OFFLINE:  # read from the environment when huggingface_hub is imported
        why = "HF_HUB_OFFLINE=1 is set"
    elif local_files_only:
        why = "local_files_only=True was passed"
    else:
        why = "the Hub could not be reached"
    cache = os.fspath(cache_dir) if cache_dir is not None else hub_constants.HF_HUB_CACHE
    repo_folder = os.path.join(cache, "models--" + repo_id.replace("/", "--"))  # models--ORG--NAME
    revision = revision or "main"
    snapshot = _cached_snapshot(repo_folder, revision)

    if not os.path.isdir(repo_folder):
        raise OSError(
            f"{repo_id!r} is not a local folder, and the Hub repo {repo_id!r} is not in the cache "
            f"({cache}); it cannot be downloaded because {why}. Check the spelling or the path, "
            "download the repo once while online, or point cache_dir= at a cache that has it."
        ) from err
    if snapshot is None:
        refs = os.path.join(repo_folder, "refs")  # one file per cached branch or tag
        cached = sorted(os.listdir(refs)) if os.path.isdir(refs) else []
        raise OSError(
            f"revision {revision!r} of {repo_id!r} is not in the cache ({cache}); it cannot be downloaded "
            f"because {why}. Cached revisions: {cached or 'none'}. Pass one of those, or download "
            "this revision once while online."
        ) from err
    if not required:
        return None
    raise OSError(
        f"the cached copy of {repo_id!r} (revision {revision!r}) has no file {name_in_repo!r}, and it cannot "
        f"be downloaded because {why}. Download it once while online, or point cache_dir= at a cache that has it."
    ) from err


def _cached_snapshot(repo_folder: str, revision: str) -> str | None:
    """The snapshot folder of ``revision`` (branch, tag or commit id) in a repo's cache folder, if any."""
    if re.fullmatch(r"[0-9a-f]{40}", revision):
        commit = revision
    else:
        ref = os.path.join(repo_folder, "refs", revision)
        if not os.path.isfile(ref):
            return None
        with open(ref) as handle:
            commit = handle.read()
    snapshot = os.path.join(repo_folder, "snapshots", commit)
    return snapshot if os.path.isdir(snapshot) else None


def resolve_weight_files(
    path_or_repo_id: str | os.PathLike,
    *,
    use_safetensors: bool | None = None,
    allow_pickle: bool = False,
    subfolder: str = "",
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
) -> tuple[list[str], str]:
    """Find a checkpoint's weight files; return ``(local paths, "safetensors" or "pickle")``.

    The search order is the one ``transformers`` uses:

    1. ``model.safetensors``;
    2. ``model.safetensors.index.json``: a sharded checkpoint, every shard it names is resolved;
    3. only if there is no safetensors file (or ``use_safetensors=False``):
       ``pytorch_model.bin``, then ``pytorch_model.bin.index.json``. These are pickles and
       are refused unless ``allow_pickle=True``.

    ``use_safetensors=True`` demands safetensors; ``None`` (default) prefers them.
    """
    if use_safetensors not in (None, True, False):
        raise TypeError(f"use_safetensors must be None, True or False, got {use_safetensors!r}.")
    where = f"{os.fspath(path_or_repo_id)!r}" + (f" (subfolder {subfolder!r})" if subfolder else "")
    lookup = dict(
        subfolder=subfolder, revision=revision, cache_dir=cache_dir, token=token,
        local_files_only=local_files_only, required=False,
    )

    if use_safetensors is not False:
        single = cached_file(path_or_repo_id, SAFE_WEIGHTS_NAME, **lookup)
        if single is not None:
            return [single], "safetensors"
        index = cached_file(path_or_repo_id, SAFE_WEIGHTS_INDEX_NAME, **lookup)
        if index is not None:
            return _resolve_shards(path_or_repo_id, index, where, lookup), "safetensors"
        if use_safetensors:
            raise OSError(
                f"{where} has no {SAFE_WEIGHTS_NAME} or {SAFE_WEIGHTS_INDEX_NAME}, and use_safetensors=True "
                "was passed. Leave use_safetensors unset to accept pickled pytorch_model.bin weights "
                "(which also needs allow_pickle=True), or convert the checkpoint to safetensors."
            )

    single = cached_file(path_or_repo_id, WEIGHTS_NAME, **lookup)
    index = None if single is not None else cached_file(path_or_repo_id, WEIGHTS_INDEX_NAME, **lookup)
    if single is None and index is None:
        looked_for = [WEIGHTS_NAME, WEIGHTS_INDEX_NAME]
        if use_safetensors is not False:
            looked_for = [SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME] + looked_for
        raise OSError(
            f"{where} has no model weights: looked for {', '.join(looked_for)}. "
            "Check the name or path, or save the model there with save_pretrained()."
        )
    if not allow_pickle:
        raise OSError(
            f"{where} has only pickled PyTorch weights ({WEIGHTS_NAME if single else WEIGHTS_INDEX_NAME}). "
            "Unpickling a file can run arbitrary code hidden in it (arbitrary code execution), so pickled "
            "weights are refused by default. If you trust this checkpoint, pass allow_pickle=True: it is "
            "then read with torch.load(weights_only=True), which only rebuilds tensors. Better, convert it "
            "to safetensors once: load it with allow_pickle=True and save it again with save_pretrained()."
        )
    if single is not None:
        return [single], "pickle"
    return _resolve_shards(path_or_repo_id, index, where, lookup), "pickle"


def _resolve_shards(path_or_repo_id, index_path: str, where: str, lookup: dict) -> list[str]:
    """Read a ``*.index.json`` and resolve each shard file it names (sorted, as transformers does)."""
    index = read_json_object(index_path, what="a shard index",
                             fix="It is corrupted: download it again or re-save the model.")
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise OSError(
            f"{index_path!r} has no 'weight_map' (parameter name -> shard file). "
            "It is corrupted: download it again or re-save the model."
        )

    shards = sorted(set(weight_map.values()), key=str)
    for shard in shards:  # every name is checked before any file is looked for
        check_shard_name(shard, index_path)
    files = []
    for shard in shards:
        path = cached_file(path_or_repo_id, shard, **lookup)
        if path is None:
            raise OSError(
                f"{where}: the index {os.path.basename(index_path)} lists the shard {shard!r}, but that file "
                "is missing, so the checkpoint is incomplete. Download the missing shard again, or re-save the model."
            )
        files.append(path)
    return files


def check_shard_name(shard: Any, index_path: str | os.PathLike) -> None:
    """A shard named by an index must be a plain file name in the index's own folder.

    ``../model.safetensors``, ``sub/x.safetensors``, ``a\\b``, ``/etc/x`` or ``C:x`` would read a
    file elsewhere: :class:`UnsafeShardNameError` (a ValueError) refuses them.
    """
    if (
        not isinstance(shard, str) or not shard or shard in (".", "..")
        or "/" in shard or "\\" in shard or os.path.isabs(shard) or ntpath.splitdrive(shard)[0]
    ):
        raise UnsafeShardNameError(
            f"{os.fspath(index_path)!r} names the shard {shard!r}, which is not a plain file name: a shard "
            "must sit in the same folder as its index (no '..', '/', '\\' or absolute path). The index is "
            "corrupted or hostile: download the checkpoint again from a source you trust, or re-save the model."
        )


# --------------------------------------------------------------------------- reading weights


def load_state_dict(
    files: Sequence[str | os.PathLike] | str | os.PathLike,
    fmt: str,
    *,
    dtype: torch.dtype | str | None = None,
) -> dict[str, torch.Tensor]:
    """Read weight files (as returned by ``resolve_weight_files``) into one state dict on the CPU.

    ``fmt="safetensors"`` reads with the ``safetensors`` library; ``fmt="pickle"`` with
    ``torch.load(map_location="cpu", weights_only=True)``. A key found in two shards is
    an error (the checkpoint is inconsistent). ``dtype`` (e.g. ``torch.float16`` or
    ``"float16"``) casts floating-point tensors; integer and bool tensors keep theirs.
    """
    if fmt not in ("safetensors", "pickle"):
        raise ValueError(f"fmt must be 'safetensors' or 'pickle' (as returned by resolve_weight_files), got {fmt!r}.")
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    dtype = _floating_dtype(dtype)

    state_dict: dict[str, torch.Tensor] = {}
    found_in: dict[str, str] = {}  # key -> file it came from, to name both files on a duplicate
    for file in files:
        file = os.fspath(file)
        shard = _read_safetensors(file) if fmt == "safetensors" else _read_pickle(file)
        for key, tensor in shard.items():
            if key in found_in:
                raise OSError(
                    f"the weight {key!r} is in both {found_in[key]!r} and {file!r}: the checkpoint's shards "
                    "overlap, so it is inconsistent. Download it again or re-save the model."
                )
            if dtype is not None and tensor.is_floating_point():
                tensor = tensor.to(dtype)
            state_dict[key] = tensor
            found_in[key] = file
    return state_dict


def _floating_dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    """Accept ``None``, a floating ``torch.dtype`` or its name (``"bfloat16"``)."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        if dtype == "auto":
            raise ValueError("dtype 'auto' is decided by from_pretrained; load_state_dict needs a floating dtype.")
        dtype = dtype_from_name(dtype)
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype or its name, got {type(dtype).__name__}.")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point dtype (weights are cast to it), got {dtype}.")
    return dtype


def _read_safetensors(file: str) -> dict[str, torch.Tensor]:
    try:
        with safe_open(file, framework="pt", device="cpu") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except SafetensorError as err:
        raise OSError(
            f"{file!r} is not a valid safetensors file ({err}). It is corrupted or truncated, e.g. by an "
            "interrupted download or save: delete it and download it again, or re-save the model."
        ) from err


def _read_pickle(file: str) -> dict[str, torch.Tensor]:
    try:
        # weights_only=True: the unpickler rebuilds tensors and plain containers, nothing else.
        state_dict = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise OSError(
            f"{file!r} holds Python objects other than tensors, which weights_only=True refuses to unpickle. "
            "Only load it without that protection if you fully trust its source; better, ask for a safetensors version."
        ) from err
    except (RuntimeError, EOFError) as err:
        raise OSError(
            f"{file!r} could not be read as a PyTorch checkpoint ({err}). It is probably corrupted or truncated: "
            "download it again, or re-save the model."
        ) from err
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise OSError(f"{file!r} does not hold a state dict (a dict of name -> tensor).")
    return state_dict


# --------------------------------------------------------------------------- writing weights

_SIZE_UNITS = {
    "B": 1,
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,  # decimal, as transformers' "5GB"
    "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40,  # binary
}


def parse_size(size: int | str) -> int:
    """Turn ``max_shard_size`` into bytes: ``1000``, ``"500B"``, ``"10KB"`` (10_000), ``"5GB"``, ``"2GiB"`` (2 * 2**30)."""
    if isinstance(size, int) and not isinstance(size, bool):
        value = size
    elif isinstance(size, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(B|[KMGT]i?B)\s*", size, flags=re.IGNORECASE)
        if match is None:
            raise ValueError(
                f"cannot read the size {size!r}: use a number of bytes or a number with a unit, "
                "like '200MB', '5GB' or '2GiB' (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)."
            )
        value = int(float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()])
    else:
        raise TypeError(f"a size is an int (bytes) or a string like '5GB', got {type(size).__name__}.")
    if value <= 0:
        raise ValueError(f"a size must be positive, got {size!r}.")
    return value


def save_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    folder: str | os.PathLike,
    *,
    max_shard_size: int | str = "5GB",
    metadata: Mapping[str, str] | None = None,
) -> list[str]:
    """Write ``state_dict`` into ``folder`` as safetensors, the way ``save_pretrained`` does.

    Up to ``max_shard_size`` it is one ``model.safetensors``; beyond, shards
    ``model-00001-of-0000N.safetensors`` plus ``model.safetensors.index.json``
    (huggingface_hub's ``split_torch_state_dict_into_shards`` decides the cut; a
    tensor bigger than the limit gets a shard of its own). The safetensors header
    carries ``{"format": "pt"}`` plus ``metadata``. Returns the paths written.

    The save is atomic per file: everything is first written to hidden temporary
    files in ``folder``, then moved into place with ``os.replace`` (shards first,
    the index last). If anything fails, the temporary files are removed and the
    folder is as it was. Weight files of an earlier save that the new one does not
    replace (old shards, an old index or single file) are removed, so the folder
    always holds one consistent checkpoint.

    Tied weights (two keys sharing memory, like GPT-2's ``lm_head.weight`` and
    ``transformer.wte.weight``) must be dropped by the caller: they raise ``ValueError``.
    """
    folder = os.fspath(folder)
    max_bytes = parse_size(max_shard_size)
    header = _safetensors_header(metadata)
    tensors = _tensors_ready_to_save(state_dict)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OSError(f"{folder!r} is a file; save_state_dict needs a folder path (it is created if missing).")

    split = split_torch_state_dict_into_shards(tensors, max_shard_size=max_bytes)  # names model{-0000i-of-0000n}.safetensors

    created_folder = not os.path.isdir(folder)
    os.makedirs(folder, exist_ok=True)
    temporary: dict[str, str] = {}  # final file name -> temporary path, in the order they are moved in
    try:
        for shard_name, keys in split.filename_to_tensors.items():
            temporary[shard_name] = _temporary_path(folder, shard_name)
            save_safetensors_file({key: tensors[key] for key in keys}, temporary[shard_name], metadata=header)
        if split.is_sharded:
            index = {"metadata": {"total_size": split.metadata["total_size"]}, "weight_map": split.tensor_to_filename}
            temporary[SAFE_WEIGHTS_INDEX_NAME] = _temporary_path(folder, SAFE_WEIGHTS_INDEX_NAME)
            with open(temporary[SAFE_WEIGHTS_INDEX_NAME], "x", encoding="utf-8") as handle:
                handle.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    except BaseException:
        for path in temporary.values():
            if os.path.lexists(path):
                os.remove(path)
        if created_folder and not os.listdir(folder):
            os.rmdir(folder)
        raise

    # Commit. Each os.replace is atomic. A reader prefers model.safetensors over the
    # index, so whatever moment it looks, it finds either the old or the new checkpoint.
    mode = 0o666 & ~_current_umask()  # safetensors writes 0600; a saved model is meant to be shared
    for name, path in temporary.items():
        os.chmod(path, mode)
        os.replace(path, os.path.join(folder, name))
    for name in os.listdir(folder):
        if _SAFETENSORS_FILE_RE.fullmatch(name) and name not in temporary:
            os.remove(os.path.join(folder, name))
    return [os.path.join(folder, name) for name in temporary]


def _safetensors_header(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """The safetensors header metadata: ``{"format": "pt"}`` (as transformers writes) plus the caller's."""
    metadata = dict(metadata or {})
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"safetensors metadata maps str to str; got {key!r}: {value!r}. Convert values with str().")
    return {"format": "pt", **metadata}


def _tensors_ready_to_save(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Check every entry, then return contiguous tensors that own exactly their bytes."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a dict of name -> tensor, got {type(state_dict).__name__}.")
    if not state_dict:
        raise ValueError("state_dict is empty: there is nothing to save.")

    ready: dict[str, torch.Tensor] = {}
    owner_of_storage: dict[tuple, str] = {}  # (device, storage address) -> first key using it
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"state_dict keys are parameter names (str); got {key!r}.")
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"state_dict[{key!r}] is a {type(value).__name__}, not a torch.Tensor: a checkpoint holds only "
                "tensors. Remove it (settings belong in config.json)."
            )
        if value.device.type == "meta":
            raise ValueError(f"state_dict[{key!r}] is on the 'meta' device and has no data to save. Materialise it first.")
        if value.layout != torch.strided:
            raise ValueError(f"state_dict[{key!r}] is sparse; safetensors stores dense tensors. Call .to_dense() first.")
        if value.numel() > 0:
            storage = (value.device, value.untyped_storage().data_ptr())
            if storage in owner_of_storage:
                raise ValueError(
                    f"state_dict[{owner_of_storage[storage]!r}] and state_dict[{key!r}] share memory (tied weights, "
                    "or views of one tensor). safetensors stores each tensor once: drop the tied copy before saving "
                    "(transformers drops lm_head.weight when it is tied to the input embeddings, and re-ties it "
                    "after loading), or .clone() one of them."
                )
            owner_of_storage[storage] = key
        tensor = value.detach().contiguous()
        if tensor.untyped_storage().nbytes() != tensor.numel() * tensor.element_size():
            tensor = tensor.clone()  # a slice of a bigger tensor: keep only its own bytes
        ready[key] = tensor
    return ready


def _temporary_path(folder: str, name: str) -> str:
    """A hidden, unique name next to the final file, so ``os.replace`` stays on one file system."""
    return os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
