"""Build lessons/15_multimodal.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/15_multimodal.py                 # write and execute
    .venv/bin/python lessons/build/15_multimodal.py --no-execute    # only write
    .venv/bin/python lessons/build/15_multimodal.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "15-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.

The lesson needs only what ships in the package: the shapes world (`hfexplain.data.shapes`), the
trained tiny YOLOS detector (`hfexplain.assets.tiny_yolos_shapes_path()`) and the trained tiny BLIP
captioner (`hfexplain.assets.tiny_blip_shapes_path()`), plus transformers for the parity cells.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("15_multimodal")
md, code = lesson.md, lesson.code

md("intro", r"""
# 15 · Multimodal: a captioner and a detector on a world you can change

Lesson 13 read an image as a sentence of patches; lesson 12 let a decoder read another
sequence through **cross-attention**. Put the two together and a text decoder can read a
picture: that is **BLIP**'s captioner (2022). Beside it, **YOLOS** (lesson 13's detection tokens)
finds the objects and draws boxes.

```
image ─► patches ─► ViT (vision stack) ─► image states (1 + 64 patches) ───────────┐
                                                                                   │ keys, values
[DEC] ─► BERT-style decoder layer × N: self-attention (causal) ─► cross-attention ◄┘ ─► MLP ─► next word
```

No captioning or detection checkpoint installs offline, so both models here **learned on a world
this project draws itself**, with code you can read and change (`hfexplain/data/shapes.py`):
64 x 64 pictures of one to three circles, squares and triangles, in four colours, small or large,
with exact boxes and a caption made from the scene ("a small red circle above a large blue square").

What is real here, and what is not:

* **tiny-yolos-shapes** (0.14M parameters), trained by `scripts/train_tiny_yolos_shapes.py`. Its card
  says **mAP@0.5 0.529** on 500 held-out scenes: a real detector, and a weak one. It misses shapes and
  sometimes calls a circle a square; you will see both below.
* **tiny-blip-shapes** (0.39M parameters), trained by `scripts/train_tiny_blip_shapes.py` on the same
  world. Its card, on 500 held-out scenes: the whole caption exactly right **38.4 %** of the time
  (100 % for one shape, 20 % for two, 3 % for three), each shape's colour 98 %, kind 93 %, size 94 %,
  but the relation words ("above", "to the left of") only **24.7 %, no better than chance**. It
  learned *what* is in a picture, not yet *where* one thing is from another; you will see both.
* The scenes below are **new**: drawn from data seed 15, which no training run used.

**Goals**

1. Draw the world: scenes, their boxes and their captions, all from code.
2. Detect shapes in new scenes with the trained YOLOS, and caption them with the trained BLIP.
3. Build BLIP's captioner by hand, vision stack to greedy loop, and get the library's tokens and
   transformers' logits.
4. See the decoder's cross-attention over the image patches, token by token: does "circle" look at
   the circle?
5. Edit a scene (move the circle, change its colour) and see what in the caption and the boxes
   follows, and what does not.
6. Write `attention_share` yourself: how much of a token's attention lands on a shape's box.
""")

code("setup", r"""
import base64
import io
import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # lessons never touch the network

import numpy as np
import plotly.graph_objects as go
import torch
import transformers
from PIL import Image
from plotly.subplots import make_subplots

import hfexplain
from hfexplain import AutoImageProcessor, AutoModelForObjectDetection, BlipForConditionalGeneration, BlipProcessor
from hfexplain.assets import tiny_blip_shapes_path, tiny_yolos_shapes_path
from hfexplain.data.shapes import COLOURS, KINDS, Scene, Shape, generate_scene, make_scenes
from hfexplain.metrics import mean_average_precision

torch.manual_seed(0)
torch.set_num_threads(1)  # steadier numbers and timings on a shared machine
torch.set_printoptions(precision=3, sci_mode=False)
np.set_printoptions(precision=3, suppress=True)
transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()  # no "Loading weights" bars in the output

SCALE = 4  # the 64-pixel scenes are drawn 4x larger, each pixel a 4 x 4 block (no smoothing)


def picture_uri(image):
    '''A small PIL image as a PNG data URI, enlarged SCALE times without smoothing: what plotly's Image shows.'''
    image = image.resize((image.width * SCALE, image.height * SCALE), Image.NEAREST)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def add_scene(figure, scene, row, col):
    '''Draw `scene` in one subplot, in the scene's own pixel units (0..64 across, y downwards).'''
    figure.add_trace(go.Image(source=picture_uri(scene.render()), x0=0.5 / SCALE, y0=0.5 / SCALE,
                              dx=1 / SCALE, dy=1 / SCALE, hoverinfo="skip"), row=row, col=col)


def add_box(figure, box, row, col, color, text=None, dash=None):
    '''A corner box (x0, y0, x1, y1) in pixels, x1 / y1 exclusive (pixel j spans j .. j + 1).'''
    x0, y0, x1, y1 = [round(float(v), 2) for v in box]  # rounded: the figure is compared between runs
    figure.add_shape(type="rect", x0=x0, y0=y0, x1=x1, y1=y1, line=dict(color=color, width=2, dash=dash),
                     row=row, col=col)
    if text:
        figure.add_annotation(x=x0, y=y0, text=text, showarrow=False, xanchor="left", yanchor="bottom",
                              font=dict(color="white", size=10), bgcolor=color, row=row, col=col)


