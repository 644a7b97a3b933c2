"""The demo's review: monitors submit their reports, two analysts review the week (docs/review.md).

The observation posts' and patrols' reports are submitted by the monitors who staff them, one
request per monitor and day, as the dashboard sends them (so each version has its author). Then
the review, seeded: the week before the report day is approved; the day's fused incidents heard
by at least :data:`MIN_SENSORS` sensors are approved in bulk by that rule; most of the day's
reports are approved one by one by an analyst who did not write them; a few are returned with
a question and answered by their monitor with a corrected version (a new id naming the one it
replaces, and why), which the other analyst approves; one is rejected with its reason; a few
stay unreviewed. The daily report then counts what was approved.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from linewatch.model import utc_iso
from linewatch.review import PENDING, State
from linewatch.services.review import QueueFilter, check_correction, comment, move, move_many, queue, queue_ids
from linewatch.services.submissions import submit_records
from linewatch.services.verify import day_window
from linewatch.store import Store
from linewatch.store.review_tables import QueueRow

__all__ = ["ANALYSTS", "MIN_SENSORS", "MONITORS", "ReviewSummary", "report_lines", "review_week",
           "submit_reports", "write_submissions"]

#: the demo's monitors (each staffs some posts and patrols) and analysts
MONITORS = ("demo-monitor", "demo-monitor-2", "demo-monitor-3")
ANALYSTS = ("demo-analyst", "demo-analyst-2")
#: the bulk rule: a fused incident heard by at least this many sensors is approved
MIN_SENSORS = 12
#: the source kinds whose reports a monitor writes (open sources are read at the hub)
MONITOR_SOURCES = ("observation_post", "patrol")
_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def monitor_of(source_id: str) -> str:
    """The monitor who staffs a post or a patrol (the same one on every run)."""
    return MONITORS[zlib.crc32(source_id.encode("utf-8")) % len(MONITORS)]


def write_submissions(records: list[dict], folder: Path) -> list[Path]:
    """Each monitor's reports of each day as the body of one request (``<monitor>_<day>.json``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*_*.json"):      # an earlier run's requests (another day, another seed)
        old.unlink()
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        groups.setdefault((monitor_of(str(r["source_id"])), str(r["time"])[:10]), []).append(r)
    paths = []
    for (who, day), recs in sorted(groups.items()):
        paths.append(folder / f"{who}_{day}.json")
        paths[-1].write_text(json.dumps(recs, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return paths


def submit_reports(store: Store, paths: list[Path], say: Callable[[str], None]) -> None:
    """Submit each request as its monitor (as the API's POST /records does)."""
    added = quarantined = 0
    for p in paths:
        who = p.stem.split("_")[0]
        got = submit_records(store, json.loads(p.read_text(encoding="utf-8")), submitted_by=who,
                             source=f"api:{who}")
        added, quarantined = added + got.added, quarantined + got.quarantined
    say(f"  {len(MONITORS)} monitors submitted their posts' and patrols' reports ({len(paths)} requests, "
        f"one per monitor and day): {added} added, {quarantined} quarantined")


@dataclass
class ReviewSummary:
    """What the demo's review did on the report day (and to the week before it)."""

    day_records: int = 0
    approved: int = 0
    by_rule: int = 0
    corrected: list[tuple[str, str, str]] = field(default_factory=list)   # (old id, new id, why)
    rejected: list[tuple[str, str]] = field(default_factory=list)          # (id, reason)
    unreviewed: dict[str, int] = field(default_factory=dict)               # state -> count
    below_rule: int = 0
    history_approved: int = 0
    own_approvals: int = 0          # approved by their own author: four eyes says 0

    def _unreviewed(self) -> str:
        u = self.unreviewed
        parts = [(self.below_rule, f"fused incidents heard by fewer than {MIN_SENSORS} sensors"),
                 (u.get("detected", 0) - self.below_rule, "other sensor records"),
                 (u.get("in_review", 0), "reports an analyst has opened"),
                 (u.get("submitted", 0), "reports not yet opened"),
                 (u.get("returned", 0), "returned, waiting for their monitor's answer")]
        return ", ".join(f"{n} {what}" for n, what in parts if n)

    def lines(self, day: date) -> list[str]:
        own = "none" if not self.own_approvals else str(self.own_approvals)
        out = [f"  review of {day}: {len(ANALYSTS)} analysts reviewed the day's {self.day_records} records",
               f"    {self.approved} approved, {own} by its own author ({self.by_rule} of them fused incidents, "
               f"in bulk by the rule 'heard by at least {MIN_SENSORS} sensors')",
               f"    {len(self.corrected)} returned with a question and corrected by their monitor (a new "
               "version each), each correction approved by the other analyst:"]
        out += [f"      {old} -> {new}: {why}" for old, new, why in self.corrected]
        out += [f"    {len(self.rejected)} rejected" + "".join(f"; {i} ({why})" for i, why in self.rejected),
                f"    {sum(self.unreviewed.values())} still unreviewed: {self._unreviewed()}",
                f"  the week before: {self.history_approved} records approved"]
        return out


def report_lines(report: dict[str, Any]) -> list[str]:
    """What the daily report counted of the day's review (its ``review`` block), in words."""
    block = report.get("review")
    if not block:
        return []
    n, m = block["unreviewed"]["count"], block["rejected"]["count"]
    a = block["approved"]["count"]
    if block["unreviewed_included"]:
        return [f"  the daily report counts the {a} approved records of the day and the {n} still under review, "
                f"marked as unreviewed; not the {m} rejected"]
    return [f"  the daily report counts the {a} approved records of the day; its summary says {n} were still "
            f"under review and {m} rejected, neither counted"]


# -- corrections: what an analyst asks, and what the monitor changes -----------------------------

Fix = tuple[str, dict[str, Any], str]     # (question, the new version's changed fields, why)


def _fix_direction(d: dict[str, Any]) -> Fix | None:
    if d.get("bearing_deg") is None:
        return None
    old = float(d["bearing_deg"]) % 360
    new = (old + 45.0) % 360
    w_old, w_new = _COMPASS[int((old + 22.5) // 45) % 8], _COMPASS[int((new + 22.5) // 45) % 8]
    return (f"The post reports this to the {w_old}; the neighbouring post heard it further east. "
            "Please check the post's log.",
            {"bearing_deg": new}, f"direction corrected from {w_old} to {w_new} after checking the post's log")


def _fix_count(d: dict[str, Any]) -> Fix | None:
    if d.get("kind") != "weapon_sighting" or int(d.get("count") or 0) < 2:
        return None
    n = int(d["count"])
    return (f"{n} seen: do the photos show {n} or {n - 1}?", {"count": n - 1},
            f"count corrected from {n} to {n - 1}: one was counted twice")


def _fix_time(d: dict[str, Any]) -> Fix | None:
    t = datetime.fromisoformat(str(d["time"]).replace("Z", "+00:00"))
    if t.hour < 6:                 # stays on the same day
        return None
    return ("Is the time in UTC? It is three hours after the post's log entry.",
            {"time": utc_iso(t - timedelta(hours=3))},
            "time was given in local time, not UTC; corrected 3 hours earlier")


_FIXES = (_fix_direction, _fix_count, _fix_time)


def _pick_returns(rows: list[QueueRow], n: int) -> list[tuple[QueueRow, Fix]]:
    """Up to ``n`` reports, each with a question its author answers by a correction (one of each kind first)."""
    out: list[tuple[QueueRow, Fix]] = []
    for fix in _FIXES * n:
        taken = {r.id for r, _ in out}
        got = next(((r, f) for r in rows if r.author and r.id not in taken
                    for f in [fix(r.data)] if f is not None), None)
        if got is not None:
            out.append(got)
        if len(out) == n:
            break
    return out


def _return_and_correct(store: Store, row: QueueRow, fix: Fix, asks: str, approves: str) -> tuple[str, str, str]:
    """``asks`` returns the report with the question, its monitor answers with a new version,
    ``approves`` (the other analyst) approves it."""
    question, changed, why = fix
    move(store, "record", row.id, State.IN_REVIEW, actor=asks)
    move(store, "record", row.id, State.RETURNED, actor=asks, note=question)
    monitor = str(row.author)
    check_correction(store, row.id, author=monitor, monitor=True)
    comment(store, "record", row.id, author=monitor, text="Checked; a corrected version follows.")
    new_id = f"{row.id}-v2"
    submit_records(store, [{**row.data, **changed, "id": new_id, "supersedes": row.id, "correction": why}],
                   submitted_by=monitor, source=f"api:{monitor}")
    move(store, "record", new_id, State.APPROVED, actor=approves)
    return row.id, new_id, why


def _reject_reason(row: QueueRow) -> str:
    if "os-" in row.id:     # demo.py makes each open-source item from a record of the day
        return (f"repeats {row.id.split('os-', 1)[1]}, the same impact already reported: "
                "approving both would count it twice")
    return "no post, camera or patrol corroborates it"


def review_week(store: Store, day: date, *, seed: int) -> ReviewSummary:
    """The review of the report day (and the week before it), seeded; what it did."""
    rng = random.Random(seed)
    start, end = day_window(day)
    out = ReviewSummary()
    first, second = ANALYSTS
    # the week before, reviewed on its days: each day by one of the two analysts
    before = queue(store, QueueFilter(states=sorted(PENDING), end=start), limit=1_000_000)
    for turn, who in enumerate(ANALYSTS):
        ids = [r.id for r in before if int(r.time_s // 86400) % 2 == turn]
        out.history_approved += len(move_many(store, "record", ids, State.APPROVED, actor=who)[0].moved)
    # fused incidents of the day: approved in bulk by the rule
    rule = QueueFilter(states=[State.DETECTED.value], source_kinds=["sensor_fusion"], start=start, end=end,
                       min_sensors=MIN_SENSORS)
    out.by_rule = len(move_many(store, "record", list(queue_ids(store, rule)), State.APPROVED, actor=second,
                                note=f"rule: fused incidents heard by at least {MIN_SENSORS} sensors")[0].moved)
    # the day's other sensor records: checked against the imagery and approved together
    sensed = QueueFilter(states=[State.DETECTED.value], source_kinds=["fixed_camera", "uav", "acoustic_sensor"],
                         start=start, end=end)
    move_many(store, "record", list(queue_ids(store, sensed)), State.APPROVED, actor=first)
    # the day's reports by monitors and open sources, one by one
    people = queue(store, QueueFilter(states=[State.SUBMITTED.value], source_kinds=[*MONITOR_SOURCES, "open_source"],
                                      start=start, end=end), limit=100_000)
    rng.shuffle(people)
    for row, fix in _pick_returns(people, 3):
        asks = rng.choice(ANALYSTS)
        out.corrected.append(_return_and_correct(store, row, fix, asks, second if asks == first else first))
    taken = {old for old, _, _ in out.corrected}
    rest = [r for r in people if r.id not in taken]
    bad = next((r for r in rest if r.data.get("source_kind") == "open_source"), rest[0] if rest else None)
    if bad is not None:
        reason = _reject_reason(bad)
        move(store, "record", bad.id, State.REJECTED, actor=first, note=reason)
        out.rejected.append((bad.id, reason))
        rest = [r for r in rest if r.id != bad.id]
    later, rest = rest[:4], rest[4:]      # still in the queue at the end of the day
    move_many(store, "record", [r.id for r in later[:2]], State.IN_REVIEW, actor=second)
    mine = {r.id for r in rest if rng.random() < 0.5}
    move_many(store, "record", [r.id for r in rest if r.id in mine], State.APPROVED, actor=first)
    move_many(store, "record", [r.id for r in rest if r.id not in mine], State.APPROVED, actor=second)
    return _count(store, day, out)


def _count(store: Store, day: date, out: ReviewSummary) -> ReviewSummary:
    start, end = day_window(day)
    counts = store.review_counts(start=start, end=end)
    out.day_records = sum(counts.values())
    out.approved = counts.get(State.APPROVED.value, 0)
    out.unreviewed = {s: n for s, n in counts.items() if State(s) in PENDING}
    out.below_rule = sum(1 for _ in queue_ids(store, QueueFilter(
        states=[State.DETECTED.value], source_kinds=["sensor_fusion"], start=start, end=end)))
    approved = [r.id for r in queue(store, QueueFilter(states=[State.APPROVED.value], start=start, end=end),
                                    limit=100_000)]
    approvers = store.approvals(approved)
    authors = store.authors(approved)
    out.own_approvals = sum(1 for i, who in approvers.items() if who == authors.get(i))
    return out
