"""Scale out: 2 processes (torchrun, gloo on CPU) with batch b == 1 process with batch 2b.

DistributedDataParallel averages the two processes' gradients, and the DistributedSampler
hands process r every second index of the same seeded shuffle, so each optimizer step sees
the same 2b examples as the single process does: the weights must agree to float rounding.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

SCRIPT = os.path.join(os.path.dirname(__file__), "training_scripts", "train_tiny.py")
COMMON = ["--examples", "32", "--max_steps", "4", "--dropout", "0", "--save_steps", "4"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _check(result):
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


@pytest.mark.slow
def test_two_processes_with_batch_b_match_one_process_with_batch_2b(tmp_path):
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
                f"--master_port={_free_port()}"]
    ddp = subprocess.run([*torchrun, SCRIPT, *COMMON, "--batch_size", "4", "--output_dir", str(tmp_path / "ddp"),
                          "--final_dir", str(tmp_path / "ddp" / "final")],
                         capture_output=True, text=True, timeout=180, env=_env())
    _check(ddp)
    single = subprocess.run([sys.executable, SCRIPT, *COMMON, "--batch_size", "8", "--output_dir",
                             str(tmp_path / "one"), "--final_dir", str(tmp_path / "one" / "final")],
                            capture_output=True, text=True, timeout=120, env=_env())
    _check(single)
    small = subprocess.run([sys.executable, SCRIPT, *COMMON, "--batch_size", "4", "--output_dir",
                            str(tmp_path / "small"), "--final_dir", str(tmp_path / "small" / "final")],
                           capture_output=True, text=True, timeout=120, env=_env())
    _check(small)

    two = load_file(str(tmp_path / "ddp" / "final" / "model.safetensors"))
    one = load_file(str(tmp_path / "one" / "final" / "model.safetensors"))
    other = load_file(str(tmp_path / "small" / "final" / "model.safetensors"))
    worst = max(float((two[name] - one[name]).abs().max()) for name in one)
    assert worst < 1e-6, f"2 x batch 4 differs from 1 x batch 8 by {worst}"
    # the check has teeth: one process with batch 4 (half the data per step) ends elsewhere
    assert max(float((other[name] - one[name]).abs().max()) for name in one) > 1e-4
    # only process 0 wrote the checkpoint, and it holds one RNG state per process
    files = sorted(os.listdir(tmp_path / "ddp" / "checkpoint-4"))
    assert "rng_state_0.pth" in files and "rng_state_1.pth" in files and "model.safetensors" in files
