#!/usr/bin/env bash
# Packs what bench/gpu.sh needs on a GPU machine that has PyTorch 2.11.0 (+cu130) but no OpenCV, no other -dev
# packages and no network (the GPU machine lent to this project's sessions takes 64 MiB): xai built here against a
# static OpenCV and without the DICOM and slide readers (-DXAI_WITH_DICOM=OFF -DXAI_WITH_SLIDES=OFF), the shared
# libraries it needs beyond LibTorch and glibc, torchvision (for the exports), pytorch-grad-cam with OpenCV
# (for the comparison), the scripts and examples.
# LibTorch itself is the GPU machine's own: the torch wheel there is the very LibTorch this build links.
#   scripts/gpu_bundle.sh [OUT.tar.xz]   after scripts/setup.sh (the first run builds OpenCV: ~20 min on 2 cores)
# On the GPU machine:
#   tar xf gpu-bundle.tar.xz && gpu-bundle/run.sh [--quick|--peer-only] [OUT]   (bench/gpu.sh with the bundled xai)
# A session lent the device machine runs, with carry ["gpu-bundle.tar.xz"] and a timeout of ~560 s:
#   tar xf gpu-bundle.tar.xz -C /tmp && /tmp/gpu-bundle/run.sh /tmp/g; rc=$?; cp /tmp/g/gpu-report.md $OUT/;
#   tar czf $OUT/gpu-out.tgz -C /tmp --exclude=models --exclude=maps g; exit $rc
# (the report, and every measurement behind it in two files: $OUT brings back 8 files at most).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-bundle.tar.xz}
ocv=$PWD/build-opencv
python=.venv/bin/python
limit=$((64 << 20))

# 1. OpenCV 4.6 (Debian's source, the version the normal build links) as static libraries, only the modules xai
#    uses and their dependencies, with the system's PNG, JPEG and TIFF codecs.
if [[ ! -f $ocv/install/lib/cmake/opencv4/OpenCVConfig.cmake ]]; then
  mkdir -p "$ocv/src"
  if ! ls "$ocv"/src/opencv_4.6.0*.orig.tar.xz > /dev/null 2>&1; then
    if ! grep -rqs "deb-src\|Types: deb-src" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        > /etc/apt/sources.list.d/xai-src.sources
      apt-get update -qq
    fi
    (cd "$ocv/src" && apt-get source --download-only opencv)
  fi
  (cd "$ocv/src" && tar xf opencv_4.6.0*.orig.tar.xz && tar xf opencv_4.6.0*.orig-contrib.tar.xz --wildcards '*/modules/ximgproc/*')
  cmake -S "$ocv/src/opencv-4.6.0" -B "$ocv/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$ocv/install" \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DOPENCV_EXTRA_MODULES_PATH="$ocv/src/opencv_contrib-4.6.0/modules" \
    -DBUILD_LIST=core,imgproc,imgcodecs,photo,ximgproc,calib3d,features2d,flann,video \
    -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DBUILD_TESTS=OFF -DBUILD_PERF_TESTS=OFF \
    -DBUILD_EXAMPLES=OFF -DBUILD_opencv_apps=OFF -DBUILD_opencv_python3=OFF -DBUILD_JAVA=OFF -DWITH_IPP=OFF -DWITH_ITT=OFF \
    -DWITH_OPENCL=OFF -DWITH_CUDA=OFF -DWITH_GTK=OFF -DWITH_QT=OFF -DWITH_FFMPEG=OFF -DWITH_GSTREAMER=OFF -DWITH_V4L=OFF \
    -DWITH_GDAL=OFF -DWITH_OPENEXR=OFF -DWITH_WEBP=OFF -DWITH_OPENJPEG=OFF -DWITH_JASPER=OFF -DWITH_TIFF=ON -DWITH_PNG=ON \
    -DWITH_JPEG=ON -DWITH_EIGEN=OFF -DWITH_LAPACK=OFF -DWITH_TBB=OFF -DWITH_OPENMP=OFF -DWITH_VA=OFF -DBUILD_ZLIB=OFF \
    -DBUILD_PNG=OFF -DBUILD_JPEG=OFF -DBUILD_TIFF=OFF -DCV_TRACE=OFF -DWITH_ADE=OFF -DOPENCV_GENERATE_PKGCONFIG=OFF \
    -DWITH_QUIRC=OFF -DWITH_1394=OFF -DWITH_PROTOBUF=OFF -DBUILD_PROTOBUF=OFF -DWITH_FLATBUFFERS=OFF -DWITH_CAROTENE=OFF \
    -DWITH_OPENVX=OFF -DWITH_VTK=OFF > "$ocv/configure.log"
  cmake --build "$ocv/build" -j "$(nproc)"
  cmake --install "$ocv/build" > /dev/null
fi

# 2. xai against it, without the optional readers (DCMTK and OpenSlide would bring ~100 MB of libraries).
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DOpenCV_DIR="$ocv/install/lib/cmake/opencv4" \
  -DXAI_WITH_DICOM=OFF -DXAI_WITH_SLIDES=OFF -DXAI_BUILD_TESTS=OFF -DXAI_BUILD_BENCH=OFF > /dev/null
cmake --build build-gpu -j "$(nproc)" --target xai

