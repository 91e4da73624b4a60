"""hfexplain.hub: finding files (local folders, a hand-laid Hub cache, offline mode) and
reading/writing safetensors checkpoints, checked against huggingface_hub and transformers.

No test touches the network: an autouse fixture switches huggingface_hub to offline mode
and points its default cache at a temporary folder; one subprocess test sets
HF_HUB_OFFLINE=1 for real, before huggingface_hub is imported.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import torch
from huggingface_hub import constants as hub_constants
from safetensors import safe_open

from hfexplain import hub
from hubcache import folder_files, make_hub_cache

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """HF_HUB_OFFLINE=1 for this process. huggingface_hub reads the variable once, at import,
    into ``constants.HF_HUB_OFFLINE`` (which ``is_offline_mode()`` returns), so patch that too;
    likewise ``constants.HF_HUB_CACHE``, the default cache folder."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "default-hub-cache"))


def tensors(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "embed.weight": torch.randn(20, 8, generator=generator),
        "layers.0.weight": torch.randn(8, 8, generator=generator),
        "layers.0.bias": torch.randn(8, generator=generator),
        "layers.1.weight": torch.randn(8, 8, generator=generator).to(torch.float16),
        "position_ids": torch.arange(12),
    }


def assert_same(actual: dict, expected: dict):
    assert sorted(actual) == sorted(expected)
    for key in expected:
        assert actual[key].dtype == expected[key].dtype, key
        assert torch.equal(actual[key], expected[key]), key


def folder_state(folder) -> dict[str, bytes]:
    """Every file in a folder with its bytes, to check that a failed save changed nothing."""
    return {name: open(os.path.join(folder, name), "rb").read() for name in sorted(os.listdir(folder))}


# --------------------------------------------------------------------------- cached_file


def test_cached_file_from_a_local_folder(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "tokenizer.json").write_text("{}")

    assert hub.cached_file(tmp_path, "config.json") == str(tmp_path / "config.json")
    assert hub.cached_file(str(tmp_path), "tokenizer.json", subfolder="sub") == str(tmp_path / "sub" / "tokenizer.json")
    assert hub.cached_file(tmp_path, "generation_config.json", required=False) is None
    with pytest.raises(OSError, match=r"is a folder but has no file 'generation_config.json'.*save_pretrained"):
        hub.cached_file(tmp_path, "generation_config.json")


def test_cached_file_missing_folder_or_a_file_path(tmp_path):
    with pytest.raises(OSError, match="neither an existing local folder nor a valid Hub repo id"):
        hub.cached_file(str(tmp_path / "no" / "such" / "folder"), "config.json")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(OSError, match="is a file; pass the folder that contains it"):
        hub.cached_file(tmp_path / "config.json", "config.json")


def test_cached_file_resolves_a_hand_laid_cache_by_repo_id_and_revision(tmp_path):
    cache = tmp_path / "cache"
    main = make_hub_cache(cache, "org/tiny", {"config.json": b'{"v": "main"}', "sub/vocab.txt": b"a\nb\n"})
    v1 = make_hub_cache(cache, "org/tiny", {"config.json": b'{"v": "v1"}'}, revision_name="v1")
    assert main != v1

    def read(**kwargs):
        with open(hub.cached_file("org/tiny", "config.json", cache_dir=cache, **kwargs)) as handle:
            return json.load(handle)["v"]

    assert read() == "main"
    assert read(revision="main") == "main"
    assert read(revision="v1") == "v1"
    assert read(revision=v1) == "v1"  # a commit id works too
    assert read(local_files_only=True) == "main"
    vocab = hub.cached_file("org/tiny", "vocab.txt", subfolder="sub", cache_dir=cache)
    assert open(vocab).read() == "a\nb\n"
    assert f"snapshots/{main}/sub/vocab.txt" in vocab.replace(os.sep, "/")


def test_cached_file_uses_the_default_cache(tmp_path):
    make_hub_cache(hub_constants.HF_HUB_CACHE, "solo", {"config.json": b"{}"})  # a repo id without an org
    path = hub.cached_file("solo", "config.json")
    assert path.startswith(hub_constants.HF_HUB_CACHE) and open(path).read() == "{}"


