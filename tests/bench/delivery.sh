#!/usr/bin/env bash
# Benchmark: how soon a sign-in link reaches the SMTP server after its commit,
# in the production layout: `hive-api --no-worker --demo` and one separate
# `hive-worker` (release builds), Postfix's smtp-sink as the server. One
# `requestSignIn` for the demo staff address every INTERVAL seconds for
# DURATION seconds (the issue's measurement: every 2 s for 4 minutes), then
# p50/p90/p99/max of each link's time from its row's `created_at` (written in
# the transaction just before its commit) to its `sent_at` (written just
# after the server's 250): an upper bound on commit → SMTP acceptance.
# Also prints how often the worker's stall watchdog restarted the queue
# (its /metrics). SQLite, and PostgreSQL when BENCH_POSTGRES_URL or
# TEST_DATABASE_URL names a server.
#   tests/bench/delivery.sh
#   DURATION=60 tests/bench/delivery.sh
#   API=/path/to/hive-api WORKER=/path/to/hive-worker tests/bench/delivery.sh  # another build
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${DURATION:-240}"
INTERVAL="${INTERVAL:-2}"
PORT="${PORT:-18690}"
OPS_PORT="${OPS_PORT:-18691}"
SINK_PORT="${SINK_PORT:-12535}"
PG="${BENCH_POSTGRES_URL:-${TEST_DATABASE_URL:-}}"
source tests/bench/sink.sh
API="$(realpath "$API")"; WORKER="$(realpath "$WORKER")"

# latencies NAME URL: one latency in seconds per line, from the database.
latencies() {
  local name="$1" url="$2"
  if [ "$name" = sqlite ]; then
    sqlite3 "${url#sqlite://}" "SELECT (julianday(sent_at) - julianday(created_at)) * 86400 FROM emails WHERE template = 'sign_in' AND sent_at IS NOT NULL"
  else
    psql "$url" -Atc "SELECT EXTRACT(EPOCH FROM sent_at - created_at) FROM emails WHERE template = 'sign_in' AND sent_at IS NOT NULL"
  fi
}

run() {
  local name="$1" url="$2"
  local dir="$WORK/$name"
  mkdir -p "$dir"
  (cd "$dir" && exec env DATABASE_URL="$url" HIVE_ADDR="127.0.0.1:$PORT" \
    HIVE_SIGN_IN_LINKS_PER_QUARTER_HOUR=1000000 RUST_LOG=warn \
    "$API" --no-worker --demo > "$dir/api.out" 2> "$dir/api.log") &
  local api=$!
  for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
  DATABASE_URL="$url" SMTP_URL="smtp://127.0.0.1:$SINK_PORT" HIVE_WORKER_ADDR="127.0.0.1:$OPS_PORT" \
    RUST_LOG=warn "$WORKER" 2> "$dir/worker.log" &
  local worker=$!
  sleep 2
  local started=$SECONDS
  local sent=0
  while [ $((SECONDS - started)) -lt "$DURATION" ]; do
    curl -fs -o /dev/null -H 'content-type: application/json' \
      --data '{"query":"mutation { requestSignIn(email: \"staff@hive.example\") { message } }"}' \
      "http://127.0.0.1:$PORT/graphql"
    sent=$((sent + 1))
    sleep "$INTERVAL"
  done
  sleep 5
  local restarts
  restarts=$(curl -fs "http://127.0.0.1:$OPS_PORT/metrics" | awk '/^hive_queue_worker_restarts_total/{print $2}')
  kill "$worker" "$api"; wait "$worker" "$api" 2>/dev/null || true
  latencies "$name" "$url" | sort -g > "$dir/latencies"
  python3 - "$dir/latencies" "$name" "$sent" "${restarts:-0}" >> "$WORK/summary" <<'PY'
import sys
path, name, asked, restarts = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
values = sorted(float(line) for line in open(path) if line.strip())
def q(p):
    # nearest rank
    return values[max(0, min(len(values) - 1, -(-len(values) * p // 100) - 1))]
if not values:
    print(f"  {name}: no sign-in link was sent ({asked} asked for)")
else:
    print(f"  {name}: {len(values)} of {asked} links sent; commit → SMTP p50 {q(50):.3f} s, "
          f"p90 {q(90):.3f} s, p99 {q(99):.3f} s, max {values[-1]:.3f} s; "
          f"queue restarts by the watchdog: {restarts}")
PY
}

echo "requestSignIn every ${INTERVAL} s for ${DURATION} s, hive-api --no-worker + hive-worker" > "$WORK/summary"
run sqlite "sqlite://$WORK/bench.db"
if [ -n "$PG" ]; then
  DB="hive_delivery_$$"
  psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null
  run postgres "${PG%/*}/$DB"
  psql "$PG" -qc "DROP DATABASE $DB WITH (FORCE)" >/dev/null
fi
echo
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/{print $2}') GiB; $(uname -sr); $API, $WORKER"
cat "$WORK/summary"
