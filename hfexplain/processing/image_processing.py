"""BaseImageProcessor: images (PIL, NumPy, torch) -> ``pixel_values`` (b, c, h, w).

The pipeline of transformers' image processors (5.x, the PIL backend), step by step::

    each image -> (c, h, w) array  [grayscale gets a channel axis; HWC is moved to CHW]
               -> convert_to_rgb   (do_convert_rgb)
               -> resize           (do_resize, size, resample)
               -> center_crop      (do_center_crop, crop_size)
               -> rescale          (do_rescale, rescale_factor: bytes -> [0, 1])
               -> normalize        (do_normalize, image_mean, image_std)
    stack -> BatchFeature({"pixel_values": ...}, return_tensors)

A family's image processor is a subclass that sets class-level defaults, exactly as in
transformers (ViT: ``size = {"height": 224, "width": 224}``, ``do_resize = do_rescale =
do_normalize = True``, ``image_mean = image_std = [0.5, 0.5, 0.5]``). Every setting can be
overridden per instance (``ViTImageProcessor(size=...)``), in ``preprocessor_config.json``, or per
call (``processor(images, do_resize=False)``).

``size`` takes transformers' size dicts: ``{"height", "width"}`` (exact), ``{"shortest_edge"}``
(shorter edge, aspect kept), ``{"shortest_edge", "longest_edge"}``, ``{"max_height",
"max_width"}``; an int means a square (or the shortest edge when ``default_to_square = False``).
"""
from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from . import image_transforms
from .base import ImageProcessingMixin
from .batch_feature import BatchFeature
from .image_transforms import BILINEAR, CHANNELS_FIRST, CHANNELS_LAST

IMAGENET_DEFAULT_MEAN = [0.485, 0.456, 0.406]
IMAGENET_DEFAULT_STD = [0.229, 0.224, 0.225]
IMAGENET_STANDARD_MEAN = [0.5, 0.5, 0.5]
IMAGENET_STANDARD_STD = [0.5, 0.5, 0.5]

# The settings the pipeline reads: class defaults, instance settings and call arguments.
PREPROCESS_SETTINGS = (
    "do_convert_rgb",
    "do_resize",
    "size",
    "resample",
    "do_center_crop",
    "crop_size",
    "do_rescale",
    "rescale_factor",
    "do_normalize",
    "image_mean",
    "image_std",
)

IMAGE_CHANNELS = (1, 3, 4)  # grey, RGB, RGBA: what an image may hold

_VALID_SIZE_KEYS = (
    {"height", "width"},
    {"shortest_edge"},
    {"shortest_edge", "longest_edge"},
    {"longest_edge"},
    {"max_height", "max_width"},
)


def get_size_dict(size, default_to_square: bool = True, param_name: str = "size") -> dict[str, int]:
    """transformers' size dict from an int, an (h, w) pair or a dict (checked)."""
    if isinstance(size, int):
        size = {"height": size, "width": size} if default_to_square else {"shortest_edge": size}
    elif isinstance(size, (tuple, list)) and len(size) == 2:
        size = {"height": size[0], "width": size[1]}
    elif not isinstance(size, dict):
        raise ValueError(f"{param_name} must be an int, a (height, width) pair or a dict, got {size!r}.")
    if set(size) not in _VALID_SIZE_KEYS:
        raise ValueError(
            f"{param_name} must have one of these sets of keys: {[sorted(keys) for keys in _VALID_SIZE_KEYS]}, "
            f"got {sorted(size)}."
        )
    return dict(size)


