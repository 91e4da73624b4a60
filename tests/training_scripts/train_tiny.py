"""A small, complete training run that the subprocess tests start (straight, killed, resumed, torchrun).

A tiny BERT classifier (hidden 32, 2 layers) learns whether token 7 occurs in a random
sequence of ids. Everything is seeded, runs on one CPU thread, and the final weights are
written with ``save_model`` to ``--final_dir`` for the test to compare.

    python train_tiny.py --output_dir out --max_steps 10 --save_steps 2
    python train_tiny.py --output_dir out --max_steps 10 --save_steps 2 --resume        # latest checkpoint
    torchrun --nproc_per_node=2 train_tiny.py --output_dir out --batch_size 4 ...        # DDP on gloo
"""
from __future__ import annotations

import argparse
import os
import time

import torch

torch.set_num_threads(1)

from hfexplain.models.bert import BertConfig, BertForSequenceClassification  # noqa: E402
from hfexplain.training import Trainer, TrainerCallback, TrainingArguments  # noqa: E402


class SlowDown(TrainerCallback):
    """Sleep after each step so a test has time to kill the process mid-run."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def on_step_end(self, args, state, control, **kwargs):
        time.sleep(self.seconds)


def make_dataset(count: int, length: int = 12, vocab: int = 50) -> list[dict]:
    generator = torch.Generator().manual_seed(1234)
    ids = torch.randint(1, vocab, (count, length), generator=generator)  # (count, length)
    labels = (ids == 7).any(dim=1).long()  # (count,)
    return [{"input_ids": row.tolist(), "attention_mask": [1] * length, "label": int(label), "text": "unused"}
            for row, label in zip(ids, labels)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--final_dir", default=None)
    parser.add_argument("--max_steps", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--save_steps", type=int, default=2)
    parser.add_argument("--examples", type=int, default=24)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--resume", action="store_true")
    options = parser.parse_args()

    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, num_labels=2,
                        hidden_dropout_prob=options.dropout, attention_probs_dropout_prob=options.dropout)
    model = BertForSequenceClassification(config)
    args = TrainingArguments(
        output_dir=options.output_dir, max_steps=options.max_steps, per_device_train_batch_size=options.batch_size,
        learning_rate=1e-3, weight_decay=0.01, warmup_steps=2, lr_scheduler_type="linear", logging_steps=1,
        save_steps=options.save_steps, seed=7, disable_tqdm=True,
    )
    callbacks = [SlowDown(options.sleep)] if options.sleep else []
    trainer = Trainer(model, args, train_dataset=make_dataset(options.examples), callbacks=callbacks)
    trainer.train(resume_from_checkpoint=True if options.resume else None)
    if options.final_dir:
        trainer.save_model(options.final_dir)
    if int(os.environ.get("RANK", "0")) == 0:
        print("final step", trainer.state.global_step, "loss", trainer.state.log_history[-2].get("loss"))
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
