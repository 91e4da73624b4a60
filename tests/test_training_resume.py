"""Exact resume across processes: train straight; train, SIGKILL mid-run, resume; same weights, bit for bit.

Each run is a separate Python process (tests/training_scripts/train_tiny.py) on one CPU
thread, with dropout on, so the model, optimizer, scheduler, data order and random
generator states must all come back exactly for the weights to match.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from hfexplain.training import get_last_checkpoint

SCRIPT = os.path.join(os.path.dirname(__file__), "training_scripts", "train_tiny.py")
ARGS = ["--max_steps", "10", "--save_steps", "2", "--batch_size", "4", "--examples", "24"]  # 6 steps per epoch


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run(*extra, timeout=120):
    result = subprocess.run([sys.executable, SCRIPT, *ARGS, *extra], capture_output=True, text=True,
                            timeout=timeout, env=_env())
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_killed_and_resumed_run_ends_with_bitwise_identical_weights(tmp_path):
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    _run("--output_dir", str(straight), "--final_dir", str(straight / "final"))

    # Start the same run slowed down, wait for a checkpoint, then kill it without warning.
    process = subprocess.Popen([sys.executable, SCRIPT, *ARGS, "--output_dir", str(interrupted), "--sleep", "0.4"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    deadline = time.time() + 90
    try:
        while get_last_checkpoint(str(interrupted)) is None:
            assert process.poll() is None, "the run ended before it could be killed: " + process.stderr.read().decode()
            assert time.time() < deadline, "no checkpoint appeared within 90 s"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    last = get_last_checkpoint(str(interrupted))
    step = int(last.rsplit("-", 1)[1])
    assert 2 <= step < 10, f"killed too late to test anything (last checkpoint {last})"

    resumed = _run("--output_dir", str(interrupted), "--final_dir", str(interrupted / "final"), "--resume")
    assert "final step 10" in resumed.stdout

    expected = load_file(str(straight / "final" / "model.safetensors"))
    got = load_file(str(interrupted / "final" / "model.safetensors"))
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), f"{name} differs after resuming from {last}"
    # ...and training did move the weights (the comparison is not between two untouched models)
    first = load_file(os.path.join(str(straight), "checkpoint-2", "model.safetensors"))
    assert any(not torch.equal(first[name], expected[name]) for name in expected)
