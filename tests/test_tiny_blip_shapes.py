"""The packaged tiny BLIP captioner (hfexplain/assets/tiny-blip-shapes) and its card.

* the folder is small, complete (model, image processor, tokenizer, processor), ships as package data,
  and loads in hfexplain and in transformers with the same pixel values, the same token ids, the same
  logits and token-identical greedy captions on held-out scenes;
* the card's exact-match on its quick held-out subset equals what this test measures, each caption
  compared with the scene's own ``caption()`` (its shapes listed by colour, then kind, as the card says),
  and the card's headline beats its own baseline;
* a saved-and-reloaded copy gives the same logits and captions;
* captioning without an image is a clear error (model, processor + model, pipeline);
* a few training steps of the script, run twice with one seed, give bitwise identical weights;
  the script refuses bad arguments before doing anything.
"""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest
from training_scripts import load_script
import torch

from hfexplain import AutoProcessor, BlipForConditionalGeneration
from hfexplain.assets import tiny_blip_shapes_path
from hfexplain.data.shapes import COLOURS, KINDS, Scene, make_scenes

from conftest import quiet_transformers

ROOT = Path(__file__).resolve().parents[1]
MAX_NEW_TOKENS = 30  # the card's advice: a three-shape caption is longer than the default max_length


@pytest.fixture(scope="module")
def script():
    return load_script("train_tiny_blip_shapes")


@pytest.fixture(scope="module")
def card() -> str:
    return (Path(tiny_blip_shapes_path()) / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def captioner():
    path = tiny_blip_shapes_path()
    return BlipForConditionalGeneration.from_pretrained(path).eval(), AutoProcessor.from_pretrained(path)


def by_colour_then_kind(scene: Scene) -> str:
    """The scene's own caption() with its shapes listed by colour, then kind (the card's target), written
    here from the world's lists, not taken from the script."""
    order = sorted(scene.shapes, key=lambda shape: (list(COLOURS).index(shape.colour), KINDS.index(shape.kind)))
    return Scene(tuple(order), scene.image_size).caption()


def greedy(model, processor, scenes) -> tuple[torch.Tensor, list[str]]:
    pixel_values = processor(images=[scene.render() for scene in scenes], return_tensors="pt")["pixel_values"]
    ids = model.generate(pixel_values, max_new_tokens=MAX_NEW_TOKENS)
    return ids, processor.batch_decode(ids, skip_special_tokens=True)


def test_folder_is_small_complete_and_ships_as_package_data():
    import tomllib

    folder = Path(tiny_blip_shapes_path())
    for file in ("config.json", "model.safetensors", "preprocessor_config.json", "processor_config.json",
                 "tokenizer_config.json", "tokenizer.json", "vocab.txt", "special_tokens_map.json", "README.md"):
        assert (folder / file).is_file(), file
    assert sum(file.stat().st_size for file in folder.iterdir()) < 10e6
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "hfexplain.assets"]
    for file in folder.iterdir():
        assert any(fnmatch.fnmatch(f"{folder.name}/{file.name}", pattern) for pattern in patterns), file.name


