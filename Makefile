# bongoyo: the few targets a person needs. Every target installs what it uses
# (rustup targets, Debian packages) so it works on a fresh machine.
#
#   make build          static x86_64 musl binary  -> target/x86_64-unknown-linux-musl/release/bongoyo
#   make build-aarch64  static aarch64 musl binary -> target/aarch64-unknown-linux-musl/release/bongoyo
#   make test           format, lints, unit + simulator + namespace tests (as root)
#   make sim SEEDS=N [SEED=S]  N random simulator scenarios from seed S (default: a fresh base, printed)
#   make chaos [CHAOS_FAULTS=N] [CHAOS_SEED=S]  N random faults on the namespace cluster (default 300, a fresh seed, printed)
#   make bench          figures (size, fail-over, side by side with keepalived, ...) into bench-results/
#   make bench-side     only the side by side with keepalived (BENCH_RUNS=N, default 10)
#   make demo           three boxes in network namespaces
#   make fuzz           run the datagram decoder, config parser and control request fuzzers a minute each (FUZZ_SECONDS; nightly, cargo-fuzz)
#   make initramfs      initramfs/build/bongoyo.cpio.gz: busybox + bongoyo, bootable
#   make qemu           boot that initramfs under QEMU and check the box serves its vserver

X86     := x86_64-unknown-linux-musl
ARM     := aarch64-unknown-linux-musl
BIN_X86 := target/$(X86)/release/bongoyo
BIN_ARM := target/$(ARM)/release/bongoyo
SEEDS   ?= 1000
SEED    ?=
CI_SEEDS ?= 300
CHAOS_FAULTS ?= 300
CHAOS_SEED ?=
APT_PKGS := nftables iproute2 procps psmisc file
# What make bench compares bongoyo with, and plots with.
BENCH_PKGS := keepalived gnuplot-nox

CARGO ?= cargo

.PHONY: initramfs qemu qemu-deps test-aarch64

# The ARM binary runs (under qemu-user): keygen, check of every example.
test-aarch64: build-aarch64
	@command -v qemu-aarch64 >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user >/dev/null)
	bash tests/aarch64.sh $(BIN_ARM)

QEMU_PKGS := busybox-static qemu-system-x86 linux-image-cloud-amd64

qemu-deps:
	@missing=""; for p in $(QEMU_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null; \
	fi

initramfs: qemu-deps build
	bash initramfs/build.sh $(BIN_X86) initramfs/build/bongoyo.cpio.gz

qemu: qemu-deps build
	bash initramfs/qemu.sh $(BIN_X86)

.PHONY: all build build-aarch64 targets deps test lint unit sim bench demo fuzz clean size
.PHONY: chaos bench-deps bench-side

all: build

targets:
	@rustup target list --installed | grep -qx $(X86) || rustup target add $(X86)
	@rustup target list --installed | grep -qx $(ARM) || rustup target add $(ARM)
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

# Debian packages the tests and the demo use; installed only when missing.
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null; \
	fi

build: targets
	$(CARGO) build --release --locked --target $(X86)
	@ls -l $(BIN_X86); file $(BIN_X86) 2>/dev/null || true

build-aarch64: targets
	$(CARGO) build --release --locked --target $(ARM)
	@ls -l $(BIN_ARM); file $(BIN_ARM) 2>/dev/null || true

lint: targets
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

# The simulator first, its output shown (it prints its fresh seed base), then
# everything else (the simulator again with its regression seeds only).
# CI_CHAOS_FAULTS: the chaos run inside `make test` (about a minute; a fresh
# seed each run, printed): random faults, never two boxes on one address,
# every vserver served again after each burst.
CI_CHAOS_FAULTS ?= 20
unit: targets
	SIM_SEEDS=$(CI_SEEDS) $(CARGO) test --locked --test sim -- --nocapture
	SIM_SEEDS=0 CHAOS_FAULTS=$(CI_CHAOS_FAULTS) $(CARGO) test --locked

test: deps lint build unit qemu test-aarch64
	@echo "make test: all passed"

sim: targets
	SIM_SEEDS=$(SEEDS) $(if $(SEED),SIM_SEED=$(SEED)) $(CARGO) test --locked --test sim -- --nocapture

# Random faults on three boxes in namespaces (tests/chaos.rs, as root). `make
# test` runs the same test in `unit` with CI_CHAOS_FAULTS faults.
chaos: deps build
	CHAOS_FAULTS=$(CHAOS_FAULTS) $(if $(CHAOS_SEED),CHAOS_SEED=$(CHAOS_SEED)) $(CARGO) test --locked --test chaos -- --nocapture

bench-deps:
	@missing=""; for p in $(BENCH_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null; \
	fi

bench: deps bench-deps build build-aarch64
	@bash tests/bench/run.sh

bench-side: deps bench-deps build
	@mkdir -p bench-results && bash tests/bench/side.sh bench-results/side-only.txt

demo: deps build
	@command -v python3 >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-minimal >/dev/null)
	@bash tests/demo.sh $(BIN_X86)

# cargo-fuzz needs the nightly toolchain (sanitizers); FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	cd fuzz && mkdir -p corpus/decode corpus/config corpus/control && \
	  cargo +nightly fuzz run decode corpus/decode seeds/decode -- -max_total_time=$(FUZZ_SECONDS) -max_len=1500 && \
	  cargo +nightly fuzz run config corpus/config seeds/config -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096 && \
	  cargo +nightly fuzz run control corpus/control seeds/control -- -max_total_time=$(FUZZ_SECONDS) -max_len=256

clean:
	$(CARGO) clean
