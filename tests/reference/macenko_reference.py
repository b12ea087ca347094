#!/usr/bin/python3
"""Macenko stain normalisation in numpy, written from the paper (Macenko et al., ISBI 2009) with the
constants every implementation uses (Io 240, beta 0.15, alpha 1, the concentrations' 99th percentile):
the independent reference for src/input/stain.cpp.

    macenko_reference.py IMAGE REFERENCE OUT.npy [TISSUE]

Prints {"source": stains of IMAGE, "target": stains of REFERENCE} as JSON and writes IMAGE normalised to
REFERENCE's stains (H x W x 3, RGB, float64 in [0, 1]) to OUT.npy. Images are read as 8-bit RGB. TISSUE
(an 8-bit mask of IMAGE's size, non-zero = tissue) restricts IMAGE's estimate to its pixels.
"""
import json
import sys

import cv2
import numpy as np

IO, BETA, ALPHA = 240.0, 0.15, 1.0


def optical_density(rgb):
    return -np.log((rgb.reshape(-1, 3).astype(np.float64) + 1.0) / IO)


def stains(rgb, tissue=None):
    od = optical_density(rgb)
    if tissue is not None:
        od = od[tissue.reshape(-1) > 0]
    stained = od[np.all(od >= BETA, axis=1)]
    _, vectors = np.linalg.eigh(np.cov(stained.T))  # ascending eigenvalues: columns 1 and 2 are the largest two
    plane = vectors[:, 1:3].copy()
    plane[:, plane[0, :] < 0] *= -1  # both towards positive red density
    projected = stained @ plane
    angle = np.arctan2(projected[:, 1], projected[:, 0])
    low, high = np.percentile(angle, ALPHA), np.percentile(angle, 100 - ALPHA)
    v_low = plane @ np.array([np.cos(low), np.sin(low)])
    v_high = plane @ np.array([np.cos(high), np.sin(high)])
    he = np.array([v_low, v_high]).T if v_low[0] > v_high[0] else np.array([v_high, v_low]).T
    concentrations = np.linalg.lstsq(he, od.T, rcond=None)[0]
    max_c = np.percentile(concentrations, 99, axis=1)
    return he, max_c


def normalise(rgb, source, target):
    he_s, max_s = source
    he_t, max_t = target
    c = np.linalg.lstsq(he_s, optical_density(rgb).T, rcond=None)[0]
    c *= (max_t / max_s)[:, None]
    out = np.clip(IO * np.exp(-he_t @ c), 0, 255) / 255.0
    return out.T.reshape(rgb.shape)


def as_json(stain):
    he, max_c = stain
    return {"hematoxylin": he[:, 0].tolist(), "eosin": he[:, 1].tolist(), "max_concentrations": max_c.tolist()}


def main():
    image = cv2.cvtColor(cv2.imread(sys.argv[1], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    reference = cv2.cvtColor(cv2.imread(sys.argv[2], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    tissue = cv2.imread(sys.argv[4], cv2.IMREAD_GRAYSCALE) if len(sys.argv) > 4 else None
    source, target = stains(image, tissue), stains(reference)
    np.save(sys.argv[3], normalise(image, source, target))
    print(json.dumps({"source": as_json(source), "target": as_json(target)}))


if __name__ == "__main__":
    main()
