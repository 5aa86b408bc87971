# streamwidget developer commands.
#
#   make demo   create .venv, install streamwidget[demo] (editable), open the quickstart in JupyterLab
#   make test   create .venv, install streamwidget[test], chromium, then lint + npm test + pytest
#
# The second run is fast: every set-up step is a file target (stamps inside .venv and
# js/node_modules) that is redone only when its inputs change.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8888
NOTEBOOK ?= notebooks/01-quickstart.ipynb
# Extra arguments for pytest, e.g. `make test PYTEST_ARGS="-m 'not browser' -x"`.
PYTEST_ARGS ?=

VENV_ABS := $(abspath $(VENV))
VPY := $(VENV)/bin/python
STATIC_JS := src/streamwidget/static/bundle.js
NODE_STAMP := js/node_modules/.streamwidget-installed
# Everything in js/ that can change the bundle (not installed or generated files).
JS_SOURCES := $(shell find js \( -name node_modules -o -name coverage -o -name dist -o -name '.*' \) -prune \
                -o -type f -print 2>/dev/null)
JS_LOCK := $(wildcard js/package-lock.json)
LINT_PATHS := $(wildcard src tests scripts benchmarks)
LLAMA_SCRIPT := $(wildcard scripts/install-llama.sh)
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# Open a browser only where there is a screen; elsewhere just print the URL.
OPEN_BROWSER := $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY)),,--no-browser)

.PHONY: help demo test setup lint format js-test pytest chromium clean bench check-wheel

help:
	@echo "make demo    - set up .venv and open $(NOTEBOOK) in JupyterLab (HOST=$(HOST) PORT=$(PORT))"
	@echo "make test    - set up .venv + chromium, then ruff, npm test, pytest (PYTEST_ARGS=...)"
	@echo "make lint    - ruff, import-linter layers, mypy;  make format - apply ruff format"
	@echo "make bench   - run benchmarks/ (not tests): one table, docs/benchmarks.md (BENCH_ARGS=--quick)"
	@echo "make check-wheel - build the wheel, install it in fresh venvs (no Node), run the quickstart"
	@echo "make clean   - remove .venv, js/node_modules and the built front end"

# --- set-up ------------------------------------------------------------------------------

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip

# npm ci when there is a lock file (reproducible, never rewrites it), npm install otherwise.
$(NODE_STAMP): js/package.json $(JS_LOCK)
	cd js && if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund; \
	  else echo "warning: js/package-lock.json is missing; running npm install" >&2; \
	  npm install --no-audit --no-fund; fi
	touch $@

$(STATIC_JS): $(JS_SOURCES) $(NODE_STAMP)
	cd js && npm run build
	@test -f $@ || { echo "error: 'npm run build' in js/ did not write $@" >&2; exit 1; }
	touch $@

# Editable install of the package with one extra (demo or test). The front end is built by the
# rule above, so hatch-jupyter-builder is told not to run npm a second time.
$(VENV)/.streamwidget-%.stamp: pyproject.toml | $(VPY) $(STATIC_JS)
	HATCH_JUPYTER_BUILDER_SKIP_NPM=1 $(VPY) -m pip install --quiet --editable '.[$*]'
	touch $@

ifneq ($(LLAMA_SCRIPT),)
LLAMA_STAMP := $(VENV)/.streamwidget-llama.stamp
# The script installs llama-cpp-python into the active venv (VIRTUAL_ENV, PATH below).
$(LLAMA_STAMP): $(LLAMA_SCRIPT) | $(VENV)/.streamwidget-test.stamp
	VIRTUAL_ENV="$(VENV_ABS)" PATH="$(VENV_ABS)/bin:$$PATH" bash $(LLAMA_SCRIPT)
	touch $@
endif

chromium:
	bash scripts/install-chromium.sh

setup: $(VENV)/.streamwidget-test.stamp $(STATIC_JS) chromium $(LLAMA_STAMP)

# --- demo --------------------------------------------------------------------------------

# Defaults for the JupyterLab of this venv only: no "get notified about Jupyter news?" prompt
# over the demo (these machines are offline anyway). Users can still change it in Settings.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
$(LAB_OVERRIDES): | $(VPY)
	mkdir -p $(@D)
	echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $@

demo: $(VENV)/.streamwidget-demo.stamp $(STATIC_JS) $(LAB_OVERRIDES)
	@test -f $(NOTEBOOK) || { echo "error: $(NOTEBOOK) does not exist" >&2; exit 1; }
	@echo "Starting JupyterLab on http://$(HOST):$(PORT)/ - open the URL with the token printed below."
	$(VENV)/bin/jupyter lab $(OPEN_BROWSER) $(ALLOW_ROOT) \
	  --ServerApp.ip=$(HOST) --ServerApp.port=$(PORT) --ServerApp.port_retries=0 \
	  --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/$(NOTEBOOK) \
	  --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate

# --- checks ------------------------------------------------------------------------------

# ruff; the import layering contract (import-linter, [tool.importlinter] in pyproject.toml);
# mypy ([tool.mypy]: strict on the store package, checked everywhere in src/).
lint: $(VENV)/.streamwidget-test.stamp
	rc=0; \
	$(VENV)/bin/ruff check $(LINT_PATHS) || rc=1; \
	$(VENV)/bin/ruff format --check $(LINT_PATHS) || rc=1; \
	PYTHONPATH=src $(VENV)/bin/lint-imports --no-cache || rc=1; \
	$(VENV)/bin/mypy --config-file pyproject.toml || rc=1; \
	exit $$rc

format: $(VENV)/.streamwidget-test.stamp
	$(VENV)/bin/ruff format $(LINT_PATHS)

# stdin from /dev/null: a test runner must never sit in watch mode waiting for keys.
js-test: $(NODE_STAMP)
	cd js && npm run typecheck && npm test </dev/null

# The whole suite: unit tests, browser tests (tests/browser) and the notebooks (nbval).
# The store is always a throwaway file, whatever the caller's environment says.
# pytest's exit code 5 (no tests collected) is a failure here.
pytest: setup
	store_dir=$$(mktemp -d); trap 'rm -rf "$$store_dir"' EXIT; \
	rc=0; \
	STREAMWIDGET_STORE="$$store_dir/store.duckdb" $(VPY) -m pytest tests \
	  $(if $(wildcard notebooks/*.ipynb),--nbval-lax --nbval-current-env --nbval-cell-timeout=300 notebooks) \
	  $(PYTEST_ARGS) || rc=$$?; \
	if [[ $$rc -eq 5 ]]; then echo "error: pytest collected no tests (exit code 5)" >&2; rc=1; fi; \
	exit $$rc

test: lint js-test pytest

# The wheel as a user gets it (also part of `make test`): built once per tree, installed into a
# fresh venv of every Python >= 3.11 here with no Node.js on PATH, the README quickstart run.
check-wheel: $(VENV)/.streamwidget-test.stamp $(NODE_STAMP)
	$(VPY) -m pytest tests/test_wheel.py -q

# Benchmarks (not part of the test suite): kernel, browser, store, live path; ~10 minutes.
bench: $(VENV)/.streamwidget-test.stamp $(VENV)/.streamwidget-bench.stamp $(STATIC_JS) chromium
	$(VPY) benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) js/node_modules src/streamwidget/static test-artifacts .pytest_cache .ruff_cache
