"""The "Corrections" section: figures of earlier released daily reports that later approved
corrections changed.

A released daily report is final. When a record it counted is later corrected (a new version,
approved) or rejected, :func:`corrections_of` compares each figure of :data:`FIGURES` as
released with the same figure recomputed from the versions that stand now (the service reads
them), and names the report, the figure, the old and new value and the records (old version ->
new version). A change already announced in an earlier released report's Corrections section
is not announced again (:func:`announced`); a figure corrected before is compared with its last
announced value. Pure: no I/O, no clock (docs/report-formats.md, "Corrections").

>>> released = {"ceasefire_violations": {"total": {"total": {"count": 5, "records": ["a", "b"]}}}}
>>> now = {"ceasefire_violations": {"count": 3, "records": ["a2", "b"]}}
>>> entry = corrections_of("2026-06-14", released, now, [{"old": "a", "new": "a2", "change": "corrected",
...                        "reason": "3 explosions, not 5"}])
>>> entry["figures"]  # doctest: +NORMALIZE_WHITESPACE
[{'figure': 'ceasefire_violations', 'name': 'ceasefire violations', 'old': 5, 'new': 3,
  'records': [{'old': 'a', 'new': 'a2'}]}]
>>> print(entry["text"])  # doctest: +NORMALIZE_WHITESPACE
The daily report of 14 June 2026 gave 5 ceasefire violations; the figure is now 3
(record a corrected by a2: 3 explosions, not 5).
>>> records, values = announced([entry])
>>> corrections_of("2026-06-14", released, now, entry["records"], records, values) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from linewatch.model import Kind
from linewatch.reporting.counts import FIRE_ORDER, KIND_LABELS, Fig

__all__ = ["FIGURES", "announced", "corrections_of", "corrections_sentence", "report_name"]

#: The figures a correction is announced for: key, name as people read it, where the figure is in
#: the released report's JSON, and where in :func:`~linewatch.reporting.count_day`'s figures.
FIGURES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("ceasefire_violations", "ceasefire violations", ("ceasefire_violations", "total", "total"),
     ("ceasefire_violations",)),
    *((k.value, KIND_LABELS[k], ("ceasefire_violations", "total", "by_kind", k.value), ("by_kind", k.value))
      for k in FIRE_ORDER),
    ("live_fire_exercises", "ceasefire violations assessed as live-fire exercises", ("live_fire_exercises",),
     ("live_fire_exercises",)),
    ("weapons_in_violation", "weapons in violation of withdrawal lines", ("weapons", "in_violation"),
     ("weapons_in_violation",)),
    ("weapons_outside_storage", "weapons outside designated storage sites", ("weapons", "outside_storage"),
     ("weapons_outside_storage",)),
    ("strikes_on_protected", "strikes on protected sites", ("protected_sites",), ("strikes_on_protected",)),
    ("fom_restrictions", "restrictions of the mission's freedom of movement", ("freedom_of_movement",),
     ("fom_restrictions",)),
    (Kind.MINE_UXO.value, "mines and unexploded ordnance", ("mines_uxo",), ("mines_uxo",)),
    *((f"civilians_{k}_{x}", f"civilians {'reported' if k == 'reported' else 'corroborated as'} {x}",
       ("civilian_casualties", k, x), ("civilian_casualties", k, x))
      for k in ("reported", "corroborated") for x in ("killed", "injured")),
    ("rule_violations", "violations of the agreement's rules (findings)", ("findings", "violation"),
     ("findings", "violation")),
    ("indeterminate_findings", "indeterminate findings", ("findings", "indeterminate"),
     ("findings", "indeterminate")),
    ("records", "reports counted", ("header", "records"), ("records",)),
)


def report_name(day: str) -> str:
    """A daily report as people name it.

    >>> report_name("2026-06-04")
    'the daily report of 4 June 2026'
    """
    d = date.fromisoformat(day)
    return f"the daily report of {d.day} {d.strftime('%B %Y')}"


def _at(data: Any, path: Sequence[str]) -> Fig | None:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return data if isinstance(data, Mapping) and "count" in data else None   # type: ignore[return-value]


def announced(reports: Iterable[Fig]) -> tuple[set[tuple[str, str, str | None]], dict[tuple[str, str], int]]:
    """What earlier released reports' Corrections sections (``reports``: their ``corrections``
    entries, oldest report first) announced: ``(report day, old id, new id)`` of every record
    change, and the last announced value of each ``(report day, figure)``."""
    records: set[tuple[str, str, str | None]] = set()
    values: dict[tuple[str, str], int] = {}
    for entry in reports:
        day = entry["report_date"]
        records |= {(day, c["old"], c.get("new")) for c in entry.get("records", ())}
        values.update({(day, f["figure"]): int(f["new"]) for f in entry.get("figures", ())})
    return records, values


def _change_words(c: Fig) -> str:
    what = (f"record {c['old']} corrected by {c['new']}" if c.get("new") else f"record {c['old']} rejected")
    return what + (f": {c['reason']}" if c.get("reason") else "")


def corrections_of(day: str, released: Fig, recomputed: Fig, changes: Sequence[Fig],
                   announced_records: set[tuple[str, str, str | None]] | None = None,
                   announced_values: Mapping[tuple[str, str], int] | None = None) -> Fig | None:
    """The Corrections entry for the released report of ``day`` (its JSON ``released``), or
    None when no figure changed or every change was announced before.

    ``recomputed`` is :func:`~linewatch.reporting.count_day` of the versions that stand now;
    ``changes`` the record changes since the release, each ``{"old", "new", "change", "reason"}``
    (``new`` None: the record was rejected). A figure is listed when its value differs from the
    released one (or from its last announced correction), with the new changes that touch it.
    """
    seen = announced_records or set()
    fresh = [c for c in changes if (day, c["old"], c.get("new")) not in seen]
    if not fresh:
        return None
    figures, used = [], []
    for key, name, report_path, day_path in FIGURES:
        was, now = _at(released, report_path), _at(recomputed, day_path)
        if was is None or now is None:
            continue
        old = (announced_values or {}).get((day, key), int(was["count"]))
        if old == int(now["count"]):
            continue
        touch = [c for c in fresh if c["old"] in was["records"] or (c.get("new") and c["new"] in now["records"])]
        if not touch:
            continue
        figures.append({"figure": key, "name": name, "old": old, "new": int(now["count"]),
                        "records": [{"old": c["old"], "new": c.get("new")} for c in touch]})
        used += [c for c in touch if c not in used]
    if not figures:
        return None
    head = figures[0]
    more = "".join(f"; {f['name']}: {f['old']}, now {f['new']}" for f in figures[1:])
    text = (f"{report_name(day)[0].upper()}{report_name(day)[1:]} gave {head['old']} {head['name']}; the figure "
            f"is now {head['new']}{more} ({'; '.join(_change_words(c) for c in used)}).")
    return {"report_date": day, "report": report_name(day), "figures": figures,
            "records": [{"old": c["old"], "new": c.get("new"), "change": c["change"], "reason": c.get("reason")}
                        for c in used], "text": text}


def corrections_sentence(corrections: Sequence[Fig]) -> str:
    """The summary's sentence on the Corrections section.

    >>> corrections_sentence([{"report": "the daily report of 14 June 2026"}])
    'This report corrects figures of the daily report of 14 June 2026 (see Corrections).'
    """
    names = [c["report"] for c in corrections]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"This report corrects figures of {listed} (see Corrections)."
