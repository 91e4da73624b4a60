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

Saving atomically
-----------------
Every file hfexplain writes goes through :func:`write_file_atomically` (a hidden temporary
file beside it, then ``os.replace``), and every save of several files (``save_pretrained``
of a model, a tokenizer, a processor; a Trainer checkpoint) through :func:`saving_folder`.
What a reader may count on, whatever moment the writer is killed (SIGKILL), fails, or finds
the disk full:

* **One step, old or new whole.** The new folder is staged completely in a hidden sibling
  (``.hfexplain-tmp.<pid>.<hex>.<name>``); every entry of the old folder that this save does
  not replace is brought in (hard links, copies where links are impossible); then the two
  folders are swapped with Linux's ``renameat2(RENAME_EXCHANGE)`` (through ctypes: Python
  does not wrap it) and the old one is deleted. A folder that does not exist yet is one plain
  rename. Any reader, ``transformers`` included, opening the folder by its path finds the
  old files or the new ones, never a mix: weights, config.json and generation_config.json
  switch together, and the old shards of an overwritten sharded checkpoint are never beside
  the new index. (A reader that already has the old folder open as its working directory,
  or holds a file open, keeps reading the old version, as with any rename. A link per file
  is cheap, but a folder holding much else, say a Trainer output_dir full of checkpoints,
  costs a link for each of its files. The new folder keeps the old one's mode, and its
  owner when saving as root; extended attributes of the folder itself are not carried.)
* **Symlinks are replaced, never written through.** A Hub cache snapshot is a folder of
  links into ``blobs/``: saving into it leaves the blobs as they were.
* **No leftovers.** A failed save removes its stage; a killed one leaves it, named with its
  pid, and the next save into the same place removes what it finds there whose process is
  gone (:func:`remove_stale_temporaries`).
* **A full disk is named**: an ``OSError`` (ENOSPC) with the disk, the folder and about how
  many bytes the file needed, and the old folder unchanged.

Where the swap is not possible (not Linux or no ``renameat2``; a file system that answers
EINVAL/ENOSYS; the folder is a mount point; this process's working directory is inside the
folder, which the swap would leave in the deleted copy; the parent folder is not writable),
the staged files are moved in one by one with ``os.replace`` instead, the weights last: new
shards never take the name of an old file (they get a fresh suffix, and the index says so),
the file readers look at first (``model.safetensors``, else the index) is switched last, and
the old weight files are removed after it. A reader then still finds the old *weights* or
the new ones, whole, but for the moment between the first and the last rename it may find
new config.json / tokenizer files beside the old weights. Two processes saving into one
folder at the same time: the last switch wins, each whole. Survival of a power cut (rather
than a killed process) needs the data on disk before the switch: ``fsync=True``, which the
Trainer uses.

