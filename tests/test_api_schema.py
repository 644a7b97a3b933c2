"""schemathesis against the service's own OpenAPI document: no input the document allows (and
none of the invalid ones schemathesis derives from it) gets a server error."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from api_fixtures import build_store
from linewatch.web import ServiceConfig, create_app

# the live feed never ends by itself and a daily report build takes seconds: test_api covers both
SKIP = {("GET", "/api/v1/events"), ("POST", "/api/v1/daily-reports/{day}")}


def test_no_server_errors(tmp_path, store_url):
    db, tokens = build_store(tmp_path, store_url, report=False)
    app = create_app(ServiceConfig(str(db), poll_s=0.05))
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ran, statuses = [], []
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) in SKIP:
            continue

        @given(case=op.as_strategy())
        @settings(max_examples=15, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_server_error(case):
            response = case.call(headers=headers)
            statuses.append((case.method, case.path, response.status_code))
            assert response.status_code < 500, (f"{case.method} {case.formatted_path} -> "
                                                f"{response.status_code}: {response.text[:300]}")
        no_server_error()
        ran.append((op.method.upper(), op.path))
    assert len(ran) >= 25, ran
    # and the generated calls get through (the token works): most operations answered 2xx
    assert len({(m, p) for m, p, s in statuses if s < 300}) >= 15
