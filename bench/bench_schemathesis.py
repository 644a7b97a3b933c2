"""schemathesis against every operation of the service's OpenAPI document, at length: at least
``--examples`` generated cases per operation (default 200) for each of three roles (analyst,
monitor, a party), half valid inputs (``positive``) and half inputs the document forbids
(``negative``), counting the answers by class and keeping every server error. The CI test
(tests/test_api_schema.py) is the small, derandomized version of this (15 cases, admin token).

Builds the test store of tests/api_fixtures.py (one agreement, two generated days, three
allegations, a user per role), runs the app in-process (ASGI, as the CI test does) and, for
each role and operation, lets hypothesis generate the cases within a time budget per operation
(``--op-budget`` seconds: negative cases until half of it, positive ones until all of it), so
one slow operation cannot take the run.

    nice .venv/bin/python bench/bench_schemathesis.py                        # SQLite, 200 a role
    nice .venv/bin/python bench/bench_schemathesis.py --store postgresql     # the test server
    nice .venv/bin/python bench/bench_schemathesis.py --examples 50 --roles analyst --seed 3
    nice .venv/bin/python bench/bench_schemathesis.py --examples 20 --only /daily-reports

What is counted:

* a case is one generated request sent to the app; ``cases`` may be under ``--examples`` when
  hypothesis runs out of distinct inputs (an operation without parameters has one valid input
  and no invalid one: it is called once), or when the budget is spent first (marked ``budget``);
  ``negative`` runs first for half the target, ``positive`` for the rest (all of it where no
  invalid input exists, as for a path parameter that takes any string);
* ``5xx`` is a response with a status of 500 or more, or an exception out of the app (which a
  real server answers with 500): each is printed (request, the first lines of the response or
  the traceback) and all are written to ``--out`` (JSON);
* the live feed (``GET /api/v1/events``) never ends by itself: each case is read for
  ``--feed-timeout`` seconds (schemathesis keeps the events complete by then, and marks the
  stream as cut short) and counts by its status like any other; a generated ``until_s`` may end
  it sooner;
* ``POST /api/v1/daily-reports/{day}`` builds a report (seconds each): it runs within a budget
  of its own (``--report-budget``, for each role) and usually gets fewer cases, which the table
  shows (the roles that may not build answer 403 at once and get them all);
* a request with no answer within ``--timeout`` (for the feed: one whose answer has not even
  started within ``--feed-timeout``, which a loaded machine can cause) is counted under ``err``
  and listed in the JSON file under ``timeouts``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

# a PostgreSQL store keeps its audit witness under XDG_STATE_HOME: never the user's own here
os.environ.setdefault("XDG_STATE_HOME", tempfile.mkdtemp(prefix="linewatch-bench-state-"))

import requests  # noqa: E402
import schemathesis  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis.errors import HypothesisException, InvalidArgument, Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from api_fixtures import build_store  # noqa: E402
from linewatch.web import ServiceConfig, create_app  # noqa: E402

PG_URL = os.environ.get("LINEWATCH_TEST_PG", "postgresql://linewatch@127.0.0.1:54329/linewatch")
FEED = ("GET", "/api/v1/events")
REPORT_BUILD = ("POST", "/api/v1/daily-reports/{day}")
ROLES = ("analyst", "monitor", "party:ua")


class BudgetSpent(Exception):
    """Raised inside a hypothesis run to end it when the operation's time budget is spent."""


@dataclass
class OpResult:
    role: str
    method: str
    path: str
    cases: int = 0
    by_mode: dict[str, int] = field(default_factory=dict)
    classes: Counter = field(default_factory=Counter)      # "2xx", "3xx", "4xx", "5xx", "err"
    statuses: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    budget_hit: bool = False
    notes: list[str] = field(default_factory=list)


class _Errors(logging.Handler):
    """ERROR records (with their tracebacks) logged while a case runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        self.records.append(text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def describe(case: schemathesis.Case) -> dict[str, Any]:
    body = getattr(case, "body", None)
    body = None if type(body).__name__ == "NotSet" else _jsonable(body)
    return {"method": case.method, "path": case.formatted_path,
            "path_parameters": _jsonable(case.path_parameters or {}),
            "query": _jsonable(case.query or {}), "headers": _jsonable(case.headers or {}),
            "body": body, "media_type": case.media_type}


def make_store(kind: str, tmp: Path) -> tuple[str, str | None]:
    """A new, empty store's URL; and the PostgreSQL schema to drop afterwards."""
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'store.sqlite'}", None
    import psycopg
    schema = f"bench_st_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema},public", schema


