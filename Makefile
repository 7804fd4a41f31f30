# Bayline: `make run` starts the app on SQLite; `make test` runs every suite this machine can run.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: run demo test test-sqlite test-pg test-browser test-socket-memory chaos lint bench clean vendor-axe

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Stamps: re-install only when pyproject.toml changes.
$(VENV)/.run-deps: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[test,browser]'
	touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(PY) -m api serve --host $(HOST) --port $(PORT)

demo: $(VENV)/.run-deps
	$(PY) -m api demo

test: test-sqlite test-pg test-browser lint

test-sqlite: $(VENV)/.test-deps
	$(PY) -m pytest -p no:playwright --ignore=tests/browser --ignore=tests/bench tests

# On CI (CI=true) a missing PostgreSQL or Chromium fails the run; locally the suite is skipped
# with the reason printed.
test-pg: $(VENV)/.test-deps
	@if $(PY) -c "import asyncio, asyncpg, sys; asyncio.run(asyncpg.connect('$(TEST_DATABASE_URL)', timeout=5))" 2>/dev/null; then \
		TEST_DATABASE_URL='$(TEST_DATABASE_URL)' $(PY) -m pytest -p no:playwright --ignore=tests/browser --ignore=tests/bench tests; \
	elif [ -n "$$CI" ]; then echo "PostgreSQL suite: cannot reach $(TEST_DATABASE_URL) (required on CI)"; exit 1; \
	else echo "PostgreSQL suite SKIPPED: cannot reach $(TEST_DATABASE_URL) (set TEST_DATABASE_URL or start PostgreSQL)"; fi

test-browser: $(VENV)/.test-deps
	@if [ -x /usr/bin/chromium ]; then \
		BAYLINE_TEST_PG='$(TEST_DATABASE_URL)' $(PY) -m pytest -p no:asyncio tests/browser; \
	elif [ -n "$$CI" ]; then echo "Browser suite: /usr/bin/chromium missing (required on CI)"; exit 1; \
	else echo "Browser suite SKIPPED: /usr/bin/chromium missing (apt-get install chromium)"; fi

# Status-page sockets give their memory back, at the issue's 5,000 sockets (the suite runs 1,000).
test-socket-memory: $(VENV)/.test-deps
	SOCKET_MEMORY_COUNT=5000 $(PY) -m pytest -p no:playwright -s tests/realtime/test_socket_memory.py

# The chaos test with random seeds (printed; rerun one with CHAOS_SEEDS=<seed>), RUNS per database.
chaos: $(VENV)/.test-deps
	CHAOS_SEEDS=random CHAOS_RUNS=$(or $(RUNS),3) BAYLINE_TEST_PG='$(TEST_DATABASE_URL)' \
		$(PY) -m pytest -p no:asyncio tests/browser/test_chaos.py

lint: $(VENV)/.test-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

bench: $(VENV)/.test-deps
	@$(PY) -m pip install -q pyvips pyvips-binary >/dev/null 2>&1 || echo "pyvips not installable here: bench_photos skips that comparison"
	@ls tests/bench/*.py >/dev/null 2>&1 && for f in tests/bench/bench_*.py; do $(PY) $$f || exit 1; done || echo "no benchmarks yet"

# axe-core for the browser suite's accessibility check (tests/browser/test_a11y.py), pinned and kept in
# the tree so the tests need no network: `make vendor-axe` (or AXE_VERSION=4.x.y) refreshes it from npm.
AXE_VERSION ?= 4.10.3
AXE_DIR := tests/browser/vendor
vendor-axe:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	tgz=$$(cd "$$tmp" && npm pack --silent axe-core@$(AXE_VERSION)); \
	tar -xzf "$$tmp/$$tgz" -C "$$tmp"; \
	mkdir -p $(AXE_DIR); \
	cp "$$tmp/package/axe.min.js" $(AXE_DIR)/axe.min.js; \
	cp "$$tmp/package/LICENSE" $(AXE_DIR)/LICENSE.axe-core; \
	cp "$$tmp/package/LICENSE-3RD-PARTY.txt" $(AXE_DIR)/LICENSE-3RD-PARTY.axe-core; \
	{ echo "axe-core $(AXE_VERSION) (npm), file package/axe.min.js, licence MPL-2.0 (LICENSE.axe-core;"; \
	  echo "bundled third-party code: LICENSE-3RD-PARTY.axe-core). Refresh: make vendor-axe AXE_VERSION=x.y.z"; \
	  echo "sha256 $$(sha256sum $(AXE_DIR)/axe.min.js | cut -d' ' -f1)  axe.min.js"; } > $(AXE_DIR)/VERSION; \
	cat $(AXE_DIR)/VERSION

clean:
	rm -rf $(VENV) *.egg-info
