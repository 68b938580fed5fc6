# Tongban: `make run` starts everything, `make test` runs every test.
SHELL := /bin/bash
BUF   := go tool -modfile=tools/buf.mod buf
## DEMO_CASES: cases of the generated demo year make run loads on a fresh .data/ (0: none)
DEMO_CASES ?= 12000
GOTEST_FLAGS ?= -race -shuffle=on -count=1 -timeout=20m

.PHONY: all run test generate lint check-generated vet build unit clean-data bench-intake bench-reporting loadtest web

all: build

## run: start PostgreSQL, the four services and the gateway with the demo county
run:
	go run ./tools/devstack -demo-cases $(DEMO_CASES)

## generate: regenerate Go code and the merged OpenAPI file from proto/ (offline)
generate: lint
	find proto/tongban -name '*.pb*.go' -delete
	$(BUF) generate
	go build ./...

## lint: buf format and lint (STANDARD + COMMENTS); go.mod and go.sum tidy
lint:
	$(BUF) format --diff --exit-code
	$(BUF) lint
	@go mod tidy -diff || { echo "go.mod or go.sum is not tidy: run 'go mod tidy' and commit the result"; exit 1; }

## check-generated: fail when the checked-in generated code differs from a fresh generation
## (compares with git's index, so freshly staged regeneration passes locally; CI has a clean clone)
check-generated: generate
	@stale=$$( { git diff --name-only -- proto/tongban gateway/openapi; \
	            git ls-files --others --exclude-standard -- proto/tongban gateway/openapi; } \
	          | grep -E '\.pb(\.gw)?\.go$$|\.swagger\.json$$' || true); \
	if [ -n "$$stale" ]; then \
	  echo "generated code is stale: run 'make generate' and commit the result:"; echo "$$stale"; exit 1; fi

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...

build:
	go build ./...

## test: vet, lint, stale-generation check, then every Go test on a throwaway PostgreSQL
test: vet check-generated
	mkdir -p out/test-artifacts
	go run ./tools/devstack -test -- go test $(GOTEST_FLAGS) -artifacts -outputdir=$(CURDIR)/out/test-artifacts ./...

## web: rebuild the clerk workbench (web/workbench, npm) into gateway/web/workbench; commit the result
## (make run does this by itself when the sources changed and npm is at hand)
web:
	cd web/workbench && npm ci --no-audit --no-fund && npm run build

clean-data:
	rm -rf .data

## bench-intake: registration throughput against the raw SQL ceiling (see docs/benchmarks.md)
bench-intake:
	go run ./tools/benchintake

## bench-reporting: the dashboard's API calls on a read model of BENCH_CASES cases
## (default 1 million; 10000000 needs a few GB and several minutes), raw SQL beside them
BENCH_CASES ?= 1000000
bench-reporting:
	go run ./services/reporting/cmd/benchreporting -cases $(BENCH_CASES)

## loadtest: the mixed workload (figures appended to out/loadtest.md) and a
## 2-minute fault run (every service and PostgreSQL killed and restarted)
loadtest:
	mkdir -p out
	go run ./tools/devstack -test -- env TONGBAN_LOADTEST=1 TONGBAN_LOAD_SECONDS=$${TONGBAN_LOAD_SECONDS:-60} \
	  TONGBAN_LOAD_OUT=$(CURDIR)/out/loadtest.md TONGBAN_FAULT_SECONDS=$${TONGBAN_FAULT_SECONDS:-120} \
	  go test -count=1 -timeout 30m -run 'TestLoad|TestFaults' -v ./gateway/e2e/
