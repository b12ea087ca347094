#!/usr/bin/python3
"""Independent eager reference for the CAM family beyond plain Grad-CAM.

    .venv/bin/python scripts/reference_cam_methods.py --models DIR --out DIR/ref-methods [--cases all|tiny|transformers]
                     [--methods gradcam,gradcam++,...]
    .venv/bin/python scripts/reference_cam_methods.py --check --out DIR/ref-methods

Same inputs, targets, hooks and file layout as reference_cam.py (whose helpers
it imports): eager models from DIR/{arch}.weights.pt, never the TorchScript
files. A = output [1,C,h,w] of the target module's LAST call (forward hook
returning out.clone()), score = target logit (negated for class 0 of a
single-logit sigmoid model), G = d score / d A, target = predicted class
unless "_other" (runner-up). Per method, with sums over channels c and
positions (h, w):

    gradcam      w_c = mean_hw G_c;                       M = sum_c w_c A_c
    gradcam++    S_c = sum_hw A_c; a = G^2 / (2 G^2 + S_c G^3 + 1e-7), a = 0 where G == 0;
                 w_c = sum_hw ReLU(G_c) a_c;              M = sum_c w_c A_c
    xgradcam     w_c = sum_hw G_c A_c / (sum_hw A_c + 1e-7); M = sum_c w_c A_c
    hirescam     M = sum_c G_c * A_c (element-wise)
    layercam     M = sum_c ReLU(G_c) * A_c
    eigencam     X = A as (h*w, C), columns centred; v = first right singular
                 vector; M = X v as (h, w), sign such that sum M * sum_c A_c >= 0
    scorecam     H_k = bilinear upsampling of A_k to the input, min-max to [0, 1]
                 (zeros if flat); w_k = P(target | x * H_k);  M = sum_k w_k A_k
    ablationcam  y = score, y_k = score with channel k of A zeroed (forward hook
                 on the module's last call); w_k = (y - y_k) / y; M = sum_k w_k A_k

then cam = ReLU(M) min-max normalised (zeros if flat) and cam_up = bilinear
(align_corners=False) upsampling of cam to the input size. Weights and maps
are computed in float64; Ablation-CAM runs a float64 copy of the model
(y - y_k cancels badly in float32) whose output at the layer is replaced by
A before the ablation. Score-CAM needs C forward passes, so on the big
models it uses a smaller input (the models are fully convolutional with
adaptive pooling); every manifest entry records its "input_shape". Both
batch their passes; Ablation-CAM replicates the batch of 1 only where the
ablation starts, so the network before the layer runs once per batch.

Output: {id}.input.npy, {id}.cam.npy, {id}.cam_up.npy and manifest.json, as
reference_cam.py writes them, each entry with "method" and "input_shape"
added. Case ids: {arch}-{method}-{layer with dots as _}[_other].

--check re-reads a manifest: files, shapes, no NaN, no all-zero map,
normalisation, cam_up == upsample(cam); Grad-CAM against reference_cam.py;
Eigen-CAM through an eigendecomposition instead of an SVD; Score-CAM with C
unbatched passes when C is small; and, at layers whose downstream network is
simple enough to write by hand, every gradient method and Ablation-CAM from
closed-form gradients and ablated scores (see CLOSED_FORM); and that float32
noise in A and G is not amplified beyond CONDITION_LIMIT (see EXCLUDED).
"""

import argparse
import copy
import hashlib
import json
import os
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_cam as rc  # noqa: E402
import xai_models  # noqa: E402

METHODS = ["gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam", "scorecam", "ablationcam"]
GRADIENT_METHODS = {"gradcam", "gradcam++", "xgradcam", "hirescam", "layercam"}
EPS = 1e-7