def pixel_axes(figure, panels):
    '''Every panel 0..64 pixels across and down (y downwards, as in the image), square.'''
    figure.update_xaxes(range=[0, 64], showticklabels=False, showgrid=False, zeroline=False)
    figure.update_yaxes(range=[64, 0], showticklabels=False, showgrid=False, zeroline=False)
    for k in range(1, panels + 1):
        figure.layout[f"yaxis{'' if k == 1 else k}"].scaleanchor = f"x{'' if k == 1 else k}"  # one scale per panel


def scene_grid(scenes, titles, cols=4, height=230):
    '''A figure of len(scenes) panels, `cols` to a row, each one scene.'''
    rows = math.ceil(len(scenes) / cols)
    figure = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.03, vertical_spacing=0.1)
    for index, scene in enumerate(scenes):
        add_scene(figure, scene, index // cols + 1, index % cols + 1)
    pixel_axes(figure, rows * cols)
    figure.update_layout(width=190 * cols, height=height * rows, margin=dict(l=10, r=10, t=40, b=10))
    figure.update_annotations(font_size=11)
    return figure


new_scenes = make_scenes(200, seed=15)  # new scenes: the training runs drew theirs from seeds 0 (train) and 1 (held out)
shown = new_scenes[:8]
print(f"{len(new_scenes)} new scenes; {sum(len(s.shapes) for s in new_scenes)} shapes in all")
""")

# ----------------------------------------------------------------------------------------------
md("world-intro", r"""
## 1. The world, drawn by code

A `Scene` is a list of `Shape`s on a 64 x 64 canvas. A shape has a **kind** (circle, square,
triangle), a **colour** (red, green, blue, yellow), a **size** word (small: 8-12 pixels across;
large: 16-24) and a **centre**. Everything else follows from it by code you can read:

* `scene.render()` paints each pixel whose centre falls inside a shape's geometry (no smoothing,
  so every pixel belongs to one shape or to the background);
* `scene.boxes_xyxy()` is the tightest box around each shape's pixels, `(x0, y0, x1, y1)` with
  `x1`, `y1` one past the last pixel; `scene.boxes()` is the same box as
  `(centre x, centre y, width, height) / 64`, the `labels=` format YOLOS trains on;
* `scene.caption()` names each shape as "a {size} {colour} {kind}" and the second one's place
  relative to the first: **the axis on which their box centres are further apart decides**
  between above/below and left of/right of. A third shape is placed relative to the first.
""")

code("one-scene", r"""
scene = generate_scene(3)  # the same seed always draws the same scene
for index, shape in enumerate(scene.shapes):
    print(f"shape {index}: {shape.describe():22} centre {shape.center}, extent {shape.extent:g} pixels")
print("boxes_xyxy (pixels):\n", scene.boxes_xyxy())
print("boxes (cx, cy, w, h) / 64:\n", scene.boxes())
print("class_labels:", scene.class_labels(), "=", [KINDS[k] for k in scene.class_labels()])
print("caption:", repr(scene.caption()))
""")

md("target-intro", r"""
`scene.caption()` names the shapes in the order they were *drawn*, and the picture does not show
that order (generated shapes never overlap): the same picture can come with two captions. So the
captioner was trained on one caption per picture: the scene with its shapes listed **by colour**
(red, green, blue, yellow), **then kind** (circle, square, triangle), an order the picture does
show, since a generated scene holds each (colour, kind) at most once. The relation words still come
from the geometry. That is the caption to compare its output with:
""")

code("target-caption", r"""
def in_caption_order(scene):
    '''The same picture with its shapes listed by colour, then kind.'''
    def key(shape):
        return list(COLOURS).index(shape.colour), KINDS.index(shape.kind)
    return Scene(tuple(sorted(scene.shapes, key=key)), scene.image_size)


def target_caption(scene):
    '''The caption the captioner learned to write for this picture.'''
    return in_caption_order(scene).caption()


