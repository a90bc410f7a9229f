#!/usr/bin/env bash
# Image encoding (CLIP ViT-L/14-336 tower + mlp projector, LLaVA-1.5's shape, random weights)
# with our MMProjFile encoder against llama.cpp's libmtmd on the same mmproj file and image,
# same threads, one after the other, several rounds; prints each measurement, then the best and
# median times and the speed ratio (llama.cpp's time / ours: above 1 means we are faster). On
# a shared machine the best run is the steadier figure. Then EfficientNet-Lite0's encode time
# for the same image (224x224 after preprocessing).
#
#   scripts/bench-vision.sh [ROUNDS] [THREADS]
#
# Needs llama.cpp built into .cache/llama-ref (scripts/bench-engine.sh does it once). Makes the
# synthetic mmproj files (scripts/make_synthetic_mmproj.py) and the synthetic LLaMA llama.cpp
# loads beside them (scripts/make_synthetic_llama.py) if absent; nothing here is committed.
# SWIFT_SCRATCH sets the build folder (default .build).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
threads="${2:-2}"
ref=.cache/llama-ref
synthetic=.cache/synthetic
scratch="${SWIFT_SCRATCH:-.build}"
image=models/skimage-data/chelsea.png
if ! "$ref/bin/python" -c "from llama_cpp import mtmd_cpp" 2>/dev/null; then
  echo "llama.cpp is not built in $ref: run scripts/bench-engine.sh once" >&2
  exit 1
fi
"$ref/bin/python" scripts/make_synthetic_mmproj.py --out "$synthetic" >&2
language="$synthetic/synthetic-llama-1b.Q4_0.gguf"
[ -f "$language" ] || "$ref/bin/python" scripts/make_synthetic_llama.py --out "$synthetic" >&2
swift build -c release --scratch-path "$scratch" --product vision-bench >&2
bench="$scratch/release/vision-bench"

log=$(mktemp)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq "$rounds"); do
  for format in F16 F32; do
    mmproj="$synthetic/synthetic-clip-vit-l-336.mmproj.$format.gguf"
    "$bench" --mmproj "$mmproj" --image "$image" -t "$threads" -r 3 | sed "s/^{/{\"format\":\"$format\",/" | tee -a "$log"
    "$ref/bin/python" scripts/bench_vision_llamacpp.py --mmproj "$mmproj" --model "$language" --image "$image" \
      -t "$threads" -r 3 2>/dev/null | sed "s/^{/{\"format\":\"$format\",/" | tee -a "$log"
  done
done
"$bench" --efficientnet models/efficientnet-lite0/efficientnet-lite0.safetensors --image "$image" -t "$threads" -r 10 | tee -a "$log"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$log" "$threads" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
print(f"\nCLIP ViT-L/14-336 + mlp projector, 576 tokens, {sys.argv[2]} threads, every run of every round:")
print("best and median wall seconds, best process CPU seconds, speed = llama.cpp time / ours")
print("| weights | ours best / median | llama.cpp best / median | speed (best) | speed (median) | CPU ours / llama.cpp |")
print("|---|---|---|---|---|---|")
for fmt in ("F16", "F32"):
    def runs(engine, key):
        return [t for r in rows if r.get("format") == fmt and r["engine"] == engine for t in r[key]]
    ours, ref = runs("llava-plus", "runs"), runs("llama.cpp", "runs")
    print(f"| {fmt} | {min(ours):.2f} / {statistics.median(ours):.2f} | {min(ref):.2f} / {statistics.median(ref):.2f} "
          f"| {min(ref) / min(ours):.2f}x | {statistics.median(ref) / statistics.median(ours):.2f}x "
          f"| {min(runs('llava-plus', 'cpu_seconds')):.2f} / {min(runs('llama.cpp', 'cpu_seconds')):.2f} |")
net = [r for r in rows if r.get("model") == "efficientnet-lite0"][-1]
print(f"\nEfficientNet-Lite0, one 224x224 image: {min(net['runs']) * 1000:.1f} ms best, "
      f"{net['encode_seconds'] * 1000:.1f} ms median (+{net['preprocess_seconds'] * 1000:.1f} ms preprocessing), 49 tokens")
PY
