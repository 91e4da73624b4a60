"""Code a family copies from another on purpose must stay a faithful copy.

Family files stay explicit (the lesson point: every family's attention reads top to
bottom), so a cousin copies its parent's pieces instead of importing them. Each such copy
carries a marker on the line above its ``class`` or ``def``::

    # Copied from hfexplain.models.bert.BertSelfOutput with Bert->Roberta
    class RobertaSelfOutput(nn.Module):

    # Copied from hfexplain.models.gpt2.GPT2Attention._split_heads with num_heads->num_attention_heads
    def _split_heads(self, x):

The source is ``hfexplain.models.<module>.<Class>[.<method>]``; ``with A->B, C->D`` are
plain text replacements applied, in order, to the source before comparing (the same
convention as transformers' ``# Copied from transformers.models...`` and its
``utils/check_copies.py``). This test finds every marker in ``hfexplain/models/*.py``
and fails with a diff when a copy drifts from its source: fix the copy, or change the
source and the copies together, or drop the marker where the difference is the point.
"""
from __future__ import annotations

import ast
import difflib
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parent.parent / "hfexplain" / "models"
MARKER = re.compile(r"^\s*# Copied from hfexplain\.models\.(?P<module>\w+)\.(?P<path>[\w.]+)(?: with (?P<renames>.+))?$")


def parse_renames(text: str | None) -> list[tuple[str, str]]:
    """``"Bert->Roberta, bert->roberta"`` -> [("Bert", "Roberta"), ("bert", "roberta")]."""
    if not text:
        return []
    pairs = []
    for item in text.split(","):
        if "->" not in item:
            raise ValueError(f"rename {item.strip()!r} in a Copied from marker must read 'Old->New'.")
        old, new = (part.strip() for part in item.split("->", 1))
        pairs.append((old, new))
    return pairs


def node_source(source: str, tree: ast.Module, dotted: str) -> str | None:
    """The dedented text of the class / function ``dotted`` ("Class" or "Class.method") in ``source``."""
    body, node = tree.body, None
    for name in dotted.split("."):
        node = next((n for n in body if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name == name), None)
        if node is None:
            return None
        body = node.body
    return segment(source, node)


def segment(source: str, node: ast.AST) -> str:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    lines = source.splitlines()[first - 1 : node.end_lineno]
    return textwrap.dedent("\n".join(lines)) + "\n"


