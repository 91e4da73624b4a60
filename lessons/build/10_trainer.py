"""Build lessons/10_trainer.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/10_trainer.py                 # write and execute
    .venv/bin/python lessons/build/10_trainer.py --no-execute    # only write
    .venv/bin/python lessons/build/10_trainer.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "10-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("10_trainer")
md, code = lesson.md, lesson.code

md("intro", r"""
# 10 · Training: a loop by hand, then the Trainer

Every model in the earlier lessons was trained by *someone*: here we do it ourselves. We
take the tiny GPT-2 that ships with hfexplain (trained on Python's own help pages) and
continue training it on a few new documentation snippets it has never seen. It takes
seconds, and every number below is reproducible to the last bit.

**Goals**

1. Write a training loop by hand: batches in a seeded order, AdamW, a learning-rate
   schedule with warmup and linear decay, gradient clipping, evaluation.
2. Write the schedule yourself (**your turn**) and check it against
   `get_linear_schedule_with_warmup`'s numbers.
3. Run the same training through `hfexplain.training.Trainer` and get **the same losses,
   bit for bit**, because it does exactly the steps we wrote.
4. Open a checkpoint: what `checkpoint-N/` holds, and `trainer_state.json`.
5. Resume from a checkpoint and get **identical final weights** to an uninterrupted run.
6. Watch a run live with the `TrainingDashboard` callback.
""")

code("setup", r"""
import json
import os
import tempfile

os.environ["TQDM_DISABLE"] = "1"  # no progress bars in this notebook (they write to stderr)
import torch

torch.set_num_threads(1)  # tiny model: one thread is fastest and fully deterministic
torch.manual_seed(0)

from hfexplain import AutoModelForCausalLM, AutoTokenizer
from hfexplain.assets import tiny_gpt2_path
from hfexplain.training import Trainer, TrainingArguments, default_data_collator, set_seed

path = tiny_gpt2_path()
tokenizer = AutoTokenizer.from_pretrained(path)
""")

# ----------------------------------------------------------------------------------------------
md("data-intro", r"""
## 1. The data: documentation snippets the model has not seen

Eight short paragraphs in the style of the Python docs, written for this lesson. A causal
language model learns to predict each next token, so an example is just a block of token
ids, and its `labels` are the same ids (the model shifts them by one inside its loss).
We join the paragraphs with the end-of-text token and cut the stream into blocks of 32
tokens: the first six blocks train, the last two (other paragraphs) are held out.
""")

code("data", r"""
PARAGRAPHS = [
    "The sorted() function returns a new sorted list from the items in an iterable. The key argument names a function of one argument that extracts a comparison key from each element.",
    "A dictionary maps hashable keys to arbitrary values. Keys are compared by equality, so 1 and 1.0 are the same key.",
    "The with statement wraps the execution of a block with methods defined by a context manager. The __exit__() method runs even when the block raises an exception.",
    "A generator function returns an iterator. Each yield expression suspends the function and hands a value to the caller; next() resumes it.",
    "The zip() function iterates over several iterables in parallel, producing tuples with an item from each one. It stops when the shortest iterable is exhausted.",
    "A list comprehension builds a list from an expression followed by for and if clauses. It is often clearer than a loop that appends.",
    "The enumerate() function returns pairs of a count and a value from an iterable. The count starts at zero unless start is given.",
    "An f-string is a string literal prefixed with f that may contain replacement fields in braces. The expressions inside are evaluated at run time.",
]
BLOCK = 32
stream = []
for paragraph in PARAGRAPHS:
    stream += tokenizer(paragraph)["input_ids"] + [tokenizer.eos_token_id]
blocks = [stream[start:start + BLOCK] for start in range(0, len(stream) - BLOCK + 1, BLOCK)]
examples = [{"input_ids": torch.tensor(block), "labels": torch.tensor(block)} for block in blocks]
train_dataset, eval_dataset = examples[:6], examples[6:]
print(f"{len(stream)} tokens -> {len(blocks)} blocks of {BLOCK}: {len(train_dataset)} train, {len(eval_dataset)} eval")
print(repr(tokenizer.decode(blocks[0])))
""")

# ----------------------------------------------------------------------------------------------
md("untrained-loss-intro", r"""
## 2. The model, and how wrong it is before training

The loss is the mean cross-entropy of the next token, in nats. `exp(loss)` (the
*perplexity*) is how many tokens the model is, on average, hesitating between.
""")

code("eval-loss", r'''
def eval_loss(model):
    """Mean next-token loss on the held-out blocks (one batch; no gradients; dropout off)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        loader = torch.utils.data.DataLoader(eval_dataset, batch_size=8, collate_fn=default_data_collator)
        loss = model(**next(iter(loader))).loss  # the two held-out blocks, one batch
    model.train(was_training)
    return round(loss.item(), 4)


model = AutoModelForCausalLM.from_pretrained(path)
print(type(model).__name__, f"{sum(p.numel() for p in model.parameters()):,} parameters")
before = eval_loss(model)
print("eval loss before training:", before, "  perplexity:", round(float(torch.exp(torch.tensor(before))), 1))
''')

# ----------------------------------------------------------------------------------------------
md("schedule-intro", r"""
## 3. The learning-rate schedule

Adam's first updates are noisy (its running averages start at zero), and a pretrained
model is easily knocked off course, so the learning rate starts at **0**, rises linearly
for `num_warmup_steps` optimizer steps to the full rate, then **decays linearly to 0** at
the last step. PyTorch's `LambdaLR` multiplies the base rate by a function of the step
number: that function is all there is to write.

### Your turn

Complete `linear_schedule(step, num_warmup_steps, num_training_steps)` so it returns the
multiplier:

* warmup (`step < num_warmup_steps`): `step / num_warmup_steps`: 0 at step 0;
* then `(num_training_steps - step) / (num_training_steps - num_warmup_steps)`: 1 at the
  end of warmup, exactly 0 at `num_training_steps`;
* never negative after the end, and no division by zero when `num_warmup_steps=0`.

The checker compares it with the schedule of transformers' `get_linear_schedule_with_warmup`
at every step of several settings, and tells you where it first differs.
""")

code("schedule-exercise", r"""
def linear_schedule(step, num_warmup_steps, num_training_steps):
    # your code here: return the multiplier of the learning rate at this optimizer step
    ...
""")

code("schedule-check", r"""
from hfexplain.exercises.training import check_linear_schedule

check_linear_schedule(linear_schedule)
""")

md("schedule-solution", r"""
### Solution

Try it yourself first! Then compare with this one. (A common slip, `(step + 1) / warmup`,
makes the checker say *off by one*; forgetting `max(0.0, ...)` makes it say *negative
after the end*: try them.)
""")

code("schedule-solution-code", r"""
def linear_schedule(step, num_warmup_steps, num_training_steps):
    if step < num_warmup_steps:
        return step / max(1, num_warmup_steps)
    return max(0.0, (num_training_steps - step) / max(1, num_training_steps - num_warmup_steps))


print(check_linear_schedule(linear_schedule))
print([round(linear_schedule(step, 4, 24), 3) for step in range(25)])
""")

# ----------------------------------------------------------------------------------------------
md("loop-intro", r"""
## 4. The training loop, by hand

One **optimizer step**: a batch → forward (the model computes its loss from `labels`) →
`backward()` → clip the gradient norm to 1 (one bad batch cannot throw the weights far) →
`optimizer.step()` → `scheduler.step()` → `zero_grad()`.

The data order of epoch `e` is a shuffle drawn from a generator seeded with `seed + e`.
That is what `torch.utils.data.DistributedSampler` does, what the Trainer uses (with one
process) and what transformers' Trainer uses, so the order never depends on what ran
before. Dropout is random too: `set_seed` seeds it. One more draw from that generator
is easy to miss: every time a pass over a `DataLoader` begins, it takes one number from
torch's generator (a seed for its worker processes). The Trainer (like transformers')
batches through `DataLoader`s, so the hand loop does too: the dropout masks then come
out of the generator in the same order.
""")

code("loop-by-hand", r"""
STEPS, WARMUP, LR, BATCH, SEED, EVAL_EVERY = 24, 4, 1e-3, 4, 0, 6

model = AutoModelForCausalLM.from_pretrained(path)
set_seed(SEED)  # python, numpy and torch generators: dropout masks are now reproducible
# fused=True: one kernel updates every weight (the Trainer's default, optim="adamw_torch_fused", as transformers')
optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0, fused=True)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: linear_schedule(step, WARMUP, STEPS))
model.train()  # dropout on

hand_losses, hand_evals, step, epoch = [], [], 0, 0
while step < STEPS:
    order = torch.randperm(len(train_dataset), generator=torch.Generator().manual_seed(SEED + epoch)).tolist()
    batches = [order[start:start + BATCH] for start in range(0, len(order), BATCH)]
    loader = torch.utils.data.DataLoader(train_dataset, batch_sampler=batches, collate_fn=default_data_collator)
    for batch in loader:  # the first batch draws the loader's seed from torch's generator
        loss = model(**batch).loss  # input_ids, labels: (batch, 32) -> a scalar
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        step += 1
        hand_losses.append(loss.item())
        if step % EVAL_EVERY == 0:
            hand_evals.append(eval_loss(model))
        if step == STEPS:
            break
    epoch += 1

hand_weights = {name: tensor.clone() for name, tensor in model.state_dict().items()}
print("train loss per step:", [round(loss, 4) for loss in hand_losses])
print("eval loss every 6 steps:", hand_evals)
""")

md("loop-note", r"""
The training loss falls from about 5.6 to under 2: the model is memorising six blocks.
The held-out loss (6.08 before training) falls a little at first, then creeps back up
while the training loss keeps falling: over-fitting, plain to see with so little data.

## 5. The same run through the Trainer

`TrainingArguments` names every knob of the loop above (transformers' names); `Trainer`
runs it. `logging_steps=1` logs the loss of every step into `trainer.state.log_history`.
""")

code("trainer", r"""
run_dir = tempfile.mkdtemp()  # checkpoints go here (the path differs on every run: never printed)
args = TrainingArguments(
    output_dir=run_dir, max_steps=STEPS, per_device_train_batch_size=BATCH, learning_rate=LR,
    warmup_steps=WARMUP, lr_scheduler_type="linear", weight_decay=0.0, max_grad_norm=1.0, seed=SEED,
    logging_steps=1, eval_strategy="steps", eval_steps=EVAL_EVERY, save_steps=12, disable_tqdm=True,
)
model = AutoModelForCausalLM.from_pretrained(path)
trainer = Trainer(model, args, train_dataset=train_dataset, eval_dataset=eval_dataset)
_ = trainer.train()

trainer_losses = [logs["loss"] for logs in trainer.state.log_history if "loss" in logs]
trainer_evals = [round(logs["eval_loss"], 4) for logs in trainer.state.log_history if "eval_loss" in logs]
print("train loss per step:", [round(loss, 4) for loss in trainer_losses])
print("same training losses as the hand loop:", trainer_losses == hand_losses)  # exactly, not rounded
print("same eval losses:", trainer_evals == hand_evals)
same = all(torch.equal(tensor, hand_weights[name]) for name, tensor in model.state_dict().items())
print("final weights bitwise equal:", same)
""")

md("bit-for-bit-note", r"""
Bit for bit, because the Trainer does exactly our steps in the same order: `set_seed`
(when the Trainer is built), the same shuffle per epoch, one loader seed per pass over the
data and per evaluation, AdamW (it puts biases and layer norms in a group without weight
decay; with `weight_decay=0` that changes nothing), the same schedule, clipping, then
`scheduler.step()`. Change one thing on either side (the seed, the batch size,
`max_grad_norm`) and the curves part.

transformers' own `Trainer` takes the same steps in the same order: the same shuffle
(`randperm` seeded with `seed + epoch`), seeded when it is built, one loader seed per
pass. `tests/test_trainer_parity.py` runs both on a tiny Llama and a tiny BERT with
dropout and finds the logged losses and final weights within 1e-5, with and without
gradient accumulation. On *this* GPT-2, transformers 5.23 would log each loss as 31/32 of
ours: it divides GPT-2's summed loss by all 32 labels of a block, though the first is
never predicted (it applies the shift only to classes named `...ForCausalLM`). hfexplain
counts the 31 predicted tokens, so its loss is the true mean.

## 6. What a checkpoint holds

`save_steps=12` wrote a checkpoint at step 12 and at step 24. Each is a folder with
everything needed to carry on: the model (`save_pretrained`: loadable on its own), the
optimizer's state (Adam's two running averages per weight), the scheduler's step, the
random generators' states, the arguments, and `trainer_state.json`: the step, the epoch
and the log history.
""")

code("checkpoint-contents", r"""
print(sorted(os.listdir(run_dir)))
checkpoint = os.path.join(run_dir, "checkpoint-12")
for name in sorted(os.listdir(checkpoint)):
    print(f"  {name}")

with open(os.path.join(checkpoint, "trainer_state.json")) as handle:
    state = json.load(handle)
print({key: state[key] for key in ("global_step", "epoch", "max_steps", "logging_steps", "save_steps")})
print("log entries:", len(state["log_history"]), " the last two:")
for logs in state["log_history"][-2:]:
    print(" ", {key: round(value, 4) if isinstance(value, float) else value
                for key, value in logs.items() if not key.endswith(("_runtime", "_per_second"))})
optimizer_state = torch.load(os.path.join(checkpoint, "optimizer.pt"), weights_only=True)
print("Adam state of the first weight:", sorted(optimizer_state["state"][0]))
""")

# ----------------------------------------------------------------------------------------------
md("resume-intro", r"""
## 7. Resume: stop at step 12, carry on, end up in the same place

A fresh model and a fresh Trainer, told to resume from `checkpoint-12`: it loads the
weights, the optimizer and scheduler states and the random generators, skips the batches
of the current epoch it already trained on, and runs steps 13 to 24. If any piece of
state were lost (Adam's averages, the schedule's step, the dropout generator), the
weights would differ.
""")

code("resume", r"""
resumed_model = AutoModelForCausalLM.from_pretrained(path)  # starts from the pretrained weights...
resumed = Trainer(resumed_model, args, train_dataset=train_dataset, eval_dataset=eval_dataset)
_ = resumed.train(resume_from_checkpoint=checkpoint)  # ...but loads step 12's state first

print("resumed at step 12, finished at step", resumed.state.global_step)
same = all(torch.equal(tensor, model.state_dict()[name]) for name, tensor in resumed_model.state_dict().items())
print("final weights bitwise equal to the straight run:", same)
""")

# ----------------------------------------------------------------------------------------------
md("dashboard-intro", r"""
## 8. Watching a run: the TrainingDashboard

The dashboard is a Trainer **callback**: every time the Trainer logs (`on_log`), it adds
the numbers to a plotly figure that redraws in place: the training and evaluation loss
on top, the learning rate (warmup ramp, then decay) below. Show it, then train in the
next cell and watch it move.

This run is over in a few seconds, so once it ends the dashboard can play it back: press
▶ to replay it one logged step at a time (the axes stay put while the curves grow), or drag
the slider to any step. Run the training cell again and the new run starts afresh, the one
before kept as a faded line.
""")

code("dashboard", r"""
from hfexplain.widgets import TrainingDashboard

dashboard = TrainingDashboard()
dashboard
""")

code("dashboard-run", r"""
live_args = TrainingArguments(
    output_dir=tempfile.mkdtemp(), max_steps=STEPS, per_device_train_batch_size=BATCH, learning_rate=LR,
    warmup_steps=WARMUP, seed=SEED, logging_steps=1, eval_strategy="steps", eval_steps=EVAL_EVERY,
    save_strategy="no", disable_tqdm=True,
)
live = Trainer(AutoModelForCausalLM.from_pretrained(path), live_args, train_dataset=train_dataset,
               eval_dataset=eval_dataset, callbacks=[dashboard])
_ = live.train()
print(dashboard.text())  # the same numbers in words (for where widgets do not render)
""")

# ----------------------------------------------------------------------------------------------
md("summary", r"""
## Summary

* A training step is forward → `backward()` → clip → `optimizer.step()` →
  `scheduler.step()` → `zero_grad()`; the **linear schedule** warms up from 0 and decays
  to exactly 0 at the last step.
* `Trainer` + `TrainingArguments` is that loop with names for every knob; seeded the
  same way (including the one seed a `DataLoader` draws per pass), it reproduces a
  hand-written loop **bit for bit**, and transformers' `Trainer` within 1e-5.
* `checkpoint-N/` holds the model, optimizer, scheduler, random states and
  `trainer_state.json`; resuming from it gives **identical weights** to a run that never
  stopped.
* Callbacks see every event of the loop; the `TrainingDashboard` is one of them.

Next: read `hfexplain/training/trainer.py` top to bottom; it is the loop above, plus
atomic checkpoint writes and `torchrun` for several processes.
""")


if __name__ == "__main__":
    lesson.main()
