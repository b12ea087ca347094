#!/usr/bin/python3
"""Independent eager Grad-CAM reference for the C++ implementation.

    .venv/bin/python scripts/reference_cam.py --models DIR --out DIR/ref [--cases all|tiny|ARCH,..] [--target-other]
    .venv/bin/python scripts/reference_cam.py --check --out DIR/ref

Loads the eager models from DIR/{arch}.weights.pt (written by
export_models.py; the TorchScript files are never run here) and computes
Grad-CAM (Selvaraju et al. 2017) with forward hooks and torch.autograd:

    score   = logit of the target class (single-logit sigmoid models:
              +logit for the positive class 1, -logit for the negative class 0)
    alpha_c = mean over (h, w) of d score / d A_c
    cam     = ReLU(sum_c alpha_c * A_c), min-max normalised (all zeros if flat)
    cam_up  = bilinear (align_corners=False) upsampling of cam to the input size

For each case it writes {id}.input.npy (float32 [1,C,H,W], preprocessed),
{id}.cam.npy (float32 [h,w]), {id}.cam_up.npy (float32 [H,W]),
{id}.cam_float64.npy (the same map with the network run in float64
throughout: the truth float32 computations are measured against, stored as
float32) and one manifest.json listing the cases. Every path in the manifest ("models",
"weights", "input", "cam", "cam_up", "cam_float64") is relative to the manifest's directory.

--check re-reads a manifest and proves the reference sane: files and shapes,
no NaN, no all-zero map, cam_up == upsample(cam), and, for layers followed
directly by global average pooling and a linear layer, agreement with the
closed-form CAM (alpha_c = w_target,c / (h*w)), which needs no autograd.
"""

import argparse
import copy
import json
import os
import sys
import time
import zlib
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xai_models  # noqa: E402

# (arch, layer, target): target None = the predicted class, "other" = the
# runner-up class (single-logit sigmoid: the non-predicted one).
BIG_CASES = [
    ("resnet50", "layer4", None),
    ("resnet50", "layer3", None),
    ("resnet50", "layer4.2.conv3", None),
    ("resnet50", "layer4.2.bn3", None),  # followed by the in-place `out += identity`
    ("resnet50", "layer4.1.relu", None),  # one ReLU module called 3 times per block
    ("densenet121", "features", None),  # followed by an in-place F.relu
    ("densenet121", "features.norm5", None),
    ("densenet121", "features.denseblock4", None),
    ("densenet121", "features.denseblock4.denselayer16", None),
    ("densenet201", "features", None),
    ("densenet201", "features.transition2", None),
    ("efficientnet_b0", "features", None),
    ("efficientnet_b0", "features", "other"),
    ("efficientnet_b0", "features.7.0", None),
    ("efficientnet_b0", "features.6.3.block", None),  # followed by in-place `result += input`
    ("xception", "exit", None),
    ("xception", "middle.block4", None),
    ("xception", "entry.block2", None),
]
TINY_CASES = [
    ("tiny", "layer1", None),
    ("tiny", "layer2", None),
    ("tiny", "layer1.1.relu", None),  # called twice per block: the last call counts
    ("tiny", "layer2.0.bn2", None),
    ("tiny", "head", None),
    ("tiny_binary", "layer2", None),
    ("tiny_binary", "layer2", "other"),
    ("tiny_binary", "stem", None),
]

# Layers whose output goes straight through global average pooling into a
# linear classifier: there Grad-CAM equals CAM, a closed form used by --check.
POOLED_LINEAR = {
    ("resnet50", "layer4"): lambda m: m.fc,
    ("efficientnet_b0", "features"): lambda m: m.classifier[1],  # classifier[0] is dropout
    ("xception", "exit"): lambda m: m.fc,
    ("tiny", "head"): lambda m: m.fc,
    ("tiny_binary", "head"): lambda m: m.fc,
}

MODES = ["scripted", "traced"]


def case_id(arch: str, layer: str, target: Optional[str]) -> str:
    return f"{arch}-{layer.replace('.', '_')}" + ("_other" if target == "other" else "")


def case_input(arch: str, layer: str) -> torch.Tensor:
    """The preprocessed input for a case, seeded by its id so every run (and
    the `_other` variant of a case) gets the same image."""
    seed = zlib.crc32(case_id(arch, layer, None).encode())
    return xai_models.random_images(arch, 1, torch.Generator().manual_seed(seed))


def is_single_logit(logits: torch.Tensor) -> bool:
    return logits.shape[1] == 1


