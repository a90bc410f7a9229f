#!/bin/sh
# Starts the Swift built-in skills' worker (Sources/llava-plus-skills) for the skill named in
# $1: the most recently built of the release and debug binaries, so that whichever of
# `swift build` and `swift build -c release` ran last is what answers.
root=${LLAVA_PLUS_PROJECT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
newest=
for candidate in "$root/.build/release/llava-plus-skills" "$root/.build/debug/llava-plus-skills"; do
  if [ -x "$candidate" ] && { [ -z "$newest" ] || [ "$candidate" -nt "$newest" ]; }; then newest=$candidate; fi
done
if [ -z "$newest" ]; then
  echo "llava-plus-skills is not built: run 'swift build' in $root" >&2
  exit 127
fi
exec "$newest" "$@"
