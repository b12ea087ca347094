#!/usr/bin/env python3
"""Grad-CAM images per second: xai against pytorch-grad-cam (the peer library) on one model, device and batch.

    bench/peer_gradcam.py --models DIR --arch resnet50 [--device cuda] [--batch 64] [--runs 5] [--xai build/xai]

DIR is scripts/export_models.py's output: xai explains DIR/ARCH-scripted.pt, the peer an eager torchvision model
loaded from DIR/ARCH.weights.pt (the same weights). Both explain the model card's target layer (ResNet50:
layer4), each image's most probable class, and return one map per image at the input size (the peer upsamples
with cv2 and normalises each map, xai as its maps). xai's time is `xai bench --batch-size B` (a batch of B
prepared images explained together, median of the runs); the peer's is its GradCAM called on the same batch size
with the batch already on the device (median of the runs, after one warm-up call). Prints one JSON object.
Exit 0 measured, 3 pytorch-grad-cam or what it imports is missing (nothing measured), 1 a run failed.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from importlib import metadata

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from import_stubs import stub_missing  # noqa: E402

# torchvision (the eager model) imports PIL when it loads and never calls it to build one.
STUBBED_FOR_TORCHVISION = stub_missing(["PIL", "PIL.Image"])
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import xai_models  # noqa: E402


# What pytorch-grad-cam's package imports when it loads but GradCAM's computation never calls: plotting, the
# other CAM methods' decompositions and progress bars. Where one is missing (the lent GPU machine's Python has torch
# and little else) bench/import_stubs.py puts a stub in its place, which raises as soon as it is called: a stub can
# stop the run but never change what is measured. The computation itself needs torch, numpy and cv2 (and ttach,
# which GradCAM's constructor calls: it travels with the bundle).
UNUSED_BY_GRADCAM = ["matplotlib", "matplotlib.pyplot", "matplotlib.lines", "sklearn", "sklearn.decomposition",
                     "scipy", "scipy.ndimage", "scipy.sparse", "scipy.sparse.linalg", "tqdm"]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peer_ms_per_batch(arch: str, weights: str, device: torch.device, batch: int, runs: int) -> float:
    from pytorch_grad_cam import GradCAM  # the peer; imported here so a missing one is reported, not a crash

    model = xai_models.load_model(arch, weights).to(device).eval()
    spec = xai_models.input_spec(arch)
    images = xai_models.random_images(arch, batch, torch.Generator().manual_seed(1234)).to(device)
    cam = GradCAM(model=model, target_layers=[model.get_submodule(spec["target_layer"])])
    times = []
    for run in range(runs + 1):  # the first is the warm-up (cuDNN's algorithm search, allocations)
        synchronize(device)
        start = time.perf_counter()
        maps = cam(input_tensor=images, targets=None)  # None: each image's most probable class
        synchronize(device)
        if run > 0:
            times.append((time.perf_counter() - start) * 1000.0)
    assert maps.shape == (batch, spec["input_size"][0], spec["input_size"][1]), maps.shape
    return statistics.median(times)


def xai_ms_per_batch(xai: str, model: str, device: str, batch: int, runs: int) -> float:
    out = subprocess.run([xai, "bench", "-q", "--model", model, "--method", "gradcam", "--device", device,
                          "--batch-size", str(batch), "--runs", str(runs), "--no-full-backward", "--json"],
                         check=True, capture_output=True, text=True).stdout
    return float(json.loads(out)["explain_ms"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", required=True)
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--xai", default="build/xai")
    parser.add_argument("--stub-all", action="store_true",
                        help="stub every module GradCAM does not use, even where installed (tests the stubs)")
    args = parser.parse_args()
    device = torch.device(args.device)
    try:
        stubbed = STUBBED_FOR_TORCHVISION + stub_missing(UNUSED_BY_GRADCAM, force=args.stub_all)
        import cv2  # noqa: F401  (the peer resizes its maps with OpenCV)
        import pytorch_grad_cam  # noqa: F401
    except ImportError as e:
        print(json.dumps({"measured": False, "why": f"pytorch-grad-cam cannot be imported here: {e}"}))
        return 3

    weights = os.path.join(args.models, f"{args.arch}.weights.pt")
    scripted = os.path.join(args.models, f"{xai_models.file_stem(args.arch)}-scripted.pt")
    xai_ms = xai_ms_per_batch(args.xai, scripted, args.device, args.batch, args.runs)
    peer_ms = peer_ms_per_batch(args.arch, weights, device, args.batch, args.runs)
    try:
        version = metadata.version("grad-cam")  # the package has no __version__
    except metadata.PackageNotFoundError:
        version = "unknown"
    print(json.dumps({
        "measured": True, "arch": args.arch, "device": args.device, "batch": args.batch, "runs": args.runs,
        "xai_ms_per_batch": round(xai_ms, 2), "peer_ms_per_batch": round(peer_ms, 2),
        "xai_images_per_s": round(args.batch * 1000.0 / xai_ms, 2),
        "peer_images_per_s": round(args.batch * 1000.0 / peer_ms, 2),
        "speedup": round(peer_ms / xai_ms, 3), "peer": f"pytorch-grad-cam {version}", "torch": torch.__version__,
        "stubbed_unused_modules": stubbed,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
