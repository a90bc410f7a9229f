#!/usr/bin/env bash
# One-command setup on a fresh Debian machine: system packages, the project's Python
# environment (.venv) and the model store (real weights and data, verified by sha256).
# Idempotent and resumable: each step checks what is already there and does only the rest.
#
#   scripts/setup.sh            everything
#   LLAVA_PLUS_MODELS=DIR       puts the model store elsewhere (default: <checkout>/models)
set -euo pipefail
cd "$(dirname "$0")/.."

# Build tools and the C libraries the Swift targets link (see Package.swift), OCR, and
# Python's venv. libstb-dev is the image codec library (PNG, JPEG, PNM) behind Imaging.
system_packages=(
  pkg-config libopenblas-dev libcurl4-openssl-dev libyaml-dev libsqlite3-dev libssl-dev
  libstb-dev tesseract-ocr tesseract-ocr-eng python3-venv
)

step() { printf '\n==> %s\n' "$*"; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

step "System packages"
missing=()
for package in "${system_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_if_needed apt-get update -qq || { echo "error: apt-get update failed: Debian's package mirror cannot be reached" >&2; exit 1; }
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || { echo "error: could not install ${missing[*]} from Debian's package mirror" >&2; exit 1; }
else
  echo "all ${#system_packages[@]} present"
fi

step "Python environment (.venv)"
stamp=.venv/.requirements.sha256
wanted=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
  echo "up to date"
else
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install --disable-pip-version-check -q -r scripts/requirements.txt \
    || { echo "error: could not install scripts/requirements.txt from PyPI" >&2; exit 1; }
  echo "$wanted" > "$stamp"
  echo "installed $(grep -cv '^#' scripts/requirements.txt) packages"
fi

step "Model store"
.venv/bin/python scripts/install_assets.py