two = Scene((Shape("square", "blue", center=(40, 44), size="large"), Shape("circle", "red", center=(20, 14))))
print("scene.caption():  ", two.caption())
print("target_caption():", target_caption(two))
""")

code("world-figure", r"""
figure = scene_grid(shown, [f"scene {i}" for i in range(len(shown))])
for index, scene in enumerate(shown):
    for box in scene.boxes_xyxy():
        add_box(figure, box, index // 4 + 1, index % 4 + 1, "#555555", dash="dot")
figure.update_layout(title="eight new scenes and their exact boxes")
for index, scene in enumerate(shown):
    print(f"scene {index}: {target_caption(scene)}")
figure
""")

md("world-reading", r"""
The whole vocabulary of the captions is 19 words: three kinds, four colours, two sizes, the
words of four relations ("above", "below", "to the left of", "to the right of"), "a", "and" and a
comma. The world is small on purpose: a model
can learn it in minutes on a laptop, and every one of its mistakes can be seen.

## 2. Boxes from the trained detector

The detector is lesson 13's YOLOS with trained weights: 8 detection tokens after the 64 patch
tokens, each ending in a class (circle, square, triangle or "no object") and a box. The
processor turns the scene into `pixel_values`, `post_process_object_detection` keeps the tokens
whose best real class scores above a threshold, and turns their boxes into pixel corners.
""")

code("detector", r"""
yolos_path = tiny_yolos_shapes_path()
detector = AutoModelForObjectDetection.from_pretrained(yolos_path).eval()
detector_processor = AutoImageProcessor.from_pretrained(yolos_path)
print(f"{type(detector).__name__}: {detector.num_parameters():,} parameters, "
      f"{detector.config.num_detection_tokens} detection tokens, classes {detector.config.id2label}")


def detect(scenes, threshold=0.5):
    '''One dict per scene: scores, labels, boxes (pixel corners), the tokens above `threshold`.'''
    inputs = detector_processor([scene.render() for scene in scenes], return_tensors="pt")
    with torch.no_grad():
        outputs = detector(**inputs)
    return detector_processor.post_process_object_detection(outputs, threshold=threshold,
                                                            target_sizes=[(64, 64)] * len(scenes))


detections = detect(shown)
for index, (scene, found) in enumerate(zip(shown, detections)):
    truth = ", ".join(f"{KINDS[k]} {tuple(box)}" for k, box in zip(scene.class_labels(), scene.boxes_xyxy().tolist()))
    guess = ", ".join(f"{detector.config.id2label[int(label)]} {tuple(round(v) for v in box.tolist())} {score:.2f}"
                      for score, label, box in zip(found["scores"], found["labels"], found["boxes"])) or "-"
    print(f"scene {index}: true {truth}\n         found {guess}")
""")

code("detector-figure", r"""
KIND_COLORS = {"circle": "#e4572e", "square": "#29335c", "triangle": "#17a398"}
figure = scene_grid(shown, [f"scene {i}" for i in range(len(shown))])
for index, (scene, found) in enumerate(zip(shown, detections)):
    row, col = index // 4 + 1, index % 4 + 1
    for box in scene.boxes_xyxy():
        add_box(figure, box, row, col, "#999999", dash="dot")
    for score, label, box in zip(found["scores"], found["labels"], found["boxes"].tolist()):
        kind = detector.config.id2label[int(label)]
        add_box(figure, box, row, col, KIND_COLORS[kind], text=f"{kind} {score:.2f}")
figure.update_layout(title="tiny-yolos-shapes on new scenes (dotted: the true boxes; score > 0.5)")
figure
""")

md("detector-score-intro", r"""
A few pictures say little about a detector. Its card measured **mAP@0.5** (for each kind, rank
every predicted box by score; a box is a hit when it overlaps an unclaimed true box of its kind
with IoU >= 0.5; average precision is the area under the precision-recall curve; mAP the mean
over kinds) on 500 held-out scenes: 0.529, where baselines score 0.000. The same measure, with
`hfexplain.metrics.mean_average_precision`, on the 200 new scenes (every token ranked, threshold 0):
""")

code("detector-score", r"""
ranked = detect(new_scenes, threshold=0.0)
targets = [{"boxes": scene.boxes_xyxy(), "labels": scene.class_labels()} for scene in new_scenes]
scored = mean_average_precision(ranked, targets, num_classes=3)
print(f"mAP@0.5 on {len(new_scenes)} new scenes: {scored['map']:.3f}  (the card: 0.529 on 500 held-out scenes)")
for label, ap in scored["per_class"].items():
    print(f"  {KINDS[label]:8} AP@0.5 {ap:.3f} over {scored['num_targets'][label]} shapes")
""")

# ----------------------------------------------------------------------------------------------
md("captions-intro", r"""
## 3. Captions from the trained BLIP

`BlipForConditionalGeneration` is a vision stack (a ViT, lesson 13) and a text decoder (BERT's
layers with a cross-attention added to each, lesson 12). `generate(pixel_values)` starts the
decoder from the `[DEC]` token, writes one word at a time, and stops at `[SEP]`. The processor is
an image processor (resize, rescale, normalise with CLIP's mean and std) and a WordPiece
tokenizer in one object.
""")

code("captioner", r"""
blip_path = tiny_blip_shapes_path()
captioner = BlipForConditionalGeneration.from_pretrained(blip_path).eval()
blip_processor = BlipProcessor.from_pretrained(blip_path)
vision_config, text_config = captioner.config.vision_config, captioner.config.text_config
print(f"{type(captioner).__name__}: {captioner.num_parameters():,} parameters")
print(f"  vision: {vision_config.num_hidden_layers} layers, hidden {vision_config.hidden_size}, "
      f"{vision_config.image_size} x {vision_config.image_size} images in {vision_config.patch_size}-pixel patches")
print(f"  text:   {text_config.num_hidden_layers} layers, hidden {text_config.hidden_size}, "
      f"{text_config.vocab_size} tokens in the vocabulary")


def caption(scenes, max_new_tokens=30):
    '''The captioner's greedy caption of each scene.'''
    pixel_values = blip_processor(images=[scene.render() for scene in scenes], return_tensors="pt")["pixel_values"]
    ids = captioner.generate(pixel_values, max_new_tokens=max_new_tokens)  # (b, 1 + new): [DEC] first
    return blip_processor.batch_decode(ids, skip_special_tokens=True)


written = caption(shown)
for index, (scene, text) in enumerate(zip(shown, written)):
    mark = "✓" if text == target_caption(scene) else "✗"
    print(f"scene {index} {mark} {text}")
    if mark == "✗":
        print(f"     target: {target_caption(scene)}")
""")

code("captioner-score", r"""
all_written = caption(new_scenes)
exact = sum(text == target_caption(scene) for text, scene in zip(all_written, new_scenes))
print(f"exact caption on the {len(new_scenes)} new scenes: {exact}/{len(new_scenes)} = {exact / len(new_scenes):.1%}")
for count in (1, 2, 3):
    pairs = [(t, s) for t, s in zip(all_written, new_scenes) if len(s.shapes) == count]
    right = sum(t == target_caption(s) for t, s in pairs)
    print(f"  scenes with {count} shape{'s' if count > 1 else ' '}: {right}/{len(pairs)}")
""")

md("pipeline-intro", r"""
One shape: always right here. Two or three: the shapes are usually named right (colour, size,
kind), and most of the misses are the **relation words**: scenes 4, 5 and 7 swap left and right,
scene 2 says "to the left of" for "below" (and adds a third shape that is not there), scene 6
also gets two kinds wrong. That is the card's 24.7 % relation accuracy, chance for four
relations, showing.

The `image-to-text` pipeline (transformers 4.x's task name and output) wraps the same three
steps, image processor, `generate` and decode:
""")

code("pipeline", r"""
captions_pipeline = hfexplain.pipeline("image-to-text", model=blip_path)
result = captions_pipeline(shown[1].render(), max_new_tokens=30)
print(result)
assert result[0]["generated_text"] == written[1]
""")

# ----------------------------------------------------------------------------------------------
md("by-hand-intro", r"""
## 4. BLIP by hand

Nothing in the captioner is new; every piece is one this course has built. Written out with the
model's own weights:

* **vision stack** (lesson 13): the patch `Conv2d` (kernel = stride = 8) gives 64 patch vectors,
  a learned `[CLS]` in front, learned positions added; then pre-norm layers
  (`x + attn(LN(x))`, `x + mlp(LN(x))`) with one fused `qkv` projection; then `post_layernorm`
  on every state. Out come the **image states**, (1, 65, d): what the text will read.
* **text decoder** (lessons 04 and 12): word + position embeddings and a LayerNorm; then in each
  layer, **post-norm** as BERT (`LN(x + sublayer(x))`): causal self-attention over the caption so
  far, **cross-attention** whose queries come from the caption and whose keys and values come
  from the image states, and the MLP; then the head (dense, gelu, LayerNorm, and the word
  embeddings again as the output matrix).
""")

code("vision-by-hand", r"""
gelu = torch.nn.functional.gelu
assert vision_config.hidden_act == "gelu" and text_config.hidden_act == "gelu"


def vision_by_hand(pixel_values):
    '''(b, 3, 64, 64) -> the image states (b, 1 + 64, d): BLIP's vision stack, written out.'''
    vision = captioner.vision_model
    embeddings = vision.embeddings
    batch = pixel_values.shape[0]
    patches = embeddings.patch_embedding(pixel_values).flatten(2).transpose(1, 2)  # (b, 64, d): 8 x 8 grid, row by row
    cls = embeddings.class_embedding.expand(batch, 1, -1)  # (b, 1, d)
    x = torch.cat([cls, patches], dim=1) + embeddings.position_embedding  # (b, n, d), n = 65
    b, n, d = x.shape
    heads = vision_config.num_attention_heads
    e = d // heads
    for layer in vision.encoder.layers:
        qkv = layer.self_attn.qkv(layer.layer_norm1(x)).reshape(b, n, 3, heads, e)  # (b, n, 3, h, e)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (b, h, n, e)
        pattern = (q @ k.transpose(-1, -2) / math.sqrt(e)).softmax(-1)  # (b, h, n, n)
        z = (pattern @ v).transpose(1, 2).reshape(b, n, d)  # (b, n, d): heads side by side
        x = x + layer.self_attn.projection(z)
        x = x + layer.mlp.fc2(gelu(layer.mlp.fc1(layer.layer_norm2(x))))
    return vision.post_layernorm(x)  # (b, n, d)


pixel_values = blip_processor(images=[scene.render() for scene in shown], return_tensors="pt")["pixel_values"]
with torch.no_grad():
    image_states = vision_by_hand(pixel_values)  # (8, 65, d)
    library_states = captioner.vision_model(pixel_values).last_hidden_state
print("pixel_values", tuple(pixel_values.shape), "-> image states", tuple(image_states.shape))
print(f"by hand vs captioner.vision_model: max abs diff {(image_states - library_states).abs().max():.1e}")
assert torch.allclose(image_states, library_states, atol=1e-5)
""")

code("decoder-by-hand", r"""
def attention_sublayer(block, x, source, causal):
    '''One BERT-style attention sublayer, post-norm: LN(x + dense(attention)). Queries from x (b, s, d);
    keys and values from `source`: x itself (self-attention) or the image states (cross-attention).'''
    attention = block.self
    b, s, d = x.shape
    heads = attention.num_attention_heads
    e = d // heads
    q = attention.query(x).view(b, s, heads, e).transpose(1, 2)  # (b, h, s, e)
    k = attention.key(source).view(b, source.shape[1], heads, e).transpose(1, 2)  # (b, h, s|n, e)
    v = attention.value(source).view(b, source.shape[1], heads, e).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / math.sqrt(e)  # (b, h, s, s|n)
    if causal:
        allowed = torch.ones(s, s, dtype=torch.bool).tril()  # (s, s): position t reads 0..t
        scores = scores.masked_fill(~allowed, float("-inf"))
    z = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, d)  # (b, s, d)
    return block.output.LayerNorm(x + block.output.dense(z))


def decoder_by_hand(ids, image_states):
    '''ids (b, s), image states (b, n, d_v) -> next-word logits (b, s, vocab).'''
    bert = captioner.text_decoder.bert
    positions = torch.arange(ids.shape[1])
    x = bert.embeddings.LayerNorm(bert.embeddings.word_embeddings(ids) + bert.embeddings.position_embeddings(positions))
    for layer in bert.encoder.layer:
        x = attention_sublayer(layer.attention, x, x, causal=True)  # the caption so far
        x = attention_sublayer(layer.crossattention, x, image_states, causal=False)  # the picture
        x = layer.output.LayerNorm(x + layer.output.dense(gelu(layer.intermediate.dense(x))))  # the MLP
    head = captioner.text_decoder.cls.predictions
    return head.decoder(head.transform.LayerNorm(gelu(head.transform.dense(x))))  # (b, s, vocab)


def greedy_by_hand(image_states, max_new_tokens=30):
    '''One image's states (1, n, d_v) -> token ids, [DEC] first, as generate returns them.'''
    ids = torch.tensor([[text_config.bos_token_id]])  # (1, 1): [DEC]
    for _ in range(max_new_tokens):
        next_id = decoder_by_hand(ids, image_states)[:, -1].argmax(-1)  # (1,): the likeliest next word
        ids = torch.cat([ids, next_id[:, None]], dim=1)  # (1, s + 1)
        if next_id.item() == text_config.sep_token_id:  # [SEP] ends the caption
            break
    return ids


with torch.no_grad():
    by_hand = [greedy_by_hand(image_states[i:i + 1]) for i in range(len(shown))]
    library = [captioner.generate(pixel_values[i:i + 1], max_new_tokens=30) for i in range(len(shown))]
for i in (0, 1):
    print(f"scene {i}: by hand {by_hand[i][0].tolist()}\n         generate {library[i][0].tolist()}")
same = all(torch.equal(a, b) for a, b in zip(by_hand, library))
print(f"the greedy loop by hand gives generate's tokens on all {len(shown)} scenes: {same}")
assert same
""")

md("transformers-intro", r"""
And the same folder in transformers' `BlipForConditionalGeneration`: the same captions from its
`generate`, and the same next-word scores (by hand, hfexplain and transformers) at every position
of every caption. In float32 they differ in the last digits: nobody watches the attention here,
so hfexplain runs it through `scaled_dot_product_attention`, which adds the same numbers in
another order (float32 keeps about 7 significant digits, and the logits reach about 12). Run all
three in float64 and the differences shrink by nine orders of magnitude: the same computation.
""")

code("against-transformers", r"""
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

reference = transformers.BlipForConditionalGeneration.from_pretrained(blip_path).eval()
reference_pixels = BlipImageProcessorPil.from_pretrained(blip_path)([s.render() for s in shown],
                                                                     return_tensors="pt")["pixel_values"]
print(f"pixel_values, hfexplain's processor vs transformers': max abs diff "
      f"{(pixel_values - reference_pixels).abs().max():.1e}")
with torch.no_grad():
    theirs = reference.generate(pixel_values=reference_pixels, max_new_tokens=30)
    ours = captioner.generate(pixel_values, max_new_tokens=30)
their_text = transformers.AutoTokenizer.from_pretrained(blip_path).batch_decode(theirs, skip_special_tokens=True)
print(f"captions equal on all {len(shown)} scenes: {their_text == written}; token ids equal: {torch.equal(theirs, ours)}")
assert their_text == written and torch.equal(theirs, ours)

def logit_differences(dtype):
    '''(by hand vs hfexplain, hfexplain vs transformers, the largest logit) over every position of every caption.'''
    captioner.to(dtype), reference.to(dtype)
    hand_vs_ours, ours_vs_theirs, largest = 0.0, 0.0, 0.0
    with torch.no_grad():
        states = vision_by_hand(pixel_values.to(dtype))  # (8, 65, d)
        for i, ids in enumerate(library):  # each caption fed back as the decoder's input (teacher forcing)
            hand = decoder_by_hand(ids, states[i:i + 1])  # (1, s, vocab)
            mine = captioner(pixel_values=pixel_values[i:i + 1].to(dtype), input_ids=ids).logits
            their = reference(pixel_values=reference_pixels[i:i + 1].to(dtype), input_ids=ids).logits
            hand_vs_ours = max(hand_vs_ours, (hand - mine).abs().max().item())
            ours_vs_theirs = max(ours_vs_theirs, (mine - their).abs().max().item())
            largest = max(largest, mine.abs().max().item())
    captioner.float(), reference.float()  # back to float32 (exact: every float32 is a float64)
    return hand_vs_ours, ours_vs_theirs, largest


hand_vs_ours, ours_vs_theirs, largest = logit_differences(torch.float32)
print(f"next-word logits at every position of the {len(shown)} captions (the largest is {largest:.1f}), float32:")
print(f"  by hand vs hfexplain:      max abs diff {hand_vs_ours:.1e}")
print(f"  hfexplain vs transformers: max abs diff {ours_vs_theirs:.1e}")
hand_vs_ours_64, ours_vs_theirs_64, _ = logit_differences(torch.float64)
print(f"the same in float64: by hand vs hfexplain {hand_vs_ours_64:.0e}, hfexplain vs transformers {ours_vs_theirs_64:.0e}")
assert hand_vs_ours < 1e-4 and ours_vs_theirs < 1e-4 and hand_vs_ours_64 < 1e-10 and ours_vs_theirs_64 < 1e-10
""")

# ----------------------------------------------------------------------------------------------
md("cross-intro", r"""
## 5. Where the decoder looks: cross-attention over the patches

Every decoder layer has a cross-attention whose pattern, for each caption position, is a
softmax over the 65 image states: `[CLS]`, then the 8 x 8 patches row by row. The hook point
`cross_pattern` holds it, per layer, in the `"text"` stack (the vision stack's own
self-attention is `"vision"`): `cache["cross_pattern", layer, "text"]` is (batch, heads,
caption positions, 65).

The caption is fed back as the decoder's input. Position t's query is what chose word t + 1,
so the row to look at for a word is the row of the position **before** it: "where the decoder
looked when it wrote *circle*".
""")

code("cross-cache", r"""
example = 4  # a two-shape scene from section 1 whose caption names both shapes right; change it to look at another
ids = library[example]  # (1, s): [DEC], the caption's words, [SEP]
_, cache = captioner.run_with_cache(pixel_values=pixel_values[example:example + 1], input_ids=ids,
                                    names_filter="cross_pattern")
layers = text_config.num_hidden_layers
patterns = torch.stack([cache["cross_pattern", layer, "text"][0] for layer in range(layers)])  # (L, h, s, 65)
print("cache['cross_pattern', 0, 'text']", tuple(cache["cross_pattern", 0, "text"].shape), "(batch, heads, positions, [CLS] + 64 patches)")
words = blip_processor.tokenizer.convert_ids_to_tokens(ids[0].tolist())
print("positions:", words)
print("each row sums to 1:", torch.allclose(patterns.sum(-1), torch.ones(patterns.shape[:-1])))
""")

code("cross-figure", r"""
grid_side = vision_config.image_size // vision_config.patch_size  # 8
written_words = words[1:]  # the word chosen at each position: position t wrote words[t + 1]
looked = patterns.mean(dim=(0, 1))[:len(written_words)]  # (words, 65): mean over layers and heads
scene = in_caption_order(shown[example])  # its shapes in the order the caption names them
cols = min(len(written_words), 9)  # panels per row
rows = math.ceil(len(written_words) / cols)
SPOTLIGHT = [[0, "rgba(20, 20, 30, 0.8)"], [1, "rgba(20, 20, 30, 0)"]]  # patches the word ignores go dark
figure = make_subplots(rows=rows, cols=cols, subplot_titles=[f"{w!r}" for w in written_words],
                       horizontal_spacing=0.01, vertical_spacing=0.06)
for index in range(len(written_words)):
    row, col = index // cols + 1, index % cols + 1
    add_scene(figure, scene, row, col)
    on_patches = looked[index, 1:].reshape(grid_side, grid_side).numpy().round(3)  # (8, 8), [CLS] left out
    figure.add_trace(go.Heatmap(z=on_patches, x0=4, dx=8, y0=4, dy=8, zmin=0,
                                zmax=float(on_patches.max()), colorscale=SPOTLIGHT, showscale=False,
                                hovertemplate="attention %{z}<extra></extra>"), row=row, col=col)
pixel_axes(figure, rows * cols)
figure.update_layout(title=f"scene {example}: where the decoder looked to write each word of its caption<br>"
                           "(cross-attention, mean over layers and heads; each panel scaled to its own brightest patch)",
                     width=max(125 * cols, 700), height=80 + 150 * rows,
                     margin=dict(l=10, r=10, t=80, b=10))
figure.update_annotations(font_size=10)
figure
""")

code("cross-shares", r"""
def share_on_shape(row, shape):
    '''The part of one attention row (65,) that lands on the patches holding any pixel of `shape`.'''
    touched = shape.mask(64).reshape(grid_side, 8, grid_side, 8).any(axis=(1, 3))  # (8, 8) patches
    return float(row[1:][torch.from_numpy(touched.reshape(-1))].sum())


print(f"{'word':>10}  " + "  ".join(f"{s.describe():>22}" for s in scene.shapes) + "     [CLS]")
for index, word in enumerate(written_words):
    shares = "  ".join(f"{share_on_shape(looked[index], s):22.2f}" for s in scene.shapes)
    print(f"{word:>10}  {shares}  {looked[index, 0]:8.2f}")
areas = "  ".join(f"{share_on_shape(torch.full((65,), 1 / 64), s):22.2f}" for s in scene.shapes)
print(f"{'(area)':>10}  {areas}   (what attention spread evenly over the patches would give)")
""")

md("cross-many-intro", r"""
Read the table row by row. When the decoder writes a **kind word**, a large part of its attention
sits on the shape it is naming, far above that shape's share of the area: the first "square"
puts 0.39 on the small blue square (whose patches are 6 % of the picture) and 0.14 on the other,
the second "square" 0.54 on the large yellow square (14 % of the picture) and 0.03 on the small
one. Most other words look mainly at the large square. The numbers are a mean over the layers'
and heads' patterns, and [CLS] takes a part of some rows.

One scene is an anecdote. Over the new scenes with two shapes, feed the **true** caption
(teacher forcing: the decoder's input is what it should have written) and, for each kind word
("circle", "square", "triangle"), measure the share of the attention that chose it landing on the
shape it names, on the other shape, and what the two shapes' areas alone would give:
""")

code("cross-many", r"""
pairs = [s for s in new_scenes if len(s.shapes) == 2]
uniform = torch.full((65,), 1 / 64)  # attention spread evenly over the 64 patches, none on [CLS]
named, other, named_area, other_area = [], [], [], []
tokenizer = blip_processor.tokenizer
for s in pairs:
    ordered = in_caption_order(s)  # shape 0 is the one the caption names first
    ids = tokenizer(target_caption(s), return_tensors="pt")["input_ids"].clone()  # (1, t): [CLS] ... [SEP]
    ids[0, 0] = text_config.bos_token_id  # [CLS] -> [DEC], where generate starts
    inputs = blip_processor(images=s.render(), return_tensors="pt")
    _, cache = captioner.run_with_cache(pixel_values=inputs["pixel_values"], input_ids=ids, names_filter="cross_pattern")
    rows = torch.stack([cache["cross_pattern", layer, "text"][0] for layer in range(layers)]).mean(dim=(0, 1))  # (t, 65)
    tokens = tokenizer.convert_ids_to_tokens(ids[0].tolist())
    kind_positions = [i for i, token in enumerate(tokens) if token in KINDS]  # shape 0's kind word, then shape 1's
    for which, position in enumerate(kind_positions):
        row = rows[position - 1]  # the query that chose this word
        this, that = ordered.shapes[which], ordered.shapes[1 - which]
        named.append(share_on_shape(row, this))
        other.append(share_on_shape(row, that))
        named_area.append(share_on_shape(uniform, this))
        other_area.append(share_on_shape(uniform, that))
print(f"{len(named)} kind words in {len(pairs)} two-shape scenes (mean over layers and heads):")
print(f"  on the shape the word names: {np.mean(named):.3f}   (its patches' share of the area: {np.mean(named_area):.3f})")
print(f"  on the other shape:          {np.mean(other):.3f}   (its patches' share of the area: {np.mean(other_area):.3f})")
print(f"  words whose named shape gets more than the other: {np.mean(np.array(named) > np.array(other)):.1%}")
""")

# ----------------------------------------------------------------------------------------------
md("cross-many-reading", r"""
Over every kind word of the two-shape scenes, the shape the word names gets nearly four times the
attention of the other one, whose share is no more than its area: **"circle" looks at the
circle**. Its attention finds the shape it is naming. What it has not learned (its card's
relation accuracy is at chance) is to turn *two* such places into "above" or "to the left of".
""")

md("edit-intro", r"""
## 6. Change the world

A scene is plain data: `scene.replace_shape(index, center=..., colour=..., kind=..., size=...)`
returns a new scene with one shape changed (the old one is kept), and everything, the picture,
the boxes and the true caption, is recomputed from it. Below: a scene built by hand, then the
circle moved below the square, then recoloured, then moved to its right. **Change the numbers
and run the cell again**: keep each centre at least half the shape's extent from the edges (a
clear error says so otherwise), and keep the shapes apart (the models never saw shapes overlap).
""")

code("edit", r"""
start = Scene((Shape("circle", "red", center=(20, 14), size="small"),
               Shape("square", "blue", center=(36, 34), size="large")))
edits = {
    "the scene": start,
    "circle moved below": start.replace_shape(0, center=(38, 58)),
    "then made green": start.replace_shape(0, center=(38, 58), colour="green"),
    "then moved right": start.replace_shape(0, center=(58, 36), colour="green"),
}
scenes = list(edits.values())
captions = caption(scenes)
found = detect(scenes)
figure = scene_grid(scenes, list(edits), height=250)
for index, (name, scene) in enumerate(edits.items()):
    mark = "✓" if captions[index] == target_caption(scene) else "✗"
    print(f"{name:20} target: {target_caption(scene)}\n{'':20} BLIP:   {captions[index]} {mark}")
    boxes = []
    for score, label, box in zip(found[index]["scores"], found[index]["labels"], found[index]["boxes"].tolist()):
        kind = detector.config.id2label[int(label)]
        add_box(figure, box, 1, index + 1, KIND_COLORS[kind], text=f"{kind} {score:.2f}")
        boxes.append(f"{kind} {tuple(round(v) for v in box)} {score:.2f}")
    print(f"{'':20} YOLOS:  " + (", ".join(boxes) or "-"))
figure.update_layout(title="one scene, edited: the boxes the detector finds (score > 0.5)")
figure
""")

md("edit-reading", r"""
What follows the edit: the **colour word** (red becomes green in the caption as in the picture),
the named shapes, and the detector's boxes, which move with the circle. What does not: the
**relation**, which the captioner gets wrong in all four (it has not learned relations, as its
card says), and the detector's **kind** for the small circle: it calls it a square, or gives it
two boxes, a square and a triangle (circles are its weakest kind, AP 0.45 on the new scenes). In
two of the four it also puts a second box on the large square: a duplicate, which mAP counts as a
false positive. Try a large circle, another
colour, a triangle, or a third shape: `Scene((Shape(...), Shape(...), Shape(...)))`.
""")

# ----------------------------------------------------------------------------------------------
md("exercise-intro", r"""
## 7. Your turn: attention_share

Section 5 asked how much of a word's attention lands on a shape. Write the box version, the one
you would use with a detector's boxes:

```python
def attention_share(pattern, box, patch_size):
```

* `pattern` (n,): one caption position's cross-attention over `[CLS]` and the g x g patches, row
  by row (n = 1 + g·g; it sums to 1);
* `box` `(x0, y0, x1, y1)` in pixels, `x1` and `y1` exclusive (a row of `scene.boxes_xyxy()`);
* `patch_size` P: the image is g·P pixels across;
* return a float: the part of the row's **whole** attention (`[CLS]` included in the total) that
  lands on the patches the box touches (shares at least one pixel with);
* raise a `ValueError` naming the box when it is empty or reaches outside the image.

The checker, `check_attention_share`, tries 8- and 16-pixel patches and boxes that end on patch
borders, and names the usual slips: `[CLS]` read as the first patch, rows taken from x, the
exclusive edge read as inclusive, only the patches wholly inside the box, the share renormalised
without `[CLS]`, a grid side fixed at 8, bad boxes accepted.
""")

code("exercise", r'''
from hfexplain.exercises.multimodal import check_attention_share


def attention_share(pattern, box, patch_size):
    """(1 + g*g,) attention row, (x0, y0, x1, y1) pixel box -> the share of the row on the patches the box touches."""
    ...


check_attention_share(attention_share)
''')

md("typical-slip-note", r"""
A typical slip: treating the box's far edge as the last pixel inside it. Here `x1 // P` is one
patch too far whenever the box ends on a patch border:
""")

code("typical-slip", r"""
def inclusive_edges(pattern, box, patch_size):
    x0, y0, x1, y1 = box
    side = math.isqrt(len(pattern) - 1)
    if not (0 <= x0 < x1 <= side * patch_size and 0 <= y0 < y1 <= side * patch_size):
        raise ValueError(f"box {box} is empty or outside the image")
    patches = pattern[1:].reshape(side, side)  # (rows, cols)
    return float(patches[y0 // patch_size:y1 // patch_size + 1, x0 // patch_size:x1 // patch_size + 1].sum())


check_attention_share(inclusive_edges)
""")

md("solution", r"""
### Solution

Try it yourself first! Then compare with this version.
""")

code("solution-code", r'''
def attention_share(pattern, box, patch_size):
    """(1 + g*g,) attention row, (x0, y0, x1, y1) pixel box -> the share of the row on the patches the box touches."""
    side = math.isqrt(pattern.shape[0] - 1)  # g: the grid is g x g patches
    x0, y0, x1, y1 = box
    if not (0 <= x0 < x1 <= side * patch_size and 0 <= y0 < y1 <= side * patch_size):
        raise ValueError(f"box {box} is empty or reaches outside the {side * patch_size}x{side * patch_size} image; "
                         "give (x0, y0, x1, y1) in pixels with x0 < x1 and y0 < y1")
    patches = pattern[1:].reshape(side, side)  # (rows, cols): [CLS] left out
    rows = slice(y0 // patch_size, (y1 - 1) // patch_size + 1)  # y1 is one past the last pixel
    cols = slice(x0 // patch_size, (x1 - 1) // patch_size + 1)
    return float(patches[rows, cols].sum())


check_attention_share(attention_share)
''')

code("solution-on-scene", r"""
# on section 5's scene: the share of each word's attention on each shape's box
boxes = shown[example].boxes_xyxy().tolist()
for index, word in enumerate(written_words):
    print(f"{word:>10}: " + ", ".join(f"{attention_share(looked[index], box, 8):.2f} on the {s.colour} {s.kind}'s box"
                                      for box, s in zip(boxes, shown[example].shapes)))
""")

# ----------------------------------------------------------------------------------------------
md("summary", r"""
## Summary

* The **shapes world** is code: scenes of shapes, rendered pixel by pixel, with exact boxes and a
  caption derived from the scene. Change it and every label follows.
* **YOLOS** finds shapes with detection tokens; the trained tiny one scores mAP@0.5 0.529 on its
  held-out scenes (section 2 measured the new ones), misses some shapes and confuses some kinds.
* **BLIP's captioner** is a ViT whose states a BERT-style decoder reads through a cross-attention
  in every layer; written by hand it gives the library's tokens and transformers' logits. The
  trained tiny one names shapes well and relations at chance.
* The `cross_pattern` hook (stack `"text"`) shows where each word was chosen from, over the 8 x 8
  patches: a kind word puts most of its attention on the shape it names.
* A scene is data: edit it and the picture, boxes and target caption follow; the models' answers
  show what they did and did not learn.

Next: read `hfexplain/models/blip.py` (`BlipTextLayer`: self-attention, cross-attention, MLP;
`BlipForConditionalGeneration.generate`: how the decoder starts and stops), `hfexplain/data/shapes.py`
(change the world), and the two training scripts, `scripts/train_tiny_yolos_shapes.py` and
`scripts/train_tiny_blip_shapes.py`.
""")


if __name__ == "__main__":
    lesson.main()
