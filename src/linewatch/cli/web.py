"""``linewatch serve`` (the web service under uvicorn) and ``linewatch user`` (API tokens).

``linewatch.cli.main`` registers :func:`serve` and :data:`user_app`. Errors are
:class:`~linewatch.errors.LinewatchError` (the CLI's exit codes) or typer usage errors (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from linewatch.cli.options import DEFAULT_DB, DbOpt, cells, optional_input, say

__all__ = ["serve", "user_app"]

out = Console(soft_wrap=True)
err = Console(stderr=True)

user_app = typer.Typer(rich_markup_mode=None, help="API users and their tokens (roles: admin, analyst, monitor, "
                       "party:<id>, public).", no_args_is_help=True)


def serve(
    db: DbOpt = DEFAULT_DB,
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    network: Annotated[Path | None, typer.Option(
        "--network", help="Sensor-network file for coverage (default: the one the store used last).")] = None,
    sign_with: Annotated[Path | None, typer.Option(
        "--sign-with", help="Ed25519 private key that signs the daily reports the service builds.")] = None,
    workers: Annotated[int, typer.Option(help="Threads that serve requests (one writer at a time).")] = 40,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "warning",
) -> None:
    """Serve the API (/api/v1, OpenAPI at /docs) and the map dashboard (/) over the store."""
    import anyio
    import uvicorn

    from linewatch.web.app import ServiceConfig, create_app
    optional_input(network, "--network")
    optional_input(sign_with, "--sign-with")
    app = create_app(ServiceConfig(db, network=network, key=sign_with))
    users = app.state.linewatch.store().users()
    say(err, f"linewatch serving {db} on http://{host}:{port}/ (API: http://{host}:{port}/docs)")
    if not any(u.revoked_at is None for u in users):
        err.print("[yellow]no users yet:[/] " + escape(f"create one with `linewatch user add NAME --role "
                                                      f"analyst --db {db}` and log in with its token"))

    def limit_threads() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = workers
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                            timeout_graceful_shutdown=2, access_log=log_level in ("info", "debug"))
    server = uvicorn.Server(config)
    original = server.startup

    async def startup(sockets=None):
        limit_threads()
        await original(sockets=sockets)
    server.startup = startup  # type: ignore[method-assign]
    server.run()


@user_app.command("add")
def user_add(name: Annotated[str, typer.Argument(help="A name without spaces, never used before.")],
             role: Annotated[str, typer.Option("--role", "-r", help="admin, analyst, monitor, public "
                                               "or party:<id> (a party of the stored agreement).")],
             db: DbOpt = DEFAULT_DB,
             as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Create a user and print its token, once (the store keeps only its SHA-256)."""
    from linewatch.services.accounts import add_user
    from linewatch.store import open_store
    with open_store(db) as store:
        user, token = add_user(store, name, role)
    if as_json:
        out.print_json(json.dumps({"name": user.name, "role": user.role, "token": token}))
    else:
        say(err, f"user {user.name} ({user.role}) created; its token, shown this once:")
        say(out, token)


@user_app.command("list")
def user_list(db: DbOpt = DEFAULT_DB) -> None:
    """The users, their roles, and whether their token is revoked."""
    from linewatch.store import open_store
    with open_store(db) as store:
        users = store.users()
    table = Table("name", "role", "created", "revoked")
    for u in users:
        table.add_row(*cells(u.name, u.role, u.created_at[:19], (u.revoked_at or "")[:19]))
    out.print(table)


@user_app.command("remove")
def user_remove(name: Annotated[str, typer.Argument(help="The user.")], db: DbOpt = DEFAULT_DB) -> None:
    """Revoke a user's token and end its sessions, at once (the name stays in the store, taken for
    good, so that its history stays tied to it)."""
    from linewatch.store import open_store
    with open_store(db) as store:
        store.revoke_user(name)
    say(err, f"user {name}: token revoked, sessions ended; the name stays taken")
