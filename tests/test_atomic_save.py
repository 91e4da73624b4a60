"""Saves that survive a kill, a full disk and a folder of symlinks: old or new, whole (issue 19).

Each kill is real: the save runs in a forked child that SIGKILLs itself right after its
k-th file-system step (mkdir, rename, link, unlink ...), for every k until the save
completes, and then a bounded number of kills at random moments. After each one the
folder must load as the old model or the new one, entirely, and the next save must leave
no temporary file behind. A full disk is a real one where a tmpfs can be mounted, a real
file-size limit (RLIMIT_FSIZE: the write fails part way, as on a full disk) otherwise, and
a simulated ENOSPC for the messages.
"""
from __future__ import annotations

import errno
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
import traceback

import pytest
import torch

from hfexplain import AutoModelForCausalLM, AutoTokenizer, hub
from hfexplain.assets import tiny_gpt2_path
from hfexplain.models.gpt2 import GPT2Config, GPT2LMHeadModel

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the kill tests fork a child process")

SHARD = "12KB"  # a tiny GPT-2 in 3 shards


def tiny(seed: int, n_embd: int = 16) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(n_embd=n_embd, n_layer=2, n_head=2, vocab_size=40, n_positions=16)
    return GPT2LMHeadModel(config).eval()


def run_in_child(action) -> int:
    """Run ``action()`` in a forked child; return its exit code, or minus the signal that ended it."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            action()
        except BaseException:  # noqa: BLE001 - reported through the exit code
            os.write(2, traceback.format_exc().encode())
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def kill_after(steps: int) -> None:
    """In the child: SIGKILL this process right after its ``steps``-th file-system change."""
    done = [0]

    def wrap(module, name):
        real = getattr(module, name)

        def step(*args, **kwargs):
            result = real(*args, **kwargs)
            done[0] += 1
            if done[0] == steps:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        setattr(module, name, step)

    for name in ("mkdir", "replace", "rename", "link", "symlink", "unlink", "remove", "rmdir"):
        wrap(os, name)
    if hasattr(hub, "_call_renameat2"):
        wrap(hub, "_call_renameat2")


def refuse_exchange(source, destination):
    """What renameat2(RENAME_EXCHANGE) answers on a file system without it: the file-by-file fallback runs."""
    raise OSError(errno.EINVAL, "Invalid argument")


def no_exchange() -> None:
    hub._rename_exchange = refuse_exchange


def state_of(folder) -> tuple[int, dict[str, torch.Tensor]]:
    """What from_pretrained would read: config.json's n_embd and the weights (one file, or the index's shards)."""
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
        n_embd = json.load(handle)["n_embd"]
    return n_embd, hub.load_state_dict(*hub.resolve_weight_files(folder))


def whole(loaded, model) -> bool:
    n_embd, state = loaded
    state = {key: value for key, value in state.items() if key != "lm_head.weight"}  # tied to wte: not saved
    expected = {key: value for key, value in model.state_dict().items() if key != "lm_head.weight"}
    return n_embd == model.config.n_embd and state.keys() == expected.keys() and all(
        torch.equal(state[key], expected[key]) for key in expected
    )


def leftovers(folder) -> list[str]:
    """Hidden entries a save left in the folder or beside it."""
    folder = str(folder)
    return [os.path.join(where, name) for where in (folder, os.path.dirname(folder))
            for name in os.listdir(where) if name.startswith(".")]


@pytest.fixture(scope="module")
def old_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("old") / "model"
    tiny(0).save_pretrained(folder, max_shard_size=SHARD)
    (folder / "README.md").write_text("a file the saves do not write: it stays\n")
    assert len([name for name in os.listdir(folder) if name.endswith(".safetensors")]) > 2
    return folder


@pytest.mark.parametrize("exchange", [True, False], ids=["one_step", "file_by_file"])
def test_killed_at_every_step_the_folder_holds_the_old_model_or_the_new_one(tmp_path, old_folder, exchange):
    old = tiny(0)
    # One step: a new config too (old config.json + new weights would load nowhere). File by file, the
    # config may switch before the weights (documented), so there only the weights change.
    new = tiny(1, n_embd=24 if exchange else 16)
    for steps in range(1, 200):
        folder = tmp_path / f"kill{steps}" / "model"
        shutil.copytree(old_folder, folder, symlinks=True)

        def save():
            if not exchange:
                no_exchange()
            kill_after(steps)
            new.save_pretrained(folder, max_shard_size=SHARD)

        ended = run_in_child(save)
        assert ended in (0, -signal.SIGKILL), f"the save failed after {steps} steps"
        loaded = state_of(folder)
        assert whole(loaded, old) or whole(loaded, new), f"killed after {steps} steps: a mix of old and new"
        assert (folder / "README.md").exists()
        if ended == 0:
            assert whole(loaded, new)
            break
        new.save_pretrained(folder, max_shard_size=SHARD)  # the next save tidies up what the killed one left
        assert leftovers(folder) == [], f"killed after {steps} steps"
    else:
        pytest.fail("the save never completed")
    assert steps > 5  # the kills really landed between the steps of a save
    model = AutoModelForCausalLM.from_pretrained(folder)  # and the real loader agrees
    assert whole((model.config.n_embd, model.state_dict()), new)


def test_killed_at_random_moments(tmp_path, old_folder):
    old, new = tiny(0), tiny(1)
    start = time.perf_counter()
    new.save_pretrained(tmp_path / "timing", max_shard_size=SHARD)
    duration = time.perf_counter() - start
    generator = random.Random(19)
    for attempt in range(5):
        folder = tmp_path / f"random{attempt}" / "model"
        shutil.copytree(old_folder, folder, symlinks=True)
        pid = os.fork()
        if pid == 0:
            try:
                new.save_pretrained(folder, max_shard_size=SHARD)
            finally:
                os._exit(0)
        time.sleep(generator.uniform(0, 1.5 * duration))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        loaded = state_of(folder)
        assert whole(loaded, old) or whole(loaded, new), f"attempt {attempt}: a mix of old and new"
        new.save_pretrained(folder, max_shard_size=SHARD)
        assert leftovers(folder) == []


def test_stale_temporaries_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    folder = tmp_path / "model"
    tiny(0).save_pretrained(folder)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    live_pid = os.getppid()
    stale_stage = tmp_path / f".hfexplain-tmp.{dead_pid}.0123456789ab.model"
    stale_stage.mkdir()
    (stale_stage / "model.safetensors").write_bytes(b"x" * 1000)
    stale_file = folder / f".hfexplain-tmp.{dead_pid}.0123456789ab.model.safetensors"
    stale_file.write_bytes(b"x" * 1000)
    reused = folder / f".hfexplain-tmp.{live_pid}.0123456789ab.config.json"  # older than the process with that pid
    reused.write_text("{}")
    os.utime(reused, (1_000_000, 1_000_000))
    in_use = folder / f".hfexplain-tmp.{live_pid}.ba9876543210.config.json"  # a live writer's: kept
    in_use.write_text("{}")
    someone_elses = folder / ".model.safetensors.abc.tmp"  # not ours: kept
    someone_elses.write_text("")

    tiny(1).save_pretrained(folder)
    assert not stale_stage.exists() and not stale_file.exists()
    if os.path.exists(f"/proc/{live_pid}/stat"):
        assert not reused.exists()
    assert in_use.exists() and someone_elses.exists()


# -- symlinks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("exchange", [True, False])
def test_saving_into_a_folder_of_symlinks_replaces_the_links_and_leaves_their_targets(tmp_path, monkeypatch,
                                                                                       exchange):
    if not exchange:
        monkeypatch.setattr(hub, "_rename_exchange", refuse_exchange, raising=False)
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_path())
    model = tiny(0)
    blobs, snapshot = tmp_path / "blobs", tmp_path / "snapshot"  # as in the Hub cache
    tokenizer.save_pretrained(blobs)
    model.save_pretrained(blobs)
    snapshot.mkdir()
    for name in os.listdir(blobs):
        os.symlink(os.path.join("..", "blobs", name), snapshot / name)
    before = {name: (blobs / name).read_bytes() for name in os.listdir(blobs)}

    tokenizer.padding_side = "left"
    tokenizer.save_pretrained(snapshot)
    tiny(1).save_pretrained(snapshot)

    assert {name: (blobs / name).read_bytes() for name in os.listdir(blobs)} == before
    assert sorted(os.listdir(snapshot)) == sorted(before)  # every file was written again ...
    assert [name for name in os.listdir(snapshot) if os.path.islink(snapshot / name)] == []  # ... as a file, not a link
    assert AutoTokenizer.from_pretrained(snapshot).padding_side == "left"
    assert AutoTokenizer.from_pretrained(blobs).padding_side == "right"
    assert whole(state_of(snapshot), tiny(1)) and whole(state_of(blobs), model)


# -- full disks ----------------------------------------------------------------------------------


def test_a_write_that_fails_part_way_leaves_the_old_tokenizer_loadable(tmp_path):
    """A real partial write: RLIMIT_FSIZE makes the kernel stop the file part way, as a full disk does."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_path())
    folder = tmp_path / "tok"
    tokenizer.save_pretrained(folder)
    before = {name: (folder / name).read_bytes() for name in os.listdir(folder)}
    limit = os.path.getsize(folder / "tokenizer.json") // 2

    def save():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then the write fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        tokenizer.padding_side = "left"
        tokenizer.save_pretrained(folder)

    assert run_in_child(save) == 1  # the save raised
    assert {name: (folder / name).read_bytes() for name in os.listdir(folder)} == before
    assert AutoTokenizer.from_pretrained(folder).padding_side == "right"
    assert leftovers(folder) == []


