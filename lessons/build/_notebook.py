"""Shared machinery of the lesson builders in this folder (lessons/build/NN_name.py).

A builder makes one `Lesson`, adds its cells in order with `md()` / `code()`, and ends with
`lesson.main()`, which gives every builder the same command line:

    .venv/bin/python lessons/build/NN_name.py                     # write lessons/NN_name.ipynb, then execute it in place
    .venv/bin/python lessons/build/NN_name.py --no-execute        # only write it
    .venv/bin/python lessons/build/NN_name.py --out PATH          # write (and execute) PATH instead

The notebook's stored outputs must be exactly what a fresh run produces (nbval compares them), so
after changing a cell always rebuild without --no-execute.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from textwrap import dedent
from typing import Callable

import nbformat

LESSONS = Path(__file__).resolve().parent.parent  # lessons/
ROOT = LESSONS.parent  # the repository root

# Execution settings shared by every lesson.
TIMEOUT_S = 300  # per cell
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


class Lesson:
    """The cells of one lesson notebook, and how to write and execute it.

    name:     the notebook's stem, e.g. "03_attention" (written to lessons/<name>.ipynb)
    cell_id:  format string for the stable cell ids, given the cell's index, e.g. "cell-{:02d}"
              (stable ids make a rebuild's diff show only what changed)
    edit:     optional function applied to every code cell's source when writing
              (development hooks such as swapping in a stand-in checkpoint)
    """

    def __init__(self, name: str, cell_id: str, edit: Callable[[str], str] | None = None) -> None:
        self.name = name
        self.cell_id = cell_id
        self.edit = edit
        self.cells: list = []
        self.path = LESSONS / f"{name}.ipynb"

    def md(self, text: str) -> None:
        self.cells.append(nbformat.v4.new_markdown_cell(dedent(text).strip()))

    def code(self, text: str) -> None:
        self.cells.append(nbformat.v4.new_code_cell(dedent(text).strip()))

    def notebook(self) -> nbformat.NotebookNode:
        notebook = nbformat.v4.new_notebook(cells=self.cells, metadata=METADATA)
        for index, cell in enumerate(notebook.cells):
            cell.id = self.cell_id.format(index)
            if self.edit is not None and cell.cell_type == "code":
                cell.source = self.edit(cell.source)
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
        jupyter = Path(sys.executable).with_name("jupyter")
        start = time.perf_counter()
        subprocess.run(
            [str(jupyter), "nbconvert", "--to", "notebook", "--execute", "--inplace",
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