def test_cached_file_offline_with_nothing_cached(tmp_path):
    cache = tmp_path / "cache"
    make_hub_cache(cache, "org/tiny", {"config.json": b"{}"})
    for required in (True, False):  # an optional file of a repo that was never downloaded is still an error
        with pytest.raises(OSError, match=r"'org/unknown' is not in the cache.*HF_HUB_OFFLINE=1 is set.*download"):
            hub.cached_file("org/unknown", "config.json", cache_dir=cache, required=required)


def test_cached_file_offline_revision_not_cached(tmp_path):
    cache = tmp_path / "cache"
    make_hub_cache(cache, "org/tiny", {"config.json": b"{}"})
    make_hub_cache(cache, "org/tiny", {"config.json": b"[]"}, revision_name="v1")
    with pytest.raises(OSError, match=r"revision 'v2' of 'org/tiny' is not in the cache.*\['main', 'v1'\]"):
        hub.cached_file("org/tiny", "config.json", cache_dir=cache, revision="v2")
    with pytest.raises(OSError, match=r"revision '0{40}' of 'org/tiny' is not in the cache"):
        hub.cached_file("org/tiny", "config.json", cache_dir=cache, revision="0" * 40, required=False)


def test_cached_file_optional_file_missing_from_a_cached_repo(tmp_path):
    cache = tmp_path / "cache"
    make_hub_cache(cache, "org/tiny", {"config.json": b"{}"})
    assert hub.cached_file("org/tiny", "generation_config.json", cache_dir=cache, required=False) is None
    with pytest.raises(OSError, match=r"cached copy of 'org/tiny' \(revision 'main'\) has no file 'generation_config.json'"):
        hub.cached_file("org/tiny", "generation_config.json", cache_dir=cache)


def test_cached_file_local_files_only_is_named_in_the_error(tmp_path, monkeypatch):
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)  # local_files_only=True keeps it off the network
    with pytest.raises(OSError, match="local_files_only=True was passed"):
        hub.cached_file("org/unknown", "config.json", cache_dir=tmp_path, local_files_only=True)