def predicted_class(logits: torch.Tensor) -> int:
    if is_single_logit(logits):
        return 1 if logits[0, 0].item() >= 0 else 0
    return int(logits[0].argmax().item())


def other_class(logits: torch.Tensor) -> int:
    """The most likely class that is not the predicted one."""
    if is_single_logit(logits):
        return 1 - predicted_class(logits)
    return int(logits[0].topk(2).indices[1].item())


def target_score(logits: torch.Tensor, target: int) -> torch.Tensor:
    if is_single_logit(logits):
        # sigmoid(-z) = 1 - sigmoid(z): the negative class's logit is -z.
        return logits[0, 0] if target == 1 else -logits[0, 0]
    return logits[0, target]


class LayerCapture:
    """Forward hook storing a module's output. It returns a clone so in-place
    ops downstream (`out += identity`, in-place ReLU) cannot change the stored
    activation; with several calls per forward the last one is kept."""

    def __init__(self, model: nn.Module, path: str):
        modules = dict(model.named_modules())
        if path not in modules:
            raise KeyError(f"no module '{path}' in {type(model).__name__}")
        self.calls = 0
        self.output: Optional[torch.Tensor] = None
        self._handle = modules[path].register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs, output):
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"module output is {type(output).__name__}, not a tensor")
        self.calls += 1
        self.output = output
        return output.clone()

    def remove(self) -> None:
        self._handle.remove()


def normalise(cam: torch.Tensor) -> torch.Tensor:
    lo, hi = cam.min(), cam.max()
    if hi == lo:
        return torch.zeros_like(cam)
    return (cam - lo) / (hi - lo)


def upsample(cam: torch.Tensor, size: List[int]) -> torch.Tensor:
    return F.interpolate(cam[None, None], size=tuple(size), mode="bilinear", align_corners=False)[0, 0]


def forward_with_capture(model: nn.Module, layer: str, x: torch.Tensor):
    """One forward pass with `layer`'s (last) output captured: (logits, activation [N,C,h,w], calls)."""
    capture = LayerCapture(model, layer)
    try:
        logits = model(x)
    finally:
        capture.remove()
    activation = capture.output
    if activation is None:
        raise RuntimeError(f"module '{layer}' did not run")
    if activation.dim() != 4:
        raise ValueError(f"module '{layer}' output has shape {tuple(activation.shape)}, not [N,C,h,w]")
    return logits, activation, capture.calls


def grad_cam(model: nn.Module, layer: str, x: torch.Tensor, target: Optional[str]) -> dict:
    """Grad-CAM of `layer` for input `x` ([1,C,H,W]); target None = predicted
    class, "other" = runner-up, or an int class index."""
    logits, activation, calls = forward_with_capture(model, layer, x)

    predicted = predicted_class(logits)
    if target is None:
        index = predicted
    elif target == "other":
        index = other_class(logits)
    else:
        index = int(target)
    score = target_score(logits, index)
    (grad,) = torch.autograd.grad(score, activation)

    # The weighting in float64: this is the reference.
    a = activation.detach()[0].double()
    g = grad[0].double()
    alpha = g.mean(dim=(1, 2))
    cam = torch.relu((alpha[:, None, None] * a).sum(dim=0))
    cam = normalise(cam)
    return dict(
        cam=cam,
        cam_up=upsample(cam, list(x.shape[2:])),
        activation=a,
        target=index,
        predicted=predicted,
        score=score.item(),
        logits=logits[0].tolist(),
        call_count=calls,
    )


def closed_form_cam(model: nn.Module, arch: str, layer: str, activation: torch.Tensor, target: int) -> torch.Tensor:
    """CAM (Zhou et al. 2016) for a layer followed by global average pooling
    and a linear layer: d logit_k / d A_c(i,j) = w_k,c / (h*w) exactly."""
    fc = POOLED_LINEAR[(arch, layer)](model)
    weight = fc.weight.detach().double()
    if weight.shape[0] == 1:  # single logit: the negative class scores -logit
        w = weight[0] if target == 1 else -weight[0]
    else:
        w = weight[target]
    h, width = activation.shape[1:]
    alpha = w / (h * width)
    return normalise(torch.relu((alpha[:, None, None] * activation).sum(dim=0)))


def degeneracy(cam: np.ndarray) -> Optional[str]:
    if np.isnan(cam).any():
        return "has NaN"
    if not (cam > 0).any():
        return "all zero"
    return None


