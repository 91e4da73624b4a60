"""The lessons' source: every committed notebook is what its builder writes.

Each lessons/NN_name.ipynb is built by lessons/build/NN_name.py (through
lessons/build/_notebook.py) and never edited by hand. These tests run every builder with
--no-execute and compare the cells it writes (ids, types, sources) with the committed notebook,
so an edit made to a notebook alone, or a builder changed without a rebuild, fails here with
the command that fixes it. Outputs are nbval's business (scripts/test.sh).
"""
from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSONS = ROOT / "lessons"
BUILD = LESSONS / "build"
BUILDERS = sorted(BUILD.glob("[0-9][0-9]_*.py"))
NOTEBOOKS = sorted(LESSONS.glob("*.ipynb"))


def _load_builder_module():
    spec = importlib.util.spec_from_file_location("lesson_notebook", BUILD / "_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


notebook_builder = _load_builder_module()


def _cells(path: pathlib.Path) -> list[tuple[str, str, str]]:
    """(id, cell type, source) of every cell of the notebook at `path`."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return [(cell.get("id", ""), cell["cell_type"], "".join(cell["source"])) for cell in notebook["cells"]]


def _rebuild_command(name: str) -> str:
    return f".venv/bin/python lessons/build/{name}.py"


def first_difference(name: str, committed: list, built: list) -> str | None:
    """A message naming the lesson and its first cell that differs, or None when all agree."""
    fix = (f"rebuild it with `{_rebuild_command(name)}` (writes and executes the notebook; "
           "never edit the notebook by hand)")
    for index, (ours, theirs) in enumerate(zip(committed, built)):
        for field, committed_value, built_value in zip(("id", "cell type", "source"), ours, theirs):
            if committed_value != built_value:
                where = ""
                if field == "source":  # show the first line that differs, not the whole cell
                    committed_lines, built_lines = committed_value.split("\n"), built_value.split("\n")
                    line = next((i for i, (a, b) in enumerate(zip(committed_lines, built_lines)) if a != b),
                                min(len(committed_lines), len(built_lines)))
                    where = f" line {line + 1}"
                    committed_value = "\n".join(committed_lines[line:line + 1]) or "<no such line>"
                    built_value = "\n".join(built_lines[line:line + 1]) or "<no such line>"
                return (f"lessons/{name}.ipynb differs from what lessons/build/{name}.py writes, first at "
                        f"cell {index} (id {ours[0]!r}): its {field}{where} is {committed_value[:100]!r} in the "
                        f"notebook but {built_value[:100]!r} from the builder; {fix}")
    if len(committed) != len(built):
        return (f"lessons/{name}.ipynb has {len(committed)} cells, lessons/build/{name}.py writes "
                f"{len(built)}; {fix}")
    return None


# -- every notebook has its builder ----------------------------------------------------------------


def test_every_notebook_has_a_builder_and_every_builder_a_notebook():
    assert BUILDERS and NOTEBOOKS
    builders = {path.stem for path in BUILDERS}
    notebooks = {path.stem for path in NOTEBOOKS}
    assert not notebooks - builders, (f"notebooks without a builder in lessons/build/: {sorted(notebooks - builders)}; "
                                      "write one (see lessons/build/_notebook.py)")
    assert not builders - notebooks, (f"builders whose notebook is not committed: {sorted(builders - notebooks)}; "
                                      "run them")


@pytest.mark.parametrize("builder", BUILDERS, ids=[path.stem for path in BUILDERS])
def test_builder_writes_the_committed_cells(builder, tmp_path):
    name = builder.stem
    out = tmp_path / f"{name}.ipynb"
    env = {key: value for key, value in os.environ.items() if key != notebook_builder.DEV_CHECKPOINT_ENV}
    result = subprocess.run([sys.executable, str(builder), "--no-execute", "--out", str(out)],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert result.returncode == 0, f"{_rebuild_command(name)} --no-execute failed:\n{result.stderr}"
    difference = first_difference(name, _cells(LESSONS / f"{name}.ipynb"), _cells(out))
    assert difference is None, difference


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_committed_ids_are_unique_slugs_and_the_first_cell_names_the_builder(notebook):
    cells = _cells(notebook)
    number = notebook.stem[:2]
    ids = [cell_id for cell_id, _, _ in cells]
    bad = [cell_id for cell_id in ids
           if not (re.fullmatch(rf"{number}-[a-z0-9]+(-[a-z0-9]+)*", cell_id) and len(cell_id) <= 64)]
    assert not bad, f"{notebook.name}: ids that are not '{number}-<slug>': {bad}"
    repeated = sorted({cell_id for cell_id in ids if ids.count(cell_id) > 1})
    assert not repeated, f"{notebook.name}: ids used more than once: {repeated}"
    assert cells[0][1] == "markdown"
    assert cells[0][2].endswith(notebook_builder.built_by_line(notebook.stem))
    assert f"`lessons/build/{notebook.stem}.py`" in cells[0][2]


# -- the comparison itself --------------------------------------------------------------------------


def test_first_difference_names_the_lesson_the_cell_and_the_fix():
    committed = [("03-intro", "markdown", "# 03"), ("03-setup", "code", "import torch"), ("03-end", "markdown", "bye")]
    assert first_difference("03_attention", committed, list(committed)) is None

    edited = [committed[0], ("03-setup", "code", "import torch  # edited by hand"), committed[2]]
    message = first_difference("03_attention", edited, committed)
    assert "lessons/03_attention.ipynb" in message and "cell 1 (id '03-setup')" in message
    assert "its source line 1 is 'import torch  # edited by hand' in the notebook but 'import torch'" in message
    assert ".venv/bin/python lessons/build/03_attention.py" in message
    appended = [committed[0], ("03-setup", "code", "import torch\nx = 1"), committed[2]]
    assert "its source line 2 is 'x = 1' in the notebook but '<no such line>'" in first_difference(
        "03_attention", appended, committed)

    renamed = [committed[0], ("03-imports", "code", "import torch"), committed[2]]
    assert "its id is '03-imports'" in first_difference("03_attention", renamed, committed)
    retyped = [committed[0], ("03-setup", "markdown", "import torch"), committed[2]]
    assert "its cell type is 'markdown'" in first_difference("03_attention", retyped, committed)
    assert "has 2 cells" in first_difference("03_attention", committed[:2], committed)
    assert "writes 2" in first_difference("03_attention", committed, committed[:2])


# -- the builder API --------------------------------------------------------------------------------


def _lesson():
    return notebook_builder.Lesson("03_attention")  # a real builder's name; nothing is written


def test_cell_ids_come_from_names_and_stay_put_when_a_cell_is_inserted():
    before = _lesson()
    before.md("intro", "# Title")
    before.code("setup", "import torch")
    before.md("summary", "## Summary")
    after = _lesson()
    after.md("intro", "# Title")
    after.code("new-cell", "x = 1")
    after.code("setup", "import torch")
    after.md("summary", "## Summary")
    assert [cell.id for cell in before.notebook().cells] == ["03-intro", "03-setup", "03-summary"]
    assert [cell.id for cell in after.notebook().cells] == ["03-intro", "03-new-cell", "03-setup", "03-summary"]


def test_the_first_cell_names_the_builder_and_sources_are_dedented():
    lesson = _lesson()
    lesson.md("intro", """
        # 03 · Attention
        text
    """)
    lesson.code("setup", "\n    import torch\n    x = 1\n")
    cells = lesson.notebook().cells
    assert cells[0].source == "# 03 · Attention\ntext\n\n" + notebook_builder.built_by_line("03_attention")
    assert "lessons/build/03_attention.py" in cells[0].source
    assert cells[1].source == "import torch\nx = 1"
    assert lesson.notebook().cells[0].source == cells[0].source  # building twice adds the line once


def test_a_repeated_name_is_an_error_naming_it():
    lesson = _lesson()
    lesson.md("intro", "# Title")
    lesson.code("setup", "import torch")
    with pytest.raises(ValueError, match=r"cell 2: the name 'setup' is already used by cell 1"):
        lesson.code("setup", "import math")


@pytest.mark.parametrize("name", ["Setup", "two words", "trailing-", "-leading", "double--hyphen", "under_score", ""])
def test_a_name_that_is_not_a_slug_is_an_error(name):
    with pytest.raises(ValueError, match="is not a slug"):
        _lesson().code(name, "x = 1")


def test_other_bad_cells_and_lessons_are_errors():
    with pytest.raises(ValueError, match="longer than 64 characters"):
        _lesson().code("a" * 62, "x = 1")
    with pytest.raises(TypeError, match=r"md\(name, text\)"):
        _lesson().md(["intro"], "# Title")
    with pytest.raises(ValueError, match="is empty"):
        _lesson().code("blank", "   \n")
    with pytest.raises(ValueError, match="first cell must be markdown"):
        lesson = _lesson()
        lesson.code("setup", "import torch")
        lesson.notebook()
    with pytest.raises(ValueError, match="there is no lessons/build/99_nothing.py"):
        notebook_builder.Lesson("99_nothing")
    with pytest.raises(ValueError, match="NN_words"):
        notebook_builder.Lesson("attention")


def test_the_development_checkpoint_swaps_every_tiny_gpt2_path_call(monkeypatch):
    lesson = _lesson()
    lesson.md("intro", "# Title: `tiny_gpt2_path()`")
    lesson.code("load", "from hfexplain.assets import tiny_gpt2_path\npath = tiny_gpt2_path()")
    monkeypatch.delenv(notebook_builder.DEV_CHECKPOINT_ENV, raising=False)
    assert lesson.notebook().cells[1].source.endswith("path = tiny_gpt2_path()")
    monkeypatch.setenv(notebook_builder.DEV_CHECKPOINT_ENV, "/somewhere/else")
    cells = lesson.notebook().cells
    assert cells[1].source == "from hfexplain.assets import tiny_gpt2_path\npath = '/somewhere/else'"
    assert "`tiny_gpt2_path()`" in cells[0].source  # markdown is never edited
