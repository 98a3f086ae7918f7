#!/usr/bin/env bash
# Measures `roomwarden replay` against `nats bench js consume` (and
# `nats bench js ordered`, the same kind of consumer as the replay's) on
# one nats-server holding the same stream: N events of the benchmark
# workload (256 B, 1% matching one of 100 distinct rules) in ROOM_EVENTS.
# Prints the medians, the ratio and the replay's peak RSS.
#
#   scripts/replay-bench.sh                  # 1,000,000 events, 3 runs each
#   RUNS=1 N=100000 scripts/replay-bench.sh  # a quick smoke run
#
# Raw outputs go to $OUT (default ./bench-results/replay). Needs natscli
# v0.5.0 and nats-server v2.15.2 in $(go env GOPATH)/bin; they are
# installed if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
N=${N:-1000000}
PORT=${PORT:-14223}
OUT=${OUT:-bench-results/replay}
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# benchrate FILE: the msgs/sec figure of a `nats bench` output.
benchrate() { grep -o '[0-9,]* msgs/sec' "$1" | tail -1 | tr -d ', ' | sed 's/msgs\/sec//'; }
# seconds H:MM:SS.ss|M:SS.ss: in seconds.
seconds() { awk -F: '{s=0; for (i=1; i<=NF; i++) s=s*60+$i; print s}' <<<"$1"; }

{
	machine
	echo "events: $N"
} | tee "$OUT/machine.txt"

start_server

go build -o "$WORK/roomwarden" ./cmd/roomwarden
go run ./scripts/replaybench -nats "$URL" -n "$N" -out "$WORK" | tee "$OUT/publish.txt"

for run in $(seq "$RUNS"); do
	echo "== run $run"
	"$NATS" -s "$URL" consumer rm -f ROOM_EVENTS nats-bench >/dev/null 2>&1 || true
	"$NATS" -s "$URL" bench js consume --stream ROOM_EVENTS --msgs "$N" --size 256 --no-progress >"$OUT/consume-$run.txt" 2>&1
	echo "nats bench js consume: $(benchrate "$OUT/consume-$run.txt") msgs/s"
	"$NATS" -s "$URL" bench js ordered --stream ROOM_EVENTS --msgs "$N" --size 256 --no-progress >"$OUT/ordered-$run.txt" 2>&1
	echo "nats bench js ordered: $(benchrate "$OUT/ordered-$run.txt") msgs/s"
	/usr/bin/time -v "$WORK/roomwarden" replay --config "$WORK/config.yaml" --json >"$OUT/replay-$run.json" 2>"$OUT/replay-$run.time"
	events=$(grep -m1 '"events"' "$OUT/replay-$run.json" | tr -dc '0-9')
	wall=$(seconds "$(grep 'Elapsed (wall clock)' "$OUT/replay-$run.time" | awk '{print $NF}')")
	rss=$(grep 'Maximum resident set size' "$OUT/replay-$run.time" | awk '{print $NF}')
	awk -v e="$events" -v w="$wall" -v r="$rss" 'BEGIN {printf "roomwarden replay: %d events in %.2f s = %.0f events/s, peak RSS %.1f MiB\n", e, w, e/w, r/1024}' |
		tee "$OUT/replay-$run.txt"
	[ "$events" = "$N" ] || { echo "replay saw $events events, want $N" >&2; exit 1; }
done

consume=$(for r in $(seq "$RUNS"); do benchrate "$OUT/consume-$r.txt"; done | median)
ordered=$(for r in $(seq "$RUNS"); do benchrate "$OUT/ordered-$r.txt"; done | median)
replay=$(for r in $(seq "$RUNS"); do grep -o '= [0-9]* events/s' "$OUT/replay-$r.txt" | tr -dc '0-9\n'; done | median)
rss=$(for r in $(seq "$RUNS"); do grep -o 'peak RSS [0-9.]*' "$OUT/replay-$r.txt" | awk '{print $3}'; done | median)
{
	echo "== medians of $RUNS"
	echo "nats bench js consume: $consume msgs/s"
	echo "nats bench js ordered: $ordered msgs/s"
	echo "roomwarden replay: $replay events/s (wall clock of the whole command), peak RSS $rss MiB"
	awk -v r="$replay" -v c="$consume" -v o="$ordered" 'BEGIN {printf "ratio: %.1f%% of consume, %.1f%% of ordered\n", 100*r/c, 100*r/o}'
} | tee "$OUT/summary.txt"
