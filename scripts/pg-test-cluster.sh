#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for tests and benchmarks: never for real data (fsync is off unless asked).
#
#   scripts/pg-test-cluster.sh start DIR [PORT]   create DIR, start a cluster there, print its DSN on stdout
#   scripts/pg-test-cluster.sh stop DIR           stop it and remove DIR
#
# The server listens on 127.0.0.1 only (a free port unless PORT is given) and keeps its unix socket in DIR.
# Superuser `hothat` logs in without a password (trust, loopback only), every other role needs its password
# (scram-sha-256): tests use that to check how a refused login is reported. Database: `hothat_test`.
# PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` OS user (or `nobody`).
# HOTHAT_PG_FSYNC=on keeps fsync and synchronous_commit on (benchmarks that should cost what production does).
# Exit status 3: no PostgreSQL server programs (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin.
set -euo pipefail

usage() {
  echo "usage: $0 start DIR [PORT] | stop DIR" >&2
  exit 2
}

find_bin() {
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return
  fi
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then
      echo "$dir"
      return
    fi
  done
  return 1
}

run_as_owner() {
  if [[ $(id -u) -ne 0 ]]; then
    "$@"
  else
    runuser -u "$OWNER" -- "$@"
  fi
}

free_port() {
  "${PYTHON:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

[[ $# -ge 2 ]] || usage
command=$1
dir=$2
if ! BIN=$(find_bin); then
  echo "PostgreSQL server programs (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin;" \
    "install them (Debian: apt-get install postgresql)" >&2
  exit 3
fi
OWNER=$(id -un)
if [[ $(id -u) -eq 0 ]]; then
  OWNER=postgres
  id -u postgres >/dev/null 2>&1 || OWNER=nobody
fi

case $command in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [[ $(id -u) -ne 0 ]] || chown "$OWNER" "$dir"
    run_as_owner "$BIN/initdb" --pgdata "$dir/data" --username hothat --auth-local trust --auth-host trust \
      --encoding UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2
      exit 1
    }
    cat >"$dir/data/pg_hba.conf" <<'HBA'
local all hothat trust
host  all hothat 127.0.0.1/32 trust
local all all scram-sha-256
host  all all 127.0.0.1/32 scram-sha-256
HBA
    durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [[ ${HOTHAT_PG_FSYNC:-off} != on ]] || durability=""
    for try in 1 2 3; do
      port=${3:-$(free_port)}
      if run_as_owner "$BIN/pg_ctl" --pgdata "$dir/data" --log "$dir/server.log" --wait --timeout 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 $durability" start >/dev/null; then
        "$BIN/psql" -X -q -h "$dir" -p "$port" -U hothat -d postgres -c "CREATE DATABASE hothat_test" >/dev/null
        echo "host=127.0.0.1 port=$port user=hothat dbname=hothat_test"
        exit 0
      fi
      [[ -z ${3:-} && $try -lt 3 ]] || break  # a port taken between choosing and binding: choose again
    done
    cat "$dir/server.log" >&2 || true
    exit 1
    ;;
  stop)
    if [[ -d $dir/data ]]; then
      run_as_owner "$BIN/pg_ctl" --pgdata "$dir/data" --mode immediate --wait stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    usage
    ;;
esac
