#!/usr/bin/env bash
# Index check (issue 19, item 3): do the API's hot paths read the big tables
# through indexes at the bench's sizes? Loads the 10,000-provider data and
# the demo programme into a scratch PostgreSQL database, runs ANALYZE, then
# sends each hot-path query to `hive-api` a few times with PostgreSQL's
# table statistics reset before it, and reports every table of more than
# MIN_ROWS rows that the query read by a sequential scan. Exits 1 if any.
#
#   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres tests/bench/plans.sh
#
# Counts come from pg_stat_user_tables (seq_scan, idx_scan), which
# PostgreSQL 15 flushes from each backend at most once a second: the script
# waits for that. The candidate pool of matching reads every active provider
# on purpose (it is loaded once and kept); it is warmed before its query is
# measured, so what is measured is a ranking request as staff make it.
set -euo pipefail
cd "$(dirname "$0")/../.."

PG="${BENCH_POSTGRES_URL:-${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}"
PORT="${PORT:-18495}"
MIN_ROWS="${MIN_ROWS:-1000}"
API="${API:-target/release/hive-api}"
[ -x "$API" ] || cargo build --release -q -p hive-api

DB="hive_plans_$$"
URL="${PG%/*}/$DB"
psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null
trap 'kill $(jobs -p) 2>/dev/null || true; psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null' EXIT

echo "== loading 10,000 providers, 1,000 topics, 5,000 co-ops and the demo" >&2
out="$(DATABASE_URL="$URL" RUST_LOG=warn "$API" bench-data --providers 10000 --topics 1000 --coops 5000)"
TOKEN="$(echo "$out" | awk '/^token /{print $2}')"
REQUEST="$(echo "$out" | awk '/^request /{print $2}')"
DATABASE_URL="$URL" RUST_LOG=warn "$API" seed --demo >/dev/null
# ANALYZE=0 measures a fresh load without statistics gathered on purpose
# (autovacuum may still analyze a table: it looks once a minute).
if [ "${ANALYZE:-1}" = 1 ]; then
  psql "$URL" -qc "VACUUM ANALYZE" >/dev/null
fi

DATABASE_URL="$URL" HIVE_ADDR="127.0.0.1:$PORT" RUST_LOG=warn \
  HIVE_ANONYMOUS_REQUESTS_PER_MINUTE=100000 "$API" --no-worker &
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

graphql() {
  local body
  body="$(curl -fs "http://127.0.0.1:$PORT/graphql" -H 'content-type: application/json' \
    -H "authorization: Bearer $TOKEN" --data "$1")"
  if [[ "$body" == *'"errors"'* ]]; then
    echo "the query failed: $1 -> $body" >&2
    exit 2
  fi
}

PROVIDER_FIELDS='id name kind bio capacity topics { name } sectors { name } regions formats load placesFree reviewAverage reviewCount days { planned delivered } homeOrganisationName user { name email }'
declare -A QUERIES=(
  [mentors-20]="{\"query\":\"{ mentors(first: 20) { edges { node { $PROVIDER_FIELDS } } } }\"}"
  [advisers-100]="{\"query\":\"{ advisers(first: 100) { totalCount edges { node { $PROVIDER_FIELDS } } } }\"}"
  [mentors-filtered]="{\"query\":\"{ mentors(first: 20, filter: {region: \\\"North West\\\", hasSpareCapacity: true}) { edges { node { id name } } } }\"}"
  [support-requests]="{\"query\":\"{ supportRequests(first: 50) { edges { node { id status topics { name } preferredFormats organisation { name sector { name } } engagements { status provider { name } meetings { id } } } } } }\"}"
  [engagements]="{\"query\":\"{ engagements(first: 50) { edges { node { id status daysRemaining nextMeeting { id } provider { name topics { name } } supportRequest { organisation { name } } } } } }\"}"
  [organisations]="{\"query\":\"{ organisations(first: 100) { edges { node { id name region sector { name } membersConnection(first: 5) { edges { node { name } } } engagements(first: 3) { edges { node { id } } } } } } }\"}"
  [match-suggestions]="{\"query\":\"{ matchSuggestions(requestId: \\\"$REQUEST\\\", first: 10) { rank provider { id name } } }\"}"
)

# Warm the candidate pool (a full read of the providers, kept in memory).
graphql "${QUERIES[match-suggestions]}"

failed=0
printf '%-20s %s\n' "query" "tables over $MIN_ROWS rows read by a sequential scan (idx_scan beside)"
for name in $(printf '%s\n' "${!QUERIES[@]}" | sort); do
  psql "$URL" -qAtc "SELECT pg_stat_reset()" >/dev/null
  sleep 1.2
  for _ in 1 2 3; do graphql "${QUERIES[$name]}"; done
  sleep 1.5
  scans="$(psql "$URL" -qAtc "SELECT string_agg(relname || ' (' || seq_scan || ' seq, ' || coalesce(idx_scan, 0) || ' idx)', ', ' ORDER BY relname)
    FROM pg_stat_user_tables WHERE seq_scan > 0 AND n_live_tup > $MIN_ROWS")"
  if [ -n "$scans" ]; then
    failed=1
    printf '%-20s %s\n' "$name" "$scans"
  else
    printf '%-20s %s\n' "$name" "none"
  fi
done
exit "$failed"
