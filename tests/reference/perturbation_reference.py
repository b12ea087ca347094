#!/usr/bin/python3
"""Naive reference for occlusion and RISE, written from the papers with numpy and Debian's torch:

    perturbation_reference.py DIR

DIR/params.json: {"model": path, "class": c, "fill": [per-channel normalised fill],
                  "window": w, "stride": s, "keep": p}
DIR/input.npy: the normalised image (C x H x W); DIR/masks.npy: RISE's masks (N x H x W).
Writes DIR/occlusion.npy (captum-style: each window replaced by the fill, a pixel's value the mean
probability drop over the windows covering it; windows at 0, s, 2s, ... plus one flush with the far
edge) and DIR/rise.npy (sum_i p_c(fill + M_i (x - fill)) M_i / (N p)), one image per forward pass.
"""
import json
import sys

import numpy as np
import torch

d = sys.argv[1]
params = json.load(open(f"{d}/params.json"))
model = torch.jit.load(params["model"]).eval()
x = np.load(f"{d}/input.npy").astype(np.float64)
C, H, W = x.shape
fill = np.array(params["fill"], dtype=np.float64).reshape(C, 1, 1) * np.ones((C, H, W))
cls = params["class"]


def probability(image):
    with torch.no_grad():
        logits = model(torch.from_numpy(image[None].astype(np.float32)))
    return torch.softmax(logits.double(), 1)[0, cls].item()


p0 = probability(x)


def positions(length, window, stride):
    p = list(range(0, length - window + 1, stride))
    if p[-1] + window < length:
        p.append(length - window)
    return p


w, s = params["window"], params["stride"]
total = np.zeros((H, W))
count = np.zeros((H, W))
for y0 in positions(H, w, s):
    for x0 in positions(W, w, s):
        image = x.copy()
        image[:, y0:y0 + w, x0:x0 + w] = fill[:, y0:y0 + w, x0:x0 + w]
        total[y0:y0 + w, x0:x0 + w] += p0 - probability(image)
        count[y0:y0 + w, x0:x0 + w] += 1
np.save(f"{d}/occlusion.npy", (total / np.maximum(count, 1)).astype(np.float32))

masks = np.load(f"{d}/masks.npy").astype(np.float64)
saliency = np.zeros((H, W))
for m in masks:
    saliency += probability(fill + m[None] * (x - fill)) * m
np.save(f"{d}/rise.npy", (saliency / (len(masks) * params["keep"])).astype(np.float32))
