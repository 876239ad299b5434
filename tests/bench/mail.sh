#!/usr/bin/env bash
# Benchmark: 10,000 emails through hive-worker to a local SMTP sink, beside the
# limit of the same sink measured with Postfix's smtp-source on the same
# machine in the same run. Reports messages/s, the ratio, and the worker's
# resident memory over the run (peak and samples, to show it stays flat).
# SQLite, and PostgreSQL when BENCH_POSTGRES_URL or TEST_DATABASE_URL is set.
#   tests/bench/mail.sh
#   COUNT=20000 tests/bench/mail.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

COUNT="${COUNT:-10000}"
SINK_PORT="${SINK_PORT:-12525}"
PG="${BENCH_POSTGRES_URL:-${TEST_DATABASE_URL:-}}"

source tests/bench/sink.sh

# Our messages are about 3 KB (plain text and HTML); smtp-source sends the
# same size, 16 sessions at once, like the worker's PostgreSQL concurrency.
SIZE=3000
echo "== limit: smtp-source -s 16 -m $COUNT -l $SIZE" >&2
start=$(date +%s.%N)
smtp-source -s 16 -m "$COUNT" -l "$SIZE" -f bench@hive.example -t sink@bench.example 127.0.0.1:"$SINK_PORT"
end=$(date +%s.%N)
LIMIT=$(echo "$COUNT / ($end - $start)" | bc -l)
printf "smtp-source → smtp-sink: %.0f messages/s\n" "$LIMIT" >> "$WORK/summary"

run() {
  local name="$1" url="$2"
  echo "== $name: queueing $COUNT emails" >&2
  DATABASE_URL="$url" RUST_LOG=warn "$API" bench-emails --count "$COUNT" >&2
  # The waiter starts its clock first, then the worker starts: the time
  # includes the worker's own start-up.
  DATABASE_URL="$url" RUST_LOG=warn "$API" bench-emails --count "$COUNT" --wait > "$WORK/$name-result" &
  local waiter=$!
  until grep -q '^waiting' "$WORK/$name-result" 2>/dev/null; do sleep 0.05; done
  DATABASE_URL="$url" SMTP_URL="smtp://127.0.0.1:$SINK_PORT" HIVE_QUEUE_POLL_MS=100 RUST_LOG=warn "$WORKER" &
  local worker=$!
  ( while kill -0 "$worker" 2>/dev/null; do
      awk '/^VmRSS/{print $2}' "/proc/$worker/status" 2>/dev/null; sleep 0.5
    done ) > "$WORK/$name-rss" &
  local sampler=$!
  wait "$waiter"
  local result
  result="$(tail -n 1 "$WORK/$name-result")"
  local peak
  peak=$(awk '/^VmHWM/{print $2}' "/proc/$worker/status")
  kill "$worker"; wait "$worker" 2>/dev/null || true
  kill "$sampler" 2>/dev/null || true
  local rate
  rate=$(echo "$result" | awk '{print $(NF-1)}')
  local samples
  samples=$(awk 'NR % 10 == 1 {printf "%d ", $1/1024}' "$WORK/$name-rss")
  printf "%s: %s; %.0f%% of the limit; worker peak RSS %d MiB; RSS every 5 s (MiB): %s\n" \
    "$name" "$result" "$(echo "100 * $rate / $LIMIT" | bc -l)" "$((peak / 1024))" "$samples" >> "$WORK/summary"
}

run sqlite "sqlite://$WORK/bench.db"
if [ -n "$PG" ]; then
  DB="hive_mailbench_$$"
  psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null
  run postgres "${PG%/*}/$DB"
  psql "$PG" -qc "DROP DATABASE $DB WITH (FORCE)" >/dev/null
fi
echo
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/{print $2}') GiB; $(uname -sr)"
cat "$WORK/summary"
