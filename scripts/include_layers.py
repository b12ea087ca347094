#!/usr/bin/env python3
"""Lists the include edges that go up the layers (core < model < input < methods < analysis < output <
pipelines < cli): a file may include only its own layer and those below. An internal header belongs to
its folder (src/LAYER/NAME.hpp); a public header include/xai/NAME.hpp to the layer of src/*/NAME.cpp, or
for the public headers without a source of their own, to the layer in PUBLIC_WITHOUT_SOURCE. Also lists
public headers that include internal ones (the installed API must stand alone). Prints one line per
edge and a count; exits 1 when there is one and --strict is given.
Usage: scripts/include_layers.py [--strict] [ROOT]"""
import pathlib
import re
import sys

LAYERS = ["core", "model", "input", "methods", "analysis", "output", "pipelines", "cli"]
args = [a for a in sys.argv[1:] if a != "--strict"]
root = pathlib.Path(args[0] if args else pathlib.Path(__file__).resolve().parent.parent)
src = root / "src"

PUBLIC_WITHOUT_SOURCE = {"settings": "methods", "explain_options": "methods", "methods": "methods",
                         "explain_plan": "methods", "explanation_outcome": "output", "xai": "pipelines"}
home = dict(PUBLIC_WITHOUT_SOURCE)  # public header stem -> layer, from the source that implements it (the lowest, when several do)
for cpp in src.glob("*/*.cpp"):
    layer = cpp.parent.name
    if layer in LAYERS and (cpp.stem not in home or LAYERS.index(layer) < LAYERS.index(home[cpp.stem])):
        home[cpp.stem] = layer


def layer_of(path: pathlib.Path):
    if path.parent == root / "include" / "xai":
        return home.get(path.stem)
    if path.parent.parent == src:
        return path.parent.name
    return None


def target_layer(name: str):
    if name.startswith("xai/"):
        return home.get(pathlib.Path(name).stem)
    first = name.split("/")[0]
    return first if first in LAYERS else None


upward = []
files = sorted(list(src.glob("*/*.[ch]pp")) + list((root / "include" / "xai").glob("*.hpp")))
for f in files:
    mine = layer_of(f)
    if mine not in LAYERS:
        continue
    for line in f.read_text(errors="replace").splitlines():
        m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
        if not m:
            continue
        if f.parent == root / "include" / "xai" and not m.group(1).startswith("xai/"):
            upward.append(f"{f.relative_to(root)} (public) -> {m.group(1)} (internal)")
            continue
        theirs = target_layer(m.group(1))
        if theirs in LAYERS and LAYERS.index(theirs) > LAYERS.index(mine):
            upward.append(f"{f.relative_to(root)} ({mine}) -> {m.group(1)} ({theirs})")
for edge in upward:
    print(edge)
print(f"{len(upward)} upward include edges (public headers including internal ones counted)")
sys.exit(1 if upward and "--strict" in sys.argv else 0)
