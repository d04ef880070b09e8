# Every target bootstraps .venv itself: a fresh clone needs only python3 (>= 3.11) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run stop test lint typecheck pytest bench soak clean components

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(STAMP)

## make run: the main job on the paper exchange (this checkout's config/active/)
run: $(STAMP)
	$(BIN)/gridkeeper run-demo --settings config/daemon_config.json

## make stop: stop the bots and the keeper that `make run` started
stop: $(STAMP)
	$(BIN)/gridkeeper shutdown

## make test: ruff, mypy --strict on src/, pytest
test: lint typecheck pytest

LINT := src tests benchmarks core monitoring run.py

lint: $(STAMP)
	$(BIN)/ruff check $(LINT)
	$(BIN)/ruff format --check $(LINT)

typecheck: $(STAMP)
	$(BIN)/mypy

## make components: the real Prometheus, Alertmanager, systemd-analyze and Chromium the tests run (Debian
## packages; as root). Entries are command:package.
COMPONENTS := prometheus:prometheus prometheus-alertmanager:prometheus-alertmanager systemd-analyze:systemd chromium:chromium
components:
	@missing=""; for c in $(COMPONENTS); do command -v $${c%%:*} >/dev/null || missing="$$missing $${c#*:}"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing:$$missing; run 'make components' as root" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

pytest: $(STAMP) components
	$(BIN)/pytest -n 2 --dist loadfile

## make bench: every benchmark, each beside its baseline (the 30-minute soak: make soak)
bench: $(STAMP)
	@for b in benchmarks/*.py; do [ "$$b" = benchmarks/soak_rss.py ] && continue; \
		echo "== $$b"; $(BIN)/python $$b || exit 1; done

## make soak: a bot and the keeper for 30 minutes; RSS slope of each (SOAK_ARGS=--quick: 2 min)
soak: $(STAMP)
	$(BIN)/python benchmarks/soak_rss.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
