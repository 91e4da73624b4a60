"""Lesson 07's checker: parsing a safetensors header by hand.

The reference is checked against the safetensors library itself (the byte ranges it
returns hold exactly the tensors ``safe_open`` reads), then the checker must accept a
correct parser and name each typical mistake.
"""
from __future__ import annotations

import json
import struct

import pytest
import torch
from safetensors import safe_open

from hfexplain.exercises.checkpoints import check_parse_header, reference_parse, write_example_files

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}


def test_reference_byte_ranges_hold_the_tensors_safetensors_reads(tmp_path):
    for path in write_example_files(tmp_path):
        parsed = reference_parse(path)
        data = open(path, "rb").read()
        with safe_open(path, framework="pt") as handle:
            assert sorted(parsed) == sorted(handle.keys())
            for name, (dtype, shape, (start, end)) in parsed.items():
                expected = handle.get_tensor(name)
                assert DTYPES[dtype] == expected.dtype and shape == tuple(expected.shape)
                from_bytes = torch.frombuffer(bytearray(data[start:end]), dtype=DTYPES[dtype]).reshape(shape)
                assert torch.equal(from_bytes, expected)
        # the examples cover a scalar, 3 dims, four dtypes and metadata
        assert {info[0] for info in parsed.values()} <= set(DTYPES)
    shapes = [info[1] for path in write_example_files(tmp_path) for info in reference_parse(path).values()]
    assert () in shapes and any(len(s) == 3 for s in shapes)


def _parser(*, endian="<", add_header=True, add_prefix=True, keep_metadata=False, shape_as_list=False,
            reverse_shape=False, torch_dtype=False, returns=None):
    """A header parser with one deliberate mistake (or none)."""

    def parse(path):
        if returns is not None:
            return returns
        with open(path, "rb") as handle:
            (length,) = struct.unpack(endian + "Q", handle.read(8))
            header = json.loads(handle.read(length))
        start_of_data = (8 if add_prefix else 0) + (length if add_header else 0)
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                if keep_metadata:
                    out[name] = info
                continue
            shape = info["shape"] if shape_as_list else tuple(info["shape"])
            if reverse_shape:
                shape = tuple(reversed(shape))
            dtype = DTYPES[info["dtype"]] if torch_dtype else info["dtype"]
            begin, end = info["data_offsets"]
            out[name] = (dtype, shape, (start_of_data + begin, start_of_data + end))
        return out

    return parse


def _text(result) -> str:
    return "\n".join(result.messages)


def test_a_correct_parser_passes():
    result = check_parse_header(_parser())
    assert result.passed, str(result)
    assert check_parse_header(reference_parse).passed


def test_the_starter_returning_nothing():
    result = check_parse_header(lambda path: None)
    assert not result.passed
    assert result.messages == ["the function returned None (did you forget `return`?)."]


@pytest.mark.parametrize(
    "mistake, message",
    [
        (dict(add_header=False, add_prefix=False), "these are the header's data_offsets, which count from the start of the data: add 8 + N"),
        (dict(add_prefix=False), "forgot the 8-byte length prefix: the data starts at 8 + N = 304, not at N = 296"),
        (dict(add_header=False), "forgot the header length: the data starts at 8 + N = 304, not at 8"),
        (dict(keep_metadata=True), "'__metadata__' is in your result: that header entry describes the file"),
        (dict(shape_as_list=True), "the shape is the list [5, 3]; JSON gives lists, make it a tuple"),
        (dict(reverse_shape=True), "'embed.weight': shape (3, 5) should be (5, 3) (yours is reversed)"),
        (dict(torch_dtype=True), "give the header's dtype string 'F32', not the torch dtype torch.float32"),
        (dict(endian=">"), "big-endian"),
        (dict(returns=[1, 2]), "should return a dict {name: (dtype, shape, (start, end))}, got list"),
    ],
)
def test_each_typical_mistake_is_named(mistake, message):
    result = check_parse_header(_parser(**mistake))
    assert not result.passed
    assert message in _text(result), _text(result)


def test_one_message_per_kind_of_mistake():
    result = check_parse_header(_parser(add_prefix=False))
    assert len(result.messages) == 1
    assert result.messages[0].endswith("(and 4 more like it).")


def test_missing_and_wrong_dtype_entries():
    def partial(path):
        out = reference_parse(path)
        out.pop("norm.bias", None)
        if "embed.weight" in out:
            _, shape, offsets = out["embed.weight"]
            out["embed.weight"] = ("float32", shape, offsets)
        return out

    text = _text(check_parse_header(partial))
    assert "tensors missing from your result: ['norm.bias']" in text
    assert "'embed.weight': dtype 'float32' should be 'F32'" in text


def test_a_crash_is_a_verdict_with_a_hint():
    def four_bytes(path):
        with open(path, "rb") as handle:
            return struct.unpack("<I", handle.read(8))

    result = check_parse_header(four_bytes)
    assert not result.passed
    assert "your function raised struct.error: unpack requires a buffer of 4 bytes" in _text(result) and "'<Q'" in _text(result)

    def header_from_start(path):
        with open(path, "rb") as handle:
            return json.loads(handle.read())

    result = check_parse_header(header_from_start)
    assert not result.passed
    assert "What was read is not the JSON header" in _text(result)
