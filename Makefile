# zkdr build, test and demo entry points. `make test` is what CI runs.

GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
GOFMT ?= $(shell $(GO) env GOROOT)/bin/gofmt
# Put the chosen go first on PATH for the scripts and for go run.
export PATH := $(dir $(GO)):$(PATH)

STATICCHECK_VERSION ?= v0.8.2
FUZZTIME ?= 20000x
TEST_TIMEOUT ?= 40m
TEST_PARALLEL ?= 2

.PHONY: all deps build test e2e e2e-long bench fuzz lint demo clean package

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

# End-to-end tests that take minutes (their names end in Long: a 60 s cut of
# the link between the sites); `make test` skips them. CI runs both.
e2e-long: deps
	ZKDR_E2E_LONG=1 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run 'Long$$' ./e2e/

# Benchmarks: two sites as in the e2e tests, zkdr beside the peers in ../shared/peers
# (ZKDR_PEERS overrides); Markdown on stdout, JSON under bin/. See docs/benchmarks.md.
# BENCH_FLAGS passes more flags, e.g. BENCH_FLAGS="-cpuprofile bin/profiles".
BENCH_FLAGS ?=
.PHONY: bench-quick bench-large
bench: deps
	$(GO) run ./cmd/zkdr-bench -preset full -out bin/bench-results.json $(BENCH_FLAGS)

bench-quick: deps
	$(GO) run ./cmd/zkdr-bench -preset quick -out bin/bench-results-quick.json $(BENCH_FLAGS)

bench-large: deps
	$(GO) run ./cmd/zkdr-bench -preset large -out bin/bench-results-large.json $(BENCH_FLAGS)

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

# A Debian package: bin/zkdr (static, with its version and VCS revision) and
# bin/zkdr_<version>_amd64.deb, built by nfpm from deploy/nfpm.yaml. PKG_DIR
# puts both elsewhere; PKG_VERSION overrides deploy/version.sh.
NFPM_VERSION ?= v2.48.0
PKG_DIR ?= bin
PKG_VERSION ?= $(shell deploy/version.sh)
package:
	@mkdir -p $(PKG_DIR)
	CGO_ENABLED=0 $(GO) build -buildvcs=auto -trimpath \
		-ldflags "-s -w -X github.com/zkdr/zkdr/internal/buildinfo.version=$(PKG_VERSION)" \
		-o $(PKG_DIR)/zkdr ./cmd/zkdr
	ZKDR_VERSION=$(PKG_VERSION) ZKDR_BINARY=$(abspath $(PKG_DIR))/zkdr \
		$(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION) package \
		--config deploy/nfpm.yaml --packager deb --target $(PKG_DIR)/
