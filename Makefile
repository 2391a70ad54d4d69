# Task runner. `make setup` is idempotent: it installs only what changed since the last run.
SHELL := /bin/bash
PY := .venv/bin/python
NODE_STAMP := node_modules/.kit-installed
VENV_STAMP := .venv/.kit-installed

.PHONY: setup build test test-contracts test-python lint demo bench clean

setup: $(NODE_STAMP) $(VENV_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

$(VENV_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

build: setup
	node_modules/.bin/forge build

test: build
	node_modules/.bin/forge test
	$(PY) -m pytest

lint: setup
	.venv/bin/ruff check service tests scripts bench
	.venv/bin/ruff format --check service tests scripts bench
	.venv/bin/mypy

demo: build
	.venv/bin/infernet-kit demo

bench: build
	$(PY) bench/services.py
	$(PY) bench/node.py

clean:
	rm -rf out cache broadcast .kit
