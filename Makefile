# hexcover — two commands do everything on a fresh Debian machine:
#   make demo   install what is missing, build, run the pipeline on the Ulm data
#               and serve the map on http://127.0.0.1:8080/
#   make test   the same set-up, then fmt, clippy and every test (Rust, Python,
#               the web page in headless Chromium)
# `make bench` runs the benchmarks beside their baselines (release build).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

SHARED   ?= $(abspath ../shared)
DATA     := $(SHARED)/data
ULM      := $(DATA)/ulm-ttn-2021
DEM      := $(DATA)/srtm3-ulm
OUT      ?= out
VENV     := .venv
PY       := $(VENV)/bin/python
CARGO    ?= cargo
BIN      := target/debug/hexcover
RELBIN   := target/release/hexcover
# Debian packages the build and the checks need (libgdal-dev for the terrain
# stage, pkg-config to find it, time for peak-memory figures in benchmarks).
DEB_PACKAGES := pkg-config libgdal-dev time
# Only for `make bench`: SPLAT! (splat, srtm2sdf), the per-site coverage baseline,
# and wrk, the load generator of the tile-server benchmark.
BENCH_DEB_PACKAGES := splat wrk

.PHONY: help demo test bench deps bench-deps venv build check-shared lint rust-test python-test clean-out ulm-study e2e e2e-study notebooks

include web/web.mk
include notebooks/notebooks.mk

help:
	@echo "make demo   - install what is missing, build, run the Ulm study (studies/ulm.toml), serve the map"
	@echo "make test   - the same set-up, then cargo fmt --check, clippy -D warnings, every test"
	@echo "make bench  - benchmarks beside their baselines (release build; see BENCHMARKS.md)"

check-shared:
	@test -f $(ULM)/measurements.csv || { echo "error: $(ULM)/measurements.csv not found: clone hexcover beside shared/ (or set SHARED=...)"; exit 1; }

deps bench-deps: PACKAGES = $(if $(filter bench-deps,$@),$(BENCH_DEB_PACKAGES),$(DEB_PACKAGES))
deps bench-deps:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: tests/python/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r tests/python/requirements.txt
	touch $@

venv: $(VENV)/.installed

build: deps
	$(CARGO) build -p hexcover

# The Ulm study in $(STUDY), as studies/ulm.toml describes it: ingest → train
# (with blocked CV) → coverage of every gateway → 5 suggested sites → the map
# archive, with report.md. A second run skips the stages that are up to date.
STUDY ?= $(OUT)/ulm
ulm-study: check-shared build
	$(BIN) run studies/ulm.toml --dir $(STUDY)

# The pipeline on Ulm, then the map: the server stays up until Ctrl-C.
HOST ?= 127.0.0.1
PORT ?= 8080
demo: STUDY = $(OUT)/ulm
demo: ulm-study web-deps web-build
	@echo "== the map: open the address below in a browser (Ctrl-C stops the server)"
	$(BIN) serve $(STUDY) --dem $(DEM) --web web/dist --host $(HOST) --port $(PORT)

# The browser test and the notebooks run on a study of their own, built with
# the test binary (skipped when up to date).
E2E_STUDY := target/e2e-study
e2e-study: check-shared build
	@mkdir -p target
	$(BIN) run studies/ulm.toml --dir $(E2E_STUDY) >target/e2e-study.log 2>&1 \
	  || { tail -n 40 target/e2e-study.log; exit 1; }
	@tail -n 12 target/e2e-study.log

e2e: e2e-study
	$(MAKE) --no-print-directory web-test STUDY=$(E2E_STUDY)

# The Jupyter notebooks, executed against the same study (notebooks/notebooks.mk).
NOTEBOOK_STUDY := $(E2E_STUDY)
notebooks: venv e2e-study

lint: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

rust-test: deps
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

# The GeoParquet checks: ingest Ulm and predict one Ulm gateway's coverage with the
# test build, read both back with GeoPandas.
python-test: check-shared venv build
	@rm -rf target/test-ulm
	$(BIN) ingest $(ULM)/measurements.csv --gateways $(ULM)/gateways.csv \
	  --out target/test-ulm --res 8,9,12 --quiet
	@rm -rf target/test-coverage
	$(BIN) coverage --dem $(DATA)/srtm3-ulm --site 48.3985081189661,9.991811778526625,10 \
	  --radius-km 3 --out target/test-coverage/minster.parquet --quiet
	HEXCOVER_ULM_OUT=$(abspath target/test-ulm) HEXCOVER_SHARED=$(SHARED) \
	  HEXCOVER_COVERAGE_OUT=$(abspath target/test-coverage/minster.parquet) \
	  $(PY) -m pytest -q tests/python

test: check-shared deps venv lint rust-test python-test e2e notebooks

# The optimizer's Python baselines (pulp/CBC, spopt, scipy) are only needed here.
$(VENV)/.bench-installed: $(VENV)/.installed benches/python/requirements.txt
	$(VENV)/bin/pip install -q -r benches/python/requirements.txt
	touch $@

bench: check-shared deps bench-deps venv $(VENV)/.bench-installed
	SHARED=$(SHARED) benches/run.sh

clean-out:
	rm -rf $(OUT)
