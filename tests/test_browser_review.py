"""A report's life in the dashboard, end to end in a real browser (Chromium, headless, Selenium).

A day of the project's generated reports is ingested and verified into a fresh store (a SQLite
file, then a PostgreSQL schema), ``linewatch serve`` runs it, and Chromium plays three people:

- **mo**, a monitor, submits a report from the form, placed as "observer position + bearing +
  distance band" (the position picked on the map, "SW", 3–7 km); a bad source id is refused
  by the API and the reason shows beside that field;
- **ana**, an analyst, returns it with a question (the dialog refuses an empty question);
- mo sees it returned with the question under "My reports" and submits a corrected version;
- **bo**, another analyst, approves it from the bulk bar; the daily report built and released
  through the API counts it;
- later ana corrects the approved version herself, is refused when she tries to approve her
  own correction (four eyes, in words), and bo approves it: the next day's daily report
  names the change in its "Corrections".

Also: the incident detail shows no raw JSON and no internal names, and the form has no
horizontal scroll on a 768-px-wide tablet.

Needs Debian's ``chromium`` and ``chromium-driver`` and Selenium, as ``tests/test_browser.py``
(the same policy: without them the test fails and says so, unless ``LINEWATCH_SKIP_BROWSER=1``).
"""

from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path

import pytest

from test_browser import (
    WAIT_S,
    _all,
    _css,
    _need_browser,
    _screenshot,
    chromium,
    serving,
)
from test_browser import _build_store as build_day_store

DAY = date(2026, 6, 15)
NEXT_DAY = date(2026, 6, 16)

pytestmark = pytest.mark.slow

# internal names that must never reach the screen
INTERNAL = ("fom_restriction", "sensor_fusion", "bursts_and_shots", "observation_post", "acoustic_sensor",
            "no_fire", "distance_to_line_m", "side_probability", "rules_in_force", "time_precision",
            "source_kind", "P=")


# -- the store and the server -------------------------------------------------------------------

def _build_store(db: str, work: Path) -> dict[str, str]:
    """A verified day of generated reports (as the map's browser test has) and three users;
    their tokens by name."""
    from linewatch.services.accounts import add_user
    from linewatch.store import open_store
    build_day_store(db, work)
    with open_store(db) as store:
        return {name: add_user(store, name, role)[1]
                for name, role in (("ana", "analyst"), ("bo", "analyst"), ("mo", "monitor"))}


class Server:
    def __init__(self, base: str, tokens: dict[str, str]) -> None:
        import httpx
        self.base, self.tokens = base, tokens
        self.http = {name: httpx.Client(base_url=base, headers={"Authorization": f"Bearer {t}"}, timeout=120,
                                        follow_redirects=True) for name, t in tokens.items()}

    def versions(self, record_id: str) -> dict:
        r = self.http["ana"].get(f"/api/v1/reports/{record_id}/versions")
        assert r.status_code == 200, r.text
        return r.json()

    def close(self) -> None:
        for c in self.http.values():
            c.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, module_new_store_url):
    _need_browser()
    work = tmp_path_factory.mktemp("browser-review")
    db = module_new_store_url("store")
    tokens = _build_store(db, work)
    with serving(db, work) as base:
        s = Server(base, tokens)
        yield s
        s.close()


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b


# -- helpers ------------------------------------------------------------------------------------

def _wait(driver, cond, what: str, timeout: float = WAIT_S):
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: cond(d))
    except TimeoutException:
        logs = [e["message"] for e in driver.get_log("browser")]
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; browser console: {logs}") from None


def _text(d, sel: str) -> str:
    found = _all(d, sel)
    return found[0].text.strip() if found else ""


