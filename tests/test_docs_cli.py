"""Every CLI command and option is documented in docs/cli.md."""

from __future__ import annotations

from pathlib import Path

import typer.main

from linewatch.cli.main import app

DOC = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")


def _walk(cmd, prefix=""):
    name = f"{prefix} {cmd.name}".strip() if prefix or cmd.name else ""
    yield name, cmd
    for sub in getattr(cmd, "commands", {}).values():
        yield from _walk(sub, name)


def test_every_command_and_option_is_documented():
    root = typer.main.get_command(app)
    missing = []
    for name, cmd in _walk(root):
        if name and f"linewatch {name}".replace("linewatch linewatch", "linewatch") not in DOC \
                and f"`linewatch {name.split(' ', 1)[-1]}" not in DOC:
            missing.append(f"command {name!r}")
        for param in cmd.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-") and f"{opt}" not in DOC:
                    missing.append(f"option {opt} of {name or 'linewatch'}")
    assert not missing, "undocumented in docs/cli.md: " + ", ".join(missing)


def test_exit_codes_match_the_errors():
    from linewatch import errors
    for cls, code in ((errors.AgreementError, 3), (errors.InputError, 4), (errors.StoreError, 5),
                      (errors.NotFound, 6)):
        assert cls.exit_code == code and f"| {code} |" in DOC
