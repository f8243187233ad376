# pistack — the two commands are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
PREFIX ?= /usr
DESTDIR ?=

.PHONY: run build release deps test test-fresh test-rust test-page test-pi test-unit-pi test-deb test-systemd test-unit-file test-fuzz fuzz test-schemathesis test-load test-powercut bench bench-bloat bench-compare fmt lint pi pi-static deb install clean

## run: build and start the daemon with conf/dev.json (simulated GPIO, demo programs, state in ./var)
run: build
	@mkdir -p var
	@echo "pistack: http://127.0.0.1:8080  (user root; first password in ./var/initial-root-password)"
	@test ! -f var/initial-root-password || echo "pistack: root password: $$(cat var/initial-root-password)"
	exec ./target/debug/pistack --config conf/dev.json serve

build:
	$(CARGO) build

release:
	$(CARGO) build --release

## deps: install what the build and the tests need (idempotent; see tools/deps)
deps:
	tools/deps

## test: everything CI checks (installs what it needs first)
test: deps
	$(MAKE) --no-print-directory lint test-rust test-page test-unit-file test-fuzz test-schemathesis test-load test-pi test-deb
	@echo "make test: all checks passed"

## test-fresh: a clone of HEAD in an empty folder builds, tests and runs the tools
test-fresh: deps
	tools/test-fresh

test-rust:
	$(CARGO) test --all-targets

## test-fuzz: each cargo-fuzz target 20 s from its seeds (nightly); fuzz: 10 min each (FUZZ_SECONDS=N)
test-fuzz:
	fuzz/run.sh 20

fuzz:
	fuzz/run.sh $${FUZZ_SECONDS:-600}

## contract fuzzing of /api/openapi.json with schemathesis, as Root and as a User
test-schemathesis: build
	tests/schemathesis.sh 25

## wrk, 64 keep-alive connections on validate, a static file and the process list: all 2xx
test-load: build
	tests/load.sh 5

## power cuts of a VM mid-write: every acknowledged user, revocation and mail survives
## (tests/powercut.rs; PISTACK_POWERCUT_ROUNDS=N, default 20)
test-powercut:
	$(CARGO) test --test powercut -- --ignored --nocapture

## the page in real Chromium (Debian's), driven by playwright-core
test-page: build
	PISTACK_BIN=$(abspath target/debug/pistack) tests/page/run.sh

test-unit-file:
	systemd/check-unit.sh

## the ARMv6 (Pi Zero) binary on an emulated ARM1176: unit tests, then a daemon smoke run
test-pi:
	packaging/pi-test.sh

test-deb: release
	packaging/deb/build-deb.sh amd64 target/release/pistack $(VERSION) dist
	packaging/deb/test-deb.sh dist/pistack_$(VERSION)_amd64.deb

## the amd64 .deb under systemd 252 as PID 1 in a VM (tools/systemd-vm; first run builds its cache)
test-systemd: release
	tests/systemd_vm/run.sh target/release/pistack

## bench: figures only (memory, start time, requests/s, p99, restart and GPIO latency, size)
bench: release
	@tools/pi-cross-build musl >/dev/null 2>&1 || \
	  echo "bench: the ARMv6 build failed (make pi-static shows why)"
	bench/core.sh
	@test ! -x bench/supervisor.sh || bench/supervisor.sh
	@test ! -x bench/gpio.sh || bench/gpio.sh
	@test ! -x bench/ctl.sh || bench/ctl.sh
	@test ! -x bench/tls.sh || bench/tls.sh

## bench-bloat: the size of each crate in the ARMv6 binary (cargo bloat --crates; unstripped build in target/pi-bloat)
bench-bloat:
	bench/arm-bloat.sh

## bench-compare: the original Python stack (bench/python-ref, PyPI pins) next to pistack; a table
bench-compare: release
	bench/compare.sh

fmt:
	$(CARGO) fmt

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	@! $(CARGO) tree -e normal --prefix none | grep -Eq '^(tokio|async-std|smol|futures-executor) ' || \
	  { echo "an async runtime is in the dependency tree"; exit 1; }

## pi: the Pi Zero binary with cross (needs Docker); pi-static: without Docker, static musl
pi:
	CROSS_CONFIG=cross/Cross.toml cross build --release --target arm-unknown-linux-gnueabihf

pi-static:
	tools/pi-cross-build musl

deb: release pi-static
	packaging/deb/build-deb.sh amd64 target/release/pistack $(VERSION) dist
	packaging/deb/build-deb.sh armhf target/arm-unknown-linux-musleabihf/release/pistack $(VERSION) dist

install: release
	install -D -m 0755 target/release/pistack $(DESTDIR)$(PREFIX)/bin/pistack
	install -d $(DESTDIR)$(PREFIX)/share/pistack/www
	cp -r www/. $(DESTDIR)$(PREFIX)/share/pistack/www/
	install -d $(DESTDIR)/etc/pistack $(DESTDIR)/lib/systemd/system
	sed 's|/usr/share/pistack|$(PREFIX)/share/pistack|' conf/pistack.json > $(DESTDIR)/etc/pistack/pistack.json
	sed 's|/usr/bin/pistack|$(PREFIX)/bin/pistack|' systemd/pistack.service > $(DESTDIR)/lib/systemd/system/pistack.service
	chmod 0644 $(DESTDIR)/etc/pistack/pistack.json $(DESTDIR)/lib/systemd/system/pistack.service

clean:
	$(CARGO) clean
	rm -rf dist var
