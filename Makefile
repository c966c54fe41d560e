# gridwatch: two commands. `make demo` serves the demo district, `make test` runs the whole suite.
# Both install what is missing (Debian packages, .venv) and are quick on a second run.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GW := $(VENV)/bin/gridwatch
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PG_PKGS := postgresql-15 postgresql-15-postgis-3
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test system-db system-browser system-gdal venv db data demo-accounts serve bench clean

demo: system-db venv db
	$(GW) load-demo
	@$(MAKE) --no-print-directory demo-accounts
	$(GW) serve --host $(HOST) --port $(PORT)

# the suite in JOBS processes (one per core, at most 4), each with its own private PostGIS cluster; a test
# file stays in one process (its module fixtures are built once)
JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
test: system-db system-browser system-gdal venv
	$(PY) -m pytest -n $(JOBS) --dist loadfile --durations=15 $(PYTEST_ARGS)

# Debian packages, installed only when missing (apt-get update once, then install).
system-db:
	@if ! ls /usr/lib/postgresql/*/lib/postgis-3.so >/dev/null 2>&1; then \
	  echo "installing PostgreSQL + PostGIS ($(PG_PKGS))"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(PG_PKGS); \
	fi

system-browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s fonts-wqy-zenhei >/dev/null 2>&1; then \
	  echo "installing Chromium (and a CJK font for its screenshots) for the browser tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-wqy-zenhei; \
	fi

# GDAL's command-line tools (ogrinfo, ogr2ogr) and QGIS's Python bindings: the OGC API, database and export
# tests read with them as analysts do (QGIS opens the exported GeoPackages with their styles)
system-gdal:
	@if ! command -v ogrinfo >/dev/null 2>&1 || ! dpkg -s python3-qgis >/dev/null 2>&1; then \
	  echo "installing GDAL's tools and QGIS's Python bindings (gdal-bin python3-qgis) for the GIS tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    --no-install-recommends gdal-bin python3-qgis; \
	fi

# The virtual environment, reinstalled only when the packaging metadata changes.
venv: $(VENV)/.installed
$(VENV)/.installed: setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "gridwatch needs Python 3.11+ (set PYTHON=/path/to/python3.11)"; exit 1; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV) || { echo "python venv failed: apt-get install python3-venv"; exit 1; }
	@mkdir -p var
	@echo "installing gridwatch and its dependencies into $(VENV) (log: var/pip.log)"
	@{ $(PY) -m pip install -q --upgrade pip setuptools wheel && $(PY) -m pip install -q -e '.[test]'; } \
	  > var/pip.log 2>&1 || { cat var/pip.log; echo "pip install failed (see above)"; exit 1; }
	@touch $@

db: venv
	$(GW) db start
	$(GW) db upgrade

data: venv
	$(PY) -m data.generate

# Demo accounts (demo only: change or remove them on a real deployment).
demo-accounts: venv
	$(GW) demo-accounts

serve: venv
	$(GW) serve --host $(HOST) --port $(PORT)

# the benchmarks' 'before' columns need the [bench] extras (waitress, spopt, pygeoapi)
bench: venv db
	@$(PY) -m pip install -q -e '.[bench]' > var/pip-bench.log 2>&1 || { cat var/pip-bench.log; exit 1; }
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	-$(GW) db stop
	rm -rf $(VENV) var .pytest_cache
