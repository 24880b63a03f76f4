# plankton: the two commands a newcomer needs are `make run` and `make test`.

CARGO  ?= cargo
PREFIX ?= /usr/local
BIN    := target/release/plankton

.DEFAULT_GOAL := help
.PHONY: help build run test lint clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the release binary
	$(CARGO) build --release --locked

run: build ## serve offline on built-in defaults, state in ./var/
	@./scripts/first-run.sh
	exec $(BIN)

test: ## run every test (unit and end to end)
	$(CARGO) test --locked --all-targets

lint: ## formatting and clippy, warnings are errors
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

clean: ## remove build output (./var/ is kept: it is your data)
	$(CARGO) clean