def find_copies(source: str) -> list[dict]:
    """Every marker in ``source``: its line, source reference, renames and the copied block's text."""
    tree = ast.parse(source)
    defs = {n.lineno: n for n in ast.walk(tree) if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    copies = []
    for index, line in enumerate(source.splitlines(), start=1):
        match = MARKER.match(line)
        if match is None:
            if "Copied from" in line and line.lstrip().startswith("#"):
                raise ValueError(f"line {index}: {line.strip()!r} is not a valid marker; write "
                                 "'# Copied from hfexplain.models.<module>.<Class>[.<method>] [with A->B]'.")
            continue
        node = defs.get(index + 1)
        if node is None:
            raise ValueError(f"line {index}: a Copied from marker must sit on the line just above a class or def.")
        copies.append(dict(line=index, module=match["module"], path=match["path"],
                           renames=parse_renames(match["renames"]), text=segment(source, node)))
    return copies


def read_module(module: str) -> str:
    path = MODELS / f"{module}.py"
    if not path.exists():
        raise ValueError(f"a Copied from marker names hfexplain.models.{module}, which does not exist.")
    return path.read_text()


def copy_diff(copy: dict, read_source: Callable[[str], str] = read_module) -> str:
    """'' when the copy equals its source after the renames, else a unified diff (expected -> copy)."""
    source = read_source(copy["module"])
    original = node_source(source, ast.parse(source), copy["path"])
    if original is None:
        raise ValueError(f"line {copy['line']}: hfexplain.models.{copy['module']} has no {copy['path']}.")
    for old, new in copy["renames"]:
        original = original.replace(old, new)
    if original == copy["text"]:
        return ""
    diff = difflib.unified_diff(original.splitlines(), copy["text"].splitlines(), lineterm="",
                                fromfile=f"hfexplain.models.{copy['module']}.{copy['path']} (renamed)",
                                tofile="the copy")
    return "\n".join(diff)


# -- the check over the real family files -------------------------------------------------------


def all_copies() -> list:
    found = []
    for path in sorted(MODELS.glob("*.py")):
        for copy in find_copies(path.read_text()):
            found.append(pytest.param(path.name, copy, id=f"{path.name}:{copy['line']}"))
    return found


@pytest.mark.parametrize("filename, copy", all_copies())
def test_copies_match_their_source(filename, copy):
    diff = copy_diff(copy)
    assert not diff, (
        f"{filename} line {copy['line']}: the copy of hfexplain.models.{copy['module']}.{copy['path']} drifted:\n"
        f"{diff}\nUpdate the copy (or its source and every copy together)."
    )


def test_the_known_copies_are_marked():
    marked = {(name, copy["module"], copy["path"]) for name, copy in (p.values for p in all_copies())}
    assert ("bert.py", "gpt2", "GPT2Attention._split_heads") in marked
    assert ("llama.py", "gpt2", "GPT2Model.get_input_embeddings") in marked


# -- the checker itself, on snippets ----------------------------------------------------------

SOURCE = '''
class ToySelfOutput(nn.Module):
    """Projection, then LayerNorm(x + dropout(dense(z)))."""

    def forward(self, hidden_states, input_tensor):
        out = self.dropout(self.dense(hidden_states))  # (b, s, d)
        return self.LayerNorm(out + input_tensor)
'''

FAITHFUL = '''
# Copied from hfexplain.models.toy.ToySelfOutput with Toy->Cousin
class CousinSelfOutput(nn.Module):
    """Projection, then LayerNorm(x + dropout(dense(z)))."""

    def forward(self, hidden_states, input_tensor):
        out = self.dropout(self.dense(hidden_states))  # (b, s, d)
        return self.LayerNorm(out + input_tensor)


class CousinModel:
    # Copied from hfexplain.models.toy.ToySelfOutput.forward with hidden_states->x
    def forward(self, x, input_tensor):
        out = self.dropout(self.dense(x))  # (b, s, d)
        return self.LayerNorm(out + input_tensor)
'''


def read_toy(module: str) -> str:
    assert module == "toy"
    return SOURCE


def test_checker_accepts_a_faithful_copy_with_renames():
    copies = find_copies(FAITHFUL)
    assert [(c["path"], c["renames"]) for c in copies] == [
        ("ToySelfOutput", [("Toy", "Cousin")]), ("ToySelfOutput.forward", [("hidden_states", "x")])]
    assert [copy_diff(c, read_toy) for c in copies] == ["", ""]


def test_checker_reports_a_drifted_copy_with_a_diff():
    drifted = FAITHFUL.replace("return self.LayerNorm(out + input_tensor)\n\n\nclass",
                               "return self.LayerNorm(input_tensor)  # forgot the residual\n\n\nclass")
    diff = copy_diff(find_copies(drifted)[0], read_toy)
    assert "-        return self.LayerNorm(out + input_tensor)" in diff
    assert "+        return self.LayerNorm(input_tensor)  # forgot the residual" in diff
    # a rename left out is a drift too: the class name would not match
    unrenamed = FAITHFUL.replace(" with Toy->Cousin", "")
    assert "+class CousinSelfOutput(nn.Module):" in copy_diff(find_copies(unrenamed)[0], read_toy)


@pytest.mark.parametrize("snippet, message", [
    ("# Copied from hfexplain.models.toy.ToySelfOutput\n\nx = 1\n", "just above a class or def"),
    ("# Copied from somewhere else\ndef f():\n    pass\n", "not a valid marker"),
    ("# Copied from hfexplain.models.toy.Nope\ndef f():\n    pass\n", "has no Nope"),
    ("# Copied from hfexplain.models.toy.ToySelfOutput with Toy=>Cousin\nclass A:\n    pass\n", "must read 'Old->New'"),
])
def test_checker_refuses_broken_markers(snippet, message):
    with pytest.raises(ValueError, match=message):
        for copy in find_copies(snippet):
            copy_diff(copy, read_toy)
