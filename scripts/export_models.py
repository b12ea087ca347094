#!/usr/bin/python3
"""Exports seeded random-weight test models as TorchScript plus model cards.

    .venv/bin/python scripts/export_models.py --out DIR [--arch a,b] [--mode scripted,traced] [--seed 0]
    .venv/bin/python scripts/export_models.py --tiny-to models/

For each arch it writes DIR/{arch}.weights.pt (eager state_dict, used by
reference_cam.py) and, per mode, DIR/{stem}-{mode}.pt and DIR/{stem}-{mode}.json
(stem = arch, except tiny_binary -> tiny-binary). Every saved TorchScript file
is reloaded and checked against the eager model; any mismatch is fatal.
"""

import argparse
import json
import os
import re
import sys
import time
import warnings
from collections import Counter
from typing import Dict, List

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xai_models  # noqa: E402

MODES = ["scripted", "traced"]
MAX_ABS_DIFF = 1e-4  # eager vs reloaded TorchScript logits


def model_card(arch: str, seed: int, mode: str) -> dict:
    spec = xai_models.input_spec(arch)
    return {
        "schema": "xai.model-card/1",
        "name": f"{arch} (random weights, seed {seed}, {mode})",
        "architecture": arch,
        "labels": spec["labels"],
        "input_size": spec["input_size"],  # [height, width]
        "channels": spec["channels"],
        "mean": spec["mean"],
        "std": spec["std"],
        "output": spec["output"],
        "target_layer": spec["target_layer"],
        "notes": "Seeded random weights for testing; not a trained model.",
    }


def export(model: torch.nn.Module, arch: str, mode: str, seed: int) -> torch.jit.ScriptModule:
    model.eval()
    if mode == "scripted":
        return torch.jit.script(model)
    # Batch of 1, like a single image explained by the C++ tool.
    sample = xai_models.random_images(arch, 1, torch.Generator().manual_seed(seed + 1))
    with warnings.catch_warnings():
        # Tracer warnings about Python control flow are expected for these
        # models and harmless: check_trace and verify() catch real problems.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        # Re-tracing a transformer gives a differently numbered graph (torchvision's attention), which
        # the trace check reports as a divergence; verify() compares the outputs instead.
        return torch.jit.trace(model, sample, check_trace=arch not in xai_models.TRANSFORMER_ARCHS)


@torch.no_grad()
def verify(eager: torch.nn.Module, path: str, arch: str, seed: int) -> float:
    """Reloads `path` and compares its logits with the eager model's on a
    batch of 2 fresh images (a different batch size than the trace sample, so
    shape constants baked in by tracing would show). Runs twice because the
    profiling executor optimises the graph on later runs. Exits on mismatch."""
    loaded = torch.jit.load(path, map_location="cpu")
    loaded.eval()
    x = xai_models.random_images(arch, 2, torch.Generator().manual_seed(seed + 2))
    expected = eager(x)
    worst = 0.0
    for _ in range(2):
        got = loaded(x)
        if got.shape != expected.shape:
            sys.exit(f"FAIL {path}: output shape {tuple(got.shape)} != eager {tuple(expected.shape)}")
        worst = max(worst, (got - expected).abs().max().item())
    if not worst < MAX_ABS_DIFF:
        sys.exit(f"FAIL {path}: max |logit - eager logit| = {worst:.3g} >= {MAX_ABS_DIFF}")
    return worst


