#!/usr/bin/env bash
# Load benchmark (not a test): "create + sign an order with full checks" over loopback HTTP
# against the real `infusio serve` (release build), on SQLite and on PostgreSQL.
#
#   scripts/load-bench.sh [CONNECTIONS] [ITERATIONS_PER_CONNECTION]   (default 8 × 250)
#
# SQLite: a fresh data directory. PostgreSQL: a throwaway cluster from this machine's
# PostgreSQL binaries (scripts/pg-test-cluster.sh), fsync and synchronous_commit on. Each
# server is started with --demo (the benchmark signs in as the demo prescriber) and stopped
# afterwards. The figures (iterations/s, requests/s, p50/p90/p99 per iteration and per request)
# come from crates/server/examples/load.rs; note the machine's load average printed beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
workers="${1:-8}"
iterations="${2:-250}"
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked -p infusio --bin infusio
cargo build --release --locked -p infusio-server --example load
bin="$target_dir/release/infusio"
load="$target_dir/release/examples/load"

work="$(mktemp -d)"
pg_dir=""
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$pg_dir" ]; then ./scripts/pg-test-cluster.sh stop "$pg_dir" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_healthy() {
  local port="$1"
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3 && head -1 <&3 | grep -q 200) 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "the server on port $port did not become healthy" >&2
  return 1
}

run() {
  local backend="$1"; shift
  local port; port="$(free_port)"
  "$bin" serve --demo --listen "127.0.0.1:$port" "$@" >"$work/$backend.log" 2>&1 &
  server_pid=$!
  wait_healthy "$port"
  echo "== $backend (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
  "$load" "127.0.0.1:$port" "$workers" "$iterations"
  echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

run sqlite --data-dir "$work/sqlite"
# Its own temporary directory: when run as root the cluster runs as `postgres`, which must
# reach it.
pg_dir="$(mktemp -d)"
pg_url="$(./scripts/pg-test-cluster.sh start "$pg_dir")"
run postgres --database-url "$pg_url"
