#!/usr/bin/env bash
# The GPU proof, repeatable on any machine with an NVIDIA GPU and a built xai (scripts/setup.sh there):
#   bench/gpu.sh [OUT]          parity CPU vs GPU, then the speed table; writes OUT/gpu-report.md (+ .json)
#   bench/gpu.sh --quick [OUT]  parity on ResNet50 only, one image (what ctest's gpu_parity runs)
#   bench/gpu.sh --peer-only [OUT]  only Grad-CAM against pytorch-grad-cam (bench/peer_gradcam.py)
# Parity: the same image, method and seed explained with --device cpu and --device cuda; the maps must agree
# within 1e-3 (CAM maps are normalised to [0,1]; LIME/Kernel SHAP/IG maps are compared relative to their
# largest absolute value). Speed: `xai bench` on the GPU beside the CPU, ratios to a batched forward pass.
# Models are exported here with seeded random weights (scripts/export_models.py; no downloads).
# Exit codes: 0 every parity case within tolerance, 1 a case outside it or a run failed, 77 no GPU visible
# (nothing measured: ctest reports the test as not run, never as passed), or with --peer-only no peer to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
peer_only=0
if [[ "${1:-}" == "--quick" ]]; then quick=1; shift; fi
if [[ "${1:-}" == "--peer-only" ]]; then peer_only=1; shift; fi
out=${1:-gpu-out}
xai=${XAI:-build/xai}
python=${XAI_PYTHON:-.venv/bin/python}
tolerance=1e-3
# XAI_GPU_DEVICE=cpu compares the CPU with itself: a self-test of this script on a machine without a GPU.
gpu=${XAI_GPU_DEVICE:-cuda}

version=$("$xai" --version)
echo "gpu: $version"
if [[ "$version" == *"no GPU visible"* && "$gpu" != cpu ]]; then
  echo "gpu: no GPU visible: nothing measured (not run)"
  exit 77
fi
mkdir -p "$out/models"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
  > "$out/gpu.txt" || echo "unknown GPU" > "$out/gpu.txt"

archs="resnet50,densenet121,vit_b_16"
methods="gradcam lime kernelshap intgrad scorecam"
images=(examples/patches/malignant-1.png examples/patches/benign-1.png)
if ((quick)); then archs="resnet50"; methods="gradcam lime intgrad"; images=(examples/patches/malignant-1.png); fi
if ((peer_only)); then archs="resnet50"; methods=""; fi
# torchvision imports PIL when it loads; exporting never calls it (bench/import_stubs.py stubs it where missing).
# PYTHONHASHSEED=0 here, or export_models.py re-executes itself to set it and loses the stubs.
PYTHONHASHSEED=0 "$python" bench/import_stubs.py PIL,PIL.Image -- scripts/export_models.py --out "$out/models" \
  --arch "$archs" --mode scripted > "$out/export.log"

# Settings that keep the CPU side affordable; the same on both devices (same seeds: same perturbations).
declare -A extra=(
  [gradcam]="" [intgrad]="--steps 32"
  [lime]="--samples 256 --seed 1" [kernelshap]="--samples 256 --seed 1"
  [scorecam]="--probe-batch 64"
)
status=0
rm -f "$out/parity.md" "$out/speed.md" "$out/peer.md"
((peer_only)) || echo "| model | method | max abs difference CPU vs GPU | within $tolerance |" > "$out/parity.md"
((peer_only)) || echo "|---|---|---|---|" >> "$out/parity.md"
for arch in ${archs//,/ }; do
  model="$out/models/$arch-scripted.pt"
  for method in $methods; do
    # Score-CAM on the CPU is one forward pass per channel (2048 on ResNet50): one image is enough.
    inputs=("${images[@]}")
    [[ "$method" == scorecam ]] && inputs=("${images[0]}")
    for side in cpu gpu; do
      device=cpu
      [[ "$side" == gpu ]] && device=$gpu
      "$xai" explain -q --model "$model" --method "$method" ${extra[$method]} --device "$device" \
        "${inputs[@]}" -o "$out/maps/$arch/$method/$side" > /dev/null || { echo "gpu: $arch $method on $device failed"; status=1; }
    done
    line=$("$python" - "$out/maps/$arch/$method" "$tolerance" <<'PY'
import ast, glob, os, struct, sys
import torch  # the GPU machine's Python may have torch without numpy

def load(path):  # xai's .npy maps: little-endian float32, C order
    with open(path, "rb") as f:
        assert f.read(6) == b"\x93NUMPY", path
        major = f.read(2)[0]
        size = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        header = ast.literal_eval(f.read(size).decode("latin1"))
        assert header["descr"] == "<f4" and not header["fortran_order"], (path, header)
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).double()

root, tol = sys.argv[1], float(sys.argv[2])
worst = 0.0
cpu = sorted(glob.glob(os.path.join(root, "cpu", "*.npy")))
if not cpu:
    print("no maps"); sys.exit(1)
for a in cpu:
    b = a.replace(os.sep + "cpu" + os.sep, os.sep + "gpu" + os.sep)
    if not os.path.exists(b):
        print("missing " + os.path.basename(b)); sys.exit(1)
    x, y = load(a), load(b)
    unit = x.min() >= 0 and x.max() <= 1  # CAM maps: on [0,1] already
    scale = 1.0 if unit else max(1e-12, float(x.abs().max()))
    worst = max(worst, float((x - y).abs().max()) / scale)
print(f"{worst:.3g} {'yes' if worst <= tol else 'NO'}")
sys.exit(0 if worst <= tol else 1)
PY
) || status=1
    echo "gpu: parity $arch $method: $line"
    echo "| $arch | $method | ${line% *} | ${line##* } |" >> "$out/parity.md"
  done
