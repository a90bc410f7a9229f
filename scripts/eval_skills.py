#!/usr/bin/env python3
"""Warm latency of the built-in skills, for BENCHMARKS.md.

Each skill runs as the runner runs a persistent skill (its manifest command, one JSON request
per line, the model loaded once); every call below is timed end to end from the request line
to the answer line: once ("first"; for a skill's first row this includes starting Python and
loading the model), then --repeat times warm. Quality (OCR character error rate,
segmentation IoU, detection precision/recall, retrieval recall@5) is measured and asserted by
the Swift tests in Tests/BuiltinSkillsTests, which print their figures. The Swift skills (tag,
detect, retrieve) run the most recently built llava-plus-skills binary (skills/swift/run.sh):
build it with `swift build -c release` first for release figures.

    .venv/bin/python scripts/eval_skills.py [--repeat N] [ocr segment edit tag detect retrieve]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORE = Path(os.environ.get("LLAVA_PLUS_MODELS") or ROOT / "models")
FIXTURES = ROOT / "Tests" / "BuiltinSkillsTests" / "Fixtures"

# (skill, what, parameters): representative calls, at the sizes the agent sees.
CALLS = [
    ("ocr", "page.png 384x191, 7 lines", {"image": STORE / "skimage-data/page.png"}),
    ("ocr", "receipt.png 275x176, 5 lines", {"image": FIXTURES / "ocr/receipt.png"}),
    ("ocr", "coffee.png 600x400, no text", {"image": STORE / "skimage-data/coffee.png"}),
    ("ocr", "receipt.png, engine tesseract", {"image": FIXTURES / "ocr/receipt.png", "engine": "tesseract"}),
    ("segment", "chelsea.png 451x300, 1 box", {"image": STORE / "skimage-data/chelsea.png", "boxes": [[0, 0, 0.9, 1]]}),
    ("segment", "chelsea.png, 2 points", {"image": STORE / "skimage-data/chelsea.png", "points": [[0.59, 0.8], [0.4, 0.4]]}),
    ("segment", "astronaut.png 512x512, person", {"image": STORE / "skimage-data/astronaut.png", "target": "person"}),
    ("segment", "easy-vqa 64x64, 1 box", {"image": STORE / "easy-vqa/test/images/43.png", "boxes": [[0.2, 0, 0.75, 0.52]]}),
    ("edit", "coffee.png 600x400, crop", {"image": STORE / "skimage-data/coffee.png", "op": "crop", "box": [0, 0, 0.5, 0.5]}),
    ("edit", "coffee.png, prompt 'black and white'", {"image": STORE / "skimage-data/coffee.png", "prompt": "make it black and white"}),
    ("edit", "coffee.png, rotate 30", {"image": STORE / "skimage-data/coffee.png", "op": "rotate", "angle": 30}),
    ("edit", "coffee.png, draw 2 boxes", {"image": STORE / "skimage-data/coffee.png", "op": "draw_boxes",
                                         "boxes": [[0.3, 0.05, 0.7, 0.65], [0.55, 0.55, 0.7, 0.8]], "labels": ["cup", "spoon"]}),
    ("tag", "chelsea.png 451x300, top 5", {"image": STORE / "skimage-data/chelsea.png"}),
    ("detect", "chelsea.png, 'cat'", {"image": STORE / "skimage-data/chelsea.png", "caption": "cat"}),
    ("detect", "astronaut.png 512x512, 'face . person'", {"image": STORE / "skimage-data/astronaut.png", "caption": "face . person"}),
    ("detect", "camera.png 512x512, 'camera . tripod'", {"image": STORE / "skimage-data/camera.png", "caption": "camera . tripod"}),
    ("retrieve", "skimage-data (indexed), 'a cat'", {"query": "a cat"}),
    ("retrieve", "skimage-data, like chelsea.png", {"image": STORE / "skimage-data/chelsea.png"}),
]
SWIFT_SKILLS = {"tag", "detect", "retrieve"}


class Skill:
    """A skill process spoken to as the runner's persistent transport does."""

    def __init__(self, name: str):
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR", "LLAVA_PLUS_MODELS") if k in os.environ}
        env["LLAVA_PLUS_PROJECT_ROOT"] = str(ROOT)
        command = ["skills/swift/run.sh", name] if name in SWIFT_SKILLS else [str(ROOT / ".venv/bin/python"), f"skills/{name}/main.py"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.next_id = 0

    def call(self, params: dict) -> float:
        """Seconds from sending the request to reading the answer."""
        self.next_id += 1
        out = self.folder / str(self.next_id)
        out.mkdir()
        request = {"id": self.next_id, "params": {k: str(v) if isinstance(v, Path) else v for k, v in params.items()},
                   "output_dir": str(out)}
        started = time.perf_counter()
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        elapsed = time.perf_counter() - started
        if "error" in answer:
            raise SystemExit(f"the call failed: {answer['error']}")
        return elapsed

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10, help="timed calls per row (default 10)")
    parser.add_argument("skills", nargs="*", default=["ocr", "segment", "edit", "tag", "detect", "retrieve"])
    args = parser.parse_args()
    print(f"{'skill':<8} {'call':<40} {'first':>8} {'median':>8} {'p90':>8}")
    for name in args.skills:
        skill = Skill(name)
        for _, what, params in [c for c in CALLS if c[0] == name]:
            first = skill.call(params)  # the skill's first call also loads its model
            times = sorted(skill.call(params) for _ in range(args.repeat))
            p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
            print(f"{name:<8} {what:<40} {1000 * first:7.0f}ms {1000 * statistics.median(times):7.0f}ms {1000 * p90:7.0f}ms")
        skill.close()


if __name__ == "__main__":
    main()
