# bongoyo: the few targets a person needs. Every target installs what it uses
# (rustup targets, Debian packages) so it works on a fresh machine.
#
#   make build          static x86_64 musl binary  -> target/x86_64-unknown-linux-musl/release/bongoyo
#   make build-aarch64  static aarch64 musl binary -> target/aarch64-unknown-linux-musl/release/bongoyo
#   make tiny           the firmware build (nightly, std rebuilt): target/tiny/TRIPLE/release/bongoyo
#   make size           every binary against its size budget (tiny too when the nightly toolchain is here)
#   make packaging      shellcheck on every script; the OpenWrt, Buildroot and systemd files on sample inputs
#   make test           format, lints, unit + simulator + namespace tests (as root)
#   make sim SEEDS=N [SEED=S]  N random simulator scenarios from seed S (default: a fresh base, printed)
#   make chaos [CHAOS_FAULTS=N] [CHAOS_SEED=S]  N random faults on the namespace cluster (default 300, a fresh seed, printed)
#   make bench          figures (size, fail-over, side by side with keepalived, ...) into bench-results/
#   make bench-side     only the side by side with keepalived (BENCH_RUNS=N, default 10)
#   make demo           three boxes in network namespaces
#   make fuzz           run the datagram decoder, config parser and control request fuzzers a minute each (FUZZ_SECONDS; nightly, cargo-fuzz)
#   make initramfs      initramfs/build/bongoyo.cpio.gz: busybox + bongoyo, bootable
#   make initramfs-repro build the initramfs twice and compare the bytes (prints its sha256)
#   make qemu           boot that initramfs under QEMU and check the box serves its vserver
#   make qemu3          three QEMU VMs boot it as one cluster; the holder is powered off, another takes over

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

# Paths the binaries would otherwise carry (panic locations, debug info):
# the registry, the toolchain and this directory, replaced by fixed names
# so two builds of one commit are the same bytes wherever they ran.
CARGO_HOME_DIR := $(or $(CARGO_HOME),$(HOME)/.cargo)
REMAP = --remap-path-prefix=$(CARGO_HOME_DIR)=/cargo --remap-path-prefix=$(CURDIR)=/bongoyo \
	--remap-path-prefix=$(shell rustc $(1) --print sysroot 2>/dev/null)=/rustc
# For the stable builds: added to .cargo/config.toml's rustflags (cargo
# joins --config arrays with the file's).
remap_config = --config 'target.$(1).rustflags=[$(foreach f,$(call REMAP),"$(f)",)]'

.PHONY: initramfs initramfs-repro qemu qemu3 qemu-deps test-aarch64

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

# The newest kernel in /boot (the one `make qemu` boots): its virtio
# network modules go into the image.
KVER = $(patsubst /boot/vmlinuz-%,%,$(lastword $(sort $(wildcard /boot/vmlinuz-*))))

initramfs: qemu-deps build
	bash initramfs/build.sh $(BIN_X86) initramfs/build/bongoyo.cpio.gz $(KVER)

# Same inputs, same bytes: two builds from copies in two directories under
# two umasks, compared.
initramfs-repro: qemu-deps build
	bash initramfs/repro.sh $(BIN_X86) $(KVER)

qemu: qemu-deps build
	bash initramfs/qemu.sh $(BIN_X86)

# Three VMs on one QEMU multicast socket network (127.0.0.1): about 30 s
# with software emulation on two loaded cores, so it is in `make test`.
qemu3: qemu-deps build
	bash initramfs/three.sh $(BIN_X86)

.PHONY: all build build-aarch64 targets deps test lint unit sim bench demo fuzz clean size size-stable
.PHONY: chaos shellcheck packaging bench-deps bench-side

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
	$(CARGO) build --release --locked --target $(X86) $(call remap_config,$(X86))
	@echo "build: $(BIN_X86) $$(stat -c %s $(BIN_X86)) bytes"; file $(BIN_X86) 2>/dev/null || true

build-aarch64: targets
	$(CARGO) build --release --locked --target $(ARM) $(call remap_config,$(ARM))
	@echo "build: $(BIN_ARM) $$(stat -c %s $(BIN_ARM)) bytes"; file $(BIN_ARM) 2>/dev/null || true

# The firmware build: the nightly toolchain rebuilds std (-Z build-std)
# with the release profile's size settings, panics abort at once with no
# message (immediate-abort: no panic or backtrace printer), no source
# locations and no Debug formatting are compiled in, no unwind tables
# (nothing unwinds), identical functions folded by the linker. Its own
# target directory: the stable builds are not touched. aarch64 is built
# when the nightly's aarch64 musl standard library (its crt start files
# and libc.a) can be installed, and skipped with a note when not.
NIGHTLY ?= nightly
TINY_DIR := target/tiny
TINY_BIN_X86 := $(TINY_DIR)/$(X86)/release/bongoyo
TINY_RUSTFLAGS = -C target-feature=+crt-static -C relocation-model=static \
	-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none \
	-Cforce-unwind-tables=no -Clink-arg=--icf=all $(call REMAP,+$(NIGHTLY))
