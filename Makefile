# One command to run, one to test. Everything else is set up on the way.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha256sum requirements.lock | cut -c1-12)
export PYTHONPATH := $(CURDIR)

.PHONY: run test lint fmt install demo bench clean system-tools

run: $(STAMP) ## start PostgreSQL, migrate, run the gateway and the three services
	$(BIN)/python -m ops run

demo: $(STAMP) ## make run, with a demo city loaded on first start
	$(BIN)/python -m ops run --demo

test: $(STAMP) ## lint, then every test against the embedded PostgreSQL
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory system-tools
	$(BIN)/python -m pytest

# What the end-to-end tests open the exports and the results page with, as an office would:
# LibreOffice Calc (XLSX and CSV to PDF), pdftotext (poppler-utils: the PDF's text), Chromium,
# and a font with Chinese glyphs. Each missing one is installed with apt-get where there is one
# (as root, or with a sudo that asks no password); anywhere else this says what is missing and
# goes on: those tests then skip, or fail where CI is set or REQUIRE_SYSTEM_TOOLS=1 (.ci/run).
APT_GET ?= apt-get
system-tools: ## install what the export and results-page tests need (apt-get, when missing)
	@missing=""; \
	command -v soffice >/dev/null 2>&1 || missing="$$missing libreoffice-calc-nogui"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| command -v google-chrome >/dev/null 2>&1 || missing="$$missing chromium"; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing fonts-noto-cjk"; \
	[ -n "$$missing" ] || exit 0; \
	if ! command -v $(firstword $(APT_GET)) >/dev/null 2>&1; then \
		echo "system-tools: missing$$missing (no apt-get: install them to run every test)"; exit 0; \
	fi; \
	sudo=""; \
	if [ "$$(id -u)" != 0 ]; then \
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
		else echo "system-tools: missing$$missing (not root: install them to run every test)"; exit 0; fi; \
	fi; \
	echo "system-tools: installing$$missing"; \
	log=$$(mktemp); \
	if $$sudo env DEBIAN_FRONTEND=noninteractive $(APT_GET) -qq update >"$$log" 2>&1 \
		&& $$sudo env DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq \
			--no-install-recommends $$missing >>"$$log" 2>&1; \
	then rm -f "$$log"; \
	else tail -n 20 "$$log"; rm -f "$$log"; echo "system-tools: could not install$$missing"; fi

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
