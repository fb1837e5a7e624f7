# voicegate: `make run` and `make test` do all set-up on a fresh Debian 12 machine.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_DIR ?= $(HOME)/.cache/ccache
CMAKE_FLAGS ?=

.PHONY: all deps web-deps client-js build build-asan run test test-release test-asan test-e2e bench clean format

all: build

deps:
	@scripts/deps.sh

# Front-end libraries embedded in the binary (npm ci from web/package-lock.json, only when needed).
web-deps: deps
	@scripts/web-deps.sh

# The JavaScript client (clients/js), built before CMake embeds its ESM files for the console.
client-js: deps
	@scripts/client-build.sh

build: web-deps client-js
	@cmake --preset release $(CMAKE_FLAGS) >/dev/null
	@cmake --build --preset release -j $(JOBS)
	@ln -sf release/voicegate build/voicegate 2>/dev/null || true
	@echo "built build/voicegate"

build-asan: web-deps client-js
	@cmake --preset dev $(CMAKE_FLAGS) >/dev/null
	@cmake --build --preset dev -j $(JOBS)

run: build
	./build/voicegate serve $(ARGS)

test: build
	@scripts/test.sh

bench: build
	@bench/run.sh

format:
	@clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp')

clean:
	rm -rf build
