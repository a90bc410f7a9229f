"""The segment skill (SAM's job without SAM's weights): one mask per box, or one mask from
points, by OpenCV's GrabCut seeded with the prompt; people masks from MediaPipe's selfie
segmentation model (LiteRT) when the target is a person.

Each mask comes back as a PNG artifact and as COCO RLE with its area and tight box.
"""
import math
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common.imaging import (box_to_pixels, load_rgb, mask_box, normalised_box, parse_box,  # noqa: E402
                            parse_point, rle_encode, save_png)
from common.protocol import InputError, model_store, serve  # noqa: E402

# GrabCut's cost grows with the pixel count; masks are found on a copy whose long side is at
# most this and scaled back, which keeps a call well under a second on one core.
WORK_SIDE = 256
# Points without a box: the object is looked for within this fraction of the image around
# the foreground points (GrabCut needs a region that holds the whole object).
POINT_REACH = 0.45
ITERATIONS = 5
# GrabCut needs pixels of both kinds to start from; below this there may be none left over.
MIN_SIDE = 8
MAX_PROMPTS = 16
# A person box is widened by this fraction of its size on each side before the selfie
# model sees it: the model needs some background around the person.
PERSON_MARGIN = 0.1
SELFIE_MODEL = "mediapipe-models/selfie_segmentation/selfie_segmentation.tflite"


class SelfieSegmenter:
    """MediaPipe selfie segmentation: 256 x 256 RGB in 0..1 to a person probability map."""

    def __init__(self):
        from ai_edge_litert.interpreter import Interpreter  # only people prompts need LiteRT
        path = model_store() / SELFIE_MODEL
        if not path.is_file():
            raise SystemExit(f"segment: {path} is missing; run scripts/setup.sh to install the model store")
        # One thread, as for the OCR models: the model takes about 15 ms on one core.
        self.interpreter = Interpreter(model_path=str(path), num_threads=1)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    def probabilities(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        size = tuple(int(v) for v in self.input["shape"][1:3])
        tensor = cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        self.interpreter.set_tensor(self.input["index"], tensor[None])
        self.interpreter.invoke()
        prob = self.interpreter.get_tensor(self.output["index"])[0, :, :, 0]
        return cv2.resize(prob, (width, height), interpolation=cv2.INTER_LINEAR)


SELFIE = None


def grabcut(rgb: np.ndarray, box, points: list, labels: list) -> np.ndarray:
    """The object the prompt points at. A box marks everything outside it as background and
    its inside as probably object; foreground points are certain object; background points
    are certain background. Points alone stand for a box reaching POINT_REACH beyond them."""
    height, width = rgb.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise InputError(f"image: {width} x {height} pixels is too small to segment (at least {MIN_SIDE} a side)")
    if box is None:
        chosen = [p for p, label in zip(points, labels) if label]
        if not chosen:
            raise InputError("points: at least one foreground point (label 1) or a box is needed")
        xs, ys = [p[0] for p in chosen], [p[1] for p in chosen]
        box = (max(0.0, min(xs) - POINT_REACH), max(0.0, min(ys) - POINT_REACH),
               min(1.0, max(xs) + POINT_REACH), min(1.0, max(ys) + POINT_REACH))
    scale = min(1.0, WORK_SIDE / max(height, width))
    small = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    sh, sw = small.shape[:2]
    x0, y0, x1, y1 = box_to_pixels(box, sw, sh)
    seeds = np.full((sh, sw), cv2.GC_BGD, np.uint8)
    seeds[y0:y1, x0:x1] = cv2.GC_PR_FGD
    if (x0, y0, x1, y1) == (0, 0, sw, sh):
        # A box that is the whole image leaves no background to learn from: take a thin
        # frame as probable background.
        band = max(1, round(0.03 * min(sw, sh)))
        seeds[:band, :] = seeds[-band:, :] = seeds[:, :band] = seeds[:, -band:] = cv2.GC_PR_BGD
    certain = max(2, round(0.01 * math.hypot(sw, sh)))
    for (px, py), label in zip(points, labels):
        centre = (min(sw - 1, int(px * sw)), min(sh - 1, int(py * sh)))
        cv2.circle(seeds, centre, certain, cv2.GC_FGD if label else cv2.GC_BGD, -1)
    # GrabCut seeds its colour models with k-means from OpenCV's global random generator, whose
    # state a long-lived process carries from call to call: reset it so that a call's mask
    # depends on its input only.
    cv2.setRNGSeed(0)
    background = np.zeros((1, 65), np.float64)
    foreground = np.zeros((1, 65), np.float64)
    cv2.grabCut(np.ascontiguousarray(small[..., ::-1]), seeds, None, background, foreground, ITERATIONS,
                cv2.GC_INIT_WITH_MASK)
    mask = ((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)).astype(np.float32)
    mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR) > 0.5
    anchors = [(min(width - 1, int(px * width)), min(height - 1, int(py * height)))
               for (px, py), label in zip(points, labels) if label]
    return keep_prompted_parts(mask, anchors)


