# Loopmall — the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP_BASE := $(VENV)/.installed-base
STAMP_DEV := $(VENV)/.installed-dev
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test lint format bench bench-full install install-dev browser broker loadgen serve migrate clean typecheck

$(BIN)/python:
	@echo "==> creating the Python environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP_BASE): pyproject.toml | $(BIN)/python
	@echo "==> installing Loopmall and its libraries (a minute or two on a fresh machine)"
	$(BIN)/pip install -q -e .
	touch $@

$(STAMP_DEV): pyproject.toml $(STAMP_BASE)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(STAMP_BASE)

install-dev: $(STAMP_DEV)

## demo: install, migrate SQLite under var/, load the demo world, serve on 127.0.0.1:8000
demo: install
	$(BIN)/loopmall demo --serve

serve: install
	$(BIN)/loopmall serve

migrate: install
	$(BIN)/loopmall db upgrade

## browser: Debian's Chromium for the Playwright tests (never a downloaded browser)
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  echo "installing Debian chromium for the browser tests"; \
	  apt-get update -q && apt-get install -y -q chromium fonts-noto-cjk; \
	fi

## broker: Debian's NATS server, which the broker tests start on a port of their own
## (production runs JetStream: docs/adr/0009-event-broker.md)
broker:
	@if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then \
	  echo "installing Debian nats-server for the broker tests"; \
	  apt-get update -q && apt-get install -y -q nats-server; \
	fi

lint: install-dev
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations

format: install-dev
	$(BIN)/ruff format src tests bench migrations
	$(BIN)/ruff check --fix src tests bench migrations

typecheck: install-dev
	$(BIN)/mypy src

## test: lint, mypy and the whole suite (SQLite always; PostgreSQL and Redis when reachable,
## required when CI=true)
test: install-dev browser broker lint typecheck
	$(BIN)/pytest -q -n auto --durations=20

## bench: small sizes by default; `make bench FULL=1` (or `make bench-full`) for full sizes;
## BENCH_ARGS passes more, e.g. BENCH_ARGS="--only attribution --backend sqlite"
bench: install-dev loadgen
	$(BIN)/python -m bench $(if $(FULL),--full) $(BENCH_ARGS)

bench-full: install-dev loadgen
	$(BIN)/python -m bench --full

## loadgen: Debian's wrk, the flash-sale replay's load generator (the replay falls back to
## its aiohttp generator when wrk cannot be installed)
loadgen:
	@if ! command -v wrk >/dev/null; then \
	  echo "installing Debian wrk for the flash-sale replay"; \
	  (apt-get update -q && apt-get install -y -q wrk) || echo "wrk not installed: aiohttp load"; \
	fi

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache
