#!/usr/bin/python3
"""Independent reference for `xai slide`'s tile probabilities: the test slide's cells regenerated from
scripts/synth_patches.py (the slide is stored losslessly, so each tile is exactly its cell's patch)
and classified by the TorchScript model in Python.

    slide_reference.py SLIDE.json MODEL.pt CARD.json COL,ROW [COL,ROW ...]

SLIDE.json is the truth make_test_slide.py wrote beside the slide. Prints {"COL,ROW": [p0, p1, ...]}:
softmax probabilities of each cell's patch, preprocessed as the card says (RGB, /255, mean/std; the
patch is already the model's input size).
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from synth_patches import make_patch  # noqa: E402


def main(argv):
    truth = json.load(open(argv[0]))
    model = torch.jit.load(argv[1]).eval()
    card = json.load(open(argv[2]))
    cols = truth["grid"][0]
    patch = truth["patch"]
    seed = truth.get("seed", 5)
    malignant = {tuple(c) for c in truth["malignant_cells"]}
    mean = np.array(card["mean"], dtype=np.float32).reshape(3, 1, 1)
    std = np.array(card["std"], dtype=np.float32).reshape(3, 1, 1)
    out = {}
    for cell in argv[3:]:
        c, r = (int(v) for v in cell.split(","))
        rgb, _, _ = make_patch(seed, r * cols + c, patch, 1.0 if (c, r) in malignant else 0.0)
        x = (rgb.astype(np.float32).transpose(2, 0, 1) / 255.0 - mean) / std
        with torch.no_grad():
            logits = model(torch.from_numpy(x[None]))
        out[cell] = torch.softmax(logits.double(), dim=1)[0].tolist()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