class BaseImageProcessor(ImageProcessingMixin):
    """The shared image pipeline; a family subclasses it and sets its defaults as class attributes."""

    model_input_names: ClassVar[list[str]] = ["pixel_values"]
    preprocess_settings: ClassVar[tuple[str, ...]] = PREPROCESS_SETTINGS  # what a call may override
    default_to_square: ClassVar[bool] = True

    # Defaults (None: step off / not set). Subclasses override these, as transformers' processors do.
    do_convert_rgb: bool | None = None
    do_resize: bool | None = None
    size: dict[str, int] | None = None
    resample: int = BILINEAR
    do_center_crop: bool | None = None
    crop_size: dict[str, int] | None = None
    do_rescale: bool | None = None
    rescale_factor: float = 1 / 255
    do_normalize: bool | None = None
    image_mean: float | list[float] | None = None
    image_std: float | list[float] | None = None

    def __init__(self, **settings: Any):
        for name in PREPROCESS_SETTINGS:
            value = settings.pop(name, None)
            setattr(self, name, copy.deepcopy(getattr(type(self), name)) if value is None else value)
        super().__init__(**settings)  # other keys are kept as they are
        self.size, self.crop_size = self._standardize_sizes(self.size, self.crop_size)

    def _standardize_sizes(self, size, crop_size):
        if size is not None:
            size = get_size_dict(size, default_to_square=self.default_to_square)
        if crop_size is not None:
            crop_size = get_size_dict(crop_size, param_name="crop_size")
        return size, crop_size

    def to_dict(self) -> dict[str, Any]:
        """The settings, leaving out those that are None and None by default (as transformers writes them)."""
        output = super().to_dict()
        for name in PREPROCESS_SETTINGS:
            if output.get(name, 0) is None and getattr(type(self), name, None) is None:
                del output[name]
        for name in ("image_mean", "image_std"):
            if isinstance(output.get(name), tuple):
                output[name] = list(output[name])
        return output

    # -- the steps, each one of image_transforms' functions on a (c, h, w) array -------------------
    def rescale(self, image: np.ndarray, scale: float, **kwargs) -> np.ndarray:
        return image_transforms.rescale(image, scale, **kwargs)

    def normalize(self, image: np.ndarray, mean, std, **kwargs) -> np.ndarray:
        return image_transforms.normalize(image, mean, std, **kwargs)

    def center_crop(self, image: np.ndarray, size: dict[str, int], **kwargs) -> np.ndarray:
        size = get_size_dict(size, param_name="crop_size")
        if "height" not in size or "width" not in size:
            raise ValueError(f"crop_size needs 'height' and 'width', got {sorted(size)}.")
        return image_transforms.center_crop(image, (size["height"], size["width"]), **kwargs)

    def resize(self, image: np.ndarray, size: dict[str, int], resample: int | None = None, **kwargs) -> np.ndarray:
        """Resize a (c, h, w) image to the (h, w) that ``size`` asks for (see the module docstring)."""
        size = get_size_dict(size, default_to_square=self.default_to_square)
        height, width = image.shape[-2], image.shape[-1]
        if "shortest_edge" in size and "longest_edge" in size:
            new_size = image_transforms.get_size_with_aspect_ratio(
                (height, width), size["shortest_edge"], size["longest_edge"]
            )
        elif "shortest_edge" in size:
            new_size = image_transforms.get_resize_output_image_size(
                image, size["shortest_edge"], default_to_square=False, input_data_format=CHANNELS_FIRST
            )
        elif "max_height" in size:
            scale = min(size["max_height"] / height, size["max_width"] / width)
            new_size = (int(height * scale), int(width * scale))
        elif "height" in size:
            new_size = (size["height"], size["width"])
        else:
            raise ValueError(f"resize() cannot use a size of only {sorted(size)}; give 'height' and 'width'.")
        return image_transforms.resize(
            image, new_size, resample=resample, data_format=CHANNELS_FIRST, input_data_format=CHANNELS_FIRST, **kwargs
        )

    # -- the call ---------------------------------------------------------------------------------
    def __call__(self, images, **kwargs) -> BatchFeature:
        return self.preprocess(images, **kwargs)

    def preprocess(
        self, images, *, return_tensors: str | None = None, input_data_format: str | None = None, **overrides
    ) -> BatchFeature:
        """One image or a list of images -> ``BatchFeature({"pixel_values": ...})``.

        ``overrides`` are any of the settings (``do_resize=False``, ``size={"height": 32, "width": 32}``)
        for this call only. ``return_tensors="pt"`` stacks them into a (b, c, h, w) tensor.
        """
        unknown = sorted(set(overrides) - set(PREPROCESS_SETTINGS))
        if unknown:
            raise TypeError(
                f"{type(self).__name__}() got unexpected argument(s) {unknown}; the settings are "
                f"{list(PREPROCESS_SETTINGS)}, plus return_tensors and input_data_format."
            )
        settings = {name: overrides.get(name, getattr(self, name)) for name in PREPROCESS_SETTINGS}
        settings["size"], settings["crop_size"] = self._standardize_sizes(settings["size"], settings["crop_size"])
        _check_settings(settings)

        processed = []
        for image in _make_list_of_images(images):
            image = self.process_image(image, settings["do_convert_rgb"], input_data_format)  # (c, h, w)
            if settings["do_resize"]:
                image = self.resize(image, settings["size"], resample=settings["resample"])
            if settings["do_center_crop"]:
                image = self.center_crop(image, settings["crop_size"], input_data_format=CHANNELS_FIRST)
            if settings["do_rescale"]:
                image = self.rescale(image, settings["rescale_factor"])
            if settings["do_normalize"]:
                _check_channels_match(image, settings["image_mean"], settings["do_convert_rgb"])
                image = self.normalize(
                    image, settings["image_mean"], settings["image_std"], input_data_format=CHANNELS_FIRST
                )
            processed.append(image)
        return BatchFeature({"pixel_values": processed}, tensor_type=return_tensors)

    def process_image(self, image, do_convert_rgb: bool | None = None, input_data_format: str | None = None):
        """One PIL image, array or tensor -> a (c, h, w) NumPy array (its dtype kept)."""
        is_pil = _is_pil_image(image)
        if type(image).__module__.startswith("torch"):
            image = image.numpy()
        if do_convert_rgb:
            image = image_transforms.convert_to_rgb(image, input_data_format=input_data_format)
            if is_pil:
                input_data_format = CHANNELS_LAST
        elif is_pil:
            image = np.array(image)
        if image.ndim == 2:
            return image[None]  # (h, w) -> (1, h, w)
        if is_pil:
            return np.moveaxis(image, -1, 0)  # PIL gives (h, w, c)
        if image.ndim == 3 and input_data_format is None and not set(image.shape[::2]) & set(IMAGE_CHANNELS):
            raise ValueError(
                f"an image needs 1 (grey), 3 (RGB) or 4 (RGBA) channels on its first or last axis, got shape "
                f"{tuple(image.shape)}. Give (h, w, c) or (c, h, w) with c in {IMAGE_CHANNELS}, e.g. "
                "PIL.Image.fromarray(...).convert('RGB'); pass input_data_format= if the channel axis is ambiguous."
            )
        if input_data_format is None:
            input_data_format = image_transforms.infer_channel_dimension_format(image, num_channels=IMAGE_CHANNELS)
        if image_transforms._channel_format(input_data_format) == CHANNELS_LAST:
            image = np.moveaxis(image, -1, 0)
        if image.shape[0] not in IMAGE_CHANNELS:
            raise ValueError(
                f"an image needs 1 (grey), 3 (RGB) or 4 (RGBA) channels, this one has {image.shape[0]} "
                f"(shape {tuple(image.shape)} read as {input_data_format}). Convert it to RGB first."
            )
        return image


