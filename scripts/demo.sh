#!/usr/bin/env bash
# The main job (README): set up, build in release, then let the agent answer a question about
# an example image with the embedded default model (llava-plus-tiny) and the built-in skills.
# Before that, the parts on their own: the installed weights, the vision encoder naming what
# is in two photos, the language model answering a question.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo; echo "==> Build (release)"
swift build -c release --product llava-plus
swift build -c release --product llava-plus-skills  # the Swift skills' worker (tag, detect, retrieve)
bin=.build/release/llava-plus
echo; echo "==> llava-plus models verify"
"$bin" models verify
echo; echo "==> llava-plus classify (EfficientNet-Lite0, ImageNet)"
"$bin" classify models/skimage-data/chelsea.png models/skimage-data/coffee.png
echo; echo "==> llava-plus generate (SmolLM2-135M-Instruct)"
"$bin" generate --system "You are a helpful assistant." "What is the capital of France?"
echo; echo "==> llava-plus ask (llava-plus-tiny + skills; transcript and annotated image go to runs/demo)"
"$bin" ask --image models/skimage-data/chelsea.png --out runs/demo "Where is the cat? Use detect."
