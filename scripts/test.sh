#!/usr/bin/env bash
# The project's test command (README, CI): setup (idempotent), a debug build, every test.
# Tests need the model store, so setup always runs first; on a set-up machine it takes ~1 s.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
scripts/setup.sh
setup_done=$SECONDS
echo; echo "==> Build (debug, with tests)"
swift build --build-tests
build_done=$SECONDS
echo; echo "==> Tests"
swift test --skip-build
echo
echo "setup $((setup_done - start)) s, build $((build_done - setup_done)) s, tests $((SECONDS - build_done)) s"
