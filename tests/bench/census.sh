#!/usr/bin/env bash
# Benchmark: a needs survey launched to 10,000 co-ops — the time from
# launchSurvey until every invitation has been accepted by a local SMTP sink
# (Postfix's smtp-sink), and the worker's peak memory — then the results query
# over 10,000 responses (latency with wrk). SQLite, and PostgreSQL when
# BENCH_POSTGRES_URL or TEST_DATABASE_URL is set.
#   tests/bench/census.sh
#   COOPS=20000 DURATION=30s tests/bench/census.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

COOPS="${COOPS:-10000}"
DURATION="${DURATION:-20s}"
PORT="${PORT:-18481}"
SINK_PORT="${SINK_PORT:-12526}"
PG="${BENCH_POSTGRES_URL:-${TEST_DATABASE_URL:-}}"

source tests/bench/sink.sh
need wrk wrk
need jq jq

graphql() {
  curl -fsS "http://127.0.0.1:$PORT/graphql" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $TOKEN" -d "$1"
}

run() {
  local name="$1" url="$2"
  echo "== $name: $COOPS co-ops" >&2
  local out
  out="$(DATABASE_URL="$url" RUST_LOG=warn "$API" bench-census --coops "$COOPS")"
  TOKEN="$(echo "$out" | awk '/^token /{print $2}')"
  local t1 t2 t3
  t1="$(echo "$out" | awk '/^topic /{print $2}' | sed -n 1p)"
  t2="$(echo "$out" | awk '/^topic /{print $2}' | sed -n 2p)"
  t3="$(echo "$out" | awk '/^topic /{print $2}' | sed -n 3p)"
  DATABASE_URL="$url" HIVE_ADDR="127.0.0.1:$PORT" RUST_LOG=warn "$API" --no-worker &
  local api=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
  local survey_input
  survey_input="$(jq -n --arg t1 "$t1" --arg t2 "$t2" --arg t3 "$t3" '{title: "Bench census", description: "", questions: [
    {kind: "SINGLE_CHOICE", prompt: "Most needed?", required: true, choices: [{label: "Governance", topicIds: [$t1]}, {label: "Money", topicIds: [$t2]}, {label: "Nothing"}]},
    {kind: "MULTI_CHOICE", prompt: "Training?", choices: [{label: "Books", topicIds: [$t2]}, {label: "Shares", topicIds: [$t3]}, {label: "Chairing", topicIds: [$t1]}]},
    {kind: "SCALE", prompt: "Confidence?", required: true, scaleMin: 1, scaleMax: 5},
    {kind: "NUMBER", prompt: "Members?"},
    {kind: "TEXT", prompt: "Anything else?"}]}')"
  BENCH_SURVEY="$(graphql "$(jq -n --argjson i "$survey_input" '{query: "mutation($i: SurveyInput!) { createSurvey(input: $i) { id } }", variables: {i: $i}}')" \
    | jq -r .data.createSurvey.id)"
  export BENCH_TOKEN="$TOKEN"
  DATABASE_URL="$url" SMTP_URL="smtp://127.0.0.1:$SINK_PORT" HIVE_QUEUE_POLL_MS=100 RUST_LOG=warn "$WORKER" &
  local worker=$!
  ( while kill -0 "$worker" 2>/dev/null; do
      awk '/^VmRSS/{print $2}' "/proc/$worker/status" 2>/dev/null; sleep 0.5
    done ) > "$WORK/$name-rss" &
  local sampler=$!
  sleep 1
  local closes
  closes="$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)"
  local start end
  start=$(date +%s.%N)
  graphql "$(jq -n --arg s "$BENCH_SURVEY" --arg c "$closes" '{query: "mutation($s: ID!, $c: DateTime!) { launchSurvey(surveyId: $s, closesAt: $c) { status } }", variables: {s: $s, c: $c}}')" >/dev/null
  DATABASE_URL="$url" RUST_LOG=warn "$API" bench-emails --count "$COOPS" --wait >/dev/null
  end=$(date +%s.%N)
  local peak
  peak=$(awk '/^VmHWM/{print $2}' "/proc/$worker/status")
  kill "$worker"; wait "$worker" 2>/dev/null || true
  kill "$sampler" 2>/dev/null || true
  printf "%s: launch to %d invitations at the sink in %.1f s (%.0f/s); worker peak RSS %d MiB; RSS every 5 s (MiB): %s\n" \
    "$name" "$COOPS" "$(echo "$end - $start" | bc -l)" "$(echo "$COOPS / ($end - $start)" | bc -l)" \
    "$((peak / 1024))" "$(awk 'NR % 10 == 1 {printf "%d ", $1/1024}' "$WORK/$name-rss")" >> "$WORK/summary"

  echo "== $name: answering every invitation" >&2
  DATABASE_URL="$url" RUST_LOG=warn "$API" bench-census --answer-survey "$BENCH_SURVEY" >&2
  # The results a staff screen shows; checked to answer, over every
  # response, before it is timed.
  BENCH_BODY="$(jq -cn --arg s "$BENCH_SURVEY" '{query: "query($s: ID!) { survey(id: $s) { results { invited responded responseRate bySector { label responseRate } byRegion { label responseRate } byStage { label responseRate } questions { answered mean choices { label count percentage } } } } }", variables: {s: $s}}')"
  export BENCH_BODY
  local check
  check="$(graphql "$BENCH_BODY")"
  if [ "$(echo "$check" | jq -r '.errors // empty')" != "" ] || [ "$(echo "$check" | jq -r '.data.survey.results.responded')" != "$COOPS" ]; then
    echo "the results query did not answer over $COOPS responses: ${check:0:300}" >&2
    exit 1
  fi
  wrk -t1 -c1 -d3s -s tests/bench/results.lua "http://127.0.0.1:$PORT/graphql" >/dev/null
  wrk -t1 -c1 -d"$DURATION" --latency -s tests/bench/results.lua "http://127.0.0.1:$PORT/graphql" | tee "$WORK/$name-wrk.txt"
  echo "$name: results over $COOPS responses, 1 connection: p50 $(awk '/^ +50%/{print $2}' "$WORK/$name-wrk.txt") p99 $(awk '/^ +99%/{print $2}' "$WORK/$name-wrk.txt") req/s $(awk '/^Requests\/sec/{print $2}' "$WORK/$name-wrk.txt")" >> "$WORK/summary"
  kill "$api"; wait "$api" 2>/dev/null || true
}

run sqlite "sqlite://$WORK/bench.db"
if [ -n "$PG" ]; then
  DB="hive_censusbench_$$"
  psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null
  run postgres "${PG%/*}/$DB"
  psql "$PG" -qc "DROP DATABASE $DB WITH (FORCE)" >/dev/null
fi
echo
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/{print $2}') GiB; $(uname -sr)"
cat "$WORK/summary"