def _login(d, server: Server, name: str) -> None:
    """Log ``name`` in (logging out whoever is logged in first)."""
    d.get(server.base + "/")
    _wait(d, lambda d: _css(d, "[data-testid=login-screen]").is_displayed()
          or _css(d, "[data-testid=app]").is_displayed(), "the login screen or the app")
    if _css(d, "[data-testid=app]").is_displayed():
        _css(d, "[data-testid=logout]").click()
        _wait(d, lambda d: _css(d, "[data-testid=login-screen]").is_displayed(), "the login screen after logging out")
    token_input = _wait(d, lambda d: _css(d, "[data-testid=token-input]").is_displayed()
                        and _css(d, "[data-testid=token-input]"), "the token input")
    token_input.send_keys(server.tokens[name])
    _css(d, "[data-testid=login-submit]").click()
    _wait(d, lambda d: _css(d, "[data-testid=user-name]").get_attribute("textContent") == name,
          f"{name} to be logged in")
    _wait(d, lambda d: _css(d, "[data-testid=map]").get_attribute("data-loading") == "false", "the map to load")


def _tab(d, name: str) -> None:
    if _css(d, "[data-testid=side-panel]").get_attribute("data-open") == "false":
        _css(d, "[data-testid=panel-toggle]").click()
    _css(d, f"[data-testid=tab-{name}]").click()
    _wait(d, lambda d: _css(d, f"[data-testid=tab-{name}]").get_attribute("aria-selected") == "true", f"the {name} tab")


def _set(d, testid: str, value: str) -> None:
    """Type into a form control (a select by its value; a date-time input through its value)."""
    from selenium.webdriver.support.ui import Select
    e = _css(d, f"[data-testid={testid}]")
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", e)
    if e.tag_name == "select":
        Select(e).select_by_value(value)
    elif e.get_attribute("type") in ("datetime-local", "date"):
        d.execute_script("arguments[0].value = arguments[1];"
                         "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
                         "arguments[0].dispatchEvent(new Event('change', {bubbles: true}))", e, value)
    else:
        e.clear()
        e.send_keys(value)


def _click(d, sel: str) -> None:
    e = _wait(d, lambda d: (_all(d, sel) or [None])[0], sel)
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", e)
    e.click()


def _queue(d, *, author: str, state: str) -> list[str]:
    """The review queue filtered to ``author`` and ``state``: the ids listed."""
    _tab(d, "review")
    if _all(d, "[data-testid=rv-back]") and _css(d, "[data-testid=rv-record]").is_displayed():
        _click(d, "[data-testid=rv-back]")
    _set(d, "rv-state", state)
    _set(d, "rv-author", author)

    def settled(d):
        q = _css(d, "[data-testid=rv-queue]")
        items = _all(d, "[data-testid=rv-item]")
        return q.get_attribute("data-loading") == "false" and all(
            f"by {author}" in i.text for i in items) and (items or _text(d, "[data-testid=rv-note]"))
    time.sleep(0.5)        # the text filter waits for the typing to stop
    _wait(d, settled, f"the queue of {author}'s reports")
    return [i.get_attribute("data-id") for i in _all(d, "[data-testid=rv-item]")]


def _open_in_review(d, record_id: str) -> None:
    _click(d, f"[data-testid=rv-item][data-id='{record_id}']")
    _wait(d, lambda d: _css(d, "[data-testid=rv-record]").get_attribute("data-id") == record_id
          and _css(d, "[data-testid=rv-record]").get_attribute("data-loading") == "false", f"the review of {record_id}")


def _detail(d, record_id: str):
    """Open a record's detail panel; the panel once loaded."""
    d.execute_script("window.linewatch.selectReport(arguments[0])", record_id)
    panel = _css(d, "[data-testid=detail-panel]")
    _wait(d, lambda d: panel.get_attribute("data-id") == record_id and panel.get_attribute("data-loading") == "false",
          f"the detail of {record_id}")
    return panel


def _report_json(server: Server, day: date) -> dict:
    r = server.http["ana"].get(f"/api/v1/daily-reports/{day.isoformat()}.json")
    assert r.status_code == 200, r.text
    return r.json()


# -- the tests ----------------------------------------------------------------------------------

