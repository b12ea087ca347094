#!/usr/bin/env bash
# The library as an embedder gets it: `cmake --install` of BUILD_DIR into a fresh prefix, the example
# project (examples/) configured with find_package(xai) against that prefix alone, built, and run on a
# real patch with the bundled demo model: it must print the prediction and both maps and write the
# report it names. Also: the installed headers are the public API only (include/xai/, no internal one).
#   tests/build_options/installed_package_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
headers=$(cd "$work/prefix/include" && find . -type f | sort)
expected=$(cd "$root/include" && find . -type f | sort)
if [[ "$headers" != "$expected" ]]; then
  echo "installed headers differ from include/:"; diff <(echo "$expected") <(echo "$headers") || true; exit 1
fi
# Every installed header compiles on its own against the installed tree (nothing internal reached for).
for header in $headers; do
  echo "#include \"${header#./}\"" > "$work/one.cpp"
  g++ -std=c++17 -fsyntax-only -I"$work/prefix/include" -I/usr/include/opencv4 "$work/one.cpp" ||
    { echo "installed header ${header#./} does not compile alone"; exit 1; }
done

cmake -S "$root/examples" -B "$work/example" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
  > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/example" -j 2 > "$work/build.log" || { cat "$work/build.log"; exit 1; }
cp "$root/examples/patches/malignant-1.png" "$work/patch.png"
"$work/example/explain_one" "$root/models/demo-histo.pt" "$work/patch.png" "$work/out" | tee "$work/run.log"
grep -q "^$work/patch.png: malignant" "$work/run.log" || { echo "no prediction printed"; exit 1; }
grep -q "gradcam at .*: peak" "$work/run.log" && grep -q "lime: peak" "$work/run.log" ||
  { echo "the example did not print both maps"; exit 1; }
report="$work/out/patch.json"
[[ -s "$report" ]] || { echo "no report at $report"; exit 1; }
grep -q '"gradcam"' "$report" && grep -q '"lime"' "$report" || { echo "report lacks a method"; exit 1; }
echo "installed package: headers $(echo "$headers" | wc -l), example built and ran"
