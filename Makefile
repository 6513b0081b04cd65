# Thin wrapper over CMake: `make demo` and `make check` are the two commands README.md starts with.
BUILD       ?= build
ASAN_BUILD  ?= build-asan
FUZZ_BUILD  ?= build-fuzz
PREFIX      ?= /usr/local
FUZZ_SECONDS ?= 10
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)

DEBIAN_PACKAGES = build-essential cmake pkg-config libjansson-dev libcmocka-dev \
                  clang libclang-rt-14-dev clang-format procps util-linux git \
                  scdoc man-db debhelper dpkg-dev fakeroot lintian gnuplot-nox jq \
                  cargo rustc librust-nvml-wrapper-dev libslurm-dev slurm-wlm munge

.PHONY: all deps build asan fuzz demo check test format-check install clean
.PHONY: install-strip uninstall deb deb-check deb-check-with-fuzz

# Quiet recursive makes: no "Entering/Leaving directory" pair around every step of CMake's.
MAKEFLAGS += --no-print-directory

# $(call phase,TITLE,COMMAND): a header, the command, and how long it took; its exit status.
phase = start=$$(date +%s); printf '\n==== %s\n' "$(1)"; $(2); rc=$$?; \
	printf '==== %s: %s in %d s\n' "$(1)" "$$([ $$rc = 0 ] && echo done || echo FAILED)" \
	"$$(( $$(date +%s) - start ))"; exit $$rc

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
	cmake -S . -B $(BUILD) --log-level=WARNING -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

asan: deps
	CC=clang cmake -S . -B $(ASAN_BUILD) --log-level=WARNING -DMPSMIG_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)

fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) --log-level=WARNING -DMPSMIG_FUZZ=ON -DMPSMIG_SANITIZE=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	tests/fuzz/run-all $(FUZZ_BUILD) $(FUZZ_SECONDS)

demo: build
	contrib/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The C sources follow .clang-format; this lists every file that does not.
format-check: deps
	@echo "format: clang-format --dry-run on $$(git ls-files '*.c' '*.h' | wc -l) C files..."
	@bad=$$(for f in $$(git ls-files '*.c' '*.h'); do \
		clang-format --dry-run --Werror "$$f" >/dev/null 2>&1 || echo "$$f"; done); \
	if [ -n "$$bad" ]; then echo "not formatted (run clang-format -i):" $$bad; exit 1; fi; \
	echo "format: every C file follows .clang-format"

# Format, then every test twice (gcc -Werror, then clang with ASan+UBSan), then each fuzz target
# briefly while the Debian packages are built, linted, installed and run (deb-check); each phase
# with a header and its duration. ctest shows a failed test's whole output.
check:
	@$(call phase,format (clang-format),$(MAKE) format-check)
	@$(call phase,build (gcc -Werror),$(MAKE) build)
	@$(call phase,asan (clang ASan+UBSan build),$(MAKE) asan)
	@$(call phase,tests (gcc build),cd $(BUILD) && ctest --output-on-failure -j $(JOBS))
	@$(call phase,tests (ASan+UBSan build),cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS))
	@$(call phase,fuzz ($(FUZZ_SECONDS) s per target) and the Debian packages,$(MAKE) deb-check-with-fuzz)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# As install, with the binaries stripped.
install-strip: build
	cmake --install $(BUILD) --prefix $(PREFIX) --strip

# Removes what the last install from $(BUILD) put, as its install_manifest.txt lists it, and
# simgpu's and the Slurm plugin's then empty folders.
uninstall:
	@manifest=$(BUILD)/install_manifest.txt; \
	if [ ! -f "$$manifest" ]; then echo "no $$manifest: nothing was installed from $(BUILD)"; exit 1; fi; \
	xargs -d '\n' rm -f -- <"$$manifest"; \
	sed -n 's|/simgpu/.*|/simgpu|p' "$$manifest" | sort -u | while read -r dir; do \
		rmdir "$$dir"/* "$$dir" 2>/dev/null || true; done; \
	sed -n 's|/mpsmig_spank\.so$$||p' "$$manifest" | while read -r dir; do \
		rmdir "$$dir" 2>/dev/null || true; done; \
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
