# Two commands on a fresh machine: `make run` and `make test`. Each installs what it needs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: install run test lint format bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

## run: the whole product locally (moto on 127.0.0.1:$$MOTO_PORT, API on 127.0.0.1:$$PORT); Ctrl-C stops it
run: install
	$(PY) -m chalicelib.local

## test: lint, format check and the whole pytest suite
test: install lint
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

## bench: AWS calls per 1,000 items, Comprehend units, export reads, import time → BENCHMARKS.md
bench: install
	$(PY) -m tools.bench --write BENCHMARKS.md

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
