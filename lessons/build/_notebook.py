"""Shared machinery of the lesson builders in this folder (lessons/build/NN_name.py).

Every builder reads the same way: it makes one `Lesson` named after its own file, adds the
cells in order, each with a name, and ends with `lesson.main()`:

    lesson = Lesson("03_attention")
    md, code = lesson.md, lesson.code

    md("masks-intro", r'''
    ## 3. Masks: who may look at whom
    ...
    ''')
    code("build-masks", r'''
    causal = torch.ones(seq, seq, dtype=torch.bool).tril()  # (q, k)
    ''')

A cell's name says its role in the lesson; its id in the notebook is the lesson's number and
the name, "03-build-masks". Ids stay put when a cell is inserted, moved or edited, so a rebuild's
diff shows only what changed. Names are lowercase words and digits joined by single hyphens,
unique within the lesson (a repeat is an error when the builder runs).

The notebook's first cell ends with a line naming its builder, so nobody edits the notebook by
hand. Every builder has the same command line:

    .venv/bin/python lessons/build/NN_name.py                     # write lessons/NN_name.ipynb, then execute it in place
    .venv/bin/python lessons/build/NN_name.py --no-execute        # only write it
    .venv/bin/python lessons/build/NN_name.py --out PATH          # write (and execute) PATH instead

The notebook's stored outputs must be exactly what a fresh run produces (nbval compares them), so
after changing a cell always rebuild without --no-execute. tests/test_lessons_source.py checks
that every committed notebook has the cells its builder writes.

Development only: with HFX_LESSON_TINY_GPT2=FOLDER set, every code cell that calls
`tiny_gpt2_path()` loads FOLDER instead (to try a retrained checkpoint before it ships).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from textwrap import dedent

import nbformat

LESSONS = Path(__file__).resolve().parent.parent  # lessons/
ROOT = LESSONS.parent  # the repository root
BUILD = LESSONS / "build"

# Execution settings shared by every lesson.
TIMEOUT_S = 300  # per cell
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
DEV_CHECKPOINT_ENV = "HFX_LESSON_TINY_GPT2"

LESSON_NAME = re.compile(r"(\d{2})_[a-z0-9_]+")  # "03_attention"
CELL_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")  # "build-masks"
CELL_ID = re.compile(r"\d{2}-[a-z0-9]+(-[a-z0-9]+)*")  # "03-build-masks"
MAX_ID_LENGTH = 64  # nbformat: ids are 1-64 characters of [a-zA-Z0-9-_]


def builder_path(name: str) -> str:
    """The builder of lessons/<name>.ipynb, relative to the repository root."""
    return f"lessons/build/{name}.py"


def built_by_line(name: str) -> str:
    """The line that ends every lesson's first cell."""
    return f"*Built by `{builder_path(name)}`; edit that file and rebuild, do not edit this notebook.*"


def _dev_checkpoint(source: str) -> str:
    dev_path = os.environ.get(DEV_CHECKPOINT_ENV)
    return source.replace("tiny_gpt2_path()", repr(dev_path)) if dev_path else source


