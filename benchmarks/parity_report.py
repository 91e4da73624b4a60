"""How close is each family to transformers? The parity tests, run once more, with every difference kept.

    .venv/bin/python benchmarks/parity_report.py                   # the families' and processors' tests
    .venv/bin/python benchmarks/parity_report.py tests/test_vit.py  # any test files

The parity tests assert that hfexplain's outputs are within 1e-5 of transformers' (fp32) and say
nothing when they are. This script runs them under pytest with ``HFEXPLAIN_PARITY_LOG`` set, so
that ``tests/parity.py``'s ``record`` appends every difference a comparison measured (logits,
hidden states, attention patterns, losses, hook points, processor outputs) to a JSON-lines log;
then it tabulates, per test file and per test, how many comparisons ran and the largest absolute
difference among them. A test that fails still shows up (with its numbers so far) and the table
says it failed.

Writes benchmarks/results/parity-latest.md (and .json) and prints the table. Offline; a few
minutes on a quiet 2-core machine for the default set.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# The families (one test file each) and the processors, tokenizers and pipelines checked against
# transformers; a file that does not exist (a family not written yet) is skipped.
DEFAULT = [
    "gpt2", "bert", "llama", "roberta", "distilbert", "albert", "gpt_neo", "gptj", "t5", "bart", "marian",
    "vit", "deit", "dinov2", "clip", "yolos", "blip", "wav2vec2", "whisper",
    "processing", "tokenization", "generation", "generation_seq2seq", "pipelines", "pipelines_vision",
    "pipelines_speech", "pipelines_seq2seq", "pipeline_object_detection", "yolos_loss",
]


def run_tests(files: list[str], log: Path) -> dict[str, str]:
    """Run pytest on ``files`` with the log set; return each test's outcome by node id."""
    report = log.with_suffix(".outcomes")
    env = dict(os.environ, HFEXPLAIN_PARITY_LOG=str(log), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rN", "--tb=line",
               f"--junitxml={report}", *files]
    subprocess.run(command, cwd=ROOT, env=env, check=False)
    outcomes: dict[str, str] = {}
    if report.exists():
        import xml.etree.ElementTree as ElementTree

        for case in ElementTree.parse(report).getroot().iter("testcase"):
            path = case.get("classname", "").replace(".", "/") + ".py"
            node = f"{path}::{case.get('name')}"
            failed = any(child.tag in ("failure", "error") for child in case)
            skipped = any(child.tag == "skipped" for child in case)
            outcomes[node] = "failed" if failed else "skipped" if skipped else "passed"
    return outcomes


def tabulate(log: Path, outcomes: dict[str, str]) -> dict:
    per_test: dict[str, dict] = collections.defaultdict(lambda: {"comparisons": 0, "max": 0.0, "worst": ""})
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            row = per_test[entry["test"]]
            row["comparisons"] += 1
            if entry["difference"] >= row["max"]:
                row["max"], row["worst"] = entry["difference"], entry["what"]
    per_file: dict[str, dict] = {}
    for node, row in sorted(per_test.items()):
        name = node.split("::", 1)[0]
        summary = per_file.setdefault(name, {"tests": 0, "comparisons": 0, "max": 0.0, "worst": "", "failed": 0})
        summary["tests"] += 1
        summary["comparisons"] += row["comparisons"]
        if row["max"] >= summary["max"]:
            summary["max"], summary["worst"] = row["max"], f"{node.split('::', 1)[1]}: {row['worst']}"
    for node, outcome in outcomes.items():
        name = node.split("::", 1)[0]
        if outcome == "failed" and name in per_file:
            per_file[name]["failed"] += 1
    return {"files": per_file, "tests": dict(per_test), "outcomes": outcomes}


def markdown(result: dict, machine: str) -> str:
    lines = [
        "# Parity with transformers, measured",
        "",
        f"`benchmarks/parity_report.py`, {machine}. The largest absolute difference any comparison in the",
        "file measured (fp32; the tests' bound is 1e-5 unless a test says otherwise), and where.",
        "",
        "| test file | tests | comparisons | max abs diff | largest in | failed |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for name, row in result["files"].items():
        lines.append(f"| `{name}` | {row['tests']} | {row['comparisons']} | {row['max']:.2e} | {row['worst']} | "
                     f"{row['failed']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="test files (default: every family's and processor's)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for parity-latest.md/.json")
    args = parser.parse_args(argv)
    files = args.files or [f"tests/test_{name}.py" for name in DEFAULT if (ROOT / f"tests/test_{name}.py").exists()]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "parity.jsonl"
        outcomes = run_tests(files, log)
        result = tabulate(log, outcomes)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {time.perf_counter() - start:.0f} s"
    text = markdown(result, machine)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "parity-latest.md").write_text(text, encoding="utf-8")
    (args.out / "parity-latest.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