def test_a_full_disk_names_the_disk_and_keeps_the_old_files(tmp_path, monkeypatch):
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_path())
    folder = tmp_path / "tok"
    tokenizer.save_pretrained(folder)
    before = (folder / "tokenizer.json").read_bytes()

    def full_disk(path, data):
        with open(path, "xb") as handle:
            handle.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(hub, "_write_bytes", full_disk)
    with pytest.raises(OSError, match=r"No space left on the disk that holds .*tok.* mounted at .*writing "
                                      r"'tokenizer.json' failed, which needs about .* KB") as error:
        tokenizer.save_pretrained(folder)
    assert error.value.errno == errno.ENOSPC
    assert (folder / "tokenizer.json").read_bytes() == before
    assert leftovers(folder) == []


def _mount_tmpfs(where, size: str) -> bool:
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                            capture_output=True)
    return result.returncode == 0


def test_a_real_full_disk(tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "256k"):
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN); the simulated ENOSPC tests cover it")
    try:
        folder = disk / "model"
        old = tiny(0)
        old.save_pretrained(folder)
        free = shutil.disk_usage(disk).free
        (disk / "filler").write_bytes(b"\0" * max(free - 40_000, 0))  # room for less than one more model
        with pytest.raises(OSError, match="No space left on the disk that holds .*model") as error:
            tiny(1, n_embd=32).save_pretrained(folder)
        assert error.value.errno == errno.ENOSPC
        assert whole(state_of(folder), old)
        assert leftovers(folder) == []
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_full_disk_during_a_trainer_checkpoint_is_named(tmp_path, monkeypatch):
    from hfexplain.training import Trainer, TrainingArguments, get_last_checkpoint

    torch.manual_seed(0)
    examples = [{"input_ids": [1, 2, 3, 4], "labels": [1, 2, 3, 4]} for _ in range(8)]
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=4,
                             save_steps=1, disable_tqdm=True)
    trainer = Trainer(tiny(0), args, train_dataset=examples)
    real_save = torch.save
    saves = []

    def save_on_a_full_disk(obj, path, *rest, **kwargs):  # what torch.save raises when the disk fills up
        saves.append(path)
        if len(saves) > 4:  # checkpoint-1 whole (rng, optimizer, scheduler), then the disk is full
            with open(path, "wb") as handle:
                handle.write(b"PK\3\4")
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 2432 vs 2326")
        return real_save(obj, path, *rest, **kwargs)

    monkeypatch.setattr(torch, "save", save_on_a_full_disk)
    with pytest.raises(OSError, match=r"No space left on the disk that holds .*checkpoint-2.*writing "
                                      r"'optimizer.pt' failed, which needs about .*most likely the disk is full"):
        trainer.train()
    out = args.output_dir
    assert get_last_checkpoint(out) == os.path.join(out, "checkpoint-1")
    assert sorted(os.listdir(out)) == ["checkpoint-1"]  # no partial checkpoint-2, no tmp-checkpoint-2


