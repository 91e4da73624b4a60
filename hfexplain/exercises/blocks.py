"""Checkers for lesson 04 (the transformer block).

``check_gpt2_block_forward(fn)`` checks a learner's GPT-2 block forward::

    def gpt2_block_forward(block, x):
        # block has GPT-2's four sub-modules, each (batch, seq, d) -> (batch, seq, d):
        #   block.ln_1, block.attn (causal self-attention), block.ln_2, block.mlp
        # x: (batch, seq, d), the residual stream entering the block
        # returns: (batch, seq, d), the residual stream leaving it
        ...

The checker hands ``fn`` a block with random weights (its two layer norms get *different*
random scales and shifts, so using one for the other shows), compares the result with
the pre-norm reference ``h = x + attn(ln_1(x)); out = h + mlp(ln_2(h))`` and, when they
differ, names the wiring mistake that reproduces the learner's output exactly: post-norm
instead of pre-norm, a residual missing around the attention or the MLP, the norms
swapped, the MLP reading the block's input instead of the stream after attention...
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from . import CheckResult, compare_tensors
from ..layers import build_attention_mask

EXERCISE = "GPT-2 block forward"


class CausalSelfAttention(nn.Module):
    """Wraps hfexplain's ``GPT2Attention`` as a plain (b, s, d) -> (b, s, d) module.

    hfexplain's attention takes a prepared additive mask and returns ``(out, pattern)``;
    the exercise wants a module that only needs the stream, so this builds the causal
    mask itself and returns the output alone.
    """

    def __init__(self, attention: nn.Module):
        super().__init__()
        self.inner = attention

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        seq = hidden_states.shape[1]
        mask = build_attention_mask(
            None, seq, seq, causal=True, dtype=hidden_states.dtype, device=hidden_states.device
        )  # (1, 1, s, s)
        out, _ = self.inner(hidden_states, mask)  # (b, s, d)
        return out


class BlockParts(nn.Module):
    """A GPT-2 block's four sub-modules under their Hugging Face names, without a forward."""

    def __init__(self, ln_1: nn.Module, attn: nn.Module, ln_2: nn.Module, mlp: nn.Module):
        super().__init__()
        self.ln_1 = ln_1
        self.attn = attn
        self.ln_2 = ln_2
        self.mlp = mlp


def make_block_parts(n_embd: int = 32, n_head: int = 4, seed: int = 0) -> BlockParts:
    """A random GPT-2 block (eval mode) whose two layer norms differ from each other."""
    from ..models.gpt2 import GPT2Block, GPT2Config

    config = GPT2Config(n_embd=n_embd, n_head=n_head, n_layer=1, n_positions=64, vocab_size=16)
    with torch.random.fork_rng(devices=[]):  # seed locally: leave the learner's random stream alone
        torch.manual_seed(seed)
        block = GPT2Block(config, layer_idx=0).eval()
        with torch.no_grad():
            for norm in (block.ln_1, block.ln_2):
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.normal_(0.0, 0.3)
            # larger projections than GPT-2's init, so each sub-layer visibly moves the stream
            for module in block.modules():
                if hasattr(module, "weight") and module.weight.dim() == 2:
                    module.weight.normal_(0.0, 0.15)
    return BlockParts(block.ln_1, CausalSelfAttention(block.attn), block.ln_2, block.mlp).eval()


def reference(block: BlockParts, x: torch.Tensor) -> torch.Tensor:
    """GPT-2's pre-norm wiring."""
    h = x + block.attn(block.ln_1(x))  # (b, s, d)
    return h + block.mlp(block.ln_2(h))  # (b, s, d)


