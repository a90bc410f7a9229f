#!/usr/bin/env bash
# Our LLaMA decoder against llama.cpp on the same GGUF, same threads, same workload, one after
# the other, several rounds; prints each measurement and the ratios (ours / llama.cpp).
#
#   scripts/bench-engine.sh [MODEL.gguf] [ROUNDS]
#
# llama.cpp comes from PyPI's llama-cpp-python source distribution, built once into
# .cache/llama-ref (about 10-20 minutes on 2 cores; never committed).
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf}"
rounds="${2:-3}"
ref=.cache/llama-ref
if ! "$ref/bin/python" -c "import llama_cpp" 2>/dev/null; then
  echo "building llama-cpp-python 0.3.36 from source into $ref ..." >&2
  python3 -m venv "$ref"
  CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 \
    "$ref/bin/pip" install -q --no-binary llama-cpp-python llama-cpp-python==0.3.36
fi
swift build -c release --product engine-bench >&2
log=$(mktemp)
for round in $(seq "$rounds"); do
  for threads in 1 2; do
    .build/release/engine-bench -m "$model" -t "$threads" -r 3 | tee -a "$log"
    "$ref/bin/python" scripts/bench_llamacpp.py -m "$model" -t "$threads" -r 3 | tee -a "$log"
  done
done
python3 - "$log" "$model" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
print(f"\n{sys.argv[2].split('/')[-1]}: medians over rounds (tokens/s) and ratio ours/llama.cpp")
print("| threads | ours pp512 | llama.cpp pp512 | ratio | ours tg128 | llama.cpp tg128 | ratio |")
print("|---|---|---|---|---|---|---|")
for threads in (1, 2):
    def median(engine, key):
        return statistics.median(r[key] for r in rows if r["engine"] == engine and r["threads"] == threads)
    ours_pp, ref_pp = median("llava-plus", "pp_tokens_per_second"), median("llama.cpp", "pp_tokens_per_second")
    ours_tg, ref_tg = median("llava-plus", "tg_tokens_per_second"), median("llama.cpp", "tg_tokens_per_second")
    print(f"| {threads} | {ours_pp:.0f} | {ref_pp:.0f} | {ours_pp / ref_pp:.2f} | {ours_tg:.1f} | {ref_tg:.1f} | {ours_tg / ref_tg:.2f} |")

# Peak memory at 2 threads (largest over rounds), against "model file + KV cache + 10%".
def memory(engine):
    runs = [r for r in rows if r["engine"] == engine and r["threads"] == 2]
    peak = max(r["peak_rss_kib"] for r in runs)
    return peak / 1024, (peak - max(r["peak_rss_before_model_kib"] for r in runs)) / 1024
ours = [r for r in rows if r["engine"] == "llava-plus"][0]
bound = (ours["model_bytes"] + ours["kv_cache_bytes"]) * 1.1 / 2**20
(ours_total, ours_added), (ref_total, ref_added) = memory("llava-plus"), memory("llama.cpp")
print(f"\npeak memory, 2 threads (MiB): ours {ours_total:.1f} whole process, {ours_added:.1f} added by the model; "
      f"llama.cpp {ref_added:.1f} added (its process: {ref_total:.1f}); bound (file + KV cache) x 1.1 = {bound:.1f}")
PY
