"""Training speed: hfexplain's Trainer vs transformers' Trainer, same model, data and arguments.

Both train a tiny BERT classifier (the same random weights, saved by transformers and
loaded by each library) on the same token ids for the same number of optimizer steps, on
one CPU thread, with AdamW, a linear schedule and gradient clipping. Reported: optimizer
steps per second for each and their ratio (ours / theirs; > 1 means ours is faster),
measured in one process, alternating runs, best of ``--repeats``.

    python benchmarks/training.py --steps 100 --repeats 3
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()

    import transformers

    from hfexplain.models.bert import BertForSequenceClassification
    from hfexplain.training import Trainer, TrainingArguments

    transformers.logging.set_verbosity_error()
    folder = tempfile.mkdtemp(prefix="bench-training-")
    config = transformers.BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=128, max_position_embeddings=64, num_labels=2,
                                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).save_pretrained(os.path.join(folder, "model"))
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 1000, (options.steps * options.batch, options.length), generator=generator)
    data = [{"input_ids": row.tolist(), "attention_mask": [1] * options.length, "labels": int(row[0] % 2)}
            for row in ids]
    common = dict(max_steps=options.steps, per_device_train_batch_size=options.batch, learning_rate=1e-4,
                  weight_decay=0.01, lr_scheduler_type="linear", logging_steps=10, save_strategy="no", seed=0,
                  disable_tqdm=True, report_to="none", dataloader_num_workers=0)

    def ours() -> float:
        model = BertForSequenceClassification.from_pretrained(os.path.join(folder, "model"))
        args = TrainingArguments(output_dir=os.path.join(folder, "ours"), **common)
        start = time.perf_counter()
        Trainer(model, args, train_dataset=data).train()
        return options.steps / (time.perf_counter() - start)

    def theirs() -> float:
        model = transformers.BertForSequenceClassification.from_pretrained(os.path.join(folder, "model"))
        args = transformers.TrainingArguments(output_dir=os.path.join(folder, "theirs"), optim="adamw_torch",
                                              use_cpu=True, **common)
        start = time.perf_counter()
        transformers.Trainer(model=model, args=args, train_dataset=data,
                             data_collator=transformers.default_data_collator).train()
        return options.steps / (time.perf_counter() - start)

    ours_runs, theirs_runs = [], []
    for _ in range(options.repeats):
        ours_runs.append(ours())
        theirs_runs.append(theirs())
    result = {
        "steps": options.steps, "batch": options.batch, "length": options.length,
        "hfexplain_steps_per_s": round(max(ours_runs), 2), "transformers_steps_per_s": round(max(theirs_runs), 2),
        "ratio_ours_over_theirs": round(max(ours_runs) / max(theirs_runs), 3),
    }
    print(json.dumps(result, indent=2))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "training.json")
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
        handle.write("\n")
    return result


if __name__ == "__main__":
    main()
