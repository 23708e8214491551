# Two commands on a fresh machine: `make run` (the site on the demo catalog) and `make test`.
# Every target is idempotent: a stamp file per install records that the venv is current.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
PIP_INSTALL := $(PIP) install --quiet --disable-pip-version-check

.PHONY: setup setup-test run test lint bench clean chromium nginx caddy

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip

$(VENV)/.setup-run: pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e '.[postgres,semantic]'
	touch $@

$(VENV)/.setup-test: pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e '.[dev]'
	touch $@ $(VENV)/.setup-run

setup: $(VENV)/.setup-run

setup-test: $(VENV)/.setup-test

HOST ?= 127.0.0.1
PORT ?= 8000

run: setup
	$(BIN)/dailypapers demo --if-empty
	$(BIN)/dailypapers index
	$(BIN)/dailypapers serve --host $(HOST) --port $(PORT)

lint: setup-test
	$(BIN)/ruff check dailypapers tests bench
	$(BIN)/ruff format --check dailypapers tests bench
	$(BIN)/mypy

# Browser tests drive Debian's chromium (a browser download would fail on our machines);
# tests/test_proxy.py runs the nginx configuration of docs/operating.md with Debian's nginx,
# tests/test_caddy.py its Caddy configuration with Debian's caddy.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nginx >/dev/null || \
	  echo "nginx did not install: tests/test_proxy.py will be skipped"; }

caddy:
	@command -v caddy >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq caddy >/dev/null || \
	  echo "caddy did not install: tests/test_caddy.py will be skipped"; }

test: setup-test lint chromium nginx caddy
	$(BIN)/pytest -n 2 --dist loadfile

bench: setup-test
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output