done

# What the model checks measured on each device (their reports' model.checks, from the LIME runs above: batches
# of perturbed images), where the GPU tolerances were set without a GPU: the batch check's 1e-3.
if ((!peer_only)); then
  "$python" - "$out/maps" > "$out/checks.md" <<'PY' || true
import glob, json, os, sys
rows = []
for arch in sorted(os.listdir(sys.argv[1])):
    for side in ("cpu", "gpu"):
        for path in sorted(glob.glob(os.path.join(sys.argv[1], arch, "lime", side, "*.json"))):
            checks = json.load(open(path)).get("model", {}).get("checks")
            if not checks:
                continue
            def cell(c):
                return c if isinstance(c, str) else f"{c['probability_difference']:.3g} (tolerance {c['tolerance']:.3g})"
            rows.append(f"| {arch} | {side} | {cell(checks['batch_independence'])} | {cell(checks['inference_clone'])} |")
            break
if rows:
    print("| model | device | one image alone vs beside another: probability difference | inference clone vs module |")
    print("|---|---|---|---|")
    print("\n".join(rows))
PY
fi

# One row of the speed table from an `xai bench --json` file: JSON MODEL METHOD DEVICE.
speed_row() {
  "$python" - "$@" >> "$out/speed.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
tuned = (r.get("probe_batch") or r.get("gradient_probe_batch") or {}).get("chosen", 0)
host = r.get("outside_model_ms_per_model_image")
print(f"| {sys.argv[2]} | {sys.argv[3]} | {sys.argv[4]} | {r['forward_ms']:.2f} | {r['explain_ms']:.1f} | {r['ratio']:.2f} "
      f"| {tuned or ''} | {'' if host is None else f'{host:.3f}'} |")
PY
}

