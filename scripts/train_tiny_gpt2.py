"""Train hfexplain's tiny GPT-2 on the Python documentation that ships with CPython.

    python scripts/train_tiny_gpt2.py --out hfexplain/assets/tiny-gpt2-pydoc --steps 800 --seed 0

Everything here uses hfexplain's own pieces: its ``Tokenizer`` wraps a byte-level BPE that
we train with the ``tokenizers`` library, its ``GPT2LMHeadModel`` is the model, and its
``save_pretrained`` writes the checkpoint. The loop is the plain PyTorch one every course
shows (AdamW, linear warm-up then cosine decay, gradient clipping), so a learner can read
it top to bottom:

    1. data       pydoc_data.topics: ~80 documentation topics (~465K characters, PSF licence).
                  Every 20th topic (sorted by name) is held out for validation.
    2. tokenizer  byte-level BPE, 4096 entries, "<|endoftext|>" as bos / eos / pad / unk (as GPT-2).
    3. model      GPT-2 with n_embd 128, 4 layers, 4 heads, 256 positions (~1.35M parameters).
    4. training   random 256-token windows of the training stream, in an order fixed by --seed
                  (800 steps of 8 windows: ~15 minutes on one core of a busy 2-core machine).
    5. output     config.json, model.safetensors, tokenizer files and a README.md model card
                  with the numbers of this run and a few samples.

Running it twice with the same arguments on the same machine gives bitwise identical weights:
the model initialisation, the dropout masks and the order of the windows all come from
``--seed``. (Float sums may round differently with another torch version, CPU or thread
count, so ``--threads`` is part of the recipe.)
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import platform
import re
import shlex
import sys
import time

import torch

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hfexplain", "assets", "tiny-gpt2-pydoc")
EOS_TOKEN = "<|endoftext|>"
HELD_OUT_EVERY = 20  # topics (sorted by name) 10, 30, 50, ... are the validation set
SAMPLE_PROMPTS = ("The list", "A function", "An exception is", "The for statement")


# ---------------------------------------------------------------------------------------------
# 1. Data: the documentation topics pydoc shows for help("topic")
# ---------------------------------------------------------------------------------------------


def load_topics() -> dict[str, str]:
    """CPython's help topics: {name: text}. The text changes a little between Python versions."""
    from pydoc_data.topics import topics

    return dict(topics)


def clean_text(text: str) -> str:
    """Light whitespace clean-up; the words are left exactly as written.

    * trailing spaces go;
    * reST heading underlines (``*****``, ``=====``, ``-----``) go: they are decoration,
      and a small model would spend capacity counting stars;
    * runs of blank lines become one blank line;
    * two spaces between words (the docs' old "two spaces after a full stop") become one.
      Leading indentation is kept: it marks code and grammar blocks.
    """
    lines = [line.rstrip() for line in text.splitlines()]
    lines = [line for line in lines if not re.fullmatch(r"[*=\-^~]{3,}", line.strip())]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(r"(?<=\S) {2,}(?=\S)", " ", text)
    return text.strip() + "\n"


def split_topics(topics: dict[str, str]) -> tuple[list[str], list[str]]:
    """(train names, validation names): every ``HELD_OUT_EVERY``-th name in sorted order, from the
    10th on, is held out (~5% of the topics). A rule on names, so the split is easy to restate."""
    names = sorted(topics)
    held_out = set(names[HELD_OUT_EVERY // 2 :: HELD_OUT_EVERY])
    return [n for n in names if n not in held_out], [n for n in names if n in held_out]


def corpus_sha256(texts: list[str]) -> str:
    """A fingerprint of the cleaned text, so a reader can tell whether their Python has the same data."""
    return hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# 2. Tokenizer: a byte-level BPE like GPT-2's, but with 4096 entries learned from our data
# ---------------------------------------------------------------------------------------------


def train_tokenizer(texts: list[str], vocab_size: int):
    """Train GPT-2's tokenizer recipe on ``texts`` and wrap it in hfexplain's ``Tokenizer``.

    The pipeline is GPT-2's: no normaliser; the ``ByteLevel`` pre-tokenizer splits on GPT-2's
    regex and maps every byte to a printable character (a space becomes "Ġ", a newline "Ċ"),
    so any text can be encoded with no unknown token; BPE merges learned here; a ``ByteLevel``
    decoder. Id 0 is "<|endoftext|>", which plays bos, eos, unk and pad.

    One change to GPT-2's recipe: a blank line ("\n\n") is first split off as a piece of its
    own, so it can become one token "ĊĊ". GPT-2's regex alone cuts it into "Ċ" "Ċ", and a model
    this small then struggles to tell the first newline from the second (greedy decoding fell
    into endless newlines).
    """
    from tokenizers import Tokenizer as BackendTokenizer
    from tokenizers import decoders, models, pre_tokenizers, processors, trainers

    from hfexplain import Tokenizer

    backend = BackendTokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split("\n\n", behavior="isolated"),  # "a.\n\nThe" -> "a.", "\n\n", "The"
            pre_tokenizers.ByteLevel(add_prefix_space=False),  # GPT-2's regex and byte alphabet
        ]
    )
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes, seen or not
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    return Tokenizer(
        backend,
        bos_token=EOS_TOKEN,
        eos_token=EOS_TOKEN,
        unk_token=EOS_TOKEN,
        pad_token=EOS_TOKEN,
        model_max_length=None,  # set by main() to n_positions
    )


