"""Rasterises the reference objects of segmentation.json into masks/<object>.png
(0 or 255, the image's size), so the Swift tests and scripts/eval_skills.py read the same
pixels. easy-vqa shapes need no drawing: their mask is every pixel nearer the shape's colour
than the background's (the image's most common colour), anti-aliased edges going to the
nearer one. Run from the project root after scripts/setup.sh:

    .venv/bin/python Tests/BuiltinSkillsTests/Fixtures/make_masks.py
"""
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
STORE = Path(os.environ.get("LLAVA_PLUS_MODELS") or HERE.parents[2] / "models")


def reference(spec: dict) -> np.ndarray:
    image = Image.open(STORE / spec["image"]).convert("RGB")
    if "polygon" in spec:
        canvas = Image.new("L", image.size, 0)
        ImageDraw.Draw(canvas).polygon([tuple(p) for p in spec["polygon"]], fill=255)
        return np.asarray(canvas) > 0
    rgb = np.asarray(image).astype(int)
    colours, counts = np.unique(rgb.reshape(-1, 3), axis=0, return_counts=True)
    background = colours[counts.argmax()]
    return np.abs(rgb - spec["shape_colour"]).sum(-1) < np.abs(rgb - background).sum(-1)


if __name__ == "__main__":
    for name, spec in json.loads((HERE / "segmentation.json").read_text())["objects"].items():
        mask = reference(spec)
        Image.fromarray(mask.astype(np.uint8) * 255).save(HERE / "masks" / f"{name}.png")
        print(f"{name}: {int(mask.sum())} pixels")
