#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, from this machine's PostgreSQL binaries.
#
#   scripts/pg-test-cluster.sh start DIR   # initdb into DIR, start it, print the database URL
#   scripts/pg-test-cluster.sh stop DIR    # stop it and delete DIR
#
# The cluster listens on a Unix socket inside DIR only (no TCP port), trusts local
# connections, and runs with fsync=on and synchronous_commit=on, as production must.
# PostgreSQL refuses to run as root: when started by root the cluster runs as the `postgres`
# user (created if missing). Installs the `postgresql` package when no binaries are found.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd="$1"
dir="$2"

find_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

bindir="$(find_bin || true)"
if [ -z "$bindir" ]; then
  if [ "$cmd" = stop ]; then rm -rf "$dir"; exit 0; fi
  echo "pg-test-cluster: no PostgreSQL binaries found; installing the postgresql package" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "pg-test-cluster: run as root or install PostgreSQL (apt-get install postgresql)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y --no-install-recommends postgresql >&2
  bindir="$(find_bin)"
fi

# As whom the server runs: ourselves, or `postgres` when we are root.
run_as=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres
  fi
  run_as=(runuser -u postgres --)
fi

case "$cmd" in
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    chmod 700 "$dir"
    "${run_as[@]}" "$bindir/initdb" --pgdata="$dir/data" --username=postgres --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # Let the test process (root or the invoking user) reach the socket directory.
    chmod 711 "$dir"
    "${run_as[@]}" "$bindir/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait \
      --options="-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=on -c synchronous_commit=on -c max_connections=200 -c shared_buffers=32MB" \
      start >&2 || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://postgres@localhost/postgres?host=$dir"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      "${run_as[@]}" "$bindir/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >&2 || true
    fi
    rm -rf "$dir"
    ;;
  *) usage ;;
esac
