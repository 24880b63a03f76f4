# plankton: the two commands a newcomer needs are `make run` and `make test`.

CARGO      ?= cargo
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR    ?=
BIN        := target/release/plankton

.DEFAULT_GOAL := help
.PHONY: help build run test test-browser browser-deps interop clients lint install clean bench bench-large bench-upload soak

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the release binary
	$(CARGO) build --release --locked

run: build ## serve offline on built-in defaults, state in ./var/
	@./scripts/first-run.sh
	exec $(BIN)

test: ## run every test (unit and end to end)
	$(CARGO) test --locked --all-targets

test-browser: browser-deps ## the web view's stories in headless Chromium (installs it when missing)
	REQUIRE_BROWSER_TESTS=1 $(CARGO) test --locked --test browser

browser-deps: ## Debian's chromium and chromedriver for the browser tests, when missing (needs root)
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
	    echo "chromium and chromedriver are installed"; \
	else \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

clients: ## kamaki (Python 2.7), glance and openstack (Python 3.11) from PyPI into target/interop-venvs/, as `make interop` uses them
	INTEROP_VENVS_ONLY=1 tests/interop/run.sh

# INTEROP_SKIP="story ..." leaves stories out (every story runs by default).
INTEROP_SKIP ?=
interop: build ## the real clients (kamaki, snf-image-creator, glance, openstack) from PyPI against the binary
	INTEROP_SKIP="$(INTEROP_SKIP)" tests/interop/run.sh

# Crash test: `make crashtest CYCLES=3` is the short form CI runs.
CYCLES     ?= 50
# Cases of each generated-input property in `make fuzz`.
FUZZ_CASES ?= 40000
.PHONY: crashtest fuzz

crashtest: build ## kill -9 the release binary under 16 writers CYCLES times (50), alone on SQLite, then one of three on PostgreSQL: nothing lost, nothing half written
	TEST_PLANKTON_BIN=$(BIN) CRASH_CYCLES=$(CYCLES) $(CARGO) test --locked --test crash
	TEST_PLANKTON_BIN=$(BIN) CRASH_CYCLES=$(CYCLES) CRASH_ENGINE=postgres $(CARGO) test --locked --test crash

fuzz: ## the generated-input (proptest) tests with FUZZ_CASES cases each (40000), optimised
	PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test --locked --release --lib -- proptests router::tests::routes_

lint: ## formatting, clippy (warnings are errors), the unit's hardening score
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	systemd-analyze security --offline=yes --threshold=25 systemd/plankton.service

# `make install INSTALL_BIN=path` installs that binary instead of building one.
ifndef INSTALL_BIN
INSTALL_BIN := $(BIN)
install: build
endif
install: ## install the binary (its debug info split off beside it), unit, system user and config (PREFIX, DESTDIR)
	install -D -m 755 $(INSTALL_BIN) $(DESTDIR)$(PREFIX)/bin/plankton
	@# The debug info goes to bin/.debug/plankton.debug, where gdb and
	@# perf find it by the binary's debuglink; the binary keeps its symbols.
	install -d -m 755 $(DESTDIR)$(PREFIX)/bin/.debug
	objcopy --only-keep-debug $(DESTDIR)$(PREFIX)/bin/plankton $(DESTDIR)$(PREFIX)/bin/.debug/plankton.debug
	chmod 644 $(DESTDIR)$(PREFIX)/bin/.debug/plankton.debug
	cd $(DESTDIR)$(PREFIX)/bin && objcopy --strip-debug --add-gnu-debuglink=.debug/plankton.debug plankton
	install -d -m 755 $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/sysusers.d
	sed -e 's|/usr/local/bin/plankton|$(PREFIX)/bin/plankton|' \
	    -e 's|/usr/local/share/doc|$(PREFIX)/share/doc|' \
	    -e 's|/etc/plankton/|$(SYSCONFDIR)/plankton/|' \
	    systemd/plankton.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/plankton.service
	install -m 644 systemd/plankton.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/plankton.conf
	install -D -m 644 README.md $(DESTDIR)$(PREFIX)/share/doc/plankton/README.md
	install -D -m 644 docs/behaviour.md $(DESTDIR)$(PREFIX)/share/doc/plankton/behaviour.md
	install -D -m 644 docs/api.md $(DESTDIR)$(PREFIX)/share/doc/plankton/api.md
	install -d -m 755 $(DESTDIR)$(SYSCONFDIR)/plankton
	install -m 644 etc/tokens.example $(DESTDIR)$(SYSCONFDIR)/plankton/tokens.example
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/plankton/plankton.toml ]; then \
	    echo "keeping the existing $(DESTDIR)$(SYSCONFDIR)/plankton/plankton.toml"; \
	else \
	    sed -e 's|"\./var/plankton\.db"|"/var/lib/plankton/plankton.db"|' \
	        -e 's|"\./var/tokens"|"$(SYSCONFDIR)/plankton/tokens"|' \
	        -e 's|"\./var/objects"|"/var/lib/plankton/objects"|' \
	        etc/plankton.toml > $(DESTDIR)$(SYSCONFDIR)/plankton/plankton.toml; \
	    chmod 644 $(DESTDIR)$(SYSCONFDIR)/plankton/plankton.toml; \
	    echo "installed $(DESTDIR)$(SYSCONFDIR)/plankton/plankton.toml"; \
	fi

# `make bench` also builds bench/reference (a bare actix-web server: the
# reference limit, its own package and lock file) into target/bench-reference;
# no other target builds it.
bench: build ## measure: memory of a process that registers 2x10,000 images and serves reads; 10,000 images, wrk at c=1/16/64 beside a bare actix-web reference, memory, fsync, 512 MiB, install size, against the goals in BENCHMARKS.md (~6 min)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	python3 bench/run.py --binary $(BIN)

soak: build ## ten minutes of mixed load at c=64: zero errors, flat memory (SOAK=600)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	python3 bench/run.py --binary $(BIN) --soak $(or $(SOAK),600)

bench-large: build ## measure: registering a fresh 512 MiB file against md5sum
	python3 bench/run.py --binary $(BIN) --large

# kamaki 0.16 comes from the interop venv, made (from PyPI) by the kamaki-cli
# story the first time.
KAMAKI_VENV := target/interop-venvs/py27
bench-upload: build ## measure: a 1 GiB upload by curl and kamaki, one and 8 at once, against md5sum + sha256sum; the v2 upload against the three hashes; kamaki re-uploads (again, -f, one block changed); HEAD beside 8 uploads (~8 min, 10 GiB of disk)
	@[ -x $(KAMAKI_VENV)/bin/kamaki ] || tests/interop/run.sh kamaki-cli
	python3 bench/run.py --binary $(BIN) --upload --kamaki $(KAMAKI_VENV)/bin/kamaki

clean: ## remove build output (./var/ is kept: it is your data)
	$(CARGO) clean
