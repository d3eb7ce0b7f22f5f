# The two commands a newcomer needs: `make demo` and `make test`. Both work on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := redis-server postgresql chromium
PYTEST_ARGS ?=
# The venv's bin first: tests and the embedded stack find `temporal` and `temporal-test-server` there.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: demo test system-deps venv lint typecheck check clean

demo: $(STAMP)
	$(BIN)/cloudops demo

test: system-deps $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Installs Debian's redis-server, postgresql and chromium when any is missing (needs root, or sudo).
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,openfeature,otel]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) .cloudops .pytest_cache .mypy_cache .ruff_cache
