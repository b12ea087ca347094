#!/usr/bin/python3
"""Generates synthetic PCam-like H&E histology patches with a known lesion mask.

    /usr/bin/python3 scripts/synth_patches.py --out OUT [--count 1000] [--seed 1] [--size 96]
                                              [--malignant-fraction 0.4]

Writes
  OUT/images/NAME.png   RGB patch, 8-bit
  OUT/masks/NAME.png    lesion mask (0/255, same size), malignant patches only: benign patches
                        get NO mask file (their lesion area is empty by definition)
  OUT/labels.csv        "name,label" header, then one row per patch: NAME (file stem), benign|malignant

NAME is "s{seed}-{index:06d}". Patch `index` of a given seed depends only on (seed, index, size,
malignant fraction), never on --count: `--count 10` writes the first 10 patches of `--count 5000`.

How a patch is made. Tissue is rendered as stain concentrations (hematoxylin H, eosin E) and turned
into RGB with the Beer-Lambert law, I = I0 * 10^-(H*h + E*e), where h and e are per-patch jittered
stain vectors (Macenko's reference H&E vectors), on a 2x canvas that is area-downsampled at the end.

- Stroma: eosin with fibre texture (noise smeared along two local fibre directions), occasional
  white gaps (fat, tears), a faint hematoxylin background.
- Benign nuclei: sparse, small, regular spindle (fibroblast-like) and round nuclei with chromatin
  texture.
- Malignant (class "malignant" only): one lesion region - an irregular star-shaped blob at a random
  place, 10-40 % of the visible patch, sometimes cut off by the border - filled with crowded,
  enlarged, irregular (pleomorphic polygons), dark (hyperchromatic) nuclei, some with nucleoli,
  in amphophilic cytoplasm instead of fibrous stroma. The blob is the mask.
- Confounders, shared by both classes: per-patch stain vector and stain intensity jitter,
  brightness/gamma/illumination tint variation, blur on ~30 % of patches, sensor noise, a few
  isolated large dark nuclei (~35 % of patches), clusters of small dark round lymphocytes
  (~25 % of patches). So neither colour, darkness, nor a single large nucleus gives the class away:
  only a crowded region of large pleomorphic nuclei does.

Synthetic data for demonstrating explanation methods; not a model of real pathology.
"""

import argparse
import csv
import math
import os
import sys
import time
from typing import Optional, Tuple

import cv2
import numpy as np

SS = 2  # supersampling factor of the drawing canvas
# Macenko et al. reference H&E optical-density vectors (columns of HERef), RGB order.
H_REF = np.array([0.5626, 0.7201, 0.4062], np.float32)
E_REF = np.array([0.2159, 0.8012, 0.5581], np.float32)
LABELS = ("benign", "malignant")


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, n: int, cells: int) -> np.ndarray:
    """Low-frequency noise in about [-1, 1]: a cells x cells random grid resized (bicubic) to n x n."""
    g = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(g, (n, n), interpolation=cv2.INTER_CUBIC)


def _line_kernel(length: int, angle: float) -> np.ndarray:
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2.0
    dx, dy = math.cos(angle), math.sin(angle)
    p0 = (int(round(c - dx * c)), int(round(c - dy * c)))
    p1 = (int(round(c + dx * c)), int(round(c + dy * c)))
    cv2.line(k, p0, p1, 1.0, 1)
    return k / k.sum()


