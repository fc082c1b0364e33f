"""Load a script of the repository's ``scripts/`` folder as a module (scripts are not a
package; the experiment drivers reuse ``scripts/train.py``'s ``run``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_script(path: Path, name: str) -> ModuleType:
    """Execute the Python file ``path`` as the module ``name`` (registered in
    ``sys.modules``, so pickling and dataclasses work) and return it."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as a module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


__all__ = ["load_script"]
