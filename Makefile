# streamstats — developer entry points. `make test` runs everything; `make check` lints and types.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
KAFKA := deploy/local-kafka/kafka.sh
# Debian tools: Java and Maven for the local broker, and the tools the tests drive
# (deploy/system-deps.sh lists them); installed when missing, or it says how.
SYSTEM_DEPS := bash deploy/system-deps.sh
# The proof scenarios (tests/proof) at sizes that take minutes, not hours: `make test` runs
# them after the other tests; `make proof` runs them at the issue's sizes.
PROOF_SHORT := PROOF_EVENTS=3000 PROOF_BAD=3000 PROOF_REBALANCE_EVENTS=3000 \
	PROOF_SOAK_MINUTES=1 PROOF_SOAK_RATE=500 \
	PROOF_SCALE_AGENTS=2000 PROOF_SCALE_CHATS=20000 PROOF_SCALE_WRK_SECONDS=3

.PHONY: install system-deps test test-core test-integration check check-upgrade format bench-fold \
	bench-e2e proof kafka-up kafka-down run demo clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@PYTHON=$(PYTHON) $(SYSTEM_DEPS) venv
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

system-deps:
	@$(SYSTEM_DEPS) test

test: $(STAMP)
	@$(SYSTEM_DEPS) test
	$(PY) -m pytest
	$(PROOF_SHORT) $(PY) -m pytest tests/proof -m proof -s -p no:randomly

test-core: $(STAMP)
	$(PY) -m pytest tests/core

test-integration: $(STAMP)
	$(PY) -m pytest tests/integration

check: $(STAMP)
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/streamstats schemas check

# The Faust seam's contract tests and the short proofs with the newest faust-streaming,
# mode-streaming and aiokafka from PyPI, in a throwaway venv (deploy/check-upgrade.sh).
check-upgrade:
	@$(SYSTEM_DEPS) test
	$(PROOF_SHORT) bash deploy/check-upgrade.sh

format: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench-fold: $(STAMP)
	$(PY) benchmarks/bench_fold.py

bench-e2e: $(STAMP)
	$(PY) benchmarks/bench_e2e.py

proof: $(STAMP)
	@$(SYSTEM_DEPS) test
	$(PY) -m pytest tests/proof -m proof -s -p no:randomly

kafka-up:
	@$(SYSTEM_DEPS) run
	@bash $(KAFKA) start

kafka-down:
	@bash $(KAFKA) stop

run: $(STAMP)
	@if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ]; then $(SYSTEM_DEPS) run; fi
	@eval "export $$(bash $(KAFKA) start)" && \
		export STREAMSTATS_JWT_SECRET="$$(bash deploy/dev-secret.sh)" && \
		token="$$($(VENV)/bin/streamstats token --agent supervisor --role supervisor)" && \
		port="$${STREAMSTATS_WEB_PORT:-6066}" && \
		printf '\nstreamstats worker on http://127.0.0.1:%s (Kafka at %s)\n' "$$port" "$$KAFKA_BOOTSTRAP_SERVERS" && \
		printf '  the team view:  http://127.0.0.1:%s/team?token=%s\n' "$$port" "$$token" && \
		printf '  the API:        curl -H "Authorization: Bearer %s" http://127.0.0.1:%s/agents\n' "$$token" "$$port" && \
		printf '  metrics:        http://127.0.0.1:%s/metrics\n\n' "$$port" && \
		$(VENV)/bin/streamstats worker

demo: $(STAMP)
	@bash deploy/demo.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis streamstats-data