def drop_schema(schema: str) -> None:
    import psycopg
    with psycopg.connect(PG_URL, autocommit=True) as c:
        c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def bind_mode(run_case: Callable[[schemathesis.Case, str], None], mode: str) -> Callable[..., None]:
    """``run_case`` with the generation mode bound (hypothesis takes no function with defaults)."""
    def one(case: schemathesis.Case) -> None:
        run_case(case, mode)
    return one


def run_operation(op: Any, role: str, token: str, args: argparse.Namespace,
                  server_errors: list[dict[str, Any]], timeouts: list[dict[str, Any]],
                  log: _Errors) -> OpResult:
    method, path = op.method.upper(), op.path
    res = OpResult(role, method, path, by_mode={"negative": 0, "positive": 0})
    headers = {"Authorization": f"Bearer {token}"}
    timeout = args.feed_timeout if (method, path) == FEED else args.timeout
    started = time.monotonic()
    budget = args.report_budget if (method, path) == REPORT_BUILD else args.op_budget
    deadline = started + budget / 2        # negative's share; positive gets the rest

    def run_case(case: schemathesis.Case, mode: str) -> None:
        if time.monotonic() >= deadline:
            raise BudgetSpent
        res.by_mode[mode] += 1
        res.cases += 1
        del log.records[:]
        error = {"role": role, "operation": f"{method} {path}", "mode": mode, "request": describe(case)}
        try:
            response = case.call(headers=headers, timeout=timeout)
        except requests.exceptions.Timeout:
            res.classes["err"] += 1
            res.statuses["timeout"] += 1
            timeouts.append({**error, "timeout_s": timeout})
            return
        except Exception as exc:  # an exception out of the app: a real server answers 500
            res.classes["5xx"] += 1
            res.statuses["exception"] += 1
            server_errors.append({**error, "status": None, "exception": repr(exc),
                                  "traceback": "".join(traceback.format_exception(exc)),
                                  "log": list(log.records)})
            return
        status = response.status_code
        res.statuses[status] += 1
        res.classes[f"{status // 100}xx"] += 1
        if status >= 500:
            server_errors.append({**error, "status": status,
                                  "response": response.content[:4000].decode("utf-8", "replace"),
                                  "traceback": "\n".join(log.records) or None})

    # half negative first (invalid inputs are cheap: a slow operation still gets some of them
    # within its budget), then positive for the rest, which is all of it where negative found no
    # invalid input or fewer than asked
    for mode in (GenerationMode.NEGATIVE, GenerationMode.POSITIVE):
        target = args.examples // 2 if mode is GenerationMode.NEGATIVE else args.examples - res.cases
        if mode is GenerationMode.POSITIVE:
            deadline = started + budget
        if target <= 0:
            continue
        if time.monotonic() >= deadline:
            res.budget_hit = True
            continue
        test = given(case=op.as_strategy(generation_mode=mode))(bind_mode(run_case, mode.value))
        test = settings(max_examples=target, deadline=None, database=None, derandomize=False,
                        phases=[Phase.explicit, Phase.generate], report_multiple_bugs=False,
                        suppress_health_check=list(HealthCheck))(test)
        test = seed(args.seed)(test)
        try:
            test()
        except BudgetSpent:
            res.budget_hit = True
        except Unsatisfiable:                # e.g. no invalid input exists for this operation
            if not res.by_mode[mode.value]:
                res.notes.append(f"no {mode.value} input")
        except InvalidArgument:              # a mistake here, not in the service
            raise
        except HypothesisException as exc:
            res.notes.append(f"{mode.value}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
        except Exception as exc:             # schemathesis could not generate (unsatisfiable schema...)
            res.notes.append(f"{mode.value}: {type(exc).__name__}: {str(exc)[:120]}")
    res.seconds = time.monotonic() - started
    return res


def print_error(e: dict[str, Any]) -> None:
    r = e["request"]
    body = "" if r["body"] is None else json.dumps(r["body"])[:300]
    print(f"\n--- 5xx: {e['role']} {e['operation']} ({e['mode']}) -> {e['status'] or e['exception']}")
    print(f"    {r['method']} {r['path']} query={json.dumps(r['query'])[:300]} "
          f"headers={json.dumps(r['headers'])[:200]}")
    if body:
        print(f"    body ({r['media_type']}): {body}")
    text = e.get("response") or e.get("traceback") or ""
    for line in text.strip().splitlines()[-12:] if e["status"] is None else text.strip().splitlines()[:12]:
        print(f"    | {line[:200]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--examples", type=int, default=200, help="cases per operation and role")
    ap.add_argument("--seed", type=int, default=0, help="hypothesis seed (the same seed, the same cases)")
    ap.add_argument("--roles", default=",".join(ROLES), help="comma-separated roles of tests/api_fixtures.py")
    ap.add_argument("--op-budget", type=float, default=60.0,
                    help="seconds per operation and role, both generation modes together")
    ap.add_argument("--report-budget", type=float, default=120.0,
                    help="seconds per role for POST /api/v1/daily-reports/{day} (a build takes seconds)")
    ap.add_argument("--timeout", type=float, default=60.0, help="read timeout of a request, seconds")
    ap.add_argument("--feed-timeout", type=float, default=0.25,
                    help="how long each call of the live feed is read, seconds")
    ap.add_argument("--only", default=None, help="only the operations whose path contains this")
    ap.add_argument("--out", type=Path, default=None,
                    help="the JSON file of the 5xx cases (default: /tmp/linewatch-schemathesis-5xx-STORE.json)")
    args = ap.parse_args()
    out = args.out or Path(tempfile.gettempdir()) / f"linewatch-schemathesis-5xx-{args.store}.json"
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]

    log = _Errors()
    logging.getLogger().addHandler(log)
    results: list[OpResult] = []
    server_errors: list[dict[str, Any]] = []
    timeouts: list[dict[str, Any]] = []
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="linewatch-bench-st-") as tmp:
        url, schema_name = make_store(args.store, Path(tmp))
        try:
            db, tokens = build_store(Path(tmp), url, report=False)
            app = create_app(ServiceConfig(str(db), poll_s=0.05))
            schema = schemathesis.openapi.from_asgi("/openapi.json", app)
            ops = [r.ok() for r in schema.get_all_operations()]
            if args.only:
                ops = [op for op in ops if args.only in op.path]
            print(f"store {args.store}, {len(ops)} operations, roles {', '.join(roles)}, "
                  f"{args.examples} cases each, seed {args.seed}, budget {args.op_budget:g} s an operation",
                  flush=True)
            for role in roles:
                for op in ops:
                    res = run_operation(op, role, tokens[role], args, server_errors, timeouts, log)
                    results.append(res)
                    print(f"{role:9} {res.method:6} {res.path:42} {res.cases:5} cases "
                          f"(neg {res.by_mode.get('negative', 0)}, pos {res.by_mode.get('positive', 0)}) "
                          f"{res.seconds:6.1f} s  {dict(sorted((str(k), v) for k, v in res.statuses.items()))}"
                          f"{'  BUDGET' if res.budget_hit else ''}"
                          f"{'  ' + '; '.join(res.notes) if res.notes else ''}", flush=True)
        finally:
            if schema_name:
                drop_schema(schema_name)
    elapsed = time.monotonic() - t0

    print(f"\n{'role':9} {'operation':50} {'cases':>6} {'pos':>5} {'neg':>5} {'2xx':>5} {'3xx':>4} "
          f"{'4xx':>5} {'5xx':>4} {'err':>4} {'s':>6}")
    totals: Counter = Counter()
    per_role: dict[str, Counter] = {}
    for r in results:
        print(f"{r.role:9} {r.method + ' ' + r.path:50} {r.cases:6} {r.by_mode.get('positive', 0):5} "
              f"{r.by_mode.get('negative', 0):5} {r.classes['2xx']:5} {r.classes['3xx']:4} "
              f"{r.classes['4xx']:5} {r.classes['5xx']:4} {r.classes['err']:4} {r.seconds:6.1f}"
              f"{' budget' if r.budget_hit else ''}")
        c = Counter({"cases": r.cases, **r.classes})
        totals.update(c)
        per_role.setdefault(r.role, Counter()).update(c)
    print()
    for role, c in per_role.items():
        n_ops = sum(1 for r in results if r.role == role)
        under = [f"{r.method} {r.path} ({r.cases}{', budget' if r.budget_hit else ''})"
                 for r in results if r.role == role and r.cases < args.examples]
        print(f"{role:9} {n_ops} operations, {c['cases']} cases: 2xx {c['2xx']}, 3xx {c['3xx']}, "
              f"4xx {c['4xx']}, 5xx {c['5xx']}, err {c['err']}")
        if under:
            print(f"          under {args.examples} cases: {'; '.join(under)}")
    print(f"total     {totals['cases']} cases: 2xx {totals['2xx']}, 3xx {totals['3xx']}, 4xx {totals['4xx']}, "
          f"5xx {totals['5xx']}, err {totals['err']}; {elapsed:.0f} s")

    for e in server_errors:
        print_error(e)
    out.write_text(json.dumps({"store": args.store, "examples": args.examples, "seed": args.seed,
                               "roles": roles, "cases": totals["cases"], "server_errors": server_errors,
                               "timeouts": timeouts},
                              indent=1, default=repr), encoding="utf-8")
    print(f"\n{len(server_errors)} server errors written to {out}")


if __name__ == "__main__":
    main()
