#!/usr/bin/env bash
# Benchmark: 10,000 emails through hive-worker to a local SMTP sink, beside the
# limit of the same sink measured with Postfix's smtp-source on the same
# machine. Reports messages/s, the ratio, and the worker's resident memory
# over the run (peak and samples, to show it stays flat). SQLite, and
# PostgreSQL when BENCH_POSTGRES_URL or TEST_DATABASE_URL is set.
#
# A shared machine's speed drifts by a fifth from one minute to the next, so
# the bench runs ROUNDS rounds (default 3), each measuring the limit and then
# each database right after it; a round's ratio compares figures taken within
# seconds of each other, and the summary gives the median round.
#   tests/bench/mail.sh
#   COUNT=20000 ROUNDS=5 tests/bench/mail.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

COUNT="${COUNT:-10000}"
ROUNDS="${ROUNDS:-3}"
SINK_PORT="${SINK_PORT:-12525}"
PG="${BENCH_POSTGRES_URL:-${TEST_DATABASE_URL:-}}"

source tests/bench/sink.sh

# Our messages are about 3 KB (plain text and HTML); smtp-source sends the
# same size, 16 sessions at once, like the worker's PostgreSQL concurrency.
SIZE=3000
limit() {
  local start end
  start=$(date +%s.%N)
  smtp-source -s 16 -m "$COUNT" -l "$SIZE" -f bench@hive.example -t sink@bench.example 127.0.0.1:"$SINK_PORT"
  end=$(date +%s.%N)
  echo "$COUNT / ($end - $start)" | bc -l
}

# run NAME URL LIMIT: one database's run; appends a line to the summary and
# its ratio to $WORK/NAME-ratios.
run() {
  local name="$1" url="$2" limit="$3"
  echo "== $name: queueing $COUNT emails" >&2
  DATABASE_URL="$url" RUST_LOG=warn "$API" bench-emails --count "$COUNT" >&2
  if [ "$name" = postgres ]; then pg_cpu_ticks > "$WORK/pg-ticks"; fi
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
  local rate ratio samples
  rate=$(echo "$result" | awk '{print $(NF-1)}')
  ratio=$(echo "100 * $rate / $limit" | bc -l)
  printf "%.0f\n" "$ratio" >> "$WORK/$name-ratios"
  samples=$(awk 'NR % 10 == 1 {printf "%d ", $1/1024}' "$WORK/$name-rss")
  printf "  %s: %s; %.0f%% of the limit; worker peak RSS %d MiB; RSS every 5 s (MiB): %s\n" \
    "$name" "$result" "$ratio" "$((peak / 1024))" "$samples" >> "$WORK/summary"
}

# pg_cpu_ticks: CPU time used so far by the local PostgreSQL server, in clock
# ticks: its running processes, and the backends that have exited (counted in
# the postmaster's children's time). Steadier than messages/s for comparing
# two versions of a statement on a machine whose speed drifts.
pg_cpu_ticks() {
  local postmaster
  postmaster=$(pgrep -o -x postgres) || { echo 0; return; }
  { awk '{print $14 + $15}' /proc/"$postmaster"/stat
    awk '{print $16 + $17}' /proc/"$postmaster"/stat
    for pid in $(pgrep -x postgres); do awk '{print $14 + $15}' /proc/"$pid"/stat 2>/dev/null; done
  } | awk '{sum += $1} END {print sum}'
}

for round in $(seq "$ROUNDS"); do
  echo "== round $round: limit, smtp-source -s 16 -m $COUNT -l $SIZE" >&2
  LIMIT=$(limit)
  printf "round %d: smtp-source → smtp-sink: %.0f messages/s\n" "$round" "$LIMIT" >> "$WORK/summary"
  rm -f "$WORK/bench.db"*
  run sqlite "sqlite://$WORK/bench.db" "$LIMIT"
  if [ -n "$PG" ]; then
    DB="hive_mailbench_$$"
    psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null
    run postgres "${PG%/*}/$DB" "$LIMIT"
    # The backends have exited: their CPU time is the postmaster's now, and
    # their counts are in the statistics.
    sleep 1
    echo "$(cat "$WORK/pg-ticks") $(pg_cpu_ticks) $(getconf CLK_TCK)" |
      awk '{printf "  postgres: the server used %.1f s of CPU for the run\n", ($2 - $1) / $3}' >> "$WORK/summary"
    # How many of the run's row updates PostgreSQL made in place (HOT: no
    # index entries written).
    psql "${PG%/*}/$DB" -Atc "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'emails'" |
      awk -F'|' '{printf "  postgres: %d email row updates, %d of them HOT (%.0f%%)\n", $1, $2, $1 ? 100 * $2 / $1 : 0}' >> "$WORK/summary"
    psql "$PG" -qc "DROP DATABASE $DB WITH (FORCE)" >/dev/null
  fi
done

# median FILE: the middle value of a file of numbers.
median() { sort -n "$1" | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

echo
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/{print $2}') GiB; $(uname -sr)"
cat "$WORK/summary"
for name in sqlite postgres; do
  [ -f "$WORK/$name-ratios" ] || continue
  echo "$name: median of $ROUNDS rounds $(median "$WORK/$name-ratios")% of the limit (rounds: $(paste -sd' ' "$WORK/$name-ratios"))"
done
