"""Checkers for lesson 05 (full models).

``check_gpt2_parameter_counts(fn)`` checks a learner's parameter count by formula::

    def gpt2_parameter_counts(config):
        # config: a GPT2Config (n_embd, n_layer, n_head, n_inner, vocab_size, n_positions,
        #         tie_word_embeddings)
        return {
            "embeddings": ...,   # wte and wpe
            "attention": ...,    # c_attn and c_proj of every block, biases included
            "mlp": ...,          # c_fc and c_proj of every block, biases included
            "layer_norms": ...,  # ln_1 and ln_2 of every block, and ln_f
            "lm_head": ...,      # what the head adds: 0 when it is tied to wte
        }

The truth is counted, not computed by formula: the checker builds ``GPT2LMHeadModel``
for each config on PyTorch's ``meta`` device (shapes without memory, so GPT-2 small costs
nothing) and adds up the parameters of each part, shared ones once. For a part that is
off it names the likely slip (biases forgotten, ``n_inner`` ignored, ``ln_f`` forgotten,
the tied head counted twice ...).
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from . import CheckResult

EXERCISE = "GPT-2 parameter count"
PARTS = ("embeddings", "attention", "mlp", "layer_norms", "lm_head")


def _configs():
    from ..models.gpt2 import GPT2Config

    return [
        ("the tiny GPT-2's shape", GPT2Config(vocab_size=4096, n_positions=256, n_embd=128, n_layer=4, n_head=4)),
        ("GPT-2 small (GPT2Config())", GPT2Config()),
        (
            "an untied config with n_inner",
            GPT2Config(
                vocab_size=1000, n_positions=64, n_embd=48, n_layer=3, n_head=6, n_inner=100, tie_word_embeddings=False
            ),
        ),
    ]


def _part_of(name: str) -> str:
    if name.startswith("transformer.wte.") or name.startswith("transformer.wpe."):
        return "embeddings"
    if ".attn." in name:
        return "attention"
    if ".mlp." in name:
        return "mlp"
    if ".ln_1." in name or ".ln_2." in name or name.startswith("transformer.ln_f."):
        return "layer_norms"
    if name.startswith("lm_head."):
        return "lm_head"
    raise ValueError(f"unexpected GPT-2 parameter {name!r}")


def counted_parts(config) -> dict[str, int]:
    """Each part's parameter count, counted on a real (meta-device) model; shared weights once."""
    from ..models.gpt2 import GPT2LMHeadModel

    with torch.device("meta"):
        model = GPT2LMHeadModel(config)
    counts = dict.fromkeys(PARTS, 0)
    for name, parameter in model.named_parameters():  # named_parameters lists a shared weight once
        counts[_part_of(name)] += parameter.numel()
    if sum(counts.values()) != model.num_parameters():  # pragma: no cover - a library bug, not the learner's
        raise AssertionError("per-part counts do not add up to num_parameters()")
    return counts


def _diagnose(part: str, got: int, config) -> str | None:
    """A likely reason why ``got`` is wrong for ``part``, or None."""
    d, layers, vocab, positions = config.n_embd, config.n_layer, config.vocab_size, config.n_positions
    inner = config.n_inner if config.n_inner is not None else 4 * d
    tied = getattr(config, "tie_word_embeddings", True)
    per_head = layers * (4 * d * d + 4 * d) // max(config.n_head, 1)
    guesses: dict[str, dict[int, str]] = {
        "embeddings": {
            vocab * d: "the position embeddings wpe (n_positions x n_embd) are missing.",
            positions * d: "the token embeddings wte (vocab_size x n_embd) are missing.",
            vocab * d + positions * d + vocab * d: (
                "wte is counted twice; the tied lm_head belongs to 'lm_head' (and is 0 there)."
            ),
        },
        "attention": {
            layers * 4 * d * d: "the biases are missing: c_attn has 3 * n_embd, c_proj n_embd per layer.",
            layers * (3 * d * d + 3 * d): (
                "the output projection c_proj (n_embd x n_embd + n_embd per layer) is missing."
            ),
            layers * (d * d + d): (
                "only c_proj is counted: c_attn makes q, k and v at once, n_embd x 3*n_embd + 3*n_embd."
            ),
            4 * d * d + 4 * d: "that is one layer: multiply by n_layer.",
            per_head: "the heads share c_attn and c_proj: do not divide by n_head.",
            layers * (4 * d * d + 4 * d) * config.n_head: "the heads share c_attn and c_proj: do not multiply by n_head.",
        },
        "mlp": {
            layers * 2 * d * inner: "the biases are missing: c_fc has n_inner, c_proj n_embd per layer.",
            layers * (2 * d * 4 * d + 4 * d + d): (
                f"the MLP width is config.n_inner when it is set (here {config.n_inner}), "
                "4 * n_embd only when it is None."
            ),
            2 * d * inner + inner + d: "that is one layer: multiply by n_layer.",
            layers * (d * inner + inner): "only c_fc is counted: c_proj (n_inner x n_embd + n_embd) is missing.",
        },
        "layer_norms": {
            2 * layers * 2 * d: "ln_f, the final layer norm after the last block, is missing.",
            (2 * layers + 1) * d: "a LayerNorm has a weight *and* a bias, n_embd each.",
            2 * layers * d: "ln_f is missing, and a LayerNorm has a weight *and* a bias, n_embd each.",
            (layers + 1) * 2 * d: "each GPT-2 block has two layer norms, ln_1 and ln_2.",
        },
        "lm_head": {
            vocab * d + vocab: "GPT-2's lm_head has no bias.",
        },
    }
    if part == "lm_head":
        if tied and got == vocab * d:
            return (
                "the tied head is counted twice: lm_head.weight *is* wte.weight (tie_word_embeddings=True), "
                "so it adds 0 new parameters."
            )
        if not tied and got == 0:
            return (
                "this config has tie_word_embeddings=False: lm_head has its own vocab_size x n_embd weight."
            )
    return guesses.get(part, {}).get(got)


