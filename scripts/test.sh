#!/usr/bin/env bash
# The whole test suite: unit tests, end-to-end CLI tests, and Grad-CAM parity with the
# independent eager PyTorch reference on ResNet50, DenseNet121/201, EfficientNet-B0 and
# Xception (scripted and traced). Builds first if needed. Pass ctest options through, e.g.
#   scripts/test.sh -L unit        only the unit tests
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f build/CMakeCache.txt ]] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
