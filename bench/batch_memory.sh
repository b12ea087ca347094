#!/usr/bin/env bash
# Does `xai batch` hold its memory flat over many images? Runs a batch over N inputs (synthetic
# patches from scripts/synth_patches.py, hard-linked into folders until there are N of them) and
# samples the process's resident memory (VmRSS) twice a second.
#
#   bench/batch_memory.sh [N=10000] [extra xai batch flags...]
#
# Prints the RSS after 10 %, 25 %, 50 %, 75 % and 100 % of the inputs and the growth per 1000
# images between 25 % and 100 % (after the warm-up). Needs build/xai and /usr/bin/python3 with numpy,
# OpenCV and scikit-image (as scripts/setup.sh installs).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
shift || true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

unique=$((count < 2000 ? count : 2000))
/usr/bin/python3 scripts/synth_patches.py --out "$work/patches" --count "$unique" --seed 11 >/dev/null 2>&1
mkdir -p "$work/in"
made=0 copy=0
while ((made < count)); do
  mkdir -p "$work/in/copy$copy"
  for f in "$work"/patches/images/*.png; do
    ((made < count)) || break
    ln "$f" "$work/in/copy$copy/$(basename "$f")"
    made=$((made + 1))
  done
  copy=$((copy + 1))
done

build/xai batch "$work/in" -o "$work/out" "$@" 2>"$work/progress.log" &
pid=$!
: >"$work/rss.log"
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  done_lines=0
  [[ -f "$work/out/results.jsonl" ]] && done_lines=$(wc -l <"$work/out/results.jsonl")
  [[ -n "$rss" ]] && echo "$done_lines $rss" >>"$work/rss.log"
  sleep 0.5
done
wait "$pid"

awk -v n="$count" '
  { done[NR] = $1; rss[NR] = $2; rows = NR }
  END {
    split("10 25 50 75 100", pct, " ");
    for (i = 1; i <= 5; i++) {
      target = n * pct[i] / 100; best = 0;
      for (r = 1; r <= rows; r++) if (done[r] <= target) best = r;
      if (best) printf "after %6d images (%3d%%): RSS %7.1f MiB\n", done[best], pct[i], rss[best] / 1024;
      if (pct[i] == 25) { a = best } if (pct[i] == 100) { b = best }
    }
    if (a && b && done[b] > done[a])
      printf "growth 25%%..100%%: %.2f MiB per 1000 images\n", (rss[b] - rss[a]) / 1024 / (done[b] - done[a]) * 1000;
  }' "$work/rss.log"
tail -1 "$work/progress.log"
