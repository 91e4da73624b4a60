"""Where a forward pass spends its time, operator by operator, in hfexplain and transformers.

    .venv/bin/python benchmarks/op_profile.py --family bart     # or t5
    .venv/bin/python benchmarks/op_profile.py --family bart --threads 2 --top 20

Wall-clock ratios move with the machine's load; operator time summed over one thread moves much
less, and its per-operator split says whether a slower row is more work (more calls, other
kernels) or the same work timed on a busier machine. Both models are the ones benchmarks/run.py
builds (``build_seq2seq_pair``: identical random weights, checked equal first), run on a 1x64
source and 32 decoder tokens with no autograd.
"""
from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import SEQ2SEQ_FAMILIES, SEQ2SEQ_NEW_TOKENS, SOURCE_LENGTH, build_seq2seq_pair  # noqa: E402


def operator_times(model, ids: torch.Tensor, decoder: torch.Tensor, repeats: int) -> tuple[dict, dict]:
    """(self CPU ms per call of the model, calls per call of the model) for each aten operator."""
    with torch.no_grad():
        for _ in range(2):  # warm-up
            model(input_ids=ids, decoder_input_ids=decoder)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            for _ in range(repeats):
                model(input_ids=ids, decoder_input_ids=decoder)
    times, calls = collections.Counter(), collections.Counter()
    for event in profile.key_averages():
        times[event.key] = event.self_cpu_time_total / repeats / 1e3
        calls[event.key] = event.count / repeats
    return times, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=SEQ2SEQ_FAMILIES, default="bart")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top", type=int, default=12, help="operators shown, largest time difference first")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        ours, theirs, info, vocab = build_seq2seq_pair(args.family, folder)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, vocab, (1, SOURCE_LENGTH), generator=generator)
    decoder = torch.randint(3, vocab, (1, SEQ2SEQ_NEW_TOKENS), generator=generator)
    mine, my_calls = operator_times(ours, ids, decoder, args.repeats)
    ref, ref_calls = operator_times(theirs, ids, decoder, args.repeats)
    print(f"{info['shape']}; one forward {SOURCE_LENGTH} -> {SEQ2SEQ_NEW_TOKENS} tokens, {args.threads} thread(s)")
    print(f"operator time: transformers {sum(ref.values()):.1f} ms, hfexplain {sum(mine.values()):.1f} ms")
    print(f"{'operator':48s} {'transformers':>18s} {'hfexplain':>18s}")
    for key in sorted(set(mine) | set(ref), key=lambda k: -abs(mine[k] - ref[k]))[:args.top]:
        print(f"{key:48s} {ref[key]:9.2f} ms x{ref_calls[key]:<5.0f} {mine[key]:9.2f} ms x{my_calls[key]:<5.0f}")


if __name__ == "__main__":
    main()
