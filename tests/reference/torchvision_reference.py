#!/usr/bin/python3
"""Independent reference for xai's resize modes: the torchvision pipeline a training script uses.

    torchvision_reference.py make DIR          writes test images into DIR with PIL: crops of a real
                                               histology image (skimage's ihc.png) at several sizes,
                                               square and not, one to enlarge, and a gray one
    torchvision_reference.py expect DIR MODEL  reads DIR/cases.json ([{"image", "input_size": [H, W],
                                               "resize": "stretch" | "shorter-side:N", "interpolation":
                                               "bilinear" | "bicubic", "channels": "rgb" | "gray", "mean",
                                               "std", "out"}]) and writes, per case, the model's input as
                                               torchvision makes it (CHW float32 .npy at "out") and
                                               DIR/expected.json: the TorchScript MODEL's softmax
                                               probabilities on that input, one list per case

The pipeline is the one in torchvision's ImageNet reference scripts, on PIL images as ImageFolder
reads them: Image.open(...).convert("RGB") [Grayscale()] Resize(S or (H, W)) [CenterCrop((H, W))]
ToTensor() Normalize(mean, std).
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from torchvision import transforms


def make(out_dir):
    import skimage.data

    ihc = Image.fromarray(skimage.data.immunohistochemistry())  # 512x512 RGB
    crops = {
        "square256.png": (0, 0, 256, 256),       # Resize(256) keeps it; CenterCrop cuts 16 px a side
        "wide300x200.png": (100, 50, 400, 250),  # shorter side 200: enlarged to 256, crop off-centre rounding
        "tall333x417.png": (10, 20, 343, 437),   # odd sizes: the truncating long side and the rounding
        "small64x80.png": (200, 200, 264, 280),  # enlarged in both modes
        "large512.png": (0, 0, 512, 512),        # shrunk: the antialiasing filter widens
    }
    for name, box in crops.items():
        ihc.crop(box).save(os.path.join(out_dir, name))
    ihc.crop((50, 60, 350, 290)).convert("L").save(os.path.join(out_dir, "gray300x230.png"))


def pipeline(case):
    mode = {"bilinear": transforms.InterpolationMode.BILINEAR,
            "bicubic": transforms.InterpolationMode.BICUBIC}[case["interpolation"]]
    height, width = case["input_size"]
    steps = []
    if case["channels"] == "gray":
        steps.append(transforms.Grayscale())
    if case["resize"] == "stretch":
        steps.append(transforms.Resize((height, width), interpolation=mode))
    else:
        side = int(case["resize"].split(":")[1])
        steps += [transforms.Resize(side, interpolation=mode), transforms.CenterCrop((height, width))]
    steps += [transforms.ToTensor(), transforms.Normalize(case["mean"], case["std"])]
    return transforms.Compose(steps)


def expect(out_dir, model_path):
    with open(os.path.join(out_dir, "cases.json")) as f:
        cases = json.load(f)
    model = torch.jit.load(model_path).eval()
    probabilities = []
    for case in cases:
        image = Image.open(case["image"]).convert("RGB")
        tensor = pipeline(case)(image)
        np.save(case["out"], tensor.numpy().astype(np.float32))
        if case["channels"] == "rgb":
            with torch.no_grad():
                probabilities.append(torch.softmax(model(tensor.unsqueeze(0)), 1)[0].tolist())
        else:
            probabilities.append(None)
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(probabilities, f)


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "expect":
        expect(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
