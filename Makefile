# roomwarden: common tasks. CI runs .ci/run.
.PHONY: test bench bench-go bench-quick soak

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
