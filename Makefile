# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv: the one bootstrapped into .tools/bin, else one on PATH, else bootstrap it (the same order
# infra/launch.py, cdk.json's app, uses). .tools/bin goes first on PATH for everything make runs,
# so the tests' subprocesses (`npx cdk synth`, the bundle build, wheel builds) find it too; it
# holds only uv, never a python.
TOOLS_BIN := $(CURDIR)/.tools/bin
export PATH := $(TOOLS_BIN):$(PATH)
UV := $(or $(wildcard $(TOOLS_BIN)/uv),$(shell command -v uv 2>/dev/null),$(TOOLS_BIN)/uv)
export UV_LINK_MODE ?= copy
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled
PYTEST_ARGS ?=
UI_INDEX := functions/src/stratoflow_functions/ui/assets/index.html

.PHONY: help bootstrap sync lint typecheck test unit demo bundle synth bench bench-quick bench-cost bench-overhead bench-ui clean

help:
	@echo "make demo   - run the demo on the local stack (bootstraps everything)"
	@echo "make test   - lint, type-check and run the whole test suite"
	@echo "make bundle - build the Lambda bundle and print its size and import times"
	@echo "make synth  - synthesize the CDK app offline"
	@echo "make bench  - the whole suite side by side with Prefect 3 (installs it in .bench/)"
	@echo "make bench-quick - a CI-sized run of the suite; make bench-cost - the AWS cost model"
	@echo "make bench-ui - the dashboard's runs page over 10,000 runs (needs chromium)"

$(TOOLS_BIN)/uv:
	python3 infra/launch.py --bootstrap

bootstrap: $(UV)

sync: bootstrap
	$(UV) sync --all-packages --frozen
	@if [ -f package-lock.json ]; then \
		[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] \
		|| npm ci --no-audit --no-fund --loglevel=error; \
	fi
	@# The dashboard (ui/ -> functions/.../ui/assets, docs/ui.md): rebuilt when a source is newer.
	@if [ ! -f $(UI_INDEX) ] || [ -n "$$(find ui package-lock.json -newer $(UI_INDEX) -print -quit)" ]; then \
		node ui/build.mjs; \
	fi

lint: sync
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck: sync
	$(UV) run mypy

test: lint typecheck
	$(UV) run pytest -n 2 $(PYTEST_ARGS)

unit: sync
	$(UV) run pytest tests/unit $(PYTEST_ARGS)

clean:
	rm -rf .venv .tools node_modules cdk.out build .mypy_cache .ruff_cache

# The Lambda bundle, built without Docker: wheels for manylinux aarch64 / CPython 3.12 into
# build/lambda; prints its size and each handler's cold import time (host build).
bundle: sync
	PYTHONPATH=infra/src $(UV) run python -m stratoflow_infra.bundle

# Offline synth (cdk-nag runs inside; the app builds its Lambda asset itself with local
# bundling, cached in cdk.out). The default context is the placeholder account whose AZs
# cdk.context.json holds; override with SYNTH_CONTEXT="-c stratoflow:account=... ...".
SYNTH_CONTEXT ?= -c stratoflow:account=123456789012 -c stratoflow:region=us-east-1
synth: sync
	AWS_EC2_METADATA_DISABLED=true npx cdk synth --no-lookups -q $(SYNTH_CONTEXT)

# The side-by-side suite against Prefect 3 (docs/benchmarks.md); BENCH_ARGS e.g. "--reps 5",
# "--only reads --stored 1000", "--no-prefect". The table is printed and written to build/bench/.
BENCH_ARGS ?=
bench: sync
	$(UV) run python bench/suite.py $(BENCH_ARGS)

bench-quick: sync
	$(UV) run python bench/suite.py --quick $(BENCH_ARGS)

bench-cost: sync
	$(UV) run python bench/cost.py

bench-overhead: sync
	$(UV) run python bench/overhead.py

# The runs page's load time over a store of UI_RUNS runs (docs/ui.md, docs/benchmarks.md).
UI_RUNS ?= 10000
bench-ui: sync
	$(UV) run python bench/ui_load.py --runs $(UI_RUNS)

demo: sync
	$(UV) run python examples/demo.py
