#!/usr/bin/python3
"""Trains the bundled demo model models/demo-histo.pt on synthetic H&E patches (CPU, a few minutes).

    nice -n 10 .venv/bin/python scripts/train_demo.py [--out models/demo-histo] [--examples examples/patches]
        [--train-seed 1] [--train-count 6000] [--heldout-seed 2] [--heldout-count 2000]
        [--epochs 10] [--threads 2] [--cache /tmp/demo-histo-data.npz]

(--cache only saves regenerating the patches between runs; results are identical with or without it.)

Steps:
1. Generates the training set (scripts/synth_patches.py, seed 1) and a held-out set (seed 2) in memory.
2. Trains DemoHistoNet (below) with flips/rot90 augmentation, AdamW + one-cycle schedule, fixed seeds;
   prints loss/accuracy per epoch. The exported model is the last epoch's: the held-out set is only
   measured, never used to choose anything.
3. Reports held-out accuracy, ROC AUC and an eager Grad-CAM pointing game (forward hook on the target
   layer, alpha = spatial mean of the gradient of the malignant logit, ReLU, bilinear upsampling to the
   patch; a hit when the map's maximum lies inside the lesion mask) over correctly classified held-out
   malignant patches.
4. Exports TorchScript (torch.jit.script, eval mode, not frozen) to OUT.pt, reloads it and checks its
   logits against the eager model, and writes the model card OUT.json.
5. With --examples DIR: writes the first 3 malignant (with DIR/malignant-K.mask.png) and the first 3
   benign held-out patches in seed order, skipping (and reporting) any the exported model misclassifies.
"""

import argparse
import json
import math
import os
import sys
import time
from typing import List, Tuple

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synth_patches  # noqa: E402

LABELS = ["benign", "malignant"]
SIZE = 96


class BasicBlock(nn.Module):
    """ResNet basic block: conv3x3-BN-ReLU-conv3x3-BN plus (projected) identity, then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = nn.Identity()
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class DemoHistoNet(nn.Module):
    """96x96 RGB -> 2 logits. stem /2 (48x48) -> layer1 (48x48) -> layer2 /2 (24x24) -> layer3 /2 (12x12)
    -> global average pooling -> fc. Grad-CAM target: layer3 (12x12)."""

    def __init__(self, widths=(24, 32, 64, 128), blocks=(1, 1, 2), num_classes: int = 2):
        super().__init__()
        c0, c1, c2, c3 = widths
        self.stem = nn.Sequential(nn.Conv2d(3, c0, 3, 2, 1, bias=False), nn.BatchNorm2d(c0), nn.ReLU(inplace=True))
        self.layer1 = self._stage(c0, c1, 1, blocks[0])
        self.layer2 = self._stage(c1, c2, 2, blocks[1])
        self.layer3 = self._stage(c2, c3, 2, blocks[2])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c3, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for m in self.modules():  # zero-init the last BN of each block: blocks start as identities
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    @staticmethod
    def _stage(cin: int, cout: int, stride: int, n: int) -> nn.Sequential:
        return nn.Sequential(BasicBlock(cin, cout, stride), *[BasicBlock(cout, cout, 1) for _ in range(n - 1)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.fc(torch.flatten(self.pool(x), 1))


ARCHITECTURE = ("ResNet-style CNN (DemoHistoNet, scripts/train_demo.py): stem conv3x3/2 (24 ch, 48x48) -> "
                "layer1 1 BasicBlock (32 ch, 48x48) -> layer2 1 BasicBlock /2 (64 ch, 24x24) -> "
                "layer3 2 BasicBlocks /2 (128 ch, 12x12) -> global average pool -> fc (2 logits)")


def generate(seed: int, count: int, fraction: float) -> Tuple[np.ndarray, np.ndarray, List]:
    imgs = np.empty((count, SIZE, SIZE, 3), np.uint8)
    labels = np.empty(count, np.int64)
    masks = []
    for i in range(count):
        img, mask, label = synth_patches.make_patch(seed, i, SIZE, fraction)
        imgs[i], labels[i] = img, LABELS.index(label)
        masks.append(mask)
    return imgs, labels, masks


def to_tensor(imgs: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div_(255.0)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random element of the dihedral group D4 (flips and 90-degree rotations) per sample."""
    k = torch.randint(0, 8, (x.shape[0],), generator=gen)
    out = x.clone()
    for t in range(8):
        idx = (k == t).nonzero().flatten()
        if len(idx) == 0:
            continue
        v = x[idx]
        if t >= 4:
            v = v.flip(3)
        out[idx] = torch.rot90(v, t % 4, (2, 3))
    return out


