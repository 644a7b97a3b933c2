"""The package map holds: the core imports no shell, the shell's packages keep their direction.

The check works by folder. Every module under ``src/linewatch`` belongs to exactly one package
(a folder, or one of the few root modules), and every import it makes — absolute, relative,
``from linewatch import x``, ``importlib.import_module("...")`` and ``__import__("...")`` — is
resolved to the package it reaches. A core package may reach only core packages; a shell package
only the packages its row of ``ALLOWED`` names. A package that is missing, or a module in no
package, fails the test, so moving files cannot silently switch the check off.
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "linewatch"

#: The functional core: pure functions over values. They may import each other (and errors).
CORE = {"errors", "model", "geo", "agreement", "verification", "fusion", "coverage", "planning",
        "reporting", "audit", "sim", "review"}
#: The imperative shell, and what each shell package may import besides the core.
ALLOWED: dict[str, set[str]] = {
    "formats": set(),
    "store": {"formats"},
    "render": {"formats"},
    "services": {"formats", "store", "render"},
    "web": {"services", "formats", "store", "render"},
    "cli": {"services", "formats", "store", "render", "web"},
    "__main__": {"cli"},
}
#: The package root re-exports the core's main names, nothing of the shell.
ROOT_MODULES = {"__init__": "linewatch", "errors": "errors", "__main__": "__main__"}

SHELL_LIBRARIES = {"sqlite3", "typer", "rich", "matplotlib", "jinja2", "weasyprint", "os", "time",
                   "subprocess", "socket", "logging", "pathlib", "random", "uvicorn", "fastapi",
                   "starlette", "threading", "psycopg", "dask", "distributed", "sys", "io", "builtins",
                   "shutil", "tempfile", "signal", "multiprocessing", "asyncio", "urllib", "http",
                   "requests", "httpx", "importlib"}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "perf_counter", "monotonic", "time_ns"}
IO_NAMES = {"print", "open", "input", "breakpoint", "exec", "eval"}
IO_ATTRIBUTES = {"environ", "getenv", "stdout", "stderr", "stdin", "read_text", "write_text",
                 "read_bytes", "write_bytes"}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def package_of(root: Path, path: Path) -> str | None:
    """The package a module file belongs to: its first folder under the root, or a root module."""
    rel = path.relative_to(root)
    if len(rel.parts) == 1:
        return ROOT_MODULES.get(rel.stem)
    return rel.parts[0] if rel.parts[0] in CORE | set(ALLOWED) else None


def _module_name(root: Path, path: Path) -> list[str]:
    rel = path.relative_to(root).with_suffix("")
    parts = ["linewatch", *rel.parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def _absolute(root: Path, path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    here = _module_name(root, path)
    is_package = path.name == "__init__.py"
    base = here if is_package else here[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join([*base, *([node.module] if node.module else [])])


def imported_modules(root: Path, path: Path, tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an AST imports, as absolute dotted names with the line of the import."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = _absolute(root, path, node)
            out.append((node.lineno, mod))
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names if a.name != "*"]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in {"import_module", "__import__"}:
                out.append((node.lineno, node.args[0].value))
    return out


def _target_package(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "linewatch" or len(parts) == 1:
        return None
    return parts[1] if parts[1] in CORE | set(ALLOWED) else None


def _purity(rel: str, tree: ast.AST) -> list[Violation]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in IO_NAMES:
                out.append(Violation(rel, node.lineno, f"calls {f.id}()"))
            if isinstance(f, ast.Attribute) and f.attr in CLOCK_CALLS:
                out.append(Violation(rel, node.lineno, f"reads the clock ({f.attr})"))
            if isinstance(f, ast.Attribute) and f.attr == "open":
                out.append(Violation(rel, node.lineno, "opens a file (.open)"))
        if isinstance(node, ast.Attribute) and node.attr in IO_ATTRIBUTES:
            out.append(Violation(rel, node.lineno, f"touches the outside world (.{node.attr})"))
    return out


def check_tree(root: Path) -> list[Violation]:
    """All layering violations of the package tree at ``root`` (a copy of ``src/linewatch``)."""
    found: list[Violation] = []
    for path in sorted(root.rglob("*.py")):
        rel = str(path.relative_to(root))
        pkg = package_of(root, path)
        if pkg is None:
            found.append(Violation(rel, 0, "belongs to no package of the map"))
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        core = pkg in CORE or pkg == "linewatch"
        allowed = CORE | {pkg} | (set() if core else ALLOWED.get(pkg, set()))
        for line, mod in imported_modules(root, path, tree):
            target = _target_package(mod)
            if target is not None and target not in allowed:
                found.append(Violation(rel, line, f"{pkg} imports {mod} ({target})"))
            if core and mod.split(".")[0] in SHELL_LIBRARIES:
                found.append(Violation(rel, line, f"core module imports {mod}"))
        if core and pkg != "linewatch":
            found += _purity(rel, tree)
    return found


def test_every_package_of_the_map_exists():
    for name in CORE | set(ALLOWED) - {"__main__"}:
        path = PKG / name
        assert (path / "__init__.py").is_file() or (PKG / f"{name}.py").is_file(), f"missing package {name}"


def test_the_tree_keeps_its_layers():
    found = check_tree(PKG)
    assert not found, "\n".join(map(str, found))


PLANTED = [
    ("fusion/engine.py", "from linewatch import services\n", "services"),
    ("fusion/engine.py", "from linewatch.services import ingest\n", "services"),
    ("geo/places.py", "from ..store import open_store\n", "store"),
    ("model/records.py", "from .. import cli\n", "cli"),
    ("agreement/rules.py", "import linewatch.render.maps\n", "render"),
    ("reporting/daily.py", "import importlib\nM = importlib.import_module('linewatch.store')\n", "store"),
    ("verification/records.py", "X = __import__('linewatch.web.app')\n", "web"),
    ("coverage/evaluate.py", "import io\nio.open('x')\n", "io"),
    ("sim/world.py", "import sys\nsys.stdout.write('x')\n", "stdout"),
    ("planning/milp.py", "import datetime\nT = datetime.datetime.now()\n", "clock"),
    ("store/base.py", "from linewatch.services import ingest\n", "services"),
    ("formats/records.py", "from linewatch.store import open_store\n", "store"),
    ("formats/records.py", "from linewatch.cli import main\n", "cli"),
    ("render/maps.py", "from linewatch.web import app\n", "web"),
    ("web/auth.py", "from linewatch.cli import main\n", "cli"),
]


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """A clean copy of the package's modules, in which the tests plant their imports."""
    out = tmp_path_factory.mktemp("tree") / "linewatch"
    shutil.copytree(PKG, out, ignore=shutil.ignore_patterns("__pycache__", "data", "static", "templates"))
    assert not check_tree(out)
    return out


