#!/usr/bin/python3
"""Writes a synthetic whole-slide image: a pyramidal tiled TIFF of synthetic H&E patches on glass,
with a few malignant patches at known places (for `xai slide` tests and demos).

    /usr/bin/python3 scripts/make_test_slide.py OUT.tif [--grid 24x16] [--patch 96] [--seed 5]
                                                [--malignant 6,5 14,8 17,4] [--mpp 0.5]

The slide is a grid of COLSxROWS cells of PATCH pixels. Tissue fills an ellipse of cells (the rest is
glass: near-white with sensor noise); each tissue cell is a benign patch of scripts/synth_patches.py
(seed SEED, index = row * COLS + col) except the cells given with --malignant (column,row), which
are malignant patches of the same generator. Written with libvips (`vips tiffsave --tile --pyramid`,
256-px tiles, lossless deflate, resolution set so that OpenSlide reads MPP microns per pixel).
OUT.json beside it holds the truth: grid, patch size, mpp, tissue cells, malignant cells and each
malignant patch's lesion box in slide pixels. Synthetic data; not a model of real pathology.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth_patches import make_patch  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--grid", default="24x16", help="COLSxROWS cells")
    parser.add_argument("--patch", type=int, default=96)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--malignant", nargs="*", default=["6,5", "14,8", "17,4"], help="COL,ROW cells")
    parser.add_argument("--mpp", type=float, default=0.5)
    args = parser.parse_args(argv)
    cols, rows = (int(v) for v in args.grid.split("x"))
    malignant = {tuple(int(v) for v in cell.split(",")) for cell in args.malignant}
    p = args.patch
    rng = np.random.default_rng(args.seed)
    slide = np.clip(rng.normal(243, 3, (rows * p, cols * p, 3)), 0, 255).astype(np.uint8)  # glass
    tissue, lesions = [], []
    for r in range(rows):
        for c in range(cols):
            # An ellipse of cells, centred, filling most of the grid.
            if ((c + 0.5 - cols / 2) / (cols * 0.42)) ** 2 + ((r + 0.5 - rows / 2) / (rows * 0.42)) ** 2 > 1:
                if (c, r) in malignant:
                    sys.exit(f"--malignant {c},{r} is outside the tissue")
                continue
            is_malignant = (c, r) in malignant
            rgb, mask, label = make_patch(args.seed, r * cols + c, p, 1.0 if is_malignant else 0.0)
            slide[r * p:(r + 1) * p, c * p:(c + 1) * p] = rgb
            tissue.append([c, r])
            if is_malignant:
                ys, xs = np.nonzero(mask)
                lesions.append({"cell": [c, r], "box": [int(c * p + xs.min()), int(r * p + ys.min()),
                                                        int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]})
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "slide.png")
        cv2.imwrite(png, cv2.cvtColor(slide, cv2.COLOR_RGB2BGR))
        per_mm = 1000.0 / args.mpp
        subprocess.run(["vips", "tiffsave", png, args.out, "--tile", "--pyramid", "--tile-width", "256",
                        "--tile-height", "256", "--compression", "deflate", "--xres", str(per_mm),
                        "--yres", str(per_mm)], check=True)
    truth = {"grid": [cols, rows], "patch": p, "seed": args.seed, "mpp": args.mpp, "size": [cols * p, rows * p],
             "tissue_cells": tissue, "malignant_cells": sorted([list(m) for m in malignant]), "lesions": lesions}
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(truth, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
