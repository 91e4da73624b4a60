"""Checkers for lesson 07 (checkpoints and the Hub).

``check_parse_header(fn)`` checks a learner's safetensors header parser::

    def parse_safetensors_header(path):
        # returns {tensor name: (dtype, shape, (start, end))}
        #   dtype: the header's string, e.g. "F32"
        #   shape: a tuple of ints, e.g. (5, 3); () for a scalar
        #   (start, end): where the tensor's bytes lie in the FILE, file[start:end]
        ...

A safetensors file is laid out as::

    [8 bytes: N, little-endian unsigned 64-bit][N bytes: JSON header][data ...]

and the header's ``data_offsets`` count from the start of the data, so a tensor's bytes
are at ``8 + N + begin`` to ``8 + N + end`` in the file. The checker writes small files
with several dtypes (F32, F16, BF16, I64), a scalar and ``__metadata__``, runs ``fn`` on
them, and names the typical mistakes: the header's relative offsets returned as they are,
a forgotten 8-byte prefix or header length, the ``__metadata__`` entry kept, a list for a
shape, a length read big-endian.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile

import torch

from . import CheckResult

EXERCISE = "parse a safetensors header"


def _example_tensors() -> list[tuple[dict[str, torch.Tensor], dict[str, str]]]:
    """Two small checkpoints (tensors, metadata) with varied dtypes and shapes."""
    generator = torch.Generator().manual_seed(7)
    first = {
        "embed.weight": torch.randn(5, 3, generator=generator),  # F32, not square: a reversed shape shows
        "norm.bias": torch.randn(3, generator=generator).to(torch.float16),  # F16
        "steps": torch.tensor(1234, dtype=torch.int64),  # I64 scalar: shape ()
        "proj.weight": torch.randn(2, 4, 3, generator=generator).to(torch.bfloat16),  # BF16, 3-d
    }
    second = {"lm_head.weight": torch.randn(7, 2, generator=generator)}
    return [(first, {"format": "pt"}), (second, {"format": "pt", "note": "a second file"})]


def write_example_files(folder: str | os.PathLike) -> list[str]:
    """Write the checker's example files into ``folder``; return their paths."""
    from safetensors.torch import save_file

    paths = []
    for index, (tensors, metadata) in enumerate(_example_tensors()):
        path = os.path.join(os.fspath(folder), f"example_{index}.safetensors")
        save_file(tensors, path, metadata=metadata)
        paths.append(path)
    return paths


def reference_parse(path: str | os.PathLike) -> dict[str, tuple[str, tuple[int, ...], tuple[int, int]]]:
    """The correct answer: ``{name: (dtype, shape, (start, end))}`` with file positions."""
    with open(path, "rb") as handle:
        (header_length,) = struct.unpack("<Q", handle.read(8))  # little-endian unsigned 64-bit
        header = json.loads(handle.read(header_length))
    data_start = 8 + header_length
    parsed = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]  # relative to the start of the data
        parsed[name] = (info["dtype"], tuple(info["shape"]), (data_start + begin, data_start + end))
    return parsed


def _header_length(path: str) -> int:
    with open(path, "rb") as handle:
        return struct.unpack("<Q", handle.read(8))[0]


def _explain_exception(err: Exception) -> str:
    """A hint for the usual ways a header parser crashes."""
    hint = ""
    if isinstance(err, struct.error):
        hint = (" struct.unpack needs a format that reads exactly the 8 bytes it is given: '<Q' is an unsigned "
                "64-bit integer, little-endian.")
    elif isinstance(err, (OverflowError, MemoryError)):
        hint = (" A huge header length: the 8 bytes were read big-endian. The '<' in struct.unpack('<Q', ...) "
                "means little-endian, the byte order safetensors uses.")
    elif isinstance(err, (UnicodeDecodeError, json.JSONDecodeError)):
        hint = (" What was read is not the JSON header. The header is the N bytes right after the first 8 "
                "(file[8:8 + N]), where N = struct.unpack('<Q', file[:8])[0]; a length read big-endian ('>Q') "
                "reads far too much.")
    elif isinstance(err, (KeyError, TypeError)) and "__metadata__" not in str(err):
        hint = (" Every header entry is a tensor's {'dtype', 'shape', 'data_offsets'} except '__metadata__' "
                "(a dict of strings about the file): skip that one.")
    detail = f": {err}" if str(err) else ""
    kind = "struct.error" if isinstance(err, struct.error) else type(err).__name__
    return f"your function raised {kind}{detail}.{hint}"


