#!/usr/bin/env bash
# Does `xai slide` hold its memory flat whatever the slide's size? Embeds the same synthetic tissue
# (scripts/make_test_slide.py: 2304x1536 px, 24x16 cells of 96 px at 0.5 µm/px) in slides of glass
# of growing size (libvips streams the pyramidal JPEG TIFF: it never holds the slide either), runs
# `xai slide` with the demo model (Grad-CAM, viewer on) on each, and prints the peak resident memory
# (GNU time's maximum RSS), the tiles read and the wall time.
#
#   bench/slide_memory.sh [SIDES="10000 25000 50000 100000"]
#
# Needs build/xai, /usr/bin/python3 with numpy and OpenCV, vips (libvips-tools) and GNU time
# (Debian's `time` package). The 100 000-px slide takes vips about a minute to write (~220 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
sides=${1:-"10000 25000 50000 100000"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[[ -x /usr/bin/time ]] || { echo "slide_memory: needs GNU time (apt-get install time)" >&2; exit 2; }

/usr/bin/python3 scripts/make_test_slide.py "$work/tissue.tif" >/dev/null
printf '%-16s %12s %10s %10s %s\n' "slide (px)" "tissue tiles" "max RSS" "wall" "background tiles not read"
for side in $sides; do
  slide="$work/slide-$side.tif"
  # The tissue a third of the way in, the rest glass (243 gray, as the test slide's).
  vips embed "$work/tissue.tif" \
    "$slide[tile,pyramid,compression=jpeg,Q=85,tile-width=256,tile-height=256,xres=2000,yres=2000]" \
    $((side / 3)) $((side / 3)) "$side" "$side" --extend background --background "243 243 243"
  out="$work/out-$side"
  /usr/bin/time -f '%M %e' -o "$work/time" build/xai -q slide "$slide" -m models/demo-histo.pt -o "$out"
  read -r rss wall <"$work/time"
  tiles=$(/usr/bin/python3 -c "import json,sys; c=json.load(open(sys.argv[1]))['counts']; print(c['tissue_tiles'], c['background_tiles_not_read'])" "$out/slide.json")
  printf '%-16s %12s %8d MB %9ss %s\n' "${side}x${side}" "${tiles% *}" $((rss / 1024)) "$wall" "${tiles#* }"
  rm -rf "$slide" "$out"
done
