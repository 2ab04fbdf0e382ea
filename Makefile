# The two commands: `make run` brings the platform up, `make test` runs the whole suite.
# Both create the virtualenv (.venv, Python 3.11) and install from pyproject.toml on a fresh
# machine, and again only when pyproject.toml changes (the stamp files below).
#   make run                    web on http://127.0.0.1:8000/ (PORT=8001 make run for another)
#   make test                   the whole suite (ARGS="-k consensus -x" to narrow it); leaves the
#                               checkout clean (UPDATE_SCREENSHOTS=1 rewrites docs/screenshots/)
#   make lint / make format     ruff, and mypy with the Django plugin (configured in pyproject.toml)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: run test lint format install install-dev clean-venv

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || { \
		echo "Python 3.11 is required (found: $$($(PYTHON) --version 2>&1 || echo none))."; \
		echo "Install it (Debian 12: apt-get install python3 python3-venv; else pyenv),"; \
		echo "or name it: make $(MAKECMDGOALS) PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Editable installs: the code runs from this checkout; the stamps record what was installed.
$(VENV)/.installed: pyproject.toml | $(PY)
	@echo "Installing the platform and its workers (TensorFlow is large: the first time takes minutes)"
	$(PY) -m pip install --progress-bar off -e ".[worker]"
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	@echo "Installing the platform, its workers and the test tools (the first time takes minutes)"
	$(PY) -m pip install --progress-bar off -e ".[worker,dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	@$(PY) scripts/run.py

test: install-dev
	$(PY) scripts/test.py $(ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean-venv:
	rm -rf $(VENV)