Why this design: renaming files in one by one (what this module did before) or writing them
in place (what transformers 5.23's ``save_pretrained`` does) leaves a mix after a kill. Tried
with transformers 5.23 on a tiny sharded GPT-2, killed after each file it writes: the same
shapes overwritten gave old and new shards that load with no error (2 of 4 kill points);
a new config gave a folder that loads nowhere (10 of 11: old shards of other names are
deleted before the new index is written); a tokenizer save wrote tokenizer_config.json
through its symlink into the blob, and a write that failed part way left a truncated
tokenizer.json that no longer loads. A per-save manifest checked by the loader would protect
our loader only; swapping whole folders protects every reader.

This module sits at the bottom of the library: it imports nothing from hfexplain, and
the other modules take their shared file helpers from it (``HUB_KWARGS``,
``read_json_object``, ``write_text_atomically``, ``write_bytes_atomically``,
``write_file_atomically``, ``saving_folder``, ``dtype_from_name``).
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import ntpath
import os
import pickle
import re
import secrets
import shutil
import stat
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
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
# (model-00001-of-00003-<8 hex>.safetensors: a shard renamed by the fallback switch, see _commit_file_by_file.)
_SAFETENSORS_FILE_RE = re.compile(
    r"model(-\d{5}-of-\d{5}(-[0-9a-f]{8})?)?\.safetensors|model\.safetensors\.index\.json"
)


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
        folder = os.path.join(path_or_repo_id, subfolder) if subfolder else path_or_repo_id
        if os.path.isdir(folder) and not os.access(folder, os.R_OK | os.X_OK):  # else every file looks missing
            raise PermissionError(
                errno.EACCES,
                f"cannot read the folder {folder!r}: permission denied (it needs read and execute permission, "
                f"for {filename!r} and the other files). Fix its permissions (chmod u+rx) or run as its owner.",
            )
        if os.path.isfile(path):
            if not os.access(path, os.R_OK):
                raise PermissionError(
                    errno.EACCES,
                    f"cannot read {path!r}: permission denied. Fix its permissions (chmod u+r) or run as its owner.",
                )
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

    The weight files of an earlier save (old shards, an old index or single file)
    are not kept: the folder holds one checkpoint. The save is one
    :func:`saving_folder` transaction (see "Saving atomically" below): a reader, or
    a process killed at any moment, finds the old checkpoint or the new one, whole.
    If anything fails, the folder is as it was and no temporary file is left.

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
    written = []
    with saving_folder(folder) as staged:
        save = _active_saves()[os.path.realpath(staged)]
        save.replaces.update(_weight_files(save.target))  # the old checkpoint's files never reach the new folder
        for shard_name, keys in split.filename_to_tensors.items():
            shard = {key: tensors[key] for key in keys}
            size = sum(tensor.numel() * tensor.element_size() for tensor in shard.values())
            write_file_atomically(os.path.join(staged, shard_name),
                                  functools.partial(_save_safetensors, shard, metadata=header), size_hint=size)
            written.append(shard_name)
        if split.is_sharded:
            index = {"metadata": {"total_size": split.metadata["total_size"]}, "weight_map": split.tensor_to_filename}
            write_text_atomically(os.path.join(staged, SAFE_WEIGHTS_INDEX_NAME),
                                  json.dumps(index, indent=2, sort_keys=True) + "\n")
            written.append(SAFE_WEIGHTS_INDEX_NAME)
    return [os.path.join(folder, name) for name in written]


def _save_safetensors(tensors: dict[str, torch.Tensor], path: str, metadata: dict[str, str]) -> None:
    save_safetensors_file(tensors, path, metadata=metadata)  # looked up at each call: tests replace it


def _weight_files(folder: str) -> set[str]:
    """The safetensors weight files in ``folder``: what a new save replaces (its own names and the old index's)."""
    if not os.path.isdir(folder):
        return set()
    names = {name for name in os.listdir(folder) if _SAFETENSORS_FILE_RE.fullmatch(name)}
    if SAFE_WEIGHTS_INDEX_NAME in names:
        try:
            weight_map = read_json_object(os.path.join(folder, SAFE_WEIGHTS_INDEX_NAME)).get("weight_map") or {}
            for shard in set(weight_map.values()) if isinstance(weight_map, dict) else ():
                check_shard_name(shard, SAFE_WEIGHTS_INDEX_NAME)
                names.add(shard)
        except OSError:  # a broken old index: its own name is enough
            pass
    return names


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


# --------------------------------------------------------------------------- saving atomically
#
# Every file hfexplain writes goes through write_file_atomically, and every save of several
# files (a model, a tokenizer, a processor, a Trainer checkpoint) through saving_folder. The
# module docstring's last section says what a reader can count on, and why it is built this way.

# Every temporary file or folder this module makes: ".hfexplain-tmp.<pid>.<12 hex>.<name>".
_TEMPORARY_PREFIX = ".hfexplain-tmp"
_TEMPORARY_RE = re.compile(re.escape(_TEMPORARY_PREFIX) + r"\.(\d+)\.[0-9a-f]{12}\..*", re.DOTALL)

_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2  # renameat2 flags, <linux/fs.h>
_AT_FDCWD = -100
# What renameat2 answers where a file system or kernel cannot do it: fall back to file by file.
_NO_EXCHANGE_ERRNOS = {errno.EINVAL, errno.ENOSYS, errno.EXDEV, errno.EBUSY, errno.EPERM,
                       getattr(errno, "ENOTSUP", errno.EINVAL), getattr(errno, "EOPNOTSUPP", errno.EINVAL)}


class _Save:
    """One saving_folder transaction: where it ends up (``target``), where it is written (``stage``)."""

    def __init__(self, target: str, stage: str, exchange: bool, keep_other_files: bool):
        self.target = target
        self.stage = stage
        self.exchange = exchange  # the stage is a sibling of an existing target that renameat2 can swap in
        self.keep_other_files = keep_other_files
        self.replaces: set[str] = set()  # files of the old folder this save supersedes (old weight files)


_local = threading.local()  # the saves this thread has open: real path of target and of stage -> _Save
_open_stages: set[str] = set()  # every open stage of this process (all threads): never stale


def _active_saves() -> dict[str, _Save]:
    if not hasattr(_local, "saves"):
        _local.saves = {}
    return _local.saves


def _redirect(folder: str) -> tuple[str, _Save | None]:
    """Where a write into ``folder`` goes: into the stage of an open save of it (or of a folder above it)."""
    saves = _active_saves()
    if not saves:
        return folder, None
    head, rest = os.path.realpath(folder), []
    while True:
        save = saves.get(head)
        if save is not None:
            return os.path.join(save.stage, *reversed(rest)), save
        parent, name = os.path.split(head)
        if parent == head:
            return folder, None
        head = parent
        rest.append(name)


def write_file_atomically(
    path: str | os.PathLike,
    write: Callable[[str], Any],
    *,
    size_hint: int | None = None,
) -> str:
    """Write one file so that whoever reads ``path`` finds the old file or the new one, whole.

    ``write(temporary_path)`` writes the content (``torch.save``, safetensors' ``save_file``,
    ...) into a hidden temporary file beside ``path``, which is then renamed over ``path``
    (``os.replace``, atomic). A symlink at ``path`` is replaced by the new file, never written
    through: the file it pointed to (a blob of the Hub cache, say) stays as it was. If
    ``write`` fails, the temporary file is removed and ``path`` is untouched; a full disk is
    an ``OSError`` (errno ``ENOSPC``) naming the disk, the folder and, from ``size_hint``
    (bytes), about how much space the file needed.

    Inside a :func:`saving_folder` of its folder, the file goes into that save's stage.
    Returns ``path``.
    """
    path = os.fspath(path)
    folder, name = os.path.split(path)
    folder, save = _redirect(folder or ".")
    if os.path.isdir(os.path.join(folder, name)) and not os.path.islink(os.path.join(folder, name)):
        raise IsADirectoryError(errno.EISDIR, f"{path!r} is a folder; pass the path of the file to write")
    os.makedirs(folder, exist_ok=True)
    if save is None:
        remove_stale_temporaries(folder)
    temporary = os.path.join(folder, _temporary_name(name))
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp and safetensors make 0600; a save is for sharing
        os.replace(temporary, os.path.join(folder, name))
    except BaseException as error:
        better = _explain_write_error(error, path, save, size_hint)
        _remove(temporary)
        if better is None:
            raise
        raise better from error
    return path


def write_text_atomically(path: str | os.PathLike, text: str) -> str:
    """:func:`write_file_atomically` for UTF-8 text (a config, an index, a tokenizer.json)."""
    return write_bytes_atomically(path, text.encode("utf-8"))


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> str:
    """:func:`write_file_atomically` for bytes (a spiece.model)."""
    return write_file_atomically(path, functools.partial(_write_bytes, data=data), size_hint=len(data))


def _write_bytes(path: str, data: bytes) -> None:
    with open(path, "xb") as handle:
        handle.write(data)


@contextlib.contextmanager
def saving_folder(
    folder: str | os.PathLike,
    *,
    keep_other_files: bool = True,
    staging: str | os.PathLike | None = None,
    fsync: bool = False,
) -> Iterator[str]:
    """Save several files into ``folder`` as one step: readers find the old folder or the new one, whole.

    Yields the path to write into (a hidden staging folder beside ``folder``); writers called
    inside the block with ``folder`` itself (``config.save_pretrained(folder)``) are sent
    there too. When the block ends, the new folder is switched in; if it raises, the staging
    folder is removed and ``folder`` is as it was. A save opened inside another save of the
    same folder joins it.

    ``keep_other_files``: carry the old folder's other files over (a model save keeps the
    tokenizer files beside it); False makes the new folder exactly what the block wrote (a
    Trainer checkpoint). ``staging``: a staging folder the caller made (the Trainer's
    ``tmp-checkpoint-N``, which every process of a distributed run writes into); it must be
    a sibling of ``folder``. ``fsync``: flush every file and folder to disk before and after
    the switch, so that the switch also survives a power cut, not only a killed process.
    """
    folder = os.fspath(folder)
    staged, save = _redirect(folder)
    if save is not None:  # a save inside a save: write into the same stage
        os.makedirs(staged, exist_ok=True)
        yield staged
        return
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(errno.ENOTDIR, f"{folder!r} is a file; saving needs a folder path")
    target = os.path.realpath(folder)  # a symlink to a folder: save into the folder, keep the link
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    remove_stale_temporaries(parent)
    exists = os.path.isdir(target)
    if exists:
        remove_stale_temporaries(target)
    save = _start_save(target, exists, staging, keep_other_files)
    saves = _active_saves()
    saves[target] = saves[save.stage] = save
    _open_stages.add(save.stage)
    try:
        yield save.stage
        _commit(save, fsync)
    except BaseException:
        _remove(save.stage)
        raise
    finally:
        saves.pop(target, None)
        saves.pop(save.stage, None)
        _open_stages.discard(save.stage)


def _start_save(target: str, exists: bool, staging, keep_other_files: bool) -> _Save:
    """Make the stage: a sibling of ``target`` where the switch can be one rename, else a folder inside it."""
    parent, name = os.path.split(target)
    exchange = exists and _can_exchange(target)
    if staging is not None:
        stage = os.path.realpath(os.fspath(staging))
        os.makedirs(stage, exist_ok=True)
        return _Save(target, stage, exchange and os.path.dirname(stage) == parent, keep_other_files)
    if exchange or not exists:
        stage = os.path.join(parent, _temporary_name(name))
        try:
            os.mkdir(stage)
        except OSError as error:
            if not exists or error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
        else:
            if exists:
                _copy_folder_owner_and_mode(target, stage)
            return _Save(target, stage, exchange, keep_other_files)
    # The parent cannot hold the stage (not writable, or another file system: target is a mount point).
    stage = os.path.join(target, _temporary_name("stage"))
    os.mkdir(stage)
    return _Save(target, stage, False, keep_other_files)


def _copy_folder_owner_and_mode(source: str, destination: str) -> None:
    """The new folder keeps the old one's permissions (and owner, where we may set it: as root)."""
    status = os.stat(source)
    os.chmod(destination, stat.S_IMODE(status.st_mode))
    if hasattr(os, "geteuid") and os.geteuid() == 0 and (status.st_uid, status.st_gid) != (0, 0):
        try:
            os.chown(destination, status.st_uid, status.st_gid)
        except OSError:
            pass


def _can_exchange(target: str) -> bool:
    """Whether swapping a sibling folder with ``target`` is possible and harmless here."""
    if _renameat2() is None or os.path.ismount(target):
        return False
    try:
        cwd = os.getcwd()
    except OSError:
        return True
    # A process whose working directory is inside would be left in the old, deleted folder.
    return not (cwd == target or cwd.startswith(target.rstrip(os.sep) + os.sep))


def _commit(save: _Save, fsync: bool) -> None:
    """Switch the staged folder in: one rename where possible, else file by file, the weights last."""
    stage, target = save.stage, save.target
    parent = os.path.dirname(target)
    written = sorted(name for name in os.listdir(stage) if not _TEMPORARY_RE.fullmatch(name))
    sibling = os.path.dirname(stage) == parent
    if sibling and not os.path.lexists(target):  # a new folder: one rename
        if fsync:
            _fsync_tree(stage)
        _rename_noreplace(stage, target)
        if fsync:
            _fsync_folder(parent)
        return
    if save.exchange:
        if save.keep_other_files:
            _bring_over(target, stage, skip=set(written) | save.replaces)
        if fsync:
            _fsync_tree(stage)
        try:
            _rename_exchange(stage, target)
        except OSError as error:
            if error.errno not in _NO_EXCHANGE_ERRNOS:
                raise
        else:  # the stage's path now holds the old folder
            if fsync:
                _fsync_folder(parent)
            _remove(stage)
            return
    elif fsync:
        _fsync_tree(stage)
    if not save.keep_other_files and sibling:
        # The new folder replaces the old one whole (a checkpoint): two renames, with a moment between
        # them where no folder is there (readers of checkpoints look for the newest complete one).
        old = os.path.join(parent, _temporary_name(os.path.basename(target)))
        os.rename(target, old)
        os.rename(stage, target)
        _remove(old)
    else:
        _commit_file_by_file(stage, target, written, save.replaces)
        _remove(stage)
    if fsync:
        _fsync_folder(target)
        _fsync_folder(parent)


def _bring_over(old: str, new: str, skip: set[str]) -> None:
    """Put every entry of ``old`` that ``new`` does not replace into ``new``: hard links, copies as fallback."""
    for entry in os.scandir(old):  # a live writer's temporary too: its rename then lands in the new folder
        if entry.name in skip:
            continue
        destination = os.path.join(new, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), destination)  # the link itself, pointing where it pointed
        elif entry.is_dir():
            shutil.copytree(entry.path, destination, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry.path, destination)


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination, follow_symlinks=False)
    except OSError:  # a file system without hard links
        shutil.copy2(source, destination, follow_symlinks=False)


