"""The image operations every image processor is made of, on NumPy arrays.

An image is ``(c, h, w)`` ("channels_first", what a model takes as ``pixel_values``) or
``(h, w, c)`` ("channels_last", what PIL and most files give). Each function takes
``input_data_format`` (guessed from a channel axis of size 1 or 3 when not given) and
``data_format`` for its output (the input's by default), with the same names, defaults and
results as ``transformers.image_transforms``:

- ``rescale``: ``image * scale`` (``1/255`` takes bytes to [0, 1]), computed in float64, returned as float32;
- ``normalize``: ``(image - mean) / std`` per channel;
- ``resize``: through PIL (what transformers uses without torchvision), bilinear by default;
  float images in [0, 1] go through PIL as bytes and come back rescaled;
- ``center_crop``: the middle ``(h, w)``, zero-padded when the image is smaller;
- ``to_channel_dimension_format``: HWC <-> CHW.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable
from math import ceil

import numpy as np

CHANNELS_FIRST = "channels_first"
CHANNELS_LAST = "channels_last"
_FORMATS = (CHANNELS_FIRST, CHANNELS_LAST)

# PIL's resampling filters by number, as preprocessor_config.json stores them ("resample": 2).
NEAREST, LANCZOS, BILINEAR, BICUBIC, BOX, HAMMING = 0, 1, 2, 3, 4, 5


def _channel_format(value) -> str | None:
    value = getattr(value, "value", value)  # accept transformers' ChannelDimension enum
    if value is None or value in _FORMATS:
        return value
    raise ValueError(f"data format {value!r} is not one of {list(_FORMATS)}.")


def infer_channel_dimension_format(image: np.ndarray, num_channels: int | tuple[int, ...] | None = None) -> str:
    """Guess whether an image is (c, h, w) or (h, w, c) from which axis has 1 or 3 channels.

    Both (a 3x3 image, say) -> channels first, as transformers assumes. Pass
    ``input_data_format`` to say it yourself.
    """
    num_channels = (1, 3) if num_channels is None else num_channels
    num_channels = (num_channels,) if isinstance(num_channels, int) else tuple(num_channels)
    if image.ndim not in (3, 4, 5):
        raise ValueError(
            f"an image must have 3 dimensions, (c, h, w) or (h, w, c) (4 or 5 with batch axes), got shape "
            f"{tuple(image.shape)}. Add a channel axis to a grayscale (h, w) image: image[None]."
        )
    first, last = image.ndim - 3, image.ndim - 1
    if image.shape[first] in num_channels:
        return CHANNELS_FIRST
    if image.shape[last] in num_channels:
        return CHANNELS_LAST
    raise ValueError(
        f"cannot tell the channel axis of an image of shape {tuple(image.shape)}: neither its first nor its last "
        f"axis has {' or '.join(map(str, num_channels))} channels. Pass input_data_format='channels_first' or "
        "'channels_last'."
    )


def get_channel_dimension_axis(image: np.ndarray, input_data_format: str | None = None) -> int:
    input_data_format = _channel_format(input_data_format) or infer_channel_dimension_format(image)
    return image.ndim - 3 if input_data_format == CHANNELS_FIRST else image.ndim - 1


def get_image_size(image: np.ndarray, channel_dim: str | None = None) -> tuple[int, int]:
    """``(height, width)`` of an image in either format."""
    channel_dim = _channel_format(channel_dim) or infer_channel_dimension_format(image)
    if channel_dim == CHANNELS_FIRST:
        return image.shape[-2], image.shape[-1]
    return image.shape[-3], image.shape[-2]


def to_channel_dimension_format(image, channel_dim: str, input_channel_dim: str | None = None):
    """Permute the last three axes of an array or tensor to ``channel_dim`` (leading batch axes stay)."""
    is_torch = type(image).__module__.startswith("torch")
    if not (is_torch or isinstance(image, np.ndarray)):
        raise TypeError(f"an image must be a numpy.ndarray or torch.Tensor here, got {type(image).__name__}.")
    target = _channel_format(channel_dim)
    source = _channel_format(input_channel_dim) or infer_channel_dimension_format(image)
    if source == target:
        return image
    batch_axes = list(range(image.ndim - 3))
    if target == CHANNELS_FIRST:
        axes = batch_axes + [image.ndim - 1, image.ndim - 3, image.ndim - 2]  # (h, w, c) -> (c, h, w)
    else:
        axes = batch_axes + [image.ndim - 2, image.ndim - 1, image.ndim - 3]  # (c, h, w) -> (h, w, c)
    return image.permute(*axes) if is_torch else image.transpose(axes)


def rescale(
    image: np.ndarray, scale: float, data_format: str | None = None, dtype=np.float32, input_data_format: str | None = None
) -> np.ndarray:
    """``image * scale`` (float64 on the way, ``dtype`` at the end): bytes * 1/255 -> [0, 1]."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"rescale() takes a numpy.ndarray, got {type(image).__name__}.")
    rescaled = image.astype(np.float64) * scale
    if data_format is not None:
        rescaled = to_channel_dimension_format(rescaled, data_format, input_data_format)
    return rescaled.astype(dtype)


