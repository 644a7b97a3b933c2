"""The functional core never imports the shell, reads the clock or environment, or prints."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "linewatch"
CORE = ["errors", "model", "geo", "schema", "agreement", "rules", "verify", "places", "reporting",
        "scenario", "detections", "estimation", "association", "pairing", "fusion", "simulate",
        "fusion_metrics", "allegations", "allegation_sim", "merkle", "coverage", "terrain", "plan_check",
        "planning", "latency", "reprocess"]
SHELL_MODULES = {"linewatch.formats", "linewatch.store", "linewatch.render", "linewatch.resources",
                 "linewatch.cli", "linewatch.service", "linewatch.demo", "linewatch.audit",
                 "linewatch.cli_audit", "linewatch.cli_coverage", "linewatch.cli_web",
                 "linewatch.web", "linewatch.submissions", "linewatch.cli_plan",
                 "linewatch.streaming", "linewatch.cli_stream", "linewatch.distributed",
                 "linewatch.cli_reprocess"}
SHELL_LIBRARIES = {"sqlite3", "typer", "rich", "matplotlib", "jinja2", "weasyprint", "os", "time",
                   "subprocess", "socket", "logging", "pathlib", "random", "uvicorn", "fastapi",
                   "starlette", "threading"}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "perf_counter", "monotonic"}
IO_NAMES = {"print", "open", "input"}


def _imports(tree: ast.AST) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
    return out


@pytest.mark.parametrize("name", CORE)
def test_core_module_stays_pure(name):
    path = PKG / f"{name}.py"
    if not path.exists():
        pytest.skip(f"{name}.py not written yet")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for mod in _imports(tree):
        assert not any(mod == s or mod.startswith(s + ".") for s in SHELL_MODULES), \
            f"{name}.py imports the shell module {mod}"
        assert mod.split(".")[0] not in SHELL_LIBRARIES, f"{name}.py imports {mod}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                assert f.id not in IO_NAMES, f"{name}.py:{node.lineno} calls {f.id}()"
            if isinstance(f, ast.Attribute):
                assert f.attr not in CLOCK_CALLS, f"{name}.py:{node.lineno} reads the clock ({f.attr})"
        if isinstance(node, ast.Attribute):
            assert node.attr not in {"environ", "getenv"}, f"{name}.py:{node.lineno} reads the environment"


def test_every_module_is_classified():
    modules = {p.stem for p in PKG.glob("*.py")} - {"__init__", "__main__"}
    shell = {m.split(".")[1] for m in SHELL_MODULES}
    assert modules <= set(CORE) | shell, f"unclassified modules: {modules - set(CORE) - shell}"
