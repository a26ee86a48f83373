#!/usr/bin/env bash
# Installs what the tests need and runs every test, plus the format and lint gates.
# Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# The Rust toolchain is the only prerequisite today; rustfmt and clippy come with it.
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install the Rust toolchain (rustup) first" >&2
  exit 1
fi
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done

echo "== format"
cargo fmt --all -- --check
echo "== lint"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== tests"
# The store tests run on SQLite and on a real PostgreSQL: a throwaway cluster from this
# machine's PostgreSQL (installed if missing), stopped on exit. An INFUSIO_TEST_PG_URL already
# set (a server where this user may CREATE DATABASE) is used instead.
if [ -z "${INFUSIO_TEST_PG_URL:-}" ]; then
  pg_dir="$(mktemp -d)"
  trap './scripts/pg-test-cluster.sh stop "$pg_dir"' EXIT
  INFUSIO_TEST_PG_URL="$(./scripts/pg-test-cluster.sh start "$pg_dir")"
fi
export INFUSIO_TEST_PG_URL
cargo test --workspace --locked