def _is_pil_image(value) -> bool:
    return type(value).__module__.startswith("PIL.")


def _is_single_image(value) -> bool:
    if _is_pil_image(value):
        return True
    return (isinstance(value, np.ndarray) or type(value).__module__.startswith("torch")) and value.ndim in (2, 3)


def load_image(path):
    """An image file (or a PIL image) -> an RGB PIL image, EXIF orientation applied, as transformers'
    ``load_image`` does. Only local files: hfexplain fetches nothing from the network (download it first).
    """
    Image = image_transforms._pil()
    from PIL import ImageOps

    if isinstance(path, Image.Image):
        return ImageOps.exif_transpose(path).convert("RGB")
    path = os.fspath(path)
    if path.startswith(("http://", "https://")):
        raise ValueError(
            f"{path!r} is a URL; hfexplain does not download images. Save the file first and pass its path, "
            "or open it yourself and pass the PIL image."
        )
    if not os.path.isfile(path):
        raise ValueError(  # ValueError, as transformers raises for an image source it cannot read
            f"no image file at {path!r} (a string is read as the path of an image file). Pass the path of an "
            "existing image file, a PIL image, or a numpy array / torch tensor of pixels."
        )
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def _is_path(value) -> bool:
    return isinstance(value, (str, os.PathLike))


def _make_list_of_images(images) -> list:
    """One image (or image path), a list of them, or a 4-D batch (b, c, h, w) / (b, h, w, c) -> a list of images."""
    if _is_path(images):
        return [load_image(images)]
    if _is_single_image(images):
        return [images]
    if (isinstance(images, np.ndarray) or type(images).__module__.startswith("torch")) and images.ndim == 4:
        return list(images)
    if isinstance(images, Sequence) and not isinstance(images, str) and images and all(
        _is_single_image(image) or _is_path(image) for image in images
    ):
        return [load_image(image) if _is_path(image) else image for image in images]
    raise TypeError(
        "images must be a PIL image, an image file path, a numpy array or torch tensor of shape (h, w), (c, h, w) or "
        f"(h, w, c), a 4-D batch of them, or a list of such images; got {type(images).__name__}"
        + (f" of {type(images[0]).__name__}" if isinstance(images, Sequence) and images else "")
        + "."
    )


def _check_channels_match(image: np.ndarray, mean, do_convert_rgb: bool | None) -> None:
    """Normalising needs one mean per channel: a grey or RGBA image meets a 3-value RGB mean here."""
    channels = image.shape[0]  # (c, h, w)
    if isinstance(mean, (list, tuple)) and len(mean) != channels:
        kind = {1: "grey", 4: "RGBA", 2: "grey + alpha"}.get(channels, f"{channels}-channel")
        hint = "do_convert_rgb=True (or image.convert('RGB'))" if not do_convert_rgb else "another image_mean"
        raise ValueError(
            f"this {kind} image has {channels} channel(s) but image_mean has {len(mean)} values (one per channel); "
            f"convert the images to RGB with {hint}."
        )


def _check_settings(settings: dict[str, Any]) -> None:
    """Each step that is on needs its values (transformers' validate_preprocess_arguments)."""
    needs = (
        ("do_rescale", ("rescale_factor",)),
        ("do_normalize", ("image_mean", "image_std")),
        ("do_resize", ("size",)),
        ("do_center_crop", ("crop_size",)),
    )
    for step, names in needs:
        missing = [name for name in names if settings[step] and settings[name] is None]
        if missing:
            raise ValueError(f"{step}=True needs {' and '.join(missing)}; set it on the processor or pass it in the call.")


__all__ = [
    "BaseImageProcessor",
    "CHANNELS_FIRST",
    "CHANNELS_LAST",
    "IMAGENET_DEFAULT_MEAN",
    "IMAGENET_DEFAULT_STD",
    "IMAGENET_STANDARD_MEAN",
    "IMAGENET_STANDARD_STD",
    "get_size_dict",
    "load_image",
]
