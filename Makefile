# Bazgasht — the two commands a newcomer needs are `make run` and `make test`.
# Everything else here is what they are made of.

SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin
TOOLS := $(CURDIR)/.bin

# Pinned tool versions (installed from the Go module proxy).
BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.0

# Every module of the workspace, for go test / go vet.
MODULES  := ./gen/... ./platform/... ./scripts/... ./e2e/... ./deploy/... ./cli/... ./services/ingest/... ./services/profile/... ./services/trigger/... ./services/survey/... ./services/notification/...
SERVICES := ingest profile trigger survey notification

.PHONY: run test bench build generate check-generate lint-proto vet tools redis chromium up down clean

## run: build everything, start NATS, the services and the demo shop (Ctrl-C stops all)
run: build redis
	@scripts/run.sh

## test: unit, integration (in-process nats-server, real Redis, headless Chromium) and end-to-end tests
test: redis chromium
	$(GO) test -count=1 -timeout 15m $(MODULES)

## bench: benchmarks (events/s, latency percentiles), in benchstat's format
bench: redis
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 3s -count 1 ./services/ingest/... ./services/profile/... ./services/trigger/... | tee bench.out
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 5x -count 1 ./services/survey/... | tee -a bench.out
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 20000x -count 1 ./services/notification/... | tee -a bench.out
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./e2e/... | tee -a bench.out

## build: the service binaries and the pinned nats-server into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ $(foreach s,$(SERVICES),./services/$(s)/cmd/$(s))
	$(GO) build -o $(BIN)/demoshop ./scripts/demoshop
	$(GO) build -o $(BIN)/ ./services/notification/cmd/notification-devsinks
	$(GO) build -o $(BIN)/ ./cli/cmd/bazgasht
	cd platform && $(GO) build -o $(BIN)/nats-server github.com/nats-io/nats-server/v2

## up / down: the whole system with docker compose (NATS, Redis, Jaeger, the five services)
up:
	docker compose up -d --build
down:
	docker compose down

## redis: make sure a real Redis answers at REDIS_URL (starts redis-server when installed)
redis:
	@scripts/ensure-redis.sh

## chromium: make sure Debian's Chromium is installed for the survey page's browser tests
chromium:
	@scripts/ensure-chromium.sh

vet:
	$(GO) vet $(MODULES)

tools: $(TOOLS)/buf-$(BUF_VERSION) $(TOOLS)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION) $(TOOLS)/protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION)

$(TOOLS)/buf-$(BUF_VERSION):
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	@touch $@
$(TOOLS)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION):
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@touch $@
$(TOOLS)/protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION):
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	@touch $@

## generate: regenerate gen/ from proto/ (the only way generated code changes)
generate: tools lint-proto
	rm -rf gen/cx
	$(TOOLS)/buf generate

# buf breaking compares with BUF_AGAINST (main by default). Set BUF_AGAINST=
# (empty) only for a deliberate change to a contract no release has shipped.
BUF_AGAINST ?= .git\#branch=main
lint-proto: tools
	$(TOOLS)/buf lint
	@if [ -n "$(BUF_AGAINST)" ] && git rev-parse --verify -q main >/dev/null; then \
		echo "buf breaking --against '$(BUF_AGAINST)'"; \
		$(TOOLS)/buf breaking --against '$(BUF_AGAINST)'; \
	fi

## check-generate: fail when gen/ is not what make generate produces
check-generate: generate
	@if [ -n "$$(git status --porcelain -- gen)" ]; then \
		echo "generated code is stale: run 'make generate' and commit gen/"; \
		git status --porcelain -- gen; exit 1; \
	fi

clean:
	rm -rf $(BIN) .data