def _blob(rng: np.random.Generator, n: int, cx: float, cy: float, radius: float,
          irregularity: float = 0.28) -> np.ndarray:
    """Irregular star-shaped region (float32 0/1, n x n): r(phi) = R (1 + sum of low harmonics),
    stretched and rotated."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    stretch = rng.uniform(1.0, 1.6)
    rot = rng.uniform(0, math.pi)
    dx, dy = xx - cx, yy - cy
    u = (dx * math.cos(rot) + dy * math.sin(rot)) / stretch
    v = (-dx * math.sin(rot) + dy * math.cos(rot)) * stretch
    rho = np.sqrt(u * u + v * v)
    phi = np.arctan2(v, u)
    r = np.ones_like(phi)
    for k in range(2, 7):
        r += irregularity / k ** 0.8 * rng.uniform(0.3, 1.0) * np.cos(k * phi + rng.uniform(0, 2 * math.pi))
    return (rho < radius * r).astype(np.float32)


def _jittered_grid(rng: np.random.Generator, n: int, spacing: float, jitter: float) -> np.ndarray:
    """Hexagonal grid points over [0, n)^2 with uniform jitter; returns (k, 2) x, y."""
    rows = np.arange(-spacing, n + spacing, spacing * 0.866)
    pts = []
    for i, y in enumerate(rows):
        xs = np.arange(-spacing, n + spacing, spacing) + (spacing / 2 if i % 2 else 0)
        pts.append(np.stack([xs, np.full_like(xs, y)], 1))
    p = np.concatenate(pts, 0)
    return p + rng.uniform(-jitter, jitter, p.shape) * spacing


def _draw_ellipse(canvas: np.ndarray, x: float, y: float, a: float, b: float, angle: float,
                  value: float) -> None:
    sh = 4  # sub-pixel bits
    cv2.ellipse(canvas, (int(x * 16), int(y * 16)), (max(1, int(a * 16)), max(1, int(b * 16))),
                math.degrees(angle), 0, 360, float(value), -1, cv2.LINE_AA, sh)


def _draw_irregular(rng: np.random.Generator, canvas: np.ndarray, x: float, y: float, a: float,
                    b: float, angle: float, value: float, irregularity: float) -> None:
    m = 20
    t = np.linspace(0, 2 * math.pi, m, endpoint=False)
    r = np.ones(m)
    for k in (2, 3, 4, 5):
        r += irregularity / k * rng.uniform(0.2, 1.0) * np.cos(k * t + rng.uniform(0, 2 * math.pi))
    r += rng.normal(0, irregularity * 0.15, m)
    px, py = a * r * np.cos(t), b * r * np.sin(t)
    ca, sa = math.cos(angle), math.sin(angle)
    poly = np.stack([x + px * ca - py * sa, y + px * sa + py * ca], 1)
    cv2.fillPoly(canvas, [np.round(poly * 16).astype(np.int32)], float(value), cv2.LINE_AA, 4)


def make_patch(seed: int, index: int, size: int = 96,
               malignant_fraction: float = 0.4) -> Tuple[np.ndarray, Optional[np.ndarray], str]:
    """Returns (rgb uint8 HxWx3, mask uint8 HxW 0/255 or None for benign, label)."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))
    malignant = bool(rng.random() < malignant_fraction)
    n = size * SS
    px = n / 96.0  # canvas pixels per "pixel at 96x96"

    # ---- stroma (eosin) with fibres -------------------------------------------------------
    th1 = rng.uniform(0, math.pi)
    th2 = th1 + rng.uniform(-0.9, 0.9)
    klen = int(round(rng.uniform(9, 17) * px)) | 1
    f1 = cv2.filter2D(rng.standard_normal((n, n)).astype(np.float32), -1, _line_kernel(klen, th1),
                      borderType=cv2.BORDER_REFLECT)
    f2 = cv2.filter2D(rng.standard_normal((n, n)).astype(np.float32), -1, _line_kernel(klen, th2),
                      borderType=cv2.BORDER_REFLECT)
    w = np.clip(_smooth_noise(rng, n, 3) * 0.8 + 0.5, 0, 1)
    fib = w * f1 + (1 - w) * f2
    # wavy collagen: warp the fibre field with a smooth displacement
    amp = rng.uniform(2.0, 5.0) * px
    grid = np.mgrid[0:n, 0:n].astype(np.float32)
    fib = cv2.remap(fib, grid[1] + amp * _smooth_noise(rng, n, 6), grid[0] + amp * _smooth_noise(rng, n, 6),
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    fib = cv2.GaussianBlur(fib, (0, 0), 0.8 * px)
    fib /= fib.std() + 1e-6
    e0 = rng.uniform(0.3, 0.6)
    E = e0 * (0.72 + 0.28 * np.tanh(1.2 * fib + rng.uniform(-0.2, 0.6)))
    E *= 1 + 0.15 * _smooth_noise(rng, n, 5)
    H = np.full((n, n), rng.uniform(0.03, 0.10), np.float32)

    # white gaps (fat, tears, lumina), both classes
    if rng.random() < 0.45:
        g = _smooth_noise(rng, n, int(rng.integers(3, 7)))
        thr = np.quantile(g, 1 - rng.uniform(0.04, 0.18))
        gap = cv2.GaussianBlur((g > thr).astype(np.float32), (0, 0), 1.2 * px)
        E *= 1 - 0.92 * gap
        H *= 1 - 0.8 * gap
    else:
        gap = np.zeros((n, n), np.float32)

    nuc = np.zeros((n, n), np.float32)  # nuclear hematoxylin (drawn shapes, max-composited)
    nucleoli = np.zeros((n, n), np.float32)

    def stroma_nuclei(count: int) -> None:
        for _ in range(count):
            x, y = rng.uniform(-2 * px, n + 2 * px, 2)
            if gap[int(np.clip(y, 0, n - 1)), int(np.clip(x, 0, n - 1))] > 0.5:
                continue
            local = th1 if w[int(np.clip(y, 0, n - 1)), int(np.clip(x, 0, n - 1))] > 0.5 else th2
            if rng.random() < 0.6:  # spindle fibroblast nucleus, along the fibres
                a, b = rng.uniform(3.2, 5.0) * px, rng.uniform(1.2, 1.8) * px
                ang = local + rng.normal(0, 0.15)
            else:  # round/oval nucleus
                a = rng.uniform(2.2, 3.4) * px
                b = a * rng.uniform(0.75, 1.0)
                ang = rng.uniform(0, math.pi)
            _draw_ellipse(nuc, x, y, a, b, ang, rng.uniform(0.55, 0.9))

    stroma_nuclei(int(rng.integers(7, 22)))

    # ---- confounder: lymphocyte cluster (small, dark, round, crowded), both classes ---------
    if rng.random() < 0.25:
        cx, cy = rng.uniform(0, n, 2)
        lb = _blob(rng, n, cx, cy, rng.uniform(10, 20) * px, 0.3)
        pts = _jittered_grid(rng, n, rng.uniform(5.5, 7.0) * px, 0.25)
        ix = np.clip(pts.astype(int), 0, n - 1)
        keep = (pts[:, 0] >= 0) & (pts[:, 0] < n) & (pts[:, 1] >= 0) & (pts[:, 1] < n)
        keep &= lb[ix[:, 1], ix[:, 0]] > 0
        for x, y in pts[keep]:
            r = rng.uniform(1.9, 2.5) * px
            _draw_ellipse(nuc, x, y, r, r * rng.uniform(0.85, 1.0), rng.uniform(0, math.pi),
                          rng.uniform(0.9, 1.2))

    # ---- confounder: a few isolated large dark nuclei, both classes -------------------------
    if rng.random() < 0.35:
        for _ in range(int(rng.integers(1, 4))):
            x, y = rng.uniform(0, n, 2)
            a = rng.uniform(4.0, 6.5) * px
            _draw_irregular(rng, nuc, x, y, a, a * rng.uniform(0.6, 0.9), rng.uniform(0, math.pi),
                            rng.uniform(0.9, 1.3), rng.uniform(0.1, 0.35))

    # ---- lesion ------------------------------------------------------------------------------
    mask_small = None
    if malignant:
        target = rng.uniform(0.10, 0.40)
        border = rng.random() < 0.3  # centre near or beyond the border: region partly cut off
        for attempt in range(40):
            if border:
                c = rng.uniform(-0.05, 0.3, 2) * n
                c = np.where(rng.random(2) < 0.5, c, n - c)
                c[rng.integers(0, 2)] = rng.uniform(0.15, 0.85) * n
            else:
                c = rng.uniform(0.2, 0.8, 2) * n
            radius = math.sqrt(target * n * n / math.pi) * (1.25 if border else 1.0) * rng.uniform(0.85, 1.15)
            blob = _blob(rng, n, c[0], c[1], radius)
            m = cv2.resize(blob, (size, size), interpolation=cv2.INTER_AREA) >= 0.5
            frac = m.mean()
            if 0.10 <= frac <= 0.40:
                break
            target = float(np.clip(target * (target / max(frac, 1e-3)) ** 0.5, 0.1, 0.4))
        blob = cv2.resize(m.astype(np.float32), (n, n), interpolation=cv2.INTER_NEAREST)
        mask_small = (m * 255).astype(np.uint8)
        soft = cv2.GaussianBlur(blob, (0, 0), 1.5 * px)
        # tumour cells replace stroma: amphophilic cytoplasm, little fibre texture
        cyto_e = rng.uniform(0.3, 0.5) * (1 + 0.08 * cv2.GaussianBlur(
            rng.standard_normal((n, n)).astype(np.float32), (0, 0), 1.5 * px))
        E = E * (1 - soft) + cyto_e * soft
        H = H + soft * rng.uniform(0.04, 0.12)
        # crowded nuclei, centres inside the region
        spacing = rng.uniform(9.5, 12.0) * px
        pts = _jittered_grid(rng, n, spacing, 0.3)
        ix = np.clip(pts.astype(int), 0, n - 1)
        keep = (pts[:, 0] >= 0) & (pts[:, 0] < n) & (pts[:, 1] >= 0) & (pts[:, 1] < n)
        keep &= blob[ix[:, 1], ix[:, 0]] > 0
        keep &= rng.random(len(pts)) < 0.93
        for x, y in pts[keep]:
            a = rng.uniform(3.8, 6.2) * px
            b = a * rng.uniform(0.55, 1.0)
            ang = rng.uniform(0, math.pi)
            _draw_irregular(rng, nuc, x, y, a, b, ang, rng.uniform(0.9, 1.4), rng.uniform(0.15, 0.45))
            if rng.random() < 0.4:
                r = rng.uniform(0.7, 1.2) * px
                _draw_ellipse(nucleoli, x + rng.normal(0, a * 0.25), y + rng.normal(0, b * 0.25), r, r, 0, 0.6)

    # chromatin texture: fine speckle modulating nuclear stain
    speck = cv2.GaussianBlur(rng.standard_normal((n, n)).astype(np.float32), (0, 0), 0.7 * px)
    speck /= speck.std() + 1e-6
    rim = nuc - cv2.erode(nuc, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))  # nuclear membrane
    nuc_tex = nuc * (1 + 0.3 * speck) + 0.35 * rim
    inside = np.clip(nuc / 0.5, 0, 1)
    H = H * (1 - inside) + nuc_tex + nucleoli * inside
    E = E * (1 - 0.6 * inside)

    # ---- stain jitter and Beer-Lambert rendering -----------------------------------------------
    h = _unit(np.abs(H_REF + rng.normal(0, 0.05, 3)))
    e = _unit(np.abs(E_REF + rng.normal(0, 0.06, 3)))
    H *= rng.uniform(0.75, 1.25)
    E *= rng.uniform(0.7, 1.3)
    od = H[..., None] * h + E[..., None] * e
    od += rng.uniform(0.0, 0.04) * np.abs(_smooth_noise(rng, n, 4))[..., None]  # slide haze
    i0 = rng.uniform(0.93, 1.0) * (1 - np.abs(rng.normal(0, 0.02, 3))).astype(np.float32)
    rgb = i0 * np.power(10.0, -od, dtype=np.float32)
    rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)

    # ---- acquisition: blur, brightness, gamma, noise -----------------------------------------
    if rng.random() < 0.3:
        rgb = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(0.5, 1.5) * size / 96)
    rgb = rgb * rng.uniform(0.86, 1.08)
    rgb = np.power(np.clip(rgb, 0, 1), rng.uniform(0.85, 1.15))
    rgb = rgb * 255 + rng.normal(0, rng.uniform(1.0, 4.0), rgb.shape)
    img = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    return img, mask_small, LABELS[int(malignant)]


