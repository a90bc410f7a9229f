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
# The skill runtime's tests assert timeouts and cancellation in seconds. Synchronous model
# tests occupy the threads of Swift's concurrency pool (as many as cores: 2 here) for seconds
# at a time, which can starve them (a run stalled every other test for 70 s), so they run in
# a process of their own after the rest.
swift test --skip-build --skip '^SkillsTests\.'
echo; echo "==> Tests of the skill runtime (timeouts, cancellation)"
swift test --skip-build --filter '^SkillsTests\.'
echo
echo "setup $((setup_done - start)) s, build $((build_done - setup_done)) s, tests $((SECONDS - build_done)) s"
