#!/usr/bin/env bash
# The test suite. Builds first if needed.
#   scripts/test.sh            the default run (~5 min on 2 cores): every unit test, the end-to-end tests of the
#                              real binary on real files, README's commands as written, and one parity case per
#                              family against the independent eager PyTorch references (the committed tiny CNNs,
#                              every CAM method on them, the small ViT and Swin configurations)
#   scripts/test.sh --full     everything (CI runs this, ~15 min of tests): adds the tests labelled "full" —
#                              ResNet50, DenseNet121/201, EfficientNet-B0, Xception, ViT-B/16 and Swin-T parity,
#                              IG completeness, the inference clone on every architecture, the option matrix,
#                              the whole-slide kill/interrupt/shard runs, the fuzz smoke run and the Slurm cluster
# Other arguments go to ctest, e.g. `scripts/test.sh -L unit` (only the unit label), `scripts/test.sh -R Eval`.
# The figures the tests write (panel, faithfulness curves, agreement table, fidelity plot, ...) are kept in
# build/test-artifacts/ (or $XAI_TEST_ARTIFACTS), named TEST.FILE, to be looked at.
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
args=()
for arg in "$@"; do
  if [[ "$arg" == "--full" ]]; then full=1; else args+=("$arg"); fi
done
[[ -f build/CMakeCache.txt ]] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
((full)) || args=(-LE full "${args[@]}")
# Figures the tests write are kept for a person to look at (one of each kind; tests/support/cli_fixture.hpp).
export XAI_TEST_ARTIFACTS="${XAI_TEST_ARTIFACTS:-$PWD/build/test-artifacts}"
rm -rf "$XAI_TEST_ARTIFACTS"
ctest --test-dir build --output-on-failure -j "$(nproc)" "${args[@]}"