# (arch, layer, target); target None = predicted class, "other" = runner-up.
BIG_LAYERS = [
    ("resnet50", "layer4", None),
    ("resnet50", "layer4.2.bn3", None),  # followed by the in-place `out += identity`
    ("densenet121", "features", None),  # followed by an in-place F.relu
    ("densenet121", "features.denseblock4.denselayer16", None),  # its output is concatenated
]
# Score-CAM costs C forward passes (2048 for ResNet50 layer4): only this layer. DenseNet121's
# `features` (1024 more passes, ~2 CI minutes) was dropped: its capture is covered by the Grad-CAM
# family here and Score-CAM's weighting by ResNet50 and the tiny models.
BIG_SCORECAM = {("resnet50", "layer4")}
# The input of the probe methods (Score-CAM, Ablation-CAM) on the big models, [H, W]: non-square on
# purpose (a swapped H/W shows). 64x96 gives 2x3 maps at both layers (six ResNet50 channels are flat
# there, so Score-CAM's zero-mask branch is exercised too) and Score-CAM's 2048 passes take ~2.5
# minutes on 2 busy cores; 96x128 (3x4 maps) takes about twice that. Ablation-CAM runs the whole
# network once per channel in xai (TorchScript has no "run from this layer"), which at 224x224 cost
# ~1.5 CI minutes; what it tests (zeroing one channel at the hooked layer) does not depend on the size.
DEFAULT_PROBE_SIZE = [64, 96]
PROBE_METHODS = {"scorecam", "ablationcam"}
# Left out because the method is ill-conditioned there, not because it fails:
# XGrad-CAM divides by S_c = sum_hw A_c, which assumes A >= 0 (a post-ReLU
# layer). resnet50 layer4.2.bn3 and densenet121 features (= norm5, before the
# final ReLU) have signed activations, some S_c come within 2e-4 * max|A| of
# 0, and a 1e-6 relative change of A and G (float32 noise) moves the
# normalised map by ~2e-3 and ~1.5e-4 (gains ~2000 and ~170): no float32
# implementation could be held to a 1e-4 parity there. --check measures this
# for every gradient case (CONDITION_LIMIT).
EXCLUDED = {
    ("resnet50", "layer4.2.bn3", "xgradcam"),
    ("densenet121", "features", "xgradcam"),
    # Every Grad-CAM++ weight is <= 0 there (3x3 positions, random weights): an all-zero map, which a
    # comparison would prove nothing with. Grad-CAM++ is compared at features.3 and on both ViTs.
    ("swin_mini", "features.7", "gradcam++"),
    # Transformer features are signed (LayerNorm outputs, residual streams: no ReLU before them), so the
    # same holds more often (--check's noise gains in brackets): XGrad-CAM's sum_hw A_c comes near 0
    # (39-211x); Grad-CAM++'s S_c G^3 term (191x, 1051x); HiResCAM's element-wise sums nearly cancel
    # (1e4-1e6x); and Eigen-CAM's sign rule, sum_c A_c, is exactly 0 after a LayerNorm with unit weight
    # and zero bias (every token's channels sum to 0), so the first component's sign is undefined there.
    ("vit_b_16", "encoder.layers.encoder_layer_11.ln_1", "xgradcam"),
    ("vit_b_16", "encoder.layers.encoder_layer_11.ln_1", "eigencam"),
    ("vit_b_16", "encoder.layers.encoder_layer_5", "xgradcam"),
    ("swin_t", "features.7", "xgradcam"),
    ("swin_t", "features.7", "hirescam"),
    ("swin_t", "features.5", "gradcam++"),
    ("swin_t", "features.5", "xgradcam"),
    ("vit_mini", "encoder.layers.encoder_layer_2.ln_1", "eigencam"),
    # Score-CAM after a LayerNorm: the channels sum to 0 at every token, so sum_k s_k A_k is
    # sum_k (s_k - mean s) A_k and the map rests on differences of near-equal probabilities: float32
    # inference noise moves it by ~2e-4. At the block output (residual stream) it agrees to 1e-7.
    ("vit_mini", "encoder.layers.encoder_layer_2.ln_1", "scorecam"),
    ("vit_mini", "encoder.layers.encoder_layer_1", "hirescam"),
    ("swin_mini", "features.7", "xgradcam"),
    ("swin_mini", "features.7", "hirescam"),
    ("swin_mini", "features.3", "gradcam++"),
}
# Vision transformers (torchvision): token outputs (ViT: [1, 1 + h*w, C] with a class token first) and
# channels-last outputs (Swin: [1, h, w, C]) are turned into A [C, h, w] the way pytorch-grad-cam's
# reshape_transform does, from what the architecture is (the class token, image_size // patch_size),
# not from the shape; G the same way. At xai's default layer (the last encoder block's first norm for
# ViT; the last stage for Swin) and at a middle block. Score-CAM and Ablation-CAM (one pass per
# channel) on the small configurations only.
TRANSFORMER_LAYERS = [
    ("vit_b_16", "encoder.layers.encoder_layer_11.ln_1", None),
    ("vit_b_16", "encoder.layers.encoder_layer_5", None),
    ("swin_t", "features.7", None),
    ("swin_t", "features.5", None),
    ("vit_mini", "encoder.layers.encoder_layer_2.ln_1", None),
    ("vit_mini", "encoder.layers.encoder_layer_1", "other"),
    ("swin_mini", "features.7", None),
    ("swin_mini", "features.3", None),
]
# What xai must choose when no layer is given (checked by the parity test).
TRANSFORMER_DEFAULT_LAYERS = {
    ("vit_b_16", "encoder.layers.encoder_layer_11.ln_1"),
    ("swin_t", "features.7"),
    ("vit_mini", "encoder.layers.encoder_layer_2.ln_1"),
    ("swin_mini", "features.7"),
}
TRANSFORMER_PROBE_ARCHS = {"vit_mini", "swin_mini"}
TINY_LAYERS = [
    ("tiny", "layer2", None),
    ("tiny", "layer1.1.relu", None),  # called twice per block: the last call counts
    ("tiny_binary", "layer2", None),
    ("tiny_binary", "layer2", "other"),
]


def case_id(arch: str, method: str, layer: str, target: Optional[str]) -> str:
    return f"{arch}-{method}-{layer.replace('.', '_')}" + ("_other" if target == "other" else "")


def select_cases(which: str, methods: List[str]) -> List[tuple]:
    """(arch, layer, target, method) in an order that groups each (arch,
    layer, target), so one forward/backward serves all its methods."""
    ablation_ok = lambda arch: True  # noqa: E731
    if which == "all":
        groups, scorecam_ok = BIG_LAYERS, lambda arch, layer: (arch, layer) in BIG_SCORECAM
    elif which == "tiny":
        groups, scorecam_ok = TINY_LAYERS, lambda arch, layer: True
    elif which in ("transformers", "transformers-mini"):
        groups, scorecam_ok = TRANSFORMER_LAYERS, lambda arch, layer: arch in TRANSFORMER_PROBE_ARCHS
        ablation_ok = lambda arch: arch in TRANSFORMER_PROBE_ARCHS  # noqa: E731
        if which == "transformers-mini":  # the small configurations only: the default test run's case
            groups = [g for g in groups if g[0] in TRANSFORMER_PROBE_ARCHS]
    else:
        raise SystemExit(f"unknown --cases '{which}': use all, tiny, transformers or transformers-mini")
    cases = []
    for arch, layer, target in groups:
        for method in methods:
            if (method == "scorecam" and not scorecam_ok(arch, layer)) or (arch, layer, method) in EXCLUDED:
                continue
            if method == "ablationcam" and not ablation_ok(arch):
                continue
            cases.append((arch, layer, target, method))
    return cases


