# finlake. `make demo` runs the main job; `make test` runs the tests. Both install what is missing.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/finlake/target
CARGO ?= cargo
SCALE ?= 0.01
RATE ?= 200
DURATION ?= 30s

.PHONY: dashboard test-dashboard bench-dashboard clients spark-install deps build test test-fast test-sql lint fmt demo db-start db-stop bench-load bench-cdc bench-flight bench-kafka bench-fraud clean-state stack-up stack-down stack-status

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
## The scale-out tests start the native stack (Kafka, Connect + Debezium, MinIO) under $(TEST_STACK).
TEST_STACK := $(CARGO_TARGET_DIR)/tmp/finlake-stack
## Then the dashboard tests and the operations tests (pytest) with the binary cargo built.
## The test binaries build while the clients and services install (the build is CPU, the
## installs mostly downloads): a cold run saves the shorter of the two.
TEST_BUILD_LOG := $(CARGO_TARGET_DIR)/test-build.log
test: deps
	@mkdir -p $(CARGO_TARGET_DIR); \
	  echo "test: building the tests beside the installs (log: $(TEST_BUILD_LOG))"; \
	  ( $(CARGO) test --locked --no-run > $(TEST_BUILD_LOG) 2>&1 ) & build=$$!; \
	  rc=0; { bash scripts/clients.sh && bash infra/local/stack.sh install && \
	    bash infra/spark/install.sh && bash infra/streamlit/install.sh && \
	    bash infra/superset/install.sh && bash infra/airflow/install.sh && \
	    bash tests/ops/install.sh; } || rc=$$?; \
	  if ! wait $$build; then tail -n 80 $(TEST_BUILD_LOG); echo "test: the build failed"; exit 1; fi; \
	  echo "test: tests built"; exit $$rc
	@set +e; $(CARGO) test --locked --no-fail-fast -- --test-threads=2; rc=$$?; \
	  if [ -x $(CARGO_TARGET_DIR)/debug/finlake ]; then \
	    $(CARGO_TARGET_DIR)/debug/finlake --state-dir $(TEST_STATE) db stop >/dev/null 2>&1 || true; fi; \
	  FINLAKE_STACK_DIR=$(TEST_STACK) bash infra/local/stack.sh down >/dev/null 2>&1 || true; \
	  FINLAKE_STACK_DIR=$(TEST_STACK)-faults bash infra/local/stack.sh down >/dev/null 2>&1 || true; \
	  $(MAKE) --no-print-directory test-dashboard FINLAKE_BIN=$(CARGO_TARGET_DIR)/debug/finlake || rc=1; \
	  $(MAKE) --no-print-directory test-ops FINLAKE_BIN=$(CARGO_TARGET_DIR)/debug/finlake || rc=1; \
	  exit $$rc

## Unit tests only: no database needed.
test-fast:
	$(CARGO) test --locked --lib

## sqllogictest files of sql/tests over the golden lake, reflections on and off (no database).
test-sql:
	$(CARGO) test --locked --test sql

## Formatting, clippy, and the module graph flowing one way (ARCHITECTURE.md).
lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	python3 scripts/modgraph.py --check

fmt:
	$(CARGO) fmt

## The product tour: a private database, synthetic data, `finlake serve` (CDC loop, reflections,
## fraud features, Flight SQL), a live workload and the dashboard, until Ctrl-C.
## DEMO_FOR=60s stops by itself after that long and ends with `finlake verify`.
DEMO_FOR ?=
demo: build
	FINLAKE=$(CARGO_TARGET_DIR)/debug/finlake SCALE=$(SCALE) RATE=$(RATE) DEMO_FOR=$(DEMO_FOR) \
	  bash scripts/demo.sh

## The dashboard alone, against a running `finlake serve` (FINLAKE_FLIGHT_URI, _USER, _PASSWORD).
DASHBOARD_PORT ?= 8501
DASHBOARD_VENV := $(HOME)/.cache/finlake/venv-dashboard
dashboard:
	@FINLAKE_DASHBOARD_NO_BROWSER=1 bash infra/streamlit/install.sh
	@echo "dashboard: http://127.0.0.1:$(DASHBOARD_PORT)  (Flight SQL $${FINLAKE_FLIGHT_URI:-grpc://127.0.0.1:50051})"
	cd infra/streamlit && $(DASHBOARD_VENV)/bin/streamlit run app.py --server.port $(DASHBOARD_PORT) \
	  --server.address 127.0.0.1 --server.headless true --browser.gatherUsageStats false