def test_missing_asset_is_a_clear_error(tmp_path, monkeypatch):
    import hfexplain.assets as assets

    monkeypatch.setattr(assets, "_ASSETS_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="tiny BLIP shapes captioner is missing.*train_tiny_blip_shapes.py"):
        assets.tiny_blip_shapes_path()


def test_tokenizer_holds_the_worlds_words_and_blips_specials(captioner):
    _, processor = captioner
    tokenizer = processor.tokenizer
    assert type(processor).__name__ == "BlipProcessor"
    assert tokenizer.bos_token == "[DEC]" and tokenizer.sep_token == "[SEP]" and tokenizer.pad_token == "[PAD]"
    for scene in make_scenes(50, seed=7):  # captions in both orders, 1-3 shapes
        for caption in (scene.caption(), by_colour_then_kind(scene)):
            ids = tokenizer(caption)["input_ids"]
            assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
            assert tokenizer.unk_token_id not in ids, caption
            assert tokenizer.decode(ids, skip_special_tokens=True) == caption


def test_loads_in_transformers_with_identical_logits_and_greedy_captions(captioner):
    transformers = quiet_transformers()
    ours, our_processor = captioner
    path = tiny_blip_shapes_path()
    theirs = transformers.BlipForConditionalGeneration.from_pretrained(path).eval()
    their_processor = transformers.AutoProcessor.from_pretrained(path)
    assert type(their_processor).__name__ == "BlipProcessor"
    assert type(their_processor.tokenizer).__name__ == "BertTokenizer"
    scenes = make_scenes(6, seed=1)  # held-out scenes (data seed 1), 1-3 shapes
    captions = [by_colour_then_kind(scene) for scene in scenes]
    images = [scene.render() for scene in scenes]
    mine = our_processor(images=images, text=captions, padding=True, return_tensors="pt")
    reference = their_processor(images=images, text=captions, padding=True, return_tensors="pt")
    assert sorted(mine) == sorted(reference) == ["attention_mask", "input_ids", "pixel_values"]
    assert torch.equal(mine["input_ids"], reference["input_ids"])
    assert torch.allclose(mine["pixel_values"], reference["pixel_values"], atol=1e-6)
    with torch.no_grad():
        our_logits = ours(**mine).logits
        their_logits = theirs(**mine).logits
    assert torch.allclose(our_logits, their_logits, atol=1e-5)
    our_ids, our_text = greedy(ours, our_processor, scenes)
    their_ids = theirs.generate(pixel_values=reference["pixel_values"], max_new_tokens=MAX_NEW_TOKENS)
    assert torch.equal(our_ids, their_ids)
    assert our_text == their_processor.batch_decode(their_ids, skip_special_tokens=True)
    print(*(f"{said!r} / {truth!r}" for said, truth in zip(our_text, captions)), sep="\n")


def test_card_exact_match_equals_a_remeasurement(captioner, card, script):
    model, processor = captioner
    match = re.search(r"On the first (\d+) held-out scenes alone: exact-match ([0-9.]+)", card)
    quick, card_quick = int(match.group(1)), float(match.group(2))
    assert quick == script.N_QUICK
    scenes = make_scenes(quick, script.TEST_DATA_SEED)  # the card's held-out scenes start with these
    _, captions = greedy(model, processor, scenes)
    exact = sum(said == by_colour_then_kind(scene) for said, scene in zip(captions, scenes)) / quick
    assert round(exact, 3) == card_quick
    drawing_order = sum(said == scene.caption() for said, scene in zip(captions, scenes)) / quick
    assert drawing_order <= exact + 0.1  # the drawing order is invisible: it can only be matched by luck
    row = r"^\| {name} \| {cell} \|"
    number = r"\*?\*?([0-9.]+)\*?\*?"
    headline = float(re.search(row.format(name=r"\*\*this model\*\*", cell=number), card, flags=re.M).group(1))
    baseline = float(re.search(row.format(name=r'baseline: always "[^"]+"', cell=number), card, flags=re.M).group(1))
    assert headline > baseline  # the card's own comparison
    # the card's hand-check table: its first rows are these scenes' targets and these greedy captions
    rows = re.findall(r"^\| (\d) \| (a [^|]+) \| ([^|]*) \| (yes|no) \|$", card, flags=re.M)
    assert len(rows) >= 5 and [int(row[0]) for row in rows] == list(range(len(rows)))
    for (_, target, said, exact_word), scene, caption in zip(rows, scenes, captions):
        assert target.strip() == by_colour_then_kind(scene)
        assert said.strip() == caption
        assert (exact_word == "yes") == (caption == target.strip())


def test_saved_and_reloaded_copy_gives_the_same_logits_and_captions(captioner, tmp_path):
    model, processor = captioner
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    again = BlipForConditionalGeneration.from_pretrained(tmp_path).eval()
    again_processor = AutoProcessor.from_pretrained(tmp_path)
    scenes = make_scenes(4, seed=1)
    inputs = processor(images=[s.render() for s in scenes], text=[s.caption() for s in scenes], padding=True,
                       return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, again(**inputs).logits)
    assert greedy(model, processor, scenes)[1] == greedy(again, again_processor, scenes)[1]


def test_captioning_without_an_image_is_a_clear_error(captioner):
    import hfexplain

    model, processor = captioner
    with pytest.raises(ValueError, match="BLIP reads an image: pass pixel_values"):
        model.generate(max_new_tokens=5)
    prompt = processor(text="a small", return_tensors="pt")  # text alone: no pixel_values to caption
    assert "pixel_values" not in prompt
    with pytest.raises(ValueError, match="BLIP reads an image: pass pixel_values"):
        model.generate(**prompt, max_new_tokens=5)
    pipe = hfexplain.pipeline("image-to-text", model=tiny_blip_shapes_path())
    with pytest.raises(ValueError, match=r"needs an image to caption: pipe\('photo.png'\)"):
        pipe()
    scene = make_scenes(1, seed=1)[0]
    assert pipe(scene.render(), max_new_tokens=MAX_NEW_TOKENS) == [
        {"generated_text": greedy(model, processor, [scene])[1][0]}]


def test_same_seed_gives_bitwise_identical_weights(tmp_path, script):
    from safetensors.torch import load_file

    threads = torch.get_num_threads()
    try:
        for folder in ("a", "b"):
            script.main(["--out", str(tmp_path / folder), "--seed", "3", "--steps", "3", "--warmup", "1",
                         "--train-scenes", "48", "--test-scenes", "8", "--vision-hidden-size", "16",
                         "--text-hidden-size", "16", "--vision-layers", "1", "--text-layers", "1", "--heads", "2",
                         "--batch-size", "16", "--log-every", "1"])
    finally:
        torch.set_num_threads(threads)
    first, second = (load_file(tmp_path / folder / "model.safetensors") for folder in ("a", "b"))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert "## Results" in (tmp_path / "a" / "README.md").read_text()
    assert AutoProcessor.from_pretrained(tmp_path / "a").tokenizer.bos_token == "[DEC]"


@pytest.mark.parametrize("arguments, message", [
    (["--steps", "0"], "--steps must be at least 1"),
    (["--text-hidden-size", "30", "--heads", "4"], "--text-hidden-size .* divisible by --heads"),
    (["--patch-size", "7"], "must divide the image size 64"),
    (["--warmup", "50", "--steps", "10"], "--warmup 50 must be between 0 and --steps 10"),
    (["--dropout", "1.5"], "--dropout must be in"),
    (["--vision-hidden-size", "30", "--heads", "2"], "sincos needs --vision-hidden-size divisible by 4"),
])
def test_bad_arguments_are_refused_before_anything_is_written(arguments, message, tmp_path, capsys, script):
    out = tmp_path / "out"
    with pytest.raises(SystemExit):
        script.main(["--out", str(out), *arguments])
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists()


def test_collator_pads_starts_from_dec_and_masks_the_padding(script):
    collate = script.CaptionCollator(pad_token_id=0, bos_token_id=9)
    batch = collate([{"pixel_values": torch.zeros(3, 64, 64), "input_ids": torch.tensor([2, 5, 6, 3])},
                     {"pixel_values": torch.ones(3, 64, 64), "input_ids": torch.tensor([2, 7, 3])}])
    assert batch["input_ids"].tolist() == [[9, 5, 6, 3], [9, 7, 3, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert batch["labels"].tolist() == [[9, 5, 6, 3], [9, 7, 3, -100]]
    assert batch["pixel_values"].shape == (2, 3, 64, 64)
    with pytest.raises(KeyError, match="CaptionCollator needs 'pixel_values' and 'input_ids'"):
        collate([{"pixel_values": torch.zeros(3, 64, 64)}])


def test_scoring_by_hand(script):
    from hfexplain.data.shapes import Shape

    # drawn blue square first, red circle second; the target names the red circle first (red before blue)
    scene = Scene((Shape("square", "blue", (44, 44), "large", 20), Shape("circle", "red", (14, 14), "small", 10)))
    assert scene.caption() == "a large blue square below a small red circle"
    target = "a small red circle above a large blue square"
    assert script.target_caption(scene) == by_colour_then_kind(scene) == target
    said = [target,
            "a small green circle above a large blue square",  # one colour wrong
            "a large blue square below a small red circle",  # right, in the drawing order
            "a small red circle",  # one shape missing
            "a small red circle to the left of a large blue square"]  # the relation wrong
    rows = [script.score_captions([caption], [scene]) for caption in said]
    assert [row["exact"] for row in rows] == [1, 0, 0, 0, 0]
    assert [row["exact_drawing_order"] for row in rows] == [0, 0, 1, 0, 0]
    assert [row["exact_any_order"] for row in rows] == [1, 0, 1, 0, 0]
    assert [row["count"] for row in rows] == [1, 1, 1, 0, 1]
    assert [row["colour"] for row in rows] == [1, 0.5, 0, 0.5, 1]
    assert [row["kind"] for row in rows] == [1, 1, 0, 0.5, 1]
    assert [row["size"] for row in rows] == [1, 1, 0, 0.5, 1]
    assert [row["relation"] for row in rows] == [1, 1, 0, 0, 0]
    both = script.score_captions(said[:2], [scene, scene])
    assert both["exact"] == 0.5 and both["colour"] == 0.75 and both["n_shapes"] == 4 and both["n_relations"] == 2
