#!/usr/bin/python3
"""Writes the two small edge-case models committed in tests/data/ (random weights, seed 0):

- passthrough-traced.pt: conv -> nn.Identity ("skip") -> pool -> fc, traced. Tracing records
  `skip` as a call that returns None (data flows around it): capture must refuse it clearly.
- frozen-scripted.pt: the same model scripted and frozen: no submodules are left.

    /usr/bin/python3 scripts/make_test_models.py tests/data
"""
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


if __name__ == "__main__":
    main()