## Dashboard tests: AppTest of every page and headless Chromium against a live `finlake serve`,
## and `scripts/demo.sh` for a fixed time (debug build; screenshots into docs/img/).
test-dashboard: $(if $(FINLAKE_BIN),,build)
	bash infra/streamlit/install.sh
	FINLAKE_BIN=$${FINLAKE_BIN:-$(CARGO_TARGET_DIR)/debug/finlake} \
	  $(DASHBOARD_VENV)/bin/python -m pytest -p no:cacheprovider -v tests/dashboard

## Dashboard benchmark (issue 12): commit -> value on the Overview page in headless Chromium, and
## every query the pages send replayed over Flight SQL; scale 0.1, release build (~15 min).
bench-dashboard: deps
	$(CARGO) build --locked --release
	bash infra/streamlit/install.sh
	$(DASHBOARD_VENV)/bin/python benches/dashboard.py --scale 0.1 --probes 40 --replays 60 \
	  --json $(CARGO_TARGET_DIR)/bench-dashboard.json

db-start: build
	$(CARGO_TARGET_DIR)/debug/finlake db start

db-stop:
	$(CARGO_TARGET_DIR)/debug/finlake db stop

## The native scale-out stack (state in .finlake/stack): Kafka, Connect + Debezium, MinIO.
stack-up:
	bash infra/local/stack.sh up

stack-down:
	bash infra/local/stack.sh down

stack-status:
	bash infra/local/stack.sh status

## The Spark job's venv (pyspark, delta-spark) and jars, cached under ~/.cache/finlake/spark.
spark-install:
	bash infra/spark/install.sh

## Scale-1.0 load benchmark (release build; about 4 minutes per run).
bench-load: deps
	bash benches/load.sh

## Scale-out benchmarks: Debezium, the Kafka loop beside the Spark job (scale 0.01, ~30 min).
bench-kafka: deps
	bash infra/local/stack.sh install
	bash infra/spark/install.sh
	bash benches/kafka.sh

## CDC benchmarks: snapshot, backlog drain, freshness at scale 1.0 (release build, ~25 min).
bench-cdc: deps
	bash benches/cdc.sh 1.0 3 5000

## Flight SQL and dashboard benchmarks beside DuckDB at scale 1.0 (release build, ~15 min).
bench-flight: deps
	bash benches/flight.sh 1.0 100

## Fraud features: alert precision and recall on generated data (debug build, ~1 minute).
bench-fraud:
	$(CARGO) build --locked --profile dev --bench fraud_features
	$$(ls -t $(CARGO_TARGET_DIR)/debug/deps/fraud_features-* | grep -v '\.d$$' | head -1)

clean-state:
	-$(CARGO_TARGET_DIR)/debug/finlake db stop
	rm -rf .finlake

.PHONY: superset-install airflow-install test-ops

## Superset 6.1.0 with the Flight SQL dialect in its own venv (~/.cache/finlake/venv-superset).
superset-install:
	@bash infra/superset/install.sh

## Airflow 3.3.2 and what the DAGs use in its own venv (~/.cache/finlake/venv-airflow).
airflow-install:
	@bash infra/airflow/install.sh

## Operations tests (tests/ops, pytest): Superset over finlake serve (with screenshots), the
## Airflow DAGs against the native stack, the Compose validation, the Dremio bootstrap.
## FINLAKE_BIN=path skips the build and tests that binary.
OPS_TMP := $(CARGO_TARGET_DIR)/tmp/finlake-ops
test-ops: superset-install airflow-install $(if $(FINLAKE_BIN),,build)
	@bash tests/ops/install.sh
	@bash infra/local/stack.sh install
	@set +e; FINLAKE_BIN=$${FINLAKE_BIN:-$(CARGO_TARGET_DIR)/debug/finlake} \
	  $(HOME)/.cache/finlake/venv-ops/bin/pytest tests/ops -p no:cacheprovider -q -rfE \
	  --basetemp=$(OPS_TMP); rc=$$?; \
	  bin=$${FINLAKE_BIN:-$(CARGO_TARGET_DIR)/debug/finlake}; \
	  [ -x "$$bin" ] && "$$bin" --state-dir $(OPS_TMP)/ops0/state db stop >/dev/null 2>&1; \
	  FINLAKE_STACK_DIR=$(OPS_TMP)/ops0/stack bash infra/local/stack.sh down >/dev/null 2>&1; \
	  exit $$rc
