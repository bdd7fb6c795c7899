# realtime_sync developer commands. Each target creates .venv on first use.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test bench lint clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel

# The demo needs only the package and the simulator's server library.
$(VENV)/.demo-installed: $(VENV)/bin/python setup.cfg setup.py
	$(PIP) install -e ".[server]"
	@touch $@

# Tests want pyaudio too; where PortAudio's headers are missing pyaudio cannot
# build, so the install falls back to the test extra alone and the audio tests
# say why they skip (REALTIME_SYNC_REQUIRE_AUDIO=1 turns that skip into a failure).
$(VENV)/.test-installed: $(VENV)/bin/python setup.cfg setup.py
	$(PIP) install -e ".[test,audio,server]" || { \
	  echo "pyaudio could not be installed (is PortAudio installed? see README); audio tests will skip"; \
	  $(PIP) install -e ".[test,server]"; }
	@touch $@

demo: $(VENV)/.demo-installed
	$(PY) -m realtime_sync demo

test: $(VENV)/.test-installed
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.test-installed
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Lint settings live here (the project keeps no extra config files): pyflakes,
# pycodestyle, bugbear and import order; B010 is off because setattr() is how
# code tells mypy it means to set an undeclared attribute.
RUFF_ARGS = --isolated --target-version py39 --line-length 130 --select E,F,W,B,I --ignore B010 \
	--per-file-ignores tests/test_dialects.py:E501

lint: $(VENV)/.test-installed
	$(PIP) install mypy ruff
	$(PY) -m ruff check $(RUFF_ARGS) realtime_sync tests samples benchmarks
	$(PY) -m mypy

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache
