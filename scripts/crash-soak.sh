#!/usr/bin/env bash
# Crash soak: SIGKILLs the real `infusio serve` KILLS times per backend (default 200) while
# clients stream acknowledged writes, then checks that every acknowledged write is present and
# the audit chain verifies (crates/cli/tests/crash_server.rs). Runs on SQLite and on
# PostgreSQL: INFUSIO_TEST_PG_URL if set, otherwise a throwaway cluster
# (scripts/pg-test-cluster.sh), stopped on exit.
#
#   scripts/crash-soak.sh [KILLS] [SEED]
#
# Prints one JSON line per backend: kills, acknowledged writes, lost (must be 0), audit
# events, verify result and seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
kills="${1:-200}"
seed="${2:-$(date +%s)}"
if [ -z "${INFUSIO_TEST_PG_URL:-}" ]; then
  pg_dir="$(mktemp -d)"
  trap './scripts/pg-test-cluster.sh stop "$pg_dir"' EXIT
  INFUSIO_TEST_PG_URL="$(./scripts/pg-test-cluster.sh start "$pg_dir")"
fi
export INFUSIO_TEST_PG_URL
report="$(mktemp)"
echo "crash soak: $kills kills per backend, seed $seed" >&2
INFUSIO_SERVER_CRASH_KILLS="$kills" INFUSIO_CRASH_SEED="$seed" INFUSIO_CRASH_REPORT="$report" \
  cargo test --locked -p infusio --test crash_server -- --test-threads=1
cat "$report"
rm -f "$report"
