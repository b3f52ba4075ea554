# The two commands: `make run` and `make test`. Each does the whole set-up on a fresh machine.
SHELL := /bin/bash
# jsii prints a banner on every synth under an end-of-life Node (the value lists major versions).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20,22
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# checkov pins boto3, networkx and packaging to versions the project cannot share: a venv of its own.
CHECKOV_VENV := .venv-checkov
PORT ?= 4566
EVERY ?= 60
UI_PORT ?= 4567
STACK ?= OnTheDot

.PHONY: setup run test test-aws chromium lint synth deploy bench clean

# Python: pinned direct dependencies (pyproject.toml), every transitive one pinned by constraints.txt. The base
# install is a client's; `run` and the tests need the extras too: the local cloud, the CDK app, the console, dev tools.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "onthedot needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[local,cdk,dev,ui]'
	touch $@

# Node: the CDK CLI and asl-validator, pinned in package.json and package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CHECKOV_VENV)/.installed: constraints-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints-checkov.txt checkov
	touch $@

setup: $(VENV)/.installed node_modules/.installed $(CHECKOV_VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/onthedot local --demo --port $(PORT) --every $(EVERY) --ui $(UI_PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy onthedot functions infra app.py benchmarks

test: lint chromium
	$(BIN)/pytest

# The console's browser tests drive Debian's chromium (Playwright downloads no browser here): installed when missing.
chromium:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# The same suite `make test` runs on the local cloud, against a deployed stack: `make test-aws STACK=Name`.
# Without AWS credentials it is skipped, saying why.
test-aws: $(VENV)/.installed
	$(BIN)/pytest tests/aws --stack $(STACK) -ra

synth: setup
	npx --no-install cdk synth --quiet

deploy: setup
	npx --no-install cdk deploy

# The benchmarks' own extra (matplotlib, for the lateness histogram's PNG).
$(VENV)/.bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[bench]'
	touch $@

bench: $(VENV)/.installed $(VENV)/.bench
	$(BIN)/python benchmarks/dispatch_1000.py
	$(BIN)/python benchmarks/dispatch_1000.py --partitions 2
	$(BIN)/python benchmarks/schedule_10000.py
	$(BIN)/python -m benchmarks.scale_sweep
	$(BIN)/python -m benchmarks.lateness
	$(BIN)/python -m benchmarks.capacity --table
	$(BIN)/python -m benchmarks.nine_oclock

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
