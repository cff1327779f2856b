# civicpass: two commands do all set-up on a fresh machine.
#   make run   - create .venv, install, migrate an SQLite database under ./var/, seed a demo city, serve on :8000
#   make test  - create .venv, install with dev tools, lint, type-check, check layers, run every test tier
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
PYTEST_WORKERS ?= 2

.PHONY: run test lint unit integration e2e bench install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/civicpass serve --seed

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

unit: install
	$(BIN)/pytest tests/unit tests/conformance

integration: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile tests/integration

e2e: install
	$(BIN)/pytest tests/e2e

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
