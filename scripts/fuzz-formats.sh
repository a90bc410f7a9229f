#!/usr/bin/env bash
# Long mutation fuzzing of the GGUF and safetensors readers (Tests/ModelFormatsTests/FuzzTests.swift):
# a release build, 100,000 mutated files per format, and the counts of files parsed and rejected.
# A crash or trap in a reader stops the run with a non-zero status.
#
#   scripts/fuzz-formats.sh                 100,000 per format, the default seed
#   FUZZ_ITERATIONS=N FUZZ_SEED=S scripts/fuzz-formats.sh
#
# Built with -O after the package's own flags, so that every module the readers call into
# (Tensors is -Ounchecked in release) traps on overflow or out-of-bounds access instead of
# misbehaving silently. `-enable-testing` lets the test target's @testable imports build.
set -euo pipefail
cd "$(dirname "$0")/.."

export FUZZ_ITERATIONS="${FUZZ_ITERATIONS:-100000}"
scratch="${FUZZ_SCRATCH_PATH:-.build-fuzz}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

start=$SECONDS
set +e
swift test -c release --scratch-path "$scratch" -Xswiftc -enable-testing -Xswiftc -O \
  --filter 'ModelFormatsTests.FuzzTests' >"$log" 2>&1
status=$?
set -e

grep -E '^fuzz ' "$log" || true
if [ $status -ne 0 ]; then
  echo "fuzzing FAILED (exit $status); last lines of the log:" >&2
  tail -n 40 "$log" >&2
  exit $status
fi
echo "fuzzing passed: ${FUZZ_ITERATIONS} mutated files per format, no crash, every failure a ModelFormatError ($((SECONDS - start)) s with the build)"