# 3. The bundle.
stage=build-gpu/bundle
rm -rf "$stage" && mkdir -p "$stage/gpu-bundle"/{bin,lib,torchvision,scripts,bench,models,examples}
b=$stage/gpu-bundle
cp build-gpu/xai "$b/bin/xai" && strip "$b/bin/xai"
# Every shared library outside LibTorch/NVIDIA's (the GPU machine's torch has them) and the C and C++ runtimes
# (glibc, libstdc++, libgcc: the system's own, which its torch uses too; run.sh checks glibc's version).
ldd build-gpu/xai | awk '/=>/ {print $3}' | grep -v -E "site-packages|/nvidia/" |
  grep -v -E "/lib(c|m|dl|rt|pthread|resolv|util|stdc\+\+|gcc_s)\.so|ld-linux" | while read -r lib; do
    cp -L "$lib" "$b/lib/"
  done
cp scripts/export_models.py scripts/xai_models.py "$b/scripts/"
cp bench/gpu.sh "$b/bench/"
cp models/demo-histo.pt models/demo-histo.json "$b/models/"
cp -r examples/patches "$b/examples/"
# torchvision for the exports, in case the GPU machine's Python has torch alone: its Python files and its ops library
# (_C.so reaches Python through torch's operator registry, not Python's C API, so one build serves every Python
# version: measured, the cp313 build loads and exports under 3.11) with the CUDA runtime it links. Its image codecs
# (image.so, nvJPEG, libjpeg, libpng, libwebp) are left out: the exports decode no image, and torchvision only warns.
# One copy instead of a wheel per Python version: 12 MiB less, which the 64 MiB transfer needs.
wheel_dir=$(mktemp -d)
"$python" -m pip download "torchvision==0.26.0" --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux_2_28_x86_64 -d "$wheel_dir" -q
unzip -q "$wheel_dir"/torchvision-*.whl -d "$b/torchvision" -x 'torchvision/image.so' 'torchvision.libs/libnvjpeg*' \
  'torchvision.libs/libjpeg*' 'torchvision.libs/libpng*' 'torchvision.libs/libwebp*' 'torchvision.libs/libsharpyuv*' \
  'torchvision.libs/libz*'
rm -rf "$wheel_dir"
cp bench/peer_gradcam.py bench/import_stubs.py "$b/bench/"
# The peer for the Grad-CAM comparison (bench/peer_gradcam.py): pytorch-grad-cam with ttach, tqdm and OpenCV's
# headless build, installed (not as wheels: OpenCV's 50 MB wheel is deflate-compressed, its files under xz take 30),
# so that it travels inside the same 64 MiB. OpenCV's wheel is abi3: one build serves Python 3.7 and newer.
"$python" -m pip install --no-deps --no-compile -q --target "$b/peer" "grad-cam==1.5.7" "ttach==0.0.3" "tqdm==4.67.1"
"$python" -m pip install --no-deps --no-compile -q --target "$b/peer" --only-binary=:all: \
  --platform manylinux2014_x86_64 --python-version 3.10 "opencv-python-headless==4.10.0.84"
rm -rf "$b/peer/bin"
cat > "$b/run.sh" <<'EOF'
#!/usr/bin/env bash
# On the GPU machine: runs bench/gpu.sh with the bundled xai and the machine's own LibTorch (its torch wheel).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
# Built on Debian 12: glibc 2.34 or newer and libstdc++ with GLIBCXX_3.4.30 (GCC 12) or newer.
glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
[[ "$(printf '%s\n2.34\n' "$glibc" | sort -V | head -1)" == 2.34 ]] ||
  { echo "run.sh: this machine has glibc $glibc; the bundle needs 2.34 or newer (build xai there instead)" >&2; exit 2; }
torch_lib=$("$python" -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
version=$("$python" -c "import torch; print(torch.__version__)")
[[ "$version" == 2.11.0* ]] || { echo "run.sh: this bundle links LibTorch 2.11.0; this Python has torch $version" >&2; exit 2; }
# torchvision imports PIL when it loads; where PIL is missing the exports stub it (bench/import_stubs.py).
stubbed_torchvision="import sys; sys.path.insert(0, '$here/bench'); import import_stubs; import_stubs.stub_missing(['PIL', 'PIL.Image']); import torchvision.models"
if ! "$python" -W ignore -c "$stubbed_torchvision" 2>/dev/null; then
  export PYTHONPATH="$here/torchvision${PYTHONPATH:+:$PYTHONPATH}"
  "$python" -W ignore -c "$stubbed_torchvision" ||
    { echo "run.sh: the bundled torchvision does not load with this Python's torch" >&2; exit 2; }
fi
# The peer for the Grad-CAM comparison (pytorch-grad-cam and OpenCV), when this Python has none of its own.
if ! "$python" -c "import pytorch_grad_cam, cv2" 2>/dev/null; then
  export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$here/peer"
fi
export LD_LIBRARY_PATH="$here/lib:$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$here/bin/xai" --version
cd "$here"
XAI="$here/bin/xai" XAI_PYTHON="$python" bench/gpu.sh "$@"
EOF
chmod +x "$b/run.sh"
tar -C "$stage" -cJf "$out" gpu-bundle
size=$(stat -c %s "$out")
echo "gpu_bundle: $out, $((size >> 20)) MiB ($(du -sh "$b" | cut -f1) unpacked)"
# What travels to the lent machine is the working tree (tracked files) and the bundle together.
tree=$(git ls-files -z | xargs -0 stat -c %s | awk '{s += $1} END {print s}')
echo "gpu_bundle: with the working tree ($((tree >> 20)) MiB) $(((size + tree) >> 20)) MiB of the 64 MiB that travel"
((size + tree < limit)) || { echo "gpu_bundle: larger than 64 MiB with the tree: it would not travel to the lent GPU machine" >&2; exit 1; }
