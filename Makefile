# Two commands on a fresh machine: `make run` and `make test`. Each installs what it needs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
# Deployment (infra/): the Chalice stage to synthesize or deploy, and extra CDK context, e.g.
# make deploy STAGE=prod CDK_CONTEXT="-c alarm_email=ops@example.com -c waf_rate_limit=600"
STAGE ?= dev
CDK_CONTEXT ?=
CDK := infra/node_modules/.bin/cdk
# `make test`'s pytest workers: one per core, at most 4 (each holds its own moto and, for some modules, a
# browser or a local stack); TEST_WORKERS=0 runs the suite in one process. `--dist loadfile` keeps a module on
# one worker: its module fixtures are built once, and tests/fuzz/ tallies its cases over the module's tests.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n > 4 ? 4 : n )))

.PHONY: help install run test lint format bench clean synth deploy bootstrap diff destroy browser fuzz load lock doctor

# The dev lock pins everything, the runtime packages at requirements.txt's versions, each with its hashes.
$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	@touch $(STAMP)

## help: this list of targets (each `## name: …` line of this Makefile)
help:
	@awk '/^## [a-z]+:/ { sub(/^## /, ""); gsub(/\$$\$$/, "$$"); name = substr($$0, 1, index($$0, ":") - 1); \
	  printf "  make %-10s%s\n", name, substr($$0, index($$0, ":") + 1) }' $(firstword $(MAKEFILE_LIST))

## install: create .venv and install the hash-locked dev requirements (every other target does it first)
install: $(STAMP)

## run: the whole product locally (moto on 127.0.0.1:$$MOTO_PORT, API on 127.0.0.1:$$PORT); Ctrl-C stops it
run: install
	$(PY) -m chalicelib.local

## test: lint, format check and the whole pytest suite (tests/browser/ drive Debian's Chromium), a worker per core
test: install lint browser
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

## browser: Debian's Chromium for tests/browser/ (Playwright drives /usr/bin/chromium), installed when missing
browser:
	@command -v chromium >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; }

## fuzz: the full schemathesis profile (≥ 10,000 generated cases over every route of openapi.yaml)
fuzz: install
	FUZZ_PROFILE=full $(PY) -m pytest tests/fuzz -q

## load: 10,000 mixed deliveries from a second process to the local stack (LOAD_ARGS="--deliveries 2000"); stored-once check, rate, latency
load: install
	$(PY) -m tools.load $(LOAD_ARGS)

## lock: resolve requirements.in / requirements-dev.in into the hash-locked requirements.txt / -dev.txt
lock: install
	$(VENV)/bin/uv pip compile requirements.in --universal --python-version 3.11 --generate-hashes \
	  --no-header --quiet -o requirements.txt
	$(VENV)/bin/uv pip compile requirements-dev.in --universal --python-version 3.11 --generate-hashes \
	  --no-header --quiet -c requirements.txt -o requirements-dev.txt

## lint: ruff check and ruff format --check, as `make test` runs them
lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## format: ruff's fixes and formatting applied to the tree
format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

## bench: AWS calls per 1,000 items, Comprehend units, export reads, import time, cost of 1M items a month → BENCHMARKS.md
bench: install
	$(PY) -m tools.bench --write BENCHMARKS.md

## synth: the CloudFormation template of STAGE into infra/cdk.out/ (offline: no AWS account, no CDK CLI)
synth: install
	$(PY) infra/app.py -c stage=$(STAGE) $(CDK_CONTEXT)

# The CDK CLI, pinned in infra/package-lock.json; only deploy, bootstrap, diff and destroy need it.
$(CDK): infra/package.json infra/package-lock.json
	npm ci --prefix infra --no-audit --no-fund
	@touch $(CDK)

## deploy: deploy STAGE with your AWS credentials (make deploy STAGE=prod); `make bootstrap` once before
deploy: install $(CDK)
	cd infra && ./node_modules/.bin/cdk deploy -c stage=$(STAGE) $(CDK_CONTEXT)

## bootstrap: prepare the account and region of your credentials for CDK deployments (once)
bootstrap: install $(CDK)
	cd infra && ./node_modules/.bin/cdk bootstrap -c stage=$(STAGE) $(CDK_CONTEXT)

## diff: what `make deploy` would change in the deployed STAGE
diff: install $(CDK)
	cd infra && ./node_modules/.bin/cdk diff -c stage=$(STAGE) $(CDK_CONTEXT)

## doctor: check the deployed STAGE (credentials for its account) and print the post-deploy checklist
doctor: install
	@# Two steps: `eval "$$(…)"` alone succeeds when infra.outputs fails, and doctor would then check nothing.
	exports="$$($(PY) -m infra.outputs $(STAGE))" && eval "$$exports" && $(PY) -m chalicelib.cli doctor

## destroy: delete the STAGE stack (a prod table and export bucket are kept: see README "Deploy")
destroy: install $(CDK)
	cd infra && ./node_modules/.bin/cdk destroy -c stage=$(STAGE) $(CDK_CONTEXT)

## clean: delete .venv, the caches, infra/cdk.out and infra/node_modules
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache infra/cdk.out infra/node_modules
