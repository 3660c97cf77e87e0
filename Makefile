# prefshare: every target is listed by `make help` (the default).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
FABRIC_BIN := .fabric/bin
# The peer's external builder for chaincode as a service (core.yaml externalBuilders path).
CCAAS_BUILDER := .fabric/builders/ccaas
NETWORK := $(PY) -m network
VENV_STAMP := $(VENV)/.installed

.PHONY: help venv web browser postgres fabric-bins fabric-ca-bins ccaas-builder lint test test-unit test-go test-integration test-faults bench bench-recommender bench-foldin bench-consortium bench-serving bench-ledger bench-kiosk bench-watch bench-model-card \
        network-up network-up-ca network-up-chaincode network-down network-status network-clean network-validate add-retailer remove-retailer run train down demo-status clean

help: ## List every target, one line each
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-20s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Python environment: installing into $(VENV) (about 1.5 minutes the first time)"
	@SECONDS=0; $(PY) -m pip install -q --upgrade pip && \
	  $(PY) -m pip install -q -e '.[chaincode,gateway,recommender,benchmarks,dev]' && \
	  echo "Python environment: installed in $$SECONDS s"
	@touch $@

venv: $(VENV_STAMP) ## Install the Python environment into .venv (skipped when up to date)

fabric-bins: ## Build Fabric 2.1.1 (peer, orderer, configtxgen, configtxlator, discover) and Fabric CA 1.5.21 into .fabric/bin (skipped when present)
	@bash network/install-fabric.sh $(FABRIC_BIN) all

fabric-ca-bins: ## Build only the pinned Fabric CA server and client into .fabric/bin
	@bash network/install-fabric.sh $(FABRIC_BIN) ca

ccaas-builder: ## Build the peer's chaincode-as-a-service builder (detect, build, release) into .fabric/builders/ccaas/bin
	@cd network/ccaas-builder && GOFLAGS=-buildvcs=false go build -o $(CURDIR)/$(CCAAS_BUILDER)/bin/ ./cmd/...

network-validate: venv ## Check network/consortium.yaml and print the port plan
	@$(NETWORK) validate

network-up: venv fabric-bins ccaas-builder ## Start CAs, Raft orderers, peers, channel and chaincode; wait until all healthy
	@$(NETWORK) up

network-up-ca: venv fabric-ca-bins ## Start only the organisations' CAs and enrol every identity
	@$(NETWORK) up --layer ca

network-up-chaincode: venv fabric-ca-bins ## CAs, then each retailer's chaincode package and chaincode server (TLS, supervised)
	@$(NETWORK) up --layer chaincode

network-status: venv ## Each node's state, health, channel height and memory; fails if a node crashed
	@$(NETWORK) status

network-down: venv ## Stop every node, keep data (a later network-up resumes)
	@$(NETWORK) down

network-clean: venv ## Stop everything and remove the run folder .run/
	@$(NETWORK) clean

add-retailer: venv ## Add retailer NAME=... to the running consortium (majority-signed channel update; its CA, peer, chaincode, gateway)
	@test -n "$(NAME)" || { echo "usage: make add-retailer NAME=westfield"; exit 2; }
	@$(NETWORK) add-retailer $(NAME)

remove-retailer: venv ## Remove retailer NAME=... from the running consortium (majority-signed; its nodes stop, its collection passes to the orderer org)
	@test -n "$(NAME)" || { echo "usage: make remove-retailer NAME=westfield"; exit 2; }
	@$(NETWORK) remove-retailer $(NAME)

web: ## Vendor the pages' browser files (QR encoder, Swagger UI, axe-core for the tests) into gateway/static/vendor with npm ci
	@bash gateway/static/build.sh

lint: venv ## ruff and mypy over the packages and benchmarks/
	$(VENV)/bin/ruff check network chaincode gateway recommender demo benchmarks tests
	$(VENV)/bin/mypy network chaincode gateway recommender demo benchmarks

