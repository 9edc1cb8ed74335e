# stocksignal: the commands a developer and CI use. `make help` lists them.
# No Docker engine needed: `make up` starts a local Kafka (KRaft) and Redis with
# deploy/local/platformctl.py; everything it writes lives under .local/.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PLATFORM := python3 deploy/local/platformctl.py
PYTEST_ARGS ?=

# Run $(1) against KAFKA_BOOTSTRAP_SERVERS / REDIS_URL when the caller set both,
# else against the local platform, started here if it is not up yet.
with_platform = @if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ] || [ -z "$$REDIS_URL" ]; then $(PLATFORM) up; fi; \
	eval "$$($(PLATFORM) env --keep-set)" && $(1)

.DEFAULT_GOAL := help
.PHONY: help venv up down status test demo schemas-check bench clean

help:
	@echo "make demo           start the local platform (the demo itself arrives with a later issue)"
	@echo "make test           run the tests (PYTEST_ARGS='-k smoke' to select)"
	@echo "make up|down|status start, stop or show the local Kafka and Redis"
	@echo "make venv           create or refresh .venv"
	@echo "make schemas-check  check the Avro schemas' compatibility"
	@echo "make bench          run the benchmark"
	@echo "make clean          stop the platform, remove .venv, .local and caches"

venv: $(VENV)/.installed

# The stamp is older than pyproject.toml when dependencies may have changed.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

up:
	$(PLATFORM) up

down:
	$(PLATFORM) down

status:
	$(PLATFORM) status

test: venv
	$(call with_platform,$(PY) -m pytest $(PYTEST_ARGS))

demo: up
	@echo "The local platform is up (make status). The stocksignal demo itself arrives with a"
	@echo "later issue; for now 'make demo' only starts Kafka and Redis. 'make down' stops them."

schemas-check: venv
	$(PY) -m stocksignal.contract.compat

bench: venv
	$(call with_platform,$(PY) -m stocksignal.bench)

clean:
	-$(PLATFORM) down
	rm -rf $(VENV) .local .state .pytest_cache .hypothesis
