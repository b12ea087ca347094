#!/usr/bin/python3
"""Naive reference for deletion and insertion curves (Petsiuk et al. 2018), with numpy and Debian's torch:

    faithfulness_reference.py DIR

DIR/params.json: {"model": path, "class": c, "fill": [per-channel normalised fill], "steps": n}
DIR/input.npy: the normalised image (C x H x W); DIR/map.npy: the map (H x W, distinct values).
Pixels are taken in decreasing map value; after step k of n, the first round(k * H * W / n) of them
are replaced by the fill (deletion) or are the only ones not showing it (insertion). One image per
forward pass; writes DIR/deletion.npy and DIR/insertion.npy (n + 1 probabilities of the class each).
"""
import json
import math
import sys

import numpy as np
import torch

d = sys.argv[1]
params = json.load(open(f"{d}/params.json"))
model = torch.jit.load(params["model"]).eval()
x = np.load(f"{d}/input.npy").astype(np.float64)
saliency = np.load(f"{d}/map.npy").astype(np.float64)
C, H, W = x.shape
fill = np.array(params["fill"], dtype=np.float64).reshape(C, 1, 1) * np.ones((C, H, W))
cls, steps = params["class"], params["steps"]
assert len(np.unique(saliency)) == H * W, "the reference orders by value alone: values must be distinct"
order = np.argsort(-saliency.ravel(), kind="stable")


def probability(image):
    with torch.no_grad():
        logits = model(torch.from_numpy(image[None].astype(np.float32)))
    return torch.softmax(logits.double(), 1)[0, cls].item()


deletion, insertion = [], []
for k in range(steps + 1):
    n = int(math.floor(k * H * W / steps + 0.5))
    first = np.zeros(H * W, dtype=bool)
    first[order[:n]] = True
    first = first.reshape(H, W)
    deletion.append(probability(np.where(first[None], fill, x)))
    insertion.append(probability(np.where(first[None], x, fill)))
np.save(f"{d}/deletion.npy", np.array(deletion, dtype=np.float64))
np.save(f"{d}/insertion.npy", np.array(insertion, dtype=np.float64))
