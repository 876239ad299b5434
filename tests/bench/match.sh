#!/usr/bin/env bash
# Benchmark: matchSuggestions latency over HTTP with 10,000 providers, 1,000
# topics and 5,000 co-ops, on SQLite and (when BENCH_POSTGRES_URL or
# TEST_DATABASE_URL names a server) on PostgreSQL. Load from wrk (Debian).
#   tests/bench/match.sh            # both databases, 20 s each
#   DURATION=60s tests/bench/match.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${DURATION:-20s}"
CONNECTIONS="${CONNECTIONS:-4}"
PORT="${PORT:-18480}"
PG="${BENCH_POSTGRES_URL:-${TEST_DATABASE_URL:-}}"

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)…" >&2
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi
cargo build --release -q -p hive-api
BIN=target/release/hive-api
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

run() {
  local name="$1" url="$2"
  echo "== $name: loading 10,000 providers, 1,000 topics, 5,000 co-ops" >&2
  local out
  out="$(DATABASE_URL="$url" RUST_LOG=warn "$BIN" bench-data --providers 10000 --topics 1000 --coops 5000)"
  export BENCH_REQUEST BENCH_TOKEN
  BENCH_REQUEST="$(echo "$out" | awk '/^request /{print $2}')"
  BENCH_TOKEN="$(echo "$out" | awk '/^token /{print $2}')"
  DATABASE_URL="$url" HIVE_ADDR="127.0.0.1:$PORT" RUST_LOG=warn "$BIN" --no-worker &
  local pid=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
  # Warm up, then measure: one connection (latency as one staff member sees
  # it), then several at once (throughput, with queueing on two cores).
  wrk -t1 -c1 -d3s -s tests/bench/match.lua "http://127.0.0.1:$PORT/graphql" >/dev/null
  for c in 1 "$CONNECTIONS"; do
    echo "== $name: wrk -t1 -c$c -d$DURATION --latency" >&2
    wrk -t1 -c"$c" -d"$DURATION" --latency -s tests/bench/match.lua "http://127.0.0.1:$PORT/graphql" \
      | tee "$WORK/$name-$c.txt"
    echo "$name, $c connection(s): p50 $(awk '/^ +50%/{print $2}' "$WORK/$name-$c.txt") p99 $(awk '/^ +99%/{print $2}' "$WORK/$name-$c.txt") req/s $(awk '/^Requests\/sec/{print $2}' "$WORK/$name-$c.txt")" >> "$WORK/summary"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run sqlite "sqlite://$WORK/bench.db"
if [ -n "$PG" ]; then
  DB="hive_bench_$$"
  psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null
  run postgres "${PG%/*}/$DB"
  psql "$PG" -qc "DROP DATABASE $DB WITH (FORCE)" >/dev/null
fi
echo
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/{print $2}') GiB; $(uname -sr)"
cat "$WORK/summary"
