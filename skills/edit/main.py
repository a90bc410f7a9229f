"""The edit skill: classical image edits that return a new image artifact.

Operations: crop, resize, rotate, flip, brightness, contrast, saturation, grayscale, blur,
sharpen, draw_boxes, overlay_mask, cutout, remove_background, inpaint. `prompt` (the
instruct-pix2pix alias's parameter) is mapped to one of them when it names one plainly
("make it black and white", "rotate 90 degrees left"); anything else is refused with the list.
"""
import re
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageEnhance, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common.imaging import (MAX_PIXELS, box_to_pixels, load_mask, load_rgb, mask_box,  # noqa: E402
                            normalised_box, parse_box, save_png)
from common.protocol import InputError, serve  # noqa: E402

MAX_BOXES = 64


def colour(params: dict, default: str) -> tuple:
    value = params.get("color", default)
    try:
        return ImageColor.getrgb(value)[:3]
    except (ValueError, AttributeError, TypeError):
        raise InputError(f"color: '{value}' is not a colour (expected a name like red or a hex code like #ff8800)") from None


def number(params: dict, name: str, default, low: float, high: float) -> float:
    value = params.get(name, default)
    if value is None:
        raise InputError(f"{name}: required by the {params.get('op')} operation")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InputError(f"{name}: expected a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def boxes_param(params: dict) -> list:
    boxes = params.get("boxes")
    if not isinstance(boxes, list) or not boxes or len(boxes) > MAX_BOXES:
        raise InputError(f"boxes: the {params['op']} operation needs 1 to {MAX_BOXES} normalised boxes [x0, y0, x1, y1]")
    return [parse_box(box, f"boxes[{i}]") for i, box in enumerate(boxes)]


def the_mask(params: dict, rgb: np.ndarray) -> np.ndarray:
    if params.get("mask") is None:
        raise InputError(f"mask: the {params['op']} operation needs a mask artifact (from the segment skill)")
    return load_mask(params["mask"], rgb.shape)


# Operations take the RGB array and the parameters and return the new image array; those
# that cut a part out (crop, cutout) also return its pixel bounds in the source.

def crop(rgb, params):
    if params.get("box") is None:
        raise InputError("box: the crop operation needs a normalised box [x0, y0, x1, y1]")
    x0, y0, x1, y1 = bounds = box_to_pixels(parse_box(params["box"], "box"), rgb.shape[1], rgb.shape[0])
    return rgb[y0:y1, x0:x1], bounds


def resize(rgb, params):
    height, width = rgb.shape[:2]
    new_w, new_h, scale = params.get("width"), params.get("height"), params.get("scale")
    if scale is not None:
        factor = number(params, "scale", None, 0.01, 16)
        new_w, new_h = round(width * factor), round(height * factor)
    elif new_w is None and new_h is None:
        raise InputError("width: the resize operation needs width, height (either keeps the aspect) or scale")
    else:
        if new_w is not None:
            new_w = int(number(params, "width", None, 1, 20000))
        if new_h is not None:
            new_h = int(number(params, "height", None, 1, 20000))
        new_w = new_w or round(width * new_h / height)
        new_h = new_h or round(height * new_w / width)
    new_w, new_h = max(1, new_w), max(1, new_h)
    if new_w * new_h > MAX_PIXELS:
        raise InputError(f"width: the result would be {new_w} x {new_h}; at most {MAX_PIXELS // 1_000_000} megapixels")
    shrinking = new_w * new_h < width * height
    return cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def rotate(rgb, params):
    """Counterclockwise by `angle` degrees; the canvas grows to hold the whole image."""
    angle = number(params, "angle", None, -360, 360)
    quarter = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
    image = Image.fromarray(rgb)
    if angle % 90 == 0:  # exact, no resampling
        turned = quarter.get(int(angle % 360))
        return np.asarray(image.transpose(turned)) if turned is not None else rgb
    radians = np.deg2rad(angle)
    new_w = abs(image.width * np.cos(radians)) + abs(image.height * np.sin(radians))
    new_h = abs(image.width * np.sin(radians)) + abs(image.height * np.cos(radians))
    if new_w * new_h > MAX_PIXELS:
        raise InputError(f"angle: the turned image would be about {new_w:.0f} x {new_h:.0f}; "
                         f"at most {MAX_PIXELS // 1_000_000} megapixels (crop or resize it first)")
    return np.asarray(image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True,
                                   fillcolor=colour(params, "black")))


