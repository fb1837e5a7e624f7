# voicegate: `make run` and `make test` do all set-up on a fresh Debian 12 machine.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_DIR ?= $(HOME)/.cache/ccache
CMAKE_FLAGS ?=

.PHONY: all deps web-deps client-js configure build build-all build-asan check-deps run test bench clean format lint

all: build

deps:
	@scripts/deps.sh

# Front-end libraries embedded in the binary (npm ci from web/package-lock.json, only when needed).
web-deps: deps
	@scripts/web-deps.sh

# The JavaScript client (clients/js), built before CMake embeds its ESM files for the console.
client-js: deps
	@scripts/client-build.sh

configure: web-deps client-js
	@cmake --preset release $(CMAKE_FLAGS) >/dev/null

# The service alone (and the web assets it embeds): what `make run` and `make bench` need.
build: configure
	@cmake --build --preset release -j $(JOBS) --target voicegate
	@ln -sf release/voicegate build/voicegate 2>/dev/null || true
	@echo "built build/voicegate"

# Everything in the release tree, the test suites included.
build-all: build
	@cmake --build --preset release -j $(JOBS)

build-asan: web-deps client-js
	@cmake --preset dev $(CMAKE_FLAGS) >/dev/null
	@cmake --build --preset dev -j $(JOBS)

run: build
	./build/voicegate serve $(ARGS)

# Fails, naming them, when the build used files of a Debian package that scripts/deps.sh does not
# install (directly or as a dependency of a package it names).
check-deps: build-all
	@scripts/check-deps.sh build/release

test: build-all
	@scripts/test.sh

bench: build
	@bench/run.sh

format:
	@clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp')

clean:
	rm -rf build