def test_report_life_in_the_dashboard(server, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    d = browser.d

    # 1. mo reports an explosion seen 3–7 km south-west of the patrol
    _login(d, server, "mo")
    _tab(d, "report")
    _wait(d, lambda d: _css(d, "[data-testid=report-form]").is_displayed(), "the report form")
    assert _css(d, "[data-testid=rf-mode]").text == "New report"
    _set(d, "rf-kind", "explosion")
    # only the explosion's own fields show
    assert _css(d, "[data-testid=rf-explosion_type]").is_displayed()
    assert not _css(d, "[data-testid=rf-killed]").is_displayed()
    _set(d, "rf-time", f"{DAY.isoformat()}T10:00")
    _set(d, "rf-time_precision", "hour")
    _click(d, "[data-testid=rf-loc-observer]")
    _click(d, "[data-testid=rf-pick-observer]")
    ActionChains(d).move_to_element_with_offset(_css(d, "[data-testid=map]"), 60, 40).click().perform()
    _wait(d, lambda d: _css(d, "[data-testid=rf-observer_lat]").get_attribute("value"),
          "the position picked on the map")
    obs_lat = float(_css(d, "[data-testid=rf-observer_lat]").get_attribute("value"))
    obs_lon = float(_css(d, "[data-testid=rf-observer_lon]").get_attribute("value"))
    assert -90 <= obs_lat <= 90 and -180 <= obs_lon <= 180
    _set(d, "rf-direction", "SW")
    _set(d, "rf-distance_min_m", "9")
    _set(d, "rf-distance_max_m", "7")
    _set(d, "rf-explosion_type", "impact")
    _set(d, "rf-count", "3")
    _set(d, "rf-source_kind", "patrol")
    _set(d, "rf-description", "Three impacts heard and seen from the patrol's position.")
    # checked in the browser as the API checks: the band is the wrong way round, no source id
    _click(d, "[data-testid=rf-submit]")
    _wait(d, lambda d: _text(d, "[data-testid=rf-error-distance_min_m]"), "the distance error beside its field")
    assert "shortest distance is larger" in _text(d, "[data-testid=rf-error-distance_min_m]")
    assert "source id" in _text(d, "[data-testid=rf-error-source_id]").lower()
    assert _css(d, "[data-testid=rf-distance_min_m]").get_attribute("aria-invalid") == "true"
    _set(d, "rf-distance_min_m", "3")
    # the API's own reason, beside the field it names (a NUL character the browser lets through)
    d.execute_script("const e = document.querySelector('[data-testid=rf-source_id]');"
                     "e.value = 'PATROL-\\u0000-7'; e.dispatchEvent(new Event('input', {bubbles: true}))")
    _click(d, "[data-testid=rf-submit]")
    _wait(d, lambda d: _text(d, "[data-testid=rf-error-source_id]"), "the API's reason beside the source id")
    assert "NUL" in _text(d, "[data-testid=rf-error-source_id]"), _text(d, "[data-testid=rf-error-source_id]")
    assert "not stored" in _text(d, "[data-testid=rf-error-form]")
    _set(d, "rf-source_id", "PATROL-7")
    _click(d, "[data-testid=rf-submit]")
    _wait(d, lambda d: _css(d, "[data-testid=rf-result]").get_attribute("data-id"), "the stored report's id")
    v1 = _css(d, "[data-testid=rf-result]").get_attribute("data-id")
    assert "waits for review" in _text(d, "[data-testid=rf-result]")
    rec = server.versions(v1)["versions"][-1]["record"]
    assert (rec["observer_lat"], rec["observer_lon"]) == pytest.approx((obs_lat, obs_lon))
    assert rec["bearing_deg"] == 225 and rec["bearing_spread_deg"] == 45
    assert (rec["distance_min_m"], rec["distance_max_m"]) == (3000, 7000)
    assert rec["kind"] == "explosion" and rec["count"] == 3 and rec["time_precision"] == "hour"
    assert rec["source_kind"] == "patrol" and rec["source_id"] == "PATROL-7"
    _wait(d, lambda d: _all(d, f"[data-testid=my-report][data-id='{v1}'][data-state=submitted]"),
          "the report under My reports")

    # 2. ana returns it with a question (the dialog refuses an empty one)
    _login(d, server, "ana")
    assert _queue(d, author="mo", state="waiting") == [v1]
    _open_in_review(d, v1)
    _wait(d, lambda d: _css(d, "[data-testid=rv-map] .leaflet-pane"), "the record's small map")
    assert "south-west" in _text(d, "[data-testid=rv-properties]").lower()
    _click(d, "[data-testid=rv-return]")
    _wait(d, lambda d: _css(d, "[data-testid=rv-dialog]").is_displayed(), "the return dialog")
    _click(d, "[data-testid=rv-dialog-confirm]")
    assert "required" in _text(d, "[data-testid=rv-dialog-error]")
    question = "How many impacts exactly, and at what time?"
    _set(d, "rv-dialog-text", question)
    _click(d, "[data-testid=rv-dialog-confirm]")
    _wait(d, lambda d: "returned" in _text(d, "[data-testid=rv-message]"), "the return to be confirmed")
    assert _css(d, "[data-testid=rv-record]").get_attribute("data-state") == "returned"
    events = server.versions(v1)["versions"][-1]["events"]
    assert [(e["to"], e["by"], e["note"]) for e in events][-1] == ("returned", "ana", question)
    assert any(question in i.text for i in _all(d, "[data-testid=rv-thread-item]"))

    # 3. mo sees it returned with the question and corrects it
    _login(d, server, "mo")
    _tab(d, "report")
    item = f"[data-testid=my-report][data-id='{v1}'][data-state=returned]"
    _wait(d, lambda d: question in _text(d, f"{item} [data-testid=my-question]"), "the question under My reports")
    assert "ana" in _text(d, f"{item} [data-testid=my-question]")
    _click(d, item)
    _wait(d, lambda d: _all(d, "[data-testid=my-correct]"), "the report's history")
    _wait(d, lambda d: question in _text(d, "[data-testid=my-thread]"), "the question in the report's history")
    _click(d, "[data-testid=my-correct]")
    _wait(d, lambda d: _css(d, "[data-testid=rf-mode]").get_attribute("data-mode") == "correction",
          "the correction form")
    assert _css(d, "[data-testid=rf-mode]").get_attribute("data-supersedes") == v1
    # prefilled with the version it corrects
    assert _css(d, "[data-testid=rf-count]").get_attribute("value") == "3"
    assert _css(d, "[data-testid=rf-source_id]").get_attribute("value") == "PATROL-7"
    assert _css(d, "[data-testid=rf-distance_max_m]").get_attribute("value") == "7"
    _set(d, "rf-count", "5")
    _set(d, "rf-time", f"{DAY.isoformat()}T10:20")
    _set(d, "rf-time_precision", "exact")
    _click(d, "[data-testid=rf-submit]")
    _wait(d, lambda d: _text(d, "[data-testid=rf-error-correction]"), "the missing reason of the correction")
    _set(d, "rf-correction", "Five impacts, not three, at 10:20 (the patrol log)")
    _click(d, "[data-testid=rf-submit]")
    _wait(d, lambda d: _css(d, "[data-testid=rf-result]").get_attribute("data-id") not in ("", None, v1)
          and "corrected version" in _text(d, "[data-testid=rf-result]"), "the corrected version")
    v2 = _css(d, "[data-testid=rf-result]").get_attribute("data-id")
    chain = server.versions(v2)
    assert [v["id"] for v in chain["versions"]] == [v1, v2] and chain["current"] == v2
    new = chain["versions"][-1]
    assert new["record"]["supersedes"] == v1 and new["author"] == "mo" and new["state"] == "submitted"
    assert new["record"]["bearing_spread_deg"] == 45 and new["record"]["count"] == 5
    assert {c["field"] for c in new["changes"]} >= {"count", "time"}

    # 4. bo approves the corrected version from the bulk bar; the versions differ as they should
    _login(d, server, "bo")
    assert _queue(d, author="mo", state="waiting") == [v2]
    _click(d, f"[data-testid=rv-check][data-id='{v2}']")
    _wait(d, lambda d: _css(d, "[data-testid=rv-bulk]").is_displayed(), "the bulk bar")
    assert _text(d, "[data-testid=rv-bulk-count]") == "1 report selected"
    _click(d, "[data-testid=rv-bulk-approve]")
    _wait(d, lambda d: "1 report approved" in _text(d, "[data-testid=rv-bulk-result]"), "the bulk approval")
    assert server.versions(v2)["versions"][-1]["state"] == "approved"
    assert _queue(d, author="mo", state="approved") == [v2]
    _open_in_review(d, v2)
    rows = {r.get_attribute("data-field"): r for r in _all(d, "[data-testid=rv-diff-row]")}
    assert {"count", "time"} <= set(rows), list(rows)
    old, new_ = (rows["count"].find_element("css selector", c).text for c in (".diff-old", ".diff-new"))
    assert (old, new_) == ("3", "5")
    assert "10:00 UTC" in rows["time"].text and "10:20 UTC" in rows["time"].text
    assert not re.search(r"\d\d:\d\d:\d\d", rows["time"].text), "a time with seconds"
    assert not _all(d, "[data-testid=rv-approve]"), "an approved version offers no approval"

    # 5. the daily report, built and released through the API, counts the approved version
    r = server.http["ana"].post(f"/api/v1/daily-reports/{DAY.isoformat()}", params={"verify_first": "true"})
    assert r.status_code in (200, 201), r.text
    r = server.http["ana"].post(f"/api/v1/daily-reports/{DAY.isoformat()}/release")
    assert r.status_code == 200, r.text
    report = _report_json(server, DAY)
    counted = {row["id"] for row in report["records"]}
    assert v2 in counted and v1 not in counted
    assert v2 in report["ceasefire_violations"]["total"]["total"]["records"]

    # 6. a later correction by ana herself: she may not approve it (four eyes), bo does
    _login(d, server, "ana")
    assert _queue(d, author="mo", state="approved") == [v2]
    _open_in_review(d, v2)
    _click(d, "[data-testid=rv-correct]")
    _wait(d, lambda d: _css(d, "[data-testid=rf-mode]").get_attribute("data-supersedes") == v2, "the correction form")
    assert _css(d, "[data-testid=rf-count]").get_attribute("value") == "5"
    _set(d, "rf-count", "8")
    _set(d, "rf-correction", "Eight impacts: the crater survey of the next day found three more")
    _click(d, "[data-testid=rf-submit]")
    _wait(d, lambda d: _css(d, "[data-testid=rf-result]").get_attribute("data-id") not in ("", None, v2)
          and "corrected version" in _text(d, "[data-testid=rf-result]"), "ana's corrected version")
    v3 = _css(d, "[data-testid=rf-result]").get_attribute("data-id")
    assert server.versions(v3)["versions"][-1]["author"] == "ana"
    assert _queue(d, author="ana", state="waiting") == [v3]
    _open_in_review(d, v3)
    _click(d, "[data-testid=rv-approve]")
    _wait(d, lambda d: "four eyes" in _text(d, "[data-testid=rv-message]"), "the four-eyes refusal")
    msg = _text(d, "[data-testid=rv-message]")
    assert msg.startswith("You cannot approve this report") and "another analyst" in msg, msg
    assert "'ana'" not in msg and "409" not in msg
    assert server.versions(v3)["versions"][-1]["state"] == "submitted"
    _screenshot(d, tmp_path, "review-four-eyes.png")

    _login(d, server, "bo")
    assert _queue(d, author="ana", state="waiting") == [v3]
    _open_in_review(d, v3)
    _click(d, "[data-testid=rv-approve]")
    _wait(d, lambda d: "approved" in _text(d, "[data-testid=rv-message]")
          and _css(d, "[data-testid=rv-record]").get_attribute("data-state") == "approved", "bo's approval")
    thread = [i.text for i in _all(d, "[data-testid=rv-thread-item]")]
    assert any("bo" in t and "approved" in t for t in thread), thread
    assert any(question in t for t in thread), thread
    _screenshot(d, tmp_path, "review-approved.png")

    # 7. the next day's report names the change of the released report in its Corrections
    r = server.http["ana"].post(f"/api/v1/daily-reports/{NEXT_DAY.isoformat()}", params={"verify_first": "true"})
    assert r.status_code in (200, 201), r.text
    report2 = _report_json(server, NEXT_DAY)
    corrections = report2.get("corrections")
    assert corrections, f"no Corrections section in the report of {NEXT_DAY}: {sorted(report2)}"
    entry = next(c for c in corrections if c["report_date"] == DAY.isoformat())
    assert {"old": v2, "new": v3} in [{"old": x["old"], "new": x["new"]} for x in entry["records"]]
    figures = {f["figure"]: f for f in entry["figures"]}
    assert figures, entry
    total = figures.get("ceasefire_violations")
    assert total is not None and total["new"] - total["old"] == 3, figures
    assert "15 June 2026" in entry["text"]
    assert browser.foreign() == [], f"requests to other hosts: {browser.foreign()}"


def test_incident_detail_in_plain_words(server, browser):
    """The detail panel: rounded numbers, translated names, no JSON; each claim names its source."""
    d = browser.d
    _login(d, server, "ana")
    http = server.http["ana"]
    page = http.get("/api/v1/violations", params={"limit": 200}).json()["features"]
    with_finding = next(f["properties"]["subject"] for f in page)
    feats = http.get("/api/v1/reports", params={"kind": "fom_restriction", "limit": 5}).json()["features"]
    fom = feats[0]["properties"]["id"]
    for rid in (with_finding, fom):
        text = _detail(d, rid).text
        for name in INTERNAL:
            assert name not in text, (name, rid, text)
        assert '{"' not in text and "[{" not in text, text
        assert not re.search(r"\d\.\d{3,}", text.replace(rid, "")) or re.search(r"\d\.\d{5}° [NE]", text), text
        assert not re.search(r"\d\d:\d\d:\d\d", text), "a time with seconds"
    # the finding's report: probabilities as "100 %", the side named by its verification run
    _detail(d, with_finding)
    finding = _all(d, "[data-testid=detail-findings] [data-testid=finding]")[0]
    assert re.search(r"· (\d{1,3}|< 1|> 99) %", finding.text), finding.text
    assert "verification run" in finding.text
    placement = _text(d, "[data-testid=detail-placement]")
    assert "side" in placement and "verification run" in placement, placement
    assert re.search(r"\d+(\.\d)? km|\d+ m", placement), placement
    # the freedom-of-movement restriction, in words
    _detail(d, fom)
    assert "Freedom-of-movement restriction" in _text(d, "[data-testid=detail-summary]")


def test_report_form_on_a_tablet(server, browser, tmp_path):
    """768 px wide: the form fits (no horizontal scroll), its controls are touch-sized."""
    d = browser.d
    d.set_window_size(768, 1024)
    try:
        _login(d, server, "mo")
        width = d.execute_script("return window.innerWidth")
        assert width <= 768, width
        _tab(d, "report")
        _wait(d, lambda d: _css(d, "[data-testid=report-form]").is_displayed(), "the report form at tablet size")

        def fits(what: str) -> None:
            pane = _css(d, "#pane-report")
            sw, cw = d.execute_script("return [arguments[0].scrollWidth, arguments[0].clientWidth]", pane)
            assert sw <= cw, f"{what}: the form scrolls sideways ({sw} > {cw})"
            assert d.execute_script("return document.documentElement.scrollWidth") <= width, what
            right = d.execute_script("return arguments[0].getBoundingClientRect().right", pane)
            assert right <= width + 1, (what, right, width)
            for e in _all(d, "#rf-form input, #rf-form select, #rf-form textarea, #rf-form button"):
                if not e.is_displayed() or e.get_attribute("type") == "radio":
                    continue
                r = d.execute_script("return arguments[0].getBoundingClientRect().right", e)
                assert r <= right + 1, (what, e.get_attribute("data-testid"), r, right)
                if e.tag_name in ("input", "select", "button"):
                    assert e.size["height"] >= 40, (what, e.get_attribute("data-testid"), e.size)

        fits("a point")
        _click(d, "[data-testid=rf-loc-observer]")
        fits("observer, bearing and distance")
        for kind in ("civilian_casualty", "aircraft_sighting", "weapon_sighting"):
            _set(d, "rf-kind", kind)
            fits(kind)
        _screenshot(d, tmp_path, "report-form-tablet.png")
    finally:
        d.set_window_size(1366, 900)