def resolve_target(logits: torch.Tensor, target) -> int:
    if target is None:
        return rc.predicted_class(logits)
    if target == "other":
        return rc.other_class(logits)
    return int(target)


def case_input(arch: str, layer: str, size: Optional[List[int]]) -> torch.Tensor:
    """reference_cam.py's seeded input for (arch, layer) (the same image for
    every method), resized with antialiasing when `size` differs."""
    x = rc.case_input(arch, layer)
    if size is not None and list(size) != list(x.shape[2:]):
        x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
    return x.contiguous()


# --------------------------------------------------------------------------
# Activation and gradient
# --------------------------------------------------------------------------


def token_layout(model: nn.Module) -> Optional[tuple]:
    """How a transformer's outputs are laid out, from its architecture: ("tokens", prefix, h, w) for a
    torchvision ViT (one class token, then the image_size // patch_size grid row by row), ("nhwc",) for
    a Swin (channels last); None for convolutional models."""
    from torchvision.models.swin_transformer import SwinTransformer
    from torchvision.models.vision_transformer import VisionTransformer

    if isinstance(model, VisionTransformer):
        side = model.image_size // model.patch_size
        return ("tokens", 1, side, side)
    if isinstance(model, SwinTransformer):
        return ("nhwc",)
    return None


def to_feature_map(t: torch.Tensor, layout: Optional[tuple]) -> torch.Tensor:
    """[N, C, h, w] from a layer's output (pytorch-grad-cam's reshape_transform)."""
    if layout is None:
        return t
    if layout[0] == "tokens":
        _, prefix, h, w = layout
        return t[:, prefix:, :].reshape(t.shape[0], h, w, t.shape[2]).permute(0, 3, 1, 2)
    return t.permute(0, 3, 1, 2)


def capture(model: nn.Module, layer: str, x: torch.Tensor, target) -> dict:
    """One forward with reference_cam's LayerCapture (last call kept, clone
    returned) and one backward of the target score to A; a transformer's
    output and its gradient are turned into feature maps (to_feature_map)."""
    layout = token_layout(model)
    with torch.enable_grad():
        if layout is None:
            logits, activation, calls = rc.forward_with_capture(model, layer, x)
        else:
            hook = rc.LayerCapture(model, layer)
            try:
                logits = model(x)
            finally:
                hook.remove()
            activation, calls = hook.output, hook.calls
    index = resolve_target(logits, target)
    score = rc.target_score(logits, index)
    (grad,) = torch.autograd.grad(score, activation)
    return dict(
        A=to_feature_map(activation.detach(), layout)[0].double(),
        G=to_feature_map(grad, layout)[0].double(),
        raw=activation.detach(),
        layout=layout,
        target=index,
        predicted=rc.predicted_class(logits),
        score=score.item(),
        logits=logits[0].tolist(),
        calls=calls,
    )


# --------------------------------------------------------------------------
# Maps from A and G ([C, h, w], float64)
# --------------------------------------------------------------------------