TINY_CARGO = RUSTFLAGS="$(TINY_RUSTFLAGS)" CARGO_TARGET_DIR=$(TINY_DIR) \
	$(CARGO) +$(NIGHTLY) build --release --locked \
	-Z build-std=std,panic_abort -Z build-std-features=optimize_for_size

.PHONY: tiny tiny-toolchain
tiny-toolchain:
	@rustup toolchain list | grep -q '^$(NIGHTLY)' || rustup toolchain install $(NIGHTLY) --profile minimal
	@rustup component list --toolchain $(NIGHTLY) --installed | grep -q '^rust-src' || rustup component add rust-src --toolchain $(NIGHTLY)
	@rustup target list --toolchain $(NIGHTLY) --installed | grep -qx $(X86) || rustup target add $(X86) --toolchain $(NIGHTLY)

tiny: tiny-toolchain
	$(TINY_CARGO) --target $(X86)
	@if rustup target list --toolchain $(NIGHTLY) --installed | grep -qx $(ARM) || \
	    rustup target add $(ARM) --toolchain $(NIGHTLY) >/dev/null 2>&1; then \
	  echo '$(TINY_CARGO) --target $(ARM)'; $(TINY_CARGO) --target $(ARM); \
	else \
	  echo "tiny: aarch64 skipped: rustup cannot install $(NIGHTLY)'s $(ARM) standard library here"; \
	fi
	@for b in $(TINY_DIR)/*-unknown-linux-musl/release/bongoyo; do echo "tiny: $$b $$(stat -c %s $$b) bytes"; done

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

test: deps lint build unit initramfs-repro qemu qemu3 test-aarch64 size-stable packaging
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

# Size budgets, bytes. The stable ones are the sizes at the end of
# 2026-12-03 (x86_64 689,776 B, aarch64 625,136 B) plus about 1.5 %: a
# change that grows the binary past them must say why, and move the budget
# in the same commit (docs/DECISIONS.md, "Firmware builds and packages").
# The tiny one is the firmware target (issue 14): 250,000 B.
# x86_64 moved to 705,000 B the evening of 2026-12-03: IPv6 vservers and an
# IPv6 cluster (issue 15) took it to 701,608 B after three link flags had
# won back 14 KB (docs/DECISIONS.md, "Firmware builds and packages").
BUDGET_X86 ?= 705000
BUDGET_ARM ?= 635000
BUDGET_TINY_X86 ?= 250000
# FILE BUDGET: fail with a clear message when FILE is larger.
check_size = s=$$(stat -c %s $(1)); \
	if [ "$$s" -gt $(2) ]; then \
	  echo "size: FAIL: $(1) is $$s bytes, over its budget of $(2) by $$((s - $(2)))"; exit 1; \
	else echo "size: ok: $(1) $$s bytes (budget $(2), $$(($(2) - s)) to spare)"; fi

# `make test` checks these: stable Rust is all a fresh machine has.
size-stable: build build-aarch64
	@$(call check_size,$(BIN_X86),$(BUDGET_X86))
	@$(call check_size,$(BIN_ARM),$(BUDGET_ARM))

# Also the tiny build when the nightly toolchain is installed (`make tiny`
# installs it; it takes minutes, so `make test` leaves it out).
size: size-stable
	@if rustup toolchain list | grep -q '^$(NIGHTLY)'; then \
	  $(MAKE) --no-print-directory tiny && { $(call check_size,$(TINY_BIN_X86),$(BUDGET_TINY_X86)); }; \
	else echo "size: tiny skipped: no $(NIGHTLY) toolchain (make tiny installs it)"; fi

# The packaging recipes and init scripts: shellcheck on every shell script
# in board/, packaging/, initramfs/ and tests/; the OpenWrt package's UCI
# translation, init script, hotplug and rpcd parts against stand-ins; the
# Buildroot recipe's hashes; systemd-analyze verify on the unit.
SHELL_SCRIPTS = $(shell grep -rlE '^\#!(/usr/bin/env )?(/bin/)?(busybox )?(ba|da|a)?sh|^\# shellcheck shell=' board packaging initramfs tests --include='*' 2>/dev/null | grep -v '/data/' | sort)
shellcheck:
	@command -v shellcheck >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null)
	shellcheck -x $(SHELL_SCRIPTS)

packaging: shellcheck build
	bash tests/openwrt.sh $(BIN_X86)
	bash tests/buildroot.sh
	bash tests/systemd.sh $(BIN_X86)

clean:
	$(CARGO) clean
