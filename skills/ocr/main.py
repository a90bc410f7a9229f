"""The ocr skill: text lines with normalised boxes and confidences.

Engines: PP-OCRv4 (text detection, 180-degree direction classifier and CRNN recognition, the
ONNX models of rapidocr 1.4.4 from the model store) through onnxruntime, or tesseract 5 (the
store's eng.traineddata). The ONNX sessions load once: the skill runs as a persistent process.
"""
import math
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import cv2
import numpy as np
import onnxruntime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common.imaging import load_rgb, normalised_box, parse_box, box_to_pixels  # noqa: E402
from common.protocol import InputError, model_store, serve  # noqa: E402

# One thread per session: on the shared 2-core machines this runs on, two intra-op threads
# made a call about three times slower (they wait on each other under load), and the
# runner's concurrency, not threads, is how more cores get used.
THREADS = 1

# PP-OCRv4 settings: detection sees the image at its own size, shrunk if its long side is
# over DET_LONG_SIDE, rounded to multiples of 32 (enlarging, as rapidocr's config does to a
# short side of 736, splits large letters into pieces and drops spaces on the skill's
# fixtures); probability threshold 0.3, box threshold 0.5, boxes grown by unclip ratio 1.6.
DET_LONG_SIDE = 1280
DET_ENLARGED_LONG_SIDE = 2000
DET_PIXEL_THRESHOLD = 0.3
DET_BOX_THRESHOLD = 0.5
UNCLIP_RATIO = 1.6
MAX_CANDIDATES = 1000
REC_HEIGHT = 48
REC_MIN_WIDTH = 320
CLS_SHAPE = (48, 192)
CLS_THRESHOLD = 0.9
# Recognition costs 30-100 ms a line here. Lines are read largest first, and once this many
# seconds have gone the rest are left out and the result says it was truncated, well inside
# the manifest's 30 s timeout (detection takes up to a few seconds more).
RECOGNITION_BUDGET_S = 15.0


