# The two commands: `make run` and `make test`. Each does the whole set-up on a fresh machine.
SHELL := /bin/bash
# jsii prints a banner on every synth under an end-of-life Node (the value lists major versions).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20,22
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 4566
EVERY ?= 60

.PHONY: setup run test lint synth deploy bench clean

# Python: pinned direct dependencies (pyproject.toml), every transitive one pinned by constraints.txt.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "onthedot needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[cdk,dev]'
	touch $@

# Node: the CDK CLI and asl-validator, pinned in package.json and package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

run: $(VENV)/.installed
	$(BIN)/onthedot local --demo --port $(PORT) --every $(EVERY)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy onthedot functions infra app.py benchmarks

test: lint
	$(BIN)/pytest

synth: setup
	npx --no-install cdk synth --quiet

deploy: setup
	npx --no-install cdk deploy

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/dispatch_1000.py
	$(BIN)/python benchmarks/dispatch_1000.py --partitions 2
	$(BIN)/python benchmarks/schedule_10000.py

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
