# tradefleet developer commands. `make help` lists them.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# One stamp per install: `make up` installs what runs (.[local]), `make test` adds the
# test tools (.[dev,local]).
RUN_STAMP := $(VENV)/.installed-local
TEST_STAMP := $(VENV)/.installed-dev
UP_ARGS := $(if $(NEW_KEY),--new-key)
PYTEST_ARGS ?=
# Test files run in parallel, one pytest process per core (each with its own Redis,
# InfluxDB and workers); TEST_WORKERS=0 runs them in this process, one after another.
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help venv venv-dev up test lint fmt secret-key autorsa clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

venv: $(RUN_STAMP) ## create .venv and install what runs (tradefleet and the local extra)

venv-dev: $(TEST_STAMP) ## venv plus the test tools (the dev extra)

$(RUN_STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[local]'
	touch $(RUN_STAMP)

$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install -e '.[dev,local]'
	touch $(TEST_STAMP)

up: venv ## run everything locally (embedded Redis, web, worker, beat, flower); NEW_KEY=1 replaces the dev API key
	$(BIN)/python scripts/up.py $(UP_ARGS)

test: venv-dev ## run the test suite (PYTEST_ARGS="-k name -x" to narrow it)
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS) || { rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$rc; }

lint: venv-dev ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: venv-dev ## format and autofix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

secret-key: venv ## print a new Fernet key for TRADEFLEET_SECRET_KEY
	@$(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'

autorsa: ## install AutoRSA (the auto_rsa_bot CLI) for real brokerages
	bash scripts/install_autorsa.sh

clean: ## remove local state under var/ (keeps var/secret.key) and caches; keeps .venv
	@if [ -d var ]; then find var -mindepth 1 -maxdepth 1 ! -name secret.key -exec rm -rf {} +; fi
	rm -rf .pytest_cache .ruff_cache build dist
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