def _mistakes(block: BlockParts, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    ln_1, attn, ln_2, mlp = block.ln_1, block.attn, block.ln_2, block.mlp
    found = []

    h = ln_1(x + attn(x))
    found.append(
        (
            "Post-norm instead of pre-norm: that is BERT's wiring, LayerNorm(x + sublayer(x)). GPT-2 normalises "
            "the *input* of each sub-layer and adds the sub-layer's output to the raw stream: "
            "h = x + attn(ln_1(x)); out = h + mlp(ln_2(h)).",
            ln_2(h + mlp(h)),
        )
    )
    h = x + attn(ln_1(x))
    found.append(
        (
            "Residual missing around the MLP: return h + mlp(ln_2(h)), not mlp(ln_2(h)) alone; the MLP adds to "
            "the stream, it does not replace it.",
            mlp(ln_2(h)),
        )
    )
    h = attn(ln_1(x))
    found.append(
        (
            "Residual missing around the attention: h = x + attn(ln_1(x)), not attn(ln_1(x)) alone; "
            "attention adds to the stream, it does not replace it.",
            h + mlp(ln_2(h)),
        )
    )
    h = attn(ln_1(x))
    found.append(
        (
            "Residuals missing around both the attention and the MLP: add each sub-layer's output to its input.",
            mlp(ln_2(h)),
        )
    )
    a = ln_1(x)
    h = a + attn(a)
    b = ln_2(h)
    found.append(
        (
            "The residual carries the normalised stream: add the sub-layer's output to the raw input "
            "(x + attn(ln_1(x))), not to ln_1(x); the layer norm is only for what the sub-layer reads.",
            b + mlp(b),
        )
    )
    h = x + attn(ln_2(x))
    found.append(
        (
            "The layer norms are swapped: ln_1 goes before the attention and ln_2 before the MLP (each has "
            "its own learned scale and shift).",
            h + mlp(ln_1(h)),
        )
    )
    found.append(
        (
            "The MLP reads the block's input x (a 'parallel' block, as GPT-J does) instead of the stream after "
            "attention: GPT-2 is sequential, h = x + attn(ln_1(x)); out = h + mlp(ln_2(h)).",
            x + attn(ln_1(x)) + mlp(ln_2(x)),
        )
    )
    h = x + attn(ln_1(x))
    found.append(("No layer norm before the MLP (ln_2 is missing): the MLP should read ln_2(h), not h.", h + mlp(h)))
    h = x + attn(x)
    found.append(
        (
            "No layer norm before the attention (ln_1 is missing): the attention should read ln_1(x), not x.",
            h + mlp(ln_2(h)),
        )
    )
    h = x + attn(x)
    found.append(
        (
            "The layer norms are missing: each sub-layer reads a normalised copy of the stream (ln_1, ln_2).",
            h + mlp(h),
        )
    )
    h = x + mlp(ln_2(x))
    found.append(
        (
            "The MLP runs before the attention: GPT-2's block is attention first (tokens exchange "
            "information), then the MLP (each token on its own).",
            h + attn(ln_1(h)),
        )
    )
    h = x + attn(ln_1(x))
    found.append(
        ("The stream is added twice around the MLP: return h + mlp(ln_2(h)), with h once.", 2 * h + mlp(ln_2(h)))
    )
    return found


def check_gpt2_block_forward(fn: Callable) -> CheckResult:
    """Check ``fn(block, x) -> (batch, seq, d)``; never raises on a wrong answer."""
    if not callable(fn):
        return CheckResult(EXERCISE, False, [f"Pass your function itself, got {type(fn).__name__}."])
    block = make_block_parts()
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(2, 5, 32, generator=generator) * 2.0  # (b, s, d)
    with torch.no_grad():
        try:
            got = fn(block, x.clone())
        except Exception as error:  # noqa: BLE001 - the learner's error is the verdict
            return CheckResult(
                EXERCISE,
                False,
                [
                    f"Your function raised {type(error).__name__}: {error}. Use block.ln_1, block.attn, block.ln_2 "
                    "and block.mlp; each takes and returns a (batch, seq, d) tensor."
                ],
            )
        if isinstance(got, tuple):
            return CheckResult(
                EXERCISE, False, ["Your function returned a tuple; return only the new residual stream (batch, seq, d)."]
            )
        expected = reference(block, x)
        problems = compare_tensors("the block's output", got, expected, atol=1e-5)
        if not problems:
            return CheckResult(EXERCISE, True, ["pre-norm, with a residual around the attention and around the MLP."])
        if isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(expected.shape):
            got = got.detach().to(expected.dtype)
            for explanation, wrong in _mistakes(block, x):
                if torch.allclose(got, wrong, atol=1e-5):
                    return CheckResult(EXERCISE, False, [explanation])
            problems.append(
                "None of the usual wiring mistakes explains it; GPT-2's block is h = x + attn(ln_1(x)), "
                "then out = h + mlp(ln_2(h))."
            )
        problems[0] = problems[0][0].upper() + problems[0][1:]
        return CheckResult(EXERCISE, False, problems)


__all__ = ["check_gpt2_block_forward", "make_block_parts", "reference", "BlockParts", "CausalSelfAttention"]
