# Thin wrapper over CMake: `make demo` and `make check` are the two commands README.md starts with.
BUILD       ?= build
ASAN_BUILD  ?= build-asan
FUZZ_BUILD  ?= build-fuzz
PREFIX      ?= /usr/local
FUZZ_SECONDS ?= 15
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)

DEBIAN_PACKAGES = build-essential cmake pkg-config libjansson-dev libcmocka-dev \
                  clang libclang-rt-14-dev clang-format procps util-linux git \
                  scdoc man-db debhelper dpkg-dev fakeroot lintian

.PHONY: all deps build asan fuzz demo check test format-check install clean
.PHONY: install-strip uninstall deb deb-check deb-check-with-fuzz

all: build

# Installs the Debian packages the build and tests need, only when one is missing.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing:" $$missing; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

asan: deps
	CC=clang cmake -S . -B $(ASAN_BUILD) -DMPSMIG_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)

fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DMPSMIG_FUZZ=ON -DMPSMIG_SANITIZE=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	tests/fuzz/run-all $(FUZZ_BUILD) $(FUZZ_SECONDS)

demo: build
	contrib/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The C sources follow .clang-format; this lists every file that does not.
format-check: deps
	@bad=$$(for f in $$(git ls-files '*.c' '*.h'); do \
		clang-format --dry-run --Werror "$$f" >/dev/null 2>&1 || echo "$$f"; done); \
	if [ -n "$$bad" ]; then echo "not formatted (run clang-format -i):" $$bad; exit 1; fi; \
	echo "format: every C file follows .clang-format"

# Format, then every test twice (gcc -Werror, then clang with ASan+UBSan), then each fuzz target
# briefly, while the Debian packages are built, linted, installed and run (deb-check).
check: format-check build asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) deb-check-with-fuzz

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# As install, with the binaries stripped.
install-strip: build
	cmake --install $(BUILD) --prefix $(PREFIX) --strip

# Removes what the last install from $(BUILD) put, as its install_manifest.txt lists it, and
# simgpu's then empty folders.
uninstall:
	@manifest=$(BUILD)/install_manifest.txt; \
	if [ ! -f "$$manifest" ]; then echo "no $$manifest: nothing was installed from $(BUILD)"; exit 1; fi; \
	xargs -d '\n' rm -f -- <"$$manifest"; \
	sed -n 's|/simgpu/.*|/simgpu|p' "$$manifest" | sort -u | while read -r dir; do \
		rmdir "$$dir"/* "$$dir" 2>/dev/null || true; done; \
	echo "removed the $$(wc -l <"$$manifest") files that $$manifest lists"

# The Debian packages mpsmig and simgpu, built in a copy of the tree under build-deb/ (lintian
# run on them); deb-check also installs them (as root) and runs the installed programs.
deb: deps
	tests/package/deb-check.sh --build-only

deb-check: deps
	tests/package/deb-check.sh

# make check's last step: fuzz, with deb-check beside it (fuzzing keeps one CPU busy, the package
# build takes the other), deb-check's report shown once both are done.
deb-check-with-fuzz: deps
	@log=$(BUILD)/deb-check.log; mkdir -p $(BUILD); \
	tests/package/deb-check.sh >"$$log" 2>&1 & deb=$$!; \
	$(MAKE) fuzz; fuzz=$$?; \
	wait $$deb; status=$$?; cat "$$log"; \
	[ $$fuzz -eq 0 ] && [ $$status -eq 0 ]

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-deb
