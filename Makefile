# Thin wrapper: the build is CMake's. `make demo` and `make check` are the two commands.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build check demo bench clean format fuzz

all: build

deps:
	@sh scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

check: build
	sh scripts/check.sh $(BUILD)

demo: build
	sh scripts/demo.sh $(BUILD)

bench: build
	sh scripts/bench.sh $(BUILD)

fuzz: deps
	sh scripts/fuzz.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
