"""The review queue's API calls with 100,000 records in the store, on either store.

Builds a fresh store (a SQLite file, or a schema of its own on the PostgreSQL server given, dropped
afterwards) and fills it fast: ``Report`` objects written with ``store.add_records`` in chunks of
5,000, one ingest batch per chunk in the name of one of ten monitors (half the records are
monitors' reports, entering as ``submitted``; the other half sensors', ``detected``), then 5 % of
the reports returned and 20 % approved with ``store.move_review``, 1,000 corrected (a second
version), and everything appended to the audit log. Then it times each call type ``--calls``
times through FastAPI's TestClient (in process, no network) and prints p50 and p99 in ms:

    .venv/bin/python bench/bench_review_queue.py
    .venv/bin/python bench/bench_review_queue.py --store postgresql://linewatch@127.0.0.1:54329/linewatch
    .venv/bin/python bench/bench_review_queue.py --explain      # and the query plans of the queue

On PostgreSQL the tables are analysed after the load (as autovacuum would be within a minute);
``--without INDEX ...`` drops indexes after the load, to measure what one is worth.

The call types: the first page of ``state=submitted`` (limit 100), a page from a cursor half-way
through it, a free-text search, a kind, a monitor's returned reports, a record's versions, and an
approval (each of a different version, by an analyst who did not author it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from linewatch.model import Kind, Location, Provenance, Report, SourceKind
from linewatch.services.accounts import new_token, token_sha256
from linewatch.services.audit import AuditLog
from linewatch.store import Store, open_store
from linewatch.web import ServiceConfig, create_app
from linewatch.web.query import encode_cursor

API = "/api/v1"
CHUNK = 5000
KINDS = [Kind.EXPLOSION, Kind.BURSTS_AND_SHOTS, Kind.MUZZLE_FLASH, Kind.WEAPON_SIGHTING,
         Kind.ILLUMINATION_FLARE, Kind.PROJECTILE_IN_FLIGHT]
WORDS = ["impact", "crater", "north", "south", "village", "road", "bridge", "tree line", "farm", "school"]
MONITORS = [f"mon-{i}" for i in range(10)]
T0 = datetime(2026, 5, 1, tzinfo=UTC)


@contextlib.contextmanager
def fresh_store(url: str | None) -> Iterator[str]:
    """The URL of a new, empty store: a SQLite file, or a schema of its own on the server."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
            yield f"sqlite:///{tmp}/review.sqlite"
        return
    import psycopg
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema},public"
    finally:
        with psycopg.connect(url, autocommit=True) as c:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')


def report(i: int, rng: random.Random, *, human: bool, supersedes: str | None = None) -> Report:
    """One record: a monitor's report (``human``) or a sensor's, over 30 days."""
    source = rng.choice([SourceKind.OBSERVATION_POST, SourceKind.PATROL]) if human else \
        rng.choice([SourceKind.ACOUSTIC_SENSOR, SourceKind.SENSOR_FUSION])
    text = f"{rng.choice(WORDS)} {rng.choice(WORDS)} near sector {rng.randrange(40)}"
    return Report(id=f"rq-{i:07d}" + ("-v2" if supersedes else ""), kind=rng.choice(KINDS),
                  time=T0 + timedelta(seconds=i * 26 + rng.randrange(20)),
                  location=Location.point(37.0 + rng.random() * 2, 47.5 + rng.random() * 1.5, 500.0),
                  provenance=Provenance(source, f"{source.value[:2].upper()}-{rng.randrange(60):03d}"),
                  description=text + (" (corrected)" if supersedes else ""),
                  extra=(("n_sensors", str(rng.randrange(2, 9))),) if source is SourceKind.SENSOR_FUSION else (),
                  supersedes=supersedes, correction="bench correction" if supersedes else None)


