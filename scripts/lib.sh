# Shared by the benchmark scripts (source it after setting PORT and OUT):
# natscli and nats-server installed if missing, a scratch directory
# removed on exit with the server started by start_server, and helpers.
# shellcheck shell=bash

GOBIN=$(go env GOPATH)/bin
NATS=$GOBIN/nats
NATS_SERVER=$GOBIN/nats-server
URL=nats://127.0.0.1:$PORT

[ -x "$NATS" ] || go install github.com/nats-io/natscli/nats@v0.5.0
[ -x "$NATS_SERVER" ] || go install github.com/nats-io/nats-server/v2@v2.15.2

mkdir -p "$OUT"
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
	if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# median reads numbers, one a line, and prints their median.
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "n/a"} else if (NR%2) {print v[(NR+1)/2]} else {print (v[NR/2]+v[NR/2+1])/2}}'; }

# machine prints what the figures were measured on.
machine() {
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "nproc: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "mem: $(free -m | awk '/Mem:/ {print $2 " MiB"}')"
	echo "go: $(go version)"
	echo "nats-server: $($NATS_SERVER --version)"
	echo "natscli: $($NATS --version)"
}

# start_server starts a JetStream nats-server on $PORT, stored in $WORK,
# and waits until it answers.
start_server() {
	"$NATS_SERVER" -js -sd "$WORK/nats" -a 127.0.0.1 -p "$PORT" >"$WORK/nats-server.log" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 50); do "$NATS" -s "$URL" server check connection >/dev/null 2>&1 && break; sleep 0.2; done
}
