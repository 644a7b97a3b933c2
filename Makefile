# The two commands a newcomer needs: `make demo` and `make test`. Both set up .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/linewatch demo --out demo-out

# The checks (ruff, mypy: strict on the core), then the tests and the core's doctests. The tests
# run every store test on SQLite and on a private PostgreSQL + PostGIS server that
# scripts/postgres.sh installs (Debian packages) and starts on 127.0.0.1 when it is not running.
test: $(STAMP) lint
	scripts/system-deps.sh
	LINEWATCH_TEST_PG="$$(scripts/postgres.sh start | tail -n 1)" LINEWATCH_REQUIRE_PG=1 \
		$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/bench_classify.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .hypothesis