@pytest.mark.parametrize(("module", "code", "word"), PLANTED)
def test_a_planted_forbidden_import_is_caught(copy, module, code, word):
    target = copy / module
    clean = target.read_text(encoding="utf-8")
    try:
        target.write_text(clean + "\n" + code, encoding="utf-8")
        found = check_tree(copy)
    finally:
        target.write_text(clean, encoding="utf-8")
    assert found and all(v.path == module for v in found), found
    assert any(word in v.what for v in found), found


def test_a_module_outside_the_map_is_caught(copy):
    (copy / "stray.py").write_text("X = 1\n", encoding="utf-8")
    (copy / "misc").mkdir()
    (copy / "misc" / "__init__.py").write_text("", encoding="utf-8")
    try:
        found = {v.path for v in check_tree(copy)}
    finally:
        shutil.rmtree(copy / "misc")
        (copy / "stray.py").unlink()
    assert found == {"stray.py", "misc/__init__.py"}


MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def test_no_module_or_function_outgrows_a_readable_size():
    """No module over 500 lines, no function over 80 (from ``def`` to its last line)."""
    found = []
    for path in sorted(PKG.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(PKG)
        if len(text.splitlines()) > MAX_MODULE_LINES:
            found.append(f"{rel}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    found.append(f"{rel}:{node.lineno}: {node.name}() is {n} lines")
    assert not found, "\n".join(found)