def _commit_file_by_file(stage: str, target: str, written: list[str], replaces: set[str]) -> None:
    """The fallback switch: move each staged file in with os.replace, the weights last.

    New shards never take the name of a file already there (they get a fresh suffix and the
    index says so), and the file readers look at first (model.safetensors, else the index) is
    switched last, then the old weight files are removed: a reader finds the old weights or
    the new ones, whole. The other files (config.json ...) are switched one by one before.
    """
    weights = [name for name in written if _SAFETENSORS_FILE_RE.fullmatch(name)]
    for name in written:
        if name not in weights:
            source, destination = os.path.join(stage, name), os.path.join(target, name)
            if os.path.isdir(source) and os.path.isdir(destination) and not os.path.islink(destination):
                shutil.rmtree(destination)
            os.replace(source, destination)
    present = set(os.listdir(target))
    renamed = {}
    for name in weights:
        if name in (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME):
            continue
        new_name = name
        if name in present:  # an old shard of that name: the new one must not replace it before the index does
            new_name = name.removesuffix(".safetensors") + f"-{secrets.token_hex(4)}.safetensors"
        os.replace(os.path.join(stage, name), os.path.join(target, new_name))
        renamed[name] = new_name
    kept = set(renamed.values())
    if SAFE_WEIGHTS_INDEX_NAME in weights:
        index_path = os.path.join(stage, SAFE_WEIGHTS_INDEX_NAME)
        if any(old != new for old, new in renamed.items()):
            index = read_json_object(index_path, what="a shard index")
            index["weight_map"] = {key: renamed.get(shard, shard) for key, shard in index["weight_map"].items()}
            write_text_atomically(index_path, json.dumps(index, indent=2, sort_keys=True) + "\n")
        os.replace(index_path, os.path.join(target, SAFE_WEIGHTS_INDEX_NAME))
        kept.add(SAFE_WEIGHTS_INDEX_NAME)
        if SAFE_WEIGHTS_NAME not in weights:  # readers prefer the single file: removing it is the switch
            _remove(os.path.join(target, SAFE_WEIGHTS_NAME))
    if SAFE_WEIGHTS_NAME in weights:
        os.replace(os.path.join(stage, SAFE_WEIGHTS_NAME), os.path.join(target, SAFE_WEIGHTS_NAME))  # the switch
        kept.add(SAFE_WEIGHTS_NAME)
    for name in sorted(replaces - kept):
        _remove(os.path.join(target, name))


