# finlake. `make demo` runs the main job; `make test` runs the tests. Both install what is missing.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/finlake/target
CARGO ?= cargo
SCALE ?= 0.01
RATE ?= 200
DURATION ?= 30s

.PHONY: clients deps build test test-fast lint fmt demo db-start db-stop bench-load clean-state

deps:
	@bash scripts/deps.sh

# The Flight SQL clients the integration tests drive (pinned, cached under ~/.cache/finlake).
clients: deps
	@bash scripts/clients.sh

build: deps
	$(CARGO) build --locked

## Everything CI runs: unit tests, SQL and integration tests against a real MariaDB.
## The integration tests start a private MariaDB under $(TEST_STATE); it is stopped afterwards.
TEST_STATE := $(CARGO_TARGET_DIR)/tmp/finlake-test-state
test: deps clients
	@set +e; $(CARGO) test --locked --no-fail-fast -- --test-threads=2; rc=$$?; \
	  if [ -x $(CARGO_TARGET_DIR)/debug/finlake ]; then \
	    $(CARGO_TARGET_DIR)/debug/finlake --state-dir $(TEST_STATE) db stop >/dev/null || true; fi; \
	  exit $$rc

## Unit tests only: no database needed.
test-fast:
	$(CARGO) test --locked --lib

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

## A private database, synthetic data, and a live workload.
demo: build
	$(CARGO_TARGET_DIR)/debug/finlake db start
	$(CARGO_TARGET_DIR)/debug/finlake datagen --scale $(SCALE) --replace
	$(CARGO_TARGET_DIR)/debug/finlake db status
	$(CARGO_TARGET_DIR)/debug/finlake simulate --rate $(RATE) --duration $(DURATION) --label-delay 10s
	$(CARGO_TARGET_DIR)/debug/finlake db status

db-start: build
	$(CARGO_TARGET_DIR)/debug/finlake db start

db-stop:
	$(CARGO_TARGET_DIR)/debug/finlake db stop

## Scale-1.0 load benchmark (release build; about 10 minutes per run).
bench-load: deps
	bash benches/load.sh

clean-state:
	-$(CARGO_TARGET_DIR)/debug/finlake db stop
	rm -rf .finlake
