#!/usr/bin/env bash
# One command on a fresh Debian 12: install every Debian package xai needs, then build (Release).
#   scripts/setup.sh               install packages (needs root or sudo) and build into build/
#   scripts/setup.sh --no-install  only build
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ccache pkg-config
  libtorch-dev libopencv-dev libopencv-contrib-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libgtest-dev libbenchmark-dev
  # Python is only for exporting/training models and for the independent test references.
  python3 python3-torch python3-torchvision python3-numpy python3-opencv python3-skimage python3-sklearn
)

if [[ "${1:-}" != "--no-install" ]]; then
  missing=()
  for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
echo "setup: built build/xai"
