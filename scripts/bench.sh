#!/usr/bin/env bash
# Reruns every measurement in docs/BENCHMARKS.md and prints the medians.
#
#   scripts/bench.sh                 # everything, 5 runs each (about 10 minutes)
#   RUNS=1 N=20000 scripts/bench.sh  # a quick smoke run
#
# Raw outputs go to $OUT (default ./bench-results). Needs natscli v0.5.0
# and nats-server v2.15.2 in $(go env GOPATH)/bin; they are installed if
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
N=${N:-200000}
PORT=${PORT:-14222}
OUT=${OUT:-bench-results}
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# figure NAME FILE: the values of a loadgen figure in FILE.
figure() { grep "^$1: " "$2" | awk '{print $2}'; }

{
	machine
} | tee "$OUT/machine.txt"

go build -o "$WORK/roomwarden" ./cmd/roomwarden
go build -o "$WORK/loadgen" ./examples/loadgen

echo "== Go benchmarks (count $RUNS)"
go test -run '^$' -bench 'Decode' -benchmem -count "$RUNS" ./engine/decode/ | tee "$OUT/decode.txt"
go test -run '^$' -bench 'BenchmarkEval$' -benchmem -count "$RUNS" ./rules/ | tee "$OUT/eval.txt"
go test -run '^$' -bench 'BenchmarkPipeline$' -cpu 1 -benchmem -count "$RUNS" ./engine/ | tee "$OUT/pipeline-cpu1.txt"
go test -run '^$' -bench 'BenchmarkPipelineParallel$' -benchmem -count "$RUNS" ./engine/ | tee "$OUT/pipeline-parallel.txt"
go test -run '^$' -bench 'BenchmarkExecutorRate' -benchtime 1x -count 3 ./engine/executor/ | tee "$OUT/executor-bench.txt"

echo "== executor against the simulator"
: >"$OUT/executor.txt"
for i in $(seq 3); do "$WORK/loadgen" executor -rate 200 -actions 2000 | tee -a "$OUT/executor.txt"; done

echo "== nats-server $URL"
start_server

echo "== memory: the daemon with 10,000 rules, filling 1,000,000 cooldown keys through events (several minutes)"
"$WORK/loadgen" mem -nats "$URL" -daemon "$WORK/roomwarden" -work "$WORK" -rules 10000 -keys 1000000 | tee "$OUT/mem.txt"

echo "== end to end: $N events of 256 B, 100 rules, dry run; then nats bench on the same server"
: >"$OUT/e2e.txt"
: >"$OUT/nats-bench.txt"
for i in $(seq "$RUNS"); do
	"$WORK/loadgen" e2e -nats "$URL" -daemon "$WORK/roomwarden" -work "$WORK" -n "$N" -rules 100 | tee -a "$OUT/e2e.txt"
	"$NATS" -s "$URL" stream rm -f benchstream >/dev/null 2>&1 || true
	"$NATS" -s "$URL" bench js pub async --create --storage file --msgs "$N" --size 256 --no-progress bench.subject >/dev/null
	"$NATS" -s "$URL" bench js consume --msgs "$N" --size 256 --no-progress 2>&1 | tee -a "$OUT/nats-bench.txt" | grep stats
done

echo "== publish-to-decision latency at 10,000 events/s; each run paired with a plain consumer (the floor)"
: >"$OUT/latency.txt"
: >"$OUT/latency-plain.txt"
for i in $(seq "$RUNS"); do
	"$WORK/loadgen" latency -nats "$URL" -daemon "$WORK/roomwarden" -work "$WORK" -rate 10000 -for 20s | tee -a "$OUT/latency.txt"
	"$WORK/loadgen" latency -nats "$URL" -plain -rate 10000 -for 20s | tee -a "$OUT/latency-plain.txt"
done

echo
echo "== medians"
daemon=$(figure e2e_throughput "$OUT/e2e.txt" | median)
bench=$(grep 'consumer (callback) stats' "$OUT/nats-bench.txt" | sed -E 's/.*stats: ([0-9,]+) msgs\/sec.*/\1/' | tr -d , | median)
echo "e2e daemon: $daemon msgs/s; nats bench js consume: $bench msgs/s; ratio: $(awk -v a="$daemon" -v b="$bench" 'BEGIN {printf "%.1f%%", 100*a/b}')"
for f in latency_p50 latency_p99 latency_p99.9 latency_max latency_publish_rate outcome_latency_p99 decision_lag_within_5ms; do
	echo "$f: $(figure "$f" "$OUT/latency.txt" | median)"
done
for f in latency_p50 latency_p99 latency_p99.9; do
	echo "plain consumer $f: $(figure "$f" "$OUT/latency-plain.txt" | median)"
done
for f in executor_rate executor_rate_of_limit executor_max_in_rolling_second; do
	echo "$f: $(figure "$f" "$OUT/executor.txt" | median)"
done
grep '^mem_' "$OUT/mem.txt"
