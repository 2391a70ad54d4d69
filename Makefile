# Task runner. `make setup` is idempotent: it installs only what changed since the last run.
SHELL := /bin/bash
PY := .venv/bin/python
UV := .venv/bin/uv
NODE_STAMP := node_modules/.kit-installed
VENV_STAMP := .venv/.kit-installed
COMPAT_VENV := .venv-compat/infernet-client-1.4
COMPAT_STAMP := $(COMPAT_VENV)/.kit-installed
# The platform binaries, not npm's launchers: `node_modules/.bin/forge` exits 0 even when tests fail.
FOUNDRY_PLATFORM := $(shell node -p "process.platform + '-' + ({x64: 'amd64', arm64: 'arm64'})[process.arch]")
FORGE := node_modules/@foundry-rs/forge-$(FOUNDRY_PLATFORM)/bin/forge

.PHONY: setup postgresql chromium build build-tests wheel test test-contracts test-python forge-test gas-check lint \
	demo bench dashboard-screenshot clean

setup: $(NODE_STAMP) $(VENV_STAMP) $(COMPAT_STAMP) postgresql chromium

# Debian's PostgreSQL server, for the tests and benchmarks of the shared job store (its binaries stay out of PATH).
postgresql:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; }

# Debian's chromium, which the dashboard's browser test drives through Playwright (no browser is downloaded).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# uv installs the packages (pip's wheel downloads and installs, one at a time, were most of a fresh setup).
$(VENV_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	test -x $(UV) || $(PY) -m pip install --quiet --disable-pip-version-check 'uv>=0.5'
	$(UV) pip install --quiet --python $(PY) -e '.[dev]'
	@touch $@

# The official infernet-client, for the compatibility tests (see the requirements file for why it is apart).
$(COMPAT_STAMP): tests/node/compat/requirements.txt | $(VENV_STAMP)
	python3 -m venv --clear --without-pip $(COMPAT_VENV)
	$(UV) pip install --quiet --python $(COMPAT_VENV)/bin/python --no-deps infernet-client==1.4.0 infernet-ml==2.0.0
	$(UV) pip install --quiet --python $(COMPAT_VENV)/bin/python -r $<
	@touch $@

# The contracts the kit deploys and ships (via-IR, optimized; `chain.artifacts.build` builds the same).
build: setup
	$(FORGE) build --skip test

# The forge tests, in foundry.toml's `tests` and `tests-via-ir` profiles: unoptimized, apart in out/tests*,
# deploying `build`'s output.
build-tests: setup
	FOUNDRY_PROFILE=tests $(FORGE) build
	FOUNDRY_PROFILE=tests-via-ir $(FORGE) build

# An installable kit: the package with the contracts' sources and artifacts inside (hatch_build.py), in dist/.
wheel: build
	$(PY) -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation --wheel-dir dist .

# pytest needs only `build`: the forge tests' own build (about half a minute of one core, fresh) and the forge tests
# run beside it, which pytest's waits on blocks and processes leave room for. Setup runs first and alone (its
# apt-get steps must not run at once); lines of the two sides never tear.
test: setup
	$(MAKE) --no-print-directory -j2 --output-sync=line test-contracts test-python

test-contracts: build build-tests
	$(MAKE) --no-print-directory forge-test gas-check

# Three workers, a test file each at a time: most tests wait on blocks and processes, not on the 2 cores. Tests
# that raced the machine's load (a sleep outlasting a fill, a kill landing on an idle worker) now wait on events.
# Bytecode caches are written (in __pycache__, which git ignores) even where PYTHONDONTWRITEBYTECODE is set: the
# suite starts hundreds of Python processes (nodes, services, CLI commands), and without the caches (uv installs
# none) each compiled every module it imports again, twice a node's CPU, and pytest rewrote every test module in
# every worker.
test-python: export PYTHONDONTWRITEBYTECODE :=
test-python: build
	$(PY) -m pytest -n 3 --dist loadfile

# FORGE_FLAGS (e.g. `--root DIR`) lets a test point these two at another project and watch them fail.
forge-test:
	FOUNDRY_PROFILE=tests $(FORGE) test $(FORGE_FLAGS)
	FOUNDRY_PROFILE=tests-via-ir $(FORGE) test $(FORGE_FLAGS)

# A gas regression in the benchmarked paths fails the build; `FOUNDRY_PROFILE=tests-via-ir forge snapshot --mc
# GasTest` accepts a new figure.
gas-check:
	FOUNDRY_PROFILE=tests-via-ir $(FORGE) snapshot --mc GasTest --check $(FORGE_FLAGS)

lint: setup
	.venv/bin/ruff check service tests scripts bench
	.venv/bin/ruff format --check service tests scripts bench
	.venv/bin/mypy

demo: build
	.venv/bin/infernet-kit demo

bench: build
	$(PY) bench/contracts_gas.py
	$(PY) bench/services.py
	$(PY) bench/node.py
	$(PY) bench/user_e2e.py
	$(PY) bench/node_onchain.py --modes ""

# The README's picture of the dashboard, from its browser test (which otherwise writes it to its tmp dir only).
dashboard-screenshot: build
	INFERNET_KIT_DASHBOARD_PNG=$(CURDIR)/docs/dashboard.png $(PY) -m pytest tests/dashboard/test_dashboard_live.py \
		-k callback_request -q -p no:cacheprovider

clean:
	rm -rf out cache broadcast .kit .venv-compat dist
