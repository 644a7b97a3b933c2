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
                      (errors.NotFound, 6), (errors.Conflict, 9), (errors.OutOfDate, 11)):
        assert cls.exit_code == code and f"| {code} |" in DOC


def test_every_exit_code_of_the_module_docstring_is_in_the_table():
    """cli/main.py's docstring and docs/cli.md's table list the same codes, ingest's 7 and 12 too."""
    import re

    from linewatch.cli import main
    listed = {int(n) for n in re.findall(r"(?:[;:] |\n)(\d+)\s", main.__doc__ or "")}
    assert set(range(13)) == listed, listed
    for code in listed:
        assert f"| {code} |" in DOC, code
    assert main.EXIT_QUARANTINED == 7 and main.EXIT_NOTHING_STORED == 12
