#!/usr/bin/env bash
# Benchmark: Hive under attack. A fresh `hive-api --demo` (release, default
# limits, worker in-process, emails to files), on SQLite and (when
# BENCH_POSTGRES_URL or TEST_DATABASE_URL names a server) on PostgreSQL:
#   1. a normal staff request measured with wrk (Debian) for DURATION;
#   2. the same again while tests/bench/abuse.py fires every abuse of issue 14
#      from other source addresses (fragment bombs, 300-alias pages, sign-in
#      floods, nested introspection, NUL inputs, 300 slow-header and 10
#      slow-body connections);
# and reports latency before and during, the server's peak memory, and how
# many sign-in emails the attacked address received.
#   tests/bench/abuse.sh
#   DURATION=60s tests/bench/abuse.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${DURATION:-30s}"
PORT="${PORT:-18580}"
SECONDS_OF="${DURATION%s}"
source tests/bench/demo.sh

cat > "$WORK/normal.lua" <<'LUA'
-- The normal client: a staff member's small query.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = '{"query":"{ me { name } topics(first: 5) { totalCount edges { node { name } } } }"}'
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"') then
    io.stderr:write("normal request failed " .. status .. ": " .. string.sub(body, 1, 200) .. "\n")
  end
end
LUA

cpu_seconds() { # pid: user + system CPU time so far, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}

measure() { # label file
  wrk -t1 -c2 -d"$DURATION" --latency -s "$WORK/normal.lua" "http://127.0.0.1:$PORT/graphql" > "$2"
  echo "$1: p50 $(awk '/^ +50%/{print $2}' "$2") p99 $(awk '/^ +99%/{print $2}' "$2") req/s $(awk '/^Requests\/sec/{print $2}' "$2") errors $(awk '/Non-2xx|Socket errors/{print}' "$2" | tr '\n' ' ')"
}

run() {
  local name="$1" url="$2"
  local dir="$WORK/$name"
  echo "== $name: hive-api --demo" >&2
  start_demo "$dir" "$url"
  local pid=$DEMO_PID
  export BENCH_TOKEN=$DEMO_TOKEN
  wrk -t1 -c2 -d3s -s "$WORK/normal.lua" "http://127.0.0.1:$PORT/graphql" >/dev/null
  measure "$name, quiet" "$dir/quiet.txt" | tee -a "$WORK/summary"

  local peak=0
  ( while kill -0 "$pid" 2>/dev/null; do
      awk '/^VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null; sleep 0.5
    done ) > "$dir/rss.txt" &
  local rss_watch=$!
  local server_before attacker_cpu
  server_before="$(cpu_seconds "$pid")"
  python3 tests/bench/abuse.py "$PORT" "$BENCH_TOKEN" "$SECONDS_OF" > "$dir/attack.json" &
  local attacker=$!
  sleep 1
  measure "$name, under attack" "$dir/attacked.txt" | tee -a "$WORK/summary"
  attacker_cpu="$(cpu_seconds "$attacker")"
  echo "$name: CPU during the attack: hive-api $(awk -v a="$(cpu_seconds "$pid")" -v b="$server_before" 'BEGIN{printf "%.1f", a-b}') s, the attacker ${attacker_cpu} s (of $((2 * SECONDS_OF)) s on two cores)" | tee -a "$WORK/summary"
  wait "$attacker"
  sleep 3
  peak="$(sort -n "$dir/rss.txt" | tail -n 1)"
  echo "$name: peak RSS $((peak / 1024)) MiB (VmHWM $(awk '/^VmHWM/{print int($2/1024)}' "/proc/$pid/status") MiB); sign-in emails to the attacked address: $(grep -l 'Your Hive sign-in link' "$dir"/mail/*.eml 2>/dev/null | xargs -r grep -l 'staff@hive.example' | wc -l)" | tee -a "$WORK/summary"
  echo "$name: what the attacks got:" >> "$WORK/summary"
  cat "$dir/attack.json" >> "$WORK/summary"
  kill "$rss_watch" 2>/dev/null || true
  local stopping=$SECONDS
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  echo "$name: stopped $((SECONDS - stopping)) s after SIGTERM" | tee -a "$WORK/summary"
}

on_each_database run
