# The web page (web/) and its end-to-end browser test, included from the top-level Makefile:
#   make web-deps    Debian's chromium if missing, then `npm ci` in web/ when the lock file changed
#   make web-build   web/dist from web/src, web/index.html and the package files
#   make web-test    `hexcover serve $(STUDY) --dem $(WEB_DEM)` on port $(WEB_PORT) + tests/web/e2e.mjs
#                    in headless Chromium
# The study must exist (`make demo` writes out/ulm). Screenshots go to target/web-e2e/.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

STUDY        ?= out/ulm
# What-if and placement need terrain: without --dem the server answers them with 409.
# DEM comes from the top-level Makefile when this file is included there.
WEB_DEM      ?= $(or $(DEM),../shared/data/srtm3-ulm)
WEB_PORT     ?= 18080
WEB_BIN      := target/debug/hexcover
WEB_URL      := http://127.0.0.1:$(WEB_PORT)
WEB_LOG      := target/web-e2e/server.log
WEB_DEB_PACKAGES := chromium curl
WEB_CARGO    ?= $(or $(CARGO),cargo)
WEB_STAMP    := web/node_modules/.package-lock.json
WEB_SOURCES  := $(wildcard web/src/*) web/index.html web/vite.config.js web/package.json web/package-lock.json

.PHONY: web-deps web-chromium web-build web-bin web-test

web-deps: web-chromium $(WEB_STAMP)

web-chromium:
	@missing=""; for p in $(WEB_DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# npm ci rewrites node_modules/.package-lock.json; touch it in case nothing changed.
$(WEB_STAMP): web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web-build: web/dist/index.html

web/dist/index.html: $(WEB_STAMP) $(WEB_SOURCES)
	cd web && npm run build
	touch $@

# The debug binary; cargo only rebuilds what changed.
web-bin:
	$(WEB_CARGO) build -p hexcover

# Starts the server in the background, waits for /healthz (60 s at most), runs the test
# and always stops the server it started, whatever the test did; the test's status wins.
web-test: web-deps web-build web-bin
	@test -d $(STUDY) || { echo "error: study $(STUDY) not found (make demo writes out/ulm, or set STUDY=...)"; exit 1; }
	@test -e $(WEB_DEM) || { echo "error: terrain $(WEB_DEM) not found (set WEB_DEM=... or DEM=...)"; exit 1; }
	@mkdir -p $(dir $(WEB_LOG))
	@if curl -fsS -o /dev/null --max-time 2 $(WEB_URL)/healthz 2>/dev/null; then \
	  echo "error: something already answers on $(WEB_URL); stop it or set WEB_PORT=..."; exit 1; \
	fi
	@$(WEB_BIN) serve $(STUDY) --port $(WEB_PORT) --web web/dist --dem $(WEB_DEM) >$(WEB_LOG) 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null || true; wait $$pid 2>/dev/null || true' EXIT; \
	up=0; for i in $$(seq 1 120); do \
	  if curl -fsS -o /dev/null --max-time 2 $(WEB_URL)/healthz 2>/dev/null; then up=1; break; fi; \
	  kill -0 $$pid 2>/dev/null || break; \
	  sleep 0.5; \
	done; \
	if [ $$up != 1 ]; then echo "error: hexcover serve did not come up on $(WEB_URL); its log:"; cat $(WEB_LOG); exit 1; fi; \
	echo "hexcover serve $(STUDY) is up on $(WEB_URL) (pid $$pid, log $(WEB_LOG))"; \
	status=0; HEXCOVER_URL=$(WEB_URL) node tests/web/e2e.mjs || status=$$?; \
	if [ $$status != 0 ]; then echo "server log (last 40 lines):"; tail -n 40 $(WEB_LOG) || true; fi; \
	exit $$status
