# One target per habit. `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo test lint typecheck unit aws infra e2e fuzz bench synth clean

install: $(STAMP) node_modules/.installed ## venv with runtime, dev tools and the CDK CLI; .venv/bin/ami-hygiene ready

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: $(STAMP) ## seed the embedded AWS, rotate in report then enforce mode
	$(BIN)/ami-hygiene demo

test: install lint typecheck ## everything CI runs
	$(BIN)/pytest -p xdist -n 2 tests

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

aws: $(STAMP)
	$(BIN)/pytest tests/aws

fuzz: $(STAMP) ## the handler and publisher fuzz properties with a few hundred examples each (make test runs 25)
	AMI_HYGIENE_FUZZ=1 $(BIN)/pytest -p xdist -n 2 tests/aws/handlers/test_fuzz.py tests/aws/organization/test_fuzz_hub.py tests/unit/core/test_publisher_limits.py

bench: $(STAMP) ## API calls, wall time, memory for 1,000 and 10,000 images and 20 consumer accounts; c7n beside us; an organization of 50 accounts x 2 regions; a 10,000-image deregistration drain under EC2 throttling (DRAIN_BENCH_ARGS, e.g. --images 300 --real-time)
	test -x bench/.venv/bin/python || $(PYTHON) -m venv bench/.venv
	bench/.venv/bin/pip install --quiet -r bench/requirements.txt
	$(BIN)/python -m bench.rotate_bench $(BENCH_ARGS)
	$(BIN)/python -m bench.organization_bench $(ORG_BENCH_ARGS)
	$(BIN)/python -m bench.drain_bench $(DRAIN_BENCH_ARGS)

synth: install
	npx cdk synth --quiet

clean:
	rm -rf $(VENV) node_modules cdk.out .mypy_cache .ruff_cache .hypothesis