class Lesson:
    """The named cells of one lesson notebook, and how to write and execute it.

    name: the notebook's stem, the same as its builder's, e.g. "03_attention"
          (lessons/build/03_attention.py writes lessons/03_attention.ipynb)
    """

    def __init__(self, name: str) -> None:
        match = LESSON_NAME.fullmatch(name)
        if match is None:
            raise ValueError(f"Lesson({name!r}): a lesson is named NN_words, e.g. '03_attention'")
        if not (BUILD / f"{name}.py").is_file():
            raise ValueError(f"Lesson({name!r}): there is no {builder_path(name)}; "
                             "name the lesson after the builder file that makes it")
        self.name = name
        self.number = match.group(1)
        self.cells: list[nbformat.NotebookNode] = []
        self.path = LESSONS / f"{name}.ipynb"

    def md(self, name: str, text: str) -> None:
        """Add a markdown cell named `name` (its id is "NN-name")."""
        self._add(name, text, nbformat.v4.new_markdown_cell)

    def code(self, name: str, text: str) -> None:
        """Add a code cell named `name` (its id is "NN-name")."""
        self._add(name, text, nbformat.v4.new_code_cell)

    def _add(self, name: str, text: str, new_cell) -> None:
        where = f"{builder_path(self.name)}, cell {len(self.cells)}"
        if not isinstance(name, str) or not isinstance(text, str):
            raise TypeError(f"{where}: write md(name, text) or code(name, text), both strings "
                            f"(got {type(name).__name__}, {type(text).__name__})")
        if CELL_NAME.fullmatch(name) is None:
            raise ValueError(f"{where}: cell name {name!r} is not a slug; use lowercase letters and "
                             "digits joined by single hyphens, e.g. 'mask-by-hand'")
        cell_id = f"{self.number}-{name}"
        if len(cell_id) > MAX_ID_LENGTH:
            raise ValueError(f"{where}: cell id {cell_id!r} is longer than {MAX_ID_LENGTH} characters; "
                             "shorten the name")
        for index, cell in enumerate(self.cells):
            if cell.id == cell_id:
                raise ValueError(f"{where}: the name {name!r} is already used by cell {index}; "
                                 "give each cell a name of its own")
        source = dedent(text).strip()
        if not source:
            raise ValueError(f"{where}: cell {name!r} is empty")
        cell = new_cell(source)
        cell.id = cell_id
        self.cells.append(cell)

    def notebook(self) -> nbformat.NotebookNode:
        """The notebook: the cells in order, the builder's path at the end of the first one."""
        if not self.cells or self.cells[0].cell_type != "markdown":
            raise ValueError(f"{builder_path(self.name)}: the first cell must be markdown "
                             "(the title; it gets the line naming this builder)")
        cells = [nbformat.from_dict(dict(cell)) for cell in self.cells]  # copies: writing twice is safe
        cells[0].source = f"{cells[0].source}\n\n{built_by_line(self.name)}"
        for cell in cells:
            if cell.cell_type == "code":
                cell.source = _dev_checkpoint(cell.source)
        notebook = nbformat.v4.new_notebook(cells=cells, metadata=METADATA)
        nbformat.validate(notebook)
        return notebook

    def write(self, path: str | os.PathLike | None = None) -> Path:
        """Write the notebook (to lessons/<name>.ipynb unless `path` is given); return its path."""
        path = Path(path) if path is not None else self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(self.notebook(), path)
        return path

    def execute(self, path: str | os.PathLike | None = None) -> float:
        """Run the written notebook in place with the venv's kernel, offline, as CI does; return seconds."""
        path = Path(path) if path is not None else self.path
        start = time.perf_counter()
        subprocess.run(
            # `python -m nbconvert`, not the venv's bin/jupyter (nor `python -m jupyter`, which runs the
            # bin/jupyter-nbconvert script): a copied venv's scripts keep the shebang of the checkout they
            # were installed in, and the kernel would run that checkout's code
            [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", "--inplace",
             # widget state (e.g. plotly's JavaScript bundle, ~15 MB) is not stored: the live
             # kernel recreates it, and a static viewer shows the text fallback instead
             "--ExecutePreprocessor.store_widget_state=False",
             "--ExecutePreprocessor.record_timing=False",
             f"--ExecutePreprocessor.timeout={TIMEOUT_S}",
             str(path)],
            check=True,
            env={**os.environ, **OFFLINE_ENV},
            cwd=ROOT,
        )
        _coalesce_streams(path)
        return time.perf_counter() - start

    def main(self, argv: list[str] | None = None) -> None:
        parser = argparse.ArgumentParser(description=f"Build lessons/{self.name}.ipynb, then execute it in place.")
        parser.add_argument("--no-execute", action="store_true", help="only write the notebook")
        parser.add_argument("--out", metavar="PATH", help=f"write here instead of lessons/{self.name}.ipynb")
        args = parser.parse_args(argv)
        path = self.write(args.out)
        print(f"wrote {path} ({len(self.cells)} cells)")
        if not args.no_execute:
            print(f"executed {path.name} in {self.execute(path):.1f} s")


def _coalesce_streams(path: Path) -> None:
    """Merge each cell's consecutive stdout (or stderr) outputs into one, as a fresh run in Jupyter
    shows them: how a kernel splits a cell's prints into messages depends on timing (a busy machine
    splits more), and the stored notebook should not."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for output in cell.outputs:
            previous = merged[-1] if merged else None
            if (output.output_type == "stream" and previous is not None and previous.output_type == "stream"
                    and previous.name == output.name):
                previous.text += output.text
            else:
                merged.append(output)
        cell.outputs = merged
    nbformat.write(notebook, path)

