# roomwarden: common tasks. CI runs .ci/run.
.PHONY: test bench bench-go bench-quick soak cluster cluster-long cluster-bench

test:
	go test -race ./...

# bench reruns every measurement in docs/BENCHMARKS.md (about 10 minutes).
bench:
	scripts/bench.sh

# bench-quick is a smoke run of the same: 1 run each, 20,000 events.
bench-quick:
	RUNS=1 N=20000 scripts/bench.sh

# bench-go runs only the Go benchmarks, once each, as CI compiles them.
bench-go:
	go test -run '^$$' -bench . -benchtime 1x ./...

# soak runs the soak of docs/RELIABILITY.md: 1,000 events/s for 10 minutes
# with 5% of Room Engine answers failing. SOAK=30s for a short run.
SOAK ?= 10m
soak:
	ROOMWARDEN_SOAK=$(SOAK) go test -run '^TestSoak$$' -v -timeout 30m ./internal/faults/

# cluster runs the cluster suite of docs/RELIABILITY.md alone: three
# nats-server processes, three replicas, 1,200 events at 200 calls/s
# (part of go test ./... too).
cluster:
	go test -race -count=1 -run '^TestCluster' -v ./internal/faults/

# cluster-long is the same suite with ten times the events (12,000 in
# the burst, 9,000 in the kill and node-stop scenarios), at 200 calls/s.
cluster-long:
	ROOMWARDEN_CLUSTER_LONG=1 go test -race -count=1 -run '^TestCluster' -v -timeout 30m ./internal/faults/

# cluster-bench measures 1, 2 and 3 replicas on a three-node cluster,
# the figures of docs/SCALING.md (about 15 minutes; without -race).
cluster-bench:
	ROOMWARDEN_CLUSTER_BENCH=1 go test -count=1 -run '^TestClusterThroughput$$' -v -timeout 90m ./internal/faults/

# undos is the full run of TestPendingUndos (docs/RELIABILITY.md, "State
# and timed actions"): 10,000 timed locks ending together, drained at
# 200 calls/s (about 2.5 minutes). UNDOS=500 is CI's size.
UNDOS ?= 10000
.PHONY: undos
undos:
	ROOMWARDEN_UNDOS=$(UNDOS) ROOMWARDEN_REQUIRE_NATS_SERVER=1 go test -race -count=1 -run '^TestPendingUndos$$' -v -timeout 30m ./internal/faults/