bench: bench-recommender bench-foldin bench-consortium bench-serving bench-ledger bench-kiosk bench-watch bench-model-card ## Every benchmark table (benchmarks/, each `python -m benchmarks.NAME`; the ledger ones start the network)

bench-recommender: venv ## MovieLens, 3 seeds: served blend vs LightFM hybrid vs popularity vs ALS, both splits; plot in artifacts/
	$(PY) -m benchmarks.recommender

bench-foldin: venv ## Fold-in: P@10 of customers the model never saw vs trained in (MovieLens temporal), fold-in latency p50/p99
	OPENBLAS_NUM_THREADS=1 $(PY) -m benchmarks.foldin

bench-consortium: venv ## Consortium lift over the silo: shared and served (60% consenting), warm/thin/cold by consent, three worlds (one with overlapping catalogues)
	$(PY) -m benchmarks.consortium

bench-serving: venv ## Kiosk suggestion latency (p50/p99, calls/s) on the demo world
	OPENBLAS_NUM_THREADS=1 $(PY) -m benchmarks.serving

bench-ledger: network-up ## Ledger: consent grants/s and p50/p99 at 8/32/64 in flight, batched events/s, read p50/p99, CPU per node
	$(PY) -m benchmarks.ledger

bench-kiosk: network-up ## Kiosk suggestions over HTTPS at 100/300/600 req/s offered vs a bare FastAPI endpoint, then at 100/s alone and under slow connections and a flood
	OPENBLAS_NUM_THREADS=1 $(PY) -m benchmarks.kiosk --description network/consortium.yaml --run-dir .run --hostile

bench-model-card: venv ## The demo world's model cards (accuracy by segment, popularity, exposure, coverage, records per member) and train+card time per retailer
	OPENBLAS_NUM_THREADS=1 $(PY) -m benchmarks.model_card

bench-watch: venv ## Consortium watch: simulated days of member reads with injected anomalies, replayed; precision, recall, time to detect, false alarms a day
	$(PY) -m benchmarks.watch

test-unit: venv ## Unit tests (pure logic, no processes started)
	$(PY) -m pytest tests/unit

test-go: ## Go tests and vet of the chaincode-as-a-service builder
	cd network/ccaas-builder && go vet ./... && go test ./...

browser: ## Debian's Chromium for the browser tests (installed when missing and root; else the command to run)
	@bash tests/ensure-chromium.sh

postgres: ## Debian's PostgreSQL for the shared-state tests (installed when missing and root; else the command to run)
	@bash tests/ensure-postgres.sh

test-integration: venv fabric-bins ccaas-builder web browser postgres ## Integration tests against real processes on 127.0.0.1 (the whole Fabric network)
	$(PY) -m pytest tests/integration

test-faults: venv fabric-bins ccaas-builder ## Crash faults and partitions under load (~6 min); writes the table in docs/reliability.md
	PREFSHARE_FAULTS=1 nice -n 10 $(PY) -m pytest tests/faults $(FAULTS)

test: venv fabric-bins ccaas-builder web browser postgres ## Lint, Go tests, unit and integration tests (what CI runs)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-go
	$(PY) -m pytest tests

run: venv web fabric-bins ccaas-builder ## Set up everything, seed the demo consortium, print its URLs; stays up until Ctrl-C
	@$(PY) -m demo run

down: venv ## Stop everything `make run` started (gateways, then the network; data kept)
	@$(PY) -m demo down

train: venv ## Retrain every demo retailer's model now against the running `make run` network; install each one that passes the gate
	@$(PY) -m demo train

demo-status: venv ## The demo's gateways, what was seeded, and again its URLs, kiosk stores and demo customers
	@$(PY) -m demo status

clean: ## Remove the run folder, test artifacts and caches (keeps .venv and .fabric)
	rm -rf .run artifacts .pytest_cache .mypy_cache .ruff_cache