def remove_stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """Delete the temporary files and staging folders that killed saves left in ``folder``; return their paths.

    Only this module's own (``.hfexplain-tmp.<pid>.<hex>.<name>``), and only those whose
    process is gone: its pid is not running, or the process running under that pid started
    after the temporary was last written (the pid was reused). Errors are ignored: this is
    tidying, and a read-only folder simply keeps its leftovers.
    """
    folder = os.fspath(folder)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    removed = []
    for entry in entries:
        match = _TEMPORARY_RE.fullmatch(entry.name)
        if match is None or entry.path in _open_stages:
            continue
        try:
            modified = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if _writer_is_gone(int(match.group(1)), modified):
            _remove(entry.path)
            removed.append(entry.path)
    return removed


def _writer_is_gone(pid: int, modified: float) -> bool:
    if pid == os.getpid():
        return True  # not an open stage of ours (checked before): a leftover of a save that failed to clean up
    if os.name != "posix":
        return False  # os.kill(pid, 0) would terminate the process on Windows: keep what may be in use
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: alive, another user's
        pass
    started = _process_start_time(pid)
    return started is not None and started > modified + 1  # the pid now belongs to a newer process


def _process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), from /proc on Linux; None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            ticks = int(handle.read().rpartition(")")[2].split()[19])  # field 22, starttime, after "comm)"
        with open("/proc/stat", encoding="ascii", errors="replace") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _temporary_name(name: str) -> str:
    return f"{_TEMPORARY_PREFIX}.{os.getpid()}.{secrets.token_hex(6)}.{name[:180]}"


