"""Hugging Face Accelerate drives hfexplain models and the Trainer script unchanged (issue 16, section 4).

1. The course's chapter 3.4 loop with ``accelerate.Accelerator`` (prepare the dataloader, model,
   optimizer and scheduler; ``accelerator.backward``) ends on the same weights as the plain loop.
2. ``accelerate launch`` with two processes runs tests/training_scripts/train_tiny.py as ``torchrun``
   does: both ranks train (one RNG file each in the checkpoint) and the weights are equal.

About the launch flags: accelerate 1.16's ``--cpu`` path starts ``--num_processes`` > 1 processes
only through MPI (``--mpirun_hostfile``); without it, it starts one plain process (no RANK, no
WORLD_SIZE). Its torchrun path is ``--multi_gpu``, which on a machine with no visible GPU
(``CUDA_VISIBLE_DEVICES=""`` here) gives two gloo processes on the CPU: the case torchrun covers.
Every flag is passed and HF_HOME points at an empty folder, so no ``accelerate config`` file is read.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import torch
from torch.utils.data import DataLoader

import hfexplain
from hfexplain.assets import tiny_gpt2_path

accelerate = pytest.importorskip("accelerate")

SCRIPT = os.path.join(os.path.dirname(__file__), "training_scripts", "train_tiny.py")
COMMON = ["--examples", "16", "--max_steps", "3", "--dropout", "0", "--save_steps", "3", "--batch_size", "4"]

REVIEWS = [("a great film, I loved it", 1), ("boring and far too long", 0), ("the best story this year", 1),
           ("I want my money back", 0), ("wonderful acting", 1), ("a dull, empty script", 0),
           ("funny and warm from start to end", 1), ("nothing happens", 0)]


def _course_loop(use_accelerate: bool) -> tuple[dict[str, torch.Tensor], list[float]]:
    """Chapter 3.4's training loop on a tiny BERT classifier, with or without an Accelerator."""
    tokenizer = hfexplain.AutoTokenizer.from_pretrained(tiny_gpt2_path())
    tokenizer.pad_token = tokenizer.eos_token
    dataset = [dict(tokenizer(text, truncation=True), labels=label) for text, label in REVIEWS]
    torch.manual_seed(0)
    config = hfexplain.BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=64, max_position_embeddings=32,
                                  num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                  pad_token_id=tokenizer.pad_token_id)
    model = hfexplain.BertForSequenceClassification(config)
    train_dataloader = DataLoader(dataset, shuffle=True, batch_size=4,
                                  collate_fn=hfexplain.DataCollatorWithPadding(tokenizer))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    num_epochs = 2
    num_training_steps = num_epochs * len(train_dataloader)
    lr_scheduler = hfexplain.get_scheduler("linear", optimizer=optimizer, num_warmup_steps=1,
                                           num_training_steps=num_training_steps)
    if use_accelerate:
        accelerator = accelerate.Accelerator(cpu=True)
        train_dataloader, model, optimizer, lr_scheduler = accelerator.prepare(
            train_dataloader, model, optimizer, lr_scheduler)
    losses = []
    model.train()
    for _ in range(num_epochs):
        for batch in train_dataloader:
            outputs = model(**batch)
            loss = outputs.loss
            if use_accelerate:
                accelerator.backward(loss)
            else:
                loss.backward()
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
    if use_accelerate:
        model.eval()
        with torch.no_grad():  # chapter 3.4's evaluation: gather the predictions from every process
            batch = next(iter(train_dataloader))
            predictions = accelerator.gather_for_metrics(model(**batch).logits.argmax(dim=-1))
        assert predictions.shape == (4,)
        model = accelerator.unwrap_model(model)
    return {name: value.detach().clone() for name, value in model.state_dict().items()}, losses


def test_course_accelerate_loop_gives_the_weights_of_the_plain_loop():
    from accelerate.state import AcceleratorState

    torch.manual_seed(123)  # the shuffle draws from the global generator in both runs
    plain, plain_losses = _course_loop(use_accelerate=False)
    try:
        torch.manual_seed(123)
        accelerated, accelerated_losses = _course_loop(use_accelerate=True)
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)  # leave no Accelerator behind for other tests
    assert accelerated_losses == plain_losses
    assert accelerated_losses[-1] < accelerated_losses[0]  # it learned something
    assert accelerated.keys() == plain.keys()
    for name in plain:
        assert torch.equal(accelerated[name], plain[name]), name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", CUDA_VISIBLE_DEVICES="",
               HF_HOME=str(tmp_path / "hf_home"))  # an empty HF_HOME: no accelerate config file is read
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.slow
def test_accelerate_launch_runs_the_trainer_script_as_torchrun_does(tmp_path):
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--main_process_ip", "127.0.0.1", "--main_process_port", str(_free_port())]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
                f"--master_port={_free_port()}"]
    runs = {}
    for name, launcher in [("accelerate", launch), ("torchrun", torchrun)]:  # both at once: half the wall time
        out = tmp_path / name
        runs[name] = subprocess.Popen([*launcher, SCRIPT, *COMMON, "--output_dir", str(out), "--final_dir",
                                       str(out / "final")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, env=_env(tmp_path))
    for name, process in runs.items():
        try:
            output, _ = process.communicate(timeout=150)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        assert process.returncode == 0, f"{name}:\n{output[-4000:]}"
        assert "final step 3" in output, output[-2000:]
    assert not (tmp_path / "hf_home" / "accelerate").exists()

    from safetensors.torch import load_file

    weights = {name: load_file(str(tmp_path / name / "final" / "model.safetensors")) for name in runs}
    assert weights["accelerate"].keys() == weights["torchrun"].keys()
    for key in weights["torchrun"]:
        assert torch.equal(weights["accelerate"][key], weights["torchrun"][key]), key
    # both processes trained: each wrote its RNG state into the checkpoint (written by process 0)
    files = sorted(os.listdir(tmp_path / "accelerate" / "checkpoint-3"))
    assert "rng_state_0.pth" in files and "rng_state_1.pth" in files
