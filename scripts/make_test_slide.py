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
malignant patch's lesion box in slide pixels. The lesions' outlines (traced from each malignant
patch's lesion mask, level-0 pixels) are also written as a pathologist's tools write annotations:
OUT.geojson as QuPath exports them (FeatureCollection, objectType "annotation", class "Tumor") and
OUT.xml as ASAP writes them (Camelyon16's format: group "_0"). Synthetic data; not a model of real
pathology.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

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
                                                        int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)],
                                 "outlines": lesion_outlines(mask, c * p, r * p)})
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "slide.png")
        cv2.imwrite(png, cv2.cvtColor(slide, cv2.COLOR_RGB2BGR))
        per_mm = 1000.0 / args.mpp
        subprocess.run(["vips", "tiffsave", png, args.out, "--tile", "--pyramid", "--tile-width", "256",
                        "--tile-height", "256", "--compression", "deflate", "--xres", str(per_mm),
                        "--yres", str(per_mm)], check=True)
    truth = {"grid": [cols, rows], "patch": p, "seed": args.seed, "mpp": args.mpp, "size": [cols * p, rows * p],
             "tissue_cells": tissue, "malignant_cells": sorted([list(m) for m in malignant]), "lesions": lesions}
    stem = os.path.splitext(args.out)[0]
    with open(stem + ".json", "w") as f:
        json.dump(truth, f, indent=1)
    outlines = [(lesion["cell"], ring) for lesion in lesions for ring in lesion["outlines"]]
    write_geojson(stem + ".geojson", outlines)
    write_asap_xml(stem + ".xml", outlines)
    return 0


def lesion_outlines(mask, x0, y0):
    """The lesion mask's outer boundaries as closed rings of level-0 pixel corners' positions."""
    contours, _ = cv2.findContours((mask > 0).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    rings = []
    for contour in contours:
        if len(contour) < 3:
            continue
        # Boundary pixels' centres (x + 0.5): the polygon a viewer draws around those pixels.
        ring = [[x0 + float(x) + 0.5, y0 + float(y) + 0.5] for [[x, y]] in contour]
        rings.append(ring + [ring[0]])
    return rings


def write_geojson(path, outlines):
    features = [{"type": "Feature",
                 "geometry": {"type": "Polygon", "coordinates": [ring]},
                 "properties": {"objectType": "annotation", "name": f"lesion in cell {cell[0]},{cell[1]}",
                                "classification": {"name": "Tumor", "color": [200, 0, 0]}}}
                for cell, ring in outlines]
    with open(path, "w") as f:
        json.dump({"type": "FeatureCollection", "features": features}, f)


def write_asap_xml(path, outlines):
    root = ET.Element("ASAP_Annotations")
    annotations = ET.SubElement(root, "Annotations")
    for i, (cell, ring) in enumerate(outlines):
        a = ET.SubElement(annotations, "Annotation", Name=f"Annotation {i}", Type="Polygon", PartOfGroup="_0",
                          Color="#F4FA58")
        coordinates = ET.SubElement(a, "Coordinates")
        for order, (x, y) in enumerate(ring[:-1]):  # ASAP closes the ring itself
            ET.SubElement(coordinates, "Coordinate", Order=str(order), X=repr(x), Y=repr(y))
    groups = ET.SubElement(root, "AnnotationGroups")
    ET.SubElement(ET.SubElement(groups, "Group", Name="_0", PartOfGroup="None", Color="#FF0000"), "Attributes")
    ET.ElementTree(root).write(path, xml_declaration=True, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
