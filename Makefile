# The two commands of the README: `make demo` and `make test`. Everything else is a step of those.
VENV ?= .venv
BIN := $(VENV)/bin
SURGE := $(BIN)/surge-monitor

.PHONY: setup demo down status test lint test-unit test-integration rules-test clean

setup:
	@bash deploy/setup.sh

demo: setup
	$(SURGE) demo

down:
	@if [ -x $(SURGE) ]; then $(SURGE) stack down; fi

status: setup
	$(SURGE) stack status

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

rules-test: setup
	promtool check rules deploy/prometheus/rules/*.yml
	promtool test rules deploy/prometheus/tests/*.yml

test: lint rules-test
	$(BIN)/pytest -q tests

test-unit: setup
	$(BIN)/pytest -q tests/unit

test-integration: setup
	$(BIN)/pytest -q tests/integration

clean: down
	rm -rf .surge