def flip(rgb, params):
    direction = params.get("direction", "horizontal")
    if direction not in ("horizontal", "vertical"):
        raise InputError(f"direction: '{direction}' is not a flip direction (expected horizontal or vertical)")
    return rgb[:, ::-1] if direction == "horizontal" else rgb[::-1]


def enhance(kind):
    def apply(rgb, params):
        factor = number(params, "factor", None, 0, 10)
        return np.asarray(kind(Image.fromarray(rgb)).enhance(factor))
    return apply


def grayscale(rgb, params):
    return np.asarray(Image.fromarray(rgb).convert("L"))


def blur(rgb, params):
    """Gaussian blur of the whole image, or only of `boxes` (faces, plates)."""
    radius = number(params, "radius", 4, 0.5, 100)
    blurred = np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(radius)))
    if params.get("boxes") is None:
        return blurred
    out = rgb.copy()
    for box in boxes_param(params):
        x0, y0, x1, y1 = box_to_pixels(box, rgb.shape[1], rgb.shape[0])
        out[y0:y1, x0:x1] = blurred[y0:y1, x0:x1]
    return out


def sharpen(rgb, params):
    amount = number(params, "amount", 150, 1, 500)
    radius = number(params, "radius", 2, 0.5, 50)
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.UnsharpMask(radius=radius, percent=int(amount), threshold=2)))


def draw_boxes(rgb, params):
    boxes = boxes_param(params)
    labels = params.get("labels") or []
    if not isinstance(labels, list) or len(labels) > len(boxes) or not all(isinstance(v, str) for v in labels):
        raise InputError(f"labels: expected at most one text per box ({len(boxes)} boxes)")
    ink = colour(params, "red")
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(image.size) / 250))
    font = ImageFont.load_default(size=max(12, round(max(image.size) / 40)))
    for i, box in enumerate(boxes):
        x0, y0, x1, y1 = box_to_pixels(box, image.width, image.height)
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=ink, width=width)
        if i < len(labels) and labels[i]:
            left, top, right, bottom = draw.textbbox((0, 0), labels[i], font=font)
            ty = y0 - (bottom - top) - 2 * width if y0 >= (bottom - top) + 2 * width else y0
            draw.rectangle([x0, ty, x0 + right - left + 2 * width, ty + bottom - top + 2 * width], fill=ink)
            draw.text((x0 + width - left, ty + width - top), labels[i], font=font,
                      fill="white" if sum(ink) < 384 else "black")
    return np.asarray(image)


def overlay_mask(rgb, params):
    mask = the_mask(params, rgb)
    opacity = number(params, "opacity", 0.5, 0, 1)
    out = rgb.astype(np.float32)
    out[mask] = out[mask] * (1 - opacity) + np.array(colour(params, "dodgerblue"), np.float32) * opacity
    return out.round().astype(np.uint8)


def cutout(rgb, params):
    """The masked object on a transparent background, cropped to the mask's box."""
    mask = the_mask(params, rgb)
    x0, y0, x1, y1 = bounds = mask_box(mask)
    alpha = mask[y0:y1, x0:x1, None].astype(np.uint8) * 255
    return np.concatenate([rgb[y0:y1, x0:x1], alpha], axis=2), bounds


def remove_background(rgb, params):
    mask = the_mask(params, rgb)
    out = np.empty_like(rgb)
    out[:] = colour(params, "white")
    out[mask] = rgb[mask]
    return out


def inpaint(rgb, params):
    """Fills the masked area from its surroundings (Telea's method). The mask is grown a
    little so that the object's soft edge goes too."""
    mask = the_mask(params, rgb).astype(np.uint8) * 255
    grow = max(1, round(min(rgb.shape[:2]) / 200))
    mask = cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    radius = number(params, "radius", 5, 1, 50)
    return cv2.inpaint(np.ascontiguousarray(rgb), mask, radius, cv2.INPAINT_TELEA)