def rel(path: str, start: str) -> str:
    return os.path.relpath(os.path.abspath(path), os.path.abspath(start))


def select_cases(which: str, target_other: bool) -> list:
    if which == "all":
        cases = list(BIG_CASES)
    elif which == "tiny":
        cases = list(TINY_CASES)
    else:
        archs = which.split(",")
        for a in archs:
            if a not in xai_models.ALL_ARCHS:
                raise SystemExit(f"unknown --cases '{a}': use all, tiny or architecture names")
        cases = [c for c in BIG_CASES + TINY_CASES if c[0] in archs]
    if target_other:
        # Add a runner-up-class variant of every case that lacks one.
        have = set(cases)
        cases += [(a, l, "other") for a, l, t in list(cases) if t is None and (a, l, "other") not in have]
    return cases


def finish_manifest(out_dir: str, manifest: list, degenerate: list, start: float) -> int:
    """Writes manifest.json and reports; 1 when any reference map is degenerate."""
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"{len(manifest)} cases in {time.perf_counter() - start:.1f}s -> {os.path.join(out_dir, 'manifest.json')}")
    if degenerate:
        print("WARNING: degenerate reference maps: " + ", ".join(degenerate))
        return 1
    return 0


def generate(models_dir: str, out_dir: str, cases: list) -> int:
    os.makedirs(out_dir, exist_ok=True)
    torch.set_grad_enabled(True)
    manifest = []
    degenerate = []
    start = time.perf_counter()
    models: Dict[str, nn.Module] = {}

    for arch, layer, target in cases:
        cid = case_id(arch, layer, target)
        t0 = time.perf_counter()
        weights = os.path.join(models_dir, f"{arch}.weights.pt")
        if arch not in models:
            models.clear()  # one big model in memory at a time
            models[arch] = xai_models.load_model(arch, weights)
        model = models[arch]
        spec = xai_models.input_spec(arch)

        x = case_input(arch, layer)
        result = grad_cam(model, layer, x, target)
        # The truth both float32 computations (eager PyTorch, xai's) are measured against: the same
        # network, input and class in float64 throughout, forward and backward.
        if arch + "@float64" not in models:
            models[arch + "@float64"] = copy.deepcopy(model).double()
        truth = grad_cam(models[arch + "@float64"], layer, x.double(), result["target"])

        files = {kind: f"{cid}.{kind}.npy" for kind in ("input", "cam", "cam_up", "cam_float64")}
        np.save(os.path.join(out_dir, files["input"]), x.numpy().astype(np.float32))
        np.save(os.path.join(out_dir, files["cam"]), result["cam"].numpy().astype(np.float32))
        np.save(os.path.join(out_dir, files["cam_up"]), result["cam_up"].numpy().astype(np.float32))
        np.save(os.path.join(out_dir, files["cam_float64"]), truth["cam"].numpy().astype(np.float32))

        stem = xai_models.file_stem(arch)
        exported = [os.path.join(models_dir, f"{stem}-{mode}.pt") for mode in MODES]
        manifest.append(
            {
                "id": cid,
                "arch": arch,
                "layer": layer,
                "models": [rel(p, out_dir) for p in exported if os.path.exists(p)],
                "weights": rel(weights, out_dir),
                "input": files["input"],
                "cam": files["cam"],
                "cam_up": files["cam_up"],
                "cam_float64": files["cam_float64"],
                "target": result["target"],
                "predicted": result["predicted"],
                "score": result["score"],
                "logits": result["logits"],
                "call_count": result["call_count"],
                "output": spec["output"],
                "activation_shape": list(result["activation"].shape),
            }
        )
        problem = degeneracy(result["cam"].numpy())
        if problem:
            degenerate.append(f"{cid} ({problem})")
        covered = (result["cam"] > 0).double().mean().item()
        float32_error = (result["cam"] - truth["cam"]).abs().max().item()
        print(
            f"{cid}: act {list(result['activation'].shape)}, calls {result['call_count']}, "
            f"float32 eager {float32_error:.2g} from float64, "
            f"target {result['target']} (pred {result['predicted']}), score {result['score']:.4g}, "
            f"cam>0 on {covered:.0%}, {time.perf_counter() - t0:.1f}s"
        )

    return finish_manifest(out_dir, manifest, degenerate, start)