def repeated_calls(module: torch.jit.ScriptModule) -> Dict[str, int]:
    """Module paths called more than once per forward, with their counts.

    Traced: a module called k times gets methods forward, forward1, ...
    Scripted: counted from the prim::CallMethod nodes in each parent's
    forward graph (one per call site; loops are not unrolled).
    """
    counts: Dict[str, int] = {}
    for path, sub in module.named_modules():
        methods = [m for m in sub._c._method_names() if re.fullmatch(r"forward\d*", m)]
        if len(methods) > 1:
            counts[path] = len(methods)
        if "forward" not in methods:
            continue  # containers such as ModuleList have no forward of their own
        # Call sites per child in this module's own (non-inlined) graph.
        sites: Counter = Counter()
        for node in sub.graph.nodes():
            if node.kind() == "prim::CallMethod":
                owner = node.inputsAt(0).node()
                if owner.kind() == "prim::GetAttr" and owner.inputsAt(0).debugName().startswith("self"):
                    sites[owner.s("name")] += 1
        for child, n in sites.items():
            if n > 1:
                key = f"{path}.{child}" if path else child
                counts[key] = max(counts.get(key, 0), n)
    return counts


def human_size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MiB"


def export_arch(arch: str, out_dir: str, modes: List[str], seed: int, show_calls: bool) -> None:
    t0 = time.perf_counter()
    model = xai_models.create_model(arch, seed)
    build_s = time.perf_counter() - t0

    weights = os.path.join(out_dir, f"{arch}.weights.pt")
    torch.save(model.state_dict(), weights)
    print(f"{weights}: {human_size(os.path.getsize(weights))}, build+calibrate {build_s:.1f}s")

    stem = xai_models.file_stem(arch)
    for mode in modes:
        t0 = time.perf_counter()
        exported = export(model, arch, mode, seed)
        path = os.path.join(out_dir, f"{stem}-{mode}.pt")
        exported.save(path)
        export_s = time.perf_counter() - t0

        with open(os.path.join(out_dir, f"{stem}-{mode}.json"), "w") as f:
            json.dump(model_card(arch, seed, mode), f, indent=2)
            f.write("\n")

        t0 = time.perf_counter()
        diff = verify(model, path, arch, seed)
        verify_s = time.perf_counter() - t0
        print(
            f"{path}: {human_size(os.path.getsize(path))}, export {export_s:.1f}s, "
            f"verify {verify_s:.1f}s (max |diff| {diff:.2g}) + card"
        )
        if show_calls:
            calls = repeated_calls(exported)
            listed = ", ".join(f"{p} x{n}" for p, n in sorted(calls.items())) or "none"
            print(f"  modules called more than once: {listed}")


def main() -> None:
    # TorchScript writes a class's constants in set order, which depends on
    # Python's per-process string hashing; fix it so re-exporting gives
    # byte-identical files (no spurious diffs in committed models).
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="output directory for the big models")
    parser.add_argument("--arch", default=",".join(xai_models.BIG_ARCHS), help="comma-separated architectures")
    parser.add_argument("--mode", default=",".join(MODES), help="comma-separated: scripted,traced")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny-to", metavar="DIR", help="write the committed tiny test models into DIR")
    parser.add_argument("--show-calls", action="store_true", help="list modules called several times per forward")
    args = parser.parse_args()

    if not args.out and not args.tiny_to:
        parser.error("give --out DIR and/or --tiny-to DIR")
    archs = [a for a in args.arch.split(",") if a]
    modes = [m for m in args.mode.split(",") if m]
    for a in archs:
        if a not in xai_models.ALL_ARCHS:
            parser.error(f"unknown arch '{a}'; known: {', '.join(xai_models.ALL_ARCHS)}")
    for m in modes:
        if m not in MODES:
            parser.error(f"unknown mode '{m}'; known: {', '.join(MODES)}")

    jobs = []
    if args.out:
        jobs += [(a, args.out) for a in archs]
    if args.tiny_to:
        jobs += [(a, args.tiny_to) for a in xai_models.TINY_ARCHS]

    start = time.perf_counter()
    for arch, out_dir in jobs:
        os.makedirs(out_dir, exist_ok=True)
        export_arch(arch, out_dir, modes, args.seed, args.show_calls)
    print(f"done: {len(jobs)} architecture(s) in {time.perf_counter() - start:.1f}s, all exports match eager")


if __name__ == "__main__":
    main()
