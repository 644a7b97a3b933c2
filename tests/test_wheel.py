"""A wheel built from the checkout works on its own: ``linewatch demo`` in an empty directory
outside the checkout, from a fresh virtual environment that holds the wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_wheel_runs_the_demo_outside_the_checkout(tmp_path):
    # built from a copy of what the checkout ships, so that the build leaves nothing in it
    source = tmp_path / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(dist), str(source)], check=True, capture_output=True, cwd=tmp_path)
    wheel = next(dist.glob("linewatch-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                    str(wheel)], check=True, capture_output=True)
    # The dependencies come from the test environment (a path, whose .pth files, such as the
    # checkout's editable install, are not read): linewatch itself is the wheel's.
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "zz-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run([str(python), "-c", "import linewatch; print(linewatch.__file__)"], cwd=work,
                           env=env, check=True, capture_output=True, text=True).stdout
    assert where.startswith(str(venv)), where
    run = subprocess.run([str(venv / "bin" / "linewatch"), "demo", "--out", "out"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (work / "out" / "report" / "report-2026-06-15.json").is_file()
    assert (work / "out" / "report" / "report-2026-06-15.pdf").is_file()
    assert "audit log:" in run.stdout and "verified" in run.stdout
