#!/usr/bin/python3
"""Writes the two small edge-case models committed in tests/data/ (random weights, seed 0):

- passthrough-traced.pt: conv -> nn.Identity ("skip") -> pool -> fc, traced. Tracing records
  `skip` as a call that returns None (data flows around it): capture must refuse it clearly.
- frozen-scripted.pt: the same model scripted and frozen: no submodules are left.
- region-scripted.pt (+ .json card): a model with a known answer for LIME (see RegionNet).
- linear-scripted.pt (+ .json card): two logits linear in an 8x8 RGB input (see LinearNet): the
  closed form of Integrated Gradients and SmoothGrad.

    .venv/bin/python scripts/make_test_models.py tests/data
"""
import json
import os
import sys

import torch
import torch.nn as nn


class PassNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.skip = nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.pool(self.skip(torch.relu(self.conv(x)))).flatten(1))


class RegionNet(nn.Module):
    """A model whose answer is known: the "malignant" logit depends only on the texture energy
    (mean of the squared red channel) inside rows and columns 16..47 of a 64x64 input; the
    "benign" logit is 0. Filling a region with its mean colour lowers that energy, so LIME must
    find exactly the superpixels covering the square."""

    def forward(self, x):
        energy = (x[:, 0, 16:48, 16:48] ** 2).mean(dim=(1, 2))
        malignant = 12.0 * (energy - 0.29)
        return torch.stack([torch.zeros_like(malignant), malignant], dim=1)


class LinearNet(nn.Module):
    """logits = W x + b on the flattened 3x8x8 input: the gradient of each logit is its row of W
    everywhere, so Integrated Gradients is exactly W ⊙ (x − baseline) and SmoothGrad is W."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, 2)

    def forward(self, x):
        return self.fc(x.flatten(1))


LINEAR_CARD = {
    "schema": "xai.model-card/1",
    "name": "linear-scripted (closed form: logits = W x + b)",
    "labels": ["benign", "malignant"],
    "input_size": [8, 8],
    "channels": "rgb",
    "mean": [0.5, 0.4, 0.3],
    "std": [0.2, 0.25, 0.3],
    "output": "softmax",
}


REGION_CARD = {
    "schema": "xai.model-card/1",
    "name": "region-scripted (known answer: the malignant logit depends only on rows/cols 16..47)",
    "labels": ["benign", "malignant"],
    "input_size": [64, 64],
    "channels": "rgb",
    "mean": [0.0, 0.0, 0.0],
    "std": [1.0, 1.0, 1.0],
    "output": "softmax",
}


class HeadNet(nn.Module):
    """A small conv net whose output head is what a hostile-input case needs: int64 or bool values, half
    precision, NaN, no gradient (detached), probabilities (a final softmax), or two multi-label logits."""

    def __init__(self, head: str):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(4, 2)
        self.head = head

    def forward(self, x):
        logits = self.fc(self.features(x).mean(dim=(2, 3)))
        if self.head == "int64":
            return logits.argmax(dim=1, keepdim=True).expand(-1, 2).contiguous()
        if self.head == "bool":
            return logits > 0
        if self.head == "half":
            return logits.half()
        if self.head == "nan":
            return logits * float("nan")
        if self.head == "detached":
            return logits.detach()
        if self.head == "softmax":
            return torch.softmax(logits, dim=1)
        return logits


HEADS = ["int64", "bool", "half", "nan", "detached", "softmax", "multilabel"]


def head_card(head: str) -> dict:
    return {
        "schema": "xai.model-card/1",
        "name": f"head-{head} (hostile-input case)",
        "labels": ["effusion", "nodule"] if head == "multilabel" else ["benign", "malignant"],
        "input_size": [32, 32],
        "channels": "rgb",
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25],
        "output": "sigmoid" if head == "multilabel" else "softmax",
    }


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data"
    torch.manual_seed(0)
    model = PassNet().eval()
    traced = torch.jit.trace(model, torch.randn(1, 3, 16, 16))
    assert "NoneType" in str(traced.skip.graph), "expected tracing to turn Identity into a pass-through"
    traced.save(os.path.join(out, "passthrough-traced.pt"))
    frozen = torch.jit.freeze(torch.jit.script(model))
    assert len(list(frozen.named_children())) == 0, "expected freezing to inline every submodule"
    frozen.save(os.path.join(out, "frozen-scripted.pt"))
    torch.jit.script(RegionNet()).save(os.path.join(out, "region-scripted.pt"))
    with open(os.path.join(out, "region-scripted.json"), "w") as f:
        json.dump(REGION_CARD, f, indent=2)
    torch.manual_seed(1)
    torch.jit.script(LinearNet().eval()).save(os.path.join(out, "linear-scripted.pt"))
    with open(os.path.join(out, "linear-scripted.json"), "w") as f:
        json.dump(LINEAR_CARD, f, indent=2)
    for head in HEADS:
        torch.manual_seed(2)
        torch.jit.script(HeadNet(head).eval()).save(os.path.join(out, f"head-{head}.pt"))
        with open(os.path.join(out, f"head-{head}.json"), "w") as f:
            json.dump(head_card(head), f, indent=2)


if __name__ == "__main__":
    main()