def patch_name(seed: int, index: int) -> str:
    return f"s{seed}-{index:06d}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", type=int, default=96, help="patch side in pixels (geometry scales with it)")
    ap.add_argument("--malignant-fraction", type=float, default=0.4)
    ap.add_argument("--start", type=int, default=0, help="first patch index")
    args = ap.parse_args(argv)
    if args.size < 16 or args.count < 0 or not 0 <= args.malignant_fraction <= 1:
        ap.error("need --size >= 16, --count >= 0, 0 <= --malignant-fraction <= 1")
    os.makedirs(os.path.join(args.out, "images"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "masks"), exist_ok=True)
    t0 = time.time()
    rows = []
    for i in range(args.start, args.start + args.count):
        img, mask, label = make_patch(args.seed, i, args.size, args.malignant_fraction)
        name = patch_name(args.seed, i)
        cv2.imwrite(os.path.join(args.out, "images", name + ".png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        if mask is not None:
            cv2.imwrite(os.path.join(args.out, "masks", name + ".png"), mask)
        rows.append((name, label))
    with open(os.path.join(args.out, "labels.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["name", "label"])
        wr.writerows(rows)
    dt = time.time() - t0
    nm = sum(r[1] == "malignant" for r in rows)
    print(f"{len(rows)} patches ({nm} malignant, {len(rows) - nm} benign) in {dt:.1f} s "
          f"({len(rows) / max(dt, 1e-9) * 60:.0f}/min) -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
