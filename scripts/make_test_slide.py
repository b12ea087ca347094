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
OUT.xml as ASAP writes them (Camelyon16's format: group "_0"). With --dicom DIR the same slide is also
written as a DICOM whole-slide image (VL Whole Slide Microscopy, one instance per level): level 0 TILED_FULL
uncompressed RGB (the TIFF's pixels exactly), level 1 (1/2) TILED_SPARSE uncompressed without its
all-glass tiles, level 2 (1/4) TILED_FULL JPEG baseline; 256-px tiles, Pixel Spacing from --mpp.
Synthetic data; not a model of real pathology.
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
    parser.add_argument("--dicom", help="also write the slide as a DICOM whole-slide image into this folder")
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
    if args.dicom:
        write_dicom_slide(slide, args.dicom, args.mpp)
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


def write_dicom_slide(rgb, folder, mpp, tile=256):
    """The slide as DICOM WSI instances of one series (PS3.3 A.32.8), one file per level."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, generate_uid

    os.makedirs(folder, exist_ok=True)
    study, series, frame_of_reference = generate_uid(), generate_uid(), generate_uid()
    levels = [(rgb, "TILED_FULL", False), (None, "TILED_SPARSE", False), (None, "TILED_FULL", True)]
    image = rgb
    for index, (_, organisation, jpeg) in enumerate(levels):
        if index > 0:
            image = cv2.resize(image, ((image.shape[1] + 1) // 2, (image.shape[0] + 1) // 2), interpolation=cv2.INTER_AREA)
        height, width = image.shape[:2]
        across, down = (width + tile - 1) // tile, (height + tile - 1) // tile
        padded = np.full((down * tile, across * tile, 3), 255, np.uint8)
        padded[:height, :width] = image
        frames, positions = [], []
        for r in range(down):
            for c in range(across):
                block = padded[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile]
                if organisation == "TILED_SPARSE" and block.min() >= 200:
                    continue  # glass: left out, as scanners leave out what they did not scan
                frames.append(block)
                positions.append((c * tile + 1, r * tile + 1))
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.77.1.6"
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit if jpeg else ExplicitVRLittleEndian
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame_of_reference
        ds.Modality = "SM"
        ds.ImageType = ["DERIVED" if index else "ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
        ds.InstanceNumber = index + 1
        ds.Rows = ds.Columns = tile
        ds.TotalPixelMatrixColumns, ds.TotalPixelMatrixRows = width, height
        ds.TotalPixelMatrixFocalPlanes = 1
        ds.NumberOfFrames = len(frames)
        ds.DimensionOrganizationType = organisation
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "YBR_FULL_422" if jpeg else "RGB"
        ds.PlanarConfiguration = 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        measures = Dataset()
        measures.PixelSpacing = [mpp * 2 ** index / 1000.0] * 2
        measures.SliceThickness = 0.001
        shared = Dataset()
        shared.PixelMeasuresSequence = Sequence([measures])
        ds.SharedFunctionalGroupsSequence = Sequence([shared])
        if organisation == "TILED_SPARSE":
            per_frame = []
            for x, y in positions:
                position = Dataset()
                position.ColumnPositionInTotalImagePixelMatrix, position.RowPositionInTotalImagePixelMatrix = x, y
                item = Dataset()
                item.PlanePositionSlideSequence = Sequence([position])
                per_frame.append(item)
            ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
        if jpeg:
            encoded = [cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
                       for f in frames]
            ds.PixelData = encapsulate(encoded)
            ds["PixelData"].is_undefined_length = True
            ds.LossyImageCompression = "01"
        else:
            ds.PixelData = np.stack(frames).tobytes()
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(os.path.join(folder, f"level-{index}.dcm"), write_like_original=False)


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
