#!/usr/bin/env bash
# Benchmark: does `requestSignIn` take as long for an unknown address as for a
# known one? (If not, its timing tells who takes part in the programme.)
# A fresh `hive-api --demo` (release) on SQLite and (when BENCH_POSTGRES_URL or
# TEST_DATABASE_URL names a server) PostgreSQL; wrk (Debian), one connection,
# a request every 5 ms, DURATION for the demo staff address, then for an
# address nobody has, ROUNDS times in turn; the client-address rate is lifted
# so that it does not answer instead.
#   tests/bench/sign_in.sh
#   BIN=/path/to/other/hive-api tests/bench/sign_in.sh   # another build, same way
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
PORT="${PORT:-18680}"
source tests/bench/demo.sh

cat > "$WORK/sign_in.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":"mutation($e: String!) { requestSignIn(email: $e) { message } }","variables":{"e":"' .. os.getenv("BENCH_EMAIL") .. '"}}'
function delay() return 5 end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"') then
    io.stderr:write("request failed " .. status .. ": " .. string.sub(body, 1, 200) .. "\n")
  end
end
LUA

run() {
  local name="$1" url="$2"
  local dir="$WORK/$name"
  start_demo "$dir" "$url" HIVE_ANONYMOUS_REQUESTS_PER_MINUTE=100000000 \
    HIVE_ANONYMOUS_WRITES_PER_MINUTE=100000000
  local pid=$DEMO_PID
  export BENCH_EMAIL
  for round in $(seq 1 "$ROUNDS"); do
    for who in known unknown; do
      if [ "$who" = known ]; then BENCH_EMAIL=staff@hive.example; else BENCH_EMAIL=nobody@hive.example; fi
      wrk -t1 -c1 -d"$DURATION" --latency -s "$WORK/sign_in.lua" "http://127.0.0.1:$PORT/graphql" > "$dir/$who-$round.txt"
      echo "$name round $round, $who address: p50 $(awk '/^ +50%/{print $2}' "$dir/$who-$round.txt") p90 $(awk '/^ +90%/{print $2}' "$dir/$who-$round.txt") p99 $(awk '/^ +99%/{print $2}' "$dir/$who-$round.txt") requests $(awk '/requests in/{print $1}' "$dir/$who-$round.txt")" | tee -a "$WORK/summary"
    done
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

on_each_database run
