"""How quickly the dashboards answer, measured on the Python (kernel) side.

    .venv/bin/python benchmarks/widgets.py            # writes benchmarks/results/widgets.{md,json}

What a user feels after moving a slider is: Python work in the kernel (slice the pattern,
round it, build plotly's update, serialise the message) + the trip to the browser +
plotly.js drawing. This script measures the first part, which is ours, and the size of
what goes over the wire. The comm the widgets talk through is replaced by one that
serialises every message exactly as the kernel does (``jupyter_client``'s ``json_packer``)
and counts the bytes, so serialisation is inside the timings.

Model: a GPT-2 shaped like GPT-2 small (12 layers x 12 heads, 768 wide; random weights:
timings do not depend on the values), at 128 and 512 tokens.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import comm  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from hfexplain.widgets._common import CountingComm  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
REPEATS = 9


def timed(action, repeats: int = REPEATS) -> tuple[float, int]:
    """Median milliseconds of ``action(i)`` and the median bytes it sent."""
    times, sizes = [], []
    for index in range(repeats):
        CountingComm.sent.clear()
        start = time.perf_counter()
        action(index)
        times.append((time.perf_counter() - start) * 1000)
        sizes.append(sum(CountingComm.sent))
    return statistics.median(times), int(statistics.median(sizes))


def train_tokenizer():
    from pydoc_data.topics import topics
    from tokenizers import Tokenizer as BackendTokenizer
    from tokenizers import decoders, models, pre_tokenizers, trainers

    from hfexplain import Tokenizer

    backend = BackendTokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator([topics[name] for name in sorted(topics)], trainer)
    return Tokenizer(tokenizer_object=backend, bos_token="<|endoftext|>", eos_token="<|endoftext|>")


def text_of(tokenizer, tokens: int) -> str:
    """A piece of the Python documentation exactly ``tokens`` tokens long."""
    from pydoc_data.topics import topics

    ids = tokenizer(topics["for"] + topics["while"] + topics["if"])["input_ids"][:tokens]
    assert len(ids) == tokens, "not enough text"
    text = tokenizer.decode(ids)
    assert len(tokenizer(text)["input_ids"]) == tokens
    return text


def main() -> dict:
    torch.manual_seed(0)
    torch.set_num_threads(min(4, os.cpu_count() or 1))
    comm.create_comm = CountingComm  # before any widget exists

    from hfexplain import GPT2Config, GPT2LMHeadModel
    from hfexplain.widgets import AttentionDashboard, GenerationExplorer, TokenizerDashboard

    tokenizer = train_tokenizer()
    config = GPT2Config(n_embd=768, n_layer=12, n_head=12, vocab_size=len(tokenizer), n_positions=1024)
    model = GPT2LMHeadModel(config).eval()
    AttentionDashboard(model, tokenizer, "warm up plotly and the model")  # first FigureWidget imports a lot

    results = {
        "machine": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        },
        "model": "GPT-2 shape: 12 layers x 12 heads, n_embd 768 (random weights)",
        "attention": [],
        "tokenizer": [],
        "generation": [],
    }
    for tokens in (128, 512):
        text = text_of(tokenizer, tokens)
        CountingComm.sent.clear()
        start = time.perf_counter()
        dash = AttentionDashboard(model, tokenizer, text)
        build_ms = (time.perf_counter() - start) * 1000
        build_bytes = sum(CountingComm.sent)
        assert len(dash.tokens) == tokens

        layer_ms, layer_bytes = timed(lambda i: setattr(dash.layer_slider, "value", (i + 1) % 12))
        head_ms, head_bytes = timed(lambda i: setattr(dash.head_slider, "value", (i + 1) % 12))
        hover_ms, hover_bytes = timed(lambda i: dash.highlight((7 * i) % tokens, (3 * i) % tokens))
        text_ms, text_bytes = timed(lambda i: dash.set_text(text if i % 2 else text_of(tokenizer, tokens - 1)), 3)

        one_head = len(json.dumps(np.round(dash.pattern().double().numpy(), 3).tolist()))
        results["attention"].append({
            "tokens": tokens,
            "build_ms": round(build_ms, 1),
            "build_bytes": build_bytes,
            "new_text_ms": round(text_ms, 1),
            "new_text_bytes": text_bytes,
            "layer_change_ms": round(layer_ms, 1),
            "layer_change_bytes": layer_bytes,
            "head_change_ms": round(head_ms, 1),
            "head_change_bytes": head_bytes,
            "hover_ms": round(hover_ms, 1),
            "hover_bytes": hover_bytes,
            "one_head_json_bytes": one_head,
            "all_heads_json_bytes_estimate": one_head * 12 * 12,
            "patterns_in_python_mib": round(dash.patterns.numel() * 4 / 2**20, 1),
        })

        tokens_dash = TokenizerDashboard(tokenizer, text)
        typing_ms, typing_bytes = timed(lambda i: tokens_dash.set_text(text + "x" * (i + 1)))
        results["tokenizer"].append({"tokens": tokens, "keystroke_ms": round(typing_ms, 1), "keystroke_bytes": typing_bytes})

    explorer = GenerationExplorer(model, tokenizer, text_of(tokenizer, 128))
    slider_ms, slider_bytes = timed(lambda i: setattr(explorer.temperature, "value", 0.5 + 0.1 * i))
    step_ms, step_bytes = timed(lambda i: explorer.step(1))
    results["generation"].append({
        "prompt_tokens": 128,
        "temperature_change_ms": round(slider_ms, 1),
        "temperature_change_bytes": slider_bytes,
        "append_token_ms": round(step_ms, 1),
        "append_token_bytes": step_bytes,
    })
    results["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return results


def kib(size: int) -> str:
    return f"{size / 1024:,.0f} KiB" if size < 2**20 else f"{size / 2**20:,.1f} MiB"


def write(results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "widgets.json").write_text(json.dumps(results, indent=2) + "\n")
    machine = results["machine"]
    lines = [
        "# Widget update times (server side)",
        "",
        "`python benchmarks/widgets.py`: the median of "
        f"{REPEATS} updates, measured in Python, including serialising each message as the kernel does; "
        "the browser's drawing time is not included. Bytes: what goes to the browser for that update.",
        "",
        f"Machine: {machine['platform']}, {machine['cpus']} CPUs ({machine['torch_threads']} torch threads), "
        f"Python {machine['python']}, torch {machine['torch']}; load average (1, 5, 15 min) "
        f"{machine['load_average_before']} before, {machine['load_average_after']} after: other work on the "
        "machine slows the model runs most.",
        f"Model: {results['model']}.",
        "",
        "## AttentionDashboard",
        "",
        "| tokens | layer change | head change | hover highlight | new text (model run) | first build* |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["attention"]:
        lines.append(
            f"| {row['tokens']} | {row['layer_change_ms']} ms · {kib(row['layer_change_bytes'])} "
            f"| {row['head_change_ms']} ms · {kib(row['head_change_bytes'])} "
            f"| {row['hover_ms']} ms · {kib(row['hover_bytes'])} "
            f"| {row['new_text_ms']} ms · {kib(row['new_text_bytes'])} "
            f"| {row['build_ms']} ms · {kib(row['build_bytes'])} |"
        )
    lines += [
        "",
        "\\* The first build includes opening the widgets: plotly's FigureWidget ships its JavaScript bundle "
        "(about 4.7 MiB, from the installed package, never a CDN) once per figure, so each dashboard draws all "
        "its views in one figure.",
        "",
        "A layer or head change sends one head's pattern (rounded to 3 decimals), the head view's links and the "
        "model view's frame. Sending every head of every layer instead (as an all-in-the-browser viewer does) "
        "would be about:",
        "",
    ]
    for row in results["attention"]:
        lines.append(
            f"- {row['tokens']} tokens: {kib(row['all_heads_json_bytes_estimate'])} of JSON "
            f"(one head: {kib(row['one_head_json_bytes'])}); the full patterns stay in Python "
            f"({row['patterns_in_python_mib']} MiB as float32)."
        )
    lines += ["", "## TokenizerDashboard", "", "| tokens | one keystroke |", "|---:|---:|"]
    for row in results["tokenizer"]:
        lines.append(f"| {row['tokens']} | {row['keystroke_ms']} ms · {kib(row['keystroke_bytes'])} |")
    lines += ["", "## GenerationExplorer", "", "| prompt tokens | temperature slider | append a token |", "|---:|---:|---:|"]
    for row in results["generation"]:
        lines.append(
            f"| {row['prompt_tokens']} | {row['temperature_change_ms']} ms · {kib(row['temperature_change_bytes'])} "
            f"| {row['append_token_ms']} ms · {kib(row['append_token_bytes'])} |"
        )
    (RESULTS / "widgets.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    measured = main()
    write(measured)
    print((RESULTS / "widgets.md").read_text())
