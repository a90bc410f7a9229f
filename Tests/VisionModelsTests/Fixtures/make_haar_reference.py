"""Writes haar_reference.json: OpenCV's own cascade detections, which HaarCascadeTests.swift
compares the Swift port against.

Run from the checkout with the project's .venv (opencv-python-headless):
    .venv/bin/python Tests/VisionModelsTests/Fixtures/make_haar_reference.py

For each cascade and photo it records cv2.CascadeClassifier.detectMultiScale2 at OpenCV's
defaults (scaleFactor 1.1, minNeighbors 3, no min/max size): the grouped boxes [x, y, w, h]
with their neighbour counts, and every raw window that passed the cascade (minNeighbors 0),
which the port should reproduce almost exactly. Photos are PNGs so both sides decode the same pixels.
"""
import json
import os
import time

import cv2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MODELS = os.environ.get("LLAVA_PLUS_MODELS", os.path.join(ROOT, "models"))
CASCADES = ["haarcascade_frontalface_default", "haarcascade_frontalface_alt2", "haarcascade_upperbody",
            "haarcascade_fullbody", "haarcascade_eye_tree_eyeglasses"]
PHOTOS = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "coins.png"]


def main():
    cv2.setNumThreads(1)
    out = {"opencv": cv2.__version__, "scaleFactor": 1.1, "minNeighbors": 3, "cases": []}
    for name in CASCADES:
        classifier = cv2.CascadeClassifier(os.path.join(MODELS, "opencv-cascades/haarcascades", name + ".xml"))
        assert not classifier.empty(), name
        for photo in PHOTOS:
            bgr = cv2.imread(os.path.join(MODELS, "skimage-data", photo), cv2.IMREAD_COLOR)
            gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            start = time.perf_counter()
            boxes, counts = classifier.detectMultiScale2(gray, scaleFactor=1.1, minNeighbors=3)
            milliseconds = (time.perf_counter() - start) * 1000
            raw = classifier.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=0)
            rows = [[int(v) for v in b] + [int(n)] for b, n in zip(boxes, counts)]
            rows.sort(key=lambda r: (-r[4], r[1], r[0]))
            raw = sorted([int(v) for v in r] for r in raw)
            out["cases"].append({"cascade": name, "photo": photo, "boxes": rows, "raw_windows": raw,
                                 "opencv_ms_1_thread": round(milliseconds, 1)})
            print(name, photo, len(rows), "boxes", len(raw), "raw", f"{milliseconds:.0f} ms")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "haar_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
