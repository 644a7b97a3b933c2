"""The daily report as data, modelled on the OSCE SMM daily report.

:func:`build_daily_report` puts a day's figures (:func:`~linewatch.reporting.count_day`) beside
the previous day's, lists the weapons, strikes, restrictions and findings behind them
(:mod:`linewatch.reporting.sections`), adds the coverage that produced them and the trend of
earlier days, and opens with a header and a summary in words. It is pure: the records, their
verification and the generation time are passed in, and the result is plain
JSON-serialisable data with a deterministic order. See ``docs/report-formats.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from linewatch.agreement import Agreement
from linewatch.model import ExplosionType, Kind, Report, utc_iso
from linewatch.reporting.corrections import corrections_sentence
from linewatch.reporting.counts import EXPLOSION_ORDER, Fig, count_day, day_period
from linewatch.reporting.reviewed import none_approved, review_sentences, trend_review
from linewatch.reporting.sections import (
    Describes,
    ReportContext,
    build_sections,
    records_table,
    sector_name,
    whole_day,
    with_previous,
)
from linewatch.verification import AllegationFinding, Verification

__all__ = ["FEW_SOURCES", "FORMAT", "NO_REPORTS", "build_daily_report"]

FORMAT = "linewatch-daily-report/1"


def build_daily_report(agreement: Agreement, day: date, *, reports: Sequence[Report],
                       verification: Verification, previous_reports: Sequence[Report],
                       previous_verification: Verification, history: Sequence[Fig],
                       gazetteer: Describes | None = None, generated_at: datetime,
                       engine: str, allegations: Sequence[AllegationFinding] = (),
                       line_coverage: Sequence[Fig] | None = None, review: Fig | None = None,
                       previous_review: Fig | None = None, corrections: Sequence[Fig] | None = None) -> Fig:
    """The daily report for the UTC day ``[day 00:00, day+1 00:00)`` as JSON-serialisable data.

    ``reports``/``verification`` are that day's records and their verification, and
    ``previous_*`` the previous day's; ``history`` holds :func:`count_day` results of earlier
    days, oldest first, for the trend. ``gazetteer`` is anything with a vectorised
    ``describe(lon, lat) -> list[str]`` (:class:`linewatch.geo.Gazetteer`). ``allegations``
    are the verdicts on the parties' allegations of the period; ``line_coverage`` the share of
    the line the sensor network covered each hour (``{"start", "share"}``), if known.

    ``review`` is the day's review block (:func:`linewatch.reporting.reviewed.reviewed`: the
    records passed are those it counts) and ``previous_review`` the previous day's; with them the
    report carries its ``review`` block, the summary says how many reports were still unreviewed
    and the records table marks those counted unreviewed. ``corrections`` are the corrections
    of earlier released reports (:func:`linewatch.reporting.corrections.corrections_of`).
    """
    reports = sorted(reports, key=lambda r: r.id)
    today = count_day(agreement, day, reports, verification)
    prev = count_day(agreement, day - timedelta(days=1), previous_reports, previous_verification)
    if review is not None:
        today["review"] = trend_review(review)
    if previous_review is not None:
        prev["review"] = trend_review(previous_review)
    ctx = ReportContext(agreement, reports, verification, gazetteer)
    sections = build_sections(ctx, day, today, prev, history=history, allegations=allegations,
                              line_coverage=line_coverage)
    out: Fig = {"format": FORMAT, "header": _header(agreement, day, today, prev, generated_at, engine),
                "summary": _summary(agreement, today, prev, sections, review, corrections or ())}
    if review is not None:
        out["review"] = review
    if corrections is not None:
        out["corrections"] = list(corrections)
    unreviewed = (frozenset(review["unreviewed"]["records"]) if review is not None and review["unreviewed_included"]
                  else frozenset())
    rows = records_table(ctx)
    if review is not None:
        rows = [{**row, "unreviewed": row["id"] in unreviewed} for row in rows]
    return {**out, **sections, "records": rows}


def _header(agreement: Agreement, day: date, today: Fig, prev: Fig, generated_at: datetime,
            engine: str) -> Fig:
    start, end = day_period(day)
    pstart, pend = day_period(day - timedelta(days=1))
    spec = agreement.spec
    return {
        "agreement": {"id": agreement.id, "title": agreement.title, "version": agreement.version},
        "notional": bool(spec.notional or (spec.line is not None and spec.line.notional)),
        "parties": [{"id": p.id, "name": p.name, "side": p.side} for p in agreement.parties],
        "sectors": [{"id": s.id, "name": s.name} for s in agreement.sectors],
        "date": day.isoformat(),
        "period": {"start": utc_iso(start), "end": utc_iso(end)},
        "previous_period": {"start": utc_iso(pstart), "end": utc_iso(pend)},
        "generated_at": utc_iso(generated_at), "engine": engine,
        "records": with_previous(today["records"], prev["records"]),
    }


# -- the summary in words ----------------------------------------------------------------------

_TYPE_WORDS = {ExplosionType.IMPACT: ("impact", "impacts"),
               ExplosionType.AIRBURST: ("airburst", "airbursts"),
               ExplosionType.OUTGOING: ("outgoing", "outgoing"),
               ExplosionType.UNDETERMINED: ("undetermined", "undetermined")}

_VERDICT_WORDS = {"corroborated": "corroborated", "not_corroborated": "not corroborated despite coverage",
                  "contradicted": "contradicted by the evidence", "unverifiable": "unverifiable (no coverage)"}


def _n(n: int, one: str, many: str) -> str:
    """A count with its noun.

    >>> _n(1, "explosion", "explosions"), _n(3, "explosion", "explosions")
    ('1 explosion', '3 explosions')
    """
    return f"{n} {one if n == 1 else many}"


def _join(parts: list[str]) -> str:
    """Words as a list in a sentence.

    >>> _join(["a"]), _join(["a", "b", "c"])
    ('a', 'a, b and c')
    """
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _explosion_phrase(types: dict[str, Fig]) -> str:
    parts = [_n(types[t.value]["count"], *_TYPE_WORDS[t]) for t in EXPLOSION_ORDER
             if types[t.value]["count"]]
    return f" ({_join(parts)})" if parts else ""


def _fire_sentence(where: str, cur: Fig, prev_total: int, *, records: bool = False) -> str:
    """One sentence of fire; ``records`` says how many records the events were reported in
    (a record may report several: "about 50 explosions")."""
    total, expl = cur["total"]["count"], cur["by_kind"][Kind.EXPLOSION.value]["count"]
    s = f"{where} the mission recorded {_n(total, 'ceasefire violation', 'ceasefire violations')}"
    if records:
        s += f" in {_n(len(cur['total']['records']), 'record', 'records')}"
    if expl:
        s += f", including {_n(expl, 'explosion', 'explosions')}{_explosion_phrase(cur['explosions_by_type'])}"
    s += "."
    live = cur["live_fire"]["count"]
    if live:
        s += (" Of these, 1 was assessed as a live-fire exercise." if live == 1 else
              f" Of these, {live} were assessed as live-fire exercises.")
    return s + f" In the previous reporting period it recorded {prev_total}."


def _sector_label(name: str) -> str:
    words = ("sector", "stretch", "region", "area", "oblast", "segment")
    return f"the {name}" if any(w in name.lower() for w in words) else f"the {name} sector"


#: a day with fewer sources than this says so beside its figures
FEW_SOURCES = 3

#: the summary of a day without a single record: never "0 ceasefire violations"
NO_REPORTS = ("No reports were received for this day: the mission cannot say whether the ceasefire "
              "held, and the empty figures below are not a count of zero violations.")


def _summary(agreement: Agreement, today: Fig, prev: Fig, sections: Fig, review: Fig | None,
             corrections: Sequence[Fig]) -> list[str]:
    fixes = [corrections_sentence(corrections)] if corrections else []
    if not today["records"]["count"]:     # received but none counts, or nothing received
        if review is not None and (review["unreviewed"]["count"] or review["rejected"]["count"]):
            return [none_approved(review), *fixes]
        return [NO_REPORTS, *fixes]
    out = review_sentences(review) if review is not None else []
    n_sources = today["coverage"]["sources"]["count"]
    if n_sources < FEW_SOURCES:
        out.append(f"Only {_n(n_sources, 'source', 'sources')} reported this day: the figures count what "
                   f"{'it' if n_sources == 1 else 'they'} could observe, not the whole line.")
    for cur, old in zip(today["by_sector"], prev["by_sector"]):
        if not cur["total"]["count"] and not old["total"]["count"]:
            continue
        where = "Outside any sector" if cur["sector"] is None else \
            f"In {_sector_label(sector_name(agreement, cur['sector']))}"
        out.append(_fire_sentence(where, cur, old["total"]["count"]))
    out.append(_fire_sentence("In total", whole_day(today), prev["ceasefire_violations"]["count"], records=True))
    w = sections["weapons"]
    out.append(f"The mission saw {_n(w['in_violation']['count'], 'weapon', 'weapons')} in violation of "
               f"withdrawal lines and {_n(w['outside_storage']['count'], 'weapon', 'weapons')} beyond "
               f"withdrawal lines but outside designated storage sites.")
    ps = sections["protected_sites"]["count"]
    if ps:
        out.append(f"It recorded {_n(ps, 'strike', 'strikes')} on protected sites.")
    fom = sections["freedom_of_movement"]["count"]
    out.append(f"Its freedom of movement was restricted {_n(fom, 'time', 'times')}*." if fom
               else "It recorded no restrictions of its freedom of movement.")
    cc = today["civilian_casualties"]
    rk, ri = cc["reported"]["killed"]["count"], cc["reported"]["injured"]["count"]
    if rk or ri:
        ck, ci = cc["corroborated"]["killed"]["count"], cc["corroborated"]["injured"]["count"]
        out.append(f"Civilian casualties were reported ({rk} killed, {ri} injured); the mission "
                   f"corroborated {ck} killed and {ci} injured.")
    f = today["findings"]
    n_broken = len(f["violation"]["records"])
    out.append(f"Verification against the agreement found {_n(f['violation']['count'], 'violation', 'violations')}"
               f" of its rules (a finding for each record and rule it breaks, in "
               f"{_n(n_broken, 'record', 'records')}) and "
               f"{_n(f['indeterminate']['count'], 'indeterminate finding', 'indeterminate findings')}.")
    al = sections["allegations"]
    if al["received"]:
        parts = [f"{n} {_VERDICT_WORDS[k]}" for k, n in al["verdicts"].items() if n]
        out.append(f"{_n(al['received'], 'allegation was', 'allegations were')} received from the "
                   f"parties: {_join(parts)}.")
    return out + fixes
