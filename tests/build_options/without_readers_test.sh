#!/usr/bin/env bash
# A build without the optional readers (-DXAI_WITH_DICOM=OFF -DXAI_WITH_SLIDES=OFF, what scripts/gpu_bundle.sh
# ships): it explains a PNG as usual, and refuses a DICOM file, a slide and a DICOM slide with exit 3 and one line each.
#   tests/build_options/without_readers_test.sh BUILD/xai
set -euo pipefail
xai=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "without_readers: $*" >&2; exit 1; }

"$xai" explain -q "$root/examples/patches/malignant-1.png" -o "$work/png" > /dev/null
[[ -f "$work/png/malignant-1.json" ]] || fail "no report for a PNG"

expect_refusal() {  # NAME SAYS COMMAND...
  local name=$1 says=$2 message code
  shift 2
  set +e
  message=$("$@" 2>&1 > /dev/null)
  code=$?
  set -e
  [[ $code == 3 ]] || fail "$name: exit $code, expected 3 ($message)"
  [[ "$message" == *"$says"* ]] || fail "$name: the error does not say '$says': $message"
  [[ $(printf '%s\n' "$message" | grep -c .) == 1 ]] || fail "$name: more than one line: $message"
}
dicom=$(/usr/bin/python3 -c "import pydicom.data; print(pydicom.data.get_testdata_file('CT_small.dcm'))")
expect_refusal DICOM "without DICOM support" "$xai" explain -q "$dicom" -o "$work/dicom"
/usr/bin/python3 "$root/scripts/make_test_slide.py" "$work/slide.tif" --dicom "$work/dicom-slide" > /dev/null
expect_refusal slide "built without it (-DXAI_WITH_SLIDES=OFF)" "$xai" slide -q "$work/slide.tif" -o "$work/slide"
[[ ! -e "$work/slide" ]] || fail "slide: an output folder was left behind"
expect_refusal "DICOM slide" "without DICOM support" "$xai" slide -q "$work/dicom-slide" -o "$work/dicom-out"
echo "without_readers: a PNG explained; DICOM, a slide and a DICOM slide refused in one line each"
