#!/usr/bin/env bash
# Builds Infusio and starts it with demo data.
# Usage: ./scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p infusio
exec ./target/release/infusio tour "$@"
