#!/usr/bin/env bash
# Memory under hostile load: starts a release nexds on a scratch data dir, runs wrk
# with examples/fuzz_requests.lua, and prints the server's resident memory every 5 s
# as anonymous/file-backed MiB (file-backed is mostly the database's memory map,
# which the kernel can drop; anonymous is the heap). Run by hand:
#   cargo build --release && examples/rss_under_load.sh   [DURATION=240 CONNECTIONS=128]
# Needs wrk (Debian: apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${NEXDS_BIN:-target/release/nexds}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
seconds=${DURATION:-240}
connections=${CONNECTIONS:-128}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

NEXDS_LISTEN=127.0.0.1:18490 NEXDS_DATA_DIR="$work/data" RUST_LOG=off \
  NEXDS_DURABILITY=normal "$bin" serve &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18490/nex/datastore/version >/dev/null && break; sleep 0.1; done
token=$(cat "$work/data/title-token")
wrk -t2 -c"$connections" -d"${seconds}s" -H "Authorization: Bearer $token" \
  -s examples/fuzz_requests.lua http://127.0.0.1:18490/ > "$work/wrk.out" 2>&1 &
wrk_pid=$!
rss() { awk -v k="$1:" '$1 == k {print int($2 / 1024)}' "/proc/$pid/status"; }
printf 'RSS MiB anon/file every 5 s:'
while kill -0 "$wrk_pid" 2>/dev/null; do
  printf ' %s/%s' "$(rss RssAnon)" "$(rss RssFile)"
  sleep 5
done
echo
grep -E "requests in|Requests/sec|Non-2xx" "$work/wrk.out"