def test_a_real_full_disk_during_a_trainer_checkpoint(tmp_path):
    from hfexplain.training import Trainer, TrainerCallback, TrainingArguments, get_last_checkpoint

    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "1m"):
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN); the simulated test above covers it")

    class FillTheDiskAfterTheFirstCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 1:
                free = shutil.disk_usage(disk).free
                (disk / "filler").write_bytes(b"\0" * max(free - 60_000, 0))  # less than a checkpoint

    try:
        examples = [{"input_ids": [1, 2, 3, 4], "labels": [1, 2, 3, 4]} for _ in range(8)]
        args = TrainingArguments(output_dir=str(disk / "out"), max_steps=2, per_device_train_batch_size=4,
                                 save_steps=1, disable_tqdm=True)
        trainer = Trainer(tiny(0), args, train_dataset=examples, callbacks=[FillTheDiskAfterTheFirstCheckpoint()])
        with pytest.raises(OSError, match=r"No space left on the disk that holds .*checkpoint-2' \(the file system "
                                          r"mounted at .*disk'") as error:
            trainer.train()
        assert error.value.errno == errno.ENOSPC
        assert get_last_checkpoint(args.output_dir) == os.path.join(args.output_dir, "checkpoint-1")
        assert sorted(os.listdir(args.output_dir)) == ["checkpoint-1"]
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
