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

target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir"
target_dir="$(cd "$target_dir" && pwd)"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Outside validators for the interoperability tests: the Python packages pinned in
# scripts/requirements-test.txt (fhir.resources for FHIR R4, hl7apy for HL7 v2.6) in a virtual
# environment under the build directory. The tests that use them fail, rather than skip, when
# INFUSIO_REQUIRE_VALIDATORS is set and they are missing.
echo "== validators"
venv="$target_dir/test-tools/venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
export INFUSIO_TEST_PYTHON="$venv/bin/python"
export INFUSIO_REQUIRE_VALIDATORS=1

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

# Browser tests: Debian's Chromium driven headless by playwright-core (never a browser
# download), against the `infusio` binary just built.
echo "== browser tests"
if [ ! -x /usr/bin/chromium ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
cargo build --locked -p infusio
(
  cd crates/web/browser
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent
  INFUSIO_BIN="$target_dir/debug/infusio" CHROMIUM=/usr/bin/chromium \
    INFUSIO_ARTEFACTS="$target_dir/browser-artefacts" node --test --test-concurrency=1
)
