# zkdr build, test and demo entry points. `make test` is what CI runs.

GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
GOFMT ?= $(shell $(GO) env GOROOT)/bin/gofmt
# Put the chosen go first on PATH for the scripts and for go run.
export PATH := $(dir $(GO)):$(PATH)

STATICCHECK_VERSION ?= v0.8.2
FUZZTIME ?= 20s
TEST_TIMEOUT ?= 40m
TEST_PARALLEL ?= 2

.PHONY: all deps build test e2e bench fuzz lint demo clean

all: build

deps:
	@scripts/deps.sh

build:
	$(GO) build -o bin/zkdr ./cmd/zkdr

test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -p $(TEST_PARALLEL) ./...

e2e: deps
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./e2e/...

# Placeholder until the benchmark suite lands.
bench: deps
	$(GO) test -run '^$$' -bench . ./journal/... ./replicator/...

fuzz:
	@FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

lint:
	@out="$$($(GOFMT) -l .)"; if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

demo: deps
	$(GO) run ./cmd/zkdr dev

clean:
	rm -rf bin
