# CityBrain: `make run` serves the demo city, `make test` runs the whole suite, `make bench` the benchmarks.
# Everything missing is installed on the way (venv + requirements; Debian packages for tests).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8050
TEST_DEBS := redis-server chromium fonts-noto-cjk poppler-utils libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
RUN_DEBS := fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0

.PHONY: run test bench deps test-deps clean

$(VENV)/.installed: requirements.txt
	@scripts/ensure-debs.sh python3-venv
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

deps: $(VENV)/.installed

run: deps
	@scripts/ensure-debs.sh $(RUN_DEBS)
	PORT=$(PORT) CITYBRAIN_DEMO=$${CITYBRAIN_DEMO:-1} $(PY) app.py serve

test-deps: deps
	@scripts/ensure-debs.sh $(TEST_DEBS)

# The suite starts (and stops) its own Redis on a free loopback port: tests/conftest.py.
test: test-deps
	$(PY) -m pytest -p no:cacheprovider tests

bench: test-deps
	$(PY) bench/run.py

clean:
	rm -rf var test-artifacts bench/results.json
