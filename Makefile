# Parley: the two commands of the README, and a few for developers.
#   make run    install what is missing, build a release build, start parleyd on the development default
#   make test   install what is missing, build, and run every test (unit, transcripts, interop, fuzz)
JOBS ?= $(shell nproc)
PARLEYD_ARGS ?=

.PHONY: deps run test build release dev fuzz unit format clean

deps:
	@bash scripts/install-deps.sh

release: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target parleyd parleyctl

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