def fill(store: Store, n: int, seed: int = 16) -> dict[str, list[str]]:
    """``n`` records (and 1,000 corrections) in chunks; the ids by what became of them."""
    rng = random.Random(seed)
    human: list[tuple[str, str]] = []
    for k in range(0, n, CHUNK):
        who = MONITORS[(k // CHUNK) % len(MONITORS)]
        reports = [report(i, rng, human=i % 2 == 0) for i in range(k, min(n, k + CHUNK))]
        with store.transaction():
            batch = store.begin_batch(f"bench-{k}", f"{k:064x}", "api", submitted_by=who)
            store.add_records(reports, batch_id=batch, file_sha256=None)
            store.finish_batch(batch)
        human += [(r.id, who) for r in reports if r.provenance.source_kind in
                  (SourceKind.OBSERVATION_POST, SourceKind.PATROL)]
    rng.shuffle(human)
    returned, approved = human[:len(human) // 10], human[len(human) // 10:len(human) // 10 + len(human) * 2 // 5]
    at = datetime.now(UTC).isoformat()
    with store.transaction() as c:
        for rid, _ in returned:
            store.move_review(c, "record", rid, was="submitted", to="returned", actor="ana",
                              note="which direction?", at=at)
        for rid, _ in approved:
            store.move_review(c, "record", rid, was="submitted", to="approved", actor="ana", note=None, at=at)
    corrected = [rid for rid, _ in returned[:1000]]
    with store.transaction():
        batch = store.begin_batch("bench-corrections", "f" * 64, "api", submitted_by=MONITORS[0])
        store.add_records([report(int(rid[3:]), rng, human=True, supersedes=rid) for rid in corrected],
                          batch_id=batch, file_sha256=None)
        store.finish_batch(batch)
    left = {rid for rid, _ in returned} | {rid for rid, _ in approved}
    pending = [rid for rid, _ in human if rid not in left]
    return {"returned": [r for r, _ in returned[1000:]], "corrected": corrected, "pending": pending}


def timed(label: str, client: TestClient,
          calls: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]]) -> tuple[str, float, float]:
    """Each call in turn; the p50 and p99 of their times, printed."""
    ms = []
    for method, url, body, headers in calls:
        t = time.perf_counter()
        r = client.request(method, url, json=body, headers=headers)
        ms.append((time.perf_counter() - t) * 1000)
        assert r.status_code < 300, f"{label}: {r.status_code} {r.text[:300]}"
    p50, p99 = np.percentile(ms, [50, 99])
    print(f"  {label:44s} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   (n={len(ms)})", flush=True)
    return label, float(p50), float(p99)


def explain(store: Store) -> None:
    """The plans of the queue's first page and its free-text search (the store's own EXPLAIN)."""
    import linewatch.store.review_tables as rt
    captured: list[tuple[str, list[Any]]] = []
    real = store.conn.execute

    class Spy:
        def __getattr__(self, name: str) -> Any:
            return getattr(store.conn, name)

        def execute(self, sql: str, args: Any = ()) -> Any:
            captured.append((sql, list(args)))
            return real(sql, args)
    conn, store.conn = store.conn, Spy()
    try:
        rt.ReviewTables.review_queue(store, states=["submitted"], limit=100)
        rt.ReviewTables.review_queue(store, states=["submitted"], text="bridge", limit=100)
        rt.ReviewTables.review_queue(store, states=["returned"], author=MONITORS[3], limit=100)
    finally:
        store.conn = conn
    prefix = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN ANALYZE "
    for sql, args in captured:
        print("--", sql[:160], "...")
        for row in store.conn.execute(prefix + sql, args).fetchall():
            print("   ", " | ".join(str(v) for v in row))


def run(url: str, n: int, calls: int, show_plans: bool, without: list[str]) -> list[tuple[str, float, float]]:
    tokens = {}
    t = time.perf_counter()
    with open_store(url) as store:
        for name, role in [("ana", "analyst"), ("bo", "analyst"), *((m, "monitor") for m in MONITORS)]:
            tokens[name] = new_token()
            store.add_user(name, role, token_sha256(tokens[name]))
        ids = fill(store, n)
        filled = time.perf_counter() - t
        AuditLog(store).log_new_records()
        for index in without:                # to measure what an index is worth
            store.conn.execute(f"DROP INDEX {index}")
        if store.dialect == "postgresql":    # what autovacuum does within a minute of such a load
            store.conn.execute("ANALYZE")
        print(f"  stored {n:,} records + 1,000 corrections in {filled:.1f} s, logged them in "
              f"{time.perf_counter() - t - filled:.1f} s", flush=True)
        if show_plans:
            explain(store)
    rng = random.Random(1)
    bo = {"Authorization": f"Bearer {tokens['bo']}"}
    mon = {"Authorization": f"Bearer {tokens[MONITORS[3]]}"}
    with TestClient(create_app(ServiceConfig(url))) as client:
        half = len(ids["pending"]) // 2     # a cursor half-way through the submitted versions
        deep = sorted(ids["pending"])[half]
        row = client.get(f"{API}/reports/{deep}", headers=bo).json()["record"]
        cursor = encode_cursor([datetime.fromisoformat(row["time"]).timestamp(), deep])
        words = WORDS + [f"sector {k}" for k in range(40)]
        q = f"{API}/review?state=submitted"
        plan: list[tuple[str, list[tuple[str, str, dict[str, Any] | None, dict[str, str]]]]] = [
            ("GET /review?state=submitted&limit=100", [("GET", f"{q}&limit=100", None, bo)] * calls),
            ("  ... a page half-way (cursor)", [("GET", f"{q}&limit=100&cursor={cursor}", None, bo)] * calls),
            ("GET /review?state=submitted&q=<text>",
             [("GET", f"{q}&q={rng.choice(words)}", None, bo) for _ in range(calls)]),
            ("GET /review?state=submitted&kind=<kind>",
             [("GET", f"{q}&kind={rng.choice(KINDS).value}", None, bo) for _ in range(calls)]),
            ("GET /review?state=returned (a monitor)", [("GET", f"{API}/review?state=returned", None, mon)] * calls),
            ("GET /review?state=in_review (none in it)", [("GET", f"{API}/review?state=in_review", None, bo)] * calls),
            ("GET /reports/{id}/versions", [("GET", f"{API}/reports/{rng.choice(ids['corrected'] + ids['pending'])}"
                                             "/versions", None, bo) for _ in range(calls)]),
            ("POST /review/record/{id} approve", [("POST", f"{API}/review/record/{r}", {"to": "approved"}, bo)
                                                  for r in rng.sample(ids["pending"], calls)]),
        ]
        results = [timed(label, client, calls_) for label, calls_ in plan]
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default="sqlite", help="sqlite (a new file), or a postgresql:// URL "
                    "(a new schema on that server, dropped afterwards)")
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--explain", action="store_true", help="print the queue's query plans")
    ap.add_argument("--without", nargs="*", default=[], metavar="INDEX",
                    help="drop these indexes after filling (e.g. records_data_trgm: what it is worth)")
    args = ap.parse_args()
    kind = "sqlite" if args.store == "sqlite" else "postgresql"
    print(f"review queue, {kind}, {args.records:,} records, {args.calls} calls each; "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}", flush=True)
    with fresh_store(None if kind == "sqlite" else args.store) as url:
        run(url, args.records, args.calls, args.explain, args.without)


if __name__ == "__main__":
    main()
