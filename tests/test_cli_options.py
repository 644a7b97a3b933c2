"""Options shared by the command groups are defined once and read the same everywhere."""

from __future__ import annotations

import typer.main

from linewatch.cli.main import app
from linewatch.cli.options import DbOpt


def _commands(group, path: str = "linewatch"):
    if hasattr(group, "commands"):
        for name, sub in group.commands.items():
            yield from _commands(sub, f"{path} {name}")
    else:
        yield path, group


def test_every_db_option_is_the_one_shared_option():
    shared = DbOpt.__metadata__[0]
    seen = []
    for path, command in _commands(typer.main.get_command(app)):
        for param in command.params:
            if "--db" in getattr(param, "opts", ()):
                seen.append(path)
                assert param.opts == ["--db"] and param.envvar == "LINEWATCH_DB", path
                assert param.help == shared.help and "postgresql://" in param.help, path
                assert param.default == "linewatch.sqlite", path
    assert len(seen) >= 20, seen