if ((!quick && !peer_only)); then
  echo "| model | method | device | forward ms (batch 1) | explain ms per image | explain ÷ forward | images per pass (the tuner's choice) | host ms per image through the model |" > "$out/speed.md"
  echo "|---|---|---|---|---|---|---|---|" >> "$out/speed.md"
  for arch in ${archs//,/ }; do
    model="$out/models/$arch-scripted.pt"
    # Score-CAM at its default: its probes sized by the tuner (one forward pass per channel, so fewer runs).
    for method in gradcam lime kernelshap rise intgrad scorecam; do
      runs=5
      [[ "$method" == scorecam ]] && runs=2
      for device in $gpu cpu; do
        # The CPU rows of the slow methods are left to README's CPU tables.
        if [[ "$device" == cpu && ( "$method" != gradcam || "$gpu" == cpu ) ]]; then continue; fi
        "$xai" bench -q --model "$model" --method "$method" --device "$device" --runs "$runs" --json 2>/dev/null \
          > "$out/bench-$arch-$method-$device.json" || { echo "gpu: bench $arch $method $device failed"; status=1; continue; }
        speed_row "$out/bench-$arch-$method-$device.json" "$arch" "$method" "$device"
      done
    done
    # Grad-CAM against a batched forward pass at batch 64 (the GPU's working point).
    "$xai" bench -q --model "$model" --method gradcam --device "$gpu" --batch-size 64 --runs 3 --json 2>/dev/null \
      > "$out/bench-$arch-gradcam-b64.json" || { echo "gpu: bench $arch gradcam batch 64 failed"; status=1; continue; }
    speed_row "$out/bench-$arch-gradcam-b64.json" "$arch" "gradcam, batch 64" "$gpu"
    # The same with the layers before the captured one on the inference clone (--staged-capture).
    "$xai" bench -q --model "$model" --method gradcam --device "$gpu" --batch-size 64 --runs 3 --staged-capture \
      --json 2>/dev/null > "$out/bench-$arch-gradcam-b64-staged.json" \
      || { echo "gpu: bench $arch gradcam batch 64 --staged-capture failed"; status=1; continue; }
    speed_row "$out/bench-$arch-gradcam-b64-staged.json" "$arch" "gradcam, batch 64, --staged-capture" "$gpu"
  done
  # Whether the readers and writers keep the GPU busy: `xai batch` (decode, explain, render, write) on 512 images
  # against raw batched inference on the same images, images per second of each.
  if "$xai" bench -q --model "$out/models/resnet50-scripted.pt" --method gradcam --device "$gpu" --pipeline 512 \
       --batch-size 64 --rounds 3 --json > "$out/bench-pipeline.json" 2>/dev/null; then
    "$python" - "$out/bench-pipeline.json" >> "$out/speed.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"\n`xai batch --method gradcam` on {r['images']} images, batch {r['batch_size']}: {r['batch_images_per_second']:.1f} "
      f"images/s against raw batched inference's {r['raw_images_per_second']:.1f}: **{r['ratio']:.2f}** of it "
      f"(median of {r['rounds']} rounds, {r['min_ratio']:.2f}-{r['max_ratio']:.2f}).")
PY
  else
    echo "gpu: bench --pipeline failed"; status=1
  fi
fi

# Grad-CAM against pytorch-grad-cam on the same device, model and batch (bench/peer_gradcam.py), when the peer can
# be imported here (gpu-bundle/run.sh puts the copy the bundle carries on the path when the machine has none).
if ((!quick)); then
  peer_rc=0
  "$python" bench/peer_gradcam.py --models "$out/models" --arch resnet50 --device "$gpu" --batch "${XAI_PEER_BATCH:-64}" \
    --runs 5 --xai "$xai" > "$out/peer.json" 2> "$out/peer.log" || peer_rc=$?
  ((peer_rc == 0 || peer_rc == 3)) && "$python" - "$out/peer.json" > "$out/peer.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if not r["measured"]:
    print(f"Not measured: {r['why']}.")
else:
    print(f"ResNet50 224², batch {r['batch']}, {r['device']}, median of {r['runs']} ({r['peer']}, torch {r['torch']}"
          + (f"; stubbed, unused by GradCAM: {', '.join(r['stubbed_unused_modules'])}" if r["stubbed_unused_modules"] else "")
          + ")\n")
    print("| | ms per batch | images per second |\n|---|---|---|")
    print(f"| xai | {r['xai_ms_per_batch']:.1f} | {r['xai_images_per_s']:.1f} |")
    print(f"| pytorch-grad-cam | {r['peer_ms_per_batch']:.1f} | {r['peer_images_per_s']:.1f} |")
    print(f"\nxai: **{r['speedup']:.2f}×** the peer's images per second (target ≥ 3).")
PY
  case $peer_rc in
    0) echo "gpu: against pytorch-grad-cam: $(tail -1 "$out/peer.md")" ;;
    3) echo "gpu: pytorch-grad-cam not importable here: not measured"; ((peer_only)) && status=77 ;;
    *) echo "gpu: the comparison with pytorch-grad-cam failed (see $out/peer.log)"; status=1 ;;
  esac
fi

{
  echo "# xai on a GPU, $(date -u +%Y-%m-%d)"
  echo
  echo "$version; $(cat "$out/gpu.txt")"
  echo
  if [[ -f "$out/parity.md" ]]; then echo "## Parity (CPU vs GPU, fp32)"; cat "$out/parity.md"; fi
  if [[ -s "$out/checks.md" ]]; then echo; echo "## Model checks (report: model.checks)"; cat "$out/checks.md"; fi
  if [[ -f "$out/speed.md" ]]; then echo; echo "## Speed"; cat "$out/speed.md"; fi
  if [[ -s "$out/peer.md" ]]; then echo; echo "## Grad-CAM against pytorch-grad-cam"; cat "$out/peer.md"; fi
} > "$out/gpu-report.md"
echo "gpu: report in $out/gpu-report.md"
exit $status
