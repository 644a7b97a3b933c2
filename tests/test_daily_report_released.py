"""A released daily report is refused (409 from the API, Conflict from the service) before
anything is built: the report builder, the network and the verification are never reached,
and the API answers at once even while another request holds the writer. On both stores."""

from __future__ import annotations

import json
import threading
from datetime import date

import pytest
from fastapi.testclient import TestClient

import linewatch.services.submissions as submissions
import linewatch.services.verify as verify
from api_fixtures import AGREEMENT
from linewatch.errors import Conflict
from linewatch.services import load_agreement_file
from linewatch.services.accounts import new_token, token_sha256
from linewatch.store import open_store
from linewatch.web import ServiceConfig, create_app

DAY = date(2026, 6, 15)
API = "/api/v1"


@pytest.fixture
def released(store_url):
    """A store whose report of DAY is released, and an analyst's token."""
    token = new_token()
    with open_store(store_url) as store:
        store.put_daily_report(DAY.isoformat(), report_json=json.dumps({"day": DAY.isoformat()}),
                               files=[(f"report-{DAY.isoformat()}.json", "application/json", b"{}")],
                               built_by="analyst", agreement_sha256=None)
        store.release_daily_report(DAY.isoformat(), released_by="analyst")
        store.add_user("analyst", "analyst", token_sha256(token))
    return store_url, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def builds(monkeypatch):
    """The calls that would start a build: the report builder and the network's coverage."""
    calls: list[str] = []

    def builder(*args, **kwargs):
        calls.append("daily_report")
        raise AssertionError("a released day reached the report builder")

    def network(*args, **kwargs):
        calls.append("coverage_from_network")
        raise AssertionError("a released day read the network")
    monkeypatch.setattr(submissions, "daily_report", builder)
    monkeypatch.setattr(verify, "coverage_from_network", network)
    return calls


def test_the_service_refuses_a_released_day_before_it_builds(released, builds, tmp_path):
    url, _ = released
    with open_store(url) as store, pytest.raises(Conflict, match=f"{DAY.isoformat()} was released"):
        submissions.build_daily_report(store, load_agreement_file(AGREEMENT), DAY, built_by="analyst",
                                       network_path=tmp_path / "network.json", verify_first=True)
    assert builds == []


@pytest.mark.parametrize("query", ["", "?verify_first=true"])
def test_the_api_answers_409_before_it_builds(released, builds, query):
    url, headers = released
    with TestClient(create_app(ServiceConfig(url))) as client:
        r = client.post(f"{API}/daily-reports/{DAY.isoformat()}{query}", headers=headers)
    assert r.status_code == 409, r.text
    assert "released" in r.json()["detail"] and DAY.isoformat() in r.json()["detail"]
    assert builds == []


def test_the_api_answers_409_while_another_build_holds_the_writer(released, builds):
    """The refusal does not wait for the writer (a build holds it for seconds)."""
    url, headers = released
    answers: list[int] = []
    with TestClient(create_app(ServiceConfig(url))) as client:
        lock = client.app.state.linewatch.write_lock
        with lock:
            t = threading.Thread(target=lambda: answers.append(
                client.post(f"{API}/daily-reports/{DAY.isoformat()}", headers=headers).status_code))
            t.start()
            t.join(timeout=60)
            done = not t.is_alive()
        t.join()
    assert done, "the refusal waited for the writer"
    assert answers == [409] and builds == []


def test_an_unreleased_day_still_reaches_the_builder(store_url, builds):
    """The check refuses released days only."""
    with open_store(store_url) as store, pytest.raises(AssertionError, match="report builder"):
        submissions.build_daily_report(store, load_agreement_file(AGREEMENT), DAY, built_by="analyst")
    assert builds == ["daily_report"]
