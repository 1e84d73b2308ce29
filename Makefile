# hexcover — two commands do everything on a fresh Debian machine:
#   make demo   install what is missing, build, run the pipeline on the Ulm data
#   make test   the same set-up, then fmt, clippy and every test (Rust, Python)
# `make bench` runs the benchmarks beside their baselines (release build).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

SHARED   ?= $(abspath ../shared)
DATA     := $(SHARED)/data
ULM      := $(DATA)/ulm-ttn-2021
OUT      ?= out
VENV     := .venv
PY       := $(VENV)/bin/python
CARGO    ?= cargo
BIN      := target/debug/hexcover
RELBIN   := target/release/hexcover
# Debian packages the build and the checks need (libgdal-dev for the terrain
# stage, pkg-config to find it, time for peak-memory figures in benchmarks).
DEB_PACKAGES := pkg-config libgdal-dev time

.PHONY: help demo test bench deps venv build check-shared lint rust-test python-test clean-out

help:
	@echo "make demo   - install what is missing, build, ingest the Ulm drive test, print the summary"
	@echo "make test   - the same set-up, then cargo fmt --check, clippy -D warnings, every test"
	@echo "make bench  - benchmarks beside their baselines (release build; see BENCHMARKS.md)"

check-shared:
	@test -f $(ULM)/measurements.csv || { echo "error: $(ULM)/measurements.csv not found: clone hexcover beside shared/ (or set SHARED=...)"; exit 1; }

deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
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

demo: check-shared build
	@rm -rf $(OUT)/ulm
	$(BIN) ingest $(ULM)/measurements.csv --gateways $(ULM)/gateways.csv \
	  --out $(OUT)/ulm --res 8,9,12 --export geojson,csv

lint: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

rust-test: deps
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

# The GeoParquet check: ingest Ulm with the test build, read it back with GeoPandas.
python-test: check-shared venv build
	@rm -rf target/test-ulm
	$(BIN) ingest $(ULM)/measurements.csv --gateways $(ULM)/gateways.csv \
	  --out target/test-ulm --res 8,9,12 --quiet
	HEXCOVER_ULM_OUT=$(abspath target/test-ulm) HEXCOVER_SHARED=$(SHARED) \
	  $(PY) -m pytest -q tests/python

test: check-shared deps venv lint rust-test python-test

bench: check-shared deps venv
	benches/run.sh

clean-out:
	rm -rf $(OUT)
