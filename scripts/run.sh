#!/usr/bin/env bash
# Builds Infusio and starts the whole system on the embedded SQLite database with demo data:
# the JSON API on http://127.0.0.1:8080 (demo users, patients, orders and today's appointments).
# Usage: ./scripts/run.sh [--listen ADDR:PORT] [--data-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p infusio
exec ./target/release/infusio serve --demo "$@"
