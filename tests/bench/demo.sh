# Sourced by the benches that run a fresh `hive-api --demo` (abuse.sh,
# sign_in.sh): wrk from Debian, the release build, a work folder, and the
# demo server on each database.

PG="${BENCH_POSTGRES_URL:-${TEST_DATABASE_URL:-}}"

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)…" >&2
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p hive-api
  BIN="$PWD/target/release/hive-api"
fi
WORK="$(mktemp -d)"
# KEEP=1 keeps the work folder (logs, wrk output) for a look afterwards.
trap 'kill $(jobs -p) 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT

# start_demo DIR DATABASE_URL [VAR=value…]: starts `hive-api --demo` on $PORT
# with its mail in DIR/mail, waits until it is ready, and sets DEMO_PID and
# DEMO_TOKEN (the staff token it prints last).
start_demo() {
  local dir="$1" url="$2"
  shift 2
  mkdir -p "$dir/mail"
  (cd "$dir" && exec env DATABASE_URL="$url" HIVE_ADDR="127.0.0.1:$PORT" HIVE_MAIL_DIR="$dir/mail" \
    RUST_LOG=warn "$@" "$BIN" --demo > "$dir/out.txt" 2> "$dir/log.txt") &
  DEMO_PID=$!
  for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
  DEMO_TOKEN="$(tail -n 1 "$dir/out.txt")"
}

# on_each_database NAME_OF_RUN_FUNCTION: runs it on SQLite, then on a fresh
# PostgreSQL database when $PG names a server; then prints the machine and
# the summary.
on_each_database() {
  "$1" sqlite "sqlite://$WORK/bench.db"
  if [ -n "$PG" ]; then
    local db="hive_bench_$$"
    psql "$PG" -qc "CREATE DATABASE $db" >/dev/null
    "$1" postgres "${PG%/*}/$db"
    psql "$PG" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
  fi
  echo
  echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/{print $2}') GiB; $(uname -sr); $BIN"
  cat "$WORK/summary"
}
