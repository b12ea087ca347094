#!/usr/bin/env python3
"""Stand-ins for modules a library imports but the code path measured never calls.

    bench/import_stubs.py MODULE[,MODULE...] -- SCRIPT [ARGS...]   runs SCRIPT with the missing ones stubbed

The lent GPU machine's Python has torch and little else. torchvision imports PIL when it loads (for its datasets and
transforms), pytorch-grad-cam imports matplotlib, scikit-learn and scipy (for plotting and its other methods), yet
building and scripting a model, or computing Grad-CAM, calls none of them. Where such a module is missing, a stub
takes its place: anything in it can be named, subclassed or used as a default value, but calling it or making one
raises, so a stub can stop a run and never change a number. Modules that are installed are left alone, and every
stubbed name is reported (stderr here, the report in peer_gradcam.py).
"""

import importlib
import os
import runpy
import sys
import types


class StubCalled(RuntimeError):
    pass


class _StubMeta(type):
    # Attributes of a stub are stubs too (PIL.Image.Resampling.BILINEAR as a default value at import time).
    def __getattr__(cls, attribute):
        return _stub_attribute(cls.__qualname__, attribute)

    def __call__(cls, *args, **kwargs):
        raise StubCalled(f"{cls.__qualname__} is a stub (its module is not installed here), but it was called")


def _stub(name: str) -> type:
    return _StubMeta(name.rsplit(".", 1)[-1], (), {"__qualname__": name})


def stub_missing(names, force: bool = False) -> list:
    """Stubs each module of `names` that cannot be imported (every one with force); returns those stubbed."""
    stubbed = []
    for name in names:
        if not force:
            try:
                importlib.import_module(name)
                continue
            except ImportError:
                pass
        module = types.ModuleType(name)
        module.__getattr__ = lambda attribute, _name=name: _stub_attribute(_name, attribute)
        module.__path__ = []  # a package: `from PIL import Image` finds the stub of PIL.Image below
        module.__version__ = "0.0.0"  # read as a version string at import time (torchvision reads PIL's)
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:
            setattr(sys.modules[parent], child, module)
        stubbed.append(name)
    return stubbed


def _stub_attribute(owner: str, attribute: str) -> type:
    if attribute.startswith("__"):  # dunders are asked by the import system and inspect: absent, not stubs
        raise AttributeError(attribute)
    return _stub(f"{owner}.{attribute}")


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print(__doc__.strip().split("\n\n")[0], file=sys.stderr)
        print("usage: import_stubs.py MODULE[,MODULE...] -- SCRIPT [ARGS...]", file=sys.stderr)
        return 2
    stubbed = stub_missing(sys.argv[1].split(","))
    if stubbed:
        print(f"import_stubs: not installed here, stubbed (never called): {', '.join(stubbed)}", file=sys.stderr)
    script = sys.argv[3]
    sys.argv = sys.argv[3:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
