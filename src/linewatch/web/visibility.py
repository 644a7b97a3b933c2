"""What a role may see of the daily reports and the allegations: staff see everything; a party
its own allegations (with their latest verdicts) and the others' that a released daily report
holds, with the verdict as released; the public the released reports (docs/api.md, "Roles")."""

import json
from datetime import datetime
from typing import Any

from linewatch.errors import NotFound
from linewatch.store import Store
from linewatch.web.auth import Principal
from linewatch.web.state import ServiceState

#: an allegation (its stored dict) and the verdict on it the caller may see (None: not judged)
Visible = tuple[dict[str, Any], dict[str, Any] | None]


def report_visible(state: ServiceState, p: Principal, day: str) -> None:
    """Raise NotFound (404) when the caller may not see the day's report: not released yet."""
    if p.can("read_all"):
        return
    if day not in state.released_days():
        raise NotFound("daily report", day)


def released_verdicts(store: Store) -> dict[str, dict[str, Any]]:
    """The verdicts as released in the daily reports, by allegation id (a later release wins)."""
    out: dict[str, dict[str, Any]] = {}
    for r in store.daily_reports(released_only=True):
        report = json.loads(store.daily_report_json(r["day"]))
        for item in (report.get("allegations") or {}).get("items", []):
            out[item["allegation_id"]] = item
    return out


def visible_allegations(store: Store, p: Principal, start: datetime | None,
                        end: datetime | None) -> list[Visible]:
    """The allegations of ``[start, end)`` the caller may see, each with its verdict: staff
    every allegation with its latest verdict; a party its own (with their latest verdicts) and
    the others' that a released daily report holds, with the verdict as released."""
    latest = store.latest_verdicts()
    released = None if p.can("read_all") else released_verdicts(store)
    out: list[Visible] = []
    for data, _who in store.allegation_rows_by():
        s, e = datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"])
        if (start and e < start) or (end and s >= end):
            continue
        if released is None or (p.party is not None and data["alleging_party"] == p.party):
            out.append((data, latest.get(data["id"])))
        elif data["id"] in released:
            out.append((data, released[data["id"]]))
    return out


__all__ = ["Visible", "released_verdicts", "report_visible", "visible_allegations"]
