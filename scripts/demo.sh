#!/usr/bin/env bash
# The main job (README): set up, build in release, and run the most complete real thing that
# works today. Until the agent loop lands that is: check the installed weights, let the vision
# encoder name what is in two photos, and let the language model answer a question.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo; echo "==> Build (release)"
swift build -c release --product llava-plus
bin=.build/release/llava-plus
echo; echo "==> llava-plus models verify"
"$bin" models verify
echo; echo "==> llava-plus classify (EfficientNet-Lite0, ImageNet)"
"$bin" classify models/skimage-data/chelsea.png models/skimage-data/coffee.png
echo; echo "==> llava-plus generate (SmolLM2-135M-Instruct)"
"$bin" generate --system "You are a helpful assistant." "What is the capital of France?"
