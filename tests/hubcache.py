"""Lay out a Hugging Face hub cache by hand, for offline tests.

huggingface_hub has no public function that *writes* its cache, but every reader
(``hf_hub_download``, ``snapshot_download``, ``scan_cache_dir``, transformers'
``from_pretrained(repo_id)``) understands the documented layout, so a test can
build one from plain files and then resolve repo ids with ``HF_HUB_OFFLINE=1``::

    <cache_dir>/
      models--ORG--NAME/                  (datasets--..., spaces--... for other repo types)
        blobs/<sha256 of the content>     the bytes, stored once per content
        snapshots/<40-hex commit>/<file>  relative symlink -> ../../blobs/<sha256>
        refs/<revision name>              the commit id, with NO trailing newline

``refs/main`` must not end in a newline: huggingface_hub reads it verbatim and
would look for a snapshot folder named "<commit>\\n".

Example::

    from hubcache import make_hub_cache   # tests/ is on sys.path under pytest
    commit = make_hub_cache(tmp_path, "org/tiny", {"config.json": b"{}", "model.safetensors": "path/to/file"})
    hf_hub_download("org/tiny", "config.json", cache_dir=tmp_path, local_files_only=True)
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil

REPO_TYPE_PREFIX = {"model": "models", "dataset": "datasets", "space": "spaces"}
_COMMIT_RE = re.compile(r"[0-9a-f]{40}")


def repo_folder(cache_dir: str | os.PathLike, repo_id: str, repo_type: str = "model") -> str:
    """Path of a repo's folder in the cache: ``models--ORG--NAME``."""
    if repo_type not in REPO_TYPE_PREFIX:
        raise ValueError(f"repo_type must be one of {sorted(REPO_TYPE_PREFIX)}, got {repo_type!r}.")
    return os.path.join(os.fspath(cache_dir), "--".join([REPO_TYPE_PREFIX[repo_type], *repo_id.split("/")]))


def folder_files(folder: str | os.PathLike) -> dict[str, str]:
    """Every file under ``folder`` as ``{"relative/name": path}``, ready for ``make_hub_cache``.

    Handy to publish what ``save_pretrained`` wrote as a cached Hub repo.
    """
    folder = os.fspath(folder)
    files = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            files[os.path.relpath(path, folder).replace(os.sep, "/")] = path
    return dict(sorted(files.items()))


def make_hub_cache(
    cache_dir: str | os.PathLike,
    repo_id: str,
    files: dict[str, bytes | str | os.PathLike],
    *,
    revision_name: str | None = "main",
    commit: str | None = None,
    repo_type: str = "model",
) -> str:
    """Write ``files`` into the hub cache at ``cache_dir`` as one commit of ``repo_id``.

    ``files`` maps names inside the repo (``"config.json"``, ``"sub/model.safetensors"``)
    to their content, given as bytes or as the path of a file to copy. The snapshot
    gets the commit id ``commit`` (40 lowercase hex digits; by default one derived
    from the files, so the same files give the same commit), and ``refs/<revision_name>``
    points at it (``revision_name=None`` writes no ref: reachable by commit id only).
    Call it again with another ``revision_name`` and other files to add a branch or
    tag; calling it with an existing commit adds files to that snapshot.

    Returns the commit id.
    """
    contents = {}
    for name, value in files.items():
        if name.startswith("/") or ".." in name.split("/") or "\\" in name:
            raise ValueError(f"file names are relative, '/'-separated paths inside the repo; got {name!r}.")
        if isinstance(value, (bytes, bytearray)):
            contents[name] = bytes(value)
        elif isinstance(value, (str, os.PathLike)):
            if not os.path.isfile(value):
                raise ValueError(f"{name!r}: {os.fspath(value)!r} is not a file (pass bytes or the path of a file).")
            with open(value, "rb") as handle:
                contents[name] = handle.read()
        else:
            raise TypeError(f"{name!r}: expected bytes or a file path, got {type(value).__name__}.")

    if commit is None:
        digest = hashlib.sha1()
        for name in sorted(contents):
            digest.update(name.encode() + b"\0" + hashlib.sha256(contents[name]).digest())
        commit = digest.hexdigest()
    if not _COMMIT_RE.fullmatch(commit):
        raise ValueError(f"commit must be 40 lowercase hex digits, got {commit!r}.")

    storage = repo_folder(cache_dir, repo_id, repo_type)
    blobs = os.path.join(storage, "blobs")
    snapshot = os.path.join(storage, "snapshots", commit)
    os.makedirs(blobs, exist_ok=True)
    os.makedirs(snapshot, exist_ok=True)

    for name, data in contents.items():
        blob = os.path.join(blobs, hashlib.sha256(data).hexdigest())
        if not os.path.exists(blob):
            with open(blob, "wb") as handle:
                handle.write(data)
        pointer = os.path.join(snapshot, *name.split("/"))
        os.makedirs(os.path.dirname(pointer), exist_ok=True)
        if os.path.lexists(pointer):
            os.remove(pointer)
        try:
            # A relative link, as huggingface_hub makes: the cache can be moved.
            os.symlink(os.path.relpath(blob, os.path.dirname(pointer)), pointer)
        except OSError:  # no symlinks (Windows without developer mode): a copy, as huggingface_hub does
            shutil.copyfile(blob, pointer)

    if revision_name is not None:
        ref = os.path.join(storage, "refs", *revision_name.split("/"))
        os.makedirs(os.path.dirname(ref), exist_ok=True)
        with open(ref, "w", newline="") as handle:
            handle.write(commit)  # no trailing newline
    return commit