def weighted(weights: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return (weights[:, None, None] * a).sum(dim=0)


def gradcam_map(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return weighted(g.mean(dim=(1, 2)), a)


def gradcam_pp_map(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    s = a.sum(dim=(1, 2))[:, None, None]
    g2 = g * g
    alpha = g2 / (2 * g2 + s * g2 * g + EPS)
    alpha = torch.where(g != 0, alpha, torch.zeros_like(alpha))
    return weighted((torch.relu(g) * alpha).sum(dim=(1, 2)), a)


def xgradcam_map(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return weighted((g * a).sum(dim=(1, 2)) / (a.sum(dim=(1, 2)) + EPS), a)


def hirescam_map(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return (g * a).sum(dim=0)


def layercam_map(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return (torch.relu(g) * a).sum(dim=0)


GRADIENT_MAPS: Dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "gradcam": gradcam_map,
    "gradcam++": gradcam_pp_map,
    "xgradcam": xgradcam_map,
    "hirescam": hirescam_map,
    "layercam": layercam_map,
}


def eigencam_map(a: torch.Tensor) -> torch.Tensor:
    c, h, w = a.shape
    x = a.reshape(c, h * w).T  # rows = positions
    x = x - x.mean(dim=0, keepdim=True)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    m = (x @ vh[0]).reshape(h, w)
    # Centred columns make sum_p M = 0, so the sign test is the same whether
    # it uses the raw or the centred channel sum.
    if (m * a.sum(dim=0)).sum() < 0:
        m = -m
    return m


# --------------------------------------------------------------------------
# Score-CAM and Ablation-CAM: many forward passes
# --------------------------------------------------------------------------


def target_probability(logits: torch.Tensor, target: int, output: str) -> torch.Tensor:
    """Per row of `logits` [N, K], float64."""
    z = logits.double()
    if z.shape[1] == 1:
        p = torch.sigmoid(z[:, 0])
        return p if target == 1 else 1 - p
    if output == "softmax":
        return torch.softmax(z, dim=1)[:, target]
    return torch.sigmoid(z[:, target])


def score_masks(a: torch.Tensor, size: List[int]) -> torch.Tensor:
    """H_k for the channels of `a` [K, h, w]: [K, H, W] float64 in [0, 1]."""
    up = F.interpolate(a[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    lo = up.amin(dim=(1, 2), keepdim=True)
    hi = up.amax(dim=(1, 2), keepdim=True)
    flat = hi == lo
    return torch.where(flat, torch.zeros_like(up), (up - lo) / torch.where(flat, torch.ones_like(hi), hi - lo))


@torch.no_grad()
def scorecam_weights(
    model: nn.Module, x: torch.Tensor, a: torch.Tensor, target: int, output: str, batch: int
) -> Tuple[torch.Tensor, str]:
    """s_k = P(target | x * H_k) for every channel, in float32 batches. Flat
    channels (H_k = 0, input all zeros) share one pass."""
    size = list(x.shape[2:])
    c = a.shape[0]
    scores = torch.empty(c, dtype=torch.float64)
    flat = (a.amax(dim=(1, 2)) == a.amin(dim=(1, 2))).nonzero().flatten()
    live = (a.amax(dim=(1, 2)) != a.amin(dim=(1, 2))).nonzero().flatten()
    if len(flat):
        scores[flat] = target_probability(model(torch.zeros_like(x)), target, output)[0]
    x64 = x.double()
    for i in range(0, len(live), batch):
        ks = live[i : i + batch]
        masked = (x64 * score_masks(a[ks], size)[:, None]).float()
        scores[ks] = target_probability(model(masked), target, output)
    # Spot check of the batching: two channels one at a time.
    worst = 0.0
    for k in live[:: max(1, len(live) // 2)][:2].tolist():
        single = (x64 * score_masks(a[k : k + 1], size)[:, None]).float()
        worst = max(worst, abs(target_probability(model(single), target, output)[0].item() - scores[k].item()))
    if worst > 1e-5:
        raise RuntimeError(f"Score-CAM: batched and single passes differ by {worst:.3g}")
    return scores, f"{len(live)} passes + {1 if len(flat) else 0} for {len(flat)} flat channels, spot check {worst:.1g}"


def _replicate(t: torch.Tensor, n: int) -> torch.Tensor:
    return t.expand(n, *t.shape[1:]) if t.shape[0] == 1 and n > 1 else t


@torch.no_grad()
def ablated_scores(
    model: nn.Module,
    layer: str,
    x: torch.Tensor,
    target: int,
    calls: int,
    channels: List[int],
    where: str,
    activation: Optional[torch.Tensor] = None,
    layout: Optional[tuple] = None,
) -> torch.Tensor:
    """Target scores with channel channels[i] of the module's output zeroed at
    its last call (the `calls`-th), one row per entry (-1: nothing zeroed),
    in one pass.

    Samples are independent in eval mode, so the part of the network that
    does not see the ablation can run once: `where` says where the batch of 1
    is replicated to len(channels) rows: "output" (by the ablation hook
    itself), a module path (a forward pre-hook on that ancestor), or "input"
    (the whole model runs len(channels) times). `activation` [1,C,h,w], when
    given, replaces the module's output before the ablation."""
    modules = dict(model.named_modules())
    n = len(channels)
    index = torch.tensor(channels)
    rows = torch.arange(n)[index >= 0]
    index = index[index >= 0]
    state = {"calls": 0}

    def ablate(module, inputs, out):
        state["calls"] += 1
        if state["calls"] != calls:
            return None
        if activation is not None:
            if activation.shape[1:] != out.shape[1:]:
                raise RuntimeError(f"activation {tuple(activation.shape)} for output {tuple(out.shape)}")
            out = activation.to(out.dtype)
        out = _replicate(out, n).clone()  # a new tensor: in-place ops downstream cannot reach A
        if out.shape[0] != n:
            raise RuntimeError(f"batch {out.shape[0]} at the ablated layer, expected {n}")
        if layout is None:
            out[rows, index] = 0
        elif layout[0] == "tokens":  # channel k of every grid token; the class token is left as it is
            out[rows, layout[1] :, index] = 0
        else:  # channels last
            out[rows, :, :, index] = 0
        return out

    handles = [modules[layer].register_forward_hook(ablate)]
    if where not in ("output", "input"):
        handles.append(
            modules[where].register_forward_pre_hook(lambda m, inp: (_replicate(inp[0], n).contiguous(),) + inp[1:])
        )
    try:
        logits = model(_replicate(x, n).contiguous() if where == "input" else x)
    finally:
        for h in handles:
            h.remove()
    if logits.shape[0] != n or state["calls"] != calls:
        raise RuntimeError(f"ablation gave {logits.shape[0]} rows, {state['calls']} calls")
    if logits.shape[1] == 1:
        z = logits[:, 0].double()
        return z if target == 1 else -z
    return logits[:, target].double()


def replication_point(
    model: nn.Module, layer: str, x: torch.Tensor, target: int, calls: int, layout: Optional[tuple] = None
) -> str:
    """The latest place where replicating the batch works (probed with two
    rows on the float32 model): the ablated output itself, else the input of
    its nearest ancestor that works (a concatenation downstream, as in a dense
    block, needs every branch at full batch), else the model input."""
    parts = layer.split(".")
    candidates = ["output"] + [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)] + ["input"]
    failed = []
    for where in candidates:
        try:
            ablated_scores(model, layer, x, target, calls, [-1, 0], where, layout=layout)
            return where
        except RuntimeError as e:
            failed.append(f"{where}: {str(e).splitlines()[0][:80]}")
    raise RuntimeError("Ablation-CAM: no replication point works: " + "; ".join(failed))


# Rows per replicated pass: bounded by ~512 MiB of float64 activations at the
# ablated layer (each pass repeats the un-ablated prefix of the network, the
# expensive part in float64).
ABLATION_BYTES = 512 << 20


def ablation_weights(
    model: nn.Module,
    model64: nn.Module,
    layer: str,
    x: torch.Tensor,
    target: int,
    calls: int,
    a: torch.Tensor,
    batch: int,
    raw: Optional[torch.Tensor] = None,
    layout: Optional[tuple] = None,
) -> Tuple[torch.Tensor, str]:
    """w_k = (y - y_k) / y with y and y_k from the float64 copy of the model,
    its output at the layer replaced by A (`a` [C,h,w], float32 values) with
    channel k zeroed. In float32, y - y_k loses ~1e-5 relative (up to 7e-5 on
    the normalised ResNet50 map); with the float64 model's own activation
    instead of A, its drift from the float32 model's (~2e-5 on the map) would
    make the weights disagree with the A they multiply. What is left: other
    tensors the rest of the network takes from before the layer (a residual
    identity, a dense block's earlier features) come from the float64 pass."""
    shape = list(a.shape)
    channels = shape[0]
    # The layer's output replaced by A: in the layer's own layout for a transformer (`raw`).
    a64 = (a[None] if raw is None else raw).double()
    where = replication_point(model, layer, x, target, calls, layout)
    if where == "input":
        rows = batch  # whole-model passes
    else:
        rows = max(1, min(channels + 1, ABLATION_BYTES // (8 * int(np.prod(shape)))))
    passes = -(-(channels + 1) // rows)
    rows = -(-(channels + 1) // passes)  # even split
    x64 = x.double()
    # Row 0 is the un-ablated baseline y.
    order = [-1] + list(range(channels))
    ys = torch.cat(
        [
            ablated_scores(model64, layer, x64, target, calls, order[i : i + rows], where, a64, layout)
            for i in range(0, len(order), rows)
        ]
    )
    y, ys = ys[0].item(), ys[1:]
    if y == 0:
        raise RuntimeError("Ablation-CAM: target score is exactly 0")
    # Spot check of the replication: the last channel through the plain model.
    k = channels - 1
    worst = 0.0
    if where != "input":
        single = ablated_scores(model64, layer, x64, target, calls, [k], "input", a64, layout)[0].item()
        worst = abs(single - ys[k].item()) / max(1.0, abs(single))
        if worst > 1e-9:
            raise RuntimeError(f"Ablation-CAM: replicated and plain passes differ by {worst:.3g}")
    return (y - ys) / y, f"replicated at {where}, {passes} pass(es) of {rows}, y={y:.4g}, spot check {worst:.1g}"


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------


def finish(m: torch.Tensor, size: List[int]) -> Tuple[torch.Tensor, torch.Tensor]:
    cam = rc.normalise(torch.relu(m))
    return cam, rc.upsample(cam, size)


def generate(models_dir: str, out_dir: str, cases: List[tuple], probe_size: List[int], batch: int) -> int:
    os.makedirs(out_dir, exist_ok=True)
    manifest = []
    degenerate = []
    start = time.perf_counter()
    models: Dict[str, nn.Module] = {}
    models64: Dict[str, nn.Module] = {}
    captured: Dict[tuple, dict] = {}

    for arch, layer, target, method in cases:
        cid = case_id(arch, method, layer, target)
        t0 = time.perf_counter()
        weights = os.path.join(models_dir, f"{arch}.weights.pt")
        loaded = ""
        if arch not in models:
            models.clear()  # one big model (and its float64 copy) in memory at a time
            models64.clear()
            models[arch] = xai_models.load_model(arch, weights)
            loaded = f" (incl. loading {time.perf_counter() - t0:.1f}s)"
        model = models[arch]
        spec = xai_models.input_spec(arch)
        size = probe_size if method in PROBE_METHODS and arch in xai_models.BIG_ARCHS else spec["input_size"]

        key = (arch, layer, target, tuple(size))
        shared = ""
        if key not in captured:
            if any(k[:3] != key[:3] for k in captured):
                captured.clear()  # keep both input sizes of one (arch, layer, target)
            t = time.perf_counter()
            x = case_input(arch, layer, size)
            captured[key] = dict(x=x, **capture(model, layer, x, target))
            shared = f" (incl. forward+backward {time.perf_counter() - t:.1f}s)"
        r = captured[key]
        x, a, g = r["x"], r["A"], r["G"]

        note = ""
        if method in GRADIENT_MAPS:
            m = GRADIENT_MAPS[method](a, g)
        elif method == "eigencam":
            m = eigencam_map(a)
        elif method == "scorecam":
            w, note = scorecam_weights(model, x, a.float(), r["target"], spec["output"], batch)
            m = weighted(w, a)
        elif method == "ablationcam":
            if arch not in models64:
                models64[arch] = copy.deepcopy(model).double()
            w, note = ablation_weights(
                model, models64[arch], layer, x, r["target"], r["calls"], a.float(), batch, r["raw"], r["layout"]
            )
            m = weighted(w, a)
        else:
            raise ValueError(f"unknown method '{method}'")
        cam, cam_up = finish(m, list(x.shape[2:]))

        files = {kind: f"{cid}.{kind}.npy" for kind in ("input", "cam", "cam_up")}
        np.save(os.path.join(out_dir, files["input"]), x.numpy().astype(np.float32))
        np.save(os.path.join(out_dir, files["cam"]), cam.numpy().astype(np.float32))
        np.save(os.path.join(out_dir, files["cam_up"]), cam_up.numpy().astype(np.float32))
        stem = xai_models.file_stem(arch)
        exported = [os.path.join(models_dir, f"{stem}-{mode}.pt") for mode in rc.MODES]
        manifest.append(
            {
                "id": cid,
                "arch": arch,
                "layer": layer,
                "models": [rc.rel(p, out_dir) for p in exported if os.path.exists(p)],
                "weights": rc.rel(weights, out_dir),
                "input": files["input"],
                "cam": files["cam"],
                "cam_up": files["cam_up"],
                "target": r["target"],
                "predicted": r["predicted"],
                "score": r["score"],
                "logits": r["logits"],
                "call_count": r["calls"],
                "output": spec["output"],
                "activation_shape": list(a.shape),  # [C, h, w], as reference_cam.py writes it
                "method": method,
                "input_shape": list(x.shape),
            }
        )
        if r["layout"] is not None:
            manifest[-1]["reshape"] = r["layout"][0]
            manifest[-1]["default_layer"] = (arch, layer) in TRANSFORMER_DEFAULT_LAYERS
        problem = rc.degeneracy(cam.numpy())
        if problem:
            degenerate.append(f"{cid} ({problem})")
        covered = (cam > 0).double().mean().item()
        print(
            f"{cid}: input {list(x.shape[2:])}, act {list(a.shape)}, calls {r['calls']}, target {r['target']} "
            f"(pred {r['predicted']}), cam>0 on {covered:.0%}{', ' + note if note else ''}, "
            f"{time.perf_counter() - t0:.1f}s{loaded}{shared}",
            flush=True,
        )

    return rc.finish_manifest(out_dir, manifest, degenerate, start)


# --------------------------------------------------------------------------
# --check: second implementations in numpy
# --------------------------------------------------------------------------


def np_finish(m: np.ndarray) -> np.ndarray:
    m = np.maximum(m, 0)
    lo, hi = m.min(), m.max()
    return np.zeros_like(m) if hi == lo else (m - lo) / (hi - lo)


def np_gradient_map(method: str, a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The gradient methods again, written with einsum on [C, h, w] arrays."""
    if method == "gradcam":
        return np.einsum("c,chw->hw", g.mean(axis=(1, 2)), a)
    if method == "gradcam++":
        s = a.sum(axis=(1, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = np.where(g != 0, g**2 / (2 * g**2 + np.einsum("c,chw->chw", s, g**3) + EPS), 0.0)
        return np.einsum("c,chw->hw", (np.maximum(g, 0) * alpha).sum(axis=(1, 2)), a)
    if method == "xgradcam":
        return np.einsum("c,chw->hw", np.einsum("chw,chw->c", g, a) / (a.sum(axis=(1, 2)) + EPS), a)
    if method == "hirescam":
        return np.einsum("chw,chw->hw", g, a)
    if method == "layercam":
        return np.einsum("chw,chw->hw", np.maximum(g, 0), a)
    raise ValueError(method)


def np_eigencam(a: np.ndarray) -> Tuple[np.ndarray, float]:
    """Eigen-CAM without an SVD: M = X v = sigma_1 u_1, and u_1 is the top
    eigenvector of the (h*w x h*w) Gram matrix X X^T. Returns the map (before
    ReLU) and lambda_2 / lambda_1 (near 1 would make the direction unstable)."""
    c, h, w = a.shape
    x = a.reshape(c, h * w).T
    x = x - x.mean(axis=0)
    vals, vecs = np.linalg.eigh(x @ x.T)  # ascending
    m = (vecs[:, -1] * np.sqrt(max(vals[-1], 0))).reshape(h, w)
    if (m * a.sum(axis=0)).sum() < 0:
        m = -m
    return m, vals[-2] / vals[-1]


# A float32 implementation differs from this reference by ~1e-6 relative in A
# and G. `condition` measures how far such noise moves the normalised map
# (max change / relative perturbation): 1-6 at every kept case; above
# CONDITION_LIMIT a 1e-4 parity check would pass or fail by luck.
CONDITION_LIMIT = 20.0


def condition(method: str, a: np.ndarray, g: Optional[np.ndarray]) -> float:
    rng = np.random.default_rng(0)
    if method == "eigencam":
        f = lambda a, g: np_eigencam(a)[0]  # noqa: E731
    else:
        f = lambda a, g: np_gradient_map(method, a, g)  # noqa: E731
    base = np_finish(f(a, g))
    worst = 0.0
    for _ in range(3):
        ap = a * (1 + 1e-6 * rng.standard_normal(a.shape))
        gp = None if g is None else g * (1 + 1e-6 * rng.standard_normal(g.shape))
        worst = max(worst, np.abs(np_finish(f(ap, gp)) - base).max())
    return worst / 1e-6


def linear_head(model: nn.Module, arch: str, target: int) -> Tuple[np.ndarray, float]:
    """Weight row and bias of the target score in the final linear layer
    (single logit: class 0 scores -logit)."""
    fc = model.classifier if arch.startswith("densenet") else model.fc
    weight, bias = fc.weight.detach().double().numpy(), fc.bias.detach().double().numpy()
    if weight.shape[0] == 1:
        sign = 1.0 if target == 1 else -1.0
        return sign * weight[0], sign * bias[0]
    return weight[target], bias[target]


# The downstream network written by hand: suffix(A, extra) -> the target score
# as a function of A, with its exact gradient and the scores with each channel
# zeroed. With f the score, P = h*w positions, w/b the target's fc row/bias:
#   gap_fc        resnet50 layer4 (last block's ReLU, then avgpool, fc):
#                 f = b + sum_c w_c mean_p A_c;  G_c = w_c / P (constant);
#                 f with A_k = 0: f - w_k mean_p A_k.
#   relu_gap_fc   densenet121 features (in-place F.relu, avgpool, classifier):
#                 f = b + sum_c w_c mean_p ReLU(A_c);  G_c = w_c / P * [A_c > 0]
#                 (PyTorch's ReLU passes no gradient at 0); zeroing A_k
#                 removes w_k mean_p ReLU(A_k).
#   add_relu_gap_fc  resnet50 layer4.2.bn3 (`out += identity`, ReLU, avgpool,
#                 fc; layer4.2 has no downsample, so identity = its input I):
#                 f = b + sum_c w_c mean_p ReLU(A_c + I_c);
#                 G_c = w_c / P * [A_c + I_c > 0]; zeroing A_k changes f by
#                 -w_k mean_p (ReLU(A_k + I_k) - ReLU(I_k)).
#   conv_relu_gap_fc  tiny(_binary) layer2 (dropout = identity in eval, head =
#                 1x1 conv K, beta + ReLU, avgpool, fc): with z = K A + beta
#                 per position, f = b + sum_o w_o mean_p ReLU(z_o);
#                 G_c = sum_o K_oc w_o / P [z_o > 0]; zeroing A_k: z - K_:k A_k.
# At resnet50 layer4 G is constant over positions, so beyond these formulas:
# hirescam == gradcam == CAM (w_c / P), xgradcam == gradcam (its weight is
# w_c/P * S_c / (S_c + 1e-7) with S_c = sum_p A_c >= 0 after the ReLU: equal
# up to a relative 1e-7 / S_c, and channels with S_c = 0 are zero), and
# layercam == CAM with ReLU(w_c). No closed form is claimed elsewhere (e.g. at
# a dense layer, whose output is concatenated and passed through the rest of
# the block).
CLOSED_FORM = {
    ("resnet50", "layer4"): "gap_fc",
    ("resnet50", "layer4.2.bn3"): "add_relu_gap_fc",
    ("densenet121", "features"): "relu_gap_fc",
    ("tiny", "layer2"): "conv_relu_gap_fc",
    ("tiny_binary", "layer2"): "conv_relu_gap_fc",
}


def closed_form(kind: str, model: nn.Module, arch: str, a: np.ndarray, extra: Optional[np.ndarray], target: int):
    """(f(A), G, f with each channel zeroed [C]) for a CLOSED_FORM layer."""
    w, b = linear_head(model, arch, target)
    c, h, wd = a.shape
    p = h * wd
    if kind == "gap_fc":
        f = b + w @ a.mean(axis=(1, 2))
        g = np.broadcast_to((w / p)[:, None, None], a.shape).copy()
        return f, g, f - w * a.mean(axis=(1, 2))
    if kind == "relu_gap_fc":
        r = np.maximum(a, 0)
        f = b + w @ r.mean(axis=(1, 2))
        return f, (w / p)[:, None, None] * (a > 0), f - w * r.mean(axis=(1, 2))
    if kind == "add_relu_gap_fc":
        s = a + extra
        f = b + w @ np.maximum(s, 0).mean(axis=(1, 2))
        change = (np.maximum(s, 0) - np.maximum(extra, 0)).mean(axis=(1, 2))
        return f, (w / p)[:, None, None] * (s > 0), f - w * change
    if kind == "conv_relu_gap_fc":
        conv = model.head[0]
        k = conv.weight.detach().double().numpy()[:, :, 0, 0]  # [O, C]
        beta = conv.bias.detach().double().numpy()
        flat = a.reshape(c, p)
        z = k @ flat + beta[:, None]  # [O, P]
        f = b + w @ np.maximum(z, 0).mean(axis=1)
        g = (k.T @ ((w / p)[:, None] * (z > 0))).reshape(a.shape)
        zk = z[None] - k.T[:, :, None] * flat[:, None, :]  # [C, O, P]: channel k zeroed
        return f, g, b + np.einsum("o,cop->c", w, np.maximum(zk, 0)) / p
    raise ValueError(kind)


def eager_state(
    model: nn.Module, arch: str, layer: str, x: torch.Tensor, target: int
) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """A (last call), G for `target` and, for add_relu_gap_fc, the residual
    block's input, from one forward and one backward."""
    extra: Dict[str, torch.Tensor] = {}
    handles = []
    if CLOSED_FORM.get((arch, layer)) == "add_relu_gap_fc":
        block = dict(model.named_modules())[layer.rsplit(".", 1)[0]]
        assert block.downsample is None
        handles.append(block.register_forward_pre_hook(lambda m, inp: extra.__setitem__("I", inp[0].detach().clone())))
    try:
        r = capture(model, layer, x, target)
    finally:
        for h in handles:
            h.remove()
    return r["A"].numpy(), r["G"].numpy(), (extra["I"][0].double().numpy() if "I" in extra else None)


def check(out_dir: str) -> int:
    """Validates a generated directory; returns the number of failed cases."""
    with open(os.path.join(out_dir, "manifest.json")) as f:
        manifest = json.load(f)
    failures: List[str] = []
    models: Dict[str, nn.Module] = {}
    activations: Dict[tuple, tuple] = {}
    start = time.perf_counter()

    for case in manifest:
        cid, arch, layer, method, target = case["id"], case["arch"], case["layer"], case["method"], case["target"]
        load = lambda key: np.load(os.path.join(out_dir, case[key]))  # noqa: E731
        x, cam, cam_up = load("input"), load("cam"), load("cam_up")
        shape = case["input_shape"]
        height, width = shape[2:]

        problems = []
        if x.dtype != np.float32 or list(x.shape) != shape or shape[:2] != [1, xai_models.num_channels(arch)]:
            problems.append(f"input {x.dtype} {x.shape}")
        problems += rc.map_problems(out_dir, case, cam, cam_up, height, width)

        details = []

        def compare(label: str, expected: np.ndarray, tol: float) -> None:
            diff = np.abs(np_finish(expected) - cam).max()
            details.append(f"|d| vs {label} {diff:.1g}")
            if not diff <= tol:
                problems.append(f"differs from {label} by {diff:.3g}")

        if not problems:
            if arch not in models:
                models.clear()
                activations.clear()
                models[arch] = xai_models.load_model(arch, os.path.join(out_dir, case["weights"]))
            model = models[arch]
            xt = torch.from_numpy(x)
            key = (arch, layer, hashlib.sha1(x.tobytes()).hexdigest(), target)  # same image, same state
            if key not in activations:
                activations.clear()
                activations[key] = eager_state(model, arch, layer, xt, target)
            a, g_autograd, extra = activations[key]
            if method in GRADIENT_METHODS or method == "eigencam":
                kappa = condition(method, a, g_autograd if method in GRADIENT_METHODS else None)
                details.append(f"noise gain {kappa:.1f}")
                if kappa > CONDITION_LIMIT:
                    problems.append(f"ill-conditioned: float32 noise is amplified {kappa:.0f}x")

            if method == "gradcam" and token_layout(model) is not None:
                # reference_cam.py takes feature maps only: the numpy weighting on the reshaped A and G.
                compare("numpy Grad-CAM", np_gradient_map("gradcam", a, g_autograd), 1e-5)
            elif method == "gradcam":
                # The other reference, on the same input and target.
                other = rc.grad_cam(model, layer, xt, target)["cam"].numpy()
                diff = np.abs(other - cam).max()
                details.append(f"|d| vs reference_cam.py {diff:.1g}")
                if diff > 1e-5:
                    problems.append(f"differs from reference_cam.py by {diff:.3g}")
            if method == "eigencam":
                m, ratio = np_eigencam(a)
                # A near-double top eigenvalue would leave the direction (and
                # the C++ result) ill-defined: fail rather than compare loosely.
                if ratio > 0.95:
                    problems.append(f"lambda2/lambda1 = {ratio:.3f}: first component ill-defined")
                compare(f"eigh route (lambda2/lambda1 {ratio:.2f})", m, 1e-5)
            if method == "scorecam" and a.shape[0] <= 64:
                # Unbatched, one channel at a time, masks built without
                # score_masks' vectorisation.
                ws = []
                with torch.no_grad():
                    for k in range(a.shape[0]):
                        up = rc.upsample(torch.from_numpy(a[k]), [height, width])
                        lo, hi = up.min(), up.max()
                        mask = torch.zeros_like(up) if hi == lo else (up - lo) / (hi - lo)
                        logits = model((xt.double() * mask).float()).double()
                        if logits.shape[1] == 1:
                            p = torch.sigmoid(logits[0, 0]).item()
                            ws.append(p if target == 1 else 1 - p)
                        else:
                            ws.append(torch.softmax(logits[0], 0)[target].item())
                compare("unbatched", np.einsum("c,chw->hw", np.array(ws), a), 1e-5)

            kind = CLOSED_FORM.get((arch, layer))
            if kind and method in GRADIENT_METHODS | {"ablationcam"}:
                f, g, f_k = closed_form(kind, model, arch, a, extra, target)
                if abs(f - case["score"]) > 1e-4 * max(1.0, abs(f)):
                    problems.append(f"closed-form score {f:.6g} != {case['score']:.6g}")
                if method == "ablationcam":
                    # 5e-5: float32 scores (7e-5 at resnet50 layer4) would fail.
                    compare("closed form", np.einsum("c,chw->hw", (f - f_k) / f, a), 5e-5)
                else:
                    compare("closed form", np_gradient_map(method, a, g), 1e-5)
                if kind == "gap_fc" and method in ("gradcam", "xgradcam", "hirescam", "layercam"):
                    w, _ = linear_head(model, arch, target)
                    weights = np.maximum(w, 0) if method == "layercam" else w
                    label = "CAM with ReLU(w)" if method == "layercam" else "CAM"
                    compare(label, np.einsum("c,chw->hw", weights, a), 1e-5)

        if problems:
            failures.append(cid)
            print(f"FAIL {cid}: " + "; ".join(problems), flush=True)
        else:
            covered = (cam > 0).mean()
            print(
                f"ok   {cid}: cam {list(cam.shape)}, target {target}, cam>0 on {covered:.0%}"
                + ("; " + ", ".join(details) if details else ""),
                flush=True,
            )

    print(f"{len(manifest) - len(failures)}/{len(manifest)} cases ok ({time.perf_counter() - start:.1f}s)")
    return len(failures)


def parse_size(text: str) -> List[int]:
    parts = [int(p) for p in text.lower().split("x")]
    return parts * 2 if len(parts) == 1 else parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="directory written by export_models.py (tiny: models/)")
    parser.add_argument("--out", required=True, help="reference output directory (holds manifest.json)")
    parser.add_argument("--cases", default="all", help="all (resnet50, densenet121), tiny (committed tiny models), transformers (ViT, Swin) "
                        "or transformers-mini (their small configurations only)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    parser.add_argument(
        "--probe-size",
        default="x".join(map(str, DEFAULT_PROBE_SIZE)),
        help="HxW input of Score-CAM and Ablation-CAM on the big models (default %(default)s)",
    )
    parser.add_argument("--batch", type=int, default=64, help="images per pass for Score-CAM and Ablation-CAM")
    parser.add_argument("--check", action="store_true", help="only validate an existing --out directory")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    if args.check:
        sys.exit(1 if check(args.out) else 0)
    if not args.models:
        parser.error("--models DIR is required unless --check")
    methods = [m for m in args.methods.split(",") if m]
    for m in methods:
        if m not in METHODS:
            parser.error(f"unknown method '{m}'; known: {', '.join(METHODS)}")
    cases = select_cases(args.cases, methods)
    status = generate(args.models, args.out, cases, parse_size(args.probe_size), args.batch)
    # Generation always ends with the full check: the reference must be sane.
    failures = check(args.out)
    sys.exit(1 if status or failures else 0)


if __name__ == "__main__":
    main()
