"""Image and mask input, prompt checks, boxes and COCO RLE for the built-in skills.

Conventions (LLaVA-Plus): boxes are normalised [x0, y0, x1, y1] in 0..1 of the source image,
rounded to 2 decimals in results; masks are PNG artifacts (0 or 255, the image's size) plus
COCO RLE in the result.
"""
import math
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .protocol import InputError

# Larger images are refused from the header, before any pixel is decoded. The side limit is
# the Imaging module's (DecodingLimits); the pixel limit is half of its 100 megapixels because
# an edit holds several copies (a float one among them) within the skill's memory limit.
MAX_SIDE = 16_384
MAX_PIXELS = 50_000_000
# Pillow's own bomb check would raise its own message first; ours replaces it.
Image.MAX_IMAGE_PIXELS = None


def _open(path, param: str) -> Image.Image:
    if not isinstance(path, str) or not path:
        raise InputError(f"{param}: expected an image artifact")
    if not Path(path).is_file():
        raise InputError(f"{param}: no file at {path}")
    try:
        image = Image.open(path)  # reads the header only
    except UnidentifiedImageError:
        raise InputError(f"{param}: the file is not an image (expected PNG, JPEG, GIF, BMP or WebP)") from None
    except OSError as error:
        raise InputError(f"{param}: cannot read the image: {error}") from None
    width, height = image.size
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise InputError(f"{param}: the image is {width} x {height} pixels; at most {MAX_PIXELS // 1_000_000} megapixels "
                         f"and {MAX_SIDE} pixels a side are accepted")
    if width == 0 or height == 0:
        raise InputError(f"{param}: the image is empty ({width} x {height})")
    return image


def _decode(image: Image.Image, mode: str, param: str) -> Image.Image:
    try:
        return image.convert(mode)
    except (OSError, ValueError) as error:  # truncated or corrupt pixel data
        raise InputError(f"{param}: the image data is damaged: {error}") from None


def load_rgb(path, param: str = "image") -> np.ndarray:
    """The image as an H x W x 3 uint8 RGB array (first frame of animations)."""
    return np.asarray(_decode(_open(path, param), "RGB", param))


def load_mask(path, shape: tuple, param: str = "mask") -> np.ndarray:
    """A mask artifact as an H x W bool array that must match `shape` (H, W): the alpha
    channel if it has one (a cut-out), otherwise its grey level above half."""
    image = _open(path, param)
    if (image.height, image.width) != tuple(shape[:2]):
        raise InputError(f"{param}: the mask is {image.width} x {image.height} but the image is {shape[1]} x {shape[0]}; "
                         "expected a mask made for this image")
    if "A" in image.getbands():
        return np.asarray(_decode(image, "RGBA", param))[..., 3] > 127
    mask = np.asarray(_decode(image, "L", param)) > 127
    if not mask.any():
        raise InputError(f"{param}: the mask is empty (no pixel above half grey)")
    return mask


def parse_box(value, param: str) -> tuple:
    """A normalised [x0, y0, x1, y1] with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1."""
    if not (isinstance(value, (list, tuple)) and len(value) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise InputError(f"{param}: expected a normalised box [x0, y0, x1, y1] of 4 numbers in 0..1, got {value!r}")
    x0, y0, x1, y1 = (float(v) for v in value)
    if not all(0 <= v <= 1 for v in (x0, y0, x1, y1)):
        raise InputError(f"{param}: {list(value)} is outside the image; coordinates are normalised to 0..1 "
                         "(divide pixels by the width and height)")
    if not (x0 < x1 and y0 < y1):
        raise InputError(f"{param}: {list(value)} is empty or inverted; expected x0 < x1 and y0 < y1")
    return x0, y0, x1, y1


def parse_point(value, param: str) -> tuple:
    """A normalised [x, y] in 0..1."""
    if not (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise InputError(f"{param}: expected a normalised point [x, y] in 0..1, got {value!r}")
    if not all(0 <= v <= 1 for v in value):
        raise InputError(f"{param}: {list(value)} is outside the image; coordinates are normalised to 0..1")
    return float(value[0]), float(value[1])


def box_to_pixels(box, width: int, height: int) -> tuple:
    """Pixel bounds (x0, y0, x1, y1), end-exclusive, covering at least one pixel."""
    x0 = min(int(math.floor(box[0] * width)), width - 1)
    y0 = min(int(math.floor(box[1] * height)), height - 1)
    x1 = max(int(math.ceil(box[2] * width)), x0 + 1)
    y1 = max(int(math.ceil(box[3] * height)), y0 + 1)
    return x0, y0, x1, y1


def normalised_box(x0, y0, x1, y1, width: int, height: int) -> list:
    """Pixel bounds to the LLaVA-Plus form: normalised, 2 decimals, clipped to 0..1."""
    return [round(min(max(float(v) / s, 0.0), 1.0), 2) for v, s in ((x0, width), (y0, height), (x1, width), (y1, height))]


def mask_box(mask: np.ndarray):
    """The tight pixel bounds (x0, y0, x1, y1) of a non-empty mask, end-exclusive."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def rle_encode(mask: np.ndarray) -> dict:
    """COCO RLE of a bool mask: runs over the column-major pixels, starting with a run of
    zeros, written in the compact string form pycocotools uses (6-bit groups, each run
    after the second stored as the difference from the run two before)."""
    height, width = mask.shape
    flat = mask.reshape(-1, order="F").astype(np.int8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate(([0], changes, [flat.size]))
    counts = np.diff(edges).tolist()
    if flat.size and flat[0] == 1:
        counts = [0] + counts
    chars = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        while True:
            c = x & 0x1F
            x >>= 5  # arithmetic shift: negative differences end at -1
            more = x != -1 if c & 0x10 else x != 0
            chars.append(chr(c + (0x20 if more else 0) + 48))
            if not more:
                break
    return {"size": [height, width], "counts": "".join(chars)}


def rle_decode(rle: dict) -> np.ndarray:
    """The bool mask of a compact COCO RLE (the inverse of rle_encode)."""
    height, width = rle["size"]
    text = rle["counts"]
    counts, p = [], 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            c = ord(text[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    values = np.zeros(sum(counts), dtype=bool)
    position = 0
    for i, count in enumerate(counts):
        if i % 2:
            values[position:position + count] = True
        position += count
    return values.reshape((height, width), order="F")


def save_png(pixels: np.ndarray, output_dir: Path, name: str) -> str:
    """Writes an image (H x W [x C] uint8) or a bool mask (as 0/255) to the output folder."""
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * 255
    path = Path(output_dir) / name
    Image.fromarray(pixels).save(path, optimize=False, compress_level=3)
    return str(path)