def keep_prompted_parts(mask: np.ndarray, anchors: list) -> np.ndarray:
    """Drops the stray specks GrabCut leaves: keeps the parts under foreground points, or the
    largest part when the prompt was a box."""
    count, parts, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask
    keep = {parts[y, x] for x, y in anchors} - {0}
    if not keep:
        keep = {1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))}
    return np.isin(parts, list(keep))


def person_mask(rgb: np.ndarray, box) -> np.ndarray:
    """People in the box (or the whole image), from the selfie model run on the box with a
    margin; the mask is cut to the box."""
    global SELFIE
    SELFIE = SELFIE or SelfieSegmenter()
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = box_to_pixels(box or (0, 0, 1, 1), width, height)
    mx, my = round((x1 - x0) * PERSON_MARGIN), round((y1 - y0) * PERSON_MARGIN)
    cx0, cy0, cx1, cy1 = max(0, x0 - mx), max(0, y0 - my), min(width, x1 + mx), min(height, y1 + my)
    prob = SELFIE.probabilities(np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1]))
    mask = np.zeros((height, width), bool)
    mask[cy0:cy1, cx0:cx1] = prob > 0.5
    inside = np.zeros_like(mask)
    inside[y0:y1, x0:x1] = True
    return mask & inside


def prompts(params: dict) -> tuple:
    """The checked boxes, points and point labels."""
    boxes = params.get("boxes") or []
    if not isinstance(boxes, list) or len(boxes) > MAX_PROMPTS:
        raise InputError(f"boxes: expected a list of at most {MAX_PROMPTS} normalised boxes [x0, y0, x1, y1]")
    boxes = [parse_box(box, f"boxes[{i}]") for i, box in enumerate(boxes)]
    points = params.get("points") or []
    if not isinstance(points, list) or len(points) > MAX_PROMPTS:
        raise InputError(f"points: expected a list of at most {MAX_PROMPTS} normalised points [x, y]")
    points = [parse_point(point, f"points[{i}]") for i, point in enumerate(points)]
    labels = params.get("point_labels")
    if labels is None:
        labels = [1] * len(points)
    if not isinstance(labels, list) or len(labels) != len(points) or any(v not in (0, 1) for v in labels):
        raise InputError(f"point_labels: expected one label per point, 1 (object) or 0 (background); "
                         f"got {labels!r} for {len(points)} point(s)")
    if points and len(boxes) > 1:
        raise InputError("points: points refine one object, so they go with at most one box "
                         f"(got {len(boxes)} boxes); call once per box")
    return boxes, points, labels


def handle(params: dict, output_dir: Path) -> dict:
    target = params.get("target", "object")
    if target not in ("object", "person"):
        raise InputError(f"target: '{target}' is not a target (expected object or person)")
    boxes, points, labels = prompts(params)
    if target == "object" and not boxes and not points:
        raise InputError("boxes: give boxes or points to say what to segment (or target: person for people)")
    if target == "person" and points:
        raise InputError("points: the person target takes boxes (or nothing, for every person), not points")
    rgb = load_rgb(params.get("image"))
    height, width = rgb.shape[:2]

    if target == "person":
        masks = [person_mask(rgb, box) for box in (boxes or [None])]
    elif points:
        masks = [grabcut(rgb, boxes[0] if boxes else None, points, labels)]
    else:
        masks = [grabcut(rgb, box, [], []) for box in boxes]

    result = {"masks": [], "areas": [], "boxes": [], "size": [height, width], "artifacts": []}
    for index, mask in enumerate(masks):
        area = int(mask.sum())
        box = normalised_box(*mask_box(mask), width, height) if area else [0.0, 0.0, 0.0, 0.0]
        result["masks"].append(rle_encode(mask))
        result["areas"].append(area)
        result["boxes"].append(box)
        result["artifacts"].append({"path": save_png(mask, output_dir, f"mask-{index}.png"), "kind": "mask",
                                    "box": box, "label": target})
    return result


if __name__ == "__main__":
    serve(handle)