def _describe(config) -> str:
    fields = ["vocab_size", "n_positions", "n_embd", "n_layer", "n_head"]
    text = ", ".join(f"{field}={getattr(config, field)}" for field in fields)
    if config.n_inner is not None:
        text += f", n_inner={config.n_inner}"
    if not getattr(config, "tie_word_embeddings", True):
        text += ", tie_word_embeddings=False"
    return text


def check_gpt2_parameter_counts(fn: Callable) -> CheckResult:
    """Check ``fn(config) -> {part: count}`` on three configs; never raises on a wrong answer."""
    if not callable(fn):
        return CheckResult(EXERCISE, False, [f"Pass your function itself, got {type(fn).__name__}."])
    totals = []
    for label, config in _configs():
        where = f"for {label} ({_describe(config)})"
        try:
            got = fn(config)
        except Exception as error:  # noqa: BLE001 - the learner's error is the verdict
            return CheckResult(EXERCISE, False, [f"Your function raised {type(error).__name__} {where}: {error}."])
        if got is None:
            return CheckResult(EXERCISE, False, ["Your function returned nothing (did you forget `return`?)."])
        if not isinstance(got, dict):
            return CheckResult(
                EXERCISE, False, [f"Return a dict with the keys {', '.join(PARTS)}; got {type(got).__name__}."]
            )
        missing = [part for part in PARTS if part not in got]
        if missing:
            return CheckResult(
                EXERCISE, False, [f"The dict has no {', '.join(map(repr, missing))}: give every part {', '.join(PARTS)}."]
            )
        unfilled = [part for part in PARTS if got[part] is ... or got[part] is None]
        if unfilled:
            return CheckResult(
                EXERCISE, False, [f"Fill in a formula for {', '.join(map(repr, unfilled))}: still `...` or None."]
            )
        bad_types = [
            part
            for part in PARTS
            if isinstance(got[part], bool) or not isinstance(got[part], int | float) or got[part] != int(got[part])
        ]
        if bad_types:
            return CheckResult(
                EXERCISE, False, [f"{', '.join(map(repr, bad_types))} should be whole numbers {where}; got "
                                  + ", ".join(f"{got[part]!r}" for part in bad_types) + "."]
            )
        expected = counted_parts(config)
        messages = []
        for part in PARTS:
            value = int(got[part])
            if value == expected[part]:
                continue
            reason = _diagnose(part, value, config)
            line = f"'{part}' is {value:,} but should be {expected[part]:,} ({value - expected[part]:+,})"
            messages.append(f"{line}: {reason}" if reason else f"{line}.")
        if messages:
            ok = [part for part in PARTS if int(got[part]) == expected[part]]
            if ok:
                messages.append(f"Correct: {', '.join(ok)}.")
            messages.append(f"(seen {where})")
            return CheckResult(EXERCISE, False, messages)
        totals.append(f"{label}: {sum(expected.values()):,}")
    return CheckResult(EXERCISE, True, ["every part matches a counted model, " + "; ".join(totals) + "."])


__all__ = ["check_gpt2_parameter_counts", "counted_parts", "PARTS"]
