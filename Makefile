# One command to run, one to test. Everything else is set up on the way.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha256sum requirements.lock | cut -c1-12)
export PYTHONPATH := $(CURDIR)

.PHONY: run test lint fmt install demo bench clean

run: $(STAMP) ## start PostgreSQL, migrate, run the gateway and the three services
	$(BIN)/python -m ops run

demo: $(STAMP) ## make run, with a demo city loaded on first start
	$(BIN)/python -m ops run --demo

test: $(STAMP) ## lint, then every test against the embedded PostgreSQL
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

install: $(STAMP)

$(STAMP): requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	rm -f $(VENV)/.installed-* && touch $@

bench: $(STAMP)
	$(BIN)/python bench/gateway_overhead.py

.PHONY: bench-findings bench-referrals
bench-findings: $(STAMP) ## recording findings, direct vs through the gateway, and the batch
	$(BIN)/python bench/findings_capture.py

bench-referrals: $(STAMP) ## the hand-over statistics over 100,000 leads, with the plans
	$(BIN)/python bench/referrals_stats.py --explain

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