def normalize(
    image: np.ndarray,
    mean: float | Collection[float],
    std: float | Collection[float],
    data_format: str | None = None,
    input_data_format: str | None = None,
) -> np.ndarray:
    """``(image - mean) / std`` per channel; integer images become float32, float ones keep their dtype."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"normalize() takes a numpy.ndarray, got {type(image).__name__}.")
    input_data_format = _channel_format(input_data_format) or infer_channel_dimension_format(image)
    num_channels = image.shape[get_channel_dimension_axis(image, input_data_format)]
    if not np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)

    def per_channel(values, name: str) -> np.ndarray:
        if isinstance(values, Collection):
            if len(values) != num_channels:
                raise ValueError(f"{name} must have {num_channels} elements (one per channel), got {len(values)}.")
        else:
            values = [values] * num_channels
        return np.array(values, dtype=image.dtype)

    mean, std = per_channel(mean, "mean"), per_channel(std, "std")
    if input_data_format == CHANNELS_LAST:
        image = (image - mean) / std  # (h, w, c) broadcasts against (c,)
    else:
        image = ((image.T - mean) / std).T  # (c, h, w).T is (w, h, c)
    return to_channel_dimension_format(image, data_format, input_data_format) if data_format is not None else image


def _needs_rescale_for_pil(image: np.ndarray) -> bool:
    """PIL holds bytes: an image of floats in [0, 1] is scaled to [0, 255] on the way in (and back after)."""
    if image.dtype == np.uint8:
        return False
    if np.allclose(image, image.astype(int)):
        if np.all(image >= 0) and np.all(image <= 255):
            return False
        raise ValueError(
            f"this image has values outside [0, 255] ({image.min()} to {image.max()}), which PIL cannot hold as "
            "bytes. Rescale or clip it first."
        )
    if np.all(image >= 0) and np.all(image <= 1):
        return True
    raise ValueError(
        f"this float image has values outside [0, 1] ({image.min()} to {image.max()}), which cannot be turned into "
        "bytes for PIL. Resize before normalizing, or rescale it to [0, 1] first."
    )


def _pil():
    try:
        import PIL.Image
    except ImportError as error:  # pragma: no cover - Pillow is a dependency of the lessons extra
        raise ImportError("resizing images needs Pillow: pip install pillow") from error
    return PIL.Image


def to_pil_image(image, do_rescale: bool | None = None, image_mode: str | None = None, input_data_format=None):
    """A PIL image from an array or tensor (channels last, one channel squeezed, floats in [0, 1] scaled to bytes)."""
    Image = _pil()
    if isinstance(image, Image.Image):
        return image
    if type(image).__module__.startswith("torch"):
        image = image.numpy()
    if not isinstance(image, np.ndarray):
        raise TypeError(f"to_pil_image() takes a numpy.ndarray, torch.Tensor or PIL image, got {type(image).__name__}.")
    image = to_channel_dimension_format(image, CHANNELS_LAST, input_data_format)
    image = np.squeeze(image, axis=-1) if image.shape[-1] == 1 else image
    do_rescale = _needs_rescale_for_pil(image) if do_rescale is None else do_rescale
    if do_rescale:
        image = rescale(image, 255)
    return Image.fromarray(image.astype(np.uint8), mode=image_mode)


def get_size_with_aspect_ratio(image_size: tuple[int, int], size: int, max_size: int | None = None) -> tuple[int, int]:
    """Shorter edge to ``size``, keeping the aspect ratio, the longer edge at most ``max_size`` (DETR's rule)."""
    height, width = image_size
    raw_size = None
    if max_size is not None:
        min_original, max_original = float(min(height, width)), float(max(height, width))
        if max_original / min_original * size > max_size:
            raw_size = max_size * min_original / max_original
            size = int(round(raw_size))
    if (height <= width and height == size) or (width <= height and width == size):
        return height, width
    if width < height:
        new_width = size
        new_height = int(raw_size * height / width) if raw_size is not None else int(size * height / width)
        return new_height, new_width
    new_height = size
    new_width = int(raw_size * width / height) if raw_size is not None else int(size * width / height)
    return new_height, new_width


def get_resize_output_image_size(
    input_image: np.ndarray,
    size: int | tuple[int, int] | list[int],
    default_to_square: bool = True,
    max_size: int | None = None,
    input_data_format: str | None = None,
) -> tuple[int, int]:
    """``(height, width)`` after resizing: a pair as is; an int as a square, or (``default_to_square=False``)
    as the shorter edge with the aspect ratio kept (torchvision's rule), the longer edge capped at ``max_size``."""
    if isinstance(size, (tuple, list)):
        if len(size) == 2:
            return tuple(size)
        if len(size) != 1:
            raise ValueError(f"size must be an int or have 1 or 2 elements, got {size!r}.")
        size = size[0]
    if default_to_square:
        return size, size
    height, width = get_image_size(input_image, input_data_format)
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    if max_size is not None:
        if max_size <= size:
            raise ValueError(f"max_size ({max_size}) must be larger than the shorter edge's size ({size}).")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if width <= height else (new_short, new_long)


def resize(
    image: np.ndarray,
    size: tuple[int, int],
    resample: int | None = None,
    reducing_gap: int | None = None,
    data_format: str | None = None,
    return_numpy: bool = True,
    input_data_format: str | None = None,
) -> np.ndarray:
    """Resize to ``(height, width)`` with PIL (``resample``: 2 bilinear, 3 bicubic, ...)."""
    Image = _pil()
    resample = BILINEAR if resample is None else int(getattr(resample, "value", resample))
    if len(size) != 2:
        raise ValueError(f"resize() takes size=(height, width), got {size!r}.")
    if input_data_format is None and not isinstance(image, Image.Image):
        input_data_format = infer_channel_dimension_format(image)
    input_data_format = _channel_format(input_data_format)
    data_format = input_data_format if data_format is None else _channel_format(data_format)

    do_rescale = False
    if not isinstance(image, Image.Image):
        do_rescale = _needs_rescale_for_pil(image)
        image = to_pil_image(image, do_rescale=do_rescale, input_data_format=input_data_format)
    height, width = size
    resized = image.resize((width, height), resample=Image.Resampling(resample), reducing_gap=reducing_gap)  # PIL: (w, h)
    if not return_numpy:
        return resized
    resized = np.array(resized)  # (h, w, c), or (h, w) for one channel
    resized = np.expand_dims(resized, axis=-1) if resized.ndim == 2 else resized
    resized = to_channel_dimension_format(resized, data_format or CHANNELS_LAST, input_channel_dim=CHANNELS_LAST)
    return rescale(resized, 1 / 255) if do_rescale else resized


def center_crop(
    image: np.ndarray, size: tuple[int, int], data_format: str | None = None, input_data_format: str | None = None
) -> np.ndarray:
    """The centre ``(height, width)`` of the image; a smaller image is zero-padded around first."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"center_crop() takes a numpy.ndarray, got {type(image).__name__}.")
    if not isinstance(size, Iterable) or len(size) != 2:
        raise ValueError(f"center_crop() takes size=(height, width), got {size!r}.")
    input_data_format = _channel_format(input_data_format) or infer_channel_dimension_format(image)
    output_format = _channel_format(data_format) or input_data_format

    image = to_channel_dimension_format(image, CHANNELS_FIRST, input_data_format)  # (c, h, w)
    height, width = image.shape[-2], image.shape[-1]
    crop_height, crop_width = int(size[0]), int(size[1])
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    bottom, right = top + crop_height, left + crop_width
    if top >= 0 and left >= 0 and bottom <= height and right <= width:
        return to_channel_dimension_format(image[..., top:bottom, left:right], output_format, CHANNELS_FIRST)

    # Too small on some edge: paste it in the middle of a zero canvas, then crop.
    new_height, new_width = max(crop_height, height), max(crop_width, width)
    canvas = np.zeros_like(image, shape=image.shape[:-2] + (new_height, new_width))
    top_pad, left_pad = ceil((new_height - height) / 2), ceil((new_width - width) / 2)
    canvas[..., top_pad : top_pad + height, left_pad : left_pad + width] = image
    top, bottom, left, right = top + top_pad, bottom + top_pad, left + left_pad, right + left_pad
    cropped = canvas[..., max(0, top) : min(new_height, bottom), max(0, left) : min(new_width, right)]
    return to_channel_dimension_format(cropped, output_format, CHANNELS_FIRST)


def convert_to_rgb(image, input_data_format: str | None = None):
    """Three channels as a (h, w, 3) array for a PIL image, or in the input's format for an array:
    grayscale repeated, an alpha channel composited onto white."""
    Image = _pil()
    if isinstance(image, Image.Image):
        if "A" in image.getbands() or image.info.get("transparency") is not None:
            image = image.convert("RGBA")
            background = Image.new("RGBA", image.size, (255, 255, 255, 255))
            return np.array(Image.alpha_composite(background, image).convert("RGB"))
        return np.array(image.convert("RGB"))
    input_data_format = _channel_format(input_data_format) or infer_channel_dimension_format(image, (1, 3, 4))
    channel_axis = -1 if input_data_format == CHANNELS_LAST else 0
    image = np.moveaxis(image, channel_axis, -1)  # work in (h, w, c)
    if image.shape[-1] == 1:
        rgb = np.repeat(image, 3, axis=-1)
    elif image.shape[-1] == 4:
        if np.issubdtype(image.dtype, np.floating) and (image.min() < 0.0 or image.max() > 1.0):
            raise ValueError(f"an RGBA float image must be in [0, 1] to composite, got [{image.min()}, {image.max()}].")
        white = 255 if np.issubdtype(image.dtype, np.integer) else 1.0
        alpha = image[..., 3:4] / white
        composite = alpha * image[..., :3] + (1 - alpha) * white
        rgb = np.round(composite).astype(image.dtype) if white == 255 else composite.astype(image.dtype)
    else:
        rgb = image
    return np.moveaxis(rgb, -1, channel_axis)
