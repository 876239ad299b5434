# Shared by mail.sh and census.sh (sourced, not run): installs what they need
# from Debian, builds Hive in release, makes a work folder cleaned up on exit,
# and starts Postfix's smtp-sink on $SINK_PORT.

# need COMMAND PACKAGE: installs the Debian package when the command is missing.
need() {
  command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] || {
    echo "installing $2 (Debian package)…" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2") >/dev/null
  }
}
need smtp-sink postfix
export PATH="$PATH:/usr/sbin"
# API= and WORKER= run other builds (e.g. a debug build, or an older commit).
if [ -z "${API:-}" ] || [ -z "${WORKER:-}" ]; then
  cargo build --release -q -p hive-api -p hive-worker
  API=target/release/hive-api
  WORKER=target/release/hive-worker
fi
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

# The sink: accepts everything, keeps nothing (backlog 256). It refuses to
# run as root without a user to switch to.
SINK_USER=(); [ "$(id -u)" = 0 ] && SINK_USER=(-u nobody)
smtp-sink "${SINK_USER[@]}" 127.0.0.1:"$SINK_PORT" 256 &
sleep 0.5
