#!/usr/bin/env bash
# One command on a fresh Debian 12: install every Debian package xai needs, PyPI's torch into .venv (the
# LibTorch xai builds against), then build (Release).
#   scripts/setup.sh               install packages (needs root or sudo), the venv, and build into build/
#   scripts/setup.sh --no-install  only build
#   scripts/setup.sh --no-build    only install the packages
#   scripts/setup.sh --with-browser  also Debian's chromium, so the tests load the batch gallery in
#                                    a real (headless) browser; CI uses this
set -euo pipefail
cd "$(dirname "$0")/.."
install=1 browser=0 build=1
for arg in "$@"; do
  case "$arg" in
    --no-install) install=0 ;;
    --no-build) build=0 ;;
    --with-browser) browser=1 ;;
    *) echo "setup: unknown option $arg" >&2; exit 2 ;;
  esac
done

PACKAGES=(
  build-essential cmake ccache pkg-config
  libopencv-dev libopencv-contrib-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libgtest-dev libbenchmark-dev libjpeg-dev libeigen3-dev libdcmtk-dev
  libpugixml-dev  # ASAP annotation XML (Camelyon16 ground truth)
  libcairo2-dev fonts-dejavu-core  # journal figures (PDF, SVG, print PNG); the tests read PDFs with poppler-utils
  poppler-utils
  # Whole-slide images (OpenSlide); libvips's command line writes the tests' pyramidal TIFF slides.
  libopenslide-dev libtiff-dev libvips-tools
  # The slide viewer's map library, copied into each viewer so it works offline.
  libjs-leaflet
  # The cluster recipes' test runs them on a single-node Slurm (tests/slurm/).
  slurm-wlm munge
  # Python is only for exporting/training models and for the independent test references: Debian's python3
  # with its scientific packages, and a virtual environment over it (--system-site-packages) with PyPI's torch.
  python3 python3-venv python3-numpy python3-opencv python3-skimage python3-sklearn
  python3-pydicom  # DICOM test files and the windowing reference
  # README's commands run as written in a test (tests/readme/), one of them piped into jq.
  jq
  # libFuzzer with ASan/UBSan for the hostile-input fuzz targets (scripts/fuzz.sh, the fuzz_smoke test).
  clang libclang-rt-14-dev
)
((browser)) && PACKAGES+=(chromium)

if ((install)); then
  missing=()
  for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# LibTorch from PyPI's torch wheel (README, Building): 2.11.0 is the device machine's version and CUDA 13.0,
# the nvcc Debian machines here carry; the wheel holds the whole LibTorch (headers, libraries, CMake package).
# Debian's python3 (not another python3 on PATH): the venv sees Debian's numpy, OpenCV, scikit-image, pydicom.
TORCH_VERSION=2.11.0
TORCHVISION_VERSION=0.26.0
if ((install)); then
  if ! .venv/bin/python -c "import torch, torchvision, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    echo "setup: installing torch $TORCH_VERSION and torchvision $TORCHVISION_VERSION from PyPI into .venv (~4.6 GB)"
    /usr/bin/python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
  fi
fi

((build)) || exit 0
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
echo "setup: built build/xai"