def _remove(path: str) -> None:
    """Remove a file, link or folder tree if it is there; never raise."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)
    except OSError:
        pass


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@functools.lru_cache(maxsize=1)
def _renameat2() -> Callable | None:
    """libc's renameat2 (Linux 3.15+, glibc 2.28+), which Python does not wrap; None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def _call_renameat2(source: str, destination: str, flags: int) -> None:
    function = _renameat2()
    if function is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available here", source, None, destination)
    if function(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(destination), flags) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), source, None, destination)


def _rename_exchange(source: str, destination: str) -> None:
    """Swap two paths in one step (both must exist): renameat2(RENAME_EXCHANGE)."""
    _call_renameat2(source, destination, _RENAME_EXCHANGE)


def _rename_noreplace(source: str, destination: str) -> None:
    """Rename, failing (FileExistsError) rather than replacing something that appeared meanwhile."""
    try:
        _call_renameat2(source, destination, _RENAME_NOREPLACE)
    except OSError as error:
        if error.errno not in _NO_EXCHANGE_ERRNOS:
            raise
        os.rename(source, destination)  # no renameat2: a plain rename (it replaces only an empty folder)


def _fsync_tree(folder: str) -> None:
    """Flush every file under ``folder``, then the folders themselves, to disk."""
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
        _fsync_folder(root)


