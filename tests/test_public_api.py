"""Each package's public API is what its ``__all__`` says, and other packages use only that.

* every package's ``__init__`` has a docstring and an ``__all__`` whose names all exist;
* the names a package puts in its namespace (other than its modules) are exactly ``__all__``;
* code in one package imports a core package's names from the package itself
  (``from linewatch.fusion import fuse``), never from its modules, and only names in ``__all__``.
"""

from __future__ import annotations

import ast
import importlib
import types

import pytest

from test_layering import ALLOWED, CORE, PKG

PACKAGES = sorted((CORE - {"errors"}) | (set(ALLOWED) - {"__main__"}))


@pytest.mark.parametrize("name", PACKAGES)
def test_the_package_says_what_it_is_for_and_lists_its_names(name):
    pkg = importlib.import_module(f"linewatch.{name}")
    assert pkg.__doc__ and len(pkg.__doc__.strip()) > 40, f"linewatch.{name} needs a docstring"
    assert isinstance(pkg.__all__, list | tuple), f"linewatch.{name} has no __all__"
    assert len(set(pkg.__all__)) == len(pkg.__all__), f"linewatch.{name}.__all__ names a name twice"
    missing = [n for n in pkg.__all__ if not hasattr(pkg, n)]
    assert not missing, f"linewatch.{name}.__all__ names what it does not hold: {missing}"


@pytest.mark.parametrize("name", sorted(CORE - {"errors"}))
def test_a_core_package_exports_exactly_its_all(name):
    pkg = importlib.import_module(f"linewatch.{name}")
    public = {k for k, v in vars(pkg).items()
              if not k.startswith("_") and not isinstance(v, types.ModuleType) and k != "annotations"}
    assert public == set(pkg.__all__), (f"linewatch.{name}: in the namespace, not in __all__: "
                                        f"{sorted(public - set(pkg.__all__))}")


def _deep_imports() -> list[str]:
    found = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        here = rel.parts[0] if len(rel.parts) > 1 else None
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
                continue
            parts = node.module.split(".")
            if parts[0] != "linewatch" or len(parts) < 2 or parts[1] not in CORE or parts[1] in (here, "errors"):
                continue
            pkg = importlib.import_module(f"linewatch.{parts[1]}")
            for alias in node.names:
                module = f"linewatch.{parts[1]}.{alias.name}"
                if len(parts) == 2 and (alias.name in pkg.__all__ or _is_module(module)):
                    continue
                found.append(f"{rel}:{node.lineno}: from {node.module} import {alias.name}")
    return found


def _is_module(name: str) -> bool:
    try:
        return isinstance(importlib.import_module(name), types.ModuleType)
    except ImportError:
        return False


def test_other_packages_use_only_a_core_packages_public_names():
    found = _deep_imports()
    assert not found, "import these from the package (and list them in its __all__):\n" + "\n".join(found)