def encode_stream(tokenizer, texts: list[str]) -> torch.Tensor:
    """One long token stream: <|endoftext|> doc <|endoftext|> doc ... <|endoftext|>  -> (n,) long."""
    eos = tokenizer.eos_token_id
    ids = [eos]
    for text in texts:
        ids.extend(tokenizer(text)["input_ids"])
        ids.append(eos)
    return torch.tensor(ids, dtype=torch.long)


# ---------------------------------------------------------------------------------------------
# 3-4. Model and training loop
# ---------------------------------------------------------------------------------------------


def random_windows(stream: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator) -> torch.Tensor:
    """``batch_size`` windows of ``block_size`` tokens at random offsets -> (b, t).

    The model is trained with ``labels = input_ids``: its loss shifts by one inside, so each
    window teaches t - 1 next-token predictions.
    """
    starts = torch.randint(0, len(stream) - block_size + 1, (batch_size,), generator=generator)  # (b,)
    offsets = torch.arange(block_size)  # (t,)
    return stream[starts[:, None] + offsets[None, :]]  # (b, t)


def learning_rate(step: int, *, peak: float, warmup: int, total: int, floor_ratio: float = 0.1) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then a cosine down to ``floor_ratio * peak``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)  # 0 -> 1
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))  # 1 -> 0
    return peak * (floor_ratio + (1.0 - floor_ratio) * cosine)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices and embeddings only; biases and LayerNorm gains are left alone.
    ``model.parameters()`` yields a tied weight once, so lm_head/wte is one parameter here."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def chunks(stream: torch.Tensor, block_size: int) -> list[torch.Tensor]:
    """Consecutive, non-overlapping pieces of ``block_size`` tokens (the last may be shorter)."""
    return [stream[i : i + block_size] for i in range(0, len(stream) - 1, block_size) if len(stream[i : i + block_size]) > 1]