def _session(name: str) -> onnxruntime.InferenceSession:
    path = model_store() / "rapidocr-ppocrv4" / name
    if not path.is_file():
        raise SystemExit(f"ocr: {path} is missing; run scripts/setup.sh to install the model store")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class PPOCR:
    def __init__(self):
        self.det = _session("ch_PP-OCRv4_det_infer.onnx")
        self.cls = _session("ch_ppocr_mobile_v2.0_cls_infer.onnx")
        self.rec = _session("ch_PP-OCRv4_rec_infer.onnx")
        # The recogniser's alphabet ships in the model's metadata; CTC class 0 is the blank
        # and the last class is the space.
        alphabet = self.rec.get_modelmeta().custom_metadata_map["character"].splitlines()
        self.characters = [""] + alphabet + [" "]

    @staticmethod
    def _normalise(bgr: np.ndarray) -> np.ndarray:
        """HWC uint8 BGR (the models were trained on OpenCV's channel order) to CHW in -1..1."""
        return ((bgr.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)

    def detect(self, bgr: np.ndarray) -> list:
        """Quadrilaterals (4 x 2 float, clockwise from top-left) around text lines. Where the
        boxes of neighbouring lines overlap, the lines were too close for the detector at
        this size (it merges them); it looks again at twice the size."""
        height, width = bgr.shape[:2]
        scale = min(1.0, DET_LONG_SIDE / max(height, width))
        quads = self._detect_at(bgr, scale)
        if self._crowded(quads):
            quads = self._detect_at(bgr, min(2 * scale, DET_ENLARGED_LONG_SIDE / max(height, width)))
        return quads

    @staticmethod
    def _crowded(quads: list) -> bool:
        """Whether two lines side by side along the text direction overlap across it by over
        a quarter of a line height (measured in the first line's frame, so slanted text
        counts as it reads)."""
        for i, a in enumerate(quads):
            along = a[1] - a[0]
            length = float(np.linalg.norm(along)) or 1.0
            along = along / length
            across = np.array([-along[1], along[0]])
            height = float(np.linalg.norm(a[3] - a[0]))
            for b in quads[i + 1:]:
                offset = b.mean(axis=0) - a.mean(axis=0)
                other_length = float(np.linalg.norm(b[1] - b[0]))
                other_height = float(np.linalg.norm(b[3] - b[0]))
                if abs(offset @ along) >= (length + other_length) / 2:
                    continue
                shared = (height + other_height) / 2 - abs(offset @ across)
                if shared > 0.25 * min(height, other_height):
                    return True
        return False

    def _detect_at(self, bgr: np.ndarray, scale: float) -> list:
        height, width = bgr.shape[:2]
        new_h = max(32, int(round(height * scale / 32)) * 32)
        new_w = max(32, int(round(width * scale / 32)) * 32)
        resized = cv2.resize(bgr, (new_w, new_h))
        prob = self.det.run(None, {"x": self._normalise(resized)[None]})[0][0, 0]
        bitmap = (prob > DET_PIXEL_THRESHOLD).astype(np.uint8)
        bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        quads = []
        for contour in contours[:MAX_CANDIDATES]:
            rect = cv2.minAreaRect(contour)
            if min(rect[1]) < 3:
                continue
            if self._box_score(prob, contour.reshape(-1, 2)) < DET_BOX_THRESHOLD:
                continue
            # Grow the shrunk text kernel back to the line: offset each side by
            # area * ratio / perimeter, which is what the polygon offset does to a rectangle.
            w, h = rect[1]
            distance = w * h * UNCLIP_RATIO / (2 * (w + h))
            grown = (rect[0], (w + 2 * distance, h + 2 * distance), rect[2])
            if min(grown[1]) < 5:
                continue
            points = cv2.boxPoints(grown)
            points[:, 0] = np.clip(points[:, 0] * width / new_w, 0, width)
            points[:, 1] = np.clip(points[:, 1] * height / new_h, 0, height)
            quads.append(self._order(points))
        return quads

    @staticmethod
    def _box_score(prob: np.ndarray, points: np.ndarray) -> float:
        """Mean text probability inside the contour (the detector's confidence in the line).
        The contour, not its rectangle: a curved line's rectangle is mostly background."""
        h, w = prob.shape
        x0, x1 = int(np.clip(np.floor(points[:, 0].min()), 0, w - 1)), int(np.clip(np.ceil(points[:, 0].max()), 0, w - 1))
        y0, y1 = int(np.clip(np.floor(points[:, 1].min()), 0, h - 1)), int(np.clip(np.ceil(points[:, 1].max()), 0, h - 1))
        mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
        cv2.fillPoly(mask, [(points - [x0, y0]).astype(np.int32)], 1)
        return float(cv2.mean(prob[y0:y1 + 1, x0:x1 + 1], mask)[0])

    @staticmethod
    def _order(points: np.ndarray) -> np.ndarray:
        """Top-left, top-right, bottom-right, bottom-left."""
        by_x = points[np.argsort(points[:, 0])]
        left, right = by_x[:2], by_x[2:]
        top_left, bottom_left = left[np.argsort(left[:, 1])]
        top_right, bottom_right = right[np.argsort(right[:, 1])]
        return np.array([top_left, top_right, bottom_right, bottom_left], np.float32)

    @staticmethod
    def _crop(bgr: np.ndarray, quad: np.ndarray) -> np.ndarray:
        """The line straightened to a rectangle; tall crops are turned to read left to right."""
        width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
        height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
        width, height = max(width, 1), max(height, 1)
        target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
        crop = cv2.warpPerspective(bgr, cv2.getPerspectiveTransform(quad, target), (width, height),
                                   borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
        if height / width >= 1.5:
            crop = np.rot90(crop)
        return crop

    def _tensor(self, crop: np.ndarray, height: int, width: int) -> np.ndarray:
        """A batch of one: the crop resized to `height` keeping its aspect (at most `width`
        wide), padded on the right."""
        tensor = np.zeros((1, 3, height, width), np.float32)
        w = min(width, max(1, int(math.ceil(height * crop.shape[1] / crop.shape[0]))))
        tensor[0, :, :, :w] = self._normalise(cv2.resize(crop, (w, height)))
        return tensor

    def _upside_down(self, crop: np.ndarray) -> bool:
        """Whether the direction classifier finds the line turned by 180 degrees."""
        upright, flipped = self.cls.run(None, {"x": self._tensor(crop, *CLS_SHAPE)})[0][0]
        return flipped > upright and flipped > CLS_THRESHOLD

    def recognise(self, crop: np.ndarray) -> tuple:
        """(text, confidence): greedy CTC decoding, confidence the mean probability of the
        kept characters. One line per run: padding a batch to its widest line changes what the
        recogniser's global mixing layers see and loses narrow spaces (batches of 8 were only
        a quarter faster per line on this CPU anyway)."""
        width = max(REC_MIN_WIDTH, int(math.ceil(REC_HEIGHT * crop.shape[1] / crop.shape[0])))
        probs = self.rec.run(None, {"x": self._tensor(crop, REC_HEIGHT, width)})[0][0]
        best = probs.argmax(axis=1)
        keep = (best != 0) & np.concatenate(([True], best[1:] != best[:-1]))
        # NFKC: the alphabet is Chinese-first, so some punctuation comes out full-width.
        text = unicodedata.normalize("NFKC", "".join(self.characters[c] for c in best[keep]))
        confidence = float(probs.max(axis=1)[keep].mean()) if keep.any() else 0.0
        return text.strip(), confidence

    def read(self, rgb: np.ndarray) -> tuple:
        """(quad, text, confidence) per detected line, and whether lines were left out."""
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        quads = self.detect(bgr)
        quads = sorted(quads, key=cv2.contourArea, reverse=True)
        started = time.monotonic()
        lines = []
        for quad in quads:
            if time.monotonic() - started > RECOGNITION_BUDGET_S:
                break
            crop = self._crop(bgr, quad)
            text, confidence = self.recognise(crop)
            if self._upside_down(crop):
                # The small direction model also flags some upright lines; keep whichever
                # reading the recogniser is surer of.
                turned = self.recognise(cv2.rotate(crop, cv2.ROTATE_180))
                if turned[1] > confidence:
                    text, confidence = turned
            lines.append((quad, text, confidence))
        return lines, len(lines) < len(quads)


def tesseract_lines(path: str, region_origin: tuple) -> list:
    """(quad, text, confidence) per line from tesseract's TSV output (one row per word, with
    its block, paragraph and line numbers), words joined by line."""
    tessdata = model_store() / "tesseract-eng"
    try:
        run = subprocess.run(["tesseract", path, "-", "--tessdata-dir", str(tessdata), "-l", "eng",
                              "-c", "tessedit_create_tsv=1"],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True)
    except FileNotFoundError:
        raise SystemExit("ocr: the tesseract program is missing; run scripts/setup.sh (Debian tesseract-ocr)")
    if run.returncode != 0:
        raise SystemExit(f"ocr: tesseract failed: {run.stderr.strip()}")
    lines = {}
    for row in run.stdout.splitlines()[1:]:
        fields = row.split("\t")
        if len(fields) != 12 or fields[0] != "5" or not fields[11].strip():
            continue
        left, top, w, h = (int(v) for v in fields[6:10])
        words = lines.setdefault(tuple(fields[2:5]), [])
        words.append((left, top, left + w, top + h, float(fields[10]), fields[11]))
    ox, oy = region_origin
    found = []
    for words in lines.values():
        x0, y0 = min(w[0] for w in words) + ox, min(w[1] for w in words) + oy
        x1, y1 = max(w[2] for w in words) + ox, max(w[3] for w in words) + oy
        quad = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
        found.append((quad, " ".join(w[5] for w in words), sum(w[4] for w in words) / len(words) / 100))
    return found


def reading_order(lines: list) -> list:
    """Top to bottom; lines whose vertical centres are within half a line height count as one
    row and read left to right."""
    lines = sorted(lines, key=lambda line: line[0][:, 1].mean())
    rows = []
    for line in lines:
        centre = line[0][:, 1].mean()
        height = line[0][:, 1].max() - line[0][:, 1].min()
        if rows and abs(centre - rows[-1][0]) <= height / 2:
            rows[-1][1].append(line)
        else:
            rows.append([centre, [line]])
    return [sorted(row, key=lambda line: line[0][:, 0].min()) for _, row in rows]


ENGINE = None


def handle(params: dict, output_dir: Path) -> dict:
    global ENGINE
    engine = params.get("engine", "ppocr")
    if engine not in ("ppocr", "tesseract"):
        raise InputError(f"engine: '{engine}' is not an OCR engine (expected ppocr or tesseract)")
    min_score = params.get("min_score", 0.5)
    rgb = load_rgb(params.get("image"))
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = 0, 0, width, height
    if params.get("region") is not None:
        x0, y0, x1, y1 = box_to_pixels(parse_box(params["region"], "region"), width, height)
    region = rgb[y0:y1, x0:x1]
    truncated = False
    if engine == "ppocr":
        ENGINE = ENGINE or PPOCR()
        lines, truncated = ENGINE.read(region)
        for quad, _, _ in lines:
            quad += (x0, y0)
    else:
        # tesseract reads files; the region is written out only when one was asked for.
        path = params["image"]
        if (x0, y0, x1, y1) != (0, 0, width, height):
            path = str(Path(output_dir) / "region.png")
            cv2.imwrite(path, np.ascontiguousarray(region[..., ::-1]))
        lines = tesseract_lines(path, (x0, y0))
    lines = [line for line in lines if line[1] and line[2] >= min_score]
    rows = reading_order(lines)
    ordered = [line for row in rows for line in row]
    return {
        "texts": [text for _, text, _ in ordered],
        "boxes": [normalised_box(q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max(), width, height)
                  for q, _, _ in ordered],
        "scores": [round(score, 3) for _, _, score in ordered],
        "text": "\n".join(" ".join(text for _, text, _ in row) for row in rows),
        **({"truncated": True} if truncated else {}),
    }


if __name__ == "__main__":
    serve(handle)
