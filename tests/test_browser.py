"""The map dashboard end to end in a real browser (Chromium, headless, driven by Selenium).

A day of the project's own generated reports is ingested and verified into a fresh store (a
SQLite file, then a PostgreSQL schema: the module runs once per kind of store),
``linewatch serve`` runs it in a subprocess, and Chromium logs in with an analyst's token,
waits for the markers, narrows the time window (the visible count must equal what the API
returns for the new window), opens a report's detail (its findings must be the API's), sees
a record posted through the API appear without a reload (server-sent events), works at a
tablet's size, and never asks anything of a host other than 127.0.0.1.

Needs Debian's ``chromium`` and ``chromium-driver`` (``make test`` installs them). Without them
the test fails, and says so, unless ``LINEWATCH_SKIP_BROWSER=1`` is set; Selenium Manager is
never used (no download). ``LINEWATCH_SCREENSHOT_DIR``: also save the screenshots there.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
DAY = date(2026, 6, 15)
CHROMIUM = os.environ.get("LINEWATCH_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LINEWATCH_CHROMEDRIVER", "/usr/bin/chromedriver")
HOST = "127.0.0.1"
LOCAL_SCHEMES = ("data", "blob", "about", "chrome", "chrome-untrusted", "devtools")
WAIT_S = 20

pytestmark = pytest.mark.slow


def _need_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).is_file() and os.access(p, os.X_OK))]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[test]')")
    if not missing:
        return
    msg = (f"the browser test needs Chromium, its driver and Selenium; missing: {', '.join(missing)}. "
           "`make test` installs them (Debian: apt-get install chromium chromium-driver); "
           "set LINEWATCH_SKIP_BROWSER=1 to skip this test")
    if os.environ.get("LINEWATCH_SKIP_BROWSER") == "1":
        pytest.skip(msg)
    pytest.fail(msg, pytrace=False)


# -- the store and the server -------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _build_store(db: str, work: Path) -> None:
    from linewatch.services import day_window, ingest_file, load_agreement_file, verify_store
    from linewatch.sim import generate_day
    from linewatch.store import open_store
    loaded = load_agreement_file(AGREEMENT)
    records = generate_day(loaded.agreement, DAY, seed=20251)
    src = work / "day.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with open_store(db) as store:
        ingest_file(store, src)
        start, end = day_window(DAY)
        verify_store(store, loaded, start=start, end=end)


class Server:
    def __init__(self, base: str, token: str, db: str) -> None:
        self.base, self.token, self.db = base, token, db
        import httpx
        self.http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                 timeout=30)

    def features(self, path: str, **params) -> list[dict]:
        """Every feature of a FeatureCollection, following "next"."""
        out, url = [], path
        params = {"limit": 5000, **params}
        while url:
            r = self.http.get(url, params=params)
            r.raise_for_status()
            page = r.json()
            out += page["features"]
            url, params = page.get("next"), None
        return out


@pytest.fixture(scope="module")
def server(tmp_path_factory, module_new_store_url):
    _need_browser()
    work = tmp_path_factory.mktemp("browser")
    db = module_new_store_url("store")
    _build_store(db, work)
    proc = subprocess.run([sys.executable, "-m", "linewatch", "user", "add", "ana", "--role", "analyst",
                           "--db", db, "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    token = json.loads(proc.stdout)["token"]
    with serving(db, work) as base:
        s = Server(base, token, db)
        yield s
        s.http.close()


@contextmanager
def serving(db: str, work: Path) -> Iterator[str]:
    """``linewatch serve`` on the store ``db`` on 127.0.0.1 (a free port), its log in ``work``:
    its base URL once it answers /api/v1/health; stopped on exit."""
    port = _free_port()
    log = (work / "serve.log").open("w")
    srv = subprocess.Popen([sys.executable, "-m", "linewatch", "serve", "--db", str(db), "--host", HOST,
                            "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://{HOST}:{port}"
    try:
        import httpx
        deadline = time.monotonic() + 30
        while True:
            if srv.poll() is not None:
                pytest.fail(f"linewatch serve exited with {srv.returncode}: "
                            f"{(work / 'serve.log').read_text()}", pytrace=False)
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("linewatch serve did not answer /api/v1/health within 30 s", pytrace=False)
            time.sleep(0.1)
        yield base
    finally:
        srv.terminate()
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait(5)
        log.close()


# -- the browser --------------------------------------------------------------------------------

class Browser:
    """The driver plus every URL the page asked for (from Chrome's performance log)."""

    def __init__(self, driver) -> None:
        self.d = driver
        self.urls: list[str] = []

    def drain(self) -> list[str]:
        for entry in self.d.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                self.urls.append(msg["params"]["request"]["url"])
        return self.urls

    def foreign(self) -> list[str]:
        """Network requests to a host other than 127.0.0.1 (data:, blob:, about: and the
        browser's own chrome:// pages, such as the first new tab, never touch the network)."""
        return [url for url in self.drain() if urlsplit(url).scheme not in LOCAL_SCHEMES
                and urlsplit(url).hostname != HOST]


@contextmanager
def chromium(profile: Path) -> Iterator[Browser]:
    """Headless Chromium (its profile in ``profile``) that resolves no name but 127.0.0.1 and
    never lets Selenium Manager download anything; quit on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--disable-extensions", "--window-size=1366,900",
                f"--user-data-dir={profile}",
                # belt and braces: a name other than 127.0.0.1 does not resolve at all (the
                # request would still show in the performance log, and the test would fail)
                f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {HOST}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SE_OFFLINE", "true")      # never let Selenium Manager fetch anything
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield Browser(driver)
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b


def _wait(driver, cond, what: str, timeout: float = WAIT_S):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: cond(d))
    except TimeoutException:
        logs = [e["message"] for e in driver.get_log("browser")]
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; browser console: {logs}") from None


def _css(driver, sel: str):
    from selenium.webdriver.common.by import By
    return driver.find_element(By.CSS_SELECTOR, sel)


def _all(driver, sel: str):
    from selenium.webdriver.common.by import By
    return driver.find_elements(By.CSS_SELECTOR, sel)


def _loaded(d) -> bool:
    m = _css(d, "[data-testid=map]")
    if m.get_attribute("data-loading") != "false":
        return False
    slider = _css(d, "[data-testid=time-slider]")
    return (m.get_attribute("data-window-end") == slider.get_attribute("data-end")
            and m.get_attribute("data-window-start") == slider.get_attribute("data-start"))


def _window(d) -> tuple[str, str]:
    s = _css(d, "[data-testid=time-slider]")
    return s.get_attribute("data-start"), s.get_attribute("data-end")


def _count(d) -> int:
    n = int(_css(d, "[data-testid=map]").get_attribute("data-count"))
    assert n == d.execute_script("return window.linewatch.visibleCount()")
    return n


def _screenshot(driver, tmp_path: Path, name: str) -> Path:
    import numpy as np
    from matplotlib.image import imread
    path = tmp_path / name
    assert driver.save_screenshot(str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "the screenshot is not a PNG"
    pixels = imread(io.BytesIO(data), format="png")[..., :3]
    h, w = pixels.shape[:2]
    assert w >= 600 and h >= 600, (w, h)
    # non-trivial: many distinct colours (map, markers, text), not a blank or single-colour page
    colours = np.unique((pixels.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
    assert len(colours) > 200 and pixels.std() > 0.05, (len(colours), float(pixels.std()))
    out_dir = os.environ.get("LINEWATCH_SCREENSHOT_DIR")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(out_dir) / name)
    return path


# -- the tests ----------------------------------------------------------------------------------

def test_dashboard_end_to_end(server, browser, tmp_path):
    from selenium.webdriver.common.keys import Keys
    d = browser.d
    d.get(server.base + "/")

    # login: a bad token is refused with a message, the analyst's is accepted
    token_input = _wait(d, lambda d: _css(d, "[data-testid=token-input]").is_displayed()
                        and _css(d, "[data-testid=token-input]"), "the login form")
    token_input.send_keys("lw_not-a-token")
    _css(d, "[data-testid=login-submit]").click()
    _wait(d, lambda d: _css(d, "[data-testid=login-error]").text.strip(), "the login error")
    token_input.clear()
    token_input.send_keys(server.token)
    _css(d, "[data-testid=login-submit]").click()
    _wait(d, lambda d: _css(d, "[data-testid=map]").is_displayed(), "the map")
    assert _css(d, "[data-testid=user-role]").text == "analyst"

    # the markers of the whole store's range (one day: the first window is all of it)
    _wait(d, _loaded, "the reports to load")
    full = _count(d)
    start, end = _window(d)
    api_full = server.features("/api/v1/reports", start=start, end=end)
    assert full == len(api_full) > 100, (full, len(api_full))
    assert len(_all(d, "[data-testid=report-item]")) > 0

    # a narrower window: the end thumb twelve hours back, from the keyboard
    end_slider = _css(d, "[data-testid=time-end]")
    for _ in range(12):
        end_slider.send_keys(Keys.ARROW_LEFT)
    _wait(d, lambda d: _window(d) != (start, end) and _loaded(d), "the narrower window to load")
    n_start, n_end = _window(d)
    assert n_start == start and datetime.fromisoformat(n_end.replace("Z", "+00:00")) == \
        datetime.fromisoformat(end.replace("Z", "+00:00")) - timedelta(hours=12)
    narrow = _count(d)
    api_narrow = server.features("/api/v1/reports", start=n_start, end=n_end)
    assert 0 < narrow < full and narrow == len(api_narrow), (narrow, full, len(api_narrow))
    assert "12 h" in _css(d, "[data-testid=time-window]").text
    listed = set(d.execute_script("return window.linewatch.listedIds()"))
    assert listed == {f["properties"]["id"] for f in api_narrow}

    # a report's detail: its id and the findings the API gives for it
    chosen = None
    for item in _all(d, "[data-testid=report-item]")[:30]:
        rid = item.get_attribute("data-id")
        detail = server.http.get(f"/api/v1/reports/{rid}").json()
        if detail["findings"]:
            chosen = (item, rid, detail)
            break
    assert chosen, "no report in the list has a finding"
    item, rid, detail = chosen
    item.click()
    panel = _css(d, "[data-testid=detail-panel]")
    _wait(d, lambda d: panel.get_attribute("data-id") == rid and panel.get_attribute("data-loading") == "false"
          and panel.is_displayed(), "the detail panel")
    assert _css(d, "[data-testid=detail-id]").text == rid
    shown = _all(d, "[data-testid=detail-findings] [data-testid=finding]")
    assert len(shown) == len(detail["findings"])
    assert sorted(f.get_attribute("data-rule") for f in shown) == sorted(f["rule_id"] for f in detail["findings"])
    assert {f.get_attribute("data-verdict") for f in shown} == {f["verdict"] for f in detail["findings"]}
    assert _css(d, "[data-testid=detail-evidence]").is_displayed()
    if detail.get("audit"):
        assert f"#{detail['audit']['index']}" in _css(d, "[data-testid=detail-audit]").text
    _css(d, "[data-testid=tab-map]").click()

    # a record posted through the API appears without a reload (server-sent events)
    _wait(d, lambda d: _css(d, "[data-testid=live-status]").get_attribute("data-state") == "live",
          "the live feed to connect")
    d.execute_script("window.__noReload = true")
    some = api_narrow[0]
    lon, lat = some["geometry"]["coordinates"]
    when = datetime.fromisoformat(n_start.replace("Z", "+00:00")) + timedelta(hours=1, minutes=17)
    new_id = "browser-live-1"
    r = server.http.post("/api/v1/reports", json={
        "id": new_id, "kind": "explosion", "explosion_type": "impact",
        "time": when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "lon": lon, "lat": lat, "radius_m": 300, "source_kind": "patrol", "source_id": "PATROL-LIVE",
        "description": "<b>posted by the browser test</b>"})
    assert r.status_code in (200, 201), r.text
    assert r.json()["added"] == 1, r.text
    _wait(d, lambda d: _all(d, f"[data-testid=report-item][data-id='{new_id}']"), "the live report in the list")
    assert _count(d) == narrow + 1
    assert int(_css(d, "[data-testid=live-count]").get_attribute("data-count")) >= 1
    assert d.execute_script("return window.__noReload === true"), "the page reloaded"
    # the description is shown as text, never as markup
    _all(d, f"[data-testid=report-item][data-id='{new_id}']")[0].click()
    _wait(d, lambda d: _css(d, "[data-testid=detail-panel]").get_attribute("data-id") == new_id
          and _css(d, "[data-testid=detail-panel]").get_attribute("data-loading") == "false",
          "the live report's detail")
    assert "<b>posted by the browser test</b>" in _css(d, "[data-testid=detail-properties]").text
    assert not _all(d, "[data-testid=detail-panel] b")

    _screenshot(d, tmp_path, "dashboard.png")
    assert browser.urls or browser.drain(), "the performance log recorded no request"
    assert any(urlsplit(u).path == "/api/v1/events" for u in browser.drain())
    assert browser.foreign() == [], f"requests to other hosts: {browser.foreign()}"


def test_tablet_layout(server, browser, tmp_path):
    d = browser.d
    d.set_window_size(820, 1180)
    d.get(server.base + "/")          # the session cookie logs the dashboard straight in
    if _css(d, "[data-testid=login-screen]").is_displayed():
        _css(d, "[data-testid=token-input]").send_keys(server.token)
        _css(d, "[data-testid=login-submit]").click()
    _wait(d, lambda d: _css(d, "[data-testid=map]").is_displayed() and _loaded(d), "the map at tablet size")
    assert _count(d) > 0
    panel, toggle, map_el = (_css(d, "[data-testid=side-panel]"), _css(d, "[data-testid=panel-toggle]"),
                             _css(d, "[data-testid=map]"))
    viewport = d.execute_script("return [window.innerWidth, window.innerHeight]")
    assert viewport[0] <= 900
    assert toggle.size["height"] >= 40 and toggle.size["width"] >= 40, toggle.size
    # narrow: the panel starts closed and the map takes the screen
    _wait(d, lambda d: not panel.is_displayed(), "the panel to start closed")
    assert map_el.is_displayed() and map_el.size["width"] >= viewport[0] - 2
    toggle.click()
    _wait(d, lambda d: panel.is_displayed(), "the panel to open")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert map_el.is_displayed() and panel.size["width"] < viewport[0] * 0.9, panel.size
    # the panel's controls are touch-sized
    for sel in ("[data-testid=time-end]", "[data-testid=filter-kind]", "[data-testid=report-item]"):
        assert _all(d, sel)[0].size["height"] >= 40, sel
    _screenshot(d, tmp_path, "dashboard-tablet.png")
    toggle.click()
    _wait(d, lambda d: not panel.is_displayed(), "the panel to close")
    assert map_el.is_displayed()
    assert browser.foreign() == [], f"requests to other hosts: {browser.foreign()}"