def roc_auc(scores: np.ndarray, truth: np.ndarray) -> float:
    """Mann-Whitney AUC with average ranks for ties."""
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    ranks = np.empty(len(s), np.float64)
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    pos = truth == 1
    n1, n0 = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch: int = 256) -> np.ndarray:
    model.eval()
    return torch.cat([torch.softmax(model(x[i:i + batch]), 1) for i in range(0, len(x), batch)]).numpy()


def gradcam(model: nn.Module, layer: nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    """Eager Grad-CAM maps (N, H, W) upsampled to the input, not normalised."""
    acts = []
    h = layer.register_forward_hook(lambda m, i, o: acts.append(o))
    try:
        model.eval()
        logits = model(x)
        a = acts[0]
        g, = torch.autograd.grad(logits[:, target].sum(), a)
        cam = F.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(1, keepdim=True))
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    finally:
        h.remove()
    return cam[:, 0].detach().numpy()


def pointing_game(model, layer, x, masks, batch=128):
    """Fraction of maps whose maximum lies inside the mask (constant maps point nowhere)."""
    hits, n = 0, 0
    for i in range(0, len(x), batch):
        maps = gradcam(model, layer, x[i:i + batch], 1)
        for m, mask in zip(maps, masks[i:i + batch]):
            n += 1
            if m.max() > m.min():
                y, xx = np.unravel_index(int(np.argmax(m)), m.shape)
                hits += int(mask[y, xx] > 0)
    return hits / max(n, 1), n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="models/demo-histo", help="writes OUT.pt and OUT.json")
    ap.add_argument("--examples", default="", help="directory for the example patches (skipped if empty)")
    ap.add_argument("--train-seed", type=int, default=1)
    ap.add_argument("--train-count", type=int, default=6000)
    ap.add_argument("--heldout-seed", type=int, default=2)
    ap.add_argument("--heldout-count", type=int, default=2000)
    ap.add_argument("--malignant-fraction", type=float, default=0.4)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0, help="weights, shuffling and augmentation")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default="", help="optional .npz to reuse the generated patches between runs")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)
    t_start = time.time()

    t0 = time.time()
    key = f"{args.train_seed}-{args.train_count}-{args.heldout_seed}-{args.heldout_count}-{args.malignant_fraction}"
    if args.cache and os.path.exists(args.cache) and str(np.load(args.cache)["key"]) == key:
        z = np.load(args.cache)
        tr_img, tr_y, ho_img, ho_y = z["tr_img"], z["tr_y"], z["ho_img"], z["ho_y"]
        ho_masks = [m if y == 1 else None for m, y in zip(z["ho_masks"], ho_y)]
    else:
        tr_img, tr_y, _ = generate(args.train_seed, args.train_count, args.malignant_fraction)
        ho_img, ho_y, ho_masks = generate(args.heldout_seed, args.heldout_count, args.malignant_fraction)
        if args.cache:
            np.savez(args.cache, key=key, tr_img=tr_img, tr_y=tr_y, ho_img=ho_img, ho_y=ho_y,
                     ho_masks=np.stack([m if m is not None else np.zeros((SIZE, SIZE), np.uint8) for m in ho_masks]))
    print(f"data: {len(tr_y)} training patches (seed {args.train_seed}, {int(tr_y.sum())} malignant), "
          f"{len(ho_y)} held-out (seed {args.heldout_seed}, {int(ho_y.sum())} malignant) in {time.time() - t0:.0f} s",
          flush=True)
    px = tr_img.reshape(-1, 3).astype(np.float64) / 255.0
    mean = np.round(px.mean(0), 4).astype(np.float32)
    std = np.round(px.std(0), 4).astype(np.float32)
    del px
    print(f"mean {[round(float(v), 4) for v in mean]} std {[round(float(v), 4) for v in std]} (training set)",
          flush=True)
    x_tr, x_ho = to_tensor(tr_img, mean, std), to_tensor(ho_img, mean, std)
    y_tr = torch.from_numpy(tr_y)

    model = DemoHistoNet()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr)
    steps = math.ceil(len(y_tr) / args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps,
                                                pct_start=0.2)
    gen = torch.Generator().manual_seed(args.seed)
    t_train = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        te = time.time()
        perm = torch.randperm(len(y_tr), generator=gen)
        loss_sum, correct = 0.0, 0
        for s in range(steps):
            idx = perm[s * args.batch_size:(s + 1) * args.batch_size]
            xb, yb = augment(x_tr[idx], gen), y_tr[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
        p = predict(model, x_ho)[:, 1]
        print(f"epoch {epoch:2d}/{args.epochs}  train loss {loss_sum / len(y_tr):.4f} acc {correct / len(y_tr):.4f}  "
              f"| held-out acc {((p >= 0.5) == ho_y).mean():.4f} auc {roc_auc(p, ho_y):.4f}  "
              f"({time.time() - te:.0f} s)", flush=True)
    train_seconds = time.time() - t_train
    model.eval()

    # ---- export and check ------------------------------------------------------------------
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    scripted = torch.jit.script(model)
    scripted.save(args.out + ".pt")
    loaded = torch.jit.load(args.out + ".pt")
    with torch.no_grad():
        d = (loaded(x_ho[:64]) - model(x_ho[:64])).abs().max().item()
    if d > 1e-4:
        raise SystemExit(f"reloaded TorchScript differs from eager model by {d}")

    # ---- held-out metrics --------------------------------------------------------------------
    prob = predict(loaded, x_ho)[:, 1]
    pred = (prob >= 0.5).astype(np.int64)
    acc = float((pred == ho_y).mean())
    auc = roc_auc(prob, ho_y)
    sel = [i for i in range(len(ho_y)) if ho_y[i] == 1 and pred[i] == 1]
    pg = {}
    for name in ("layer3", "layer2"):
        pg[name], npg = pointing_game(model, getattr(model, name), x_ho[sel], [ho_masks[i] for i in sel])
    tn = int(((pred == 0) & (ho_y == 0)).sum())
    fp = int(((pred == 1) & (ho_y == 0)).sum())
    fn = int(((pred == 0) & (ho_y == 1)).sum())
    print(f"held-out (seed {args.heldout_seed}, n={len(ho_y)}): accuracy {acc:.4f}, ROC AUC {auc:.4f}, "
          f"TP {len(sel)} TN {tn} FP {fp} FN {fn}")
    print(f"Grad-CAM pointing game on {npg} correctly classified malignant patches: "
          f"layer3 {pg['layer3']:.4f}, layer2 {pg['layer2']:.4f}")

    card = {
        "schema": "xai.model-card/1",
        "name": "demo-histo (synthetic H&E patches; NOT for clinical use)",
        "architecture": ARCHITECTURE,
        "labels": LABELS,
        "input_size": [SIZE, SIZE],
        "channels": "rgb",
        "mean": [round(float(v), 4) for v in mean],
        "std": [round(float(v), 4) for v in std],
        "output": "softmax",
        "target_layer": "layer3",
        "metrics": {"heldout_accuracy": round(acc, 4), "heldout_roc_auc": round(auc, 6),
                    "heldout_count": int(len(ho_y)), "heldout_seed": args.heldout_seed,
                    "heldout_malignant": int(ho_y.sum()),
                    "gradcam_pointing_game_layer3_python": round(pg["layer3"], 4),
                    "gradcam_pointing_game_count": npg},
        "training": {"seed": args.train_seed, "patches": int(len(tr_y)), "epochs": args.epochs,
                     "seconds": round(train_seconds),
                     "host": f"{os.cpu_count()} CPU cores, {args.threads} torch threads", "weights_seed": args.seed, "batch_size": args.batch_size,
                     "optimizer": f"AdamW, one-cycle lr max {args.lr}, weight decay 5e-4",
                     "augmentation": "random flips and 90-degree rotations",
                     "command": "nice -n 10 .venv/bin/python scripts/train_demo.py --examples examples/patches",
                     "torch": torch.__version__},
        "notes": "Trained on synthetic patches from scripts/synth_patches.py; demonstrates xai, not a medical device.",
    }
    with open(args.out + ".json", "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}.pt ({os.path.getsize(args.out + '.pt') / 1e6:.2f} MB) and {args.out}.json")

    # ---- examples ----------------------------------------------------------------------------
    if args.examples:
        os.makedirs(args.examples, exist_ok=True)
        for cls, label in ((1, "malignant"), (0, "benign")):
            k = 0
            for i in range(len(ho_y)):
                if ho_y[i] != cls:
                    continue
                name = synth_patches.patch_name(args.heldout_seed, i)
                if pred[i] != cls:
                    print(f"example: skipped {name} ({label}, misclassified, p(malignant)={prob[i]:.3f})")
                    continue
                k += 1
                stem = os.path.join(args.examples, f"{label}-{k}")
                cv2.imwrite(stem + ".png", cv2.cvtColor(ho_img[i], cv2.COLOR_RGB2BGR))
                if cls == 1:
                    cv2.imwrite(stem + ".mask.png", ho_masks[i])
                print(f"example: {stem}.png = {name} (p(malignant)={prob[i]:.4f}"
                      + (f", mask {100 * (ho_masks[i] > 0).mean():.0f}% of the patch" if cls == 1 else "") + ")")
                if k == 3:
                    break
    print(f"total {time.time() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