@torch.no_grad()
def evaluate(model, stream: torch.Tensor, block_size: int, max_chunks: int | None = None) -> float:
    """Mean next-token cross-entropy (nats per token) over ``stream``, read in consecutive chunks.

    Each chunk predicts its tokens 2..t from the ones before, within the chunk. With
    ``max_chunks``, evenly spaced chunks are used (a fixed subset, the same every time).
    """
    pieces = chunks(stream, block_size)
    if max_chunks is not None and len(pieces) > max_chunks:
        pieces = [pieces[i * len(pieces) // max_chunks] for i in range(max_chunks)]
    was_training = model.training
    model.eval()
    total_loss, total_tokens = 0.0, 0
    for piece in pieces:
        out = model(piece[None], labels=piece[None], use_cache=False)  # piece: (1, t)
        predicted = len(piece) - 1
        total_loss += out.loss.item() * predicted
        total_tokens += predicted
    model.train(was_training)
    return total_loss / total_tokens


@torch.no_grad()
def continue_text(model, tokenizer, prompt: str, *, max_new_tokens: int, temperature: float = 0.0,
                  top_k: int | None = None, generator: torch.Generator | None = None) -> str:
    """A tiny generation loop for the model card: greedy when ``temperature == 0``, else top-k sampling.

    It feeds the whole sequence each step (no KV cache): slow for long texts, obvious to read.
    ``hfexplain.generation`` has the real ``generate``.
    """
    model.eval()
    ids = [tokenizer.eos_token_id] + tokenizer(prompt)["input_ids"]  # start as a document starts
    for _ in range(max_new_tokens):
        context = torch.tensor([ids[-model.config.n_positions :]])  # (1, s)
        logits = model(context, use_cache=False).logits[0, -1]  # (v,)
        if temperature == 0.0:
            next_id = int(logits.argmax())
        else:
            logits = logits / temperature
            if top_k is not None:
                kth_best = torch.topk(logits, top_k).values[-1]
                logits = logits.masked_fill(logits < kth_best, float("-inf"))
            next_id = int(torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator))
        if next_id == tokenizer.eos_token_id:
            break
        ids.append(next_id)
    return tokenizer.decode(ids[1:])


# ---------------------------------------------------------------------------------------------
# 5. The model card
# ---------------------------------------------------------------------------------------------


def write_model_card(path: str, facts: dict) -> None:
    """README.md with the numbers of this run; everything in it comes from ``facts``."""
    hp = facts["hyperparameters"]
    hp_rows = "\n".join(f"| `{key}` | {value} |" for key, value in hp.items())
    curve_rows = "\n".join(
        f"| {row['step']} | {row['train_loss']:.3f} | {row['val_loss']:.3f} | {math.exp(row['val_loss']):.1f} |"
        for row in facts["curve"]
    )
    sample_blocks = "\n\n".join(
        f"**{kind}**, prompt `{prompt!r}`:\n\n```text\n{text}\n```" for kind, prompt, text in facts["samples"]
    )
    card = f"""---
license: apache-2.0
language: en
library_name: transformers
pipeline_tag: text-generation
tags: [gpt2, hfexplain, teaching, tiny]
---

# tiny-gpt2-pydoc

A {facts['n_params'] / 1e6:.2f}M-parameter GPT-2 trained from scratch by hfexplain's own code on the
Python documentation that ships with CPython (`pydoc_data.topics`). It exists so that the
hfexplain lessons have a real, trained causal language model that installs offline with the
package: its attention patterns, logits and generations are those of a model that learned
something, not of random weights. It is a teaching object, not a useful language model.

The folder loads unchanged in hfexplain and in `transformers` (same logits, tested):

```python
from hfexplain import AutoModelForCausalLM, AutoTokenizer
from hfexplain.assets import tiny_gpt2_path

path = tiny_gpt2_path()
tok = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path)   # transformers.AutoModelForCausalLM works too
```

## Data

- **Text**: `pydoc_data.topics.topics` from CPython {facts['python_version']}: {facts['n_topics']} help topics,
  {facts['n_chars']:,} characters of English and Python, © Python Software Foundation, under the
  [PSF License Agreement](https://docs.python.org/3/license.html).
- **Cleaning**: trailing spaces and reST heading underlines removed, blank-line runs and double
  spaces between words collapsed (`clean_text` in the script). Each topic is one document; documents
  are joined with `<|endoftext|>`.
- **Split**: every {HELD_OUT_EVERY}th topic in sorted order, from the 10th, is held out for validation:
  {', '.join(f'`{n}`' for n in facts['val_topics'])} ({facts['n_val_tokens']:,} tokens). The other
  {facts['n_train_topics']} topics ({facts['n_train_tokens']:,} tokens) are for training, and the
  tokenizer was trained on them only.
- **Fingerprint**: sha256 of the cleaned training + validation text (in that order):
  `{facts['corpus_sha256']}`. Another Python version ships slightly different topics.

## Tokenizer

Byte-level BPE as GPT-2's (`ByteLevel` pre-tokenizer with GPT-2's regex, no normaliser,
`ByteLevel` decoder), {facts['vocab_size']} entries trained with `tokenizers` {facts['tokenizers_version']}.
One difference: a blank line (`"\\n\\n"`) is split off first (`Split` before `ByteLevel` in a
`pre_tokenizers.Sequence`), so it can be the single token `ĊĊ` rather than GPT-2's `Ċ` `Ċ`.
`<|endoftext|>` (id {facts['eos_id']}) is bos, eos, unk and pad. Saved by hfexplain's
`Tokenizer.save_pretrained` (`tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`).
On this text it averages {facts['chars_per_token']:.2f} characters per token.

## Model and training

GPT-2 architecture (`GPT2LMHeadModel` of `hfexplain/models/gpt2.py`, Hugging Face's parameter
names; `lm_head` tied to `wte`), **{facts['n_params']:,} parameters**, float32,
`model.safetensors` {facts['weights_mb']:.1f} MB.

Trained on CPU with {hp['threads']} thread(s), in {facts['wall_minutes']:.1f} minutes of wall-clock time
(torch {facts['torch_version']}, Python {facts['python_version']}, {facts['machine']}), with:

```bash
{facts['command']}
```

| hyper-parameter | value |
|---|---|
{hp_rows}

Loop: random windows of `block_size` tokens from the training stream (offsets drawn from a
`torch.Generator` seeded with `seed`), `labels = input_ids`, AdamW (weight decay on matrices and
embeddings only), linear warm-up then cosine decay to 10% of the peak learning rate, gradient
norm clipped at `grad_clip`. `torch.manual_seed(seed)` fixes the initialisation and the dropout masks.

**Reproducible**: running the command again (same torch version, CPU and `--threads`) gives bitwise
identical weights; the test suite checks this on a short run.

## Results

Loss is the mean next-token cross-entropy in nats per token, over consecutive non-overlapping
{hp['block_size']}-token chunks (each chunk predicts its own tokens 2..{hp['block_size']}); perplexity is exp(loss).

| | loss | perplexity |
|---|---|---|
| final train loss ({facts['train_eval_chunks']} evenly spaced training chunks) | {facts['train_loss']:.4f} | {math.exp(facts['train_loss']):.2f} |
| final validation loss (all held-out topics) | {facts['val_loss']:.4f} | {math.exp(facts['val_loss']):.2f} |
| baseline: unigram entropy (token frequencies of the training stream, add-one smoothed, scored on the held-out topics) | {facts['unigram_val_loss']:.4f} | {math.exp(facts['unigram_val_loss']):.2f} |
| baseline: uniform over the vocabulary | {math.log(facts['vocab_size']):.4f} | {facts['vocab_size']} |

During training (train loss: mean over the batches since the previous row):

| step | train loss | val loss | val perplexity |
|---|---|---|---|
{curve_rows}

## Samples

Made by the small loop `continue_text` in the training script (the whole context re-read each
step; no KV cache), at most {facts['sample_tokens']} new tokens, stopping at `<|endoftext|>`.
Greedy: the most likely next token each time. Sampled: temperature {facts['sample_temperature']}, top-k
{facts['sample_top_k']}, from a `torch.Generator` seeded with {facts['sample_seed']} (one generator for the prompts in order).

{sample_blocks}

## Intended use

Teaching: looking inside a trained transformer (attention patterns, the residual stream, logit
lens, generation strategies) on a laptop, offline, in seconds, with hfexplain's lessons and widgets.

## Limitations

- Tiny and trained on ~{facts['n_chars'] // 1000}K characters of one kind of text: it produces
  documentation-flavoured English with plausible Python words, often ungrammatical, repetitive
  under greedy decoding, and frequently wrong. Never use what it says about Python as fact.
- It knows only what is in the Python docs; other text is out of distribution. {hp['n_positions']} positions at most.
- The numbers above are for this data split; they are not comparable with models trained on other text
  or with other tokenizers (the loss is per token of *this* tokenizer).
- No safety work of any kind was done; it is not meant for any product.

## Licence

The model weights and this card: Apache-2.0, like hfexplain. The training text is © Python Software
Foundation, PSF License; it is not redistributed here, but samples quote its style.
"""
    from hfexplain import hub

    hub.write_text_atomically(path, card)  # a reader sees the old card or the new one, never half


def unigram_cross_entropy(train_stream: torch.Tensor, val_stream: torch.Tensor, vocab_size: int) -> float:
    """Cross-entropy of the validation tokens (those a model predicts) under the training stream's
    token frequencies with add-one smoothing: what a model that ignores context can reach."""
    counts = torch.bincount(train_stream, minlength=vocab_size).double() + 1.0  # (v,)
    log_probs = (counts / counts.sum()).log()  # (v,)
    targets = torch.cat([piece[1:] for piece in chunks(val_stream, 10**9)])
    return float(-log_probs[targets].mean())


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.normpath(DEFAULT_OUT), help="folder to write the model into (default: the packaged asset)")
    parser.add_argument("--steps", type=int, default=800, help="optimizer steps")
    parser.add_argument("--seed", type=int, default=0, help="seeds the initialisation, dropout and the data order")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (part of the recipe for bitwise reproducibility). 1 by default: on a "
                             "busy 2-core machine one thread ran 5x faster than two, which wait for each other")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--block-size", type=int, default=256, help="tokens per training window")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up steps (default: 5%% of --steps)")
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-positions", type=int, default=256)
    parser.add_argument("--eval-every", type=int, default=50, help="steps between validation passes (0: only at the end)")
    parser.add_argument("--train-eval-chunks", type=int, default=64, help="training chunks scored for the final train loss")
    parser.add_argument("--sample-tokens", type=int, default=40, help="new tokens per sample in the model card")
    args = parser.parse_args(argv)

    # Bad values are refused here, before anything is trained or written.
    positive = ("steps", "threads", "batch_size", "block_size", "vocab_size", "n_embd", "n_layer", "n_head",
                "n_positions", "train_eval_chunks")
    for name in positive:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}; pass a positive number.")
    if args.block_size > args.n_positions:
        parser.error(f"--block-size {args.block_size} is longer than --n-positions {args.n_positions}: the model "
                     "has no position embedding for the extra tokens; lower --block-size or raise --n-positions.")
    if args.n_embd % args.n_head:
        parser.error(f"--n-embd {args.n_embd} must be divisible by --n-head {args.n_head}; pick e.g. --n-head 4.")
    if args.vocab_size <= 257:
        parser.error(f"--vocab-size {args.vocab_size} leaves no room for merges (256 bytes + <|endoftext|> "
                     "come first); use e.g. 4096.")
    if args.warmup is None:
        args.warmup = max(1, args.steps // 20)
    if not 0 < args.warmup <= args.steps:
        parser.error(f"--warmup {args.warmup} must be between 1 and --steps ({args.steps}).")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        parser.error(f"--out {args.out!r} is a file; pass a folder path (it is created if missing).")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import tokenizers
    from tqdm.auto import tqdm

    from hfexplain import GPT2Config, GPT2LMHeadModel, hub

    started = time.time()
    torch.set_num_threads(args.threads)

    # 1. data
    topics = load_topics()
    train_names, val_names = split_topics(topics)
    train_texts = [clean_text(topics[name]) for name in train_names]
    val_texts = [clean_text(topics[name]) for name in val_names]

    # 2. tokenizer (trained on the training topics only)
    tokenizer = train_tokenizer(train_texts, args.vocab_size)
    train_stream = encode_stream(tokenizer, train_texts)  # (n_train,)
    val_stream = encode_stream(tokenizer, val_texts)  # (n_val,)
    # Set only now: whole topics are longer than the model's window, which is fine for a stream.
    tokenizer.model_max_length = args.n_positions
    print(f"data: {len(train_names)} train topics ({len(train_stream):,} tokens), "
          f"{len(val_names)} held out ({len(val_stream):,} tokens): {', '.join(val_names)}")

    # 3. model
    torch.manual_seed(args.seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=args.n_positions,
        n_embd=args.n_embd,
        n_layer=args.n_layer,
        n_head=args.n_head,
        resid_pdrop=args.dropout,
        embd_pdrop=args.dropout,
        attn_pdrop=args.dropout,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = GPT2LMHeadModel(config)
    n_params = model.num_parameters()
    print(f"model: {n_params:,} parameters")

    # 4. training
    optimizer = torch.optim.AdamW(param_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.95))
    data_order = torch.Generator().manual_seed(args.seed)
    curve, recent_losses = [], []
    model.train()
    progress = tqdm(range(args.steps), desc="training", mininterval=2.0)
    for step in progress:
        lr = learning_rate(step, peak=args.lr, warmup=args.warmup, total=args.steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = random_windows(train_stream, args.batch_size, args.block_size, data_order)  # (b, t)
        loss = model(batch, labels=batch, use_cache=False).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        recent_losses.append(loss.item())
        progress.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.2e}")
        last_step = step + 1 == args.steps
        if last_step or (args.eval_every and (step + 1) % args.eval_every == 0):
            val_loss = evaluate(model, val_stream, args.block_size)
            row = {"step": step + 1, "train_loss": sum(recent_losses) / len(recent_losses), "val_loss": val_loss}
            curve.append(row)
            recent_losses = []
            progress.write(f"step {row['step']:5d}  train loss {row['train_loss']:.3f}  "
                           f"val loss {val_loss:.3f}  val perplexity {math.exp(val_loss):.1f}")
    model.eval()
    train_loss = evaluate(model, train_stream, args.block_size, max_chunks=args.train_eval_chunks)
    val_loss = curve[-1]["val_loss"]
    train_minutes = (time.time() - started) / 60

    # 5. save, then samples and the card
    with hub.saving_folder(args.out):  # weights, configs and tokenizer files switch in one step
        model.save_pretrained(args.out)
        tokenizer.save_pretrained(args.out)

    sample_seed = args.seed
    sampler = torch.Generator().manual_seed(sample_seed)
    samples = []
    for prompt in SAMPLE_PROMPTS:
        samples.append(("Greedy", prompt, continue_text(model, tokenizer, prompt, max_new_tokens=args.sample_tokens)))
    for prompt in SAMPLE_PROMPTS:
        text = continue_text(model, tokenizer, prompt, max_new_tokens=args.sample_tokens, temperature=0.8,
                             top_k=40, generator=sampler)
        samples.append(("Sampled", prompt, text))

    hyperparameters = {
        "seed": args.seed, "steps": args.steps, "threads": args.threads, "batch_size": args.batch_size,
        "block_size": args.block_size, "lr (peak)": args.lr, "warmup": args.warmup, "min lr": f"{0.1 * args.lr:g}",
        "adam betas": "(0.9, 0.95)", "weight_decay": args.weight_decay, "grad_clip": args.grad_clip,
        "dropout (resid, embd, attn)": args.dropout, "vocab_size": len(tokenizer), "n_embd": args.n_embd,
        "n_layer": args.n_layer, "n_head": args.n_head, "n_positions": args.n_positions,
        "activation_function": config.activation_function,
    }
    n_chars = sum(map(len, train_texts)) + sum(map(len, val_texts))
    facts = {
        "command": "python scripts/train_tiny_gpt2.py " + shlex.join(sys.argv[1:] if argv is None else argv),
        "hyperparameters": hyperparameters,
        "n_params": n_params,
        "weights_mb": os.path.getsize(os.path.join(args.out, "model.safetensors")) / 1e6,
        "python_version": platform.python_version(),
        "torch_version": torch.__version__,
        "tokenizers_version": tokenizers.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "wall_minutes": train_minutes,
        "n_topics": len(topics),
        "n_train_topics": len(train_names),
        "val_topics": val_names,
        "n_chars": n_chars,
        "n_train_tokens": len(train_stream),
        "n_val_tokens": len(val_stream),
        "chars_per_token": n_chars / (len(train_stream) + len(val_stream) - len(train_texts) - len(val_texts) - 2),
        "corpus_sha256": corpus_sha256(train_texts + val_texts),
        "vocab_size": len(tokenizer),
        "eos_id": tokenizer.eos_token_id,
        "curve": curve,
        "train_loss": train_loss,
        "train_eval_chunks": min(args.train_eval_chunks, len(chunks(train_stream, args.block_size))),
        "val_loss": val_loss,
        "unigram_val_loss": unigram_cross_entropy(train_stream, val_stream, len(tokenizer)),
        "samples": samples,
        "sample_tokens": args.sample_tokens,
        "sample_temperature": 0.8,
        "sample_top_k": 40,
        "sample_seed": sample_seed,
    }
    write_model_card(os.path.join(args.out, "README.md"), facts)
    print(f"final: train loss {train_loss:.4f}, val loss {val_loss:.4f} (perplexity {math.exp(val_loss):.2f}), "
          f"unigram baseline {facts['unigram_val_loss']:.4f}; {train_minutes:.1f} min; wrote {args.out}")
    for kind, prompt, text in samples:
        print(f"[{kind}] {text!r}")
    return facts


if __name__ == "__main__":
    main()
