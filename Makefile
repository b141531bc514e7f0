# The two set-up commands: `make demo` and `make test`. Both build .venv from nothing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PLUGINS := $(wildcard plugins/hothat-*)
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest docs bench clean install

install: $(STAMP)

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e . $(foreach p,$(PLUGINS),-e $(p)) --group dev
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hothat demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

test: lint typecheck pytest docs

bench: $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --group bench
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) site .mypy_cache .ruff_cache .pytest_cache hothat.db
