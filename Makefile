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
.PHONY: help venv up down status lint test demo schemas-check bench chaos clean

help:
	@echo "make demo           a scripted day of a small shop through every service (docs/demo.md)"
	@echo "make demo-stop      stop the demo's services (make down stops them too)"
	@echo "make test           make lint, then the tests (PYTEST_ARGS='-k smoke' to select)"
	@echo "make lint           ruff (lint and format), mypy, import-linter's layer contracts"
	@echo "make up|down|status start, stop or show the local Kafka and Redis"
	@echo "make venv           create or refresh .venv"
	@echo "make schemas-check  check the Avro schemas' compatibility"
	@echo "make bench          run the benchmark"
	@echo "make chaos          every fault case over several seeds (CHAOS_ARGS='--seeds 1,2')"
	@echo "make clean          stop the platform, remove .venv, .local and caches"

venv: $(VENV)/.installed

# The stamp is older than pyproject.toml when dependencies may have changed.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

up:
	$(PLATFORM) up

# The secured platform the security tests start (tests/integration/security) is stopped by
# their session; this also stops one a killed session left behind.
down:
	-@$(DEMO_STOP) --quiet
	$(PLATFORM) down
	-@STOCKSIGNAL_LOCAL_DIR=.local/secure-tests $(PLATFORM) down >/dev/null

status:
	$(PLATFORM) status

# docs/architecture.md#keeping-the-code-in-shape: the style, the types and the layers.
LINT_PATHS := services tests deploy setup.py
lint: venv
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

test: venv lint
	@$(PLATFORM) tools
	$(call with_platform,$(PY) -m pytest $(PYTEST_ARGS))

# The scripted day of docs/demo.md: the local platform, every service as a process, a check of
# every number at the end. The services keep running (pid files in .local/demo/): `make demo-stop`
# or `make down` stops them. DEMO_ARGS='--plain' for plain output, '--free-ports' for other ports.
DEMO_ARGS ?=
DEMO_STOP := PYTHONPATH=services python3 -m stocksignal.demo.stop

demo: venv
	$(call with_platform,$(PY) -m stocksignal.demo run $(DEMO_ARGS))

.PHONY: demo-stop
demo-stop:
	@$(DEMO_STOP)

# Every fault case (tests/e2e/faults.py) over several seeds, as a table; not part of `make test`.
CHAOS_ARGS ?=
chaos: venv
	$(call with_platform,$(PY) -m tests.e2e.chaos $(CHAOS_ARGS))

schemas-check: venv
	$(PY) -m stocksignal.contract.compat

bench: venv
	$(call with_platform,$(PY) -m stocksignal.bench)

clean:
	-@$(DEMO_STOP) --quiet
	-$(PLATFORM) down
	-@STOCKSIGNAL_LOCAL_DIR=.local/secure-tests $(PLATFORM) down >/dev/null
	rm -rf $(VENV) .local .state .pytest_cache .hypothesis