APPLY = {
    "crop": crop, "resize": resize, "rotate": rotate, "flip": flip,
    "brightness": enhance(ImageEnhance.Brightness), "contrast": enhance(ImageEnhance.Contrast),
    "saturation": enhance(ImageEnhance.Color), "grayscale": grayscale, "blur": blur, "sharpen": sharpen,
    "draw_boxes": draw_boxes, "overlay_mask": overlay_mask, "cutout": cutout,
    "remove_background": remove_background, "inpaint": inpaint,
}

# instruct-pix2pix style prompts that name an operation plainly: (pattern, op, parameters).
# The first match wins, so the more specific phrases come first.
PROMPTS = [
    (r"black and white|black-and-white|gr[ae]y ?scale|monochrome|desaturate completely", "grayscale", {}),
    (r"flip\w* (it )?vertical|vertical(ly)? flip", "flip", {"direction": "vertical"}),
    (r"\bflip|\bmirror", "flip", {"direction": "horizontal"}),
    (r"(less|lower|reduce|decrease)\W+(the )?contrast", "contrast", {"factor": 0.6}),
    (r"contrast", "contrast", {"factor": 1.5}),
    (r"(less|reduce|decrease|lower)\W+(the )?saturat|desaturate|muted|washed out", "saturation", {"factor": 0.5}),
    (r"saturat|vivid|colou?rful|more colou?r", "saturation", {"factor": 1.6}),
    (r"dark", "brightness", {"factor": 0.65}),
    (r"bright|lighter|lighten", "brightness", {"factor": 1.4}),
    (r"blur|out of focus|soften", "blur", {}),
    (r"sharp|crisp", "sharpen", {}),
]


def from_prompt(prompt) -> dict:
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError("prompt: expected an edit instruction such as 'make it black and white'")
    text = prompt.lower()
    if re.search(r"upside down", text):
        return {"op": "rotate", "angle": 180}
    if re.search(r"rotat|\bturn\b.*\b(left|right|degrees?|clockwise)", text):
        degrees = re.search(r"(\d+(?:\.\d+)?)\s*(?:deg|°)?", text)
        angle = float(degrees.group(1)) if degrees else 90.0
        # Counterclockwise is positive; "right" and "clockwise" turn the other way.
        counter = re.search(r"counter-?clockwise|anti-?clockwise|\bleft\b", text)
        clockwise = not counter and re.search(r"clockwise|\bright\b", text)
        return {"op": "rotate", "angle": -angle if clockwise else angle}
    for pattern, op, extra in PROMPTS:
        if re.search(pattern, text):
            return {"op": op, **extra}
    raise InputError(f"prompt: cannot map '{prompt}' to an edit; this skill does classical edits only: "
                     "black and white, flip or mirror, rotate N degrees, brighter or darker, more or less contrast "
                     "or saturation, blur, sharpen (or call it with op: " + ", ".join(APPLY) + ")")


def handle(params: dict, output_dir: Path) -> dict:
    if params.get("op") is None and params.get("prompt") is not None:
        params = {**params, **from_prompt(params["prompt"])}
    op = params.get("op")
    if op not in APPLY:
        raise InputError(f"op: expected one of {', '.join(APPLY)} (or a prompt), got {op!r}")
    rgb = load_rgb(params.get("image"))
    height, width = rgb.shape[:2]
    out = APPLY[op](rgb, params)
    bounds = None
    if isinstance(out, tuple):
        out, bounds = out
    out = np.ascontiguousarray(out)
    artifact = {"path": save_png(out, output_dir, f"{op}.png"), "kind": "image", "label": op}
    if bounds:
        # Where the part lies in the source, so the model can relate the two.
        artifact.update(kind="crop", box=normalised_box(*bounds, width, height))
    result = {"op": op, "width": int(out.shape[1]), "height": int(out.shape[0]), "artifacts": [artifact]}
    if params.get("prompt") is not None:
        result["applied"] = {k: v for k, v in params.items() if k not in ("image", "prompt")}
    return result


if __name__ == "__main__":
    serve(handle)
