# realtime_sync developer commands. Each target creates .venv on first use.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test bench lint clean audio-extra

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel

# The demo needs only the package and the simulator's server library.
$(VENV)/.demo-installed: $(VENV)/bin/python setup.cfg setup.py
	$(PIP) install -e ".[server]"
	@touch $@

# The test extra; the audio extra is the separate step below.
$(VENV)/.test-installed: $(VENV)/bin/python setup.cfg setup.py
	$(PIP) install -e ".[test,server]"
	@touch $@

# The audio extra (pyaudio), looked at on every `make test` (no stamp): pyaudio
# builds only against PortAudio, so it is installed once PortAudio is there
# (pkg-config, else one of these headers); until then one line says what to
# install and the audio tests skip (REALTIME_SYNC_REQUIRE_AUDIO=1 makes them fail).
PORTAUDIO_HEADERS ?= /usr/include/portaudio.h /usr/local/include/portaudio.h /opt/homebrew/include/portaudio.h
HAVE_PORTAUDIO = ( pkg-config --exists portaudio-2.0 2>/dev/null && exit 0; \
	for h in $(PORTAUDIO_HEADERS); do [ -f "$$h" ] && exit 0; done; exit 1 )

audio-extra: $(VENV)/.test-installed
	@if $(PY) -c "import pyaudio" >/dev/null 2>&1; then \
	  :; \
	elif ! $(HAVE_PORTAUDIO); then \
	  echo "note: PortAudio is missing, so the audio tests skip: apt-get install portaudio19-dev (or brew install portaudio), then make test again"; \
	elif $(PIP) install -e ".[audio]" >$(VENV)/audio-install.log 2>&1; then \
	  echo "installed the audio extra (pyaudio) into $(VENV)"; \
	else \
	  echo "note: pyaudio did not build although PortAudio is there (see $(VENV)/audio-install.log); the audio tests skip"; \
	fi

demo: $(VENV)/.demo-installed
	$(PY) -m realtime_sync demo

# The suite runs on every core (pytest-xdist); PYTEST_ARGS="-p no:xdist" runs it in one process.
PYTEST_ARGS ?= -n auto

test: $(VENV)/.test-installed audio-extra
	$(PY) -m pytest $(PYTEST_ARGS)

# bench_sessions runs twice: a receive thread per session, then one ReceiveLoop up to the largest N carried.
bench: $(VENV)/.test-installed
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; \
	  case $$script in *bench_sessions.py) echo "== $$script --shared-loop --find-max"; \
	    $(PY) $$script --shared-loop --find-max || exit 1;; esac; done

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
