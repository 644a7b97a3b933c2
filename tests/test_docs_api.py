"""Every REST route of the web service and each of its query and path parameters is documented
in docs/api.md: the route has its row in the "Endpoints" table, and each parameter is named (as
code) in that row. The routes come from the app, their parameters from its OpenAPI document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api_fixtures import api_routes
from linewatch.web import create_app

API = "/api/v1"
DOC = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
ROW = re.compile(r"^\| `(?P<method>[A-Z]+) (?P<path>/[^`]*)` \|(?P<rest>.*)$", re.M)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(f"sqlite:///{tmp_path_factory.mktemp('docs') / 'empty.sqlite'}")


def documented_rows() -> dict[tuple[str, str], str]:
    """(method, path) -> the rest of its row, for each row of the form | `METHOD /path` | ... |."""
    return {(m["method"], m["path"]): m["rest"] for m in ROW.finditer(DOC)}


def route_parameters(app) -> dict[tuple[str, str], list[str]]:
    """(method, path under /api/v1) -> the names of its query and path parameters, as the API
    spells them (aliases: ``format``)."""
    out: dict[tuple[str, str], list[str]] = {}
    for path, ops in app.openapi()["paths"].items():
        for method, op in ops.items():
            out[(method.upper(), path[len(API):])] = [p["name"] for p in op.get("parameters", [])
                                                       if p["in"] in ("query", "path")]
    return out


def test_every_route_is_in_the_openapi_document(app):
    """So that the parameters below are every route's (a route hidden from the document would
    have to be documented by hand)."""
    routes = {(m, p[len(API):]) for m, p in api_routes(app) if p.startswith(API)}
    assert routes == set(route_parameters(app))
    assert len(routes) >= 30


def test_every_route_and_parameter_is_documented(app):
    rows = documented_rows()
    missing = []
    for (method, path), params in sorted(route_parameters(app).items(), key=lambda kv: kv[0][::-1]):
        row = rows.get((method, path))
        if row is None:
            missing.append(f"route {method} {path}")
            continue
        missing += [f"parameter {name!r} of {method} {path}" for name in params if f"`{name}`" not in row]
    assert not missing, "undocumented in docs/api.md (Endpoints): " + ", ".join(missing)


def test_the_documented_routes_exist(app):
    """No row for a route the service does not have (a renamed path or parameter)."""
    stale = set(documented_rows()) - set(route_parameters(app))
    assert not stale, f"docs/api.md documents routes the service does not have: {sorted(stale)}"

