"""Train hfexplain's tiny translator: English number words -> French number words.

    python scripts/train_tiny_translator.py --out hfexplain/assets/tiny-marian-numbers-en-fr --seed 0

"translate English to French: two thousand and five" -> "deux mille cinq". Everything here uses
hfexplain's own pieces: its ``Tokenizer`` wraps a character-level vocabulary built with the
``tokenizers`` library, its ``MarianMTModel`` is the model, its ``generate`` decodes and its
``save_pretrained`` writes the checkpoint. The loop is the plain PyTorch one (AdamW, linear
warm-up then cosine decay, gradient clipping), so a learner can read it top to bottom:

    1. data       the numbers 0 to 9999, written out in English and in French by ``num2words``
                  (LGPL; only imported here, at training time: its output is data, its code is not
                  shipped). A seeded shuffle holds out 500 numbers as the test set and 200 more
                  for the validation curve; the model never sees either during training.
    2. tokenizer  one token per character (plus </s>, <unk>, <pad>), built from the training text.
    3. model      Marian (d_model 64, 2 + 2 layers, 4 heads, ffn 256: ~0.24M parameters).
    4. training   random batches of training pairs, in an order fixed by --seed.
    5. output     config.json, generation_config.json, model.safetensors, tokenizer files and a
                  README.md model card with the numbers of this run: exact-match accuracy on the
                  500 held-out numbers (greedy decoding) beside two trivial baselines.

The initialisation, the dropout masks and the order of the batches all come from ``--seed``, so the
same arguments on the same machine (same torch, same ``--threads``) should give the same weights;
float sums may round differently elsewhere. (A second full run has not been compared bitwise.)
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import platform
import random
import shlex
import sys
import time

import torch

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hfexplain", "assets",
                           "tiny-marian-numbers-en-fr")
PREFIX = "translate English to French: "
SPECIAL_TOKENS = ("</s>", "<unk>", "<pad>")  # ids 0, 1, 2: Marian's </s> is id 0, and the decoder starts at pad
N_NUMBERS = 10_000  # 0 .. 9999
N_TEST = 500
N_VAL = 200


# ---------------------------------------------------------------------------------------------
# 1. Data
# ---------------------------------------------------------------------------------------------


def english(n: int) -> str:
    from num2words import num2words

    return num2words(n, lang="en")


def french(n: int) -> str:
    from num2words import num2words

    return num2words(n, lang="fr")


def split_numbers(seed: int, n_numbers: int = N_NUMBERS, n_test: int = N_TEST, n_val: int = N_VAL):
    """(train, validation, test) lists of numbers: a shuffle of 0..n_numbers-1 by ``random.Random(seed)``;
    the first ``n_test`` are the test set, the next ``n_val`` the validation set. Each list is sorted."""
    numbers = list(range(n_numbers))
    random.Random(seed).shuffle(numbers)
    test = sorted(numbers[:n_test])
    val = sorted(numbers[n_test : n_test + n_val])
    train = sorted(numbers[n_test + n_val :])
    return train, val, test


def pairs(numbers: list[int]) -> list[tuple[str, str]]:
    """[(source with the task prefix, French target)] for ``numbers``."""
    return [(PREFIX + english(n), french(n)) for n in numbers]


def corpus_sha256(rows: list[tuple[str, str]]) -> str:
    """A fingerprint of the pairs, so a reader can tell whether their num2words writes the same text."""
    return hashlib.sha256("\n".join(f"{s}\t{t}" for s, t in rows).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# 2. Tokenizer: one token per character
# ---------------------------------------------------------------------------------------------


def build_tokenizer(texts: list[str], model_max_length: int):
    """A character-level tokenizer, wrapped in hfexplain's ``Tokenizer``.

    The ``tokenizers`` pipeline: no normaliser, no pre-tokenizer (the whole text is one piece), a
    BPE model with a vocabulary of single characters and *no merges*, so every character is one
    token; a post-processor that appends ``</s>`` (as Marian's tokenizer does); a ``Fuse`` decoder
    that joins the characters back without spaces. Ids: ``</s>`` 0, ``<unk>`` 1, ``<pad>`` 2, then
    the characters of ``texts`` in sorted order.
    """
    from tokenizers import Tokenizer as BackendTokenizer
    from tokenizers import decoders, models, processors

    from hfexplain import Tokenizer

    chars = sorted(set("".join(texts)))
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for ch in chars:
        vocab[ch] = len(vocab)
    backend = BackendTokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.add_special_tokens(list(SPECIAL_TOKENS))
    backend.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A $B </s>",
                                                           special_tokens=[("</s>", 0)])
    backend.decoder = decoders.Fuse()
    return Tokenizer(backend, eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                     model_max_length=model_max_length)


def encode_batch(tokenizer, rows: list[tuple[str, str]]):
    """Sources padded with <pad> (and their attention mask), targets padded with -100 (ignored by the loss)."""
    enc = tokenizer([s for s, _ in rows], padding=True, return_tensors="pt")
    targets = [tokenizer(t)["input_ids"] for _, t in rows]  # each ends with </s>
    longest = max(map(len, targets))
    labels = torch.full((len(rows), longest), -100, dtype=torch.long)  # (b, t)
    for i, ids in enumerate(targets):
        labels[i, : len(ids)] = torch.tensor(ids)
    return enc["input_ids"], enc["attention_mask"], labels


# ---------------------------------------------------------------------------------------------
# 3-4. Model, training and evaluation
# ---------------------------------------------------------------------------------------------


def learning_rate(step: int, *, peak: float, warmup: int, total: int, floor_ratio: float = 0.1) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then a cosine down to ``floor_ratio * peak``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)  # 0 -> 1
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))  # 1 -> 0
    return peak * (floor_ratio + (1.0 - floor_ratio) * cosine)


@torch.no_grad()
def translate(model, tokenizer, sources: list[str], batch_size: int = 100, max_new_tokens: int = 64) -> list[str]:
    """Greedy translations of ``sources`` (hfexplain's ``generate``, padded batches)."""
    was_training = model.training
    model.eval()
    outputs = []
    for start in range(0, len(sources), batch_size):
        enc = tokenizer(sources[start : start + batch_size], padding=True, return_tensors="pt")
        ids = model.generate(enc["input_ids"], attention_mask=enc["attention_mask"], do_sample=False,
                             num_beams=1, max_new_tokens=max_new_tokens)  # (b, t)
        outputs.extend(tokenizer.batch_decode(ids, skip_special_tokens=True))
    model.train(was_training)
    return outputs


def exact_match(predictions: list[str], references: list[str]) -> float:
    return sum(p == r for p, r in zip(predictions, references)) / len(references)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions each cost 1)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def char_error_rate(predictions: list[str], references: list[str]) -> float:
    """Total edit distance / total reference characters (0 is perfect)."""
    return sum(edit_distance(p, r) for p, r in zip(predictions, references)) / sum(map(len, references))


def baselines(train: list[int], test: list[int]) -> dict[str, list[str]]:
    """Two trivial translators of the test numbers:
    * copy: the English words unchanged (right only where both languages agree, e.g. "six");
    * nearest: the French of the numerically nearest *training* number (a lookup table that
      knows each number's value; never exact by construction, but close in characters)."""
    import bisect

    nearest = []
    for n in test:
        i = bisect.bisect_left(train, n)
        candidates = [train[j] for j in (i - 1, i) if 0 <= j < len(train)]
        nearest.append(french(min(candidates, key=lambda m: (abs(m - n), m))))
    return {"copy": [english(n) for n in test], "nearest": nearest}


# ---------------------------------------------------------------------------------------------
# 5. The model card
# ---------------------------------------------------------------------------------------------


def write_model_card(path: str, facts: dict) -> None:
    """README.md with the numbers of this run; everything in it comes from ``facts``."""
    hp_rows = "\n".join(f"| `{key}` | {value} |" for key, value in facts["hyperparameters"].items())
    curve_rows = "\n".join(
        f"| {row['step']} | {row['train_loss']:.4f} | {100 * row['val_exact']:.1f} % |" for row in facts["curve"]
    )
    example_rows = "\n".join(f"| {n} | {src[len(PREFIX):]} | {ref} | {pred} | {'yes' if pred == ref else '**no**'} |"
                             for n, src, ref, pred in facts["examples"])
    error_rows = "\n".join(f"| {n} | {src[len(PREFIX):]} | {ref} | {pred} |" for n, src, ref, pred in facts["errors"])
    if not error_rows:
        error_rows = "| - | (none) | | |"
    card = f"""---
license: apache-2.0
language: [en, fr]
library_name: transformers
pipeline_tag: translation
tags: [marian, hfexplain, teaching, tiny, numbers]
---

# tiny-marian-numbers-en-fr

A {facts['n_params'] / 1e6:.2f}M-parameter Marian translator trained from scratch by hfexplain's own
code: English number words to French number words, one character per token.

    translate English to French: two thousand and five   ->   deux mille cinq

It exists so that the hfexplain lessons have a real, trained encoder-decoder that installs
offline with the package: its cross-attention shows which source characters each output
character reads. It is a teaching object, not a translator of anything but numbers below 10,000.

The folder loads unchanged in hfexplain and in `transformers` (same logits, same greedy outputs, tested):

```python
from hfexplain import AutoModelForSeq2SeqLM, AutoTokenizer
from hfexplain.assets import tiny_translator_path

path = tiny_translator_path()
tok = AutoTokenizer.from_pretrained(path)
model = AutoModelForSeq2SeqLM.from_pretrained(path)   # transformers.AutoModelForSeq2SeqLM works too
ids = model.generate(**tok(["translate English to French: two thousand and five"], return_tensors="pt"))
tok.batch_decode(ids, skip_special_tokens=True)       # {facts['demo']!r}
```

## Data

- **Numbers**: 0 to {N_NUMBERS - 1:,}, each written out by `num2words` {facts['num2words_version']}
  (`lang="en"` for the source, `lang="fr"` for the target). `num2words` is LGPL: the training script
  imports it to generate the pairs; none of its code ships here.
- **Source**: the task prefix `{PREFIX!r}` + the English words (e.g. "one thousand, two hundred and
  thirty-four"). The prefix is also in `config.json` (`task_specific_params["translation_en_to_fr"]`),
  where a translation pipeline reads it.
- **Split**: the numbers shuffled by `random.Random({facts['seed']})`: the first {N_TEST} are the **test set**
  (held out, scored once at the end), the next {N_VAL} the validation set (the curve below), the other
  {facts['n_train']:,} the training set. Neither held-out set is seen in training; the tokenizer's
  characters come from the training text only.
- **Fingerprint**: sha256 of the training, validation and test pairs (in that order):
  `{facts['corpus_sha256']}`. Another num2words version may write some numbers differently.

## Tokenizer

One token per character: a `tokenizers` BPE model with a vocabulary of {facts['n_chars']} single characters
and no merges, `</s>` appended to every text, a `Fuse` decoder. Ids: `</s>` 0 (eos), `<unk>` 1,
`<pad>` 2 (padding and the decoder's start token, as in Marian); {facts['vocab_size']} entries in all.
Saved by hfexplain's `Tokenizer.save_pretrained` (`tokenizer.json`, `tokenizer_config.json`,
`special_tokens_map.json`).

## Model and training

Marian architecture (`MarianMTModel` of `hfexplain/models/marian.py`, Hugging Face's parameter names;
sinusoidal positions, post-norm layers, one embedding table shared by the encoder, the decoder and
the head), **{facts['n_params']:,} parameters**, float32, `model.safetensors` {facts['weights_mb']:.2f} MB.

Trained on CPU with {facts['hyperparameters']['threads']} thread(s) in **{facts['train_minutes']:.1f} minutes** of wall-clock
time for {facts['hyperparameters']['steps']} steps ({facts['total_minutes']:.1f} minutes for the whole script, with the
evaluations), on a {facts['machine']} machine that other programs were using at the same time
(torch {facts['torch_version']}, tokenizers {facts['tokenizers_version']}, Python {facts['python_version']}), with:

```bash
{facts['command']}
```

| hyper-parameter | value |
|---|---|
{hp_rows}

Loop: random batches of training pairs (drawn by a `torch.Generator` seeded with `seed`), labels =
the target ids (padding set to -100, which the loss ignores), AdamW, linear warm-up then cosine
decay to 10% of the peak learning rate, gradient norm clipped at `grad_clip`. `torch.manual_seed(seed)`
fixes the initialisation and the dropout masks.

## Results

Exact match: the greedy translation (hfexplain's `generate`, `num_beams=1`, at most 64 new tokens)
equals num2words' French exactly, character for character. Character error rate: total edit
distance / total characters of the references.

| on the {N_TEST} held-out test numbers | exact match | character error rate |
|---|---|---|
| **this model** | **{100 * facts['test_exact']:.1f} %** ({facts['test_correct']} / {N_TEST}) | {100 * facts['test_cer']:.2f} % |
| baseline: copy the English words | {100 * facts['copy_exact']:.1f} % | {100 * facts['copy_cer']:.2f} % |
| baseline: French of the numerically nearest training number | {100 * facts['nearest_exact']:.1f} % | {100 * facts['nearest_cer']:.2f} % |

On the training numbers (all of them): {100 * facts['train_exact']:.1f} % exact match.

During training (train loss: mean per-token cross-entropy over the batches since the previous row;
validation: exact match on the {N_VAL} validation numbers):

| step | train loss | validation exact match |
|---|---|---|
{curve_rows}

Some test numbers:

| number | English | French (num2words) | this model | exact |
|---|---|---|---|---|
{example_rows}

Every test number the model gets wrong:

| number | English | French (num2words) | this model |
|---|---|---|---|
{error_rows}

## Intended use

Teaching: looking inside a trained encoder-decoder (cross-attention, the decoding loop, the
cache, generation strategies) on a laptop, offline, in seconds, with hfexplain's lessons and widgets.

## Limitations

- It knows numbers from 0 to 9,999 in num2words' spelling, nothing else. Other text, other
  spellings ("two thousand five") or larger numbers are out of distribution and come out wrong.
- The score is for this split of this range; it says nothing about translation in general.
- No safety work of any kind was done; it is not meant for any product.

## Licence

The model weights and this card: Apache-2.0, like hfexplain. The training pairs were written by
`num2words` (LGPL-2.1) at training time; its code is neither included nor needed to use the model.
"""
    from hfexplain import hub

    hub.write_text_atomically(path, card)  # a reader sees the old card or the new one, never half


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2, help="encoder layers = decoder layers")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ffn", type=int, default=256)
    parser.add_argument("--eval-every", type=int, default=250)
    args = parser.parse_args(argv)
    for name in ("steps", "threads", "batch_size", "warmup", "d_model", "layers", "heads", "ffn"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.d_model % args.heads:
        parser.error(f"--d-model ({args.d_model}) must be divisible by --heads ({args.heads})")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import num2words
    import tokenizers

    from hfexplain import MarianConfig, MarianMTModel, hub

    started = time.time()
    torch.set_num_threads(args.threads)

    # 1. data
    train_numbers, val_numbers, test_numbers = split_numbers(args.seed)
    train_rows, val_rows, test_rows = pairs(train_numbers), pairs(val_numbers), pairs(test_numbers)
    print(f"data: {len(train_rows)} train, {len(val_rows)} validation, {len(test_rows)} test pairs; "
          f"e.g. {train_rows[5]!r}")

    # 2. tokenizer (from the training text only)
    max_positions = 128
    tokenizer = build_tokenizer([s + t for s, t in train_rows], model_max_length=max_positions)
    n_chars = len(tokenizer) - len(SPECIAL_TOKENS)

    # 3. model
    torch.manual_seed(args.seed)
    config = MarianConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=max_positions,
        d_model=args.d_model,
        encoder_layers=args.layers,
        decoder_layers=args.layers,
        encoder_attention_heads=args.heads,
        decoder_attention_heads=args.heads,
        encoder_ffn_dim=args.ffn,
        decoder_ffn_dim=args.ffn,
        dropout=args.dropout,
        scale_embedding=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
        task_specific_params={"translation_en_to_fr": {"prefix": PREFIX}},
    )
    model = MarianMTModel(config)
    n_params = model.num_parameters()
    print(f"model: {n_params:,} parameters, vocabulary {len(tokenizer)}")

    # 4. training
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98))
    data_order = torch.Generator().manual_seed(args.seed)
    val_sources, val_refs = [s for s, _ in val_rows], [t for _, t in val_rows]
    curve, recent = [], []
    model.train()
    train_started = time.time()
    eval_seconds = 0.0
    for step in range(args.steps):
        lr = learning_rate(step, peak=args.lr, warmup=args.warmup, total=args.steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        picks = torch.randint(0, len(train_rows), (args.batch_size,), generator=data_order).tolist()
        input_ids, attention_mask, labels = encode_batch(tokenizer, [train_rows[i] for i in picks])
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        recent.append(loss.item())
        if step + 1 == args.steps or (step + 1) % args.eval_every == 0:
            eval_started = time.time()
            val_exact = exact_match(translate(model, tokenizer, val_sources), val_refs)
            eval_seconds += time.time() - eval_started
            curve.append({"step": step + 1, "train_loss": sum(recent) / len(recent), "val_exact": val_exact})
            recent = []
            print(f"step {step + 1:5d}  lr {lr:.2e}  train loss {curve[-1]['train_loss']:.4f}  "
                  f"val exact {100 * val_exact:.1f} %  ({(time.time() - train_started) / 60:.1f} min)", flush=True)
    train_minutes = (time.time() - train_started - eval_seconds) / 60
    model.eval()

    # scores
    test_sources, test_refs = [s for s, _ in test_rows], [t for _, t in test_rows]
    test_preds = translate(model, tokenizer, test_sources)
    train_preds = translate(model, tokenizer, [s for s, _ in train_rows])
    base = baselines(train_numbers, test_numbers)

    # 5. save and the card
    model.generation_config.max_length = max_positions
    with hub.saving_folder(args.out):  # weights, configs and tokenizer files switch in one step
        model.save_pretrained(args.out)
        tokenizer.save_pretrained(args.out)
    demo = translate(model, tokenizer, [PREFIX + "two thousand and five"])[0]

    hyperparameters = {
        "seed": args.seed, "steps": args.steps, "threads": args.threads, "batch_size": args.batch_size,
        "lr (peak)": args.lr, "warmup": args.warmup, "min lr": f"{0.1 * args.lr:g}", "adam betas": "(0.9, 0.98)",
        "weight_decay": args.weight_decay, "grad_clip": args.grad_clip, "dropout": args.dropout,
        "d_model": args.d_model, "encoder_layers = decoder_layers": args.layers, "attention heads": args.heads,
        "ffn_dim": args.ffn, "max_position_embeddings": max_positions, "activation_function": config.activation_function,
        "scale_embedding": True,
    }
    examples = [(n, s, r, p) for n, s, r, p in zip(test_numbers, test_sources, test_refs, test_preds)]
    facts = {
        "command": "python scripts/train_tiny_translator.py " + shlex.join(sys.argv[1:] if argv is None else argv),
        "hyperparameters": hyperparameters,
        "seed": args.seed,
        "n_params": n_params,
        "weights_mb": os.path.getsize(os.path.join(args.out, "model.safetensors")) / 1e6,
        "python_version": platform.python_version(),
        "torch_version": torch.__version__,
        "tokenizers_version": tokenizers.__version__,
        "num2words_version": getattr(num2words, "__version__", None) or _dist_version("num2words"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "train_minutes": train_minutes,
        "total_minutes": (time.time() - started) / 60,
        "n_train": len(train_rows),
        "n_chars": n_chars,
        "vocab_size": len(tokenizer),
        "corpus_sha256": corpus_sha256(train_rows + val_rows + test_rows),
        "curve": curve,
        "test_exact": exact_match(test_preds, test_refs),
        "test_correct": sum(p == r for p, r in zip(test_preds, test_refs)),
        "test_cer": char_error_rate(test_preds, test_refs),
        "train_exact": exact_match(train_preds, [t for _, t in train_rows]),
        "copy_exact": exact_match(base["copy"], test_refs),
        "copy_cer": char_error_rate(base["copy"], test_refs),
        "nearest_exact": exact_match(base["nearest"], test_refs),
        "nearest_cer": char_error_rate(base["nearest"], test_refs),
        "examples": examples[:: max(1, len(examples) // 10)][:10],
        "errors": [row for row in examples if row[2] != row[3]],
        "demo": demo,
    }
    write_model_card(os.path.join(args.out, "README.md"), facts)
    print(f"final: test exact match {100 * facts['test_exact']:.1f} % ({facts['test_correct']}/{N_TEST}), "
          f"CER {100 * facts['test_cer']:.2f} %; copy {100 * facts['copy_exact']:.1f} %, "
          f"nearest {100 * facts['nearest_exact']:.1f} %; train exact {100 * facts['train_exact']:.1f} %; "
          f"training {train_minutes:.1f} min, whole script {facts['total_minutes']:.1f} min; wrote {args.out}")
    return facts


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
