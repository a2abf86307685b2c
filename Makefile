# strata: build, demo, test, bench. See README.md.
GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: all build demo test test-deps unit integration fuzz vet bench clean

all: build

# strata embeds its helper program (internal/cmd/strata-init: the container init, monitor and
# exec helper), which starts several times faster than strata itself (runner/helper_linux.go).
HELPER := cmd/strata/helper/strata-init
# The linker writes strata through mmap, which leaves it in the page cache as 4 KiB pages;
# copied with write(2), as a package manager installs a binary, it is cached in large folios,
# and every strata command maps it with less work (0.4-1 ms a start here).

build:
	mkdir -p $(dir $(HELPER))
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(HELPER) ./internal/cmd/strata-init
	sha256sum $(HELPER) | cut -d' ' -f1 > $(HELPER).sha256
	CGO_ENABLED=0 $(GO) build -trimpath -tags strata_helper -ldflags '$(LDFLAGS)' -o $(BIN)/.strata.linked ./cmd/strata
	cp $(BIN)/.strata.linked $(BIN)/.strata.new && mv -f $(BIN)/.strata.new $(BIN)/strata && rm -f $(BIN)/.strata.linked
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/fixtures ./internal/cmd/fixtures

# The main job end to end on the embedded default: strata serves a cache loaded from
# testdata on 127.0.0.1, then a second root pulls and runs as a user would (.demo-root).
demo: build
	bash scripts/demo.sh

# Installs what the tests need (with apt when missing), then runs every test.
test: test-deps build vet
	bash scripts/test.sh

test-deps:
	bash scripts/test-deps.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzApply -fuzztime=40000x -fuzzminimizetime=10x ./layers

# The side-by-side benchmarks (bench/run.sh). BENCH_T0, read when make starts, lets the total
# the docs print include building strata. BENCH_ARGS passes run.sh flags, e.g.
# BENCH_ARGS='--only 2' for one measurement.
bench: BENCH_T0 := $(shell date +%s%6N)
bench: build
	BENCH_T0=$(BENCH_T0) bash bench/run.sh $(BENCH_ARGS)

clean:
	rm -rf $(BIN) .demo-root