def map_problems(out_dir: str, case: dict, cam: np.ndarray, cam_up: np.ndarray, height: int, width: int) -> List[str]:
    """What is wrong with a case's stored maps and files: types and shapes (cam_up at the input's
    height x width), degenerate or unnormalised maps, cam_up not the upsampled cam, missing model or
    weight files."""
    problems = []
    if cam.dtype != np.float32 or cam.ndim != 2 or list(cam.shape) != case["activation_shape"][1:]:
        problems.append(f"cam {cam.dtype} {cam.shape}")
    if cam_up.dtype != np.float32 or cam_up.shape != (height, width):
        problems.append(f"cam_up {cam_up.dtype} {cam_up.shape}")
    for name, m in (("cam", cam), ("cam_up", cam_up)):
        problem = degeneracy(m)
        if problem:
            problems.append(f"{name} {problem}")
        elif m.min() < 0 or m.max() > 1 + 1e-6:
            problems.append(f"{name} outside [0, 1]")
    if not problems:
        if abs(cam.max() - 1) > 1e-6 or cam.min() != 0:
            problems.append("cam not min-max normalised")
        again = upsample(torch.from_numpy(cam).double(), [height, width]).numpy()
        if np.abs(again - cam_up).max() > 1e-6:
            problems.append("cam_up != upsample(cam)")
    if "cam_float64" in case:  # the float64 truth: the same layer's shape, a normalised map
        truth = np.load(os.path.join(out_dir, case["cam_float64"]))
        if truth.shape != cam.shape or degeneracy(truth) or abs(truth.max() - 1) > 1e-6 or truth.min() != 0:
            problems.append(f"cam_float64 {truth.dtype} {truth.shape} is not a normalised map of the layer's shape")
    missing = [p for p in case["models"] + [case["weights"]] if not os.path.exists(os.path.join(out_dir, p))]
    if missing:
        problems.append("missing " + ", ".join(missing))
    return problems


def check(out_dir: str) -> int:
    """Validates a generated reference directory; returns the number of failures."""
    with open(os.path.join(out_dir, "manifest.json")) as f:
        manifest = json.load(f)
    torch.set_grad_enabled(True)
    failures: List[str] = []
    models: Dict[str, nn.Module] = {}

    for case in manifest:
        cid, arch, layer = case["id"], case["arch"], case["layer"]
        spec = xai_models.input_spec(arch)
        height, width = spec["input_size"]
        load = lambda key: np.load(os.path.join(out_dir, case[key]))  # noqa: E731
        x, cam, cam_up = load("input"), load("cam"), load("cam_up")

        problems = []
        if x.dtype != np.float32 or x.shape != (1, xai_models.num_channels(arch), height, width):
            problems.append(f"input {x.dtype} {x.shape}")
        problems += map_problems(out_dir, case, cam, cam_up, height, width)

        detail = ""
        if not problems and (arch, layer) in POOLED_LINEAR:
            # Independent route: closed-form CAM from the eager activation alone.
            if arch not in models:
                models.clear()
                models[arch] = xai_models.load_model(arch, os.path.join(out_dir, case["weights"]))
            result = grad_cam(models[arch], layer, torch.from_numpy(x), case["target"])
            expected = closed_form_cam(models[arch], arch, layer, result["activation"], case["target"])
            diff = np.abs(expected.numpy() - cam).max()
            detail = f", closed-form CAM max |diff| {diff:.2g}"
            if diff > 1e-5:
                problems.append(f"differs from closed-form CAM by {diff:.3g}")

        if problems:
            failures.append(cid)
            print(f"FAIL {cid}: " + "; ".join(problems))
        else:
            print(f"ok   {cid}: cam {list(cam.shape)}, target {case['target']}{detail}")

    print(f"{len(manifest) - len(failures)}/{len(manifest)} cases ok")
    return len(failures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="directory written by export_models.py")
    parser.add_argument("--out", required=True, help="reference output directory (holds manifest.json)")
    parser.add_argument(
        "--cases", default="all", help="all (big models), tiny (committed tiny models) or comma-separated archs"
    )
    parser.add_argument("--target-other", action="store_true", help="add a runner-up-class variant of every case")
    parser.add_argument("--check", action="store_true", help="only validate an existing --out directory")
    args = parser.parse_args()

    if args.check:
        sys.exit(1 if check(args.out) else 0)
    if not args.models:
        parser.error("--models DIR is required unless --check")
    status = generate(args.models, args.out, select_cases(args.cases, args.target_other))
    # Generation always ends with the full check: the reference must be sane.
    failures = check(args.out)
    sys.exit(1 if status or failures else 0)


if __name__ == "__main__":
    main()
