# salespulse developer entry points (GNU make). `make` alone lists them.
# Local services are real Apache Kafka + salespulse processes, no Docker:
#   deploy/kafka/kafka.sh (the broker) and deploy/local/stack.sh (the whole stack); logs in .local/.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
WORKERS ?= 1
export WORKERS

.PHONY: help install kafka-start kafka-stop up down clean status test chaos run lint bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

install: $(STAMP) ## .venv with salespulse and its dev tools (re-run when pyproject.toml changes)

# The compiled apply core (native/, PyO3): the tests require it, a worker without it falls back
# to the interpreted path. Cargo comes from rustup (~/.cargo/bin), the crates from crates.io.
NATIVE_SOURCES := native/Cargo.toml native/Cargo.lock native/pyproject.toml $(wildcard native/src/*.rs)
export PATH := $(PATH):$(HOME)/.cargo/bin

$(STAMP): pyproject.toml $(NATIVE_SOURCES)
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV) \
	  || { echo "could not create $(VENV): on Debian, apt-get install python3-venv" >&2; exit 1; }
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup to build native/" >&2; exit 1; }
	$(VENV)/bin/python -m pip install -q ./native
	@touch $@

kafka-start: ## start the local Kafka broker alone (127.0.0.1:9092)
	deploy/kafka/kafka.sh start

kafka-stop: ## stop the local Kafka broker
	deploy/kafka/kafka.sh stop

up: install ## start Kafka, WORKERS workers (default 1) and the ingest API in the background
	deploy/local/stack.sh up

down: ## stop everything `up` started
	deploy/local/stack.sh down

clean: ## down, then delete Kafka data and worker state
	deploy/local/stack.sh clean

status: ## what runs and whether it answers
	deploy/local/stack.sh status

test: install ## the test suite, chaos scenarios at light sizes; own broker on 127.0.0.1:19092
	$(VENV)/bin/python -m pytest tests/unit -n 2
	$(VENV)/bin/python -m pytest tests/ --ignore=tests/unit

chaos: install ## the chaos scenarios (tests/chaos) at full size, with their verdicts (~15 min)
	$(VENV)/bin/python -m pytest tests/chaos -m chaos --chaos-full

run: install ## up, then feed demo events and print KPIs; the stack keeps running
	deploy/local/stack.sh up
	$(VENV)/bin/salespulse demo || { echo "demo failed; the stack is still up: make down" >&2; exit 1; }
	@echo "The stack keeps running (logs in .local/logs). Stop it with: make down"

bench: install ## benchmarks (docs/BENCHMARKS.md), own broker on 127.0.0.1:58092; BENCH_ARGS=... for options
	$(VENV)/bin/python -m bench all $(BENCH_ARGS)

lint: install ## ruff
	$(VENV)/bin/ruff check .
