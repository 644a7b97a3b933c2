"""Hypothesis profiles: ``ci`` (set HYPOTHESIS_PROFILE=ci, as .ci/run does) derandomizes the
search so that a CI run is reproducible; locally each run explores new examples."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# the audit witness of a PostgreSQL store lives under XDG_STATE_HOME: never the user's own in tests
import tempfile  # noqa: E402

os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="linewatch-test-state-")


# -- stores: every test that takes ``store_url`` or ``new_store_url`` runs on both ---------------
#
# ``make test`` starts a private PostgreSQL + PostGIS server (scripts/postgres.sh) and sets
# LINEWATCH_TEST_PG to its URL, and LINEWATCH_REQUIRE_PG=1 so that a missing server fails the
# run instead of skipping half of it. Each test gets a schema of its own, dropped afterwards.

import uuid  # noqa: E402

import pytest  # noqa: E402

PG_URL = os.environ.get("LINEWATCH_TEST_PG")
REQUIRE_PG = os.environ.get("LINEWATCH_REQUIRE_PG") == "1"


def pg_schema_url(schema: str) -> str:
    """The test server's URL with ``schema`` first on the search path (PostGIS in public)."""
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema},public"


def need_pg() -> None:
    """Skip without a PostgreSQL server, or fail where one is required (``make test``)."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("LINEWATCH_TEST_PG is not set: run `make test`, or start a server with "
                        "scripts/postgres.sh start and export its URL")
        pytest.skip("no PostgreSQL server (set LINEWATCH_TEST_PG; make test starts one)")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_kind(request) -> str:
    if request.param == "postgresql":
        need_pg()
    return request.param


def _store_factory(kind: str, tmp_path):
    schemas: list[str] = []

    def make(name: str = "store") -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / (name + '.sqlite')}"
        import psycopg
        schema = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(PG_URL, autocommit=True) as c:
            c.execute(f'CREATE SCHEMA "{schema}"')
        schemas.append(schema)
        return pg_schema_url(schema)

    def drop() -> None:
        if schemas:
            import psycopg
            with psycopg.connect(PG_URL, autocommit=True) as c:
                for schema in schemas:
                    c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return make, drop


@pytest.fixture
def new_store_url(store_kind, tmp_path):
    """``new_store_url(name)``: the URL of a new, empty store of the test's kind."""
    make, drop = _store_factory(store_kind, tmp_path)
    yield make
    drop()


@pytest.fixture
def new_pg_url(tmp_path):
    """``new_pg_url(name)``: a new, empty PostgreSQL store (for tests of PostgreSQL alone)."""
    need_pg()
    make, drop = _store_factory("postgresql", tmp_path)
    yield make
    drop()


@pytest.fixture
def store_url(new_store_url) -> str:
    """The URL of a new, empty store: a SQLite file, then a PostgreSQL schema."""
    return new_store_url()


# -- the same for module-scoped fixtures (a store built once and served to a module's tests) ------

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_store_kind(request) -> str:
    """``store_kind`` at module scope: the module's tests run once per kind of store."""
    if request.param == "postgresql":
        need_pg()
    return request.param


@pytest.fixture(scope="module")
def module_new_store_url(module_store_kind, tmp_path_factory):
    """``new_store_url`` at module scope: its stores (SQLite files, PostgreSQL schemas) live
    until the module's last test of that kind has run."""
    make, drop = _store_factory(module_store_kind, tmp_path_factory.mktemp(module_store_kind))
    yield make
    drop()
