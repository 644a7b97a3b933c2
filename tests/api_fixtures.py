"""A small store for the web-service tests: one agreement, two days of generated records,
a handful of allegations, verified, with one daily report built and released (its records
approved by the admin, the report released by the analyst). The store is
the one at the URL the test gives (conftest's ``new_store_url``: SQLite, then PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute

from linewatch.services import ingest_file, load_agreement_file, verify_allegations, verify_store
from linewatch.services.accounts import new_token, token_sha256
from linewatch.sim import generate_day
from linewatch.store import open_store

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
DAY = date(2026, 6, 15)
ROLES = ("admin", "analyst", "monitor", "party:ua", "party:ru", "public")


def allegation(i: int, by: str, against: str, hour: int, lon: float, lat: float) -> dict:
    return {"id": f"claim-{by}-{i}", "alleging_party": by, "accused_party": against,
            "kind": "shelling", "start": f"{DAY.isoformat()}T{hour:02d}:00:00Z",
            "end": f"{DAY.isoformat()}T{hour:02d}:30:00Z", "lon": lon, "lat": lat,
            "radius_m": 2000.0, "source_kind": "statement", "source_reference": f"statement {i}",
            "received_time": f"{DAY.isoformat()}T12:00:00Z"}


def build_store(tmp: Path, url: str, *, report: bool = True) -> tuple[str, dict[str, str]]:
    """The store at ``url`` (new and empty), with its input files under ``tmp``; and a token
    for each role (user names: the role with ':' as '-')."""
    loaded = load_agreement_file(AGREEMENT)
    records = []
    for d in (date(2026, 6, 14), DAY):
        records += generate_day(loaded.agreement, d, seed=7, intensity=0.4)
    path = tmp / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    claims = [allegation(1, "ua", "ru", 3, 37.9, 48.5), allegation(2, "ru", "ua", 5, 37.6, 48.2),
              allegation(3, "ua", "ru", 9, 38.1, 48.9)]
    apath = tmp / "allegations.jsonl"
    apath.write_text("".join(json.dumps(c) + "\n" for c in claims), encoding="utf-8")
    tokens = {}
    with open_store(url) as store:
        ingest_file(store, path)
        verify_store(store, loaded, start=datetime(2026, 6, 14, tzinfo=UTC),
                     end=datetime(2026, 6, 16, tzinfo=UTC))
        ingest_file(store, apath)
        verify_allegations(store, loaded, start=datetime(2026, 6, 15, tzinfo=UTC),   # the report reads
                           end=datetime(2026, 6, 16, tzinfo=UTC))                    # these verdicts
        for role in ROLES:
            token = new_token()
            store.add_user(role.replace(":", "-"), role, token_sha256(token))
            tokens[role] = token
        if report:      # the report counts approved records; its releaser approved none of them
            from linewatch.services.review import move_many
            from linewatch.services.submissions import build_daily_report, release_daily_report
            move_many(store, "record", [r["id"] for r in records], "approved", actor="admin", strict=True)
            build_daily_report(store, loaded, DAY, built_by="analyst")
            release_daily_report(store, DAY, released_by="analyst")
    return url, tokens


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route of the app. FastAPI 0.137+ keeps an included router as one
    node of ``app.routes``; ``iter_route_contexts`` expands them (earlier versions copy the routes in)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI < 0.137.2: app.routes is flat
        return {(m, r.path) for r in app.routes if isinstance(r, APIRoute) for m in r.methods}
    return {(m, c.path) for c in iter_route_contexts(app.routes)
            if isinstance(c.original_route, APIRoute) for m in (c.methods or ())}
