"""Daily reports: the list (released ones only, for the parties and the public), a report's
files (HTML, PDF, JSON and the figures), building one and releasing it (docs/api.md,
"Daily reports")."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import Field

from linewatch.web.deps import Analyst, ReportReader, State
from linewatch.web.query import Day
from linewatch.web.schemas import DailyReportInfo
from linewatch.web.visibility import report_visible

router = APIRouter(tags=["reports"])

#: what a report's HTML may load: its own figures, and its inline style
HTML_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"


@router.get("/daily-reports", response_model=list[DailyReportInfo],
            summary="The daily reports built (released ones only, for the parties and the public)")
def daily_reports(p: ReportReader, state: State) -> list[dict[str, Any]]:
    return state.store().daily_reports(released_only=not p.can("read_all"))


@router.get("/daily-reports/{day}.{fmt}", summary="A daily report as HTML, PDF or JSON",
            responses={200: {"content": {"text/html": {}, "application/pdf": {}, "application/json": {}}}})
def daily_report_file(request: Request, day: Day, fmt: Literal["html", "pdf", "json"], p: ReportReader,
                      state: State) -> Any:
    report_visible(state, p, day.isoformat())
    name = f"report-{day.isoformat()}.{fmt}"
    state.store().daily_report_file(day.isoformat(), name)   # 404 if absent
    part = request.url_for("daily_report_part", day=day.isoformat(), name=name)
    return RedirectResponse(part.path, status_code=307)


@router.get("/daily-reports/{day}/{name}", summary="One file of a daily report (the HTML's figures resolve here)")
def daily_report_part(day: Day, name: Annotated[str, Field(pattern=r"^[\w.-]+$")], p: ReportReader,
                      state: State) -> Response:
    report_visible(state, p, day.isoformat())
    media, content = state.store().daily_report_file(day.isoformat(), name)
    return Response(content, media_type=media,
                    headers={"Content-Security-Policy": HTML_POLICY} if media.startswith("text/html") else None)


@router.post("/daily-reports/{day}", status_code=201,
             summary="Build (or rebuild, until released) the daily report of a day")
def build_report(day: Day, p: Analyst, state: State,
                 verify_first: Annotated[bool, Query(description=(
                     "run verify over the report's days and the allegation verdicts over the day "
                     "first (else the stored runs must be current: 409 names what is stale)"))] = False,
                 include_unreviewed: Annotated[bool, Query(description=(
                     "count the records still under review too, marked as unreviewed (by default the "
                     "report counts approved records only; such a report is never released)"))] = False,
                 ) -> dict[str, Any]:
    from linewatch.services.submissions import build_daily_report, refuse_released
    # a released day is 409 at once, not after another build that holds the writer (the build
    # checks again, under the lock, before it builds anything)
    refuse_released(state.store(), day)
    with state.write_lock:
        report = build_daily_report(state.store(), state.require_agreement(), day, built_by=p.name,
                                    network_path=state.network_path(), key=state.signing_key(),
                                    verify_first=verify_first, include_unreviewed=include_unreviewed)
    return {"day": day.isoformat(), "summary": report.get("summary"),
            "files": sorted(state.store().daily_report_digests(day.isoformat()))}


@router.post("/daily-reports/{day}/release",
             summary="Release a built daily report to the parties and the public (logged; final)")
def release_report(day: Day, p: Analyst, state: State) -> dict[str, Any]:
    from linewatch.services.submissions import release_daily_report
    with state.write_lock:
        when = release_daily_report(state.store(), day, released_by=p.name)
    return {"day": day.isoformat(), "released_at": when, "released_by": p.name}
