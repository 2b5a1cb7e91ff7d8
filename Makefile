# km — two commands: `make demo` and `make test`. Everything else is a building block.
#   make deps    install missing Debian packages (scripts/install-deps.sh)
#   make build   release build in build/release (the km binary: build/release/src/km)
#   make test    sanitizer (ASan+UBSan) build in build/asan, then every test; ends with CTest's summary
#   make demo    build, then run the main job on the embedded default
#   make bench   benchmarks (Google Benchmark) in build/release
#   make fuzz    libFuzzer targets (clang) for FUZZ_SECONDS each (default 60)
#   make install the release km in $(PREFIX)/bin with bash and zsh completions (default
#                PREFIX=/usr/local; DESTDIR honoured); make uninstall removes them

JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
KM := build/release/src/km
PREFIX ?= /usr/local

.PHONY: all deps build test demo bench fuzz clean check-deps install uninstall

all: build

deps:
	@scripts/install-deps.sh

build/release/build.ninja: | deps
	cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKM_BUILD_TESTS=OFF -DKM_STATIC_DEPS=ON

build: deps build/release/build.ninja
	cmake --build build/release -j $(JOBS)

build/asan/build.ninja: | deps
	cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Asan -DKM_BUILD_BENCH=OFF

check-deps:
	@scripts/check-deps.sh

test: deps build/asan/build.ninja check-deps
	cmake --build build/asan -j $(JOBS)
	cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

demo: build
	@scripts/demo.sh $(KM)

# scripts/install.sh does the copying (tests/e2e/install_test.sh runs it on the test build);
# DESTDIR reaches it through the environment.
install: build
	@DESTDIR="$(DESTDIR)" scripts/install.sh $(KM) "$(PREFIX)"

uninstall:
	@DESTDIR="$(DESTDIR)" scripts/install.sh --uninstall "$(PREFIX)"

bench: deps
	cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKM_BUILD_BENCH=ON -DKM_STATIC_DEPS=ON
	cmake --build build/release -j $(JOBS)
	@scripts/bench.sh build/release

fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKM_FUZZ=ON \
	  -DKM_BUILD_TESTS=OFF -DKM_BUILD_BENCH=OFF
	cmake --build build/fuzz -j $(JOBS)
	@scripts/fuzz.sh build/fuzz $(FUZZ_SECONDS)

clean:
	rm -rf build
