#!/usr/bin/env bash
# libFuzzer targets (Debian's clang, with ASan and UBSan) for the code that reads untrusted bytes: the
# image front, model cards, region maps and batch journals. Each target starts from its seed corpus in
# fuzz/corpus/TARGET (committed) and runs SECONDS (default 30); inputs it finds go to build-fuzz/corpus,
# a crash to build-fuzz/crash-* (the script then fails).
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# With FUZZ_RUNS=N (ctest's fuzz_smoke) each target instead runs N inputs from seed 1, starting from the
# committed corpus only: the same commit explores the same inputs on every machine, so a failure is
# reproducible (`FUZZ_RUNS=N scripts/fuzz.sh 0 TARGET`), never a matter of luck or machine speed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(fuzz_image_front fuzz_model_card fuzz_region_map fuzz_journal)
out=build-fuzz
mkdir -p "$out"
read -r -a opencv_flags <<<"$(pkg-config --cflags opencv4)"
read -r -a opencv_libs <<<"$(pkg-config --libs opencv4)"
common=(-g -O1 -std=c++17 -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined
        -Iinclude -Isrc "${opencv_flags[@]}")
core=(src/core/error.cpp src/core/file_read.cpp src/core/sha256.cpp src/core/text.cpp src/core/statistics.cpp)
image=(src/input/image.cpp src/input/image_header.cpp src/input/jpeg_decoder.cpp src/input/dicom.cpp src/input/dicom_common.cpp)
sources_of() {
  case "$1" in
    fuzz_image_front) echo "${image[*]}" ;;
    fuzz_model_card) echo "src/model/model_card.cpp src/input/dicom.cpp src/input/dicom_common.cpp" ;;
    fuzz_region_map) echo "src/methods/superpixels.cpp ${image[*]}" ;;
    fuzz_journal) echo "src/output/results_log.cpp src/output/gallery.cpp src/output/atomic_file.cpp" ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
  esac
}
# Each library source is compiled once per run (instrumented for coverage: -fsanitize=fuzzer-no-link),
# then linked into every target that needs it.
object_of() { echo "$out/obj/$(echo "$1" | tr / _).o"; }
mkdir -p "$out/obj"
declare -A compiled=()
for target in "${targets[@]}"; do
  read -r -a sources <<<"$(sources_of "$target")"
  objects=()
  for source in "${sources[@]}" "${core[@]}"; do
    object=$(object_of "$source")
    if [[ -z ${compiled[$source]:-} ]]; then
      "${CLANGXX:-clang++}" "${common[@]}" -fsanitize=fuzzer-no-link -c "$source" -o "$object"
      compiled[$source]=1
    fi
    objects+=("$object")
  done
  echo "fuzz: building $target"
  "${CLANGXX:-clang++}" "${common[@]}" -fsanitize=fuzzer "fuzz/$target.cpp" "${objects[@]}" "${opencv_libs[@]}" -ljpeg \
    -ldcmjpeg -ldcmjpls -ldcmdata -loflog -lofstd \
    -o "$out/$target"
done
status=0
for target in "${targets[@]}"; do
  if [[ -n ${FUZZ_RUNS:-} ]]; then
    corpus="$out/smoke-corpus/$target"
    rm -rf "$corpus"
    budget=(-runs="$FUZZ_RUNS" -seed=1)
    echo "fuzz: running $target for $FUZZ_RUNS inputs (seed 1)"
  else
    corpus="$out/corpus/$target"
    budget=(-max_total_time="$seconds")
    echo "fuzz: running $target for ${seconds}s"
  fi
  mkdir -p "$corpus"
  # ASan's leak check is off: OpenCV's codecs keep allocations for the life of the process.
  if ! ASAN_OPTIONS=detect_leaks=0 "$out/$target" "${budget[@]}" -rss_limit_mb=2048 -timeout=20 \
      -artifact_prefix="$out/" -print_final_stats=1 "$corpus" "fuzz/corpus/$target" \
      >"$out/$target.log" 2>&1; then
    echo "fuzz: $target FAILED (see $out/$target.log)"; tail -30 "$out/$target.log"; status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$out/$target.log" | tr '\n' ' '; echo
  fi
done
exit $status
