# The two commands of the README's quick start. Both create or reuse .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# One stamp per install set: `make demo` installs only the demo extra, and a later `make test`
# still installs the test tool chain (its own stamp). The test set includes the demo's.
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test

.PHONY: test demo lint typecheck system-deps venv bench

$(PY):
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python >= 3.11 is required")'
	$(PYTHON) -m venv $(VENV)

$(TEST_STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,redis]'
	touch $@

$(DEMO_STAMP): $(PY) pyproject.toml
	if [ -f $(TEST_STAMP) ] && [ $(TEST_STAMP) -nt pyproject.toml ]; then :; else \
	  $(PY) -m pip install --quiet --upgrade pip && \
	  $(PY) -m pip install --quiet -e '.[demo]'; fi
	touch $@

venv: $(TEST_STAMP)

system-deps:
	bash scripts/system-deps.sh

lint: venv
	$(VENV)/bin/ruff check flask_clerk_mcp example_app tests benchmarks

typecheck: venv
	$(VENV)/bin/mypy

test: system-deps venv lint typecheck
	$(VENV)/bin/pytest

demo: $(DEMO_STAMP)
	$(PY) -m example_app

bench: system-deps venv
	$(PY) benchmarks/run.py
	$(PY) benchmarks/load.py
	$(PY) benchmarks/versus_fastmcp.py