def test_real_hf_hub_offline_in_a_fresh_process(tmp_path):
    """HF_HUB_OFFLINE=1 and HF_HUB_CACHE set before huggingface_hub is imported, as a user would."""
    expected = tensors()
    hub.save_state_dict(expected, tmp_path / "saved", max_shard_size="500B")
    make_hub_cache(tmp_path / "cache", "org/tiny", {**folder_files(tmp_path / "saved"), "config.json": b"{}"})
    script = r"""
import json
from huggingface_hub import constants
from hfexplain import hub
assert constants.HF_HUB_OFFLINE, "HF_HUB_OFFLINE=1 was not picked up"
files, fmt = hub.resolve_weight_files("org/tiny")
state = hub.load_state_dict(files, fmt)
errors = []
for repo, revision in [("org/absent", None), ("org/tiny", "v9")]:
    try:
        hub.cached_file(repo, "config.json", revision=revision)
    except OSError as err:
        errors.append(str(err))
print(json.dumps({"fmt": fmt, "files": len(files), "errors": errors,
                  "state": {k: [str(v.dtype), v.tolist()] for k, v in state.items()}}))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "cache"), "PYTHONPATH": REPO_ROOT}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["fmt"] == "safetensors" and report["files"] > 1
    assert sorted(report["state"]) == sorted(expected)
    for key, tensor in expected.items():
        dtype, values = report["state"][key]
        assert dtype == str(tensor.dtype) and values == tensor.tolist(), key
    assert "'org/absent' is not in the cache" in report["errors"][0] and "HF_HUB_OFFLINE=1" in report["errors"][0]
    assert "revision 'v9' of 'org/tiny' is not in the cache" in report["errors"][1]


# --------------------------------------------------------------------------- hubcache itself


def test_hand_laid_cache_is_what_huggingface_hub_reads(tmp_path):
    from huggingface_hub import scan_cache_dir, snapshot_download

    cache = tmp_path / "cache"
    main = make_hub_cache(cache, "org/tiny", {"config.json": b"{}", "sub/a.txt": b"a"})
    v1 = make_hub_cache(cache, "org/tiny", {"config.json": b"[]"}, revision_name="v1")
    with open(cache / "models--org--tiny" / "refs" / "main", "rb") as handle:
        assert handle.read() == main.encode()  # no trailing newline
    assert os.path.islink(cache / "models--org--tiny" / "snapshots" / main / "sub" / "a.txt")

    report = scan_cache_dir(cache)
    assert report.warnings == []
    (repo,) = report.repos
    assert repo.repo_id == "org/tiny" and repo.repo_type == "model"
    assert {rev.commit_hash: set(rev.refs) for rev in repo.revisions} == {main: {"main"}, v1: {"v1"}}
    snapshot = snapshot_download("org/tiny", cache_dir=cache)
    assert sorted(os.listdir(snapshot)) == ["config.json", "sub"]


# --------------------------------------------------------------------------- resolve_weight_files


def test_no_weights_lists_the_names_looked_for(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    names = "model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json"
    with pytest.raises(OSError, match=re.escape(names)):
        hub.resolve_weight_files(tmp_path)
    make_hub_cache(tmp_path / "cache", "org/config-only", {"config.json": b"{}"})
    with pytest.raises(OSError, match=r"'org/config-only' has no model weights: looked for model.safetensors"):
        hub.resolve_weight_files("org/config-only", cache_dir=tmp_path / "cache")


def test_single_file_is_preferred_and_subfolder_works(tmp_path):
    hub.save_state_dict(tensors(), tmp_path / "sub")
    torch.save(tensors(1), tmp_path / "sub" / "pytorch_model.bin")
    files, fmt = hub.resolve_weight_files(tmp_path, subfolder="sub")
    assert (files, fmt) == ([str(tmp_path / "sub" / "model.safetensors")], "safetensors")


def test_pickle_refused_without_allow_pickle_then_loaded_with_it(tmp_path):
    expected = tensors()
    torch.save(expected, tmp_path / "pytorch_model.bin")
    with pytest.raises(OSError, match=r"pytorch_model\.bin.*arbitrary code execution.*allow_pickle=True.*safetensors"):
        hub.resolve_weight_files(tmp_path)
    with pytest.raises(OSError, match="use_safetensors=True"):
        hub.resolve_weight_files(tmp_path, use_safetensors=True, allow_pickle=True)

    files, fmt = hub.resolve_weight_files(tmp_path, allow_pickle=True)
    assert (files, fmt) == ([str(tmp_path / "pytorch_model.bin")], "pickle")
    assert_same(hub.load_state_dict(files, fmt), expected)


def test_use_safetensors_false_takes_the_pickle(tmp_path):
    hub.save_state_dict(tensors(), tmp_path)
    torch.save(tensors(1), tmp_path / "pytorch_model.bin")
    with pytest.raises(OSError, match="allow_pickle=True"):
        hub.resolve_weight_files(tmp_path, use_safetensors=False)
    files, fmt = hub.resolve_weight_files(tmp_path, use_safetensors=False, allow_pickle=True)
    assert fmt == "pickle"
    assert_same(hub.load_state_dict(files, fmt), tensors(1))


def test_sharded_pickle_with_its_index(tmp_path):
    expected = tensors()
    keys = list(expected)
    shards = {"pytorch_model-00001-of-00002.bin": keys[:2], "pytorch_model-00002-of-00002.bin": keys[2:]}
    for name, shard_keys in shards.items():
        torch.save({key: expected[key] for key in shard_keys}, tmp_path / name)
    weight_map = {key: name for name, shard_keys in shards.items() for key in shard_keys}
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))

    with pytest.raises(OSError, match=r"pytorch_model\.bin\.index\.json.*allow_pickle=True"):
        hub.resolve_weight_files(tmp_path)
    files, fmt = hub.resolve_weight_files(tmp_path, allow_pickle=True)
    assert [os.path.basename(f) for f in files] == sorted(shards) and fmt == "pickle"
    assert_same(hub.load_state_dict(files, fmt), expected)


def test_pickle_is_read_with_weights_only(tmp_path):
    marker = tmp_path / "code-ran"

    class Payload:  # unpickling this would call open(marker, "w") if arbitrary code were allowed
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"weight": torch.ones(2), "payload": Payload()}, tmp_path / "pytorch_model.bin")
    files, fmt = hub.resolve_weight_files(tmp_path, allow_pickle=True)
    with pytest.raises(OSError, match=r"pytorch_model\.bin.*objects other than tensors.*weights_only=True"):
        hub.load_state_dict(files, fmt)
    assert not marker.exists()


def test_missing_shard_is_named(tmp_path):
    files = hub.save_state_dict(tensors(), tmp_path, max_shard_size="500B")
    missing = os.path.basename(files[1])  # model-00002-of-0000N.safetensors
    os.remove(files[1])
    with pytest.raises(OSError, match=rf"lists the shard '{re.escape(missing)}'.*incomplete"):
        hub.resolve_weight_files(tmp_path)

    cache = tmp_path / "cache"
    make_hub_cache(cache, "org/partial", folder_files(tmp_path))  # the same hole in a cached repo
    with pytest.raises(OSError, match=rf"'org/partial'.*lists the shard '{re.escape(missing)}'"):
        hub.resolve_weight_files("org/partial", cache_dir=cache)


@pytest.mark.parametrize(
    "index, message",
    [
        ("not json", "is not valid JSON"),
        ('{"metadata": {}}', "has no 'weight_map'"),
        ('{"weight_map": {"a": "../model.safetensors"}}', "not a plain file name"),
    ],
)
def test_broken_index(tmp_path, index, message):
    (tmp_path / "model.safetensors.index.json").write_text(index)
    with pytest.raises(OSError, match=message):
        hub.resolve_weight_files(tmp_path)


# --------------------------------------------------------------------------- load_state_dict


def test_corrupted_header_and_truncated_file_name_the_file(tmp_path):
    (path,) = hub.save_state_dict(tensors(), tmp_path / "good")
    data = open(path, "rb").read()
    corrupted = {
        "bad-header.safetensors": data[:8] + b"!" * 16 + data[24:],
        "truncated.safetensors": data[: len(data) - 10],
        "too-short.safetensors": data[:5],
    }
    for name, content in corrupted.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(OSError, match=re.escape(str(tmp_path / name)) + r".*corrupted or truncated.*download it again"):
            hub.load_state_dict([tmp_path / name], "safetensors")


def test_duplicate_keys_across_shards(tmp_path):
    first = hub.save_state_dict({"a": torch.ones(2), "b": torch.zeros(2)}, tmp_path / "one")
    second = hub.save_state_dict({"b": torch.ones(2)}, tmp_path / "two")
    with pytest.raises(OSError, match=r"'b' is in both .*one.*two.*inconsistent"):
        hub.load_state_dict(first + second, "safetensors")


def test_dtype_casts_floating_tensors_only(tmp_path):
    files = hub.save_state_dict(tensors(), tmp_path)
    for dtype in (torch.bfloat16, "bfloat16", "torch.bfloat16"):
        state = hub.load_state_dict(files, "safetensors", dtype=dtype)
        assert state["embed.weight"].dtype == torch.bfloat16 and state["layers.1.weight"].dtype == torch.bfloat16
        assert state["position_ids"].dtype == torch.int64
        assert torch.equal(state["embed.weight"], tensors()["embed.weight"].to(torch.bfloat16))
    with pytest.raises(ValueError, match="floating-point"):
        hub.load_state_dict(files, "safetensors", dtype=torch.int32)
    with pytest.raises(ValueError, match="not a torch dtype name"):
        hub.load_state_dict(files, "safetensors", dtype="float99")
    with pytest.raises(ValueError, match="'safetensors' or 'pickle'"):
        hub.load_state_dict(files, "pt")


# --------------------------------------------------------------------------- save_state_dict


def test_single_file_round_trip_and_metadata(tmp_path):
    expected = tensors()
    files = hub.save_state_dict(expected, tmp_path / "new", metadata={"source": "test"})
    assert files == [str(tmp_path / "new" / "model.safetensors")]
    assert os.listdir(tmp_path / "new") == ["model.safetensors"]
    with safe_open(files[0], framework="pt") as handle:
        assert handle.metadata() == {"format": "pt", "source": "test"}
    assert_same(hub.load_state_dict(*hub.resolve_weight_files(tmp_path / "new")), expected)


def test_sharded_round_trip_and_index(tmp_path):
    expected = {f"layer.{i}.weight": torch.randn(10, 10) for i in range(6)}  # 400 bytes each
    expected["small"] = torch.ones(3, dtype=torch.int32)
    files = hub.save_state_dict(expected, tmp_path, max_shard_size="1KB")  # 2 big tensors per 1000-byte shard

    shards = [os.path.basename(f) for f in files[:-1]]
    assert shards == [f"model-{i:05d}-of-00003.safetensors" for i in (1, 2, 3)]
    assert os.path.basename(files[-1]) == "model.safetensors.index.json"
    index = json.loads(open(files[-1]).read())
    assert index["metadata"] == {"total_size": 6 * 400 + 3 * 4}
    assert sorted(index["weight_map"]) == sorted(expected) and set(index["weight_map"].values()) == set(shards)
    for shard in shards:
        assert os.path.getsize(tmp_path / shard) < 1000 + 500  # header included
    resolved, fmt = hub.resolve_weight_files(tmp_path)
    assert [os.path.basename(f) for f in resolved] == shards
    assert_same(hub.load_state_dict(resolved, fmt), expected)


def test_views_and_non_contiguous_tensors_are_saved_compactly(tmp_path):
    big = torch.randn(100, 100)
    expected = {"transposed": torch.randn(4, 6).t(), "slice": big[:2], "expanded": torch.ones(1, 3).expand(4, 3)}
    files = hub.save_state_dict(expected, tmp_path / "single")
    assert os.path.getsize(files[0]) < 2000  # the slice did not drag the whole 40 KB tensor along
    assert_same(hub.load_state_dict(files, "safetensors"), {key: value.contiguous() for key, value in expected.items()})

    files = hub.save_state_dict(expected, tmp_path / "sharded", max_shard_size="100B")
    index = json.loads(open(files[-1]).read())
    assert index["metadata"]["total_size"] == (4 * 6 + 2 * 100 + 4 * 3) * 4  # counted by the views' own bytes
    state = hub.load_state_dict(files[:-1], "safetensors")
    assert_same(state, {key: value.contiguous() for key, value in expected.items()})


@pytest.mark.parametrize(
    "size, expected",
    [(1234, 1234), ("10KB", 10_000), ("200MB", 200_000_000), ("5GB", 5 * 10**9), ("2GiB", 2 * 2**30),
     ("1.5mb", 1_500_000), (" 7 KiB ", 7 * 1024), ("500B", 500)],
)
def test_parse_size(size, expected):
    assert hub.parse_size(size) == expected


@pytest.mark.parametrize("size", ["", "abc", "5", "iB", "5 GBs", "5XB", "-1KB", "0KB", 0, -5])
def test_parse_size_rejects_bad_values(size):
    with pytest.raises(ValueError, match="size"):
        hub.parse_size(size)


def test_bad_max_shard_size_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="like '200MB'"):
        hub.save_state_dict(tensors(), tmp_path / "out", max_shard_size="lots")
    assert not (tmp_path / "out").exists()


def test_save_into_a_file_path(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match="is a file; save_state_dict needs a folder"):
        hub.save_state_dict(tensors(), tmp_path / "file")


def test_stale_weights_from_an_earlier_save_are_removed(tmp_path):
    sizes = {key: value.numel() * value.element_size() for key, value in tensors().items()}
    hub.save_state_dict(tensors(), tmp_path, max_shard_size="300B")
    (tmp_path / "config.json").write_text("{}")  # not a weight file: stays
    first = sorted(os.listdir(tmp_path))
    assert len(first) > 3 and "model.safetensors.index.json" in first

    hub.save_state_dict(tensors(1), tmp_path, max_shard_size=max(sizes.values()) + sum(sorted(sizes.values())[:1]))
    second = sorted(os.listdir(tmp_path))
    assert len(second) < len(first)
    assert all(re.fullmatch(r"model-\d{5}-of-(\d{5})\.safetensors", name).group(1) == f"{len(second) - 2:05d}"
               for name in second if name.startswith("model-"))

    hub.save_state_dict(tensors(2), tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]
    assert_same(hub.load_state_dict(*hub.resolve_weight_files(tmp_path)), tensors(2))

    hub.save_state_dict(tensors(3), tmp_path, max_shard_size="300B")
    assert "model.safetensors" not in os.listdir(tmp_path)
    assert_same(hub.load_state_dict(*hub.resolve_weight_files(tmp_path)), tensors(3))


@pytest.mark.parametrize(
    "bad, error, message",
    [
        ({"extra": 3}, TypeError, r"state_dict\['extra'\] is a int, not a torch.Tensor"),
        ({"extra": "x"}, TypeError, "not a torch.Tensor"),
        ({1: torch.ones(1)}, TypeError, "keys are parameter names"),
        ({"meta": torch.empty(2, device="meta")}, ValueError, "'meta' device"),
    ],
)
def test_bad_values_leave_the_folder_as_it_was(tmp_path, bad, error, message):
    hub.save_state_dict(tensors(), tmp_path, max_shard_size="300B")
    before = folder_state(tmp_path)
    with pytest.raises(error, match=message):
        hub.save_state_dict({**tensors(1), **bad}, tmp_path)
    assert folder_state(tmp_path) == before


def test_shared_memory_is_refused_and_the_folder_left_as_it_was(tmp_path):
    hub.save_state_dict(tensors(), tmp_path)
    before = folder_state(tmp_path)
    weight = torch.randn(5, 4)
    with pytest.raises(ValueError, match=r"'embed\.weight'\] and state_dict\['lm_head\.weight'\] share memory.*drop the tied"):
        hub.save_state_dict({"embed.weight": weight, "lm_head.weight": weight}, tmp_path)
    fused = torch.randn(6, 4)
    with pytest.raises(ValueError, match="share memory"):
        hub.save_state_dict({"q": fused[:3], "k": fused[3:]}, tmp_path)
    assert folder_state(tmp_path) == before


def test_failure_while_writing_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    hub.save_state_dict(tensors(), tmp_path)  # an earlier, single-file save
    before = folder_state(tmp_path)
    real_save = hub.save_safetensors_file
    calls = []

    def failing_save(shard, filename, metadata=None):
        calls.append(filename)
        if len(calls) == 3:  # two shards written, then the disk "fills up"
            raise OSError("No space left on device")
        real_save(shard, filename, metadata=metadata)

    monkeypatch.setattr(hub, "save_safetensors_file", failing_save)
    with pytest.raises(OSError, match="No space left"):
        hub.save_state_dict(tensors(1), tmp_path, max_shard_size="300B")
    assert len(calls) == 3 and all(os.path.basename(name).startswith(".") for name in calls)  # temporary names
    assert folder_state(tmp_path) == before  # no shard, index or temporary file left behind

    calls.clear()
    with pytest.raises(OSError, match="No space left"):
        hub.save_state_dict(tensors(1), tmp_path / "fresh", max_shard_size="300B")
    assert not (tmp_path / "fresh").exists()  # the folder it created is gone too


# --------------------------------------------------------------------------- against transformers


@pytest.fixture(scope="module")
def tiny_gpt2():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_embd=32, n_layer=2, n_head=2, n_positions=32, vocab_size=128)
    return transformers.GPT2LMHeadModel(config).eval()


def test_our_shards_load_in_transformers(tiny_gpt2, tmp_path):
    from transformers import AutoModelForCausalLM

    state_dict = tiny_gpt2.state_dict()
    with pytest.raises(ValueError, match="share memory"):  # lm_head.weight is tied to transformer.wte.weight
        hub.save_state_dict(state_dict, tmp_path / "tied")
    state_dict = {key: value for key, value in state_dict.items() if key != "lm_head.weight"}

    for max_shard_size, expected_files in (("5GB", 1), ("20KB", None)):
        folder = tmp_path / max_shard_size
        files = hub.save_state_dict(state_dict, folder, max_shard_size=max_shard_size)
        tiny_gpt2.config.save_pretrained(folder)
        if expected_files is None:
            assert len(files) > 3 and files[-1].endswith("model.safetensors.index.json")
        else:
            assert len(files) == expected_files
        loaded = AutoModelForCausalLM.from_pretrained(folder)
        for name, tensor in tiny_gpt2.state_dict().items():
            assert torch.equal(loaded.state_dict()[name], tensor), name


def test_transformers_shards_load_through_our_functions(tiny_gpt2, tmp_path):
    from transformers import AutoModelForCausalLM

    tiny_gpt2.save_pretrained(tmp_path / "saved", max_shard_size="20KB")
    assert (tmp_path / "saved" / "model.safetensors.index.json").exists()
    expected = {key: value for key, value in tiny_gpt2.state_dict().items() if key != "lm_head.weight"}

    files, fmt = hub.resolve_weight_files(tmp_path / "saved")
    assert fmt == "safetensors" and len(files) > 3
    assert_same(hub.load_state_dict(files, fmt), expected)

    # The same files published as a Hub repo in a hand-laid cache, resolved by repo id, offline.
    cache = tmp_path / "cache"
    make_hub_cache(cache, "org/tiny-gpt2", folder_files(tmp_path / "saved"))
    files, fmt = hub.resolve_weight_files("org/tiny-gpt2", cache_dir=cache)
    assert all(f"{os.sep}snapshots{os.sep}" in f for f in files)
    assert_same(hub.load_state_dict(files, fmt), expected)
    # ... and transformers reads that cache too (so the helper lays it out correctly).
    loaded = AutoModelForCausalLM.from_pretrained("org/tiny-gpt2", cache_dir=cache, local_files_only=True)
    for name, tensor in tiny_gpt2.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


# --------------------------------------------------------------------------- permission denied, bad bytes


def _deny(monkeypatch, *paths):
    """As if these paths were chmod 000 (tests run as root, where chmod denies nothing)."""
    real_access = os.access
    denied = {os.fspath(path) for path in paths}

    def access(path, mode, **kwargs):
        return os.fspath(path) not in denied and real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)


def test_unreadable_weights_or_folder_say_permission_denied(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    hub.save_state_dict(tensors(), folder)
    (folder / "config.json").write_text("{}")
    with monkeypatch.context() as patch:
        _deny(patch, folder / "model.safetensors")
        with pytest.raises(PermissionError, match=r"cannot read .*model.safetensors': permission denied"):
            hub.resolve_weight_files(folder)
    with monkeypatch.context() as patch:
        _deny(patch, folder)
        with pytest.raises(PermissionError, match=r"cannot read the folder .*model': permission denied.*chmod u\+rx"):
            hub.cached_file(folder, "config.json")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads files whatever their mode: the monkeypatched test above covers this")
def test_unreadable_weights_say_permission_denied_for_real(tmp_path):
    folder = tmp_path / "model"
    hub.save_state_dict(tensors(), folder)
    os.chmod(folder / "model.safetensors", 0)
    with pytest.raises(PermissionError, match="permission denied"):
        hub.resolve_weight_files(folder)
    os.chmod(folder, 0)
    try:
        with pytest.raises(PermissionError, match="cannot read the folder"):
            hub.cached_file(folder, "config.json")
    finally:
        os.chmod(folder, 0o755)


@pytest.mark.parametrize("name", ["config.json", "generation_config.json"])
def test_configs_that_are_not_utf8_are_named(tmp_path, name):
    from hfexplain.generation import GenerationConfig
    from hfexplain.models.gpt2 import GPT2Config

    (tmp_path / name).write_bytes(b'{"model_type": "gpt2", "note": "\xff\xfe"}')
    reader = GPT2Config if name == "config.json" else GenerationConfig
    with pytest.raises(OSError, match=rf"{name}' is not valid JSON \(it is not UTF-8 text"):
        reader.from_pretrained(tmp_path)