def _diagnose_offsets(got, expected: tuple[int, int], data_start: int) -> tuple[str, str]:
    """Name the mistake that turns the right (start, end) into ``got``: (kind, explanation)."""
    relative = (expected[0] - data_start, expected[1] - data_start)
    header_length = data_start - 8
    if got == relative:
        return "relative", ("these are the header's data_offsets, which count from the start of the data: add "
                            f"8 + N (the length prefix and the header, here 8 + {header_length}) to get positions "
                            "in the file")
    if got == (relative[0] + header_length, relative[1] + header_length):
        return "no-prefix", (f"forgot the 8-byte length prefix: the data starts at 8 + N = {data_start}, "
                             f"not at N = {header_length}")
    if got == (relative[0] + 8, relative[1] + 8):
        return "no-header", f"forgot the header length: the data starts at 8 + N = {data_start}, not at 8"
    if isinstance(got, tuple) and len(got) == 2 and got[0] == expected[0]:
        return "end", "the start is right but the end is not: end = 8 + N + the header's second data_offset"
    return "other", "start = 8 + N + begin and end = 8 + N + end, with (begin, end) the header's data_offsets"


def check_parse_header(fn) -> CheckResult:
    """Run ``fn(path)`` on the example files and compare with :func:`reference_parse`."""
    with tempfile.TemporaryDirectory() as folder:
        paths = write_example_files(folder)
        results = []
        for path in paths:
            try:
                results.append((path, fn(path), reference_parse(path), 8 + _header_length(path)))
            except Exception as err:  # a wrong answer is reported, never raised
                return CheckResult(EXERCISE, False, [_explain_exception(err).replace(folder, "<folder>")])

    # One message per kind of mistake, with its first example: the same slip on every
    # tensor is one thing to fix, not ten.
    first: dict[str, str] = {}  # kind -> message
    count: dict[str, int] = {}

    def note(kind: str, message: str) -> None:
        first.setdefault(kind, message)
        count[kind] = count.get(kind, 0) + 1

    for _path, got, expected, data_start in results:
        if got is None:
            return CheckResult(EXERCISE, False, ["the function returned None (did you forget `return`?)."])
        if not isinstance(got, dict):
            return CheckResult(EXERCISE, False, [
                f"the function should return a dict {{name: (dtype, shape, (start, end))}}, got {type(got).__name__}."])
        if "__metadata__" in got:
            note("metadata", "'__metadata__' is in your result: that header entry describes the file (e.g. "
                             "{'format': 'pt'}), it is not a tensor; skip it.")
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected) - {"__metadata__"})
        if missing:
            note("missing", f"tensors missing from your result: {missing}.")
        if extra:
            note("extra", f"names in your result that are not tensors of the file: {extra}.")
        for name in sorted(set(expected) & set(got)):
            dtype, shape, offsets = expected[name]
            entry = got[name]
            if not isinstance(entry, (tuple, list)) or len(entry) != 3:
                note("entry", f"{name!r}: each value should be a tuple (dtype, shape, (start, end)), got {entry!r}.")
                continue
            got_dtype, got_shape, got_offsets = entry
            if got_dtype != dtype:
                if isinstance(got_dtype, torch.dtype):
                    note("torch-dtype", f"{name!r}: give the header's dtype string {dtype!r}, not the torch dtype "
                                        f"{got_dtype}.")
                else:
                    note("dtype", f"{name!r}: dtype {got_dtype!r} should be {dtype!r} (the header's 'dtype' entry).")
            if isinstance(got_shape, list) and tuple(got_shape) == shape:
                note("shape-list", f"{name!r}: the shape is the list {got_shape}; JSON gives lists, make it a tuple: "
                                   "tuple(info['shape']).")
            elif got_shape != shape:
                flipped = isinstance(got_shape, (tuple, list)) and len(shape) > 1 and tuple(got_shape) == shape[::-1]
                note("shape-reversed" if flipped else "shape",
                     f"{name!r}: shape {got_shape!r} should be {shape}" + (" (yours is reversed)" if flipped else "")
                     + ", the header's 'shape' entry as it is.")
            if isinstance(got_offsets, list):
                got_offsets = tuple(got_offsets)
            if got_offsets != offsets:
                kind, why = _diagnose_offsets(got_offsets, offsets, data_start)
                note(f"offsets-{kind}", f"{name!r}: (start, end) = {got_offsets!r} should be {offsets}: {why}.")
    if first:
        messages = []
        for kind, message in first.items():
            more = count[kind] - 1
            messages.append(message.removesuffix(".") + (f" (and {more} more like it)." if more else "."))
        return CheckResult(EXERCISE, False, messages)
    return CheckResult(EXERCISE, True, [
        "names, dtypes, shapes and byte ranges match, for every tensor of both example files."])


__all__ = ["check_parse_header", "reference_parse", "write_example_files"]
