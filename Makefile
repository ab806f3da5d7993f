# Parley: the two commands of the README, and a few for developers.
#   make run    install what is missing, build a release build, start parleyd on the development default
#   make test   install what is missing, build, and run every test (unit, transcripts, interop, fuzz)
#   make bench  release build; parley-bench's standard set against a private parleyd, with a summary
JOBS ?= $(shell nproc)
PARLEYD_ARGS ?=

.PHONY: deps run test build release dev fuzz unit format clean bench

deps:
	@bash scripts/install-deps.sh

release: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target parleyd parleyctl

# bench/README.md: a parleyd on loopback ports with a temporary data directory, 10010 accounts made
# with parleyctl adduser-range, then idle, login, chat, roster, presence and offline.
bench: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target parleyd parleyctl parley-bench
	@/usr/bin/python3 bench/standard.py --bench build/release/bench/parley-bench \
		--parleyd build/release/server/main/parleyd --parleyctl build/release/server/main/parleyctl

run: release
	@exec build/release/server/main/parleyd $(PARLEYD_ARGS)

# CI (which sets CI=true) builds with -Werror; a local build only warns.
WERROR := $(if $(filter true,$(CI)),ON,OFF)

dev: deps
	@cmake --preset dev -DPARLEY_WERROR=$(WERROR) >/dev/null
	@cmake --build --preset dev -j $(JOBS)

fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)

test: dev fuzz
	@echo "== unit, transcript and interop tests (build/dev)"
	@ctest --preset dev
	@echo "== fuzz targets, a short bounded run each (build/fuzz)"
	@ctest --preset fuzz

unit: dev
	@ctest --preset dev -L unit

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf build