def _fsync_folder(folder: str) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems cannot fsync a folder
        pass
    finally:
        os.close(descriptor)


# How writers fail on a full disk: Python's OSError, torch.save's C++ stream writer, tokenizers' Rust.
_WRITE_FAILED_RE = re.compile(r"unexpected pos|file write failed|No space left|os error 28|Disk quota", re.IGNORECASE)


def _explain_write_error(error: BaseException, path: str, save: _Save | None, size_hint: int | None):
    """An OSError(ENOSPC) naming the disk, the folder and the size, for a write that failed on a full disk."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        likely = ""
    elif isinstance(error, Exception) and not isinstance(error, OSError) and _WRITE_FAILED_RE.search(str(error)):
        likely = f" (the writer said: {str(error).strip()[:200]}; most likely the disk is full)"
    else:
        return None
    folder = save.target if save is not None else (os.path.dirname(path) or ".")
    mount = os.path.abspath(folder)
    while not os.path.ismount(mount) and os.path.dirname(mount) != mount:
        mount = os.path.dirname(mount)
    try:
        free = f"{_human_size(shutil.disk_usage(mount).free)} free"
    except OSError:
        free = "free space unknown"
    needs = f", which needs about {_human_size(size_hint)}" if size_hint else ""
    return OSError(
        errno.ENOSPC,
        f"No space left on the disk that holds {folder!r} (the file system mounted at {mount!r}, {free}): "
        f"writing {os.path.basename(path)!r} failed{needs}{likely}. Nothing was replaced: the folder holds what it "
        "held before this save. Free some space (old checkpoints, the Hub cache), or save to another disk.",
    )


def _human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size} B"
